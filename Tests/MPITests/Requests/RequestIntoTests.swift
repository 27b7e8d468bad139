// Tests of the non-blocking `into:` forms (Sources/MPI/Requests/NonBlockingInto.swift):
// every form against its blocking `into:` form, at every root, with ShapedArray and
// Array outputs; the output handed back without a copy; another copy of the
// output left untouched; an output of the wrong size (the collective still
// completes everywhere, the request then throws); argument errors at the call;
// awaiting and request sets. Expectations come from rank and size.
import MPI
import MPITestSupport
import XCTest

final class RequestIntoTests: MPITestCase {
    private let shapes: [[Int]] = [[], [5], [2, 3, 2], [0]]

    // MARK: Every form against its blocking form

    func testCollectivesMatchTheirBlockingIntoForms() throws {
        try collectives(Double.self)
        try collectives(Int32.self)
        try collectives(UInt8.self)
    }

    private func collectives<T: TestScalar>(_ type: T.Type) throws {
        for shape in shapes {
            let x = pattern(shape, rank: rank, as: T.self)
            let n = x.scalarCount
            let label = "\(T.self) \(shape) \(here)"
            var expected = junk([n], as: T.self)
            try allreduce(x, into: &expected, op: .sum)
            try iallreduce(x, into: junk([n], as: T.self), op: .sum).wait().assertEqual(expected, label)
            try scan(x, into: &expected, op: .max)
            try iscan(x, into: junk([n], as: T.self), op: .max).wait().assertEqual(expected, label)
            var gathered = junk([size * n], as: T.self)
            try allgather(x, into: &gathered)
            try iallgather(x, into: junk([size * n], as: T.self)).wait().assertEqual(gathered, label)
            let blocks = pattern([size * n], rank: rank, as: T.self)
            var exchanged = junk([size * n], as: T.self)
            try alltoall(blocks, into: &exchanged)
            try ialltoall(blocks, into: junk([size * n], as: T.self)).wait().assertEqual(exchanged, label)
            for root in 0..<size {
                let rooted = "root \(root) \(label)"
                // bcast in place: the root's data everywhere; the root's buffer comes back unchanged.
                let buffer = rank == root ? x : junk(shape, as: T.self)
                try ibcast(inPlace: buffer, root: root).wait().assertEqual(pattern(shape, rank: root, as: T.self), rooted)
                // gather and reduce: the root's output is filled, the others' come back as they were.
                var blockingGather = junk([rank == root ? size * n : 3], as: T.self)
                try gather(x, into: &blockingGather, root: root)
                try igather(x, into: junk([rank == root ? size * n : 3], as: T.self), root: root).wait()
                    .assertEqual(blockingGather, rooted)
                var blockingReduce = junk([rank == root ? n : 2], as: T.self)
                try reduce(x, into: &blockingReduce, op: .sum, root: root)
                try ireduce(x, into: junk([rank == root ? n : 2], as: T.self), op: .sum, root: root).wait()
                    .assertEqual(blockingReduce, rooted)
                // scatter: the root's blocks; elsewhere the input is not read.
                let rows = rank == root ? pattern([size * n], rank: rank, as: T.self) : junk([0], as: T.self)
                var blockingScatter = junk([n], as: T.self)
                try scatter(rows, into: &blockingScatter, root: root)
                try iscatter(rows, into: junk([n], as: T.self), root: root).wait().assertEqual(blockingScatter, rooted)
            }
        }
        // Plain arrays as input and output.
        let plain = (0..<4).map { T.make(rank * 5 + $0) }
        let sum = try iallreduce(plain, into: [T](repeating: T.make(0), count: 4), op: .sum).wait()
        XCTAssertEqual(sum, try allreduce(plain, op: .sum).0, here)
        let all = try iallgather(plain, into: [T](repeating: T.make(0), count: 4 * size)).wait()
        XCTAssertEqual(all, try allgather(ShapedArray(plain)).0.scalars, here)
    }

