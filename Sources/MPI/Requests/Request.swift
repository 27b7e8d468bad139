// Request: an operation in flight, completed exactly once.

/// An operation that a non-blocking form started, such as ``iallreduce(_:op:comm:)-(ShapedArray<T>,_,_)``
/// or ``isend(_:dest:tag:comm:)-(ShapedArray<T>,_,_,_)``.
///
/// A request is non-copyable and is completed exactly once: ``wait()`` and
/// ``value()`` consume it, and ``test()`` either consumes it and gives the result
/// or gives the request back. A request dropped before it completed waits for
/// its operation when it is destroyed (and says so in the debug log), so that no
/// operation is left in flight with nobody to complete it; below
/// `MPI_THREAD_SERIALIZED`, on a thread that may not call MPI, it is left to MPI's
/// main thread instead, with what MPI uses for it (see <doc:Requests#Thread-level>).
///
/// The request owns what MPI uses while the operation is in flight: it keeps the
/// input alive, and because ``ShapedArray`` and `Array` copy on write, changing
/// the caller's variable after the start copies it instead of changing what MPI
/// reads. The result is handed out only on completion: a new array, or the
/// output that a non-blocking `into:` form (such as ``iallreduce(_:into:op:comm:)``)
/// took from the caller, owned by the request while MPI writes it. It completes with the
/// same result, `Status` and errors as the blocking form; argument errors are
/// thrown by the non-blocking form itself, before anything is started.
///
/// See <doc:Requests> for waiting on many requests, `async`/`await`, the
/// progress engine, cancellation and the thread level.
public struct Request<Value>: ~Copyable {
    /// The operation's state, with the request's reference to it: `Unmanaged`, so that the `deinit` can
    /// hand that reference over to the thread's pool of states (``PendingOperation/recycle(_:)``); a
    /// strong property cannot be given up by a `deinit`, so pooling the state cost a retain for the pool
    /// and then the release of the property.
    @usableFromInline let state: Unmanaged<PendingOperation>
    #if DEBUG
    /// Always `nil`, in debug builds only: makes the request non-trivial whatever `Value` is, so that
    /// its `deinit` runs.
    ///
    /// Swift 6.3 treats a generic non-copyable struct whose stored properties are all trivial for the
    /// argument at hand as trivial in a client module built at `-Onone`, and skips its `deinit` when
    /// such a value is dropped: `Request<Void>` (`isend`, `ibarrier`) held only `Unmanaged` and `Void?`,
    /// so in debug builds a dropped request was neither waited for nor recycled (its state and input
    /// leaked, and a send dropped in flight was never completed). Reproduced without MPI, two modules:
    /// such a struct dropped as `<Void>` at `-Onone` skips its `deinit`; as `<[Int]>`, with this
    /// property, or at `-O`, it runs. Not in release builds: there any such field (this one, or a
    /// non-copyable one with an empty `deinit`) stopped clients from specialising the request's
    /// `deinit`, which then looked up generic metadata on every request (callgrind: +425 instructions
    /// per `iallreduce` start + wait).
    @usableFromInline let anchor: AnyObject? = nil
    #endif
    /// The result, taken out by the completion. An optional so that completing moves it out of the
    /// request: a non-copyable type with a `deinit` cannot give up a stored property, so a plain
    /// property would be copied out (retained) and then released by the `deinit`.
    @usableFromInline var output: Value?

    @inlinable
    init(_ pending: consuming PendingOperation, output: Value) {
        self.state = .passRetained(pending)
        self.output = output
    }

    /// The operation's state (a new reference).
    @inlinable
    var pending: PendingOperation { state.takeUnretainedValue() }

    /// Moves the result out (once, on completion).
    @inlinable
    mutating func takeOutput() -> Value {
        output.take().unsafelyUnwrapped
    }

    /// The operation this request completes, for example ``MPIOperation/allreduce``.
    public var operation: MPIOperation { state._withUnsafeGuaranteedRef { $0.operation } }

    /// Waits on the calling thread until the operation completes, and returns its result.
    ///
    /// The corresponding C function is `MPI_Wait`.
    ///
    /// - Returns: The result the blocking form returns (`Void` for send and barrier).
    /// - Throws: The errors the blocking form throws when it completes; ``MPIError/finalized(operation:)``
    ///   when MPI was finalised first; ``MPIError/threadLevel(operation:provided:reason:)`` below
    ///   `MPI_THREAD_SERIALIZED` on another thread than MPI's main thread, which then completes the
    ///   operation at its own calls and drops its result (see <doc:Requests#Thread-level>).
    @inlinable
    public consuming func wait() throws(MPIError) -> Value {
        if let error = state._withUnsafeGuaranteedRef({ waitForPending($0) }) { throw error }
        return takeOutput()
    }

