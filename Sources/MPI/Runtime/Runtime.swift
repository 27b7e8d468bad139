import CMPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The level of thread support MPI provides (MPI 3.1 section 12.4.3).
public enum ThreadLevel: Int, Comparable, Sendable, CustomStringConvertible, CaseIterable {
    /// Only one thread will execute (`MPI_THREAD_SINGLE`).
    case single = 0
    /// The process may be multi-threaded, but only the main thread calls MPI (`MPI_THREAD_FUNNELED`).
    case funneled = 1
    /// Any thread may call MPI, but never two at once (`MPI_THREAD_SERIALIZED`).
    case serialized = 2
    /// Any thread may call MPI at any time (`MPI_THREAD_MULTIPLE`).
    case multiple = 3

    /// Orders levels from least to most thread support.
    public static func < (lhs: ThreadLevel, rhs: ThreadLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The MPI constant's name, such as `MPI_THREAD_SERIALIZED`.
    public var description: String {
        switch self {
        case .single: "MPI_THREAD_SINGLE"
        case .funneled: "MPI_THREAD_FUNNELED"
        case .serialized: "MPI_THREAD_SERIALIZED"
        case .multiple: "MPI_THREAD_MULTIPLE"
        }
    }

    var mpiValue: Int32 {
        switch self {
        case .single: swiftmpi_thread_single()
        case .funneled: swiftmpi_thread_funneled()
        case .serialized: swiftmpi_thread_serialized()
        case .multiple: swiftmpi_thread_multiple()
        }
    }

    init(mpiValue: Int32) {
        switch mpiValue {
        case swiftmpi_thread_multiple(): self = .multiple
        case swiftmpi_thread_serialized(): self = .serialized
        case swiftmpi_thread_funneled(): self = .funneled
        default: self = .single
        }
    }
}

/// The MPI library this package was built against.
public enum MPIImplementation: String, Sendable {
    /// Open MPI.
    case openMPI = "Open MPI"
    /// MPICH or a derivative.
    case mpich = "MPICH"
    /// Another MPI library.
    case other = "other"
}

/// The any-source wildcard for ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)``
/// and ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)``:
/// receive from any rank (`MPI_ANY_SOURCE`). Its value is -1, as in mpi4jax.
public let anySource: Int = -1

/// The any-tag wildcard for receives: match a message with any tag (`MPI_ANY_TAG`).
/// Its value is -1, as in mpi4jax.
public let anyTag: Int = -1

/// Whether this build of the package can communicate GPU-resident buffers.
///
/// This build has no GPU support, so the answer is `false`: every buffer is host memory.
/// It is the counterpart of mpi4jax's `has_cuda_support()`.
public func hasCUDASupport() -> Bool { false }

/// Initialisation, finalisation and facts about the MPI library.
///
/// MPI is initialised on first use by any operation of this package, or
/// explicitly with ``initialize(threadLevel:)``. The default thread level is
/// ``ThreadLevel/multiple``: any thread or task may call any operation at any
/// time. At ``ThreadLevel/serialized`` the package serialises its MPI calls
/// itself (each blocking call runs as its non-blocking counterpart, polled
/// under a lock), so concurrent calls stay safe; below that, a call from
/// another thread than the one that initialised MPI throws
/// ``MPIError/threadLevel(operation:provided:reason:)``. The environment variable
/// `SWIFT_MPI_THREAD_LEVEL` (`single`, `funneled`, `serialized`, `multiple`)
/// overrides the default of implicit initialisation.
///
/// Setting MPI up makes no collective call of its own: the package installs
/// `MPI_ERRORS_RETURN` on `MPI_COMM_WORLD` and `MPI_COMM_SELF` and creates its
/// `Float16` reduction operations, all local calls. The default communicator
/// (``Communicator/default``, a duplicate of the world) is made on its first
/// use, so a program that only uses ``Communicator/world`` can share the world
/// with ranks that are plain C programs.
///
/// If other code initialised MPI first, this package uses that MPI as it is and
/// leaves finalisation to its owner. Otherwise the package owns MPI, and ends it
/// like a C MPI program ends, through a handler registered with glibc's `on_exit`:
/// - at `exit(0)`, and when `main` returns, it finalises MPI (`MPI_Finalize`,
///   which waits for the other ranks to finalise too, as the standard requires);
/// - at `exit(status)` with a non-zero status (its low 8 bits, the status the
///   shell sees), it ends the whole job at once with
///   `MPI_Abort(MPI_COMM_WORLD, status)`, without finalising, so the other ranks
///   are not left waiting for this one; the launcher then exits with `status`
///   (measured with Open MPI's `mpirun` and MPICH's `mpiexec`, though MPICH's
///   reports 1 in about 7% of single-rank jobs, a C program's too).
///
/// ``finalize()`` ends MPI earlier. After it, every operation throws
/// ``MPIError/finalized(operation:)``.
public enum MPIRuntime {
    /// Initialises MPI with the requested thread level, if it is not initialised yet.
    ///
    /// Calling it again, or after another library initialised MPI, returns the
    /// level already provided.
    ///
    /// - Parameter threadLevel: The thread support to request.
    /// - Returns: The thread support MPI provides, which may be lower than requested.
    /// - Throws: ``MPIError/finalized(operation:)`` after finalisation, or
    ///   ``MPIError/mpi(operation:errorClass:message:)`` if `MPI_Init_thread` fails.
    ///
    /// The corresponding C function is `MPI_Init_thread`.
    @discardableResult
    public static func initialize(threadLevel: ThreadLevel = .multiple) throws(MPIError) -> ThreadLevel {
        try RuntimeState.initialize(requested: threadLevel).threadLevel
    }

