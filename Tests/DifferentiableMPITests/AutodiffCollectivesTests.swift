// Tests of Autodiff+Collectives.swift: the differentiable allgather, alltoall,
// bcast, gather and scatter, against central finite differences (see
// DifferentiationTestCase) and in forward mode.
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

final class AutodiffCollectivesTests: DifferentiationTestCase {
    // MARK: - Finite differences

    func testAllgatherFiniteDifferences() throws {
        let comm = defaultComm
        let w = Self.replicatedWeights([size, 2, 2], salt: 30)
        try checkGradient("allgather (ShapedArray)", at: Self.pseudoArray([2, 2], rank: rank, salt: 31), comm: comm) { x in
            Autodiff.allgather(x, comm: comm).dot(w)
        }
        let w1 = Self.replicatedWeights([size, 3], salt: 32)
        try checkGradient("allgather ([T])", at: Self.pseudoArray([3], rank: rank, salt: 33).scalars, comm: comm) { x in
            Autodiff.allgather(x, comm: comm).dot(w1)
        }
        let w0 = Self.replicatedWeights([size], salt: 34)
        try checkGradient("allgather (scalar)", at: Self.pseudo(rank, 0, 35), comm: comm) { x in
            Autodiff.allgather(x, comm: comm).dot(w0)
        }
    }

    func testAlltoallFiniteDifferences() throws {
        let comm = defaultComm
        let w = Self.rankWeights([size, 2], rank: rank, salt: 40)
        try checkGradient("alltoall (ShapedArray)", at: Self.pseudoArray([size, 2], rank: rank, salt: 41), comm: comm) { x in
            Autodiff.allreduce(Autodiff.alltoall(x, comm: comm).dot(w), op: .sum, comm: comm)
        }
        let w1 = Self.rankWeights([size], rank: rank, salt: 42)
        let n = size
        try checkGradient("alltoall ([T])", at: Self.pseudoArray([size], rank: rank, salt: 43).scalars, comm: comm) { x in
            Autodiff.allreduce(ShapedArray(shape: [n], scalars: Autodiff.alltoall(x, comm: comm)).dot(w1), op: .sum, comm: comm)
        }
    }

    func testBcastFiniteDifferences() throws {
        let comm = defaultComm
        for root in roots(comm) {
            let w = Self.replicatedWeights([3, 2], salt: 50)
            try checkGradient("bcast root \(root) (ShapedArray)", at: Self.pseudoArray([3, 2], rank: rank, salt: 51), comm: comm) { x in
                Autodiff.bcast(x, root: root, comm: comm).dot(w)
            }
            let w1 = Self.replicatedWeights([3], salt: 52)
            try checkGradient("bcast root \(root) ([T])", at: Self.pseudoArray([3], rank: rank, salt: 53).scalars, comm: comm) { x in
                ShapedArray(shape: [3], scalars: Autodiff.bcast(x, root: root, comm: comm)).dot(w1)
            }
            try checkGradient("bcast root \(root) (scalar)", at: Self.pseudo(rank, 0, 54), comm: comm) { x in
                -2 * Autodiff.bcast(x, root: root, comm: comm)
            }
            // Only the root's input matters.
            let g = gradient(at: ShapedArray<Double>([1, 2])) { x in Autodiff.bcast(x, root: root, comm: comm).sum() }
            XCTAssertEqual(g.materialized(shape: [2]).scalars, rank == root ? [1, 1] : [0, 0], here)
        }
    }

    func testGatherFiniteDifferences() throws {
        let comm = defaultComm
        for root in roots(comm) {
            let isRoot = rank == root
            let w = Self.rankWeights(isRoot ? [size, 2] : [2], rank: rank, salt: 60)
            try checkGradient("gather root \(root) (ShapedArray)", at: Self.pseudoArray([2], rank: rank, salt: 61), comm: comm) { x in
                Autodiff.allreduce(Autodiff.gather(x, root: root, comm: comm).dot(w), op: .sum, comm: comm)
            }
            let w1 = Self.rankWeights(isRoot ? [size, 3] : [3], rank: rank, salt: 62)
            try checkGradient("gather root \(root) ([T])", at: Self.pseudoArray([3], rank: rank, salt: 63).scalars, comm: comm) { x in
                Autodiff.allreduce(Autodiff.gather(x, root: root, comm: comm).dot(w1), op: .sum, comm: comm)
            }
            let w0 = Self.rankWeights(isRoot ? [size] : [], rank: rank, salt: 64)
            try checkGradient("gather root \(root) (scalar)", at: Self.pseudo(rank, 0, 65), comm: comm) { x in
                Autodiff.allreduce(Autodiff.gather(x, root: root, comm: comm).dot(w0), op: .sum, comm: comm)
            }
        }
    }

