import CMPI

// neighborAllgatherv (MPI_Neighbor_allgatherv): its core, then its forms ([T], into:, ShapedArray).

/// neighborAllgatherv's checks: a topology, one receive count per in-neighbour (rows of `rowSize`
/// elements, named `receiveRowCounts`, for the shaped-array form), and counts that MPI can take
/// (``checkNeighborMessage(sendCount:send:receive:_:)``).
@inlinable
func neighborAllgathervPlan(
    _ count: Int, receiveCounts: [Int], rowSize: Int = 1, _ argument: StaticString = "receiveCounts",
    comm: ResolvedCommunicator, known: RawTopology?
) throws(MPIError) -> NeighborPlan {
    let topology: RawTopology
    if let known { topology = known } else { topology = try neighborTopology(comm, .neighborAllgatherv) }
    let plan = try NeighborPlan(receiveCounts, unitSize: rowSize, neighbors: Int(topology.indegree), argument,
                                .neighborAllgatherv)
    try checkNeighborMessage(sendCount: count, send: nil, receive: plan, .neighborAllgatherv)
    return plan
}

/// The checked counts of neighborAllgatherv: the receive counts, and `x`'s count, which goes to
/// every out-neighbour.
@usableFromInline
struct NeighborGatherPlan: NeighborCounts {
    @usableFromInline let receive: NeighborPlan
    @usableFromInline let sendCount: Int

    @inlinable init(receive: NeighborPlan, sendCount: Int) {
        self.receive = receive
        self.sendCount = sendCount
    }

    func sentCount(toNeighbor i: Int) -> Int { sendCount }
    func receivedCount(fromNeighbor i: Int) -> Int { receive.counts[i] &* receive.unitSize }
    var receiveArgument: StaticString { receive.argument }
}

/// The core of neighborAllgatherv: the checks (unless `plan` holds their outcome), the hooks and the
/// raw call, from `x` into `output` (the in-neighbours' blocks one after the other).
@inlinable
func neighborAllgathervCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, receiveCounts: [Int], comm: ResolvedCommunicator,
    plan: Result<NeighborPlan, MPIError>?,
    known: RawTopology? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.neighborAllgatherv, comm, T.self, count: 0), checks: { () throws(MPIError) -> NeighborGatherPlan in
        if let plan { return NeighborGatherPlan(receive: try plan.get(), sendCount: count) }
        return NeighborGatherPlan(
            receive: try neighborAllgathervPlan(count, receiveCounts: receiveCounts, comm: comm, known: known),
            sendCount: count)
    }) { (gather) throws(MPIError) in
        let plan = gather.receive
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: plan.total, "the sum of receiveCounts", .neighborAllgatherv) {
                (destination) throws(MPIError) in
                try plan.withElementCounts { (counts, displacements) throws(MPIError) in
                    try rawNeighborAllgatherv(
                        source, sendCount: count, destination, receiveCounts: counts,
                        displacements: displacements, type: T.mpiDatatype.handle, comm: comm.handle)
                }
            }
        }
    }
}

/// Gathers a block of any length from each neighbour of the communicator's topology.
///
/// Like ``neighborAllgather(_:comm:token:)-(ShapedArray<T>,_,_)``, but the
/// neighbours' blocks may differ in length: `receiveCounts[i]` is the length of
/// neighbour `i`'s `x`, and must equal it (as in MPI, a neighbour that sends more
/// is an error of the program, which the MPI library may report or not). The
/// blocks follow each other in the result, in neighbour order; a null
/// neighbour's block (past a wall) is zero.
///
/// Blocks and totals above `Int32.max` elements (MPI 3.1's `int` counts and
/// displacements) are passed in a common unit where one brings them under it,
/// else through MPI 4.0's `MPI_Neighbor_allgatherv_c` where the library has it
/// (MPICH 4); Open MPI 4.1 has not, and refuses them (see
/// <doc:VariableSizeCollectives>).
///
/// - Parameters:
///   - x: This process's block. It is not modified.
///   - receiveCounts: One count per neighbour, at least 0.
///   - comm: A communicator with a topology, such as ``CartesianCommunicator/communicator``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The blocks, `receiveCounts.reduce(0, +)` elements in all, and the new token.
/// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a communicator
///   without a topology (`comm`), or counts that are negative, too many or too few, or whose sum
///   overflows `Int` (`receiveCounts`); on a library without `MPI_Neighbor_allgatherv_c` (Open MPI
///   4.1), also for counts whose sum is above `Int32.max` and that no common divisor (with `x`'s
///   count) brings under it (`receiveCounts`), and
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for such an `x` above
///   `Int32.max` elements; all before anything is communicated.
///
/// The corresponding C function is `MPI_Neighbor_allgatherv`.
@inlinable
public func neighborAllgatherv<T: MPIScalar>(
    _ x: [T], receiveCounts: [Int], comm: Communicator, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let resolved = try Communicator.resolve(comm, .neighborAllgatherv)
    // Planned without throwing: a failed plan throws in the core's checks, where SWIFT_MPI_CHECK=1
    // has every rank agree on the failure (a throw here skipped that, and the other ranks hung).
    let plan = Result { () throws(MPIError) in
        try neighborAllgathervPlan(x.count, receiveCounts: receiveCounts, comm: resolved, known: comm.storage.topology)
    }
    let result = try [T].filled(count: (try? plan.get())?.total ?? 0) { (output) throws(MPIError) in
        zeroResult(output, topology: comm.storage.topology)
        try neighborAllgathervCore(x, into: &output, receiveCounts: receiveCounts, comm: resolved, plan: plan)
    }
    return (result, advance(token))
}

