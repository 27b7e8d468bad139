import CMPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The flight record: every call of every operation is written, when it starts
// and when it ends, into a small ring of the process's last calls. It is always
// on, and costs a few stores and one atomic increment per call. The calls write
// their slots while the watchdog's thread reads them, so every field of a slot
// is an atomic word, written and read with relaxed ordering (plain loads and
// stores on x86-64 and arm64), and each slot's serial is a sequence lock that
// tells the reader when it copied a slot being rewritten. While the
// watchdog runs, a call's start and end are the watchdog's latest reading of the
// coarse monotonic clock, which its thread publishes at each check (see
// `FlightRecorder.now(_:)`); with the watchdog off, each reads the clock itself.
// The watchdog reads the record to say where a rank is stuck, and the debug log
// prints the same entries.

/// The counters of one communicator: its collective calls so far, its id in the flight record, and
/// the lock that orders its collectives while the cross-rank check is on.
///
/// Owned by the communicator's storage; a trivial value that points at five words: the collectives
/// begun, the id, the lock's address, the collectives checked across ranks under the lock, and the
/// storage's address when the package frees the communicator (``owned``), else 0.
@usableFromInline
struct CallCounters {
    @usableFromInline let words: UnsafeMutablePointer<Int>

    /// The id that the next communicator gets: 0 is the world, 1 the default communicator, in the usual order.
    nonisolated(unsafe) private static var nextID = 0

    /// Counts a collective of the communicator and returns its number (1 for the first).
    ///
    /// MPI requires the collectives of a communicator to be called in the same order on every process,
    /// so a program that starts two at once from different threads is erroneous; the count is then
    /// only approximate (relaxed load and store, no lock), but reading and writing it is no data race.
    @inline(__always)
    func countCollective() -> Int {
        let next = swiftmpi_atomic_load_long(words) + 1
        swiftmpi_atomic_store_long(words, next)
        return next
    }

    static func make() -> CallCounters {
        let words = UnsafeMutablePointer<Int>.allocate(capacity: 5)
        words[0] = 0
        words[3] = 0
        words[4] = 0
        words[1] = swiftmpi_atomic_increment(&nextID)
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(lock, &attributes)
        pthread_mutexattr_destroy(&attributes)
        words[2] = Int(bitPattern: lock)
        return CallCounters(words: words)
    }

    @usableFromInline init(words: UnsafeMutablePointer<Int>) { self.words = words }

    func deallocate() {
        pthread_mutex_destroy(collectiveLock)
        collectiveLock.deallocate()
        words.deallocate()
    }

    /// The communicator's id in the flight record.
    @inlinable var id: Int { words[1] }

    /// The storage of a communicator that the package frees (made by `duplicate`, `split`, `cartesian`),
    /// whose calls and requests count as its uses (``CommunicatorStorage/beginUse(_:)``); `nil` for the
    /// world, the default communicator and wrapped handles. Kept here rather than in
    /// ``ResolvedCommunicator``, which a larger size kept `Communicator.resolve` out of line (callgrind,
    /// 1 rank, 8 B: `allreduce(x, into:)` 32 instructions more per call).
    @inlinable var owned: Unmanaged<CommunicatorStorage>? {
        guard let raw = UnsafeRawPointer(bitPattern: words[4]) else { return nil }
        return Unmanaged.fromOpaque(raw)
    }

    /// Held by a collective call of the communicator from its start to its return while the
    /// cross-rank check is on (recursive: a collective that calls another on the same communicator
    /// takes it again). See ``holdCollectiveOrder(_:)``.
    var collectiveLock: UnsafeMutablePointer<pthread_mutex_t> {
        UnsafeMutablePointer(bitPattern: words[2])!
    }
}

