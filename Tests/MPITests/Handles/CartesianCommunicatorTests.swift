// Tests of CartesianCommunicator.swift: Cartesian grids (MPI_Cart_create), balanced
// dimensions (MPI_Dims_create), coordinates, ranks, shifts and sub-grids, and their errors.
//
// Every expectation follows from the rank and the size: grids are row-major
// (the last dimension varies fastest), so without reordering rank r of a grid of
// dimensions [a, b] sits at [r / b, r % b].
import MPI
import MPITestSupport
import XCTest

final class CartesianCommunicatorTests: MPITestCase {
    // MARK: Balanced dimensions

    func testBalancedDimensions() throws {
        XCTAssertEqual(try CartesianCommunicator.balancedDimensions(processes: size, dimensions: [0]), [size])
        let two = try CartesianCommunicator.balancedDimensions(processes: size, dimensions: [0, 0])
        XCTAssertEqual(two.reduce(1, *), size)
        XCTAssertGreaterThanOrEqual(two[0], two[1])
        XCTAssertEqual(try CartesianCommunicator.balancedDimensions(processes: 4, dimensions: [0, 0]), [2, 2])
        XCTAssertEqual(try CartesianCommunicator.balancedDimensions(processes: 6, dimensions: [0, 0]), [3, 2])
        XCTAssertEqual(try CartesianCommunicator.balancedDimensions(processes: 12, dimensions: [0, 0, 0]), [3, 2, 2])
        XCTAssertEqual(try CartesianCommunicator.balancedDimensions(processes: 4, dimensions: [0, 1]), [4, 1])
        XCTAssertEqual(try CartesianCommunicator.balancedDimensions(processes: 6, dimensions: [2, 0]), [2, 3])
        XCTAssertEqual(try CartesianCommunicator.balancedDimensions(processes: 6, dimensions: [3, 2]), [3, 2])
    }

    func testBalancedDimensionsErrors() {
        let operation = "CartesianCommunicator.balancedDimensions"
        for (processes, dims, argument) in [(0, [0], "processes"), (-3, [0, 0], "processes"), (4, [], "dimensions"),
                                             (4, [-1, 0], "dimensions"), (4, [3, 0], "dimensions"),
                                             (4, [8, 0], "dimensions"), (6, [2, 2], "dimensions")] {
            let error = assertThrowsError("\(processes) \(dims)") {
                try CartesianCommunicator.balancedDimensions(processes: processes, dimensions: dims)
            }
            guard case let .invalidArgument(op, arg, _, _)? = error else {
                XCTFail("expected invalidArgument for \(processes) \(dims), got \(String(describing: error))")
                continue
            }
            XCTAssertEqual(op, operation)
            XCTAssertEqual(arg, argument, "\(processes) \(dims)")
        }
    }

    // MARK: 1-D grids

    func testOneDimensionalGrids() throws {
        for periodic in [false, true] {
            let grid = try XCTUnwrap(try world.cartesian(dimensions: [size], periodic: [periodic]))
            XCTAssertEqual(grid.rank, rank)
            XCTAssertEqual(grid.size, size)
            XCTAssertEqual(grid.dimensions, [size])
            XCTAssertEqual(grid.periodic, [periodic])
            XCTAssertEqual(grid.coordinates, [rank])
            let (source, destination) = try grid.shift(dimension: 0, displacement: 1)
            if periodic {
                XCTAssertEqual(source, (rank + size - 1) % size, here)
                XCTAssertEqual(destination, (rank + 1) % size, here)
            } else {
                XCTAssertEqual(source, rank > 0 ? rank - 1 : nil, here)
                XCTAssertEqual(destination, rank < size - 1 ? rank + 1 : nil, here)
            }
            // A displacement of −2 swaps the roles and doubles the step.
            let (back, forward) = try grid.shift(dimension: 0, displacement: -2)
            if periodic {
                XCTAssertEqual(back, ((rank + 2) % size + size) % size, here)
                XCTAssertEqual(forward, ((rank - 2) % size + size) % size, here)
            } else {
                XCTAssertEqual(back, rank + 2 < size ? rank + 2 : nil, here)
                XCTAssertEqual(forward, rank - 2 >= 0 ? rank - 2 : nil, here)
            }
            for r in 0..<size {
                XCTAssertEqual(try grid.coordinates(of: r), [r])
                XCTAssertEqual(try grid.rank(at: [r]), r)
            }
            if periodic {
                XCTAssertEqual(try grid.rank(at: [-1]), size - 1)
                XCTAssertEqual(try grid.rank(at: [size]), 0)
            }
            // The grid communicates like any communicator.
            let (sum, _) = try allreduce(rank, op: .sum, comm: grid.communicator)
            XCTAssertEqual(sum, size * (size - 1) / 2)
        }
    }

