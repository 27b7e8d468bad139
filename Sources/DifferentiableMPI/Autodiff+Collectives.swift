// The differentiable forms of the collectives that move data, registered with
// the compiler: allgather, alltoall, bcast, gather and scatter.

import MPI
import _Differentiation

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

    /// The reverse derivative of `allgather` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: allgather, wrt: x)
    @usableFromInline static func vjpAllgather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        allgatherRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `allgather` on a ``MPI/ShapedArray``.
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
    @usableFromInline static func vjpAllgather<T: DifferentiableMPIScalar>(
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
    @usableFromInline static func vjpAllgather<T: DifferentiableMPIScalar>(
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
    /// - Parameters:
    ///   - x: An array whose first axis has `size` rows.
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    /// - Returns: An array of `x`'s shape.
    public static func alltoall<T: DifferentiableMPIScalar>(_ x: ShapedArray<T>, comm: Communicator? = nil) -> ShapedArray<T> {
        performOrStop("alltoall", comm) { try MPI.alltoall(x, comm: comm).0 }
    }

    /// The reverse derivative of `alltoall` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: alltoall, wrt: x)
    @usableFromInline static func vjpAlltoall<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        alltoallRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `alltoall` on a ``MPI/ShapedArray``.
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
    @usableFromInline static func vjpAlltoall<T: DifferentiableMPIScalar>(
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
    ///   - comm: The communicator; `nil` means `Communicator.default`.
    public static func bcast<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("bcast", comm) { try MPI.bcast(x, root: root, comm: comm).0 }
    }

    /// The reverse derivative of `bcast` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: bcast, wrt: x)
    @usableFromInline static func vjpBcast<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        bcastRule(x, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `bcast` on a ``MPI/ShapedArray``.
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
    @usableFromInline static func vjpBcast<T: DifferentiableMPIScalar>(
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
    @usableFromInline static func vjpBcast<T: DifferentiableMPIScalar>(
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

    /// The reverse derivative of `gather` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: gather, wrt: x)
    @usableFromInline static func vjpGather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        gatherRule(x, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `gather` on a ``MPI/ShapedArray``.
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
    @usableFromInline static func vjpGather<T: DifferentiableMPIScalar>(
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
    @usableFromInline static func vjpGather<T: DifferentiableMPIScalar>(
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

    /// The reverse derivative of `scatter` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: scatter, wrt: x)
    @usableFromInline static func vjpScatter<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, root: Int, comm: Communicator?
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        scatterRule(x, root: root, comm: comm).shapedVJP()
    }

    /// The forward derivative of `scatter` on a ``MPI/ShapedArray``.
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
    @usableFromInline static func vjpScatter<T: DifferentiableMPIScalar>(
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
