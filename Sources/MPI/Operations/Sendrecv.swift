import CMPI

// sendrecv (MPI_Sendrecv): its core, then its forms (ShapedArray, [T], scalar, into:).

/// The core of sendrecv: the rank and tag checks, the self-message check, the
/// hooks, the raw call and the received message's size check, into `output`.
///
/// `argument` names what gives the expected size in errors (`recvbuf` or `output`).
@inlinable
func sendrecvCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ sendbuf: Input, into output: inout Output, source: Int, dest: Int, sendtag: Int, recvtag: Int,
    comm: ResolvedCommunicator,
    pending: PendingOperation? = nil, status: Status?, argument: StaticString
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let sendCount = sendbuf.scalarCount
    let receiveCount = output.scalarCount
    try perform(Call(.sendrecv, comm, T.self, count: receiveCount, peer: source, tag: recvtag), pending: pending, checks: {
        () throws(MPIError) -> (source: Int32, tag: Int32) in
        let mpiSource = try checkSource(source, .sendrecv, comm, allowingProcNull: true)
        try checkDestination(dest, .sendrecv, comm)
        try checkTag(sendtag, "sendtag", .sendrecv, wildcardAllowed: false)
        let mpiTag = try checkReceiveTag(recvtag, "recvtag", .sendrecv)
        try checkSelfMessage(comm, source: source, dest: dest, sendCount: sendCount, receiveCount: receiveCount,
                             argument: argument)
        return (mpiSource, mpiTag)
    }) { (mpi) throws(MPIError) in
        zeroResultFromProcNull(&output, source: source)
        let outcome = try withBuffers(sendbuf, &output) { (send, receive) in
            rawSendrecv(send, sendCount: sendCount, dest: mpiDestination(dest), sendTag: sendtag, receive, receiveCount: receiveCount,
                        source: mpi.source, receiveTag: mpi.tag, type: T.mpiDatatype.handle,
                        elementSize: MemoryLayout<T>.stride, comm: comm.handle, pending: pending)
        }
        try finishReceive(outcome, expected: receiveCount, .sendrecv, argument: argument, status: status)
    }
}

/// Checks a sendrecv whose message goes to this rank and comes from this rank.
///
/// Its size is known before anything moves, and Open MPI 4.1 does not report
/// the truncation of a self-message that is larger than the receive buffer
/// (it returns success and the buffer's count), so the sizes are compared here.
@inlinable
func checkSelfMessage(
    _ comm: ResolvedCommunicator, source: Int, dest: Int, sendCount: Int, receiveCount: Int, argument: StaticString
) throws(MPIError) {
    let fromSelf = source == comm.rank || (source == anySource && comm.size == 1)
    if _slowPath(fromSelf && dest == comm.rank && sendCount != receiveCount) {
        throw MPIError.shapeMismatch(
            operation: MPIOperation.sendrecv.name, argument: "\(argument)",
            expected: "a message of \(counted(receiveCount, "element")) (the template's size)",
            actual: "a message of \(counted(sendCount, "element")) (sent by this rank to itself)")
    }
}

/// The result-returning forms' adapter: a new result of `receiveCount` elements, filled by the core.
@inlinable
func sendrecvResult<Input: MPIBuffer, R: UninitializedResult>(
    _ sendbuf: Input, receiveCount: Int, source: Int, dest: Int, sendtag: Int, recvtag: Int,
    comm: Communicator?, status: Status?
) throws(MPIError) -> R where R.Element == Input.Scalar {
    let comm = try Communicator.resolve(comm, .sendrecv)
    return try R.filled(count: receiveCount) { (output) throws(MPIError) in
        try sendrecvCore(sendbuf, into: &output, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
                         comm: comm, status: status, argument: "recvbuf")
    }
}

/// Sends `sendbuf` to `dest` and receives a message from `source` into a new array shaped like `recvbuf`.
///
/// The counterpart of `mpi4jax.sendrecv(sendbuf, recvbuf, source, dest)`. The send
/// and the receive run together, so a ring or pair exchange cannot deadlock.
/// `recvbuf` is only a template: its data is neither read nor overwritten.
/// Its differentiable form is `Autodiff.sendrecv` in the module `DifferentiableMPI`, whose transpose
/// is a sendrecv with `source` and `dest` swapped.
///
/// - Parameters:
///   - sendbuf: The data to send. It is not modified.
///   - recvbuf: A template with the shape and type of the message to receive.
///   - source: The sending rank, ``anySource``, or ``procNull`` (nothing arrives: a zero result, an `into:`
///     output left as it was, and a status of source `procNull`, tag `anyTag`, count 0).
///   - dest: The destination rank, or ``procNull`` (the send goes nowhere).
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
    let result: ScalarStorage<T> = try sendrecvResult(
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
    (try sendrecvResult(sendbuf, receiveCount: recvbuf.count, source: source, dest: dest, sendtag: sendtag,
                        recvtag: recvtag, comm: comm, status: status), advance(token))
}

/// The scalar form of ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Sendrecv`.
@inlinable
public func sendrecv<T: MPIScalar>(
    _ sendbuf: T, _ recvbuf: T, source: Int, dest: Int, sendtag: Int = 0,
    recvtag: Int = anyTag, comm: Communicator? = nil, status: Status? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    let result: SingleScalar<T> = try sendrecvResult(
        SingleScalar(sendbuf), receiveCount: 1, source: source, dest: dest, sendtag: sendtag,
        recvtag: recvtag, comm: comm, status: status)
    return (result.value, advance(token))
}

/// ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)`` into
/// caller-owned storage: the message received must have exactly `output.scalarCount` elements.
///
/// The corresponding C function is `MPI_Sendrecv`.
@inlinable @discardableResult
public func sendrecv<Input: MPIBuffer, Output: MPIBuffer>(
    _ sendbuf: Input, into output: inout Output, source: Int, dest: Int, sendtag: Int = 0, recvtag: Int = anyTag,
    comm: Communicator? = nil, status: Status? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try sendrecvCore(sendbuf, into: &output, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
                     comm: Communicator.resolve(comm, .sendrecv), status: status, argument: "output")
    return advance(token)
}