    func testPointToPointMatchesItsBlockingForms() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        for shape in shapes {
            let x = pattern(shape, rank: rank, as: Double.self)
            let n = x.scalarCount
            // isendrecv into a buffer against sendrecv into one, with their statuses.
            var blocking = junk([n], as: Double.self)
            let blockingStatus = Status()
            try sendrecv(x, into: &blocking, source: left, dest: right, sendtag: 3, recvtag: 3, status: blockingStatus)
            let status = Status()
            try isendrecv(x, into: junk([n], as: Double.self), source: left, dest: right, sendtag: 3, recvtag: 3,
                          status: status).wait().assertEqual(blocking, "\(shape) \(here)")
            XCTAssertEqual([status.source, status.tag, status.count],
                           [blockingStatus.source, blockingStatus.tag, blockingStatus.count], "\(shape) \(here)")
            guard canSendAroundARing(of: size) else { continue }
            // irecv into a buffer around the ring.
            let received = Status()
            let receive = try irecv(into: junk(shape, as: Double.self), source: left, tag: 4, status: received)
            let send = try isend(x, dest: right, tag: 4)
            try receive.wait().assertEqual(pattern(shape, rank: left, as: Double.self), "\(shape) \(here)")
            try send.wait()
            XCTAssertEqual([received.source, received.tag, received.count], [left, 4, n], "\(shape) \(here)")
        }
        // A plain-array output, from any source.
        guard canSendAroundARing(of: size) else { return }
        let r = try irecv(into: [Int64](repeating: -1, count: 2), tag: 6)
        try isend([Int64(rank), Int64(rank * 2)], dest: right, tag: 6).wait()
        let message = try r.wait()
        XCTAssertEqual(message, [Int64(left), Int64(left * 2)], here)
    }

    // MARK: Ownership

    func testTheOutputComesBackWithoutACopy() throws {
        let x = pattern([8], rank: rank, as: Double.self)
        var y = ShapedArray<Double>(repeating: -1, shape: [8])
        let address = storageAddress(y)
        for _ in 0..<3 {
            y = try iallreduce(x, into: consume y, op: .sum).wait()
            XCTAssertEqual(storageAddress(y), address, "the request wrote the caller's storage \(here)")
        }
        XCTAssertEqual(y, try allreduce(x, op: .sum).0, here)
        // Large enough for the library's page-aligned blocks.
        var big = ShapedArray<Double>(repeating: 0, shape: [1024])
        let bigAddress = storageAddress(big)
        big = try iscan(ShapedArray(repeating: 1, shape: [1024]), into: consume big, op: .sum).wait()
        XCTAssertEqual(storageAddress(big), bigAddress, here)
        XCTAssertEqual(big, ShapedArray(repeating: Double(rank + 1), shape: [1024]), here)
    }

    func testAnotherCopyOfTheOutputIsNotWritten() throws {
        let x = pattern([6], rank: rank, as: Double.self)
        let kept = ShapedArray<Double>(repeating: -7, shape: [6])
        let result = try iallreduce(x, into: kept, op: .sum).wait()
        XCTAssertEqual(kept, ShapedArray(repeating: -7, shape: [6]), "copy on write protects the caller's copy \(here)")
        XCTAssertEqual(result, try allreduce(x, op: .sum).0, here)
        // The input kept by the request is read as it was at the start, whatever the caller does with it.
        var input = pattern([6], rank: rank, as: Double.self)
        let request = try iallreduce(input, into: ShapedArray(repeating: 0, shape: [6]), op: .sum)
        input[0] = 1000
        let reduced = try request.wait()
        XCTAssertEqual(reduced, try allreduce(pattern([6], rank: rank, as: Double.self), op: .sum).0, here)
        // An output passed as its own input: the request writes a copy, and reads the input as it was.
        let same = pattern([3], rank: rank, as: Double.self)
        XCTAssertEqual(try iallreduce(same, into: same, op: .sum).wait(), try allreduce(same, op: .sum).0, here)
        XCTAssertEqual(same, pattern([3], rank: rank, as: Double.self), here)
    }

    /// A ``RequestBuffer`` of the caller's own: the request keeps it alive through the default storage owner
    /// (a boxed copy), and MPI reads it as it was at the start.
    func testACallersOwnRequestBufferIsKeptAlive() throws {
        let count = 1 << 17  // 1 MiB: sent by rendezvous, read by MPI after the start
        let (next, previous) = ((rank + 1) % size, (rank + size - 1) % size)
        var input = Samples((0..<count).map { Double(rank * count + $0) })
        let request = try isendrecv(input, into: Samples([Double](repeating: 0, count: count)),
                                    source: previous, dest: next, sendtag: 3, recvtag: 3)
        input.values[0] = -1  // copied on write: the request's boxed copy still holds the original
        var churn = 0.0
        for _ in 0..<4 { churn += [Double](repeating: -2, count: count)[count - 1] }
        let received = try request.wait()
        XCTAssertEqual(churn, -8, here)
        XCTAssertEqual(received.values, (0..<count).map { Double(previous * count + $0) }, here)
    }

    // MARK: Errors

    func testAnOutputOfTheWrongSizeFailsItsRequestAfterTheCollective() throws {
        // Rank 0's output is one element short; the collective still runs everywhere.
        let x = pattern([4], rank: rank, as: Double.self)
        let output = ShapedArray<Double>(repeating: 0, shape: [rank == 0 ? 3 : 4])
        let request = try iallreduce(x, into: output, op: .sum)
        if rank == 0 {
            let error = failure(of: request)
            XCTAssertEqual(error, .shapeMismatch(operation: "allreduce", argument: "output",
                                                               expected: "4 elements (the input's count)",
                                                               actual: "3 elements"), here)
        } else {
            // Computed here: a collective on some ranks only would not match.
            let reduced = try request.wait()
            let sum = (0..<4).map { j in Double(size * (1 + j) + 31 * size * (size - 1) / 2) }
            XCTAssertEqual(reduced.scalars, sum, here)
        }
        // The same for a gather's root, awaited on the others; nothing is left in flight.
        let root = size - 1
        let gathered = try igather(x, into: ShapedArray<Double>(repeating: 0, shape: [rank == root ? 1 : 0]), root: root)
        if rank == root {
            let error = failure(of: gathered)
            if case .shapeMismatch(let operation, let argument, _, _)? = error {
                XCTAssertEqual([operation, argument], ["gather", "output"], here)
            } else {
                XCTFail("expected a shape mismatch, got \(String(describing: error)) \(here)")
            }
        } else {
            _ = try gathered.wait()
        }
        XCTAssertEqual(try allreduce(Double(rank), op: .sum).0, Double(size * (size - 1) / 2), here)
    }

    func testArgumentErrorsAreThrownAtTheCall() throws {
        let x = pattern([4], rank: rank, as: Double.self)
        assertThrowsError("root") { try ireduce(x, into: x, op: .sum, root: size) }
        assertThrowsError("root") { try igather(x, into: x, root: -1) }
        assertThrowsError("root") { try ibcast(inPlace: x, root: size) }
        assertThrowsError("root") { try iscatter(x, into: x, root: size) }
        assertThrowsError("tag") { try irecv(into: x, source: 0, tag: -5) }
        assertThrowsError("source") { try irecv(into: x, source: size, tag: 0) }
        let unsupported = assertThrowsError("op") { try iallreduce(x, into: x, op: .bitwiseAnd) }
        if case .unsupportedReduction? = unsupported {} else {
            XCTFail("expected an unsupported reduction, got \(String(describing: unsupported)) \(here)")
        }
        if size > 1 {
            // alltoall's blocks must divide evenly among the ranks.
            assertThrowsError("blocks") { try ialltoall(pattern([size + 1], rank: rank, as: Double.self), into: x) }
        }
        // Nothing was started: the next collective matches on every rank.
        XCTAssertEqual(try allreduce(1, op: .sum).0, size, here)
    }

    func testAMessageOfTheWrongSizeFailsTheReceive() throws {
        guard canSendAroundARing(of: size) else { return }
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let receive = try irecv(into: ShapedArray<Double>(repeating: 0, shape: [2]), source: left, tag: 9)
        try isend(pattern([3], rank: rank, as: Double.self), dest: right, tag: 9).wait()
        let error = failure(of: receive)
        if case .shapeMismatch(let operation, let argument, _, _)? = error {
            XCTAssertEqual([operation, argument], ["recv", "output"], here)
        } else {
            XCTFail("expected a shape mismatch, got \(String(describing: error)) \(here)")
        }
    }

    /// The loop of the Requests article ("Into the caller's buffers"), as written there: the buffers
    /// come back every step, filled, and keep their storage.
    func testTheArticlesLoop() throws {
        guard canSendAroundARing(of: size) else { return }
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let (n, m, steps) = (4, 3, 5)
        let local = ShapedArray<Double>(repeating: Double(rank + 1), shape: [n])
        let edge = ShapedArray<Double>(repeating: Double(rank), shape: [m])
        var interior = 0
        func step(_ x: Int) -> Int { x + 1 }
        var sums = ShapedArray<Double>(repeating: 0, shape: [n])
        var halo = ShapedArray<Double>(repeating: 0, shape: [m])
        let addresses = (storageAddress(sums), storageAddress(halo))
        for _ in 0..<steps {
            let reduction = try iallreduce(local, into: consume sums, op: .sum)
            let incoming = try irecv(into: consume halo, source: left, tag: 1)
            let outgoing = try isend(edge, dest: right, tag: 1)
            interior = step(interior)
            halo = try incoming.wait()
            try outgoing.wait()
            sums = try reduction.wait()
        }
        XCTAssertEqual(interior, steps, here)
        XCTAssertEqual(sums, ShapedArray(repeating: Double(size * (size + 1) / 2), shape: [n]), here)
        XCTAssertEqual(halo, ShapedArray(repeating: Double(left), shape: [m]), here)
        XCTAssertEqual(storageAddress(sums), addresses.0, here)
        XCTAssertEqual(storageAddress(halo), addresses.1, here)
    }

    // MARK: Awaiting and sets

    func testAwaitedAndInASet() async throws {
        let x = pattern([5], rank: rank, as: Double.self)
        let awaited = try await iallreduce(x, into: ShapedArray(repeating: 0, shape: [5]), op: .sum).value()
        XCTAssertEqual(awaited, try allreduce(x, op: .sum).0, here)
        var set = RequestSet<ShapedArray<Double>>()
        for i in 0..<6 {
            set.append(try iallreduce(x, into: ShapedArray(repeating: Double(i), shape: [5]), op: .max))
        }
        let results = try set.waitAll()
        XCTAssertEqual(results.count, 6, here)
        let max = try allreduce(x, op: .max).0
        for result in results { XCTAssertEqual(result, max, here) }
    }
}

