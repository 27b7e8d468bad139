import CMPI
import Synchronization
import _Differentiation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Differentiable communication.
//
// The convention is mpi4jax's: the differentiated quantity is one scalar,
// replicated on every rank, and every rank runs the same backward pass.
//
// * An output that is the same on every rank (allreduce, allgather, bcast)
//   carries a cotangent that is the same on every rank: the whole derivative of
//   the loss with respect to that output. Its pullback does not sum across
//   ranks; each rank takes the part of the cotangent that belongs to its input.
// * An output that differs between ranks (alltoall, gather, reduce, scan,
//   scatter, sendrecv) carries each rank's own cotangent, and its pullback is
//   the exact transpose of the distributed linear map, with communication.
// * `perRank` marks a replicated value that meets per-rank data; its pullback
//   sums the per-rank cotangents back into the whole derivative.
//
// The derivatives are registered on the functions of `Autodiff`, which are the
// primitives without `throws` and without tokens. Two defects of Swift 6.3's
// differentiation transform rule out registering them on the throwing
// primitives themselves (see docs/differentiation.md): a derivative of a
// generic function that returns `(ShapedArray<T>, Token)` crashes the compiler,
// and calling a throwing differentiable function whose tangent is a struct of
// arrays miscompiles in debug builds (a use after free or a compiler crash).
// So `Autodiff` stops the process with a clear message where the primitives
// would throw.

// MARK: - The namespace

/// The differentiable forms of the communication primitives.
///
/// Each function here is the primitive of the same name, differentiable with
/// respect to its data argument, in reverse mode (`gradient(at:of:)`,
/// `valueWithPullback(at:of:)`) and forward mode (`valueWithDifferential(at:of:)`
/// on a function whose forward derivative is registered; see
/// docs/differentiation.md). They take no token and return no token, and they
/// do not throw: an error that the primitive would throw (a bad root, a wrong
/// shape, an MPI failure) stops the process with a message that names the
/// operation and the rank. Call them on every rank in the same order, as any
/// collective.
///
/// ```swift
/// import _Differentiation
/// import MPI
///
/// let x = ShapedArray<Double>([1, 2, 3])
/// let g = gradient(at: x) { x in Autodiff.allreduce(x, op: .sum).sum() }
/// // g is [1.0, 1.0, 1.0] on every rank, whatever the number of ranks.
/// ```
///
/// The rules, derived from the convention that the differentiated quantity is
/// one scalar replicated on every rank:
///
/// | primitive | JVP | VJP | communication in the pullback |
/// |---|---|---|---|
/// | `allreduce` `.sum` | allreduce of the tangent | identity | none |
/// | `allreduce` `.max`, `.min` | allreduce-sum of the owner's tangent | cotangent on the owner of the extreme (lowest rank on ties), zero elsewhere | none (the owner is found in the forward pass) |
/// | `allgather` | allgather of the tangent | this rank's block of the cotangent | none |
/// | `alltoall` | alltoall of the tangent | alltoall of the cotangent | alltoall |
/// | `bcast` | bcast of the tangent | the cotangent on the root, zero elsewhere | none |
/// | `gather` | gather of the tangent | scatter of the root's cotangent, plus the own cotangent off the root | scatter |
/// | `reduce` `.sum` | reduce of the tangent | bcast of the root's cotangent, plus the own cotangent off the root | bcast |
/// | `scan` `.sum` | scan of the tangent | suffix sum of the cotangents over ranks | split + scan |
/// | `scatter` | scatter of the tangent | gather of the cotangents to the root, zero elsewhere | gather |
/// | `sendrecv` | sendrecv of the tangent | sendrecv with source and dest swapped | sendrecv |
/// | `perRank` | the tangent | allreduce-sum of the cotangent | allreduce |
public enum Autodiff {}

// MARK: - Failures

/// The rank to name in a message: this rank in `comm`, or in the default communicator
/// (whose ranks are the world's: reading the world makes no collective call, whereas
/// the default communicator's first use is one, which a failing rank must not make alone).
func rankDescription(_ comm: Communicator?) -> String {
    "\((comm ?? Communicator.world).rank)"
}

/// Stops the process: `what` (for example "the pullback of gather") failed on this rank.
func stopDifferentiation(_ what: String, _ comm: Communicator?, _ error: any Error) -> Never {
    fatalError("swift-mpi: rank \(rankDescription(comm)): \(what) failed: \(error)")
}

/// Runs a primitive where nothing can throw: a failure stops the process with a message naming `what`.
func performOrStop<R>(_ what: String, _ comm: Communicator?, _ body: () throws -> R) -> R {
    do {
        return try body()
    } catch {
        stopDifferentiation(what, comm, error)
    }
}

/// Stops the process: `op` is not differentiable for this primitive.
func stopNotDifferentiable(_ operation: String, _ op: ReductionOp, allowed: String, _ comm: Communicator) -> Never {
    fatalError(
        "swift-mpi: rank \(comm.rank): \(operation) with op '\(op)' is not differentiable "
            + "(differentiable: \(allowed))")
}

/// Runs the communication of a pullback. Pullbacks cannot throw, so a failure
/// stops the process with a message naming the operation and the rank. When
/// ``PullbackChecks`` are enabled and `checked` is true, the ranks first agree
/// that they are all in this pullback, and a watchdog reports a rank that waits too long.
func runPullback<R>(_ operation: String, _ comm: Communicator, checked: Bool = true, _ body: () throws -> R) -> R {
    let watchdog = checked ? PullbackChecks.enter(operation: operation, comm: comm) : nil
    defer { watchdog?.finish() }
    do {
        return try body()
    } catch {
        stopDifferentiation("the pullback of \(operation)", comm, error)
    }
}

// MARK: - Rules

/// The value of a linear primitive with its pullback and differential, on flat element arrays.
///
/// `pullback` maps the output's cotangent (as many elements as `value`) to the
/// input's cotangent; `differential` maps the input's tangent to the output's.
/// Both communicate where the rule says so.
struct LinearRule<T: DifferentiableMPIScalar> {
    let operation: String
    let value: ShapedArray<T>
    let inputShape: [Int]
    let pullback: ([T]) -> [T]
    let differential: ([T]) -> [T]

