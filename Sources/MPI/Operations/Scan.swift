import CMPI

// scan (MPI_Scan): its core, then its forms (ShapedArray, [T], scalar, into:).

/// The core of scan: the op check, the hooks and the raw call, from `x` into `output`.
@inlinable
func scanCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.scan, comm, T.self, count: count, op: op), pending: pending, checks: { () throws(MPIError) in
        if pending != nil { try checkStartableReduction(count: count, .scan) }
        return try op.checkedHandle(for: T.self, operation: .scan)
    }) { (mpiOp) throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: count, "the input's count", .scan, pending: pending) { (destination) throws(MPIError) in
                try rawScan(source, destination, count: count, type: T.mpiDatatype.handle,
                            elementSize: MemoryLayout<T>.stride, op: mpiOp, comm: comm.handle, pending: pending)
            }
        }
    }
}

/// The result-returning forms' adapter: a new result of `x`'s count, filled by the core.
@inlinable
func scanResult<Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, op: ReductionOp, comm: Communicator?
) throws(MPIError) -> R where R.Element == Input.Scalar {
    let comm = try Communicator.resolve(comm, .scan)
    return try R.filled(count: x.scalarCount) { (output) throws(MPIError) in
        try scanCore(x, into: &output, op: op, comm: comm)
    }
}

/// The inclusive prefix reduction over ranks: rank r gets `op(x_0, …, x_r)` elementwise.
///
/// The counterpart of `mpi4jax.scan(x, op)`.
///
/// - Parameters:
///   - x: The local contribution, of the same shape and type on every rank. It is not modified.
///   - op: The reduction, which must be defined for `T`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array of `x`'s shape, and the new token.
/// - Throws: ``MPIError/unsupportedReduction(operation:op:scalarType:)`` on every rank for an invalid pair.
///
/// The corresponding C function is `MPI_Scan`.
@inlinable
public func scan<T: MPIScalar>(
    _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    (ShapedArray(_uncheckedShape: x._shape, storage: try scanResult(x, op: op, comm: comm)), advance(token))
}

/// The plain-array form of ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Scan`.
@inlinable
public func scan<T: MPIScalar>(
    _ x: [T], op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    (try scanResult(x, op: op, comm: comm), advance(token))
}

/// The scalar form of ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Scan`.
@inlinable
public func scan<T: MPIScalar>(
    _ x: T, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    ((try scanResult(SingleScalar(x), op: op, comm: comm) as SingleScalar<T>).value, advance(token))
}

/// ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage of `x.scalarCount` elements.
///
/// An output of another size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
/// on this rank after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Scan`.
@inlinable @discardableResult
public func scan<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try scanCore(x, into: &output, op: op, comm: Communicator.resolve(comm, .scan))
    return advance(token)
}
