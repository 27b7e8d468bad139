import CMPI
import Synchronization

// The raw layer of Cartesian topologies and the neighbour collectives: one
// non-generic function per MPI call, as in RawCalls.swift.
//
// The neighbour collectives show their blocking call and, at
// `MPI_THREAD_SERIALIZED`, their non-blocking counterpart polled under the
// package's lock. The topology constructors (`MPI_Cart_create`, `MPI_Cart_sub`)
// have no non-blocking form in MPI 3.1: like `MPI_Comm_split`, they hold the lock
// until every rank has joined them. The queries are local.

/// A communicator's topology and its neighbour counts, as the neighbour collectives see them.
@usableFromInline
struct RawTopology {
    /// 0: none, 1: Cartesian, 2: graph, 3: distributed graph.
    @usableFromInline var kind: Int32 = 0
    /// The blocks a neighbour collective receives (one per in-neighbour).
    @usableFromInline var indegree: Int32 = 0
    /// The blocks a neighbour collective sends (one per out-neighbour).
    @usableFromInline var outdegree: Int32 = 0
    /// What may leave a block of this rank's result unwritten: 1, a null neighbour (whose block MPI
    /// leaves untouched); 2, one rank on two sides (a periodic dimension of 1 or 2 processes, or a
    /// graph that names a neighbour twice), where MPICH 4.0 can leave a block of a `v` form unwritten
    /// when the two blocks' lengths differ; 0, neither (MPI writes every block); 3 unless known.
    @usableFromInline var mayLeaveBlocksUnwritten: Int32 = 3

    /// Whether this is a Cartesian grid where one process is both neighbours of a dimension (a periodic
    /// dimension of one or two processes): where the libraries pair blocks in orders of their own
    /// (``neighborReceiveSlots(_:_:variant:_:)``).
    @inlinable var hasOneProcessOnTwoSides: Bool { kind == 1 && mayLeaveBlocksUnwritten & 2 != 0 }

    @inlinable init() {}
}

/// The topology of `comm` (`MPI_Topo_test`, and the neighbour counts of its kind).
@usableFromInline
func rawTopology(_ comm: MPI_Comm, _ operation: MPIOperation) throws(MPIError) -> RawTopology {
    var topology = RawTopology()
    try check(locked { swiftmpi_topology(comm, &topology.kind, &topology.indegree, &topology.outdegree, &topology.mayLeaveBlocksUnwritten) }, operation)
    return topology
}

/// The ranks of `comm`'s in-neighbours and out-neighbours in block order, -1 for a null neighbour
/// (`MPI_Cart_shift`, `MPI_Graph_neighbors` or `MPI_Dist_graph_neighbors`; local calls).
func rawTopologyNeighbors(
    _ comm: MPI_Comm, _ topology: RawTopology, _ operation: MPIOperation
) throws(MPIError) -> (sources: [Int], destinations: [Int]) {
    let indegree = Int(topology.indegree), outdegree = Int(topology.outdegree)
    var sources = [Int32](repeating: -1, count: max(1, indegree))
    var destinations = [Int32](repeating: -1, count: max(1, outdegree))
    var weights = [Int32](repeating: 0, count: indegree + outdegree + 1)
    try check(locked {
        swiftmpi_topology_neighbors(comm, topology.kind, &sources, topology.indegree, &destinations,
                                    topology.outdegree, &weights)
    }, operation)
    return (sources.prefix(indegree).map(Int.init), destinations.prefix(outdegree).map(Int.init))
}

/// `MPI_Neighbor_allgather`: `count` elements from each in-neighbour, in neighbour order.
@usableFromInline
func rawNeighborAllgather(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype,
    elementSize: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(withMessage(count: count, of: type, elementSize: elementSize) { n, t in
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Neighbor_allgather(send, n, t, receive, n, t, comm) }
        }
        return serialized { swiftmpi_ineighbor_allgather(send, n, t, receive, n, t, comm, &$0) }
    }, .neighborAllgather)
}

