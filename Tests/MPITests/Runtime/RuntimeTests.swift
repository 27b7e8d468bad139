// Tests of Runtime.swift: initialisation, thread level, facts about the library.
//
// RuntimeTests runs in a process where the package initialises MPI itself.
// ExternalInitializationTests and ThreadLevelEnvironmentTests need a process of
// their own in which nothing has touched MPI yet; Scripts/test runs every class
// as its own MPI program, so each of them is such a process.
import CMPI
import Foundation
import MPI
import MPITestSupport
import Synchronization
import XCTest

final class RuntimeTests: MPITestCase {
    func testInitializedOnFirstUseAndNotFinalized() throws {
        _ = Communicator.world
        XCTAssertTrue(MPIRuntime.isInitialized)
        XCTAssertFalse(MPIRuntime.isFinalized)
    }

    func testInitializeIsIdempotentAndReportsTheProvidedLevel() throws {
        let provided = try MPIRuntime.initialize()
        XCTAssertEqual(provided, MPIRuntime.threadLevel)
        // Asking again, even for another level, returns the level already provided.
        XCTAssertEqual(try MPIRuntime.initialize(threadLevel: .multiple), provided)
        XCTAssertEqual(try MPIRuntime.initialize(threadLevel: .single), provided)
    }

    func testDefaultThreadLevelIsMultiple() throws {
        // The documented default of implicit initialisation (SWIFT_MPI_THREAD_LEVEL unset).
        guard environment("SWIFT_MPI_THREAD_LEVEL") == nil else {
            throw XCTSkip("SWIFT_MPI_THREAD_LEVEL is set in this environment")
        }
        XCTAssertEqual(MPIRuntime.threadLevel, .multiple, here)
    }

    func testThreadLevelAgreesWithMPIQueryThread() throws {
        var provided: Int32 = -1
        XCTAssertEqual(MPI_Query_thread(&provided), 0)
        XCTAssertEqual(MPIRuntime.threadLevel.rawValue, Int(provided))
    }

    func testThreadLevelOrderAndNames() {
        XCTAssertEqual(ThreadLevel.allCases, [.single, .funneled, .serialized, .multiple])
        XCTAssertLessThan(ThreadLevel.single, .funneled)
        XCTAssertLessThan(ThreadLevel.funneled, .serialized)
        XCTAssertLessThan(ThreadLevel.serialized, .multiple)
        XCTAssertFalse(ThreadLevel.multiple < .multiple)
        XCTAssertEqual(ThreadLevel.allCases.map(\.description),
                       ["MPI_THREAD_SINGLE", "MPI_THREAD_FUNNELED", "MPI_THREAD_SERIALIZED", "MPI_THREAD_MULTIPLE"])
        XCTAssertEqual(ThreadLevel.allCases.map(\.rawValue), [0, 1, 2, 3])
        XCTAssertEqual(ThreadLevel(rawValue: 2), .serialized)
        // The raw values are MPI's own constants in every library that follows the standard's order.
        XCTAssertEqual(Int(swiftmpi_thread_single()), ThreadLevel.single.rawValue)
        XCTAssertEqual(Int(swiftmpi_thread_funneled()), ThreadLevel.funneled.rawValue)
        XCTAssertEqual(Int(swiftmpi_thread_serialized()), ThreadLevel.serialized.rawValue)
        XCTAssertEqual(Int(swiftmpi_thread_multiple()), ThreadLevel.multiple.rawValue)
    }

    func testImplementationAndVersions() {
        let version = MPIRuntime.libraryVersion
        XCTAssertFalse(version.isEmpty)
        XCTAssertEqual(version, version.trimmingCharacters(in: .whitespacesAndNewlines), "not trimmed: '\(version)'")
        let standard = MPIRuntime.standardVersion
        XCTAssertTrue(standard.major > 3 || (standard.major == 3 && standard.minor >= 1), "MPI \(standard)")
        var major: Int32 = 0, minor: Int32 = 0
        MPI_Get_version(&major, &minor)
        XCTAssertEqual(standard.major, Int(major))
        XCTAssertEqual(standard.minor, Int(minor))
        switch MPIRuntime.implementation {
        case .openMPI:
            XCTAssertTrue(version.contains("Open MPI"), version)
            XCTAssertEqual(MPIRuntime.implementation.rawValue, "Open MPI")
        case .mpich:
            XCTAssertTrue(version.contains("MPICH"), version)
            XCTAssertEqual(MPIRuntime.implementation.rawValue, "MPICH")
        case .other:
            XCTFail("built against an MPI library that is neither Open MPI nor MPICH: \(version)")
        }
    }

