#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CMPI

// The raw layer of the variable-size collectives, reduce-scatter, exscan and
// the probes: one non-generic function per MPI call, like RawCalls.swift.
//
// Counts and displacements are Int here and C ints in MPI 3.1. When they all
// fit in an Int32 they are passed as they are (the plain MPI call). When one
// does not, the message is described in units of a contiguous datatype of k
// elements, k the greatest common divisor of all the counts and displacements,
// when that brings every one of them under Int32.max: still the plain MPI call,
// on the derived type (ranks may use different units: the type signatures
// still match).
//
// Where no such unit exists and the library has MPI 4.0's large-count
// functions (MPICH 4: `MPI_Alltoallv_c` and the like, MPI_Count counts and
// MPI_Aint displacements; the shim decides at compile time from MPI_VERSION,
// ``hasLargeCountCollectives``), the rank calls the `_c` form with its counts
// and displacements as they are. It is the same collective as the plain call,
// so each rank decides alone, with no extra message, and its messages are
// those of the plain call: ranks (C ones included) making the plain call match
// it. ``withVariableMessage(_:_:of:_:large:)`` is the one place that chooses,
// for these and for the neighbour v forms (RawTopology.swift, packed blocks);
// serialised, the `I..._c` form runs polled.
//
// Without those functions (Open MPI 4.1, MPI 3.1): allgatherv, gatherv and
// scatterv whose counts (every rank's block, passed alike on every rank,
// non-roots included) no such unit brings under Int32.max (for example a block
// of 2^31 + 1 elements beside one of 5) run as one MPI_Alltoallw with a
// datatype per peer instead (VariableExchange.swift). The decision depends on
// the counts alone, so every rank takes the same call. Where the counts have a
// unit but this rank's displacements do not (a displacement above Int32.max
// that the counts' unit does not divide, say), the call throws
// ``MPIError/invalidArgument(operation:argument:expected:actual:)`` naming
// `displacements` on that rank before communicating: the other ranks cannot
// know it, as with any argument only one rank has.
//
// Alltoallv's explicit forms have no fallback there: a rank knows only its own
// send and receive counts, so it cannot know whether another rank would have to
// take one, and two ranks must not call different collectives. Values above
// Int32.max without a unit throw `invalidArgument` naming `counts` on each rank
// whose own counts and displacements have none, before communicating. The easy
// form, which exchanges the counts first, agrees on the fallback
// (Alltoallv.swift) and passes `exchange` to ``rawAlltoallv``; with the
// large-count functions it never needs to.
//
// Reduce-scatter moves more than Int32.max elements per block as one
// MPI_Reduce per rank in chunks of 2^30 (elementwise, so exact); exscan runs in
// chunks like the other reductions.

/// Counts and displacements of one side (send or receive) of a variable-size collective, in elements.
@usableFromInline
struct VariableSide {
    /// One count (the single block of this side), or -1 when the side has per-rank counts.
    @usableFromInline var count: Int
    /// Per-rank counts, or `nil`.
    @usableFromInline var counts: UnsafeBufferPointer<Int>?
    /// Per-rank displacements (same length as `counts`), or `nil`.
    @usableFromInline var displacements: UnsafeBufferPointer<Int>?

    @inlinable init(count: Int) {
        self.count = count
        counts = nil
        displacements = nil
    }

    @inlinable init(counts: UnsafeBufferPointer<Int>?, displacements: UnsafeBufferPointer<Int>?) {
        count = -1
        self.counts = counts
        self.displacements = displacements
    }

    /// Every count and displacement, in turn (the displacement of an empty block counts as 0:
    /// nothing is read or written there, so it is passed to MPI as 0).
    @inlinable func forEachValue(_ body: (Int) -> Void) {
        if count >= 0 { body(count) }
        if let counts { for c in counts { body(c) } }
        if let displacements { for (i, d) in displacements.enumerated() { body(effectiveDisplacement(i, d)) } }
    }