/// With the cross-rank check on, takes the collective lock of the communicator of `call`, a
/// collective; ``releaseCollectiveOrder(_:)`` gives it back when the call returns.
///
/// MPI matches the collectives of a communicator in the order each process calls them. Tasks that
/// call collectives on one communicator at once (two `async let` of non-blocking collectives, say)
/// call them in whatever order the tasks happen to run, which can differ between ranks; MPI then
/// matches the wrong calls, without an error. The check's exchange is itself a collective on the
/// communicator, so unordered it could be matched the same wrong way and miss this. Under the lock,
/// each process numbers, checks and starts (or, for a blocking call, completes) its collectives of a
/// communicator one at a time, so the check compares the n-th collective of every rank with the n-th
/// of every other and reports the mismatch on every rank. Off (the default), nothing is taken.
///
/// Returns the call's number among the communicator's collectives checked so far, counted under
/// the lock (the flight record's number is counted before it, in the order the calls began).
func holdCollectiveOrder(_ call: Call) -> Int {
    pthread_mutex_lock(call.comm.counters.collectiveLock)
    call.comm.counters.words[3] += 1
    return call.comm.counters.words[3]
}

/// Gives back the lock that ``holdCollectiveOrder(_:)`` took.
@usableFromInline
func releaseCollectiveOrder(_ counters: CallCounters) {
    pthread_mutex_unlock(counters.collectiveLock)
}

/// One call in the flight record: a copy of a slot (``FlightSlot``), for the watchdog and the debug log.
@usableFromInline
struct FlightEntry {
    /// When the call started, in coarse monotonic nanoseconds; 0 for an unused entry.
    var start: UInt64 = 0
    /// When the call ended; 0 while it is in progress.
    var end: UInt64 = 0
    var scalarType: Any.Type? = nil
    var count = 0
    /// The collective's number on its communicator (1 for the first), or 0 for point-to-point calls.
    var sequence = 0
    var communicator = 0
    var communicatorSize: Int32 = 0
    var rank: Int32 = 0
    var root: Int32 = -1
    var peer: Int32 = -1
    var tag: Int32 = -1
    var operation: UInt8 = 0
    /// The reduction's kind, or 255.
    var op: UInt8 = 255
    var failed = false
    /// The call's number among all calls recorded: tells a call from a later one in the same slot.
    var serial = 0
    /// Whether the call is a request's operation in flight that nobody waits for yet: not stuck,
    /// whatever its age (the watchdog skips it until a wait begins, see ``waitBegins(_:)``).
    var parked = false
    /// Whether the call is in the cross-rank check's agreement (`SWIFT_MPI_CHECK=1`), which waits for
    /// every rank of the communicator to start its collective: set and cleared around the agreement
    /// by `diagnose`.
    var agreeing = false
    /// Whether a non-blocking form started the call (a request's operation). MPI never matches a
    /// blocking collective with a non-blocking one, so the watchdog's lines say which form each rank used.
    var nonBlocking = false

    @usableFromInline init() {}

    /// The entry of `call`, the collective number `sequence` on its communicator (0 for point-to-point
    /// calls), before it starts.
    @inline(__always)
    init(_ call: Call, sequence: Int) {
        scalarType = call.scalarType
        count = call.count
        self.sequence = sequence
        communicator = call.comm.counters.id
        communicatorSize = Int32(truncatingIfNeeded: call.comm.size)
        rank = Int32(truncatingIfNeeded: call.comm.rank)
        root = Int32(truncatingIfNeeded: call.root)
        peer = Int32(truncatingIfNeeded: call.peer)
        tag = Int32(truncatingIfNeeded: call.tag)
        operation = call.operation.rawValue
        op = call.op?.kind.rawValue ?? 255
    }

    /// A copy of `slot`'s fields (relaxed loads; `end` first, with acquire ordering, so that an
    /// entry seen ended carries the `failed` of its end).
    init(_ slot: borrowing FlightSlot) {
        end = slot.end.load(ordering: .acquiring)
        start = slot.start.load(ordering: .relaxed)
        let bits = slot.scalarType.load(ordering: .relaxed)
        scalarType = bits == 0 ? nil : unsafeBitCast(bits, to: Any.Type.self)
        count = slot.count.load(ordering: .relaxed)
        sequence = slot.sequence.load(ordering: .relaxed)
        communicator = slot.communicator.load(ordering: .relaxed)
        communicatorSize = slot.communicatorSize.load(ordering: .relaxed)
        rank = slot.rank.load(ordering: .relaxed)
        root = slot.root.load(ordering: .relaxed)
        peer = slot.peer.load(ordering: .relaxed)
        tag = slot.tag.load(ordering: .relaxed)
        operation = slot.operation.load(ordering: .relaxed)
        op = slot.op.load(ordering: .relaxed)
        failed = slot.failed.load(ordering: .relaxed)
        serial = slot.serial.load(ordering: .relaxed)
        parked = slot.parked.load(ordering: .relaxed)
        agreeing = slot.agreeing.load(ordering: .relaxed)
        nonBlocking = slot.nonBlocking.load(ordering: .relaxed)
    }
}

