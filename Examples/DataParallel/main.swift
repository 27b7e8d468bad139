// Data-parallel training of a logistic regression with minibatch SGD.
//
//   mpirun -n 4 .build/debug/data-parallel [--epochs N] [--allreduce]
//
// The data set (6144 samples of 16 features, labels from a hidden linear model
// with noise) is generated deterministically from each sample's index, so each
// rank generates only its own shard. Every minibatch of 384 samples is 12
// blocks of 32; rank r of P owns blocks r·12/P ..< (r+1)·12/P of every
// minibatch, so 1, 2, 3, 4, 6 or 12 ranks train on exactly the same minibatches.
//
// Two ways to combine the ranks' work:
//
// * By default, in a fixed order: each rank differentiates the loss of each of
//   its blocks, the block results are allgathered, and every rank sums them in
//   block order. The sums are the same on any number of ranks, bit for bit, so
//   the loss curve is too.
// * With --allreduce, the textbook recipe with differentiable communication:
//   the loss is Autodiff.allreduce(local loss) / n, whose pullback is the
//   identity, so each rank's gradient is its local part, and the gradients are
//   then allreduced. MPI's sums group the terms by rank, so the curves of
//   different rank counts agree to rounding (about 1e-16), not bit for bit.
//
// Each epoch prints one line from rank 0: the loss and accuracy on the whole
// data set after the epoch, and the epoch's wall time.
import DifferentiableMPI  // MPI, Autodiff and _Differentiation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - Configuration

let features = 16
let blockSize = 32
let blocksPerBatch = 12
let batchSize = blockSize * blocksPerBatch
let batches = 16
let samples = batchSize * batches
let learningRate = 1.0

/// Prints `problem` and the usage to standard error and exits with status 2 (before MPI starts, so
/// every rank, reading the same arguments, exits alike).
func usage(_ problem: String) -> Never {
    let text = "data-parallel: \(problem)\nusage: data-parallel [--epochs N] [--allreduce]\n"
    _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    exit(2)
}

/// The command line: `--epochs N` (10 by default) and `--allreduce`.
func parseArguments() -> (epochs: Int, useAllreduce: Bool) {
    var epochs = 10
    var useAllreduce = false
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        switch argument {
        case "--epochs":
            guard let value = arguments.popFirst().flatMap({ Int($0) }), value > 0 else {
                usage("--epochs needs a positive whole number")
            }
            epochs = value
        case "--allreduce":
            useAllreduce = true
        case "-h", "--help":
            print("usage: data-parallel [--epochs N] [--allreduce]")
            exit(0)
        default:
            usage("unknown argument \(argument)")
        }
    }
    return (epochs, useAllreduce)
}
let (epochs, useAllreduce) = parseArguments()

let comm = try Communicator.default
let rank = comm.rank
let size = comm.size
guard blocksPerBatch % size == 0 else {
    if rank == 0 { print("data-parallel: the number of ranks must divide \(blocksPerBatch); got \(size)") }
    exit(1)
}
let blocksPerRank = blocksPerBatch / size

// MARK: - The data set

/// A 64-bit hash of a few integers (SplitMix64 steps): the data set's only source of randomness.
func hash(_ values: Int...) -> UInt64 {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for value in values {
        state = state &+ UInt64(bitPattern: Int64(value)) &* 0xBF58_476D_1CE4_E5B9
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        state = z ^ (z >> 31)
    }
    return state
}

/// A uniform number in [-1, 1) from a hash.
func uniform(_ values: Int...) -> Double {
    var state: UInt64 = 0
    for value in values { state = hash(Int(bitPattern: UInt(state)), value) }
    return Double(state >> 11) * 0x1p-52 - 1
}

/// The hidden model that labels the data.
let trueWeights = (0..<features).map { 2 * uniform(1, $0) }
let trueBias = 0.3

