// Shared helpers of the DifferentiableMPI test suite (the base class,
// MPITestCase, is in the MPITestSupport target, shared with MPITests).
import DifferentiableMPI
import XCTest
import MPITestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

