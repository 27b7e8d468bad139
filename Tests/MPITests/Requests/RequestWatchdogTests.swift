// Tests of how the watchdog (Diagnostics/Watchdog.swift) sees requests
// (Requests/PendingOperation.swift): a request in flight that nobody waits for is
// not stuck, however old; a wait that does not end is, like a blocking call, also
// when the flight record's ring has reused the request's entry since it started.
// The watchdog's report goes to a handler here instead of ending the job, and the
// handler starts the send of the message the stuck wait needs (a request it drops,
// which completes it there), so every test ends by itself.
import Foundation
@testable import MPI
import MPITestSupport
import Synchronization
import XCTest

final class RequestWatchdogTests: MPITestCase {
    private final class Reports: Sendable {
        let lines = Mutex<[[String]]>([])
    }

    /// Runs `body` with the watchdog at `timeout` seconds and its reports collected in `reports`; the
    /// first report sends this rank one `Int16` with `tag`, which the stuck wait of `body` receives.
    private func withWatchdog(
        timeout: Double, tag: Int, _ body: (Reports) throws -> Void
    ) throws {
        let reports = Reports()
        let world = self.world, rank = self.rank
        let saved = MPIRuntime.watchdogTimeout
        watchdogSettings.reportHandler.withLock { handler in
            handler = { lines in
                let first = reports.lines.withLock { all -> Bool in
                    all.append(lines)
                    return all.count == 1
                }
                if first { _ = try? isend([Int16(7)], dest: rank, tag: tag, comm: world) }  // dropped: completed here
            }
        }
        defer {
            MPIRuntime.watchdogTimeout = saved
            watchdogSettings.reportHandler.withLock { $0 = nil }
        }
        MPIRuntime.watchdogTimeout = timeout
        try body(reports)
    }

    func testARequestNobodyWaitsForIsNotStuckButItsWaitIs() throws {
        try withWatchdog(timeout: 0.3, tag: 230) { reports in
            let receive = try irecv([Int16(0)], source: rank, tag: 230, comm: world)
            // In flight for four timeouts, never waited for: no report.
            Thread.sleep(forTimeInterval: 1.2)
            XCTAssertTrue(reports.lines.withLock { $0.isEmpty }, "reported before any wait \(here)")
            // A send to this rank itself: started, and completed after the receive (MPI_Send to
            // oneself with no receive posted may block, as on MPICH at one rank).
            let sent = try isend([Int16(7)], dest: rank, tag: 230, comm: world)
            let message = try receive.wait()
            try sent.wait()
            XCTAssertEqual(message, [7], here)
            XCTAssertTrue(reports.lines.withLock { $0.isEmpty }, "reported a wait that ended at once \(here)")
        }
    }

    func testTheRequestsThatWaitAnyLeavesInFlightAreNotStuck() throws {
        try withWatchdog(timeout: 0.3, tag: 231) { reports in
            var set = RequestSet<[Int16]>()
            set.append(try irecv([Int16(0)], source: rank, tag: 231, comm: world))  // its message comes last
            set.append(try irecv([Int16(0)], source: rank, tag: 232, comm: world))
            let sent = try isend([Int16(8)], dest: rank, tag: 232, comm: world)
            let first = try set.waitAny()
            XCTAssertEqual(first?.index, 1, here)
            try sent.wait()
            // The other receive is in flight, and nobody waits for it: no report, however long.
            Thread.sleep(forTimeInterval: 1.2)
            XCTAssertTrue(reports.lines.withLock { $0.isEmpty }, "reported a request that nobody waits for \(here)")
            let last = try isend([Int16(9)], dest: rank, tag: 231, comm: world)
            let rest = try set.waitAll()
            try last.wait()
            XCTAssertEqual(rest, [[9]], here)
            XCTAssertTrue(reports.lines.withLock { $0.isEmpty }, here)
        }
    }

    func testAWaitThatDoesNotEndIsReported() throws {
        try withWatchdog(timeout: 0.3, tag: 231) { reports in
            let receive = try irecv([Int16(0)], source: rank, tag: 231, comm: world)
            Thread.sleep(forTimeInterval: 0.8)
            XCTAssertTrue(reports.lines.withLock { $0.isEmpty }, "reported before the wait began \(here)")
            // The wait is stuck until the report's handler sends the message.
            let message = try receive.wait()
            XCTAssertEqual(message, [7], here)
            let first = try XCTUnwrap(reports.lines.withLock { $0.first }, "no report \(here)")
            XCTAssertTrue(first[0].contains("stuck for") && first[0].contains("in recv on communicator"),
                          "\(first[0]) \(here)")
            XCTAssertTrue(first[0].contains("source \(rank), tag 231"), "\(first[0]) \(here)")
        }
    }

    func testAWaitIsWatchedAfterTheRingReusedTheRequestsEntry() throws {
        try withWatchdog(timeout: 0.3, tag: 232) { reports in
            let receive = try irecv([Int16(0)], source: rank, tag: 232, comm: world)
            // More calls than the ring holds: the request's entry is overwritten.
            for _ in 0..<(FlightRecorder.capacity + 6) { _ = try iprobe(Int16.self, source: rank, tag: 999, comm: world) }
            let message = try receive.wait()
            XCTAssertEqual(message, [7], here)
            let first = try XCTUnwrap(reports.lines.withLock { $0.first }, "no report \(here)")
            XCTAssertTrue(first[0].contains("in recv on communicator") && first[0].contains("tag 232"),
                          "\(first[0]) \(here)")
        }
    }

    func testAnAwaitThatDoesNotEndIsReported() async throws {
        let reports = Reports()
        let world = self.world, rank = self.rank
        let saved = MPIRuntime.watchdogTimeout
        watchdogSettings.reportHandler.withLock { handler in
            handler = { lines in
                let first = reports.lines.withLock { all -> Bool in
                    all.append(lines)
                    return all.count == 1
                }
                if first { _ = try? isend([Int16(7)], dest: rank, tag: 233, comm: world) }  // dropped: completed here
            }
        }
        MPIRuntime.watchdogTimeout = 0.3
        let receive = try irecv([Int16(0)], source: rank, tag: 233, comm: world)
        let message = try await receive.value()
        MPIRuntime.watchdogTimeout = saved
        watchdogSettings.reportHandler.withLock { $0 = nil }
        XCTAssertEqual(message, [7], here)
        let first = try XCTUnwrap(reports.lines.withLock { $0.first }, "no report \(here)")
        XCTAssertTrue(first[0].contains("in recv on communicator") && first[0].contains("tag 233"),
                      "\(first[0]) \(here)")
    }
}
