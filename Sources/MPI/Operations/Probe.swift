import CMPI

// probe (MPI_Probe) and iprobe (MPI_Iprobe): one core for both, which differ
// only in whether the raw call waits; then their forms. And recv of a message
// of unknown size (MPI_Mprobe, MPI_Get_count, MPI_Mrecv): its core and its form.

/// The core of probe and iprobe: the source and tag checks, the hooks and the
/// raw call. `wait` selects probe (`true`) or iprobe.
@inlinable
func probeCore<T: MPIScalar>(
    _ type: T.Type, source: Int, tag: Int, comm: ResolvedCommunicator, wait: Bool
) throws(MPIError) -> Status? {
    let operation: MPIOperation = wait ? .probe : .iprobe
    return try perform(Call(operation, comm, T.self, count: 0, peer: source, tag: tag), checks: {
        () throws(MPIError) -> (source: Int32, tag: Int32) in
        (try checkSource(source, operation, comm), try checkReceiveTag(tag, "tag", operation))
    }) { (mpi) throws(MPIError) -> Status? in
        let outcome = rawProbe(source: mpi.source, tag: mpi.tag, type: T.mpiDatatype.handle, comm: comm.handle,
                               wait: wait)
        try check(outcome.code, operation)
        guard outcome.source >= 0 else { return nil }
        let status = Status()
        status.source = outcome.source
        status.tag = outcome.tag
        // MPI_Get_elements_x gives MPI_UNDEFINED for a message of no whole number of elements.
        status.count = outcome.count < 0 ? -1 : outcome.count
        return status
    }
}

/// Waits until a matching message can be received, without receiving it.
///
/// The counterpart of mpi4py's `Comm.Probe`. Another receive (on another
/// thread, say) can still take the message before this thread receives it; to
/// receive a message of unknown size, use ``recv(_:source:tag:comm:token:)``,
/// which probes and receives as one (`MPI_Mprobe` and `MPI_Mrecv`).
///
/// - Parameters:
///   - type: The element type in which to count the message.
///   - source: The sending rank, or ``anySource`` (the default).
///   - tag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The message's source, tag and element count (-1 when its size is no whole number of `T`).
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `source` and
///   ``MPIError/invalidTag(operation:argument:tag:upperBound:)`` for a bad `tag`.
///
/// The corresponding C function is `MPI_Probe`.
@inlinable
public func probe<T: MPIScalar>(
    _ type: T.Type, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil
) throws(MPIError) -> Status {
    try probeCore(type, source: source, tag: tag, comm: Communicator.resolve(comm, .probe), wait: true)!
}

/// Looks once for a matching message, without receiving it or waiting.
///
/// The counterpart of mpi4py's `Comm.Iprobe` (which returns a flag and fills a status).
///
/// - Parameters:
///   - type: The element type in which to count the message.
///   - source: The sending rank, or ``anySource`` (the default).
///   - tag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The message's source, tag and element count, or `nil` when no matching message is waiting.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `source` and
///   ``MPIError/invalidTag(operation:argument:tag:upperBound:)`` for a bad `tag`.
///
/// The corresponding C function is `MPI_Iprobe`.
@inlinable
public func iprobe<T: MPIScalar>(
    _ type: T.Type, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil
) throws(MPIError) -> Status? {
    try probeCore(type, source: source, tag: tag, comm: Communicator.resolve(comm, .iprobe), wait: false)
}

/// The core of recv without a template: the source and tag checks, the hooks
/// and the raw call, which allocates exactly the message's element count.
@inlinable
func recvAnySizeCore<T: MPIScalar>(
    _ type: T.Type, source: Int, tag: Int, comm: ResolvedCommunicator
) throws(MPIError) -> ([T], Status) {
    try perform(Call(.recv, comm, T.self, count: -1, peer: source, tag: tag), checks: {
        () throws(MPIError) -> (source: Int32, tag: Int32) in
        (try checkSource(source, .recv, comm, allowingProcNull: true), try checkReceiveTag(tag, "tag", .recv))
    }) { (mpi) throws(MPIError) -> ([T], Status) in
        var result: [T] = []
        let outcome = rawRecvAnySize(
            type: T.mpiDatatype.handle, elementSize: MemoryLayout<T>.stride, source: mpi.source, tag: mpi.tag,
            comm: comm.handle
        ) { count, receive in
            var code: Int32 = 0
            result = makeUninitializedArray(count: count) { (buffer: UnsafeMutableBufferPointer<T>) in
                code = receive(UnsafeMutableRawPointer(buffer.baseAddress))
            }
            return code
        }
        try check(outcome.code, .recv)
        if _slowPath(outcome.count < 0) {
            throw MPIError.shapeMismatch(
                operation: MPIOperation.recv.name, argument: "type",
                expected: "a message of whole \(T.self) elements (\(MemoryLayout<T>.stride) bytes each)",
                actual: "a message of another size (sent with another type)")
        }
        let status = Status()
        status.source = outcome.source
        status.tag = outcome.tag
        status.count = outcome.count
        return (result, status)
    }
}

/// Receives a message of any size: the result has exactly the message's element count.
///
/// The counterpart of mpi4py's `Comm.Mprobe` and `Message.Recv`: the message is
/// matched and taken (`MPI_Mprobe`), so that no other receive, on another
/// thread, say, can take it between the probe and the receive; its size is read
/// (`MPI_Get_count`); storage of exactly that size is allocated; and the message
/// is received into it (`MPI_Mrecv`).
///
/// - Parameters:
///   - type: The element type of the message.
///   - source: The sending rank, ``anySource`` (the default), or ``procNull`` (no elements, and a status
///     of source `procNull`, tag `anyTag`, count 0).
///   - tag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The message's elements, its status (source, tag, element count), and the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `source`,
///   ``MPIError/invalidTag(operation:argument:tag:upperBound:)`` for a bad `tag`, and
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for a message that is no whole
///   number of `T` (it is received and discarded, so no message is left behind).
///
/// The corresponding C functions are `MPI_Mprobe`, `MPI_Get_count` and `MPI_Mrecv`.
@inlinable
public func recv<T: MPIScalar>(
    _ type: T.Type, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Status, Token) {
    let (result, status) = try recvAnySizeCore(type, source: source, tag: tag, comm: Communicator.resolve(comm, .recv))
    return (result, status, advance(token))
}
