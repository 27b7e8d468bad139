// Tests of Status.swift: what a receive tells about the message it matched.
import ComplexModule
import MPI
import MPITestSupport
import XCTest

final class StatusTests: MPITestCase {
    private var left: Int { ringNeighbours(rank: rank, size: size).left }
    private var right: Int { ringNeighbours(rank: rank, size: size).right }

    func testANewStatusIsUnfilled() {
        let status = Status()
        XCTAssertEqual(status.source, -1)
        XCTAssertEqual(status.tag, -1)
        XCTAssertEqual(status.count, -1)
        XCTAssertEqual(status.description, "Status(source: -1, tag: -1, count: -1)")
    }

    func testRecvFillsSourceTagAndCount() throws {
        guard canSendAroundARing(of: size) else { return }
        try send(ShapedArray(repeating: Int32(rank), shape: [2, 3, 2]), dest: right, tag: 60 + rank)
        let status = Status()
        let (message, _) = try recv(ShapedArray(repeating: Int32(0), shape: [2, 3, 2]), status: status)
        XCTAssertEqual(message.scalars, Array(repeating: Int32(left), count: 12), here)
        XCTAssertEqual(status.source, left, here)
        XCTAssertEqual(status.tag, 60 + left, here)
        XCTAssertEqual(status.count, 12, "the count is in elements, not bytes \(here)")
        XCTAssertEqual(status.description, "Status(source: \(left), tag: \(60 + left), count: 12)")
    }

    func testCountOfAnEmptyMessageIsZero() throws {
        let status = Status()
        if canSendAroundARing(of: size) {
            try send([Double](), dest: right, tag: 61)
            let (message, _) = try recv([Double](), source: left, status: status)
            XCTAssertEqual(message, [])
            XCTAssertEqual(status.count, 0)
            XCTAssertEqual(status.source, left)
            XCTAssertEqual(status.tag, 61)
        }
        let (empty, _) = try sendrecv(ShapedArray<Float>(shape: [2, 0], scalars: []),
                                      ShapedArray<Float>(shape: [0, 3], scalars: []),
                                      source: left, dest: right, sendtag: 64, status: status)
        XCTAssertEqual(empty.shape, [0, 3])
        XCTAssertEqual(status.count, 0)
        XCTAssertEqual(status.source, left)
        XCTAssertEqual(status.tag, 64)
    }

    func testAStatusIsOverwrittenByTheNextReceive() throws {
        let status = Status()
        _ = try sendrecv([Int8(1), 2, 3], [Int8](repeating: 0, count: 3), source: left, dest: right, sendtag: 62,
                         status: status)
        XCTAssertEqual(status.count, 3)
        XCTAssertEqual(status.tag, 62)
        XCTAssertEqual(status.source, left)
        let (back, _) = try sendrecv(Int8(rank), Int8(0), source: right, dest: left, sendtag: 63, status: status)
        XCTAssertEqual(Int(back), right)
        XCTAssertEqual(status.count, 1)
        XCTAssertEqual(status.tag, 63)
        XCTAssertEqual(status.source, right)
    }

    func testStatusCountsComplexAndHalfElements() throws {
        let status = Status()
        _ = try sendrecv([Complex<Float>(1, 2), Complex<Float>(3, 4)], [Complex<Float>(0, 0), Complex<Float>(0, 0)],
                         source: left, dest: right, status: status)
        XCTAssertEqual(status.count, 2)
        _ = try sendrecv(ShapedArray(repeating: Float16(1), shape: [5]), ShapedArray(repeating: Float16(0), shape: [5]),
                         source: left, dest: right, status: status)
        XCTAssertEqual(status.count, 5)
    }
}
