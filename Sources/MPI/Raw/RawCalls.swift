import CMPI

// The raw layer under every operation: one non-generic function per MPI call,
// on raw pointers and Int counts, that throws MPI's errors as `MPIError`.
//
// Each operation's core (Operations/) calls exactly one of these, so each MPI
// call, and its handling of counts above Int32.max (LargeCount.swift), is
// written once. The generic cores are @inlinable and specialise in the caller;
// these stay out of line, one direct call each.

@usableFromInline
func rawAllgather(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        MPI_Allgather(send, n, t, receive, n, t, comm)
    }, .allgather)
}

@usableFromInline
func rawAllreduce(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, op: MPI_Op, comm: MPI_Comm
) throws(MPIError) {
    try check(inChunks(count: count, elementSize: elementSize) { offset, n in
        MPI_Allreduce(send.map { $0 + offset }, receive.map { $0 + offset }, n, type, op, comm)
    }, .allreduce)
}

/// `blockCount` is the size of one block (the elements sent to each rank).
@usableFromInline
func rawAlltoall(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, blockCount: Int, type: MPI_Datatype,
    elementSize: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(withMessage(count: blockCount, of: type, elementSize: elementSize) { n, t in
        MPI_Alltoall(send, n, t, receive, n, t, comm)
    }, .alltoall)
}

@usableFromInline
func rawBarrier(comm: MPI_Comm) throws(MPIError) {
    try check(MPI_Barrier(comm), .barrier)
}

/// The buffer is read on the root and written elsewhere.
@usableFromInline
func rawBcast(
    _ buffer: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, elementSize: Int, root: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        MPI_Bcast(buffer, n, t, Int32(truncatingIfNeeded: root), comm)
    }, .bcast)
}

/// `receive` is used on the root only.
@usableFromInline
func rawGather(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, root: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        MPI_Gather(send, n, t, receive, n, t, Int32(truncatingIfNeeded: root), comm)
    }, .gather)
}

/// `receive` is used on the root only.
@usableFromInline
func rawReduce(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, op: MPI_Op, root: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(inChunks(count: count, elementSize: elementSize) { offset, n in
        MPI_Reduce(send.map { $0 + offset }, receive.map { $0 + offset }, n, type, op,
                   Int32(truncatingIfNeeded: root), comm)
    }, .reduce)
}

@usableFromInline
func rawScan(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, op: MPI_Op, comm: MPI_Comm
) throws(MPIError) {
    try check(inChunks(count: count, elementSize: elementSize) { offset, n in
        MPI_Scan(send.map { $0 + offset }, receive.map { $0 + offset }, n, type, op, comm)
    }, .scan)
}

/// `send` is used on the root only; `rowCount` is the size of one row.
@usableFromInline
func rawScatter(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, rowCount: Int, type: MPI_Datatype,
    elementSize: Int, root: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(withMessage(count: rowCount, of: type, elementSize: elementSize) { n, t in
        MPI_Scatter(send, n, t, receive, n, t, Int32(truncatingIfNeeded: root), comm)
    }, .scatter)
}

@usableFromInline
func rawSend(
    _ send: UnsafeRawPointer?, count: Int, type: MPI_Datatype, elementSize: Int, dest: Int, tag: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        MPI_Send(send, n, t, Int32(truncatingIfNeeded: dest), Int32(truncatingIfNeeded: tag), comm)
    }, .send)
}

/// The outcome of a receive: MPI's return code, and the message's source, tag and element count.
@usableFromInline
struct ReceiveOutcome {
    @usableFromInline var code: Int32 = 0
    @usableFromInline var source: Int = -1
    @usableFromInline var tag: Int = -1
    @usableFromInline var count: Int = -1

    @inlinable init() {}

    @usableFromInline
    init(code: Int32, status: inout MPI_Status, type: MPI_Datatype) {
        self.code = code
        guard code == 0 else { return }
        source = Int(swiftmpi_status_source(&status))
        tag = Int(swiftmpi_status_tag(&status))
        // MPI_Get_elements_x counts basic elements, which is the element count
        // for the derived datatypes of large messages too.
        var n: Int64 = 0
        count = swiftmpi_get_elements(&status, type, &n) == 0 ? Int(n) : -1
    }
}

