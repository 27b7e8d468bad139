// Every call of every operation passes through `perform`: the one place where
// the cross-cutting hooks run (the thread check below MPI_THREAD_SERIALIZED; the
// flight record, which the watchdog reads; the argument checks; the per-call
// debug log and the cross-rank argument check), around the operation's raw call.

/// One call of an operation, as the hooks see it: what is called, on which
/// communicator, with what.
///
/// A trivial value (no reference counting), built by the operation's core.
@usableFromInline
struct Call {
    @usableFromInline let operation: MPIOperation
    @usableFromInline let comm: ResolvedCommunicator
    /// The element type.
    @usableFromInline let scalarType: any MPIScalar.Type
    /// The element count that every rank must agree on (per rank, for gathers and scatters; per
    /// neighbour for neighborAlltoall; ``anyCount`` where a rank's count cannot be known).
    @usableFromInline let count: Int
    /// A count that the cross-rank check lets agree with any other: neighborAlltoall's block on a rank
    /// without neighbours.
    @inlinable static var anyCount: Int { -1 }
    /// The root of a rooted collective, or -1.
    @usableFromInline let root: Int
    /// The reduction of a reduction, or `nil`.
    @usableFromInline let op: ReductionOp?
    /// The destination or source of a point-to-point call, or -1 (``anySource`` too).
    @usableFromInline let peer: Int
    /// The tag of a point-to-point call, or -1 (``anyTag`` too).
    @usableFromInline let tag: Int
    /// The variable-size collectives' counts, as the cross-rank check compares them (zero otherwise).
    @usableFromInline let counts: AgreedCounts

    @inlinable
    init(
        _ operation: MPIOperation, _ comm: ResolvedCommunicator, _ scalarType: any MPIScalar.Type, count: Int,
        root: Int = -1, op: ReductionOp? = nil, peer: Int = -1, tag: Int = -1, counts: AgreedCounts = AgreedCounts()
    ) {
        self.operation = operation
        self.comm = comm
        self.scalarType = scalarType
        self.count = count
        self.root = root
        self.op = op
        self.peer = peer
        self.tag = tag
        self.counts = counts
    }
}

/// What the ranks of a variable-size collective must agree on besides ``Call``'s fixed fields, for the
/// cross-rank check (`SWIFT_MPI_CHECK=1`): digests of their count arrays, computed only while the check
/// is on (all zero otherwise, and for the other operations).
@usableFromInline
struct AgreedCounts {
    /// A digest of counts that every rank passes alike (allgatherv, gatherv, scatterv, reduceScatter).
    @usableFromInline var same: Int64 = 0
    /// alltoallv: this rank's share of a digest of what every rank sends to every rank (`sendCounts`), and
    /// of what every rank receives from every rank (`receiveCounts`). Summed over the ranks, the two are
    /// equal when each rank's `receiveCounts[i]` is what rank `i` sends it.
    @usableFromInline var sent: Int64 = 0
    @usableFromInline var received: Int64 = 0

    @inlinable init() {}

    /// Counts that must be the same on every rank.
    @inlinable
    static func same(_ counts: UnsafeBufferPointer<Int>) -> AgreedCounts {
        if _fastPath(!diagnostics.checkCollectives) { return AgreedCounts() }
        return digest(same: counts)
    }

    /// ``same(_:)`` for an array.
    @inlinable
    static func same(_ counts: [Int]) -> AgreedCounts {
        if _fastPath(!diagnostics.checkCollectives) { return AgreedCounts() }
        return counts.withUnsafeBufferPointer { digest(same: $0) }
    }

    /// alltoallv's counts on `rank`: `sendCounts[j]` goes to rank `j`, and `receiveCounts[i]` comes from rank `i`.
    @inlinable
    static func exchanged(
        sendCounts: UnsafeBufferPointer<Int>, receiveCounts: UnsafeBufferPointer<Int>, rank: Int
    ) -> AgreedCounts {
        if _fastPath(!diagnostics.checkCollectives) { return AgreedCounts() }
        return digest(sendCounts: sendCounts, receiveCounts: receiveCounts, rank: rank)
    }

    @usableFromInline @inline(never)
    static func digest(same counts: UnsafeBufferPointer<Int>) -> AgreedCounts {
        var result = AgreedCounts()
        var hash = mixed(UInt64(counts.count))
        for count in counts { hash = mixed(hash ^ UInt64(bitPattern: Int64(count))) }
        result.same = Int64(bitPattern: hash)
        return result
    }

