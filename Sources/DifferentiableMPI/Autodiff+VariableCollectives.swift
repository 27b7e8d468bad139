// The differentiable forms of the variable-size collectives (allgatherv,
// gatherv, scatterv, alltoallv), reduce-scatter and exscan, registered with the
// compiler, and their rules. Each has its ShapedArray form, with a public
// forward derivative and an internal (@usableFromInline) reverse derivative, as
// the other primitives.

import MPI
import _Differentiation

// MARK: - allgatherv

extension Autodiff {
    /// Gathers blocks of different lengths from every rank onto every rank.
    ///
    /// The differentiable form of `allgatherv(_:comm:token:)`, returning the
    /// blocks one after another along the first axis (`VariableBlocks.data`). The
    /// output is the same on every rank, so its cotangent is too, and the pullback
    /// gives each rank its own block of it, without communicating.
    ///
    /// - Parameters:
    ///   - x: This rank's block: any length along the first axis, the same row shape on every rank.
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    /// - Returns: Every rank's block, in rank order, along the first axis.
    public static func allgatherv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("allgatherv", comm) { try MPI.allgatherv(x, comm: comm).0.data }
    }

    /// The reverse derivative of `allgatherv`, registered with the compiler.
    @derivative(of: allgatherv, wrt: x)
    @usableFromInline static func vjpAllgatherv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allgathervRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `allgatherv`.
    @derivative(of: allgatherv, wrt: x)
    public static func jvpAllgatherv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allgathervRule(x, comm: comm).shapedJVP()
    }
}

// MARK: - gatherv

extension Autodiff {
    /// Gathers blocks of different lengths from every rank onto the root.
    ///
    /// The differentiable form of `gatherv(_:root:comm:token:)`. As with
    /// `Autodiff.gather`, the root gets every rank's block along the first axis
    /// and every other rank gets its `x` back. The pullback scatters the root's
    /// cotangent back to the ranks (`scatterv`), and a rank other than the root
    /// adds its own cotangent.
    ///
    /// - Parameters:
    ///   - x: This rank's block: any length along the first axis, the same row shape on every rank.
    ///   - root: The rank that receives the blocks.
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    public static func gatherv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("gatherv", comm) { try MPI.gatherv(x, root: root, comm: comm).0?.data ?? x }
    }

    /// The reverse derivative of `gatherv`, registered with the compiler.
    @derivative(of: gatherv, wrt: x)
    @usableFromInline static func vjpGatherv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        gathervRule(x, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `gatherv`.
    @derivative(of: gatherv, wrt: x)
    public static func jvpGatherv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        gathervRule(x, root: root, comm: comm).shapedJVP()
    }
}

// MARK: - scatterv

extension Autodiff {
    /// Scatters blocks of different lengths from the root: rank `r` gets the next `rowCounts[r]` rows.
    ///
    /// The differentiable form of `scatterv(_:rowCounts:root:comm:token:)`. The
    /// pullback gathers the cotangents onto the root (`gatherv`); the other
    /// ranks' inputs, whose data is never read, get zero.
    ///
    /// - Parameters:
    ///   - x: On the root, the rows to scatter; elsewhere any array (not read).
    ///   - rowCounts: On the root, the rows for each rank; elsewhere not read.
    ///   - root: The rank that holds the data.
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    public static func scatterv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, rowCounts: [Int], root: Int, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("scatterv", comm) { try MPI.scatterv(x, rowCounts: rowCounts, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `scatterv`, registered with the compiler.
    @derivative(of: scatterv, wrt: x)
    @usableFromInline static func vjpScatterv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, rowCounts: [Int], root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scattervRule(x, rowCounts: rowCounts, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `scatterv`.
    @derivative(of: scatterv, wrt: x)
    public static func jvpScatterv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, rowCounts: [Int], root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scattervRule(x, rowCounts: rowCounts, root: root, comm: comm).shapedJVP()
    }
}

// MARK: - alltoallv

extension Autodiff {
    /// Sends the next `rowCounts[r]` rows of `x` to rank `r`, from every rank to every rank.
    ///
    /// The differentiable form of `alltoallv(_:rowCounts:comm:token:)`, returning
    /// the received blocks one after another along the first axis. The transpose
    /// of alltoallv is alltoallv with the received counts: the pullback sends
    /// each block's cotangent back to the rank it came from.
    ///
    /// - Parameters:
    ///   - x: This rank's rows, in destination order.
    ///   - rowCounts: The rows for each rank, adding up to `x`'s first axis.
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    public static func alltoallv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, rowCounts: [Int], comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("alltoallv", comm) { try MPI.alltoallv(x, rowCounts: rowCounts, comm: comm).0.data }
    }

    /// The reverse derivative of `alltoallv`, registered with the compiler.
    @derivative(of: alltoallv, wrt: x)
    @usableFromInline static func vjpAlltoallv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, rowCounts: [Int], comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        alltoallvRule(x, rowCounts: rowCounts, comm: comm).shapedVJP()
    }

