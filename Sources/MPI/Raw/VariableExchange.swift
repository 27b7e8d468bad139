import CMPI

// The fallback of allgatherv, gatherv, scatterv and alltoallv's easy form for
// counts above Int32.max that no common unit brings under it
// (RawVariableCollectives.swift), for MPI libraries without MPI 4.0's
// large-count functions (Open MPI 4.1; where a library has them, MPICH 4, such
// a rank calls `MPI_Allgatherv_c` and the like instead and nothing here runs):
// one MPI_Alltoallw (the technique of BigMPI:
// Hammond, Schafer and Latham, "To INT_MAX... and beyond!", 2014). Every int
// count is 1 (0 for an empty block) and every int displacement 0; each peer's
// block gets its own datatype, which places it at a 64-bit byte displacement
// and describes its elements as blocks of 2^30 plus the rest (shim
// `swiftmpi_type_block_at`). A block's type signature is its elements, so a
// sender's and a receiver's different layouts match. Pairs that exchange
// nothing (all but the root's in gatherv and scatterv) have count 0.
//
// Every rank must take the fallback or none. In allgatherv, gatherv and
// scatterv the decision depends on the counts and their packed displacements
// (``takesAlltoallwFallback(_:)``), which every rank computes alike. In
// alltoallv each rank knows only its own counts (``alltoallvNeedsExchange``),
// so its explicit forms have no fallback; the easy form's header exchange
// carries each rank's send total, and where the total of all ranks is above
// Int32.max the ranks agree on the fallback with one MPI_Allreduce (max) of
// their own decisions (Alltoallv.swift), unless the library has the
// large-count functions (the same on every rank), which it then never needs.

/// Whether `counts` (the same on every rank) need the alltoallw fallback: one of them, or one of
/// their packed displacements (their running sums, 0 for an empty block, as passed to MPI), is
/// above `limit`, and no common divisor k ≤ `limit` brings every one of them to at most `limit`.
///
/// The packed displacements count because a rank that is given no displacements (every rank of the
/// easy forms, the explicit forms called without them) packs the blocks, and they pass the limit
/// before any count does: blocks of 2^30, 2^30 + 1 and 1 elements fit, the third one's displacement
/// 2^31 + 1 does not, and no unit divides it. Every rank computes them alike, so every rank decides
/// alike. (The counts' greatest common divisor divides their sums, so it is the unit of both.)
///
/// `limit` is `Int32.max` in the library; tests pass a small one.
@usableFromInline
func countsNeedExchange(_ counts: UnsafeBufferPointer<Int>, limit: Int = maxDirectCount) -> Bool {
    var largest = 0
    var divisor = 0
    var offset = 0
    for count in counts {
        largest = Swift.max(largest, count, count > 0 ? offset : 0)
        divisor = greatestCommonDivisor(divisor, count)
        let (sum, overflow) = offset.addingReportingOverflow(Swift.max(0, count))
        offset = overflow ? Int.max : sum
    }
    guard _slowPath(largest > limit) else { return false }
    return !(divisor > 0 && divisor <= limit && largest / divisor <= limit)
}

/// Whether allgatherv, gatherv or scatterv with these `counts` (the same on every rank) runs as the
/// alltoallw fallback: only where the library lacks the large-count functions
/// (``hasLargeCountCollectives``, the same on every rank) and ``countsNeedExchange(_:limit:)``.
/// Elsewhere a rank whose counts have no unit makes the `_c` call (``withVariableMessage(_:_:of:_:large:)``).
@usableFromInline @inline(__always)
func takesAlltoallwFallback(_ counts: UnsafeBufferPointer<Int>) -> Bool {
    !hasLargeCountCollectives && countsNeedExchange(counts)
}

/// Whether this rank's blocks of an alltoallv with packed blocks (`sendCounts` to each rank,
/// `receiveCounts` from each) need the alltoallw fallback: no common unit brings its counts and
/// displacements to at most `limit` (``countUnit(_:_:limit:)``, the unit MPI_Alltoallv would use).
///
/// Only this rank's side: the easy alltoallv agrees on the fallback across ranks.
/// `limit` is `Int32.max` in the library; tests pass a small one.
@usableFromInline
func alltoallvNeedsExchange(sendCounts: [Int], receiveCounts: [Int], limit: Int = maxDirectCount) -> Bool {
    let (sendOffsets, receiveOffsets) = (packedOffsets(sendCounts), packedOffsets(receiveCounts))
    return sendCounts.withUnsafeBufferPointer { sc in
        sendOffsets.withUnsafeBufferPointer { sd in
            receiveCounts.withUnsafeBufferPointer { rc in
                receiveOffsets.withUnsafeBufferPointer { rd in
                    countUnit(VariableSide(counts: sc, displacements: sd), VariableSide(counts: rc, displacements: rd),
                              limit: limit) == nil
                }
            }
        }
    }
}

/// One rank's blocks in an MPI_Alltoallw exchange, in elements: for each peer,
/// how many elements go there from which element of the send buffer, and how
/// many come from it to which element of the receive buffer.
@usableFromInline
struct ExchangePlan: Equatable {
    @usableFromInline var sendCounts: [Int]
    @usableFromInline var sendOffsets: [Int]
    @usableFromInline var receiveCounts: [Int]
    @usableFromInline var receiveOffsets: [Int]

