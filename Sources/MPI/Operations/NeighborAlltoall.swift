import CMPI

// neighborAlltoall (MPI_Neighbor_alltoall): its core, then its forms (ShapedArray, [T], into:).

/// How neighborAlltoall's input is divided into one block per out-neighbour.
@usableFromInline
enum NeighborBlocks {
    /// By the first axis, which must have one row per out-neighbour (`nil` for a 0-d array): the
    /// ShapedArray form (with its shape, for messages) and the `[T]` form (`shape` `nil`).
    case rows(firstAxis: Int?, shape: [Int]?)
    /// Into equal runs of elements, one per out-neighbour: the `into:` form.
    case elements

    /// The elements of one block: a row (its trailing axes; one element in the `[T]` form), or the
    /// input's share per out-neighbour, or, on a process with no out-neighbour, the output's share
    /// per in-neighbour (so that a process that only receives knows its blocks' size).
    @inlinable
    func blockCount(count: Int, topology: RawTopology, outputCount: Int) -> Int {
        switch self {
        case .rows(_, let shape):
            return shape.map { $0.dropFirst().reduce(1, *) } ?? 1
        case .elements:
            if topology.outdegree > 0 { return count / Int(topology.outdegree) }
            return topology.indegree > 0 ? outputCount / Int(topology.indegree) : 0
        }
    }
}

/// The core of neighborAlltoall: the block checks, the hooks and the raw call, from `x` into `output`
/// (one block per in-neighbour), over the communicator's `topology`.
///
/// The call records the block's size, not the input's: on a graph topology the ranks' out-degrees,
/// and so their inputs, may differ, while the blocks they exchange have one size (what the cross-rank
/// check compares; a rank without neighbours records ``Call/anyCount``).
@inlinable
func neighborAlltoallCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, blocks: NeighborBlocks, comm: ResolvedCommunicator, topology: RawTopology
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    let blockCount = blocks.blockCount(count: count, topology: topology, outputCount: output.scalarCount)
    let isolated = topology.indegree == 0 && topology.outdegree == 0
    try perform(Call(.neighborAlltoall, comm, T.self, count: isolated ? Call.anyCount : blockCount), checks: { () throws(MPIError) in
        try checkNeighborBlocks(blocks, count: count, neighbors: Int(topology.outdegree))
    }) { () throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: blockCount * Int(topology.indegree), "in-neighbours × block",
                           .neighborAlltoall) { (destination) throws(MPIError) in
                try rawNeighborAlltoall(source, destination, blockCount: blockCount, type: T.mpiDatatype.handle,
                                        elementSize: MemoryLayout<T>.stride, comm: comm.handle, topology: topology)
            }
        }
    }
}

/// Checks that neighborAlltoall's input divides into one block per out-neighbour.
@inlinable
func checkNeighborBlocks(_ blocks: NeighborBlocks, count: Int, neighbors: Int) throws(MPIError) {
    switch blocks {
    case .rows(let firstAxis, let shape):
        if _slowPath(firstAxis != neighbors) {
            try neighborBlocksError(
                expected: firstAxis == nil
                    ? "an array whose first axis has size \(neighbors) (the number of neighbours)"
                    : "first axis of size \(neighbors) (the number of neighbours)",
                actual: firstAxis == nil ? "a 0-d array" : "shape \(shape ?? [count])")
        }
    case .elements:
        if _slowPath(neighbors == 0 ? count != 0 : count % neighbors != 0) {
            try neighborBlocksError(
                expected: "a multiple of \(neighbors) elements (the number of neighbours)",
                actual: "\(counted(count, "element"))")
        }
    }
}

@usableFromInline @inline(never)
func neighborBlocksError(expected: String, actual: String) throws(MPIError) {
    throw MPIError.shapeMismatch(
        operation: MPIOperation.neighborAlltoall.name, argument: "x", expected: expected, actual: actual)
}