/// One slot of the ring: the fields of a ``FlightEntry``, each an atomic word.
///
/// A call writes its slot while the watchdog's thread may read it, and when more calls are in flight
/// than the ring holds, two calls can write one slot; so every field is atomic (relaxed: a plain load or
/// store on x86-64 and arm64), which makes the record free of data races without a lock. `serial` is a
/// sequence lock for the reader: ``recordStart(_:)`` sets it to -1 before it writes the fields and to
/// the call's serial after, and ``FlightEntry/recent()`` keeps a copy only when the serial it read
/// before the fields is the one it reads after. The later single-field updates (the end, `parked`,
/// `agreeing`, a wait's new start) are made by the slot's call only while the slot's serial is still its
/// own (``FlightRecordEntry/isOwn``).
///
/// What this does not exclude, to keep each call free of locks and of atomic read-modify-writes beyond the
/// one increment: a writer is not exclusive. If a call is preempted in the middle of writing its slot for
/// as long as it takes 64 other calls to start, the two writers' fields can mix, and a flag checked and
/// then stored can land on the later call's entry. The record is a diagnostic, and it stays free of data
/// races either way.
@usableFromInline
struct FlightSlot: ~Copyable {
    let serial = Atomic<Int>(0)
    let start = Atomic<UInt64>(0)
    let end = Atomic<UInt64>(0)
    /// The bits of the element type (an `Any.Type`), or 0.
    let scalarType = Atomic<UInt>(0)
    let count = Atomic<Int>(0)
    let sequence = Atomic<Int>(0)
    let communicator = Atomic<Int>(0)
    let communicatorSize = Atomic<Int32>(0)
    let rank = Atomic<Int32>(0)
    let root = Atomic<Int32>(-1)
    let peer = Atomic<Int32>(-1)
    let tag = Atomic<Int32>(-1)
    let operation = Atomic<UInt8>(0)
    let op = Atomic<UInt8>(255)
    let failed = Atomic<Bool>(false)
    let parked = Atomic<Bool>(false)
    let agreeing = Atomic<Bool>(false)
    let nonBlocking = Atomic<Bool>(false)

    init() {}

    /// Writes `entry` with `serial` and `start`, running and not parked, under the sequence lock: the
    /// serial -1, the fields, then `serial`.
    @inline(__always)
    func write(_ entry: FlightEntry, serial: Int, start: UInt64) {
        self.serial.store(-1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        self.start.store(start, ordering: .relaxed)
        end.store(0, ordering: .relaxed)
        scalarType.store(entry.scalarType.map { unsafeBitCast($0, to: UInt.self) } ?? 0, ordering: .relaxed)
        count.store(entry.count, ordering: .relaxed)
        sequence.store(entry.sequence, ordering: .relaxed)
        communicator.store(entry.communicator, ordering: .relaxed)
        communicatorSize.store(entry.communicatorSize, ordering: .relaxed)
        rank.store(entry.rank, ordering: .relaxed)
        root.store(entry.root, ordering: .relaxed)
        peer.store(entry.peer, ordering: .relaxed)
        tag.store(entry.tag, ordering: .relaxed)
        operation.store(entry.operation, ordering: .relaxed)
        op.store(entry.op, ordering: .relaxed)
        failed.store(entry.failed, ordering: .relaxed)
        parked.store(false, ordering: .relaxed)
        agreeing.store(entry.agreeing, ordering: .relaxed)
        nonBlocking.store(entry.nonBlocking, ordering: .relaxed)
        self.serial.store(serial, ordering: .releasing)
    }
}

/// A call's slot in the flight record and the call's serial there: what the call writes its end and
/// flags through, while the slot is still its own.
@usableFromInline
struct FlightRecordEntry {
    @usableFromInline let slot: UnsafeMutablePointer<FlightSlot>
    @usableFromInline let serial: Int

    @inlinable init(slot: UnsafeMutablePointer<FlightSlot>, serial: Int) {
        self.slot = slot
        self.serial = serial
    }

