// Tests of Collectives.swift: allgather, alltoall, barrier, bcast, gather and scatter.
//
// Every primitive is run with every scalar type, with 0-d, 1-d, 3-d and empty
// shapes, with every root, in its ShapedArray, [T] and scalar forms. Rank r's
// data is `pattern(shape, rank: r)`, so every expectation follows from the rank
// and the size.
import ComplexModule
import Foundation
import MPI
import MPITestSupport
import XCTest

final class CollectivesTests: MPITestCase {
    // MARK: allgather

    func testAllgatherEveryTypeAndShape() throws {
        for type in allScalarTypes { try checkAllgather(type) }
    }

    private func checkAllgather<T: TestScalar>(_ type: T.Type, comm: Communicator? = nil) throws {
        let comm = comm ?? defaultComm
        let (me, n) = (comm.rank, comm.size)
        let context = "\(T.self) \(here)"
        for shape in testShapes {
            let x = pattern(shape, rank: me, as: T.self)
            let before = deepCopy(x)
            let (result, token) = try allgather(x, comm: comm)
            XCTAssertEqual(result.shape, [n] + shape, context)
            XCTAssertEqual(result.scalars, (0..<n).flatMap { pattern(shape, rank: $0, as: T.self).scalars },
                           "shape \(shape) \(context)")
            XCTAssertEqual(x, before, "the input was modified \(context)")
            XCTAssertEqual(token.sequence, 1)
        }
        // [T]: the result has shape [size, count].
        let array = pattern([4], rank: me, as: T.self).scalars
        let (fromArray, _) = try allgather(array, comm: comm)
        XCTAssertEqual(fromArray.shape, [n, 4], context)
        XCTAssertEqual(fromArray.scalars, (0..<n).flatMap { pattern([4], rank: $0, as: T.self).scalars }, context)
        let (fromEmpty, _) = try allgather([T](), comm: comm)
        XCTAssertEqual(fromEmpty.shape, [n, 0], context)
        // A scalar: the result has shape [size].
        let (fromScalar, _) = try allgather(T.make(me + 1), comm: comm)
        XCTAssertEqual(fromScalar.shape, [n], context)
        XCTAssertEqual(fromScalar.scalars, (0..<n).map { T.make($0 + 1) }, context)
    }

    // MARK: alltoall

    func testAlltoallEveryTypeAndShape() throws {
        for type in allScalarTypes { try checkAlltoall(type) }
    }

    /// The element that rank `from` sends in row `row`, at `index` within the row.
    private func alltoallValue<T: TestScalar>(from: Int, row: Int, index: Int, as type: T.Type) -> T {
        T.make(1 + from * 17 + row * 5 + index)
    }

    private func checkAlltoall<T: TestScalar>(_ type: T.Type) throws {
        let (me, n) = (rank, size)
        let context = "\(T.self) \(here)"
        for rowShape in [[], [3], [2, 2], [0]] as [[Int]] {
            let m = shapeCount(rowShape)
            let x = ShapedArray(shape: [n] + rowShape, scalars: (0..<n).flatMap { row in
                (0..<m).map { alltoallValue(from: me, row: row, index: $0, as: T.self) }
            })
            let before = deepCopy(x)
            let (result, token) = try alltoall(x)
            XCTAssertEqual(result.shape, [n] + rowShape, context)
            // Row i of the result is the row that rank i sent to this rank.
            let expected = (0..<n).flatMap { from in (0..<m).map { alltoallValue(from: from, row: me, index: $0, as: T.self) } }
            XCTAssertEqual(result.scalars, expected, "row shape \(rowShape) \(context)")
            XCTAssertEqual(x, before, "the input was modified \(context)")
            XCTAssertEqual(token.sequence, 1)
        }
        // [T]: element i goes to rank i.
        let array = (0..<n).map { alltoallValue(from: me, row: $0, index: 0, as: T.self) }
        let (fromArray, _) = try alltoall(array)
        XCTAssertEqual(fromArray, (0..<n).map { alltoallValue(from: $0, row: me, index: 0, as: T.self) }, context)
    }

