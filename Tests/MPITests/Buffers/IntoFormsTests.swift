import MPI
import MPITestSupport
import XCTest

/// The allocation-free `into:` variants: same results as the result-returning
/// forms, written into caller-owned storage, with output sizes checked.
final class IntoFormsTests: XCTestCase {
    var comm: Communicator { try! Communicator.default }

    func testAllreduceIntoMatchesResultReturningForm() throws {
        let x = (0..<5).map { Double(comm.rank * 10 + $0) }
        var output = [Double](repeating: .nan, count: 5)
        let token = try allreduce(x, into: &output, op: .sum, token: Token())
        let (expected, _) = try allreduce(x, op: .sum)
        XCTAssertEqual(output, expected)
        XCTAssertEqual(token.sequence, 1)
        let n = Double(comm.size)
        XCTAssertEqual(output[2], 10 * n * (n - 1) / 2 + 2 * n)
    }

    func testAllreduceIntoShapedArrayKeepsOutputShape() throws {
        let x = ShapedArray(shape: [2, 3], scalars: (0..<6).map { Int32($0 + comm.rank) })
        var output = ShapedArray(repeating: Int32(0), shape: [3, 2])
        try allreduce(x, into: &output, op: .max)
        XCTAssertEqual(output.shape, [3, 2])
        XCTAssertEqual(output.scalars, (0..<6).map { Int32($0 + comm.size - 1) })
    }

    func testAllgatherAlltoallGatherScatterInto() throws {
        let size = comm.size, rank = comm.rank
        var gathered = [Int](repeating: -1, count: 2 * size)
        try allgather([rank, -rank], into: &gathered)
        XCTAssertEqual(gathered, (0..<size).flatMap { [$0, -$0] })

        let blocks = (0..<size).flatMap { [Float(rank * 100 + $0), Float(rank)] }
        var exchanged = [Float](repeating: 0, count: 2 * size)
        try alltoall(blocks, into: &exchanged)
        XCTAssertEqual(exchanged, (0..<size).flatMap { [Float($0 * 100 + rank), Float($0)] })

        for root in 0..<size {
            var onRoot = [Int16](repeating: 0, count: rank == root ? 3 * size : 0)
            try gather([Int16(rank), 1, 2], into: &onRoot, root: root)
            if rank == root {
                XCTAssertEqual(onRoot, (0..<size).flatMap { [Int16($0), 1, 2] })
            } else {
                XCTAssertEqual(onRoot, [])
            }

            let table = rank == root ? (0..<(3 * size)).map { UInt8($0) } : []
            var row = [UInt8](repeating: 0, count: 3)
            try scatter(table, into: &row, root: root)
            XCTAssertEqual(row, [UInt8(3 * rank), UInt8(3 * rank + 1), UInt8(3 * rank + 2)])
        }
    }

    func testBcastInPlaceReduceScanInto() throws {
        let size = comm.size, rank = comm.rank
        for root in 0..<size {
            var buffer = ShapedArray(shape: [2, 2], scalars: Array(repeating: Double(rank), count: 4))
            try bcast(inPlace: &buffer, root: root)
            XCTAssertEqual(buffer.scalars, Array(repeating: Double(root), count: 4))

            var reduced = [Int64](repeating: 7, count: 2)
            try reduce([Int64(rank), 1], into: &reduced, op: .sum, root: root)
            XCTAssertEqual(reduced, rank == root ? [Int64(size * (size - 1) / 2), Int64(size)] : [7, 7])
        }
        var prefix = [Int](repeating: 0, count: 1)
        try scan([rank + 1], into: &prefix, op: .sum)
        XCTAssertEqual(prefix, [(rank + 1) * (rank + 2) / 2])
    }

    func testRecvAndSendrecvInto() throws {
        let size = comm.size, rank = comm.rank
        let right = (rank + 1) % size, left = (rank + size - 1) % size
        var received = [Double](repeating: 0, count: 3)
        let status = Status()
        try sendrecv([Double(rank), 1, 2], into: &received, source: left, dest: right, sendtag: 4, status: status)
        XCTAssertEqual(received, [Double(left), 1, 2])
        XCTAssertEqual(status.source, left)
        XCTAssertEqual(status.tag, 4)
        XCTAssertEqual(status.count, 3)

        if size >= 2 {
            if rank == 1 { try send([Int32(5), 6], dest: 0, tag: 9) }
            if rank == 0 {
                var message = [Int32](repeating: 0, count: 2)
                let info = Status()
                try recv(into: &message, source: anySource, tag: 9, status: info)
                XCTAssertEqual(message, [5, 6])
                XCTAssertEqual(info.source, 1)
            }
        }
    }

