// Tests of Sources/MPI/Diagnostics/FlightRecord.swift and Watchdog.swift (in
// process; the watchdog ending a hung job is tested by Scripts/test's scenarios).
import CMPI
import Foundation
@testable import MPI
import MPITestSupport
import Synchronization
import XCTest

final class FlightRecordTests: MPITestCase {
    func testEveryCallIsRecordedWithItsCollectiveNumber() throws {
        _ = try allreduce([1.0, 2.0], op: .sum)
        _ = try bcast([Int32(1)], root: size - 1)
        let lines = MPIRuntime.flightRecord.suffix(2)
        XCTAssertEqual(lines.count, 2)
        let allreduceLine = try XCTUnwrap(lines.first)
        let bcastLine = try XCTUnwrap(lines.last)
        XCTAssertTrue(allreduceLine.hasPrefix("allreduce #"), allreduceLine)
        XCTAssertTrue(allreduceLine.contains("(rank \(defaultComm.rank) of \(size)): sum, 2 × Double; took "), allreduceLine)
        XCTAssertTrue(bcastLine.contains(": 1 × Int32, root \(size - 1); took "), bcastLine)
        // The collective numbers follow each other, and are the same on every rank.
        let number = { (line: String) -> Int in
            Int(line.split(separator: "#")[1].prefix { $0.isNumber }) ?? -1
        }
        XCTAssertEqual(number(bcastLine), number(allreduceLine) + 1)
        let (numbers, _) = try allgather(number(bcastLine))
        XCTAssertEqual(Set(numbers.scalars).count, 1, "every rank counts the same collectives: \(numbers.scalars)")
    }

