// Tests of Autodiff+Reductions.swift: the differentiable allreduce, reduce and
// scan, against central finite differences (see DifferentiationTestCase), in
// forward mode, and in mpi4jax's cases.
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

final class AutodiffReductionsTests: DifferentiationTestCase {
    // MARK: - mpi4jax's cases

    /// mpi4jax: the gradient of allreduce(x).sum() is ones on every rank, not nproc.
    func testGradientOfAllreduceSumIsOnes() throws {
        let x = ShapedArray<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6].map { $0 + Double(rank) })
        let g = gradient(at: x) { x in Autodiff.allreduce(x, op: .sum).sum() }
        XCTAssertEqual(g, .init(shape: [2, 3], scalars: Array(repeating: 1, count: 6)), here)

        let a: [Double] = [1, 2, 3]
        let ga = gradient(at: a) { a in
            let y = Autodiff.allreduce(a, op: .sum)
            return y[0] + y[1] + y[2]
        }
        XCTAssertEqual(ga.base, [1, 1, 1], here)

        let gs = gradient(at: Double(rank)) { s in Autodiff.allreduce(s, op: .sum) }
        XCTAssertEqual(gs, 1, here)

        let xf = ShapedArray<Float>([1, 2])
        let gf = gradient(at: xf) { x in Autodiff.allreduce(x, op: .sum).sum() }
        XCTAssertEqual(gf.scalars, [1, 1], "Float \(here)")
    }

    /// mpi4jax: two chained allreduces under grad, one of them with an unused
    /// intermediate result. By the convention, each allreduce's pullback is the
    /// identity, so the gradient is ones (the derivative of the function of all
    /// ranks' inputs would be size: the second allreduce treats a replicated
    /// value as per-rank contributions; see `perRank`).
    func testTwoChainedAllreduces() throws {
        let x = ShapedArray<Double>([1, 2, 3])
        let g = gradient(at: x) { x in Autodiff.allreduce(Autodiff.allreduce(x, op: .sum), op: .sum).sum() }
        XCTAssertEqual(g.scalars, [1, 1, 1], here)
        let (value, g2) = valueWithGradient(at: x) { x in
            let y = Autodiff.allreduce(x, op: .sum)
            let unused = x + 2 * y
            _ = unused
            return Autodiff.allreduce(x, op: .sum).sum()
        }
        XCTAssertEqual(value, 6 * Double(size), here)
        XCTAssertEqual(g2.scalars, [1, 1, 1], here)
    }

    /// Two allreduces whose results combine on every rank: a replicated computation, checked against finite differences.
    func testReplicatedResultsCombineFiniteDifferences() throws {
        let comm = defaultComm
        let w = Self.replicatedWeights([4], salt: 2)
        // Not linear: a smaller step keeps the truncation error of the differences (h²) out of the way.
        try checkGradient("allreduce(x) * allreduce(x * x)", at: Self.pseudoArray([4], rank: rank, salt: 1), comm: comm, h: 1e-5) { x in
            (Autodiff.allreduce(x, op: .sum, comm: comm) * Autodiff.allreduce(x * x, op: .sum, comm: comm)).dot(w)
        }
    }

    /// mpi4jax: the distributed mat-vec y = allreduce(A_local · x_local), whose VJP gives A_localᵀ ȳ.
    func testDistributedMatvecTranspose() throws {
        let m = 3, nLocal = 2
        let a = Self.pseudoArray([m, nLocal], rank: rank, salt: 3)
        let x = Self.pseudoArray([nLocal], rank: rank, salt: 4)
        let (y, pullback) = valueWithPullback(at: x) { x in
            Autodiff.allreduce(matvec(a, x), op: .sum)
        }
        // The forward value: Σ_r A_r x_r, the same on every rank.
        var expected = [Double](repeating: 0, count: m)
        for r in 0..<size {
            let ar = Self.pseudoArray([m, nLocal], rank: r, salt: 3), xr = Self.pseudoArray([nLocal], rank: r, salt: 4)
            for i in 0..<m { for j in 0..<nLocal { expected[i] += ar[i, j] * xr[j] } }
        }
        for i in 0..<m { XCTAssertEqual(y[flat: i], expected[i], accuracy: 1e-12, here) }
        // The transpose: A_localᵀ ȳ for a replicated ȳ.
        let ybar = Self.replicatedWeights([m], salt: 5)
        let xbar = pullback(.init(ybar))
        for j in 0..<nLocal {
            var t = 0.0
            for i in 0..<m { t += a[i, j] * ybar[flat: i] }
            XCTAssertEqual(xbar.scalars[j], t, accuracy: 1e-12, here)
        }
    }

    // MARK: - Finite differences

    func testAllreduceSumFiniteDifferences() throws {
        let comm = defaultComm
        let w = Self.replicatedWeights([2, 3], salt: 10)
        try checkGradient("allreduce sum (ShapedArray)", at: Self.pseudoArray([2, 3], rank: rank, salt: 11), comm: comm) { x in
            Autodiff.allreduce(x, op: .sum, comm: comm).dot(w)
        }
        let w1 = Self.replicatedWeights([4], salt: 12).scalars
        try checkGradient("allreduce sum ([T])", at: Self.pseudoArray([4], rank: rank, salt: 13).scalars, comm: comm) { x in
            let y = Autodiff.allreduce(x, op: .sum, comm: comm)
            return ShapedArray(shape: [4], scalars: y).dot(ShapedArray(w1))
        }
        try checkGradient("allreduce sum (scalar)", at: Self.pseudo(rank, 0, 14), comm: comm) { x in
            3 * Autodiff.allreduce(x, op: .sum, comm: comm)
        }
    }

    /// max and min with distinct values on every rank (no ties): the owner of each element varies.
    func testAllreduceMaxMinFiniteDifferences() throws {
        let comm = defaultComm
        let n = 3
        // Element i holds (rank + i) mod size + 0.1 i: distinct over ranks, one apart.
        let values = (0..<n).map { i in Double((rank + i) % size) + 0.1 * Double(i) }
        let w = Self.replicatedWeights([n], salt: 20)
        for op in [ReductionOp.max, .min] {
            try checkGradient("allreduce \(op) (ShapedArray)", at: ShapedArray(values), comm: comm) { x in
                Autodiff.allreduce(x, op: op, comm: comm).dot(w)
            }
            try checkGradient("allreduce \(op) ([T])", at: values, comm: comm) { x in
                ShapedArray(shape: [n], scalars: Autodiff.allreduce(x, op: op, comm: comm)).dot(w)
            }
            try checkGradient("allreduce \(op) (scalar)", at: values[1], comm: comm) { x in
                2 * Autodiff.allreduce(x, op: op, comm: comm)
            }
        }
    }

    /// max and min on ties: the lowest rank that holds the extreme gets the cotangent.
    func testAllreduceMaxMinTiesGoToTheLowestRank() throws {
        // Element 0: the same on every rank. Element 1: the extreme on the last two ranks.
        let top = rank >= size - 2 ? 5.0 : 1.0
        let x = ShapedArray<Double>([2, top])
        let w = ShapedArray<Double>([3, 7])
        let gmax = gradient(at: x) { x in Autodiff.allreduce(x, op: .max).dot(w) }
        XCTAssertEqual(gmax.scalars, [rank == 0 ? 3 : 0, rank == max(0, size - 2) ? 7 : 0], here)
        let bottom = ShapedArray<Double>([2, -top])
        let gmin = gradient(at: bottom) { x in Autodiff.allreduce(x, op: .min).dot(w) }
        XCTAssertEqual(gmin.scalars, [rank == 0 ? 3 : 0, rank == max(0, size - 2) ? 7 : 0], here)
    }

    /// The forward pass of a derivative makes the plain call's collectives only: rank 0 takes the
    /// value and pullback of allreduce-max (without calling the pullback) while the other ranks call
    /// it plainly, and the next collective still matches. The owner of each maximum was found in the
    /// forward pass, by a second allreduce that the other ranks' next collective then matched (an
    /// independent audit: wrong sums on every other rank and rank 0 waiting for ever, both libraries).
    func testAllreduceMaxForwardPassMakesThePlainCallsCollectivesOnly() throws {
        let x = ShapedArray<Double>([Double(rank), -Double(rank)])
        for op in [ReductionOp.max, .min] {
            let value: Double
            if rank == 0 {
                value = valueWithPullback(at: x) { x in Autodiff.allreduce(x, op: op).sum() }.value
            } else {
                value = Autodiff.allreduce(x, op: op).sum()
            }
            XCTAssertEqual(value, op == .max ? Double(size - 1) : -Double(size - 1), "\(op) \(here)")
            let (sum, _) = try MPI.allreduce(Int64(rank), op: .sum)
            XCTAssertEqual(sum, Int64(size * (size - 1) / 2), "\(op) \(here)")
        }
    }

    func testReduceFiniteDifferences() throws {
        let comm = defaultComm
        for root in roots(comm) {
            let w = Self.rankWeights([2, 2], rank: rank, salt: 70)
            try checkGradient("reduce root \(root) (ShapedArray)", at: Self.pseudoArray([2, 2], rank: rank, salt: 71), comm: comm) { x in
                Autodiff.allreduce(Autodiff.reduce(x, op: .sum, root: root, comm: comm).dot(w), op: .sum, comm: comm)
            }
            let w1 = Self.rankWeights([3], rank: rank, salt: 72)
            try checkGradient("reduce root \(root) ([T])", at: Self.pseudoArray([3], rank: rank, salt: 73).scalars, comm: comm) { x in
                let y = Autodiff.reduce(x, op: .sum, root: root, comm: comm)
                return Autodiff.allreduce(ShapedArray(shape: [3], scalars: y).dot(w1), op: .sum, comm: comm)
            }
            let w0 = Self.pseudo(rank, 0, 74)
            try checkGradient("reduce root \(root) (scalar)", at: Self.pseudo(rank, 0, 75), comm: comm) { x in
                Autodiff.allreduce(w0 * Autodiff.reduce(x, op: .sum, root: root, comm: comm), op: .sum, comm: comm)
            }
        }
    }

    func testScanFiniteDifferences() throws {
        let comm = defaultComm
        let w = Self.rankWeights([2, 3], rank: rank, salt: 80)
        try checkGradient("scan (ShapedArray)", at: Self.pseudoArray([2, 3], rank: rank, salt: 81), comm: comm) { x in
            Autodiff.allreduce(Autodiff.scan(x, op: .sum, comm: comm).dot(w), op: .sum, comm: comm)
        }
        let w1 = Self.rankWeights([2], rank: rank, salt: 82)
        try checkGradient("scan ([T])", at: Self.pseudoArray([2], rank: rank, salt: 83).scalars, comm: comm) { x in
            Autodiff.allreduce(ShapedArray(shape: [2], scalars: Autodiff.scan(x, op: .sum, comm: comm)).dot(w1), op: .sum, comm: comm)
        }
        let w0 = Self.pseudo(rank, 0, 84)
        try checkGradient("scan (scalar)", at: Self.pseudo(rank, 0, 85), comm: comm) { x in
            Autodiff.allreduce(w0 * Autodiff.scan(x, op: .sum, comm: comm), op: .sum, comm: comm)
        }
    }

    // MARK: - End to end

    /// Least squares with the data split over the ranks: loss = allreduce(local loss) / N,
    /// then the gradients allreduced, equals one rank over all the data.
    func testLeastSquaresGradientMatchesOneRank() throws {
        let comm = defaultComm
        let samples = 24, features = 3  // 24 rows split evenly over 1, 2, 3 or 4 ranks
        func row(_ i: Int) -> [Double] { (0..<features).map { Self.pseudo(i, $0, 130) } }
        func target(_ i: Int) -> Double { Self.pseudo(i, 0, 131) * 2 }
        let w = ShapedArray<Double>([0.3, -0.2, 0.5])

        let perRank = samples / size
        let mine = (rank * perRank)..<((rank + 1) * perRank)
        let xLocal = ShapedArray(shape: [perRank, features], scalars: mine.flatMap(row))
        let yLocal = ShapedArray(mine.map(target))
        let (loss, localGradient) = valueWithGradient(at: w) { w in
            let r = matvec(xLocal, w) - yLocal
            return Autodiff.allreduce(r.dot(r), op: .sum, comm: comm) / Double(samples)
        }
        let (distributed, _) = try allreduce(localGradient.materialized(shape: [features]), op: .sum, comm: comm)

        let xAll = ShapedArray(shape: [samples, features], scalars: (0..<samples).flatMap(row))
        let yAll = ShapedArray((0..<samples).map(target))
        let (serialLoss, serial) = valueWithGradient(at: w) { w in
            let r = matvec(xAll, w) - yAll
            return r.dot(r) / Double(samples)
        }
        let serialScalars = serial.materialized(shape: [features]).scalars
        let norm = sqrt(serialScalars.map { $0 * $0 }.reduce(0, +))
        let difference = sqrt(zip(distributed.scalars, serialScalars).map { ($0 - $1) * ($0 - $1) }.reduce(0, +))
        XCTAssertLessThanOrEqual(difference / norm, 1e-12, "gradient \(distributed.scalars) vs \(serialScalars) \(here)")
        XCTAssertEqual(loss, serialLoss, accuracy: 1e-12 * abs(serialLoss), here)
        if rank == 0 && environment("SWIFT_MPI_TEST_VERBOSE") != nil {
            print("least squares at size \(size): gradient relative error \(difference / norm), loss \(loss) vs \(serialLoss)")
        }
    }

    // MARK: - Forward mode

    /// valueWithDifferential on functions whose forward derivatives are the package's JVPs.
    func testForwardModeMatchesFiniteDifferences() throws {
        let comm = defaultComm
        let x = Self.pseudoArray([3], rank: rank, salt: 150)
        try checkDifferential("allreduce sum", at: x, comm: comm, probeAllreduceSum)
        let distinct = ShapedArray((0..<3).map { i in Double((rank + i) % size) + 0.1 * Double(i) })
        try checkDifferential("allreduce max", at: distinct, comm: comm, probeAllreduceMax)
        try checkDifferential("reduce", at: x, comm: comm, probeReduce)
        try checkDifferential("scan", at: x, comm: comm, probeScan)
    }

    /// The JVPs of the plain-array and scalar forms, called directly.
    func testForwardDerivativesOfArrayAndScalarForms() throws {
        let comm = defaultComm
        let a = Self.pseudoArray([3], rank: rank, salt: 160).scalars, v = Self.pseudoArray([3], rank: rank, salt: 161).scalars
        let (sum, dsum) = Autodiff.jvpAllreduce(a, op: .sum, comm: comm)
        let (vsum, _) = try allreduce(v, op: .sum, comm: comm)
        XCTAssertEqual(sum, try allreduce(a, op: .sum, comm: comm).0, here)
        for (d, e) in zip(dsum(.init(v)).base, vsum) { XCTAssertEqual(d, e, accuracy: 1e-12, here) }
        let (prefix, dprefix) = Autodiff.jvpScan(Double(rank), op: .sum, comm: comm)
        XCTAssertEqual(prefix, Double(rank * (rank + 1) / 2), here)
        XCTAssertEqual(dprefix(1), Double(rank + 1), here)
    }
}

