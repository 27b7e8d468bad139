import CMPI
import Synchronization

/// An MPI intra-communicator: a group of processes that communicate with each other.
///
/// `Communicator` is a value type over an MPI handle. ``rank`` and ``size`` are
/// read once, when the communicator is made, so reading them costs nothing.
///
/// Every communicator that the package makes or uses returns errors to the
/// caller (`MPI_ERRORS_RETURN`) instead of aborting the job.
///
/// Every primitive takes a `comm:` argument. When it is `nil` the primitive uses
/// ``default``, a duplicate of the world that the package makes on its first
/// use, so the package's messages never match messages that other code
/// exchanges on `MPI_COMM_WORLD`.
///
/// ## Freeing
///
/// A communicator made by ``duplicate()`` or ``split(color:key:)-(Int,_)`` is freed
/// (`MPI_Comm_free`) when the last copy of the value goes away, or earlier by
/// ``free()``. Swift releases values deterministically: the last copy goes
/// away at the end of its scope (or after its last use), which is the same
/// program point on every rank when every rank runs the same code, as it does
/// around a collective that made the communicator. So a loop that makes and
/// drops communicators frees each one before it makes the next, and never runs
/// out of them. The MPI standard calls `MPI_Comm_free` collective, but only
/// marks the communicator for deallocation once its pending operations end, and
/// Open MPI 4.1 and MPICH 4.0 free locally (measured: one rank's `MPI_Comm_free`
/// returns at once while the others have not called it yet). A request still
/// in flight on a communicator whose last copy goes away, or that ``free()``
/// frees, completes as in MPI: the request keeps the communicator, whose handle
/// is freed when the last request on it has completed (Open MPI 4.1 frees a
/// communicator under a started non-blocking collective, whose completion then
/// crashes, in C too), and a non-blocking receive that has not matched yet (the
/// package probes it, so MPI does not know it) keeps the handle until it has
/// matched. A call in progress on another thread when ``free()`` is called
/// keeps the handle too, until it returns.
/// Call ``free()`` where the last copy's lifetime differs between ranks (for
/// example a copy kept in a cache on some ranks only), or to free at a point of
/// your choice. Dropping the last copy may happen on any thread: at
/// ``ThreadLevel/serialized`` the free is serialised with the package's other
/// MPI calls, and below it a copy dropped on another thread than MPI's main
/// thread is freed at that thread's next call.
///
/// Nothing is freed once MPI is finalised: communicators still alive then, and
/// the package's own ``default``, are left to `MPI_Finalize` (the package
/// makes no collective call before finalising). ``world``, ``default`` and
/// communicators wrapped with ``init(handle:)`` are never freed by this package.
public struct Communicator: Sendable, Hashable, CustomStringConvertible {
    @usableFromInline let storage: CommunicatorStorage

    /// This process's rank in the communicator, in `0..<size`.
    ///
    /// The corresponding C function is `MPI_Comm_rank`.
    public let rank: Int

    /// The number of processes in the communicator.
    ///
    /// The corresponding C function is `MPI_Comm_size`.
    public let size: Int

    /// The underlying MPI handle: valid while any copy of this value exists, it
    /// has not been freed by ``free()`` (after which it is `MPI_COMM_NULL`), and
    /// MPI is not finalised.
    @inlinable public var handle: MPI_Comm { storage.handle }

    /// All processes of the job (`MPI_COMM_WORLD`), with errors returned rather than aborting.
    ///
    /// Reading it initialises MPI if needed; it never stops the process. After
    /// ``MPIRuntime/finalize()`` it is still the same value, and every operation
    /// on it throws ``MPIError/finalized(operation:)``.
    ///
    /// When MPI cannot be asked, because ``MPIRuntime/finalize()`` was called
    /// before any use of MPI (which makes no MPI call), other code finalised MPI
    /// before this package used it, or MPI failed to start, it is a value whose
    /// ``rank`` and ``size`` are those the launcher announced (`OMPI_COMM_WORLD_RANK`
    /// and `OMPI_COMM_WORLD_SIZE` from Open MPI's `mpirun`, `PMI_RANK` and
    /// `PMI_SIZE` from MPICH's Hydra, `SLURM_PROCID` and `SLURM_NTASKS` from
    /// Slurm; rank 0 of 1 without a launcher, as `MPI_Init` would give), and on
    /// which every operation throws: ``MPIError/finalized(operation:)``, or the
    /// error that stopped MPI from starting. Call ``MPIRuntime/initialize(threadLevel:)``
    /// first to receive a failure to start as a thrown error.
    public static var world: Communicator { RuntimeState.worldCommunicator() }

