// Tests of RawVariableCollectives.swift's and VariableExchange.swift's counts
// above Int32.max: the unit that brings counts and displacements under
// Int32.max, the decision to take the alltoallw fallback (with a small limit),
// and the fallback's exchange itself with small blocks (at any size, without
// large data); then, only when SWIFT_MPI_LARGE_TESTS=1 (like LargeCountTests),
// at 2 ranks (or 3): one allgatherv of 2^31 + 16 Int8 elements in total (the
// divisor path, about 4 GiB on rank 0 and 2 GiB on rank 1), and allgatherv,
// gatherv and scatterv of a block of 2^31 + 1 UInt8 elements beside blocks of
// 5 and 7 (the fallback, at most about 6 GiB in all at 2 ranks), and the easy
// alltoallv: a block of 2^31 + 1 UInt8 elements beside small and empty ones
// (the agreed fallback, about 4 GiB in all), and blocks of 2^31 / size + 1
// (more than Int32.max in all, but every rank's own counts fit: the agreed
// MPI_Alltoallv, about 4.3 GiB in all). Where the library has MPI 4.0's
// large-count functions (MPICH 4) the ranks whose counts have no unit call
// MPI_Allgatherv_c and the like instead of the fallback, and the explicit
// alltoallv no longer refuses: one with a block of 2^31 + 1 from rank 0 to
// itself beside small and empty ones (rank 0 calls MPI_Alltoallv_c, the others,
// whose counts fit, MPI_Alltoallv; about 4 GiB); on Open MPI 4.1 rank 0 refuses it. The
// neighbour v forms on a non-periodic 1-D grid of 2 ranks (one real and one null neighbour each):
// neighborAllgatherv of 2^31 + 1 UInt8 elements from rank 0 beside 5 from rank 1 (both ranks call
// MPI_Neighbor_allgatherv_c), and neighborAlltoallv of 2^31 + 8 from rank 0 to rank 1 (rank 0's counts
// have unit 8: the plain call; rank 1's none: MPI_Neighbor_alltoallv_c); about 4 GiB each. On Open
// MPI 4.1 the ranks without a unit refuse them before communicating.
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

    func testLargeValuesWithoutACommonUnitHaveNoUnit() {
        let big = (1 << 31) + 1
        let r = converted(sendCount: big, counts: [big, 1], displacements: [0, big])
        XCTAssertEqual(r.code, noCountUnit)
        guard let error = assertThrowsError(here, { try checkVariable(r.code, .alltoallv, argument: "counts") })
        else { return }
        guard case let .invalidArgument(op, argument, _, _) = error else { return XCTFail("\(error)") }
        XCTAssertEqual([op, argument], ["alltoallv", "counts"])
    }

    /// countsNeedExchange with a limit.
    private func needsExchange(_ counts: [Int], limit: Int = Int(Int32.max)) -> Bool {
        counts.withUnsafeBufferPointer { countsNeedExchange($0, limit: limit) }
    }

    func testTheFallbackIsTakenExactlyWhenNoCommonUnitBringsTheCountsUnderTheLimit() {
        XCTAssertFalse(needsExchange([10, 3, 0], limit: 10), "every count fits")
        XCTAssertTrue(needsExchange([11, 3], limit: 10), "gcd 1 leaves 11")
        XCTAssertFalse(needsExchange([12, 4, 0], limit: 10), "unit 4: 3 and 1")
        XCTAssertTrue(needsExchange([22, 11], limit: 10), "the only unit, 11, is itself above the limit")
        XCTAssertTrue(needsExchange([60, 2], limit: 10), "unit 2 leaves 30")
        XCTAssertFalse(needsExchange([(1 << 31) + 8, 8, 0]))
        XCTAssertTrue(needsExchange([(1 << 31) + 1, 5, 7]))
        XCTAssertFalse(needsExchange([(1 << 31) + 1, 3]), "2^31 + 1 = 3 · 715827883: unit 3")
        XCTAssertTrue(needsExchange([(1 << 31) + 1]), "one block is its own unit, above Int32.max")
        XCTAssertFalse(needsExchange([]))
        // The packed displacements count too (a rank given no displacements packs the blocks).
        XCTAssertTrue(needsExchange([6, 6, 1], limit: 10), "the counts fit, the third block's displacement 12 does not")
        XCTAssertFalse(needsExchange([6, 6, 0], limit: 10), "the last, empty block's displacement 12 is passed as 0")
        XCTAssertFalse(needsExchange([8, 8, 2], limit: 10), "unit 2: counts 4, 4 and 1, displacements 0, 4 and 8")
        XCTAssertTrue(needsExchange([1 << 30, (1 << 30) + 1, 1]), "the third block's displacement is 2^31 + 1")
        XCTAssertFalse(needsExchange([(1 << 30) + 1, (1 << 30) + 1, (1 << 30) + 1]), "unit 2^30 + 1")
    }

    func testAlltoallvTakesTheFallbackExactlyWhenThisRanksOwnCountsAndDisplacementsHaveNoUnit() {
        func needs(_ send: [Int], _ receive: [Int], limit: Int = Int(Int32.max)) -> Bool {
            alltoallvNeedsExchange(sendCounts: send, receiveCounts: receive, limit: limit)
        }
        XCTAssertFalse(needs([3, 4], [2, 2], limit: 10), "every count and packed displacement fits")
        XCTAssertTrue(needs([11, 3], [0, 0], limit: 10), "gcd 1 leaves 11")
        XCTAssertTrue(needs([0, 0], [3, 11], limit: 10), "the receive side alone")
        XCTAssertTrue(needs([6, 6, 1], [1, 1, 1], limit: 10), "the counts fit, the displacement 12 does not")
        XCTAssertFalse(needs([12, 4], [4, 0], limit: 10), "unit 4: counts 3 and 1, displacements 0 and 3")
        XCTAssertFalse(needs([4, 8, 0], [0, 0, 0], limit: 10), "the last, empty block's displacement 12 is passed as 0")
        XCTAssertTrue(needs([(1 << 31) + 1, 5], [5, 0]))
        XCTAssertFalse(needs([(1 << 31) + 8, 8], [8, 0]), "unit 8")
        XCTAssertFalse(needs([1 << 30, 1 << 30], [1 << 30, 1 << 30]), "2^31 in all, but every value fits")
    }

    func testTheExplicitAlltoallvsRefusalNamesTheEasyForm() {
        guard let error = assertThrowsError(here, { try checkVariable(noCountUnit, .alltoallv, argument: "counts") })
        else { return }
        guard case let .invalidArgument(op, argument, expected, _) = error else { return XCTFail("\(error)") }
        XCTAssertEqual([op, argument], ["alltoallv", "counts"])
        XCTAssertTrue(expected.contains("alltoallv(_:rowCounts:)"), expected)
        guard let other = assertThrowsError(here, { try checkVariable(noCountUnit, .allgatherv, argument: "displacements") })
        else { return }
        XCTAssertFalse("\(other)".contains("rowCounts"), "\(other)")
    }

    func testTheLargeCountFunctionsAreThereExactlyWhereTheLibraryIsMPI4() {
        XCTAssertEqual(hasLargeCountCollectives, MPI_VERSION >= 4, "MPI_VERSION \(MPI_VERSION)")
        XCTAssertEqual(hasLargeCountCollectives, MPIRuntime.implementation == .mpich,
                       "MPICH 4.0 has them, Open MPI 4.1 not: \(MPIRuntime.implementation)")
    }

    /// Which of withVariableMessage's calls runs for a send count of 8 and these receive counts and
    /// displacements: "plain", "large", or the code it returns when neither ran.
    private func chosenCall(counts: [Int], displacements: [Int]) -> String {
        var called = [String]()
        let code = counts.withUnsafeBufferPointer { c in
            displacements.withUnsafeBufferPointer { d in
                withVariableMessage(VariableSide(count: 8), VariableSide(counts: c, displacements: d),
                                    of: Int8.mpiDatatype.handle) { _, _, _, _, _, _, _ in
                    called.append("plain")
                    return 0
                } large: {
                    called.append("large")
                    return 0
                }
            }
        }
        return code == 0 ? called.joined(separator: ",") : "\(code)"
    }

    func testValuesWithoutACommonUnitTakeTheLargeCountCallWhereTheLibraryHasIt() {
        let noUnit = hasLargeCountCollectives ? "large" : "\(noCountUnit)"
        XCTAssertEqual(chosenCall(counts: [(1 << 31) + 1, 5], displacements: [0, (1 << 31) + 1]), noUnit)
        XCTAssertEqual(chosenCall(counts: [5, 7], displacements: [0, (1 << 31) + 1]), noUnit,
                       "a displacement alone without a unit")
        XCTAssertEqual(chosenCall(counts: [(1 << 31) + 8, 8], displacements: [0, (1 << 31) + 8]), "plain",
                       "unit 8: the plain call on a contiguous type, on every library")
        XCTAssertEqual(chosenCall(counts: [3, 5], displacements: [0, 3]), "plain")
    }

    func testExchangePlansOfTheRootedCollectives() {
        let counts = [4, 0, 6]
        let displacements = [10, 0, 1]
        var gatherRoot = ExchangePlan(size: 3)
        gatherRoot.sendCounts = [0, 0, 6]
        gatherRoot.receiveCounts = counts
        gatherRoot.receiveOffsets = displacements
        XCTAssertEqual(ExchangePlan.gatherv(count: 6, counts: counts, displacements: displacements, root: 2, rank: 2),
                       gatherRoot)
        var gatherOther = ExchangePlan(size: 3)
        gatherOther.sendCounts = [0, 0, 4]
        XCTAssertEqual(ExchangePlan.gatherv(count: 4, counts: counts, displacements: nil, root: 2, rank: 0), gatherOther)
        var scatterRoot = ExchangePlan(size: 3)
        scatterRoot.sendCounts = counts
        scatterRoot.sendOffsets = displacements
        scatterRoot.receiveCounts = [4, 0, 0]
        XCTAssertEqual(ExchangePlan.scatterv(counts: counts, displacements: displacements, count: 4, root: 0, rank: 0),
                       scatterRoot)
        var scatterOther = ExchangePlan(size: 3)
        scatterOther.receiveCounts = [6, 0, 0]
        XCTAssertEqual(ExchangePlan.scatterv(counts: counts, displacements: nil, count: 6, root: 0, rank: 2),
                       scatterOther)
        var all = ExchangePlan(size: 3)
        all.sendCounts = [0, 0, 0]
        all.receiveCounts = counts
        all.receiveOffsets = displacements
        XCTAssertEqual(ExchangePlan.allgatherv(count: 0, counts: counts, displacements: displacements), all)
    }

    // The fallback's exchange with small blocks, at any size: rank r's block has 2r + 1 elements
    // (none on rank 1), placed in reverse rank order with a gap of 3 elements after each block;
    // the gaps must keep their sentinel.

    private func blockCount(_ r: Int) -> Int { r == 1 ? 0 : 2 * r + 1 }
    private func value(_ r: Int, _ i: Int) -> Double { Double(1000 * r + i) + 0.5 }

    /// Counts, displacements (reverse rank order, gaps of 3) and the extent of the blocks.
    private func layout() -> (counts: [Int], displacements: [Int], extent: Int) {
        let counts = (0..<size).map(blockCount)
        var displacements = [Int](repeating: 0, count: size)
        var next = 3
        for r in (0..<size).reversed() {
            displacements[r] = next
            next += counts[r] + 3
        }
        return (counts, displacements, next)
    }

    /// Runs `plan` on Double elements from `send` into a buffer of `extent` sentinels (-1).
    private func exchange(_ send: [Double], extent: Int, plan: ExchangePlan) -> (Int32, [Double]) {
        var output = [Double](repeating: -1, count: extent)
        let code = send.withUnsafeBytes { s in
            output.withUnsafeMutableBytes { o in
                exchangeAsAlltoallw(s.baseAddress, o.baseAddress, plan: plan, type: Double.mpiDatatype.handle,
                                    comm: world.handle)
            }
        }
        return (code, output)
    }

    /// What the blocks of `ranks` at `displacements` in a buffer of `extent` sentinels look like.
    private func expected(_ ranks: Range<Int>, _ counts: [Int], _ displacements: [Int], extent: Int) -> [Double] {
        var result = [Double](repeating: -1, count: extent)
        for r in ranks { for i in 0..<counts[r] { result[displacements[r] + i] = value(r, i) } }
        return result
    }

    func testTheFallbackExchangeAsAllgatherv() {
        let (counts, displacements, extent) = layout()
        let mine = (0..<counts[rank]).map { value(rank, $0) }
        let (code, output) = exchange(mine, extent: extent, plan: .allgatherv(
            count: counts[rank], counts: counts, displacements: displacements))
        XCTAssertEqual(code, 0, here)
        XCTAssertEqual(output, expected(0..<size, counts, displacements, extent: extent), here)
    }

    func testTheFallbackExchangeAsGatherv() {
        let (counts, displacements, extent) = layout()
        let root = size - 1
        let mine = (0..<counts[rank]).map { value(rank, $0) }
        let (code, output) = exchange(mine, extent: extent, plan: .gatherv(
            count: counts[rank], counts: counts, displacements: rank == root ? displacements : nil, root: root,
            rank: rank))
        XCTAssertEqual(code, 0, here)
        XCTAssertEqual(output, rank == root ? expected(0..<size, counts, displacements, extent: extent)
                       : [Double](repeating: -1, count: extent), here)
    }

    func testTheFallbackExchangeAsAlltoallv() {
        // Rank s sends blockCount(s) + d elements to rank d (none from rank 1 to rank 0), packed;
        // rank d receives them at the layout's displacements (reverse rank order, gaps of 3).
        func count(_ s: Int, _ d: Int) -> Int { s == 1 && d == 0 ? 0 : blockCount(s) + d }
        func value(_ s: Int, _ d: Int, _ i: Int) -> Double { Double(1000 * s + 100 * d + i) + 0.5 }
        let sendCounts = (0..<size).map { count(rank, $0) }
        let receiveCounts = (0..<size).map { count($0, rank) }
        var receiveOffsets = [Int](repeating: 0, count: size)
        var next = 3
        for s in (0..<size).reversed() {
            receiveOffsets[s] = next
            next += receiveCounts[s] + 3
        }
        let mine = (0..<size).flatMap { d in (0..<sendCounts[d]).map { value(rank, d, $0) } }
        let plan = ExchangePlan(sendCounts: sendCounts, sendOffsets: packedOffsets(sendCounts),
                                receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        let (code, output) = exchange(mine, extent: next, plan: plan)
        XCTAssertEqual(code, 0, here)
        var expected = [Double](repeating: -1, count: next)
        for s in 0..<size { for i in 0..<receiveCounts[s] { expected[receiveOffsets[s] + i] = value(s, rank, i) } }
        XCTAssertEqual(output, expected, here)
    }

    func testTheFallbackExchangeAsScatterv() {
        let (counts, displacements, extent) = layout()
        let root = size / 2
        let all = expected(0..<size, counts, displacements, extent: extent)
        let (code, output) = exchange(rank == root ? all : [], extent: counts[rank] + 2, plan: .scatterv(
            counts: counts, displacements: rank == root ? displacements : nil, count: counts[rank], root: root,
            rank: rank))
        XCTAssertEqual(code, 0, here)
        XCTAssertEqual(output, (0..<counts[rank]).map { value(rank, $0) } + [-1, -1], here)
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
        _ = try barrier()  // the time of the call, not of another rank's preparation
        let start = seconds()
        try allgatherv(mine, into: &output, counts: counts)
        report("allgatherv, divisor path (unit 8), blocks \(counts)", seconds() - start)
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

    // MARK: The alltoallw fallback with large blocks

    /// The fallback's large launch: rank 0's block is 2^31 + 1 UInt8 elements, rank r's 2r + 3
    /// (5 and 7: 2^31 + 1 = 3 · 715827883, so no common unit).
    private func largeCounts() throws -> [Int] {
        guard environment("SWIFT_MPI_LARGE_TESTS") == "1", size == 2 || size == 3 else {
            throw XCTSkip("a block of 2^31 + 1 elements needs about 6 GiB at 2 ranks; set SWIFT_MPI_LARGE_TESTS=1 and run at 2 or 3 ranks")
        }
        let counts = (0..<size).map { $0 == 0 ? (1 << 31) + 1 : 2 * $0 + 3 }
        XCTAssertTrue(needsExchange(counts), "the counts \(counts) take the fallback")
        return counts
    }

    private static let period = 251
    private func byte(_ r: Int, _ i: Int) -> UInt8 { UInt8((i + 37 * r) % Self.period) }
    /// A period-aligned chunk of rank r's pattern, for memcpy and memcmp (an element loop over
    /// 2^31 elements would take minutes in a debug build).
    private func pattern(_ r: Int) -> [UInt8] { (0..<(Self.period * (1 << 14))).map { byte(r, $0) } }

    /// Rank r's block of `count` elements.
    private func block(_ r: Int, _ count: Int) -> ShapedArray<UInt8> {
        ShapedArray<UInt8>(shape: [count]) { fill($0, at: 0, rank: r, count: count) }
    }

    /// Writes rank r's block of `count` elements at element `start` of `buffer`.
    private func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int, rank r: Int, count: Int) {
        let chunk = pattern(r)
        chunk.withUnsafeBufferPointer { p in
            var offset = 0
            while offset < count {
                let n = min(chunk.count, count - offset)
                memcpy(buffer.baseAddress! + start + offset, p.baseAddress!, n)
                offset += n
            }
        }
    }

    /// Checks rank r's block of `count` elements at element `at` of `output`: every element
    /// (memcmp a chunk at a time), and sampled ones (first, middle, last) one by one.
    private func checkBlock(_ output: ShapedArray<UInt8>, at start: Int, rank r: Int, count: Int,
                            file: StaticString = #filePath, line: UInt = #line) {
        let chunk = pattern(r)
        let firstBad: Int? = output.withUnsafeBufferPointer { out in
            chunk.withUnsafeBufferPointer { p in
                var offset = 0
                while offset < count {
                    let n = min(chunk.count, count - offset)
                    if memcmp(out.baseAddress! + start + offset, p.baseAddress!, n) != 0 { return offset }
                    offset += n
                }
                return nil
            }
        }
        XCTAssertNil(firstBad, "rank \(r)'s block differs from element \(firstBad ?? -1) \(here)", file: file, line: line)
        for i in Set([0, count / 2, count - 1]) where count > 0 {
            XCTAssertEqual(output[flat: start + i], byte(r, i), "rank \(r)'s element \(i) \(here)", file: file, line: line)
        }
    }

    private func seconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// What a rank whose counts have no unit calls instead of `plain` (MPI_Alltoallv, say).
    private func largeCall(_ plain: String) -> String {
        hasLargeCountCollectives ? "\(plain)_c" : "alltoallw fallback"
    }

    /// Prints a timing line on rank 0 (the issue's measurements).
    private func report(_ what: String, _ time: Double) {
        if rank == 0 { print("timing: \(what) at \(size) ranks on \(MPIRuntime.implementation): \(time) s") }
    }

    func testAllgathervOfABlockWithoutACommonUnit() throws {
        let counts = try largeCounts()
        let mine = block(rank, counts[rank])
        var output = ShapedArray<UInt8>(repeating: 0, shape: [counts.reduce(0, +)])
        _ = try barrier()  // the time of the call, not of another rank's preparation
        let start = seconds()
        try allgatherv(mine, into: &output, counts: counts)
        report("allgatherv, \(largeCall("MPI_Allgatherv")), blocks \(counts)", seconds() - start)
        var offset = 0
        for r in 0..<size {
            checkBlock(output, at: offset, rank: r, count: counts[r])
            offset += counts[r]
        }
    }

    func testGathervOfABlockWithoutACommonUnit() throws {
        let counts = try largeCounts()
        let root = size - 1  // rank 0's large block crosses to another rank
        let mine = block(rank, counts[rank])
        var output = ShapedArray<UInt8>(repeating: 0, shape: [rank == root ? counts.reduce(0, +) : 0])
        _ = try barrier()  // the time of the call, not of another rank's preparation
        let start = seconds()
        try gatherv(mine, into: &output, counts: counts, root: root)
        report("gatherv, \(largeCall("MPI_Gatherv")), blocks \(counts), root \(root)", seconds() - start)
        guard rank == root else { return }
        var offset = 0
        for r in 0..<size {
            checkBlock(output, at: offset, rank: r, count: counts[r])
            offset += counts[r]
        }
    }

    func testScattervOfABlockWithoutACommonUnit() throws {
        let counts = try largeCounts()
        let root = size - 1  // rank 0's large block crosses from another rank
        // The root's input: rank r's block, in rank order.
        var input = ShapedArray<UInt8>(repeating: 0, shape: [0])
        if rank == root {
            input = ShapedArray<UInt8>(repeating: 0, shape: [counts.reduce(0, +)])
            input.withUnsafeMutableBufferPointer { buffer in
                var offset = 0
                for r in 0..<size {
                    let b = block(r, counts[r])
                    b.withUnsafeBufferPointer { _ = memcpy(buffer.baseAddress! + offset, $0.baseAddress!, counts[r]) }
                    offset += counts[r]
                }
            }
        }
        var output = ShapedArray<UInt8>(repeating: 0, shape: [counts[rank]])
        _ = try barrier()  // the time of the call, not of another rank's preparation
        let start = seconds()
        try scatterv(input, into: &output, counts: counts, root: root)
        report("scatterv, \(largeCall("MPI_Scatterv")), blocks \(counts), root \(root)", seconds() - start)
        checkBlock(output, at: 0, rank: rank, count: counts[rank])
    }

    // MARK: The easy alltoallv above Int32.max

    /// Runs the easy alltoallv of UInt8 blocks, rank s sending `count(s, d)` elements to rank d
    /// (block pattern s · size + d), and checks every received block in full. Returns whether any
    /// rank's own counts need the fallback (what the ranks agree on), and checks that the explicit
    /// form refuses on exactly those ranks (before communicating, so the others skip it) where the
    /// library lacks MPI_Alltoallv_c.
    @discardableResult
    private func largeAlltoallv(_ count: (Int, Int) -> Int, _ what: String) throws -> Bool {
        let sendCounts = (0..<size).map { count(rank, $0) }
        let receiveCounts = (0..<size).map { count($0, rank) }
        let allSent = (0..<size).reduce(0) { total, s in total + (0..<size).reduce(0) { $0 + count(s, $1) } }
        XCTAssertGreaterThan(allSent, Int(Int32.max), "the ranks send more than Int32.max elements in all")
        let needs = (0..<size).map { r in
            alltoallvNeedsExchange(sendCounts: (0..<size).map { count(r, $0) }, receiveCounts: (0..<size).map { count($0, r) })
        }
        // Storage written with memcpy and memset: an element loop over 2^31 elements (as
        // ShapedArray(repeating:shape:) runs in a debug build) takes seconds.
        let input = ShapedArray<UInt8>(shape: [sendCounts.reduce(0, +)]) { buffer in
            var offset = 0
            for d in 0..<size {
                fill(buffer, at: offset, rank: rank * size + d, count: sendCounts[d])
                offset += sendCounts[d]
            }
        }
        if needs[rank] && !hasLargeCountCollectives {
            var output = ShapedArray<UInt8>(shape: [receiveCounts.reduce(0, +)]) { if let b = $0.baseAddress { memset(b, 0, $0.count) } }
            let error = assertThrowsError(here, {
                try alltoallv(input, into: &output, sendCounts: sendCounts, receiveCounts: receiveCounts)
            })
            if case let .invalidArgument(_, argument, expected, _)? = error {
                XCTAssertEqual(argument, "counts", here)
                XCTAssertTrue(expected.contains("alltoallv(_:rowCounts:)"), "\(expected) \(here)")
            } else {
                XCTFail("the explicit form: \(String(describing: error)) \(here)")
            }
        }
        _ = try barrier()  // the time of the call, not of another rank's preparation
        let start = seconds()
        let (result, _) = try alltoallv(input, rowCounts: sendCounts)
        let call = !needs.contains(true) ? "MPI_Alltoallv"
            : hasLargeCountCollectives ? "MPI_Alltoallv_c on ranks without a unit" : "alltoallw fallback"
        report("alltoallv (easy form), \(what), \(call)",
               seconds() - start)
        XCTAssertEqual(result.counts, receiveCounts, here)
        XCTAssertEqual(result.data.shape, [receiveCounts.reduce(0, +)], here)
        for s in 0..<size {
            checkBlock(result.data, at: result.offsets[s], rank: s * size + rank, count: receiveCounts[s])
        }
        return needs.contains(true)
    }

    private func largeAlltoallvRanks() throws {
        guard environment("SWIFT_MPI_LARGE_TESTS") == "1", size == 2 || size == 3 else {
            throw XCTSkip("the easy alltoallv's large blocks need about 4.3 GiB; set SWIFT_MPI_LARGE_TESTS=1 and run at 2 or 3 ranks")
        }
    }

    func testEasyAlltoallvOfABlockWithoutACommonUnit() throws {
        try largeAlltoallvRanks()
        // 2^31 + 1 from rank 0 to the last rank, nothing from rank 1 to rank 0, small blocks otherwise.
        let big = (1 << 31) + 1
        let tookFallback = try largeAlltoallv({ s, d in
            s == 0 && d == size - 1 ? big : s == 1 && d == 0 ? 0 : 2 * s + 3 * d + 5
        }, "2^31 + 1 from rank 0 to rank \(size - 1) beside small and empty blocks")
        XCTAssertTrue(tookFallback, "the ranks of the large block have no common unit \(here)")
    }

    func testEasyAlltoallvOfMoreThanInt32MaxElementsInAllWhereEveryRankFits() throws {
        try largeAlltoallvRanks()
        // 2^31 / size + 1 from each rank to the next, 1 to itself, nothing elsewhere (at 3 ranks).
        let share = (1 << 31) / size + 1
        let tookFallback = try largeAlltoallv({ s, d in
            d == (s + 1) % size ? share : s == d ? 1 : 0
        }, "\(share) from each rank to the next")
        XCTAssertFalse(tookFallback, "every rank's counts fit: the agreed call is MPI_Alltoallv \(here)")
    }

    // MARK: The explicit alltoallv with MPI_Alltoallv_c (MPI 4.0 libraries)

    func testExplicitAlltoallvOfABlockWithoutACommonUnitWhereSomeRanksCountsFit() throws {
        try largeAlltoallvRanks()
        // 2^31 + 1 from rank 0 to itself, nothing from rank 1 to rank 0, small blocks otherwise:
        // rank 0's counts have no unit (MPI_Alltoallv_c), every other rank's fit (MPI_Alltoallv).
        let big = (1 << 31) + 1
        let count = { (s: Int, d: Int) in s == 0 && d == 0 ? big : s == 1 && d == 0 ? 0 : 2 * s + 3 * d + 5 }
        let sendCounts = (0..<size).map { count(rank, $0) }
        let receiveCounts = (0..<size).map { count($0, rank) }
        let needs = alltoallvNeedsExchange(sendCounts: sendCounts, receiveCounts: receiveCounts)
        XCTAssertEqual(needs, rank == 0, "only rank 0's counts \(sendCounts), \(receiveCounts) have no unit \(here)")
        XCTAssertTrue(receiveCounts.contains(0) || rank != 0, "rank 0 receives an empty block \(here)")
        let input = ShapedArray<UInt8>(shape: [sendCounts.reduce(0, +)]) { buffer in
            var offset = 0
            for d in 0..<size {
                fill(buffer, at: offset, rank: rank * size + d, count: sendCounts[d])
                offset += sendCounts[d]
            }
        }
        var output = ShapedArray<UInt8>(shape: [receiveCounts.reduce(0, +)]) {
            if let b = $0.baseAddress { memset(b, 0, $0.count) }
        }
        guard hasLargeCountCollectives else {
            // No MPI_Alltoallv_c (Open MPI 4.1): rank 0 refuses before communicating, and the
            // others, whose counts fit, do not call (they would wait for rank 0).
            guard rank == 0 else { return }
            let error = assertThrowsError(here, {
                try alltoallv(input, into: &output, sendCounts: sendCounts, receiveCounts: receiveCounts)
            })
            guard case let .invalidArgument(_, argument, _, _)? = error else {
                return XCTFail("without MPI_Alltoallv_c: \(String(describing: error)) \(here)")
            }
            XCTAssertEqual(argument, "counts", here)
            return
        }
        _ = try barrier()  // the time of the call, not of another rank's preparation
        let start = seconds()
        try alltoallv(input, into: &output, sendCounts: sendCounts, receiveCounts: receiveCounts)
        report("alltoallv (explicit form), 2^31 + 1 from rank 0 to itself beside small and empty blocks, "
               + "MPI_Alltoallv_c on rank 0, MPI_Alltoallv elsewhere", seconds() - start)
        var offset = 0
        for s in 0..<size {
            checkBlock(output, at: offset, rank: s * size + rank, count: receiveCounts[s])
            offset += receiveCounts[s]
        }
    }

    // MARK: The neighbour v forms above Int32.max

    /// The large neighbour cases' grid: 1-D, not periodic, at 2 ranks, so that each rank has one real
    /// neighbour and one null one (rank 0: nil then 1; rank 1: 0 then nil).
    private func largeNeighborGrid() throws -> CartesianCommunicator {
        guard environment("SWIFT_MPI_LARGE_TESTS") == "1", size == 2 else {
            throw XCTSkip("the neighbour v forms' blocks of 2^31 + 1 need about 4 GiB; set SWIFT_MPI_LARGE_TESTS=1 and run at 2 ranks")
        }
        let grid = try XCTUnwrap(try world.cartesian(dimensions: [2], periodic: [false]))
        let (left, right) = try grid.shift(dimension: 0)
        XCTAssertEqual([left, right], rank == 0 ? [nil, 1] : [0, nil], here)
        return grid
    }

    /// The unit that withVariableMessage would use for packed neighbour counts (nil: none, so the
    /// `_c` call where the library has it).
    private func neighborUnit(sendCount: Int? = nil, sendCounts: [Int] = [], receiveCounts: [Int]) -> Int? {
        let (sendOffsets, receiveOffsets) = (packedOffsets(sendCounts), packedOffsets(receiveCounts))
        return sendCounts.withUnsafeBufferPointer { sc in
            sendOffsets.withUnsafeBufferPointer { sd in
                receiveCounts.withUnsafeBufferPointer { rc in
                    receiveOffsets.withUnsafeBufferPointer { rd in
                        countUnit(sendCount.map { VariableSide(count: $0) } ?? VariableSide(counts: sc, displacements: sd),
                                  VariableSide(counts: rc, displacements: rd))
                    }
                }
            }
        }
    }

    /// A receive buffer of `count` elements whose `null` range (a null neighbour's block, which MPI
    /// leaves as it is) holds sentinels (0xEE). The rest is left as the allocator gives it: MPI
    /// writes it, and the checks compare all of it (writing 2 GiB first took 8.6 s here, most of it
    /// page faults).
    private func receiveBuffer(_ count: Int, null: Range<Int>) -> ShapedArray<UInt8> {
        ShapedArray<UInt8>(shape: [count]) { if let b = $0.baseAddress { memset(b + null.lowerBound, 0xEE, null.count) } }
    }

    /// A buffer of `count` elements for a call that must refuse in its checks, before MPI reads or
    /// writes it: allocated, never written (its pages are not touched).
    private func untouched(_ count: Int) -> ShapedArray<UInt8> {
        ShapedArray<UInt8>(shape: [count]) { _ in }
    }

    private func checkSentinels(_ output: ShapedArray<UInt8>, at start: Int, count: Int,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual((0..<count).map { output[flat: start + $0] }, [UInt8](repeating: 0xEE, count: count),
                       "the null neighbour's block \(here)", file: file, line: line)
    }

    func testNeighborAllgathervOfABlockWithoutACommonUnit() throws {
        let grid = try largeNeighborGrid()
        // Rank 0 sends 2^31 + 1 (to rank 1 and past the wall), rank 1 sends 5; each receive
        // count list gives the null neighbour a block of 3 that stays as it was.
        let big = (1 << 31) + 1
        let sendCount = rank == 0 ? big : 5
        let receiveCounts = rank == 0 ? [3, 5] : [big, 3]
        XCTAssertNil(neighborUnit(sendCount: sendCount, receiveCounts: receiveCounts),
                     "no common unit on rank \(rank): \(sendCount), \(receiveCounts) \(here)")
        let total = receiveCounts.reduce(0, +)
        guard hasLargeCountCollectives else {
            // No MPI_Neighbor_allgatherv_c (Open MPI 4.1): both ranks refuse before communicating,
            // rank 0 its x (its receive counts fit), rank 1 its receive counts.
            var output = untouched(total)
            let error = assertThrowsError(here, {
                try neighborAllgatherv(untouched(sendCount), receiveCounts: receiveCounts, into: &output,
                                       comm: grid.communicator)
            })
            switch (rank, error) {
            case (0, .shapeMismatch("neighborAllgatherv", "x", let expected, _)?),
                 (1, .invalidArgument("neighborAllgatherv", "receiveCounts", let expected, _)?):
                XCTAssertTrue(expected.contains("MPI_Neighbor_allgatherv_c"), "\(expected) \(here)")
            default:
                XCTFail("without MPI_Neighbor_allgatherv_c: \(String(describing: error)) \(here)")
            }
            XCTAssertEqual(try allreduce(1, op: .sum, comm: grid.communicator).0, size, "nothing was sent \(here)")
            return
        }
        let mine = block(rank, sendCount)
        var output = receiveBuffer(total, null: rank == 0 ? 0..<3 : big..<(big + 3))
        _ = try barrier()  // the time of the call, not of another rank's preparation
        let start = seconds()
        try neighborAllgatherv(mine, receiveCounts: receiveCounts, into: &output, comm: grid.communicator)
        report("neighborAllgatherv, MPI_Neighbor_allgatherv_c on both ranks, 2^31 + 1 from rank 0 to rank 1, "
               + "5 back", seconds() - start)
        if rank == 0 {
            checkSentinels(output, at: 0, count: 3)
            checkBlock(output, at: 3, rank: 1, count: 5)
        } else {
            checkBlock(output, at: 0, rank: 0, count: big)
            checkSentinels(output, at: big, count: 3)
        }
    }

    func testNeighborAlltoallvOfABlockWithoutACommonUnitOnOneRank() throws {
        let grid = try largeNeighborGrid()
        // Rank 0 sends 2^31 + 8 to rank 1 and 8 past the wall, and receives 8 from each side: unit 8,
        // the plain MPI_Neighbor_alltoallv on a contiguous type of 8 bytes. Rank 1 receives those
        // 2^31 + 8 beside a null neighbour's 5 and sends 8 to rank 0 and 3 past the wall: no
        // common unit, MPI_Neighbor_alltoallv_c. The same collective on the wire.
        let big = (1 << 31) + 8
        let sendCounts = rank == 0 ? [8, big] : [8, 3]
        let receiveCounts = rank == 0 ? [8, 8] : [big, 5]
        let unit = neighborUnit(sendCounts: sendCounts, receiveCounts: receiveCounts)
        XCTAssertEqual(unit, rank == 0 ? 8 : nil, "rank \(rank): \(sendCounts), \(receiveCounts) \(here)")
        let total = receiveCounts.reduce(0, +)
        guard hasLargeCountCollectives else {
            // No MPI_Neighbor_alltoallv_c (Open MPI 4.1): rank 1 refuses before communicating, and
            // rank 0, whose counts have a unit, does not call (it would wait for rank 1).
            if rank == 1 {
                var output = untouched(total)
                let error = assertThrowsError(here, {
                    try neighborAlltoallv(untouched(sendCounts.reduce(0, +)), sendCounts: sendCounts,
                                          receiveCounts: receiveCounts, into: &output, comm: grid.communicator)
                })
                guard case let .invalidArgument("neighborAlltoallv", "receiveCounts", expected, _)? = error else {
                    return XCTFail("without MPI_Neighbor_alltoallv_c: \(String(describing: error)) \(here)")
                }
                XCTAssertTrue(expected.contains("MPI_Neighbor_alltoallv_c"), "\(expected) \(here)")
            }
            XCTAssertEqual(try allreduce(1, op: .sum, comm: grid.communicator).0, size, "nothing was sent \(here)")
            return
        }
        // Block i of rank s's x has pattern 2s + i.
        let input = ShapedArray<UInt8>(shape: [sendCounts.reduce(0, +)]) { buffer in
            fill(buffer, at: 0, rank: 2 * rank, count: sendCounts[0])
            fill(buffer, at: sendCounts[0], rank: 2 * rank + 1, count: sendCounts[1])
        }
        var output = receiveBuffer(total, null: rank == 0 ? 0..<8 : big..<(big + 5))
        _ = try barrier()  // the time of the call, not of another rank's preparation
        let start = seconds()
        try neighborAlltoallv(input, sendCounts: sendCounts, receiveCounts: receiveCounts, into: &output,
                              comm: grid.communicator)
        report("neighborAlltoallv, 2^31 + 8 from rank 0 (MPI_Neighbor_alltoallv, unit 8) to rank 1 "
               + "(MPI_Neighbor_alltoallv_c), 8 back", seconds() - start)
        if rank == 0 {
            checkSentinels(output, at: 0, count: 8)
            checkBlock(output, at: 8, rank: 2 * 1 + 0, count: 8)  // rank 1's block 0 (toward −1)
        } else {
            checkBlock(output, at: 0, rank: 2 * 0 + 1, count: big)  // rank 0's block 1 (toward +1)
            checkSentinels(output, at: big, count: 5)
        }
    }
}
