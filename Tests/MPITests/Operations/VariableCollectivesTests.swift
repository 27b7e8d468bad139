// Tests of Allgatherv.swift, Gatherv.swift, Scatterv.swift, Alltoallv.swift and VariableCounts.swift:
// the variable-size collectives, in their easy forms (block sizes exchanged by
// the library) and explicit forms (caller-given counts, into:), with ragged
// blocks that include zero-length ones, every root, and each error case.
//
// Rank r's block has `rows(r)` rows (0, 2, 1, 0, ... so that some are empty);
// element j of rank r's block is `value(r, j)`: every expectation follows from
// the rank and the size.
import MPI
import MPITestSupport
import XCTest

final class VariableCollectivesTests: MPITestCase {
    /// Rank r's block length along the first axis: 0, 2, 1, 0, 2, ...
    private func rows(_ r: Int) -> Int { (r * 2) % 3 }
    private func value<T: TestScalar>(_ r: Int, _ j: Int, as type: T.Type = T.self) -> T { T.make(1 + r * 31 + j) }
    private func block<T: TestScalar>(_ r: Int, rowShape: [Int], as type: T.Type = T.self) -> ShapedArray<T> {
        let n = rows(r) * shapeCount(rowShape)
        return ShapedArray(shape: [rows(r)] + rowShape, scalars: (0..<n).map { value(r, $0) })
    }
    private func allBlocks<T: TestScalar>(rowShape: [Int], as type: T.Type = T.self) -> [T] {
        (0..<size).flatMap { block($0, rowShape: rowShape, as: T.self).scalars }
    }
    private func expectedOffsets(_ counts: [Int]) -> [Int] {
        counts.indices.map { counts.prefix($0).reduce(0, +) }
    }

    // MARK: allgatherv

    /// A process whose send and receive buffers are both empty (Swift's empty arrays share one storage)
    /// keeps the collectives in step: Open MPI's non-blocking collectives (this package's blocking ones at
    /// `.serialized`) took the equal buffers for `MPI_IN_PLACE` and ran another schedule, and the next
    /// collective waited for ever (an independent audit's differentiable scatterv → alltoallv → gatherv
    /// program, at 2 ranks; Scripts/test runs this class at `.serialized` too).
    func testAProcessThatSendsAndReceivesNothingKeepsTheCollectivesInStep() throws {
        let rows = 3 * size
        let x = rank == 0 ? ShapedArray(shape: [rows, 2], scalars: (0..<(2 * rows)).map(Double.init))
            : ShapedArray(repeating: 0.0, shape: [0, 2])
        // Rank 0 keeps every row; the others send and receive nothing.
        let (y, _) = try alltoallv(x, rowCounts: (0..<size).map { rank == 0 && $0 == 0 ? rows : 0 })
        XCTAssertEqual(y.data.shape, [rank == 0 ? rows : 0, 2], here)
        let (z, _) = try gatherv(y.data, root: 0)
        XCTAssertEqual(z?.data, rank == 0 ? x : nil, here)
        let (all, _) = try allgatherv(y.data)
        XCTAssertEqual(all.data.scalars, (0..<(2 * rows)).map(Double.init), here)
        XCTAssertEqual(try allreduce(1, op: .sum).0, size, here)
    }

    func testAllgathervEasyEveryTypeAndRowShape() throws {
        for type in allScalarTypes { try checkAllgathervEasy(type) }
    }