    /// Displacement `i` as passed to MPI: 0 for an empty block.
    @inlinable func effectiveDisplacement(_ i: Int, _ d: Int) -> Int {
        if let counts, i < counts.count, counts[i] == 0 { return 0 }
        return d
    }
}

/// The result of no unit of a datatype bringing the counts under Int32.max.
@usableFromInline let noCountUnit: Int32 = -77_001

/// Whether the MPI library has MPI 4.0's large-count variable-size collectives (`MPI_Alltoallv_c` and
/// the like; MPICH 4, not Open MPI 4.1): decided when the shim is compiled.
@usableFromInline @inline(__always)
var hasLargeCountCollectives: Bool { swiftmpi_has_large_count() != 0 }

/// Calls `body` with both sides converted to C ints, in units of `base` or of a
/// contiguous type of k elements of `base` (see the file's comment); where no
/// unit brings them under Int32.max, calls `large` instead when the library has
/// the large-count functions (``hasLargeCountCollectives``). This is the one
/// place that chooses between the plain call and its `_c` form.
///
/// `body` gets the datatype, each side's single count, and each side's count and
/// displacement arrays (`nil` where the side has none). `large` makes the `_c`
/// call with the caller's own counts and displacements (Int, which the shim
/// passes as MPI_Count and MPI_Aint); its default calls nothing. Returns `body`'s
/// or `large`'s MPI code, the code of a failed datatype call, or ``noCountUnit``.
@usableFromInline
func withVariableMessage(
    _ send: VariableSide, _ receive: VariableSide, of base: MPI_Datatype,
    _ body: (MPI_Datatype, Int32, UnsafePointer<Int32>?, UnsafePointer<Int32>?,
             Int32, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> Int32,
    large: () -> Int32 = { noCountUnit }
) -> Int32 {
    if _fastPath(send.count <= maxDirectCount && receive.count <= maxDirectCount),
       let code = withDirectVariableMessage(send, receive, of: base, body) { return code }
    guard let unit = countUnit(send, receive) else { return hasLargeCountCollectives ? large() : noCountUnit }
    let n = (send.counts?.count ?? 0) + (send.displacements?.count ?? 0)
        + (receive.counts?.count ?? 0) + (receive.displacements?.count ?? 0)
    return withUnsafeTemporaryAllocation(of: Int32.self, capacity: Swift.max(1, n)) { storage in
        var next = 0
        func convert(_ values: UnsafeBufferPointer<Int>?, _ value: (Int, Int) -> Int) -> UnsafePointer<Int32>? {
            guard let values else { return nil }
            let start = next
            for (i, v) in values.enumerated() {
                storage[next] = Int32(truncatingIfNeeded: value(i, v) / unit)
                next += 1
            }
            return UnsafePointer(storage.baseAddress.map { $0 + start })
        }
        let (sc, sd) = (convert(send.counts) { $1 }, convert(send.displacements, send.effectiveDisplacement))
        let (rc, rd) = (convert(receive.counts) { $1 }, convert(receive.displacements, receive.effectiveDisplacement))
        let sendCount = Int32(truncatingIfNeeded: Swift.max(0, send.count) / unit)
        let receiveCount = Int32(truncatingIfNeeded: Swift.max(0, receive.count) / unit)
        guard unit > 1 else { return body(base, sendCount, sc, sd, receiveCount, rc, rd) }
        var block = swiftmpi_datatype_null()
        var code = locked { swiftmpi_type_contiguous(Int32(unit), base, &block) }
        guard code == 0 else { return code }
        defer { _ = locked { swiftmpi_type_free(&block) } }
        code = locked { swiftmpi_type_commit(&block) }
        guard code == 0 else { return code }
        return body(block, sendCount, sc, sd, receiveCount, rc, rd)
    }
}

/// Whether ``withVariableMessage(_:_:of:_:large:)`` would return ``noCountUnit`` for these sides,
/// calling nothing: a value above Int32.max that no common unit brings under it, on a library
/// without the large-count functions. Its own choice, asked ahead: for checks that refuse before
/// the operation's hooks (the neighbour v forms, NeighborChecks.swift).
@usableFromInline
func variableMessageRefuses(_ send: VariableSide, _ receive: VariableSide) -> Bool {
    !hasLargeCountCollectives && countUnit(send, receive) == nil
}

/// The unit, in elements, in which every count and displacement of both sides is at most `limit`:
/// 1 when they all are already, else their greatest common divisor k when that brings every one of
/// them to at most `limit`; `nil` when there is no such unit (see the file's comment).
///
/// `limit` is `Int32.max` in the library; tests pass a small one.
@usableFromInline @inline(__always)
func countUnit(_ send: VariableSide, _ receive: VariableSide, limit: Int = maxDirectCount) -> Int? {
    var largest = 0
    send.forEachValue { largest = Swift.max(largest, $0) }
    receive.forEachValue { largest = Swift.max(largest, $0) }
    guard _slowPath(largest > limit) else { return 1 }
    var divisor = 0
    send.forEachValue { divisor = greatestCommonDivisor(divisor, $0) }
    receive.forEachValue { divisor = greatestCommonDivisor(divisor, $0) }
    guard divisor > 0, divisor <= limit, largest / divisor <= limit else { return nil }
    return divisor
}

/// ``withVariableMessage(_:_:of:_:)``'s fast path, when every count and displacement fits in an Int32
/// (the common case): both sides converted to C ints in one pass on the stack, checking each value as it
/// is converted, then `body` on `base`. Returns `nil`, having called nothing, when a value does not fit.
@inline(__always)
func withDirectVariableMessage(
    _ send: VariableSide, _ receive: VariableSide, of base: MPI_Datatype,
    _ body: (MPI_Datatype, Int32, UnsafePointer<Int32>?, UnsafePointer<Int32>?,
             Int32, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> Int32
) -> Int32? {
    let sendRanks = send.counts?.count ?? 0
    let receiveRanks = receive.counts?.count ?? 0
    guard _fastPath((send.displacements?.count ?? 0) <= sendRanks && (receive.displacements?.count ?? 0) <= receiveRanks
                    && (send.counts != nil || send.displacements == nil)
                    && (receive.counts != nil || receive.displacements == nil)) else { return nil }
    return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 &* (sendRanks &+ receiveRanks) &+ 1) {
        storage -> Int32? in
        let start = storage.baseAddress.unsafelyUnwrapped
        guard let (sc, sd) = convertDirect(send, into: start),
              let (rc, rd) = convertDirect(receive, into: start + 2 &* sendRanks) else { return nil }
        return body(base, Int32(truncatingIfNeeded: Swift.max(0, send.count)), sc, sd,
                    Int32(truncatingIfNeeded: Swift.max(0, receive.count)), rc, rd)
    }
}

/// Writes one side's counts, then its displacements (0 for an empty block, as
/// ``VariableSide/effectiveDisplacement(_:_:)``), as C ints from `storage`
/// (room for twice the counts). Returns where the counts and the displacements
/// start (`nil` where the side has none), or `nil` at the first value that does not fit.
@inline(__always)
func convertDirect(
    _ side: VariableSide, into storage: UnsafeMutablePointer<Int32>
) -> (UnsafePointer<Int32>?, UnsafePointer<Int32>?)? {
    guard let counts = side.counts else { return (nil, nil) }
    var i = 0
    while i < counts.count {
        let c = counts[i]
        let c32 = Int32(truncatingIfNeeded: c)
        guard _fastPath(Int(c32) == c) else { return nil }
        storage[i] = c32
        i &+= 1
    }
    guard let given = side.displacements else { return (UnsafePointer(storage), nil) }
    let displacements = storage + counts.count
    i = 0
    while i < given.count {
        let d = counts[i] == 0 ? 0 : given[i]
        let d32 = Int32(truncatingIfNeeded: d)
        guard _fastPath(Int(d32) == d) else { return nil }
        displacements[i] = d32
        i &+= 1
    }
    return (UnsafePointer(storage), UnsafePointer(displacements))
}

@inlinable
func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
    var (a, b) = (Swift.abs(a), Swift.abs(b))
    while b != 0 { (a, b) = (b, a % b) }
    return a
}