    // ShapedArray in, ShapedArray out.
    func shapedVJP() -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        let outShape = value.shape, inShape = inputShape, pullback = pullback, name = "the pullback of \(operation)"
        return (value, { v in
            ShapedArray<T>.TangentVector(_uncheckedShape: inShape, scalars: pullback(v.scalars(materializedFor: outShape, operation: name)))
        })
    }

    func shapedJVP() -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        let outShape = value.shape, inShape = inputShape, differential = differential, name = "the differential of \(operation)"
        return (value, { t in
            ShapedArray<T>.TangentVector(_uncheckedShape: outShape, scalars: differential(t.scalars(materializedFor: inShape, operation: name)))
        })
    }

    // [T] in, [T] out.
    func arrayVJP() -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        let outCount = value.scalarCount, pullback = pullback, name = "the pullback of \(operation)"
        return (value.scalars, { v in Array<T>.TangentVector(pullback(materializedArray(v, count: outCount, operation: name))) })
    }

    func arrayJVP() -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        let inCount = shapeProduct(inputShape), differential = differential, name = "the differential of \(operation)"
        return (value.scalars, { t in Array<T>.TangentVector(differential(materializedArray(t, count: inCount, operation: name))) })
    }

    // [T] in, ShapedArray out.
    func arrayToShapedVJP() -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> Array<T>.TangentVector) {
        let outShape = value.shape, pullback = pullback, name = "the pullback of \(operation)"
        return (value, { v in Array<T>.TangentVector(pullback(v.scalars(materializedFor: outShape, operation: name))) })
    }

    func arrayToShapedJVP() -> (value: ShapedArray<T>, differential: (Array<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        let outShape = value.shape, inCount = shapeProduct(inputShape), differential = differential
        let name = "the differential of \(operation)"
        return (value, { t in
            ShapedArray<T>.TangentVector(_uncheckedShape: outShape, scalars: differential(materializedArray(t, count: inCount, operation: name)))
        })
    }

    // T in, T out.
    func scalarVJP() -> (value: T, pullback: (T) -> T) {
        let pullback = pullback
        return (value.scalars[0], { v in pullback([v])[0] })
    }

    func scalarJVP() -> (value: T, differential: (T) -> T) {
        let differential = differential
        return (value.scalars[0], { t in differential([t])[0] })
    }

    // T in, ShapedArray out.
    func scalarToShapedVJP() -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> T) {
        let outShape = value.shape, pullback = pullback, name = "the pullback of \(operation)"
        return (value, { v in pullback(v.scalars(materializedFor: outShape, operation: name))[0] })
    }

    func scalarToShapedJVP() -> (value: ShapedArray<T>, differential: (T) -> ShapedArray<T>.TangentVector) {
        let outShape = value.shape, differential = differential
        return (value, { t in ShapedArray<T>.TangentVector(_uncheckedShape: outShape, scalars: differential([t])) })
    }
}

extension Autodiff {
    static func resolved(_ comm: Communicator?, _ operation: String) -> Communicator {
        if let comm { return comm }
        return performOrStop(operation, nil) { try Communicator.default }
    }

    static func allreduceRule<T>(_ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "allreduce")
        guard op == .sum || op == .max || op == .min else {
            stopNotDifferentiable("allreduce", op, allowed: "sum, max and min", c)
        }
        let y = performOrStop("allreduce", c) { try MPI.allreduce(x, op: op, comm: c).0 }
        let shape = x.shape
        if op == .sum {
            return LinearRule(
                operation: "allreduce", value: y, inputShape: shape,
                pullback: { $0 },
                differential: { t in
                    performOrStop("the differential of allreduce", c) {
                        try MPI.allreduce(t, op: .sum, comm: c).0
                    }
                })
        }
        // max and min: the extreme of each element belongs to the lowest rank that holds it.
        let rank = Int64(c.rank)
        let candidates = zip(x.scalars, y.scalars).map { $0 == $1 ? rank : Int64(c.size) }
        let owners = performOrStop("allreduce (finding the owner of each \(op))", c) {
            try MPI.allreduce(candidates, op: .min, comm: c).0
        }
        let owned = owners.map { $0 == rank }
        return LinearRule(
            operation: "allreduce", value: y, inputShape: shape,
            pullback: { v in zip(v, owned).map { $1 ? $0 : 0 } },
            differential: { t in
                let mine = zip(t, owned).map { $1 ? $0 : 0 }
                return performOrStop("the differential of allreduce", c) { try MPI.allreduce(mine, op: .sum, comm: c).0 }
            })
    }

    static func allgatherRule<T>(_ x: ShapedArray<T>, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "allgather")
        let y = performOrStop("allgather", c) { try MPI.allgather(x, comm: c).0 }
        let shape = x.shape, n = x.scalarCount, rank = c.rank
        return LinearRule(
            operation: "allgather", value: y, inputShape: shape,
            pullback: { v in Array(v[(rank * n)..<((rank + 1) * n)]) },
            differential: { t in
                performOrStop("the differential of allgather", c) {
                    try MPI.allgather(ShapedArray(shape: shape, scalars: t), comm: c).0.scalars
                }
            })
    }

    static func alltoallRule<T>(_ x: ShapedArray<T>, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "alltoall")
        let y = performOrStop("alltoall", c) { try MPI.alltoall(x, comm: c).0 }
        let shape = x.shape
        return LinearRule(
            operation: "alltoall", value: y, inputShape: shape,
            pullback: { v in
                runPullback("alltoall", c) { try MPI.alltoall(ShapedArray(shape: shape, scalars: v), comm: c).0.scalars }
            },
            differential: { t in
                performOrStop("the differential of alltoall", c) {
                    try MPI.alltoall(ShapedArray(shape: shape, scalars: t), comm: c).0.scalars
                }
            })
    }

    static func bcastRule<T>(_ x: ShapedArray<T>, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "bcast")
        let y = performOrStop("bcast", c) { try MPI.bcast(x, root: root, comm: c).0 }
        let shape = x.shape, n = x.scalarCount, isRoot = c.rank == root
        return LinearRule(
            operation: "bcast", value: y, inputShape: shape,
            pullback: { v in isRoot ? v : [T](repeating: 0, count: n) },
            differential: { t in
                performOrStop("the differential of bcast", c) {
                    try MPI.bcast(ShapedArray(shape: shape, scalars: t), root: root, comm: c).0.scalars
                }
            })
    }

    static func gatherRule<T>(_ x: ShapedArray<T>, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "gather")
        let y = performOrStop("gather", c) { try MPI.gather(x, root: root, comm: c).0 }
        let shape = x.shape, outShape = y.shape, isRoot = c.rank == root
        return LinearRule(
            operation: "gather", value: y, inputShape: shape,
            pullback: { v in
                // The root's cotangent is scattered; a non-root rank also got its
                // input back, so its own cotangent adds to its block.
                let block = runPullback("gather", c) {
                    try MPI.scatter(ShapedArray(shape: outShape, scalars: v), root: root, comm: c).0.scalars
                }
                return isRoot ? block : zip(block, v).map { $0 + $1 }
            },
            differential: { t in
                performOrStop("the differential of gather", c) {
                    try MPI.gather(ShapedArray(shape: shape, scalars: t), root: root, comm: c).0.scalars
                }
            })
    }

    static func reduceRule<T>(_ x: ShapedArray<T>, op: ReductionOp, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "reduce")
        guard op == .sum else { stopNotDifferentiable("reduce", op, allowed: "sum", c) }
        let y = performOrStop("reduce", c) { try MPI.reduce(x, op: .sum, root: root, comm: c).0 }
        let shape = x.shape, isRoot = c.rank == root
        return LinearRule(
            operation: "reduce", value: y, inputShape: shape,
            pullback: { v in
                // Every input contributes to the root's sum; a non-root rank also
                // got its input back, so its own cotangent adds to the root's.
                let rootCotangent = runPullback("reduce", c) {
                    try MPI.bcast(ShapedArray(shape: shape, scalars: v), root: root, comm: c).0.scalars
                }
                return isRoot ? rootCotangent : zip(rootCotangent, v).map { $0 + $1 }
            },
            differential: { t in
                performOrStop("the differential of reduce", c) {
                    try MPI.reduce(ShapedArray(shape: shape, scalars: t), op: .sum, root: root, comm: c).0.scalars
                }
            })
    }

    static func scanRule<T>(_ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "scan")
        guard op == .sum else { stopNotDifferentiable("scan", op, allowed: "sum", c) }
        let y = performOrStop("scan", c) { try MPI.scan(x, op: .sum, comm: c).0 }
        let shape = x.shape
        return LinearRule(
            operation: "scan", value: y, inputShape: shape,
            pullback: { v in
                // The transpose of an inclusive prefix sum over ranks is the
                // inclusive suffix sum: a scan over the ranks in reverse order.
                runPullback("scan", c) {
                    let reversed = try c.split(color: 0, key: c.size - 1 - c.rank)
                    return try MPI.scan(v, op: .sum, comm: reversed).0
                }
            },
            differential: { t in
                performOrStop("the differential of scan", c) { try MPI.scan(t, op: .sum, comm: c).0 }
            })
    }

    static func scatterRule<T>(_ x: ShapedArray<T>, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "scatter")
        let y = performOrStop("scatter", c) { try MPI.scatter(x, root: root, comm: c).0 }
        let shape = x.shape, n = x.scalarCount, rowShape = y.shape, isRoot = c.rank == root
        return LinearRule(
            operation: "scatter", value: y, inputShape: shape,
            pullback: { v in
                // The root's input gets every rank's cotangent, in rank order; a
                // non-root rank's input is a template whose data is never read.
                let gathered = runPullback("scatter", c) {
                    try MPI.gather(ShapedArray(shape: rowShape, scalars: v), root: root, comm: c).0.scalars
                }
                return isRoot ? gathered : [T](repeating: 0, count: n)
            },
            differential: { t in
                performOrStop("the differential of scatter", c) {
                    try MPI.scatter(ShapedArray(shape: shape, scalars: t), root: root, comm: c).0.scalars
                }
            })
    }

    static func sendrecvRule<T>(
        _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int, recvtag: Int,
        comm: Communicator?
    ) -> LinearRule<T> {
        let c = resolved(comm, "sendrecv")
        let status = Status()
        let y = performOrStop("sendrecv", c) {
            try MPI.sendrecv(
                sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: c,
                status: status).0
        }
        // The message that arrived fixes the partner and the tag even when the
        // receive used anySource or anyTag.
        let from = status.source, tag = status.tag
        let sendShape = sendbuf.shape, recvShape = recvbuf.shape
        return LinearRule(
            operation: "sendrecv", value: y, inputShape: sendShape,
            pullback: { v in
                // The transpose: the cotangent goes back to the rank the data came
                // from, and this rank's send buffer gets the cotangent of the rank it sent to.
                runPullback("sendrecv", c, checked: false) {
                    try MPI.sendrecv(
                        ShapedArray(shape: recvShape, scalars: v), ShapedArray(repeating: 0, shape: sendShape),
                        source: dest, dest: from, sendtag: tag, recvtag: sendtag, comm: c).0.scalars
                }
            },
            differential: { t in
                performOrStop("the differential of sendrecv", c) {
                    try MPI.sendrecv(
                        ShapedArray(shape: sendShape, scalars: t), ShapedArray(repeating: 0, shape: recvShape),
                        source: from, dest: dest, sendtag: sendtag, recvtag: tag, comm: c).0.scalars
                }
            })
    }
}

