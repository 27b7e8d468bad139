import CMPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The watchdog: a thread that wakes a few times per timeout, looks at the flight
// record for a call that has run longer than the timeout, and then prints that
// call and the calls before it, one line each, and ends the job with
// MPI_Abort(MPI_COMM_WORLD, 70). Every rank whose watchdog fires prints its own
// record, so the lines of all ranks together show which rank is elsewhere.

extension MPIRuntime {
    /// The exit code with which the watchdog ends the job: 70 (`EX_SOFTWARE`).
    public static let watchdogExitCode: Int32 = 70

    /// The seconds that one call may run before the watchdog ends the job, or `nil` when the watchdog is off.
    ///
    /// When a call of this package (an operation, or the wait of a request) has
    /// not returned after this many seconds, its rank prints the call it is
    /// stuck in and its last completed calls, one line each on standard error,
    /// and ends the whole job with `MPI_Abort` and exit code ``watchdogExitCode``
    /// instead of hanging. MPI's finalisation at exit is not watched: a rank that
    /// ends early waits there, legitimately, for the others to end too. The default is 600 seconds; the environment variable
    /// `SWIFT_MPI_TIMEOUT` sets it when MPI is set up (`0` or `off` turns it off). A value set here
    /// before MPI is set up stays, unless `SWIFT_MPI_TIMEOUT` is set.
    /// Set it to the same value on every rank. A value of 0 or less turns the watchdog off.
    public static var watchdogTimeout: Double? {
        get {
            let nanoseconds = watchdogSettings.timeoutNanoseconds.load(ordering: .relaxed)
            return nanoseconds == 0 ? nil : Double(nanoseconds) / 1e9
        }
        set {
            watchdogSettings.setInCode.store(true, ordering: .relaxed)
            applyWatchdogTimeout(newValue ?? 0)
        }
    }
}

/// Sets the watchdog's timeout (0 or less: off), and starts its thread for a timeout.
func applyWatchdogTimeout(_ seconds: Double) {
    let nanoseconds = seconds > 0 ? UInt64(Swift.min(seconds, 1e9) * 1e9) : 0
    watchdogSettings.timeoutNanoseconds.store(nanoseconds, ordering: .relaxed)
    // Off: the calls read the clock themselves from now on (the thread, at its next check, too).
    if nanoseconds > 0 { startWatchdogThread() } else { FlightRecorder.publish(0) }
}

/// The default timeout: 600 s (see docs/failures.md for the measurements behind it).
let defaultWatchdogTimeout = 600.0

/// The watchdog's settings, shared with its thread.
final class WatchdogSettings: Sendable {
    /// 0 when the watchdog is off.
    let timeoutNanoseconds = Atomic<UInt64>(0)
    /// Whether the thread has been started.
    let started = Atomic<Bool>(false)
    /// Whether the program set ``MPIRuntime/watchdogTimeout`` (which the environment then overrides only
    /// when `SWIFT_MPI_TIMEOUT` is set).
    let setInCode = Atomic<Bool>(false)
    /// Called instead of ending the job (tests of the report itself).
    let reportHandler = Mutex<(@Sendable ([String]) -> Void)?>(nil)
}

let watchdogSettings = WatchdogSettings()

/// Reads `SWIFT_MPI_TIMEOUT` when MPI is set up, and starts the watchdog when a timeout is set. Without
/// the variable, a timeout the program set before (``MPIRuntime/watchdogTimeout``) stays; else the default.
func configureWatchdogFromEnvironment() {
    guard let text = SwiftMPIEnvironment.string(.timeout) else {
        if !watchdogSettings.setInCode.load(ordering: .relaxed) { applyWatchdogTimeout(defaultWatchdogTimeout) }
        return
    }
    // `0`, `off` (and the other false words), or a number of seconds of 0 or less: off, as in code.
    if SwiftMPIEnvironment.parseFlag(text) == false || Double(text).map({ $0 <= 0 }) == true {
        applyWatchdogTimeout(0)
    } else {
        applyWatchdogTimeout(SwiftMPIEnvironment.seconds(
            .timeout, default: defaultWatchdogTimeout, alsoValid: ", or 0, a negative number or off for no watchdog"))
    }
}

/// Starts the watchdog's thread once.
func startWatchdogThread() {
    guard !watchdogSettings.started.exchange(true, ordering: .acquiringAndReleasing) else { return }
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let code = pthread_create(&thread, &attributes, { _ in
        watchdogLoop()
        return nil
    }, nil)
    pthread_attr_destroy(&attributes)
    if code != 0 { debugPrintLine("swift-mpi: watchdog: cannot start its thread (pthread_create: \(code))") }
}

