// Tests of RawVariableCollectives.swift's counts above Int32.max: the unit that
// brings counts and displacements under Int32.max (at any size, without large
// data), and one allgatherv of 2^31 + 16 Int8 elements in total at 2 ranks,
// which needs about 4 GiB on rank 0 and 2 GiB on rank 1, so it runs only when
// SWIFT_MPI_LARGE_TESTS=1 (like LargeCountTests).
import CMPI
@testable import MPI
import MPITestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class LargeVariableCountTests: MPITestCase {
    override func setUp() {
        super.setUp()
        _ = defaultComm  // MPI is initialised: the datatype calls below need it.
    }

    /// What withVariableMessage hands MPI for the given receive counts and displacements.
    private func converted(
        sendCount: Int, counts: [Int], displacements: [Int]
    ) -> (code: Int32, unitBytes: Int, send: Int32, counts: [Int32], displacements: [Int32]) {
        var result: (Int32, Int, Int32, [Int32], [Int32]) = (0, 0, 0, [], [])
        let code = counts.withUnsafeBufferPointer { c in
            displacements.withUnsafeBufferPointer { d in
                withVariableMessage(VariableSide(count: sendCount), VariableSide(counts: c, displacements: d),
                                    of: Int8.mpiDatatype.handle) { type, n, _, _, _, rc, rd in
                    var bytes: Int32 = 0
                    _ = MPI_Type_size(type, &bytes)
                    result = (0, Int(bytes), n, (0..<c.count).map { rc![$0] }, (0..<d.count).map { rd![$0] })
                    return 0
                }
            }
        }
        result.0 = code
        return result
    }

    func testCountsUnderInt32MaxArePassedAsTheyAre() {
        let r = converted(sendCount: 5, counts: [5, 0, 7], displacements: [0, 99, 5])
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(r.unitBytes, 1)
        XCTAssertEqual(r.counts, [5, 0, 7])
        // The empty block's displacement is passed as 0 (nothing is written there).
        XCTAssertEqual(r.displacements, [0, 0, 5])
    }

    func testLargeCountsUseTheirCommonDivisorAsTheUnit() {
        let big = (1 << 31) + 8
        let r = converted(sendCount: big, counts: [big, 8, 0], displacements: [0, big, 1 << 40])
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(r.unitBytes, 8, "a contiguous type of 8 Int8")
        XCTAssertEqual(r.send, Int32(big / 8))
        XCTAssertEqual(r.counts, [Int32(big / 8), 1, 0])
        // The empty block's displacement does not count, and is passed as 0.
        XCTAssertEqual(r.displacements, [0, Int32(big / 8), 0])
    }

    func testLargeCountsWithoutACommonUnitThrowBeforeCommunicating() {
        let big = (1 << 31) + 1
        let r = converted(sendCount: big, counts: [big, 1], displacements: [0, big])
        XCTAssertEqual(r.code, noCountUnit)
        guard let error = assertThrowsError(here, { try checkVariable(r.code, .allgatherv) }) else { return }
        guard case let .invalidArgument(op, argument, _, _) = error else { return XCTFail("\(error)") }
        XCTAssertEqual([op, argument], ["allgatherv", "counts"])
    }

    func testAllgathervOfMoreThanInt32MaxElements() throws {
        guard environment("SWIFT_MPI_LARGE_TESTS") == "1", size == 2 else {
            throw XCTSkip("2^31 + 16 elements at 2 ranks need about 6 GiB; set SWIFT_MPI_LARGE_TESTS=1 and run at 2 ranks")
        }
        let big = (1 << 31) + 8
        let counts = [big, 8]
        let period = 61
        func value(_ r: Int, _ i: Int) -> Int8 { Int8((i + 7 * r) % period) }
        // Written and compared a period-aligned chunk at a time with memcpy and memcmp: an
        // element-by-element loop over 2^31 elements would take minutes in a debug build.
        let chunk = period * (1 << 14)
        let pattern = (0..<chunk).map { value(rank, $0) }
        let mine = ShapedArray<Int8>(shape: [counts[rank]]) { buffer in
            pattern.withUnsafeBufferPointer { p in
                var offset = 0
                while offset < buffer.count {
                    let n = min(chunk, buffer.count - offset)
                    memcpy(buffer.baseAddress! + offset, p.baseAddress!, n)
                    offset += n
                }
            }
        }
        var output = ShapedArray<Int8>(repeating: -1, shape: [big + 8])
        try allgatherv(mine, into: &output, counts: counts)
        let pattern0 = (0..<chunk).map { value(0, $0) }
        let firstBad: Int? = output.withUnsafeBufferPointer { out in
            pattern0.withUnsafeBufferPointer { p in
                var offset = 0
                while offset < big {
                    let n = min(chunk, big - offset)
                    if memcmp(out.baseAddress! + offset, p.baseAddress!, n) != 0 { return offset }
                    offset += n
                }
                return nil
            }
        }
        XCTAssertNil(firstBad, "rank 0's block differs from element \(firstBad ?? -1) \(here)")
        for i in [0, 1 << 30, Int(Int32.max), 1 << 31, big - 1] { XCTAssertEqual(output[flat: i], value(0, i), here) }
        XCTAssertEqual((0..<8).map { output[flat: big + $0] }, (0..<8).map { value(1, $0) }, here)
    }
}