    private func checkAllgathervEasy<T: TestScalar>(_ type: T.Type) throws {
        for rowShape in [[], [3], [2, 2], [0]] as [[Int]] {
            let x = block(rank, rowShape: rowShape, as: T.self)
            let before = deepCopy(x)
            let (result, token) = try allgatherv(x)
            let counts = (0..<size).map(rows)
            XCTAssertEqual(result.counts, counts, "\(T.self) \(here)")
            XCTAssertEqual(result.offsets, expectedOffsets(counts), here)
            XCTAssertEqual(result.blockCount, size)
            XCTAssertEqual(result.rowShape, rowShape)
            XCTAssertEqual(result.data.shape, [counts.reduce(0, +)] + rowShape, here)
            XCTAssertEqual(result.data.scalars, allBlocks(rowShape: rowShape, as: T.self), "\(rowShape) \(T.self) \(here)")
            for r in 0..<size { XCTAssertEqual(result[r], block(r, rowShape: rowShape, as: T.self), "block \(r) \(here)") }
            XCTAssertEqual(x, before, "the input was modified \(here)")
            XCTAssertEqual(token.sequence, 1)
        }
        // [T]: 1-d blocks.
        let (flat, _) = try allgatherv(block(rank, rowShape: [], as: T.self).scalars)
        XCTAssertEqual(flat.data.scalars, allBlocks(rowShape: [], as: T.self), here)
        XCTAssertEqual(flat.counts, (0..<size).map(rows))
        // A 0-d array is a block of one row.
        let (scalars, _) = try allgatherv(ShapedArray(scalar: value(rank, 0, as: T.self)))
        XCTAssertEqual(scalars.data.shape, [size])
        XCTAssertEqual(scalars.data.scalars, (0..<size).map { value($0, 0, as: T.self) }, here)
    }

    func testAllgathervExplicitAndInto() throws {
        let counts = (0..<size).map(rows)
        let x: [Double] = block(rank, rowShape: []).scalars
        let (result, _) = try allgatherv(x, counts: counts)
        XCTAssertEqual(result, allBlocks(rowShape: [], as: Double.self), here)
        // into: packed.
        var packed = [Double](repeating: -1, count: counts.reduce(0, +))
        try allgatherv(x, into: &packed, counts: counts)
        XCTAssertEqual(packed, result, here)
        // into: displacements with gaps of 2, in reverse rank order; the gaps are not written.
        let displacements = (0..<size).map { r in ((r + 1)..<size).reduce(0) { $0 + counts[$1] + 2 } }
        let extent = (0..<size).map { displacements[$0] + counts[$0] }.max() ?? 0
        var spread = [Double](repeating: -1, count: extent + 3)
        try allgatherv(x, into: &spread, counts: counts, displacements: displacements)
        var expected = [Double](repeating: -1, count: extent + 3)
        for r in 0..<size { for j in 0..<counts[r] { expected[displacements[r] + j] = value(r, j) } }
        XCTAssertEqual(spread, expected, here)
    }

    func testAllgathervDisplacementOnAOneRankCommunicator() throws {
        // MPICH 4.0.2 put the block of a one-rank communicator at element 0 whatever its displacement.
        let alone = try Communicator.world.split(color: rank)
        for (displacement, count) in [(1, 2), (3, 1), (0, 2), (2, 0)] {
            let x = (0..<count).map { Int16(10 * rank + $0) }
            var output = [Int16](repeating: -1, count: 5)
            try allgatherv(x, into: &output, counts: [count], displacements: [displacement], comm: alone)
            var expected = [Int16](repeating: -1, count: 5)
            for j in 0..<count { expected[displacement + j] = x[j] }
            XCTAssertEqual(output, expected, "displacement \(displacement) \(here)")
        }
    }

