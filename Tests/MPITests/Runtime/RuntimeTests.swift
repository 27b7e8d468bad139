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

    func testDefaultThreadLevelIsSerialized() throws {
        // The documented default of implicit initialisation (SWIFT_MPI_THREAD_LEVEL unset).
        guard environment("SWIFT_MPI_THREAD_LEVEL") == nil else {
            throw XCTSkip("SWIFT_MPI_THREAD_LEVEL is set in this environment")
        }
        XCTAssertEqual(MPIRuntime.threadLevel, .serialized, here)
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
        guard !MPIRuntime.isInitialized else {
            throw XCTSkip("MPI was initialised before this test; run this class as its own process (Scripts/test does)")
        }
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

/// `SWIFT_MPI_THREAD_LEVEL` overrides the level that implicit initialisation requests.
final class ThreadLevelEnvironmentTests: XCTestCase {
    func testEnvironmentVariableChoosesTheThreadLevel() throws {
        guard !MPIRuntime.isInitialized else {
            throw XCTSkip("MPI was initialised before this test; run this class as its own process (Scripts/test does)")
        }
        setenv("SWIFT_MPI_THREAD_LEVEL", "funneled", 1)
        defer { unsetenv("SWIFT_MPI_THREAD_LEVEL") }
        XCTAssertEqual(MPIRuntime.threadLevel, .funneled)  // initialises MPI implicitly
        checkLaunchEnvironment()
        var provided: Int32 = -1
        XCTAssertEqual(MPI_Query_thread(&provided), 0)
        XCTAssertEqual(Int(provided), ThreadLevel.funneled.rawValue)
        let (sum, _) = try allreduce(1, op: .sum)
        XCTAssertEqual(sum, Communicator.world.size)
    }
}
