import CMPI

// The raw layer under every operation: one non-generic function per MPI call,
// on raw pointers and Int counts, that throws MPI's errors as `MPIError`.
//
// Each operation's core (Operations/) calls exactly one of these, so each MPI
// call, and its handling of counts above Int32.max (LargeCount.swift), is
// written once. The generic cores are @inlinable and specialise in the caller;
// these stay out of line, one direct call each.
//
// Each shows its blocking MPI call and, at `MPI_THREAD_SERIALIZED`, its
// non-blocking counterpart, started and polled under the package's lock
// (ThreadLevel.swift): one predictable branch on `callMode`, set when MPI is set up.
//
// With `pending` (the non-blocking forms, Requests/), each starts its
// non-blocking counterpart into the pending operation instead and returns; the
// pending operation completes it (Requests/PendingOperation.swift). The closures
// capture it unretained (``UnretainedPending``): the core holds it for the call.

@usableFromInline
func rawAllgather(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, comm: MPI_Comm, operation: MPIOperation = .allgather, pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        if let pending { return pending.start { swiftmpi_iallgather(send, n, t, receive, n, t, comm, &$0) } }
        if _fastPath(!serializesCalls) { return waitingInCollective { MPI_Allgather(send, n, t, receive, n, t, comm) } }
        return serialized { swiftmpi_iallgather(send, n, t, receive, n, t, comm, &$0) }
    }, operation)
}

@usableFromInline
func rawAllreduce(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, op: MPI_Op, comm: MPI_Comm, pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(inChunks(count: count, elementSize: elementSize) { offset, n in
        let (s, r) = (send.map { $0 + offset }, receive.map { $0 + offset })
        if let pending { return pending.start { swiftmpi_iallreduce(s, r, n, type, op, comm, &$0) } }
        if _fastPath(!serializesCalls) { return waitingInCollective { MPI_Allreduce(s, r, n, type, op, comm) } }
        return serialized { swiftmpi_iallreduce(s, r, n, type, op, comm, &$0) }
    }, .allreduce)
}

/// `blockCount` is the size of one block (the elements sent to each rank).
@usableFromInline
func rawAlltoall(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, blockCount: Int, type: MPI_Datatype,
    elementSize: Int, comm: MPI_Comm, pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(withMessage(count: blockCount, of: type, elementSize: elementSize) { n, t in
        if let pending { return pending.start { swiftmpi_ialltoall(send, n, t, receive, n, t, comm, &$0) } }
        if _fastPath(!serializesCalls) { return waitingInCollective { MPI_Alltoall(send, n, t, receive, n, t, comm) } }
        return serialized { swiftmpi_ialltoall(send, n, t, receive, n, t, comm, &$0) }
    }, .alltoall)
}

@usableFromInline
func rawBarrier(comm: MPI_Comm, pending: PendingOperation? = nil) throws(MPIError) {
    if let pending { return try check(pending.start { swiftmpi_ibarrier(comm, &$0) }, .barrier) }
    if _fastPath(!serializesCalls) { return try check(waitingInCollective { MPI_Barrier(comm) }, .barrier) }
    try check(serialized { swiftmpi_ibarrier(comm, &$0) }, .barrier)
}

/// The buffer is read on the root and written elsewhere.
@usableFromInline
func rawBcast(
    _ buffer: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, elementSize: Int, root: Int, comm: MPI_Comm,
    pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        let root = Int32(truncatingIfNeeded: root)
        if let pending { return pending.start { swiftmpi_ibcast(buffer, n, t, root, comm, &$0) } }
        if _fastPath(!serializesCalls) { return waitingInCollective { MPI_Bcast(buffer, n, t, root, comm) } }
        return serialized { swiftmpi_ibcast(buffer, n, t, root, comm, &$0) }
    }, .bcast)
}

