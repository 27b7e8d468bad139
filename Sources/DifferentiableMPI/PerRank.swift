// perRank: the transpose of using a value that is the same on every rank as
// per-rank data. The identity forward, an allreduce-sum of the cotangent backward.

import MPI
import _Differentiation

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
    ///   - comm: The communicator of the ranks that share it; `nil` means `Communicator.default`.
    /// - Returns: `x`.
    public static func perRank<T: DifferentiableMPIScalar>(_ x: ShapedArray<T>, comm: Communicator? = nil) -> ShapedArray<T> {
        x
    }

    /// The reverse derivative of `perRank` on a ``MPI/ShapedArray``: an allreduce-sum of the cotangent.
    @derivative(of: perRank, wrt: x)
    @usableFromInline static func vjpPerRank<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        perRankRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `perRank` on a ``MPI/ShapedArray``: the identity.
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
    @usableFromInline static func vjpPerRank<T: DifferentiableMPIScalar>(
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
    @usableFromInline static func vjpPerRank<T: DifferentiableMPIScalar>(
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
