import CMPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// An operation that a non-blocking form started: the state behind a Request.
//
// A non-blocking form calls its operation's one core (Operations/) with a
// PendingOperation. The core runs its checks and hooks as for the blocking form
// (argument errors are thrown there, before anything starts), and its raw call
// (Raw/RawCalls.swift) starts the operation's non-blocking MPI call into this
// object instead of completing it. The flight record entry stays open until the
// operation completes, parked while nobody waits: a request may legitimately stay
// in flight for longer than the watchdog's timeout (a receive posted for a rare
// message, tested now and then). When a wait begins (wait, await, a request set's
// waits) the entry's clock restarts and the watchdog watches it, so it sees a
// wait that is stuck, like a blocking call.
//
// Receives are started as a probed receive, like the blocking form: the
// receive is queued here (``ProbedReceives``) and matched with `MPI_Improbe`,
// in the order the receives were started, by whatever polls requests next (a
// wait, a test, a request set, the progress engine); a matched message of the
// expected size is then received with `MPI_Imrecv` straight into the result, and
// one of another size into scratch storage and reported as the blocking form
// reports it. So MPI is never handed a buffer that a larger message can overrun
// (Open MPI 4.1 writes a rendezvous message past the end of a smaller receive
// buffer), and a receive that has not matched is known to MPI by nothing but
// the probes: cancelling it only has to take it off the queue.

/// A receive waiting for its message: what `MPI_Improbe` and `MPI_Imrecv` need.
struct ProbedReceive {
    let buffer: UnsafeMutableRawPointer?
    let count: Int
    let type: MPI_Datatype
    let elementSize: Int
    let source: Int32
    let tag: Int32
    let comm: MPI_Comm
}

extension ProbedReceive {
    /// Whether a message could match both receives.
    func overlaps(_ other: ProbedReceive) -> Bool {
        overlaps(source: other.source, tag: other.tag, comm: other.comm)
    }

    /// Whether a message could match both this receive and one of `source` and `tag` (wildcards
    /// allowed) on `comm`.
    func overlaps(source: Int32, tag: Int32, comm: MPI_Comm) -> Bool {
        let any = (source: swiftmpi_any_source(), tag: swiftmpi_any_tag())
        return self.comm == comm
            && (self.source == any.source || source == any.source || self.source == source)
            && (self.tag == any.tag || tag == any.tag || self.tag == tag)
    }

    /// Whether a message from `source` with `tag` on `comm` matches this receive.
    func matches(source: Int32, tag: Int32, comm: MPI_Comm) -> Bool {
        self.comm == comm && (self.source == swiftmpi_any_source() || self.source == source)
            && (self.tag == swiftmpi_any_tag() || self.tag == tag)
    }

    /// Whether every message that `other` matches, this receive matches too.
    func subsumes(_ other: ProbedReceive) -> Bool {
        matches(source: other.source, tag: other.tag, comm: other.comm)
    }
}

/// The receives that a pass over the queue has left unmatched so far, and the three questions the pass
/// asks of them for a later receive: does a message exist that one of them and it could both match
/// (``overlaps(_:)``), does one of them match every message it matches (``subsumes(_:)``), and does one
/// of them match a given message (``matches(source:tag:comm:)``).
///
/// Up to ``scanned`` receives are kept in an array and scanned. Beyond, the patterns they match are kept
/// in a set, so that each question is a few lookups and a pass over n queued receives costs O(n), not
/// O(n²) (an audit's 1,000 tasks awaiting receives of distinct tags took 17 s on Open MPI with the scans).
/// A pattern's source and tag are a receive's own (MPI's any-source and any-tag values included), or
/// `Int32.min` for "any value": each receive adds (source, tag), (source, min), (min, tag) and (min, min).
struct UnmatchedReceives {
    static let scanned = 16
    private var few: [ProbedReceive] = []
    private var patterns = Set<Pattern>()
    private var isIndexed = false

    private struct Pattern: Hashable {
        let comm: Int
        let source: Int32
        let tag: Int32
    }

    private static let every = Int32.min

    mutating func add(_ receive: ProbedReceive) {
        if !isIndexed {
            if few.count < Self.scanned {
                few.append(receive)
                return
            }
            isIndexed = true
            for older in few { index(older) }
            few = []
        }
        index(receive)
    }

    private mutating func index(_ r: ProbedReceive) {
        let comm = swiftmpi_comm_key(r.comm)
        patterns.insert(Pattern(comm: comm, source: r.source, tag: r.tag))
        patterns.insert(Pattern(comm: comm, source: r.source, tag: Self.every))
        patterns.insert(Pattern(comm: comm, source: Self.every, tag: r.tag))
        patterns.insert(Pattern(comm: comm, source: Self.every, tag: Self.every))
    }

    private func has(_ comm: Int, _ source: Int32, _ tag: Int32) -> Bool {
        patterns.contains(Pattern(comm: comm, source: source, tag: tag))
    }

    /// Whether a message could match both `receive` and an unmatched receive.
    func overlaps(_ receive: ProbedReceive) -> Bool {
        guard isIndexed else { return few.contains { $0.overlaps(receive) } }
        let (any, comm) = ((source: swiftmpi_any_source(), tag: swiftmpi_any_tag()), swiftmpi_comm_key(receive.comm))
        switch (receive.source == any.source, receive.tag == any.tag) {
        case (true, true): return has(comm, Self.every, Self.every)
        case (true, false): return has(comm, Self.every, any.tag) || has(comm, Self.every, receive.tag)
        case (false, true): return has(comm, any.source, Self.every) || has(comm, receive.source, Self.every)
        case (false, false): return matches(source: receive.source, tag: receive.tag, comm: receive.comm)
        }
    }

    /// Whether an unmatched receive matches every message that `receive` matches.
    func subsumes(_ receive: ProbedReceive) -> Bool {
        guard isIndexed else { return few.contains { $0.subsumes(receive) } }
        let (any, comm) = ((source: swiftmpi_any_source(), tag: swiftmpi_any_tag()), swiftmpi_comm_key(receive.comm))
        switch (receive.source == any.source, receive.tag == any.tag) {
        case (true, true): return has(comm, any.source, any.tag)
        case (true, false): return has(comm, any.source, any.tag) || has(comm, any.source, receive.tag)
        case (false, true): return has(comm, any.source, any.tag) || has(comm, receive.source, any.tag)
        case (false, false): return matches(source: receive.source, tag: receive.tag, comm: receive.comm)
        }
    }

