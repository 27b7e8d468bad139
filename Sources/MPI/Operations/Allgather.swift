import CMPI

// allgather (MPI_Allgather): its core, then its forms (ShapedArray, [T], scalar, into:).

/// The core of allgather: the hooks and the raw call, from `x` into `output` (`size` blocks of `x`'s count).
@inlinable
func allgatherCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.allgather, comm, T.self, count: count), pending: pending) { () throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: count * comm.size, "size × input", .allgather, pending: pending) {
                (destination) throws(MPIError) in
                try rawAllgather(source, destination, count: count, type: T.mpiDatatype.handle,
                                 elementSize: MemoryLayout<T>.stride, comm: comm.handle, pending: pending)
            }
        }
    }
}

/// Gathers `x` from every rank onto every rank.
///
/// The counterpart of `mpi4jax.allgather(x)`. `x` must have the same shape and
/// type on all ranks.
///
/// - Parameters:
///   - x: This rank's contribution. It is not modified.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array of shape `[size] + x.shape` whose row `r` is rank `r`'s `x`, and the new token.
///
/// The corresponding C function is `MPI_Allgather`.
@inlinable
public func allgather<T: MPIScalar>(
    _ x: ShapedArray<T>, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let comm = try Communicator.resolve(comm, .allgather)
    let result = try ScalarStorage<T>.filled(count: x.scalarCount * comm.size) { (output) throws(MPIError) in
        try allgatherCore(x, into: &output, comm: comm)
    }
    return (ShapedArray(_uncheckedShape: prepending(comm.size, to: x._shape), storage: result), advance(token))
}

/// The plain-array form of ``allgather(_:comm:token:)-(ShapedArray<T>,_,_)``: the result has shape `[size, x.count]`.
///
/// The corresponding C function is `MPI_Allgather`.
@inlinable
public func allgather<T: MPIScalar>(
    _ x: [T], comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    try allgather(ShapedArray(x), comm: comm, token: token)
}

/// The scalar form of ``allgather(_:comm:token:)-(ShapedArray<T>,_,_)``: the result has shape `[size]`.
///
/// The corresponding C function is `MPI_Allgather`.
@inlinable
public func allgather<T: MPIScalar>(
    _ x: T, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    try allgather(ShapedArray(scalar: x), comm: comm, token: token)
}

/// ``allgather(_:comm:token:)-(ShapedArray<T>,_,_)`` into caller-owned storage of `size * x.scalarCount` elements.
///
/// An output of another size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
/// on this rank after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Allgather`.
@inlinable @discardableResult
public func allgather<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try allgatherCore(x, into: &output, comm: Communicator.resolve(comm, .allgather))
    return advance(token)
}