/// The result-returning forms' adapter: a new zeroed result of one block per in-neighbour, filled by the core.
@inlinable
func neighborAlltoallResult<Input: MPIBuffer, R: UninitializedResult>(
    _ x: Input, blocks: NeighborBlocks, comm: ResolvedCommunicator, topology: RawTopology
) throws(MPIError) -> R where R.Element == Input.Scalar {
    let blockCount = blocks.blockCount(count: x.scalarCount, topology: topology, outputCount: 0)
    return try R.filled(count: blockCount * Int(topology.indegree)) { (output) throws(MPIError) in
        zeroResult(output, topology: topology)
        try neighborAlltoallCore(x, into: &output, blocks: blocks, comm: comm, topology: topology)
    }
}

/// Sends row `i` of `x` to neighbour `i` of the communicator's topology, and receives row `i` of the
/// result from neighbour `i`.
///
/// On a ``CartesianCommunicator`` the neighbours come in MPI's order: for each
/// dimension, the neighbour at −1, then the neighbour at +1 (the `source` and
/// `destination` of ``CartesianCommunicator/shift(dimension:displacement:)`` with
/// displacement 1). So on a 1-D grid, row 0 goes to the left neighbour and row 0
/// of the result is the row that the left neighbour sent to its right (its row 1).
/// A row sent to a null neighbour (past a wall) goes nowhere, and the row of the
/// result from a null neighbour is zero. Where both neighbours of a dimension are
/// the same process (a periodic dimension of one or two processes), its two rows
/// arrive by direction too, whatever order the MPI library matches them in (see
/// <doc:CartesianTopologies>).
///
/// - Parameters:
///   - x: An array whose first axis has one row per neighbour (`2 × dimensions` on a Cartesian
///     grid). It is not modified.
///   - comm: A communicator with a topology, such as ``CartesianCommunicator/communicator``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array of `x`'s shape (one row per in-neighbour), and the new token.
/// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` (argument `comm`) for a
///   communicator without a topology; ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
///   for a 0-d `x` or a first axis other than the number of neighbours; both before anything is
///   communicated.
///
/// The corresponding C function is `MPI_Neighbor_alltoall`.
@inlinable
public func neighborAlltoall<T: MPIScalar>(
    _ x: ShapedArray<T>, comm: Communicator, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let resolved = try Communicator.resolve(comm, .neighborAlltoall)
    let topology = try neighborTopology(comm, resolved, .neighborAlltoall)
    let result: ScalarStorage<T> = try neighborAlltoallResult(
        x, blocks: .rows(firstAxis: x._shape.first, shape: x._shape), comm: resolved, topology: topology)
    var shape = x._shape
    if !shape.isEmpty { shape[0] = Int(topology.indegree) }
    return (ShapedArray(_uncheckedShape: shape, storage: result), advance(token))
}

/// The plain-array form of ``neighborAlltoall(_:comm:token:)-(ShapedArray<T>,_,_)``: `x.count` must
/// equal the number of neighbours, and element `i` goes to neighbour `i`.
///
/// The corresponding C function is `MPI_Neighbor_alltoall`.
@inlinable
public func neighborAlltoall<T: MPIScalar>(
    _ x: [T], comm: Communicator, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let resolved = try Communicator.resolve(comm, .neighborAlltoall)
    let topology = try neighborTopology(comm, resolved, .neighborAlltoall)
    return (try neighborAlltoallResult(x, blocks: .rows(firstAxis: x.count, shape: nil), comm: resolved,
                                       topology: topology), advance(token))
}

/// ``neighborAlltoall(_:comm:token:)-(ShapedArray<T>,_,_)`` into caller-owned storage.
///
/// `x.scalarCount` must be a multiple of the number of (out-)neighbours; block `i`
/// goes to neighbour `i`, and `output` holds one such block per (in-)neighbour. On a
/// process without out-neighbours (possible in a graph topology made in C), whose `x`
/// is empty, a block is `output`'s count over the in-neighbours. The
/// blocks of null neighbours are left as they were. An output of another size
/// throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on this
/// process after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Neighbor_alltoall`.
@inlinable @discardableResult
public func neighborAlltoall<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, comm: Communicator, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let resolved = try Communicator.resolve(comm, .neighborAlltoall)
    try neighborAlltoallCore(x, into: &output, blocks: .elements, comm: resolved,
                             topology: neighborTopology(comm, resolved, .neighborAlltoall))
    return advance(token)
}
