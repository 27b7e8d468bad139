import CMPI

// neighborAlltoallv (MPI_Neighbor_alltoallv): its core, then its forms ([T], into:, ShapedArray).

/// The checked counts of both sides of neighborAlltoallv.
@usableFromInline
struct NeighborExchangePlan {
    @usableFromInline let send: NeighborPlan
    @usableFromInline let receive: NeighborPlan
    /// The communicator's topology (for the raw call: ``rawNeighborAlltoallv(_:sendCounts:sendDisplacements:_:receiveCounts:receiveDisplacements:type:comm:topology:)``).
    @usableFromInline let topology: RawTopology

    @inlinable init(send: NeighborPlan, receive: NeighborPlan, topology: RawTopology) {
        self.send = send
        self.receive = receive
        self.topology = topology
    }
}

extension NeighborExchangePlan: NeighborCounts {
    func sentCount(toNeighbor i: Int) -> Int { send.counts[i] &* send.unitSize }
    func receivedCount(fromNeighbor i: Int) -> Int { receive.counts[i] &* receive.unitSize }
    var receiveArgument: StaticString { receive.argument }
}

/// neighborAlltoallv's checks: a topology, one send count per out-neighbour adding up to `x`'s count,
/// one receive count per in-neighbour, and counts that MPI can take
/// (``checkNeighborMessage(sendCount:send:receive:_:)``). For the shaped-array form, `rows` gives
/// `x`'s shape, whose first axis the send counts (rows of `rowSize` elements, named `sendRowCounts`
/// and `receiveRowCounts`) must add up to.
@inlinable
func neighborAlltoallvPlan(
    _ count: Int, sendCounts: [Int], receiveCounts: [Int], rows shape: [Int]? = nil, rowSize: Int = 1,
    comm: ResolvedCommunicator, known: RawTopology?
) throws(MPIError) -> NeighborExchangePlan {
    let topology: RawTopology
    if let known { topology = known } else { topology = try neighborTopology(comm, .neighborAlltoallv) }
    let operation = MPIOperation.neighborAlltoallv
    let send = try NeighborPlan(sendCounts, unitSize: rowSize, neighbors: Int(topology.outdegree),
                                shape == nil ? "sendCounts" : "sendRowCounts", operation)
    if let shape {
        if _slowPath(shape.first != send.units) {
            throw MPIError.shapeMismatch(
                operation: operation.name, argument: "x",
                expected: "\(send.units) rows along the first axis (the sum of sendRowCounts)",
                actual: "shape \(shape)")
        }
    } else if _slowPath(send.total != count) {
        throw MPIError.shapeMismatch(
            operation: operation.name, argument: "x",
            expected: "\(counted(send.total, "element")) (the sum of sendCounts)", actual: "\(counted(count, "element"))")
    }
    let receive = try NeighborPlan(receiveCounts, unitSize: rowSize, neighbors: Int(topology.indegree),
                                   shape == nil ? "receiveCounts" : "receiveRowCounts", operation)
    try checkNeighborMessage(send: send, receive: receive, operation)
    return NeighborExchangePlan(send: send, receive: receive, topology: topology)
}

/// The core of neighborAlltoallv: the checks (unless `plan` holds their outcome), the hooks and the raw call,
/// from `x` (the out-neighbours' blocks one after the other) into `output` (the in-neighbours').
@inlinable
func neighborAlltoallvCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, sendCounts: [Int], receiveCounts: [Int], comm: ResolvedCommunicator,
    plan: Result<NeighborExchangePlan, MPIError>?, known: RawTopology? = nil
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.neighborAlltoallv, comm, T.self, count: 0), checks: {
        () throws(MPIError) -> NeighborExchangePlan in
        if let plan { return try plan.get() }
        return try neighborAlltoallvPlan(count, sendCounts: sendCounts, receiveCounts: receiveCounts, comm: comm,
                                         known: known)
    }) { (plan) throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: plan.receive.total, "the sum of receiveCounts", .neighborAlltoallv) {
                (destination) throws(MPIError) in
                try plan.send.withElementCounts { (sendCounts, sendDisplacements) throws(MPIError) in
                    try plan.receive.withElementCounts { (receiveCounts, receiveDisplacements) throws(MPIError) in
                        try rawNeighborAlltoallv(
                            source, sendCounts: sendCounts, sendDisplacements: sendDisplacements, destination,
                            receiveCounts: receiveCounts, receiveDisplacements: receiveDisplacements,
                            type: T.mpiDatatype.handle, comm: comm.handle, topology: plan.topology)
                    }
                }
            }
        }
    }
}