    // MARK: 2-D grids

    func testTwoDimensionalGrids() throws {
        let dims = try CartesianCommunicator.balancedDimensions(processes: size, dimensions: [0, 0])
        for periodic in [[true, false], [false, true], [false, false], [true, true]] {
            let grid = try XCTUnwrap(try world.cartesian(dimensions: dims, periodic: periodic))
            let (row, column) = (rank / dims[1], rank % dims[1])
            XCTAssertEqual(grid.coordinates, [row, column], here)
            XCTAssertEqual(grid.periodic, periodic)
            for r in 0..<size {
                XCTAssertEqual(try grid.coordinates(of: r), [r / dims[1], r % dims[1]])
                XCTAssertEqual(try grid.rank(at: [r / dims[1], r % dims[1]]), r)
            }
            for d in 0..<2 {
                let (source, destination) = try grid.shift(dimension: d)
                var back = [row, column], forward = [row, column]
                back[d] -= 1
                forward[d] += 1
                func rankAt(_ c: [Int]) -> Int? {
                    var c = c
                    if periodic[d] { c[d] = (c[d] + dims[d]) % dims[d] }
                    guard c[d] >= 0 && c[d] < dims[d] else { return nil }
                    return c[0] * dims[1] + c[1]
                }
                XCTAssertEqual(source, rankAt(back), "dimension \(d) periodic \(periodic) \(here)")
                XCTAssertEqual(destination, rankAt(forward), "dimension \(d) periodic \(periodic) \(here)")
                if periodic[d] {
                    var wrapped = [row, column]
                    wrapped[d] = -1
                    var last = [row, column]
                    last[d] = dims[d] - 1
                    XCTAssertEqual(try grid.rank(at: wrapped), last[0] * dims[1] + last[1])
                } else {
                    var outside = [row, column]
                    outside[d] = dims[d]
                    let error = assertThrowsError { try grid.rank(at: outside) }
                    guard case let .invalidArgument(op, argument, _, _)? = error else {
                        XCTFail("expected invalidArgument, got \(String(describing: error))")
                        continue
                    }
                    XCTAssertEqual(op, "CartesianCommunicator.rank(at:)")
                    XCTAssertEqual(argument, "coordinates")
                }
            }
        }
    }

    func testSubGrids() throws {
        let dims = try CartesianCommunicator.balancedDimensions(processes: size, dimensions: [0, 0])
        let grid = try XCTUnwrap(try world.cartesian(dimensions: dims, periodic: [false, true]))
        let (row, column) = (rank / dims[1], rank % dims[1])
        // The row: the processes of this row, ranked by column.
        let rowGrid = try grid.sub(keeping: [false, true])
        XCTAssertEqual(rowGrid.dimensions, [dims[1]])
        XCTAssertEqual(rowGrid.periodic, [true])
        XCTAssertEqual(rowGrid.coordinates, [column])
        XCTAssertEqual(rowGrid.rank, column)
        XCTAssertEqual(rowGrid.size, dims[1])
        let (rowSum, _) = try allreduce(rank, op: .sum, comm: rowGrid.communicator)
        XCTAssertEqual(rowSum, (0..<dims[1]).reduce(0) { $0 + row * dims[1] + $1 }, here)
        // The column.
        let columnGrid = try grid.sub(keeping: [true, false])
        XCTAssertEqual(columnGrid.dimensions, [dims[0]])
        XCTAssertEqual(columnGrid.periodic, [false])
        XCTAssertEqual(columnGrid.rank, row)
        let (columnSum, _) = try allreduce(rank, op: .sum, comm: columnGrid.communicator)
        XCTAssertEqual(columnSum, (0..<dims[0]).reduce(0) { $0 + $1 * dims[1] + column }, here)
        // The wrapped view of a sub-grid's communicator sees the same grid.
        let wrapped = try CartesianCommunicator(rowGrid.communicator)
        XCTAssertEqual(wrapped.dimensions, rowGrid.dimensions)
        XCTAssertEqual(wrapped.coordinates, rowGrid.coordinates)
    }