    func testTagUpperBound() throws {
        let bound = MPIRuntime.tagUpperBound
        XCTAssertGreaterThanOrEqual(bound, 32767)
        XCTAssertLessThanOrEqual(bound, Int(Int32.max))
        // The same on every rank.
        let (all, _) = try allgather(bound)
        XCTAssertEqual(all.scalars, Array(repeating: bound, count: size))
    }

    func testWildcardsAndCUDASupport() {
        XCTAssertEqual(anySource, -1)
        XCTAssertEqual(anyTag, -1)
        XCTAssertFalse(hasCUDASupport())
    }

    func testMPIStillWorksAfterTheseChecks() throws {
        let (sum, _) = try allreduce(1, op: .sum)
        XCTAssertEqual(sum, size)
    }
}

/// MPI initialised by other code first: the package uses it as it is and leaves finalisation to its owner.
final class ExternalInitializationTests: XCTestCase {
    func testPackageUsesMPIInitialisedByOtherCode() throws {
        try requireOwnProcess()
        var provided: Int32 = -1
        XCTAssertEqual(MPI_Init_thread(nil, nil, swiftmpi_thread_funneled(), &provided), 0)
        XCTAssertTrue(MPIRuntime.isInitialized)
        checkLaunchEnvironment()

        // The package adopts the existing MPI and reports the level that the other code got.
        XCTAssertEqual(MPIRuntime.threadLevel.rawValue, Int(provided))
        XCTAssertEqual(try MPIRuntime.initialize(threadLevel: .multiple).rawValue, Int(provided))

        // It works, with its own default communicator.
        let world = Communicator.world
        let comm = try Communicator.default
        XCTAssertNotEqual(comm, world)
        let (sum, _) = try allreduce(world.rank + 1, op: .sum)
        XCTAssertEqual(sum, world.size * (world.size + 1) / 2)

        // The package's finalize() ends the package's use of MPI, but not MPI itself: it is not the owner.
        try MPIRuntime.finalize()
        XCTAssertFalse(MPIRuntime.isFinalized, "the package finalised an MPI that it does not own")
        assertThrows(.finalized(operation: "allreduce")) { try allreduce(1, op: .sum) }

        // The owner can still use MPI, and finalises it.
        var total: Int32 = 0
        var one: Int32 = 1
        XCTAssertEqual(MPI_Allreduce(&one, &total, 1, swiftmpi_int32(), swiftmpi_op_sum(), swiftmpi_comm_world()), 0)
        XCTAssertEqual(Int(total), world.size)
        XCTAssertEqual(MPI_Finalize(), 0)
        XCTAssertTrue(MPIRuntime.isFinalized)
    }
}

/// MPI finalised by other code (C that owns MPI, say) after the package used it: the package's
/// operations throw `finalized` and make no MPI call (an independent audit: `allreduce`, a request's
/// start, `duplicate` and `barrier` called MPI after `MPI_Finalize`, which both libraries abort).
final class ExternalFinalizationTests: XCTestCase {
    func testOperationsAfterOtherCodeFinalizedMPIThrowFinalized() throws {
        try requireOwnProcess()
        var provided: Int32 = -1
        XCTAssertEqual(MPI_Init_thread(nil, nil, swiftmpi_thread_multiple(), &provided), 0)
        checkLaunchEnvironment()
        let world = Communicator.world
        let dup = try world.duplicate()
        let (sum, _) = try allreduce(1, op: .sum, comm: dup)
        XCTAssertEqual(sum, world.size)
        XCTAssertEqual(try allreduce(1, op: .sum).0, world.size)
        XCTAssertEqual(MPI_Finalize(), 0)
        XCTAssertTrue(MPIRuntime.isFinalized)
        assertThrows(.finalized(operation: "allreduce")) { try allreduce(1, op: .sum) }
        assertThrows(.finalized(operation: "allreduce")) { try allreduce(1, op: .sum, comm: dup) }
        assertThrows(.finalized(operation: "allreduce")) { _ = try iallreduce([1.0], op: .sum) }
        assertThrows(.finalized(operation: "barrier")) { try barrier(comm: world) }
        assertThrows(.finalized(operation: "Communicator.duplicate")) { try world.duplicate() }
        // The package's own finalisation does nothing more, and the duplicate is dropped without MPI.
        XCTAssertNoThrow(try MPIRuntime.finalize())
    }
}