    func testAllgathervErrors() throws {
        let counts = (0..<size).map(rows)
        let x: [Int32] = block(rank, rowShape: []).scalars
        // Every rank passes the same wrong counts: every rank throws, before communicating.
        assertInvalidArgument("allgatherv", "counts", here) { try allgatherv(x, counts: counts + [1]) }
        assertInvalidArgument("allgatherv", "counts", here) { try allgatherv(x, counts: [-1] + counts.dropFirst()) }
        var output = [Int32](repeating: 0, count: 8)
        assertInvalidArgument("allgatherv", "displacements", here) {
            try allgatherv(x, into: &output, counts: counts, displacements: counts + [0])
        }
        // Counts whose sum does not fit in an Int, and a block that would end past Int.max: typed
        // errors on every rank (not an overflow trap), in the result and into: forms and in gatherv.
        let overflowing = size == 1 ? [Int.max] : [Int.max / 2 + 1, Int.max / 2 + 1] + [Int](repeating: 0, count: size - 2)
        assertInvalidArgument("allgatherv", "counts", here) { try allgatherv(x, counts: overflowing) }
        assertInvalidArgument("allgatherv", "counts", here) { try allgatherv(x, into: &output, counts: overflowing) }
        assertInvalidArgument("gatherv", "counts", here) { try gatherv(x, counts: overflowing, root: 0) }
        if size > 1 {
            // Rank 1's block has 2 elements: at Int.max - 1 it would end past Int.max.
            var displacements = [Int](repeating: 0, count: size)
            displacements[1] = Int.max - 1
            assertInvalidArgument("allgatherv", "displacements", here) {
                try allgatherv(x, into: &output, counts: counts, displacements: displacements)
            }
        }
        // Receive blocks that overlap: every rank throws before communicating (MPI would write an element
        // twice, and what it left would depend on the order of arrival). Blocks in another order than the
        // ranks', and empty blocks anywhere, are fine.
        let ones = [Int](repeating: 1, count: size)
        let reversed = (0..<size).map { size - 1 - $0 }
        var wide = [Int32](repeating: -1, count: size)
        try allgatherv([Int32(rank)], into: &wide, counts: ones, displacements: reversed)
        XCTAssertEqual(wide, (0..<size).reversed().map(Int32.init), here)
        if size > 1 {
            var overlapping = reversed
            overlapping[size - 1] = overlapping[0]  // the last rank's block onto rank 0's
            assertInvalidArgument("allgatherv", "displacements", here) {
                try allgatherv([Int32(rank)], into: &wide, counts: ones, displacements: overlapping)
            }
            XCTAssertThrowsError(try allgatherv([Int32(rank)], into: &wide, counts: ones,
                                                displacements: [Int](repeating: 0, count: size))) { error in
                XCTAssertEqual(error as? MPIError, .invalidArgument(
                    operation: "allgatherv", argument: "displacements",
                    expected: "blocks that do not overlap (MPI writes each element of the output at most once)",
                    actual: "block 0 at 0..<1 and block 1 at 0..<1"), self.here)
            }
            var emptyLast = ones
            emptyLast[size - 1] = 0
            wide = [Int32](repeating: -1, count: size)
            try allgatherv(rank == size - 1 ? [] : [Int32(rank)], into: &wide, counts: emptyLast,
                           displacements: overlapping)
            XCTAssertEqual(Array(wide[1...]), (0..<(size - 1)).reversed().map(Int32.init), here)
        }
        // An x of another length than counts[rank], on every rank.
        assertShapeMismatch(operation: "allgatherv", argument: "x", expectedContains: ["\(counts[rank] + 1)"],
                            actualContains: ["\(x.count)"], here) {
            try allgatherv(x, counts: counts.map { $0 + 1 })
        }
        // An output too small on rank 0 only: rank 0 throws after the collective, the others succeed.
        var small = [Int32](repeating: 0, count: rank == 0 ? 0 : counts.reduce(0, +))
        if rank == 0 && counts.reduce(0, +) > 0 {
            assertShapeMismatch(operation: "allgatherv", argument: "output", expectedContains: ["\(counts.reduce(0, +))"],
                                actualContains: ["0 elements"], here) {
                try allgatherv(x, into: &small, counts: counts)
            }
        } else {
            try allgatherv(x, into: &small, counts: counts)
            XCTAssertEqual(small, allBlocks(rowShape: [], as: Int32.self), here)
        }
        // Row shapes that differ between ranks: every rank throws after the exchange, before any data moves.
        if size > 1 {
            let rowShape = rank == 0 ? [3] : [2]
            assertShapeMismatch(operation: "allgatherv", argument: "x", expectedContains: ["\(rowShape)"],
                                actualContains: ["rank"], here) {
                try allgatherv(ShapedArray<Double>(repeating: 1, shape: [1] + rowShape))
            }
        }
        // And the communicator still works.
        let (after, _) = try allgatherv(x, counts: counts)
        XCTAssertEqual(after, allBlocks(rowShape: [], as: Int32.self), here)
    }