/// Receives one message into `receive`, which holds `count` elements.
///
/// The message is probed first (`MPI_Mprobe`, which also takes it, so that no
/// other receive can match it in between) and its size read, so that MPI is
/// never handed a buffer that the message can overrun: Open MPI 4.1 writes a
/// rendezvous message larger than the receive buffer past its end before it
/// reports `MPI_ERR_TRUNCATE`. A message of another size is received into
/// scratch storage, and the outcome reports its element count for the caller
/// to throw. `source` and `tag` are MPI values (wildcards already converted);
/// MPI's errors are returned in the outcome.
@usableFromInline
func rawRecv(
    _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, elementSize: Int, source: Int32, tag: Int32,
    comm: MPI_Comm
) -> ReceiveOutcome {
    var message = swiftmpi_message_null()
    var status = MPI_Status()
    let code = swiftmpi_mprobe(source, tag, comm, &message, &status)
    guard code == 0 else {
        var failed = ReceiveOutcome()
        failed.code = code
        return failed
    }
    var outcome = ReceiveOutcome(code: 0, status: &status, type: type)
    if _fastPath(outcome.count == count) {
        outcome.code = withMessage(count: count, of: type, elementSize: elementSize) { n, t in
            var received = MPI_Status()
            return swiftmpi_mrecv(receive, n, t, &message, &received)
        }
    } else {
        outcome.code = receiveIntoScratch(&message, status: &status, elementSize: elementSize, outcome: &outcome)
    }
    return outcome
}

/// Receives a matched message of the wrong size into scratch storage (an error path only).
@usableFromInline @inline(never)
func receiveIntoScratch(
    _ message: inout MPI_Message, status: inout MPI_Status, elementSize: Int, outcome: inout ReceiveOutcome
) -> Int32 {
    var bytes: Int64 = 0
    let code = swiftmpi_status_bytes(&status, &bytes)
    guard code == 0 else { return code }
    // A message whose bytes are no whole number of elements was sent with another type.
    if outcome.count < 0 { outcome.count = Int(bytes) / Swift.max(1, elementSize) }
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(1, Int(bytes)), alignment: 64)
    defer { scratch.deallocate() }
    return withMessage(count: Int(bytes), of: swiftmpi_byte(), elementSize: 1) { n, t in
        var received = MPI_Status()
        return swiftmpi_mrecv(scratch, n, t, &message, &received)
    }
}

/// Sends `sendCount` elements to `dest` while receiving one message into
/// `receive` (``rawRecv(_:count:type:elementSize:source:tag:comm:)``, so never
/// past its end): the messages of `MPI_Sendrecv`, as `MPI_Isend`, the probed
/// receive, and `MPI_Wait`. `source` and `receiveTag` are MPI values (wildcards
/// already converted); MPI's errors are returned in the outcome.
@usableFromInline
func rawSendrecv(
    _ send: UnsafeRawPointer?, sendCount: Int, dest: Int, sendTag: Int,
    _ receive: UnsafeMutableRawPointer?, receiveCount: Int, source: Int32, receiveTag: Int32,
    type: MPI_Datatype, elementSize: Int, comm: MPI_Comm
) -> ReceiveOutcome {
    var request = swiftmpi_request_null()
    let sendCode = withMessage(count: sendCount, of: type, elementSize: elementSize) { n, t in
        swiftmpi_isend(send, n, t, Int32(truncatingIfNeeded: dest), Int32(truncatingIfNeeded: sendTag), comm, &request)
    }
    guard sendCode == 0 else {
        var failed = ReceiveOutcome()
        failed.code = sendCode
        return failed
    }
    var outcome = rawRecv(receive, count: receiveCount, type: type, elementSize: elementSize, source: source,
                          tag: receiveTag, comm: comm)
    let waitCode = swiftmpi_wait(&request)
    if outcome.code == 0 { outcome.code = waitCode }
    return outcome
}
