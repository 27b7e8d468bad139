// The base class and launch checks shared by the test targets (MPITests,
// DifferentiableMPITests): every test class is run as its own MPI program by
// Scripts/test at 1 to 4 ranks; every expectation is computed from the rank
// and the size, and every rank calls the same collectives in the same order.
import MPI
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The base of the test classes that communicate.
///
/// `setUp` checks that the process runs where the driver says it does: the
/// world size given by `SWIFT_MPI_TEST_EXPECTED_SIZE`, and the MPI library given
/// by `SWIFT_MPI_TEST_IMPLEMENTATION`. Without that check, a binary started by
/// the wrong launcher would run as N singletons of size 1 and pass trivially.
open class MPITestCase: XCTestCase {
    public var world: Communicator { Communicator.world }
    public var rank: Int { Communicator.world.rank }
    public var size: Int { Communicator.world.size }

    /// The default communicator (`comm: nil`), which every rank can reach.
    public var defaultComm: Communicator {
        do { return try Communicator.default } catch { fatalError("Communicator.default threw \(error)") }
    }

    override open func setUp() {
        super.setUp()
        continueAfterFailure = true
        checkLaunchEnvironment()
    }

    /// A label for failure messages: which rank of how many saw the failure.
    public var here: String { "[rank \(rank) of \(size)]" }
}

/// Checks the world size and MPI library against what the driver expects.
public func checkLaunchEnvironment(file: StaticString = #filePath, line: UInt = #line) {
    if let expected = environment("SWIFT_MPI_TEST_EXPECTED_SIZE").flatMap(Int.init) {
        XCTAssertEqual(Communicator.world.size, expected,
                       "the world size is not the launch size: was the binary started by the right mpirun?",
                       file: file, line: line)
    }
    if let expected = environment("SWIFT_MPI_TEST_IMPLEMENTATION") {
        let actual: String
        switch MPIRuntime.implementation {
        case .openMPI: actual = "openmpi"
        case .mpich: actual = "mpich"
        case .other: actual = "other"
        }
        XCTAssertEqual(actual, expected.lowercased(), "the binary was built against another MPI library",
                       file: file, line: line)
    }
}

/// The value of an environment variable of the test launch, or `nil`.
public func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