    /// Whether the ring has not given the slot to a later call.
    var isOwn: Bool { slot.pointee.serial.load(ordering: .relaxed) == serial }

    /// Marks the call as in the cross-rank check's agreement, or no longer.
    func setAgreeing(_ agreeing: Bool) {
        if isOwn { slot.pointee.agreeing.store(agreeing, ordering: .relaxed) }
    }

    /// Marks the call as parked: a request's operation nobody waits for yet (``restart()`` undoes it),
    /// started by a non-blocking form.
    func park() {
        guard isOwn else { return }
        slot.pointee.parked.store(true, ordering: .relaxed)
        slot.pointee.nonBlocking.store(true, ordering: .relaxed)
    }

    /// A wait for the call begins: its start is now, and it is no longer parked. Returns `false`, and
    /// writes nothing, when the ring has given the slot to a later call.
    func restart() -> Bool {
        guard isOwn, let written = flightRecorder.written else { return false }
        slot.pointee.start.store(FlightRecorder.now(written), ordering: .relaxed)
        slot.pointee.parked.store(false, ordering: .relaxed)
        return true
    }

    /// A copy of the entry as the call wrote it.
    var snapshot: FlightEntry { FlightEntry(slot.pointee) }
}

/// The ring of the last calls. Written by every call; read by the watchdog and the debug log.
@usableFromInline
struct FlightRecorder {
    /// How many calls the ring holds (a power of two).
    static let capacity = 64

    /// The ring, once MPI is set up; `nil` before.
    var entries: UnsafeMutablePointer<FlightSlot>? = nil
    /// Word 0: how many calls were ever recorded (the next entry is at this index modulo the capacity);
    /// word 1: the watchdog's published clock (``now(_:)``).
    var written: UnsafeMutablePointer<Int>? = nil

    /// Allocates the ring (when MPI is set up; it is never freed).
    static func start() {
        guard flightRecorder.entries == nil else { return }
        let entries = UnsafeMutablePointer<FlightSlot>.allocate(capacity: capacity)
        for index in 0..<capacity { (entries + index).initialize(to: FlightSlot()) }
        let written = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        written.initialize(repeating: 0, count: 2)
        flightRecorder.written = written
        flightRecorder.entries = entries
    }

    /// The time a call records, in coarse monotonic nanoseconds with the lowest bit set (never 0): the
    /// watchdog's latest reading of the clock while it runs, else a reading of the clock.
    ///
    /// Reading `CLOCK_MONOTONIC_COARSE` costs about 10 ns on the development machine, two thirds of the
    /// record's cost per call with one read at the start and one at the end. While the watchdog runs, its
    /// thread reads the clock at each check (every tenth of the timeout, at most every second) and
    /// publishes the reading here, and calls take that instead: one load. A recorded time is then up to one
    /// check interval earlier than the moment it stands for (more while the watchdog's thread waits for a
    /// core), so durations in the record are known to about one interval, and the watchdog does not judge a
    /// call by its start (`WatchdogTracker`).
    @inline(__always)
    static func now(_ written: UnsafeMutablePointer<Int>) -> UInt64 {
        let published = (written + 1).withMemoryRebound(to: UInt64.self, capacity: 1) { swiftmpi_atomic_load($0) }
        return _fastPath(published != 0) ? published : swiftmpi_coarse_ns() | 1
    }

