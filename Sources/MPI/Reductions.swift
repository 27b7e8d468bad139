import CMPI

// The reduction primitives: allreduce, reduce and scan.
//
// Each takes a ShapedArray, a plain array or a scalar. The op is checked
// against the scalar type on every rank before anything is communicated.
// Reductions of more than Int32.max elements run in chunks (see LargeCount.swift).

// MARK: allreduce

/// Combines `x` elementwise across all ranks with `op`; every rank gets the result.
///
/// The counterpart of `mpi4jax.allreduce(x, op)`. Differentiable for `.sum`,
/// `.min` and `.max` (see the package's differentiation documentation).
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
    let result: ScalarStorage<T> = try _allreduce(x, op: op, comm: comm)
    return (ShapedArray(_uncheckedShape: x._shape, storage: result), advance(token))
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
    (try _allreduce(x, op: op, comm: comm), advance(token))
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
    ((try _allreduce(SingleScalar(x), op: op, comm: comm) as SingleScalar<T>).value, advance(token))
}

@inlinable
func _allreduce<T: MPIScalar, Input: MPIBuffer, R: UninitializedResult>(_ x: Input, op: ReductionOp, comm: Communicator?) throws(MPIError) -> R
where Input.Scalar == T, R.Element == T {
    let comm = try Communicator.resolve(comm, "allreduce")
    let mpiOp = try op.checkedHandle(for: T.self, operation: "allreduce")
    let count = x.scalarCount
    try diagnoseCollective(comm, "allreduce", T.self, count: count, op: op)
    var code: Int32 = 0
    let result: R = x.withUnsafeMPIBuffer { source in
        R.uninitialized(count: count) { destination in
            code = rawAllreduce(source, destination.baseAddress, count: count, type: T.mpiDatatype.handle,
                elementSize: MemoryLayout<T>.stride, op: mpiOp, comm: comm.handle)
        }
    }
    try check(code, "allreduce")
    return result
}

// MARK: reduce

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
    let result: ScalarStorage<T>? = try _reduce(x, op: op, root: root, comm: comm)
    guard let result else { return (x, advance(token)) }
    return (ShapedArray(_uncheckedShape: x._shape, storage: result), advance(token))
}

/// The plain-array form of ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)``:
/// the root gets the reduction, the other ranks get `x` back.
///
/// The corresponding C function is `MPI_Reduce`.
@inlinable
public func reduce<T: MPIScalar>(
    _ x: [T], op: ReductionOp, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    (try _reduce(x, op: op, root: root, comm: comm) ?? x, advance(token))
}

/// The scalar form of ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)``:
/// the root gets the reduction, the other ranks get `x` back.
///
/// The corresponding C function is `MPI_Reduce`.
@inlinable
public func reduce<T: MPIScalar>(
    _ x: T, op: ReductionOp, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    ((try _reduce(SingleScalar(x), op: op, root: root, comm: comm) as SingleScalar<T>?)?.value ?? x, advance(token))
}

/// The reduction on the root, `nil` on the other ranks.
@inlinable
func _reduce<T: MPIScalar, Input: MPIBuffer, R: UninitializedResult>(_ x: Input, op: ReductionOp, root: Int, comm: Communicator?) throws(MPIError) -> R?
where Input.Scalar == T, R.Element == T {
    let comm = try Communicator.resolve(comm, "reduce")
    try comm.checkRank(root, "root", "reduce")
    let mpiOp = try op.checkedHandle(for: T.self, operation: "reduce")
    let count = x.scalarCount
    try diagnoseCollective(comm, "reduce", T.self, count: count, root: root, op: op)
    var code: Int32 = 0
    if comm.rank != root {
        code = x.withUnsafeMPIBuffer { source in
            rawReduce(source, nil, count: count, type: T.mpiDatatype.handle,
                      elementSize: MemoryLayout<T>.stride, op: mpiOp, root: root, comm: comm.handle)
        }
        try check(code, "reduce")
        return nil
    }
    let result: R = x.withUnsafeMPIBuffer { source in
        R.uninitialized(count: count) { destination in
            code = rawReduce(source, destination.baseAddress, count: count, type: T.mpiDatatype.handle,
                             elementSize: MemoryLayout<T>.stride, op: mpiOp, root: root, comm: comm.handle)
        }
    }
    try check(code, "reduce")
    return result
}

// MARK: scan

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
    let result: ScalarStorage<T> = try _scan(x, op: op, comm: comm)
    return (ShapedArray(_uncheckedShape: x._shape, storage: result), advance(token))
}

/// The plain-array form of ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Scan`.
@inlinable
public func scan<T: MPIScalar>(
    _ x: [T], op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    (try _scan(x, op: op, comm: comm), advance(token))
}

/// The scalar form of ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Scan`.
@inlinable
public func scan<T: MPIScalar>(
    _ x: T, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    ((try _scan(SingleScalar(x), op: op, comm: comm) as SingleScalar<T>).value, advance(token))
}

@inlinable
func _scan<T: MPIScalar, Input: MPIBuffer, R: UninitializedResult>(_ x: Input, op: ReductionOp, comm: Communicator?) throws(MPIError) -> R
where Input.Scalar == T, R.Element == T {
    let comm = try Communicator.resolve(comm, "scan")
    let mpiOp = try op.checkedHandle(for: T.self, operation: "scan")
    let count = x.scalarCount
    try diagnoseCollective(comm, "scan", T.self, count: count, op: op)
    var code: Int32 = 0
    let result: R = x.withUnsafeMPIBuffer { source in
        R.uninitialized(count: count) { destination in
            code = rawScan(source, destination.baseAddress, count: count, type: T.mpiDatatype.handle,
                           elementSize: MemoryLayout<T>.stride, op: mpiOp, comm: comm.handle)
        }
    }
    try check(code, "scan")
    return result
}
