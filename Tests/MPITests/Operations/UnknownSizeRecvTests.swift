// Tests of Probe.swift: probe, iprobe, and recv of a message of unknown size
// (MPI_Mprobe, MPI_Get_count, MPI_Mrecv), around a ring of two ranks or more.
import MPI
import MPITestSupport
import XCTest

final class UnknownSizeRecvTests: MPITestCase {
    /// The length of the message that rank r sends: 0, 3, 6, ... (zero for rank 0).
    private func length(_ r: Int) -> Int { 3 * r }

    func testRecvOfUnknownSizeAroundARing() throws {
        guard canSendAroundARing(of: size) else {
            // Nothing is waiting: iprobe says so.
            XCTAssertNil(try iprobe(Double.self, source: 0, tag: 5))
            return
        }
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let message = (0..<length(rank)).map { Double(rank * 100 + $0) }
        try send(message, dest: right, tag: 5)
        let probed = try probe(Double.self, source: left, tag: 5)
        XCTAssertEqual(probed.source, left, here)
        XCTAssertEqual(probed.tag, 5)
        XCTAssertEqual(probed.count, length(left), here)
        // The message is still there: iprobe sees it, counted in bytes as UInt8.
        let seen = try iprobe(UInt8.self, source: anySource, tag: 5)
        XCTAssertEqual(seen?.count, length(left) * 8, here)
        let (received, status, token) = try recv(Double.self, source: anySource, tag: anyTag)
        XCTAssertEqual(received, (0..<length(left)).map { Double(left * 100 + $0) }, here)
        XCTAssertEqual(status.source, left)
        XCTAssertEqual(status.tag, 5)
        XCTAssertEqual(status.count, length(left))
        XCTAssertEqual(token.sequence, 1)
        // Taken: nothing is waiting any more.
        XCTAssertNil(try iprobe(Double.self, source: left, tag: 5), here)
        try barrier()
    }

    func testLargeMessageOfUnknownSize() throws {
        // 1 MiB + 3 elements: beyond the eager limit, received in exactly its size.
        guard size > 1 else { return }
        let n = (1 << 17) + 3
        if rank == 0 {
            try send((0..<n).map { Int64($0) }, dest: 1, tag: 9)
        } else if rank == 1 {
            let (received, status, _) = try recv(Int64.self, source: 0, tag: 9)
            XCTAssertEqual(received.count, n)
            XCTAssertEqual(status.count, n)
            XCTAssertEqual(received.first, 0)
            XCTAssertEqual(received.last, Int64(n - 1))
            XCTAssertEqual(received, (0..<n).map { Int64($0) })
        }
        try barrier()
    }

    func testMessageOfAnotherTypeIsAnError() throws {
        guard canSendAroundARing(of: size) else { return }
        let (left, right) = ringNeighbours(rank: rank, size: size)
        // 3 bytes are no whole number of Float: a typed error, and the message is taken (not left behind).
        try send([UInt8](arrayLiteral: 1, 2, 3), dest: right, tag: 6)
        assertShapeMismatch(operation: "recv", argument: "type", expectedContains: ["Float"], actualContains: [], here) {
            try recv(Float.self, source: left, tag: 6)
        }
        XCTAssertNil(try iprobe(UInt8.self, source: left, tag: 6), here)
        let probedWrong = try { () throws -> Int? in
            try send([UInt8](arrayLiteral: 1, 2, 3), dest: right, tag: 7)
            let status = try probe(Float.self, source: left, tag: 7)
            _ = try recv(UInt8.self, source: left, tag: 7)
            return status.count
        }()
        XCTAssertEqual(probedWrong, -1, "probe counts a message of no whole elements as -1 \(here)")
        try barrier()
    }

    func testArgumentErrors() throws {
        assertThrows(.rankOutOfRange(operation: "probe", argument: "source", rank: size, size: size), here) {
            try probe(Double.self, source: size)
        }
        assertThrows(.rankOutOfRange(operation: "iprobe", argument: "source", rank: -5, size: size), here) {
            try iprobe(Double.self, source: -5)
        }
        assertThrows(.rankOutOfRange(operation: "recv", argument: "source", rank: size, size: size), here) {
            try recv(Double.self, source: size)
        }
        guard let error = assertThrowsError(here, { try recv(Double.self, source: 0, tag: -7) }) else { return }
        guard case let .invalidTag(op, argument, tag, _) = error else { return XCTFail("\(error)") }
        XCTAssertEqual([op, argument], ["recv", "tag"])
        XCTAssertEqual(tag, -7)
    }
}
