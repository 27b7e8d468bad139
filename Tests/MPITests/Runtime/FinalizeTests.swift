// Use after finalisation: every operation throws MPIError.finalized.
//
// Finalising ends MPI for the process, so these classes must run as processes of
// their own, after which nothing else can run in them. Scripts/test runs every
// class as its own MPI program (FinalizeTests last); under `swift test`, where
// every class shares one process, they skip themselves (requireOwnProcess).
import MPI
import MPITestSupport
import XCTest

final class FinalizeTests: XCTestCase {
    func testEveryOperationThrowsFinalizedAfterFinalize() throws {
        try requireOwnProcess()
        // MPI works before.
        let world = Communicator.world
        checkLaunchEnvironment()
        let size = world.size
        let (left, right) = ringNeighbours(rank: world.rank, size: size)
        let sub = try world.split(color: world.rank % 2)
        let dup = try world.duplicate()
        let freed = try world.duplicate()
        try freed.free()
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
        XCTAssertEqual(try allreduce(Float16(1), op: .max).0, 1)
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
        assertThrows(.finalized(operation: "Communicator.split")) { try world.split(color: nil) }
        assertThrows(.finalized(operation: "Communicator.free")) { try dup.free() }
        assertThrows(.finalized(operation: "allreduce")) { try allreduce(1, op: .sum, comm: freed) }
        // Float16 reductions throw too (their operations were freed), and asking
        // whether an op supports a type needs no MPI.
        for op in [ReductionOp.sum, .product, .min, .max] {
            XCTAssertTrue(op.isSupported(for: Float16.self))
            assertThrows(.finalized(operation: "allreduce")) { try allreduce(Float16(1), op: op) }
            assertThrows(.finalized(operation: "reduce")) { try reduce([Float16(1)], op: op, root: 0, comm: world) }
            assertThrows(.finalized(operation: "scan")) { try scan(ShapedArray([Float16(1)]), op: op, comm: sub) }
        }
        XCTAssertFalse(ReductionOp.bitwiseAnd.isSupported(for: Float16.self))
        assertThrows(.finalized(operation: "Communicator.init(handle:)")) { try Communicator(handle: world.handle) }
        assertThrows(.finalized(operation: "MPIRuntime.initialize")) { try MPIRuntime.initialize() }
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

/// `finalize()` as the first call of a process: it makes no MPI call, and
/// `Communicator.world` still gives a value (rank and size as the launcher
/// announced them) on which every operation throws.
final class FinalizeBeforeUseTests: XCTestCase {
    func testFinalizeBeforeAnyUseMakesNoMPICallAndTheWorldNeverTraps() throws {
        try requireOwnProcess()
        try MPIRuntime.finalize()
        XCTAssertFalse(MPIRuntime.isInitialized, "finalize() before any use initialised MPI")
        let world = Communicator.world
        if let expected = environment("SWIFT_MPI_TEST_EXPECTED_SIZE").flatMap(Int.init) {
            XCTAssertEqual(world.size, expected, "the launcher's size")
        }
        XCTAssertTrue((0..<world.size).contains(world.rank))
        XCTAssertEqual(Communicator.world, world)
        XCTAssertEqual(Communicator.world.rank, world.rank)
        for comm in [nil, world] as [Communicator?] {
            assertThrows(.finalized(operation: "allreduce")) { try allreduce(1, op: .sum, comm: comm) }
            assertThrows(.finalized(operation: "allreduce")) { try allreduce(Float16(1), op: .min, comm: comm) }
            assertThrows(.finalized(operation: "barrier")) { try barrier(comm: comm) }
            assertThrows(.finalized(operation: "send")) { try send(1, dest: 0, comm: comm) }
            assertThrows(.finalized(operation: "recv")) { try recv(1, source: 0, comm: comm) }
        }
        assertThrows(.finalized(operation: "Communicator.default")) { try Communicator.default }
        assertThrows(.finalized(operation: "Communicator.duplicate")) { try world.duplicate() }
        assertThrows(.finalized(operation: "Communicator.split")) { try world.split(color: 0) }
        assertThrows(.finalized(operation: "Communicator.free")) { try world.free() }
        assertThrows(.finalized(operation: "MPIRuntime.initialize")) { try MPIRuntime.initialize() }
        XCTAssertTrue(ReductionOp.max.isSupported(for: Float16.self))
        XCTAssertNoThrow(try MPIRuntime.finalize())
        XCTAssertFalse(MPIRuntime.isInitialized, "no MPI call was made")
    }
}
