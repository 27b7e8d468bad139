// Tests of Autodiff+VariableCollectives.swift: the differentiable allgatherv,
// gatherv, scatterv, alltoallv, reduceScatterBlock, reduceScatter and exscan,
// against central finite differences (see DifferentiationTestCase) and in
// forward mode, with ragged blocks that include empty ones.
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

/// Rank r's rows: 1, 0, 2, 1, ... (rank 1's block is empty).
private func rows(_ r: Int) -> Int { (r * 2 + 1) % 3 }
private var worldSize: Int { Communicator.world.size }
private var worldRank: Int { Communicator.world.rank }
private var lastRank: Int { worldSize - 1 }
/// Every rank's rows, in rank order.
private var ragged: [Int] { (0..<worldSize).map(rows) }
/// The rows that rank `from` sends to rank `to` in alltoallv: 0, 1 or 2.
private func pairRows(_ from: Int, _ to: Int) -> Int { (from + 2 * to + 1) % 3 }
private var pairCounts: [Int] { (0..<worldSize).map { pairRows(worldRank, $0) } }

final class AutodiffVariableCollectivesTests: DifferentiationTestCase {
    private var total: Int { ragged.reduce(0, +) }

    func testAllgathervFiniteDifferences() throws {
        let comm = defaultComm
        let w = Self.replicatedWeights([total, 2], salt: 300)
        try checkGradient("allgatherv", at: Self.pseudoArray([rows(rank), 2], rank: rank, salt: 301), comm: comm) { x in
            Autodiff.allgatherv(x, comm: comm).dot(w)
        }
    }

    func testGathervFiniteDifferences() throws {
        let comm = defaultComm
        for root in roots(comm) {
            let w = Self.rankWeights(rank == root ? [total, 2] : [rows(rank), 2], rank: rank, salt: 310)
            try checkGradient("gatherv root \(root)", at: Self.pseudoArray([rows(rank), 2], rank: rank, salt: 311), comm: comm) { x in
                Autodiff.allreduce(Autodiff.gatherv(x, root: root, comm: comm).dot(w), op: .sum, comm: comm)
            }
        }
    }

    func testScattervFiniteDifferences() throws {
        let comm = defaultComm
        for root in roots(comm) {
            let counts = ragged
            let w = Self.rankWeights([rows(rank), 2], rank: rank, salt: 320)
            let x = Self.pseudoArray(rank == root ? [total, 2] : [0, 2], rank: rank, salt: 321)
            try checkGradient("scatterv root \(root)", at: x, comm: comm) { x in
                Autodiff.allreduce(Autodiff.scatterv(x, rowCounts: counts, root: root, comm: comm).dot(w), op: .sum, comm: comm)
            }
        }
    }

    func testAlltoallvFiniteDifferences() throws {
        let comm = defaultComm
        let counts = pairCounts
        let received = (0..<size).map { pairRows($0, rank) }.reduce(0, +)
        let w = Self.rankWeights([received, 2], rank: rank, salt: 330)
        try checkGradient("alltoallv", at: Self.pseudoArray([counts.reduce(0, +), 2], rank: rank, salt: 331), comm: comm) { x in
            Autodiff.allreduce(Autodiff.alltoallv(x, rowCounts: counts, comm: comm).dot(w), op: .sum, comm: comm)
        }
    }

    func testReduceScatterFiniteDifferences() throws {
        let comm = defaultComm
        let w = Self.rankWeights([2], rank: rank, salt: 340)
        try checkGradient("reduceScatterBlock", at: Self.pseudoArray([size, 2], rank: rank, salt: 341), comm: comm) { x in
            Autodiff.allreduce(Autodiff.reduceScatterBlock(x, op: .sum, comm: comm).dot(w), op: .sum, comm: comm)
        }
        let counts = ragged
        let w1 = Self.rankWeights([rows(rank), 2], rank: rank, salt: 342)
        try checkGradient("reduceScatter", at: Self.pseudoArray([total, 2], rank: rank, salt: 343), comm: comm) { x in
            Autodiff.allreduce(Autodiff.reduceScatter(x, counts: counts, op: .sum, comm: comm).dot(w1), op: .sum, comm: comm)
        }
    }