    /// The thread support MPI provides, initialising MPI if needed.
    ///
    /// After finalisation, or when MPI cannot be set up, it is ``ThreadLevel/single``: no thread
    /// may call MPI any more.
    ///
    /// The corresponding C function is `MPI_Query_thread`.
    public static var threadLevel: ThreadLevel {
        (try? RuntimeState.current())?.threadLevel ?? .single
    }

    /// Whether MPI has been initialised in this process (by this package or by other code).
    ///
    /// The corresponding C function is `MPI_Initialized`.
    public static var isInitialized: Bool {
        var flag: Int32 = 0
        MPI_Initialized(&flag)
        return flag != 0
    }

    /// Whether MPI has been finalised in this process.
    ///
    /// The corresponding C function is `MPI_Finalized`.
    public static var isFinalized: Bool {
        var flag: Int32 = 0
        MPI_Finalized(&flag)
        return flag != 0
    }

    /// Finalises MPI now, if this package initialised it.
    ///
    /// After this, every operation throws ``MPIError/finalized(operation:)``.
    /// Calling it twice is harmless. It runs by itself at process exit, so most
    /// programs never call it.
    ///
    /// The package frees its `Float16` reduction operations (`MPI_Op_free`, a
    /// local call) and leaves its communicators to `MPI_Finalize`: it makes no
    /// collective call of its own before finalising. Communicators still held by
    /// the program are not freed by this package once MPI is finalised.
    ///
    /// If MPI was initialised by other code, this ends the package's use of MPI
    /// and leaves MPI itself to its owner; when the owner calls `MPI_Finalize`
    /// (before or without this), the package's operations throw
    /// ``MPIError/finalized(operation:)`` from then on, and make no MPI call. If MPI was never initialised, this
    /// makes no MPI call at all: it only ends the package's use of MPI, after
    /// which ``Communicator/world`` is still readable (see there) and every
    /// operation throws ``MPIError/finalized(operation:)``.
    ///
    /// Calls that other threads make meanwhile either complete before `MPI_Finalize`
    /// or throw ``MPIError/finalized(operation:)``: finalisation waits for the calls
    /// in progress, and a polled wait (``Request/wait()`` on a receive, say) stops with
    /// that error. A call waiting inside MPI for a message or for other ranks cannot be
    /// stopped: after 2 s this prints a line naming the calls still in progress and leaves
    /// MPI unfinalised (`MPI_Finalize` under a call is erroneous: MPICH aborted, Open MPI
    /// once corrupted its heap), and the process exits without `MPI_Finalize` (Open MPI's
    /// `mpirun` then ends the job with status 1). Complete or join such threads first.
    ///
    /// - Throws: ``MPIError/threadLevel(operation:provided:reason:)`` below
    ///   ``ThreadLevel/serialized`` on another thread than MPI's main thread (MPI stays
    ///   initialised); the MPI error of `MPI_Finalize`.
    ///
    /// The corresponding C function is `MPI_Finalize`.
    public static func finalize() throws(MPIError) {
        // Below MPI_THREAD_SERIALIZED, MPI_Finalize (and the frees before it) from another thread than
        // MPI's main thread is erroneous (an independent audit saw it run at .funneled).
        if RuntimeState.isUsable { try admitCallingThread("MPIRuntime.finalize") }
        try RuntimeState.finalize()
    }