    /// The communicator that primitives use when `comm:` is `nil`: a duplicate
    /// of ``world`` (`MPI_Comm_dup`), private to this package.
    ///
    /// It is made on its first use, by this property or by a primitive called
    /// with `comm: nil`, not when MPI is set up: `MPI_Comm_dup` is collective, and
    /// a program that never uses it must not make a collective call it did not
    /// ask for (a rank of a C program sharing `MPI_COMM_WORLD` would not match
    /// it). So the first use is collective over the world: every rank must make
    /// it, as with any collective. Two threads that race to the first use get
    /// the same communicator. It is never freed by this package: `MPI_Finalize`
    /// frees it.
    ///
    /// - Throws: ``MPIError/finalized(operation:)`` after finalisation, the
    ///   error from initialising MPI, or the MPI error of `MPI_Comm_dup`.
    public static var `default`: Communicator {
        get throws(MPIError) { try RuntimeState.defaultCommunicator(for: "Communicator.default") }
    }

    /// Wraps a handle that this package does not own (never freed).
    init(borrowing handle: MPI_Comm) throws(MPIError) {
        try self.init(storage: CommunicatorStorage(handle: handle, ownership: .borrowed))
    }

    /// The world when MPI cannot be asked: `rank` and `size` as the launcher announced them.
    init(unusableWorldWithRank rank: Int, size: Int) {
        self.storage = CommunicatorStorage(handle: swiftmpi_comm_world(), ownership: .borrowed)
        self.rank = rank
        self.size = size
    }

    /// Wraps an existing MPI communicator handle, for interoperability with C code.
    ///
    /// The handle is not freed by this package, and its error handler is set to
    /// `MPI_ERRORS_RETURN`. It must be an intra-communicator.
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for an
    ///   inter-communicator, or the MPI error for an invalid handle.
    public init(handle: MPI_Comm) throws(MPIError) {
        _ = try RuntimeState.current(for: "Communicator.init(handle:)")
        try admitCallingThread("Communicator.init(handle:)")
        try RuntimeState.enterCall(for: "Communicator.init(handle:)")
        defer { RuntimeState.leaveCall() }
        var isInter: Int32 = 0
        try check(locked { MPI_Comm_test_inter(handle, &isInter) }, "MPI_Comm_test_inter")
        guard isInter == 0 else {
            throw MPIError.invalidArgument(
                operation: "Communicator.init(handle:)", argument: "handle",
                expected: "an intra-communicator", actual: "an inter-communicator")
        }
        try check(locked { MPI_Comm_set_errhandler(handle, swiftmpi_errors_return()) }, "MPI_Comm_set_errhandler")
        try self.init(borrowing: handle)
    }