/// Throws the outcome of a variable-size call: ``noCountUnit`` as an invalid `argument`, other codes as MPI's.
///
/// `argument` is `displacements` for allgatherv, gatherv and scatterv, whose counts alone never
/// refuse (they take the alltoallw fallback), and `counts` for alltoallv's explicit forms, which have
/// no fallback (its easy form has, and the message says so).
@usableFromInline
func checkVariable(_ code: Int32, _ operation: MPIOperation, argument: String) throws(MPIError) {
    if _fastPath(code == 0) { return }
    if code == noCountUnit {
        let easyForm = operation == .alltoallv
            ? "; alltoallv's easy form, alltoallv(_:rowCounts:), exchanges the counts first and moves such blocks" : ""
        throw MPIError.invalidArgument(
            operation: operation.name, argument: argument,
            expected: "counts and displacements that a common divisor k brings under Int32.max (MPI 3.1 counts are C ints)"
                + easyForm,
            actual: "counts or displacements above Int32.max without such a divisor")
    }
    throw makeMPIError(code, operation.name)
}

/// `receiveCounts` and `displacements` are the per-rank blocks of `receive`, in elements.
@usableFromInline
func rawAllgatherv(
    _ send: UnsafeRawPointer?, count: Int, _ receive: UnsafeMutableRawPointer?,
    receiveCounts: UnsafeBufferPointer<Int>, displacements: UnsafeBufferPointer<Int>, type: MPI_Datatype,
    comm: MPI_Comm
) throws(MPIError) {
    if _slowPath(takesAlltoallwFallback(receiveCounts)) {
        let plan = ExchangePlan.allgatherv(count: count, counts: Array(receiveCounts),
                                           displacements: Array(displacements))
        return try check(exchangeAsAlltoallw(send, receive, plan: plan, type: type, comm: comm), .allgatherv)
    }
    try checkVariable(withVariableMessage(
        VariableSide(count: count), VariableSide(counts: receiveCounts, displacements: displacements), of: type
    ) { t, n, _, _, _, rc, rd in
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Allgatherv(send, n, t, receive, rc, rd, t, comm) }
        }
        return serialized { swiftmpi_iallgatherv(send, n, t, receive, rc!, rd!, t, comm, &$0) }
    } large: {
        let (rc, rd) = (receiveCounts.baseAddress, displacements.baseAddress)
        if _fastPath(!serializesCalls) {
            return waitingInCollective { swiftmpi_allgatherv_c(send, count, type, receive, rc, rd, type, comm) }
        }
        return serialized { swiftmpi_iallgatherv_c(send, count, type, receive, rc, rd, type, comm, &$0) }
    }, .allgatherv, argument: "displacements")
}