/// `MPI_Neighbor_alltoall`: `blockCount` elements to and from each neighbour. `topology`: the
/// communicator's; where one process is both neighbours of a dimension, the blocks are put where they
/// belong after the call (``neighborReceiveSlots(_:_:variant:_:)``).
@usableFromInline
func rawNeighborAlltoall(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, blockCount: Int, type: MPI_Datatype,
    elementSize: Int, comm: MPI_Comm, topology: RawTopology
) throws(MPIError) {
    if _slowPath(topology.hasOneProcessOnTwoSides),
       let slots = try neighborReceiveSlots(comm, topology, variant: serializesCalls ? 2 : 0, .neighborAlltoall) {
        try rawNeighborAlltoallDirect(send, receive, blockCount: blockCount, type: type, elementSize: elementSize,
                                      comm: comm)
        // MPI's receive slot i got the block of slot `slots[i]`: each moved where it belongs.
        if let receive, blockCount > 0 {
            let bytes = blockCount * elementSize
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: bytes * slots.count, alignment: 16)
            defer { scratch.deallocate() }
            scratch.copyMemory(from: receive, byteCount: bytes * slots.count)
            for (i, slot) in slots.enumerated() where slot != i {
                (receive + slot * bytes).copyMemory(from: scratch + i * bytes, byteCount: bytes)
            }
        }
        return
    }
    try rawNeighborAlltoallDirect(send, receive, blockCount: blockCount, type: type, elementSize: elementSize, comm: comm)
}

/// ``rawNeighborAlltoall(_:_:blockCount:type:elementSize:comm:topology:)``'s MPI call.
@usableFromInline
func rawNeighborAlltoallDirect(
    _ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, blockCount: Int, type: MPI_Datatype,
    elementSize: Int, comm: MPI_Comm
) throws(MPIError) {
    try check(withMessage(count: blockCount, of: type, elementSize: elementSize) { n, t in
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Neighbor_alltoall(send, n, t, receive, n, t, comm) }
        }
        return serialized { swiftmpi_ineighbor_alltoall(send, n, t, receive, n, t, comm, &$0) }
    }, .neighborAlltoall)
}

/// `MPI_Neighbor_allgatherv`: counts and displacements in elements, already checked. Where they need
/// more than 32 bits, ``withVariableMessage(_:_:of:_:large:)`` chooses a common unit or
/// `MPI_Neighbor_allgatherv_c` (the same collective; MPICH 4), as for allgatherv.
@usableFromInline
func rawNeighborAllgatherv(
    _ send: UnsafeRawPointer?, sendCount: Int, _ receive: UnsafeMutableRawPointer?,
    receiveCounts: UnsafeBufferPointer<Int>, displacements: UnsafeBufferPointer<Int>, type: MPI_Datatype, comm: MPI_Comm
) throws(MPIError) {
    try checkVariable(withVariableMessage(
        VariableSide(count: sendCount), VariableSide(counts: receiveCounts, displacements: displacements), of: type
    ) { t, n, _, _, _, rc, rd in
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Neighbor_allgatherv(send, n, t, receive, rc, rd, t, comm) }
        }
        return serialized { swiftmpi_ineighbor_allgatherv(send, n, t, receive, rc!, rd!, t, comm, &$0) }
    } large: {
        let (rc, rd) = (receiveCounts.baseAddress, displacements.baseAddress)
        if _fastPath(!serializesCalls) {
            return waitingInCollective {
                swiftmpi_neighbor_allgatherv_c(send, sendCount, type, receive, rc, rd, type, comm)
            }
        }
        return serialized { swiftmpi_ineighbor_allgatherv_c(send, sendCount, type, receive, rc, rd, type, comm, &$0) }
    }, .neighborAllgatherv, argument: "receiveCounts")
}

/// `MPI_Neighbor_alltoallv`: counts and displacements in elements, already checked. Where they need
/// more than 32 bits, ``withVariableMessage(_:_:of:_:large:)`` chooses a common unit or
/// `MPI_Neighbor_alltoallv_c` (the same collective; MPICH 4), as for alltoallv.
///
/// `topology`: the communicator's; where one process is both neighbours of a dimension and the library
/// pairs their blocks otherwise than by direction (``neighborReceiveSlots(_:_:variant:_:)``), MPI's
/// receive slots get the counts and displacements of the slots whose blocks they receive, so that each
/// block arrives where it belongs, with its own length.
@usableFromInline
func rawNeighborAlltoallv(
    _ send: UnsafeRawPointer?, sendCounts: UnsafeBufferPointer<Int>, sendDisplacements: UnsafeBufferPointer<Int>,
    _ receive: UnsafeMutableRawPointer?, receiveCounts: UnsafeBufferPointer<Int>,
    receiveDisplacements: UnsafeBufferPointer<Int>, type: MPI_Datatype, comm: MPI_Comm, topology: RawTopology
) throws(MPIError) {
    if _slowPath(topology.hasOneProcessOnTwoSides),
       let slots = try neighborReceiveSlots(comm, topology, variant: serializesCalls ? 3 : 1, .neighborAlltoallv) {
        // MPI's receive slot i is given slot `slots[i]`'s count and displacement.
        let counts = slots.map { receiveCounts[$0] }, displacements = slots.map { receiveDisplacements[$0] }
        return try counts.withUnsafeBufferPointer { (rc) throws(MPIError) in
            try displacements.withUnsafeBufferPointer { (rd) throws(MPIError) in
                try rawNeighborAlltoallvDirect(send, sendCounts: sendCounts, sendDisplacements: sendDisplacements,
                                               receive, receiveCounts: rc, receiveDisplacements: rd, type: type,
                                               comm: comm)
            }
        }
    }
    try rawNeighborAlltoallvDirect(send, sendCounts: sendCounts, sendDisplacements: sendDisplacements, receive,
                                   receiveCounts: receiveCounts, receiveDisplacements: receiveDisplacements,
                                   type: type, comm: comm)
}