// MARK: - allreduce

extension Autodiff {
    /// Combines `x` elementwise across all ranks with `op`; every rank gets the result.
    ///
    /// The differentiable form of `allreduce(_:op:comm:token:)`. Differentiable
    /// for `.sum` (the pullback is the identity, as in mpi4jax: the output is
    /// replicated, so its cotangent is already the whole derivative), and for
    /// `.max` and `.min` (the cotangent of each element goes to the rank that
    /// holds the extreme, the lowest such rank on ties; an element that is NaN
    /// on some rank gets no cotangent). Differentiating it with another `op`
    /// stops the process with a message naming the op.
    ///
    /// - Parameters:
    ///   - x: The local contribution, of the same shape on every rank.
    ///   - op: The reduction (not differentiated).
    ///   - comm: The communicator; `nil` means ``Communicator/default``.
    /// - Returns: The reduction, of `x`'s shape.
    public static func allreduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("allreduce", comm) { try MPI.allreduce(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `allreduce` on a ``ShapedArray``, registered with the compiler.
    @derivative(of: allreduce, wrt: x)
    public static func vjpAllreduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allreduceRule(x, op: op, comm: comm).shapedVJP()
    }

    /// The forward derivative of `allreduce` on a ``ShapedArray``: the value and a
    /// differential that communicates (call it on every rank).
    @derivative(of: allreduce, wrt: x)
    public static func jvpAllreduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allreduceRule(x, op: op, comm: comm).shapedJVP()
    }