    /// The forward derivative of `alltoallv`.
    @derivative(of: alltoallv, wrt: x)
    public static func jvpAlltoallv<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, rowCounts: [Int], comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        alltoallvRule(x, rowCounts: rowCounts, comm: comm).shapedJVP()
    }
}

// MARK: - reduceScatterBlock

extension Autodiff {
    /// Sums `x` over all ranks and gives rank `r` row `r` of the sum.
    ///
    /// The differentiable form of `reduceScatterBlock(_:op:comm:token:)`, for
    /// `.sum` (differentiating it with another `op` stops the process with a
    /// message naming the op). Its transpose is allgather: the pullback gathers
    /// every rank's cotangent onto every rank.
    ///
    /// - Parameters:
    ///   - x: `size` rows along the first axis, the same shape on every rank.
    ///   - op: The reduction: `.sum`.
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    public static func reduceScatterBlock<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("reduceScatterBlock", comm) { try MPI.reduceScatterBlock(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `reduceScatterBlock`, registered with the compiler.
    @derivative(of: reduceScatterBlock, wrt: x)
    @usableFromInline static func vjpReduceScatterBlock<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        reduceScatterBlockRule(x, op: op, comm: comm).shapedVJP()
    }

    /// The forward derivative of `reduceScatterBlock`.
    @derivative(of: reduceScatterBlock, wrt: x)
    public static func jvpReduceScatterBlock<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        reduceScatterBlockRule(x, op: op, comm: comm).shapedJVP()
    }
}

// MARK: - reduceScatter

extension Autodiff {
    /// Sums `x` over all ranks and gives rank `r` its `counts[r]` rows of the sum.
    ///
    /// The differentiable form of `reduceScatter(_:counts:op:comm:token:)`, for
    /// `.sum`. Its transpose is allgatherv: the pullback gathers every rank's
    /// cotangent onto every rank (the explicit form, with `counts`).
    ///
    /// - Parameters:
    ///   - x: The local contribution, the same shape on every rank.
    ///   - counts: The rows for each rank, the same on every rank, adding up to `x`'s first axis.
    ///   - op: The reduction: `.sum`.
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    public static func reduceScatter<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, counts: [Int], op: ReductionOp, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("reduceScatter", comm) { try MPI.reduceScatter(x, counts: counts, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `reduceScatter`, registered with the compiler.
    @derivative(of: reduceScatter, wrt: x)
    @usableFromInline static func vjpReduceScatter<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, counts: [Int], op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        reduceScatterRule(x, counts: counts, op: op, comm: comm).shapedVJP()
    }

    /// The forward derivative of `reduceScatter`.
    @derivative(of: reduceScatter, wrt: x)
    public static func jvpReduceScatter<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, counts: [Int], op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        reduceScatterRule(x, counts: counts, op: op, comm: comm).shapedJVP()
    }
}

