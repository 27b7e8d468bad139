import CMPI

// scatter (MPI_Scatter): its core, then its forms (ShapedArray, [T], into:).
//
// In the default mode scatter sends exactly the messages of MPI_Scatter. Only
// the root can see that its input is wrong: it throws before communicating,
// and the other ranks wait in MPI_Scatter until the watchdog or the job ends;
// with the cross-rank check on (SWIFT_MPI_CHECK=1), every rank throws.

/// What the root's input must be: checked on the root only.
@usableFromInline
enum ScatterRootInput {
    /// `size` rows along the first axis (`nil` for a 0-d array): the ShapedArray and `[T]` forms.
    case rows(firstAxis: Int?)
    /// `size` × the output's count elements: the `into:` form.
    case elements

    /// Throws when the root's input of `count` elements does not hold `size` rows of `rowCount`.
    @inlinable
    func check(count: Int, rowCount: Int, shape: @autoclosure () -> [Int], size: Int) throws(MPIError) {
        switch self {
        case .rows(let firstAxis):
            if _slowPath(firstAxis != size) { try scatterShapeError(firstAxis: firstAxis, shape: shape(), size: size) }
        case .elements:
            if _slowPath(count != size * rowCount) {
                throw MPIError.shapeMismatch(
                    operation: MPIOperation.scatter.name, argument: "x",
                    expected: "\(size) × \(rowCount) elements (size × the output's count)", actual: "\(counted(count, "element"))")
            }
        }
    }
}

@usableFromInline @inline(never)
func scatterShapeError(firstAxis: Int?, shape: [Int], size: Int) throws(MPIError) {
    throw MPIError.shapeMismatch(
        operation: MPIOperation.scatter.name, argument: "x",
        expected: "first axis of size \(size) (the communicator size)",
        actual: firstAxis == nil ? "a 0-d array" : "shape \(shape)")
}

/// The core of scatter: the root and root-input checks, the hooks and the raw call.
///
/// Every rank receives `output.scalarCount` elements; `x` is read on the root only.
@inlinable
func scatterCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, rootInput: ScatterRootInput, shape: @autoclosure () -> [Int], root: Int,
    comm: ResolvedCommunicator,
    pending: PendingOperation? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let rowCount = output.scalarCount
    let isRoot = comm.rank == root
    try perform(Call(.scatter, comm, T.self, count: rowCount, root: root), pending: pending, checks: { () throws(MPIError) in
        try comm.checkRank(root, "root", .scatter)
        if isRoot { try rootInput.check(count: x.scalarCount, rowCount: rowCount, shape: shape(), size: comm.size) }
    }) { () throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try output.withUnsafeMutableMPIBuffer { (destination) throws(MPIError) in
                try rawScatter(isRoot ? source : nil, destination, rowCount: rowCount, type: T.mpiDatatype.handle,
                               elementSize: MemoryLayout<T>.stride, root: root, comm: comm.handle, pending: pending)
            }
        }
    }
}

/// Scatters the rows of the root's `x`: rank `r` gets row `r`.
///
/// The counterpart of `mpi4jax.scatter(x, root)`. The shape of `x` differs
/// between ranks: on the root it is `[size] + s`, holding the data; on every
/// other rank it is `s`, a template whose data is not read. Every rank gets a
/// new array of shape `s`.
///
/// It sends exactly the messages of `MPI_Scatter`. A bad root input is seen by
/// the root alone: the root throws before communicating, and the other ranks
/// wait for it (the watchdog reports them); with the cross-rank check on
/// (``MPIRuntime/checksCollectiveArguments``) every rank throws.
///
/// - Parameters:
///   - x: On the root, the data (first axis of size `size`); elsewhere a template of one row's shape.
///   - root: The rank that holds the data.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array holding this rank's row, and the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` on every rank for a bad `root`.
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on the root when its `x` is 0-d or
///   its first axis is not `size`.
///
/// The corresponding C function is `MPI_Scatter`.
@inlinable
public func scatter<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let comm = try Communicator.resolve(comm, .scatter)
    let isRoot = comm.rank == root
    let rowShape = isRoot && !x._shape.isEmpty ? droppingFirst(x._shape) : x._shape
    let rowCount = isRoot ? (comm.size == 0 ? 0 : x.scalarCount / comm.size) : x.scalarCount
    let result = try ScalarStorage<T>.filled(count: rowCount) { (output) throws(MPIError) in
        try scatterCore(x, into: &output, rootInput: .rows(firstAxis: x._shape.first), shape: x._shape, root: root,
                        comm: comm)
    }
    return (ShapedArray(_uncheckedShape: rowShape, storage: result), advance(token))
}

/// The plain-array form of ``scatter(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``: on the root `x` has
/// `size` elements and on the other ranks it is a one-element template; every rank gets a 0-d array.
///
/// The corresponding C function is `MPI_Scatter`.
@inlinable
public func scatter<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let rank = try Communicator.resolve(comm, .scatter).rank
    let shaped = rank == root || x.count != 1 ? ShapedArray(x) : ShapedArray(_uncheckedShape: [], scalars: x)
    return try scatter(shaped, root: root, comm: comm, token: token)
}

/// ``scatter(_:root:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage: every rank receives
/// `output.scalarCount` elements; on the root `x` holds `size * output.scalarCount` elements, elsewhere
/// `x` is not used (pass an empty array).
///
/// Like the result-returning form, it sends exactly the messages of `MPI_Scatter`,
/// and a bad root input is thrown on the root (on every rank with the cross-rank check on).
///
/// The corresponding C function is `MPI_Scatter`.
@inlinable @discardableResult
public func scatter<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try scatterCore(x, into: &output, rootInput: .elements, shape: [x.scalarCount], root: root,
                    comm: Communicator.resolve(comm, .scatter))
    return advance(token)
}
