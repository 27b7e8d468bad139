// The differentiable forms of the reductions, registered with the compiler:
// allreduce, reduce and scan.

import MPI
import _Differentiation

// MARK: - allreduce

extension Autodiff {
    /// Combines `x` elementwise across all ranks with `op`; every rank gets the result.
    ///
    /// The differentiable form of `allreduce(_:op:comm:token:)`. Differentiable
    /// for `.sum` (the pullback is the identity, as in mpi4jax: the output is
    /// replicated, so its cotangent is already the whole derivative), and for
    /// `.max` and `.min` (the cotangent of each element goes to the rank that
    /// holds the extreme, the lowest such rank on ties; when the reduced element
    /// is NaN, no rank gets its cotangent). Differentiating it with another `op`
    /// stops the process with a message naming the op.
    ///
    /// - Parameters:
    ///   - x: The local contribution, of the same shape on every rank.
    ///   - op: The reduction (not differentiated).
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    /// - Returns: The reduction, of `x`'s shape.
    public static func allreduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("allreduce", comm) { try MPI.allreduce(x, op: op, comm: comm).0 }
    }

    /// The reverse derivative of `allreduce` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: allreduce, wrt: x)
    @usableFromInline static func vjpAllreduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allreduceRule(x, op: op, comm: comm).shapedVJP()
    }

    /// The forward derivative of `allreduce` on a ``MPI/ShapedArray``: the value and a
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
    @usableFromInline static func vjpAllreduce<T: DifferentiableMPIScalar>(
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
    @usableFromInline static func vjpAllreduce<T: DifferentiableMPIScalar>(
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

    /// The reverse derivative of `reduce` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: reduce, wrt: x)
    @usableFromInline static func vjpReduce<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        reduceRule(x, op: op, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `reduce` on a ``MPI/ShapedArray``.
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
    @usableFromInline static func vjpReduce<T: DifferentiableMPIScalar>(
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
    @usableFromInline static func vjpReduce<T: DifferentiableMPIScalar>(
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

    /// The reverse derivative of `scan` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: scan, wrt: x)
    @usableFromInline static func vjpScan<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scanRule(x, op: op, comm: comm).shapedVJP()
    }

    /// The forward derivative of `scan` on a ``MPI/ShapedArray``.
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
    @usableFromInline static func vjpScan<T: DifferentiableMPIScalar>(
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
    @usableFromInline static func vjpScan<T: DifferentiableMPIScalar>(
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