    @usableFromInline @inline(never)
    static func digest(
        sendCounts: UnsafeBufferPointer<Int>, receiveCounts: UnsafeBufferPointer<Int>, rank: Int
    ) -> AgreedCounts {
        var sent: UInt64 = 0
        var received: UInt64 = 0
        for (j, count) in sendCounts.enumerated() { sent &+= transfer(from: rank, to: j, count: count) }
        for (i, count) in receiveCounts.enumerated() { received &+= transfer(from: i, to: rank, count: count) }
        var result = AgreedCounts()
        result.sent = Int64(bitPattern: sent)
        result.received = Int64(bitPattern: received)
        return result
    }

    /// A neighbour `v` collective's counts on this process: `plan`'s blocks to the out-neighbours
    /// `destinations` and from the in-neighbours `sources` (null neighbours, -1, left out), as
    /// alltoallv's: summed over the processes, the two are equal when every block is received with
    /// the count it is sent with. `cartesian`: each block also names the slot it arrives in (the
    /// block sent in slot `j` arrives in slot `j ^ 1`, also where one process is both neighbours of a
    /// dimension, see ``neighborReceiveSlots(_:_:variant:_:)``), so that two blocks between one pair
    /// of processes must match by direction, not merely as a pair of counts.
    static func digest(
        neighbors plan: any NeighborCounts, sources: [Int], destinations: [Int], rank: Int, cartesian: Bool
    ) -> AgreedCounts {
        var sent: UInt64 = 0
        var received: UInt64 = 0
        for (j, destination) in destinations.enumerated() where destination >= 0 {
            let term = transfer(from: rank, to: destination, count: plan.sentCount(toNeighbor: j))
            sent &+= cartesian ? mixed(term ^ UInt64(j ^ 1)) : term
        }
        for (i, source) in sources.enumerated() where source >= 0 {
            let term = transfer(from: source, to: rank, count: plan.receivedCount(fromNeighbor: i))
            received &+= cartesian ? mixed(term ^ UInt64(i)) : term
        }
        var result = AgreedCounts()
        result.sent = Int64(bitPattern: sent)
        result.received = Int64(bitPattern: received)
        return result
    }

    /// The digest of `count` elements going from rank `i` to rank `j`.
    static func transfer(from i: Int, to j: Int, count: Int) -> UInt64 {
        var hash = mixed(UInt64(bitPattern: Int64(i)))
        hash = mixed(hash ^ UInt64(bitPattern: Int64(j)))
        return mixed(hash ^ UInt64(bitPattern: Int64(count)))
    }

