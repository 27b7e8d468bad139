// Tests of Autodiff+Neighbors.swift: the differentiable neighborAllgather and
// neighborAlltoall against central finite differences (see DifferentiationTestCase)
// and in forward mode, on 1-D and 2-D grids, periodic and with walls.
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

final class AutodiffNeighborsTests: DifferentiationTestCase {
    /// 1-D and 2-D grids, periodic and with walls (periodic dimensions of one and two processes
    /// included), leaving out those where no process has a neighbour (one process, walls only),
    /// on which the output depends on no input.
    private func grids() throws -> [CartesianCommunicator] {
        let two = try CartesianCommunicator.balancedDimensions(processes: size, dimensions: [0, 0])
        // (two, [true, true]) at one rank is the 1 × 1 grid periodic in both dimensions, where MPICH pairs
        // the neighbours' messages in reverse (see the derivatives documentation, section 3).
        return try [([size], [false]), ([size], [true]), (two, [true, false]), (two, [false, true]), (two, [true, true])]
            .filter { size > 1 || $0.1.contains(true) }
            .map { try XCTUnwrap(try world.cartesian(dimensions: $0.0, periodic: $0.1)) }
    }

    func testNeighborAllgatherFiniteDifferences() throws {
        for (g, grid) in try grids().enumerated() {
            let comm = grid.communicator, k = 2 * grid.dimensions.count
            let w = Self.rankWeights([k, 2, 2], rank: rank, salt: 300 + g)
            try checkGradient("neighborAllgather (ShapedArray) \(grid.dimensions) \(grid.periodic)",
                              at: Self.pseudoArray([2, 2], rank: rank, salt: 310 + g), comm: comm) { x in
                Autodiff.allreduce(Autodiff.neighborAllgather(x, comm: grid).dot(w), op: .sum, comm: comm)
            }
            let w1 = Self.rankWeights([k, 3], rank: rank, salt: 320 + g)
            try checkGradient("neighborAllgather ([T]) \(grid.dimensions) \(grid.periodic)",
                              at: Self.pseudoArray([3], rank: rank, salt: 330 + g).scalars, comm: comm) { x in
                Autodiff.allreduce(Autodiff.neighborAllgather(x, comm: grid).dot(w1), op: .sum, comm: comm)
            }
        }
    }

    func testNeighborAlltoallFiniteDifferences() throws {
        for (g, grid) in try grids().enumerated() {
            let comm = grid.communicator, k = 2 * grid.dimensions.count
            let w = Self.rankWeights([k, 2], rank: rank, salt: 340 + g)
            try checkGradient("neighborAlltoall (ShapedArray) \(grid.dimensions) \(grid.periodic)",
                              at: Self.pseudoArray([k, 2], rank: rank, salt: 350 + g), comm: comm) { x in
                Autodiff.allreduce(Autodiff.neighborAlltoall(x, comm: grid).dot(w), op: .sum, comm: comm)
            }
            let w1 = Self.rankWeights([k], rank: rank, salt: 360 + g)
            try checkGradient("neighborAlltoall ([T]) \(grid.dimensions) \(grid.periodic)",
                              at: Self.pseudoArray([k], rank: rank, salt: 370 + g).scalars, comm: comm) { x in
                Autodiff.allreduce(ShapedArray(shape: [k], scalars: Autodiff.neighborAlltoall(x, comm: grid)).dot(w1),
                                   op: .sum, comm: comm)
            }
        }
    }

    /// The ranks of the neighbours in slot order (for each dimension, −1 then +1), `nil` past a wall.
    ///
    /// The tests below use block lengths that differ between processes and dimensions, zero
    /// included: process `r` contributes `(r + 1) % 3` elements (neighborAllgatherv), and sends
    /// `(r + d + 1) % 3` elements to each neighbour of dimension `d` (neighborAlltoallv: the same
    /// length both ways along a dimension, since on a periodic dimension of one or two processes
    /// both neighbours are the same process and MPI chooses which message fills which block).
    /// The lengths of what arrives follow from the neighbours' ranks.
    private func neighborRanks(_ grid: CartesianCommunicator) throws -> [Int?] {
        var ranks = [Int?]()
        for d in 0..<grid.dimensions.count {
            let (source, dest) = try grid.shift(dimension: d, displacement: 1)
            ranks.append(source)  // the −1 neighbour
            ranks.append(dest)    // the +1 neighbour
        }
        return ranks
    }

