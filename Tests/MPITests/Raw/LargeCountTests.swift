// Tests of LargeCount.swift: a message of more than Int32.max elements arrives whole.
//
// One case of 2^31 + 8 Int8 elements through bcast, sendrecv and allreduce, and
// the refusal of a non-blocking reduction of that size under the cross-rank check. It
// needs about 4 GiB per rank (an input and an output of 2 GiB), so it runs only
// when SWIFT_MPI_LARGE_TESTS=1; Scripts/test runs it once, at 2 ranks.
//
// The data is periodic with a prime period (61), which no block size of the
// library's splitting (powers of two) is a multiple of, so a block that is
// lost, repeated or shifted shows. Results are compared in full, a block of
// about 1 MiB at a time with memcmp, besides spot checks of single elements:
// an element-by-element Swift loop over 2^31 elements would take minutes in a
// debug build.
import MPI
import MPITestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class LargeCountTests: MPITestCase {
    private static let count = (1 << 31) + 8
    private static let period = 61
    /// A multiple of the period, about 1 MiB.
    private static let blockLength = period * (1 << 14)

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard environment("SWIFT_MPI_LARGE_TESTS") == "1" else {
            throw XCTSkip("the 2^31 + 8 element case needs about 4 GiB per rank; set SWIFT_MPI_LARGE_TESTS=1 to run it")
        }
    }

    /// Element i of the data with the given offset: `(i + offset) mod 61`.
    private static func value(_ i: Int, offset: Int) -> Int8 { Int8((i + offset) % period) }

    /// One block of the periodic data; every block of the full array starts at a multiple of the period.
    private static func block(offset: Int, _ transform: (Int8) -> Int8 = { $0 }) -> [Int8] {
        (0..<blockLength).map { transform(value($0, offset: offset)) }
    }

    /// The full array, written block by block with memcpy.
    private static func makeData(offset: Int) -> ShapedArray<Int8> {
        let pattern = block(offset: offset)
        return ShapedArray(shape: [count]) { buffer in
            guard let base = buffer.baseAddress else { return }
            pattern.withUnsafeBufferPointer { source in
                var done = 0
                while done < count {
                    let n = min(blockLength, count - done)
                    memcpy(base + done, source.baseAddress!, n)
                    done += n
                }
            }
        }
    }

    /// Whether every block of `array` equals `expectedBlock`; reports the first block that differs.
    private func matches(_ array: ShapedArray<Int8>, _ expectedBlock: [Int8], _ what: String,
                         file: StaticString = #filePath, line: UInt = #line) -> Bool {
        guard array.scalarCount == Self.count else {
            XCTFail("\(what): \(array.scalarCount) elements, expected \(Self.count) \(here)", file: file, line: line)
            return false
        }
        let firstBad: Int? = array.withUnsafeBufferPointer { buffer in
            expectedBlock.withUnsafeBufferPointer { block in
                var offset = 0
                while offset < Self.count {
                    let n = min(Self.blockLength, Self.count - offset)
                    if memcmp(buffer.baseAddress! + offset, block.baseAddress!, n) != 0 { return offset }
                    offset += n
                }
                return nil
            }
        }
        if let firstBad {
            XCTFail("\(what): the block at element \(firstBad) differs \(here)", file: file, line: line)
            return false
        }
        return true
    }

    /// Spot checks of single elements: the ends, the 2^30 and 2^31 boundaries, and the last 8.
    private func spotCheck(_ array: ShapedArray<Int8>, _ expected: (Int) -> Int8, _ what: String) {
        guard array.scalarCount == Self.count else { return }
        let n = Self.count
        for i in [0, 1, 60, 61, (1 << 30) - 1, 1 << 30, (1 << 30) + 1, Int(Int32.max) - 1, Int(Int32.max), 1 << 31,
                  n - 8, n - 2, n - 1] {
            XCTAssertEqual(array[flat: i], expected(i), "\(what): element \(i) \(here)")
        }
    }

    func testMoreThanInt32MaxElements() throws {
        let n = Self.count
        let (left, right) = ringNeighbours(rank: rank, size: size)
        // Each rank's data: offset 7 r.
        let mine = Self.makeData(offset: 7 * rank)
        XCTAssertEqual(mine.shape, [n])

        // bcast from rank 0: the others' input is only a template.
        do {
            let (result, _) = try bcast(mine, root: 0)
            XCTAssertEqual(result.shape, [n])
            spotCheck(result, { Self.value($0, offset: 0) }, "bcast")
            XCTAssertTrue(matches(result, Self.block(offset: 0), "bcast"))
        }

        // sendrecv around the ring, with the status's count.
        do {
            let status = Status()
            let (result, _) = try sendrecv(mine, mine, source: left, dest: right, status: status)
            XCTAssertEqual(status.count, n, "Status.count \(here)")
            XCTAssertEqual(status.source, left)
            spotCheck(result, { Self.value($0, offset: 7 * left) }, "sendrecv")
            XCTAssertTrue(matches(result, Self.block(offset: 7 * left), "sendrecv"))
        }

        // allreduce (sum): element i is the sum over ranks of (i + 7 r) mod 61.
        do {
            let (result, _) = try allreduce(mine, op: .sum)
            let expected: (Int) -> Int8 = { i in
                (0..<self.size).reduce(Int8(0)) { $0 &+ Self.value(i, offset: 7 * $1) }
            }
            spotCheck(result, expected, "allreduce")
            XCTAssertTrue(matches(result, (0..<Self.blockLength).map(expected), "allreduce"))
        }

        // The input was never written.
        XCTAssertTrue(matches(mine, Self.block(offset: 7 * rank), "the input after the operations"))
    }

    func testNonBlockingReductionRefusedAtOneRankUnderTheCrossRankCheck() throws {
        // Rank 0 starts iallreduce with more than Int32.max elements, which one request cannot
        // hold; the others pass one element. Under the cross-rank check the refusal is one of the
        // argument checks, exchanged in the agreement: rank 0 throws it, and the others throw
        // peerFailed instead of waiting for rank 0 in the agreement.
        MPIRuntime.checksCollectiveArguments = true
        defer { MPIRuntime.checksCollectiveArguments = false }
        let x = rank == 0 ? Self.makeData(offset: 0) : ShapedArray(shape: [1], scalars: [Int8(1)])
        let error = assertThrowsError { _ = try iallreduce(x, op: .sum) }
        if rank == 0 {
            guard case .invalidArgument(let operation, let argument, _, let actual)? = error else {
                return XCTFail("expected invalidArgument, got \(String(describing: error)) \(here)")
            }
            XCTAssertEqual(operation, "allreduce")
            XCTAssertEqual(argument, "x")
            XCTAssertEqual(actual, "\(Self.count) elements")
        } else {
            guard case .peerFailed(let operation, let failed, _)? = error else {
                return XCTFail("expected peerFailed, got \(String(describing: error)) \(here)")
            }
            XCTAssertEqual(operation, "allreduce")
            XCTAssertEqual(failed, 0)
        }
        // Nothing was left half-done: the communicator still works.
        XCTAssertEqual(try allreduce(1, op: .sum).0, size, "\(here)")
    }
}
