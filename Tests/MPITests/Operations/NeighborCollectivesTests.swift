// Tests of NeighborAllgather(v).swift and NeighborAlltoall(v).swift: the neighbour
// collectives over Cartesian grids (1-D and 2-D, periodic and not), in every form
// (element, into:, and the shaped-array forms of the v collectives),
// and their errors. Counts above Int32.max are refused here only where they are refused before
// any allocation: a sum that overflows Int (every library), and values that no common unit brings
// under Int32.max on libraries without MPI 4.0's large-count functions (Open MPI 4.1); MPICH 4 moves
// those (LargeVariableCountTests, with large data).
//
// Rank r's data is a pattern of r, and the neighbours are read from
// CartesianCommunicator.shift, so every expectation follows from the rank and the size.
import CMPI  // MPI_Dist_graph_create_adjacent
@testable import MPI  // hasLargeCountCollectives
import MPITestSupport
import XCTest

final class NeighborCollectivesTests: MPITestCase {
    /// The grids every test runs on: 1-D and 2-D, periodic and not.
    private func grids() throws -> [CartesianCommunicator] {
        let two = try CartesianCommunicator.balancedDimensions(processes: size, dimensions: [0, 0])
        var grids = [CartesianCommunicator]()
        for (dims, periodic) in [([size], [false]), ([size], [true]), (two, [false, true]), (two, [true, false]),
                                 (two, [true, true]), (two, [false, false])] {
            grids.append(try XCTUnwrap(try world.cartesian(dimensions: dims, periodic: periodic)))
        }
        return grids
    }

    /// The neighbours of this process in MPI's order: for each dimension, −1 then +1 (nil past a wall).
    private func neighbors(_ grid: CartesianCommunicator) throws -> [Int?] {
        var list = [Int?]()
        for d in 0..<grid.dimensions.count {
            let (source, destination) = try grid.shift(dimension: d)
            list += [source, destination]
        }
        return list
    }

    /// The slot at which neighbour `i`'s block for this process leaves it: the −1
    /// neighbour sends toward +1 (its slot 2d + 1), the +1 neighbour toward −1 (2d).
    private func partnerSlot(_ i: Int) -> Int { i % 2 == 0 ? i + 1 : i - 1 }

    private func value(from rank: Int, slot: Int, index: Int) -> Double { Double(1 + rank * 100 + slot * 10 + index) }

    // MARK: neighborAllgather

    func testNeighborAllgather() throws {
        for grid in try grids() {
            let context = "\(grid) \(here)"
            let neighbors = try neighbors(grid)
            let x = ShapedArray(shape: [2, 3], scalars: (0..<6).map { Double(rank * 10 + $0) })
            var expected = [Double]()
            for n in neighbors {
                for j in 0..<6 { expected.append(n.map { Double($0 * 10 + j) } ?? 0) }
            }
            let (result, token) = try neighborAllgather(x, comm: grid.communicator)
            XCTAssertEqual(result.shape, [neighbors.count, 2, 3], context)
            XCTAssertEqual(result.scalars, expected, context)
            XCTAssertEqual(token.sequence, 1)
            // [T] and scalar forms.
            let (fromArray, _) = try neighborAllgather(x.scalars, comm: grid.communicator)
            XCTAssertEqual(fromArray.shape, [neighbors.count, 6], context)
            XCTAssertEqual(fromArray.scalars, expected, context)
            let (fromScalar, _) = try neighborAllgather(Int32(rank + 1), comm: grid.communicator)
            XCTAssertEqual(fromScalar.scalars, neighbors.map { Int32(($0 ?? -1) + 1) }, context)
            // into: null neighbours' blocks are left as they were.
            var output = [Double](repeating: -7, count: 6 * neighbors.count)
            try neighborAllgather(x, into: &output, comm: grid.communicator)
            var kept = expected
            for (i, n) in neighbors.enumerated() where n == nil {
                for j in 0..<6 { kept[6 * i + j] = -7 }
            }
            XCTAssertEqual(output, kept, context)
        }
    }

