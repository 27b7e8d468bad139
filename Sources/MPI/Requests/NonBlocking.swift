import CMPI

// The non-blocking forms: each is an adapter around its operation's one core
// (Operations/): it allocates the result, hands the core a PendingOperation, and
// returns a Request that owns the input, the result and the operation. The core
// checks the arguments and runs the hooks exactly as for the blocking form, so
// an argument error is thrown here, before anything is started.

/// Refuses a non-blocking reduction of more than `Int32.max` elements.
///
/// Run among the argument checks of the reductions' cores (`allreduceCore`, `reduceCore`,
/// `scanCore`) when they start a request, so that its error takes the path of every other
/// argument error: the debug log, and the cross-rank check, where the other ranks learn of it
/// instead of waiting in the agreement exchange. Every rank can know it: the count is the
/// same on every rank of a correct call.
///
/// The blocking reductions run such counts as several MPI calls of 2^30
/// elements (Raw/LargeCount.swift); a request holds one MPI call, and a
/// predefined reduction cannot be described by one derived datatype.
/// Data-movement operations of any count are one message (a derived datatype),
/// so they need no such check.
@inlinable
func checkStartableReduction(count: Int, _ operation: MPIOperation) throws(MPIError) {
    if _slowPath(count > maxDirectCount) {
        throw MPIError.invalidArgument(
            operation: operation.name, argument: "x",
            expected: "at most \(maxDirectCount) elements in the non-blocking form (one MPI call; "
                + "use the blocking form, which reduces larger arrays in chunks)",
            actual: "\(counted(count, "element"))")
    }
}

/// Starts a non-blocking form's operation and makes its request: `start` starts the operation on
/// `pending` and returns what the request hands out on completion.
///
/// `pending` is borrowed here and by `start`: a form that kept its state in a local and passed it to
/// the core (as a `PendingOperation?`) made a retain and a release of it around the start (callgrind,
/// 1 rank, 8 B: `isend` 53 instructions per call).
@inlinable @inline(__always)
func startRequest<Value>(
    _ pending: PendingOperation, _ start: (PendingOperation) throws(MPIError) -> Value
) throws(MPIError) -> Request<Value> {
    let output = try start(pending)
    return Request(pending, output: output)
}

// MARK: - Point to point