/// ``neighborAllgatherv(_:receiveCounts:comm:token:)`` into caller-owned storage of
/// `receiveCounts.reduce(0, +)` elements.
///
/// The blocks of null neighbours are left as they were. An output of another
/// size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on
/// this process after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Neighbor_allgatherv`.
@inlinable @discardableResult
public func neighborAllgatherv<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, receiveCounts: [Int], into output: inout Output, comm: Communicator, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try neighborAllgathervCore(x, into: &output, receiveCounts: receiveCounts,
                               comm: Communicator.resolve(comm, .neighborAllgatherv), plan: nil,
                               known: comm.storage.topology)
    return advance(token)
}

/// The shaped-array form of ``neighborAllgatherv(_:receiveCounts:comm:token:)``: blocks of rows.
///
/// Each process's block is its `x`, any number of rows along the first axis
/// (a 0-d `x` is one row), with the same row shape on every process;
/// `receiveRowCounts[i]` is the number of rows of neighbour `i`'s `x`, and must
/// equal it. The result holds the neighbours' blocks one after another along the
/// first axis, in neighbour order, as ``VariableBlocks`` (`result[i]` is neighbour
/// `i`'s block); a null neighbour's block (past a wall) is zero.
///
/// - Parameters:
///   - x: This process's block. It is not modified.
///   - receiveRowCounts: One row count per neighbour, at least 0.
///   - comm: A communicator with a topology, such as ``CartesianCommunicator/communicator``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The neighbours' blocks and the new token.
/// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a communicator
///   without a topology (`comm`), or row counts that are negative, too many or too few, or whose
///   elements overflow `Int` (`receiveRowCounts`); on a library without
///   `MPI_Neighbor_allgatherv_c` (Open MPI 4.1), also for rows whose elements add up to more than
///   `Int32.max` where no common divisor (the row size at least) brings them under it
///   (`receiveRowCounts`), and ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for
///   such an `x` above `Int32.max` elements; all before anything is communicated.
///
/// The corresponding C function is `MPI_Neighbor_allgatherv`.
@inlinable
public func neighborAllgatherv<T: MPIScalar>(
    _ x: ShapedArray<T>, receiveRowCounts: [Int], comm: Communicator, token: Token? = nil
) throws(MPIError) -> (VariableBlocks<T>, Token) {
    let resolved = try Communicator.resolve(comm, .neighborAllgatherv)
    let topology = try neighborTopology(comm, resolved, .neighborAllgatherv)
    let (_, rowShape, rowSize) = rowsOf(x)
    // Planned without throwing: a failed plan throws in the core's checks, where SWIFT_MPI_CHECK=1
    // has every rank agree on the failure (a throw here skipped that, and the other ranks hung).
    let plan = Result { () throws(MPIError) in
        try neighborAllgathervPlan(x.scalarCount, receiveCounts: receiveRowCounts, rowSize: rowSize,
                                   "receiveRowCounts", comm: resolved, known: topology)
    }
    let result = try ScalarStorage<T>.filled(count: (try? plan.get())?.total ?? 0) { (output) throws(MPIError) in
        zeroResult(output, topology: topology)
        try neighborAllgathervCore(x, into: &output, receiveCounts: receiveRowCounts, comm: resolved, plan: plan)
    }
    let units = try plan.get().units  // the core succeeded, so the plan did
    return (VariableBlocks(_uncheckedData: ShapedArray(_uncheckedShape: prepending(units, to: rowShape),
                                                       storage: result),
                           counts: receiveRowCounts), advance(token))
}