/// The error a request completes with, or `nil` (and a failure) when it completes without one.
private func failure<Value>(of request: consuming Request<Value>, file: StaticString = #filePath, line: UInt = #line)
    -> MPIError?
{
    do {
        _ = try request.wait()
        XCTFail("the request completed without an error \(rankLabel())", file: file, line: line)
    } catch {
        return error
    }
    return nil
}

extension ShapedArray where Scalar: Equatable {
    /// Asserts equality with the blocking form's result (as a flat array: the `into:` forms are 1-d here).
    fileprivate func assertEqual(_ other: ShapedArray, _ label: String, file: StaticString = #filePath,
                                 line: UInt = #line) {
        XCTAssertEqual(scalars, other.scalars, label, file: file, line: line)
    }
}

/// A buffer type of a program's own, conforming to ``RequestBuffer`` with the default storage owner.
private struct Samples: RequestBuffer {
    typealias Scalar = Double
    var values: [Double]

    init(_ values: [Double]) { self.values = values }

    var scalarCount: Int { values.count }

    func withUnsafeMPIBuffer<R, E: Error>(_ body: (UnsafeRawPointer?) throws(E) -> R) throws(E) -> R {
        try values.withUnsafeMPIBuffer(body)
    }

    mutating func withUnsafeMutableMPIBuffer<R, E: Error>(
        _ body: (UnsafeMutableRawPointer?) throws(E) -> R
    ) throws(E) -> R {
        try values.withUnsafeMutableMPIBuffer(body)
    }
}