    init(storage: CommunicatorStorage) throws(MPIError) {
        var rank: Int32 = 0, size: Int32 = 0
        try check(locked { MPI_Comm_rank(storage.handle, &rank) }, "MPI_Comm_rank")
        try check(locked { MPI_Comm_size(storage.handle, &size) }, "MPI_Comm_size")
        self.storage = storage
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// A new communicator with the same processes and ranks, whose messages never
    /// match this one's.
    ///
    /// Collective: every process of the communicator must call it. The new
    /// communicator is freed when its last copy goes away (see ``Communicator``).
    ///
    /// - Throws: ``MPIError/finalized(operation:)`` after finalisation;
    ///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a
    ///   communicator freed by ``free()``; the MPI error if `MPI_Comm_dup` fails.
    ///
    /// The corresponding C function is `MPI_Comm_dup`.
    public func duplicate() throws(MPIError) -> Communicator {
        _ = try Communicator.resolve(self, "Communicator.duplicate")
        try RuntimeState.enterCall(for: "Communicator.duplicate")
        defer { RuntimeState.leaveCall() }
        return try duplicateWithoutCheck(ownership: .owned)
    }

    /// `MPI_Comm_dup` without the runtime check (used while the runtime makes the default communicator),
    /// recorded and watched like every collective.
    func duplicateWithoutCheck(ownership: CommunicatorStorage.Ownership) throws(MPIError) -> Communicator {
        var newHandle = swiftmpi_comm_null()
        try perform(Call(.duplicate, resolved, UInt8.self, count: 0)) { () throws(MPIError) in
            try rawCommDup(handle, &newHandle)
        }
        let made = CommunicatorStorage(handle: newHandle, ownership: ownership)
        try check(locked { MPI_Comm_set_errhandler(newHandle, swiftmpi_errors_return()) }, "MPI_Comm_set_errhandler")
        return try Communicator(storage: made)
    }

    /// Splits the communicator into disjoint sub-communicators, one per `color`.
    ///
    /// Processes that pass the same color end up in the same new communicator,
    /// ranked by `key` (ties broken by their rank in this communicator).
    /// Collective: every process of the communicator must call it. To leave a
    /// process out of every new communicator (`MPI_UNDEFINED`), call
    /// ``split(color:key:)-(Int?,_)`` with a `nil` color.
    ///
    /// A process whose `color` is negative or above `Int32.max`, or whose `key`
    /// does not fit in `Int32`, still takes part in the split, as a process
    /// with no color (so that no process is left waiting in it), and then throws.
    /// The other processes get their communicators, without it: only the
    /// process with the bad argument can know of it.
    ///
    /// - Parameters:
    ///   - color: A number in `0...Int32.max` that selects the sub-communicator.
    ///   - key: Orders the ranks within the new communicator.
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)``
    ///   for a bad color or key, on the process that passed it;
    ///   ``MPIError/finalized(operation:)`` after finalisation; the MPI error if
    ///   the split itself fails.
    ///
    /// The corresponding C function is `MPI_Comm_split`.
    public func split(color: Int, key: Int = 0) throws(MPIError) -> Communicator {
        let made = try split(
            mpiColor: color, key: key, expectedColor: "a color in 0...\(Int32.max)")
        guard let made else { preconditionFailure("MPI_Comm_split returned MPI_COMM_NULL for color \(color)") }
        return made
    }

    /// Splits the communicator into disjoint sub-communicators, one per `color`,
    /// leaving out the processes whose color is `nil`.
    ///
    /// Processes that pass the same color end up in the same new communicator,
    /// ranked by `key` (ties broken by their rank in this communicator). A
    /// process that passes `nil` takes part in the split (`MPI_UNDEFINED`) but
    /// belongs to no new communicator, and gets `nil`. Collective: every process
    /// of the communicator must call it.
    ///
    /// A process whose `color` is negative or above `Int32.max`, or whose `key`
    /// does not fit in `Int32`, takes part as a process with a `nil` color (so
    /// that no process is left waiting in the split) and then throws.
    ///
    /// - Parameters:
    ///   - color: A number in `0...Int32.max` that selects the sub-communicator,
    ///     or `nil` for none.
    ///   - key: Orders the ranks within the new communicator.
    /// - Returns: The new communicator of this process, or `nil` when `color` is `nil`.
    /// - Throws: as ``split(color:key:)-(Int,_)``.
    ///
    /// Where both this and ``split(color:key:)-(Int,_)`` apply (a color of type
    /// `Int`), Swift picks the other, so existing calls keep their non-optional result.
    ///
    /// The corresponding C function is `MPI_Comm_split`.
    @_disfavoredOverload
    public func split(color: Int?, key: Int = 0) throws(MPIError) -> Communicator? {
        try split(mpiColor: color, key: key, expectedColor: "a color in 0...\(Int32.max), or nil for no new communicator")
    }

    private func split(mpiColor color: Int?, key: Int, expectedColor: String) throws(MPIError) -> Communicator? {
        let resolved = try Communicator.resolve(self, MPIOperation.split)
        try RuntimeState.enterCall(for: MPIOperation.split.name)
        defer { RuntimeState.leaveCall() }
        var argumentError: MPIError?
        if let color, color < 0 || color > Int(Int32.max) {
            argumentError = MPIError.invalidArgument(
                operation: "Communicator.split", argument: "color", expected: expectedColor, actual: "\(color)")
        } else if key < Int(Int32.min) || key > Int(Int32.max) {
            argumentError = MPIError.invalidArgument(
                operation: "Communicator.split", argument: "key",
                expected: "a key that fits in Int32", actual: "\(key)")
        }
        // With a bad argument, this process still takes part, with no color.
        let mpiColor = argumentError == nil ? color.map { Int32($0) } ?? swiftmpi_undefined() : swiftmpi_undefined()
        let mpiKey = argumentError == nil ? Int32(key) : 0
        var newHandle = swiftmpi_comm_null()
        try perform(Call(.split, resolved, UInt8.self, count: 0)) { () throws(MPIError) in
            try rawCommSplit(handle, color: mpiColor, key: mpiKey, &newHandle)
        }
        if newHandle == swiftmpi_comm_null() {
            if let argumentError { throw argumentError }
            return nil
        }
        let made = CommunicatorStorage(handle: newHandle, ownership: .owned)
        try check(locked { MPI_Comm_set_errhandler(newHandle, swiftmpi_errors_return()) }, "MPI_Comm_set_errhandler")
        return try Communicator(storage: made)
    }

