import CMPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The progress engine: one thread that completes every awaited request.
//
// An awaiting task first polls its request itself for up to 200 µs, yielding
// every 100 µs (pollBeforeSuspending); then it hands the request's
// operation to the engine and suspends
// (a continuation, so no thread of the cooperative pool waits). The engine
// thread loops: it takes the newly awaited operations, advances the queued
// receives (PendingOperation.swift), tests the MPI requests of all awaited
// operations with ONE `MPI_Testsome`, finishes the operations that are done and
// resumes their tasks. When a poll completes nothing it backs off: 100 polls
// back to back, then `sched_yield` until 2,000 polls, then sleeps of 20 µs
// doubling to 1 ms, each cut short by a newly awaited request. With nothing to
// poll it sleeps until a request is awaited, or until a thread waits in a
// blocking collective while non-blocking receives are queued: then it advances
// the queue (with the same back-off) until that collective returns, so that the
// receives keep matching (Raw/ThreadLevel.swift, waitingInCollective). Every
// MPI call goes through `locked`, so at MPI_THREAD_SERIALIZED the engine takes the package's lock
// like every other caller; below MPI_THREAD_SERIALIZED only MPI's main thread
// may call MPI, so there no engine runs and an awaited request is completed on
// the main actor, whose thread (the process's main thread) must be MPI's main thread.

/// The start of an await, with no suspension point: whether `pending` is complete after the first
/// ``inlineAwaitPolls`` polls (throwing its error if it failed). Below `MPI_THREAD_SERIALIZED` it
/// only reports a finished operation: the wait runs on the main actor (``awaitPending(_:)``).
///
/// Synchronous, so that `value()` calls no `async` function for an operation that completes within
/// a few polls (most small ones): each `async` call costs a task switch check and a frame from the
/// task allocator, about 700 instructions per awaited exchange of two requests (see <doc:Performance>).
@usableFromInline
func completesBeforeAwaiting(_ pending: PendingOperation) throws(MPIError) -> Bool {
    if !pending.finished {
        if _slowPath(callMode == .mainThreadOnly) { return false }
        for _ in 0..<inlineAwaitPolls {
            if try testPending(pending).get() { return true }
        }
        return false
    }
    try pending.result()
    return true
}

/// The rest of an await, after ``completesBeforeAwaiting(_:)`` returned false: suspends the calling task
/// until `pending` completes (on the progress engine), and throws its error.
@usableFromInline
func awaitPending(_ pending: PendingOperation) async throws(MPIError) {
    if _slowPath(callMode == .mainThreadOnly) { return try await waitOnMainActor(pending) }
    if try await pollBeforeSuspending(pending) { return }
    pending.waitBegins()
    await withTaskCancellationHandler {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            ProgressEngine.shared.submit(pending, continuation)
        }
    } onCancel: {
        pending.requestCancellation()
    }
    try pending.result()
}

/// Below `MPI_THREAD_SERIALIZED`: waits for `pending` on the main actor, that is on the process's main
/// thread, which must be the thread that initialised MPI (else the wait throws
/// ``MPIError/threadLevel(operation:provided:reason:)``). A task of the cooperative pool (where a
/// `nonisolated` `async` function such as ``Request/value()`` runs) may not call MPI at that level, and no
/// engine runs; the main thread is blocked until the operation completes.
///
/// The main actor need not run on the main thread: on Linux, a program with `async` top-level code
/// or an `async` `main` hands its main thread to `dispatch_main()`, and main-actor code then runs on a
/// worker thread of Dispatch, which may not call MPI at these levels. The error says so.
func waitOnMainActor(_ pending: PendingOperation) async throws(MPIError) {
    let (error, onMPIThread) = await MainActor.run { (waitForPending(pending), isMPIMainThread()) }
    guard let error else { return }
    if !onMPIThread, case .threadLevel(let operation, let provided, _) = error {
        throw MPIError.threadLevel(
            operation: operation, provided: provided,
            reason: "awaited on the main actor, which runs on another thread than the one that initialised MPI "
                + "(on Linux, a program with async top-level code or an async main hands its main thread to "
                + "dispatch_main, and main-actor code runs on a Dispatch worker); initialise MPI at .serialized or "
                + ".multiple (MPIRuntime.initialize(threadLevel:) or SWIFT_MPI_THREAD_LEVEL)")
    }
    throw error
}

