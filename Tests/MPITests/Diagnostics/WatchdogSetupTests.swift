// Tests of how the watchdog's timeout is set up (Diagnostics/Watchdog.swift,
// configureWatchdogFromEnvironment): a timeout set in code before MPI is set up
// stays, unless SWIFT_MPI_TIMEOUT is set. Runs in a process of its own (Scripts/test
// launches every class alone), before anything initialises MPI.
import MPI
import MPITestSupport
import XCTest

final class WatchdogSetupTests: XCTestCase {
    func testATimeoutSetBeforeMPIIsSetUpStays() throws {
        try requireOwnProcess()
        let fromEnvironment = environment("SWIFT_MPI_TIMEOUT")
        MPIRuntime.watchdogTimeout = 321
        let (sum, _) = try allreduce(1, op: .sum)  // sets MPI up
        XCTAssertEqual(sum, Communicator.world.size)
        if fromEnvironment == nil {
            XCTAssertEqual(MPIRuntime.watchdogTimeout, 321, "the environment's default replaced the program's value")
        }
        MPIRuntime.watchdogTimeout = nil
        XCTAssertNil(MPIRuntime.watchdogTimeout)
    }
}
