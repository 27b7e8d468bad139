import CMPI

// reduceScatterBlock (MPI_Reduce_scatter_block): its core, then its forms
// (ShapedArray, [T], into:).

/// The core of reduceScatterBlock: the op and block checks, the hooks and the
/// raw call: `x` holds `size` blocks of `output`'s count; rank r gets the
/// reduction of every rank's block r.
@inlinable
func reduceScatterBlockCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, blocks: AlltoallBlocks, op: ReductionOp, comm: ResolvedCommunicator
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.reduceScatterBlock, comm, T.self, count: count, op: op), checks: { () throws(MPIError) in
        let mpiOp = try op.checkedHandle(for: T.self, operation: .reduceScatterBlock)
        try checkReduceScatterBlocks(blocks, count: count, size: comm.size)
        return mpiOp
    }) { (mpiOp) throws(MPIError) in
        let blockCount = comm.size == 0 ? 0 : count / comm.size
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: blockCount, "the input's count / size", .reduceScatterBlock) {
                (destination) throws(MPIError) in
                try rawReduceScatterBlock(source, destination, count: blockCount, type: T.mpiDatatype.handle,
                                          elementSize: MemoryLayout<T>.stride, op: mpiOp, comm: comm.handle,
                                          size: comm.size, rank: comm.rank)
            }
        }
    }
}

/// Checks that reduceScatterBlock's input divides into `size` blocks.
@inlinable
func checkReduceScatterBlocks(_ blocks: AlltoallBlocks, count: Int, size: Int) throws(MPIError) {
    switch blocks {
    case .rows(let firstAxis, let shape):
        if _slowPath(firstAxis != size) {
            throw MPIError.shapeMismatch(
                operation: MPIOperation.reduceScatterBlock.name, argument: "x",
                expected: "first axis of size \(size) (the communicator size)",
                actual: firstAxis == nil ? "a 0-d array" : "shape \(shape ?? [count])")
        }
    case .elements:
        if _slowPath(size == 0 || count % size != 0) {
            throw MPIError.shapeMismatch(
                operation: MPIOperation.reduceScatterBlock.name, argument: "x",
                expected: "a multiple of \(size) elements (size × the block's count)", actual: "\(counted(count, "element"))")
        }
    }
}

/// Reduces `x` elementwise over all ranks and scatters the result: rank `r` gets row `r` of the reduction.
///
/// The reduction of ``allreduce(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` followed by the row of
/// ``scatter(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``, in one call; the transpose of
/// ``allgather(_:comm:token:)-(ShapedArray<T>,_,_)`` for `sum`.
///
/// - Parameters:
///   - x: The local contribution: `size` rows along the first axis, of the same shape and type on every
///     rank. It is not modified.
///   - op: The reduction, which must be defined for `T`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: Row `rank` of the reduction (shape `x.shape.dropFirst()`), and the new token.
/// - Throws: ``MPIError/unsupportedReduction(operation:op:scalarType:)`` for an invalid pair and
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for a first axis other than the
///   communicator's size, on every rank before anything is communicated.
///
/// The corresponding C function is `MPI_Reduce_scatter_block`.
@inlinable
public func reduceScatterBlock<T: MPIScalar>(
    _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let comm = try Communicator.resolve(comm, .reduceScatterBlock)
    let rowCount = comm.size == 0 ? 0 : x.scalarCount / comm.size
    let result = try ScalarStorage<T>.filled(count: x._shape.first == comm.size ? rowCount : 0) {
        (output) throws(MPIError) in
        try reduceScatterBlockCore(x, into: &output, blocks: .rows(firstAxis: x._shape.first, shape: x._shape),
                                   op: op, comm: comm)
    }
    return (ShapedArray(_uncheckedShape: droppingFirst(x._shape), storage: result), advance(token))
}

/// The plain-array form of ``reduceScatterBlock(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``: `x` holds
/// `size` equal blocks, and the result is block `rank` of the reduction.
///
/// The corresponding C function is `MPI_Reduce_scatter_block`.
@inlinable
public func reduceScatterBlock<T: MPIScalar>(
    _ x: [T], op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let comm = try Communicator.resolve(comm, .reduceScatterBlock)
    let blockCount = comm.size == 0 ? 0 : x.count / comm.size
    let result = try [T].filled(count: blockCount) { (output) throws(MPIError) in
        try reduceScatterBlockCore(x, into: &output, blocks: .elements, op: op, comm: comm)
    }
    return (result, advance(token))
}

/// ``reduceScatterBlock(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage:
/// `x` holds `size × output.scalarCount` elements.
///
/// An output of another size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
/// on this rank after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Reduce_scatter_block`.
@inlinable @discardableResult
public func reduceScatterBlock<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try reduceScatterBlockCore(x, into: &output, blocks: .elements, op: op,
                               comm: Communicator.resolve(comm, .reduceScatterBlock))
    return advance(token)
}