    /// Publishes the watchdog's reading of the clock for the calls to record (``now(_:)``), or 0 (the
    /// watchdog is off: calls read the clock themselves).
    static func publish(_ reading: UInt64) {
        guard let written = flightRecorder.written else { return }
        (written + 1).withMemoryRebound(to: UInt64.self, capacity: 1) { swiftmpi_atomic_store($0, reading) }
    }
}

/// The process's flight recorder: written once when MPI is set up.
@exclusivity(unchecked) @usableFromInline nonisolated(unsafe) var flightRecorder = FlightRecorder()

/// Writes the start of `call` into the flight record, and returns its entry.
@usableFromInline
func recordStart(_ call: Call) -> FlightRecordEntry? {
    guard let entries = flightRecorder.entries, let written = flightRecorder.written else { return nil }
    let serial = swiftmpi_atomic_increment(written)
    let slot = entries + (serial & (FlightRecorder.capacity - 1))
    let sequence = call.operation.isCollective ? call.comm.counters.countCollective() : 0
    slot.pointee.write(FlightEntry(call, sequence: sequence), serial: serial, start: FlightRecorder.now(written))
    return FlightRecordEntry(slot: slot, serial: serial)
}

/// Writes an earlier call's entry again (with a new start) into the flight record, and returns the
/// new entry: a request's operation whose entry the ring has reused by the time its wait begins.
func recordAgain(_ saved: FlightEntry) -> FlightRecordEntry? {
    guard let entries = flightRecorder.entries, let written = flightRecorder.written else { return nil }
    let serial = swiftmpi_atomic_increment(written)
    let slot = entries + (serial & (FlightRecorder.capacity - 1))
    slot.pointee.write(saved, serial: serial, start: FlightRecorder.now(written))
    return FlightRecordEntry(slot: slot, serial: serial)
}

/// Writes the end of a call into its flight record entry, unless the ring has given the slot to a
/// later call meanwhile (more calls started on other threads than the ring holds).
@usableFromInline
func recordEnd(_ entry: FlightRecordEntry?, failed: Bool) {
    guard let entry, let written = flightRecorder.written, entry.isOwn else { return }
    entry.slot.pointee.failed.store(failed, ordering: .relaxed)
    entry.slot.pointee.end.store(FlightRecorder.now(written), ordering: .releasing)
}

/// Writes the end of a call into its flight record entry, then gives back the collective lock
/// that the call holds, if any (``holdCollectiveOrder(_:)``).
@usableFromInline
func recordEnd(_ entry: FlightRecordEntry?, failed: Bool, releasing counters: CallCounters?) {
    recordEnd(entry, failed: failed)
    if let counters { releaseCollectiveOrder(counters) }
}

extension FlightEntry {
    /// For example `allreduce #12 on communicator 1 (rank 0 of 4): sum, 3 × Double`.
    var summary: String {
        let operation = MPIOperation(rawValue: self.operation)?.name ?? "operation \(self.operation)"
        var line = operation
        if sequence > 0 { line += " #\(sequence)" }
        line += " on communicator \(communicator) (rank \(rank) of \(communicatorSize))"
        switch MPIOperation(rawValue: self.operation) {
        case .barrier, .duplicate, .split, .cartesian, .cartesianSub: break  // no data
        default: line += ": " + dataSummary
        }
        if nonBlocking { line += "; non-blocking form" }
        if agreeing {
            line += "; not started: in the cross-rank check's agreement (SWIFT_MPI_CHECK=1), which waits until "
                + "every rank of the communicator starts this collective"
        }
        return line
    }

    /// The data part of ``summary``: the op, count and type, root, peer and tag where they apply.
    private var dataSummary: String {
        var line = ""
        if op != 255, let kind = ReductionOp.Kind(rawValue: op) { line += "\(ReductionOp(kind)), " }
        let type = scalarType.map { "\($0)" } ?? "?"
        switch MPIOperation(rawValue: self.operation) {
        case .allgatherv, .gatherv, .scatterv, .alltoallv, .neighborAllgatherv, .neighborAlltoallv:
            line += "\(type), variable counts"  // recorded as 0: the ranks' counts differ
        case .probe, .iprobe:
            line += type  // a probe receives nothing
        case .neighborAlltoall:
            line += count < 0 ? "\(type), no neighbours" : "\(count) × \(type) per neighbour"
        case .recv where count < 0:
            line += "a message of any size × \(type)"  // the receive of unknown size
        case .persistentStart where count == 0 && peer < 0, .persistentWait where count == 0 && peer < 0:
            line += "\(type), nothing"  // a plan that only sends: "…, nothing to receive (the plan's …)"
        default:
            line += "\(count) × \(type)"
        }
        let persistent = self.operation == MPIOperation.persistentStart.rawValue
            || self.operation == MPIOperation.persistentWait.rawValue
        if root >= 0 && !persistent { line += ", root \(root)" }
        switch MPIOperation(rawValue: self.operation) {
        case .send: line += ", dest \(peer == Int32(procNull) ? "procNull" : "\(peer)"), tag \(tag)"
        case .recv, .sendrecv, .probe, .iprobe:
            let source = peer == Int32(anySource) ? "any" : peer == Int32(procNull) ? "procNull" : "\(peer)"
            line += ", source \(source), tag \(tag == Int32(anyTag) ? "any" : "\(tag)")"
        case .persistentStart, .persistentWait:
            // A plan whose only message is one receive records its source and tag; others, the number
            // of their sends (in `root`) and receives (in `tag`), any of which may be what a wait waits for.
            if peer >= 0 {
                line += ", source \(peer), tag \(tag)"
            } else {
                line += " to receive (the plan's \(counted(Int(root), "send")) and \(counted(Int(tag), "receive")))"
            }
        default: break
        }
        return line
    }