// MARK: - Helpers with custom derivatives

/// A constant matrix times a differentiable vector.
@differentiable(reverse, wrt: x)
private func matvec(_ a: ShapedArray<Double>, _ x: ShapedArray<Double>) -> ShapedArray<Double> {
    let (m, n) = (a.shape[0], a.shape[1])
    var y = [Double](repeating: 0, count: m)
    for i in 0..<m { for j in 0..<n { y[i] += a[flat: i * n + j] * x[flat: j] } }
    return ShapedArray(y)
}

@derivative(of: matvec, wrt: x)
private func vjpMatvec(_ a: ShapedArray<Double>, _ x: ShapedArray<Double>)
    -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    let (m, n) = (a.shape[0], a.shape[1])
    return (matvec(a, x), { v in
        let ybar = v.materialized(shape: [m]).scalars
        var xbar = [Double](repeating: 0, count: n)
        for i in 0..<m { for j in 0..<n { xbar[j] += a[flat: i * n + j] * ybar[i] } }
        return .init(shape: [n], scalars: xbar)
    })
}

// Functions whose forward derivatives are the package's JVPs, for valueWithDifferential
// (the compiler cannot yet derive a forward derivative of a closure by itself).

private func probeAllreduceSum(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.allreduce(x, op: .sum) }
@derivative(of: probeAllreduceSum)
private func jvpProbeAllreduceSum(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpAllreduce(x, op: .sum, comm: nil)
}
@derivative(of: probeAllreduceSum)
private func vjpProbeAllreduceSum(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpAllreduce(x, op: .sum, comm: nil)
}

private func probeAllreduceMax(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.allreduce(x, op: .max) }
@derivative(of: probeAllreduceMax)
private func jvpProbeAllreduceMax(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpAllreduce(x, op: .max, comm: nil)
}
@derivative(of: probeAllreduceMax)
private func vjpProbeAllreduceMax(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpAllreduce(x, op: .max, comm: nil)
}

private func probeReduce(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.reduce(x, op: .sum, root: 0) }
@derivative(of: probeReduce)
private func jvpProbeReduce(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpReduce(x, op: .sum, root: 0, comm: nil)
}
@derivative(of: probeReduce)
private func vjpProbeReduce(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpReduce(x, op: .sum, root: 0, comm: nil)
}

private func probeScan(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.scan(x, op: .sum) }
@derivative(of: probeScan)
private func jvpProbeScan(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpScan(x, op: .sum, comm: nil)
}
@derivative(of: probeScan)
private func vjpProbeScan(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpScan(x, op: .sum, comm: nil)
}
