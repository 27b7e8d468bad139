// The pullback checker: diagnostics for a rank that skips the pullback of a
// collective (its state, the agreement between ranks, the watchdog and its
// writer to standard error).

import MPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Diagnostics for the hazard of differentiating collectives: a rank that skips a pullback.
///
/// The compiler calls a pullback only if the primitive's result flows into the
/// differentiated output on that rank. If one rank's loss does not use the
/// result of, say, `Autodiff.gather`,
/// that rank skips the pullback's scatter while the other ranks wait in it
/// forever. The pullbacks of alltoall, gather, perRank, reduce, scan and
/// scatter, and of alltoallv, gatherv, scatterv, reduceScatter,
/// reduceScatterBlock, exscan and the neighbour collectives, communicate
/// collectively and are affected; the pullbacks of allreduce, allgather,
/// allgatherv and bcast do not communicate, and sendrecv's is point-to-point.
///
/// When the checks are enabled, every rank first counts the collective
/// pullbacks it runs on each communicator, and before each one the ranks agree,
/// with a small allreduce on a private duplicate of the communicator, that they
/// are all in the same pullback (the same count and the same primitive). A
/// mismatch, which a skipped pullback causes at the next collective pullback,
/// stops every rank with a message naming the primitive, the rank and the
/// counts. A rank that waits in a checked pullback for longer than ``timeout``
/// seconds, because another rank never arrives, prints which primitive and
/// which pullback it waits in to standard error, and again after each further
/// period, while it keeps waiting.
///
/// The checks are off by default. Setting the environment variable
/// `SWIFT_MPI_CHECK_PULLBACKS=1` turns them on, and
/// `SWIFT_MPI_CHECK_PULLBACKS_TIMEOUT` sets the timeout in seconds (30 by default).
/// They cost one allreduce of four integers per collective pullback. Enable or
/// disable them on every rank at the same point of the program.
public enum PullbackChecks {
    struct State {
        var enabled: Bool
        var timeout: Double
        var channels: [Communicator: Channel] = [:]
        /// Called instead of stopping the process on a mismatch (tests).
        var mismatchHandler: (@Sendable (String) -> Void)?
        /// Called instead of printing to standard error on a timeout (tests).
        var timeoutHandler: (@Sendable (String) -> Void)?
    }

    /// The private duplicate of a communicator and the number of collective pullbacks run on it.
    struct Channel {
        var duplicate: Communicator?
        var sequence: Int64 = 0
    }

    static let state: Mutex<State> = {
        let enabled = SwiftMPIEnvironment.flag(.checkPullbacks)
        let timeout = SwiftMPIEnvironment.seconds(.checkPullbacksTimeout, default: 30)
        return Mutex(State(enabled: enabled, timeout: timeout))
    }()

    /// Whether the checks run. Initially `true` when the environment variable
    /// `SWIFT_MPI_CHECK_PULLBACKS` is `1`.
    public static var isEnabled: Bool {
        get { state.withLock { $0.enabled } }
        set { state.withLock { $0.enabled = newValue } }
    }

    /// The seconds a checked pullback waits before it reports where it waits.
    /// Initially `SWIFT_MPI_CHECK_PULLBACKS_TIMEOUT`, or 30.
    public static var timeout: Double {
        get { state.withLock { $0.timeout } }
        set {
            precondition(newValue > 0, "PullbackChecks.timeout must be positive, got \(newValue)")
            state.withLock { $0.timeout = newValue }
        }
    }

    /// The primitives whose pullbacks communicate collectively, in the order of their codes.
    ///
    /// Every name passed to `runPullback` with the check on must be here: an unknown name gets code 0,
    /// which does not tell two such pullbacks apart. New names go at the end, so that codes stay.
    static let checkedOperations = [
        "alltoall", "gather", "perRank", "reduce", "scan", "scatter",
        "alltoallv", "gatherv", "scatterv", "reduceScatter", "reduceScatterBlock", "exscan",
        "neighborAllgather", "neighborAllgatherv", "neighborAlltoall", "neighborAlltoallv",
    ]

    static func operationName(_ code: Int64) -> String {
        let index = Int(code) - 1
        return checkedOperations.indices.contains(index) ? checkedOperations[index] : "an unknown primitive"
    }

