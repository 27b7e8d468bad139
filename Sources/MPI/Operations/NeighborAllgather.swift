import CMPI

// neighborAllgather (MPI_Neighbor_allgather): its core, then its forms (ShapedArray, [T], scalar, into:).

/// The core of neighborAllgather: the topology check, the hooks and the raw call, from `x` into
/// `output` (one block of `x`'s count per in-neighbour). `topology` is the communicator's, when the
/// caller has already read it (to size a new result).
@inlinable
func neighborAllgatherCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, comm: ResolvedCommunicator, topology: RawTopology?
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    try perform(Call(.neighborAllgather, comm, T.self, count: count), checks: { () throws(MPIError) -> Int in
        if let topology { return Int(topology.indegree) }
        return Int(try neighborTopology(comm, .neighborAllgather).indegree)
    }) { (indegree) throws(MPIError) in
        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
            try withOutput(&output, expected: count * indegree, "in-neighbours × input", .neighborAllgather) {
                (destination) throws(MPIError) in
                try rawNeighborAllgather(source, destination, count: count, type: T.mpiDatatype.handle,
                                         elementSize: MemoryLayout<T>.stride, comm: comm.handle)
            }
        }
    }
}

/// Gathers `x` from each neighbour of the communicator's topology.
///
/// Every process sends `x` to each of its neighbours and receives one block
/// from each. On a ``CartesianCommunicator`` the neighbours come in MPI's order:
/// for each dimension, the neighbour at −1, then the neighbour at +1 (the
/// `source` and `destination` of ``CartesianCommunicator/shift(dimension:displacement:)``
/// with displacement 1). A null neighbour (past a wall) sends nothing: its row
/// of the result is zero.
///
/// - Parameters:
///   - x: This process's contribution, of the same shape and type on every process. It is not modified.
///   - comm: A communicator with a topology, such as ``CartesianCommunicator/communicator``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: A new array of shape `[neighbours] + x.shape` (`neighbours` is `2 × dimensions` on a
///   Cartesian grid) whose row `i` is neighbour `i`'s `x`, and the new token.
/// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` (argument `comm`) for a
///   communicator without a topology, on every process, before anything is communicated.
///
/// The corresponding C function is `MPI_Neighbor_allgather`.
@inlinable
public func neighborAllgather<T: MPIScalar>(
    _ x: ShapedArray<T>, comm: Communicator, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    let resolved = try Communicator.resolve(comm, .neighborAllgather)
    let topology = try neighborTopology(comm, resolved, .neighborAllgather)
    let neighbors = Int(topology.indegree)
    let result = try ScalarStorage<T>.filled(count: x.scalarCount * neighbors) { (output) throws(MPIError) in
        zeroResult(output, topology: topology)
        try neighborAllgatherCore(x, into: &output, comm: resolved, topology: topology)
    }
    return (ShapedArray(_uncheckedShape: prepending(neighbors, to: x._shape), storage: result), advance(token))
}

/// The plain-array form of ``neighborAllgather(_:comm:token:)-(ShapedArray<T>,_,_)``: the result has
/// shape `[neighbours, x.count]`.
///
/// The corresponding C function is `MPI_Neighbor_allgather`.
@inlinable
public func neighborAllgather<T: MPIScalar>(
    _ x: [T], comm: Communicator, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    try neighborAllgather(ShapedArray(x), comm: comm, token: token)
}

/// The scalar form of ``neighborAllgather(_:comm:token:)-(ShapedArray<T>,_,_)``: the result has shape `[neighbours]`.
///
/// The corresponding C function is `MPI_Neighbor_allgather`.
@inlinable
public func neighborAllgather<T: MPIScalar>(
    _ x: T, comm: Communicator, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    try neighborAllgather(ShapedArray(scalar: x), comm: comm, token: token)
}

/// ``neighborAllgather(_:comm:token:)-(ShapedArray<T>,_,_)`` into caller-owned storage of
/// `neighbours × x.scalarCount` elements.
///
/// The blocks of null neighbours are left as they were. An output of another
/// size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on
/// this process after the collective has completed (into scratch storage).
///
/// The corresponding C function is `MPI_Neighbor_allgather`.
@inlinable @discardableResult
public func neighborAllgather<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, comm: Communicator, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try neighborAllgatherCore(x, into: &output, comm: Communicator.resolve(comm, .neighborAllgather),
                              topology: comm.storage.topology)
    return advance(token)
}
