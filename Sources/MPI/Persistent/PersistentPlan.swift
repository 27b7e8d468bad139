import CMPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Persistent plans: a fixed set of sends and receives (a halo exchange), made
// once with MPI_Send_init / MPI_Recv_init, started every step with MPI_Startall
// and completed with MPI_Waitall. The plan owns the packed buffers that MPI reads
// and writes; they are open to the program only while the plan is idle.
//
// Start and completion go through `perform` (Diagnostics/Call.swift) like every
// other operation, so the flight record, the watchdog and the debug log see
// them. Making the plan and freeing it are local MPI calls.

/// The peer of a message that goes nowhere (`MPI_PROC_NULL`): a send to it and a receive
/// from it complete at once and move no data. Its value is -2.
///
/// A ``PersistentPlan`` accepts it as the peer of any message, so that a rank next to a
/// wall (a non-periodic boundary) makes the same plan as the ranks inside, with
/// `procNull` on its wall side. So do the `dest` and `source` of ``send(_:dest:tag:comm:token:)-(ShapedArray<T>,_,_,_,_)``,
/// ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)`` and
/// ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)``
/// and their non-blocking forms, as in MPI: a receive from it gives a zero result (or leaves an
/// `into:` output as it was) and a status of source `procNull`, tag ``anyTag`` and count 0.
/// The receive of unknown size, ``recv(_:source:tag:comm:token:)``, gives no elements from it; probes
/// do not accept it.
public let procNull: Int = -2

/// One message of a ``PersistentPlan``: the rank it goes to or comes from, its tag, and its
/// element count, given as a count or as the shape of the array it carries.
public struct PersistentMessage: Sendable, Hashable, CustomStringConvertible {
    /// The destination of a send or the source of a receive: a rank of the plan's
    /// communicator, or ``procNull`` for none.
    public var peer: Int
    /// The message's tag, in `0...MPIRuntime.tagUpperBound` (no wildcard).
    public var tag: Int
    /// The shape of the array the message carries: `[count]` for a message given by its count.
    public var shape: [Int]

    /// A message of `count` elements.
    ///
    /// - Parameters:
    ///   - peer: The destination (send) or source (receive) rank, or ``procNull``.
    ///   - tag: The tag, in `0...MPIRuntime.tagUpperBound`.
    ///   - count: The number of elements, at least 0 and at most `Int32.max`.
    public init(peer: Int, tag: Int, count: Int) {
        self.init(peer: peer, tag: tag, shape: [count])
    }

    /// A message that carries an array of shape `shape` (row-major, as ``ShapedArray``).
    ///
    /// - Parameters:
    ///   - peer: The destination (send) or source (receive) rank, or ``procNull``.
    ///   - tag: The tag, in `0...MPIRuntime.tagUpperBound`.
    ///   - shape: The array's dimensions, each at least 0; their product is the element
    ///     count, at most `Int32.max`. An empty shape is a single scalar.
    public init(peer: Int, tag: Int, shape: [Int]) {
        self.peer = peer
        self.tag = tag
        self.shape = shape
    }

    /// The number of elements: the product of ``shape`` (1 for an empty shape, 0 when a dimension is 0,
    /// whatever the others).
    public var count: Int { shape.contains(0) ? 0 : shape.reduce(1, &*) }

    /// For example `peer 3, tag 12, shape [3, 40]`.
    public var description: String { "peer \(peer == procNull ? "procNull" : "\(peer)"), tag \(tag), shape \(shape)" }
}

