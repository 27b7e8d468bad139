import CMPI

/// An MPI intra-communicator: a group of processes that communicate with each other.
///
/// `Communicator` is a value type over an MPI handle. ``rank`` and ``size`` are
/// read once, when the communicator is made, so reading them costs nothing.
/// Communicators that this package makes (``duplicate()``, ``split(color:key:)``)
/// are freed when the last copy of the value goes away; ``world`` is never freed.
///
/// Every communicator that the package makes or uses returns errors to the
/// caller (`MPI_ERRORS_RETURN`) instead of aborting the job.
///
/// Every primitive takes a `comm:` argument. When it is `nil` the primitive uses
/// ``default``, a clone of the world made once per process, so the package's
/// messages never match messages that other code exchanges on `MPI_COMM_WORLD`.
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

    /// The underlying MPI handle. Valid while any copy of this value exists and MPI is not finalised.
    @inlinable public var handle: MPI_Comm { storage.handle }

    /// All processes of the job (`MPI_COMM_WORLD`), with errors returned rather than aborting.
    ///
    /// Reading it initialises MPI if needed. After finalisation it is still the
    /// same value, and every operation on it throws ``MPIError/finalized(operation:)``.
    /// Only if MPI cannot be initialised at all (the library fails to start, or
    /// other code finalised MPI before this package ever used it) does reading it
    /// stop the process with MPI's error; call ``MPIRuntime/initialize(threadLevel:)``
    /// first to receive that case as a thrown error instead.
    public static var world: Communicator {
        if let world = RuntimeState.lastWorld { return world }
        do {
            return try RuntimeState.current().world
        } catch {
            fatalError("swift-mpi: cannot use MPI_COMM_WORLD: \(error)")
        }
    }

    /// The communicator that primitives use when `comm:` is `nil`: a clone of
    /// ``world``, created once per process, private to this package.
    ///
    /// - Throws: ``MPIError/finalized(operation:)`` after finalisation, or the
    ///   error from initialising MPI.
    public static var `default`: Communicator {
        get throws(MPIError) { try RuntimeState.current(for: "Communicator.default").defaultCommunicator }
    }

    /// Wraps a handle that this package does not own (never freed).
    init(borrowing handle: MPI_Comm) throws(MPIError) {
        try self.init(storage: CommunicatorStorage(handle: handle, owned: false))
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

    private init(storage: CommunicatorStorage) throws(MPIError) {
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
    /// Collective: every process of the communicator must call it.
    ///
    /// The corresponding C function is `MPI_Comm_dup`.
    public func duplicate() throws(MPIError) -> Communicator {
        _ = try RuntimeState.current(for: "Communicator.duplicate")
        return try duplicateWithoutCheck()
    }

    /// `MPI_Comm_dup` without the runtime check (used while the runtime is being set up).
    func duplicateWithoutCheck() throws(MPIError) -> Communicator {
        var newHandle = swiftmpi_comm_null()
        try rawCommDup(handle, &newHandle)
        let owned = CommunicatorStorage(handle: newHandle, owned: true)
        try check(locked { MPI_Comm_set_errhandler(newHandle, swiftmpi_errors_return()) }, "MPI_Comm_set_errhandler")
        return try Communicator(storage: owned)
    }

    /// Splits the communicator into disjoint sub-communicators, one per `color`.
    ///
    /// Processes that pass the same color end up in the same new communicator,
    /// ranked by `key` (ties broken by their rank in this communicator).
    /// Collective: every process of the communicator must call it.
    ///
    /// - Parameters:
    ///   - color: A non-negative number that selects the sub-communicator.
    ///   - key: Orders the ranks within the new communicator.
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a
    ///   negative or too large color, on the calling rank, before communicating;
    ///   the MPI error if the split itself fails.
    ///
    /// The corresponding C function is `MPI_Comm_split`.
    public func split(color: Int, key: Int = 0) throws(MPIError) -> Communicator {
        _ = try RuntimeState.current(for: "Communicator.split")
        guard color >= 0, color <= Int(Int32.max) else {
            throw MPIError.invalidArgument(
                operation: "Communicator.split", argument: "color",
                expected: "a color in 0...\(Int32.max)", actual: "\(color)")
        }
        guard key >= Int(Int32.min), key <= Int(Int32.max) else {
            throw MPIError.invalidArgument(
                operation: "Communicator.split", argument: "key",
                expected: "a key that fits in Int32", actual: "\(key)")
        }
        var newHandle = swiftmpi_comm_null()
        try rawCommSplit(handle, color: Int32(color), key: Int32(key), &newHandle)
        let owned = CommunicatorStorage(handle: newHandle, owned: true)
        try check(locked { MPI_Comm_set_errhandler(newHandle, swiftmpi_errors_return()) }, "MPI_Comm_set_errhandler")
        return try Communicator(storage: owned)
    }

    /// Two communicators are equal when they are the same MPI communicator.
    public static func == (lhs: Communicator, rhs: Communicator) -> Bool { lhs.storage.handle == rhs.storage.handle }

    /// Hashes the MPI handle.
    public func hash(into hasher: inout Hasher) { hasher.combine(storage.handle) }

    /// For example `Communicator(rank: 0, size: 4)`.
    public var description: String { "Communicator(rank: \(rank), size: \(size))" }
}

/// Owns an MPI communicator handle and frees it when the last ``Communicator`` goes away.
@usableFromInline
final class CommunicatorStorage: @unchecked Sendable {
    @usableFromInline private(set) var handle: MPI_Comm
    private let owned: Bool
    /// What the flight record counts on this communicator (see ``CallCounters``).
    @usableFromInline let counters = CallCounters.make()

    init(handle: MPI_Comm, owned: Bool) {
        self.handle = handle
        self.owned = owned
    }

    /// Frees an owned handle now (used when finalising).
    func free() {
        guard owned, handle != swiftmpi_comm_null(), !MPIRuntime.isFinalized else { return }
        rawCommFree(&handle)
    }

    deinit {
        if owned, RuntimeState.isActive, handle != swiftmpi_comm_null() {
            rawCommFree(&handle)
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

    /// Checks that `value` names a process of this communicator.
    @inlinable
    func checkRank(_ value: Int, _ argument: StaticString, _ operation: MPIOperation) throws(MPIError) {
        if _slowPath(value < 0 || value >= size) {
            throw MPIError.rankOutOfRange(operation: operation.name, argument: "\(argument)", rank: value, size: size)
        }
    }
}

/// The default communicator while MPI is initialised and not finalised, else `nil`.
///
/// Written under the runtime's lock when MPI is set up and when it is
/// finalised; read without the lock by every operation (one load).
@exclusivity(unchecked) @usableFromInline nonisolated(unsafe) var defaultCommunicatorFastPath: ResolvedCommunicator? = nil

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

    /// Resolves `comm: nil` to the default communicator, and checks that MPI is usable.
    @inlinable
    static func resolve(
        _ comm: Communicator?, _ operation: @autoclosure () -> String
    ) throws(MPIError) -> ResolvedCommunicator {
        if let comm {
            if _slowPath(!RuntimeState.isUsable) { throw MPIError.finalized(operation: operation()) }
            return comm.resolved
        }
        if _fastPath(defaultCommunicatorFastPath != nil) { return defaultCommunicatorFastPath.unsafelyUnwrapped }
        return try RuntimeState.current(for: operation()).defaultCommunicator.resolved
    }
}
