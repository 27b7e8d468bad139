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
        return try [([size], [false]), ([size], [true]), (two, [true, false]), (two, [false, true])]
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