/// Starts sending `x` to rank `dest`, and returns the request that completes the send.
///
/// The counterpart of mpi4py's `comm.Isend(x, dest, tag)`. The request keeps `x`
/// alive while MPI reads it; changing the caller's `x` meanwhile copies it.
///
/// - Parameters:
///   - x: The data to send.
///   - dest: The destination rank, in `0..<size`, or ``procNull`` (the send goes nowhere).
///   - tag: The message tag, in `0...MPIRuntime.tagUpperBound`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns nothing.
/// - Throws: At the call, the argument errors of ``send(_:dest:tag:comm:token:)-(ShapedArray<T>,_,_,_,_)``.
///
/// The corresponding C function is `MPI_Isend`.
@inlinable
public func isend<T: MPIScalar>(
    _ x: ShapedArray<T>, dest: Int, tag: Int = 0, comm: Communicator? = nil
) throws(MPIError) -> Request<Void> {
    return try startRequest(PendingOperation.make(.send, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        try sendCore(x, dest: dest, tag: tag, comm: Communicator.resolve(comm, .send), pending: pending)
    }
}

/// The plain-array form of ``isend(_:dest:tag:comm:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Isend`.
@inlinable
public func isend<T: MPIScalar>(
    _ x: [T], dest: Int, tag: Int = 0, comm: Communicator? = nil
) throws(MPIError) -> Request<Void> {
    return try startRequest(PendingOperation.make(.send, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        try sendCore(x, dest: dest, tag: tag, comm: Communicator.resolve(comm, .send), pending: pending)
    }
}

/// Starts receiving a message into a new array shaped like `x`, and returns the request that completes it.
///
/// The counterpart of mpi4py's `comm.Irecv(buffer, source, tag)`; `x` is only a
/// template, as in ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)``. The
/// receive matches messages in the order receives were started, like MPI's
/// posted receives, and never writes past the result: a message of another size
/// fails the request with the blocking form's error. Cancelling a task that
/// awaits the request withdraws the receive if no message has matched it yet.
///
/// - Parameters:
///   - x: A template with the shape and type of the expected message.
///   - source: The sending rank, ``anySource`` (the default), or ``procNull`` (nothing arrives: a zero
///     result, an `into:` output left as it was, and a status of source `procNull`, tag `anyTag`, count 0).
///   - tag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - status: If given, filled with the message's source, tag and element count when the request completes.
/// - Returns: The request; waiting for it returns the message.
/// - Throws: At the call, the argument errors of the blocking form; on completion, its
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for a message of another size.
///
/// The corresponding C functions are `MPI_Improbe` and `MPI_Imrecv` (the blocking form's probed receive).
@inlinable
public func irecv<T: MPIScalar>(
    _ x: ShapedArray<T>, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil,
    status: Status? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .recv)
    return try startRequest(PendingOperation.make(.recv)) { (pending) throws(MPIError) in
        pending.status = status
        let storage = try ScalarStorage<T>.filled(count: x.scalarCount) { (output) throws(MPIError) in
            try recvCore(into: &output, source: source, tag: tag, comm: comm, pending: pending, status: nil, argument: "x")
        }
        return ShapedArray(_uncheckedShape: x._shape, storage: storage)
    }
}

/// The plain-array form of ``irecv(_:source:tag:comm:status:)-(ShapedArray<T>,_,_,_,_)``.
///
/// The corresponding C functions are `MPI_Improbe` and `MPI_Imrecv`.
@inlinable
public func irecv<T: MPIScalar>(
    _ x: [T], source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil, status: Status? = nil
) throws(MPIError) -> Request<[T]> {
    let comm = try Communicator.resolve(comm, .recv)
    return try startRequest(PendingOperation.make(.recv)) { (pending) throws(MPIError) in
        pending.status = status
        return try [T].filled(count: x.count) { (output) throws(MPIError) in
            try recvCore(into: &output, source: source, tag: tag, comm: comm, pending: pending, status: nil, argument: "x")
        }
    }
}

/// Starts sending `sendbuf` to `dest` and receiving a message from `source`, and returns the request that
/// completes both.
///
/// The non-blocking form of
/// ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)``
/// (MPI 3.1 has no `MPI_Isendrecv`: an `MPI_Isend` and the probed receive of ``irecv(_:source:tag:comm:status:)-(ShapedArray<T>,_,_,_,_)``).
///
/// - Parameters:
///   - sendbuf: The data to send.
///   - recvbuf: A template with the shape and type of the message to receive.
///   - source: The sending rank, ``anySource``, or ``procNull`` (nothing arrives: a zero result, an `into:`
///     output left as it was, and a status of source `procNull`, tag `anyTag`, count 0).
///   - dest: The destination rank, or ``procNull`` (the send goes nowhere).
///   - sendtag: The tag of the outgoing message (default 0).
///   - recvtag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - status: If given, filled with the received message's source, tag and count on completion.
/// - Returns: The request; waiting for it returns the received message.
/// - Throws: At the call, the argument errors of the blocking form; on completion, its other errors.
///
/// The corresponding C functions are `MPI_Isend`, `MPI_Improbe` and `MPI_Imrecv`.
@inlinable
public func isendrecv<T: MPIScalar>(
    _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int = 0,
    recvtag: Int = anyTag, comm: Communicator? = nil, status: Status? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .sendrecv)
    return try startRequest(PendingOperation.make(.sendrecv, keeping: sendbuf._requestStorageOwner)) { (pending) throws(MPIError) in
        pending.status = status
        pending.argument = "recvbuf"
        let storage = try ScalarStorage<T>.filled(count: recvbuf.scalarCount) { (output) throws(MPIError) in
            try sendrecvCore(sendbuf, into: &output, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
                             comm: comm, pending: pending, status: nil, argument: "recvbuf")
        }
        return ShapedArray(_uncheckedShape: recvbuf._shape, storage: storage)
    }
}

