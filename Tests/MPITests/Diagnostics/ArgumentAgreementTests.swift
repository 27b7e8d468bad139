import MPI
import MPITestSupport
import XCTest

/// The opt-in cross-rank argument check (`SWIFT_MPI_CHECK=1` or
/// `MPIRuntime.checksCollectiveArguments`): mismatches between ranks become the
/// same error on every rank instead of a hang or reinterpreted bytes.
final class ArgumentAgreementTests: XCTestCase {
    var comm: Communicator { try! Communicator.default }

    override func setUp() {
        MPIRuntime.checksCollectiveArguments = true
    }

    override func tearDown() {
        MPIRuntime.checksCollectiveArguments = false
    }

    func testMatchingCallsPassUnchanged() throws {
        let (sum, _) = try allreduce([1.0, Double(comm.rank)], op: .sum)
        XCTAssertEqual(sum, [Double(comm.size), Double(comm.size * (comm.size - 1) / 2)])
        let (row, _) = try scatter(
            comm.rank == 0 ? ShapedArray(shape: [comm.size, 2], scalars: (0..<(2 * comm.size)).map(Int32.init))
                : ShapedArray(repeating: Int32(0), shape: [2]),
            root: 0)
        XCTAssertEqual(row.scalars, [Int32(2 * comm.rank), Int32(2 * comm.rank + 1)])
    }

    func testCountMismatchThrowsOnEveryRank() throws {
        // The last rank passes one element more (at size 1 there is nothing to mismatch).
        let count = comm.size > 1 && comm.rank == comm.size - 1 ? 3 : 2
        if comm.size == 1 {
            XCTAssertNoThrow(try allreduce([Double](repeating: 1, count: count), op: .sum))
            return
        }
        XCTAssertThrowsError(try allreduce([Double](repeating: 1, count: count), op: .sum)) { error in
            guard case let MPIError.invalidArgument(operation, argument, expected, actual) = error as! MPIError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(operation, "allreduce")
            XCTAssertEqual(argument, "element count")
            XCTAssertTrue(expected.contains("rank 0 passed 2"), expected)
            XCTAssertEqual(actual, "rank \(self.comm.size - 1) passed 3")
        }
        // Nothing was left half-done: the communicator still works.
        let (n, _) = try allreduce(1, op: .sum)
        XCTAssertEqual(n, comm.size)
    }

    func testABlockingCollectiveAgainstANonBlockingOneThrowsOnEveryRank() throws {
        // MPI does not match a blocking collective with a non-blocking one (at MPI_THREAD_SERIALIZED the
        // package runs every collective as MPI's non-blocking one, so there they match).
        guard comm.size > 1 else { return }
        let x = [Double(comm.rank)]
        let blocking = comm.rank == 0
        let serialized = MPIRuntime.threadLevel == .serialized
        do throws(MPIError) {
            let sum = blocking ? try allreduce(x, op: .sum).0 : try iallreduce(x, op: .sum).wait()
            XCTAssertTrue(serialized, "a blocking allreduce against a non-blocking one passed the check")
            XCTAssertEqual(sum, [Double(comm.size * (comm.size - 1) / 2)])
        } catch {
            XCTAssertFalse(serialized, "\(error)")
            guard case let .invalidArgument(operation, argument, expected, actual) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(operation, "allreduce")
            XCTAssertEqual(argument, "form")
            XCTAssertTrue(expected.contains("rank 0 passed the blocking form"), expected)
            XCTAssertEqual(actual, "rank 1 passed a non-blocking form")
        }
        let (n, _) = try allreduce(1, op: .sum)
        XCTAssertEqual(n, comm.size)
    }

    func testTypeRootAndOpMismatchesThrowOnEveryRank() throws {
        guard comm.size > 1 else { return }
        let odd = comm.rank % 2 == 1
        XCTAssertThrowsError(
            try odd ? bcast([Int64(1)], root: 0).0.map(Double.init) : bcast([Double(1)], root: 0).0
        ) { error in
            guard case MPIError.invalidArgument("bcast", "scalar type", let expected, let actual) = error as! MPIError else {
                return XCTFail("unexpected error \(error)")
            }
            // Both types are named, the other rank's too.
            XCTAssertTrue(expected.hasSuffix("rank 0 passed Double"), expected)
            XCTAssertEqual(actual, "rank 1 passed Int64")
        }
        XCTAssertThrowsError(try reduce([1.0], op: .sum, root: odd ? 1 : 0)) { error in
            guard case MPIError.invalidArgument("reduce", "root", _, _) = error as! MPIError else {
                return XCTFail("unexpected error \(error)")
            }
        }
        XCTAssertThrowsError(try allreduce([1.0], op: odd ? .max : .sum)) { error in
            guard case MPIError.invalidArgument("allreduce", "reduction op", _, let actual) = error as! MPIError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(actual, "rank 1 passed max")
        }
    }