    /// The plain-array form of `allreduce`.
    public static func allreduce<T: DifferentiableMPIScalar>(_ x: [T], op: ReductionOp, comm: Communicator? = nil) -> [T] {
        performOrStop("allreduce", comm) { try MPI.allreduce(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `allreduce` on a plain array, registered with the compiler.
    @derivative(of: allreduce, wrt: x)
    public static func vjpAllreduce<T: DifferentiableMPIScalar>(
        _ x: [T], op: ReductionOp, comm: Communicator?
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        allreduceRule(ShapedArray(x), op: op, comm: comm).arrayVJP()
    }

    /// The forward derivative of `allreduce` on a plain array.
    @derivative(of: allreduce, wrt: x)
    public static func jvpAllreduce<T: DifferentiableMPIScalar>(
        _ x: [T], op: ReductionOp, comm: Communicator?
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        allreduceRule(ShapedArray(x), op: op, comm: comm).arrayJVP()
    }

    /// The scalar form of `allreduce`, for example a loss: `Autodiff.allreduce(localLoss, op: .sum) / n`.
    public static func allreduce<T: DifferentiableMPIScalar>(_ x: T, op: ReductionOp, comm: Communicator? = nil) -> T {
        performOrStop("allreduce", comm) { try MPI.allreduce(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `allreduce` on a scalar, registered with the compiler.
    @derivative(of: allreduce, wrt: x)
    public static func vjpAllreduce<T: DifferentiableMPIScalar>(
        _ x: T, op: ReductionOp, comm: Communicator?
    ) -> (value: T, pullback: (T) -> T) {
        allreduceRule(ShapedArray(scalar: x), op: op, comm: comm).scalarVJP()
    }

    /// The forward derivative of `allreduce` on a scalar.
    @derivative(of: allreduce, wrt: x)
    public static func jvpAllreduce<T: DifferentiableMPIScalar>(
        _ x: T, op: ReductionOp, comm: Communicator?
    ) -> (value: T, differential: (T) -> T) {
        allreduceRule(ShapedArray(scalar: x), op: op, comm: comm).scalarJVP()
    }
}

// MARK: - allgather

extension Autodiff {
    /// Gathers `x` from every rank onto every rank.
    ///
    /// The differentiable form of `allgather(_:comm:token:)`. The output is the
    /// same on every rank, so its cotangent is too, and the pullback gives each
    /// rank its own block of it, without communicating (not the sum over ranks,
    /// which would count the replicated cotangent once per rank).
    ///
    /// - Returns: An array of shape `[size] + x.shape` whose row `r` is rank `r`'s `x`.
    public static func allgather<T: DifferentiableMPIScalar>(_ x: ShapedArray<T>, comm: Communicator? = nil) -> ShapedArray<T> {
        performOrStop("allgather", comm) { try MPI.allgather(x, comm: comm).0 }
    }

    /// The reverse derivative of `allgather` on a ``ShapedArray``, registered with the compiler.
    @derivative(of: allgather, wrt: x)
    public static func vjpAllgather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allgatherRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `allgather` on a ``ShapedArray``.
    @derivative(of: allgather, wrt: x)
    public static func jvpAllgather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allgatherRule(x, comm: comm).shapedJVP()
    }

    /// The plain-array form of `allgather`: the result has shape `[size, x.count]`.
    public static func allgather<T: DifferentiableMPIScalar>(_ x: [T], comm: Communicator? = nil) -> ShapedArray<T> {
        performOrStop("allgather", comm) { try MPI.allgather(x, comm: comm).0 }
    }

    /// The reverse derivative of `allgather` on a plain array, registered with the compiler.
    @derivative(of: allgather, wrt: x)
    public static func vjpAllgather<T: DifferentiableMPIScalar>(
        _ x: [T], comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> Array<T>.TangentVector) {
        allgatherRule(ShapedArray(x), comm: comm).arrayToShapedVJP()
    }

    /// The forward derivative of `allgather` on a plain array.
    @derivative(of: allgather, wrt: x)
    public static func jvpAllgather<T: DifferentiableMPIScalar>(
        _ x: [T], comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (Array<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allgatherRule(ShapedArray(x), comm: comm).arrayToShapedJVP()
    }

    /// The scalar form of `allgather`: the result has shape `[size]`.
    public static func allgather<T: DifferentiableMPIScalar>(_ x: T, comm: Communicator? = nil) -> ShapedArray<T> {
        performOrStop("allgather", comm) { try MPI.allgather(x, comm: comm).0 }
    }

    /// The reverse derivative of `allgather` on a scalar, registered with the compiler.
    @derivative(of: allgather, wrt: x)
    public static func vjpAllgather<T: DifferentiableMPIScalar>(
        _ x: T, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> T) {
        allgatherRule(ShapedArray(scalar: x), comm: comm).scalarToShapedVJP()
    }

    /// The forward derivative of `allgather` on a scalar.
    @derivative(of: allgather, wrt: x)
    public static func jvpAllgather<T: DifferentiableMPIScalar>(
        _ x: T, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (T) -> ShapedArray<T>.TangentVector) {
        allgatherRule(ShapedArray(scalar: x), comm: comm).scalarToShapedJVP()
    }
}

// MARK: - alltoall

extension Autodiff {
    /// Sends row `i` of `x` to rank `i`; row `i` of the result came from rank `i`.
    ///
    /// The differentiable form of `alltoall(_:comm:token:)`. The output differs
    /// between ranks, and the transpose of alltoall is alltoall: the pullback
    /// sends row `i` of the cotangent back to rank `i`.
    ///
    /// - Parameter x: An array whose first axis has `size` rows.
    /// - Returns: An array of `x`'s shape.
    public static func alltoall<T: DifferentiableMPIScalar>(_ x: ShapedArray<T>, comm: Communicator? = nil) -> ShapedArray<T> {
        performOrStop("alltoall", comm) { try MPI.alltoall(x, comm: comm).0 }
    }

    /// The reverse derivative of `alltoall` on a ``ShapedArray``, registered with the compiler.
    @derivative(of: alltoall, wrt: x)
    public static func vjpAlltoall<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        alltoallRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `alltoall` on a ``ShapedArray``.
    @derivative(of: alltoall, wrt: x)
    public static func jvpAlltoall<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        alltoallRule(x, comm: comm).shapedJVP()
    }

    /// The plain-array form of `alltoall`: `x.count` equals `size`, and element `i` goes to rank `i`.
    public static func alltoall<T: DifferentiableMPIScalar>(_ x: [T], comm: Communicator? = nil) -> [T] {
        performOrStop("alltoall", comm) { try MPI.alltoall(x, comm: comm).0 }
    }

    /// The reverse derivative of `alltoall` on a plain array, registered with the compiler.
    @derivative(of: alltoall, wrt: x)
    public static func vjpAlltoall<T: DifferentiableMPIScalar>(
        _ x: [T], comm: Communicator?
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        alltoallRule(ShapedArray(x), comm: comm).arrayVJP()
    }

    /// The forward derivative of `alltoall` on a plain array.
    @derivative(of: alltoall, wrt: x)
    public static func jvpAlltoall<T: DifferentiableMPIScalar>(
        _ x: [T], comm: Communicator?
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        alltoallRule(ShapedArray(x), comm: comm).arrayJVP()
    }
}

// MARK: - bcast

extension Autodiff {
    /// Broadcasts the root's `x` to every rank.
    ///
    /// The differentiable form of `bcast(_:root:comm:token:)`. The output is the
    /// same on every rank, so its cotangent is too: the root's input gets it,
    /// without communicating, and the other ranks' inputs, whose data is never
    /// read, get zero.
    ///
    /// - Parameters:
    ///   - x: The data on the root; a template of the same shape elsewhere.
    ///   - root: The rank whose data is broadcast.
    ///   - comm: The communicator; `nil` means ``Communicator/default``.
    public static func bcast<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("bcast", comm) { try MPI.bcast(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `bcast` on a ``ShapedArray``, registered with the compiler.
    @derivative(of: bcast, wrt: x)
    public static func vjpBcast<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        bcastRule(x, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `bcast` on a ``ShapedArray``.
    @derivative(of: bcast, wrt: x)
    public static func jvpBcast<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        bcastRule(x, root: root, comm: comm).shapedJVP()
    }

    /// The plain-array form of `bcast`.
    public static func bcast<T: DifferentiableMPIScalar>(_ x: [T], root: Int, comm: Communicator? = nil) -> [T] {
        performOrStop("bcast", comm) { try MPI.bcast(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `bcast` on a plain array, registered with the compiler.
    @derivative(of: bcast, wrt: x)
    public static func vjpBcast<T: DifferentiableMPIScalar>(
        _ x: [T], root: Int, comm: Communicator?
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        bcastRule(ShapedArray(x), root: root, comm: comm).arrayVJP()
    }

    /// The forward derivative of `bcast` on a plain array.
    @derivative(of: bcast, wrt: x)
    public static func jvpBcast<T: DifferentiableMPIScalar>(
        _ x: [T], root: Int, comm: Communicator?
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        bcastRule(ShapedArray(x), root: root, comm: comm).arrayJVP()
    }

    /// The scalar form of `bcast`.
    public static func bcast<T: DifferentiableMPIScalar>(_ x: T, root: Int, comm: Communicator? = nil) -> T {
        performOrStop("bcast", comm) { try MPI.bcast(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `bcast` on a scalar, registered with the compiler.
    @derivative(of: bcast, wrt: x)
    public static func vjpBcast<T: DifferentiableMPIScalar>(
        _ x: T, root: Int, comm: Communicator?
    ) -> (value: T, pullback: (T) -> T) {
        bcastRule(ShapedArray(scalar: x), root: root, comm: comm).scalarVJP()
    }

    /// The forward derivative of `bcast` on a scalar.
    @derivative(of: bcast, wrt: x)
    public static func jvpBcast<T: DifferentiableMPIScalar>(
        _ x: T, root: Int, comm: Communicator?
    ) -> (value: T, differential: (T) -> T) {
        bcastRule(ShapedArray(scalar: x), root: root, comm: comm).scalarJVP()
    }
}

// MARK: - gather

extension Autodiff {
    /// Gathers `x` from every rank onto the root.
    ///
    /// The differentiable form of `gather(_:root:comm:token:)`: the root gets
    /// shape `[size] + x.shape`, every other rank gets `x` back unchanged. The
    /// outputs differ between ranks, so the pullback is the exact transpose: the
    /// root's cotangent is scattered, block `r` to rank `r`, and a non-root rank
    /// adds the cotangent of the input it got back.
    public static func gather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("gather", comm) { try MPI.gather(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `gather` on a ``ShapedArray``, registered with the compiler.
    @derivative(of: gather, wrt: x)
    public static func vjpGather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        gatherRule(x, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `gather` on a ``ShapedArray``.
    @derivative(of: gather, wrt: x)
    public static func jvpGather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        gatherRule(x, root: root, comm: comm).shapedJVP()
    }

    /// The plain-array form of `gather`: the root gets shape `[size, x.count]`, the others `x` as a 1-d array.
    public static func gather<T: DifferentiableMPIScalar>(_ x: [T], root: Int, comm: Communicator? = nil) -> ShapedArray<T> {
        performOrStop("gather", comm) { try MPI.gather(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `gather` on a plain array, registered with the compiler.
    @derivative(of: gather, wrt: x)
    public static func vjpGather<T: DifferentiableMPIScalar>(
        _ x: [T], root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> Array<T>.TangentVector) {
        gatherRule(ShapedArray(x), root: root, comm: comm).arrayToShapedVJP()
    }

    /// The forward derivative of `gather` on a plain array.
    @derivative(of: gather, wrt: x)
    public static func jvpGather<T: DifferentiableMPIScalar>(
        _ x: [T], root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (Array<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        gatherRule(ShapedArray(x), root: root, comm: comm).arrayToShapedJVP()
    }

    /// The scalar form of `gather`: the root gets shape `[size]`, the others `x` as a 0-d array.
    public static func gather<T: DifferentiableMPIScalar>(_ x: T, root: Int, comm: Communicator? = nil) -> ShapedArray<T> {
        performOrStop("gather", comm) { try MPI.gather(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `gather` on a scalar, registered with the compiler.
    @derivative(of: gather, wrt: x)
    public static func vjpGather<T: DifferentiableMPIScalar>(
        _ x: T, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> T) {
        gatherRule(ShapedArray(scalar: x), root: root, comm: comm).scalarToShapedVJP()
    }

    /// The forward derivative of `gather` on a scalar.
    @derivative(of: gather, wrt: x)
    public static func jvpGather<T: DifferentiableMPIScalar>(
        _ x: T, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (T) -> ShapedArray<T>.TangentVector) {
        gatherRule(ShapedArray(scalar: x), root: root, comm: comm).scalarToShapedJVP()
    }
}

// MARK: - reduce

extension Autodiff {
    /// Combines `x` elementwise across all ranks with `op`; the root gets the
    /// result, the other ranks get `x` back.
    ///
    /// The differentiable form of `reduce(_:op:root:comm:token:)`, for `.sum`
    /// (differentiating it with another `op` stops the process with a message
    /// naming the op). The pullback is the exact transpose: the root's cotangent
    /// is broadcast to every rank, and a non-root rank adds the cotangent of the
    /// input it got back.
    public static func reduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, root: Int, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("reduce", comm) { try MPI.reduce(x, op: op, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `reduce` on a ``ShapedArray``, registered with the compiler.
    @derivative(of: reduce, wrt: x)
    public static func vjpReduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        reduceRule(x, op: op, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `reduce` on a ``ShapedArray``.
    @derivative(of: reduce, wrt: x)
    public static func jvpReduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        reduceRule(x, op: op, root: root, comm: comm).shapedJVP()
    }

    /// The plain-array form of `reduce`.
    public static func reduce<T: DifferentiableMPIScalar>(
        _ x: [T], op: ReductionOp, root: Int, comm: Communicator? = nil
    ) -> [T] {
        performOrStop("reduce", comm) { try MPI.reduce(x, op: op, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `reduce` on a plain array, registered with the compiler.
    @derivative(of: reduce, wrt: x)
    public static func vjpReduce<T: DifferentiableMPIScalar>(
        _ x: [T], op: ReductionOp, root: Int, comm: Communicator?
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        reduceRule(ShapedArray(x), op: op, root: root, comm: comm).arrayVJP()
    }

    /// The forward derivative of `reduce` on a plain array.
    @derivative(of: reduce, wrt: x)
    public static func jvpReduce<T: DifferentiableMPIScalar>(
        _ x: [T], op: ReductionOp, root: Int, comm: Communicator?
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        reduceRule(ShapedArray(x), op: op, root: root, comm: comm).arrayJVP()
    }

    /// The scalar form of `reduce`.
    public static func reduce<T: DifferentiableMPIScalar>(
        _ x: T, op: ReductionOp, root: Int, comm: Communicator? = nil
    ) -> T {
        performOrStop("reduce", comm) { try MPI.reduce(x, op: op, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `reduce` on a scalar, registered with the compiler.
    @derivative(of: reduce, wrt: x)
    public static func vjpReduce<T: DifferentiableMPIScalar>(
        _ x: T, op: ReductionOp, root: Int, comm: Communicator?
    ) -> (value: T, pullback: (T) -> T) {
        reduceRule(ShapedArray(scalar: x), op: op, root: root, comm: comm).scalarVJP()
    }

    /// The forward derivative of `reduce` on a scalar.
    @derivative(of: reduce, wrt: x)
    public static func jvpReduce<T: DifferentiableMPIScalar>(
        _ x: T, op: ReductionOp, root: Int, comm: Communicator?
    ) -> (value: T, differential: (T) -> T) {
        reduceRule(ShapedArray(scalar: x), op: op, root: root, comm: comm).scalarJVP()
    }
}

// MARK: - scan

extension Autodiff {
    /// The inclusive prefix reduction over ranks: rank `r` gets `op(x_0, …, x_r)` elementwise.
    ///
    /// The differentiable form of `scan(_:op:comm:token:)`, for `.sum`
    /// (differentiating it with another `op` stops the process with a message
    /// naming the op). The transpose of an inclusive prefix sum is the inclusive
    /// suffix sum, `x̄_r = Σ_{s ≥ r} ȳ_s`, which the pullback computes as a scan
    /// over a communicator with the ranks in reverse order.
    public static func scan<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("scan", comm) { try MPI.scan(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `scan` on a ``ShapedArray``, registered with the compiler.
    @derivative(of: scan, wrt: x)
    public static func vjpScan<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scanRule(x, op: op, comm: comm).shapedVJP()
    }

    /// The forward derivative of `scan` on a ``ShapedArray``.
    @derivative(of: scan, wrt: x)
    public static func jvpScan<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scanRule(x, op: op, comm: comm).shapedJVP()
    }

    /// The plain-array form of `scan`.
    public static func scan<T: DifferentiableMPIScalar>(_ x: [T], op: ReductionOp, comm: Communicator? = nil) -> [T] {
        performOrStop("scan", comm) { try MPI.scan(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `scan` on a plain array, registered with the compiler.
    @derivative(of: scan, wrt: x)
    public static func vjpScan<T: DifferentiableMPIScalar>(
        _ x: [T], op: ReductionOp, comm: Communicator?
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        scanRule(ShapedArray(x), op: op, comm: comm).arrayVJP()
    }

    /// The forward derivative of `scan` on a plain array.
    @derivative(of: scan, wrt: x)
    public static func jvpScan<T: DifferentiableMPIScalar>(
        _ x: [T], op: ReductionOp, comm: Communicator?
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        scanRule(ShapedArray(x), op: op, comm: comm).arrayJVP()
    }

    /// The scalar form of `scan`.
    public static func scan<T: DifferentiableMPIScalar>(_ x: T, op: ReductionOp, comm: Communicator? = nil) -> T {
        performOrStop("scan", comm) { try MPI.scan(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `scan` on a scalar, registered with the compiler.
    @derivative(of: scan, wrt: x)
    public static func vjpScan<T: DifferentiableMPIScalar>(
        _ x: T, op: ReductionOp, comm: Communicator?
    ) -> (value: T, pullback: (T) -> T) {
        scanRule(ShapedArray(scalar: x), op: op, comm: comm).scalarVJP()
    }

    /// The forward derivative of `scan` on a scalar.
    @derivative(of: scan, wrt: x)
    public static func jvpScan<T: DifferentiableMPIScalar>(
        _ x: T, op: ReductionOp, comm: Communicator?
    ) -> (value: T, differential: (T) -> T) {
        scanRule(ShapedArray(scalar: x), op: op, comm: comm).scalarJVP()
    }
}

// MARK: - scatter

extension Autodiff {
    /// Scatters the rows of the root's `x`: rank `r` gets row `r`.
    ///
    /// The differentiable form of `scatter(_:root:comm:token:)`: on the root `x`
    /// has shape `[size] + s`, elsewhere it is a template of shape `s` whose data
    /// is never read. The transpose is a gather: the root's input gets every
    /// rank's cotangent in rank order, and the templates get zero.
    public static func scatter<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("scatter", comm) { try MPI.scatter(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `scatter` on a ``ShapedArray``, registered with the compiler.
    @derivative(of: scatter, wrt: x)
    public static func vjpScatter<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scatterRule(x, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `scatter` on a ``ShapedArray``.
    @derivative(of: scatter, wrt: x)
    public static func jvpScatter<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scatterRule(x, root: root, comm: comm).shapedJVP()
    }

    /// The plain-array form of `scatter`: on the root `x` has `size` elements, elsewhere
    /// it is a one-element template; every rank gets a 0-d array.
    public static func scatter<T: DifferentiableMPIScalar>(_ x: [T], root: Int, comm: Communicator? = nil) -> ShapedArray<T> {
        performOrStop("scatter", comm) { try MPI.scatter(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `scatter` on a plain array, registered with the compiler.
    @derivative(of: scatter, wrt: x)
    public static func vjpScatter<T: DifferentiableMPIScalar>(
        _ x: [T], root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> Array<T>.TangentVector) {
        scatterRule(scatterInput(x, root: root, comm: comm), root: root, comm: comm).arrayToShapedVJP()
    }

    /// The forward derivative of `scatter` on a plain array.
    @derivative(of: scatter, wrt: x)
    public static func jvpScatter<T: DifferentiableMPIScalar>(
        _ x: [T], root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (Array<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scatterRule(scatterInput(x, root: root, comm: comm), root: root, comm: comm).arrayToShapedJVP()
    }

    /// The plain-array input of scatter as the primitive sees it: `[size]` on the
    /// root, a 0-d template elsewhere.
    static func scatterInput<T>(_ x: [T], root: Int, comm: Communicator?) -> ShapedArray<T> {
        let c = resolved(comm, "scatter")
        return c.rank == root || x.count != 1 ? ShapedArray(x) : ShapedArray(shape: [], scalars: x)
    }
}

// MARK: - sendrecv

extension Autodiff {
    /// Sends `sendbuf` to `dest` and receives a message from `source` shaped like `recvbuf`.
    ///
    /// The differentiable form of `sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)`.
    /// `recvbuf` is a template whose data is never read, so its cotangent is
    /// zero. The transpose is a sendrecv with source and dest swapped: the
    /// cotangent of the received data goes back to the rank it came from, with
    /// the tag it came with, and `sendbuf` gets the cotangent that `dest` sends
    /// back. The source and tag are those of the message that arrived, so
    /// `anySource` and `anyTag` work too.
    public static func sendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int = 0,
        recvtag: Int = anyTag, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("sendrecv", comm) {
            try MPI.sendrecv(sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm).0
        }
    }

    /// The reverse derivative of `sendrecv` on ``ShapedArray``s, registered with the compiler.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func vjpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int,
        recvtag: Int, comm: Communicator?
    ) -> (
        value: ShapedArray<T>,
        pullback: (ShapedArray<T>.TangentVector) -> (ShapedArray<T>.TangentVector, ShapedArray<T>.TangentVector)
    ) {
        let (value, pullback) = sendrecvRule(
            sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm
        ).shapedVJP()
        return (value, { v in (pullback(v), .zero) })
    }

    /// The forward derivative of `sendrecv` on ``ShapedArray``s.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func jvpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int,
        recvtag: Int, comm: Communicator?
    ) -> (
        value: ShapedArray<T>,
        differential: (ShapedArray<T>.TangentVector, ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector
    ) {
        let (value, differential) = sendrecvRule(
            sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm
        ).shapedJVP()
        return (value, { t, _ in differential(t) })
    }

    /// The plain-array form of `sendrecv`.
    public static func sendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: [T], _ recvbuf: [T], source: Int, dest: Int, sendtag: Int = 0, recvtag: Int = anyTag,
        comm: Communicator? = nil
    ) -> [T] {
        performOrStop("sendrecv", comm) {
            try MPI.sendrecv(sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm).0
        }
    }

    /// The reverse derivative of `sendrecv` on plain arrays, registered with the compiler.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func vjpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: [T], _ recvbuf: [T], source: Int, dest: Int, sendtag: Int, recvtag: Int, comm: Communicator?
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> (Array<T>.TangentVector, Array<T>.TangentVector)) {
        let (value, pullback) = sendrecvRule(
            ShapedArray(sendbuf), ShapedArray(recvbuf), source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
            comm: comm
        ).arrayVJP()
        return (value, { v in (pullback(v), .zero) })
    }

    /// The forward derivative of `sendrecv` on plain arrays.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func jvpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: [T], _ recvbuf: [T], source: Int, dest: Int, sendtag: Int, recvtag: Int, comm: Communicator?
    ) -> (value: [T], differential: (Array<T>.TangentVector, Array<T>.TangentVector) -> Array<T>.TangentVector) {
        let (value, differential) = sendrecvRule(
            ShapedArray(sendbuf), ShapedArray(recvbuf), source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
            comm: comm
        ).arrayJVP()
        return (value, { t, _ in differential(t) })
    }

    /// The scalar form of `sendrecv`.
    public static func sendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: T, _ recvbuf: T, source: Int, dest: Int, sendtag: Int = 0, recvtag: Int = anyTag,
        comm: Communicator? = nil
    ) -> T {
        performOrStop("sendrecv", comm) {
            try MPI.sendrecv(sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm).0
        }
    }

    /// The reverse derivative of `sendrecv` on scalars, registered with the compiler.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func vjpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: T, _ recvbuf: T, source: Int, dest: Int, sendtag: Int, recvtag: Int, comm: Communicator?
    ) -> (value: T, pullback: (T) -> (T, T)) {
        let (value, pullback) = sendrecvRule(
            ShapedArray(scalar: sendbuf), ShapedArray(scalar: recvbuf), source: source, dest: dest, sendtag: sendtag,
            recvtag: recvtag, comm: comm
        ).scalarVJP()
        return (value, { v in (pullback(v), 0) })
    }

    /// The forward derivative of `sendrecv` on scalars.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func jvpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: T, _ recvbuf: T, source: Int, dest: Int, sendtag: Int, recvtag: Int, comm: Communicator?
    ) -> (value: T, differential: (T, T) -> T) {
        let (value, differential) = sendrecvRule(
            ShapedArray(scalar: sendbuf), ShapedArray(scalar: recvbuf), source: source, dest: dest, sendtag: sendtag,
            recvtag: recvtag, comm: comm
        ).scalarJVP()
        return (value, { t, _ in differential(t) })
    }
}

// MARK: - perRank

extension Autodiff {
    /// Marks a value that is the same on every rank as the input of a computation that differs between ranks.
    ///
    /// The identity in the forward pass. Under the convention, a replicated
    /// value (the result of `allreduce`, `allgather` or `bcast`, or parameters
    /// that every rank holds) carries the whole derivative of the loss as its
    /// cotangent. When such a value is combined with per-rank data (multiplied
    /// by this rank's samples, or fed to another collective as this rank's
    /// contribution), each rank's backward pass only sees its own part of that
    /// derivative. `perRank` restores the convention: its pullback sums the
    /// cotangent over the ranks (an allreduce), so the value before it gets the
    /// whole derivative again. This is the transpose of the implicit
    /// replicated-to-per-rank step, like `pvary` in JAX's `shard_map`.
    ///
    /// ```swift
    /// // Data parallelism without a separate gradient allreduce: w is the same
    /// // on every rank, the samples are not.
    /// let g = gradient(at: w) { w in
    ///     let local = localLoss(Autodiff.perRank(w), samples)
    ///     return Autodiff.allreduce(local, op: .sum) / n
    /// }
    /// // g is the whole gradient on every rank.
    /// ```
    ///
    /// - Parameters:
    ///   - x: A value that is the same on every rank.
    ///   - comm: The communicator of the ranks that share it; `nil` means ``Communicator/default``.
    /// - Returns: `x`.
    public static func perRank<T: DifferentiableMPIScalar>(_ x: ShapedArray<T>, comm: Communicator? = nil) -> ShapedArray<T> {
        x
    }

    /// The reverse derivative of `perRank` on a ``ShapedArray``: an allreduce-sum of the cotangent.
    @derivative(of: perRank, wrt: x)
    public static func vjpPerRank<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        perRankRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `perRank` on a ``ShapedArray``: the identity.
    @derivative(of: perRank, wrt: x)
    public static func jvpPerRank<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        perRankRule(x, comm: comm).shapedJVP()
    }

    /// The plain-array form of `perRank`.
    public static func perRank<T: DifferentiableMPIScalar>(_ x: [T], comm: Communicator? = nil) -> [T] {
        x
    }

    /// The reverse derivative of `perRank` on a plain array: an allreduce-sum of the cotangent.
    @derivative(of: perRank, wrt: x)
    public static func vjpPerRank<T: DifferentiableMPIScalar>(
        _ x: [T], comm: Communicator?
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        perRankRule(ShapedArray(x), comm: comm).arrayVJP()
    }

    /// The forward derivative of `perRank` on a plain array: the identity.
    @derivative(of: perRank, wrt: x)
    public static func jvpPerRank<T: DifferentiableMPIScalar>(
        _ x: [T], comm: Communicator?
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        perRankRule(ShapedArray(x), comm: comm).arrayJVP()
    }

    /// The scalar form of `perRank`.
    public static func perRank<T: DifferentiableMPIScalar>(_ x: T, comm: Communicator? = nil) -> T {
        x
    }

    /// The reverse derivative of `perRank` on a scalar: an allreduce-sum of the cotangent.
    @derivative(of: perRank, wrt: x)
    public static func vjpPerRank<T: DifferentiableMPIScalar>(
        _ x: T, comm: Communicator?
    ) -> (value: T, pullback: (T) -> T) {
        perRankRule(ShapedArray(scalar: x), comm: comm).scalarVJP()
    }

    /// The forward derivative of `perRank` on a scalar: the identity.
    @derivative(of: perRank, wrt: x)
    public static func jvpPerRank<T: DifferentiableMPIScalar>(
        _ x: T, comm: Communicator?
    ) -> (value: T, differential: (T) -> T) {
        perRankRule(ShapedArray(scalar: x), comm: comm).scalarJVP()
    }

    static func perRankRule<T>(_ x: ShapedArray<T>, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "perRank")
        return LinearRule(
            operation: "perRank", value: x, inputShape: x.shape,
            pullback: { v in runPullback("perRank", c) { try MPI.allreduce(v, op: .sum, comm: c).0 } },
            differential: { $0 })
    }
}

// MARK: - Pullback checks

/// Diagnostics for the hazard of differentiating collectives: a rank that skips a pullback.
///
/// The compiler calls a pullback only if the primitive's result flows into the
/// differentiated output on that rank. If one rank's loss does not use the
/// result of, say, `Autodiff.gather`,
/// that rank skips the pullback's scatter while the other ranks wait in it
/// forever. The pullbacks of alltoall, gather, perRank, reduce, scan and
/// scatter communicate collectively and are affected; the pullbacks of
/// allreduce, allgather and bcast do not communicate, and sendrecv's is
/// point-to-point.
///
/// When the checks are enabled, every rank first counts the collective
/// pullbacks it runs on each communicator, and before each one the ranks agree,
/// with a small allreduce on a private duplicate of the communicator, that they
/// are all in the same pullback (the same count and the same primitive). A
/// mismatch, which a skipped pullback causes at the next collective pullback,
/// stops every rank with a message naming the primitive, the rank and the
/// counts. A rank that waits in a checked pullback for longer than ``timeout``
/// seconds, because another rank never arrives, prints which primitive and
/// which pullback it waits in to standard error, and again after each further
/// period, while it keeps waiting.
///
/// The checks are off by default. Setting the environment variable
/// `SWIFT_MPI_CHECK_PULLBACKS=1` turns them on, and
/// `SWIFT_MPI_CHECK_PULLBACKS_TIMEOUT` sets the timeout in seconds (30 by default).
/// They cost one allreduce of four integers per collective pullback. Enable or
/// disable them on every rank at the same point of the program.
public enum PullbackChecks {
    struct State {
        var enabled: Bool
        var timeout: Double
        var channels: [Communicator: Channel] = [:]
        /// Called instead of stopping the process on a mismatch (tests).
        var mismatchHandler: (@Sendable (String) -> Void)?
        /// Called instead of printing to standard error on a timeout (tests).
        var timeoutHandler: (@Sendable (String) -> Void)?
    }

    /// The private duplicate of a communicator and the number of collective pullbacks run on it.
    struct Channel {
        var duplicate: Communicator?
        var sequence: Int64 = 0
    }

    static let state: Mutex<State> = {
        let enabled = SwiftMPIEnvironment.flag(.checkPullbacks)
        let timeout = SwiftMPIEnvironment.seconds(.checkPullbacksTimeout, default: 30)
        return Mutex(State(enabled: enabled, timeout: timeout))
    }()

    /// Whether the checks run. Initially `true` when the environment variable
    /// `SWIFT_MPI_CHECK_PULLBACKS` is `1`.
    public static var isEnabled: Bool {
        get { state.withLock { $0.enabled } }
        set { state.withLock { $0.enabled = newValue } }
    }

    /// The seconds a checked pullback waits before it reports where it waits.
    /// Initially `SWIFT_MPI_CHECK_PULLBACKS_TIMEOUT`, or 30.
    public static var timeout: Double {
        get { state.withLock { $0.timeout } }
        set {
            precondition(newValue > 0, "PullbackChecks.timeout must be positive, got \(newValue)")
            state.withLock { $0.timeout = newValue }
        }
    }

    /// The primitives whose pullbacks communicate collectively, in the order of their codes.
    static let checkedOperations = ["alltoall", "gather", "perRank", "reduce", "scan", "scatter"]

    static func operationName(_ code: Int64) -> String {
        let index = Int(code) - 1
        return checkedOperations.indices.contains(index) ? checkedOperations[index] : "an unknown primitive"
    }

    /// Before a collective pullback: counts it, agrees with the other ranks, and
    /// starts the watchdog. Returns `nil` when the checks are off.
    static func enter(operation: String, comm: Communicator) -> PullbackWatchdog? {
        let (enabled, timeout, timeoutHandler) = state.withLock { ($0.enabled, $0.timeout, $0.timeoutHandler) }
        guard enabled else { return nil }
        let sequence = state.withLock { s -> Int64 in
            s.channels[comm, default: Channel()].sequence += 1
            return s.channels[comm]!.sequence
        }
        let rank = comm.rank, size = comm.size
        let report: @Sendable (String) -> Void = timeoutHandler ?? { writeToStandardError($0 + "\n") }
        let watchdog = PullbackWatchdog(timeout: timeout) { waited in
            report(
                "swift-mpi: rank \(rank) has waited \(waited) s in the pullback of \(operation) "
                    + "(collective pullback #\(sequence) on a communicator of size \(size)). Every rank of the "
                    + "communicator must run this pullback: a rank whose differentiated result does not depend on "
                    + "the result of \(operation) skips it, and the others wait here.")
        }
        if let message = disagreement(operation: operation, sequence: sequence, comm: comm) {
            if let handler = state.withLock({ $0.mismatchHandler }) {
                handler(message)
            } else {
                watchdog.finish()
                fatalError(message)
            }
        }
        return watchdog
    }

    /// Agrees with the other ranks of `comm` on the collective pullback they are
    /// in: the message that describes a disagreement, or `nil` when every rank
    /// is in pullback number `sequence` of `operation`. Collective over `comm`.
    static func disagreement(operation: String, sequence: Int64, comm: Communicator) -> String? {
        let code = Int64((checkedOperations.firstIndex(of: operation) ?? -1) + 1)
        let channel = privateChannel(for: comm, operation: operation)
        let local: [Int64] = [sequence, -sequence, code, -code]
        let agreed = performOrStop("the pullback check of \(operation)", comm) {
            try MPI.allreduce(local, op: .max, comm: channel).0
        }
        let (maxSequence, minSequence, maxCode, minCode) = (agreed[0], -agreed[1], agreed[2], -agreed[3])
        guard maxSequence != minSequence || maxCode != minCode else { return nil }
        let operations = Set([minCode, maxCode]).sorted().map(operationName).joined(separator: " and ")
        return "swift-mpi: rank \(comm.rank): pullback check failed before the pullback of \(operation) "
            + "(collective pullback #\(sequence) on a communicator of size \(comm.size)): the ranks disagree on the "
            + "pullback they are in (numbers #\(minSequence) to #\(maxSequence), primitives \(operations)). "
            + "A rank skipped a pullback because its differentiated result did not depend on that primitive's "
            + "result; make every rank's result depend on it (for example add 0 * the sum of the result)."
    }

    /// The private duplicate of `comm` on which the ranks agree (made on first use, collectively).
    static func privateChannel(for comm: Communicator, operation: String) -> Communicator {
        if let existing = state.withLock({ $0.channels[comm]?.duplicate }) { return existing }
        let duplicate = performOrStop("the pullback check of \(operation)", comm) { try comm.duplicate() }
        state.withLock { $0.channels[comm, default: Channel()].duplicate = duplicate }
        return duplicate
    }

    /// Test hook: counts a collective pullback on `comm` without running one, as a rank that skipped one would.
    static func simulateSkippedPullback(on comm: Communicator) {
        state.withLock { $0.channels[comm, default: Channel()].sequence += 1 }
    }

    /// Test hook: installs handlers that replace stopping and printing.
    static func setHandlers(
        mismatch: (@Sendable (String) -> Void)?, timeout: (@Sendable (String) -> Void)?
    ) {
        state.withLock {
            $0.mismatchHandler = mismatch
            $0.timeoutHandler = timeout
        }
    }

    /// Test hook: forgets the counts (keeping the duplicates) and the handlers.
    static func resetCounts() {
        state.withLock { s in
            for key in s.channels.keys { s.channels[key]!.sequence = 0 }
            s.mismatchHandler = nil
            s.timeoutHandler = nil
        }
    }
}

/// Reports, from another thread, a pullback that has not finished after a timeout, and again after each further period.
final class PullbackWatchdog: Sendable {
    private let task: Task<Void, Never>

    init(timeout: Double, report: @escaping @Sendable (Double) -> Void) {
        let nanoseconds = UInt64(timeout * 1_000_000_000)
        task = Task.detached {
            var waited = 0.0
            while true {
                do {
                    try await Task.sleep(nanoseconds: nanoseconds)
                } catch {
                    return
                }
                waited += timeout
                report(waited)
            }
        }
    }

    /// Stops the watchdog; the pullback has finished.
    func finish() { task.cancel() }

    deinit { task.cancel() }
}

/// Writes a message to standard error without buffering.
func writeToStandardError(_ message: String) {
    var text = message
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}
