import CMPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// How the raw layer calls MPI at each thread level, chosen once when MPI is set
// up (``configureCalls(provided:)``).
//
// * MPI_THREAD_MULTIPLE (the default): MPI makes concurrent calls safe itself,
//   and every raw function makes its blocking call directly.
// * MPI_THREAD_SERIALIZED: no two threads may be inside MPI at once, so every
//   MPI call of the package runs under one process-wide lock. The lock is never
//   held while waiting for another rank: a lock held across a blocking call
//   deadlocks the ranks (rank 0's thread A holds it in allreduce on c1, waiting
//   for rank 1, whose thread B holds rank 1's lock in allreduce on c2, waiting
//   for rank 0). So each raw function makes its blocking call's non-blocking
//   counterpart, started under the lock, and completes it with MPI_Test under
//   the lock, releasing the lock between tests (``serialized(advancingQueue:_:)``); receives
//   poll MPI_Improbe the same way.
// * MPI_THREAD_FUNNELED and MPI_THREAD_SINGLE: only the thread that initialised
//   MPI may call it. A call from another thread throws
//   ``MPIError/threadLevel(operation:provided:reason:)`` before anything is
//   communicated (``admitCallingThread(_:)``), and a communicator released on
//   another thread is freed at that thread's next call.
//
// At every level, while non-blocking receives are queued unmatched, blocking
// calls keep matching them (see "While non-blocking receives are queued" below).

/// How the raw layer calls MPI.
@usableFromInline
enum CallMode: UInt8 {
    /// Blocking calls, made directly (`MPI_THREAD_MULTIPLE`).
    case direct
    /// Non-blocking calls under the process-wide lock, completed by polling (`MPI_THREAD_SERIALIZED`).
    case serialized
    /// Blocking calls, from the thread that initialised MPI only (`MPI_THREAD_FUNNELED`, `MPI_THREAD_SINGLE`).
    case mainThreadOnly
}

/// How the raw layer calls MPI: written once when MPI is set up, before any operation can run.
@exclusivity(unchecked) @usableFromInline nonisolated(unsafe) var callMode = CallMode.direct

/// The thread level MPI provides, for the errors of ``CallMode/mainThreadOnly``.
nonisolated(unsafe) private var providedLevel = ThreadLevel.multiple

/// The thread that initialised MPI, when it is known (``CallMode/mainThreadOnly``).
nonisolated(unsafe) private var mainThread: pthread_t?

/// The lock that serialises every MPI call of the package at `MPI_THREAD_SERIALIZED`.
@usableFromInline let mpiLock = Mutex<Void>(())

/// Communicators released on another thread than MPI's main thread, freed by that thread's next call.
private let deferredFrees = Mutex<[ReleasedCommunicator]>([])

/// A communicator handle waiting in ``deferredFrees`` (a plain handle, used by one thread at a time).
private struct ReleasedCommunicator: @unchecked Sendable {
    var handle: MPI_Comm
}

/// Chooses how the raw layer calls MPI, from the level MPI provides.
///
/// Called once while MPI is set up, on the thread that set it up, before any operation can run.
func configureCalls(provided: ThreadLevel) {
    providedLevel = provided
    switch provided {
    case .multiple:
        callMode = .direct
    case .serialized:
        callMode = .serialized
    case .funneled, .single:
        // MPI's main thread is the one that called MPI_Init_thread: this one when
        // the package initialised MPI, else possibly another, which MPI then tells.
        mainThread = swiftmpi_is_thread_main() != 0 ? pthread_self() : nil
        callMode = .mainThreadOnly
    }
}

/// Whether every MPI call runs under ``mpiLock`` and blocking calls run as their polled non-blocking counterparts.
@inlinable @inline(__always)
var serializesCalls: Bool { callMode == .serialized }

// MARK: - While non-blocking receives are queued

// A non-blocking receive is not posted in MPI: it waits in ``ProbedReceives``
// until the package's probes match its message (so that no message is written
// past its buffer), and only the package's polls match it. A call that waited
// inside MPI meanwhile would leave it unmatched, and a partner rank whose
// blocking send of a large message waits for it (the C pattern `MPI_Irecv`,
// `MPI_Send`, `MPI_Wait`, or a send before a collective) would never return.
// So while receives are queued, blocking point-to-point calls poll their
// non-blocking counterparts, advancing the queue at each poll (a blocking send
// and an `MPI_Isend` match the same receives), and blocking collectives, which
// must stay blocking (a blocking collective does not match a non-blocking one
// on another rank), have the progress engine's thread advance the queue while
// they wait (``waitingInCollective(_:)``).