    /// A plan of `size` peers that exchanges nothing.
    @usableFromInline init(size: Int) {
        sendCounts = [Int](repeating: 0, count: size)
        sendOffsets = sendCounts
        receiveCounts = sendCounts
        receiveOffsets = sendCounts
    }

    /// Alltoallv: `sendCounts[r]` elements from `sendOffsets[r]` to rank r, `receiveCounts[r]` from rank r
    /// to `receiveOffsets[r]`.
    @usableFromInline
    init(sendCounts: [Int], sendOffsets: [Int], receiveCounts: [Int], receiveOffsets: [Int]) {
        self.sendCounts = sendCounts
        self.sendOffsets = sendOffsets
        self.receiveCounts = receiveCounts
        self.receiveOffsets = receiveOffsets
    }

    /// Allgatherv: `count` elements from offset 0 to every rank; rank r's `counts[r]` at `displacements[r]`.
    @usableFromInline
    static func allgatherv(count: Int, counts: [Int], displacements: [Int]) -> ExchangePlan {
        var plan = ExchangePlan(size: counts.count)
        for r in counts.indices {
            plan.sendCounts[r] = count
            plan.receiveCounts[r] = counts[r]
            plan.receiveOffsets[r] = displacements[r]
        }
        return plan
    }

    /// Gatherv: `count` elements to the root; on the root, rank r's `counts[r]` at `displacements[r]`.
    @usableFromInline
    static func gatherv(count: Int, counts: [Int], displacements: [Int]?, root: Int, rank: Int) -> ExchangePlan {
        var plan = ExchangePlan(size: counts.count)
        plan.sendCounts[root] = count
        if rank == root, let displacements {
            plan.receiveCounts = counts
            plan.receiveOffsets = displacements
        }
        return plan
    }

    /// Scatterv: on the root, `counts[r]` elements at `displacements[r]` to rank r; `count` from the root.
    @usableFromInline
    static func scatterv(counts: [Int], displacements: [Int]?, count: Int, root: Int, rank: Int) -> ExchangePlan {
        var plan = ExchangePlan(size: counts.count)
        if rank == root, let displacements {
            plan.sendCounts = counts
            plan.sendOffsets = displacements
        }
        plan.receiveCounts[root] = count
        return plan
    }
}

/// This rank's rank and the size of `comm` (under the lock when calls are serialised).
@usableFromInline
func rankAndSize(_ comm: MPI_Comm) -> (code: Int32, rank: Int, size: Int) {
    var (rank, size): (Int32, Int32) = (0, 0)
    var code = locked { MPI_Comm_rank(comm, &rank) }
    if code == 0 { code = locked { MPI_Comm_size(comm, &size) } }
    return (code, Int(rank), Int(size))
}

/// Runs `plan` as one MPI_Alltoallw of elements of `type` (serialised: MPI_Ialltoallw, polled).
///
/// Creates one datatype per non-empty block and frees every one of them on
/// every path. Returns the MPI return code (of a failed datatype call, or of the exchange).
@usableFromInline @inline(never)
func exchangeAsAlltoallw(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, plan: ExchangePlan, type: MPI_Datatype,
    comm: MPI_Comm
) -> Int32 {
    let n = plan.sendCounts.count
    // Send side first (0..<n), then the receive side (n..<2n).
    var types = [MPI_Datatype](repeating: type, count: 2 * n)
    var counts = [Int32](repeating: 0, count: Swift.max(1, 2 * n))
    var created = [Bool](repeating: false, count: 2 * n)
    defer {
        for i in 0..<(2 * n) where created[i] { _ = locked { swiftmpi_type_free(&types[i]) } }
    }
    for i in 0..<(2 * n) {
        let (count, offset) = i < n ? (plan.sendCounts[i], plan.sendOffsets[i])
            : (plan.receiveCounts[i - n], plan.receiveOffsets[i - n])
        guard count > 0 else { continue }
        var block = swiftmpi_datatype_null()
        let code = locked { swiftmpi_type_block_at(Int64(count), type, Int64(offset), &block) }
        guard code == 0 else { return code }
        types[i] = block
        created[i] = true
        counts[i] = 1
    }
    let displacements = [Int32](repeating: 0, count: Swift.max(1, n))
    return types.withUnsafeBufferPointer { t in
        counts.withUnsafeBufferPointer { c in
            displacements.withUnsafeBufferPointer { d in
                let (st, rt) = (t.baseAddress!, t.baseAddress! + n)
                let (sc, rc, z) = (c.baseAddress!, c.baseAddress! + n, d.baseAddress!)
                if _fastPath(!serializesCalls) {
                    return waitingInCollective { swiftmpi_alltoallw(send, sc, z, st, receive, rc, z, rt, comm) }
                }
                return serialized { swiftmpi_ialltoallw(send, sc, z, st, receive, rc, z, rt, comm, &$0) }
            }
        }
    }
}