/// `receive` and `displacements` are used on the root only (`nil` elsewhere); `receiveCounts`, every
/// rank's block, is passed on every rank (it decides the fallback, and every rank's unit).
@usableFromInline
func rawGatherv(
    _ send: UnsafeRawPointer?, count: Int, _ receive: UnsafeMutableRawPointer?,
    receiveCounts: UnsafeBufferPointer<Int>, displacements: UnsafeBufferPointer<Int>?, type: MPI_Datatype,
    root: Int, comm: MPI_Comm
) throws(MPIError) {
    if _slowPath(takesAlltoallwFallback(receiveCounts)) {
        let (code, rank, _) = rankAndSize(comm)
        try check(code, .gatherv)
        let plan = ExchangePlan.gatherv(count: count, counts: Array(receiveCounts), displacements: displacements.map(Array.init),
                                        root: root, rank: rank)
        return try check(exchangeAsAlltoallw(send, receive, plan: plan, type: type, comm: comm), .gatherv)
    }
    try checkVariable(withVariableMessage(
        VariableSide(count: count), VariableSide(counts: receiveCounts, displacements: displacements), of: type
    ) { t, n, _, _, _, rc, rd in
        let root = Int32(truncatingIfNeeded: root)
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Gatherv(send, n, t, receive, rc, rd, t, root, comm) }
        }
        return serialized { swiftmpi_igatherv(send, n, t, receive, rc, rd, t, root, comm, &$0) }
    } large: {
        let (rc, rd, root) = (receiveCounts.baseAddress, displacements?.baseAddress, Int32(truncatingIfNeeded: root))
        if _fastPath(!serializesCalls) {
            return waitingInCollective { swiftmpi_gatherv_c(send, count, type, receive, rc, rd, type, root, comm) }
        }
        return serialized { swiftmpi_igatherv_c(send, count, type, receive, rc, rd, type, root, comm, &$0) }
    }, .gatherv, argument: "displacements")
}

