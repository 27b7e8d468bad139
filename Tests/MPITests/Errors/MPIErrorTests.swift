// Tests of MPIError.swift: the error cases, their messages, and the MPI error classes.
//
// The messages of the errors that the library really throws are checked here
// too: each names the operation, the argument, and the expected and actual values.
import CMPI
import MPI
import MPITestSupport
import XCTest

final class MPIErrorTests: MPITestCase {
    func testEveryCaseNamesItsOperation() {
        let cases: [MPIError] = [
            .invalidArgument(operation: "a", argument: "x", expected: "e", actual: "v"),
            .shapeMismatch(operation: "b", argument: "x", expected: "e", actual: "v"),
            .rankOutOfRange(operation: "c", argument: "root", rank: 9, size: 2),
            .invalidTag(operation: "d", argument: "tag", tag: -4, upperBound: 32767),
            .unsupportedReduction(operation: "e", op: .sum, scalarType: "Bool"),
            .finalized(operation: "f"),
            .peerFailed(operation: "g", rank: 1, reason: "r"),
            .mpi(operation: "h", errorClass: .truncate, message: "m"),
            .threadLevel(operation: "i", provided: .funneled, reason: "r"),
        ]
        XCTAssertEqual(cases.map(\.operation), ["a", "b", "c", "d", "e", "f", "g", "h", "i"])
        XCTAssertEqual(Set(cases).count, cases.count)
        for error in cases {
            XCTAssertTrue(error.description.hasPrefix(error.operation + ":"), error.description)
            XCTAssertFalse(error.description.contains("\n"))
        }
    }

    func testMessagesNameOperationArgumentExpectedAndActual() {
        assertMessageNames(.invalidArgument(operation: "Communicator.split", argument: "color",
                                            expected: "a color in 0...2147483647", actual: "-1"),
                           ["Communicator.split", "color", "a color in 0...2147483647", "-1"])
        assertMessageNames(.shapeMismatch(operation: "alltoall", argument: "x", expected: "first axis of size 4",
                                          actual: "shape [3, 2]"),
                           ["alltoall", "x", "first axis of size 4", "shape [3, 2]"])
        assertMessageNames(.rankOutOfRange(operation: "bcast", argument: "root", rank: 7, size: 4),
                           ["bcast", "root", "0..<4", "7"])
        assertMessageNames(.invalidTag(operation: "send", argument: "tag", tag: -3, upperBound: 32767),
                           ["send", "tag", "0...32767", "-3"])
        XCTAssertFalse(MPIError.invalidTag(operation: "send", argument: "tag", tag: -3, upperBound: 32767)
            .description.contains("anyTag"), "a send's tag has no wildcard")
        for (operation, argument) in [("recv", "tag"), ("probe", "tag"), ("iprobe", "tag"), ("sendrecv", "recvtag")] {
            assertMessageNames(.invalidTag(operation: operation, argument: argument, tag: -2, upperBound: 32767),
                               [operation, argument, "0...32767", "or anyTag (-1)", "-2"])
        }
        XCTAssertFalse(MPIError.invalidTag(operation: "sendrecv", argument: "sendtag", tag: -2, upperBound: 32767)
            .description.contains("anyTag"), "sendrecv's send tag has no wildcard")
        // Likewise a receive's source may be anySource (and procNull, except a probe's), a point-to-point
        // destination and a persistent plan's peer procNull; a root may not.
        for operation in ["recv", "sendrecv"] {
            assertMessageNames(.rankOutOfRange(operation: operation, argument: "source", rank: -3, size: 2),
                               [operation, "source", "0..<2", "or anySource (-1) or procNull (-2)", "-3"])
        }
        for operation in ["probe", "iprobe"] {
            assertMessageNames(.rankOutOfRange(operation: operation, argument: "source", rank: -3, size: 2),
                               [operation, "source", "0..<2", "or anySource (-1)", "-3"])
            XCTAssertFalse(MPIError.rankOutOfRange(operation: operation, argument: "source", rank: -3, size: 2)
                .description.contains("procNull"), operation)
        }
        assertMessageNames(.rankOutOfRange(operation: "PersistentPlan", argument: "receives[1].peer", rank: -1, size: 2),
                           ["PersistentPlan", "receives[1].peer", "0..<2", "or procNull (-2)", "-1"])
        for operation in ["send", "sendrecv"] {
            assertMessageNames(.rankOutOfRange(operation: operation, argument: "dest", rank: -1, size: 2),
                               [operation, "dest", "0..<2", "or procNull (-2)", "-1"])
        }
        XCTAssertFalse(MPIError.rankOutOfRange(operation: "bcast", argument: "root", rank: -1, size: 2)
            .description.contains(" or "), "root")
        assertMessageNames(.unsupportedReduction(operation: "scan", op: .bitwiseOr, scalarType: "Double"),
                           ["scan", "'op'", "bitwiseOr", "Double", "signedInteger", "unsignedInteger", "got Double"])
        assertMessageNames(.finalized(operation: "barrier"), ["barrier", "finalized"])
        assertMessageNames(.peerFailed(operation: "scatter", rank: 2, reason: "the root's input is a 0-d array"),
                           ["scatter", "rank 2", "the root's input is a 0-d array"])
        assertMessageNames(.threadLevel(operation: "bcast", provided: .funneled,
                                        reason: "called from another thread; initialise MPI at .serialized"),
                           ["bcast", "MPI_THREAD_FUNNELED", "called from another thread", ".serialized"])
        assertMessageNames(.mpi(operation: "MPI_Recv", errorClass: .truncate, message: "MPI_ERR_TRUNCATE: message truncated"),
                           ["MPI_Recv", "MPI_ERR_TRUNCATE", "message truncated"])
    }