    func testCollectivesOfConcurrentTasksAreCheckedInTheOrderEachRankStartsThem() async throws {
        // Two `async let` start a non-blocking allreduce and allgather on one communicator, so each rank
        // starts them in whatever order its tasks happen to run. Unchecked, MPI then matches one rank's
        // allreduce with another's allgather: wrong results and no error (MPICH 4 at 4 ranks, every run
        // of 50 rounds). With the check, every round either gives the right results or throws on every rank.
        let (rank, size) = (comm.rank, comm.size)
        var mismatchedRounds = 0
        for _ in 0..<50 {
            async let sum = iallreduce([rank], op: .sum).value()
            async let everyone = iallgather([rank]).value()
            do {
                let (total, gathered) = try await (sum, everyone)
                XCTAssertEqual(total, [size * (size - 1) / 2], "rank \(rank) of \(size)")
                XCTAssertEqual(gathered.scalars, Array(0..<size), "rank \(rank) of \(size)")
            } catch {
                guard case MPIError.invalidArgument(_, "operation", _, _) = error as! MPIError else {
                    return XCTFail("rank \(rank) of \(size): unexpected error \(error)")
                }
                mismatchedRounds += 1
            }
        }
        // Every rank found the same rounds mismatched (at one rank, none).
        let (fewest, _) = try allreduce(mismatchedRounds, op: .min)
        let (most, _) = try allreduce(mismatchedRounds, op: .max)
        XCTAssertEqual(fewest, most, "rank \(rank) of \(size)")
        if size == 1 { XCTAssertEqual(mismatchedRounds, 0) }
    }

    func testCallsThatMakeCommunicatorsAreCheckedToo() throws {
        // Rank 0 duplicates the world while the others split it: unchecked, MPI would match
        // MPI_Comm_dup with MPI_Comm_split. Checked, every rank throws before either starts.
        let world = Communicator.world
        guard world.size > 1 else {
            XCTAssertEqual(try world.duplicate().size, 1)
            return
        }
        XCTAssertThrowsError(
            try world.rank == 0 ? world.duplicate() : world.split(color: 0)
        ) { error in
            guard case MPIError.invalidArgument(_, "operation", let expected, let actual) = error as! MPIError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(expected.hasSuffix("rank 0 passed Communicator.duplicate"), expected)
            XCTAssertEqual(actual, "rank 1 passed Communicator.split")
        }
        // Nothing was started: the same calls on every rank still work.
        XCTAssertEqual(try world.split(color: world.rank % 2).size, (world.size + 1 - world.rank % 2) / 2)
    }