    /// Polls the operation once without waiting.
    ///
    /// The corresponding C function is `MPI_Test`.
    ///
    /// - Returns: ``RequestTest/completed(_:)`` with the result when the operation has completed (the
    ///   request is used up), else ``RequestTest/pending(_:)`` with the request to test or wait for again.
    /// - Throws: The errors the blocking form throws, when the operation completed with one.
    @inlinable
    public consuming func test() throws(MPIError) -> RequestTest<Value> {
        switch state._withUnsafeGuaranteedRef({ testPending($0) }) {
        case .success(true): return .completed(takeOutput())
        case .success(false): return .pending(self)
        case .failure(let error): throw error
        }
    }

    /// Suspends the calling task until the operation completes, and returns its result.
    ///
    /// The task does not block a thread: it polls the request itself for up to
    /// 200 µs, yielding to other tasks after 100 µs, and then the package's progress engine polls
    /// every awaited request together and resumes the task when its request
    /// completes (see <doc:Requests>). Cancelling the task cancels a receive that has not
    /// matched a message yet, which then throws ``MPIError/cancelled(operation:)``;
    /// other operations cannot be cancelled and complete as usual. Below
    /// `MPI_THREAD_SERIALIZED` no engine runs: the wait runs on the main actor, whose thread must be
    /// MPI's main thread (see <doc:Requests#Thread-level>).
    ///
    /// - Throws: The errors of ``wait()``, and ``MPIError/cancelled(operation:)``.
    @inlinable @inline(__always)
    public consuming func value() async throws(MPIError) -> Value {
        let completed = state._withUnsafeGuaranteedRef { (pending) -> Result<Bool, MPIError> in
            Result { () throws(MPIError) in try completesBeforeAwaiting(pending) }
        }
        if try !completed.get() { try await awaitPending(pending) }
        return takeOutput()
    }

    deinit {
        if state._withUnsafeGuaranteedRef({ $0.isDroppedInFlight }) {
            let output = orphanedOutput()
            state._withUnsafeGuaranteedRef { $0.droppedInFlight(keeping: output) }
        }
        PendingOperation.recycle(state)
    }

    /// The output in a box that keeps it alive, for a request dropped in flight: out of line, so that the
    /// `deinit`, which runs unspecialised, asks for the box's generic type only when a request is dropped
    /// in flight (inlined, that lookup, about 1,100 instructions, ran on every request).
    @usableFromInline @inline(never)
    func orphanedOutput() -> AnyObject {
        OrphanedOutput(output)
    }
}

/// A request may move to another task when its result may. A ``Status`` given to its receive is
/// filled on the thread that completes the request: read it only after the completion (see
/// <doc:Requests>).
extension Request: @unchecked Sendable where Value: Sendable {}

/// The outcome of ``Request/test()``: the result, or the request, still in flight.
public enum RequestTest<Value>: ~Copyable {
    /// The operation completed with this result.
    case completed(Value)
    /// The operation is still in flight: the request to test or wait for again.
    case pending(Request<Value>)
}

/// Waits for a request's operation on the calling thread; returns its error.
///
/// Returns the error rather than throwing it: called in a closure of `Unmanaged._withUnsafeGuaranteedRef`,
/// which rethrows untyped errors.
@usableFromInline
func waitForPending(_ pending: PendingOperation) -> MPIError? {
    do throws(MPIError) {
        try admitCallingThread(pending.operation.name)
        pending.waitHere()
        try pending.result()
        return nil
    } catch {
        return error
    }
}

/// Polls a request's operation once; returns whether it completed, or its error if it completed with one.
@usableFromInline
func testPending(_ pending: PendingOperation) -> Result<Bool, MPIError> {
    do throws(MPIError) {
        try admitCallingThread(pending.operation.name)
        guard !pending.finished else {
            try pending.result()
            return .success(true)
        }
        guard RuntimeState.enterCall() else {
            pending.finishFinalized()
            try pending.result()
            return .success(true)
        }
        let completed: Bool
        do {
            defer { RuntimeState.leaveCall() }
            completed = pending.pollOnce()
            if completed { pending.finish() }
        }
        guard completed else { return .success(false) }
        try pending.result()
        return .success(true)
    } catch {
        return .failure(error)
    }
}