/// ``rawNeighborAlltoallv(_:sendCounts:sendDisplacements:_:receiveCounts:receiveDisplacements:type:comm:topology:)``'s
/// MPI call.
@usableFromInline
func rawNeighborAlltoallvDirect(
    _ send: UnsafeRawPointer?, sendCounts: UnsafeBufferPointer<Int>, sendDisplacements: UnsafeBufferPointer<Int>,
    _ receive: UnsafeMutableRawPointer?, receiveCounts: UnsafeBufferPointer<Int>,
    receiveDisplacements: UnsafeBufferPointer<Int>, type: MPI_Datatype, comm: MPI_Comm
) throws(MPIError) {
    try checkVariable(withVariableMessage(
        VariableSide(counts: sendCounts, displacements: sendDisplacements),
        VariableSide(counts: receiveCounts, displacements: receiveDisplacements), of: type
    ) { t, _, sc, sd, _, rc, rd in
        if _fastPath(!serializesCalls) {
            return waitingInCollective { MPI_Neighbor_alltoallv(send, sc, sd, t, receive, rc, rd, t, comm) }
        }
        return serialized { swiftmpi_ineighbor_alltoallv(send, sc!, sd!, t, receive, rc!, rd!, t, comm, &$0) }
    } large: {
        let (sc, sd) = (sendCounts.baseAddress, sendDisplacements.baseAddress)
        let (rc, rd) = (receiveCounts.baseAddress, receiveDisplacements.baseAddress)
        if _fastPath(!serializesCalls) {
            return waitingInCollective {
                swiftmpi_neighbor_alltoallv_c(send, sc, sd, type, receive, rc, rd, type, comm)
            }
        }
        return serialized { swiftmpi_ineighbor_alltoallv_c(send, sc, sd, type, receive, rc, rd, type, comm, &$0) }
    }, .neighborAlltoallv, argument: "receiveCounts")
}

/// How the library pairs blocks between one pair of processes, per variant of
/// ``swiftmpi_neighbor_pairing(_:_:)`` (0 by direction, 1 and 3 in slot order or in reverse, 2 another
/// way), found once.
private let neighborPairings = Mutex<[Int32?]>([nil, nil, nil, nil])

/// Where the blocks that the library's `variant` of the exchange (0 `MPI_Neighbor_alltoall`, 1
/// `MPI_Neighbor_alltoallv`, 2 and 3 their non-blocking forms) delivers on the Cartesian `comm` belong:
/// MPI's receive slot `i` gets the block of slot `result[i]`; `nil` where every block lands in its
/// own slot.
///
/// MPI defines a Cartesian neighbour exchange as a shift: the block a process sends towards +1
/// arrives in the receiver's −1 slot. Where one process is two or more of another's neighbours (a
/// periodic dimension of one or two processes), the messages between the pair have the same source
/// and tag, and implementations match them in an order of their own (measured in C: Open MPI 4.1.4's
/// non-blocking forms, which this package's blocking forms use at ``ThreadLevel/serialized``, match
/// the receives in slot order with the sends in slot order; MPICH 4.0.2's `MPI_Neighbor_alltoallv`,
/// blocking or not, too; MPICH's `MPI_Neighbor_alltoall` posts its receives in reverse, which is by
/// direction within one dimension but not across dimensions of one process; an independent audit
/// saw a 2-D Jacobi solver go wrong on such grids). The library's order is found once per variant
/// on a 1 × 1 grid of this process alone (`MPI_COMM_SELF`, no message to another process); the
/// receives from a process `q` posted `k`-th then get the block that `q` sends `k`-th (its
/// slots towards this process in increasing order), whose own slot is its slot's partner (`j ^ 1`).
func neighborReceiveSlots(
    _ comm: MPI_Comm, _ topology: RawTopology, variant: Int32, _ operation: MPIOperation
) throws(MPIError) -> [Int]? {
    // Found under the cache's lock, so that two threads' first exchanges do not both make the grid of
    // MPI_COMM_SELF at once (collectives on one communicator from two threads at once are erroneous).
    let (pairing, code) = neighborPairings.withLock { known -> (Int32, Int32) in
        if let pairing = known[Int(variant)] { return (pairing, 0) }
        var pairing: Int32 = 2
        let code = locked { swiftmpi_neighbor_pairing(variant, &pairing) }
        if code == 0 { known[Int(variant)] = pairing }
        return (pairing, code)
    }
    try check(code, operation)
    guard pairing == 1 || pairing == 3 else { return nil }
    let (sources, _) = try rawTopologyNeighbors(comm, topology, operation)
    var slotsOfSource: [Int: [Int]] = [:]
    for (slot, source) in sources.enumerated() where source >= 0 { slotsOfSource[source, default: []].append(slot) }
    var slots = Array(sources.indices)
    var moved = false
    for (_, mine) in slotsOfSource where mine.count > 1 {
        let sent = mine.map { $0 ^ 1 }.sorted()  // the partner's slots towards this process, in its order
        let posted = pairing == 1 ? mine : mine.reversed()
        for (k, slot) in posted.enumerated() {
            slots[slot] = sent[k] ^ 1
            moved = moved || slots[slot] != slot
        }
    }
    return moved ? slots : nil
}