    /// Whether an unmatched receive matches a message from `source` with `tag` on `comm`.
    func matches(source: Int32, tag: Int32, comm: MPI_Comm) -> Bool {
        guard isIndexed else { return few.contains { $0.matches(source: source, tag: tag, comm: comm) } }
        let (any, key) = ((source: swiftmpi_any_source(), tag: swiftmpi_any_tag()), swiftmpi_comm_key(comm))
        return has(key, source, tag) || has(key, source, any.tag) || has(key, any.source, tag)
            || has(key, any.source, any.tag)
    }
}

/// The state of one started operation: its MPI requests, what it keeps alive, and how it completes.
///
/// Used by one thread at a time: the thread that started it, then the one that
/// waits for it (a caller, or the progress engine for an awaited request), with
/// the hand-overs ordered by a lock, an atomic or a continuation; a queued
/// receive's state by the queue's lock. So its properties need no dynamic
/// exclusivity checks (`@exclusivity(unchecked)`, which saves about 80
/// instructions per access). Only ``cancelRequested`` is written from other threads.
///
/// Every stored property is a trivial value or a
/// class reference, so that making and releasing one costs no generic value
/// witness calls (the input that MPI reads while the operation is in flight is
/// kept alive, and so copied on write, by one reference to the object that owns its elements,
/// `RequestBuffer._requestStorageOwner`; an error is boxed): the non-blocking forms take one per call
/// (``make(_:keeping:)``, from the thread's pool of finished states when it can).
///
/// A property added here must also be set back to its initial value in ``reset(_:keeping:)``, which makes
/// a pooled state as new (every property but ``recorded``, which ``park(_:)`` writes before it is read).
@usableFromInline
final class PendingOperation: @unchecked Sendable {
    @exclusivity(unchecked) @usableFromInline private(set) var operation: MPIOperation
    /// The object that owns the elements of the input MPI reads while the operation is in flight, or `nil`.
    ///
    /// One reference: keeping a whole `ShapedArray` (its shape, its array and its block) cost three
    /// retains and three releases, through a generic subclass's value witnesses (callgrind, 1 rank, 8 B:
    /// `iallreduce(x, into:)` start + wait 1,512 instructions that way, 1,373 keeping nothing).
    @exclusivity(unchecked) private(set) var kept: AnyObject?
    /// Slot 0: the operation's request (a collective's, a send's, a matched receive's); slot 1: sendrecv's send.
    @exclusivity(unchecked) var requests = (swiftmpi_request_null(), swiftmpi_request_null())
    /// The first failing MPI return code of a start or a test, or 0.
    @exclusivity(unchecked) var code: Int32 = 0
    /// The call's flight record entry, closed when the operation completes.
    @exclusivity(unchecked) @usableFromInline var entry: FlightRecordEntry?
    /// What the entry says of the operation (written again if the ring reuses its slot before a wait).
    @exclusivity(unchecked) var recorded = FlightEntry()
    /// Whether a wait for the operation has begun.
    @exclusivity(unchecked) var waited = false
    /// A receive that has not matched yet.
    @exclusivity(unchecked) var receive: ProbedReceive?
    /// A receive's outcome, once its message matched.
    @exclusivity(unchecked) var outcome = ReceiveOutcome()
    /// The expected element count of a receive.
    @exclusivity(unchecked) var expected = 0
    /// Filled with a receive's source, tag and count when it completes.
    @exclusivity(unchecked) @usableFromInline var status: Status?
    /// What gives a receive's expected size, for its errors (`x` or `recvbuf`).
    @exclusivity(unchecked) @usableFromInline var argument: StaticString = "x"
    /// Whether the operation completed and ``error`` holds its outcome.
    @exclusivity(unchecked) @usableFromInline var finished = false
    /// Whether a receive was cancelled before it matched.
    @exclusivity(unchecked) var cancelled = false
    /// Whether a request set took the operation over from its request.
    @exclusivity(unchecked) @usableFromInline var transferred = false
    /// The operation's error, once finished, boxed: an `MPIError?` stored here would cost generic value
    /// witness calls (its tag, its destruction) on every operation, failed or not.
    @exclusivity(unchecked) @usableFromInline var failure: FailureBox?
    /// The operation's error, once finished.
    var error: MPIError? {
        get { failure?.error }
        set { failure = newValue.map(FailureBox.init) }
    }
    /// Whether a receive is queued, unmatched. While it is, `receive`, `outcome` and `requests.0` belong to
    /// whoever advances the queue (under the queue's lock); it is cleared (release) when the receive leaves.
    let queued = Atomic<Bool>(false)
    /// Set by the cancellation of a task awaiting the request (any thread).
    let cancelRequested = Atomic<Bool>(false)
    /// The operation's communicator, while it is in flight on one that the package frees: kept alive, and
    /// counted as in use (``CommunicatorStorage/beginUse(_:)``), so that it is not freed under the operation.
    @exclusivity(unchecked) var communicator: CommunicatorStorage?
    /// The awaiting task, resumed by the progress engine.
    @exclusivity(unchecked) var continuation: UnsafeContinuation<Void, Never>?
    /// An `into:` output of the wrong size: the scratch storage MPI writes instead, and the error the
    /// operation completes with when MPI reports none (see ``completeIntoScratch(byteCount:then:_:)``).
    @exclusivity(unchecked) var wrongSizedOutput: ScratchOutput?

    /// Makes the state of an operation that keeps `kept` (the owner of its input's elements) alive until
    /// it is destroyed, after the operation completed.
    @usableFromInline
    init(_ operation: MPIOperation, keeping kept: AnyObject? = nil) {
        self.operation = operation
        self.kept = kept
    }

    /// Runs `body` on scratch storage of `byteCount` bytes owned by the operation, which then completes with
    /// `error` (an `into:` output of the wrong size: the collective still runs everywhere, as in the blocking form).
    func completeIntoScratch(
        byteCount: Int, then error: MPIError, _ body: (UnsafeMutableRawPointer?) throws(MPIError) -> Void
    ) throws(MPIError) {
        let scratch = ScratchOutput(byteCount: byteCount, error: error)
        wrongSizedOutput = scratch
        try body(scratch.storage)
    }

    // MARK: Starting (called by the raw layer)

