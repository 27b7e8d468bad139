// How the differentiable forms fail: they cannot throw, so a failure stops the
// process with a message that names the operation, the phase and the rank.

import MPI

/// The rank to name in a message: this rank in `comm`, or in the default communicator.
func rankDescription(_ comm: Communicator?) -> String {
    // The default communicator's ranks are the world's; reading the world makes no collective
    // call, whereas the default communicator's first use is one, which a failing rank must not make alone.
    "\((comm ?? Communicator.world).rank)"
}

/// Stops the process: `what` (for example "the pullback of gather") failed on this rank.
func stopDifferentiation(_ what: String, _ comm: Communicator?, _ error: any Error) -> Never {
    fatalError("swift-mpi: rank \(rankDescription(comm)): \(what) failed: \(error)")
}

/// Runs a primitive where nothing can throw: a failure stops the process with a message naming `what`.
func performOrStop<R>(_ what: String, _ comm: Communicator?, _ body: () throws -> R) -> R {
    do {
        return try body()
    } catch {
        stopDifferentiation(what, comm, error)
    }
}

/// Stops the process: `op` is not differentiable for this primitive.
func stopNotDifferentiable(_ operation: String, _ op: ReductionOp, allowed: String, _ comm: Communicator) -> Never {
    fatalError(
        "swift-mpi: rank \(comm.rank): \(operation) with op '\(op)' is not differentiable "
            + "(differentiable: \(allowed))")
}

/// Runs the communication of a pullback. Pullbacks cannot throw, so a failure
/// stops the process with a message naming the operation and the rank. When
/// ``PullbackChecks`` are enabled and `checked` is true, the ranks first agree
/// that they are all in this pullback, and a watchdog reports a rank that waits too long.
func runPullback<R>(_ operation: String, _ comm: Communicator, checked: Bool = true, _ body: () throws -> R) -> R {
    let watchdog = checked ? PullbackChecks.enter(operation: operation, comm: comm) : nil
    defer { watchdog?.finish() }
    do {
        return try body()
    } catch {
        stopDifferentiation("the pullback of \(operation)", comm, error)
    }
}