/// `send` and `displacements` are used on the root only (`nil` elsewhere); `sendCounts`, every rank's
/// block, is passed on every rank (it decides the fallback, and every rank's unit).
@usableFromInline
func rawScatterv(
    _ send: UnsafeRawPointer?, sendCounts: UnsafeBufferPointer<Int>, displacements: UnsafeBufferPointer<Int>?,
    _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, root: Int, comm: MPI_Comm
) throws(MPIError) {
    if _slowPath(takesAlltoallwFallback(sendCounts)) {
        let (code, rank, _) = rankAndSize(comm)
        try check(code, .scatterv)
        let plan = ExchangePlan.scatterv(counts: Array(sendCounts), displacements: displacements.map(Array.init),
                                         count: count, root: root, rank: rank)
        return try check(exchangeAsAlltoallw(send, receive, plan: plan, type: type, comm: comm), .scatterv)
    }
    try checkVariable(withVariableMessage(
        VariableSide(counts: sendCounts, displacements: displacements), VariableSide(count: count), of: type
    ) { t, _, sc, sd, n, _, _ in
        let root = Int32(truncatingIfNeeded: root)
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Scatterv(send, sc, sd, t, receive, n, t, root, comm) }
        }
        return serialized { swiftmpi_iscatterv(send, sc, sd, t, receive, n, t, root, comm, &$0) }
    } large: {
        let (sc, sd, root) = (sendCounts.baseAddress, displacements?.baseAddress, Int32(truncatingIfNeeded: root))
        if _fastPath(!serializesCalls) {
            return waitingInCollective { swiftmpi_scatterv_c(send, sc, sd, type, receive, count, type, root, comm) }
        }
        return serialized { swiftmpi_iscatterv_c(send, sc, sd, type, receive, count, type, root, comm, &$0) }
    }, .scatterv, argument: "displacements")
}

/// With `exchange` (which every rank must pass alike: the easy form agrees on it) the blocks move as one
/// MPI_Alltoallw of per-peer types (VariableExchange.swift) instead of MPI_Alltoallv.
@usableFromInline
func rawAlltoallv(
    _ send: UnsafeRawPointer?, sendCounts: UnsafeBufferPointer<Int>, sendDisplacements: UnsafeBufferPointer<Int>,
    _ receive: UnsafeMutableRawPointer?, receiveCounts: UnsafeBufferPointer<Int>,
    receiveDisplacements: UnsafeBufferPointer<Int>, type: MPI_Datatype, comm: MPI_Comm, exchange: Bool = false
) throws(MPIError) {
    if _slowPath(exchange) {
        let plan = ExchangePlan(sendCounts: Array(sendCounts), sendOffsets: Array(sendDisplacements),
                                receiveCounts: Array(receiveCounts), receiveOffsets: Array(receiveDisplacements))
        return try check(exchangeAsAlltoallw(send, receive, plan: plan, type: type, comm: comm), .alltoallv)
    }
    try checkVariable(withVariableMessage(
        VariableSide(counts: sendCounts, displacements: sendDisplacements),
        VariableSide(counts: receiveCounts, displacements: receiveDisplacements), of: type
    ) { t, _, sc, sd, _, rc, rd in
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Alltoallv(send, sc, sd, t, receive, rc, rd, t, comm) }
        }
        return serialized { swiftmpi_ialltoallv(send, sc!, sd!, t, receive, rc!, rd!, t, comm, &$0) }
    } large: {
        let (sc, sd) = (sendCounts.baseAddress, sendDisplacements.baseAddress)
        let (rc, rd) = (receiveCounts.baseAddress, receiveDisplacements.baseAddress)
        if _fastPath(!serializesCalls) {
            return waitingInCollective { swiftmpi_alltoallv_c(send, sc, sd, type, receive, rc, rd, type, comm) }
        }
        return serialized { swiftmpi_ialltoallv_c(send, sc, sd, type, receive, rc, rd, type, comm, &$0) }
    }, .alltoallv, argument: "counts")
}