/// `receive` is used on the root only.
@usableFromInline
func rawGather(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, root: Int, comm: MPI_Comm, pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        let root = Int32(truncatingIfNeeded: root)
        if let pending { return pending.start { swiftmpi_igather(send, n, t, receive, n, t, root, comm, &$0) } }
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Gather(send, n, t, receive, n, t, root, comm) }
        }
        return serialized { swiftmpi_igather(send, n, t, receive, n, t, root, comm, &$0) }
    }, .gather)
}

/// `receive` is used on the root only.
@usableFromInline
func rawReduce(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, op: MPI_Op, root: Int, comm: MPI_Comm, pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(inChunks(count: count, elementSize: elementSize) { offset, n in
        let (s, r, root) = (send.map { $0 + offset }, receive.map { $0 + offset }, Int32(truncatingIfNeeded: root))
        if let pending { return pending.start { swiftmpi_ireduce(s, r, n, type, op, root, comm, &$0) } }
        if _fastPath(!serializesCalls) { return waitingInCollective { MPI_Reduce(s, r, n, type, op, root, comm) } }
        return serialized { swiftmpi_ireduce(s, r, n, type, op, root, comm, &$0) }
    }, .reduce)
}

@usableFromInline
func rawScan(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, op: MPI_Op, comm: MPI_Comm, pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(inChunks(count: count, elementSize: elementSize) { offset, n in
        let (s, r) = (send.map { $0 + offset }, receive.map { $0 + offset })
        if let pending { return pending.start { swiftmpi_iscan(s, r, n, type, op, comm, &$0) } }
        if _fastPath(!serializesCalls) { return waitingInCollective { MPI_Scan(s, r, n, type, op, comm) } }
        return serialized { swiftmpi_iscan(s, r, n, type, op, comm, &$0) }
    }, .scan)
}

/// `send` is used on the root only; `rowCount` is the size of one row.
@usableFromInline
func rawScatter(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, rowCount: Int, type: MPI_Datatype,
    elementSize: Int, root: Int, comm: MPI_Comm, pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(withMessage(count: rowCount, of: type, elementSize: elementSize) { n, t in
        let root = Int32(truncatingIfNeeded: root)
        if let pending { return pending.start { swiftmpi_iscatter(send, n, t, receive, n, t, root, comm, &$0) } }
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Scatter(send, n, t, receive, n, t, root, comm) }
        }
        return serialized { swiftmpi_iscatter(send, n, t, receive, n, t, root, comm, &$0) }
    }, .scatter)
}

@usableFromInline
func rawSend(
    _ send: UnsafeRawPointer?, count: Int, type: MPI_Datatype, elementSize: Int, dest: Int, tag: Int, comm: MPI_Comm,
    pending: PendingOperation? = nil
) throws(MPIError) {
    let pending = UnretainedPending.from(pending)
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        let (dest, tag) = (Int32(truncatingIfNeeded: dest), Int32(truncatingIfNeeded: tag))
        if let pending { return pending.start { swiftmpi_isend(send, n, t, dest, tag, comm, &$0) } }
        if _fastPath(mayWaitInMPI) { return MPI_Send(send, n, t, dest, tag, comm) }
        return serialized { swiftmpi_isend(send, n, t, dest, tag, comm, &$0) }
    }, .send)
}

/// The outcome of a receive: MPI's return code, and the message's source, tag and element count.
@usableFromInline
struct ReceiveOutcome {
    @usableFromInline var code: Int32 = 0
    @usableFromInline var source: Int = -1
    @usableFromInline var tag: Int = -1
    @usableFromInline var count: Int = -1
    /// The message's size in bytes when it is no whole number of elements (then `count` is -1).
    @usableFromInline var bytes: Int = -1

    @inlinable init() {}

    /// The outcome of a receive from ``procNull``: no message (``finishReceive(_:expected:_:argument:status:)``
    /// reports source `procNull`, tag `anyTag` and count 0), and no size error for the `count` expected.
    init(fromProcNullExpecting count: Int) {
        source = procNull
        tag = anyTag
        self.count = count
        bytes = 0
    }