// MARK: - exscan

extension Autodiff {
    /// The exclusive prefix sum over ranks: rank `r` gets `x_0 + … + x_{r-1}`, and rank 0 zeros.
    ///
    /// The differentiable form of `exscan(_:op:comm:token:)`, for `.sum`. The
    /// transpose of an exclusive prefix sum is the exclusive suffix sum,
    /// `x̄_r = Σ_{s > r} ȳ_s`, which the pullback computes as an exscan over a
    /// communicator with the ranks in reverse order.
    ///
    /// - Parameters:
    ///   - x: The local contribution, the same shape on every rank.
    ///   - op: The reduction: `.sum`.
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    public static func exscan<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("exscan", comm) { try MPI.exscan(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `exscan`, registered with the compiler.
    @derivative(of: exscan, wrt: x)
    @usableFromInline static func vjpExscan<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        exscanRule(x, op: op, comm: comm).shapedVJP()
    }

    /// The forward derivative of `exscan`.
    @derivative(of: exscan, wrt: x)
    public static func jvpExscan<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        exscanRule(x, op: op, comm: comm).shapedJVP()
    }
}

// MARK: - The rules

extension Autodiff {
    static func allgathervRule<T>(_ x: ShapedArray<T>, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "allgatherv")
        let blocks = performOrStop("allgatherv", c) { try MPI.allgatherv(x, comm: c).0 }
        let rowSize = blocks.rowShape.reduce(1, *), shape = x.shape
        let counts = blocks.counts.map { $0 * rowSize }
        let start = blocks.offsets[c.rank] * rowSize, n = counts[c.rank]
        return LinearRule(
            operation: "allgatherv", value: blocks.data, inputShape: shape,
            pullback: { v in Array(v[start..<(start + n)]) },
            differential: { t in
                performOrStop("the differential of allgatherv", c) { try MPI.allgatherv(t, counts: counts, comm: c).0 }
            })
    }

    static func gathervRule<T>(_ x: ShapedArray<T>, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "gatherv")
        let blocks = performOrStop("gatherv", c) { try MPI.gatherv(x, root: root, comm: c).0 }
        let shape = x.shape, isRoot = c.rank == root
        let y = blocks?.data ?? x, outShape = y.shape, rowCounts = blocks?.counts ?? []
        return LinearRule(
            operation: "gatherv", value: y, inputShape: shape,
            pullback: { v in
                // The root's cotangent is scattered back; a non-root rank also got
                // its input back, so its own cotangent adds to its block.
                let block = runPullback("gatherv", c) {
                    try MPI.scatterv(ShapedArray(shape: outShape, scalars: v), rowCounts: rowCounts, root: root,
                                     comm: c).0.scalars
                }
                return isRoot ? block : zip(block, v).map { $0 + $1 }
            },
            differential: { t in
                performOrStop("the differential of gatherv", c) {
                    let tangent = ShapedArray(shape: shape, scalars: t)
                    return try MPI.gatherv(tangent, root: root, comm: c).0?.data.scalars ?? t
                }
            })
    }

    static func scattervRule<T>(_ x: ShapedArray<T>, rowCounts: [Int], root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "scatterv")
        let y = performOrStop("scatterv", c) { try MPI.scatterv(x, rowCounts: rowCounts, root: root, comm: c).0 }
        let shape = x.shape, n = x.scalarCount, outShape = y.shape, isRoot = c.rank == root
        return LinearRule(
            operation: "scatterv", value: y, inputShape: shape,
            pullback: { v in
                // The root's input gets every rank's cotangent, in rank order; a
                // non-root rank's input is not read, so its cotangent is zero.
                let gathered = runPullback("scatterv", c) {
                    try MPI.gatherv(ShapedArray(shape: outShape, scalars: v), root: root, comm: c).0?.data.scalars
                }
                return isRoot ? gathered ?? [] : [T](repeating: 0, count: n)
            },
            differential: { t in
                performOrStop("the differential of scatterv", c) {
                    try MPI.scatterv(ShapedArray(shape: shape, scalars: t), rowCounts: rowCounts, root: root,
                                     comm: c).0.scalars
                }
            })
    }

    static func alltoallvRule<T>(_ x: ShapedArray<T>, rowCounts: [Int], comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "alltoallv")
        let blocks = performOrStop("alltoallv", c) { try MPI.alltoallv(x, rowCounts: rowCounts, comm: c).0 }
        let shape = x.shape, outShape = blocks.data.shape, received = blocks.counts
        return LinearRule(
            operation: "alltoallv", value: blocks.data, inputShape: shape,
            pullback: { v in
                runPullback("alltoallv", c) {
                    try MPI.alltoallv(ShapedArray(shape: outShape, scalars: v), rowCounts: received, comm: c).0
                        .data.scalars
                }
            },
            differential: { t in
                performOrStop("the differential of alltoallv", c) {
                    try MPI.alltoallv(ShapedArray(shape: shape, scalars: t), rowCounts: rowCounts, comm: c).0
                        .data.scalars
                }
            })
    }

    static func reduceScatterBlockRule<T>(_ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "reduceScatterBlock")
        guard op == .sum else { stopNotDifferentiable("reduceScatterBlock", op, allowed: "sum", c) }
        let y = performOrStop("reduceScatterBlock", c) { try MPI.reduceScatterBlock(x, op: .sum, comm: c).0 }
        let shape = x.shape, outShape = y.shape
        return LinearRule(
            operation: "reduceScatterBlock", value: y, inputShape: shape,
            pullback: { v in
                runPullback("reduceScatterBlock", c) {
                    try MPI.allgather(ShapedArray(shape: outShape, scalars: v), comm: c).0.scalars
                }
            },
            differential: { t in
                performOrStop("the differential of reduceScatterBlock", c) {
                    try MPI.reduceScatterBlock(ShapedArray(shape: shape, scalars: t), op: .sum, comm: c).0.scalars
                }
            })
    }

    static func reduceScatterRule<T>(
        _ x: ShapedArray<T>, counts: [Int], op: ReductionOp, comm: Communicator?
    ) -> LinearRule<T> {
        let c = resolved(comm, "reduceScatter")
        guard op == .sum else { stopNotDifferentiable("reduceScatter", op, allowed: "sum", c) }
        let y = performOrStop("reduceScatter", c) { try MPI.reduceScatter(x, counts: counts, op: .sum, comm: c).0 }
        let shape = x.shape, rowSize = shape.dropFirst().reduce(1, *)
        let elementCounts = counts.map { $0 * rowSize }
        return LinearRule(
            operation: "reduceScatter", value: y, inputShape: shape,
            pullback: { v in
                runPullback("reduceScatter", c) { try MPI.allgatherv(v, counts: elementCounts, comm: c).0 }
            },
            differential: { t in
                performOrStop("the differential of reduceScatter", c) {
                    try MPI.reduceScatter(t, counts: elementCounts, op: .sum, comm: c).0
                }
            })
    }

    static func exscanRule<T>(_ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "exscan")
        guard op == .sum else { stopNotDifferentiable("exscan", op, allowed: "sum", c) }
        let y = performOrStop("exscan", c) { try MPI.exscan(x, op: .sum, comm: c).0 }
        let shape = x.shape
        return LinearRule(
            operation: "exscan", value: y, inputShape: shape,
            pullback: { v in
                // The transpose of an exclusive prefix sum over ranks is the
                // exclusive suffix sum: an exscan over the ranks in reverse order.
                runPullback("exscan", c) {
                    let reversed = try c.split(color: 0, key: c.size - 1 - c.rank)
                    return try MPI.exscan(v, op: .sum, comm: reversed).0
                }
            },
            differential: { t in
                performOrStop("the differential of exscan", c) { try MPI.exscan(t, op: .sum, comm: c).0 }
            })
    }
}