/// The plain-array form of ``isendrecv(_:_:source:dest:sendtag:recvtag:comm:status:)-(ShapedArray<T>,_,_,_,_,_,_,_)``.
///
/// The corresponding C functions are `MPI_Isend`, `MPI_Improbe` and `MPI_Imrecv`.
@inlinable
public func isendrecv<T: MPIScalar>(
    _ sendbuf: [T], _ recvbuf: [T], source: Int, dest: Int, sendtag: Int = 0,
    recvtag: Int = anyTag, comm: Communicator? = nil, status: Status? = nil
) throws(MPIError) -> Request<[T]> {
    let comm = try Communicator.resolve(comm, .sendrecv)
    return try startRequest(PendingOperation.make(.sendrecv, keeping: sendbuf._requestStorageOwner)) { (pending) throws(MPIError) in
        pending.status = status
        pending.argument = "recvbuf"
        return try [T].filled(count: recvbuf.count) { (output) throws(MPIError) in
            try sendrecvCore(sendbuf, into: &output, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
                             comm: comm, pending: pending, status: nil, argument: "recvbuf")
        }
    }
}

// MARK: - Collectives

/// Starts a barrier, and returns the request that completes when every rank has entered it.
///
/// The counterpart of mpi4py's `comm.Ibarrier()`.
///
/// - Parameter comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns nothing.
///
/// The corresponding C function is `MPI_Ibarrier`.
@inlinable
public func ibarrier(comm: Communicator? = nil) throws(MPIError) -> Request<Void> {
    return try startRequest(PendingOperation.make(.barrier)) { (pending) throws(MPIError) in
        try barrierCore(comm: Communicator.resolve(comm, .barrier), pending: pending)
    }
}

/// Starts broadcasting `x` from `root`; the request completes with the root's array on every rank.
///
/// The non-blocking form of ``bcast(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``: on the root
/// the result is `x`, elsewhere a new array of `x`'s shape.
///
/// - Parameters:
///   - x: On the root, the data; elsewhere a template of the same shape.
///   - root: The rank that broadcasts.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns the broadcast array.
/// - Throws: At the call, the argument errors of the blocking form.
///
/// The corresponding C function is `MPI_Ibcast`.
@inlinable
public func ibcast<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .bcast)
    return try startRequest(PendingOperation.make(.bcast, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        let count = x.scalarCount
        guard comm.rank != root else {
            var unused = ResultBuffer<T>.none
            try bcastCore(x, into: &unused, count: count, root: root, comm: comm, pending: pending)
            return x
        }
        let storage = try ScalarStorage<T>.filled(count: count) { (output) throws(MPIError) in
            try bcastCore(x, into: &output, count: count, root: root, comm: comm, pending: pending)
        }
        return ShapedArray(_uncheckedShape: x._shape, storage: storage)
    }
}