/// Polls `pending` on the awaiting task before it is handed to the progress engine; returns whether it
/// completed (and throws its error if it failed).
///
/// Handing a request to the engine costs two thread switches (the engine's
/// thread notices the completion, then a thread of the cooperative pool resumes
/// the task): 13 to 30 µs on a loaded machine, more than most small operations
/// take. So the task first polls the request itself (`MPI_Test`, in batches of
/// ``inlineAwaitPolls`` between reads of the clock) for up to
/// ``inlineAwaitMicroseconds``, about as long as the engine would spin before
/// backing off, calling `Task.yield()` every ``inlineAwaitSliceMicroseconds``
/// so that other tasks on the pool run in between. The slice is a time, not a
/// number of polls: a yield costs a few µs (the job goes back to the global
/// executor), which a 64 KiB allreduce of about 30 µs paid on every await when
/// the task yielded after every 64 polls (1.2 × C, against 1.01–1.04 × with 100 µs
/// slices; see <doc:Performance>). Cancelling the task meanwhile withdraws a
/// receive that has not matched, as it does on the engine.
func pollBeforeSuspending(_ pending: PendingOperation) async throws(MPIError) -> Bool {
    // The first batch of polls was made by `completesBeforeAwaiting`. The clock (`CLOCK_MONOTONIC`, about
    // 30 ns a read on the development machine) is first read after this function's first batch, so that an
    // operation completing within it reads none; the times then count from there (a batch of polls later).
    var deadline = Int.max
    var sliceEnd = Int.max
    while true {
        for _ in 0..<inlineAwaitPolls {
            if try testPending(pending).get() { return true }
        }
        if Task.isCancelled { pending.requestCancellation() }
        let now = monotonicMicroseconds()
        if deadline == .max {
            deadline = now + inlineAwaitMicroseconds
            sliceEnd = now + inlineAwaitSliceMicroseconds
        }
        if now >= deadline { return false }
        if now >= sliceEnd {
            await Task.yield()
            sliceEnd = monotonicMicroseconds() + inlineAwaitSliceMicroseconds
        }
    }
}

/// How many times `value()` polls a request on the awaiting task between two reads of the clock.
let inlineAwaitPolls = 8

/// For how long `value()` polls a request on the awaiting task before it hands it to the progress engine.
let inlineAwaitMicroseconds = 200

/// How long `value()` polls on the awaiting task between two `Task.yield()`s.
let inlineAwaitSliceMicroseconds = 100

/// A monotonic clock in microseconds (`CLOCK_MONOTONIC`, a vDSO call).
func monotonicMicroseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1_000_000 + now.tv_nsec / 1_000
}

/// The one thread that polls every awaited request.
final class ProgressEngine: @unchecked Sendable {
    static let shared = ProgressEngine()

    /// Held by the engine's thread from its check that MPI is in use to the end of its poll; taken by
    /// finalisation (``waitForPoll()``) between setting the phase and `MPI_Finalize`.
    private static let pollGate = Mutex<Void>(())

    /// Returns once no poll of the engine is running; a later poll sees MPI finalised and makes no MPI
    /// call. Called by finalisation after it set the phase, before `MPI_Finalize`.
    static func waitForPoll() {
        pollGate.withLock { _ in }
    }

    /// Operations awaited since the engine last looked (each holds its task's continuation).
    private let submitted = Mutex<[PendingOperation]>([])
    /// Posted when an operation is awaited, so that an idle or backing-off engine wakes at once.
    private let wake: UnsafeMutablePointer<sem_t>
    /// Whether the engine's thread was started (never below `MPI_THREAD_SERIALIZED`, which tests check).
    let started = Atomic<Bool>(false)
    /// How many threads wait in a blocking collective while non-blocking receives are queued: while any
    /// does, the engine advances the queue (see ``waitingInCollective(_:)``).
    private let collectivesWaiting = Atomic<Int>(0)

