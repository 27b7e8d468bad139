// Persistent plans around finalisation: nothing is freed, started or waited for after
// MPI_Finalize. Finalising ends MPI for the process, so this class runs as a process of
// its own (Scripts/test runs every class so); under `swift test` it skips itself.
@testable import MPI
import MPITestSupport
import XCTest

final class PersistentPlanFinalizeTests: XCTestCase {
    func testPlansMakeNoMPICallAfterFinalize() throws {
        try requireOwnProcess()
        let world = Communicator.world
        checkLaunchEnvironment()
        let (left, right) = ((world.rank + world.size - 1) % world.size, (world.rank + 1) % world.size)
        let plan = try PersistentPlan<Double>(
            sends: [PersistentMessage(peer: right, tag: 5, count: 3)],
            receives: [PersistentMessage(peer: left, tag: 5, count: 3)], comm: world)
        try plan.setSend(0, to: ShapedArray([Double(world.rank), 1, 2]))
        try plan.exchange()
        XCTAssertEqual(try plan.received(0).scalars, [Double(left), 1, 2])
        var kept: PersistentPlan<Double>? = try PersistentPlan<Double>(
            sends: [PersistentMessage(peer: procNull, tag: 6, count: 1)], receives: [], comm: world)
        XCTAssertNotNil(kept)
        _ = try allreduce(1, op: .sum, comm: world)  // every rank's exchange is complete

        try MPIRuntime.finalize()
        // Starting throws; the buffers stay readable (they are the plan's, not MPI's).
        assertThrows(.finalized(operation: "persistent start")) { _ = try plan.start() }
        assertThrows(.finalized(operation: "PersistentPlan.init")) {
            try PersistentPlan<Double>(sends: [], receives: [], comm: world)
        }
        XCTAssertEqual(try plan.received(0).scalars, [Double(left), 1, 2])
        // Dropping a plan after finalisation frees nothing (an MPI_Request_free now would be erroneous).
        kept = nil
        XCTAssertNil(kept)
        XCTAssertTrue(MPIRuntime.isFinalized)
    }
}