    /// The MPI library this package was built against.
    public static var implementation: MPIImplementation {
        switch swiftmpi_implementation() {
        case 1: .openMPI
        case 2: .mpich
        default: .other
        }
    }

    /// The MPI library's version string, for example `Open MPI v4.1.4, ...`.
    ///
    /// The corresponding C function is `MPI_Get_library_version`.
    public static var libraryVersion: String {
        var buffer = [CChar](repeating: 0, count: Int(swiftmpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        MPI_Get_library_version(&buffer, &length)
        let bytes = buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    }

    /// The version of the MPI standard the library implements, for example `(3, 1)`.
    ///
    /// The corresponding C function is `MPI_Get_version`.
    public static var standardVersion: (major: Int, minor: Int) {
        var major: Int32 = 0, minor: Int32 = 0
        MPI_Get_version(&major, &minor)
        return (Int(major), Int(minor))
    }

    /// Whether each collective first checks that every rank passes the same
    /// operation, scalar type, element count, root and op (and counts that match, for
    /// the explicit variable-size forms), and throws on every rank when they differ.
    ///
    /// While it is on, the collectives of one communicator also run one at a time
    /// on each rank (a lock of the communicator, held from a call's start to its
    /// return, or to its request's start), so that the check compares every rank's
    /// n-th collective with the others' n-th even when several tasks call
    /// collectives on the communicator at once (see the article Requests, section
    /// "Collectives from several tasks").
    ///
    /// The check's agreement waits for every rank of the communicator, so while it
    /// is on, starting a collective blocks until every rank has started it, the
    /// non-blocking forms' starts included. Tasks that start collectives at once on
    /// communicators of their own can then wait for each other across ranks, with
    /// every thread of the cooperative pool blocked: a hang that the same program
    /// does not have with the check off (the article Requests has the measurement).
    ///
    /// Off by default, since the check costs one small allgather per
    /// collective; `SWIFT_MPI_CHECK=1` in the environment turns it on when MPI
    /// is set up. Set it to the same value on every rank, between operations.
    ///
    /// Setting it initialises MPI first if needed, at the default thread level
    /// (``ThreadLevel/multiple``, or `SWIFT_MPI_THREAD_LEVEL`); to choose another, call
    /// ``initialize(threadLevel:)`` before setting it.
    public static var checksCollectiveArguments: Bool {
        get { diagnostics.checkCollectives }
        set { _ = try? RuntimeState.current(); diagnostics.checkCollectives = newValue }
    }

    /// Whether each collective prints a line to standard error (rank, operation,
    /// op, element count and type, root), like mpi4jax's `MPI4JAX_DEBUG`.
    ///
    /// Off by default; `SWIFT_MPI_DEBUG=1` in the environment turns it on when MPI is set up.
    /// Setting it initialises MPI first if needed, at the default thread level
    /// (``ThreadLevel/multiple``, or `SWIFT_MPI_THREAD_LEVEL`); to choose another, call
    /// ``initialize(threadLevel:)`` before setting it.
    public static var logsCollectives: Bool {
        get { diagnostics.debugLog }
        set { _ = try? RuntimeState.current(); diagnostics.debugLog = newValue }
    }

    /// The largest tag value that MPI accepts (`MPI_TAG_UB`, at least 32767).
    public static var tagUpperBound: Int {
        (try? RuntimeState.current())?.tagUpperBound ?? 32767
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s.removeLast() }
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        return String(s)
    }
}

/// The process-wide MPI state: created once, when MPI is first needed.
@usableFromInline
final class RuntimeState: @unchecked Sendable {
    /// The thread level MPI provides.
    let threadLevel: ThreadLevel
    /// Whether this package called `MPI_Init_thread` (and so must finalise).
    let ownsMPI: Bool
    /// `MPI_TAG_UB`.
    @usableFromInline let tagUpperBound: Int
    /// `MPI_COMM_WORLD`, with errors returned.
    @usableFromInline let world: Communicator
    /// The `Float16` reduction operations, created here and freed when the package finalises.
    let halfPrecisionOps: HalfPrecisionOps
    /// The package's unsigned `min` and `max`, made only where MPI's compare unsigned integers as signed.
    let unsignedOrderOps: UnsignedOrderOps?
    /// The package's `sum` of 8- and 16-bit integers, made only where MPI's saturates.
    let wrappingSumOps: WrappingSumOps?
    /// The default communicator once it has been made (on first use). Guarded by `lock`.
    private var madeDefaultCommunicator: Communicator?