    /// Starts a non-blocking MPI call into the request slot `slot`; returns MPI's code.
    ///
    /// Unserialised, `body` is called directly rather than through ``locked(_:)`` (as in ``testSlots()``):
    /// a closure over `self` costs a retain and a release of `self` around the MPI call.
    @usableFromInline @inline(__always)
    func start(slot: Int = 0, _ body: (inout MPI_Request) -> Int32) -> Int32 {
        if _fastPath(!serializesCalls) { return slot == 0 ? body(&requests.0) : body(&requests.1) }
        if slot == 0 { return locked { body(&requests.0) } }
        return locked { body(&requests.1) }
    }

    /// A receive from `MPI_PROC_NULL`, complete at its start: nothing is queued or posted.
    func receivedFromProcNull(_ outcome: ReceiveOutcome, count: Int) {
        self.outcome = outcome
        expected = count
    }

    /// Queues a probed receive, and returns the outcome the core's checks expect of a started receive.
    @usableFromInline
    func startReceive(
        _ buffer: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, elementSize: Int, source: Int32,
        tag: Int32, comm: MPI_Comm
    ) -> ReceiveOutcome {
        receive = ProbedReceive(
            buffer: buffer, count: count, type: type, elementSize: elementSize, source: source, tag: tag, comm: comm)
        expected = count
        queued.store(true, ordering: .releasing)
        ProbedReceives.shared.append(self)
        var started = ReceiveOutcome()
        started.count = count
        return started
    }

    // MARK: Progress

    /// Whether nothing of the operation is left in flight.
    var isDone: Bool {
        !queued.load(ordering: .acquiring) && swiftmpi_request_is_null(requests.0) != 0
            && swiftmpi_request_is_null(requests.1) != 0
    }

    /// Matches the queued receive if its message is there (called by ``ProbedReceives`` under its lock,
    /// in the order receives were started); returns whether the receive left the queue.
    func probeOnce(source: Int32? = nil, tag: Int32? = nil) -> Bool {
        guard let r = receive else { return true }
        if operation == .recv && cancelRequested.load(ordering: .relaxed) {
            cancelled = true
            receive = nil
            return true
        }
        var found: Int32 = 0
        var message = swiftmpi_message_null()
        var status = MPI_Status()
        let code = locked { swiftmpi_improbe(source ?? r.source, tag ?? r.tag, r.comm, &found, &message, &status) }
        if code != 0 {
            outcome.code = code
            receive = nil
            return true
        }
        guard found != 0 else { return false }
        var matched = ReceiveOutcome(code: 0, status: &status, type: r.type)
        if matched.count == r.count {
            // Through the slot's address: a closure that wrote `requests.0` would capture `self`, a retain and
            // a release around the receive.
            matched.code = withUnsafeMutablePointer(to: &requests.0) { slot in
                withMessage(count: r.count, of: r.type, elementSize: r.elementSize) { n, t in
                    _fastPath(!serializesCalls)
                        ? swiftmpi_imrecv(r.buffer, n, t, &message, slot)
                        : locked { swiftmpi_imrecv(r.buffer, n, t, &message, slot) }
                }
            }
        } else {
            matched.code = receiveIntoScratch(&message, status: &status, elementSize: r.elementSize, outcome: &matched,
                                              underQueueLock: true)
        }
        outcome = matched
        receive = nil
        return true
    }

    /// What `MPI_Iprobe` sees for the queued receive, without taking it.
    enum Peek {
        case none
        case message(source: Int32, tag: Int32)
        case failed
    }

    /// Looks at the message the queued receive would match (`MPI_Iprobe`), under the queue's lock.
    func peek() -> Peek {
        guard let r = receive else { return .failed }
        var found: Int32 = 0
        var status = MPI_Status()
        let code = locked { swiftmpi_iprobe(r.source, r.tag, r.comm, &found, &status) }
        guard code == 0 else { return .failed }
        guard found != 0 else { return .none }
        return .message(source: swiftmpi_status_source(&status), tag: swiftmpi_status_tag(&status))
    }

    /// Tests the request slots once (`MPI_Test`); a failing test ends the slot with its code.
    ///
    /// Unserialised, MPI is called directly rather than through ``locked(_:)``: a closure over `self`
    /// that writes one of its properties costs a retain and a release of `self` around the MPI call.
    func testSlots() {
        var done: Int32 = 0
        if swiftmpi_request_is_null(requests.0) == 0 {
            let code =
                _fastPath(!serializesCalls)
                ? swiftmpi_test(&requests.0, &done) : locked { swiftmpi_test(&requests.0, &done) }
            if code != 0 { fail(code, slot: 0) }
        }
        if swiftmpi_request_is_null(requests.1) == 0 {
            let code =
                _fastPath(!serializesCalls)
                ? swiftmpi_test(&requests.1, &done) : locked { swiftmpi_test(&requests.1, &done) }
            if code != 0 { fail(code, slot: 1) }
        }
    }

    /// Records a failed test of a slot and stops testing it.
    func fail(_ code: Int32, slot: Int) {
        if self.code == 0 { self.code = code }
        if slot == 0 { requests.0 = swiftmpi_request_null() } else { requests.1 = swiftmpi_request_null() }
    }

    /// Polls once: advances the queued receives (this one among them), then tests this operation's
    /// requests. Returns whether the operation is done.
    func pollOnce() -> Bool {
        ProbedReceives.advanceIfQueued()
        if queued.load(ordering: .acquiring) { return false }
        testSlots()
        return isDone
    }

    /// Waits on the calling thread until the operation is done, then finishes it.
    func waitHere() {
        guard !finished else { return }
        // Admitted as a call in progress, as the blocking forms are (`RuntimeState.isActive` would also
        // call MPI_Finalized, about 120 instructions).
        guard RuntimeState.enterCall() else { return finishFinalized() }
        defer { RuntimeState.leaveCall() }
        waitBegins()
        var polls = 0
        while isReceive || serializesCalls || ProbedReceives.isNotEmpty {
            if pollOnce() { return finish() }
            // Finalisation on another thread waits for this call: a polled wait ends it with `finalized`.
            if _slowPath(!RuntimeState.phaseIsInitialized()) { return finishFinalized() }
            pollPause(&polls)
        }
        // Nothing to match and nothing queued: MPI_Wait, like the C caller.
        if swiftmpi_request_is_null(requests.0) == 0 {
            let code = swiftmpi_wait(&requests.0)
            if code != 0 { fail(code, slot: 0) }
        }
        if swiftmpi_request_is_null(requests.1) == 0 {
            let code = swiftmpi_wait(&requests.1)
            if code != 0 { fail(code, slot: 1) }
        }
        finish()
    }

