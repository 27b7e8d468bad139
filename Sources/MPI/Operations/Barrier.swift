import CMPI

// barrier (MPI_Barrier): its core and its one form.

/// The core of barrier: the hooks and the raw call.
@inlinable
func barrierCore(comm: ResolvedCommunicator, pending: PendingOperation? = nil) throws(MPIError) {
    try perform(Call(.barrier, comm, UInt8.self, count: 0), pending: pending) { () throws(MPIError) in
        try rawBarrier(comm: comm.handle, pending: pending)
    }
}

/// Waits until every rank of the communicator has called `barrier`.
///
/// The counterpart of `mpi4jax.barrier()`.
///
/// - Parameters:
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The new token.
///
/// The corresponding C function is `MPI_Barrier`.
@inlinable @discardableResult
public func barrier(comm: Communicator? = nil, token: Token? = nil) throws(MPIError) -> Token {
    try barrierCore(comm: Communicator.resolve(comm, .barrier))
    return advance(token)
}
