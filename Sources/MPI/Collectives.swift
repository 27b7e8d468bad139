import CMPI

// The data-movement collectives: allgather, alltoall, barrier, bcast, gather and scatter.
//
// Each takes a ShapedArray, a plain array or a scalar. Shape-preserving ones
// (alltoall, bcast) return the input's type; shape-changing ones (allgather,
// gather, scatter) return a ShapedArray. Messages of more than Int32.max
// elements travel as one element of a derived datatype (see LargeCount.swift).

// MARK: allgather

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
    let comm = try Communicator.resolve(comm, "allgather")
    let count = x.scalarCount
    try diagnoseCollective(comm, "allgather", T.self, count: count)
    let type = T.mpiDatatype.handle
    var code: Int32 = 0
    let result: ScalarStorage<T> = x.withUnsafeMPIBuffer { source in
        ScalarStorage.uninitialized(count: count * comm.size) { destination in
            code = rawAllgather(source, destination.baseAddress, count: count, type: type,
                                elementSize: MemoryLayout<T>.stride, comm: comm.handle)
        }
    }
    try check(code, "allgather")
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

// MARK: alltoall

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
    let result: ScalarStorage<T> = try _alltoall(x, firstAxis: x._shape.first, shape: x._shape, comm: comm)
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
    (try _alltoall(x, firstAxis: x.count, shape: [x.count], comm: comm), advance(token))
}

@inlinable
func _alltoall<T: MPIScalar, Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, firstAxis: Int?, shape: @autoclosure () -> [Int], comm: Communicator?
) throws(MPIError) -> R
where Input.Scalar == T, R.Element == T {
    let comm = try Communicator.resolve(comm, "alltoall")
    guard let first = firstAxis else {
        throw MPIError.shapeMismatch(
            operation: "alltoall", argument: "x",
            expected: "an array whose first axis has size \(comm.size) (the communicator size)",
            actual: "a 0-d array")
    }
    guard first == comm.size else {
        throw MPIError.shapeMismatch(
            operation: "alltoall", argument: "x",
            expected: "first axis of size \(comm.size) (the communicator size)",
            actual: "shape \(shape())")
    }
    let count = x.scalarCount
    let block = comm.size == 0 ? 0 : count / comm.size
    try diagnoseCollective(comm, "alltoall", T.self, count: count)
    let type = T.mpiDatatype.handle
    var code: Int32 = 0
    let result: R = x.withUnsafeMPIBuffer { source in
        R.uninitialized(count: count) { destination in
            code = rawAlltoall(source, destination.baseAddress, blockCount: block, type: type,
                               elementSize: MemoryLayout<T>.stride, comm: comm.handle)
        }
    }
    try check(code, "alltoall")
    return result
}

// MARK: barrier

/// Waits until every rank of the communicator has called `barrier`.
///
/// The counterpart of `mpi4jax.barrier()`.
///
/// - Parameters:
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The new token.
///
/// The corresponding C function is `MPI_Barrier`.
@inlinable @discardableResult
public func barrier(comm: Communicator? = nil, token: Token? = nil) throws(MPIError) -> Token {
    let comm = try Communicator.resolve(comm, "barrier")
    try diagnoseCollective(comm, "barrier", UInt8.self, count: 0)
    try check(MPI_Barrier(comm.handle), "barrier")
    return advance(token)
}

// MARK: bcast

/// Broadcasts the root's `x` to every rank.
///
/// The counterpart of `mpi4jax.bcast(x, root)`. On the root the result is `x`
/// itself (no copy is made). On the other ranks `x` only gives the shape and
/// type of the result; its data is not read.
///
/// - Parameters:
///   - x: The data on the root; a template of the same shape and type elsewhere. It is not modified.
///   - root: The rank whose data is broadcast.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The root's data, and the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` on every rank for a bad `root`.
///
/// The corresponding C function is `MPI_Bcast`.
@inlinable
public func bcast<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let result: ScalarStorage<T>? = try _bcast(x, root: root, comm: comm)
    guard let result else { return (x, advance(token)) }
    return (ShapedArray(_uncheckedShape: x._shape, storage: result), advance(token))
}

/// The plain-array form of ``bcast(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Bcast`.
@inlinable
public func bcast<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    ((try _bcast(x, root: root, comm: comm) as [T]?) ?? x, advance(token))
}

/// The scalar form of ``bcast(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Bcast`.
@inlinable
public func bcast<T: MPIScalar>(
    _ x: T, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    ((try _bcast(SingleScalar(x), root: root, comm: comm) as SingleScalar<T>?)?.value ?? x, advance(token))
}