/// Sends a block of any length to each neighbour of the communicator's topology, and receives one
/// from each.
///
/// Like ``neighborAlltoall(_:comm:token:)-(ShapedArray<T>,_,_)``, but the blocks
/// may differ in length: `x` is the blocks for the neighbours one after the
/// other, `sendCounts[i]` elements for neighbour `i`, and `receiveCounts[i]` is
/// the length of the block that neighbour `i` sends to this process, which it
/// must equal (as in MPI, a neighbour that sends more is an error of the
/// program, which the MPI library may report or not). A block sent to a null
/// neighbour (past a wall) goes nowhere; a null neighbour's block of the result is zero.
/// Where both neighbours of a dimension are the same process (a periodic dimension
/// of one or two processes), its two blocks arrive by direction too, each with its
/// own length, whatever order the MPI library matches them in (see <doc:CartesianTopologies>).
///
/// Blocks and totals above `Int32.max` elements (MPI 3.1's `int` counts and
/// displacements) are passed in a common unit where one brings them under it,
/// else through MPI 4.0's `MPI_Neighbor_alltoallv_c` where the library has it
/// (MPICH 4); Open MPI 4.1 has not, and refuses them (see
/// <doc:VariableSizeCollectives>).
///
/// - Parameters:
///   - x: The blocks to send, `sendCounts.reduce(0, +)` elements. It is not modified.
///   - sendCounts: One count per neighbour, at least 0.
///   - receiveCounts: One count per neighbour, at least 0.
///   - comm: A communicator with a topology, such as ``CartesianCommunicator/communicator``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The received blocks one after the other, `receiveCounts.reduce(0, +)` elements, and
///   the new token.
/// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a communicator
///   without a topology (`comm`), or counts that are negative, too many or too few, or whose sum
///   overflows `Int` (`sendCounts`, `receiveCounts`), and on a library without
///   `MPI_Neighbor_alltoallv_c` (Open MPI 4.1) for counts whose sum is above `Int32.max` and that
///   no common divisor of both sides brings under it (`receiveCounts` where those are above,
///   else `sendCounts`); ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` when `x`
///   does not hold the sum of `sendCounts`; all before anything is communicated.
///
/// The corresponding C function is `MPI_Neighbor_alltoallv`.
@inlinable
public func neighborAlltoallv<T: MPIScalar>(
    _ x: [T], sendCounts: [Int], receiveCounts: [Int], comm: Communicator, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let resolved = try Communicator.resolve(comm, .neighborAlltoallv)
    // Planned without throwing: a failed plan throws in the core's checks, where SWIFT_MPI_CHECK=1
    // has every rank agree on the failure (a throw here skipped that, and the other ranks hung).
    let plan = Result { () throws(MPIError) in
        try neighborAlltoallvPlan(x.count, sendCounts: sendCounts, receiveCounts: receiveCounts, comm: resolved,
                                  known: comm.storage.topology)
    }
    let result = try [T].filled(count: (try? plan.get())?.receive.total ?? 0) { (output) throws(MPIError) in
        zeroResult(output, topology: comm.storage.topology, blocksMayDiffer: true)
        try neighborAlltoallvCore(x, into: &output, sendCounts: sendCounts, receiveCounts: receiveCounts,
                                  comm: resolved, plan: plan)
    }
    return (result, advance(token))
}