    @usableFromInline
    init(code: Int32, status: inout MPI_Status, type: MPI_Datatype) {
        self.code = code
        guard code == 0 else { return }
        source = Int(swiftmpi_status_source(&status))
        tag = Int(swiftmpi_status_tag(&status))
        // MPI_Get_elements_x counts basic elements, which is the element count
        // for the derived datatypes of large messages too.
        var n: Int64 = 0
        count = locked { swiftmpi_get_elements(&status, type, &n) } == 0 ? Int(n) : -1
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
/// MPI's errors are returned in the outcome. Serialised: `MPI_Improbe` polled,
/// then `MPI_Imrecv` polled.
@usableFromInline
func rawRecv(
    _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, elementSize: Int, source: Int32, tag: Int32,
    comm: MPI_Comm, pending: PendingOperation? = nil
) -> ReceiveOutcome {
    // From MPI_PROC_NULL nothing arrives: the receive completes at once, with nothing written.
    if _slowPath(source == swiftmpi_proc_null()) {
        let outcome = ReceiveOutcome(fromProcNullExpecting: count)
        pending?.receivedFromProcNull(outcome, count: count)
        return outcome
    }
    // Optional chaining rather than `if let`, whose binding copied (retained and released) the operation.
    if let started = pending?.startReceive(receive, count: count, type: type, elementSize: elementSize, source: source,
                                           tag: tag, comm: comm) {
        return started
    }
    var message = swiftmpi_message_null()
    var status = MPI_Status()
    let code = matchMessage(source: source, tag: tag, comm: comm, message: &message, status: &status)
    guard code == 0 else {
        var failed = ReceiveOutcome()
        failed.code = code
        return failed
    }
    var outcome = ReceiveOutcome(code: 0, status: &status, type: type)
    if _fastPath(outcome.count == count) {
        outcome.code = withMessage(count: count, of: type, elementSize: elementSize) { n, t in
            receiveMatched(receive, n, t, &message)
        }
    } else {
        outcome.code = receiveIntoScratch(&message, status: &status, elementSize: elementSize, outcome: &outcome)
    }
    return outcome
}

/// Waits for the message that a blocking receive of `source` and `tag` matches, and takes it
/// (`MPI_Mprobe`; serialised, `MPI_Improbe` polled). Returns MPI's code.
///
/// While non-blocking receives are queued, unmatched (see ``ProbedReceives``), it polls instead
/// (``ProbedReceives/probeBehindQueued(source:tag:comm:take:message:status:)``), advancing the queue
/// at each poll: the queued receives keep matching their messages while this one waits (see
/// ``mayWaitInMPI``), and a message that one of them can match goes to it, as to a receive posted in
/// MPI before this one.
@inline(__always)
func matchMessage(
    source: Int32, tag: Int32, comm: MPI_Comm, message: inout MPI_Message, status: inout MPI_Status
) -> Int32 {
    if _slowPath(ProbedReceives.isNotEmpty),
       let code = matchBehindQueued(source: source, tag: tag, comm: comm, message: &message, status: &status) {
        return code
    }
    return _fastPath(mayWaitInMPI)
        ? swiftmpi_mprobe(source, tag, comm, &message, &status)
        : probeSerialized(source: source, tag: tag, comm: comm, message: &message, status: &status)
}

/// ``matchMessage(source:tag:comm:message:status:)`` while receives are queued: `nil` once none is (the
/// caller then probes as usual).
@inline(never)
func matchBehindQueued(
    source: Int32, tag: Int32, comm: MPI_Comm, message: inout MPI_Message, status: inout MPI_Status
) -> Int32? {
    var polls = 0
    while let probe = ProbedReceives.shared.probeBehindQueued(
        source: source, tag: tag, comm: comm, take: true, message: &message, status: &status) {
        if probe.code != 0 || probe.found { return probe.code }
        pollPause(&polls)
    }
    return nil
}

/// Receives a matched message of the wrong size into scratch storage (an error path only).
///
/// `underQueueLock`: called by a queued non-blocking receive, under the queue's lock
/// (``PendingOperation/probeOnce(source:tag:)``), where the receive must complete without advancing
/// the queue (its lock is not recursive): `MPI_Mrecv` directly, or serialised, `MPI_Imrecv` polled
/// without advancing it. The message is matched already, so nothing else can take it meanwhile.
@usableFromInline @inline(never)
func receiveIntoScratch(
    _ message: inout MPI_Message, status: inout MPI_Status, elementSize: Int, outcome: inout ReceiveOutcome,
    underQueueLock: Bool = false
) -> Int32 {
    var bytes: Int64 = 0
    let code = locked { swiftmpi_status_bytes(&status, &bytes) }
    guard code == 0 else { return code }
    // A message whose bytes are no whole number of elements was sent with another type
    // (MPI_Get_elements_x said MPI_UNDEFINED): its count stays -1, which no template has.
    if outcome.count < 0 { outcome.bytes = Int(bytes) }
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(1, Int(bytes)), alignment: 64)
    defer { scratch.deallocate() }
    return withMessage(count: Int(bytes), of: swiftmpi_byte(), elementSize: 1) { n, t in
        guard underQueueLock else { return receiveMatched(scratch, n, t, &message) }
        if !serializesCalls {
            var received = MPI_Status()
            return swiftmpi_mrecv(scratch, n, t, &message, &received)
        }
        return serialized(advancingQueue: false) { swiftmpi_imrecv(scratch, n, t, &message, &$0) }
    }
}

/// Receives a matched message: `MPI_Mrecv`, or serialised `MPI_Imrecv` polled.
@inline(__always)
func receiveMatched(_ buffer: UnsafeMutableRawPointer?, _ n: Int32, _ t: MPI_Datatype, _ message: inout MPI_Message) -> Int32 {
    if _fastPath(mayWaitInMPI) {
        var received = MPI_Status()
        return swiftmpi_mrecv(buffer, n, t, &message, &received)
    }
    return serialized { swiftmpi_imrecv(buffer, n, t, &message, &$0) }
}

/// Sends `sendCount` elements to `dest` while receiving one message into
/// `receive` (``rawRecv(_:count:type:elementSize:source:tag:comm:)``, so never
/// past its end): the messages of `MPI_Sendrecv`, as `MPI_Isend`, the probed
/// receive, and `MPI_Wait`. `source` and `receiveTag` are MPI values (wildcards
/// already converted); MPI's errors are returned in the outcome. Serialised: the
/// `MPI_Isend` under the lock, the serialised receive, and `MPI_Test` polled.
@usableFromInline
func rawSendrecv(
    _ send: UnsafeRawPointer?, sendCount: Int, dest: Int, sendTag: Int,
    _ receive: UnsafeMutableRawPointer?, receiveCount: Int, source: Int32, receiveTag: Int32,
    type: MPI_Datatype, elementSize: Int, comm: MPI_Comm, pending: PendingOperation? = nil
) -> ReceiveOutcome {
    var request = swiftmpi_request_null()
    let unretained = UnretainedPending.from(pending)
    let sendCode = withMessage(count: sendCount, of: type, elementSize: elementSize) { n, t in
        let (dest, sendTag) = (Int32(truncatingIfNeeded: dest), Int32(truncatingIfNeeded: sendTag))
        if let pending = unretained {
            return pending.start(slot: 1) { swiftmpi_isend(send, n, t, dest, sendTag, comm, &$0) }
        }
        return locked { swiftmpi_isend(send, n, t, dest, sendTag, comm, &request) }
    }
    guard sendCode == 0 else {
        var failed = ReceiveOutcome()
        failed.code = sendCode
        return failed
    }
    var outcome = rawRecv(receive, count: receiveCount, type: type, elementSize: elementSize, source: source,
                          tag: receiveTag, comm: comm, pending: pending)
    if pending != nil { return outcome }
    let waitCode = _fastPath(mayWaitInMPI) ? swiftmpi_wait(&request) : completeSerialized(&request)
    if outcome.code == 0 { outcome.code = waitCode }
    return outcome
}
