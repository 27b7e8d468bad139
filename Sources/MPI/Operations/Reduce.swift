import CMPI

// reduce (MPI_Reduce): its core, then its forms (ShapedArray, [T], scalar, into:).

/// The core of reduce: the root and op checks, the hooks and the raw call.
///
/// `output` receives the reduction on the root and is not touched elsewhere.
@inlinable
func reduceCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, root: Int, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.reduce, comm, T.self, count: count, root: root, op: op), pending: pending, checks: { () throws(MPIError) in
        if pending != nil { try checkStartableReduction(count: count, .reduce) }
        try comm.checkRank(root, "root", .reduce)
        return try op.checkedHandle(for: T.self, operation: .reduce)
    }) { (mpiOp) throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            guard comm.rank == root else {
                return try rawReduce(source, nil, count: count, type: T.mpiDatatype.handle,
                                     elementSize: MemoryLayout<T>.stride, op: mpiOp, root: root, comm: comm.handle, pending: pending)
            }
            try withOutput(&output, expected: count, "the input's count", .reduce, pending: pending) { (destination) throws(MPIError) in
                try rawReduce(source, destination, count: count, type: T.mpiDatatype.handle,
                              elementSize: MemoryLayout<T>.stride, op: mpiOp, root: root, comm: comm.handle, pending: pending)
            }
        }
    }
}

/// The result-returning forms' adapter: the reduction on the root, `nil` on the other ranks.
@inlinable
func reduceResult<Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, op: ReductionOp, root: Int, comm: Communicator?
) throws(MPIError) -> R? where R.Element == Input.Scalar {
    let comm = try Communicator.resolve(comm, .reduce)
    guard comm.rank == root else {
        var unused = ResultBuffer<Input.Scalar>.none
        try reduceCore(x, into: &unused, op: op, root: root, comm: comm)
        return nil
    }
    return try R.filled(count: x.scalarCount) { (output) throws(MPIError) in
        try reduceCore(x, into: &output, op: op, root: root, comm: comm)
    }
}

/// Combines `x` elementwise across all ranks with `op`; the root gets the result.
///
/// The counterpart of `mpi4jax.reduce(x, op, root)`. As in mpi4jax, ranks other
/// than the root get their input back unchanged (not zeros, not an empty array).
///
/// - Parameters:
///   - x: The local contribution, of the same shape and type on every rank. It is not modified.
///   - op: The reduction, which must be defined for `T`.
///   - root: The rank that receives the result.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: On the root, a new array holding the reduction; elsewhere `x`. And the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `root` and
///   ``MPIError/unsupportedReduction(operation:op:scalarType:)`` for an invalid pair, on every rank,
///   before anything is communicated.
///
/// The corresponding C function is `MPI_Reduce`.
@inlinable
public func reduce<T: MPIScalar>(
    _ x: ShapedArray<T>, op: ReductionOp, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let result: ScalarStorage<T>? = try reduceResult(x, op: op, root: root, comm: comm)
    return (result.map { ShapedArray(_uncheckedShape: x._shape, storage: $0) } ?? x, advance(token))
}

/// The plain-array form of ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)``:
/// the root gets the reduction, the other ranks get `x` back.
///
/// The corresponding C function is `MPI_Reduce`.
@inlinable
public func reduce<T: MPIScalar>(
    _ x: [T], op: ReductionOp, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    (try reduceResult(x, op: op, root: root, comm: comm) ?? x, advance(token))
}

/// The scalar form of ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)``:
/// the root gets the reduction, the other ranks get `x` back.
///
/// The corresponding C function is `MPI_Reduce`.
@inlinable
public func reduce<T: MPIScalar>(
    _ x: T, op: ReductionOp, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    ((try reduceResult(SingleScalar(x), op: op, root: root, comm: comm) as SingleScalar<T>?)?.value ?? x,
     advance(token))
}

/// ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)`` into caller-owned storage of `x.scalarCount`
/// elements on the root; `output` is neither checked nor touched on the other ranks.
///
/// An output of another size on the root throws
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` there after the
/// collective has completed (into scratch storage), so that the other ranks are not left waiting.
///
/// The corresponding C function is `MPI_Reduce`.
@inlinable @discardableResult
public func reduce<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, root: Int, comm: Communicator? = nil,
    token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try reduceCore(x, into: &output, op: op, root: root, comm: Communicator.resolve(comm, .reduce))
    return advance(token)
}