    // MARK: The flight record entry

    /// Keeps the started operation's entry, parked: the watchdog ignores it until a wait begins; and
    /// what it says of `call`, to write it again if the ring gives the slot to a later call meanwhile.
    ///
    /// Also takes over the call's use of an owned communicator (``CommunicatorStorage/beginUse(_:)``), and
    /// keeps the communicator until the operation completes: ``finish()`` ends the use.
    @usableFromInline
    func park(_ entry: FlightRecordEntry?, _ call: Call) {
        if let owned = call.comm.owned { communicator = owned.takeUnretainedValue() }
        guard let entry else { return }
        entry.park()
        recorded = FlightEntry(call, sequence: entry.slot.pointee.sequence.load(ordering: .relaxed))
        recorded.nonBlocking = true
        self.entry = entry
    }

    /// A wait for the operation begins: the entry's clock restarts and the watchdog watches it
    /// (written again if the ring reused its slot meanwhile).
    func waitBegins() {
        guard !waited, !finished, let entry else { return }
        waited = true
        if !entry.restart() { self.entry = recordAgain(recorded) }
    }

    /// A wait that began for the operation returned before it completed (``RequestSet/waitAny()``, which
    /// handed out another request): the entry is parked again, so that the watchdog does not take the
    /// program's work until its next wait for a call stuck in MPI.
    func waitEnds() {
        guard waited, !finished else { return }
        waited = false
        entry?.park()
    }

    /// Closes the entry, if it is still this operation's.
    private func closeEntry(failed: Bool) {
        recordEnd(entry, failed: failed)
        entry = nil
    }

    /// Ends the operation's use of its owned communicator, and lets the communicator go.
    @inline(never)
    private func releaseCommunicator() {
        guard let communicator else { return }
        self.communicator = nil
        communicator.endUse()
    }

    /// Completes a done operation once: its error (or a receive's status), then the end of its flight record
    /// entry and of its use of the communicator.
    func finish() {
        guard !finished else { return }
        finished = true
        if cancelled {
            error = .cancelled(operation: operation.name)
        } else if isReceive {
            if outcome.code == 0 && code != 0 { outcome.code = code }
            do throws(MPIError) {
                try finishReceive(outcome, expected: expected, operation, argument: argument, status: status)
            } catch {
                self.error = error
            }
        } else if code != 0 {
            error = makeMPIError(code, operation.name)
        } else if let wrongSizedOutput {
            error = wrongSizedOutput.error
        }
        closeEntry(failed: failure != nil)
        if _slowPath(communicator != nil) { releaseCommunicator() }
    }

    /// Asks for the operation's cancellation (a task cancelled while it awaits): a queued receive that
    /// has not matched leaves the queue at the next poll (``probeOnce(source:tag:)``). Counted once, however
    /// often a cancelled task's polls ask.
    func requestCancellation() {
        guard !cancelRequested.exchange(true, ordering: .relaxed) else { return }
        ProbedReceives.cancellationsRequested.wrappingAdd(1, ordering: .releasing)
    }

    /// Ends an operation whose MPI has been finalised, without calling MPI.
    func finishFinalized() {
        finished = true
        if communicator != nil { releaseCommunicator() }
        receive = nil
        error = .finalized(operation: operation.name)
        closeEntry(failed: true)
    }

    /// Whether the operation receives (recv, sendrecv).
    var isReceive: Bool { operation == .recv || operation == .sendrecv }

    /// The outcome after ``finish()``: throws the operation's error.
    @inlinable
    func result() throws(MPIError) {
        if let failure { throw failure.error }
    }

    /// Whether a request destroyed now was dropped before its operation completed (which the request
    /// then hands to ``droppedInFlight(keeping:)``). One inlined test.
    @inlinable @inline(__always)
    var isDroppedInFlight: Bool { _slowPath(!finished && !transferred) }

    /// Called when a request is destroyed before its operation completed: waits for it, and says so in the
    /// debug log. `output`, an ``OrphanedOutput`` of what MPI writes for the operation (the request's
    /// output), is kept alive with the operation if it must be left to MPI's main thread.
    ///
    /// Below `MPI_THREAD_SERIALIZED`, on another thread than MPI's main thread, MPI may not be called
    /// to complete it: the operation and `output` then go to ``orphanedRequests``, which keeps what MPI
    /// reads and writes alive until MPI's main thread, polling them at its calls of the package, sees the
    /// operation complete (``pollOrphanedRequests()``); the request's error,
    /// ``MPIError/threadLevel(operation:provided:reason:)`` when a completion on that thread threw it, has
    /// been thrown already.
    @usableFromInline @inline(never)
    func droppedInFlight(keeping output: AnyObject) {
        guard !finished, !transferred else { return }
        do throws(MPIError) {
            try admitCallingThread(operation.name)
        } catch {
            let orphan = Orphan(operation: self, output: output)
            orphanedRequests.withLock { $0.append(orphan) }
            if diagnostics.debugLog {
                debugPrintLine("r\(worldRank) | \(operation.name) request dropped before completion on a thread that "
                    + "may not call MPI: MPI's main thread polls it at its calls until it completes (\(error))")
            }
            return
        }
        // A request can be dropped late (at exit, after MPI was finalised outside the package): ask MPI
        // itself here, off the hot path, before calling it.
        guard RuntimeState.isActive else { return finishFinalized() }
        if diagnostics.debugLog {
            debugPrintLine("r\(worldRank) | \(operation.name) request dropped before completion: waiting for it")
        }
        waitHere()
    }
}

/// The output of a request left to MPI's main thread (``PendingOperation/droppedInFlight(keeping:)``), kept
/// alive until the operation completes: the result that MPI writes, or the caller's `into:` output.
@usableFromInline
final class OrphanedOutput<Output> {
    let output: Output
    @usableFromInline init(_ output: Output) { self.output = output }
}