    func testNeighborAllgatherv() throws {
        for grid in try grids() {
            let context = "\(grid) \(here)"
            let neighbors = try neighbors(grid)
            // Rank r sends r + 1 elements (rank 0 one, so also zero-length blocks below).
            let x = (0...rank).map { value(from: rank, slot: 0, index: $0) }
            let counts = neighbors.map { ($0 ?? 0) + 1 }
            var expected = [Double](), kept = [Double]()
            for n in neighbors {
                for j in 0..<((n ?? 0) + 1) {
                    expected.append(n.map { value(from: $0, slot: 0, index: j) } ?? 0)
                    kept.append(n.map { value(from: $0, slot: 0, index: j) } ?? -1)
                }
            }
            let (result, _) = try neighborAllgatherv(x, receiveCounts: counts, comm: grid.communicator)
            XCTAssertEqual(result, expected, context)
            var output = [Double](repeating: -1, count: counts.reduce(0, +))
            try neighborAllgatherv(x, receiveCounts: counts, into: &output, comm: grid.communicator)
            XCTAssertEqual(output, kept, context)
            // Empty blocks everywhere.
            let (empty, _) = try neighborAllgatherv([Double](), receiveCounts: [Int](repeating: 0, count: neighbors.count),
                                                    comm: grid.communicator)
            XCTAssertEqual(empty, [], context)
        }
    }

    // MARK: neighborAlltoall

    /// Whether some dimension's −1 and +1 neighbours are the same process (a periodic dimension of
    /// one or two processes), where the package pairs the two blocks by direction whatever the library
    /// does (testBlocksBetweenOneProcessAndItsOnePartnerArriveByDirection).
    private func hasRepeatedNeighbor(_ neighbors: [Int?]) -> Bool {
        stride(from: 0, to: neighbors.count, by: 2).contains { neighbors[$0] != nil && neighbors[$0] == neighbors[$0 + 1] }
    }

    func testNeighborAlltoall() throws {
        for grid in try grids() {
            let context = "\(grid) \(here)"
            let neighbors = try neighbors(grid)
            let k = neighbors.count
            let x = ShapedArray(shape: [k, 2], scalars: (0..<(2 * k)).map { value(from: rank, slot: $0 / 2, index: $0 % 2) })
            let (result, _) = try neighborAlltoall(x, comm: grid.communicator)
            XCTAssertEqual(result.shape, [k, 2], context)
            let (fromArray, _) = try neighborAlltoall((0..<k).map { value(from: rank, slot: $0, index: 0) },
                                                      comm: grid.communicator)
            var output = [Double](repeating: -3, count: 2 * k)
            try neighborAlltoall(x, into: &output, comm: grid.communicator)
            // By direction on every grid, also where one process is both neighbours of a dimension
            // (see testBlocksBetweenOneProcessAndItsOnePartnerArriveByDirection).
            let expected = expectedAlltoall(neighbors: neighbors, blockCount: 2)
            XCTAssertEqual(result.scalars, expected.map { $0 ?? 0 }, context)
            XCTAssertEqual(fromArray, expectedAlltoall(neighbors: neighbors, blockCount: 1).map { $0 ?? 0 }, context)
            XCTAssertEqual(output, expected.map { $0 ?? -3 }, context)
            // Twice is the identity on the rows that reach a neighbour and come back (walls give 0),
            // however the library pairs the blocks: the exchange is its own transpose.
            let (twice, _) = try neighborAlltoall(result, comm: grid.communicator)
            let kept = x.scalars.enumerated().map { neighbors[$0.offset / 2] == nil ? 0 : $0.element }
            XCTAssertEqual(twice.scalars, kept, context)
        }
    }

    /// What neighborAlltoall delivers to this process: for neighbour `i`, the block that it
    /// sent in its slot ``partnerSlot(_:)`` (nil from a null neighbour).
    private func expectedAlltoall(neighbors: [Int?], blockCount: Int) -> [Double?] {
        neighbors.enumerated().flatMap { i, n in
            (0..<blockCount).map { j in n.map { value(from: $0, slot: partnerSlot(i), index: j) } }
        }
    }


    func testNeighborAlltoallv() throws {
        for grid in try grids() {
            let context = "\(grid) \(here)"
            let neighbors = try neighbors(grid)
            // A block's length depends on its slot, so that a block in the wrong slot is seen, also
            // where one process is both neighbours of a dimension.
            func count(from sender: Int, to receiver: Int, slot: Int) -> Int { (slot + sender) % 3 }
            let sendCounts = neighbors.enumerated().map { i, n in count(from: rank, to: n ?? 0, slot: i) }
            let x = neighbors.indices.flatMap { i in (0..<sendCounts[i]).map { value(from: rank, slot: i, index: $0) } }
            let receiveCounts = neighbors.enumerated().map { i, n in
                n.map { count(from: $0, to: rank, slot: partnerSlot(i)) } ?? 1
            }
            let expected = neighbors.enumerated().flatMap { i, n in
                (0..<receiveCounts[i]).map { j in n.map { value(from: $0, slot: partnerSlot(i), index: j) } }
            }
            let (result, _) = try neighborAlltoallv(x, sendCounts: sendCounts, receiveCounts: receiveCounts,
                                                    comm: grid.communicator)
            var output = [Double](repeating: -5, count: receiveCounts.reduce(0, +))
            try neighborAlltoallv(x, sendCounts: sendCounts, receiveCounts: receiveCounts, into: &output,
                                  comm: grid.communicator)
            XCTAssertEqual(result.count, receiveCounts.reduce(0, +), context)
            XCTAssertEqual(result, expected.map { $0 ?? 0 }, context)
            XCTAssertEqual(output, expected.map { $0 ?? -5 }, context)
        }
    }