    func testExplicitVariableFormsWithCountsWrongOnOneRankThrowOnEveryRank() throws {
        // Rank 0 passes one count too many. The result forms size their result from the counts;
        // they threw before the core's checks, so rank 0 never joined the agreement and the other
        // ranks failed on rank 0's next collective, then hung (found by an audit on 2026-12-04).
        let (rank, size) = (comm.rank, comm.size)
        let ones = [Int](repeating: 1, count: size)
        let counts = rank == 0 ? ones + [1] : ones
        let grid = try XCTUnwrap(try comm.cartesian(dimensions: [size], periodic: [true]))
        let neighborCounts = rank == 0 ? [1, 1, 1] : [1, 1]
        let cases: [(String, String, () throws -> Void)] = [
            ("allgatherv", "counts", { _ = try allgatherv([1.0], counts: counts) }),
            ("gatherv", "counts", { _ = try gatherv([1.0], counts: counts, root: 0) }),
            ("alltoallv", "receiveCounts", {
                _ = try alltoallv([Double](repeating: 1, count: size), sendCounts: ones, receiveCounts: counts)
            }),
            ("neighborAllgatherv", "receiveCounts", {
                _ = try neighborAllgatherv([1.0], receiveCounts: neighborCounts, comm: grid.communicator)
            }),
            ("neighborAllgatherv", "receiveRowCounts", {
                _ = try neighborAllgatherv(ShapedArray([1.0]), receiveRowCounts: neighborCounts, comm: grid.communicator)
            }),
            ("neighborAlltoallv", "receiveCounts", {
                _ = try neighborAlltoallv([1.0, 2.0], sendCounts: [1, 1], receiveCounts: neighborCounts,
                                          comm: grid.communicator)
            }),
            ("neighborAlltoallv", "receiveRowCounts", {
                _ = try neighborAlltoallv(ShapedArray([1.0, 2.0]), sendRowCounts: [1, 1],
                                          receiveRowCounts: neighborCounts, comm: grid.communicator)
            }),
        ]
        for (operation, argument, call) in cases {
            if rank == 0 {
                XCTAssertThrowsError(try call(), "\(operation) \(argument)") { error in
                    guard case MPIError.invalidArgument(operation, argument, _, _) = error as! MPIError else {
                        return XCTFail("\(operation) \(argument): unexpected error \(error)")
                    }
                }
            } else {
                assertPeerFailed(operation: operation, rank: 0, "\(argument)") { try call() }
            }
        }
        // Everybody is still in step.
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    func testVariableCountsThatDifferBetweenRanksThrowOnEveryRank() throws {
        // Counts of the right length whose sum and own entry are right on every rank, but which differ
        // between ranks: unchecked, MPI hung, truncated or returned uninitialised elements (an audit on
        // 2026-12-04). The check compares digests of the counts (alltoallv: what every rank sends every
        // rank against what every rank receives), so that a mismatch is one error on every rank.
        let (rank, size) = (comm.rank, comm.size)
        let ones = [Int](repeating: 1, count: size)
        // Ragged alltoallv counts that match: rank i sends (2i + j) % 3 elements to rank j.
        let sendCounts = (0..<size).map { (2 * rank + $0) % 3 }
        let receiveCounts = (0..<size).map { (2 * $0 + rank) % 3 }
        let (received, _) = try alltoallv([Double](repeating: Double(rank), count: sendCounts.reduce(0, +)),
                                          sendCounts: sendCounts, receiveCounts: receiveCounts)
        XCTAssertEqual(received, (0..<size).flatMap { [Double](repeating: Double($0), count: receiveCounts[$0]) })
        let (sums, _) = try reduceScatter([Double](repeating: 1, count: size), counts: ones, op: .sum)
        XCTAssertEqual(sums, [Double(size)])
        guard size > 1 else { return }
        // Rank 0 says that the last rank's block has 2 elements; everybody else says 1.
        var other = ones
        other[size - 1] = 2
        let counts = rank == 0 ? other : ones
        // reduceScatter: the same sum, distributed differently.
        var shifted = ones
        shifted[0] = 2
        shifted[1] = 0
        var output = [Double](repeating: 0, count: size + 1)
        let cases: [(String, String, () throws -> Void)] = [
            ("allgatherv", "counts", { _ = try allgatherv([1.0], counts: counts) }),
            ("allgatherv", "counts", { try allgatherv([1.0], into: &output, counts: counts) }),
            ("gatherv", "counts", { _ = try gatherv([1.0], counts: counts, root: size - 1) }),
            ("scatterv", "counts", {
                _ = try scatterv([Double](repeating: 1, count: counts.reduce(0, +)), counts: counts, root: 0)
            }),
            ("reduceScatter", "counts", {
                _ = try reduceScatter([Double](repeating: 1, count: size), counts: rank == 0 ? shifted : ones, op: .sum)
            }),
            ("alltoallv", "receiveCounts", {
                _ = try alltoallv([Double](repeating: 1, count: size), sendCounts: ones, receiveCounts: counts)
            }),
        ]
        for (operation, argument, call) in cases {
            XCTAssertThrowsError(try call(), "\(operation)") { error in
                guard case let MPIError.invalidArgument(op, arg, expected, actual) = error as! MPIError else {
                    return XCTFail("\(operation): unexpected error \(error)")
                }
                XCTAssertEqual(op, operation)
                XCTAssertEqual(arg, argument, operation)
                if operation == "alltoallv" {
                    XCTAssertTrue(expected.contains("receiveCounts[i] equal to rank i's sendCounts[j]"), expected)
                } else {
                    XCTAssertEqual(actual, "rank 1 passed other counts", operation)
                }
            }
        }
        // Everybody is still in step.
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    func testSwitchingTheCheckOffRestoresPlainCalls() throws {
        // With the check off, a call with matching arguments costs no extra communication:
        // the result is the same, and the switch reads back.
        MPIRuntime.checksCollectiveArguments = false
        XCTAssertFalse(MPIRuntime.checksCollectiveArguments)
        let (sum, _) = try allreduce(2, op: .sum)
        XCTAssertEqual(sum, 2 * comm.size)
    }
}