    /// The entries of the ring, oldest first (copies, read without locking).
    ///
    /// A slot that a call is writing while it is read (its serial is -1, or not the same before and
    /// after the copy: ``FlightSlot``) is left out, as is a slot never written.
    static func recent() -> [FlightEntry] {
        guard let entries = flightRecorder.entries, let written = flightRecorder.written else { return [] }
        let total = swiftmpi_atomic_load_long(written)
        let first = Swift.max(0, total - FlightRecorder.capacity)
        return (first..<total).compactMap { index in
            let slot = entries + (index & (FlightRecorder.capacity - 1))
            let before = slot.pointee.serial.load(ordering: .acquiring)
            guard before >= 0 else { return nil }
            let entry = FlightEntry(slot.pointee)
            atomicMemoryFence(ordering: .acquiring)
            guard slot.pointee.serial.load(ordering: .relaxed) == before, entry.start != 0 else { return nil }
            return entry
        }
    }
}

extension MPIRuntime {
    /// The last calls of this process, oldest first, one line each, as the watchdog prints them.
    ///
    /// Each line names the operation, its number among the collectives of its
    /// communicator, the communicator, the element count and type, the root,
    /// op, peer and tag where they apply, and how long the call took (or that it
    /// is still running). The record holds the last 64 calls.
    ///
    /// While the watchdog runs (``watchdogTimeout``), the calls record the time of its
    /// latest check instead of reading the clock, so these durations are known to about
    /// one check interval (a tenth of the timeout, at most 1 s); with the watchdog off,
    /// to a few milliseconds (`CLOCK_MONOTONIC_COARSE`).
    public static var flightRecord: [String] {
        let now = swiftmpi_coarse_ns()
        return FlightEntry.recent().map { entry in
            let end = entry.end
            let seconds = secondsBetween(entry.start, end != 0 ? end : now)
            let state = end != 0 ? (entry.failed ? "threw after" : "took") : "running for"
            return "\(entry.summary); \(state) \(formatSeconds(seconds))"
        }
    }
}

/// The seconds from `start` to `end` (nanosecond clock readings), or 0 when `end`
/// is earlier: an entry read while its call is being recorded on another thread
/// may pair an old start with a new end.
func secondsBetween(_ start: UInt64, _ end: UInt64) -> Double {
    end >= start ? Double(end - start) / 1e9 : 0
}

/// Seconds with three decimals, for example `0.004 s`.
func formatSeconds(_ seconds: Double) -> String {
    let milliseconds = Int((seconds * 1000).rounded())
    let fraction = String(milliseconds % 1000)
    return "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s"
}

/// The seconds that the flight record adds to one call (its start and end
/// writes for an allreduce on the default communicator), from `iterations`
/// timed pairs less an empty loop of the same length, in CPU time: for `mpi-benchmark record-cost`.
package func flightRecordCostPerCall(iterations: Int) -> Double {
    guard let comm = try? Communicator.resolve(nil, .allreduce) else { return .nan }
    let call = Call(.allreduce, comm, Double.self, count: 1, op: .sum)
    // The thread's CPU time, not the wall clock: other processes on the machine do not count.
    let start = swiftmpi_thread_cpu_ns()
    for _ in 0..<iterations {
        recordEnd(recordStart(call), failed: false)
    }
    let recorded = swiftmpi_thread_cpu_ns() &- start
    let emptyStart = swiftmpi_thread_cpu_ns()
    for i in 0..<iterations { opaque(i) }
    let empty = swiftmpi_thread_cpu_ns() &- emptyStart
    return (Double(recorded) - Double(empty)) / Double(iterations) / 1e9
}

@inline(never)
private func opaque(_ value: Int) { _ = value }