    func testErrorClassesAreDistinctAndNamed() {
        let classes: [(MPIErrorClass, String)] = [
            (.success, "MPI_SUCCESS"), (.buffer, "MPI_ERR_BUFFER"), (.count, "MPI_ERR_COUNT"),
            (.type, "MPI_ERR_TYPE"), (.tag, "MPI_ERR_TAG"), (.comm, "MPI_ERR_COMM"),
            (.rank, "MPI_ERR_RANK"), (.request, "MPI_ERR_REQUEST"), (.root, "MPI_ERR_ROOT"),
            (.group, "MPI_ERR_GROUP"), (.op, "MPI_ERR_OP"), (.topology, "MPI_ERR_TOPOLOGY"),
            (.dimensions, "MPI_ERR_DIMS"), (.argument, "MPI_ERR_ARG"), (.unknown, "MPI_ERR_UNKNOWN"),
            (.truncate, "MPI_ERR_TRUNCATE"), (.other, "MPI_ERR_OTHER"), (.intern, "MPI_ERR_INTERN"),
            (.inStatus, "MPI_ERR_IN_STATUS"), (.pending, "MPI_ERR_PENDING"), (.noMemory, "MPI_ERR_NO_MEM"),
        ]
        XCTAssertEqual(Set(classes.map(\.0)).count, classes.count, "two error classes share a value")
        for (errorClass, name) in classes {
            XCTAssertEqual(errorClass.description, name)
        }
        XCTAssertEqual(MPIErrorClass.success.rawValue, 0)
        XCTAssertEqual(MPIErrorClass.truncate.rawValue, swiftmpi_err_truncate())
        XCTAssertEqual(MPIErrorClass(rawValue: swiftmpi_err_rank()), .rank)
        let unknown = MPIErrorClass(rawValue: 100_000)
        XCTAssertEqual(unknown.description, "MPI error class 100000")
    }

    func testErrorsAreCaughtAsAnyError() {
        let untyped: () throws -> Void = { _ = try bcast(1.0, root: -5) }
        do {
            try untyped()
            XCTFail("expected an error")
        } catch {
            // Thrown through `any Error`, it is still the typed MPIError.
            XCTAssertEqual(error as? MPIError, .rankOutOfRange(operation: "bcast", argument: "root", rank: -5, size: size))
        }
    }

    // MARK: the errors the library throws, on every rank