/// `MPI_Cart_create` (collective; holds the lock while serialised, like `MPI_Comm_split`).
func rawCartCreate(
    _ comm: MPI_Comm, dimensions: [Int32], periods: [Int32], reorder: Bool, _ newHandle: inout MPI_Comm
) throws(MPIError) {
    try admitCallingThread("Communicator.cartesian")
    let code = waitingInCollective {
        locked { swiftmpi_cart_create(comm, Int32(dimensions.count), dimensions, periods, reorder ? 1 : 0, &newHandle) }
    }
    try check(code, "MPI_Cart_create")
}

/// `MPI_Cart_sub` (collective; holds the lock while serialised, like `MPI_Comm_split`).
func rawCartSub(_ comm: MPI_Comm, remain: [Int32], _ newHandle: inout MPI_Comm) throws(MPIError) {
    try admitCallingThread("CartesianCommunicator.sub")
    try check(waitingInCollective { locked { swiftmpi_cart_sub(comm, remain, &newHandle) } }, "MPI_Cart_sub")
}

/// `MPI_Cart_get`: the dimensions, periodicity and this process's coordinates.
func rawCartGet(_ comm: MPI_Comm) throws(MPIError) -> (dimensions: [Int], periodic: [Bool], coordinates: [Int]) {
    var ndims: Int32 = 0
    try check(locked { MPI_Cartdim_get(comm, &ndims) }, "MPI_Cartdim_get")
    let n = Int(ndims)
    var dims = [Int32](repeating: 0, count: n), periods = dims, coords = dims
    try check(locked { MPI_Cart_get(comm, ndims, &dims, &periods, &coords) }, "MPI_Cart_get")
    return (dims.map(Int.init), periods.map { $0 != 0 }, coords.map(Int.init))
}

/// `MPI_Cart_rank`: the rank at coordinates already checked to be in range (or wrapped in periodic dimensions).
func rawCartRank(_ comm: MPI_Comm, coordinates: [Int32]) throws(MPIError) -> Int {
    var rank: Int32 = 0
    try check(locked { MPI_Cart_rank(comm, coordinates, &rank) }, "MPI_Cart_rank")
    return Int(rank)
}

/// `MPI_Cart_coords`: the coordinates of a rank already checked to be in range.
func rawCartCoordinates(_ comm: MPI_Comm, rank: Int, dimensions: Int) throws(MPIError) -> [Int] {
    var coords = [Int32](repeating: 0, count: dimensions)
    try check(locked { MPI_Cart_coords(comm, Int32(rank), Int32(dimensions), &coords) }, "MPI_Cart_coords")
    return coords.map(Int.init)
}

/// `MPI_Cart_shift`: the source and destination ranks, `MPI_PROC_NULL` as `nil`.
func rawCartShift(_ comm: MPI_Comm, dimension: Int, displacement: Int) throws(MPIError) -> (Int?, Int?) {
    var source: Int32 = 0, destination: Int32 = 0
    try check(locked {
        MPI_Cart_shift(comm, Int32(dimension), Int32(displacement), &source, &destination)
    }, "MPI_Cart_shift")
    let null = swiftmpi_proc_null()
    return (source == null ? nil : Int(source), destination == null ? nil : Int(destination))
}

/// `MPI_Dims_create` on dimensions already checked (local; `0` marks a free dimension).
func rawDimsCreate(nodes: Int, dimensions: inout [Int32]) throws(MPIError) {
    let n = Int32(dimensions.count)
    try check(locked { MPI_Dims_create(Int32(nodes), n, &dimensions) }, "MPI_Dims_create")
}