    /// Sets up the package's use of an initialised MPI. Local calls only: nothing here
    /// communicates, so ranks that are plain C programs can share the world.
    private init(threadLevel: ThreadLevel, ownsMPI: Bool) throws(MPIError) {
        self.threadLevel = threadLevel
        self.ownsMPI = ownsMPI
        let worldHandle = swiftmpi_comm_world()
        try check(MPI_Comm_set_errhandler(worldHandle, swiftmpi_errors_return()), "MPI_Comm_set_errhandler")
        try check(MPI_Comm_set_errhandler(swiftmpi_comm_self(), swiftmpi_errors_return()), "MPI_Comm_set_errhandler")
        try check(swiftmpi_call_at_finalize { RuntimeState.finalizeBegins() }, "MPI_Comm_create_keyval")
        world = try Communicator(borrowing: worldHandle)
        var flag: Int32 = 0
        var value: UnsafeMutablePointer<Int32>? = nil
        try check(MPI_Comm_get_attr(worldHandle, swiftmpi_tag_ub_keyval(), &value, &flag), "MPI_Comm_get_attr")
        tagUpperBound = (flag != 0 ? value.map { Int($0.pointee) } : nil) ?? 32767
        halfPrecisionOps = try HalfPrecisionOps.create()
        do {
            unsignedOrderOps = try UnsignedOrderOps.checkIfNeeded()
        } catch {
            halfPrecisionOps.free()
            throw error
        }
        do throws(MPIError) {
            wrappingSumOps = try WrappingSumOps.checkIfNeeded()
        } catch {
            halfPrecisionOps.free()
            unsignedOrderOps?.free()
            throw error
        }
    }

    private nonisolated(unsafe) static var state: RuntimeState?
    /// The world communicator, once known: set when MPI is set up (and kept after
    /// finalisation), or made without MPI when MPI cannot be used. Guarded by `lock`.
    private nonisolated(unsafe) static var lastWorld: Communicator?
    private nonisolated(unsafe) static var initError: MPIError?
    private static let lock = Mutex<Void>(())
    /// 0: not yet, 1: initialised, 2: finalised. Read without the lock on the hot path.
    @usableFromInline static let phase = Atomic<Int>(0)
    /// The calls into MPI in progress on any thread (``enterCall()``), which finalisation waits for.
    @usableFromInline static let callsInProgress = Atomic<Int>(0)
    /// Held through ``finalize()``, so that a second caller returns only once MPI is finalised.
    private static let finalizeLock = Mutex<Void>(())

    /// The state, initialising MPI at the default thread level on first use.
    @usableFromInline
    static func current() throws(MPIError) -> RuntimeState {
        if _fastPath(phase.load(ordering: .acquiring) == 1), let state = unsafe_state() { return state }
        return try initialize(requested: defaultThreadLevel())
    }

    @inline(__always)
    private static func unsafe_state() -> RuntimeState? { state }

    /// The state, or ``MPIError/finalized(operation:)`` after finalisation.
    @inlinable
    static func current(for operation: @autoclosure () -> String) throws(MPIError) -> RuntimeState {
        do {
            return try current()
        } catch {
            if case .finalized = error { throw MPIError.finalized(operation: operation()) }
            throw error
        }
    }