    func testScatterFiniteDifferences() throws {
        let comm = defaultComm
        for root in roots(comm) {
            let isRoot = rank == root
            let w = Self.rankWeights([2], rank: rank, salt: 90)
            let x = Self.pseudoArray(isRoot ? [size, 2] : [2], rank: rank, salt: 91)
            try checkGradient("scatter root \(root) (ShapedArray)", at: x, comm: comm) { x in
                Autodiff.allreduce(Autodiff.scatter(x, root: root, comm: comm).dot(w), op: .sum, comm: comm)
            }
            let w0 = Self.rankWeights([], rank: rank, salt: 92)
            let x1 = Self.pseudoArray(isRoot ? [size] : [1], rank: rank, salt: 93).scalars
            try checkGradient("scatter root \(root) ([T])", at: x1, comm: comm) { x in
                Autodiff.allreduce(Autodiff.scatter(x, root: root, comm: comm).dot(w0), op: .sum, comm: comm)
            }
            // A non-root rank's input is a template: its gradient is zero.
            let g = gradient(at: x) { x in Autodiff.allreduce(Autodiff.scatter(x, root: root, comm: comm).sum(), op: .sum, comm: comm) }
            XCTAssertEqual(g.materialized(shape: x.shape).scalars, Array(repeating: isRoot ? 1 : 0, count: x.scalarCount), here)
        }
    }

    // MARK: - Forward mode

    /// valueWithDifferential on functions whose forward derivatives are the package's JVPs.
    func testForwardModeMatchesFiniteDifferences() throws {
        let comm = defaultComm
        let x = Self.pseudoArray([3], rank: rank, salt: 150)
        try checkDifferential("allgather", at: x, comm: comm, probeAllgather)
        try checkDifferential("alltoall", at: Self.pseudoArray([size, 2], rank: rank, salt: 151), comm: comm, probeAlltoall)
        try checkDifferential("bcast", at: x, comm: comm, probeBcast)
        try checkDifferential("gather", at: x, comm: comm, probeGather)
        try checkDifferential("scatter", at: Self.pseudoArray(rank == size - 1 ? [size, 2] : [2], rank: rank, salt: 152), comm: comm, probeScatter)
    }

    /// The JVP of the scalar form of allgather, called directly.
    func testForwardDerivativeOfScalarForm() throws {
        let comm = defaultComm
        let (gathered, dgathered) = Autodiff.jvpAllgather(Double(rank), comm: comm)
        XCTAssertEqual(gathered.scalars, (0..<size).map(Double.init), here)
        XCTAssertEqual(dgathered(2).materialized(shape: [size]).scalars, Array(repeating: 2, count: size), here)
    }
}

// Functions whose forward derivatives are the package's JVPs, for valueWithDifferential
// (the compiler cannot yet derive a forward derivative of a closure by itself).

private var lastRank: Int { Communicator.world.size - 1 }

private func probeAllgather(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.allgather(x) }
@derivative(of: probeAllgather)
private func jvpProbeAllgather(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpAllgather(x, comm: nil)
}
@derivative(of: probeAllgather)
private func vjpProbeAllgather(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpAllgather(x, comm: nil)
}

private func probeAlltoall(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.alltoall(x) }
@derivative(of: probeAlltoall)
private func jvpProbeAlltoall(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpAlltoall(x, comm: nil)
}
@derivative(of: probeAlltoall)
private func vjpProbeAlltoall(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpAlltoall(x, comm: nil)
}

private func probeBcast(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.bcast(x, root: lastRank) }
@derivative(of: probeBcast)
private func jvpProbeBcast(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpBcast(x, root: lastRank, comm: nil)
}
@derivative(of: probeBcast)
private func vjpProbeBcast(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpBcast(x, root: lastRank, comm: nil)
}

private func probeGather(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.gather(x, root: lastRank) }
@derivative(of: probeGather)
private func jvpProbeGather(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpGather(x, root: lastRank, comm: nil)
}
@derivative(of: probeGather)
private func vjpProbeGather(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpGather(x, root: lastRank, comm: nil)
}

private func probeScatter(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.scatter(x, root: lastRank) }
@derivative(of: probeScatter)
private func jvpProbeScatter(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpScatter(x, root: lastRank, comm: nil)
}
@derivative(of: probeScatter)
private func vjpProbeScatter(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpScatter(x, root: lastRank, comm: nil)
}