/// Requests dropped in flight on threads that may not call MPI (below `MPI_THREAD_SERIALIZED`, on another
/// thread than MPI's main thread), with their outputs: MPI's main thread polls them at each of its calls
/// of the package until they complete (``pollOrphanedRequests()``, from ``checkCallingThread(_:)``).
let orphanedRequests = Mutex<[Orphan]>([])

/// A request in ``orphanedRequests``: its operation, and its output, only kept alive (never read), so
/// that handing it to MPI's main thread is safe.
struct Orphan: @unchecked Sendable {
    let operation: PendingOperation
    let output: AnyObject
}

/// Polls the requests that other threads left in flight (``orphanedRequests``) once each, on MPI's main
/// thread below `MPI_THREAD_SERIALIZED`, and releases those that completed, with what MPI used for them;
/// their results and errors are dropped. A poll, not a wait: the call that polls may be what the
/// operation waits for (a send that the orphaned receive's partner answers, say).
func pollOrphanedRequests() {
    var orphans = orphanedRequests.withLock { orphans in
        let taken = orphans
        orphans = []
        return taken
    }
    guard !orphans.isEmpty else { return }
    orphans.removeAll { orphan in
        let operation = orphan.operation
        if !operation.finished {
            guard RuntimeState.enterCall() else {
                operation.finishFinalized()
                return true
            }
            defer { RuntimeState.leaveCall() }
            guard operation.pollOnce() else { return false }
            operation.finish()
        }
        if diagnostics.debugLog {
            debugPrintLine("r\(worldRank) | \(operation.operation.name) request left by another thread: completed")
        }
        return true
    }
    if !orphans.isEmpty { orphanedRequests.withLock { $0.append(contentsOf: orphans) } }
}

// MARK: - The thread's pool of finished states
//
// Allocating a state object and destroying it cost about 320 instructions per
// request (callgrind, `iallreduce(x, into:)` start + wait at 8 B: `malloc`,
// `free`, the runtime's allocation and deallocation, the deinitialiser's
// releases), more than the start of `MPI_Iallreduce` itself. A finished request's
// state goes back to a pool of its thread (up to ``StatePool/capacity``), and the
// next request started on that thread takes it from there, reset. A pooled state
// is reused only when nobody else still holds it: the progress engine and a
// request set keep their references for a while after the request completed,
// and such a state is released instead.

extension PendingOperation {
    /// The state of a new request for `operation`, keeping `kept` alive: a finished one from the calling
    /// thread's pool that nobody else holds, else a new one.
    @usableFromInline
    static func make(_ operation: MPIOperation, keeping kept: consuming AnyObject? = nil) -> PendingOperation {
        if let state = pooledState() {
            state.reset(operation, keeping: kept)
            return state
        }
        return PendingOperation(operation, keeping: kept)
    }

    /// A finished state from the calling thread's pool that nobody else holds, or `nil`.
    @inline(__always)
    private static func pooledState() -> PendingOperation? {
        guard let pool = StatePool.ofThisThread() else { return nil }
        while let raw = pool.pop() {
            var reused = Unmanaged<PendingOperation>.fromOpaque(raw).takeRetainedValue()
            if _fastPath(isKnownUniquelyReferenced(&reused)) {
                // Whoever held it last released it (release ordering); what it wrote is seen here.
                atomicMemoryFence(ordering: .acquiring)
                // Moved out of the variable, so that no copy (retain and release) is made for the reset.
                return consume reused
            }
            // Still held elsewhere (by the progress engine's last poll, say): the pool's reference is
            // released here, and the state is freed by its last holder.
        }
        return nil
    }

    /// Takes over a destroyed request's reference to its state: gives the state to the calling thread's
    /// pool if the operation finished and no request set took it over, else releases it.
    ///
    /// Never inlined: ``Request``'s `deinit` calls it, and stays small enough that client modules
    /// specialise it (inlined here, the `deinit` ran unspecialised, with a generic metadata lookup).
    @usableFromInline @inline(never)
    static func recycle(_ state: Unmanaged<PendingOperation>) {
        let poolable = state._withUnsafeGuaranteedRef { (pending) -> Bool in
            guard pending.finished, !pending.transferred else { return false }
            // A pooled state keeps nothing alive (a request set or the engine that may still hold it never
            // reads `kept`).
            pending.kept = nil
            return true
        }
        if poolable {
            let pool = StatePool.ofThisThread() ?? StatePool.make()
            if pool.count < StatePool.capacity { return pool.push(state.toOpaque()) }
        }
        state.release()
    }

    /// Makes a finished state, unique to the caller, as new: the state of a request for `operation`. Sets
    /// every stored property to its initial value, except ``recorded`` (written by ``park(_:)`` before
    /// anything reads it).
    ///
    /// Inlined (a call costs a retain and a release of `self` around it), and the references that are
    /// usually `nil` are tested before they are cleared (clearing one is a call into the runtime).
    @inline(__always)
    private func reset(_ operation: MPIOperation, keeping kept: consuming AnyObject?) {
        self.operation = operation
        self.kept = consume kept
        requests = (swiftmpi_request_null(), swiftmpi_request_null())
        code = 0
        entry = nil
        waited = false
        receive = nil
        outcome = ReceiveOutcome()
        expected = 0
        if status != nil { status = nil }
        argument = "x"
        finished = false
        cancelled = false
        transferred = false
        if failure != nil { failure = nil }
        queued.store(false, ordering: .relaxed)
        cancelRequested.store(false, ordering: .relaxed)
        continuation = nil
        if wrongSizedOutput != nil { wrongSizedOutput = nil }
    }
}

/// The key of the threads' ``StatePool``s, or `nil` before it is made: used when a thread makes its pool
/// (a thread finds its pool through ``StatePool/slotOfThisThread()``), and by its destructor.
private let statePoolKey = Mutex<pthread_key_t?>(nil)

/// A thread's finished request states: a count and up to ``capacity`` retained ``PendingOperation``s, in
/// memory of the thread's own, released when the thread exits.
///
/// The thread finds its pool in a thread-local variable of the C shim (``slotOfThisThread()``: a call and a
/// load, where `pthread_getspecific` is a call of 17 instructions, two per request); a `pthread` key, whose
/// value is the same pool, releases it when the thread exits, and clears the variable first.
struct StatePool {
    /// How many finished states a thread keeps.
    static let capacity = 8

    /// Word 0: the count; words 1 to ``capacity``: the states.
    let words: UnsafeMutablePointer<UInt>

