// Shared helpers of the MPI test suite.
//
// Every test class is run as its own MPI program by Scripts/test, at 1 to 4
// ranks (the MPI.jl way). So every expectation here is computed from the rank
// and the size (the mpi4py way), and every rank calls the same collectives in
// the same order: no test returns early on some ranks only, and assertions
// never stop a test on one rank (XCTest's continueAfterFailure stays true).
import ComplexModule
import MPI
import XCTest
import MPITestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The base class, MPITestCase, and the launch checks are in the MPITestSupport target.

// MARK: - Error assertions

/// Asserts that `body` throws exactly `expected`.
func assertThrows<R>(
    _ expected: MPIError, _ context: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> R
) {
    do {
        _ = try body()
        XCTFail("expected \(expected), but nothing was thrown \(rankLabel()) \(context())", file: file, line: line)
    } catch let error as MPIError {
        XCTAssertEqual(error, expected, "\(rankLabel()) \(context())", file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got a non-MPI error \(error) \(rankLabel()) \(context())", file: file, line: line)
    }
}

/// Asserts that `body` throws an `MPIError`, and returns it for closer checks.
@discardableResult
func assertThrowsError<R>(
    _ context: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> R
) -> MPIError? {
    do {
        _ = try body()
        XCTFail("expected an MPIError, but nothing was thrown \(rankLabel()) \(context())", file: file, line: line)
    } catch let error as MPIError {
        return error
    } catch {
        XCTFail("expected an MPIError, got \(error) \(rankLabel()) \(context())", file: file, line: line)
    }
    return nil
}

/// Asserts that `body` throws ``MPIError/peerFailed(operation:rank:reason:)`` for `operation`, naming `rank`.
func assertPeerFailed<R>(
    operation: String, rank failedRank: Int, _ context: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> R
) {
    guard let error = assertThrowsError(context(), file: file, line: line, body) else { return }
    guard case let .peerFailed(op, r, reason) = error else {
        XCTFail("expected peerFailed, got \(error) \(rankLabel()) \(context())", file: file, line: line)
        return
    }
    XCTAssertEqual(op, operation, "\(rankLabel()) \(context())", file: file, line: line)
    XCTAssertEqual(r, failedRank, "\(rankLabel()) \(context())", file: file, line: line)
    XCTAssertFalse(reason.isEmpty, file: file, line: line)
    assertMessageNames(error, [operation, "rank \(failedRank)"], file: file, line: line)
}

/// Asserts that `body` throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for
/// `operation` and `argument`, whose expected and actual texts contain the given pieces, and whose
/// message names all of them.
func assertShapeMismatch<R>(
    operation: String, argument: String, expectedContains: [String], actualContains: [String],
    _ context: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> R
) {
    let error = assertThrowsError(context(), file: file, line: line, body)
    guard let error else { return }
    guard case let .shapeMismatch(op, arg, expected, actual) = error else {
        XCTFail("expected shapeMismatch, got \(error) \(rankLabel()) \(context())", file: file, line: line)
        return
    }
    XCTAssertEqual(op, operation, "\(rankLabel()) \(context())", file: file, line: line)
    XCTAssertEqual(arg, argument, "\(rankLabel()) \(context())", file: file, line: line)
    for piece in expectedContains {
        XCTAssertTrue(expected.contains(piece), "expected text '\(expected)' lacks '\(piece)' \(rankLabel()) \(context())",
                      file: file, line: line)
    }
    for piece in actualContains {
        XCTAssertTrue(actual.contains(piece), "actual text '\(actual)' lacks '\(piece)' \(rankLabel()) \(context())",
                      file: file, line: line)
    }
    assertMessageNames(error, [operation, argument] + expectedContains + actualContains, file: file, line: line)
}

/// Asserts that the error's message contains every piece.
/// (That messages are one line is checked once, in MPIErrorTests.)
func assertMessageNames(_ error: MPIError, _ pieces: [String], file: StaticString = #filePath, line: UInt = #line) {
    let message = error.description
    for piece in pieces {
        XCTAssertTrue(message.contains(piece), "the message '\(message)' does not name '\(piece)'", file: file, line: line)
    }
}

func rankLabel() -> String {
    guard MPIRuntime.isInitialized, !MPIRuntime.isFinalized else { return "" }
    return "[rank \(Communicator.world.rank) of \(Communicator.world.size)]"
}

// MARK: - Scalar types under test

/// A scalar type of the suite, with distinct test values and reference reductions.
protocol TestScalar: MPIScalar {
    /// A value determined by `i`, distinct for distinct `i` in 0..<128 (Bool: by parity).
    static func make(_ i: Int) -> Self
    /// The value that `rank` contributes at `index` to a reduction with `op`: small
    /// enough that every defined reduction over 4 ranks is exact and does not overflow.
    static func reductionValue(_ op: ReductionOp, rank: Int, index: Int) -> Self
    /// What `op` computes for two values, or `nil` where the op is not defined for the type.
    static func reference(_ op: ReductionOp) -> ((Self, Self) -> Self)?
}

extension TestScalar where Self: FixedWidthInteger {
    static func make(_ i: Int) -> Self { Self(truncatingIfNeeded: i) }

    static func reductionValue(_ op: ReductionOp, rank: Int, index: Int) -> Self {
        let sign = Self.isSigned && index % 2 == 1 ? -1 : 1
        switch op {
        case .product:
            return Self(truncatingIfNeeded: sign * ((rank + index) % 3 + 1))
        case .logicalAnd, .logicalOr, .logicalXor:
            return (rank + index) % 3 == 0 ? 0 : Self(truncatingIfNeeded: sign * (rank + index + 1))
        case .bitwiseAnd, .bitwiseOr, .bitwiseXor:
            return Self(truncatingIfNeeded: (rank * 37 + index * 11 + 5) &* 0x5851_F42D_4C95_7F2D)
        case .min, .max where !Self.isSigned && (rank + index) % 2 == 1:
            // Unsigned values above the signed range too, on every other rank: a library that
            // compares them as signed (MPICH 4.0.x) gets min and max the wrong way round.
            return Self.max - Self(truncatingIfNeeded: (rank * 5 + index) % 23)
        default:
            let v = (rank * 5 + index) % 23
            return Self(truncatingIfNeeded: Self.isSigned ? v - 11 : v)
        }
    }

    static func reference(_ op: ReductionOp) -> ((Self, Self) -> Self)? {
        switch op {
        case .sum: return { $0 &+ $1 }
        case .product: return { $0 &* $1 }
        case .min: return { Swift.min($0, $1) }
        case .max: return { Swift.max($0, $1) }
        case .logicalAnd: return { ($0 != 0 && $1 != 0) ? 1 : 0 }
        case .logicalOr: return { ($0 != 0 || $1 != 0) ? 1 : 0 }
        case .logicalXor: return { (($0 != 0) != ($1 != 0)) ? 1 : 0 }
        case .bitwiseAnd: return { $0 & $1 }
        case .bitwiseOr: return { $0 | $1 }
        case .bitwiseXor: return { $0 ^ $1 }
        default: return nil
        }
    }
}

extension TestScalar where Self: BinaryFloatingPoint {
    static func make(_ i: Int) -> Self { Self(i) }

    static func reductionValue(_ op: ReductionOp, rank: Int, index: Int) -> Self {
        switch op {
        case .product:
            return Self(index % 2 == 1 ? -1 : 1) * Self((rank + index) % 3 + 1)
        case .min, .max:
            return Self((rank * 5 + index) % 23 - 11) + 0.25
        default:
            return Self((rank * 5 + index) % 23 - 11) + 0.5
        }
    }

    static func reference(_ op: ReductionOp) -> ((Self, Self) -> Self)? {
        switch op {
        case .sum: return { $0 + $1 }
        case .product: return { $0 * $1 }
        case .min: return { Swift.min($0, $1) }
        case .max: return { Swift.max($0, $1) }
        default: return nil
        }
    }
}

extension Double: TestScalar {}
extension Float: TestScalar {}
extension Float16: TestScalar {}
extension Int8: TestScalar {}
extension Int16: TestScalar {}
extension Int32: TestScalar {}
extension Int64: TestScalar {}
extension Int: TestScalar {}
extension UInt8: TestScalar {}
extension UInt16: TestScalar {}
extension UInt32: TestScalar {}
extension UInt64: TestScalar {}
extension UInt: TestScalar {}

extension Bool: TestScalar {
    static func make(_ i: Int) -> Bool { i % 2 == 1 }

    static func reductionValue(_ op: ReductionOp, rank: Int, index: Int) -> Bool {
        switch index {
        case 0: return true
        case 1: return false
        case 2: return rank % 2 == 0
        default: return (rank + index) % 3 != 0
        }
    }

    static func reference(_ op: ReductionOp) -> ((Bool, Bool) -> Bool)? {
        switch op {
        case .logicalAnd: return { $0 && $1 }
        case .logicalOr: return { $0 || $1 }
        case .logicalXor: return { $0 != $1 }
        default: return nil
        }
    }
}

extension Complex: TestScalar where RealType: MPIComplexComponent {
    static func make(_ i: Int) -> Complex { Complex(RealType(i), RealType(-2 * i)) }

    static func reductionValue(_ op: ReductionOp, rank: Int, index: Int) -> Complex {
        switch op {
        case .product: return Complex(RealType((rank + index) % 2 + 1), RealType(index % 3 - 1))
        default: return Complex(RealType(rank * 3 + index), RealType(index - rank))
        }
    }

    static func reference(_ op: ReductionOp) -> ((Complex, Complex) -> Complex)? {
        switch op {
        case .sum: return { $0 + $1 }
        case .product: return { $0 * $1 }
        default: return nil
        }
    }
}

/// Every scalar type the package supports.
var allScalarTypes: [any TestScalar.Type] {
    [
        Double.self, Float.self, Float16.self,
        Int8.self, Int16.self, Int32.self, Int64.self, Int.self,
        UInt8.self, UInt16.self, UInt32.self, UInt64.self, UInt.self,
        Bool.self, Complex<Float>.self, Complex<Double>.self,
    ]
}

/// A few types, one of each kind, for tests that do not need every type.
var representativeScalarTypes: [any TestScalar.Type] {
    [Double.self, Float16.self, Int8.self, UInt64.self, Bool.self, Complex<Float>.self]
}

/// The shapes of the data-movement tests: 0-d, 1-d, 3-d and empty.
let testShapes: [[Int]] = [[], [5], [2, 3, 2], [0], [3, 0]]

// MARK: - Test data

func shapeCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

/// The test array that `rank` owns: element j is `make(1 + rank * 31 + j)`, distinct over ranks and elements.
func pattern<T: TestScalar>(_ shape: [Int], rank: Int, as type: T.Type = T.self) -> ShapedArray<T> {
    ShapedArray(shape: shape, scalars: (0..<shapeCount(shape)).map { T.make(1 + rank * 31 + $0) })
}

/// A template of the given shape whose data differs from every pattern (it must never be read).
func junk<T: TestScalar>(_ shape: [Int], as type: T.Type = T.self) -> ShapedArray<T> {
    ShapedArray(repeating: T.make(127), shape: shape)
}

/// A copy with storage of its own, to check later that an input was not written through.
func deepCopy<T>(_ array: ShapedArray<T>) -> ShapedArray<T> {
    ShapedArray(shape: array.shape.map { $0 }, scalars: array.scalars.map { $0 })
}

/// The address of an array's storage (to check that no copy was made).
func storageAddress<T>(_ array: ShapedArray<T>) -> UnsafeRawPointer? {
    array.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
}

/// The bytes of a value sequence, to compare floating-point data bit for bit (NaN, -0.0).
func bytes<T>(of values: [T]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

/// Whether send-then-receive tests can run on a communicator of this size.
///
/// A rank that sends to itself before it receives needs MPI to buffer the
/// message, which MPI does not promise: MPICH blocks for ever in a communicator
/// of one rank. So the tests of send and recv around a ring run only where the
/// ring has two ranks or more; sendrecv, which is safe with itself, runs everywhere.
func canSendAroundARing(of size: Int) -> Bool { size > 1 }

/// Sends this rank a message of `tag` on `comm` and checks that a plain receive gets it, that
/// is, that no receive left active (by a failed persistent plan, say) takes it first. The send
/// is non-blocking: MPICH does not buffer a blocking send to itself in a communicator of one rank.
func assertAMessageToSelfReachesAPlainReceive(
    tag: Int, comm: Communicator, file: StaticString = #filePath, line: UInt = #line
) throws {
    let me = comm.rank
    let send = try isend([Double(me) + 0.5], dest: me, tag: tag, comm: comm)
    var found: Status?
    for _ in 0..<100_000 where found == nil { found = try iprobe(Double.self, source: me, tag: tag, comm: comm) }
    XCTAssertNotNil(found, "an active receive took the message of tag \(tag) \(rankLabel())", file: file, line: line)
    if found != nil {
        XCTAssertEqual(try recv(0.0, source: me, tag: tag, comm: comm).0, Double(me) + 0.5, file: file, line: line)
    }
    try send.wait()
}

/// The neighbours on a ring of `size` ranks.
func ringNeighbours(rank: Int, size: Int) -> (left: Int, right: Int) {
    ((rank + size - 1) % size, (rank + 1) % size)
}

/// `op` folded over `values` in rank order.
func fold<T>(_ values: [T], _ combine: (T, T) -> T) -> T {
    values.dropFirst().reduce(values[0], combine)
}

/// "1 element" or "n elements", as the package's error messages say it.
func elements(_ n: Int) -> String { n == 1 ? "1 element" : "\(n) elements" }