@inlinable
func _bcast<T: MPIScalar, Input: MPIBuffer, R: UninitializedResult>(_ x: Input, root: Int, comm: Communicator?) throws(MPIError) -> R?
where Input.Scalar == T, R.Element == T {
    let comm = try Communicator.resolve(comm, "bcast")
    try comm.checkRank(root, "root", "bcast")
    let count = x.scalarCount
    try diagnoseCollective(comm, "bcast", T.self, count: count, root: root)
    let type = T.mpiDatatype.handle
    if comm.rank == root {
        // MPI only reads the buffer on the root; the input is returned as it is.
        let code = x.withUnsafeMPIBuffer { source in
            rawBcast(UnsafeMutableRawPointer(mutating: source), count: count, type: type,
                     elementSize: MemoryLayout<T>.stride, root: root, comm: comm.handle)
        }
        try check(code, "bcast")
        return nil
    }
    var code: Int32 = 0
    let result: R = R.uninitialized(count: count) { destination in
        code = rawBcast(destination.baseAddress, count: count, type: type, elementSize: MemoryLayout<T>.stride,
                        root: root, comm: comm.handle)
    }
    try check(code, "bcast")
    return result
}

// MARK: gather

/// Gathers `x` from every rank onto the root.
///
/// The counterpart of `mpi4jax.gather(x, root)`. `x` must have the same shape
/// and type on all ranks. As in mpi4jax, the result's shape differs between
/// ranks: the root gets `[size] + x.shape`, every other rank gets `x` back unchanged.
///
/// - Parameters:
///   - x: This rank's contribution. It is not modified.
///   - root: The rank that receives the data.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: On the root, a new array whose row `r` is rank `r`'s `x`; elsewhere `x`. And the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` on every rank for a bad `root`.
///
/// The corresponding C function is `MPI_Gather`.
@inlinable
public func gather<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let comm = try Communicator.resolve(comm, "gather")
    try comm.checkRank(root, "root", "gather")
    let count = x.scalarCount
    try diagnoseCollective(comm, "gather", T.self, count: count, root: root)
    let type = T.mpiDatatype.handle
    let stride = MemoryLayout<T>.stride
    if comm.rank != root {
        let code = x.withUnsafeMPIBuffer { source in
            rawGather(source, nil, count: count, type: type, elementSize: stride, root: root, comm: comm.handle)
        }
        try check(code, "gather")
        return (x, advance(token))
    }
    var code: Int32 = 0
    let result: ScalarStorage<T> = x.withUnsafeMPIBuffer { source in
        ScalarStorage.uninitialized(count: count * comm.size) { destination in
            code = rawGather(source, destination.baseAddress, count: count, type: type,
                             elementSize: stride, root: root, comm: comm.handle)
        }
    }
    try check(code, "gather")
    return (ShapedArray(_uncheckedShape: prepending(comm.size, to: x._shape), storage: result), advance(token))
}

/// The plain-array form of ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``: the root gets shape
/// `[size, x.count]`, the other ranks get `x` as a 1-d array.
///
/// The corresponding C function is `MPI_Gather`.
@inlinable
public func gather<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    try gather(ShapedArray(x), root: root, comm: comm, token: token)
}

/// The scalar form of ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``: the root gets shape `[size]`,
/// the other ranks get `x` as a 0-d array.
///
/// The corresponding C function is `MPI_Gather`.
@inlinable
public func gather<T: MPIScalar>(
    _ x: T, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    try gather(ShapedArray(scalar: x), root: root, comm: comm, token: token)
}

// MARK: scatter

/// Scatters the rows of the root's `x`: rank `r` gets row `r`.
///
/// The counterpart of `mpi4jax.scatter(x, root)`. The shape of `x` differs
/// between ranks: on the root it is `[size] + s`, holding the data; on every
/// other rank it is `s`, a template whose data is not read. Every rank gets a
/// new array of shape `s`.
///
/// The root's input is checked on the root, and the outcome is broadcast with
/// the block size before the data moves, so a bad root input makes every rank
/// throw instead of leaving the others waiting. This costs one 8-byte
/// broadcast per call.
///
/// - Parameters:
///   - x: On the root, the data (first axis of size `size`); elsewhere a template of one row's shape.
///   - root: The rank that holds the data.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array holding this rank's row, and the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` on every rank for a bad `root`.
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on the root when its `x` is 0-d or
///   its first axis is not `size`, while the other ranks throw ``MPIError/peerFailed(operation:rank:reason:)``.
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on a non-root rank whose template
///   does not hold one row of the root's data.
///
/// The corresponding C function is `MPI_Scatter`.
@inlinable
public func scatter<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let comm = try Communicator.resolve(comm, "scatter")
    try comm.checkRank(root, "root", "scatter")
    let isRoot = comm.rank == root
    let rowShape = isRoot ? droppingFirst(x._shape) : x._shape
    let rowCount = isRoot ? (comm.size == 0 ? 0 : x.scalarCount / comm.size) : x.scalarCount
    try scatterHandshake(
        isRoot: isRoot, rootCheck: ScatterRootCheck(rootShape: x._shape, size: comm.size), rowCount: rowCount,
        elementSize: MemoryLayout<T>.stride, root: root, comm: comm)
    try diagnoseCollective(comm, "scatter", T.self, count: rowCount, root: root)
    var code: Int32 = 0
    let result: ScalarStorage<T> = x.withUnsafeMPIBuffer { source in
        ScalarStorage.uninitialized(count: rowCount) { destination in
            code = rawScatter(isRoot ? source : nil, destination.baseAddress, rowCount: rowCount,
                              type: T.mpiDatatype.handle, elementSize: MemoryLayout<T>.stride, root: root,
                              comm: comm.handle)
        }
    }
    try check(code, "scatter")
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
    let rank = try Communicator.resolve(comm, "scatter").rank
    let shaped = rank == root || x.count != 1 ? ShapedArray(x) : ShapedArray(_uncheckedShape: [], scalars: x)
    return try scatter(shaped, root: root, comm: comm, token: token)
}