/// The plain-array form of ``ibcast(_:root:comm:)-(ShapedArray<T>,_,_)``: on the root the result is `x`,
/// elsewhere a new array of `x.count` elements.
///
/// The corresponding C function is `MPI_Ibcast`.
@inlinable
public func ibcast<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<[T]> {
    let comm = try Communicator.resolve(comm, .bcast)
    return try startRequest(PendingOperation.make(.bcast, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        let count = x.count
        guard comm.rank != root else {
            var unused = ResultBuffer<T>.none
            try bcastCore(x, into: &unused, count: count, root: root, comm: comm, pending: pending)
            return x
        }
        return try [T].filled(count: count) { (output) throws(MPIError) in
            try bcastCore(x, into: &output, count: count, root: root, comm: comm, pending: pending)
        }
    }
}

/// Starts gathering every rank's `x` on `root`.
///
/// The non-blocking form of ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``: on the root
/// the result has shape `[size] + x.shape`; elsewhere it is `x`.
///
/// - Parameters:
///   - x: This rank's contribution, of the same shape on every rank.
///   - root: The rank that receives.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns the gathered array (the root) or `x`.
/// - Throws: At the call, the argument errors of the blocking form.
///
/// The corresponding C function is `MPI_Igather`.
@inlinable
public func igather<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .gather)
    return try startRequest(PendingOperation.make(.gather, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        guard comm.rank == root else {
            var unused = ResultBuffer<T>.none
            try gatherCore(x, into: &unused, root: root, comm: comm, pending: pending)
            return x
        }
        let storage = try ScalarStorage<T>.filled(count: x.scalarCount * comm.size) { (output) throws(MPIError) in
            try gatherCore(x, into: &output, root: root, comm: comm, pending: pending)
        }
        return ShapedArray(_uncheckedShape: prepending(comm.size, to: x._shape), storage: storage)
    }
}

/// The plain-array form of ``igather(_:root:comm:)-(ShapedArray<T>,_,_)``: `x` is a rank-1 array, so on
/// the root the result has shape `[size, x.count]`, as with the blocking form.
///
/// The corresponding C function is `MPI_Igather`.
@inlinable
public func igather<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    try igather(ShapedArray(x), root: root, comm: comm)
}

/// Starts scattering the rows of the root's `x`, one to each rank.
///
/// The non-blocking form of ``scatter(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``, with the same
/// shapes: on the root `x` has leading axis `size`; elsewhere it is a template of one row.
///
/// - Parameters:
///   - x: On the root, the rows; elsewhere a template of one row.
///   - root: The rank that sends.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns this rank's row.
/// - Throws: At the call, the argument errors of the blocking form.
///
/// The corresponding C function is `MPI_Iscatter`.
@inlinable
public func iscatter<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .scatter)
    return try startRequest(PendingOperation.make(.scatter, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        let isRoot = comm.rank == root
        let rowShape = isRoot && !x._shape.isEmpty ? droppingFirst(x._shape) : x._shape
        let rowCount = isRoot ? (comm.size == 0 ? 0 : x.scalarCount / comm.size) : x.scalarCount
        let storage = try ScalarStorage<T>.filled(count: rowCount) { (output) throws(MPIError) in
            try scatterCore(x, into: &output, rootInput: .rows(firstAxis: x._shape.first), shape: x._shape, root: root,
                            comm: comm, pending: pending)
        }
        return ShapedArray(_uncheckedShape: rowShape, storage: storage)
    }
}

/// The plain-array form of ``iscatter(_:root:comm:)-(ShapedArray<T>,_,_)``: on the root `x` has `size`
/// elements and on the other ranks it is a one-element template; every rank gets a 0-d array, as with
/// the blocking form.
///
/// The corresponding C function is `MPI_Iscatter`.
@inlinable
public func iscatter<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let rank = try Communicator.resolve(comm, .scatter).rank
    let shaped = rank == root || x.count != 1 ? ShapedArray(x) : ShapedArray(_uncheckedShape: [], scalars: x)
    return try iscatter(shaped, root: root, comm: comm)
}

/// Starts gathering every rank's `x` on every rank.
///
/// The non-blocking form of ``allgather(_:comm:token:)-(ShapedArray<T>,_,_)``: the result has
/// shape `[size] + x.shape`.
///
/// - Parameters:
///   - x: This rank's contribution, of the same shape on every rank.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns the gathered array.
///
/// The corresponding C function is `MPI_Iallgather`.
@inlinable
public func iallgather<T: MPIScalar>(
    _ x: ShapedArray<T>, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .allgather)
    return try startRequest(PendingOperation.make(.allgather, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        let storage = try ScalarStorage<T>.filled(count: x.scalarCount * comm.size) { (output) throws(MPIError) in
            try allgatherCore(x, into: &output, comm: comm, pending: pending)
        }
        return ShapedArray(_uncheckedShape: prepending(comm.size, to: x._shape), storage: storage)
    }
}

