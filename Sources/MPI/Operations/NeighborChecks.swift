import CMPI

// The checks shared by the neighbour collectives (neighborAllgather(v),
// neighborAlltoall(v)): the communicator's topology, and the counts of the v forms.

/// The topology of `comm`, which must have one: the neighbour collectives' first check.
@inlinable
func neighborTopology(_ comm: ResolvedCommunicator, _ operation: MPIOperation) throws(MPIError) -> RawTopology {
    // Also called before the operation's `perform` (the result forms size their result by it): a use.
    let topology = try comm.inUse(operation.name) { () throws(MPIError) in try rawTopology(comm.handle, operation) }
    if _slowPath(topology.kind == 0) { try noTopologyError(operation) }
    return topology
}

/// The topology of `comm`: the one it was made with (a ``CartesianCommunicator``), else MPI's answer.
@inlinable
func neighborTopology(
    _ comm: Communicator, _ resolved: ResolvedCommunicator, _ operation: MPIOperation
) throws(MPIError) -> RawTopology {
    if let known = comm.storage.topology { return known }
    return try neighborTopology(resolved, operation)
}

@usableFromInline @inline(never)
func noTopologyError(_ operation: MPIOperation) throws(MPIError) {
    throw MPIError.invalidArgument(
        operation: operation.name, argument: "comm",
        expected: "a communicator with a topology (for example CartesianCommunicator.communicator)",
        actual: topologyDescription(0))
}

/// Zeroes a new result, so that the blocks that MPI leaves untouched (those of null neighbours, and
/// with MPICH, in a `v` form, one of two blocks from a rank on both sides when their lengths differ)
/// read as zero; nothing when `topology` says MPI writes every block (zeroing a 128 KiB result cost
/// more than the 64 KiB neighborAlltoall itself). `nil`: not known, zeroed. `blocksMayDiffer`: the
/// result of neighborAlltoallv, whose blocks from one process may differ in length.
@inlinable @inline(__always)
func zeroResult<Scalar: MPIScalar>(_ output: ResultBuffer<Scalar>, topology: RawTopology?, blocksMayDiffer: Bool = false) {
    if let topology, topology.mayLeaveBlocksUnwritten & (blocksMayDiffer ? 3 : 1) == 0 { return }
    if let base = output.buffer.baseAddress {
        UnsafeMutableRawPointer(base).initializeMemory(
            as: UInt8.self, repeating: 0, count: output.buffer.count * MemoryLayout<Scalar>.stride)
    }
}

/// The checked counts of one side of a v form: the counts as given (elements, or rows of the
/// shaped-array forms), the elements of one unit, and the totals.
///
/// The blocks are packed: block i starts where block i - 1 ends. MPI gets the counts and these
/// displacements in elements; where they need more than 32 bits the raw call chooses a common unit
/// or MPI 4.0's `_c` function (``withVariableMessage(_:_:of:_:large:)``), and where neither is
/// there (Open MPI 4.1) ``checkNeighborMessage(sendCount:send:receive:_:)`` refuses them first.
@usableFromInline
struct NeighborPlan {
    /// One count per neighbour, in units of `unitSize` elements.
    @usableFromInline let counts: [Int]
    /// The elements of one unit: 1 for element counts, the row size for row counts.
    @usableFromInline let unitSize: Int
    /// The sum of `counts`, in units.
    @usableFromInline let units: Int
    /// The sum of `counts`, in elements.
    @usableFromInline let total: Int
    /// The counts' argument, for the errors of ``checkNeighborMessage(sendCount:send:receive:_:)``.
    @usableFromInline let argument: StaticString

    /// Checks `counts` as ``checkCounts(_:_:size:_:per:)`` does (one per neighbour, none negative,
    /// `argument` naming them in their own unit, their sum less than `Int.max`), and that their
    /// elements (`unitSize` per unit) add up to less than `Int.max` too.
    @inlinable
    init(
        _ counts: [Int], unitSize: Int = 1, neighbors: Int, _ argument: StaticString, _ operation: MPIOperation
    ) throws(MPIError) {
        let units = try checkCounts(counts, argument, size: neighbors, operation,
                                    per: "neighbour of the communicator's topology")
        let (total, overflow) = units.multipliedReportingOverflow(by: unitSize)
        if _slowPath(overflow || total == Int.max) {
            throw MPIError.invalidArgument(
                operation: operation.name, argument: "\(argument)",
                expected: unitSize == 1 ? "counts whose sum is less than \(Int.max)"
                    : "row counts whose elements (rows × \(unitSize) per row) add up to less than \(Int.max)",
                actual: "\(counts)")
        }
        self.counts = counts
        self.unitSize = unitSize
        self.units = units
        self.total = total
        self.argument = argument
    }