    static func defaultThreadLevel() -> ThreadLevel {
        SwiftMPIEnvironment.choice(
            .threadLevel,
            [("single", .single), ("funneled", .funneled), ("serialized", .serialized), ("multiple", .multiple)],
            default: .multiple, defaultName: "multiple")
    }

    static func initialize(requested: ThreadLevel) throws(MPIError) -> RuntimeState {
        let result: Result<RuntimeState, MPIError> = lock.withLock { _ in
            if let state { return .success(state) }
            if let initError { return .failure(initError) }
            if phase.load(ordering: .relaxed) == 2 || MPIRuntime.isFinalized {
                return .failure(.finalized(operation: "MPIRuntime.initialize"))
            }
            do {
                var provided: Int32 = 0
                let owns: Bool
                if MPIRuntime.isInitialized {
                    owns = false
                    try check(MPI_Query_thread(&provided), "MPI_Query_thread")
                } else {
                    owns = true
                    try check(MPI_Init_thread(nil, nil, requested.mpiValue, &provided), "MPI_Init_thread")
                    registerExitHandler()
                }
                diagnostics = DiagnosticsOptions.fromEnvironment()
                FlightRecorder.start()
                configureWatchdogFromEnvironment()
                configureCalls(provided: ThreadLevel(mpiValue: provided))
                let newState = try RuntimeState(threadLevel: ThreadLevel(mpiValue: provided), ownsMPI: owns)
                state = newState
                lastWorld = newState.world
                phase.store(1, ordering: .releasing)
                return .success(newState)
            } catch let error as MPIError {
                initError = error
                return .failure(error)
            } catch {
                return .failure(.finalized(operation: "MPIRuntime.initialize"))
            }
        }
        return try result.get()
    }

    /// Ends the process's MPI like a C MPI program's end, at `exit` (see ``MPIRuntime``).
    private static func registerExitHandler() {
        #if canImport(Glibc)
        on_exit({ status, _ in RuntimeState.processExits(status: status) }, nil)
        #else
        atexit { RuntimeState.processExits(status: 0) }
        #endif
    }

    /// Called by `exit` with its status, in a process where this package called
    /// `MPI_Init_thread`: a non-zero status ends the job with `MPI_Abort` (no
    /// waiting for other ranks); zero finalises MPI.
    static func processExits(status: Int32) {
        guard MPIRuntime.isInitialized, !MPIRuntime.isFinalized else { return }
        // The status a parent process sees: the low 8 bits of exit's argument.
        let code = status & 0xff
        if code != 0 {
            MPI_Abort(swiftmpi_comm_world(), code)
            return
        }
        if phase.load(ordering: .acquiring) == 1 {
            try? finalize()
        } else if leftMPIUnfinalized.load(ordering: .acquiring) {
            return  // finalisation found calls still in progress (waitForCallsInProgress)
        } else {
            // MPI started but the package's set-up failed after it: nothing of the package to end.
            MPI_Finalize()
        }
    }

    /// Called at the start of `MPI_Finalize`, whoever calls it (``swiftmpi_call_at_finalize(_:)``): when
    /// other code finalises MPI, the package's calls then throw ``MPIError/finalized(operation:)``
    /// rather than call MPI after `MPI_Finalize` (which both libraries answer with an abort). Only
    /// atomics: the package's own ``finalize()`` calls `MPI_Finalize` under its lock, with the phase set.
    static func finalizeBegins() {
        _ = phase.compareExchange(expected: 1, desired: 2, ordering: .sequentiallyConsistent)
        defaultCommunicatorIsReady.store(false, ordering: .releasing)
    }

    static func finalize() throws(MPIError) {
        let result: Result<Void, MPIError> = finalizeLock.withLock { _ in
            let began = lock.withLock { _ -> Bool in
                guard phase.load(ordering: .relaxed) != 2 else { return false }
                // Sequentially consistent, as enterCall's count and load: a call either sees the
                // phase and does not call MPI, or is counted before waitForCallsInProgress reads the count.
                phase.store(2, ordering: .sequentiallyConsistent)
                defaultCommunicatorIsReady.store(false, ordering: .releasing)
                return state != nil
            }
            guard began else { return .success(()) }
            // Outside the state's lock, which a call in progress may take.
            let callsRemain = !waitForCallsInProgress()
            return lock.withLock { _ in finalizeMPI(callsRemain: callsRemain) }
        }
        try result.get()
    }

