// The non-blocking `into:` forms: each is an adapter around its operation's one
// core, like the result-returning non-blocking forms (NonBlocking.swift), but
// the request takes the caller's output instead of allocating one, and hands
// it back on completion. A program that keeps its buffers between steps
// (`buffer = try iallreduce(x, into: buffer, op: .sum).wait()`) allocates
// nothing per operation: the operation's state, too, is reused from its thread's
// pool (PendingOperation.swift).
//
// The output is consumed: while the operation is in flight nobody else can
// read or write it. Copy on write makes its storage unique before MPI is given
// its address, so that another copy of the caller's array is never written.
// An output of the wrong size behaves as in the blocking `into:` forms: the
// collective still runs everywhere (into scratch storage that the operation
// owns), so that no other rank is left waiting, and the request then
// completes with the shape mismatch.

/// Starts an `into:` form: resolves `comm` for `pending`'s operation, lets `core` start the operation
/// into the consumed `output`, and returns the request that owns the output (and, through `pending`,
/// the owner of the input that MPI reads).
@inlinable
func startInto<Output: RequestBuffer>(
    _ pending: PendingOperation, _ output: consuming Output, comm: Communicator?,
    _ core: (inout Output, ResolvedCommunicator, PendingOperation) throws(MPIError) -> Void
) throws(MPIError) -> Request<Output> {
    let comm = try Communicator.resolve(comm, pending.operation)
    var output = consume output
    try core(&output, comm, pending)
    return Request(pending, output: output)
}

// MARK: - Point to point