    func testAlltoallRejectsALeadingAxisOtherThanSizeOnEveryRank() throws {
        let n = size
        for bad in [n + 1, n + 3] {
            let x = ShapedArray(repeating: 1.0, shape: [bad, 2])
            assertShapeMismatch(operation: "alltoall", argument: "x", expectedContains: ["\(n)"],
                                actualContains: ["[\(bad), 2]"]) { try alltoall(x) }
            assertShapeMismatch(operation: "alltoall", argument: "x", expectedContains: ["\(n)"],
                                actualContains: ["[\(bad)]"]) { try alltoall([Int32](repeating: 1, count: bad)) }
        }
        if n > 1 {
            assertShapeMismatch(operation: "alltoall", argument: "x", expectedContains: ["\(n)"],
                                actualContains: ["[1, 4]"]) { try alltoall(ShapedArray(repeating: Int8(1), shape: [1, 4])) }
        }
        // An empty first axis is not the communicator size either.
        assertShapeMismatch(operation: "alltoall", argument: "x", expectedContains: ["\(n)"], actualContains: ["[0]"]) {
            try alltoall(ShapedArray<Float>(shape: [0], scalars: []))
        }
        // Every rank is still in step.
        XCTAssertEqual(try allreduce(1, op: .sum).0, n)
    }