    /// Frees the communicator now (`MPI_Comm_free`), rather than when its last copy goes away.
    ///
    /// Collective in the MPI standard: every process of the communicator calls
    /// it, at the same point of the program. After it, every copy of this value
    /// refuses operations with ``MPIError/invalidArgument(operation:argument:expected:actual:)``
    /// (argument `comm`), ``handle`` is `MPI_COMM_NULL`, and ``rank`` and ``size``
    /// can still be read. Freeing a freed communicator does nothing. Requests in
    /// flight on the communicator, and calls in progress on it on other threads,
    /// complete normally: `MPI_Comm_free` is called when the last of them ends.
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for
    ///   ``world``, ``default`` and handles wrapped with ``init(handle:)``, which
    ///   this package does not free; ``MPIError/finalized(operation:)`` after
    ///   finalisation; ``MPIError/threadLevel(operation:provided:reason:)`` below
    ///   ``ThreadLevel/serialized`` on another thread than MPI's main thread; the
    ///   MPI error if `MPI_Comm_free` fails.
    ///
    /// The corresponding C function is `MPI_Comm_free`.
    public func free() throws(MPIError) {
        try RuntimeState.enterCall(for: "Communicator.free")
        defer { RuntimeState.leaveCall() }
        try admitCallingThread("Communicator.free")
        switch storage.ownership {
        case .owned:
            try storage.free()
        case .borrowed, .library:
            let what = storage.ownership == .library
                ? "the default communicator" : handle == swiftmpi_comm_world() ? "the world" : "a wrapped handle"
            throw MPIError.invalidArgument(
                operation: "Communicator.free", argument: "self",
                expected: "a communicator made by duplicate() or split(color:key:)", actual: what)
        }
    }

    /// Two communicators are equal when they are the same MPI communicator. A freed communicator
    /// equals only its own copies (not other freed ones, nor a later communicator that MPI gave
    /// the same handle).
    public static func == (lhs: Communicator, rhs: Communicator) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.storage.handle == rhs.storage.handle && lhs.storage.handle != swiftmpi_comm_null())
    }

    /// Hashes the MPI handle the communicator had when it was made, so that a hash does not change
    /// when the communicator is freed (in a `Set`, say).
    public func hash(into hasher: inout Hasher) { hasher.combine(storage.madeHandle) }

    /// For example `Communicator(rank: 0, size: 4)`.
    public var description: String { "Communicator(rank: \(rank), size: \(size))" }
}

/// Owns an MPI communicator handle and frees it when the last ``Communicator`` goes away.
@usableFromInline
final class CommunicatorStorage: @unchecked Sendable {
    /// Who frees the handle.
    enum Ownership {
        /// Made by `duplicate()` or `split`: freed by `free()` or when the last copy goes away.
        case owned
        /// The world, or a handle wrapped with `init(handle:)`: never freed by this package.
        case borrowed
        /// The package's default communicator: left to `MPI_Finalize`.
        case library
    }

    /// The handle (`MPI_COMM_NULL` once freed), stored atomically (``swiftmpi_comm_bits(_:)``), so that
    /// copies of the communicator may be used and freed on several threads at once: one `free()` frees it.
    @usableFromInline let handleBits: Atomic<Int>
    /// The handle, `MPI_COMM_NULL` once freed.
    @inlinable var handle: MPI_Comm { swiftmpi_comm_from_bits(handleBits.load(ordering: .acquiring)) }
    /// `handle` as it was made (it becomes `MPI_COMM_NULL` when freed): what ``Communicator`` hashes.
    let madeHandle: MPI_Comm
    let ownership: Ownership
    /// The topology of a communicator made by `cartesian` or `CartesianCommunicator.sub`, read
    /// once when it is made, for the neighbour collectives; `nil`: asked of MPI on each use.
    @usableFromInline let topology: RawTopology?
    /// What the flight record counts on this communicator (see ``CallCounters``).
    @usableFromInline let counters = CallCounters.make()

