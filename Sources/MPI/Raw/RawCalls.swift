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

/// `source` and `tag` are MPI values (wildcards already converted). MPI's
/// errors are returned in the outcome, for the caller to tell truncation apart.
@usableFromInline
func rawRecv(
    _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, elementSize: Int, source: Int32, tag: Int32,
    comm: MPI_Comm
) -> ReceiveOutcome {
    var outcome = ReceiveOutcome()
    outcome.code = withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        var status = MPI_Status()
        let code = MPI_Recv(receive, n, t, source, tag, comm, &status)
        outcome = ReceiveOutcome(code: code, status: &status, type: t)
        return code
    }
    return outcome
}

/// `source` and `receiveTag` are MPI values (wildcards already converted). MPI's
/// errors are returned in the outcome, for the caller to tell truncation apart.
@usableFromInline
func rawSendrecv(
    _ send: UnsafeRawPointer?, sendCount: Int, dest: Int, sendTag: Int,
    _ receive: UnsafeMutableRawPointer?, receiveCount: Int, source: Int32, receiveTag: Int32,
    type: MPI_Datatype, elementSize: Int, comm: MPI_Comm
) -> ReceiveOutcome {
    var outcome = ReceiveOutcome()
    outcome.code = withMessage(count: sendCount, of: type, elementSize: elementSize) { sendN, sendT in
        withMessage(count: receiveCount, of: type, elementSize: elementSize) { receiveN, receiveT in
            var status = MPI_Status()
            let code = MPI_Sendrecv(
                send, sendN, sendT, Int32(truncatingIfNeeded: dest), Int32(truncatingIfNeeded: sendTag),
                receive, receiveN, receiveT, source, receiveTag, comm, &status)
            outcome = ReceiveOutcome(code: code, status: &status, type: receiveT)
            return code
        }
    }
    return outcome
}