    // MARK: gatherv

    func testGathervEveryRoot() throws {
        let counts = (0..<size).map(rows)
        for root in 0..<size {
            let x = block(rank, rowShape: [2], as: Double.self)
            let (result, _) = try gatherv(x, root: root)
            if rank == root {
                XCTAssertEqual(result?.counts, counts, here)
                XCTAssertEqual(result?.data.shape, [counts.reduce(0, +), 2])
                XCTAssertEqual(result?.data.scalars, allBlocks(rowShape: [2], as: Double.self), "root \(root) \(here)")
                for r in 0..<size { XCTAssertEqual(result?[r], block(r, rowShape: [2]), here) }
            } else {
                XCTAssertNil(result, here)
            }
            // [T] easy, explicit and into: with displacements.
            let flat: [Int64] = block(rank, rowShape: []).scalars
            let (easy, _) = try gatherv(flat, root: root)
            XCTAssertEqual(easy?.data.scalars, rank == root ? allBlocks(rowShape: [], as: Int64.self) : nil, here)
            let (explicit, _) = try gatherv(flat, counts: counts, root: root)
            XCTAssertEqual(explicit, rank == root ? allBlocks(rowShape: [], as: Int64.self) : nil, here)
            let displacements = (0..<size).map { counts.prefix($0).reduce(0, +) + $0 }
            var output = [Int64](repeating: -1, count: counts.reduce(0, +) + size)
            try gatherv(flat, into: &output, counts: counts, displacements: displacements, root: root)
            if rank == root {
                var expected = [Int64](repeating: -1, count: output.count)
                for r in 0..<size { for j in 0..<counts[r] { expected[displacements[r] + j] = value(r, j) } }
                XCTAssertEqual(output, expected, here)
            } else {
                XCTAssertEqual(output, [Int64](repeating: -1, count: output.count), "not touched off the root \(here)")
            }
        }
    }

    func testGathervErrors() throws {
        let counts = (0..<size).map(rows)
        let x: [Float] = block(rank, rowShape: []).scalars
        for bad in [-1, size] {
            assertThrows(.rankOutOfRange(operation: "gatherv", argument: "root", rank: bad, size: size), here) {
                try gatherv(x, root: bad)
            }
            assertThrows(.rankOutOfRange(operation: "gatherv", argument: "root", rank: bad, size: size), here) {
                try gatherv(x, counts: counts, root: bad)
            }
        }
        assertInvalidArgument("gatherv", "counts", here) { try gatherv(x, counts: Array(counts.dropLast()), root: 0) }
        assertInvalidArgument("gatherv", "counts", here) { try gatherv(x, counts: counts.map { _ in -2 }, root: 0) }
        // Overlapping receive blocks are the root's error only: MPI ignores the other ranks' displacements
        // (C programs pass anything there; a check on every rank left the root alone in MPI_Gatherv, found
        // by a review). With the cross-rank check on, the others throw too.
        if size > 1 {
            let ones = [Int](repeating: 1, count: size)
            let zeros = [Int](repeating: 0, count: size)
            var wide = [Float](repeating: 0, count: size)
            try gatherv([Float(rank)], into: &wide, counts: ones, displacements: rank == 0 ? Array(0..<size) : zeros,
                        root: 0)
            if rank == 0 { XCTAssertEqual(wide, (0..<size).map(Float.init), here) }
            MPIRuntime.checksCollectiveArguments = true
            if rank == 0 {
                assertInvalidArgument("gatherv", "displacements", here) {
                    try gatherv([Float(rank)], into: &wide, counts: ones, displacements: zeros, root: 0)
                }
            } else {
                assertPeerFailed(operation: "gatherv", rank: 0, here) {
                    try gatherv([Float(rank)], into: &wide, counts: ones, displacements: Array(0..<size), root: 0)
                }
            }
            MPIRuntime.checksCollectiveArguments = false
        }
        // A root output too small: the root throws after the collective, nothing is written past the end.
        var output = [Float](repeating: 0, count: rank == 0 ? 0 : 1)
        if rank == 0 && counts.reduce(0, +) > 0 {
            assertShapeMismatch(operation: "gatherv", argument: "output", expectedContains: [], actualContains: ["0"],
                                here) {
                try gatherv(x, into: &output, counts: counts, root: 0)
            }
        } else {
            try gatherv(x, into: &output, counts: counts, root: 0)
        }
        let (after, _) = try gatherv(x, counts: counts, root: 0)
        XCTAssertEqual(after, rank == 0 ? allBlocks(rowShape: [], as: Float.self) : nil, here)
    }