/// A persistent halo exchange: a fixed set of sends and receives of elements of type `T`
/// on one communicator, made once and started every step.
///
/// The plan is made from lists of ``PersistentMessage`` (peer, tag, count or shape) with
/// `MPI_Send_init` and `MPI_Recv_init`, which are local calls: making a plan communicates
/// nothing. Each step then packs the outgoing data into the plan's send buffers, starts
/// every message at once (``start()``, `MPI_Startall`), does other work while the
/// messages travel, and completes them (``PersistentExchange/wait()``, `MPI_Waitall`)
/// before it reads the received data from the receive buffers:
///
/// ```swift
/// let plan = try PersistentPlan<Double>(
///     sends: [PersistentMessage(peer: east, tag: 1, count: n)],
///     receives: [PersistentMessage(peer: west, tag: 1, count: n)],
///     comm: comm)
/// for _ in 0..<steps {
///     try plan.withSendBuffers { buffers in pack(into: buffers[0]) }
///     let exchange = try plan.start()
///     computeInterior()               // the messages travel meanwhile
///     try exchange.wait()
///     try plan.withReceiveBuffers { buffers in unpack(from: buffers[0]) }
///     computeBoundary()
/// }
/// ```
///
/// ## Ownership
///
/// The plan owns its buffers: one packed region per message, allocated when the plan is
/// made and freed with it. The program reaches them only through
/// ``withSendBuffers(_:)`` and ``withReceiveBuffers(_:)``, and only while the plan is
/// idle: from ``start()`` until the exchange's ``PersistentExchange/wait()`` returns,
/// MPI reads the send buffers and writes the receive buffers, and both calls throw
/// instead. (The buffer pointers that the closures receive must not escape them.)
///
/// ## Completion
///
/// ``start()`` returns a ``PersistentExchange``, a non-copyable value that completes the
/// exchange exactly once: its ``PersistentExchange/wait()`` consumes it, so the type
/// system stops a second wait, and a wait without a start cannot be written. A second
/// ``start()`` while an exchange is in flight throws. An exchange dropped without
/// ``PersistentExchange/wait()`` waits for its messages when it goes away (and says so
/// in the debug log), so no request is ever left active; the plan lives at least as
/// long as its exchange, since the exchange holds it.
///
/// ## Matching and wire compatibility
///
/// Each message is an ordinary point-to-point message on the communicator: a persistent
/// send matches any receive with the same source, tag and communicator (a plain
/// ``recv(into:source:tag:comm:status:token:)``, a C `MPI_Recv`, another plan), and a
/// persistent receive matches any send. A received message must have exactly the
/// receive's element count: a smaller one makes ``PersistentExchange/wait()`` throw
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)``, and a larger one is
/// MPI's truncation error, reported the same way. Unlike ``recv(into:source:tag:comm:status:token:)``,
/// a persistent receive cannot probe the message's size before MPI writes it (Open MPI
/// 4.1 writes a larger rendezvous message past the end of the buffer before it reports
/// the truncation), so the peers must agree on the sizes, as the ranks of a halo
/// exchange do by construction.
///
/// ## Freeing and finalisation
///
/// The plan's requests are freed (`MPI_Request_free`) when the plan goes away, never
/// after MPI is finalised: a plan still alive at ``MPIRuntime/finalize()`` leaves its
/// requests to `MPI_Finalize`. Complete every exchange before finalising, as MPI requires.
/// The plan holds its ``communicator``, so the communicator is not freed before the plan.
///
/// ## Threads
///
/// A plan is not `Sendable`: it is made, started, waited for and dropped on one thread or
/// task at a time. At ``ThreadLevel/serialized`` its MPI calls run under the package's
/// lock, and the wait polls `MPI_Testall` under the lock, releasing it between polls.
///
/// Large messages: each message holds at most `Int32.max` elements (persistent
/// requests take C `int` counts).
///
/// The corresponding C functions are `MPI_Send_init`, `MPI_Recv_init`, `MPI_Startall`,
/// `MPI_Waitall`, `MPI_Testall` and `MPI_Request_free`.
public final class PersistentPlan<T: MPIScalar> {
    /// The plan's sends, in the order of the send buffers.
    public let sends: [PersistentMessage]
    /// The plan's receives, in the order of the receive buffers.
    public let receives: [PersistentMessage]
    /// The communicator the messages travel on.
    public let communicator: Communicator

    /// What the plan is doing.
    enum State {
        /// No message in flight: the buffers are open to the program.
        case idle
        /// Started: MPI owns the buffers until the exchange is waited for.
        case active
        /// Every message completed, as a ``PersistentExchange/test()`` found; the buffers open
        /// when the exchange is waited for (or dropped).
        case tested
        /// The last exchange failed; the plan can only be dropped.
        case failed(MPIError)
    }

    /// What the plan is doing.
    var state = State.idle
    /// How many ``withSendBuffers(_:)`` and ``withReceiveBuffers(_:)`` calls are running: the plan
    /// cannot start while its buffers are open to the program.
    private var openBuffers = 0
    /// The requests: the receives first (so that `MPI_Startall` posts them before the sends), then the sends.
    let requests: UnsafeMutablePointer<MPI_Request>
    /// One status per request, written by the completion.
    let statuses: UnsafeMutablePointer<MPI_Status>
    /// The number of requests made so far (all of them once the plan is made).
    var madeRequests = 0
    /// The send buffers: one allocation, message `i` at `sendOffsets[i]`.
    let sendStorage: UnsafeMutablePointer<T>
    /// The receive buffers: one allocation, message `i` at `receiveOffsets[i]`.
    let receiveStorage: UnsafeMutablePointer<T>
    /// Whether the buffers outlive the plan: set when a failed completion left a request
    /// that could not be cancelled and completed, which MPI may still read or write.
    var keepsBuffers = false
    /// The element offsets of the send buffers, with the total last.
    let sendOffsets: [Int]
    /// The element offsets of the receive buffers, with the total last.
    let receiveOffsets: [Int]

