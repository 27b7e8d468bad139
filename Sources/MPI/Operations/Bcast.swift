import CMPI

// bcast (MPI_Bcast): its core, then its forms (ShapedArray, [T], scalar, in place).

/// The core of bcast: the root check, the hooks and the raw call.
///
/// On the root, MPI reads `x` (and `output` is not touched); elsewhere MPI
/// writes `count` elements into `output` (and `x` is not touched).
@inlinable
func bcastCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, count: Int, root: Int, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    try perform(Call(.bcast, comm, T.self, count: count, root: root), pending: pending, checks: { () throws(MPIError) in
        try comm.checkRank(root, "root", .bcast)
    }) { () throws(MPIError) in
        guard comm.rank != root else {
            // MPI only reads the buffer on the root: no copy-on-write uniquing of a shared buffer.
            return try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
                try rawBcast(UnsafeMutableRawPointer(mutating: source), count: count, type: T.mpiDatatype.handle,
                             elementSize: MemoryLayout<T>.stride, root: root, comm: comm.handle, pending: pending)
            }
        }
        try withOutput(&output, expected: count, "the root's count", .bcast, pending: pending) { (destination) throws(MPIError) in
            try rawBcast(destination, count: count, type: T.mpiDatatype.handle, elementSize: MemoryLayout<T>.stride,
                         root: root, comm: comm.handle, pending: pending)
        }
    }
}

/// The result-returning forms' adapter: `nil` on the root (whose result is its
/// input), a new result of `x`'s count elsewhere.
@inlinable
func bcastResult<Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, root: Int, comm: Communicator?
) throws(MPIError) -> R? where R.Element == Input.Scalar {
    let comm = try Communicator.resolve(comm, .bcast)
    let count = x.scalarCount
    guard comm.rank != root else {
        var unused = ResultBuffer<Input.Scalar>.none
        try bcastCore(x, into: &unused, count: count, root: root, comm: comm)
        return nil
    }
    return try R.filled(count: count) { (output) throws(MPIError) in
        try bcastCore(x, into: &output, count: count, root: root, comm: comm)
    }
}

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
    let result: ScalarStorage<T>? = try bcastResult(x, root: root, comm: comm)
    return (result.map { ShapedArray(_uncheckedShape: x._shape, storage: $0) } ?? x, advance(token))
}

/// The plain-array form of ``bcast(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Bcast`.
@inlinable
public func bcast<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    ((try bcastResult(x, root: root, comm: comm) as [T]?) ?? x, advance(token))
}

/// The scalar form of ``bcast(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Bcast`.
@inlinable
public func bcast<T: MPIScalar>(
    _ x: T, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    ((try bcastResult(SingleScalar(x), root: root, comm: comm) as SingleScalar<T>?)?.value ?? x, advance(token))
}

/// Broadcasts the root's `buffer` in place: the root's contents overwrite every other rank's.
///
/// The allocation-free form of ``bcast(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Bcast`.
@inlinable @discardableResult
public func bcast<Buffer: MPIBuffer>(
    inPlace buffer: inout Buffer, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    let comm = try Communicator.resolve(comm, .bcast)
    let count = buffer.scalarCount
    if comm.rank == root {
        var unused = ResultBuffer<Buffer.Scalar>.none
        try bcastCore(buffer, into: &unused, count: count, root: root, comm: comm)
    } else {
        try bcastCore(ResultBuffer<Buffer.Scalar>.none, into: &buffer, count: count, root: root, comm: comm)
    }
    return advance(token)
}