    // MARK: scatterv

    func testScattervEveryRoot() throws {
        let counts = (0..<size).map(rows)
        for root in 0..<size {
            let all = ShapedArray(shape: [counts.reduce(0, +), 2], scalars: allBlocks(rowShape: [2], as: Int16.self))
            let x = rank == root ? all : ShapedArray<Int16>(shape: [0], scalars: [])
            let (mine, _) = try scatterv(x, rowCounts: rank == root ? counts : [], root: root)
            XCTAssertEqual(mine, block(rank, rowShape: [2]), "root \(root) \(here)")
            // The inverse of gatherv: scatter the root's VariableBlocks back.
            let (gathered, _) = try gatherv(block(rank, rowShape: [3], as: Double.self), root: root)
            let (back, _) = try scatterv(gathered, root: root)
            XCTAssertEqual(back, block(rank, rowShape: [3]), here)
            // Explicit and into: with displacements (blocks in reverse order in the root's x).
            let flat: [Int16] = allBlocks(rowShape: [], as: Int16.self)
            let (explicit, _) = try scatterv(flat, counts: counts, root: root)
            XCTAssertEqual(explicit, block(rank, rowShape: []).scalars, here)
            let displacements = (0..<size).map { r in ((r + 1)..<size).reduce(0) { $0 + counts[$1] } }
            var reversed = [Int16](repeating: 0, count: counts.reduce(0, +))
            for r in 0..<size { for j in 0..<counts[r] { reversed[displacements[r] + j] = value(r, j) } }
            var output = [Int16](repeating: -1, count: counts[rank])
            try scatterv(reversed, into: &output, counts: counts, displacements: displacements, root: root)
            XCTAssertEqual(output, block(rank, rowShape: []).scalars, here)
        }
    }

    func testScattervRowsOfZeroElements() throws {
        // Rows of shape [0] hold no elements, but each rank still gets its own number of rows.
        let counts = (0..<size).map(rows)
        for root in 0..<size {
            let all = ShapedArray<Float>(shape: [counts.reduce(0, +), 0], scalars: [])
            let x = rank == root ? all : ShapedArray<Float>(shape: [0], scalars: [])
            let (mine, _) = try scatterv(x, rowCounts: rank == root ? counts : [], root: root)
            XCTAssertEqual(mine.shape, [rows(rank), 0], "root \(root) \(here)")
            let (gathered, _) = try gatherv(block(rank, rowShape: [0], as: Float.self), root: root)
            let (back, _) = try scatterv(gathered, root: root)
            XCTAssertEqual(back.shape, [rows(rank), 0], "round trip, root \(root) \(here)")
        }
    }