    func testExscanFiniteDifferences() throws {
        let comm = defaultComm
        let w = Self.rankWeights([3], rank: rank, salt: 350)
        let w2 = Self.rankWeights([3], rank: rank, salt: 351)
        // `+ x·w2` keeps the loss dependent on x at one rank, where exscan's result is constant.
        try checkGradient("exscan", at: Self.pseudoArray([3], rank: rank, salt: 352), comm: comm) { x in
            Autodiff.allreduce(Autodiff.exscan(x, op: .sum, comm: comm).dot(w) + x.dot(w2), op: .sum, comm: comm)
        }
    }

    func testForwardModeMatchesFiniteDifferences() throws {
        let comm = defaultComm
        try checkDifferential("allgatherv", at: Self.pseudoArray([rows(rank), 2], rank: rank, salt: 360), comm: comm, probeAllgatherv)
        try checkDifferential("gatherv", at: Self.pseudoArray([rows(rank), 2], rank: rank, salt: 361), comm: comm, probeGatherv)
        try checkDifferential("scatterv", at: Self.pseudoArray(rank == size - 1 ? [total, 2] : [0, 2], rank: rank, salt: 362), comm: comm, probeScatterv)
        try checkDifferential("alltoallv", at: Self.pseudoArray([pairCounts.reduce(0, +), 2], rank: rank, salt: 363), comm: comm, probeAlltoallv)
        try checkDifferential("reduceScatterBlock", at: Self.pseudoArray([size, 2], rank: rank, salt: 364), comm: comm, probeReduceScatterBlock)
        try checkDifferential("reduceScatter", at: Self.pseudoArray([total, 2], rank: rank, salt: 365), comm: comm, probeReduceScatter)
        if size > 1 {
            try checkDifferential("exscan", at: Self.pseudoArray([3], rank: rank, salt: 366), comm: comm, probeExscan)
        }
    }
}

// Functions whose forward derivatives are the package's JVPs, for valueWithDifferential.

private func probeAllgatherv(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.allgatherv(x) }
@derivative(of: probeAllgatherv)
private func jvpProbeAllgatherv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpAllgatherv(x, comm: nil)
}
@derivative(of: probeAllgatherv)
private func vjpProbeAllgatherv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpAllgatherv(x, comm: nil)
}

private func probeGatherv(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.gatherv(x, root: lastRank) }
@derivative(of: probeGatherv)
private func jvpProbeGatherv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpGatherv(x, root: lastRank, comm: nil)
}
@derivative(of: probeGatherv)
private func vjpProbeGatherv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpGatherv(x, root: lastRank, comm: nil)
}

private func probeScatterv(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.scatterv(x, rowCounts: ragged, root: lastRank) }
@derivative(of: probeScatterv)
private func jvpProbeScatterv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpScatterv(x, rowCounts: ragged, root: lastRank, comm: nil)
}
@derivative(of: probeScatterv)
private func vjpProbeScatterv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpScatterv(x, rowCounts: ragged, root: lastRank, comm: nil)
}

private func probeAlltoallv(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.alltoallv(x, rowCounts: pairCounts) }
@derivative(of: probeAlltoallv)
private func jvpProbeAlltoallv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpAlltoallv(x, rowCounts: pairCounts, comm: nil)
}
@derivative(of: probeAlltoallv)
private func vjpProbeAlltoallv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpAlltoallv(x, rowCounts: pairCounts, comm: nil)
}

private func probeReduceScatterBlock(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.reduceScatterBlock(x, op: .sum) }
@derivative(of: probeReduceScatterBlock)
private func jvpProbeReduceScatterBlock(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpReduceScatterBlock(x, op: .sum, comm: nil)
}
@derivative(of: probeReduceScatterBlock)
private func vjpProbeReduceScatterBlock(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpReduceScatterBlock(x, op: .sum, comm: nil)
}

private func probeReduceScatter(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.reduceScatter(x, counts: ragged, op: .sum) }
@derivative(of: probeReduceScatter)
private func jvpProbeReduceScatter(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpReduceScatter(x, counts: ragged, op: .sum, comm: nil)
}
@derivative(of: probeReduceScatter)
private func vjpProbeReduceScatter(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpReduceScatter(x, counts: ragged, op: .sum, comm: nil)
}

private func probeExscan(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.exscan(x, op: .sum) }
@derivative(of: probeExscan)
private func jvpProbeExscan(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpExscan(x, op: .sum, comm: nil)
}
@derivative(of: probeExscan)
private func vjpProbeExscan(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpExscan(x, op: .sum, comm: nil)
}