    /// The calling thread's pool, or `nil` before it pooled anything.
    @inline(__always)
    static func ofThisThread() -> StatePool? {
        guard let raw = slotOfThisThread().pointee else { return nil }
        return StatePool(words: raw.assumingMemoryBound(to: UInt.self))
    }

    /// The calling thread's variable that holds its pool (`swiftmpi_state_pool_slot`).
    ///
    /// Never inlined: the C shim's function has a thread-local variable of its own in each object file
    /// that calls it, so it is called from this function only.
    @inline(never)
    static func slotOfThisThread() -> UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        swiftmpi_state_pool_slot()
    }

    /// Makes the calling thread's pool (and the key of the threads' pools, the first time).
    static func make() -> StatePool {
        let words = UnsafeMutablePointer<UInt>.allocate(capacity: capacity + 1)
        words.initialize(repeating: 0, count: capacity + 1)
        pthread_setspecific(makeKey(), words)
        slotOfThisThread().pointee = UnsafeMutableRawPointer(words)
        return StatePool(words: words)
    }

    /// The key of the threads' pools, made once; its destructor releases an exiting thread's states.
    private static func makeKey() -> pthread_key_t {
        statePoolKey.withLock { made in
            if let made { return made }
            var key = pthread_key_t()
            let code = pthread_key_create(&key) { raw in
                guard let raw else { return }
                // The exiting thread's own variable: a request destroyed by a later destructor makes a new pool.
                StatePool.slotOfThisThread().pointee = nil
                let pool = StatePool(words: raw.assumingMemoryBound(to: UInt.self))
                while let state = pool.pop() { Unmanaged<PendingOperation>.fromOpaque(state).release() }
                pool.words.deallocate()
            }
            precondition(code == 0, "swift-mpi: no pthread key for the request state pools (\(code))")
            made = key
            return key
        }
    }

    var count: Int { Int(words[0]) }

    /// Takes out the state pooled last (with the pool's reference), or `nil`.
    @inline(__always)
    func pop() -> UnsafeMutableRawPointer? {
        let n = Int(words[0])
        guard n > 0 else { return nil }
        words[0] = UInt(n - 1)
        return UnsafeMutableRawPointer(bitPattern: words[n])
    }

    /// Puts in a retained state (below capacity).
    @inline(__always)
    func push(_ state: UnsafeMutableRawPointer) {
        let n = Int(words[0]) + 1
        words[n] = UInt(bitPattern: state)
        words[0] = UInt(n)
    }
}

/// A pending operation as the raw layer's closures capture it: unretained, a trivial value.
///
/// The raw calls start the non-blocking MPI call from inside a closure (the large-count split,
/// ``withMessage(count:of:elementSize:_:)``); a closure that captures the ``PendingOperation`` itself
/// costs a retain and a release of it around the MPI call. The caller (the operation's core) holds the
/// operation for the whole call, so an unretained reference is safe there.
struct UnretainedPending {
    let operation: Unmanaged<PendingOperation>

    /// `pending`, unretained, or `nil`.
    @inline(__always)
    static func from(_ pending: PendingOperation?) -> UnretainedPending? {
        guard let pending else { return nil }
        return UnretainedPending(operation: .passUnretained(pending))
    }

    /// ``PendingOperation/start(slot:_:)``.
    @inline(__always)
    func start(slot: Int = 0, _ body: (inout MPI_Request) -> Int32) -> Int32 {
        operation._withUnsafeGuaranteedRef { $0.start(slot: slot, body) }
    }
}

/// The scratch storage of an `into:` output of the wrong size, and the error its operation completes
/// with (see ``PendingOperation/wrongSizedOutput``). Freed with the operation, which is done by then: a
/// request dropped in flight waits for it first.
final class ScratchOutput {
    let storage: UnsafeMutableRawPointer
    let error: MPIError

    init(byteCount: Int, error: MPIError) {
        storage = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(1, byteCount), alignment: 64)
        self.error = error
    }

    deinit { storage.deallocate() }
}

/// A failed operation's error, boxed (see ``PendingOperation/failure``).
@usableFromInline
final class FailureBox {
    @usableFromInline let error: MPIError

    init(_ error: MPIError) {
        self.error = error
    }
}

/// How many receives ``ProbedReceives`` holds, written under its lock: a global, which the compiler
/// initialises statically, so that the blocking calls' check of it is one load.
private let queuedReceiveCount = Atomic<Int>(0)

/// The receives that have not matched yet, in the order they were started.
///
/// Whoever polls requests advances the whole queue in order, so that two
/// receives that can match the same message match in the order they were
/// started, as MPI's posted receives do.
final class ProbedReceives: @unchecked Sendable {
    static let shared = ProbedReceives()

    private let queue = Mutex<[PendingOperation]>([])

    /// Cancellations asked for (``PendingOperation/requestCancellation()``), and how many of them the
    /// queue had seen when ``matchWaitingMessages(_:)`` last looked for cancelled receives (under the
    /// queue's lock): it looks only when there are new ones.
    static let cancellationsRequested = Atomic<Int>(0)
    private static let cancellationsSeen = Atomic<Int>(0)

    /// The communicator of every queued receive while they share one, else `nil` (under the queue's
    /// lock): the first receive of an empty queue sets it, one on another communicator clears it until
    /// the queue is empty again. A queued receive keeps its communicator, so that MPI can be asked about
    /// it while any receive is queued. Spares ``matchWaitingMessages(_:)`` a visit of every receive.
    private nonisolated(unsafe) static var sharedCommunicator: MPI_Comm? = nil

    /// Communicators freed while a queued receive still used them, freed in MPI when none does
    /// (``freeCommunicator(_:)``), and whether there are any (a relaxed read in ``advance()``).
    private let communicatorsToFree = Mutex<[FreedCommunicator]>([])
    private let hasCommunicatorsToFree = Atomic<Bool>(false)

    /// A communicator handle in ``communicatorsToFree`` (a plain handle, used under the queue's lock).
    private struct FreedCommunicator: @unchecked Sendable {
        var handle: MPI_Comm
    }

