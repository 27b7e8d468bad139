// Tests of withVariableMessage's fast path (RawVariableCollectives.swift): counts
// and displacements that fit in an Int32 are converted in one checked pass, both
// sides laid out apart; a value that does not fit sends the whole call to the
// large-count path. No communication: what MPI would be handed is captured.
import CMPI
@testable import MPI
import MPITestSupport
import XCTest

final class VariableCountConversionTests: MPITestCase {
    override func setUp() {
        super.setUp()
        _ = defaultComm  // MPI is initialised: the datatype calls of the large-count path need it.
    }

    /// What withVariableMessage hands MPI: the unit's size in bytes, each side's single count, and each
    /// side's counts and displacements (`nil` where MPI gets none).
    private struct Converted: Equatable {
        var unitBytes = 0
        var sendCount: Int32 = 0
        var sendCounts: [Int32]?
        var sendDisplacements: [Int32]?
        var receiveCount: Int32 = 0
        var receiveCounts: [Int32]?
        var receiveDisplacements: [Int32]?
    }

    private func converted(_ send: VariableSide, _ receive: VariableSide) -> (code: Int32, converted: Converted) {
        var result = Converted()
        let code = withVariableMessage(send, receive, of: Int8.mpiDatatype.handle) { type, sn, sc, sd, rn, rc, rd in
            var bytes: Int32 = 0
            _ = MPI_Type_size(type, &bytes)
            result.unitBytes = Int(bytes)
            result.sendCount = sn
            result.receiveCount = rn
            let (sendRanks, receiveRanks) = (send.counts?.count ?? 0, receive.counts?.count ?? 0)
            result.sendCounts = sc.map { p in (0..<sendRanks).map { p[$0] } }
            result.sendDisplacements = sd.map { p in (0..<sendRanks).map { p[$0] } }
            result.receiveCounts = rc.map { p in (0..<receiveRanks).map { p[$0] } }
            result.receiveDisplacements = rd.map { p in (0..<receiveRanks).map { p[$0] } }
            return 0
        }
        return (code, result)
    }

    func testBothSidesWithPerRankCountsAreConvertedApart() {
        let (sc, sd, rc, rd) = ([1, 2, 3], [0, 1, 3], [4, 0, 6], [0, 77, 4])
        let r = sc.withUnsafeBufferPointer { sc in
            sd.withUnsafeBufferPointer { sd in
                rc.withUnsafeBufferPointer { rc in
                    rd.withUnsafeBufferPointer { rd in
                        converted(VariableSide(counts: sc, displacements: sd), VariableSide(counts: rc, displacements: rd))
                    }
                }
            }
        }
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(r.converted, Converted(
            unitBytes: 1, sendCount: 0, sendCounts: [1, 2, 3], sendDisplacements: [0, 1, 3],
            receiveCount: 0, receiveCounts: [4, 0, 6], receiveDisplacements: [0, 0, 4]))
    }

    func testSingleCountsAndASideWithoutDisplacements() {
        let counts = [3, 5]
        let r = counts.withUnsafeBufferPointer { c in
            converted(VariableSide(counts: c, displacements: nil), VariableSide(count: 9))
        }
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(r.converted, Converted(unitBytes: 1, sendCount: 0, sendCounts: [3, 5], receiveCount: 9))
    }

    func testALargeDisplacementOfAnEmptyBlockStaysOnTheFastPath() {
        // The empty block's displacement is passed as 0, so nothing exceeds Int32.max.
        let (counts, displacements) = ([2, 0], [0, 1 << 40])
        let r = counts.withUnsafeBufferPointer { c in
            displacements.withUnsafeBufferPointer { d in
                converted(VariableSide(count: 2), VariableSide(counts: c, displacements: d))
            }
        }
        XCTAssertEqual(r.code, 0)
        XCTAssertEqual(r.converted, Converted(unitBytes: 1, sendCount: 2, receiveCount: 0, receiveCounts: [2, 0],
                                              receiveDisplacements: [0, 0]))
    }

    /// Checks that a converted message, scaled back by its unit, is the message that was asked for.
    private func assertDescribes(
        _ r: (code: Int32, converted: Converted), sendCount: Int, sendCounts: [Int]?, receiveCount: Int,
        receiveCounts: [Int]?, receiveDisplacements: [Int]?, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(r.code, 0, file: file, line: line)
        let k = r.converted.unitBytes
        XCTAssertGreaterThan(k, 1, "a unit above one element: the large-count path", file: file, line: line)
        XCTAssertEqual(Int(r.converted.sendCount) * k, sendCount, file: file, line: line)
        XCTAssertEqual(r.converted.sendCounts?.map { Int($0) * k }, sendCounts, file: file, line: line)
        XCTAssertEqual(Int(r.converted.receiveCount) * k, receiveCount, file: file, line: line)
        XCTAssertEqual(r.converted.receiveCounts?.map { Int($0) * k }, receiveCounts, file: file, line: line)
        XCTAssertEqual(r.converted.receiveDisplacements?.map { Int($0) * k }, receiveDisplacements,
                       file: file, line: line)
    }

    func testALargeDisplacementAloneTakesTheLargeCountPath() {
        // Only the displacement of a non-empty block is above Int32.max: the whole message,
        // its counts included, is described in a larger unit.
        let big = 1 << 33
        let (counts, displacements) = ([8, 16], [0, big])
        let r = counts.withUnsafeBufferPointer { c in
            displacements.withUnsafeBufferPointer { d in
                converted(VariableSide(count: 8), VariableSide(counts: c, displacements: d))
            }
        }
        assertDescribes(r, sendCount: 8, sendCounts: nil, receiveCount: 0, receiveCounts: counts,
                        receiveDisplacements: displacements)
    }

    func testALargeCountOfAPerRankSideTakesTheLargeCountPath() {
        let big = (1 << 31) + 8
        let counts = [big, 8]
        let r = counts.withUnsafeBufferPointer { c in
            converted(VariableSide(counts: c, displacements: nil), VariableSide(count: big))
        }
        assertDescribes(r, sendCount: 0, sendCounts: counts, receiveCount: big, receiveCounts: nil,
                        receiveDisplacements: nil)
    }
}