    /// Where one process is both neighbours of a dimension (a periodic dimension of 1 or 2 processes),
    /// the blocks arrive by direction, as on larger grids: the block sent towards +1 in the receiver's
    /// −1 slot. MPICH 4.0.2's `MPI_Neighbor_alltoallv` (blocking or not) and Open MPI 4.1.4's
    /// non-blocking forms (which the blocking forms use at `.serialized`) pair the two messages in the
    /// order sent; the package gives them the two receive slots of such a dimension in each other's
    /// place (an independent audit: a 2-D Jacobi solver wrong in 12 of 48 configurations on MPICH,
    /// 22 of 48 on Open MPI at `.serialized`; this test got `[100, 101]` on rank 0 of 2 there).
    func testBlocksBetweenOneProcessAndItsOnePartnerArriveByDirection() throws {
        guard size <= 2 else { return }
        let grid = try XCTUnwrap(try world.cartesian(dimensions: [size], periodic: [true]))
        let (below, above) = try grid.shift(dimension: 0)
        let x = [Double(100 * rank), Double(100 * rank + 1)]
        let expected = [Double(100 * below! + 1), Double(100 * above!)]
        XCTAssertEqual(try neighborAlltoall(x, comm: grid.communicator).0, expected, here)
        let (v, _) = try neighborAlltoallv(x, sendCounts: [1, 1], receiveCounts: [1, 1], comm: grid.communicator)
        XCTAssertEqual(v, expected, here)
        // Blocks of different lengths, each where it belongs: 1 element towards −1, 3 towards +1.
        let y = [Double(100 * rank)] + (1...3).map { Double(100 * rank + $0) }
        let (w, _) = try neighborAlltoallv(y, sendCounts: [1, 3], receiveCounts: [3, 1], comm: grid.communicator)
        XCTAssertEqual(w, (1...3).map { Double(100 * below! + $0) } + [Double(100 * above!)], here)
        // Two dimensions of one process each (every neighbour is this process).
        let square = try XCTUnwrap(try world.split(color: rank).cartesian(dimensions: [1, 1], periodic: [true, true]))
        let z = [1.0, 2, 3, 4]
        XCTAssertEqual(try neighborAlltoall(z, comm: square.communicator).0, [2, 1, 4, 3], here)
        XCTAssertEqual(try neighborAlltoallv(z, sendCounts: [1, 1, 1, 1], receiveCounts: [1, 1, 1, 1],
                                             comm: square.communicator).0, [2, 1, 4, 3], here)
    }

    /// Where one process is both neighbours of a dimension and the two blocks' lengths differ, MPICH
    /// 4.0 left a block unwritten, without an error (C's buffer comes back untouched), before the
    /// package gave it the receive slots by direction (above): the result-returning forms zero it, so
    /// that it could never read as what the heap held before (an independent audit saw `[1, -16479417]`
    /// at one rank on MPICH, every run; this test saw the freed pattern, −7.5). Every block is now
    /// written, on both libraries: the −1 neighbour's elements.
    func testABlockThatMPILeavesUnwrittenReadsAsZero() throws {
        guard size <= 2 else { return }  // one process on both sides: a periodic dimension of 1 or 2
        let grid = try XCTUnwrap(try world.cartesian(dimensions: [size], periodic: [true]))
        let (source, _) = try grid.shift(dimension: 0)
        let n = 1000
        let (sendCounts, receiveCounts) = ([0, n], [n, 0])
        for round in 1...4 {
            let x = (0..<n).map { Double(100 * round + rank) + Double($0) / 1024 }
            // Freed storage of the result's size, full of a pattern, for the result to land on.
            var stale = (0..<8).map { _ in [Double](repeating: -7.5, count: n) }
            XCTAssertEqual(stale.count, 8)
            stale = []
            let (result, _) = try neighborAlltoallv(x, sendCounts: sendCounts, receiveCounts: receiveCounts,
                                                    comm: grid.communicator)
            let sent = (0..<n).map { Double(100 * round + source!) + Double($0) / 1024 }
            XCTAssertEqual(result, sent, "\(result.prefix(4)) …, expected \(sent.prefix(4)) … \(here)")
        }
    }