/// `SWIFT_MPI_THREAD_LEVEL` overrides the level that implicit initialisation requests;
/// below `MPI_THREAD_SERIALIZED`, calls from another thread are refused.
final class ThreadLevelEnvironmentTests: XCTestCase {
    func testEnvironmentVariableChoosesTheThreadLevel() throws {
        try requireOwnProcess()
        setenv("SWIFT_MPI_THREAD_LEVEL", "funneled", 1)
        defer { unsetenv("SWIFT_MPI_THREAD_LEVEL") }
        XCTAssertEqual(MPIRuntime.threadLevel, .funneled)  // initialises MPI implicitly
        checkLaunchEnvironment()
        var provided: Int32 = -1
        XCTAssertEqual(MPI_Query_thread(&provided), 0)
        XCTAssertEqual(Int(provided), ThreadLevel.funneled.rawValue)
        let (sum, _) = try allreduce(1, op: .sum)
        XCTAssertEqual(sum, Communicator.world.size)

        // At MPI_THREAD_FUNNELED, another thread's calls throw before anything is communicated,
        // on every rank; a communicator released there is freed by the main thread's next call.
        let handedOver = Slot<Communicator>(try Communicator.world.duplicate())
        let errors = onAnotherThread { () -> [MPIError?] in
            // The other thread holds the only copy, so the communicator is released there.
            guard let comm = handedOver.take() else { return [] }
            return [
                thrownError { _ = try allreduce(1, op: .sum) },
                thrownError { _ = try barrier(comm: comm) },
                thrownError { _ = try Communicator.world.duplicate() },
                // MPI_Finalize from there would be erroneous too (an independent audit saw it run).
                thrownError { try MPIRuntime.finalize() },
            ]
        }
        XCTAssertEqual(errors.map { $0?.operation },
                       ["allreduce", "barrier", "Communicator.duplicate", "MPIRuntime.finalize"])
        XCTAssertFalse(MPIRuntime.isFinalized)
        for error in errors {
            guard case .threadLevel(_, let provided, let reason)? = error else {
                XCTFail("expected MPIError.threadLevel, got \(String(describing: error))")
                continue
            }
            XCTAssertEqual(provided, .funneled)
            XCTAssertTrue(reason.contains("initialise MPI at .serialized or .multiple"), reason)
            XCTAssertTrue(error!.description.contains("MPI_THREAD_FUNNELED"), error!.description)
        }
        // The main thread's calls still work, and every rank is still in step.
        let (again, _) = try allreduce(2, op: .sum)
        XCTAssertEqual(again, 2 * Communicator.world.size)
    }
}

/// Runs `body` on a thread of its own and returns its result once the thread has exited.
private func onAnotherThread<R: Sendable>(_ body: @escaping @Sendable () -> R) -> R {
    let result = Slot<R>(nil)
    runOnJoinedThreads(1) { _ in result.put(body()) }
    return result.take()!
}

/// A value handed from one thread to another.
private final class Slot<Value: Sendable>: Sendable {
    private let value: Mutex<Value?>
    init(_ value: Value?) { self.value = Mutex(value) }
    func put(_ newValue: Value) { value.withLock { $0 = newValue } }
    /// The value, leaving the slot empty.
    func take() -> Value? { value.withLock { v in defer { v = nil }; return v } }
}

/// The MPIError that `body` throws, or `nil`.
private func thrownError(_ body: () throws -> Void) -> MPIError? {
    do {
        try body()
        return nil
    } catch {
        return error as? MPIError
    }
}