    /// How long finalisation waits for calls in progress on other threads before it goes on.
    static let finalizeWaitSeconds = 2.0

    /// Whether finalisation left MPI unfinalised, with calls still in progress
    /// (``finalizeMPI(callsRemain:)``): the exit handler must not finalise it either.
    private static let leftMPIUnfinalized = Atomic<Bool>(false)

    /// Waits until no call into MPI is in progress on another thread (``enterCall()``), for at most
    /// ``finalizeWaitSeconds``; returns whether none is left. When some are, says on standard error
    /// which, and what finalisation does about them.
    ///
    /// A call that another thread started just before finalisation ends soon after; one that waits
    /// for a message or for other ranks may never end. `MPI_Finalize` under it is erroneous: MPICH
    /// 4.0.2 over UCX aborts (in C too), and Open MPI 4.1.4 corrupted its heap in 1 of 8 runs at 3
    /// ranks (`malloc_consolidate(): unaligned fastbin chunk`). So the package leaves MPI
    /// unfinalised instead, and the process exits without `MPI_Finalize`: MPICH's launcher ends the
    /// job with status 0 (or 9, when it kills the other ranks), Open MPI's `mpirun` with status 1,
    /// saying that the process did not finalise (in C too).
    static func waitForCallsInProgress() -> Bool {
        let start = monotonicMicroseconds()
        while callsInProgress.load(ordering: .sequentiallyConsistent) > 0 {
            let waited = Double(monotonicMicroseconds() - start) / 1e6
            if waited >= finalizeWaitSeconds {
                let n = callsInProgress.load(ordering: .relaxed)
                let open = FlightEntry.recent().filter { $0.start != 0 && $0.end == 0 && !$0.parked }.map(\.summary)
                let action = "leaving MPI unfinalised, since MPI_Finalize under a call in progress is erroneous"
                debugPrintLine("swift-mpi: rank \(worldRank): \(n) call\(n == 1 ? " is" : "s are") still in progress "
                    + "on other threads after \(formatSeconds(waited)) of finalisation"
                    + (open.isEmpty ? "" : " (\(open.joined(separator: "; ")))") + "; \(action). Complete or join "
                    + "those threads' calls before exit or MPIRuntime.finalize()")
                return false
            }
            usleep(200)
        }
        return true
    }

    /// The end of ``finalize()``, under the state's lock, once no call is in progress (or
    /// ``finalizeWaitSeconds`` have passed with `callsRemain`).
    private static func finalizeMPI(callsRemain: Bool) -> Result<Void, MPIError> {
        // Never initialised by this package: nothing to end, and no MPI call.
        guard let current = state else { return .success(()) }
        // The progress engine's poll in progress, if any, ends before MPI does; later ones see the phase.
        ProgressEngine.waitForPoll()
        state = nil
        guard !MPIRuntime.isFinalized else { return .success(()) }
        // Local: frees the package's own reduction operations. The package's
        // communicators are left to MPI_Finalize: no collective call here.
        current.halfPrecisionOps.free()
        current.unsignedOrderOps?.free()
        current.wrappingSumOps?.free()
        guard current.ownsMPI else { return .success(()) }
        if callsRemain {
            leftMPIUnfinalized.store(true, ordering: .releasing)
            return .success(())
        }
        let code = MPI_Finalize()
        return code == 0 ? .success(()) : .failure(makeMPIError(code, "MPI_Finalize"))
    }

    // MARK: The world and the default communicator

    /// ``Communicator/world``: initialises MPI if needed; when MPI cannot be used
    /// (finalised before this package used it, or failed to start), a world made
    /// without MPI whose every operation throws.
    static func worldCommunicator() -> Communicator {
        if _fastPath(phase.load(ordering: .acquiring) == 1), let state = unsafe_state() { return state.world }
        if let state = try? current() { return state.world }
        return lock.withLock { _ in
            if let lastWorld { return lastWorld }
            let launched = SwiftMPIEnvironment.launcherRankAndSize()
            let world = Communicator(unusableWorldWithRank: launched.rank, size: launched.size)
            lastWorld = world
            return world
        }
    }