    /// A process that only receives (a distributed graph made in C with one edge, 0 → 1: rank 1 has an
    /// in-neighbour and no out-neighbour) gets its block in every form: the block's size comes from the
    /// row's shape (one element in the `[T]` form) or, `into:`, from the output. It was taken as zero,
    /// so that rank 1 got an empty result of shape [1, 2] and the message was left for the next
    /// neighbour collective to receive (an independent audit, both libraries, every run).
    func testAProcessWithoutOutNeighborsReceivesItsBlocks() throws {
        guard size >= 2 else { return }
        let sources: [Int32] = rank == 1 ? [0] : [], destinations: [Int32] = rank == 0 ? [1] : []
        var graphHandle = swiftmpi_comm_null()
        let weights: [Int32] = [1]
        // The handle's pointer type differs between the libraries (an optional in Open MPI's import).
        func handlePointer<P>(_ raw: UnsafeMutableRawPointer) -> UnsafeMutablePointer<P> { raw.assumingMemoryBound(to: P.self) }
        withUnsafeMutableBytes(of: &graphHandle) { raw in
            XCTAssertEqual(MPI_Dist_graph_create_adjacent(
                world.handle, Int32(sources.count), sources, weights, Int32(destinations.count), destinations, weights,
                swiftmpi_info_null(), 0, handlePointer(raw.baseAddress!)), 0)
        }
        defer { withUnsafeMutableBytes(of: &graphHandle) { _ = MPI_Comm_free(handlePointer($0.baseAddress!)) } }
        let graph = try Communicator(handle: graphHandle)
        // Also under the cross-rank check, which compares the block's size (the inputs' sizes differ:
        // it compared those, and every rank threw on this correct program; an independent audit).
        for checked in [false, true] {
            MPIRuntime.checksCollectiveArguments = checked
            defer { MPIRuntime.checksCollectiveArguments = false }
            let context = "checked \(checked) \(here)"
            let rows = rank == 0 ? ShapedArray(shape: [1, 2], scalars: [10.0, 11]) : ShapedArray(shape: [0, 2], scalars: [Double]())
            let (shaped, _) = try neighborAlltoall(rows, comm: graph)
            let (plain, _) = try neighborAlltoall(rank == 0 ? [5.0] : [], comm: graph)
            var output = [Double](repeating: -1, count: rank == 1 ? 2 : 0)
            try neighborAlltoall(rank == 0 ? [20.0, 21] : [], into: &output, comm: graph)
            // Nothing left over: the next neighbour collective gets its own message.
            let (next, _) = try neighborAlltoallv(rank == 0 ? [30.0, 31] : [], sendCounts: rank == 0 ? [2] : [],
                                                  receiveCounts: rank == 1 ? [2] : [], comm: graph)
            if rank == 1 {
                XCTAssertEqual(shaped, ShapedArray(shape: [1, 2], scalars: [10.0, 11]), context)
                XCTAssertEqual(plain, [5.0], context)
                XCTAssertEqual(output, [20.0, 21], context)
                XCTAssertEqual(next, [30.0, 31], context)
            } else {
                XCTAssertEqual(shaped.shape, [0, 2], context)
                XCTAssertEqual(plain, [], context)
                XCTAssertEqual(next, [], context)
            }
        }
    }

