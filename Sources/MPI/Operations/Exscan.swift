import CMPI

// exscan (MPI_Exscan): its core, then its forms (ShapedArray, [T], scalar, into:).
//
// MPI leaves rank 0's result undefined; here it is defined: all zeros (0, 0.0,
// false, 0 + 0i) for every op, written by the core after the call.

/// The core of exscan: the op check, the hooks and the raw call, from `x` into
/// `output`; rank 0's output is then zero-filled.
@inlinable
func exscanCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: ResolvedCommunicator
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.exscan, comm, T.self, count: count, op: op), checks: { () throws(MPIError) in
        try op.checkedHandle(for: T.self, operation: .exscan)
    }) { (mpiOp) throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: count, "the input's count", .exscan) { (destination) throws(MPIError) in
                try rawExscan(source, destination, count: count, type: T.mpiDatatype.handle,
                              elementSize: MemoryLayout<T>.stride, op: mpiOp, comm: comm.handle)
                if comm.rank == 0, let destination {
                    destination.initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<T>.stride)
                }
            }
        }
    }
}

/// The result-returning forms' adapter: a new result of `x`'s count, filled by the core.
@inlinable
func exscanResult<Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, op: ReductionOp, comm: Communicator?
) throws(MPIError) -> R where R.Element == Input.Scalar {
    let comm = try Communicator.resolve(comm, .exscan)
    return try R.filled(count: x.scalarCount) { (output) throws(MPIError) in
        try exscanCore(x, into: &output, op: op, comm: comm)
    }
}

/// The exclusive prefix reduction over ranks: rank r > 0 gets `op(x_0, …, x_{r-1})` elementwise, and
/// rank 0 gets zeros.
///
/// MPI leaves rank 0's result undefined; this package defines it as all zeros
/// (0, 0.0, `false`, 0 + 0i) whatever the op, which is the identity of `sum`
/// (so that `exscan(x, .sum) + x == scan(x, .sum)` holds on every rank) but not of
/// `product`, `min`, `max` or `logicalAnd`.
///
/// - Parameters:
///   - x: The local contribution, of the same shape and type on every rank. It is not modified.
///   - op: The reduction, which must be defined for `T`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array of `x`'s shape, and the new token.
/// - Throws: ``MPIError/unsupportedReduction(operation:op:scalarType:)`` on every rank for an invalid pair.
///
/// The corresponding C function is `MPI_Exscan`.
@inlinable
public func exscan<T: MPIScalar>(
    _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    (ShapedArray(_uncheckedShape: x._shape, storage: try exscanResult(x, op: op, comm: comm)), advance(token))
}

/// The plain-array form of ``exscan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Exscan`.
@inlinable
public func exscan<T: MPIScalar>(
    _ x: [T], op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    (try exscanResult(x, op: op, comm: comm), advance(token))
}

/// The scalar form of ``exscan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Exscan`.
@inlinable
public func exscan<T: MPIScalar>(
    _ x: T, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    ((try exscanResult(SingleScalar(x), op: op, comm: comm) as SingleScalar<T>).value, advance(token))
}

/// ``exscan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage of `x.scalarCount`
/// elements (zeros on rank 0).
///
/// An output of another size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
/// on this rank after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Exscan`.
@inlinable @discardableResult
public func exscan<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try exscanCore(x, into: &output, op: op, comm: Communicator.resolve(comm, .exscan))
    return advance(token)
}
