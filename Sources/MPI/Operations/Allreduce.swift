import CMPI

// allreduce (MPI_Allreduce): its core, then its forms (ShapedArray, [T], scalar, into:).

/// The core of allreduce: the op check, the hooks and the raw call, from `x` into `output`.
///
/// Always inlined: left to the optimiser, its non-blocking callers kept it out of line once the
/// cross-rank check's lock flag joined `perform` (callgrind, one rank, 8 B: `iallreduce` start +
/// wait 1,658 instructions per call out of line, 1,568 inlined; 1,636 before the flag).
@inlinable @inline(__always)
func allreduceCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.allreduce, comm, T.self, count: count, op: op), pending: pending, checks: { () throws(MPIError) in
        if pending != nil { try checkStartableReduction(count: count, .allreduce) }
        return try op.checkedHandle(for: T.self, operation: .allreduce)
    }) { (mpiOp) throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: count, "the input's count", .allreduce, pending: pending) { (destination) throws(MPIError) in
                try rawAllreduce(source, destination, count: count, type: T.mpiDatatype.handle,
                                 elementSize: MemoryLayout<T>.stride, op: mpiOp, comm: comm.handle, pending: pending)
            }
        }
    }
}

/// The result-returning forms' adapter: a new result of `x`'s count, filled by the core.
@inlinable
func allreduceResult<Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, op: ReductionOp, comm: Communicator?
) throws(MPIError) -> R where R.Element == Input.Scalar {
    let comm = try Communicator.resolve(comm, .allreduce)
    return try R.filled(count: x.scalarCount) { (output) throws(MPIError) in
        try allreduceCore(x, into: &output, op: op, comm: comm)
    }
}

/// Combines `x` elementwise across all ranks with `op`; every rank gets the result.
///
/// The counterpart of `mpi4jax.allreduce(x, op)`. Its differentiable form,
/// for `.sum`, `.min` and `.max`, is `Autodiff.allreduce` in the module
/// `DifferentiableMPI` (see the package's differentiation documentation).
///
/// - Parameters:
///   - x: The local contribution, of the same shape and type on every rank. It is not modified.
///   - op: The reduction, which must be defined for `T` (see ``ReductionOp``).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it; `nil` starts a new chain.
/// - Returns: A new array of `x`'s shape holding the reduction, and the new token.
/// - Throws: ``MPIError/unsupportedReduction(operation:op:scalarType:)`` on every rank for an
///   invalid `op`/`T` pair; ``MPIError/finalized(operation:)``; ``MPIError/mpi(operation:errorClass:message:)``.
///
/// The corresponding C function is `MPI_Allreduce`.
@inlinable
public func allreduce<T: MPIScalar>(
    _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    (ShapedArray(_uncheckedShape: x._shape, storage: try allreduceResult(x, op: op, comm: comm)), advance(token))
}

/// Combines the elements of `x` across all ranks with `op`; every rank gets the result.
///
/// The plain-array form of ``allreduce(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Allreduce`.
@inlinable
public func allreduce<T: MPIScalar>(
    _ x: [T], op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    (try allreduceResult(x, op: op, comm: comm), advance(token))
}

/// Combines the scalar `x` across all ranks with `op`; every rank gets the result.
///
/// The scalar form of ``allreduce(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Allreduce`.
@inlinable
public func allreduce<T: MPIScalar>(
    _ x: T, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    ((try allreduceResult(SingleScalar(x), op: op, comm: comm) as SingleScalar<T>).value, advance(token))
}

/// ``allreduce(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage of `x.scalarCount` elements.
///
/// An output of another size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
/// on this rank after the collective has completed (into scratch storage), so that
/// the other ranks are not left waiting.
///
/// The corresponding C function is `MPI_Allreduce`.
@inlinable @discardableResult
public func allreduce<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try allreduceCore(x, into: &output, op: op, comm: Communicator.resolve(comm, .allreduce))
    return advance(token)
}