    func testScattervErrors() throws {
        let counts = (0..<size).map(rows)
        let all = ShapedArray(shape: [counts.reduce(0, +)], scalars: allBlocks(rowShape: [], as: Double.self))
        // The root's rowCounts are checked on the root and the outcome broadcast: the root throws
        // invalidArgument, the others peerFailed, before any data moves.
        for root in 0..<size {
            for bad in [counts + [0], counts.map { $0 + 1 }, [-1] + counts.dropFirst()] {
                if rank == root {
                    assertInvalidArgument("scatterv", "rowCounts", here) { try scatterv(all, rowCounts: bad, root: root) }
                } else {
                    assertPeerFailed(operation: "scatterv", rank: root, here) { try scatterv(all, rowCounts: [], root: root) }
                }
            }
            if rank == root {
                assertInvalidArgument("scatterv", "blocks", here) { try scatterv(VariableBlocks<Double>?.none, root: root) }
            } else {
                assertPeerFailed(operation: "scatterv", rank: root, here) { try scatterv(VariableBlocks<Double>?.none, root: root) }
            }
        }
        assertThrows(.rankOutOfRange(operation: "scatterv", argument: "root", rank: size, size: size), here) {
            try scatterv(all, rowCounts: counts, root: size)
        }
        assertInvalidArgument("scatterv", "counts", here) { try scatterv(all.scalars, counts: counts + [1], root: 0) }
        // An output of the wrong size on the last rank: it throws after the collective.
        var output = [Double](repeating: 0, count: counts[rank] + (rank == size - 1 ? 1 : 0))
        if rank == size - 1 {
            assertShapeMismatch(operation: "scatterv", argument: "output",
                                expectedContains: ["\(elements(counts[rank])) (this rank's entry of 'counts')"],
                                actualContains: ["\(counts[rank] + 1)"], here) {
                try scatterv(all.scalars, into: &output, counts: counts, root: 0)
            }
        } else {
            try scatterv(all.scalars, into: &output, counts: counts, root: 0)
            XCTAssertEqual(output, block(rank, rowShape: []).scalars, here)
        }
        let (after, _) = try scatterv(all, rowCounts: counts, root: 0)
        XCTAssertEqual(after, block(rank, rowShape: []), here)
    }

    // MARK: alltoallv

    /// The rows that rank `from` sends to rank `to`: 0, 1 or 2, zero for some pairs.
    private func pairRows(_ from: Int, _ to: Int) -> Int { (from + 2 * to) % 3 }
    /// Element j of the block from `from` to `to`.
    private func pairValue(_ from: Int, _ to: Int, _ j: Int) -> Int32 { Int32(1000 * from + 100 * to + j) }

    func testAlltoallvEasyAndExplicit() throws {
        for rowShape in [[], [2]] as [[Int]] {
            let m = shapeCount(rowShape)
            let rowCounts = (0..<size).map { pairRows(rank, $0) }
            let x = ShapedArray(shape: [rowCounts.reduce(0, +)] + rowShape, scalars: (0..<size).flatMap { to in
                (0..<(pairRows(rank, to) * m)).map { pairValue(rank, to, $0) }
            })
            let (result, _) = try alltoallv(x, rowCounts: rowCounts)
            let received = (0..<size).map { pairRows($0, rank) }
            XCTAssertEqual(result.counts, received, here)
            XCTAssertEqual(result.data.shape, [received.reduce(0, +)] + rowShape)
            for from in 0..<size {
                XCTAssertEqual(result[from].scalars, (0..<(received[from] * m)).map { pairValue(from, rank, $0) }, here)
            }
            // Explicit, in elements.
            let (explicit, _) = try alltoallv(x.scalars, sendCounts: rowCounts.map { $0 * m },
                                              receiveCounts: received.map { $0 * m })
            XCTAssertEqual(explicit, result.data.scalars, here)
        }
        // into: with receive displacements leaving a gap of one before each block.
        let sendCounts = (0..<size).map { pairRows(rank, $0) }
        let receiveCounts = (0..<size).map { pairRows($0, rank) }
        let x = (0..<size).flatMap { to in (0..<pairRows(rank, to)).map { pairValue(rank, to, $0) } }
        let displacements = (0..<size).map { receiveCounts.prefix($0).reduce(0, +) + $0 + 1 }
        var output = [Int32](repeating: -1, count: receiveCounts.reduce(0, +) + size + 1)
        try alltoallv(x, into: &output, sendCounts: sendCounts, receiveCounts: receiveCounts,
                      receiveDisplacements: displacements)
        var expected = [Int32](repeating: -1, count: output.count)
        for from in 0..<size { for j in 0..<receiveCounts[from] { expected[displacements[from] + j] = pairValue(from, rank, j) } }
        XCTAssertEqual(output, expected, here)
    }

