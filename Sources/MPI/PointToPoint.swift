import CMPI

// The point-to-point primitives: send, recv and sendrecv.
//
// recv and sendrecv take a receive template that gives the shape and type of
// the result; its data is never read and never overwritten. A message of a
// different size from the template is an error, never a partly-filled result.

// MARK: send

/// Sends `x` to rank `dest`.
///
/// The counterpart of `mpi4jax.send(x, dest, tag=0)`. This is a standard-mode
/// send: it may return before the message is received, or wait for the receive.
///
/// - Parameters:
///   - x: The data to send. It is not modified.
///   - dest: The destination rank, in `0..<size`.
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
    try _send(x, dest: dest, tag: tag, comm: comm)
    return advance(token)
}

/// The plain-array form of ``send(_:dest:tag:comm:token:)-(ShapedArray<T>,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Send`.
@inlinable @discardableResult
public func send<T: MPIScalar>(
    _ x: [T], dest: Int, tag: Int = 0, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    try _send(x, dest: dest, tag: tag, comm: comm)
    return advance(token)
}

/// The scalar form of ``send(_:dest:tag:comm:token:)-(ShapedArray<T>,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Send`.
@inlinable @discardableResult
public func send<T: MPIScalar>(
    _ x: T, dest: Int, tag: Int = 0, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    try _send(SingleScalar(x), dest: dest, tag: tag, comm: comm)
    return advance(token)
}

@inlinable
func _send<T: MPIScalar, Input: MPIBuffer>(_ x: Input, dest: Int, tag: Int, comm: Communicator?) throws(MPIError)
where Input.Scalar == T {
    let comm = try Communicator.resolve(comm, "send")
    try comm.checkRank(dest, "dest", "send")
    try checkTag(tag, "tag", "send", wildcardAllowed: false)
    let code = x.withUnsafeMPIBuffer { source in
        rawSend(source, count: x.scalarCount, type: T.mpiDatatype.handle, elementSize: MemoryLayout<T>.stride,
                dest: dest, tag: tag, comm: comm.handle)
    }
    try check(code, "send")
}

// MARK: recv

/// Receives a message into a new array shaped like `x`.
///
/// The counterpart of `mpi4jax.recv(x, source=-1, tag=-1)`. `x` is only a
/// template: its shape and type give the result's, and its data is neither
/// read nor overwritten.
///
/// - Parameters:
///   - x: A template with the shape and type of the expected message.
///   - source: The sending rank, or ``anySource`` (the default).
///   - tag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - status: If given, filled with the message's source, tag and element count.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array with the message, and the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `source`,
///   ``MPIError/invalidTag(operation:argument:tag:upperBound:)`` for a bad `tag`, and
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` when the message that arrives
///   has a different number of elements from `x`.
///
/// The corresponding C function is `MPI_Recv`.
@inlinable
public func recv<T: MPIScalar>(
    _ x: ShapedArray<T>, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil,
    status: Status? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let result: ScalarStorage<T> = try _recv(count: x.scalarCount, source: source, tag: tag, comm: comm, status: status)
    return (ShapedArray(_uncheckedShape: x._shape, storage: result), advance(token))
}

/// The plain-array form of ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Recv`.
@inlinable
public func recv<T: MPIScalar>(
    _ x: [T], source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil,
    status: Status? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    (try _recv(count: x.count, source: source, tag: tag, comm: comm, status: status), advance(token))
}

/// The scalar form of ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Recv`.
@inlinable
public func recv<T: MPIScalar>(
    _ x: T, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil,
    status: Status? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    let result: SingleScalar<T> = try _recv(count: 1, source: source, tag: tag, comm: comm, status: status)
    return (result.value, advance(token))
}

@inlinable
func _recv<T: MPIScalar, R: UninitializedResult>(
    count: Int, source: Int, tag: Int, comm: Communicator?, status: Status?
) throws(MPIError) -> R where R.Element == T {
    let (comm, mpiSource, mpiTag) = try receiveArguments(comm, source: source, tag: tag, "recv")
    var outcome = ReceiveOutcome()
    let result: R = R.uninitialized(count: count) { destination in
        outcome = rawRecv(destination.baseAddress, count: count, type: T.mpiDatatype.handle,
                          elementSize: MemoryLayout<T>.stride, source: mpiSource, tag: mpiTag, comm: comm.handle)
    }
    try checkReceive(outcome, expected: count, operation: "recv", argument: "x", status: status)
    return result
}