    /// Under the cross-rank check (SWIFT_MPI_CHECK=1) each block of a neighbour v collective must be
    /// received with the count it is sent with. Correct programs pass: at walls, where a null
    /// neighbour's receive count is anything, and where one process is both neighbours, where only
    /// the counts between the two processes matter. A receive count one element too large on one
    /// process throws on every process, naming the counts; without the check (and before it compared
    /// these counts) MPI receives the shorter block without an error, on both libraries.
    func testTheCrossRankCheckComparesNeighborVCounts() throws {
        MPIRuntime.checksCollectiveArguments = true
        defer { MPIRuntime.checksCollectiveArguments = false }
        for grid in try grids() {
            let context = "\(grid) \(here)"
            let neighbors = try neighbors(grid)
            let comm = grid.communicator
            let repeated = hasRepeatedNeighbor(neighbors)
            func count(from sender: Int, to receiver: Int, slot: Int) -> Int {
                repeated ? (sender + receiver) % 3 + 1 : (slot + sender) % 3 + 1
            }
            let sendCounts = neighbors.enumerated().map { i, n in count(from: rank, to: n ?? 0, slot: i) }
            let x = [Double](repeating: Double(rank), count: sendCounts.reduce(0, +))
            let receiveCounts = neighbors.enumerated().map { i, n in
                n.map { count(from: $0, to: rank, slot: partnerSlot(i)) } ?? 7
            }
            let gatherCounts = neighbors.map { n in n.map { $0 + 1 } ?? 7 }
            let mine = [Double](repeating: Double(rank), count: rank + 1)
            XCTAssertNoThrow(try neighborAlltoallv(x, sendCounts: sendCounts, receiveCounts: receiveCounts, comm: comm),
                             context)
            XCTAssertNoThrow(try neighborAllgatherv(mine, receiveCounts: gatherCounts, comm: comm), context)
            // The last process expects one element more from its first real neighbour (there is one
            // unless the grid is a single process without periodic dimensions).
            guard let wrong = neighbors.firstIndex(where: { $0 != nil }) ?? (size == 1 ? nil : 0) else { continue }
            func plusOne(_ counts: [Int]) -> [Int] {
                rank == size - 1 ? counts.enumerated().map { $0 == wrong ? $1 + 1 : $1 } : counts
            }
            let cases: [(String, String, String, () throws -> Void)] = [
                ("neighborAlltoallv", "receiveCounts", "what in-neighbour i sends it", {
                    _ = try neighborAlltoallv(x, sendCounts: sendCounts, receiveCounts: plusOne(receiveCounts), comm: comm)
                }),
                ("neighborAlltoallv", "receiveCounts", "what in-neighbour i sends it", {
                    var output = [Double](repeating: 0, count: plusOne(receiveCounts).reduce(0, +))
                    try neighborAlltoallv(x, sendCounts: sendCounts, receiveCounts: plusOne(receiveCounts),
                                          into: &output, comm: comm)
                }),
                ("neighborAlltoallv", "receiveRowCounts", "what in-neighbour i sends it", {
                    _ = try neighborAlltoallv(ShapedArray(shape: [x.count, 1], scalars: x), sendRowCounts: sendCounts,
                                              receiveRowCounts: plusOne(receiveCounts), comm: comm)
                }),
                ("neighborAllgatherv", "receiveCounts", "in-neighbour i's x", {
                    _ = try neighborAllgatherv(mine, receiveCounts: plusOne(gatherCounts), comm: comm)
                }),
                ("neighborAllgatherv", "receiveRowCounts", "in-neighbour i's x", {
                    _ = try neighborAllgatherv(ShapedArray(shape: [mine.count], scalars: mine),
                                               receiveRowCounts: plusOne(gatherCounts), comm: comm)
                }),
            ]
            for (operation, argument, expectation, call) in cases {
                XCTAssertThrowsError(try call(), "\(operation) \(argument) \(context)") { error in
                    guard case let MPIError.invalidArgument(op, arg, expected, actual) = error as! MPIError else {
                        return XCTFail("\(operation): unexpected error \(error) \(context)")
                    }
                    XCTAssertEqual(op, operation, context)
                    XCTAssertEqual(arg, argument, context)
                    XCTAssertTrue(expected.contains(expectation), "\(expected) \(context)")
                    XCTAssertEqual(actual, "counts that differ from what the neighbours send (on some process)", context)
                }
            }
        }
        // One process on both sides of a periodic ring (1 or 2 processes): the two blocks' counts given
        // the other way round pass a check of pairs of counts, and then arrive wrong (blocks by direction:
        // [1, 3] sent needs [3, 1] received); the check compares them by direction (an independent review:
        // no error, and [0, 110, 0, 0] instead of [120, 121, 122, 110] on MPICH at 2 ranks).
        if size <= 2 {
            let ring = try XCTUnwrap(try world.cartesian(dimensions: [size], periodic: [true]))
            let x = [Double](repeating: Double(rank), count: 4)
            XCTAssertNoThrow(try neighborAlltoallv(x, sendCounts: [1, 3], receiveCounts: [3, 1], comm: ring.communicator),
                             here)
            XCTAssertThrowsError(try neighborAlltoallv(x, sendCounts: [1, 3], receiveCounts: [1, 3],
                                                       comm: ring.communicator), here) { error in
                guard case let MPIError.invalidArgument(op, arg, _, _) = error as! MPIError else {
                    return XCTFail("unexpected error \(error) \(here)")
                }
                XCTAssertEqual([op, arg], ["neighborAlltoallv", "receiveCounts"], here)
            }
        }
        // Everybody is still in step.
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    /// The check reads the neighbours of a graph topology (`MPI_Graph_create`) too: a ring, whose two
    /// neighbours are one process at 1 and 2 processes. The counts depend on the pair of processes only,
    /// so that the blocks fit however the library pairs them.
    func testTheCrossRankCheckComparesNeighborVCountsOnAGraph() throws {
        let index = (0..<size).map { Int32(2 * ($0 + 1)) }
        let edges = (0..<size).flatMap { [Int32(($0 + size - 1) % size), Int32(($0 + 1) % size)] }
        var graphHandle = swiftmpi_comm_null()
        func handlePointer<P>(_ raw: UnsafeMutableRawPointer) -> UnsafeMutablePointer<P> { raw.assumingMemoryBound(to: P.self) }
        withUnsafeMutableBytes(of: &graphHandle) { raw in
            XCTAssertEqual(MPI_Graph_create(world.handle, Int32(size), index, edges, 0, handlePointer(raw.baseAddress!)), 0)
        }
        defer { withUnsafeMutableBytes(of: &graphHandle) { _ = MPI_Comm_free(handlePointer($0.baseAddress!)) } }
        let graph = try Communicator(handle: graphHandle)
        MPIRuntime.checksCollectiveArguments = true
        defer { MPIRuntime.checksCollectiveArguments = false }
        let neighbors = [(rank + size - 1) % size, (rank + 1) % size]
        let counts = neighbors.map { (rank + $0) % 3 + 1 }
        let x = [Double](repeating: Double(rank), count: counts.reduce(0, +))
        let (result, _) = try neighborAlltoallv(x, sendCounts: counts, receiveCounts: counts, comm: graph)
        XCTAssertEqual(result.sorted(), neighbors.flatMap { n in [Double](repeating: Double(n), count: (rank + n) % 3 + 1) }.sorted(), here)
        let wrong = rank == size - 1 ? [counts[0] + 1, counts[1]] : counts
        XCTAssertThrowsError(try neighborAlltoallv(x, sendCounts: counts, receiveCounts: wrong, comm: graph), here) { error in
            guard case let MPIError.invalidArgument(op, arg, _, _) = error as! MPIError else {
                return XCTFail("unexpected error \(error) \(here)")
            }
            XCTAssertEqual(op, "neighborAlltoallv", here)
            XCTAssertEqual(arg, "receiveCounts", here)
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    /// The shaped-array forms of the v collectives: rows of 2 × 3 elements, the same blocks as the
    /// element forms with every count times 6, and ``VariableBlocks`` that give each neighbour's block.
    func testShapedVForms() throws {
        let rowShape = [2, 3], rowSize = 6
        func rows(_ flat: [Double]) -> [Double] { flat.flatMap { v in (0..<rowSize).map { v + Double($0) / 10 } } }
        for grid in try grids() {
            let context = "\(grid) \(here)"
            let neighbors = try neighbors(grid)
            let comm = grid.communicator
            // neighborAllgatherv: rank r sends r + 1 rows.
            let x = (0...rank).map { value(from: rank, slot: 0, index: $0) }
            let rowCounts = neighbors.map { ($0 ?? 0) + 1 }
            let (flat, _) = try neighborAllgatherv(rows(x), receiveCounts: rowCounts.map { $0 * rowSize }, comm: comm)
            let (blocks, _) = try neighborAllgatherv(ShapedArray(shape: [x.count] + rowShape, scalars: rows(x)),
                                                     receiveRowCounts: rowCounts, comm: comm)
            XCTAssertEqual(blocks.data.shape, [rowCounts.reduce(0, +)] + rowShape, context)
            XCTAssertEqual(blocks.data.scalars, flat, context)
            XCTAssertEqual(blocks.counts, rowCounts, context)
            for (i, n) in neighbors.enumerated() {
                let expected = (0..<rowCounts[i]).map { j in n.map { value(from: $0, slot: 0, index: j) } ?? 0 }
                XCTAssertEqual(blocks[i].scalars, n == nil ? [Double](repeating: 0, count: rowCounts[i] * rowSize)
                                                           : rows(expected), "neighbour \(i) \(context)")
            }
            // A 0-d x is one row.
            let (scalars, _) = try neighborAllgatherv(ShapedArray(scalar: Double(rank)),
                                                      receiveRowCounts: neighbors.map { _ in 1 }, comm: comm)
            XCTAssertEqual(scalars.data.scalars, neighbors.map { $0.map(Double.init) ?? 0 }, context)
            // neighborAlltoallv: as in testNeighborAlltoallv.
            let sendRows = neighbors.indices.map { (rank + $0) % 3 }
            let receiveRows = neighbors.enumerated().map { i, n in n.map { ($0 + partnerSlot(i)) % 3 } ?? 1 }
            let y = neighbors.indices.flatMap { i in (0..<sendRows[i]).map { value(from: rank, slot: i, index: $0) } }
            let (flatV, _) = try neighborAlltoallv(rows(y), sendCounts: sendRows.map { $0 * rowSize },
                                                   receiveCounts: receiveRows.map { $0 * rowSize }, comm: comm)
            let (blocksV, _) = try neighborAlltoallv(ShapedArray(shape: [y.count] + rowShape, scalars: rows(y)),
                                                     sendRowCounts: sendRows, receiveRowCounts: receiveRows, comm: comm)
            XCTAssertEqual(blocksV.data.shape, [receiveRows.reduce(0, +)] + rowShape, context)
            XCTAssertEqual(blocksV.data.scalars, flatV, context)
            XCTAssertEqual(blocksV.counts, receiveRows, context)
        }
    }

    func testShapedVFormErrors() throws {
        for grid in try grids() {
            let k = 2 * grid.dimensions.count
            let comm = grid.communicator
            let x = ShapedArray(shape: [2, 3], scalars: [Double](repeating: 1, count: 6))
            for counts in [[Int](repeating: 1, count: k + 1), [-1] + [Int](repeating: 1, count: k - 1)] {
                let error = assertThrowsError { try neighborAllgatherv(x, receiveRowCounts: counts, comm: comm) }
                guard case let .invalidArgument(op, argument, _, _)? = error else {
                    XCTFail("expected invalidArgument, got \(String(describing: error)) \(here)")
                    continue
                }
                XCTAssertEqual(op, "neighborAllgatherv")
                XCTAssertEqual(argument, "receiveRowCounts")
            }
            // Rows whose elements overflow Int (every library), and, without MPI_Neighbor_allgatherv_c,
            // rows whose elements no common unit brings under Int32.max: 3 · (2^31 + 1) beside x's 6,
            // unit 3 leaves 2^31 + 1.
            var huge = [[Int.max / 2] + [Int](repeating: 0, count: k - 1)]
            if !hasLargeCountCollectives { huge.append([(1 << 31) + 1] + [Int](repeating: 0, count: k - 1)) }
            for counts in huge {
                let error = assertThrowsError { try neighborAllgatherv(x, receiveRowCounts: counts, comm: comm) }
                guard case let .invalidArgument(_, argument, _, _)? = error else {
                    XCTFail("expected invalidArgument for \(counts), got \(String(describing: error)) \(here)")
                    continue
                }
                XCTAssertEqual(argument, "receiveRowCounts", "\(counts)")
            }
            // x's rows must add up to sendRowCounts.
            let tooMany = [Int](repeating: 1, count: k - 1) + [2]  // k + 1 rows, and x has 2
            assertThrows(.shapeMismatch(operation: "neighborAlltoallv", argument: "x",
                                        expected: "\(k + 1) rows along the first axis (the sum of sendRowCounts)",
                                        actual: "shape [2, 3]")) {
                try neighborAlltoallv(x, sendRowCounts: tooMany,
                                      receiveRowCounts: [Int](repeating: 1, count: k), comm: comm)
            }
            assertThrows(.shapeMismatch(operation: "neighborAlltoallv", argument: "x",
                                        expected: "\(k + 1) rows along the first axis (the sum of sendRowCounts)",
                                        actual: "shape []")) {
                try neighborAlltoallv(ShapedArray(scalar: 1.0), sendRowCounts: tooMany,
                                      receiveRowCounts: [Int](repeating: 1, count: k), comm: comm)
            }
        }
        // Nothing was communicated: the world still works.
        XCTAssertEqual(try allreduce(1, op: .sum, comm: world).0, size)
    }

    // MARK: Errors

    func testNoTopology() {
        for comm in [world, defaultComm] {
            let expected = MPIError.invalidArgument(
                operation: "neighborAlltoall", argument: "comm",
                expected: "a communicator with a topology (for example CartesianCommunicator.communicator)",
                actual: "a communicator without a topology")
            assertThrows(expected) { try neighborAlltoall([1.0], comm: comm) }
            var output = [Double](repeating: 0, count: 1)
            assertThrows(expected) { try neighborAlltoall([1.0], into: &output, comm: comm) }
            for (operation, body) in [
                ("neighborAllgather", { _ = try neighborAllgather([1.0], comm: comm) }),
                ("neighborAllgatherv", { _ = try neighborAllgatherv([1.0], receiveCounts: [1], comm: comm) }),
                ("neighborAlltoallv", { _ = try neighborAlltoallv([1.0], sendCounts: [1], receiveCounts: [1], comm: comm) }),
            ] as [(String, () throws -> Void)] {
                let error = assertThrowsError(operation, body)
                guard case let .invalidArgument(op, argument, _, _)? = error else {
                    XCTFail("expected invalidArgument for \(operation), got \(String(describing: error))")
                    continue
                }
                XCTAssertEqual(op, operation)
                XCTAssertEqual(argument, "comm")
            }
        }
        // Nothing was communicated: the world still works.
        XCTAssertEqual(try allreduce(1, op: .sum, comm: world).0, size)
    }

    func testWrongSizes() throws {
        for grid in try grids() {
            let k = 2 * grid.dimensions.count
            let comm = grid.communicator
            assertThrows(.shapeMismatch(operation: "neighborAlltoall", argument: "x",
                                        expected: "first axis of size \(k) (the number of neighbours)",
                                        actual: "shape [\(k + 1), 2]")) {
                try neighborAlltoall(ShapedArray(shape: [k + 1, 2], scalars: [Double](repeating: 0, count: 2 * k + 2)),
                                     comm: comm)
            }
            assertThrows(.shapeMismatch(operation: "neighborAlltoall", argument: "x",
                                        expected: "an array whose first axis has size \(k) (the number of neighbours)",
                                        actual: "a 0-d array")) {
                try neighborAlltoall(ShapedArray(scalar: 1.0), comm: comm)
            }
            assertThrows(.shapeMismatch(operation: "neighborAlltoall", argument: "x",
                                        expected: "a multiple of \(k) elements (the number of neighbours)",
                                        actual: "\(k + 1) elements")) {
                var output = [Double](repeating: 0, count: k + 1)
                try neighborAlltoall([Double](repeating: 0, count: k + 1), into: &output, comm: comm)
            }
            // Too many, negative, a sum that overflows Int, and (without the _c functions) a block of
            // 2^31 + 1 beside blocks of 1: no common unit.
            var cases = [([Int](repeating: 1, count: k + 1), "receiveCounts"),
                         ([-1] + [Int](repeating: 1, count: k - 1), "receiveCounts"),
                         ([Int.max] + [Int](repeating: 1, count: k - 1), "receiveCounts")]
            if !hasLargeCountCollectives {
                cases.append(([(1 << 31) + 1] + [Int](repeating: 1, count: k - 1), "receiveCounts"))
            }
            for (counts, argument) in cases {
                let error = assertThrowsError { try neighborAllgatherv([1.0], receiveCounts: counts, comm: comm) }
                guard case let .invalidArgument(op, arg, _, _)? = error else {
                    XCTFail("expected invalidArgument, got \(String(describing: error))")
                    continue
                }
                XCTAssertEqual(op, "neighborAllgatherv")
                XCTAssertEqual(arg, argument)
                let v = assertThrowsError {
                    try neighborAlltoallv([Double](repeating: 0, count: k), sendCounts: [Int](repeating: 1, count: k),
                                          receiveCounts: counts, comm: comm)
                }
                guard case let .invalidArgument(op2, arg2, _, _)? = v else {
                    XCTFail("expected invalidArgument, got \(String(describing: v))")
                    continue
                }
                XCTAssertEqual(op2, "neighborAlltoallv")
                XCTAssertEqual(arg2, argument)
            }
            assertThrows(.shapeMismatch(operation: "neighborAlltoallv", argument: "x",
                                        expected: "\(k) elements (the sum of sendCounts)", actual: "\(k + 1) elements")) {
                try neighborAlltoallv([Double](repeating: 0, count: k + 1), sendCounts: [Int](repeating: 1, count: k),
                                      receiveCounts: [Int](repeating: 1, count: k), comm: comm)
            }
            // A wrong output size: every process completes the collective, then throws.
            var small = [Double](repeating: 0, count: 1)
            assertThrows(.shapeMismatch(operation: "neighborAllgather", argument: "output",
                                        expected: "\(2 * k) elements (in-neighbours × input)", actual: "1 element")) {
                try neighborAllgather([1.0, 2.0], into: &small, comm: comm)
            }
            // Nothing is left unmatched: the grid still works.
            XCTAssertEqual(try allreduce(1, op: .sum, comm: comm).0, size)
        }
    }
}