    func testProcessesBeyondTheGridGetNil() throws {
        let gridSize = max(1, size - 1)
        let grid = try world.cartesian(dimensions: [gridSize], periodic: [true])
        if rank < gridSize {
            let grid = try XCTUnwrap(grid, here)
            XCTAssertEqual(grid.size, gridSize)
            XCTAssertEqual(grid.coordinates, [rank])
        } else {
            XCTAssertNil(grid, here)
        }
    }

    func testGridsAreFreedWhenDropped() throws {
        // An MPI library has a bounded number of communicators alive at once (about 2000 in
        // MPICH 4.0, 65532 in Open MPI 4.1), so this fails there if grids leak: past both limits
        // at 1 rank, past MPICH's at 2. At 3 and 4 ranks each grid is a collective of
        // oversubscribed processes (25 to 45 ms with MPICH on two busy cores): a short loop.
        let rounds = size == 1 ? 66_000 : size == 2 ? 2_100 : 300
        for _ in 0..<rounds {
            let grid = try XCTUnwrap(try world.cartesian(dimensions: [size], periodic: [true]))
            XCTAssertEqual(grid.size, size)
        }
        let grid = try XCTUnwrap(try world.cartesian(dimensions: [size]))
        try grid.communicator.free()
        XCTAssertThrowsError(try grid.shift(dimension: 0))
    }

    // MARK: Errors

    func testCreationErrors() {
        let operation = "Communicator.cartesian"
        let cases: [([Int], [Bool]?, String)] = [
            ([size + 1], nil, "dimensions"), ([size, 2], nil, "dimensions"), ([0], nil, "dimensions"),
            ([-1], nil, "dimensions"), ([], nil, "dimensions"), ([size], [true, false], "periodic"),
            ([Int.max, Int.max], nil, "dimensions"), ([1 << 32], nil, "dimensions"),
        ]
        for (dims, periodic, argument) in cases {
            let error = assertThrowsError("\(dims)") { try world.cartesian(dimensions: dims, periodic: periodic) }
            guard case let .invalidArgument(op, arg, _, _)? = error else {
                XCTFail("expected invalidArgument for \(dims), got \(String(describing: error))")
                continue
            }
            XCTAssertEqual(op, operation)
            XCTAssertEqual(arg, argument, "\(dims)")
        }
        // A dimension above Int32.max is named as such (it is not "below 1").
        assertThrows(.invalidArgument(operation: operation, argument: "dimensions",
                                      expected: "each dimension in 1...2147483647", actual: "[4294967296]")) {
            try world.cartesian(dimensions: [1 << 32])
        }
        // Every rank threw before anything was communicated: the world still works.
        XCTAssertEqual(try allreduce(1, op: .sum, comm: world).0, size)
    }

    func testQueryErrors() throws {
        let grid = try XCTUnwrap(try world.cartesian(dimensions: [size], periodic: [false]))
        for dimension in [-1, 1, 7] {
            let error = assertThrowsError { try grid.shift(dimension: dimension) }
            guard case let .invalidArgument(op, argument, _, _)? = error else {
                XCTFail("expected invalidArgument, got \(String(describing: error))")
                continue
            }
            XCTAssertEqual(op, "CartesianCommunicator.shift")
            XCTAssertEqual(argument, "dimension")
        }
        assertThrows(.rankOutOfRange(operation: "CartesianCommunicator.coordinates(of:)", argument: "rank",
                                     rank: size, size: size)) { try grid.coordinates(of: size) }
        let wrongCount = assertThrowsError { try grid.rank(at: [0, 0]) }
        if case let .invalidArgument(_, argument, _, _)? = wrongCount {
            XCTAssertEqual(argument, "coordinates")
        } else {
            XCTFail("expected invalidArgument, got \(String(describing: wrongCount))")
        }
        for keeping in [[true, true], [false], []] {
            let subError = assertThrowsError { try grid.sub(keeping: keeping) }
            if case let .invalidArgument(op, argument, _, _)? = subError {
                XCTAssertEqual(op, "CartesianCommunicator.sub")
                XCTAssertEqual(argument, "keeping")
            } else {
                XCTFail("expected invalidArgument for \(keeping), got \(String(describing: subError))")
            }
        }
        let noTopology = assertThrowsError { try CartesianCommunicator(world) }
        if case let .invalidArgument(op, argument, _, actual)? = noTopology {
            XCTAssertEqual(op, "CartesianCommunicator.init")
            XCTAssertEqual(argument, "communicator")
            XCTAssertTrue(actual.contains("without a topology"), actual)
        } else {
            XCTFail("expected invalidArgument, got \(String(describing: noTopology))")
        }
    }
}