/// The watchdog thread: every tenth of the timeout (at most every second) it publishes its reading of
/// the clock for the flight record (`FlightRecorder.publish(_:)`) and checks the record.
private func watchdogLoop() {
    var tracker = WatchdogTracker()
    while true {
        let timeout = watchdogSettings.timeoutNanoseconds.load(ordering: .relaxed)
        if timeout != 0, RuntimeState.isUsable {
            FlightRecorder.publish(swiftmpi_coarse_ns() | 1)
            let entries = FlightEntry.recent()
            let now = swiftmpi_coarse_ns()  // after the entries were read: every call seen running began before it
            if let stuck = tracker.check(entries, now: now, timeout: timeout) {
                watchdogFired(stuck, entries: entries, now: now, timeout: timeout)
            }
        } else {
            // Off: the calls read the clock themselves.
            FlightRecorder.publish(0)
            tracker = WatchdogTracker()
        }
        let interval = timeout == 0 ? 1_000_000_000 : Swift.min(1_000_000_000, Swift.max(10_000_000, timeout / 10))
        var pause = timespec(tv_sec: Int(interval / 1_000_000_000), tv_nsec: Int(interval % 1_000_000_000))
        nanosleep(&pause, nil)
    }
}

/// What the watchdog knows of the calls it saw running: when each was first seen.
///
/// A recorded start is the watchdog's previous reading of the clock (`FlightRecorder.now(_:)`), up
/// to one check interval before the call began (longer when the watchdog's thread waited for a
/// core), so a call is not judged by its start: it counts as stuck once it has been seen running,
/// the same call (the same entry, serial and start), for longer than the timeout since the first
/// check that saw it. A call seen running began before that check, so no call is reported before it
/// has run for the timeout; a call is first seen within one interval of its start, so a stuck one is
/// reported within the timeout plus two intervals.
struct WatchdogTracker {
    /// The calls seen running at the last check: serial and start, and when first seen.
    private var seen: [(serial: Int, start: UInt64, firstSeen: UInt64)] = []

    /// Records a check at `now` of `entries` (read before `now`), and returns the most recent call
    /// running for longer than `timeout` since it was first seen, if any.
    mutating func check(_ entries: [FlightEntry], now: UInt64, timeout: UInt64) -> FlightEntry? {
        var stuck: FlightEntry?
        var next: [(serial: Int, start: UInt64, firstSeen: UInt64)] = []
        for entry in entries where entry.end == 0 && !entry.parked && entry.start <= now {
            let firstSeen = seen.first { $0.serial == entry.serial && $0.start == entry.start }?.firstSeen ?? now
            next.append((entry.serial, entry.start, firstSeen))
            if now - firstSeen > timeout { stuck = entry }
        }
        seen = next
        return stuck
    }
}

/// The watchdog's report, one line each: the stuck call, then the last completed calls.
func watchdogReport(_ stuck: FlightEntry, entries: [FlightEntry], now: UInt64, timeout: UInt64) -> [String] {
    let size = Communicator.world.size
    let prefix = "swift-mpi: watchdog: rank \(worldRank) of \(size):"
    var lines = [
        "\(prefix) stuck for \(formatSeconds(secondsBetween(stuck.start, now))) in \(stuck.summary) "
            + "(timeout \(formatSeconds(Double(timeout) / 1e9)), SWIFT_MPI_TIMEOUT)"
    ]
    let completed = entries.filter { $0.end != 0 }.suffix(10)
    if completed.isEmpty {
        lines.append("\(prefix) no call completed before it")
    } else {
        lines.append("\(prefix) its last \(completed.count) completed calls, oldest first:")
        for entry in completed {
            lines.append("\(prefix)   \(entry.summary); took \(formatSeconds(secondsBetween(entry.start, entry.end)))")
        }
    }
    lines.append("\(prefix) ending the job (MPI_Abort, exit code \(MPIRuntime.watchdogExitCode))")
    return lines
}

private func watchdogFired(_ stuck: FlightEntry, entries: [FlightEntry], now: UInt64, timeout: UInt64) {
    let lines = watchdogReport(stuck, entries: entries, now: now, timeout: timeout)
    if let handler = watchdogSettings.reportHandler.withLock({ $0 }) {
        handler(lines)
        return
    }
    debugPrintLine(lines.joined(separator: "\n"))
    // The other ranks' watchdogs fire within one interval of this one: give them
    // that interval to print their own records before the job ends.
    let grace = Swift.min(1_000_000_000, Swift.max(10_000_000, timeout / 10))
    var pause = timespec(tv_sec: Int(grace / 1_000_000_000), tv_nsec: Int(grace % 1_000_000_000))
    nanosleep(&pause, nil)
    // Finalised meanwhile (the call returned, and the program ended its use of MPI): MPI_Abort may not
    // be called any more, and nothing is stuck.
    guard RuntimeState.isUsable else { return }
    // MPI_Abort normally ends every process of the job at once. Should it not
    // return or end this process (MPI's state is that of a hung call, or the
    // launcher cannot be reached), SIGALRM's default action ends the process after
    // 2 s, and the launcher then ends the rest. Stuck for the timeout, confirmed
    // within two check intervals, one interval of grace, and at most 2 s in
    // MPI_Abort: the process ends within the timeout + 5 s.
    alarm(2)
    _ = swiftmpi_abort(MPIRuntime.watchdogExitCode)
    _exit(MPIRuntime.watchdogExitCode)
}