    /// Polls of the engine since it started, and polls that completed something (for the benchmark).
    let polls = Atomic<Int>(0)
    let productivePolls = Atomic<Int>(0)

    private init() {
        wake = .allocate(capacity: 1)
        sem_init(wake, 0, 0)
    }

    /// Hands `pending` to the engine; its task is resumed with `continuation` when it completes.
    func submit(_ pending: PendingOperation, _ continuation: UnsafeContinuation<Void, Never>) {
        pending.continuation = continuation
        submitted.withLock { $0.append(pending) }
        if !started.load(ordering: .acquiring) { startThread() }
        sem_post(wake)
    }

    /// A thread is about to wait in a blocking collective while receives are queued: the engine advances
    /// them until ``endAdvancingQueuedReceives()``.
    func beginAdvancingQueuedReceives() {
        collectivesWaiting.add(1, ordering: .relaxed)
        if !started.load(ordering: .acquiring) { startThread() }
        sem_post(wake)
    }

    /// The blocking collective of ``beginAdvancingQueuedReceives()`` returned.
    func endAdvancingQueuedReceives() {
        collectivesWaiting.subtract(1, ordering: .relaxed)
    }

    /// A receive was queued while another call was in progress, which may wait inside MPI: the engine
    /// advances the queue while calls are in progress (see ``ProbedReceives/append(_:)``).
    func advanceQueuedReceivesWhileCallsRun() {
        if !started.load(ordering: .acquiring) { startThread() }
        sem_post(wake)
    }

    private func startThread() {
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        var thread = pthread_t()
        let made = pthread_create(&thread, nil, { _ in
            ProgressEngine.shared.run()
            return nil
        }, nil)
        precondition(made == 0, "swift-mpi: the progress engine's thread could not be started (\(made))")
        pthread_detach(thread)
    }

    /// The engine's loop (never returns).
    private func run() {
        var active: [PendingOperation] = []
        var poller = RequestPoller()
        var idle = 0
        while true {
            let new = submitted.withLock { queue -> [PendingOperation] in
                let taken = queue
                queue.removeAll(keepingCapacity: true)
                return taken
            }
            if !new.isEmpty {
                active.append(contentsOf: new)
                idle = 0
            }
            if active.isEmpty {
                // Queued receives to advance while a thread may wait inside MPI: in a blocking collective,
                // or in any call in progress (one that found the queue empty when it began waits inside
                // MPI, and does not advance it; see ProbedReceives.append). The engine's own calls are
                // counted only within its advance below.
                guard collectivesWaiting.load(ordering: .relaxed) > 0
                        || (callMode == .direct && RuntimeState.callsInProgress.load(ordering: .relaxed) > 0),
                      ProbedReceives.isNotEmpty, RuntimeState.phaseIsInitialized() else {
                    idle = 0
                    sem_wait(wake)
                    continue
                }
                // Only queued receives to advance, for a thread waiting in MPI.
                let queued = ProbedReceives.queuedCount
                // Outside the poll's gate: admitted as a call, which finalisation waits for.
                if RuntimeState.enterCall() {
                    ProbedReceives.shared.advance()
                    RuntimeState.leaveCall()
                }
                if ProbedReceives.queuedCount < queued {
                    idle = 0
                } else {
                    idle += 1
                    pause(idle)
                }
                continue
            }
            // One atomic load per poll while polls complete requests (MPIRuntime.finalize() sets the phase
            // before it calls MPI_Finalize). MPI_Finalized (about 120 instructions) is asked too once the
            // engine has gone `engineSpinPolls` polls without a completion, where it pauses anyway: a
            // request awaited by a task that nobody waits for any more (at exit, say) must not be polled
            // after MPI was finalised outside the package.
            // The check and the poll under `pollGate`, which finalisation takes after it set the phase and
            // before it calls MPI_Finalize: a poll that saw MPI in use ends before MPI does.
            let polled = Self.pollGate.withLock { _ -> Bool in
                guard RuntimeState.phaseIsInitialized(), idle < engineSpinPolls || !MPIRuntime.isFinalized else {
                    return false
                }
                poller.poll(active)
                return true
            }
            guard polled else {
                for operation in active {
                    operation.finishFinalized()
                    operation.continuation.take()?.resume()
                }
                active.removeAll()
                continue
            }
            polls.add(1, ordering: .relaxed)
            var resumed = 0
            var kept = 0
            for i in active.indices {
                let operation = active[i]
                if operation.isDone {
                    operation.finish()
                    operation.continuation.take()?.resume()
                    resumed += 1
                } else {
                    active[kept] = operation
                    kept += 1
                }
            }
            active.removeLast(active.count - kept)
            if resumed > 0 {
                productivePolls.add(1, ordering: .relaxed)
                idle = 0
            } else {
                idle += 1
                pause(idle)
            }
        }
    }