/// `count` is the size of one block (the elements each rank gets); `send` holds `size` blocks.
@usableFromInline
func rawReduceScatterBlock(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, op: MPI_Op, comm: MPI_Comm, size: Int, rank: Int
) throws(MPIError) {
    if _slowPath(count > maxDirectCount) {
        return try check(reduceScatterAsReduces(send, receive, offset: { $0 * count }, count: { _ in count },
                                                type: type, elementSize: elementSize, op: op, comm: comm,
                                                size: size, rank: rank), .reduceScatterBlock)
    }
    let n = Int32(truncatingIfNeeded: count)
    if _fastPath(!serializesCalls) {
        return try check(
            waitingInCollective { MPI_Reduce_scatter_block(send, receive, n, type, op, comm) }, .reduceScatterBlock)
    }
    try check(serialized { swiftmpi_ireduce_scatter_block(send, receive, n, type, op, comm, &$0) }, .reduceScatterBlock)
}

/// `counts` are the elements each rank gets, in rank order; `send` holds their sum.
@usableFromInline
func rawReduceScatter(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, counts: UnsafeBufferPointer<Int>,
    type: MPI_Datatype, elementSize: Int, op: MPI_Op, comm: MPI_Comm, rank: Int
) throws(MPIError) {
    var total = 0
    for c in counts { total += c }
    if _slowPath(total > maxDirectCount) {
        // MPI_Reduce_scatter reads the whole input with one int count.
        var offsets = [Int](repeating: 0, count: counts.count)
        for r in counts.indices.dropFirst() { offsets[r] = offsets[r - 1] + counts[r - 1] }
        return try check(reduceScatterAsReduces(send, receive, offset: { offsets[$0] }, count: { counts[$0] },
                                                type: type, elementSize: elementSize, op: op, comm: comm,
                                                size: counts.count, rank: rank), .reduceScatter)
    }
    let code = withUnsafeTemporaryAllocation(of: Int32.self, capacity: Swift.max(1, counts.count)) { c32 in
        for (i, c) in counts.enumerated() { c32[i] = Int32(truncatingIfNeeded: c) }
        let c = UnsafePointer(c32.baseAddress!)
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Reduce_scatter(send, receive, c, type, op, comm) }
        }
        return serialized { swiftmpi_ireduce_scatter(send, receive, c, type, op, comm, &$0) }
    }
    try check(code, .reduceScatter)
}

/// Reduce-scatter of large blocks: block r reduced onto rank r by MPI_Reduce, in chunks of 2^30 elements.
@usableFromInline @inline(never)
func reduceScatterAsReduces(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, offset: (Int) -> Int, count: (Int) -> Int,
    type: MPI_Datatype, elementSize: Int, op: MPI_Op, comm: MPI_Comm, size: Int, rank: Int
) -> Int32 {
    for r in 0..<size {
        let base = send.map { $0 + offset(r) * elementSize }
        let code = inChunks(count: count(r), elementSize: elementSize) { chunk, n in
            let (s, d) = (base.map { $0 + chunk }, r == rank ? receive.map { $0 + chunk } : nil)
            let root = Int32(truncatingIfNeeded: r)
            if _fastPath(!serializesCalls) { return waitingInCollective { MPI_Reduce(s, d, n, type, op, root, comm) } }
            return serialized { swiftmpi_ireduce(s, d, n, type, op, root, comm, &$0) }
        }
        if code != 0 { return code }
    }
    return 0
}