// MARK: sendrecv

/// Sends `sendbuf` to `dest` and receives a message from `source` into a new array shaped like `recvbuf`.
///
/// The counterpart of `mpi4jax.sendrecv(sendbuf, recvbuf, source, dest)`. The send
/// and the receive run together, so a ring or pair exchange cannot deadlock.
/// `recvbuf` is only a template: its data is neither read nor overwritten.
/// Differentiable: the transpose is a sendrecv with `source` and `dest` swapped.
///
/// - Parameters:
///   - sendbuf: The data to send. It is not modified.
///   - recvbuf: A template with the shape and type of the message to receive.
///   - source: The sending rank, or ``anySource``.
///   - dest: The destination rank.
///   - sendtag: The tag of the outgoing message (default 0).
///   - recvtag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - status: If given, filled with the received message's source, tag and element count.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array with the received message, and the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)``,
///   ``MPIError/invalidTag(operation:argument:tag:upperBound:)``, or
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` when the message that arrives
///   has a different number of elements from `recvbuf`.
///
/// The corresponding C function is `MPI_Sendrecv`.
@inlinable
public func sendrecv<T: MPIScalar>(
    _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int = 0,
    recvtag: Int = anyTag, comm: Communicator? = nil, status: Status? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let result: ScalarStorage<T> = try _sendrecv(
        sendbuf, receiveCount: recvbuf.scalarCount, source: source, dest: dest, sendtag: sendtag,
        recvtag: recvtag, comm: comm, status: status)
    return (ShapedArray(_uncheckedShape: recvbuf._shape, storage: result), advance(token))
}

/// The plain-array form of ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Sendrecv`.
@inlinable
public func sendrecv<T: MPIScalar>(
    _ sendbuf: [T], _ recvbuf: [T], source: Int, dest: Int, sendtag: Int = 0,
    recvtag: Int = anyTag, comm: Communicator? = nil, status: Status? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let result: [T] = try _sendrecv(
        sendbuf, receiveCount: recvbuf.count, source: source, dest: dest, sendtag: sendtag,
        recvtag: recvtag, comm: comm, status: status)
    return (result, advance(token))
}

/// The scalar form of ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Sendrecv`.
@inlinable
public func sendrecv<T: MPIScalar>(
    _ sendbuf: T, _ recvbuf: T, source: Int, dest: Int, sendtag: Int = 0,
    recvtag: Int = anyTag, comm: Communicator? = nil, status: Status? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    let result: SingleScalar<T> = try _sendrecv(
        SingleScalar(sendbuf), receiveCount: 1, source: source, dest: dest, sendtag: sendtag,
        recvtag: recvtag, comm: comm, status: status)
    return (result.value, advance(token))
}

@inlinable
func _sendrecv<T: MPIScalar, Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, receiveCount: Int, source: Int, dest: Int, sendtag: Int, recvtag: Int,
    comm: Communicator?, status: Status?
) throws(MPIError) -> R where Input.Scalar == T, R.Element == T {
    let (comm, mpiSource, mpiRecvTag) = try receiveArguments(
        comm, source: source, tag: recvtag, "sendrecv", dest: dest, sendtag: sendtag)
    try checkSelfMessage(comm, source: source, dest: dest, sendCount: x.scalarCount, receiveCount: receiveCount,
                         argument: "recvbuf")
    var outcome = ReceiveOutcome()
    let result: R = x.withUnsafeMPIBuffer { source in
        R.uninitialized(count: receiveCount) { destination in
            outcome = rawSendrecv(
                source, sendCount: x.scalarCount, dest: dest, sendTag: sendtag,
                destination.baseAddress, receiveCount: receiveCount, source: mpiSource, receiveTag: mpiRecvTag,
                type: T.mpiDatatype.handle, elementSize: MemoryLayout<T>.stride, comm: comm.handle)
        }
    }
    try checkReceive(outcome, expected: receiveCount, operation: "sendrecv", argument: "recvbuf", status: status)
    return result
}

// MARK: - Argument checks and status