    /// Frees a communicator's handle (`MPI_Comm_free`), or, while a queued receive still uses it, takes it
    /// and frees it when the last such receive leaves the queue; returns MPI's code (0 when put off).
    ///
    /// MPI lets a program free a communicator with a receive pending on it, and the receive completes. A
    /// queued receive is not posted in MPI, but probed by the package on its communicator's handle at each
    /// advance: freed at once, that handle would be probed after `MPI_Comm_free` (an error, or, once MPI
    /// reuses the handle, another communicator's messages).
    func freeCommunicator(_ handle: inout MPI_Comm) -> Int32 {
        let target = handle
        let putOff = queue.withLock { queue -> Bool in
            guard queue.contains(where: { $0.receive?.comm == target }) else { return false }
            communicatorsToFree.withLock { $0.append(FreedCommunicator(handle: target)) }
            hasCommunicatorsToFree.store(true, ordering: .relaxed)
            return true
        }
        guard !putOff else {
            handle = swiftmpi_comm_null()
            return 0
        }
        return locked { swiftmpi_comm_free(&handle) }
    }

    /// Frees the handles of ``communicatorsToFree`` that no queued receive uses any more.
    private func freeUnusedCommunicators() {
        queue.withLock { queue in
            communicatorsToFree.withLock { freed in
                freed.removeAll { entry in
                    guard !queue.contains(where: { $0.receive?.comm == entry.handle }) else { return false }
                    var handle = entry.handle
                    RuntimeState.whileActive { _ = locked { swiftmpi_comm_free(&handle) } }
                    return true
                }
                hasCommunicatorsToFree.store(!freed.isEmpty, ordering: .relaxed)
            }
        }
    }

    /// Whether any receive is queued (for the fast paths: one load, with no lazy initialisation of
    /// ``shared``). Sequentially consistent (a plain load on x86-64): a call checks the queue after it
    /// counted itself in progress, and ``append(_:)`` checks the calls in progress after it queued,
    /// so that at least one of the two sees the other (else a call could wait inside MPI while a
    /// receive queued meanwhile waited for nobody to advance it).
    static var isNotEmpty: Bool { queuedReceiveCount.load(ordering: .sequentiallyConsistent) != 0 }

    /// How many receives are queued (a relaxed read).
    static var queuedCount: Int { queuedReceiveCount.load(ordering: .relaxed) }

    /// Queues a receive (within its start, a call in progress). When another call is in progress too, on
    /// another thread, that call may already wait inside MPI, having found the queue empty when it began,
    /// and would not advance it: then the progress engine advances the queue while calls are in progress,
    /// as any thread's MPI call progresses a receive posted in MPI (else a partner's blocking send to this
    /// receive, which the call in progress waits for, would never match it). Only at
    /// `MPI_THREAD_MULTIPLE`: at `MPI_THREAD_SERIALIZED` every blocking call polls, advancing the queue,
    /// and below it no other thread may call MPI.
    func append(_ operation: PendingOperation) {
        queue.withLock { queue in
            if queue.isEmpty {
                Self.sharedCommunicator = operation.receive?.comm
            } else if let shared = Self.sharedCommunicator, operation.receive?.comm != shared {
                Self.sharedCommunicator = nil
            }
            queue.append(operation)
            queuedReceiveCount.store(queue.count, ordering: .sequentiallyConsistent)
        }
        // The other side of the call's increment of the count and its check of the queue (see mayWaitInMPI).
        if callMode == .direct && _slowPath(RuntimeState.callsInProgress.load(ordering: .sequentiallyConsistent) > 1) {
            ProgressEngine.shared.advanceQueuedReceivesWhileCallsRun()
        }
    }

    /// Probes each queued receive once, oldest first, and takes the matched (and cancelled) ones off the
    /// queue.
    ///
    /// A message must go to the oldest receive that matches it, as MPI matches
    /// posted receives. A message can arrive between the probe of an older
    /// receive and that of a newer one that overlaps it (the same communicator,
    /// and sources and tags that can be equal), so a newer receive behind an
    /// unmatched overlapping one first looks at its message with `MPI_Iprobe`:
    /// if an older unmatched receive matches that message too, the pass starts
    /// again from the oldest (which now finds it); else the newer receive takes
    /// exactly that message (its source and tag).
    func advance() {
        // The helpers are static, so that the closure does not capture (retain and release) `self`.
        queue.withLock { queue in Self.advance(&queue) }
        if _slowPath(hasCommunicatorsToFree.load(ordering: .relaxed)) { freeUnusedCommunicators() }
    }

    /// ``advance()``, under the lock.
    private static func advance(_ queue: inout [PendingOperation]) {
        if queue.count == 1 {
            // Unretained: the queue holds the operation until `removeLast`.
            let leaves = Unmanaged.passUnretained(queue[0])._withUnsafeGuaranteedRef { operation in
                guard operation.probeOnce() else { return false }
                operation.queued.store(false, ordering: .releasing)
                return true
            }
            // Not `removeAll(keepingCapacity:)`, which goes through the generic `replaceSubrange`.
            if leaves { queue.removeLast() }
        } else if queue.count > UnmatchedReceives.scanned {
            if !matchWaitingMessages(&queue) { while !pass(&queue) {} }
        } else if !queue.isEmpty {
            while !pass(&queue) {}
        }
        queuedReceiveCount.store(queue.count, ordering: .relaxed)
    }

    /// Advances the queue if a receive is queued: one poll of the receives, for every call that polls
    /// (waits, the progress engine, and the polled blocking calls: see ``mayWaitInMPI``).
    @inline(__always)
    static func advanceIfQueued() {
        if isNotEmpty { shared.advance() }
    }