    /// An owned communicator's uses in progress: its calls on any thread, and its requests in flight
    /// (``beginUse(_:)``). `MPI_Comm_free` waits for the last to end (``free()``).
    let uses = Atomic<Int>(0)
    /// The handle that ``free()`` took while uses were in progress, freed by the last use to end.
    let deferredBits = Atomic<Int>(swiftmpi_comm_bits(swiftmpi_comm_null()))

    init(handle: MPI_Comm, ownership: Ownership, topology: RawTopology? = nil) {
        self.handleBits = Atomic(swiftmpi_comm_bits(handle))
        self.madeHandle = handle
        self.ownership = ownership
        self.topology = topology
        // Unretained: the counters live as long as the storage (``CallCounters/owned``).
        if ownership == .owned { counters.words[4] = Int(bitPattern: Unmanaged.passUnretained(self).toOpaque()) }
    }

    /// Takes the handle, leaving `MPI_COMM_NULL`: of calls on several threads at once, one gets it.
    private func takeHandle() -> MPI_Comm {
        swiftmpi_comm_from_bits(
            handleBits.exchange(swiftmpi_comm_bits(swiftmpi_comm_null()), ordering: .sequentiallyConsistent))
    }

    /// Takes the handle that ``free()`` left for the last use to free, if any.
    private func takeDeferredHandle() -> MPI_Comm {
        swiftmpi_comm_from_bits(
            deferredBits.exchange(swiftmpi_comm_bits(swiftmpi_comm_null()), ordering: .sequentiallyConsistent))
    }

    /// Frees an owned handle; does nothing when it is already freed (also by a `free()` at the same
    /// time on another thread). While calls on other threads or requests in flight use it, the handle
    /// is only taken (so that no later call gets it), and the last of them frees it: MPI lets a
    /// program free a communicator with operations pending on it, but Open MPI 4.1 frees the
    /// communicator under a started non-blocking collective, whose completion then crashes, and a
    /// call on another thread would pass MPI a freed handle.
    func free() throws(MPIError) {
        guard ownership == .owned else { return }
        var taken = takeHandle()
        guard taken != swiftmpi_comm_null() else { return }
        // Sequentially consistent, with beginUse's count and load: a use that began before the handle was
        // taken is counted here, and one that begins after it sees it taken.
        if uses.load(ordering: .sequentiallyConsistent) > 0 {
            deferredBits.store(swiftmpi_comm_bits(taken), ordering: .sequentiallyConsistent)
            guard uses.load(ordering: .sequentiallyConsistent) == 0 else { return }  // the last use frees it
            taken = takeDeferredHandle()
            guard taken != swiftmpi_comm_null() else { return }  // it did already
        }
        try check(rawCommFree(&taken), "MPI_Comm_free")
    }

    /// Counts a call or a request on this (owned) communicator until ``endUse()``; throws when it has
    /// been freed since the caller resolved it (by `free()` on another thread).
    @usableFromInline
    func beginUse(_ operation: @autoclosure () -> String) throws(MPIError) {
        uses.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if _slowPath(handleBits.load(ordering: .sequentiallyConsistent) == swiftmpi_comm_bits(swiftmpi_comm_null())) {
            endUse()
            throw Communicator.freedCommunicatorError(operation())
        }
    }

    /// Ends a use that ``beginUse(_:)`` counted; the last use after a ``free()`` frees the handle.
    @usableFromInline
    func endUse() {
        let remaining = uses.wrappingSubtract(1, ordering: .sequentiallyConsistent).newValue
        if _slowPath(remaining == 0
                     && deferredBits.load(ordering: .sequentiallyConsistent) != swiftmpi_comm_bits(swiftmpi_comm_null())) {
            var taken = takeDeferredHandle()
            if taken != swiftmpi_comm_null() { RuntimeState.whileActive { _ = rawCommFree(&taken) } }
        }
    }

    deinit {
        if ownership == .owned {
            // No use is in progress: calls hold a copy of the communicator, and requests the storage.
            var taken = takeHandle()
            if taken == swiftmpi_comm_null() { taken = takeDeferredHandle() }
            if taken != swiftmpi_comm_null() { RuntimeState.whileActive { rawCommFree(&taken) } }
        }
        counters.deallocate()
    }
}