    /// SplitMix64's finaliser of `x` plus its increment: a 64-bit mix, stable across processes.
    static func mixed(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What a neighbour `v` collective's checks return, for the cross-rank check: the elements this
/// process sends to each out-neighbour and receives from each in-neighbour, in block order.
protocol NeighborCounts {
    /// The elements of the block for out-neighbour `i`.
    func sentCount(toNeighbor i: Int) -> Int
    /// The elements of the block from in-neighbour `i`.
    func receivedCount(fromNeighbor i: Int) -> Int
    /// The receive counts' argument, which the check names when the counts do not match.
    var receiveArgument: StaticString { get }
}

extension Call {
    /// This call with `counts` for the cross-rank check.
    func replacing(counts: AgreedCounts) -> Call {
        Call(operation, comm, scalarType, count: count, root: root, op: op, peer: peer, tag: tag, counts: counts)
    }
}

/// Runs one call: its argument checks, the hooks, then `body` with what the checks returned.
///
/// The call is counted as in progress from before its check that MPI is initialised to its
/// return (``RuntimeState/enterCall()``), so that ``MPIRuntime/finalize()`` on another thread
/// either makes it throw ``MPIError/finalized(operation:)`` or waits for it.
///
/// With the diagnostics off (the default) this is the checks and `body`, plus
/// a few predictable branches. With the cross-rank check on, the ranks agree on
/// their calls after the local checks ran but before any rank throws, so that an
/// argument error found on one rank is thrown on every rank, and a collective
/// runs from its check to its return under its communicator's collective lock
/// (``holdCollectiveOrder(_:)``), so that each rank checks its collectives in the
/// order it calls them. Below
/// `MPI_THREAD_SERIALIZED`, a call from another thread than MPI's main thread
/// throws ``MPIError/threadLevel(operation:provided:reason:)`` first.
///
/// With `pending` (a non-blocking form, Requests/PendingOperation.swift), `body`
/// starts the operation instead of completing it, and the flight record entry
/// stays open but parked (the watchdog ignores it) until a wait for the request
/// begins; `pending` closes it when the operation completes.
@inlinable @inline(__always)
func perform<Checked, R>(
    _ call: Call, pending: PendingOperation? = nil, checks: () throws(MPIError) -> Checked,
    _ body: (Checked) throws(MPIError) -> R
) throws(MPIError) -> R {
    try admitCallingThread(call.operation.name)
    // A call in progress, which finalisation on another thread waits for (see RuntimeState.enterCall()).
    try RuntimeState.enterCall(for: call.operation.name)
    defer { RuntimeState.leaveCall() }
    // On a communicator that the package frees, the call (or the request it starts, until it completes)
    // is a use, which a free() on another thread waits for; it throws if that free() came first. Not the
    // wait of a persistent plan's exchange, which completes requests already started (MPI completes
    // them after MPI_Comm_free) and passes MPI no handle of the communicator.
    let owned = call.operation == .persistentWait ? nil : call.comm.owned
    if let owned { try beginUse(owned, call.operation) }
    let entry = recordStart(call)
    // Whether `diagnose` took the communicator's collective lock, which is held until the call returns.
    var ordered = false
    do throws(MPIError) {
        let checked: Checked
        if _fastPath(!diagnostics.any) {
            checked = try checks()
        } else {
            checked = try diagnose(call, entry, nonBlocking: pending != nil && !serializesCalls, ordered: &ordered, checks)
        }
        let result = try body(checked)
        if let pending {
            pending.park(entry, call)  // with the communicator's use, which the request's completion ends
        } else {
            recordEnd(entry, failed: false)
            if let owned { endUse(owned) }
        }
        if _slowPath(ordered) { releaseCollectiveOrder(call.comm.counters) }
        return result
    } catch {
        recordEnd(entry, failed: true, releasing: ordered ? call.comm.counters : nil)
        if let owned { endUse(owned) }
        throw error
    }
}

/// ``CommunicatorStorage/beginUse(_:)`` of a call's owned communicator.
@usableFromInline @inline(never)
func beginUse(_ owned: Unmanaged<CommunicatorStorage>, _ operation: MPIOperation) throws(MPIError) {
    try owned.takeUnretainedValue().beginUse(operation.name)
}

/// ``CommunicatorStorage/endUse()`` of a call's owned communicator.
@usableFromInline @inline(never)
func endUse(_ owned: Unmanaged<CommunicatorStorage>) {
    owned.takeUnretainedValue().endUse()
}

/// ``perform(_:pending:checks:_:)`` for a call without argument checks of its own.
@inlinable @inline(__always)
func perform<R>(
    _ call: Call, pending: PendingOperation? = nil, _ body: () throws(MPIError) -> R
) throws(MPIError) -> R {
    try perform(call, pending: pending, checks: { () throws(MPIError) in }, { (_: Void) throws(MPIError) -> R in try body() })
}

/// The hooks with the diagnostics on: the debug line, then the cross-rank agreement.
@usableFromInline @inline(never)
func diagnose<Checked>(
    _ call: Call, _ entry: FlightRecordEntry?, nonBlocking: Bool, ordered: inout Bool,
    _ checks: () throws(MPIError) -> Checked
) throws(MPIError) -> Checked {
    let checksAcrossRanks = diagnostics.checkCollectives && call.operation.isCollective
    // Under the lock from here to the call's return (the caller releases it), so that the
    // collectives of this communicator are numbered, checked and started one at a time.
    var sequence = 0
    if checksAcrossRanks {
        sequence = holdCollectiveOrder(call)
        ordered = true
    }
    let outcome: Result<Checked, MPIError>
    do throws(MPIError) {
        outcome = .success(try checks())
    } catch {
        outcome = .failure(error)
    }
    if diagnostics.debugLog, let entry { debugPrintLine("r\(worldRank) | \(entry.snapshot.summary)") }
    if checksAcrossRanks {
        var failure: MPIError?
        if case .failure(let error) = outcome { failure = error }
        // Marked in the flight record while it waits, so that the watchdog says a collective stuck here has
        // not started: some rank has not reached its collective on this communicator (a skipped call, or
        // tasks whose agreements wait for each other across ranks; see <doc:Requests>).
        entry?.setAgreeing(true)
        defer { entry?.setAgreeing(false) }
        var agreed = call
        var countsArgument: StaticString = "receiveCounts"
        // A neighbour v collective's blocks: the topology's neighbours are known only now, from MPI.
        if case .success(let checked) = outcome, let plan = checked as? any NeighborCounts,
           let topology = try? rawTopology(call.comm.handle, call.operation),
           let (sources, destinations) = try? rawTopologyNeighbors(call.comm.handle, topology, call.operation) {
            agreed = call.replacing(counts: .digest(neighbors: plan, sources: sources, destinations: destinations,
                                                     rank: call.comm.rank, cartesian: topology.kind == 1))
            countsArgument = plan.receiveArgument
        }
        try agreeAcrossRanks(agreed, sequence: sequence, nonBlocking: nonBlocking, failedHere: failure,
                             countsArgument: countsArgument)
    }
    return try outcome.get()
}