    func testThrownErrorsNameWhatIsWrong() throws {
        let n = size
        if let error = thrown({ try alltoall(ShapedArray(repeating: 1.0, shape: [n + 1, 3])) }) {
            assertMessageNames(error, ["alltoall", "'x'", "\(n)", "[\(n + 1), 3]"])
        }
        if let error = thrown({ try alltoall(ShapedArray(scalar: 1.0)) }) {
            assertMessageNames(error, ["alltoall", "'x'", "\(n)", "0-d"])
        }
        if let error = thrown({ try gather(1.0, root: n) }) {
            assertMessageNames(error, ["gather", "root", "0..<\(n)", "got \(n)"])
        }
        if let error = thrown({ try send(1.0, dest: -1) }) {
            assertMessageNames(error, ["send", "dest", "0..<\(n)", "got -1"])
        }
        if let error = thrown({ try recv(1.0, source: n + 2) }) {
            assertMessageNames(error, ["recv", "source", "0..<\(n)", "got \(n + 2)"])
        }
        if let error = thrown({ try sendrecv(1.0, 1.0, source: 0, dest: 0, recvtag: -7) }) {
            assertMessageNames(error, ["sendrecv", "recvtag", "0...\(MPIRuntime.tagUpperBound)", "got -7"])
        }
        if let error = thrown({ try allreduce(ShapedArray(scalar: true), op: .sum) }) {
            assertMessageNames(error, ["allreduce", "sum", "Bool", "floatingPoint"])
        }
        if let error = thrown({ try world.split(color: -3) }) {
            assertMessageNames(error, ["Communicator.split", "color", "got -3"])
        }
        // scatter: the root's bad input, on the root and (with the cross-rank check on, without
        // which the others would wait for the root) on the others.
        MPIRuntime.checksCollectiveArguments = true
        let x = rank == 0 ? ShapedArray(repeating: Int8(0), shape: [n + 2]) : ShapedArray(scalar: Int8(0))
        if let error = thrown({ try scatter(x, root: 0) }) {
            if rank == 0 {
                assertMessageNames(error, ["scatter", "'x'", "\(n)", "[\(n + 2)]"])
            } else {
                assertMessageNames(error, ["scatter", "rank 0", "SWIFT_MPI_CHECK"])
            }
        }
        MPIRuntime.checksCollectiveArguments = false
        // A receive template of the wrong size.
        let (left, right) = ringNeighbours(rank: rank, size: n)
        if let error = thrown({ try sendrecv([1, 2, 3], [0, 0, 0, 0], source: left, dest: right) }) {
            assertMessageNames(error, ["sendrecv", "recvbuf", "4", "3"])
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, n)
    }

    func testMPIErrorsCarryTheClassAndMPIsMessage() {
        // MPI itself rejects MPI_COMM_NULL; the package returns its error instead of aborting.
        guard let error = thrown({ try Communicator(handle: swiftmpi_comm_null()) }) else { return }
        guard case let .mpi(operation, errorClass, message) = error else {
            return XCTFail("expected .mpi, got \(error)")
        }
        XCTAssertEqual(errorClass, .comm)
        // The message is MPI's own text for the code, which includes the text of its class.
        var expected = [CChar](repeating: 0, count: Int(swiftmpi_max_error_string()) + 1)
        var length: Int32 = 0
        XCTAssertEqual(MPI_Error_string(swiftmpi_err_comm(), &expected, &length), 0)
        let text = String(decoding: expected.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        XCTAssertFalse(text.isEmpty)
        XCTAssertTrue(message.contains(text), "the message '\(message)' is not MPI's text '\(text)'")
        assertMessageNames(error, [operation, "MPI_ERR_COMM", message])
    }

    /// The documented promise: "A one-line message". MPI's own text for an error code can span
    /// lines (MPICH appends an error stack), which must not break the message.
    func testMessagesOfThrownErrorsAreOneLine() throws {
        var errors: [MPIError] = []
        if let error = thrown({ try Communicator(handle: swiftmpi_comm_null()) }) { errors.append(error) }
        // A truncated receive: its message quotes MPI's text for MPI_ERR_TRUNCATE.
        let (left, right) = ringNeighbours(rank: rank, size: size)
        if size > 1,  // at one rank Open MPI loses the truncation (see PointToPointTests)
           let error = thrown({ try sendrecv([1, 2, 3], [0, 0], source: left, dest: right) }) {
            errors.append(error)
        }
        if let error = thrown({ try bcast(1, root: size) }) { errors.append(error) }
        if let error = thrown({ try allreduce(true, op: .sum) }) { errors.append(error) }
        for error in errors {
            XCTAssertFalse(error.description.contains("\n"), "the message is not one line: \(error.description)")
            XCTAssertFalse(error.description.contains("\r"), "the message is not one line: \(error.description)")
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    /// The error that `body` throws, after asserting that it throws one.
    private func thrown<R>(_ body: () throws -> R, file: StaticString = #filePath, line: UInt = #line) -> MPIError? {
        assertThrowsError(file: file, line: line, body)
    }
}