    /// Before a collective pullback: counts it, agrees with the other ranks, and
    /// starts the watchdog. Returns `nil` when the checks are off.
    static func enter(operation: String, comm: Communicator) -> PullbackWatchdog? {
        let (enabled, timeout, timeoutHandler) = state.withLock { ($0.enabled, $0.timeout, $0.timeoutHandler) }
        guard enabled else { return nil }
        let sequence = state.withLock { s -> Int64 in
            s.channels[comm, default: Channel()].sequence += 1
            return s.channels[comm]!.sequence
        }
        let rank = comm.rank, size = comm.size
        let report: @Sendable (String) -> Void = timeoutHandler ?? { writeToStandardError($0 + "\n") }
        let watchdog = PullbackWatchdog(timeout: timeout) { waited in
            report(
                "swift-mpi: rank \(rank) has waited \(waited) s in the pullback of \(operation) "
                    + "(collective pullback #\(sequence) on a communicator of size \(size)). Every rank of the "
                    + "communicator must run this pullback: a rank whose differentiated result does not depend on "
                    + "the result of \(operation) skips it, and the others wait here.")
        }
        if let message = disagreement(operation: operation, sequence: sequence, comm: comm) {
            if let handler = state.withLock({ $0.mismatchHandler }) {
                handler(message)
            } else {
                watchdog.finish()
                fatalError(message)
            }
        }
        return watchdog
    }

    /// Agrees with the other ranks of `comm` on the collective pullback they are
    /// in: the message that describes a disagreement, or `nil` when every rank
    /// is in pullback number `sequence` of `operation`. Collective over `comm`.
    static func disagreement(operation: String, sequence: Int64, comm: Communicator) -> String? {
        let code = Int64((checkedOperations.firstIndex(of: operation) ?? -1) + 1)
        let channel = privateChannel(for: comm, operation: operation)
        let local: [Int64] = [sequence, -sequence, code, -code]
        let agreed = performOrStop("the pullback check of \(operation)", comm) {
            try MPI.allreduce(local, op: .max, comm: channel).0
        }
        let (maxSequence, minSequence, maxCode, minCode) = (agreed[0], -agreed[1], agreed[2], -agreed[3])
        guard maxSequence != minSequence || maxCode != minCode else { return nil }
        let operations = Set([minCode, maxCode]).sorted().map(operationName).joined(separator: " and ")
        return "swift-mpi: rank \(comm.rank): pullback check failed before the pullback of \(operation) "
            + "(collective pullback #\(sequence) on a communicator of size \(comm.size)): the ranks disagree on the "
            + "pullback they are in (numbers #\(minSequence) to #\(maxSequence), primitives \(operations)). "
            + "A rank skipped a pullback because its differentiated result did not depend on that primitive's "
            + "result; make every rank's result depend on it (for example add 0 * the sum of the result)."
    }

    /// The private duplicate of `comm` on which the ranks agree (made on first use, collectively).
    static func privateChannel(for comm: Communicator, operation: String) -> Communicator {
        if let existing = state.withLock({ $0.channels[comm]?.duplicate }) { return existing }
        let duplicate = performOrStop("the pullback check of \(operation)", comm) { try comm.duplicate() }
        state.withLock { $0.channels[comm, default: Channel()].duplicate = duplicate }
        return duplicate
    }

    /// Test hook: counts a collective pullback on `comm` without running one, as a rank that skipped one would.
    static func simulateSkippedPullback(on comm: Communicator) {
        state.withLock { $0.channels[comm, default: Channel()].sequence += 1 }
    }

    /// Test hook: installs handlers that replace stopping and printing.
    static func setHandlers(
        mismatch: (@Sendable (String) -> Void)?, timeout: (@Sendable (String) -> Void)?
    ) {
        state.withLock {
            $0.mismatchHandler = mismatch
            $0.timeoutHandler = timeout
        }
    }

    /// Test hook: forgets the counts (keeping the duplicates) and the handlers.
    static func resetCounts() {
        state.withLock { s in
            for key in s.channels.keys { s.channels[key]!.sequence = 0 }
            s.mismatchHandler = nil
            s.timeoutHandler = nil
        }
    }
}

/// Reports, from another thread, a pullback that has not finished after a timeout, and again after each further period.
final class PullbackWatchdog: Sendable {
    private let task: Task<Void, Never>

    init(timeout: Double, report: @escaping @Sendable (Double) -> Void) {
        let nanoseconds = UInt64(timeout * 1_000_000_000)
        task = Task.detached {
            var waited = 0.0
            while true {
                do {
                    try await Task.sleep(nanoseconds: nanoseconds)
                } catch {
                    return
                }
                waited += timeout
                report(waited)
            }
        }
    }

    /// Stops the watchdog; the pullback has finished.
    func finish() { task.cancel() }

    deinit { task.cancel() }
}

/// Writes a message to standard error without buffering.
func writeToStandardError(_ message: String) {
    var text = message
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}