    func testPointToPointCallsAndFailuresAreRecorded() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        _ = try sendrecv([1.5], [0.0], source: left, dest: right, sendtag: 4)
        let line = try XCTUnwrap(MPIRuntime.flightRecord.last)
        XCTAssertTrue(line.hasPrefix("sendrecv on communicator"), line)
        XCTAssertTrue(line.contains("1 × Double, source \(left), tag any; took"), line)
        XCTAssertThrowsError(try bcast([1.0], root: size))
        XCTAssertTrue(try XCTUnwrap(MPIRuntime.flightRecord.last).contains("threw after"))
        // A wall's procNull is named as such (it is -2 here, and MPI's value differs between the libraries).
        try send([1.0], dest: procNull, tag: 3)
        XCTAssertTrue(try XCTUnwrap(MPIRuntime.flightRecord.last).contains("1 × Double, dest procNull, tag 3; took"))
        _ = try recv([0.0], source: procNull, tag: 3)
        XCTAssertTrue(try XCTUnwrap(MPIRuntime.flightRecord.last).contains("1 × Double, source procNull, tag 3; took"))
    }

    func testProbesUnknownSizesAndVariableCountsAreDescribedAsTheyAre() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let sent = try isend([1.0, 2.0, 3.0], dest: right, tag: 41)
        _ = try probe(Double.self, source: left, tag: 41)
        var line = try XCTUnwrap(MPIRuntime.flightRecord.last)
        XCTAssertTrue(line.hasPrefix("probe on communicator"), line)
        XCTAssertTrue(line.contains(": Double, source \(left), tag 41; took"), line)
        _ = try recv(Double.self, source: anySource, tag: 41)
        line = try XCTUnwrap(MPIRuntime.flightRecord.last)
        XCTAssertTrue(line.contains(": a message of any size × Double, source any, tag 41; took"), line)
        try sent.wait()
        _ = try allgatherv([Double](repeating: 1, count: rank + 1), counts: Array(1...size))
        line = try XCTUnwrap(MPIRuntime.flightRecord.last)
        XCTAssertTrue(line.contains(": Double, variable counts; took"), line)
        XCTAssertFalse(line.contains("0 ×"), line)
        XCTAssertFalse(line.contains("non-blocking"), line)
        // A rank whose collective is a non-blocking form says so: MPI never matches it with a blocking one.
        _ = try iallreduce([1.0], op: .sum).wait()
        line = try XCTUnwrap(MPIRuntime.flightRecord.last)
        XCTAssertTrue(line.hasPrefix("allreduce #"), line)
        XCTAssertTrue(line.contains("sum, 1 × Double; non-blocking form; took"), line)
    }

    func testTheRecordHoldsTheLast64Calls() throws {
        for _ in 0..<70 { try barrier() }
        XCTAssertEqual(MPIRuntime.flightRecord.count, 64)
    }

    func testACallWhoseSlotWasReusedLeavesTheLaterCallsEntryAlone() throws {
        // A call still running when the ring gives its slot to a later call (more calls started meanwhile,
        // on other threads, than the ring holds) must not end the later call's entry: the watchdog would
        // then miss that call if it hung.
        let comm = try Communicator.resolve(nil, .send)
        let first = try XCTUnwrap(recordStart(Call(.send, comm, Int32.self, count: 1, peer: 0, tag: 1)))
        var later: [FlightRecordEntry] = []
        for index in 0..<FlightRecorder.capacity {
            later.append(try XCTUnwrap(recordStart(Call(.send, comm, Double.self, count: 2, peer: 0, tag: 100 + index))))
        }
        defer { for entry in later { recordEnd(entry, failed: false) } }
        let reuser = try XCTUnwrap(later.last)
        XCTAssertEqual(reuser.slot, first.slot, "the ring holds \(FlightRecorder.capacity) calls")
        XCTAssertFalse(first.isOwn)
        recordEnd(first, failed: true)
        let entry = reuser.snapshot
        XCTAssertEqual(entry.end, 0, "the later call is still running")
        XCTAssertFalse(entry.failed)
        XCTAssertEqual(entry.tag, Int32(100 + FlightRecorder.capacity - 1))
        XCTAssertTrue(try XCTUnwrap(FlightEntry.recent().last).summary.contains("2 × Double, dest 0, tag \(entry.tag)"))
    }

    func testTheWatchdogReportNamesTheStuckCallAndTheCallsBeforeIt() throws {
        _ = try allreduce(1.0, op: .sum)
        var entries = FlightEntry.recent()
        var stuck = try XCTUnwrap(entries.last)
        stuck.end = 0
        entries[entries.count - 1] = stuck
        let lines = watchdogReport(stuck, entries: entries, now: stuck.start + 3_500_000_000, timeout: 3_000_000_000)
        XCTAssertTrue(lines[0].contains("watchdog: rank \(rank) of \(size): stuck for 3.500 s in allreduce #"), lines[0])
        XCTAssertTrue(lines[0].contains("(timeout 3.000 s, SWIFT_MPI_TIMEOUT)"), lines[0])
        XCTAssertTrue(lines[1].contains("completed calls, oldest first"), lines[1])
        XCTAssertTrue(try XCTUnwrap(lines.last).contains("ending the job (MPI_Abort, exit code 70)"))
    }

    func testCommunicatorsAreMadeByRecordedCollectives() throws {
        _ = try world.duplicate()
        _ = try world.split(color: rank % 2)
        let grid = try XCTUnwrap(try world.cartesian(dimensions: [size]))
        _ = try grid.sub(keeping: [true])
        let lines = Array(MPIRuntime.flightRecord.suffix(4))
        XCTAssertEqual(lines.count, 4)
        for (line, name) in zip(lines, ["Communicator.duplicate #", "Communicator.split #", "Communicator.cartesian #",
                                        "CartesianCommunicator.sub #"]) {
            XCTAssertTrue(line.hasPrefix(name), "\(line) \(here)")
            XCTAssertTrue(line.contains("(rank \(rank) of \(size)); took "), "\(line) \(here)")
        }
    }

    /// Runs `body` on every rank, the last one (of two or more) 2.5 s after the others, with the
    /// watchdog at 0.2 s reporting to a handler, and returns the lines that report a stuck call.
    private func stuckLines(_ body: () throws -> Void) throws -> [String] {
        final class Reports: Sendable { let lines = Mutex<[String]>([]) }
        let reports = Reports()
        let saved = MPIRuntime.watchdogTimeout
        watchdogSettings.reportHandler.withLock { handler in
            handler = { lines in reports.lines.withLock { $0.append(contentsOf: lines) } }
        }
        defer {
            MPIRuntime.watchdogTimeout = saved
            watchdogSettings.reportHandler.withLock { $0 = nil }
        }
        MPIRuntime.watchdogTimeout = 0.2
        // The watchdog reads a new timeout within a second, then sees a call stuck twice 20 ms apart.
        if isLate { Thread.sleep(forTimeInterval: 2.5) }
        try body()
        return reports.lines.withLock { $0 }.filter { $0.contains(" stuck for ") }
    }

    private var isLate: Bool { size > 1 && rank == size - 1 }

    func testARankWaitingToMakeACommunicatorIsReported() throws {
        // MPI_Comm_dup is collective: the ranks that arrive first wait in it for the last, and their
        // watchdogs see that (as they would a rank that never comes).
        var made: Communicator?
        let lines = try stuckLines { made = try world.duplicate() }
        XCTAssertEqual(try XCTUnwrap(made).size, size)
        if isLate || size == 1 {
            XCTAssertTrue(lines.isEmpty, "\(lines) \(here)")
        } else {
            let line = try XCTUnwrap(lines.first, "no report \(here)")
            XCTAssertTrue(line.contains(" in Communicator.duplicate #"), line)
        }
    }

    func testACollectiveWaitingInTheCrossRankCheckIsReportedAsNotStarted() throws {
        // With the check on, a collective first waits in the check's agreement until every rank of the
        // communicator starts it; the watchdogs of the ranks that wait there say that it has not started.
        let comm = try world.duplicate()
        MPIRuntime.checksCollectiveArguments = true
        defer { MPIRuntime.checksCollectiveArguments = false }
        var sum: [Int] = []
        let lines = try stuckLines { sum = try allreduce([rank], op: .sum, comm: comm).0 }
        XCTAssertEqual(sum, [size * (size - 1) / 2], here)
        if isLate || size == 1 {
            XCTAssertTrue(lines.isEmpty, "\(lines) \(here)")
        } else {
            let line = try XCTUnwrap(lines.first, "no report \(here)")
            XCTAssertTrue(line.contains(" in allreduce #"), line)
            XCTAssertTrue(line.contains("; not started: in the cross-rank check's agreement (SWIFT_MPI_CHECK=1)"), line)
        }
        // Once the agreement is over, the entry no longer says so.
        XCTAssertFalse(try XCTUnwrap(FlightEntry.recent().last).summary.contains("agreement"), here)
    }

    func testTheTimeoutCanBeChangedAndTurnedOff() {
        let saved = MPIRuntime.watchdogTimeout
        defer { MPIRuntime.watchdogTimeout = saved }
        MPIRuntime.watchdogTimeout = 42
        XCTAssertEqual(MPIRuntime.watchdogTimeout, 42)
        MPIRuntime.watchdogTimeout = nil
        XCTAssertNil(MPIRuntime.watchdogTimeout)
        MPIRuntime.watchdogTimeout = 0
        XCTAssertNil(MPIRuntime.watchdogTimeout)
    }

    func testTheDefaultTimeoutIsTenMinutes() {
        // Unless the environment sets SWIFT_MPI_TIMEOUT (the scenarios do; this class does not).
        if SwiftMPIEnvironment.string(.timeout) == nil {
            XCTAssertEqual(MPIRuntime.watchdogTimeout, 600)
        }
    }

    /// The clock the watchdog publishes for the calls to record (0 while it is off).
    private var publishedClock: UInt64 {
        let written = flightRecorder.written!
        return (written + 1).withMemoryRebound(to: UInt64.self, capacity: 1) { swiftmpi_atomic_load($0) }
    }

    func testWhileTheWatchdogRunsACallRecordsItsClockAndOtherwiseReadsTheClock() throws {
        // The calls below are retried a number of times that differs between ranks: each rank calls
        // them on a communicator of its own.
        let alone = try world.split(color: rank)
        let saved = MPIRuntime.watchdogTimeout
        defer { MPIRuntime.watchdogTimeout = saved }
        // On (checks every second): within a check interval, the thread has published its reading.
        MPIRuntime.watchdogTimeout = 42
        let deadline = Date().addingTimeInterval(3)
        while publishedClock == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        var matched = false
        for _ in 0..<5 where !matched {
            let before = publishedClock
            try barrier(comm: alone)
            let entry = try XCTUnwrap(FlightEntry.recent().last)
            // Unless the watchdog published a new reading meanwhile, the call took the published one.
            if publishedClock == before {
                XCTAssertNotEqual(before, 0, here)
                XCTAssertEqual(entry.start, before, here)
                XCTAssertEqual(entry.end, before, here)
                matched = true
            }
        }
        XCTAssertTrue(matched, "the watchdog published a new reading during each of 5 barriers \(here)")
        // Off: nothing is published any more, and a call reads the clock itself.
        MPIRuntime.watchdogTimeout = nil
        // (A check under way as the timeout changed may publish once more; the thread's next check,
        // within a second, takes it back.)
        var checked = false
        for _ in 0..<30 where !checked {
            let low = swiftmpi_coarse_ns()
            let unpublished = publishedClock == 0
            try barrier(comm: alone)
            let high = swiftmpi_coarse_ns()
            guard unpublished, publishedClock == 0 else {
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            let entry = try XCTUnwrap(FlightEntry.recent().last)
            XCTAssertTrue(entry.start & 1 == 1 && entry.start >= low && entry.start <= high | 1, "\(entry.start) \(here)")
            XCTAssertTrue(entry.end >= entry.start && entry.end <= high | 1, "\(entry.end) \(here)")
            checked = true
        }
        XCTAssertTrue(checked, "the clock stayed published for 3 s after the watchdog was turned off \(here)")
    }

    func testTheWatchdogJudgesACallByWhenItFirstSawIt() throws {
        // A recorded start may be far older than the call (the watchdog's last published reading): the call
        // counts as stuck only after it has been seen running, the same call, for longer than the timeout.
        let second: UInt64 = 1_000_000_000
        var running = FlightEntry()
        running.start = 1  // as old as can be
        running.serial = 7
        var tracker = WatchdogTracker()
        XCTAssertNil(tracker.check([running], now: 100 * second, timeout: 3 * second))
        XCTAssertNil(tracker.check([running], now: 102 * second, timeout: 3 * second))
        XCTAssertEqual(tracker.check([running], now: 103 * second + 1, timeout: 3 * second)?.serial, 7)
        // Another call in the same slot (a new serial) is new to the watchdog, and so is a wait that
        // restarted the entry's start.
        var next = running
        next.serial = 71
        XCTAssertNil(tracker.check([next], now: 104 * second, timeout: 3 * second))
        var restarted = next
        restarted.start = 105 * second | 1
        XCTAssertNil(tracker.check([restarted], now: 108 * second, timeout: 3 * second))
        XCTAssertEqual(tracker.check([restarted], now: 111 * second + 1, timeout: 3 * second)?.serial, 71)
        // A call that ended, and a request nobody waits for (parked), are never stuck.
        var ended = restarted
        ended.end = 106 * second | 1
        XCTAssertNil(tracker.check([ended], now: 200 * second, timeout: 3 * second))
        var parked = running
        parked.parked = true
        XCTAssertNil(tracker.check([parked], now: 300 * second, timeout: 3 * second))
        XCTAssertNil(tracker.check([parked], now: 400 * second, timeout: 3 * second))
        // Of several stuck calls (other threads), the most recent is reported.
        var other = running
        other.serial = 9
        XCTAssertNil(tracker.check([running, other], now: 500 * second, timeout: 3 * second))
        XCTAssertEqual(tracker.check([running, other], now: 504 * second, timeout: 3 * second)?.serial, 9)
    }
}