    /// Whether every count and packed displacement, in elements, fits in an `Int32` (MPI 3.1's
    /// `int`): they are at most the total.
    @inlinable @inline(__always)
    var fitsInt32: Bool { total <= maxDirectCount }

    /// Calls `body` with the counts and packed displacements in elements, in temporary storage
    /// (one entry at least, so that the pointers are valid: MPI reads one per neighbour, and a
    /// process with none still passes valid arrays).
    @inlinable @inline(__always)
    func withElementCounts<R>(
        _ body: (_ counts: UnsafeBufferPointer<Int>, _ displacements: UnsafeBufferPointer<Int>) throws(MPIError) -> R
    ) throws(MPIError) -> R {
        let n = Swift.max(1, counts.count)
        var failure: MPIError?
        let result: R? = withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * n) { storage in
            storage.initialize(repeating: 0)
            for i in counts.indices { storage[i] = counts[i] * unitSize }
            writePackedOffsets(of: storage[0..<counts.count], to: UnsafeMutableBufferPointer(rebasing: storage[n...]))
            let base = UnsafePointer(storage.baseAddress!)
            do throws(MPIError) {
                return try body(UnsafeBufferPointer(start: base, count: counts.count),
                                UnsafeBufferPointer(start: base + n, count: counts.count))
            } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        return result!
    }
}

/// The neighbour v forms' last check: on a library without MPI 4.0's large-count functions
/// (Open MPI 4.1), counts or packed displacements above `Int32.max` elements that no common unit
/// brings under it (``variableMessageRefuses(_:_:)``, the raw call's own choice) throw
/// ``MPIError/invalidArgument(operation:argument:expected:actual:)`` naming the receive counts where
/// they are the side that does not fit, else the send counts, or
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` naming neighborAllgatherv's `x`.
/// Nothing where every value fits (the plain call), or where the library has the `_c` functions
/// (MPICH 4).
///
/// `sendCount` is neighborAllgatherv's `x` (with `send` nil); neighborAlltoallv passes its `send` plan.
@inlinable @inline(__always)
func checkNeighborMessage(
    sendCount: Int = 0, send: NeighborPlan?, receive: NeighborPlan, _ operation: MPIOperation
) throws(MPIError) {
    let sendFits = if let send { send.fitsInt32 } else { sendCount <= maxDirectCount }
    if _fastPath(receive.fitsInt32 && sendFits) { return }
    if hasLargeCountCollectives { return }
    try refuseUncountedNeighborMessage(sendCount: sendCount, send: send, receive: receive, operation)
}

/// ``checkNeighborMessage(sendCount:send:receive:_:)``'s slow path, where a value does not fit.
@usableFromInline @inline(never)
func refuseUncountedNeighborMessage(
    sendCount: Int, send: NeighborPlan?, receive: NeighborPlan, _ operation: MPIOperation
) throws(MPIError) {
    let refuses = try receive.withElementCounts { (rc, rd) throws(MPIError) -> Bool in
        guard let send else {
            return variableMessageRefuses(VariableSide(count: sendCount), VariableSide(counts: rc, displacements: rd))
        }
        return try send.withElementCounts { (sc, sd) throws(MPIError) -> Bool in
            variableMessageRefuses(VariableSide(counts: sc, displacements: sd), VariableSide(counts: rc, displacements: rd))
        }
    }
    guard refuses else { return }
    let library = "this MPI library has MPI 3.1's int counts, without MPI 4.0's large-count "
        + (send == nil ? "MPI_Neighbor_allgatherv_c" : "MPI_Neighbor_alltoallv_c")
    guard receive.fitsInt32 else {
        throw uncountedCountsError(receive, library, operation)
    }
    if let send { throw uncountedCountsError(send, library, operation) }
    throw MPIError.shapeMismatch(
        operation: operation.name, argument: "x",
        expected: "at most \(Int32.max) elements, or a count that a common divisor with the receive counts "
            + "brings under it (\(library))",
        actual: "\(counted(sendCount, "element"))")
}

/// The refusal of one side's counts (``NeighborPlan/argument``) that MPI cannot take on this library.
@usableFromInline
func uncountedCountsError(_ plan: NeighborPlan, _ library: String, _ operation: MPIOperation) -> MPIError {
    let what = plan.unitSize == 1 ? "counts" : "row counts whose elements (rows × \(plan.unitSize) per row)"
    return MPIError.invalidArgument(
        operation: operation.name, argument: "\(plan.argument)",
        expected: "\(what) and packed offsets at most \(Int32.max), or brought under it by a common divisor "
            + "of all counts (\(library))",
        actual: "\(plan.counts)")
}
