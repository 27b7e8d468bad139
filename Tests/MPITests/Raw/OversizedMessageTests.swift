// Tests of the probed receive (Sources/MPI/Raw/RawCalls.swift, rawRecv and
// rawSendrecv): a message larger than its template or output is a typed error
// on both libraries and never a write past the end. Open MPI 4.1.4 writes a
// rendezvous message that is larger than the receive buffer past its end
// before it reports MPI_ERR_TRUNCATE, which corrupted the heap.
import MPI
import MPITestSupport
import XCTest

final class OversizedMessageTests: MPITestCase {
    /// Larger by one element, by 4 KiB and by 1 MiB (of Int64).
    private let extras = [1, 512, 131_072]
    private let templateCount = 100

    /// Ranks 2k and 2k+1 are partners; a last odd rank has none.
    private var partner: Int? {
        let other = rank % 2 == 0 ? rank + 1 : rank - 1
        return other < size ? other : nil
    }

    private func payload(_ count: Int) -> [Int64] { (0..<count).map { Int64($0 * 3 + rank) } }

    private func assertTooLarge<R>(
        _ operation: String, _ argument: String, _ extra: Int, _ body: () throws -> R,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        assertShapeMismatch(
            operation: operation, argument: argument, expectedContains: ["\(templateCount)"],
            actualContains: ["\(templateCount + extra)"], "extra \(extra)", file: file, line: line, body)
    }

    /// Every recv form: the even rank sends a larger message, the odd rank's receive throws.
    func testRecvOfALargerMessageThrowsInEveryForm() throws {
        for extra in extras {
            guard let partner else { break }
            if rank % 2 == 0 {
                for _ in 0..<4 { try send(payload(templateCount + extra), dest: partner, tag: 5) }
                try send(payload(1 + extra), dest: partner, tag: 6)
            } else {
                assertTooLarge("recv", "x", extra) {
                    try recv(ShapedArray(repeating: Int64(0), shape: [10, templateCount / 10]), source: partner, tag: 5)
                }
                assertTooLarge("recv", "x", extra) {
                    try recv([Int64](repeating: 0, count: templateCount), source: partner, tag: 5)
                }
                var output = [Int64](repeating: -1, count: templateCount)
                assertTooLarge("recv", "output", extra) { try recv(into: &output, source: partner, tag: 5) }
                XCTAssertEqual(output, [Int64](repeating: -1, count: templateCount), "no partial result \(here)")
                var shaped = ShapedArray(repeating: Int64(-1), shape: [templateCount])
                assertTooLarge("recv", "output", extra) { try recv(into: &shaped, source: anySource, tag: anyTag) }
                let error = assertThrowsError("scalar, extra \(extra)") { try recv(Int64(0), source: partner, tag: 6) }
                if let error { assertMessageNames(error, ["recv", "\(1 + extra)"]) }
            }
        }
        // Nothing is left unmatched or corrupted: the ranks are in step and the heap is sound.
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
        let big = [Double](repeating: 1, count: 1 << 18)
        XCTAssertEqual(try allreduce(big, op: .sum).0.first, Double(size))
    }

    /// sendrecv around a ring with a larger message than the template: every rank throws.
    func testSendrecvOfALargerMessageThrowsInEveryForm() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        for extra in extras {
            assertTooLarge("sendrecv", "recvbuf", extra) {
                try sendrecv(ShapedArray(payload(templateCount + extra)),
                             ShapedArray(repeating: Int64(0), shape: [templateCount]), source: left, dest: right)
            }
            assertTooLarge("sendrecv", "recvbuf", extra) {
                try sendrecv(payload(templateCount + extra), [Int64](repeating: 0, count: templateCount),
                             source: left, dest: right)
            }
            var output = [Int64](repeating: -1, count: templateCount)
            assertTooLarge("sendrecv", "output", extra) {
                try sendrecv(payload(templateCount + extra), into: &output, source: left, dest: right)
            }
            XCTAssertEqual(output, [Int64](repeating: -1, count: templateCount), "no partial result \(here)")
        }
        // The scalar form, in pairs: the even rank sends more than one element.
        if let partner {
            for extra in extras {
                if rank % 2 == 0 {
                    let (got, _) = try sendrecv(payload(1 + extra), [Int64(0)], source: partner, dest: partner)
                    XCTAssertEqual(got, [Int64(partner)], here)
                } else {
                    let error = assertThrowsError("scalar, extra \(extra)") {
                        try sendrecv(Int64(rank), Int64(0), source: partner, dest: partner)
                    }
                    if let error { assertMessageNames(error, ["sendrecv", "\(1 + extra)"]) }
                }
            }
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
        let big = [Double](repeating: 1, count: 1 << 18)
        XCTAssertEqual(try allreduce(big, op: .sum).0.first, Double(size))
    }

    /// A smaller message than the template is an error too, never a partly filled result.
    func testSmallerMessagesThrow() throws {
        if let partner, rank % 2 == 0 {
            try send(payload(templateCount - 1), dest: partner, tag: 7)
        } else if let partner {
            assertShapeMismatch(operation: "recv", argument: "x", expectedContains: ["\(templateCount)"],
                                actualContains: ["\(templateCount - 1)"]) {
                try recv([Int64](repeating: 0, count: templateCount), source: partner, tag: 7)
            }
        }
        // Every rank, partnered or not, reaches this collective.
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    /// The message that arrives intact still fills the result and the status.
    func testMatchingMessagesArriveWhole() throws {
        for count in [0, 1, templateCount, 1 << 17] {
            guard let partner else { break }
            if rank % 2 == 0 {
                try send(payload(count), dest: partner, tag: 8)
            } else {
                let status = Status()
                let (got, _) = try recv([Int64](repeating: 0, count: count), source: anySource, tag: anyTag,
                                        status: status)
                XCTAssertEqual(got, (0..<count).map { Int64($0 * 3 + partner) }, "count \(count) \(here)")
                XCTAssertEqual(status.source, partner)
                XCTAssertEqual(status.tag, 8)
                XCTAssertEqual(status.count, count)
            }
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }
}