/// The plain-array form of ``iallgather(_:comm:)-(ShapedArray<T>,_)``: the result has shape
/// `[size, x.count]`, as with the blocking form.
///
/// The corresponding C function is `MPI_Iallgather`.
@inlinable
public func iallgather<T: MPIScalar>(
    _ x: [T], comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    try iallgather(ShapedArray(x), comm: comm)
}

/// Starts sending row `i` of `x` to rank `i` and receiving row `i` of the result from rank `i`.
///
/// The non-blocking form of ``alltoall(_:comm:token:)-(ShapedArray<T>,_,_)``, with the same
/// shapes (the leading axis is `size`).
///
/// - Parameters:
///   - x: The rows to send, leading axis `size`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns the received rows.
/// - Throws: At the call, the argument errors of the blocking form.
///
/// The corresponding C function is `MPI_Ialltoall`.
@inlinable
public func ialltoall<T: MPIScalar>(
    _ x: ShapedArray<T>, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .alltoall)
    return try startRequest(PendingOperation.make(.alltoall, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        let storage = try ScalarStorage<T>.filled(count: x.scalarCount) { (output) throws(MPIError) in
            try alltoallCore(x, into: &output, blocks: .rows(firstAxis: x._shape.first, shape: x._shape), comm: comm,
                             pending: pending)
        }
        return ShapedArray(_uncheckedShape: x._shape, storage: storage)
    }
}