    /// Makes a plan of `sends` and `receives` on `comm`. Local: nothing is communicated.
    ///
    /// Every argument is checked before any request is made; the buffers start filled
    /// with zeros.
    ///
    /// - Parameters:
    ///   - sends: The messages that this rank sends at each start, in the order of the
    ///     send buffers.
    ///   - receives: The messages that this rank receives at each start, in the order of
    ///     the receive buffers.
    ///   - type: The element type (may be left out where `T` is known).
    ///   - comm: The communicator; `nil` means ``Communicator/default``.
    /// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a peer that
    ///   is neither a rank of `comm` nor ``procNull``;
    ///   ``MPIError/invalidTag(operation:argument:tag:upperBound:)`` for a tag outside
    ///   `0...MPIRuntime.tagUpperBound`;
    ///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a negative
    ///   dimension or a message of more than `Int32.max` elements, and for a communicator
    ///   freed by ``Communicator/free()``; ``MPIError/finalized(operation:)`` after
    ///   finalisation; ``MPIError/threadLevel(operation:provided:reason:)`` below
    ///   ``ThreadLevel/serialized`` off MPI's main thread; the MPI error if a request
    ///   cannot be made. The arguments are named as in `sends[2].peer`, and the
    ///   operation as `PersistentPlan.init`.
    ///
    /// The corresponding C functions are `MPI_Send_init` and `MPI_Recv_init`.
    public init(
        sends: [PersistentMessage], receives: [PersistentMessage], of type: T.Type = T.self,
        comm: Communicator? = nil
    ) throws(MPIError) {
        let operation = "PersistentPlan.init"
        let communicator: Communicator
        if let comm { communicator = comm } else { communicator = try RuntimeState.defaultCommunicator(for: operation) }
        let resolved = try Communicator.resolve(communicator, operation)
        try admitCallingThread(operation)
        try RuntimeState.enterCall(for: operation)
        defer { RuntimeState.leaveCall() }
        // Making the requests uses the communicator's handle: a use of it (see Communicator.free()).
        let owned = resolved.owned
        if let owned { try owned.takeUnretainedValue().beginUse(operation) }
        defer { if let owned { endUse(owned) } }
        let sendOffsets = try Self.checkedOffsets(sends, "sends", resolved, operation)
        let receiveOffsets = try Self.checkedOffsets(receives, "receives", resolved, operation)

        self.sends = sends
        self.receives = receives
        self.communicator = communicator
        self.sendOffsets = sendOffsets
        self.receiveOffsets = receiveOffsets
        sendStorage = Self.allocateZeroed(sendOffsets.last!)
        receiveStorage = Self.allocateZeroed(receiveOffsets.last!)
        let requestCount = sends.count + receives.count
        requests = .allocate(capacity: Swift.max(1, requestCount))
        requests.initialize(repeating: swiftmpi_request_null(), count: Swift.max(1, requestCount))
        statuses = .allocate(capacity: Swift.max(1, requestCount))
        statuses.initialize(repeating: MPI_Status(), count: Swift.max(1, requestCount))

        // The receives first, then the sends. On a failure, deinit frees those made.
        let type = T.mpiDatatype.handle
        let comm = resolved.handle
        for (i, message) in receives.enumerated() {
            let buffer = receiveStorage + receiveOffsets[i]
            let code = locked {
                swiftmpi_recv_init(buffer, Int32(message.count), type, Self.mpiPeer(message.peer),
                                   Int32(message.tag), comm, &requests[madeRequests])
            }
            try check(code, "MPI_Recv_init")
            madeRequests += 1
        }
        for (i, message) in sends.enumerated() {
            let buffer = sendStorage + sendOffsets[i]
            let code = locked {
                swiftmpi_send_init(buffer, Int32(message.count), type, Self.mpiPeer(message.peer),
                                   Int32(message.tag), comm, &requests[madeRequests])
            }
            try check(code, "MPI_Send_init")
            madeRequests += 1
        }
    }

