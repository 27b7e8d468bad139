// Use after finalisation: every operation throws MPIError.finalized.
//
// Finalising ends MPI for the process, so this class must run as a process of
// its own, after which nothing else can run in it. Scripts/test runs every class
// as its own MPI program, and this one last.
import MPI
import MPITestSupport
import XCTest

final class FinalizeTests: XCTestCase {
    func testEveryOperationThrowsFinalizedAfterFinalize() throws {
        // MPI works before.
        let world = Communicator.world
        checkLaunchEnvironment()
        let size = world.size
        let (left, right) = ringNeighbours(rank: world.rank, size: size)
        let sub = try world.split(color: world.rank % 2)
        let dup = try world.duplicate()
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
        XCTAssertFalse(MPIRuntime.isFinalized)

        try MPIRuntime.finalize()
        XCTAssertTrue(MPIRuntime.isFinalized)
        // A second finalize is harmless.
        XCTAssertNoThrow(try MPIRuntime.finalize())

        let x = ShapedArray(repeating: 1.0, shape: [size, 2])
        for comm in [nil, world, sub, dup] as [Communicator?] {
            let label = comm.map { "\($0)" } ?? "comm: nil"
            assertThrows(.finalized(operation: "allgather"), label) { try allgather(x, comm: comm) }
            assertThrows(.finalized(operation: "allgather"), label) { try allgather([1], comm: comm) }
            assertThrows(.finalized(operation: "allreduce"), label) { try allreduce(x, op: .sum, comm: comm) }
            assertThrows(.finalized(operation: "allreduce"), label) { try allreduce(1, op: .sum, comm: comm) }
            assertThrows(.finalized(operation: "alltoall"), label) { try alltoall(x, comm: comm) }
            assertThrows(.finalized(operation: "barrier"), label) { try barrier(comm: comm) }
            assertThrows(.finalized(operation: "bcast"), label) { try bcast(x, root: 0, comm: comm) }
            assertThrows(.finalized(operation: "bcast"), label) { try bcast(1.0, root: 0, comm: comm) }
            assertThrows(.finalized(operation: "gather"), label) { try gather(x, root: 0, comm: comm) }
            assertThrows(.finalized(operation: "reduce"), label) { try reduce(x, op: .max, root: 0, comm: comm) }
            assertThrows(.finalized(operation: "scan"), label) { try scan([1.0], op: .sum, comm: comm) }
            assertThrows(.finalized(operation: "scatter"), label) { try scatter(x, root: 0, comm: comm) }
            assertThrows(.finalized(operation: "scatter"), label) { try scatter([1, 2], root: 0, comm: comm) }
            assertThrows(.finalized(operation: "send"), label) { try send(x, dest: right, comm: comm) }
            assertThrows(.finalized(operation: "recv"), label) { try recv(x, source: left, comm: comm) }
            assertThrows(.finalized(operation: "recv"), label) { try recv(1.0, comm: comm) }
            assertThrows(.finalized(operation: "sendrecv"), label) {
                try sendrecv(x, x, source: left, dest: right, comm: comm)
            }
            assertThrows(.finalized(operation: "barrier"), label) { try barrier(comm: comm, token: Token()) }
        }
        // The world is still the same value, and operations on it throw.
        XCTAssertEqual(Communicator.world, world)
        assertThrows(.finalized(operation: "allreduce")) { try allreduce(1, op: .sum, comm: Communicator.world) }
        assertThrows(.finalized(operation: "Communicator.default")) { try Communicator.default }
        assertThrows(.finalized(operation: "Communicator.duplicate")) { try world.duplicate() }
        assertThrows(.finalized(operation: "Communicator.split")) { try world.split(color: 0) }
        assertThrows(.finalized(operation: "Communicator.init(handle:)")) { try Communicator(handle: world.handle) }
        assertThrows(.finalized(operation: "MPI_Init_thread")) { try MPIRuntime.initialize() }
        // Inside autoTokenize too.
        assertThrows(.finalized(operation: "allreduce")) {
            try autoTokenize { () throws(MPIError) -> Double in try allreduce(1.0, op: .sum).0 }
        }

        let error = assertThrowsError { try barrier() }
        if let error { assertMessageNames(error, ["barrier", "finalized"]) }
        // The values made before finalising can still be read.
        XCTAssertEqual(world.size, size)
        XCTAssertEqual(sub.rank, world.rank / 2)
    }
}