    func testNeighborAllgathervFiniteDifferences() throws {
        for (g, grid) in try grids().enumerated() {
            let comm = grid.communicator
            let counts = try neighborRanks(grid).map { $0.map { ($0 + 1) % 3 } ?? 1 }  // any count past a wall
            let n = (rank + 1) % 3
            let w = Self.rankWeights([counts.reduce(0, +)], rank: rank, salt: 400 + g)
            // Processes with an empty block still take part: their gradient is empty.
            try checkGradient("neighborAllgatherv \(grid.dimensions) \(grid.periodic)",
                              at: Self.pseudoArray([n], rank: rank, salt: 410 + g).scalars, comm: comm) { x in
                Autodiff.allreduce(
                    ShapedArray(shape: [counts.reduce(0, +)],
                                scalars: Autodiff.neighborAllgatherv(x, receiveCounts: counts, comm: grid)).dot(w),
                    op: .sum, comm: comm)
            }
        }
    }

    func testNeighborAlltoallvFiniteDifferences() throws {
        for (g, grid) in try grids().enumerated() {
            let comm = grid.communicator, k = 2 * grid.dimensions.count
            let sendCounts = (0..<k).map { (rank + $0 / 2 + 1) % 3 }
            // Neighbour i sends this process the block of its slot i ^ 1 (the other side of the
            // same dimension d = i / 2); past a wall any count, and the block stays zero.
            let receiveCounts = try neighborRanks(grid).enumerated().map { i, r in r.map { ($0 + i / 2 + 1) % 3 } ?? 2 }
            let w = Self.rankWeights([receiveCounts.reduce(0, +)], rank: rank, salt: 420 + g)
            try checkGradient("neighborAlltoallv \(grid.dimensions) \(grid.periodic)",
                              at: Self.pseudoArray([sendCounts.reduce(0, +)], rank: rank, salt: 430 + g).scalars,
                              comm: comm) { x in
                Autodiff.allreduce(
                    ShapedArray(shape: [receiveCounts.reduce(0, +)],
                                scalars: Autodiff.neighborAlltoallv(x, sendCounts: sendCounts,
                                                                    receiveCounts: receiveCounts, comm: grid)).dot(w),
                    op: .sum, comm: comm)
            }
        }
    }

    /// At a wall the row sent nowhere has no effect: its gradient is exactly zero.
    func testRowsSentPastAWallHaveZeroGradient() throws {
        let grid = try XCTUnwrap(try world.cartesian(dimensions: [size], periodic: [false]))
        let g = gradient(at: ShapedArray<Double>(shape: [2, 1], scalars: [1, 2])) { x in
            Autodiff.allreduce(Autodiff.neighborAlltoall(x, comm: grid).sum(), op: .sum, comm: grid.communicator)
        }
        let expected: [Double] = [rank > 0 ? 1 : 0, rank < size - 1 ? 1 : 0]
        XCTAssertEqual(g.materialized(shape: [2, 1]).scalars, expected, here)
    }

    func testForwardModeMatchesFiniteDifferences() throws {
        for grid in try grids() {
            probeGrid = grid
            let k = 2 * grid.dimensions.count
            try checkDifferential("neighborAllgather \(grid.dimensions) \(grid.periodic)",
                                  at: Self.pseudoArray([3], rank: rank, salt: 380), comm: grid.communicator,
                                  probeNeighborAllgather)
            try checkDifferential("neighborAlltoall \(grid.dimensions) \(grid.periodic)",
                                  at: Self.pseudoArray([k, 2], rank: rank, salt: 381), comm: grid.communicator,
                                  probeNeighborAlltoall)
        }
        probeGrid = nil
    }
}

// Functions whose forward derivatives are the package's JVPs, for valueWithDifferential.

nonisolated(unsafe) private var probeGrid: CartesianCommunicator?

private func probeNeighborAllgather(_ x: ShapedArray<Double>) -> ShapedArray<Double> {
    Autodiff.neighborAllgather(x, comm: probeGrid!)
}
@derivative(of: probeNeighborAllgather)
private func jvpProbeNeighborAllgather(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpNeighborAllgather(x, comm: probeGrid!)
}
@derivative(of: probeNeighborAllgather)
private func vjpProbeNeighborAllgather(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpNeighborAllgather(x, comm: probeGrid!)
}

private func probeNeighborAlltoall(_ x: ShapedArray<Double>) -> ShapedArray<Double> {
    Autodiff.neighborAlltoall(x, comm: probeGrid!)
}
@derivative(of: probeNeighborAlltoall)
private func jvpProbeNeighborAlltoall(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpNeighborAlltoall(x, comm: probeGrid!)
}
@derivative(of: probeNeighborAlltoall)
private func vjpProbeNeighborAlltoall(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpNeighborAlltoall(x, comm: probeGrid!)
}