    /// Probes once, without waiting, for a message of `source` and `tag` on `comm` for a blocking receive
    /// or a probe, behind the queued receives. Returns `nil` when no receive is queued (after advancing the
    /// queue): the caller can then wait in MPI (`MPI_Mprobe`, `MPI_Probe`).
    ///
    /// Advances the queue first. A receive started after the queued ones must leave them a message that
    /// both can match, as a receive posted in MPI after them would: when a queued receive still waiting
    /// overlaps `source` and `tag`, the message is looked at first (`MPI_Iprobe`), and one that such a
    /// receive matches too is not found (the next advance gives it to that receive). Else the message is
    /// found and, with `take`, taken (`MPI_Improbe` of exactly its source and tag, under the queue's lock,
    /// so that no queued receive is matched in between).
    func probeBehindQueued(
        source: Int32, tag: Int32, comm: MPI_Comm, take: Bool, message: inout MPI_Message, status: inout MPI_Status
    ) -> (code: Int32, found: Bool)? {
        defer { if _slowPath(hasCommunicatorsToFree.load(ordering: .relaxed)) { freeUnusedCommunicators() } }
        return queue.withLock { queue -> (code: Int32, found: Bool)? in
            Self.advance(&queue)
            guard !queue.isEmpty else { return nil }
            var found: Int32 = 0
            guard queue.contains(where: { $0.receive?.overlaps(source: source, tag: tag, comm: comm) ?? false }) else {
                let code = take
                    ? locked { swiftmpi_improbe(source, tag, comm, &found, &message, &status) }
                    : locked { swiftmpi_iprobe(source, tag, comm, &found, &status) }
                return (code, code == 0 && found != 0)
            }
            var seen = MPI_Status()
            let code = locked { swiftmpi_iprobe(source, tag, comm, &found, &seen) }
            guard code == 0, found != 0 else { return (code, false) }
            let (from, with) = (swiftmpi_status_source(&seen), swiftmpi_status_tag(&seen))
            if queue.contains(where: { $0.receive?.matches(source: from, tag: with, comm: comm) ?? false }) {
                return (0, false)
            }
            guard take else {
                status = seen
                return (0, true)
            }
            let taken = locked { swiftmpi_improbe(from, with, comm, &found, &message, &status) }
            return (taken, taken == 0 && found != 0)
        }
    }

    /// Gives the messages that wait on the queued receives' communicators to the receives, message by
    /// message, for a long queue: asks each communicator for a waiting message of any source and tag
    /// (`MPI_Iprobe`), and gives it to the oldest queued receive that matches it, as MPI gives a message
    /// to the oldest posted receive that matches it; until no message waits. A poll then costs one call
    /// per communicator, and a message one scan of the queue, where probing every receive (``pass(_:)``)
    /// cost a call per receive: 2,000 receives of distinct tags, each matched by a poll of its own, took
    /// 36 s in a debug build that way. Returns false when a waiting message matches no queued receive (it
    /// is for a blocking receive or a probe still to come, and may hide messages behind it): the caller
    /// then makes a pass; so it does after 16 messages (``UnmatchedReceives/scanned``), since a pass takes
    /// a burst of waiting messages with one probe per receive, where each message here costs a scan of the
    /// queue and a removal (20,000 waiting messages took 11 s this way, 1.6 s by a pass). Receives whose
    /// cancellation was asked for leave first (looked for only after a new request for a cancellation, so
    /// that a poll that finds nothing does not visit every receive).
    private static func matchWaitingMessages(_ queue: inout [PendingOperation]) -> Bool {
        let cancellations = cancellationsRequested.load(ordering: .acquiring)
        if cancellations != cancellationsSeen.load(ordering: .relaxed) {
            cancellationsSeen.store(cancellations, ordering: .relaxed)
            queue.removeAll { operation in
                guard operation.receive == nil
                        || (operation.operation == .recv && operation.cancelRequested.load(ordering: .relaxed)),
                      operation.probeOnce() else { return false }
                operation.queued.store(false, ordering: .releasing)
                return true
            }
        }
        var communicators: [MPI_Comm] = []
        if let shared = sharedCommunicator {
            communicators.append(shared)
        } else {
            var seen = Set<Int>()
            for operation in queue {
                if let comm = operation.receive?.comm, seen.insert(swiftmpi_comm_key(comm)).inserted {
                    communicators.append(comm)
                }
            }
        }
        var matched = 0
        for comm in communicators {
            while true {
                var (found, status): (Int32, MPI_Status) = (0, MPI_Status())
                let code = locked { swiftmpi_iprobe(swiftmpi_any_source(), swiftmpi_any_tag(), comm, &found, &status) }
                guard code == 0 else { return false }  // the pass probes each receive, and reports a failure
                guard found != 0 else { break }
                // A burst of waiting messages: a pass takes them all with one probe per receive, where
                // each message here costs a scan of the queue and a removal from it.
                guard matched < UnmatchedReceives.scanned else { return false }
                matched += 1
                let (source, tag) = (swiftmpi_status_source(&status), swiftmpi_status_tag(&status))
                guard let oldest = queue.firstIndex(where: {
                    $0.receive?.matches(source: source, tag: tag, comm: comm) ?? false
                }) else { return false }
                let operation = queue[oldest]
                // Not found: another thread's call outside the package took the message; the next poll goes on.
                guard operation.probeOnce(source: source, tag: tag) else { break }
                operation.queued.store(false, ordering: .releasing)
                queue.remove(at: oldest)
                if queue.isEmpty { return true }
            }
        }
        return true
    }

    /// One pass over the queue; returns false when the pass must start again.
    ///
    /// A receive that an older unmatched one subsumes is not probed: a message it could match would go
    /// to the older one, which the next pass probes first. One that an older unmatched receive only
    /// overlaps looks at its message first (``PendingOperation/peek()``), and the pass starts again when
    /// an older unmatched receive matches that message too.
    private static func pass(_ queue: inout [PendingOperation]) -> Bool {
        var unmatched = UnmatchedReceives()
        var kept = 0
        var complete = true
        var i = 0
        while i < queue.count {
            let operation = queue[i]
            var leaves = false
            if let receive = operation.receive,
               !(operation.operation == .recv && operation.cancelRequested.load(ordering: .relaxed)) {
                if unmatched.subsumes(receive) {
                    leaves = false
                } else if unmatched.overlaps(receive) {
                    switch operation.peek() {
                    case .none:
                        leaves = false
                    case .message(let source, let tag):
                        if unmatched.matches(source: source, tag: tag, comm: receive.comm) {
                            complete = false
                            break
                        }
                        leaves = operation.probeOnce(source: source, tag: tag)
                    case .failed:
                        leaves = operation.probeOnce()
                    }
                    if !complete { break }
                } else {
                    leaves = operation.probeOnce()
                }
            } else {
                leaves = operation.probeOnce()
            }
            if leaves {
                operation.queued.store(false, ordering: .releasing)
            } else {
                if let receive = operation.receive { unmatched.add(receive) }
                queue[kept] = operation
                kept += 1
            }
            i += 1
        }
        // On a restart, the receives from `i` on stay queued, in order.
        while i < queue.count {
            queue[kept] = queue[i]
            kept += 1
            i += 1
        }
        queue.removeLast(queue.count - kept)
        return complete
    }
}