    deinit {
        // An exchange holds its plan, so no exchange is in flight here. Nothing is
        // freed once MPI is finalised: MPI_Finalize has released the requests.
        RuntimeState.whileActive {
            for i in 0..<madeRequests where requests[i] != swiftmpi_request_null() {
                _ = locked { swiftmpi_request_free(&requests[i]) }
            }
        }
        requests.deallocate()
        statuses.deallocate()
        if _slowPath(keepsBuffers) {
            // MPI may still use them: leaked on purpose rather than freed under MPI.
            if diagnostics.debugLog {
                let bytes = (sendOffsets.last! + receiveOffsets.last!) * MemoryLayout<T>.stride
                debugPrintLine("r\(worldRank) | persistent plan freed with a request still active after a failed wait: "
                               + "its buffers (\(bytes) bytes) are left allocated")
            }
            return
        }
        UnsafeMutableRawPointer(sendStorage).deallocate()
        UnsafeMutableRawPointer(receiveStorage).deallocate()
    }

    /// Whether an exchange is in flight: started by ``start()`` and not yet completed by
    /// ``PersistentExchange/wait()``. The buffers are closed while it is.
    public var isActive: Bool {
        switch state {
        case .active, .tested: return true
        case .idle, .failed: return false
        }
    }

    // MARK: Starting and completing