/// Checks a tag: `0...MPI_TAG_UB`, or ``anyTag`` where a wildcard is allowed.
@inlinable
func checkTag(_ tag: Int, _ argument: String, _ operation: String, wildcardAllowed: Bool) throws(MPIError) {
    if _fastPath(tag >= 0 && tag <= 32767) { return }  // MPI guarantees MPI_TAG_UB >= 32767
    if wildcardAllowed && tag == anyTag { return }
    try checkLargeTag(tag, argument, operation, wildcardAllowed: wildcardAllowed)
}

@usableFromInline
func checkLargeTag(_ tag: Int, _ argument: String, _ operation: String, wildcardAllowed: Bool) throws(MPIError) {
    let upperBound = MPIRuntime.tagUpperBound
    if tag >= 0 && tag <= upperBound { return }
    throw MPIError.invalidTag(operation: operation, argument: argument, tag: tag, upperBound: upperBound)
}

/// Resolves and checks the arguments of a receive (and of the send half of a
/// sendrecv when `dest` is given), converting the wildcards for MPI.
@inlinable
func receiveArguments(
    _ comm: Communicator?, source: Int, tag: Int, _ operation: String, dest: Int? = nil, sendtag: Int = 0
) throws(MPIError) -> (ResolvedCommunicator, source: Int32, tag: Int32) {
    let comm = try Communicator.resolve(comm, operation)
    let mpiSource = try checkSource(source, "source", operation, comm)
    if let dest {
        try comm.checkRank(dest, "dest", operation)
        try checkTag(sendtag, "sendtag", operation, wildcardAllowed: false)
    }
    try checkTag(tag, dest == nil ? "tag" : "recvtag", operation, wildcardAllowed: true)
    return (comm, mpiSource, tag == anyTag ? swiftmpi_any_tag() : Int32(truncatingIfNeeded: tag))
}

/// Checks a sendrecv whose message goes to this rank and comes from this rank.
///
/// Its size is known before anything moves, and Open MPI 4.1 does not report
/// the truncation of a self-message that is larger than the receive buffer
/// (it returns success and the buffer's count), so the sizes are compared here.
@inlinable
func checkSelfMessage(
    _ comm: ResolvedCommunicator, source: Int, dest: Int, sendCount: Int, receiveCount: Int, argument: String
) throws(MPIError) {
    let fromSelf = source == comm.rank || (source == anySource && comm.size == 1)
    if _slowPath(fromSelf && dest == comm.rank && sendCount != receiveCount) {
        throw MPIError.shapeMismatch(
            operation: "sendrecv", argument: argument,
            expected: "a message of \(receiveCount) elements (the template's size)",
            actual: "a message of \(sendCount) elements (sent by this rank to itself)")
    }
}

/// Checks a source rank and converts it for MPI (``anySource`` becomes `MPI_ANY_SOURCE`).
@inlinable
func checkSource(
    _ source: Int, _ argument: String, _ operation: String, _ comm: ResolvedCommunicator
) throws(MPIError) -> Int32 {
    if source == anySource { return swiftmpi_any_source() }
    try comm.checkRank(source, argument, operation)
    return Int32(truncatingIfNeeded: source)
}

/// Turns a receive's outcome into an error: an MPI error, a truncated message
/// (larger than the template), or a message smaller than the template.
@inlinable
func checkReceive(
    _ outcome: ReceiveOutcome, expected: Int, operation: String, argument: String, status: Status?
) throws(MPIError) {
    if _slowPath(outcome.code != 0 || outcome.count != expected) {
        try receiveFailure(outcome.code, received: outcome.count, expected: expected, operation: operation, argument: argument)
    }
    if let status {
        status.source = outcome.source
        status.tag = outcome.tag
        status.count = outcome.count
    }
}

@usableFromInline @inline(never)
func receiveFailure(_ code: Int32, received: Int, expected: Int, operation: String, argument: String) throws(MPIError) {
    if code != 0 {
        let error = makeMPIError(code, operation)
        if case .mpi(_, let errorClass, let message) = error, errorClass == .truncate {
            throw MPIError.shapeMismatch(
                operation: operation, argument: argument,
                expected: "a message of \(expected) elements (the template's size)",
                actual: "a larger message (MPI_ERR_TRUNCATE: \(message))")
        }
        throw error
    }
    throw MPIError.shapeMismatch(
        operation: operation, argument: argument,
        expected: "a message of \(expected) elements (the template's size)",
        actual: "a message of \(received) elements")
}