/// Starts receiving a message into `output`, and returns the request that completes it.
///
/// The non-blocking form of ``recv(into:source:tag:comm:status:token:)``, and the
/// counterpart of mpi4py's `comm.Irecv(buffer, source, tag)`. The request owns
/// `output` while the receive is in flight and gives it back, filled, on
/// completion. The message must have exactly `output.scalarCount` elements; a
/// message of another size fails the request with
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` and is never
/// written past the end of `output` (`output` is not written at all then).
/// Cancelling a task that awaits the request withdraws the receive if no message
/// has matched it yet.
///
/// - Parameters:
///   - output: The storage to receive into; the request gives it back.
///   - source: The sending rank, ``anySource`` (the default), or ``procNull`` (nothing arrives: a zero
///     result, an `into:` output left as it was, and a status of source `procNull`, tag `anyTag`, count 0).
///   - tag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - status: If given, filled with the message's source, tag and element count when the request completes.
/// - Returns: The request; waiting for it returns `output` holding the message.
/// - Throws: At the call, the argument errors of the blocking form.
///
/// The corresponding C functions are `MPI_Improbe` and `MPI_Imrecv` (the blocking form's probed receive).
@inlinable
public func irecv<Output: RequestBuffer>(
    into output: consuming Output, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil,
    status: Status? = nil
) throws(MPIError) -> Request<Output> {
    try startInto(PendingOperation.make(.recv), output, comm: comm) { (output, comm, pending) throws(MPIError) in
        pending.status = status
        pending.argument = "output"
        try recvCore(into: &output, source: source, tag: tag, comm: comm, pending: pending, status: nil,
                     argument: "output")
    }
}

/// Starts sending `sendbuf` to `dest` and receiving a message from `source` into `output`.
///
/// The non-blocking form of
/// ``sendrecv(_:into:source:dest:sendtag:recvtag:comm:status:token:)``: an
/// `MPI_Isend` and the probed receive of ``irecv(into:source:tag:comm:status:)``.
/// The request keeps `sendbuf` alive and owns `output` until it completes.
///
/// - Parameters:
///   - sendbuf: The data to send.
///   - output: The storage to receive into (exactly the message's element count); the request gives it back.
///   - source: The sending rank, ``anySource``, or ``procNull`` (nothing arrives: a zero result, an `into:`
///     output left as it was, and a status of source `procNull`, tag `anyTag`, count 0).
///   - dest: The destination rank, or ``procNull`` (the send goes nowhere).
///   - sendtag: The tag of the outgoing message (default 0).
///   - recvtag: The tag to match, or ``anyTag`` (the default).
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - status: If given, filled with the received message's source, tag and count on completion.
/// - Returns: The request; waiting for it returns `output` holding the received message.
/// - Throws: At the call, the argument errors of the blocking form; on completion, its other errors.
///
/// The corresponding C functions are `MPI_Isend`, `MPI_Improbe` and `MPI_Imrecv`.
@inlinable
public func isendrecv<Input: RequestBuffer, Output: RequestBuffer>(
    _ sendbuf: Input, into output: consuming Output, source: Int, dest: Int, sendtag: Int = 0,
    recvtag: Int = anyTag, comm: Communicator? = nil, status: Status? = nil
) throws(MPIError) -> Request<Output> where Input.Scalar == Output.Scalar {
    try startInto(PendingOperation.make(.sendrecv, keeping: sendbuf._requestStorageOwner), output, comm: comm) {
        (output, comm, pending) throws(MPIError) in
        pending.status = status
        pending.argument = "output"
        try sendrecvCore(sendbuf, into: &output, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
                         comm: comm, pending: pending, status: nil, argument: "output")
    }
}

// MARK: - Collectives

/// Starts broadcasting the root's `buffer` in place; the request gives the buffer back holding the root's data.
///
/// The non-blocking form of ``bcast(inPlace:root:comm:token:)``: on the root MPI
/// reads `buffer`, elsewhere it overwrites it. Every rank's `buffer` must hold the
/// root's element count.
///
/// - Parameters:
///   - buffer: On the root, the data; elsewhere the storage to receive into.
///   - root: The rank that broadcasts.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns `buffer`.
/// - Throws: At the call, the argument errors of the blocking form.
///
/// The corresponding C function is `MPI_Ibcast`.
@inlinable
public func ibcast<Buffer: RequestBuffer>(
    inPlace buffer: consuming Buffer, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<Buffer> {
    try startInto(PendingOperation.make(.bcast), buffer, comm: comm) { (buffer, comm, pending) throws(MPIError) in
        let count = buffer.scalarCount
        if comm.rank == root {
            var unused = ResultBuffer<Buffer.Scalar>.none
            try bcastCore(buffer, into: &unused, count: count, root: root, comm: comm, pending: pending)
        } else {
            try bcastCore(ResultBuffer<Buffer.Scalar>.none, into: &buffer, count: count, root: root, comm: comm,
                          pending: pending)
        }
    }
}

/// Starts gathering every rank's `x` into the root's `output`.
///
/// The non-blocking form of ``gather(_:into:root:comm:token:)``: on the root
/// `output` receives `size` blocks of `x.scalarCount` elements, in rank order;
/// elsewhere it is not touched and is given back as it was.
///
/// - Parameters:
///   - x: This rank's contribution, of the same count on every rank.
///   - output: On the root, storage of `size × x.scalarCount` elements; the request gives it back.
///   - root: The rank that receives.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns `output`.
/// - Throws: At the call, the argument errors of the blocking form; on completion, on the root,
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an output of another size.
///
/// The corresponding C function is `MPI_Igather`.
@inlinable
public func igather<Input: RequestBuffer, Output: RequestBuffer>(
    _ x: Input, into output: consuming Output, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<Output> where Input.Scalar == Output.Scalar {
    try startInto(PendingOperation.make(.gather, keeping: x._requestStorageOwner), output, comm: comm) {
        (output, comm, pending) throws(MPIError) in
        try gatherCore(x, into: &output, root: root, comm: comm, pending: pending)
    }
}

/// Starts scattering the root's `x`, `output.scalarCount` elements to each rank, into `output`.
///
/// The non-blocking form of ``scatter(_:into:root:comm:token:)``: on the root
/// `x` holds `size × output.scalarCount` elements; elsewhere it is not read.
///
/// - Parameters:
///   - x: On the root, the blocks in rank order; elsewhere not read (an empty array will do).
///   - output: The storage of this rank's block; the request gives it back.
///   - root: The rank that sends.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns `output` holding this rank's block.
/// - Throws: At the call, the argument errors of the blocking form.
///
/// The corresponding C function is `MPI_Iscatter`.
@inlinable
public func iscatter<Input: RequestBuffer, Output: RequestBuffer>(
    _ x: Input, into output: consuming Output, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<Output> where Input.Scalar == Output.Scalar {
    try startInto(PendingOperation.make(.scatter, keeping: x._requestStorageOwner), output, comm: comm) {
        (output, comm, pending) throws(MPIError) in
        try scatterCore(x, into: &output, rootInput: .elements, shape: [x.scalarCount], root: root, comm: comm,
                        pending: pending)
    }
}

/// Starts gathering every rank's `x` into every rank's `output`.
///
/// The non-blocking form of ``allgather(_:into:comm:token:)``: `output`
/// receives `size` blocks of `x.scalarCount` elements, in rank order.
///
/// - Parameters:
///   - x: This rank's contribution, of the same count on every rank.
///   - output: Storage of `size × x.scalarCount` elements; the request gives it back.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns `output`.
/// - Throws: On completion, ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an output
///   of another size.
///
/// The corresponding C function is `MPI_Iallgather`.
@inlinable
public func iallgather<Input: RequestBuffer, Output: RequestBuffer>(
    _ x: Input, into output: consuming Output, comm: Communicator? = nil
) throws(MPIError) -> Request<Output> where Input.Scalar == Output.Scalar {
    try startInto(PendingOperation.make(.allgather, keeping: x._requestStorageOwner), output, comm: comm) {
        (output, comm, pending) throws(MPIError) in
        try allgatherCore(x, into: &output, comm: comm, pending: pending)
    }
}

/// Starts sending block `i` of `x` to rank `i` and receiving block `i` of `output` from rank `i`.
///
/// The non-blocking form of ``alltoall(_:into:comm:token:)``: `x` holds `size`
/// equal blocks, and `output` the same count.
///
/// - Parameters:
///   - x: The blocks to send, in rank order.
///   - output: Storage of `x.scalarCount` elements; the request gives it back.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns `output` holding the received blocks.
/// - Throws: At the call, the argument errors of the blocking form; on completion,
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an output of another size.
///
/// The corresponding C function is `MPI_Ialltoall`.
@inlinable
public func ialltoall<Input: RequestBuffer, Output: RequestBuffer>(
    _ x: Input, into output: consuming Output, comm: Communicator? = nil
) throws(MPIError) -> Request<Output> where Input.Scalar == Output.Scalar {
    try startInto(PendingOperation.make(.alltoall, keeping: x._requestStorageOwner), output, comm: comm) {
        (output, comm, pending) throws(MPIError) in
        try alltoallCore(x, into: &output, blocks: .elements, comm: comm, pending: pending)
    }
}

/// Starts combining `x` elementwise across all ranks with `op` into every rank's `output`.
///
/// The non-blocking form of ``allreduce(_:into:op:comm:token:)``, and the
/// counterpart of mpi4py's `comm.Iallreduce(x, output, op)`. With a kept buffer
/// it allocates no result: `y = try iallreduce(x, into: y, op: .sum).wait()`.
///
/// - Parameters:
///   - x: The local contribution, of the same count and type on every rank.
///   - output: Storage of `x.scalarCount` elements; the request gives it back.
///   - op: The reduction, which must be defined for the element type.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns `output` holding the reduction.
/// - Throws: At the call, ``MPIError/unsupportedReduction(operation:op:scalarType:)``, and
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for more than `Int32.max` elements;
///   on completion, ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an output of
///   another size.
///
/// The corresponding C function is `MPI_Iallreduce`.
@inlinable
public func iallreduce<Input: RequestBuffer, Output: RequestBuffer>(
    _ x: Input, into output: consuming Output, op: ReductionOp, comm: Communicator? = nil
) throws(MPIError) -> Request<Output> where Input.Scalar == Output.Scalar {
    try startInto(PendingOperation.make(.allreduce, keeping: x._requestStorageOwner), output, comm: comm) {
        (output, comm, pending) throws(MPIError) in
        try allreduceCore(x, into: &output, op: op, comm: comm, pending: pending)
    }
}

/// Starts combining `x` elementwise across all ranks with `op` into the root's `output`.
///
/// The non-blocking form of ``reduce(_:into:op:root:comm:token:)``: on the root
/// `output` receives the reduction; elsewhere it is not touched and is given back as it was.
///
/// - Parameters:
///   - x: The local contribution, of the same count and type on every rank.
///   - output: On the root, storage of `x.scalarCount` elements; the request gives it back.
///   - op: The reduction, which must be defined for the element type.
///   - root: The rank that receives the result.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns `output`.
/// - Throws: At the call, the argument errors of the blocking form, and
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for more than `Int32.max` elements;
///   on completion, on the root, ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an
///   output of another size.
///
/// The corresponding C function is `MPI_Ireduce`.
@inlinable
public func ireduce<Input: RequestBuffer, Output: RequestBuffer>(
    _ x: Input, into output: consuming Output, op: ReductionOp, root: Int, comm: Communicator? = nil
) throws(MPIError) -> Request<Output> where Input.Scalar == Output.Scalar {
    try startInto(PendingOperation.make(.reduce, keeping: x._requestStorageOwner), output, comm: comm) {
        (output, comm, pending) throws(MPIError) in
        try reduceCore(x, into: &output, op: op, root: root, comm: comm, pending: pending)
    }
}

/// Starts the inclusive prefix reduction of `x` over ranks `0...rank` with `op`, into `output`.
///
/// The non-blocking form of ``scan(_:into:op:comm:token:)``.
///
/// - Parameters:
///   - x: The local contribution, of the same count and type on every rank.
///   - output: Storage of `x.scalarCount` elements; the request gives it back.
///   - op: The reduction, which must be defined for the element type.
///   - comm: The communicator; `nil` means ``Communicator/default``.
/// - Returns: The request; waiting for it returns `output` holding the prefix reduction.
/// - Throws: At the call, the argument errors of the blocking form, and
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for more than `Int32.max` elements;
///   on completion, ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an output of
///   another size.
///
/// The corresponding C function is `MPI_Iscan`.
@inlinable
public func iscan<Input: RequestBuffer, Output: RequestBuffer>(
    _ x: Input, into output: consuming Output, op: ReductionOp, comm: Communicator? = nil
) throws(MPIError) -> Request<Output> where Input.Scalar == Output.Scalar {
    try startInto(PendingOperation.make(.scan, keeping: x._requestStorageOwner), output, comm: comm) {
        (output, comm, pending) throws(MPIError) in
        try scanCore(x, into: &output, op: op, comm: comm, pending: pending)
    }
}