/// A Swift rank that uses only the world shares it with ranks that are plain C
/// programs: setting the package up makes no collective call (the default
/// communicator is made on its first use), so the C ranks' collectives match
/// the Swift ranks' ones.
///
/// Every rank initialises MPI itself, as a C program would, at `MPI_THREAD_MULTIPLE`
/// (the package's default; at `MPI_THREAD_SERIALIZED` the package runs collectives
/// as their non-blocking counterparts, which MPI does not match with blocking
/// collectives of other ranks: see the README's thread levels). Then the even ranks
/// use the package (which adopts that MPI) on `Communicator.world` only, and the
/// odd ranks call the C functions directly: both sides must see the same
/// collectives in the same order.
final class RuntimeSharedWorldTests: XCTestCase {
    func testSwiftRanksShareTheWorldWithCRanks() throws {
        try requireOwnProcess()
        var provided: Int32 = -1
        XCTAssertEqual(MPI_Init_thread(nil, nil, swiftmpi_thread_multiple(), &provided), 0)
        XCTAssertEqual(provided, swiftmpi_thread_multiple())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(swiftmpi_comm_world(), &r)
        MPI_Comm_size(swiftmpi_comm_world(), &s)
        let rank = Int(r), size = Int(s)
        let expectedSum = size * (size + 1) / 2
        if rank % 2 == 0 {
            // The Swift side: the package, on the world.
            let world = Communicator.world
            checkLaunchEnvironment()
            XCTAssertEqual(try allreduce(rank + 1, op: .sum, comm: world).0, expectedSum)
            XCTAssertEqual(try bcast(Int32(rank == 0 ? 42 : 0), root: 0, comm: world).0, 42)
            XCTAssertEqual(try barrier(comm: world).sequence, 1)
            XCTAssertEqual(try allgather(Int32(rank), comm: world).0.scalars, (0..<size).map { Int32($0) })
            try MPIRuntime.finalize()
        } else {
            // The C side: MPI functions only, on MPI_COMM_WORLD.
            var mine = Int64(rank + 1), total: Int64 = 0
            XCTAssertEqual(MPI_Allreduce(&mine, &total, 1, swiftmpi_int64(), swiftmpi_op_sum(), swiftmpi_comm_world()), 0)
            XCTAssertEqual(Int(total), expectedSum)
            var value: Int32 = 0
            XCTAssertEqual(MPI_Bcast(&value, 1, swiftmpi_int32(), 0, swiftmpi_comm_world()), 0)
            XCTAssertEqual(value, 42)
            XCTAssertEqual(MPI_Barrier(swiftmpi_comm_world()), 0)
            var me = Int32(rank)
            var all = [Int32](repeating: -1, count: size)
            XCTAssertEqual(MPI_Allgather(&me, 1, swiftmpi_int32(), &all, 1, swiftmpi_int32(), swiftmpi_comm_world()), 0)
            XCTAssertEqual(all, (0..<size).map { Int32($0) })
        }
        XCTAssertEqual(MPI_Finalize(), 0)
    }
}

/// Skips the test unless it runs in a process of its own that has not touched MPI:
/// the test ends MPI, or must be the one to start it (with its own settings), so
/// under `swift test`, where every class shares one process, it would break the
/// tests after it or test nothing. Scripts/test runs every class as its own MPI
/// program and sets SWIFT_MPI_TEST_EXPECTED_SIZE.
func requireOwnProcess() throws {
    guard environment("SWIFT_MPI_TEST_EXPECTED_SIZE") != nil else {
        throw XCTSkip("needs a process of its own (it ends MPI, or must start it): runs only under Scripts/test")
    }
    guard !MPIRuntime.isInitialized else {
        throw XCTSkip("MPI was initialised before this test; run this class as its own process (Scripts/test does)")
    }
}

/// How a process of the package ends: run by Scripts/test's exit checks, which
/// read the launch's exit status and how long the job took to end.
///
/// `SWIFT_MPI_TEST_EXIT_CASE` selects the case:
/// - `abort`: the last rank calls `exit(3)` while the others loop on allreduce;
///   the package must end the whole job at once (MPI_Abort) with a non-zero status.
/// - `staggered`: the last rank calls `exit(0)` at once, the others end 2 s later;
///   the job must end cleanly with status 0.
/// - `zero-while-waiting`: the last rank calls `exit(0)` while the others loop on
///   allreduce (for measurements only: MPI_Finalize waits for the others, so the
///   job ends only when something kills it).
final class RuntimeExitTests: XCTestCase {
    func testHowAProcessEnds() throws {
        guard let exitCase = environment("SWIFT_MPI_TEST_EXIT_CASE") else {
            throw XCTSkip("run by Scripts/test's exit checks, with SWIFT_MPI_TEST_EXIT_CASE set")
        }
        let world = Communicator.world
        checkLaunchEnvironment()
        let last = world.size - 1
        switch exitCase {
        case "abort", "zero-while-waiting":
            let status: Int32 = exitCase == "abort" ? 3 : 0
            let start = now()
            var round = 0
            while now() - start < 60 {
                XCTAssertEqual(try allreduce(1, op: .sum).0, world.size)
                if round == 100 && world.rank == last { exitNow(status) }
                round += 1
            }
            XCTFail("the job did not end within 60 s of the exit of rank \(last)")
        case "staggered":
            XCTAssertEqual(try allreduce(1, op: .sum).0, world.size)
            if world.rank == last { exitNow(0) }
            usleep(2_000_000)
        default:
            XCTFail("unknown SWIFT_MPI_TEST_EXIT_CASE '\(exitCase)'")
        }
    }

    /// Seconds of the real-time clock.
    private func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Prints the time (for the driver's measurement) and exits.
    private func exitNow(_ status: Int32) -> Never {
        let line = String(format: "EXIT_AT %.6f\n", now())
        line.withCString { _ = write(1, $0, strlen($0)) }
        exit(status)
    }
}
