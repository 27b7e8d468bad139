import CMPI

// reduceScatter (MPI_Reduce_scatter): its core, then its forms (ShapedArray,
// [T], into:).

/// The core of reduceScatter: the op and count checks, the hooks and the raw
/// call: `x` holds blocks of `counts` elements in rank order; rank r gets the
/// reduction of every rank's block r. For the shaped-array form, `rows` gives
/// `x`'s first axis and the elements of one row, and `counts` are rows: they are
/// checked, and named in errors, as rows.
@inlinable
func reduceScatterCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], rows: (count: Int, size: Int)? = nil, op: ReductionOp,
    comm: ResolvedCommunicator
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.reduceScatter, comm, T.self, count: count, op: op, counts: .same(counts)), checks: { () throws(MPIError) in
        let mpiOp = try op.checkedHandle(for: T.self, operation: .reduceScatter)
        let total = try checkCounts(counts, "counts", size: comm.size, .reduceScatter)
        if let rows {
            if _slowPath(total != rows.count) {
                throw MPIError.invalidArgument(
                    operation: MPIOperation.reduceScatter.name, argument: "counts",
                    expected: "row counts that add up to x's \(rows.count) rows (its first axis)",
                    actual: "\(counts) (sum \(total))")
            }
        } else if _slowPath(total != count) {
            throw MPIError.invalidArgument(
                operation: MPIOperation.reduceScatter.name, argument: "counts",
                expected: "counts that add up to x's \(counted(count, "element"))", actual: "\(counts) (sum \(total))")
        }
        return mpiOp
    }) { (mpiOp) throws(MPIError) in
        // Checked: the rows add up to x's first axis, so no row count overflows in elements.
        let elementCounts = rows.map { rows in counts.map { $0 * rows.size } } ?? counts
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: elementCounts[comm.rank], "this rank's entry of 'counts'", .reduceScatter) {
                (destination) throws(MPIError) in
                try elementCounts.withUnsafeBufferPointer { (c) throws(MPIError) in
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
    let (rows, rowShape, rowSize) = rowsOf(x)
    // At most x's rows (else the core throws): the product cannot overflow.
    let own = comm.rank < counts.count ? Swift.min(Swift.max(0, counts[comm.rank]), rows) : 0
    let result = try ScalarStorage<T>.filled(count: own * rowSize) { (output) throws(MPIError) in
        try reduceScatterCore(x, into: &output, counts: counts, rows: (rows, rowSize), op: op, comm: comm)
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
