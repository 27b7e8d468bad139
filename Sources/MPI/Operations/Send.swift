import CMPI

// send (MPI_Send): its core, then its forms (ShapedArray, [T], scalar; any MPIBuffer).

/// The core of send: the destination and tag checks, the hooks and the raw call.
@inlinable
func sendCore<Input: MPIBuffer>(_ x: Input, dest: Int, tag: Int, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil) throws(MPIError) {
    typealias T = Input.Scalar
    try perform(Call(.send, comm, T.self, count: x.scalarCount, peer: dest, tag: tag), pending: pending, checks: { () throws(MPIError) in
        try checkDestination(dest, .send, comm)
        try checkTag(tag, "tag", .send, wildcardAllowed: false)
    }) { () throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try rawSend(source, count: x.scalarCount, type: T.mpiDatatype.handle, elementSize: MemoryLayout<T>.stride,
                        dest: mpiDestination(dest), tag: tag, comm: comm.handle, pending: pending)
        }
    }
}

/// Sends `x` to rank `dest`.
///
/// The counterpart of `mpi4jax.send(x, dest, tag=0)`. This is a standard-mode
/// send: it may return before the message is received, or wait for the receive.
///
/// - Parameters:
///   - x: The data to send. It is not modified.
///   - dest: The destination rank, in `0..<size`, or ``procNull`` (the send goes nowhere).
///   - tag: The message tag, in `0...MPIRuntime.tagUpperBound`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `dest`,
///   ``MPIError/invalidTag(operation:argument:tag:upperBound:)`` for a bad `tag`.
///
/// The corresponding C function is `MPI_Send`.
@inlinable @discardableResult
public func send<T: MPIScalar>(
    _ x: ShapedArray<T>, dest: Int, tag: Int = 0, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    try sendCore(x, dest: dest, tag: tag, comm: Communicator.resolve(comm, .send))
    return advance(token)
}

/// The plain-array form of ``send(_:dest:tag:comm:token:)-(ShapedArray<T>,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Send`.
@inlinable @discardableResult
public func send<T: MPIScalar>(
    _ x: [T], dest: Int, tag: Int = 0, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    try sendCore(x, dest: dest, tag: tag, comm: Communicator.resolve(comm, .send))
    return advance(token)
}

/// The scalar form of ``send(_:dest:tag:comm:token:)-(ShapedArray<T>,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Send`.
@inlinable @discardableResult
public func send<T: MPIScalar>(
    _ x: T, dest: Int, tag: Int = 0, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    try sendCore(SingleScalar(x), dest: dest, tag: tag, comm: Communicator.resolve(comm, .send))
    return advance(token)
}