/// What the root found wrong with its scatter input, if anything.
@usableFromInline
enum ScatterRootCheck {
    case valid
    /// The root's input is 0-d.
    case zeroDimensional
    /// The root's input has this first axis instead of `size` (shape given for the message).
    case firstAxis(Int, shape: [Int])
    /// The root's input has this many elements instead of `size * rowCount` (`into:` form).
    case elementCount(Int)

    /// The root's verdict on an input of the given shape.
    @inlinable
    init(rootShape: [Int], size: Int) {
        if rootShape.isEmpty {
            self = .zeroDimensional
        } else if rootShape[0] != size {
            self = .firstAxis(rootShape[0], shape: rootShape)
        } else {
            self = .valid
        }
    }
}

/// Agrees on the block size of a scatter before the data moves.
///
/// The root broadcasts one `Int64`: the block size when its input is valid,
/// otherwise a negative code for what is wrong (an 8-byte broadcast is the
/// cheapest one; it costs 0.13 µs here at 2 ranks against 0.20 µs for 16 or
/// 24 bytes). When the root's input is bad, every rank throws: the root a
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)``, the others
/// ``MPIError/peerFailed(operation:rank:reason:)``. A non-root rank whose output
/// has a different element count still takes part in the scatter (into scratch
/// storage, on this error path only), so the root never waits for it, and then throws.
@usableFromInline
func scatterHandshake(
    isRoot: Bool, rootCheck: ScatterRootCheck, rowCount: Int, elementSize: Int, root: Int,
    comm: ResolvedCommunicator
) throws(MPIError) {
    // The word: rowCount (>= 0) when valid; -1 for a 0-d input; -2 - 2·axis for
    // a first axis other than size; -3 - 2·count for an element count other
    // than size × rowCount (the `into:` form).
    var word = Int64(rowCount)
    if isRoot {
        switch rootCheck {
        case .valid: break
        case .zeroDimensional: word = -1
        case .firstAxis(let axis, _): word = -2 - 2 * Int64(axis)
        case .elementCount(let count): word = -3 - 2 * Int64(count)
        }
    }
    let code = withUnsafeMutableBytes(of: &word) { bytes in
        MPI_Bcast(bytes.baseAddress, 1, swiftmpi_int64(), Int32(truncatingIfNeeded: root), comm.handle)
    }
    try check(code, "scatter")
    if _slowPath(word < 0) {
        // Messages are built on the error paths only.
        let expectedAxis = "first axis of size \(comm.size) (the communicator size)"
        if word == -1 {
            if isRoot {
                throw MPIError.shapeMismatch(operation: "scatter", argument: "x", expected: expectedAxis, actual: "a 0-d array")
            }
            throw MPIError.peerFailed(
                operation: "scatter", rank: root, reason: "the root's input is a 0-d array; expected \(expectedAxis)")
        }
        if word % 2 == 0 {
            let axis = (-2 - word) / 2
            if isRoot, case .firstAxis(_, let shape) = rootCheck {
                throw MPIError.shapeMismatch(operation: "scatter", argument: "x", expected: expectedAxis, actual: "shape \(shape)")
            }
            throw MPIError.peerFailed(
                operation: "scatter", rank: root, reason: "the root's input has first axis \(axis); expected \(expectedAxis)")
        }
        let count = (-3 - word) / 2
        let expected = "\(comm.size) × \(rowCount) elements (size × the output's count)"
        if isRoot {
            throw MPIError.shapeMismatch(operation: "scatter", argument: "x", expected: expected, actual: "\(count) elements")
        }
        throw MPIError.peerFailed(
            operation: "scatter", rank: root, reason: "the root's input has \(count) elements; expected \(expected)")
    }
    let rootRowCount = Int(word)
    if !isRoot && rootRowCount != rowCount {
        // Receive this rank's block anyway so that the root completes, then report.
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, rootRowCount * elementSize), alignment: 16)
        defer { scratch.deallocate() }
        _ = rawScatter(nil, scratch, rowCount: rootRowCount * elementSize, type: swiftmpi_byte(), elementSize: 1,
                       root: root, comm: comm.handle)
        throw MPIError.shapeMismatch(
            operation: "scatter", argument: "x",
            expected: "\(rootRowCount) elements (one row of the root's input)",
            actual: "\(rowCount) elements")
    }
}