/// What an operation needs of a communicator during one call: a trivial value
/// (no reference counting), valid while the caller holds the ``Communicator``,
/// or for the process's life for the default communicator.
@usableFromInline
struct ResolvedCommunicator {
    @usableFromInline let handle: MPI_Comm
    @usableFromInline let rank: Int
    @usableFromInline let size: Int
    /// The communicator's call counters, for the flight record.
    @usableFromInline let counters: CallCounters

    @inlinable
    init(handle: MPI_Comm, rank: Int, size: Int, counters: CallCounters) {
        self.handle = handle
        self.rank = rank
        self.size = size
        self.counters = counters
    }

    /// The storage of a communicator that the package frees (``CallCounters/owned``).
    @inlinable var owned: Unmanaged<CommunicatorStorage>? { counters.owned }

    /// Runs `body`, MPI calls on this communicator outside an operation's `perform` (a topology query,
    /// a persistent plan's set-up), as a use of it where the package frees it
    /// (``CommunicatorStorage/beginUse(_:)``), so that a `free()` on another thread waits for them.
    @inlinable
    func inUse<R>(_ operation: @autoclosure () -> String, _ body: () throws(MPIError) -> R) throws(MPIError) -> R {
        guard let owned else { return try body() }
        try owned.takeUnretainedValue().beginUse(operation())
        defer { endUse(owned) }
        return try body()
    }

    /// Checks that `value` names a process of this communicator.
    @inlinable
    func checkRank(_ value: Int, _ argument: StaticString, _ operation: MPIOperation) throws(MPIError) {
        if _slowPath(value < 0 || value >= size) {
            throw MPIError.rankOutOfRange(operation: operation.name, argument: "\(argument)", rank: value, size: size)
        }
    }
}

/// The default communicator, once it has been made.
///
/// Written once, under the runtime's lock, when the default communicator is
/// made (on its first use), before ``defaultCommunicatorIsReady`` is set; read
/// without the lock by operations called with `comm: nil`, only after they saw
/// ``defaultCommunicatorIsReady`` set.
@exclusivity(unchecked) @usableFromInline nonisolated(unsafe) var defaultCommunicatorFastPath: ResolvedCommunicator? = nil

/// Whether ``defaultCommunicatorFastPath`` may be used: set (with release
/// ordering) when the default communicator is made, cleared at finalisation.
/// The hot path of `comm: nil` is one acquiring load of it (a plain load on
/// x86-64 and arm64) and then the load of ``defaultCommunicatorFastPath``.
@usableFromInline let defaultCommunicatorIsReady = Atomic<Bool>(false)

extension Communicator {
    /// This communicator's handle, rank and size, for the duration of a call.
    @inlinable
    var resolved: ResolvedCommunicator {
        ResolvedCommunicator(handle: storage.handle, rank: rank, size: size, counters: storage.counters)
    }

    /// Resolves an operation's `comm: nil` to the default communicator, and checks that MPI is usable.
    @inlinable @inline(__always)
    static func resolve(_ comm: Communicator?, _ operation: MPIOperation) throws(MPIError) -> ResolvedCommunicator {
        try resolve(comm, operation.name)
    }

    /// Resolves `comm: nil` to the default communicator (made on the first such
    /// call), and checks that MPI is usable and that `comm` has not been freed.
    @inlinable
    static func resolve(
        _ comm: Communicator?, _ operation: @autoclosure () -> String
    ) throws(MPIError) -> ResolvedCommunicator {
        if let comm {
            if _slowPath(!RuntimeState.isUsable) { throw RuntimeState.unusableError(operation()) }
            let resolved = comm.resolved
            if _slowPath(resolved.handle == swiftmpi_comm_null()) { throw freedCommunicatorError(operation()) }
            return resolved
        }
        if _fastPath(defaultCommunicatorIsReady.load(ordering: .acquiring)) {
            return defaultCommunicatorFastPath.unsafelyUnwrapped
        }
        return try RuntimeState.defaultCommunicator(for: operation()).resolved
    }

    /// The error for an operation on a communicator freed by ``free()``.
    @usableFromInline @inline(never)
    static func freedCommunicatorError(_ operation: String) -> MPIError {
        .invalidArgument(
            operation: operation, argument: "comm", expected: "a communicator that has not been freed",
            actual: "a communicator freed by free()")
    }
}