/// The plain-array form of ``ialltoall(_:comm:)-(ShapedArray<T>,_)``: `x.count` must equal `size`, and
/// element `i` goes to rank `i`, as with the blocking form.
///
/// The corresponding C function is `MPI_Ialltoall`.
@inlinable
public func ialltoall<T: MPIScalar>(
    _ x: [T], comm: Communicator? = nil
) throws(MPIError) -> Request<[T]> {
    let comm = try Communicator.resolve(comm, .alltoall)
    return try startRequest(PendingOperation.make(.alltoall, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        return try [T].filled(count: x.count) { (output) throws(MPIError) in
            try alltoallCore(x, into: &output, blocks: .rows(firstAxis: x.count, shape: nil), comm: comm,
                             pending: pending)
        }
    }
}

/// Starts combining `x` elementwise across all ranks with `op`; the request completes with the result.
///
/// The non-blocking form of ``allreduce(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``, and the
/// counterpart of mpi4py's `comm.Iallreduce`.
///
/// - Parameters:
///   - x: The local contribution, of the same shape and type on every rank.
///   - op: The reduction, which must be defined for `T`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns a new array of `x`'s shape.
/// - Throws: At the call, ``MPIError/unsupportedReduction(operation:op:scalarType:)``, and
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for more than `Int32.max` elements.
///
/// The corresponding C function is `MPI_Iallreduce`.
@inlinable
public func iallreduce<T: MPIScalar>(
    _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .allreduce)
    return try startRequest(PendingOperation.make(.allreduce, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        let storage = try ScalarStorage<T>.filled(count: x.scalarCount) { (output) throws(MPIError) in
            try allreduceCore(x, into: &output, op: op, comm: comm, pending: pending)
        }
        return ShapedArray(_uncheckedShape: x._shape, storage: storage)
    }
}

/// The plain-array form of ``iallreduce(_:op:comm:)-(ShapedArray<T>,_,_)``.
///
/// The corresponding C function is `MPI_Iallreduce`.
@inlinable
public func iallreduce<T: MPIScalar>(
    _ x: [T], op: ReductionOp, comm: Communicator? = nil
) throws(MPIError) -> Request<[T]> {
    let comm = try Communicator.resolve(comm, .allreduce)
    return try startRequest(PendingOperation.make(.allreduce, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        return try [T].filled(count: x.count) { (output) throws(MPIError) in
            try allreduceCore(x, into: &output, op: op, comm: comm, pending: pending)
        }
    }
}

/// Starts combining `x` elementwise across all ranks with `op`, onto `root`.
///
/// The non-blocking form of ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)``: on the
/// root the result is a new array of `x`'s shape; elsewhere it is `x`.
///
/// - Parameters:
///   - x: The local contribution, of the same shape and type on every rank.
///   - op: The reduction, which must be defined for `T`.
///   - root: The rank that receives the result.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns the reduction (the root) or `x`.
/// - Throws: At the call, the argument errors of the blocking form, and
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for more than `Int32.max` elements.
///
/// The corresponding C function is `MPI_Ireduce`.
@inlinable
public func ireduce<T: MPIScalar>(
    _ x: ShapedArray<T>, op: ReductionOp, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .reduce)
    return try startRequest(PendingOperation.make(.reduce, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        guard comm.rank == root else {
            var unused = ResultBuffer<T>.none
            try reduceCore(x, into: &unused, op: op, root: root, comm: comm, pending: pending)
            return x
        }
        let storage = try ScalarStorage<T>.filled(count: x.scalarCount) { (output) throws(MPIError) in
            try reduceCore(x, into: &output, op: op, root: root, comm: comm, pending: pending)
        }
        return ShapedArray(_uncheckedShape: x._shape, storage: storage)
    }
}

/// The plain-array form of ``ireduce(_:op:root:comm:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Ireduce`.
@inlinable
public func ireduce<T: MPIScalar>(
    _ x: [T], op: ReductionOp, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<[T]> {
    let comm = try Communicator.resolve(comm, .reduce)
    return try startRequest(PendingOperation.make(.reduce, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        guard comm.rank == root else {
            var unused = ResultBuffer<T>.none
            try reduceCore(x, into: &unused, op: op, root: root, comm: comm, pending: pending)
            return x
        }
        return try [T].filled(count: x.count) { (output) throws(MPIError) in
            try reduceCore(x, into: &output, op: op, root: root, comm: comm, pending: pending)
        }
    }
}

/// Starts the inclusive prefix reduction of `x` over ranks `0...rank` with `op`.
///
/// The non-blocking form of ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// - Parameters:
///   - x: The local contribution, of the same shape and type on every rank.
///   - op: The reduction, which must be defined for `T`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns a new array of `x`'s shape.
/// - Throws: At the call, the argument errors of the blocking form, and
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for more than `Int32.max` elements.
///
/// The corresponding C function is `MPI_Iscan`.
@inlinable
public func iscan<T: MPIScalar>(
    _ x: ShapedArray<T>, op: ReductionOp, comm: Communicator? = nil
) throws(MPIError) -> Request<ShapedArray<T>> {
    let comm = try Communicator.resolve(comm, .scan)
    return try startRequest(PendingOperation.make(.scan, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        let storage = try ScalarStorage<T>.filled(count: x.scalarCount) { (output) throws(MPIError) in
            try scanCore(x, into: &output, op: op, comm: comm, pending: pending)
        }
        return ShapedArray(_uncheckedShape: x._shape, storage: storage)
    }
}

/// The plain-array form of ``iscan(_:op:comm:)-(ShapedArray<T>,_,_)``.
///
/// The corresponding C function is `MPI_Iscan`.
@inlinable
public func iscan<T: MPIScalar>(
    _ x: [T], op: ReductionOp, comm: Communicator? = nil
) throws(MPIError) -> Request<[T]> {
    let comm = try Communicator.resolve(comm, .scan)
    return try startRequest(PendingOperation.make(.scan, keeping: x._requestStorageOwner)) { (pending) throws(MPIError) in
        return try [T].filled(count: x.count) { (output) throws(MPIError) in
            try scanCore(x, into: &output, op: op, comm: comm, pending: pending)
        }
    }
}