    /// Starts every message of the plan (`MPI_Startall`): the receives are posted and the
    /// sends begin, and the call returns without waiting for any of them.
    ///
    /// Until the returned exchange's ``PersistentExchange/wait()`` returns, MPI owns the
    /// buffers: ``withSendBuffers(_:)`` and ``withReceiveBuffers(_:)`` throw. Nor can a plan
    /// start from inside those calls, while its buffers are open to the program.
    ///
    /// - Returns: The exchange in flight, to be completed with ``PersistentExchange/wait()``.
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` (argument
    ///   `self`) when an exchange of this plan is already in flight, the plan's last
    ///   exchange failed, or its buffers are open (inside ``withSendBuffers(_:)`` or
    ///   ``withReceiveBuffers(_:)``), and (argument `comm`) when its communicator has been freed;
    ///   ``MPIError/finalized(operation:)`` after finalisation; the MPI error of
    ///   `MPI_Startall`. Nothing is started when it throws.
    ///
    /// The corresponding C function is `MPI_Startall`.
    public func start() throws(MPIError) -> PersistentExchange<T> {
        let comm = try Communicator.resolve(communicator, .persistentStart)
        let call = Call(.persistentStart, comm, T.self, count: receiveOffsets.last!, root: sends.count, peer: singlePeer, tag: recordedTag)
        try perform(call, checks: { () throws(MPIError) in try checkIdle(MPIOperation.persistentStart.name, starting: true) }) {
            (_: Void) throws(MPIError) in
            let code = locked { swiftmpi_startall(Int32(madeRequests), requests) }
            try check(code, .persistentStart)
            state = .active
        }
        return PersistentExchange(plan: self)
    }

    /// Starts the plan and waits for it: ``start()`` then ``PersistentExchange/wait()``,
    /// for a step with nothing to overlap.
    ///
    /// - Throws: as ``start()`` and ``PersistentExchange/wait()``.
    public func exchange() throws(MPIError) {
        try start().wait()
    }

    /// Completes the exchange in flight: `MPI_Waitall` (or `MPI_Testall` polled under the
    /// lock at ``ThreadLevel/serialized``), then the receive counts. When the completion
    /// fails, the requests it left active are cancelled and completed (see
    /// `settleAfterFailure()`), and a plan whose requests may still be active keeps its
    /// buffers when it goes away. An exchange that a ``PersistentExchange/test()`` already
    /// completed throws that completion's error again, if it failed, and otherwise returns.
    func complete() throws(MPIError) {
        switch state {
        case .active:
            try checkNotFinalized()
            try finish(then: .idle) { waitAll() }
        case .tested:
            state = .idle
        case .failed(let error):
            throw error
        case .idle:
            return
        }
    }

    /// Polls the exchange in flight once (`MPI_Testall`, which also lets MPI progress its
    /// messages); completes it as ``complete()`` does when every message is done (the
    /// buffers open when the exchange is then waited for), and returns whether it did.
    func testOnce() throws(MPIError) -> Bool {
        switch state {
        case .active: break
        case .tested, .idle: return true
        case .failed(let error): throw error
        }
        try admitCallingThread(MPIOperation.persistentWait.name)
        try checkNotFinalized()
        // A call in progress, which finalisation on another thread waits for (RuntimeState.enterCall()).
        guard RuntimeState.enterCall() else { try failFinalized() }
        var done: Int32 = 0
        let code = locked { swiftmpi_testall(Int32(madeRequests), requests, &done, statuses) }
        RuntimeState.leaveCall()
        guard code != 0 || done != 0 else { return false }
        try finish(then: .tested) { code }
        return true
    }

    /// Fails the exchange in flight when MPI has been finalised: `MPI_Finalize` has taken its requests.
    private func checkNotFinalized() throws(MPIError) {
        guard RuntimeState.isActive else { try failFinalized() }
    }

    /// Fails the exchange in flight with ``MPIError/finalized(operation:)``.
    private func failFinalized() throws(MPIError) -> Never {
        state = .failed(.finalized(operation: MPIOperation.persistentWait.name))
        throw MPIError.finalized(operation: MPIOperation.persistentWait.name)
    }

    /// The completion of an exchange in flight, with `completion` giving `MPI_Waitall`'s or
    /// `MPI_Testall`'s code once every request is done: the hooks of a
    /// ``MPIOperation/persistentWait`` (the flight record, the watchdog, the debug log), then
    /// the receive counts, and the plan's new state: `success` (``State/idle`` for a wait,
    /// ``State/tested`` for a test) or ``State/failed(_:)``.
    private func finish(then success: State, _ completion: () -> Int32) throws(MPIError) {
        let comm = communicator.resolved
        let call = Call(.persistentWait, comm, T.self, count: receiveOffsets.last!, root: sends.count, peer: singlePeer, tag: recordedTag)
        var waited = false
        do throws(MPIError) {
            try perform(call) { () throws(MPIError) in
                let code = completion()
                waited = true
                if _slowPath(code != 0) { settleAfterFailure() }
                try checkCompletion(code)
            }
            state = success
        } catch {
            state = .failed(error)
            // Refused before MPI_Waitall (the calling thread): every request is still active.
            if !waited { keepsBuffers = true }
            throw error
        }
    }

    /// After a failed `MPI_Waitall` or `MPI_Testall`, leaves no request active: MPI may
    /// have left some active (`MPI_ERR_PENDING` in their statuses; MPICH's `MPI_Testall`
    /// does when one receive fails while another has not matched yet), and a code other than
    /// `MPI_ERR_IN_STATUS` says nothing about any of them. Each request is tested; one still
    /// active is cancelled (`MPI_Cancel`) and tested again, a bounded number of times,
    /// errors ignored. When one stays active (a send that MPI cannot cancel, whose receiver
    /// does not receive it), `keepsBuffers` is set: MPI may still use the buffers, so
    /// they are not freed with the plan.
    func settleAfterFailure() {
        for i in 0..<madeRequests where !Self.settle(requests + i) {
            keepsBuffers = true
            return
        }
    }

    /// Whether `request` is inactive (or null) after at most a cancel and
    /// `persistentSettlePolls` tests.
    private static func settle(_ request: UnsafeMutablePointer<MPI_Request>) -> Bool {
        var done: Int32 = 0
        // An inactive persistent request tests as done at once (MPICH refuses to cancel one).
        if locked({ swiftmpi_test(request, &done) }) == 0 && done != 0 { return true }
        _ = locked { swiftmpi_cancel(request) }
        var polls = 0
        for _ in 0..<persistentSettlePolls {
            if locked({ swiftmpi_test(request, &done) }) == 0 && done != 0 { return true }
            pollPause(&polls)
        }
        return false
    }

    /// Waits for every request; returns MPI's code.
    private func waitAll() -> Int32 {
        let count = Int32(madeRequests)
        if _fastPath(mayWaitInMPI) { return swiftmpi_waitall(count, requests, statuses) }
        var done: Int32 = 0
        var polls = 0
        while true {
            let code = mpiLock.withLock { _ in swiftmpi_testall(count, requests, &done, statuses) }
            if code != 0 || done != 0 { return code }
            pollPause(&polls)
            ProbedReceives.advanceIfQueued()
        }
    }

    /// Turns a completion's code and the receives' statuses into errors.
    private func checkCompletion(_ code: Int32) throws(MPIError) {
        let operation = MPIOperation.persistentWait.name
        if _slowPath(code != 0) {
            // MPI_ERR_IN_STATUS: the first request whose own code is an error says what failed.
            var failing = code
            if makeMPIError(code, operation).isInStatus {
                for i in 0..<madeRequests {
                    let own = swiftmpi_status_error(statuses + i)
                    if own != 0 && MPIErrorClass(rawValue: errorClass(of: own)) != .pending {
                        failing = own
                        if i < receives.count { try throwReceiveError(own, receive: i) }
                        break
                    }
                }
            }
            throw makeMPIError(failing, operation)
        }
        let type = T.mpiDatatype.handle
        for (i, message) in receives.enumerated() where message.peer != procNull {
            var n: Int64 = 0
            let countCode = locked { swiftmpi_get_elements(statuses + i, type, &n) }
            if _slowPath(countCode != 0 || Int(n) != message.count) {
                throw MPIError.shapeMismatch(
                    operation: operation, argument: "receives[\(i)]",
                    expected: "a message of \(counted(message.count, "element")) (the plan's receive)",
                    actual: countCode != 0 ? "a message whose size MPI could not count" : "a message of \(counted(Int(n), "element"))")
            }
        }
    }

    /// Throws the error of receive `i`: a truncation as a shape mismatch, else MPI's error.
    private func throwReceiveError(_ code: Int32, receive i: Int) throws(MPIError) {
        let error = makeMPIError(code, MPIOperation.persistentWait.name)
        if case .mpi(_, let errorClass, let message) = error, errorClass == .truncate {
            throw MPIError.shapeMismatch(
                operation: MPIOperation.persistentWait.name, argument: "receives[\(i)]",
                expected: "a message of \(counted(receives[i].count, "element")) (the plan's receive)",
                actual: "a larger message (MPI_ERR_TRUNCATE: \(message))")
        }
        throw error
    }

    // MARK: The buffers

    /// Runs `body` with the send buffers, to fill them before ``start()``.
    ///
    /// `buffers[i]` is the packed buffer of `sends[i]`, of `sends[i].count` elements. The
    /// buffers keep their contents between steps.
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)``
    ///   (operation `PersistentPlan.withSendBuffers`, argument `self`) while an exchange is
    ///   in flight, when MPI is reading the buffers; what `body` throws.
    public func withSendBuffers<R>(_ body: (SendBuffers) throws(MPIError) -> R) throws(MPIError) -> R {
        try checkIdle("PersistentPlan.withSendBuffers")
        openBuffers += 1
        defer { openBuffers -= 1 }
        return try body(SendBuffers(base: sendStorage, offsets: sendOffsets))
    }

    /// Runs `body` with the receive buffers, to read them after
    /// ``PersistentExchange/wait()``.
    ///
    /// `buffers[i]` is the packed buffer of `receives[i]`, of `receives[i].count` elements:
    /// the message received by the last completed exchange (zeros before the first, and
    /// unchanged by a receive from ``procNull``).
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)``
    ///   (operation `PersistentPlan.withReceiveBuffers`, argument `self`) while an exchange
    ///   is in flight, when MPI may be writing the buffers; what `body` throws.
    public func withReceiveBuffers<R>(_ body: (ReceiveBuffers) throws(MPIError) -> R) throws(MPIError) -> R {
        try checkIdle("PersistentPlan.withReceiveBuffers")
        openBuffers += 1
        defer { openBuffers -= 1 }
        return try body(ReceiveBuffers(base: receiveStorage, offsets: receiveOffsets))
    }

    /// Copies `array` into the send buffer of `sends[index]`.
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for an
    ///   index outside `sends.indices` or while an exchange is in flight;
    ///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` when `array`'s shape
    ///   is not `sends[index].shape`.
    public func setSend(_ index: Int, to array: ShapedArray<T>) throws(MPIError) {
        let operation = "PersistentPlan.setSend"
        try checkIdle(operation)
        try checkIndex(index, sends.count, operation)
        guard array.shape == sends[index].shape else {
            throw MPIError.shapeMismatch(
                operation: operation, argument: "array", expected: "shape \(sends[index].shape) (sends[\(index)])",
                actual: "shape \(array.shape)")
        }
        let target = sendStorage + sendOffsets[index]
        let scalars = array.scalars
        scalars.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: $0.count) }
    }

    /// A copy of the receive buffer of `receives[index]`, shaped as `receives[index].shape`.
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for an
    ///   index outside `receives.indices` or while an exchange is in flight.
    public func received(_ index: Int) throws(MPIError) -> ShapedArray<T> {
        let operation = "PersistentPlan.received"
        try checkIdle(operation)
        try checkIndex(index, receives.count, operation)
        let buffer = UnsafeBufferPointer(start: receiveStorage + receiveOffsets[index], count: receives[index].count)
        return ShapedArray(shape: receives[index].shape, scalars: Array(buffer))
    }

    /// The send buffers of an idle plan: `self[i]` is the buffer of `sends[i]`.
    ///
    /// Valid only inside ``PersistentPlan/withSendBuffers(_:)``; its pointers must not escape.
    public struct SendBuffers: RandomAccessCollection {
        let base: UnsafeMutablePointer<T>
        let offsets: [Int]

        /// 0.
        public var startIndex: Int { 0 }
        /// The number of sends.
        public var endIndex: Int { offsets.count - 1 }

        /// The buffer of send `index`, of `sends[index].count` elements.
        public subscript(index: Int) -> UnsafeMutableBufferPointer<T> {
            precondition(index >= 0 && index < endIndex, "send buffer \(index) outside 0..<\(endIndex)")
            return UnsafeMutableBufferPointer(start: base + offsets[index], count: offsets[index + 1] - offsets[index])
        }
    }

    /// The receive buffers of an idle plan: `self[i]` is the buffer of `receives[i]`.
    ///
    /// Valid only inside ``PersistentPlan/withReceiveBuffers(_:)``; its pointers must not escape.
    public struct ReceiveBuffers: RandomAccessCollection {
        let base: UnsafeMutablePointer<T>
        let offsets: [Int]

        /// 0.
        public var startIndex: Int { 0 }
        /// The number of receives.
        public var endIndex: Int { offsets.count - 1 }

        /// The buffer of receive `index`, of `receives[index].count` elements.
        public subscript(index: Int) -> UnsafeBufferPointer<T> {
            precondition(index >= 0 && index < endIndex, "receive buffer \(index) outside 0..<\(endIndex)")
            return UnsafeBufferPointer(start: base + offsets[index], count: offsets[index + 1] - offsets[index])
        }
    }

    // MARK: Checks

    /// Throws unless the plan is idle.
    private func checkIdle(_ operation: String, starting: Bool = false) throws(MPIError) {
        switch state {
        case .idle:
            if _slowPath(starting && openBuffers > 0) {
                throw MPIError.invalidArgument(
                    operation: operation, argument: "self",
                    expected: "a plan whose buffers are closed (start() outside withSendBuffers and withReceiveBuffers)",
                    actual: "a plan started inside withSendBuffers or withReceiveBuffers")
            }
            return
        case .active, .tested:
            throw MPIError.invalidArgument(
                operation: operation, argument: "self",
                expected: "an idle plan (its last exchange completed by wait())",
                actual: "a plan whose exchange is in flight (started, not yet waited for)")
        case .failed(let error):
            throw MPIError.invalidArgument(
                operation: operation, argument: "self", expected: "a plan whose last exchange completed",
                actual: "a plan whose last exchange failed (\(error))")
        }
    }

    private func checkIndex(_ index: Int, _ count: Int, _ operation: String) throws(MPIError) {
        guard index >= 0 && index < count else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "index", expected: "an index in 0..<\(count)", actual: "\(index)")
        }
    }

    /// The peer for the flight record: the peer of a plan whose only message is one receive, else -1.
    /// (A wait for a plan that also sends may wait for its sends: naming the receive's source alone
    /// would blame that rank.)
    private var singlePeer: Int { receives.count == 1 && sends.isEmpty ? receives[0].peer : -1 }
    /// The tag for the flight record: with ``singlePeer``, the receive's tag; else the number of receives
    /// (and `root` the number of sends), which the record's line gives.
    private var recordedTag: Int { singlePeer >= 0 ? receives[0].tag : receives.count }

    /// Checks every message of a list and returns the buffer offsets (the total last).
    private static func checkedOffsets(
        _ messages: [PersistentMessage], _ list: String, _ comm: ResolvedCommunicator, _ operation: String
    ) throws(MPIError) -> [Int] {
        var offsets = [0]
        offsets.reserveCapacity(messages.count + 1)
        for (i, message) in messages.enumerated() {
            if message.peer != procNull && (message.peer < 0 || message.peer >= comm.size) {
                throw MPIError.rankOutOfRange(
                    operation: operation, argument: "\(list)[\(i)].peer", rank: message.peer, size: comm.size)
            }
            let upperBound = MPIRuntime.tagUpperBound
            if message.tag < 0 || message.tag > upperBound {
                throw MPIError.invalidTag(
                    operation: operation, argument: "\(list)[\(i)].tag", tag: message.tag, upperBound: upperBound)
            }
            var count = 1
            for dimension in message.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: Swift.max(dimension, 0))
                if dimension < 0 {
                    throw MPIError.invalidArgument(
                        operation: operation, argument: "\(list)[\(i)].shape",
                        expected: "dimensions (or a count) of at least 0", actual: "\(message.shape)")
                }
                count = overflow ? Int.max : product
            }
            if count > Int(Int32.max) {
                throw MPIError.invalidArgument(
                    operation: operation, argument: "\(list)[\(i)].shape",
                    expected: "at most \(Int32.max) elements (persistent requests take C int counts)",
                    actual: "\(message.shape), \(count == Int.max ? "more than Int.max" : "\(count)") elements")
            }
            offsets.append(offsets.last! + count)
        }
        return offsets
    }

    /// A zeroed buffer of `count` elements (at least one, 64-byte aligned).
    private static func allocateZeroed(_ count: Int) -> UnsafeMutablePointer<T> {
        let bytes = Swift.max(1, count) * MemoryLayout<T>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Swift.max(64, MemoryLayout<T>.alignment))
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        return raw.bindMemory(to: T.self, capacity: Swift.max(1, count))
    }

    /// A peer for MPI: ``procNull`` becomes `MPI_PROC_NULL`.
    private static func mpiPeer(_ peer: Int) -> Int32 {
        peer == procNull ? swiftmpi_proc_null() : Int32(truncatingIfNeeded: peer)
    }
}