/// Sample `i`: its features and its label (1 when the hidden model plus noise is positive).
func sample(_ i: Int) -> (x: [Double], y: Double) {
    let x = (0..<features).map { uniform(2, i, $0) }
    var z = trueBias + 0.8 * uniform(3, i)
    for j in 0..<features { z += trueWeights[j] * x[j] }
    return (x, z > 0 ? 1 : 0)
}

/// A block of samples: features as a [blockSize, features] matrix, labels, and a column of ones.
struct Block {
    let x: ShapedArray<Double>
    let y: ShapedArray<Double>
    let ones: ShapedArray<Double>

    init(index: Int) {
        let rows = (0..<blockSize).map { sample(index * blockSize + $0) }
        x = ShapedArray(shape: [blockSize, features], scalars: rows.flatMap(\.x))
        y = ShapedArray(rows.map(\.y))
        ones = ShapedArray(repeating: 1, shape: [blockSize])
    }
}

/// This rank's shard: its blocks of every minibatch, in minibatch order.
let shard: [[Block]] = (0..<batches).map { batch in
    (0..<blocksPerRank).map { Block(index: batch * blocksPerBatch + rank * blocksPerRank + $0) }
}

// MARK: - The model

struct Model: Differentiable {
    var w: ShapedArray<Double>
    var b: Double
}

/// The matrix `a` (constant) times the vector `v`.
@differentiable(reverse, wrt: v)
func matvec(_ a: ShapedArray<Double>, _ v: ShapedArray<Double>) -> ShapedArray<Double> {
    let (m, n) = (a.shape[0], a.shape[1])
    var out = [Double](repeating: 0, count: m)
    a.withUnsafeBufferPointer { a in
        v.withUnsafeBufferPointer { v in
            for i in 0..<m {
                var t = 0.0
                for j in 0..<n { t += a[i * n + j] * v[j] }
                out[i] = t
            }
        }
    }
    return ShapedArray(out)
}

@derivative(of: matvec, wrt: v)
func vjpMatvec(_ a: ShapedArray<Double>, _ v: ShapedArray<Double>)
    -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    let (m, n) = (a.shape[0], a.shape[1])
    return (matvec(a, v), { cotangent in
        let c = cotangent.materialized(shape: [m]).scalars
        var out = [Double](repeating: 0, count: n)
        a.withUnsafeBufferPointer { a in
            for i in 0..<m { for j in 0..<n { out[j] += a[i * n + j] * c[i] } }
        }
        return .init(shape: [n], scalars: out)
    })
}

/// The summed logistic loss of logits `z` for labels `y`: Σ log(1 + e^z) − y z.
@differentiable(reverse, wrt: z)
func logisticLoss(_ z: ShapedArray<Double>, _ y: ShapedArray<Double>) -> Double {
    var total = 0.0
    for i in 0..<z.scalarCount {
        let v = z[flat: i]
        total += max(v, 0) + log1p(exp(-abs(v))) - y[flat: i] * v
    }
    return total
}

@derivative(of: logisticLoss, wrt: z)
func vjpLogisticLoss(_ z: ShapedArray<Double>, _ y: ShapedArray<Double>)
    -> (value: Double, pullback: (Double) -> ShapedArray<Double>.TangentVector) {
    (logisticLoss(z, y), { s in
        .init(shape: z.shape, scalars: (0..<z.scalarCount).map { i in s * (1 / (1 + exp(-z[flat: i])) - y[flat: i]) })
    })
}

/// The summed loss of one block.
@differentiable(reverse, wrt: model)
func blockLoss(_ model: Model, _ block: Block) -> Double {
    logisticLoss(matvec(block.x, model.w) + model.b * block.ones, block.y)
}

/// The number of correct predictions in a block.
func correct(_ model: Model, _ block: Block) -> Int {
    let z = matvec(block.x, model.w)
    var count = 0
    for i in 0..<blockSize {
        let predicted: Double = z[flat: i] + model.b > 0 ? 1 : 0
        if predicted == block.y[flat: i] { count += 1 }
    }
    return count
}

// MARK: - Combining the ranks' work

