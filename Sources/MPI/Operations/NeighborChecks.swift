import CMPI

// The checks shared by the neighbour collectives (neighborAllgather(v),
// neighborAlltoall(v)): the communicator's topology, and the counts of the v forms.

/// The topology of `comm`, which must have one: the neighbour collectives' first check.
@inlinable
func neighborTopology(_ comm: ResolvedCommunicator, _ operation: MPIOperation) throws(MPIError) -> RawTopology {
    let topology = try rawTopology(comm.handle, operation)
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

/// Zeroes a new result, so that the blocks of null neighbours (which MPI leaves untouched) read as
/// zero; nothing when `topology` says this rank has no null neighbour, since MPI then writes every
/// block (zeroing a 128 KiB result cost more than the 64 KiB neighborAlltoall itself). `nil`: not
/// known, zeroed.
@inlinable @inline(__always)
func zeroResult<Scalar: MPIScalar>(_ output: ResultBuffer<Scalar>, topology: RawTopology?) {
    if let topology, topology.hasNullNeighbors == 0 { return }
    if let base = output.buffer.baseAddress {
        UnsafeMutableRawPointer(base).initializeMemory(
            as: UInt8.self, repeating: 0, count: output.buffer.count * MemoryLayout<Scalar>.stride)
    }
}

/// The checked counts of one side of a v form: the counts as given (elements, or rows of the
/// shaped-array forms), the elements of one unit, and the totals.
@usableFromInline
struct NeighborPlan {
    /// One count per neighbour, in units of `unitSize` elements.
    @usableFromInline let counts: [Int]
    /// The elements of one unit: 1 for element counts, the row size for row counts.
    @usableFromInline let unitSize: Int
    /// The sum of `counts`, in units.
    @usableFromInline let units: Int
    /// The sum of `counts`, in elements: at most `Int32.max`.
    @usableFromInline let total: Int

    /// Checks `counts` as ``checkCounts(_:_:size:_:per:)`` does (one per neighbour, none negative,
    /// `argument` naming them in their own unit), and that their elements (`unitSize` per unit)
    /// add up to at most `Int32.max`, MPI's `int` displacements.
    @inlinable
    init(
        _ counts: [Int], unitSize: Int = 1, neighbors: Int, _ argument: StaticString, _ operation: MPIOperation
    ) throws(MPIError) {
        let units = try checkCounts(counts, argument, size: neighbors, operation,
                                    per: "neighbour of the communicator's topology")
        let (total, overflow) = units.multipliedReportingOverflow(by: unitSize)
        if _slowPath(overflow || total > Int(Int32.max)) {
            throw MPIError.invalidArgument(
                operation: operation.name, argument: "\(argument)",
                expected: unitSize == 1 ? "counts whose sum is at most \(Int32.max) (MPI's int displacements)"
                    : "row counts whose elements (rows × \(unitSize) per row) add up to at most \(Int32.max)",
                actual: "\(counts)")
        }
        self.counts = counts
        self.unitSize = unitSize
        self.units = units
        self.total = total
    }

    /// Calls `body` with MPI's counts and packed displacements, in elements, in temporary storage
    /// (one entry at least: MPI reads one per neighbour, and a process with none still passes valid arrays).
    @inlinable @inline(__always)
    func withMPICounts<R>(
        _ body: (_ counts: UnsafePointer<Int32>, _ displacements: UnsafePointer<Int32>) throws(MPIError) -> R
    ) throws(MPIError) -> R {
        let n = Swift.max(1, counts.count)
        var failure: MPIError?
        let result: R? = withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * n) { storage in
            storage.initialize(repeating: 0)
            var next = 0
            for i in counts.indices {
                let elements = counts[i] * unitSize
                storage[i] = Int32(truncatingIfNeeded: elements)
                storage[n + i] = Int32(truncatingIfNeeded: next)
                next += elements
            }
            do throws(MPIError) {
                return try body(storage.baseAddress!, storage.baseAddress! + n)
            } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        return result!
    }
}
