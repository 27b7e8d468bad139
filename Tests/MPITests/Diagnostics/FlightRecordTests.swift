// Tests of Sources/MPI/Diagnostics/FlightRecord.swift and Watchdog.swift (in
// process; the watchdog ending a hung job is tested by Scripts/test's scenarios).
@testable import MPI
import MPITestSupport
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
    }

    func testTheRecordHoldsTheLast64Calls() throws {
        for _ in 0..<70 { try barrier() }
        XCTAssertEqual(MPIRuntime.flightRecord.count, 64)
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
}
