/// A communication operation of this package, named once.
///
/// Errors, the per-call debug log and the cross-rank argument check name
/// operations through this type; ``MPIError/operation`` carries its ``name``.
public enum MPIOperation: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// ``allgather(_:comm:token:)-(ShapedArray<T>,_,_)`` (`MPI_Allgather`).
    case allgather
    /// ``allreduce(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Allreduce`).
    case allreduce
    /// ``alltoall(_:comm:token:)-(ShapedArray<T>,_,_)`` (`MPI_Alltoall`).
    case alltoall
    /// ``barrier(comm:token:)`` (`MPI_Barrier`).
    case barrier
    /// ``bcast(_:root:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Bcast`).
    case bcast
    /// ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Gather`).
    case gather
    /// ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)`` (`MPI_Mprobe` and `MPI_Mrecv`).
    case recv
    /// ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)`` (`MPI_Reduce`).
    case reduce
    /// ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Scan`).
    case scan
    /// ``scatter(_:root:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Scatter`).
    case scatter
    /// ``send(_:dest:tag:comm:token:)-(ShapedArray<T>,_,_,_,_)`` (`MPI_Send`).
    case send
    /// ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)``
    /// (a send and a matched receive, like `MPI_Sendrecv`).
    case sendrecv
    /// ``allgatherv(_:comm:token:)-(ShapedArray<T>,_,_)`` (`MPI_Allgatherv`).
    case allgatherv
    /// ``gatherv(_:root:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Gatherv`).
    case gatherv
    /// ``scatterv(_:rowCounts:root:comm:token:)`` (`MPI_Scatterv`).
    case scatterv
    /// ``alltoallv(_:rowCounts:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Alltoallv`).
    case alltoallv
    /// ``reduceScatterBlock(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Reduce_scatter_block`).
    case reduceScatterBlock
    /// ``reduceScatter(_:counts:op:comm:token:)-(ShapedArray<T>,_,_,_,_)`` (`MPI_Reduce_scatter`).
    case reduceScatter
    /// ``exscan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` (`MPI_Exscan`).
    case exscan
    /// ``probe(_:source:tag:comm:)`` (`MPI_Probe`).
    case probe
    /// ``iprobe(_:source:tag:comm:)`` (`MPI_Iprobe`).
    case iprobe
    /// ``PersistentPlan/start()``: the start of a persistent plan's messages (`MPI_Startall`).
    case persistentStart
    /// ``PersistentExchange/wait()``: the completion of a persistent plan's messages (`MPI_Waitall`).
    case persistentWait
    /// ``neighborAllgather(_:comm:token:)-(ShapedArray<T>,_,_)`` (`MPI_Neighbor_allgather`).
    case neighborAllgather
    /// ``neighborAllgatherv(_:receiveCounts:comm:token:)`` (`MPI_Neighbor_allgatherv`).
    case neighborAllgatherv
    /// ``neighborAlltoall(_:comm:token:)-(ShapedArray<T>,_,_)`` (`MPI_Neighbor_alltoall`).
    case neighborAlltoall
    /// ``neighborAlltoallv(_:sendCounts:receiveCounts:comm:token:)`` (`MPI_Neighbor_alltoallv`).
    case neighborAlltoallv
    /// ``Communicator/duplicate()``, and the first use of ``Communicator/default`` (`MPI_Comm_dup`).
    case duplicate
    /// ``Communicator/split(color:key:)-(Int,_)`` and its optional-color form (`MPI_Comm_split`).
    case split
    /// ``Communicator/cartesian(dimensions:periodic:reorder:)`` (`MPI_Cart_create`).
    case cartesian
    /// ``CartesianCommunicator/sub(keeping:)`` (`MPI_Cart_sub`).
    case cartesianSub

    /// The operation's name, as in mpi4jax: for example `allreduce`.
    public var name: String {
        switch self {
        case .allgather: "allgather"
        case .allreduce: "allreduce"
        case .alltoall: "alltoall"
        case .barrier: "barrier"
        case .bcast: "bcast"
        case .gather: "gather"
        case .recv: "recv"
        case .reduce: "reduce"
        case .scan: "scan"
        case .scatter: "scatter"
        case .send: "send"
        case .sendrecv: "sendrecv"
        case .allgatherv: "allgatherv"
        case .gatherv: "gatherv"
        case .scatterv: "scatterv"
        case .alltoallv: "alltoallv"
        case .reduceScatterBlock: "reduceScatterBlock"
        case .reduceScatter: "reduceScatter"
        case .exscan: "exscan"
        case .probe: "probe"
        case .iprobe: "iprobe"
        case .persistentStart: "persistent start"
        case .persistentWait: "persistent wait"
        case .neighborAllgather: "neighborAllgather"
        case .neighborAllgatherv: "neighborAllgatherv"
        case .neighborAlltoall: "neighborAlltoall"
        case .neighborAlltoallv: "neighborAlltoallv"
        case .duplicate: "Communicator.duplicate"
        case .split: "Communicator.split"
        case .cartesian: "Communicator.cartesian"
        case .cartesianSub: "CartesianCommunicator.sub"
        }
    }

    /// The operation's name.
    public var description: String { name }

    /// Whether every process of the communicator takes part (a collective operation).
    ///
    /// The operations that make communicators (``duplicate``, ``split``, ``cartesian``,
    /// ``cartesianSub``) are collective too: they are numbered, recorded and watched like the others.
    public var isCollective: Bool {
        switch self {
        case .send, .recv, .sendrecv, .probe, .iprobe, .persistentStart, .persistentWait: false
        default: true
        }
    }
}