/// The exchange of a ``PersistentPlan`` in flight: started by ``PersistentPlan/start()``,
/// completed exactly once by ``wait()`` (and polled, if the program wants MPI to move its
/// messages while it computes, by ``test()``).
///
/// Non-copyable: ``wait()`` consumes it, so it cannot be waited for twice. Dropped without
/// ``wait()``, it waits for its messages when it goes away (the completion's errors are
/// then lost, and the debug log says so), so that no request is left active and the plan
/// can be started again. It holds its plan, which therefore outlives it.
public struct PersistentExchange<T: MPIScalar>: ~Copyable {
    /// The plan whose messages are in flight.
    let plan: PersistentPlan<T>

    init(plan: PersistentPlan<T>) { self.plan = plan }

    /// Waits until every message of the exchange has completed (`MPI_Waitall`): the
    /// receives have arrived in the receive buffers, and the send buffers may be
    /// written again.
    ///
    /// - Throws: ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` (argument
    ///   `receives[i]`) when a received message does not have the receive's element count;
    ///   ``MPIError/finalized(operation:)`` when MPI was finalised with the exchange in
    ///   flight; the MPI error of `MPI_Waitall`. After an error the plan refuses to start
    ///   again, and can only be dropped. A failed completion may leave requests active
    ///   (MPICH's `MPI_Testall`, which the wait polls at ``ThreadLevel/serialized``, leaves a
    ///   receive that has not matched yet when another one fails): before it
    ///   throws, the wait cancels (`MPI_Cancel`) and completes each of them. A request that
    ///   stays active (a send that MPI cannot cancel and that its receiver does not take)
    ///   keeps the plan's buffers allocated when the plan goes away, since MPI may still
    ///   use them; the debug log (`SWIFT_MPI_DEBUG=1`) says so.
    ///
    /// The corresponding C function is `MPI_Waitall`.
    public consuming func wait() throws(MPIError) {
        try plan.complete()
    }