    /// The back-off after `idle` polls in a row that completed nothing.
    private func pause(_ idle: Int) {
        if idle < engineSpinPolls { return }
        if idle < 2_000 {
            sched_yield()
            return
        }
        // 20 µs, doubling every 100 idle polls, up to 1 ms; a newly awaited request ends the sleep.
        let microseconds = min(1_000, 20 << min(6, (idle - 2_000) / 100))
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_nsec += microseconds * 1_000
        if deadline.tv_nsec >= 1_000_000_000 {
            deadline.tv_sec += 1
            deadline.tv_nsec -= 1_000_000_000
        }
        _ = sem_timedwait(wake, &deadline)
    }
}

/// The progress engine's polls in a row without a completion before it starts to pause.
private let engineSpinPolls = 100

/// Polls many operations together: the queued receives, then one `MPI_Testsome` over all their requests.
///
/// Used by the progress engine and by ``RequestSet``; it keeps its arrays between polls.
struct RequestPoller {
    private var handles: [MPI_Request] = []
    private var owners: [(operation: PendingOperation, slot: Int)] = []
    private var indices: [Int32] = []
    private var statuses: [MPI_Status] = []

    /// Polls `operations` once; afterwards each one's `isDone` tells whether it is done.
    mutating func poll(_ operations: [PendingOperation]) {
        ProbedReceives.advanceIfQueued()
        handles.removeAll(keepingCapacity: true)
        owners.removeAll(keepingCapacity: true)
        for operation in operations where !operation.queued.load(ordering: .acquiring) {
            if swiftmpi_request_is_null(operation.requests.0) == 0 {
                handles.append(operation.requests.0)
                owners.append((operation, 0))
            }
            if swiftmpi_request_is_null(operation.requests.1) == 0 {
                handles.append(operation.requests.1)
                owners.append((operation, 1))
            }
        }
        guard !handles.isEmpty else { return }
        if indices.count < handles.count {
            indices = [Int32](repeating: 0, count: handles.count)
            statuses = [MPI_Status](repeating: MPI_Status(), count: handles.count)
        }
        var completed: Int32 = 0
        let count = Int32(handles.count)
        let code = handles.withUnsafeMutableBufferPointer { h in
            indices.withUnsafeMutableBufferPointer { i in
                statuses.withUnsafeMutableBufferPointer { s in
                    locked { swiftmpi_testsome(count, h.baseAddress!, &completed, i.baseAddress!, s.baseAddress!) }
                }
            }
        }
        // MPI freed the requests it completed and nulled them in `handles`, also when it failed:
        // the operations' slots take the handles back, so no freed request is ever tested again.
        for (k, owner) in owners.enumerated() {
            if owner.slot == 0 { owner.operation.requests.0 = handles[k] } else { owner.operation.requests.1 = handles[k] }
        }
        guard code != 0 else { return }
        if code == swiftmpi_err_in_status(), completed != swiftmpi_undefined() {
            // Each completed request's own error is in its status.
            for k in 0..<Int(completed) {
                let error = statuses.withUnsafeBufferPointer { swiftmpi_status_error($0.baseAddress! + k) }
                let owner = owners[Int(indices[k])]
                if error != 0 { owner.operation.fail(error, slot: owner.slot) }
            }
        } else {
            // No request completed: test each one alone to find its own error.
            for operation in operations where !operation.queued.load(ordering: .acquiring) { operation.testSlots() }
        }
    }
}
