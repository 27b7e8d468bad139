import CMPI

// reduceScatter (MPI_Reduce_scatter): its core, then its forms (ShapedArray,
// [T], into:).

/// The core of reduceScatter: the op and count checks, the hooks and the raw
/// call: `x` holds blocks of `counts` elements in rank order; rank r gets the
/// reduction of every rank's block r.
@inlinable
func reduceScatterCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], op: ReductionOp, comm: ResolvedCommunicator
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.reduceScatter, comm, T.self, count: count, op: op), checks: { () throws(MPIError) in
        let mpiOp = try op.checkedHandle(for: T.self, operation: .reduceScatter)
        let total = try checkCounts(counts, "counts", size: comm.size, .reduceScatter)
        if _slowPath(total != count) {
            throw MPIError.invalidArgument(
                operation: MPIOperation.reduceScatter.name, argument: "counts",
                expected: "counts that add up to x's \(count) elements", actual: "\(counts) (sum \(total))")
        }
        return mpiOp
    }) { (mpiOp) throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: counts[comm.rank], "this rank's entry of 'counts'", .reduceScatter) {
                (destination) throws(MPIError) in
                try counts.withUnsafeBufferPointer { (c) throws(MPIError) in
                    try rawReduceScatter(source, destination, counts: c, type: T.mpiDatatype.handle,
                                         elementSize: MemoryLayout<T>.stride, op: mpiOp, comm: comm.handle,
                                         rank: comm.rank)
                }
            }
        }
    }
}

/// Reduces `x` elementwise over all ranks and scatters blocks of different lengths: rank `r` gets
/// the `counts[r]` rows of the reduction after those of the ranks before it.
///
/// - Parameters:
///   - x: The local contribution, of the same shape and type on every rank. It is not modified.
///   - counts: The rows (along `x`'s first axis) for each rank; the same on every rank, adding up to
///     `x`'s first axis.
///   - op: The reduction, which must be defined for `T`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: This rank's rows of the reduction (shape `[counts[rank]] + x.shape.dropFirst()`), and the
///   new token.
/// - Throws: ``MPIError/unsupportedReduction(operation:op:scalarType:)`` for an invalid pair,
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for `counts` of another length
///   than the communicator's size, with a negative count, or that do not add up to `x`'s first axis,
///   and ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for a 0-d `x`, on every rank
///   before anything is communicated.
///
/// The corresponding C function is `MPI_Reduce_scatter`.
@inlinable
public func reduceScatter<T: MPIScalar>(
    _ x: ShapedArray<T>, counts: [Int], op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let comm = try Communicator.resolve(comm, .reduceScatter)
    guard x._shape.first != nil else {
        throw MPIError.shapeMismatch(operation: MPIOperation.reduceScatter.name, argument: "x",
                                     expected: "an array with a first axis", actual: "a 0-d array")
    }
    let rowShape = Array(x._shape.dropFirst())
    let rowSize = rowShape.reduce(1, *)
    let elementCounts = counts.map { $0 * rowSize }
    let own = comm.rank < counts.count ? Swift.max(0, counts[comm.rank]) : 0
    let result = try ScalarStorage<T>.filled(count: own * rowSize) { (output) throws(MPIError) in
        try reduceScatterCore(x, into: &output, counts: elementCounts, op: op, comm: comm)
    }
    return (ShapedArray(_uncheckedShape: [own] + rowShape, storage: result), advance(token))
}

/// The plain-array form of ``reduceScatter(_:counts:op:comm:token:)-(ShapedArray<T>,_,_,_,_)``:
/// `counts` are element counts.
///
/// The corresponding C function is `MPI_Reduce_scatter`.
@inlinable
public func reduceScatter<T: MPIScalar>(
    _ x: [T], counts: [Int], op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let comm = try Communicator.resolve(comm, .reduceScatter)
    let own = comm.rank < counts.count ? Swift.max(0, counts[comm.rank]) : 0
    let result = try [T].filled(count: own) { (output) throws(MPIError) in
        try reduceScatterCore(x, into: &output, counts: counts, op: op, comm: comm)
    }
    return (result, advance(token))
}

/// ``reduceScatter(_:counts:op:comm:token:)-(ShapedArray<T>,_,_,_,_)`` into caller-owned storage of
/// `counts[rank]` elements (`counts` in elements).
///
/// An output of another size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
/// on this rank after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Reduce_scatter`.
@inlinable @discardableResult
public func reduceScatter<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], op: ReductionOp, comm: Communicator? = nil,
    token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try reduceScatterCore(x, into: &output, counts: counts, op: op, comm: Communicator.resolve(comm, .reduceScatter))
    return advance(token)
}
