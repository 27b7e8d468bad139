import CMPI

// gather (MPI_Gather): its core, then its forms (ShapedArray, [T], scalar, into:).

/// The core of gather: the root check, the hooks and the raw call.
///
/// `output` receives `size` blocks of `x`'s count on the root and is not touched elsewhere.
@inlinable
func gatherCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, root: Int, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.gather, comm, T.self, count: count, root: root), pending: pending, checks: { () throws(MPIError) in
        try comm.checkRank(root, "root", .gather)
    }) { () throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            guard comm.rank == root else {
                return try rawGather(source, nil, count: count, type: T.mpiDatatype.handle,
                                     elementSize: MemoryLayout<T>.stride, root: root, comm: comm.handle, pending: pending)
            }
            try withOutput(&output, expected: count * comm.size, "size × input", .gather, pending: pending) {
                (destination) throws(MPIError) in
                try rawGather(source, destination, count: count, type: T.mpiDatatype.handle,
                              elementSize: MemoryLayout<T>.stride, root: root, comm: comm.handle, pending: pending)
            }
        }
    }
}

/// Gathers `x` from every rank onto the root.
///
/// The counterpart of `mpi4jax.gather(x, root)`. `x` must have the same shape
/// and type on all ranks. As in mpi4jax, the result's shape differs between
/// ranks: the root gets `[size] + x.shape`, every other rank gets `x` back unchanged.
///
/// - Parameters:
///   - x: This rank's contribution. It is not modified.
///   - root: The rank that receives the data.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: On the root, a new array whose row `r` is rank `r`'s `x`; elsewhere `x`. And the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` on every rank for a bad `root`.
///
/// The corresponding C function is `MPI_Gather`.
@inlinable
public func gather<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let comm = try Communicator.resolve(comm, .gather)
    guard comm.rank == root else {
        var unused = ResultBuffer<T>.none
        try gatherCore(x, into: &unused, root: root, comm: comm)
        return (x, advance(token))
    }
    let result = try ScalarStorage<T>.filled(count: x.scalarCount * comm.size) { (output) throws(MPIError) in
        try gatherCore(x, into: &output, root: root, comm: comm)
    }
    return (ShapedArray(_uncheckedShape: prepending(comm.size, to: x._shape), storage: result), advance(token))
}

/// The plain-array form of ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``: the root gets shape
/// `[size, x.count]`, the other ranks get `x` as a 1-d array.
///
/// The corresponding C function is `MPI_Gather`.
@inlinable
public func gather<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    try gather(ShapedArray(x), root: root, comm: comm, token: token)
}

/// The scalar form of ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``: the root gets shape `[size]`,
/// the other ranks get `x` as a 0-d array.
///
/// The corresponding C function is `MPI_Gather`.
@inlinable
public func gather<T: MPIScalar>(
    _ x: T, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    try gather(ShapedArray(scalar: x), root: root, comm: comm, token: token)
}

/// ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage of `size * x.scalarCount`
/// elements on the root; `output` is neither checked nor touched on the other ranks.
///
/// An output of another size on the root throws
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` there after the
/// collective has completed (into scratch storage), so that the other ranks are not left waiting.
///
/// The corresponding C function is `MPI_Gather`.
@inlinable @discardableResult
public func gather<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try gatherCore(x, into: &output, root: root, comm: Communicator.resolve(comm, .gather))
    return advance(token)
}