    func testAlltoallRejectsA0dArrayOnEveryRank() throws {
        assertShapeMismatch(operation: "alltoall", argument: "x", expectedContains: ["\(size)"], actualContains: ["0-d"]) {
            try alltoall(ShapedArray(scalar: 3.0))
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    // MARK: barrier

    func testBarrierWaitsForEveryRank() throws {
        XCTAssertEqual(try barrier().sequence, 1)
        XCTAssertEqual(try barrier(token: Token()).sequence, 1)
        XCTAssertEqual(try barrier(comm: world).sequence, 1)
        guard size > 1 else { return }
        // Rank 0 arrives 0.3 s late. Nobody may leave the barrier before rank 0 entered it:
        // every rank compares the time it left with the time rank 0 entered, which rank 0
        // broadcasts afterwards (the ranks share one clock, on one machine).
        try barrier()
        if rank == 0 { Thread.sleep(forTimeInterval: 0.3) }
        let entered = Date().timeIntervalSince1970
        try barrier()
        let left = Date().timeIntervalSince1970
        let (rootEntered, _) = try bcast(entered, root: 0)
        XCTAssertGreaterThanOrEqual(left, rootEntered - 0.01, "left the barrier before rank 0 entered it \(here)")
    }

    // MARK: bcast

    func testBcastEveryTypeShapeAndRoot() throws {
        for type in allScalarTypes { try checkBcast(type) }
    }

    private func checkBcast<T: TestScalar>(_ type: T.Type) throws {
        let (me, n) = (rank, size)
        for root in 0..<n {
            let context = "\(T.self) root \(root) \(here)"
            for shape in testShapes {
                // On non-root ranks x is a template whose data differs from the root's.
                let x = pattern(shape, rank: me, as: T.self)
                let before = deepCopy(x)
                let (result, token) = try bcast(x, root: root)
                XCTAssertEqual(result, pattern(shape, rank: root, as: T.self), "shape \(shape) \(context)")
                XCTAssertEqual(x, before, "the input was modified \(context)")
                XCTAssertEqual(token.sequence, 1)
                if me == root && !shape.contains(0) {
                    XCTAssertEqual(storageAddress(result), storageAddress(x), "the root's result is not its input \(context)")
                }
            }
            let (fromArray, _) = try bcast(pattern([3], rank: me, as: T.self).scalars, root: root)
            XCTAssertEqual(fromArray, pattern([3], rank: root, as: T.self).scalars, context)
            let (fromScalar, _) = try bcast(T.make(me + 1), root: root)
            XCTAssertEqual(fromScalar, T.make(root + 1), context)
        }
    }

    func testBcastRejectsARootOutOfRangeOnEveryRank() throws {
        for root in [size, size + 5, -1] {
            let expected = MPIError.rankOutOfRange(operation: "bcast", argument: "root", rank: root, size: size)
            assertThrows(expected) { try bcast(ShapedArray([1.0, 2.0]), root: root) }
            assertThrows(expected) { try bcast([Int32(1)], root: root) }
            assertThrows(expected) { try bcast(true, root: root) }
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    // MARK: gather

    func testGatherEveryTypeShapeAndRoot() throws {
        for type in allScalarTypes { try checkGather(type) }
    }

    private func checkGather<T: TestScalar>(_ type: T.Type) throws {
        let (me, n) = (rank, size)
        for root in 0..<n {
            let context = "\(T.self) root \(root) \(here)"
            for shape in testShapes {
                let x = pattern(shape, rank: me, as: T.self)
                let before = deepCopy(x)
                let (result, token) = try gather(x, root: root)
                if me == root {
                    XCTAssertEqual(result.shape, [n] + shape, context)
                    XCTAssertEqual(result.scalars, (0..<n).flatMap { pattern(shape, rank: $0, as: T.self).scalars },
                                   "shape \(shape) \(context)")
                } else {
                    // Non-root ranks get their input back unchanged: same shape, same data.
                    XCTAssertEqual(result, x, "shape \(shape) \(context)")
                    if !shape.contains(0) {
                        XCTAssertEqual(storageAddress(result), storageAddress(x), context)
                    }
                }
                XCTAssertEqual(x, before, "the input was modified \(context)")
                XCTAssertEqual(token.sequence, 1)
            }
            let array = pattern([3], rank: me, as: T.self).scalars
            let (fromArray, _) = try gather(array, root: root)
            let (fromScalar, _) = try gather(T.make(me + 1), root: root)
            if me == root {
                XCTAssertEqual(fromArray.shape, [n, 3], context)
                XCTAssertEqual(fromArray.scalars, (0..<n).flatMap { pattern([3], rank: $0, as: T.self).scalars }, context)
                XCTAssertEqual(fromScalar.shape, [n], context)
                XCTAssertEqual(fromScalar.scalars, (0..<n).map { T.make($0 + 1) }, context)
            } else {
                XCTAssertEqual(fromArray, ShapedArray(array), context)
                XCTAssertEqual(fromScalar, ShapedArray(scalar: T.make(me + 1)), context)
                XCTAssertEqual(fromScalar.shape, [], context)
            }
        }
    }

    func testGatherRejectsARootOutOfRangeOnEveryRank() throws {
        for root in [size, -1, Int.max] {
            let expected = MPIError.rankOutOfRange(operation: "gather", argument: "root", rank: root, size: size)
            assertThrows(expected) { try gather(ShapedArray([1.0]), root: root) }
            assertThrows(expected) { try gather([UInt8(1)], root: root) }
            assertThrows(expected) { try gather(Float16(1), root: root) }
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    // MARK: scatter

    func testScatterEveryTypeShapeAndRoot() throws {
        for type in allScalarTypes { try checkScatter(type) }
    }

    private func checkScatter<T: TestScalar>(_ type: T.Type) throws {
        let (me, n) = (rank, size)
        for root in 0..<n {
            let context = "\(T.self) root \(root) \(here)"
            for rowShape in [[], [3], [2, 1, 2], [0]] as [[Int]] {
                // The root holds [size] + rowShape, row i being pattern(rowShape, rank: i);
                // the others pass a template of rowShape with junk data.
                let table = ShapedArray(shape: [n] + rowShape,
                                        scalars: (0..<n).flatMap { pattern(rowShape, rank: $0, as: T.self).scalars })
                let x = me == root ? table : junk(rowShape, as: T.self)
                let before = deepCopy(x)
                let (result, token) = try scatter(x, root: root)
                XCTAssertEqual(result.shape, rowShape, context)
                XCTAssertEqual(result, pattern(rowShape, rank: me, as: T.self), "row shape \(rowShape) \(context)")
                XCTAssertEqual(x, before, "the input was modified \(context)")
                XCTAssertEqual(token.sequence, 1)
            }
            // [T]: the root passes size elements, the others a one-element template; each gets a 0-d array.
            let array = me == root ? (0..<n).map { T.make($0 + 1) } : [T.make(127)]
            let (fromArray, _) = try scatter(array, root: root)
            XCTAssertEqual(fromArray, ShapedArray(scalar: T.make(me + 1)), context)
        }
    }

    func testScatterRejectsARootOutOfRangeOnEveryRank() throws {
        for root in [size, -2] {
            let expected = MPIError.rankOutOfRange(operation: "scatter", argument: "root", rank: root, size: size)
            assertThrows(expected) { try scatter(ShapedArray(repeating: 1.0, shape: [size]), root: root) }
            assertThrows(expected) { try scatter([Int64](repeating: 1, count: size), root: root) }
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    /// The root's input has a leading axis other than size. In the default mode only the root can
    /// know, and scatter sends exactly MPI_Scatter's messages, so the other ranks would wait for the
    /// root: with the cross-rank check on, the root throws shapeMismatch, every other rank throws
    /// peerFailed naming the root, and nobody hangs.
    func testScatterBadRootInputFailsOnEveryRankWithTheCheck() throws {
        MPIRuntime.checksCollectiveArguments = true
        defer { MPIRuntime.checksCollectiveArguments = false }
        let n = size
        for root in 0..<n {
            for bad in [n + 1, n - 1] {
                let x = rank == root ? ShapedArray(repeating: Int32(5), shape: [bad, 2]) : ShapedArray(repeating: Int32(0), shape: [2])
                if rank == root {
                    assertShapeMismatch(operation: "scatter", argument: "x", expectedContains: ["\(n)"],
                                        actualContains: ["[\(bad), 2]"], "root \(root)") { try scatter(x, root: root) }
                } else {
                    assertPeerFailed(operation: "scatter", rank: root, "root \(root)") { try scatter(x, root: root) }
                }
            }
        }
        // Everybody is still in step, and a good scatter works.
        let (row, _) = try scatter(rank == 0 ? ShapedArray(shape: [n], scalars: Array(0..<n)) : ShapedArray(scalar: -1), root: 0)
        XCTAssertEqual(row, ShapedArray(scalar: rank))
    }

    /// At size 1 the root is every rank, so a bad input is thrown in the default mode too.
    func testScatterBadRootInputThrowsOnTheRoot() throws {
        guard size == 1 else { return }
        assertShapeMismatch(operation: "scatter", argument: "x", expectedContains: ["1"], actualContains: ["[2, 2]"]) {
            try scatter(ShapedArray(repeating: 1.0, shape: [2, 2]), root: 0)
        }
        assertShapeMismatch(operation: "scatter", argument: "x", expectedContains: ["1"], actualContains: ["0-d"]) {
            try scatter(ShapedArray(scalar: 1.0), root: 0)
        }
    }

    func testScatter0dRootInputFailsOnEveryRankWithTheCheck() throws {
        MPIRuntime.checksCollectiveArguments = true
        defer { MPIRuntime.checksCollectiveArguments = false }
        for root in 0..<size {
            let x = rank == root ? ShapedArray(scalar: 1.5) : ShapedArray(scalar: 0.0)
            if rank == root {
                assertShapeMismatch(operation: "scatter", argument: "x", expectedContains: ["\(size)"],
                                    actualContains: ["0-d"]) { try scatter(x, root: root) }
            } else {
                assertPeerFailed(operation: "scatter", rank: root, "root \(root)") { try scatter(x, root: root) }
            }
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    /// A non-root template that does not hold one row: with the cross-rank check on, every rank
    /// throws the count mismatch, and nobody is left waiting.
    func testScatterBadTemplateFailsOnEveryRankWithTheCheck() throws {
        guard size > 1 else { return }
        MPIRuntime.checksCollectiveArguments = true
        defer { MPIRuntime.checksCollectiveArguments = false }
        let root = 0, badRank = size - 1
        let table = ShapedArray(shape: [size, 2], scalars: (0..<(2 * size)).map { Double($0) })
        let x: ShapedArray<Double>
        if rank == root {
            x = table
        } else if rank == badRank {
            x = ShapedArray(repeating: 0, shape: [3])
        } else {
            x = ShapedArray(repeating: 0, shape: [2])
        }
        let expected = MPIError.invalidArgument(
            operation: "scatter", argument: "element count",
            expected: "the same element count on every rank (SWIFT_MPI_CHECK=1); rank 0 passed 2",
            actual: "rank \(badRank) passed 3")
        assertThrows(expected) { try scatter(x, root: root) }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    func testScatterResultTakesTheTemplatesShape() throws {
        // A template of the right element count but another shape gives the result its shape.
        let table = ShapedArray(shape: [size, 2, 3], scalars: (0..<(6 * size)).map { Int16($0) })
        let x = rank == 0 ? table : ShapedArray(repeating: Int16(0), shape: [3, 2])
        let (row, _) = try scatter(x, root: 0)
        XCTAssertEqual(row.scalars, (0..<6).map { Int16(6 * rank + $0) })
        XCTAssertEqual(row.shape, rank == 0 ? [2, 3] : [3, 2])
    }

    // MARK: on a communicator other than the default

    func testCollectivesOnTheWorldAndAnEvenOddSplit() throws {
        try checkAllgather(Double.self, comm: world)
        try checkAllgather(Complex<Float>.self, comm: try world.split(color: rank % 2))
        let sub = try world.split(color: rank % 2)
        let (b, _) = try bcast(ShapedArray(scalar: Int64(rank)), root: sub.size - 1, comm: sub)
        XCTAssertEqual(b.scalar, Int64(rank % 2 + 2 * (sub.size - 1)), here)
    }
}