/// Whether a blocking point-to-point call may wait inside its blocking MPI function, rather than run as
/// its non-blocking counterpart polled by ``serialized(advancingQueue:_:)``: not when calls are serialised (the lock
/// would be held while other ranks are waited for), and not while non-blocking receives are queued,
/// unmatched (see above). One relaxed load more than ``serializesCalls``.
@inline(__always)
var mayWaitInMPI: Bool { !serializesCalls && !ProbedReceives.isNotEmpty }

/// Runs a blocking collective's MPI call; while non-blocking receives are queued, unmatched, the progress
/// engine's thread advances them until the call returns (see above).
///
/// Only where MPI may be called from several threads at once (`MPI_THREAD_MULTIPLE`). At
/// `MPI_THREAD_SERIALIZED` the collectives are already polled (``serialized(advancingQueue:_:)``), and each poll advances
/// the queue; below it only the calling thread may call MPI, so the queue waits until the call returns.
@inline(__always)
func waitingInCollective(_ call: () -> Int32) -> Int32 {
    if _fastPath(!ProbedReceives.isNotEmpty) { return call() }
    return waitingInCollectiveSlowPath(call)
}

@inline(never)
func waitingInCollectiveSlowPath(_ call: () -> Int32) -> Int32 {
    guard callMode == .direct else { return call() }
    ProgressEngine.shared.beginAdvancingQueuedReceives()
    defer { ProgressEngine.shared.endAdvancingQueuedReceives() }
    return call()
}

// MARK: - Below MPI_THREAD_SERIALIZED: the calling thread

/// Throws ``MPIError/threadLevel(operation:provided:reason:)`` when MPI provides
/// less than `MPI_THREAD_SERIALIZED` and the caller is not the thread that
/// initialised MPI. One predictable branch otherwise.
@inlinable @inline(__always)
func admitCallingThread(_ operation: @autoclosure () -> String) throws(MPIError) {
    if _slowPath(callMode == .mainThreadOnly) { try checkCallingThread(operation()) }
}

/// The check of ``admitCallingThread(_:)``; on MPI's main thread, it also frees
/// the communicators that other threads released, and polls the requests that
/// they dropped in flight (``pollOrphanedRequests()``).
@usableFromInline @inline(never)
func checkCallingThread(_ operation: String) throws(MPIError) {
    guard isMPIMainThread() else {
        throw MPIError.threadLevel(
            operation: operation, provided: providedLevel,
            reason: "called from another thread than the one that initialised MPI; call MPI from that thread only, "
                + "or initialise MPI at .serialized or .multiple (MPIRuntime.initialize(threadLevel:) "
                + "or SWIFT_MPI_THREAD_LEVEL)")
    }
    let pending = deferredFrees.withLock { released -> [ReleasedCommunicator] in
        let taken = released
        released = []
        return taken
    }
    for var communicator in pending { RuntimeState.whileActive { _ = freeHandle(&communicator.handle) } }
    pollOrphanedRequests()
}

/// Whether the calling thread is the one that initialised MPI.
func isMPIMainThread() -> Bool {
    if let mainThread { return pthread_equal(mainThread, pthread_self()) != 0 }
    return swiftmpi_is_thread_main() != 0
}

// MARK: - At MPI_THREAD_SERIALIZED: the lock and the polled completion

/// Runs `body`, MPI calls that return without waiting for other ranks, under
/// ``mpiLock`` when calls are serialised, else directly.
@inlinable @inline(__always)
func locked(_ body: () -> Int32) -> Int32 {
    if _fastPath(!serializesCalls) { return body() }
    return lockedSlowPath(body)
}

@usableFromInline @inline(never)
func lockedSlowPath(_ body: () -> Int32) -> Int32 {
    mpiLock.withLock { _ in body() }
}

/// Starts a non-blocking call with `start` under the lock, then completes it with
/// `MPI_Test` under the lock, releasing the lock between tests: the polled form
/// of a blocking call, at `MPI_THREAD_SERIALIZED` and while non-blocking receives
/// are queued (see ``mayWaitInMPI``), which each poll advances. Returns the first
/// failing MPI return code, or 0.
///
/// `advancingQueue: false` is for a call made under the queue's own lock (a queued receive that
/// matched a message of the wrong size, ``PendingOperation/probeOnce(source:tag:)``), which must not
/// advance the queue again: the queue's lock is not recursive.
@usableFromInline @inline(never)
func serialized(advancingQueue: Bool = true, _ start: (inout MPI_Request) -> Int32) -> Int32 {
    var request = swiftmpi_request_null()
    var done: Int32 = 0
    let code = mpiLock.withLock { _ -> Int32 in
        let code = start(&request)
        guard code == 0 else { return code }
        // A first test in the same hold: small sends, for one, complete at once.
        return swiftmpi_test(&request, &done)
    }
    guard code == 0, done == 0 else { return code }
    return completeSerialized(&request, advancingQueue: advancingQueue)
}