    func testAlltoallvErrors() throws {
        let rowCounts = (0..<size).map { pairRows(rank, $0) }
        let x = ShapedArray(shape: [rowCounts.reduce(0, +)], scalars: [Int32](repeating: 7, count: rowCounts.reduce(0, +)))
        // Rank 0's counts are wrong: rank 0 throws invalidArgument, the others peerFailed(rank 0), after the exchange.
        for bad in [rowCounts + [0], rowCounts.map { $0 + 1 }, [-1] + rowCounts.dropFirst()] {
            if rank == 0 {
                assertInvalidArgument("alltoallv", "rowCounts", here) { try alltoallv(x, rowCounts: bad) }
            } else {
                assertPeerFailed(operation: "alltoallv", rank: 0, here) { try alltoallv(x, rowCounts: rowCounts) }
            }
        }
        // Explicit: local checks, before communicating (every rank passes wrong counts here).
        assertInvalidArgument("alltoallv", "sendCounts", here) {
            try alltoallv(x.scalars, sendCounts: [1] + rowCounts, receiveCounts: rowCounts)
        }
        assertInvalidArgument("alltoallv", "receiveCounts", here) {
            try alltoallv(x.scalars, sendCounts: rowCounts, receiveCounts: rowCounts.map { _ in -1 })
        }
        assertShapeMismatch(operation: "alltoallv", argument: "x", expectedContains: ["sendCounts"], actualContains: [],
                            here) {
            try alltoallv(x.scalars + [1], sendCounts: rowCounts, receiveCounts: rowCounts)
        }
        // Overlapping receive blocks (send blocks may overlap: each is only read).
        let ones = [Int](repeating: 1, count: size)
        let zeros = [Int](repeating: 0, count: size)
        var output = [Int32](repeating: -1, count: size)
        if size > 1 {
            assertInvalidArgument("alltoallv", "receiveDisplacements", here) {
                try alltoallv([Int32(rank)] + [Int32](repeating: 0, count: size - 1), into: &output, sendCounts: ones,
                              sendDisplacements: zeros, receiveCounts: ones, receiveDisplacements: zeros)
            }
        }
        try alltoallv([Int32(rank)], into: &output, sendCounts: ones, sendDisplacements: zeros, receiveCounts: ones,
                      receiveDisplacements: Array(0..<size))
        XCTAssertEqual(output, (0..<size).map(Int32.init), here)
        let (after, _) = try alltoallv(x, rowCounts: rowCounts)
        XCTAssertEqual(after.counts, (0..<size).map { pairRows($0, rank) }, here)
    }

    private func assertInvalidArgument<R>(
        _ operation: String, _ argument: String, _ context: String, file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> R
    ) {
        guard let error = assertThrowsError(context, file: file, line: line, body) else { return }
        guard case let .invalidArgument(op, arg, _, _) = error else {
            XCTFail("expected invalidArgument, got \(error) \(context)", file: file, line: line)
            return
        }
        XCTAssertEqual(op, operation, context, file: file, line: line)
        XCTAssertEqual(arg, argument, context, file: file, line: line)
        assertMessageNames(error, [operation, argument], file: file, line: line)
    }
}
