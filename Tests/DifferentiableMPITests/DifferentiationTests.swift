// Tests of Differentiation.swift and ShapedArray+Differentiable.swift.
//
// Every rule is checked against central finite differences of a replicated
// scalar loss, in Double: for an output that differs between ranks,
// L = allreduce(Σ_r ⟨w_r, y_r⟩); for an output that is the same on every rank,
// L = ⟨w, y⟩ with the same w everywhere. Every rank steps through the same
// perturbations (each element of each rank in turn, only the owner perturbs),
// so every rank runs the same collectives in the same order. The forward
// derivatives are checked the same way, along a direction that every rank
// perturbs at once.
import Synchronization
import _Differentiation
@testable import DifferentiableMPI
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class DifferentiationTests: MPITestCase {
    /// The largest finite-difference error each test allows (relative to the largest gradient element).
    private let tolerance = 1e-6

    // MARK: - Values

    /// A deterministic value in [-1, 1] for element `i` of rank `rank`, varied by `salt`.
    private static func pseudo(_ rank: Int, _ i: Int, _ salt: Int) -> Double {
        sin(0.7 + 1.3 * Double(rank) + 0.37 * Double(i) + 2.1 * Double(salt))
    }

    private static func pseudoArray(_ shape: [Int], rank: Int, salt: Int) -> ShapedArray<Double> {
        ShapedArray(shape: shape, scalars: (0..<shape.reduce(1, *)).map { pseudo(rank, $0, salt) })
    }

    /// The same weights on every rank.
    private static func replicatedWeights(_ shape: [Int], salt: Int) -> ShapedArray<Double> {
        pseudoArray(shape, rank: 0, salt: salt + 1000)
    }

    /// Weights that differ between ranks.
    private static func rankWeights(_ shape: [Int], rank: Int, salt: Int) -> ShapedArray<Double> {
        pseudoArray(shape, rank: rank, salt: salt + 2000)
    }

    // MARK: - The finite-difference check

    /// The worst relative error of the gradient of `loss` at this rank's `x`
    /// against central differences, the same on every rank: the largest
    /// elementwise difference over all ranks, divided by the largest
    /// finite-difference gradient element over all ranks.
    private func gradientError<X: Differentiable>(
        at x: X, comm: Communicator, h: Double = 1e-3,
        flatten: (X) -> [Double], unflatten: ([Double]) -> X, tangentScalars: (X.TangentVector, Int) -> [Double],
        loss: @differentiable(reverse) (X) -> Double
    ) throws -> Double {
        let base = flatten(x)
        let ad = tangentScalars(gradient(at: x, of: loss), base.count)
        XCTAssertEqual(ad.count, base.count, "gradient size \(here)")
        let (longest, _) = try allreduce(base.count, op: .max, comm: comm)
        var fd = [Double](repeating: 0, count: base.count)
        for owner in 0..<comm.size {
            for i in 0..<longest {
                let mine = comm.rank == owner && i < base.count
                var plus = base, minus = base
                if mine {
                    plus[i] += h
                    minus[i] -= h
                }
                let lp = loss(unflatten(plus))
                let lm = loss(unflatten(minus))
                if mine { fd[i] = (lp - lm) / (2 * h) }
            }
        }
        let localError = zip(ad, fd).map { abs($0 - $1) }.max() ?? 0
        let localScale = fd.map(abs).max() ?? 0
        let (error, _) = try allreduce(localError, op: .max, comm: comm)
        let (scale, _) = try allreduce(localScale, op: .max, comm: comm)
        XCTAssertGreaterThan(scale, 0, "the loss does not depend on the input: the check would prove nothing \(here)")
        return error / max(scale, .leastNormalMagnitude)
    }

    /// Checks the gradient with respect to a ``ShapedArray`` input.
    private func checkGradient(
        _ name: String, at x: ShapedArray<Double>, comm: Communicator, h: Double = 1e-3,
        file: StaticString = #filePath, line: UInt = #line,
        loss: @differentiable(reverse) (ShapedArray<Double>) -> Double
    ) throws {
        let shape = x.shape
        let error = try gradientError(
            at: x, comm: comm, h: h, flatten: { $0.scalars }, unflatten: { ShapedArray(shape: shape, scalars: $0) },
            tangentScalars: { g, n in g.materialized(shape: shape).scalars }, loss: loss)
        record(name, error)
        XCTAssertLessThanOrEqual(error, tolerance, "\(name) \(here)", file: file, line: line)
    }

    /// Checks the gradient with respect to a plain-array input.
    private func checkGradient(
        _ name: String, at x: [Double], comm: Communicator,
        file: StaticString = #filePath, line: UInt = #line,
        loss: @differentiable(reverse) ([Double]) -> Double
    ) throws {
        let error = try gradientError(
            at: x, comm: comm, flatten: { $0 }, unflatten: { $0 },
            tangentScalars: { g, n in g.base.isEmpty ? [Double](repeating: 0, count: n) : g.base }, loss: loss)
        record(name, error)
        XCTAssertLessThanOrEqual(error, tolerance, "\(name) \(here)", file: file, line: line)
    }

    /// Checks the gradient with respect to a scalar input.
    private func checkGradient(
        _ name: String, at x: Double, comm: Communicator,
        file: StaticString = #filePath, line: UInt = #line,
        loss: @differentiable(reverse) (Double) -> Double
    ) throws {
        let error = try gradientError(
            at: x, comm: comm, flatten: { [$0] }, unflatten: { $0[0] }, tangentScalars: { g, _ in [g] }, loss: loss)
        record(name, error)
        XCTAssertLessThanOrEqual(error, tolerance, "\(name) \(here)", file: file, line: line)
    }

    /// Prints the measured error once per check (rank 0), for the record.
    private func record(_ name: String, _ error: Double) {
        if rank == 0 && environment("SWIFT_MPI_TEST_VERBOSE") != nil {
            print("finite-difference check \(name) at size \(size): relative error \(error)")
        }
    }

    /// Roots worth checking: the first and the last rank.
    private func roots(_ comm: Communicator) -> [Int] { Array(Set([0, comm.size - 1])).sorted() }

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

    /// perRank: a replicated value that meets per-rank data gets the whole
    /// derivative back, so chained allreduces differentiate exactly.
    func testPerRankMakesChainedAllreducesExact() throws {
        let comm = defaultComm
        let w = Self.replicatedWeights([3], salt: 6)
        try checkGradient("allreduce(perRank(allreduce(x)) * x)", at: Self.pseudoArray([3], rank: rank, salt: 7), comm: comm) { x in
            let y = Autodiff.perRank(Autodiff.allreduce(x, op: .sum, comm: comm), comm: comm)
            return Autodiff.allreduce(y * x, op: .sum, comm: comm).dot(w)
        }
        let g = gradient(at: ShapedArray<Double>([1, 2])) { x in
            Autodiff.allreduce(Autodiff.perRank(Autodiff.allreduce(x, op: .sum, comm: comm), comm: comm), op: .sum, comm: comm).sum()
        }
        XCTAssertEqual(g.scalars, [Double(size), Double(size)], here)
        // The plain-array and scalar forms; the scalar one is the data-parallel
        // recipe with replicated parameters: the gradient of the whole loss.
        let a = gradient(at: [1.0, 2.0]) { a in
            let y = Autodiff.perRank(a, comm: comm)
            return Autodiff.allreduce(y[0] * 3 + y[1], op: .sum, comm: comm)
        }
        XCTAssertEqual(a.base, [3 * Double(size), Double(size)], here)
        let samples = [Double(rank + 1), Double(2 * rank)]
        let s = gradient(at: 0.5) { w in
            let v = Autodiff.perRank(w, comm: comm)
            return Autodiff.allreduce(v * v * samples[0] + v * samples[1], op: .sum, comm: comm)
        }
        // d/dw Σ_r (w² (r + 1) + 2 r w) at w = 0.5: Σ_r ((r + 1) + 2 r).
        var expected = 0.0
        for r in 0..<size { expected += Double(3 * r + 1) }
        XCTAssertEqual(s, expected, accuracy: 1e-12, here)
    }

    /// mpi4jax: for (sendrecv(v, v, other, other) * (rank + 1)).sum() on 2 ranks,
    /// rank 0's gradient is 2 and rank 1's is 1. Run on pairs of ranks (0, 1),
    /// (2, 3); a rank left without a partner (at sizes 1 and 3) has nothing to check.
    func testSendrecvPairGradient() throws {
        let pair = try world.split(color: rank / 2, key: rank)
        if pair.size == 2 {
            let me = pair.rank, other = 1 - me
            let v = ShapedArray<Double>([1, 1, 1])
            let g = gradient(at: v) { v in
                (Double(me + 1) * Autodiff.sendrecv(v, v, source: other, dest: other, comm: pair)).sum()
            }
            XCTAssertEqual(g.scalars, Array(repeating: Double(2 - me), count: 3), here)
        } else {
            XCTAssertTrue(size == 1 || (size == 3 && rank == 2), "only a rank without a partner has nothing to check \(here)")
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

    // MARK: - Finite-difference checks of every rule

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

    func testSendrecvFiniteDifferences() throws {
        let comm = defaultComm
        let (left, right) = ((rank + size - 1) % size, (rank + 1) % size)
        // A ring: send 4 elements to the right, receive the left neighbour's 4
        // as a 2 x 2 array, so the send and receive shapes differ.
        let w = Self.rankWeights([2, 2], rank: rank, salt: 100)
        let x = Self.pseudoArray([4], rank: rank, salt: 101)
        try checkGradient("sendrecv ring (ShapedArray)", at: x, comm: comm) { x in
            let y = Autodiff.sendrecv(x, ShapedArray(repeating: 0, shape: [2, 2]), source: left, dest: right, sendtag: 5, recvtag: 5, comm: comm)
            return Autodiff.allreduce(y.dot(w), op: .sum, comm: comm)
        }
        // Wildcards: the transpose uses the source and tag of the message that arrived.
        let tag = 3 + rank
        try checkGradient("sendrecv anySource anyTag (ShapedArray)", at: x, comm: comm) { x in
            let y = Autodiff.sendrecv(x, ShapedArray(repeating: 0, shape: [2, 2]), source: anySource, dest: right, sendtag: tag, comm: comm)
            return Autodiff.allreduce(y.dot(w), op: .sum, comm: comm)
        }
        let w1 = Self.rankWeights([3], rank: rank, salt: 102)
        try checkGradient("sendrecv ring ([T])", at: Self.pseudoArray([3], rank: rank, salt: 103).scalars, comm: comm) { x in
            let y = Autodiff.sendrecv(x, [0, 0, 0], source: right, dest: left, comm: comm)
            return Autodiff.allreduce(ShapedArray(shape: [3], scalars: y).dot(w1), op: .sum, comm: comm)
        }
        let w0 = Self.pseudo(rank, 0, 104)
        try checkGradient("sendrecv ring (scalar)", at: Self.pseudo(rank, 0, 105), comm: comm) { x in
            Autodiff.allreduce(w0 * Autodiff.sendrecv(x, 0, source: left, dest: right, comm: comm), op: .sum, comm: comm)
        }
    }

    /// A sub-communicator: every rule on the ranks of one half of the world.
    func testRulesOnASubCommunicator() throws {
        let half = try world.split(color: rank % 2, key: -rank)
        let me = half.rank, n = half.size
        let w = Self.rankWeights([2], rank: me, salt: 110)
        try checkGradient("scan and reduce on a split communicator with the ranks reversed", at: Self.pseudoArray([2], rank: me, salt: 111), comm: half) { x in
            Autodiff.allreduce(Autodiff.reduce(Autodiff.scan(x, op: .sum, comm: half), op: .sum, root: n - 1, comm: half).dot(w),
                               op: .sum, comm: half)
        }
    }

    /// A rank whose result does not reach its loss gets a symbolic zero
    /// cotangent; the pullback turns it into zeros of the right shape before it communicates.
    func testZeroCotangentIsMaterialisedBeforeCommunicating() throws {
        let comm = defaultComm
        for root in roots(comm) {
            let w = Self.rankWeights([size, 2], rank: rank, salt: 120)
            try checkGradient("gather root \(root), output used on the root only", at: Self.pseudoArray([2], rank: rank, salt: 121), comm: comm) { x in
                let y = Autodiff.gather(x, root: root, comm: comm)
                var local = 0.0
                if comm.rank == root { local = y.dot(w) }
                return Autodiff.allreduce(local, op: .sum, comm: comm)
            }
            try checkGradient("reduce root \(root), output used on the root only", at: Self.pseudoArray([2], rank: rank, salt: 122), comm: comm) { x in
                let y = Autodiff.reduce(x, op: .sum, root: root, comm: comm)
                var local = 0.0
                if comm.rank == root { local = y.sum() }
                return Autodiff.allreduce(local, op: .sum, comm: comm)
            }
            try checkGradient("scatter root \(root), output used off the root only", at: Self.pseudoArray(rank == root ? [size, 2] : [2], rank: rank, salt: 123), comm: comm) { x in
                let y = Autodiff.scatter(x, root: root, comm: comm)
                var local = 0.0
                if comm.rank != root || comm.size == 1 { local = y.sum() }
                return Autodiff.allreduce(local, op: .sum, comm: comm)
            }
        }
        // The same for a plain array: the empty view is the zero tangent.
        try checkGradient("scan ([T]), output used on rank 0 only", at: Self.pseudoArray([2], rank: rank, salt: 124).scalars, comm: comm) { x in
            let y = Autodiff.scan(x, op: .sum, comm: comm)
            var local = 0.0
            if comm.rank == 0 { local = y[0] + 2 * y[1] }
            return Autodiff.allreduce(local, op: .sum, comm: comm)
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

    /// The forward derivative along a direction `v` (each rank its own part) against central differences.
    private func checkDifferential(
        _ name: String, at x: ShapedArray<Double>, h: Double = 1e-3, comm: Communicator,
        file: StaticString = #filePath, line: UInt = #line,
        _ f: @differentiable(reverse) (ShapedArray<Double>) -> ShapedArray<Double>
    ) throws {
        let v = Self.pseudoArray(x.shape, rank: rank, salt: 140)
        let (y, differential) = valueWithDifferential(at: x, of: f)
        let dy = differential(.init(v)).materialized(shape: y.shape).scalars
        let plus = f(x + h * v), minus = f(x - h * v)
        let fd = zip(plus.scalars, minus.scalars).map { ($0 - $1) / (2 * h) }
        XCTAssertEqual(dy.count, fd.count, "\(name) \(here)", file: file, line: line)
        let (error, _) = try allreduce(zip(dy, fd).map { abs($0 - $1) }.max() ?? 0, op: .max, comm: comm)
        let (scale, _) = try allreduce(fd.map(abs).max() ?? 0, op: .max, comm: comm)
        let relative = error / max(scale, .leastNormalMagnitude)
        if rank == 0 && environment("SWIFT_MPI_TEST_VERBOSE") != nil {
            print("forward-mode check \(name) at size \(size): relative error \(relative)")
        }
        XCTAssertGreaterThan(scale, 0, "\(name) \(here)", file: file, line: line)
        XCTAssertLessThanOrEqual(relative, tolerance, "\(name) \(here)", file: file, line: line)
    }

    /// valueWithDifferential on functions whose forward derivatives are the package's JVPs.
    func testForwardModeMatchesFiniteDifferences() throws {
        let comm = defaultComm
        let x = Self.pseudoArray([3], rank: rank, salt: 150)
        try checkDifferential("allreduce sum", at: x, comm: comm, probeAllreduceSum)
        let distinct = ShapedArray((0..<3).map { i in Double((rank + i) % size) + 0.1 * Double(i) })
        try checkDifferential("allreduce max", at: distinct, comm: comm, probeAllreduceMax)
        try checkDifferential("allgather", at: x, comm: comm, probeAllgather)
        try checkDifferential("alltoall", at: Self.pseudoArray([size, 2], rank: rank, salt: 151), comm: comm, probeAlltoall)
        try checkDifferential("bcast", at: x, comm: comm, probeBcast)
        try checkDifferential("gather", at: x, comm: comm, probeGather)
        try checkDifferential("reduce", at: x, comm: comm, probeReduce)
        try checkDifferential("scan", at: x, comm: comm, probeScan)
        try checkDifferential("scatter", at: Self.pseudoArray(rank == size - 1 ? [size, 2] : [2], rank: rank, salt: 152), comm: comm, probeScatter)
        try checkDifferential("sendrecv", at: x, comm: comm, probeSendrecv)
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
        let (gathered, dgathered) = Autodiff.jvpAllgather(Double(rank), comm: comm)
        XCTAssertEqual(gathered.scalars, (0..<size).map(Double.init), here)
        XCTAssertEqual(dgathered(2).materialized(shape: [size]).scalars, Array(repeating: 2, count: size), here)
        let left: Int = (rank + size - 1) % size
        let right: Int = (rank + 1) % size
        let mine: [Double] = [Double(rank)]
        let (received, dreceived) = Autodiff.jvpSendrecv(mine, [0.0], source: left, dest: right, sendtag: 0, recvtag: anyTag, comm: comm)
        XCTAssertEqual(received, [Double(left)], here)
        let tangent = Array<Double>.TangentVector([Double(10 * rank)])
        XCTAssertEqual(dreceived(tangent, .zero).base, [Double(10 * left)], here)
    }

    // MARK: - Tangent vectors and the local operations

    func testTangentVectorZeroKeepsTheShapeOutOfTheWay() {
        typealias TV = ShapedArray<Double>.TangentVector
        let a = TV(shape: [2], scalars: [1, 2])
        XCTAssertTrue(TV.zero.isSymbolicZero)
        XCTAssertNil(TV.zero.shape)
        XCTAssertEqual((a + .zero).shape, [2])
        XCTAssertEqual((TV.zero + a).scalars, [1, 2])
        XCTAssertEqual((TV.zero - a).scalars, [-1, -2])
        XCTAssertEqual((a - .zero).scalars, [1, 2])
        XCTAssertEqual(TV.zero.materialized(shape: [2, 3]), ShapedArray(repeating: 0, shape: [2, 3]))
        XCTAssertEqual(TV.zero, TV.zeros(shape: [4]))
        XCTAssertNotEqual(TV.zero, a)
        XCTAssertEqual((0.5 * a).scalars, [0.5, 1])
        XCTAssertNil(TV.zero.array)
        XCTAssertEqual(a.array, ShapedArray([1, 2]))
        var x = ShapedArray<Double>([1, 1])
        x.move(by: .zero)
        XCTAssertEqual(x.scalars, [1, 1])
        x.move(by: a)
        XCTAssertEqual(x.scalars, [2, 3])
        XCTAssertEqual("\(TV.zero)", "zero")
        XCTAssertEqual("\(a)", "[1.0, 2.0]")
    }

    func testLocalOperationsMatchFiniteDifferences() throws {
        // One rank's computation: a communicator of size 1.
        let single = try world.split(color: rank, key: 0)
        let x = Self.pseudoArray([2, 3], rank: rank, salt: 170)
        let c = Self.pseudoArray([2, 3], rank: rank, salt: 171)
        try checkGradient("sum, dot, +, -, *, scale", at: x, comm: single, h: 1e-5) { x in
            (x * c + 2 * x - c).sum() + x.dot(x) + (0.5 * x).dot(c)
        }
        try checkGradient("reshaped, subscript, scalars, init", at: x, comm: single, h: 1e-5) { x in
            let r = x.reshaped(to: [3, 2])
            let s = r.scalars
            return r[flat: 4] * 3 + s[1] * s[2] + ShapedArray(shape: [6], scalars: s).dot(ShapedArray(c.scalars))
        }
        let (value, differential) = valueWithDifferential(at: x, of: probeLocal)
        XCTAssertEqual(value, probeLocal(x))
        let v = Self.pseudoArray([2, 3], rank: rank, salt: 172)
        let h = 1e-4
        let fd = (probeLocal(x + h * v) - probeLocal(x - h * v)) / (2 * h)
        XCTAssertEqual(differential(.init(v)), fd, accuracy: 1e-7 * max(1, abs(fd)), here)
    }

    // MARK: - The pullback checks

    /// A thread-safe list of reports.
    final class Reports: Sendable {
        private let messages = Mutex<[String]>([])
        func append(_ message: String) { messages.withLock { $0.append(message) } }
        var all: [String] { messages.withLock { $0 } }
    }

    private func withPullbackChecks(timeout: Double, _ body: (Reports, Reports) throws -> Void) rethrows {
        let mismatches = Reports(), timeouts = Reports()
        PullbackChecks.resetCounts()
        PullbackChecks.setHandlers(mismatch: { mismatches.append($0) }, timeout: { timeouts.append($0) })
        let (wasEnabled, oldTimeout) = (PullbackChecks.isEnabled, PullbackChecks.timeout)
        PullbackChecks.isEnabled = true
        PullbackChecks.timeout = timeout
        defer {
            PullbackChecks.isEnabled = wasEnabled
            PullbackChecks.timeout = oldTimeout
            PullbackChecks.resetCounts()
        }
        try body(mismatches, timeouts)
    }

    /// With every rank in the same pullbacks, the checks agree and the gradients are unchanged.
    func testPullbackChecksPassWhenEveryRankRunsThePullbacks() throws {
        let comm = defaultComm
        let w = Self.rankWeights([2 * size], rank: rank, salt: 180)
        let x = Self.pseudoArray([size, 2], rank: rank, salt: 181)
        let (flat, last) = (2 * size, size - 1)
        let loss: @differentiable(reverse) (ShapedArray<Double>) -> Double = { x in
            let a = Autodiff.alltoall(x, comm: comm)
            let p = Autodiff.scan(a, op: .sum, comm: comm).reshaped(to: [flat])
            let r = Autodiff.reduce(p, op: .sum, root: last, comm: comm)
            let g = Autodiff.gather(r, root: 0, comm: comm)
            let s = Autodiff.scatter(g, root: 0, comm: comm)
            return Autodiff.allreduce(s.dot(w), op: .sum, comm: comm)
        }
        let unchecked = gradient(at: x, of: loss)
        withPullbackChecks(timeout: 30) { mismatches, timeouts in
            let checked = gradient(at: x, of: loss)
            XCTAssertEqual(checked, unchecked, here)
            XCTAssertEqual(mismatches.all, [], here)
            XCTAssertEqual(timeouts.all, [], here)
        }
    }

    /// A rank that skipped a collective pullback is caught at the next one, on every rank.
    func testPullbackChecksReportASkippedPullback() throws {
        let comm = defaultComm
        withPullbackChecks(timeout: 30) { mismatches, _ in
            if rank == size - 1 { PullbackChecks.simulateSkippedPullback(on: comm) }
            let (_, pullback) = valueWithPullback(at: ShapedArray<Double>([1, 2])) { x in
                Autodiff.gather(x, root: 0, comm: comm)
            }
            _ = pullback(.zeros(shape: rank == 0 ? [size, 2] : [2]))
            let reports = mismatches.all
            if size > 1 {
                XCTAssertEqual(reports.count, 1, here)
                let message = reports.first ?? ""
                for piece in ["rank \(rank)", "pullback of gather", "#1 to #2", "skipped a pullback"] {
                    XCTAssertTrue(message.contains(piece), "'\(message)' lacks '\(piece)' \(here)")
                }
            } else {
                XCTAssertEqual(reports, [], "one rank cannot disagree with itself \(here)")
            }
        }
    }

    /// Ranks in different primitives' pullbacks with the same number disagree too.
    func testPullbackChecksCompareThePrimitives() {
        let comm = defaultComm
        let mine = rank == 0 ? "gather" : "scan"
        let message = PullbackChecks.disagreement(operation: mine, sequence: 1, comm: comm)
        if size > 1 {
            XCTAssertNotNil(message, here)
            for piece in ["rank \(rank)", "pullback of \(mine)", "#1 to #1", "gather and scan"] {
                XCTAssertTrue(message?.contains(piece) ?? false, "'\(message ?? "")' lacks '\(piece)' \(here)")
            }
        } else {
            XCTAssertNil(message, here)
        }
        XCTAssertNil(PullbackChecks.disagreement(operation: "reduce", sequence: 7, comm: comm), here)
    }

    /// A rank that waits in a pullback for another rank reports where it waits, and then completes.
    func testPullbackWatchdogReportsWhereARankWaits() throws {
        let comm = defaultComm
        try withPullbackChecks(timeout: 0.2) { _, timeouts in
            let (_, pullback) = valueWithPullback(at: ShapedArray<Double>([1, 2, 3])) { x in
                Autodiff.scan(x, op: .sum, comm: comm)
            }
            // Rank 0 arrives late to the pullback; the others wait for it.
            if rank == 0 { usleep(1_000_000) }
            let g = pullback(.init(ShapedArray<Double>([1, 1, 1])))
            XCTAssertEqual(g.scalars, Array(repeating: Double(size - rank), count: 3), here)
            let reports = timeouts.all
            if rank != 0 {
                XCTAssertFalse(reports.isEmpty, "rank \(rank) waited 1 s with a timeout of 0.2 s \(here)")
                let message = reports.first ?? ""
                for piece in ["rank \(rank)", "pullback of scan", "#1"] {
                    XCTAssertTrue(message.contains(piece), "'\(message)' lacks '\(piece)' \(here)")
                }
            }
            try barrier(comm: comm)
        }
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

private var lastRank: Int { Communicator.world.size - 1 }

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

private func probeScatter(_ x: ShapedArray<Double>) -> ShapedArray<Double> { Autodiff.scatter(x, root: lastRank) }
@derivative(of: probeScatter)
private func jvpProbeScatter(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.jvpScatter(x, root: lastRank, comm: nil)
}
@derivative(of: probeScatter)
private func vjpProbeScatter(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    Autodiff.vjpScatter(x, root: lastRank, comm: nil)
}

private var ringSource: Int { (Communicator.world.rank + Communicator.world.size - 1) % Communicator.world.size }
private var ringDest: Int { (Communicator.world.rank + 1) % Communicator.world.size }

private func probeSendrecv(_ x: ShapedArray<Double>) -> ShapedArray<Double> {
    Autodiff.sendrecv(x, x, source: ringSource, dest: ringDest)
}
@derivative(of: probeSendrecv)
private func jvpProbeSendrecv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    let (value, differential) = Autodiff.jvpSendrecv(x, x, source: ringSource, dest: ringDest, sendtag: 0, recvtag: anyTag, comm: nil)
    return (value, { t in differential(t, t) })
}
@derivative(of: probeSendrecv)
private func vjpProbeSendrecv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    let (value, pullback) = Autodiff.vjpSendrecv(x, x, source: ringSource, dest: ringDest, sendtag: 0, recvtag: anyTag, comm: nil)
    return (value, { v in let (s, r) = pullback(v); return s + r })
}

/// The local operations, for the forward-mode check: every JVP of ShapedArray+Differentiable.swift composed by hand.
private func probeLocal(_ x: ShapedArray<Double>) -> Double {
    let c = ShapedArray<Double>(shape: [2, 3], scalars: [1, -2, 3, 0.5, 2, -1])
    return ((x * c + 2 * x - c).reshaped(to: [6]) + ShapedArray(shape: [6], scalars: x.scalars)).sum() + x.dot(x) + x[flat: 2]
}
@derivative(of: probeLocal)
private func jvpProbeLocal(_ x: ShapedArray<Double>) -> (value: Double, differential: (ShapedArray<Double>.TangentVector) -> Double) {
    let c = ShapedArray<Double>(shape: [2, 3], scalars: [1, -2, 3, 0.5, 2, -1])
    let (xc, dxc) = ShapedArray.jvpMultiply(x, c)
    let (twoX, dTwoX) = ShapedArray.jvpScale(2, x)
    let (sum1, dSum1) = ShapedArray.jvpAdd(xc, twoX)
    let (diff, dDiff) = ShapedArray.jvpSubtract(sum1, c)
    let (flat, dFlat) = diff.jvpReshaped(to: [6])
    let (s, dS) = x.jvpScalars()
    let (rebuilt, dRebuilt) = ShapedArray.jvpInit(shape: [6], scalars: s)
    let (total, dTotal) = ShapedArray.jvpAdd(flat, rebuilt)
    let (summed, dSummed) = total.jvpSum()
    let (xx, dXX) = x.jvpDot(x)
    let (element, dElement) = x.jvpSubscript(flat: 2)
    return (summed + xx + element, { t in
        let a = dFlat(dDiff(dSum1(dxc(t, .zero), dTwoX(0, t)), .zero))
        let b = dRebuilt(dS(t))
        return dSummed(dTotal(a, b)) + dXX(t, t) + dElement(t)
    })
}
@derivative(of: probeLocal)
private func vjpProbeLocal(_ x: ShapedArray<Double>) -> (value: Double, pullback: (Double) -> ShapedArray<Double>.TangentVector) {
    valueWithPullback(at: x) { x in
        let c = ShapedArray<Double>(shape: [2, 3], scalars: [1, -2, 3, 0.5, 2, -1])
        return ((x * c + 2 * x - c).reshaped(to: [6]) + ShapedArray(shape: [6], scalars: x.scalars)).sum() + x.dot(x) + x[flat: 2]
    }
}
