import CMPI

// recv (MPI_Recv): its core, then its forms (ShapedArray, [T], scalar, into:).
//
// The result-returning forms take a receive template that gives the shape and
// type of the result; its data is never read and never overwritten. A message
// of a different size from the template or output is an error, never a
// partly-filled result.

/// The core of recv: the source and tag checks, the hooks, the raw call and the
/// message's size check, into `output`.
///
/// `argument` names what gives the expected size in errors (`x` or `output`).
@inlinable
func recvCore<Output: MPIBuffer>(
    into output: inout Output, source: Int, tag: Int, comm: ResolvedCommunicator,
    pending: PendingOperation? = nil, status: Status?,
    argument: StaticString
) throws(MPIError) {
    typealias T = Output.Scalar
    let count = output.scalarCount
    try perform(Call(.recv, comm, T.self, count: count, peer: source, tag: tag), pending: pending, checks: {
        () throws(MPIError) -> (source: Int32, tag: Int32) in
        (try checkSource(source, .recv, comm, allowingProcNull: true), try checkReceiveTag(tag, "tag", .recv))
    }) { (mpi) throws(MPIError) in
        zeroResultFromProcNull(&output, source: source)
        let outcome = output.withUnsafeMutableMPIBuffer { destination in
            rawRecv(destination, count: count, type: T.mpiDatatype.handle, elementSize: MemoryLayout<T>.stride,
                    source: mpi.source, tag: mpi.tag, comm: comm.handle, pending: pending)
        }
        try finishReceive(outcome, expected: count, .recv, argument: argument, status: status)
    }
}

/// The result-returning forms' adapter: a new result of `count` elements, filled by the core.
@inlinable
func recvResult<R: UninitializedResult>(
    count: Int, source: Int, tag: Int, comm: Communicator?, status: Status?
) throws(MPIError) -> R where R.Element: MPIScalar {
    let comm = try Communicator.resolve(comm, .recv)
    return try R.filled(count: count) { (output) throws(MPIError) in
        try recvCore(into: &output, source: source, tag: tag, comm: comm, status: status, argument: "x")
    }
}

/// Receives a message into a new array shaped like `x`.
///
/// The counterpart of `mpi4jax.recv(x, source=-1, tag=-1)`. `x` is only a
/// template: its shape and type give the result's, and its data is neither
/// read nor overwritten.
///
/// - Parameters:
///   - x: A template with the shape and type of the expected message.
///   - source: The sending rank, ``anySource`` (the default), or ``procNull`` (nothing arrives: a zero
///     result, an `into:` output left as it was, and a status of source `procNull`, tag `anyTag`, count 0).
///   - tag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - status: If given, filled with the message's source, tag and element count (also when a
///     message of the wrong size is consumed and `shapeMismatch` is thrown).
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
    let result: ScalarStorage<T> = try recvResult(
        count: x.scalarCount, source: source, tag: tag, comm: comm, status: status)
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
    (try recvResult(count: x.count, source: source, tag: tag, comm: comm, status: status), advance(token))
}

/// The scalar form of ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Recv`.
@inlinable
public func recv<T: MPIScalar>(
    _ x: T, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil,
    status: Status? = nil, token: Token? = nil
) throws(MPIError) -> (T, Token) {
    let result: SingleScalar<T> = try recvResult(count: 1, source: source, tag: tag, comm: comm, status: status)
    return (result.value, advance(token))
}

/// ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)`` into caller-owned storage: the
/// message must have exactly `output.scalarCount` elements.
///
/// The corresponding C function is `MPI_Recv`.
@inlinable @discardableResult
public func recv<Output: MPIBuffer>(
    into output: inout Output, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil,
    status: Status? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    try recvCore(into: &output, source: source, tag: tag, comm: Communicator.resolve(comm, .recv), status: status,
                 argument: "output")
    return advance(token)
}
