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

/// Checks the counts of a v form against the neighbour count and converts them,
/// with their packed displacements, for MPI (which counts in `Int32`).
///
/// - Returns: The counts, the displacements (prefix sums), and the total.
@usableFromInline
func neighborCounts(
    _ counts: [Int], neighbors: Int, argument: String, _ operation: MPIOperation
) throws(MPIError) -> (counts: [Int32], displacements: [Int32], total: Int) {
    guard counts.count == neighbors else {
        throw MPIError.invalidArgument(
            operation: operation.name, argument: argument,
            expected: "\(neighbors) counts (one per neighbour of the communicator's topology)",
            actual: "\(counts.count) counts")
    }
    var mpiCounts = [Int32](), displacements = [Int32]()
    mpiCounts.reserveCapacity(counts.count)
    displacements.reserveCapacity(counts.count)
    var total = 0
    for count in counts {
        guard count >= 0 else {
            throw MPIError.invalidArgument(
                operation: operation.name, argument: argument, expected: "counts of at least 0", actual: "\(counts)")
        }
        guard total + count <= Int(Int32.max) else {
            throw MPIError.invalidArgument(
                operation: operation.name, argument: argument,
                expected: "counts whose sum is at most \(Int32.max) (MPI's int displacements)", actual: "\(counts)")
        }
        mpiCounts.append(Int32(count))
        displacements.append(Int32(total))
        total += count
    }
    // MPI reads one entry per neighbour; a process with none still passes valid arrays.
    if mpiCounts.isEmpty {
        mpiCounts.append(0)
        displacements.append(0)
    }
    return (mpiCounts, displacements, total)
}

/// The row counts of a v form's shaped-array form, checked like element counts (one per
/// neighbour, at least 0, `argument` naming them), as element counts of rows of `rowSize` elements.
@inlinable
func neighborElementCounts(
    rows rowCounts: [Int], rowSize: Int, neighbors: Int, argument: String, _ operation: MPIOperation
) throws(MPIError) -> [Int] {
    _ = try neighborCounts(rowCounts, neighbors: neighbors, argument: argument, operation)
    if rowSize == 1 { return rowCounts }
    var counts = [Int]()
    counts.reserveCapacity(rowCounts.count)
    for rows in rowCounts {
        let (elements, overflow) = rows.multipliedReportingOverflow(by: rowSize)
        guard !overflow, elements <= Int(Int32.max) else {
            throw MPIError.invalidArgument(
                operation: operation.name, argument: argument,
                expected: "row counts whose elements (rows × \(rowSize) per row) add up to at most \(Int32.max)",
                actual: "\(rowCounts)")
        }
        counts.append(elements)
    }
    return counts
}