    /// The default communicator, made on first use: `MPI_Comm_dup` of the world,
    /// under the lock, so that two threads racing to the first use make one.
    @usableFromInline
    static func defaultCommunicator(for operation: @autoclosure () -> String) throws(MPIError) -> Communicator {
        let state = try current(for: operation())
        let result: Result<Communicator, MPIError> = lock.withLock { _ in
            guard phase.load(ordering: .relaxed) == 1 else { return .failure(.finalized(operation: operation())) }
            if let made = state.madeDefaultCommunicator { return .success(made) }
            let made: Communicator
            do throws(MPIError) {
                made = try state.world.duplicateWithoutCheck(ownership: .library)
            } catch {
                return .failure(error)
            }
            state.madeDefaultCommunicator = made
            defaultCommunicatorFastPath = made.resolved
            defaultCommunicatorIsReady.store(true, ordering: .releasing)
            return .success(made)
        }
        return try result.get()
    }

    /// Whether the default communicator has been made (for tests).
    static var hasMadeDefaultCommunicator: Bool { lock.withLock { _ in state?.madeDefaultCommunicator != nil } }

    /// The error for an operation on a communicator while MPI cannot be used: the
    /// error that stopped MPI from starting, or ``MPIError/finalized(operation:)``.
    @usableFromInline @inline(never)
    static func unusableError(_ operation: String) -> MPIError {
        lock.withLock { _ in initError } ?? .finalized(operation: operation)
    }

    /// Whether MPI is initialised and not finalised.
    @usableFromInline
    static func phaseIsInitialized() -> Bool { phase.load(ordering: .acquiring) == 1 }

    /// Counts a call into MPI as in progress and returns whether MPI is initialised and not
    /// finalised. When it returns `true`, the caller makes its MPI calls, then calls
    /// ``leaveCall()``; when `false`, it makes none (and does not call ``leaveCall()``).
    ///
    /// The count is taken before the phase is read, both sequentially consistent, as
    /// ``finalize()``'s store of the phase and its read of the count: so either the call sees
    /// finalisation and calls nothing, or finalisation sees the call and waits for it
    /// (``waitForCallsInProgress()``). A check of the phase alone, then the call, let a call that
    /// another thread started during finalisation reach MPI after `MPI_Finalize` (an abort on
    /// Open MPI, "after finalizing MPICH" on MPICH). On x86-64 this is two locked additions per call.
    @inlinable @inline(__always)
    static func enterCall() -> Bool {
        callsInProgress.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if _fastPath(phase.load(ordering: .sequentiallyConsistent) == 1) { return true }
        callsInProgress.wrappingSubtract(1, ordering: .releasing)
        return false
    }

    /// Runs `body`, MPI calls that free handles (a deinitialiser's, say), as a call in progress
    /// (``enterCall()``) while MPI is initialised and not finalised (also outside the package:
    /// `MPI_Finalized`); otherwise does nothing, since `MPI_Finalize` has freed the handles.
    static func whileActive(_ body: () -> Void) {
        guard enterCall() else { return }
        defer { leaveCall() }
        guard !MPIRuntime.isFinalized else { return }
        body()
    }

    /// ``enterCall()`` for an entry point that calls MPI: an operation's core (`perform`), or a call
    /// outside it (a communicator's making or freeing, a topology query, a plan's set-up). Throws what the
    /// operation throws when MPI cannot be used (``MPIError/finalized(operation:)``); the caller
    /// then `defer`s ``leaveCall()``.
    @inlinable @inline(__always)
    static func enterCall(for operation: @autoclosure () -> String) throws(MPIError) {
        guard _fastPath(enterCall()) else { throw unusableError(operation()) }
    }

    /// The end of a call admitted by ``enterCall()``.
    @inlinable @inline(__always)
    static func leaveCall() {
        callsInProgress.wrappingSubtract(1, ordering: .releasing)
    }

    /// Whether the library-owned handles may still be freed.
    static var isActive: Bool { phase.load(ordering: .acquiring) == 1 && !MPIRuntime.isFinalized }
}

extension RuntimeState {
    /// Whether operations may run: MPI initialised and not finalised. One atomic load.
    @usableFromInline
    static var isUsable: Bool { phaseIsInitialized() }
}