/// MPI_Exscan; `receive` is left as it is on rank 0 (the core defines it).
@usableFromInline
func rawExscan(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, op: MPI_Op, comm: MPI_Comm
) throws(MPIError) {
    try check(inChunks(count: count, elementSize: elementSize) { offset, n in
        let (s, r) = (send.map { $0 + offset }, receive.map { $0 + offset })
        if _fastPath(!serializesCalls) { return waitingInCollective { MPI_Exscan(s, r, n, type, op, comm) } }
        return serialized { swiftmpi_iexscan(s, r, n, type, op, comm, &$0) }
    }, .exscan)
}

/// Waits for a matching message without receiving it (`MPI_Probe`; serialised: `MPI_Iprobe` polled), or
/// with `wait` false looks once (`MPI_Iprobe`). The outcome's count is in elements of `type` (-1 when the
/// message is no whole number of them), and its source -1 when nothing was found. While non-blocking
/// receives are queued, it polls, advancing them, and a message that one of them matches is theirs and
/// is not found (see ``ProbedReceives/probeBehindQueued(source:tag:comm:take:message:status:)``).
@usableFromInline
func rawProbe(source: Int32, tag: Int32, type: MPI_Datatype, comm: MPI_Comm, wait: Bool) -> ReceiveOutcome {
    var status = MPI_Status()
    var found: Int32 = 0
    var polls = 0
    while true {
        var code: Int32 = 0
        var probed = false
        if ProbedReceives.isNotEmpty {
            var unused = swiftmpi_message_null()
            if let probe = ProbedReceives.shared.probeBehindQueued(
                source: source, tag: tag, comm: comm, take: false, message: &unused, status: &status) {
                (code, found, probed) = (probe.code, probe.found ? 1 : 0, true)
            }
        }
        if !probed {
            if wait && _fastPath(mayWaitInMPI) {
                code = swiftmpi_probe(source, tag, comm, &status)
                found = 1
            } else {
                code = locked { swiftmpi_iprobe(source, tag, comm, &found, &status) }
            }
        }
        if code != 0 {
            var failed = ReceiveOutcome()
            failed.code = code
            return failed
        }
        if found != 0 { return ReceiveOutcome(code: 0, status: &status, type: type) }
        if !wait { return ReceiveOutcome() }
        pollPause(&polls)
    }
}

/// Receives one message of any size: `MPI_Mprobe` (which takes the message, so no
/// other receive can match it in between), then `allocate` with the message's
/// element count, which calls its argument with storage of exactly that many
/// elements to receive into (`MPI_Mrecv`). A message that is no whole number of
/// elements is received into scratch storage and reported with count -1.
/// Serialised: `MPI_Improbe` polled, then `MPI_Imrecv` polled.
@usableFromInline
func rawRecvAnySize(
    type: MPI_Datatype, elementSize: Int, source: Int32, tag: Int32, comm: MPI_Comm,
    allocate: (Int, (UnsafeMutableRawPointer?) -> Int32) -> Int32
) -> ReceiveOutcome {
    // From MPI_PROC_NULL nothing arrives: no elements (as rawRecv).
    if _slowPath(source == swiftmpi_proc_null()) { return ReceiveOutcome(fromProcNullExpecting: 0) }
    var message = swiftmpi_message_null()
    var status = MPI_Status()
    let code = matchMessage(source: source, tag: tag, comm: comm, message: &message, status: &status)
    guard code == 0 else {
        var failed = ReceiveOutcome()
        failed.code = code
        return failed
    }
    var outcome = ReceiveOutcome(code: 0, status: &status, type: type)
    if _fastPath(outcome.count >= 0) {
        let count = outcome.count
        outcome.code = allocate(count) { buffer in
            withMessage(count: count, of: type, elementSize: elementSize) { n, t in
                receiveMatched(buffer, n, t, &message)
            }
        }
    } else {
        outcome.code = receiveIntoScratch(&message, status: &status, elementSize: elementSize, outcome: &outcome)
        outcome.count = -1
    }
    return outcome
}