/// ``neighborAlltoallv(_:sendCounts:receiveCounts:comm:token:)`` into caller-owned storage of
/// `receiveCounts.reduce(0, +)` elements.
///
/// The blocks of null neighbours are left as they were. An output of another
/// size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on
/// this process after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Neighbor_alltoallv`.
@inlinable @discardableResult
public func neighborAlltoallv<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, sendCounts: [Int], receiveCounts: [Int], into output: inout Output, comm: Communicator,
    token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try neighborAlltoallvCore(x, into: &output, sendCounts: sendCounts, receiveCounts: receiveCounts,
                              comm: Communicator.resolve(comm, .neighborAlltoallv), plan: nil,
                              known: comm.storage.topology)
    return advance(token)
}

/// The shaped-array form of ``neighborAlltoallv(_:sendCounts:receiveCounts:comm:token:)``: blocks of rows.
///
/// `x` holds the blocks for the neighbours one after another along its first
/// axis: the next `sendRowCounts[i]` rows go to neighbour `i`. `receiveRowCounts[i]`
/// is the number of rows that neighbour `i` sends to this process, and must equal
/// it; every process's rows have the same shape. The result holds the received
/// blocks along the first axis, in neighbour order, as ``VariableBlocks``
/// (`result[i]` came from neighbour `i`); a null neighbour's block is zero. On a
/// periodic dimension of one or two processes the blocks arrive by direction too,
/// as for the element form.
///
/// - Parameters:
///   - x: The rows to send, `sendRowCounts.reduce(0, +)` along the first axis. It is not modified.
///   - sendRowCounts: One row count per neighbour, at least 0.
///   - receiveRowCounts: One row count per neighbour, at least 0.
///   - comm: A communicator with a topology, such as ``CartesianCommunicator/communicator``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The received blocks and the new token.
/// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a communicator
///   without a topology (`comm`), or row counts that are negative, too many or too few, or whose
///   elements overflow `Int` (`sendRowCounts`, `receiveRowCounts`), and on a library without
///   `MPI_Neighbor_alltoallv_c` (Open MPI 4.1) for rows whose elements add up to more than
///   `Int32.max` where no common divisor of both sides (the row size at least) brings them under
///   it (`receiveRowCounts` where those are above, else `sendRowCounts`);
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` when `x`'s rows are not the
///   sum of `sendRowCounts`; all before anything is communicated.
///
/// The corresponding C function is `MPI_Neighbor_alltoallv`.
@inlinable
public func neighborAlltoallv<T: MPIScalar>(
    _ x: ShapedArray<T>, sendRowCounts: [Int], receiveRowCounts: [Int], comm: Communicator, token: Token? = nil
) throws(MPIError) -> (VariableBlocks<T>, Token) {
    let resolved = try Communicator.resolve(comm, .neighborAlltoallv)
    let topology = try neighborTopology(comm, resolved, .neighborAlltoallv)
    let (_, rowShape, rowSize) = rowsOf(x)
    // Planned without throwing: a failed plan throws in the core's checks, where SWIFT_MPI_CHECK=1
    // has every rank agree on the failure (a throw here skipped that, and the other ranks hung).
    let plan = Result { () throws(MPIError) in
        try neighborAlltoallvPlan(x.scalarCount, sendCounts: sendRowCounts, receiveCounts: receiveRowCounts,
                                  rows: x._shape, rowSize: rowSize, comm: resolved, known: topology)
    }
    let result = try ScalarStorage<T>.filled(count: (try? plan.get())?.receive.total ?? 0) {
        (output) throws(MPIError) in
        zeroResult(output, topology: topology, blocksMayDiffer: true)
        try neighborAlltoallvCore(x, into: &output, sendCounts: sendRowCounts, receiveCounts: receiveRowCounts,
                                  comm: resolved, plan: plan)
    }
    let units = try plan.get().receive.units  // the core succeeded, so the plan did
    return (VariableBlocks(_uncheckedData: ShapedArray(_uncheckedShape: prepending(units, to: rowShape),
                                                       storage: result),
                           counts: receiveRowCounts), advance(token))
}