/// The sums over the blocks of one minibatch (or of the whole shard): rows of
/// [loss, gradient of w, gradient of b, correct] per block, allgathered and
/// summed in global block order, so the result does not depend on the number of ranks.
func orderedSum(_ rows: [[Double]]) throws -> [Double] {
    let width = rows[0].count
    let (all, _) = try allgather(ShapedArray(shape: [rows.count, width], scalars: rows.flatMap { $0 }))
    var total = [Double](repeating: 0, count: width)
    for row in 0..<(all.scalarCount / width) {
        for k in 0..<width { total[k] += all[flat: row * width + k] }
    }
    return total
}

/// One SGD step on a minibatch; returns the new model.
func step(_ model: Model, _ blocks: [Block]) throws -> Model {
    var next = model
    if useAllreduce {
        // The textbook recipe: the loss is replicated, each rank's gradient is its local part.
        let gradient = _Differentiation.gradient(at: model) { m in
            var local = 0.0
            for block in blocks { local += blockLoss(m, block) }
            return Autodiff.allreduce(local, op: .sum) / Double(batchSize)
        }
        let (gw, _) = try allreduce(gradient.w.materialized(shape: [features]), op: .sum)
        let (gb, _) = try allreduce(gradient.b, op: .sum)
        next.w.move(by: .init(-learningRate * gw))
        next.b -= learningRate * gb
    } else {
        // In a fixed order: one gradient per block, summed in block order.
        let rows = blocks.map { block -> [Double] in
            let g = _Differentiation.gradient(at: model) { m in blockLoss(m, block) }
            return g.w.materialized(shape: [features]).scalars + [g.b]
        }
        let total = try orderedSum(rows)
        next.w.move(by: .init(shape: [features], scalars: total[0..<features].map { -learningRate * $0 / Double(batchSize) }))
        next.b -= learningRate * total[features] / Double(batchSize)
    }
    return next
}

/// The mean loss and the accuracy on the whole data set.
func evaluate(_ model: Model) throws -> (loss: Double, accuracy: Double) {
    let blocks = shard.flatMap { $0 }
    let losses = blocks.map { blockLoss(model, $0) }
    let right = blocks.reduce(0) { $0 + correct(model, $1) }
    let (hits, _) = try allreduce(right, op: .sum)  // integers: exact in any order
    let loss: Double
    if useAllreduce {
        loss = try allreduce(losses.reduce(0, +) / Double(samples), op: .sum).0
    } else {
        // Block b of batch k is row k·blocksPerRank + b of this rank, which the
        // allgather places after the rows of the lower ranks: reorder to the
        // global block order before summing.
        let (all, _) = try allgather(ShapedArray(losses))
        var total = 0.0
        for batch in 0..<batches {
            for r in 0..<size {
                for b in 0..<blocksPerRank { total += all[flat: r * blocks.count + batch * blocksPerRank + b] }
            }
        }
        loss = total / Double(samples)
    }
    return (loss, Double(hits) / Double(samples))
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
}

// MARK: - Training

if rank == 0 {
    print("data-parallel logistic regression: \(samples) samples, \(features) features, \(size) rank(s), "
          + "minibatch \(batchSize), learning rate \(learningRate), "
          + (useAllreduce ? "textbook allreduce of gradients" : "gradients summed in block order"))
}
var model = Model(w: ShapedArray(repeating: 0, shape: [features]), b: 0)
let (initial, initialAccuracy) = try evaluate(model)
if rank == 0 { print("epoch 0 loss \(initial) accuracy \(initialAccuracy)") }
for epoch in 1...epochs {
    let start = now()
    for batch in 0..<batches {
        model = try step(model, shard[batch])
    }
    let (loss, accuracy) = try evaluate(model)
    let seconds = now() - start
    if rank == 0 {
        let rounded = (seconds * 1000).rounded() / 1000
        print("epoch \(epoch) loss \(loss) accuracy \(accuracy) time \(rounded) s")
    }
}