    /// Polls the exchange once without waiting (`MPI_Testall`), and returns whether every
    /// message has completed.
    ///
    /// Open MPI and MPICH move a message only while the program is inside an MPI call
    /// (neither has a progress thread by default). A message above the eager limit
    /// (4 KiB over Open MPI's shared memory) goes in a rendezvous: its data moves
    /// once the receiver's MPI has matched it, and the send completes once the
    /// sender's MPI hears that it has. Calling `test()` now and then while computing
    /// lets both happen during the computation, instead of in ``wait()``; that is what
    /// overlapping communication with computation needs on such messages.
    ///
    /// The exchange must still be completed with ``wait()`` (or dropped), which returns at
    /// once after a `test()` that returned `true`. The buffers stay closed until then.
    ///
    /// - Returns: Whether every message of the exchange has completed.
    /// - Throws: The errors of ``wait()``, when the exchange completed with one; ``wait()``
    ///   then throws the same error again. ``MPIError/threadLevel(operation:provided:reason:)``
    ///   below ``ThreadLevel/serialized`` off MPI's main thread.
    ///
    /// The corresponding C function is `MPI_Testall`.
    public func test() throws(MPIError) -> Bool {
        try plan.testOnce()
    }

    deinit {
        guard plan.isActive else { return }
        if diagnostics.debugLog {
            debugPrintLine("r\(worldRank) | persistent exchange dropped before wait(): waiting for its messages")
        }
        do {
            try plan.complete()
        } catch {
            if diagnostics.debugLog { debugPrintLine("r\(worldRank) | dropped persistent exchange failed: \(error)") }
        }
    }
}

extension MPIError {
    /// Whether this is MPI's `MPI_ERR_IN_STATUS`.
    fileprivate var isInStatus: Bool {
        if case .mpi(_, let errorClass, _) = self { return errorClass == .inStatus }
        return false
    }
}

/// The tests of a cancelled request before a failed plan gives up on it and keeps its
/// buffers: a cancelled receive completes at once, a send when its receiver takes it.
private let persistentSettlePolls = 10_000

/// The class of an MPI error code.
private func errorClass(of code: Int32) -> Int32 {
    var errorClass: Int32 = 0
    return locked({ MPI_Error_class(code, &errorClass) }) == 0 ? errorClass : swiftmpi_err_unknown()
}