/// Completes a started request with `MPI_Test` under the lock, releasing the lock
/// between tests (``pollPause(_:)``), and advancing the queued receives between them
/// unless `advancingQueue` is false (see ``serialized(advancingQueue:_:)``).
@usableFromInline @inline(never)
func completeSerialized(_ request: inout MPI_Request, advancingQueue: Bool = true) -> Int32 {
    var done: Int32 = 0
    var polls = 0
    while true {
        pollPause(&polls)
        if advancingQueue { ProbedReceives.advanceIfQueued() }
        let code = mpiLock.withLock { _ in swiftmpi_test(&request, &done) }
        if code != 0 || done != 0 { return code }
    }
}

/// How many polls run back to back before each further poll yields the processor.
let pollsBeforeYielding = 100

/// The pause between two polls, with the lock released: none for the first
/// ``pollsBeforeYielding`` polls (a small call completes within a few, and
/// `sched_yield` on a busy machine can cost a time slice), then `sched_yield`,
/// which lets the partner ranks' processes and this rank's other threads run.
@inline(__always)
func pollPause(_ polls: inout Int) {
    if polls < pollsBeforeYielding {
        polls += 1
    } else {
        sched_yield()
    }
}

/// Waits for a message with `MPI_Improbe` under the lock, releasing the lock
/// between probes: the serialised form of `MPI_Mprobe`.
@usableFromInline @inline(never)
func probeSerialized(
    source: Int32, tag: Int32, comm: MPI_Comm, message: inout MPI_Message, status: inout MPI_Status
) -> Int32 {
    var found: Int32 = 0
    var polls = 0
    while true {
        let code = mpiLock.withLock { _ in swiftmpi_improbe(source, tag, comm, &found, &message, &status) }
        if code != 0 || found != 0 { return code }
        pollPause(&polls)
        ProbedReceives.advanceIfQueued()
    }
}

// MARK: - Communicators

/// `MPI_Comm_dup` (at `MPI_THREAD_SERIALIZED`, `MPI_Comm_idup`, polled).
func rawCommDup(_ comm: MPI_Comm, _ newHandle: inout MPI_Comm) throws(MPIError) {
    try admitCallingThread("Communicator.duplicate")
    let code: Int32
    if _fastPath(!serializesCalls) {
        code = waitingInCollective { swiftmpi_comm_dup(comm, &newHandle) }
    } else {
        code = serialized { swiftmpi_comm_idup(comm, &newHandle, &$0) }
    }
    try check(code, "MPI_Comm_dup")
}

/// `MPI_Comm_split`.
///
/// MPI 3.1 has no non-blocking split, so at `MPI_THREAD_SERIALIZED` the split
/// holds the lock until every rank has joined it: other threads' calls wait,
/// and two threads that split different communicators at once can deadlock the
/// ranks (split from one thread at a time there, or use `MPI_THREAD_MULTIPLE`).
func rawCommSplit(_ comm: MPI_Comm, color: Int32, key: Int32, _ newHandle: inout MPI_Comm) throws(MPIError) {
    try admitCallingThread("Communicator.split")
    try check(waitingInCollective { locked { swiftmpi_comm_split(comm, color, key, &newHandle) } }, "MPI_Comm_split")
}

/// `MPI_Comm_free` (local in Open MPI and MPICH), returning MPI's code. Below
/// `MPI_THREAD_SERIALIZED`, a communicator released on another thread than MPI's
/// main thread is freed at that thread's next call (and 0 returned), and one that a queued
/// receive still uses when that receive leaves the queue.
@discardableResult
func rawCommFree(_ handle: inout MPI_Comm) -> Int32 {
    if _slowPath(callMode == .mainThreadOnly) && !isMPIMainThread() {
        let released = ReleasedCommunicator(handle: handle)
        deferredFrees.withLock { $0.append(released) }
        handle = swiftmpi_comm_null()
        return 0
    }
    return freeHandle(&handle)
}

/// `MPI_Comm_free`, put off while a queued receive uses the communicator (``ProbedReceives/freeCommunicator(_:)``).
private func freeHandle(_ handle: inout MPI_Comm) -> Int32 {
    if _slowPath(ProbedReceives.isNotEmpty) { return ProbedReceives.shared.freeCommunicator(&handle) }
    return locked { swiftmpi_comm_free(&handle) }
}
