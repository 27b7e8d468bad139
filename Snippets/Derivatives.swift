// Differentiating through communication with DifferentiableMPI.
// Runs at any number of ranks; every result is checked.
// snippet.gradient
import DifferentiableMPI   // brings MPI and _Differentiation

// snippet.hide
let comm = try Communicator.default
let (rank, size) = (comm.rank, comm.size)
// snippet.show
let x = ShapedArray<Double>([1, 2, 3])
let g = gradient(at: x) { x in Autodiff.allreduce(x, op: .sum).sum() }
// g is [1.0, 1.0, 1.0] on every rank, whatever the number of ranks (as in mpi4jax).
// snippet.end

// snippet.forward
let direction = ShapedArray<Double>.TangentVector(ShapedArray([1, 0, 0]))
let (y, differential) = Autodiff.jvpScan(x, op: .sum, comm: comm)
let dy = differential(direction)   // a scan of the tangents: every rank calls it
// snippet.end

// snippet.data-parallel
// Each rank holds the parameters `w` and its own shard of the data.
let n = 4 * size   // samples over all ranks
let shard = ShapedArray(repeating: Double(rank + 1), shape: [4])
let w = ShapedArray<Double>([0.5, 0.25, 0.125, 1])

@differentiable(reverse, wrt: w)
func localLoss(_ w: ShapedArray<Double>, _ shard: ShapedArray<Double>) -> Double {
    let residual = w * shard
    return residual.dot(residual)
}

// A. The recipe of every data-parallel trainer:
//    a replicated loss, then allreduce the gradients.
let localGradient = gradient(at: w) { w in
    // The pullback of allreduce is the identity.
    Autodiff.allreduce(localLoss(w, shard), op: .sum) / Double(n)
}
let (gradientA, _) = try allreduce(
    localGradient.materialized(shape: w.shape), op: .sum)

// B. The same inside the backward pass:
//    the pullback of perRank is the allreduce.
let gradientB = gradient(at: w) { w in
    Autodiff.allreduce(localLoss(Autodiff.perRank(w), shard), op: .sum) / Double(n)
}
// snippet.end

// snippet.hide
func expect(_ ok: Bool, _ what: String) { precondition(ok, "Derivatives: \(what) on rank \(rank)") }
expect(g.materialized(shape: [3]).scalars == [1, 1, 1], "gradient of allreduce")
expect(y.scalars == x.scalars.map { $0 * Double(rank + 1) } && dy.materialized(shape: [3]).scalars[0] == Double(rank + 1), "jvpScan")
// d/dw_i of Σ_r Σ_i (w_i (r+1))² / n = 2 w_i Σ_r (r+1)² / n
let sumOfSquares = Double((1...size).map { $0 * $0 }.reduce(0, +))
let exact = w.scalars.map { 2 * $0 * sumOfSquares / Double(n) }
let b = gradientB.materialized(shape: w.shape).scalars
expect(zip(gradientA.scalars, exact).allSatisfy { abs($0 - $1) <= 1e-12 * abs($1) }, "recipe A")
expect(zip(b, exact).allSatisfy { abs($0 - $1) <= 1e-12 * abs($1) }, "recipe B")