    func testOutputOfWrongSizeThrowsAfterCompletingIntoScratch() throws {
        var tooSmall = [Double](repeating: 0, count: 1)
        XCTAssertThrowsError(try allreduce([1.0, 2.0], into: &tooSmall, op: .sum)) { error in
            guard case let MPIError.shapeMismatch(operation, argument, _, actual) = error as! MPIError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(operation, "allreduce")
            XCTAssertEqual(argument, "output")
            XCTAssertEqual(actual, "1 element")
        }
        var wrong = [Int](repeating: 0, count: comm.size + 1)
        XCTAssertThrowsError(try allgather([comm.rank], into: &wrong)) { error in
            guard case MPIError.shapeMismatch(operation: "allgather", argument: "output", _, _) = error as! MPIError else {
                return XCTFail("unexpected error \(error)")
            }
        }
        // The communicator is still usable afterwards: nothing was left half-sent.
        let (sum, _) = try allreduce(1, op: .sum)
        XCTAssertEqual(sum, comm.size)
    }

    /// An output of the wrong size on one rank only (the root of gather or reduce, one rank of
    /// allreduce): that rank completes the collective into scratch storage and then throws, the
    /// others get their results, and the next collective sees no stale message.
    func testOutputOfWrongSizeOnOneRankLeavesNoUnmatchedMessage() throws {
        let root = comm.size - 1
        let isRoot = comm.rank == root
        var gathered = [Int](repeating: -1, count: isRoot ? comm.size + 2 : 0)
        if isRoot {
            XCTAssertThrowsError(try gather([comm.rank], into: &gathered, root: root)) { error in
                guard case MPIError.shapeMismatch(operation: "gather", argument: "output", _, _) = error as! MPIError else {
                    return XCTFail("unexpected error \(error)")
                }
            }
            XCTAssertEqual(gathered, [Int](repeating: -1, count: comm.size + 2), "no partial result")
        } else {
            XCTAssertNoThrow(try gather([comm.rank], into: &gathered, root: root))
        }
        var reduced = [Double](repeating: -1, count: isRoot ? 3 : 2)
        if isRoot {
            XCTAssertThrowsError(try reduce([1.0, 2.0], into: &reduced, op: .sum, root: root))
        } else {
            XCTAssertNoThrow(try reduce([1.0, 2.0], into: &reduced, op: .sum, root: root))
        }
        var summed = [Double](repeating: 0, count: comm.rank == 0 ? 5 : 2)
        if comm.rank == 0 {
            XCTAssertThrowsError(try allreduce([1.0, 2.0], into: &summed, op: .sum))
        } else {
            try allreduce([1.0, 2.0], into: &summed, op: .sum)
            XCTAssertEqual(summed, [Double(comm.size), Double(2 * comm.size)])
        }
        // The next collectives get exactly their own data.
        let (everyone, _) = try allgather(comm.rank * 7)
        XCTAssertEqual(everyone.scalars, (0..<comm.size).map { $0 * 7 })
        let (rooted, _) = try gather(comm.rank + 100, root: root)
        if isRoot { XCTAssertEqual(rooted.scalars, (0..<comm.size).map { $0 + 100 }) }
    }

    func testScatterIntoWithBadRootInputThrowsOnEveryRankWithTheCheck() throws {
        MPIRuntime.checksCollectiveArguments = true
        defer { MPIRuntime.checksCollectiveArguments = false }
        let root = comm.size - 1
        let table = comm.rank == root ? [Double](repeating: 1, count: 2 * comm.size + 1) : []
        var row = [Double](repeating: 0, count: 2)
        XCTAssertThrowsError(try scatter(table, into: &row, root: root)) { error in
            switch error as! MPIError {
            case .shapeMismatch(operation: "scatter", argument: "x", _, _):
                XCTAssertEqual(self.comm.rank, root)
            case .peerFailed(operation: "scatter", rank: root, _):
                XCTAssertNotEqual(self.comm.rank, root)
            default:
                XCTFail("unexpected error \(error)")
            }
        }
    }
}
