import CMPI

// alltoall (MPI_Alltoall): its core, then its forms (ShapedArray, [T], into:).

/// How alltoall's input is divided into one block per rank.
@usableFromInline
enum AlltoallBlocks {
    /// By the first axis, which must have `size` rows (`nil` for a 0-d array): the ShapedArray form
    /// (with its shape, for messages) and the `[T]` form (`shape` `nil`: one axis).
    case rows(firstAxis: Int?, shape: [Int]?)
    /// Into `size` equal runs of elements: the `into:` form.
    case elements
}

/// The core of alltoall: the block check, the hooks and the raw call, from `x` into `output`.
@inlinable
func alltoallCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, blocks: AlltoallBlocks, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.alltoall, comm, T.self, count: count), pending: pending, checks: { () throws(MPIError) in
        try checkAlltoallBlocks(blocks, count: count, size: comm.size)
    }) { () throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: count, "the input's count", .alltoall, pending: pending) { (destination) throws(MPIError) in
                try rawAlltoall(source, destination, blockCount: comm.size == 0 ? 0 : count / comm.size,
                                type: T.mpiDatatype.handle, elementSize: MemoryLayout<T>.stride, comm: comm.handle, pending: pending)
            }
        }
    }
}

/// Checks that alltoall's input divides into `size` blocks.
@inlinable
func checkAlltoallBlocks(_ blocks: AlltoallBlocks, count: Int, size: Int) throws(MPIError) {
    switch blocks {
    case .rows(let firstAxis, let shape):
        if _slowPath(firstAxis != size) {
            try alltoallShapeError(firstAxis: firstAxis, shape: shape ?? [count], size: size)
        }
    case .elements:
        if _slowPath(count % size != 0) {
            throw MPIError.shapeMismatch(
                operation: MPIOperation.alltoall.name, argument: "x",
                expected: "a multiple of \(size) elements (the communicator size)", actual: "\(counted(count, "element"))")
        }
    }
}

@usableFromInline @inline(never)
func alltoallShapeError(firstAxis: Int?, shape: [Int], size: Int) throws(MPIError) {
    throw MPIError.shapeMismatch(
        operation: MPIOperation.alltoall.name, argument: "x",
        expected: firstAxis == nil
            ? "an array whose first axis has size \(size) (the communicator size)"
            : "first axis of size \(size) (the communicator size)",
        actual: firstAxis == nil ? "a 0-d array" : "shape \(shape)")
}

/// The result-returning forms' adapter: a new result of `x`'s count, filled by the core.
@inlinable
func alltoallResult<Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, blocks: AlltoallBlocks, comm: Communicator?
) throws(MPIError) -> R where R.Element == Input.Scalar {
    let comm = try Communicator.resolve(comm, .alltoall)
    return try R.filled(count: x.scalarCount) { (output) throws(MPIError) in
        try alltoallCore(x, into: &output, blocks: blocks, comm: comm)
    }
}

/// Sends block `i` of `x` to rank `i`, and receives block `i` of the result from rank `i`.
///
/// The counterpart of `mpi4jax.alltoall(x)`. The first axis of `x` must have
/// size `comm.size`; row `i` of the result is the row that rank `i` sent to this rank.
///
/// - Parameters:
///   - x: An array whose first axis has `size` rows. It is not modified.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array of `x`'s shape, and the new token.
/// - Throws: ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for a 0-d `x` or a
///   first axis other than `size`, before anything is communicated.
///
/// The corresponding C function is `MPI_Alltoall`.
@inlinable
public func alltoall<T: MPIScalar>(
    _ x: ShapedArray<T>, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let result: ScalarStorage<T> = try alltoallResult(x, blocks: .rows(firstAxis: x._shape.first, shape: x._shape),
                                                      comm: comm)
    return (ShapedArray(_uncheckedShape: x._shape, storage: result), advance(token))
}

/// The plain-array form of ``alltoall(_:comm:token:)-(ShapedArray<T>,_,_)``: `x.count` must equal
/// `size`, and element `i` goes to rank `i`.
///
/// The corresponding C function is `MPI_Alltoall`.
@inlinable
public func alltoall<T: MPIScalar>(
    _ x: [T], comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    (try alltoallResult(x, blocks: .rows(firstAxis: x.count, shape: nil), comm: comm), advance(token))
}

/// ``alltoall(_:comm:token:)-(ShapedArray<T>,_,_)`` into caller-owned storage of `x.scalarCount` elements.
///
/// `x.scalarCount` must be a multiple of `size`; block `i` goes to rank `i`. An
/// output of another size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
/// on this rank after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Alltoall`.
@inlinable @discardableResult
public func alltoall<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try alltoallCore(x, into: &output, blocks: .elements, comm: Communicator.resolve(comm, .alltoall))
    return advance(token)
}
