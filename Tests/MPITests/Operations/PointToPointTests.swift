// Tests of PointToPoint.swift: send, recv and sendrecv.
//
// Messages go around the ring of ranks: rank r sends to r + 1 and receives from
// r - 1. Small messages are sent before they are received, which relies on MPI's
// eager protocol as every MPI test suite does; larger ones use sendrecv or an
// even/odd order. A rank never sends to itself before receiving (MPICH blocks on
// that at one rank), so the send/recv tests run from 2 ranks; sendrecv, which is
// safe with itself, runs at every size. Every test uses tags of its own and
// receives every message it sends, so nothing leaks into the next.
import ComplexModule
import MPI
import MPITestSupport
import XCTest

final class PointToPointTests: MPITestCase {
    private var left: Int { ringNeighbours(rank: rank, size: size).left }
    private var right: Int { ringNeighbours(rank: rank, size: size).right }

    // MARK: send and recv

    func testSendRecvEveryTypeAndShape() throws {
        guard canSendAroundARing(of: size) else { return }
        for type in allScalarTypes { try checkSendRecv(type) }
    }

    private func checkSendRecv<T: TestScalar>(_ type: T.Type) throws {
        let context = "\(T.self) \(here)"
        for shape in testShapes {
            let x = pattern(shape, rank: rank, as: T.self)
            let before = deepCopy(x)
            let sent = try send(x, dest: right, tag: 10)
            XCTAssertEqual(sent.sequence, 1)
            let template = junk(shape, as: T.self)
            let status = Status()
            let (message, token) = try recv(template, source: left, tag: 10, status: status)
            XCTAssertEqual(message, pattern(shape, rank: left, as: T.self), "shape \(shape) \(context)")
            XCTAssertEqual(template, junk(shape, as: T.self), "the template was overwritten \(context)")
            XCTAssertEqual(x, before, "the input was modified \(context)")
            XCTAssertEqual(token.sequence, 1)
            XCTAssertEqual(status.source, left, context)
            XCTAssertEqual(status.tag, 10, context)
            XCTAssertEqual(status.count, shapeCount(shape), context)
        }
        // [T] and scalar forms, with the default source and tag (any source, any tag).
        try send(pattern([4], rank: rank, as: T.self).scalars, dest: right, tag: 11)
        let (array, _) = try recv([T](repeating: T.make(127), count: 4))
        XCTAssertEqual(array, pattern([4], rank: left, as: T.self).scalars, context)
        try send(T.make(rank + 1), dest: right)
        let (scalar, _) = try recv(T.make(127), source: left, tag: 0)
        XCTAssertEqual(scalar, T.make(left + 1), context)
    }

    func testSendRecvOfAMessageLargerThanTheEagerLimit() throws {
        // 1 MiB: sent with the rendezvous protocol, so the even ranks send first and the odd
        // ranks receive first (one rank would wait for itself).
        guard canSendAroundARing(of: size) else { return }
        let count = 1 << 17
        let x = ShapedArray(shape: [count / 4, 4], scalars: (0..<count).map { Double($0 * size + rank) })
        let template = ShapedArray(repeating: -1.0, shape: [count / 4, 4])
        let message: ShapedArray<Double>
        if rank % 2 == 0 {
            try send(x, dest: right, tag: 12)
            message = try recv(template, source: left, tag: 12).0
        } else {
            message = try recv(template, source: left, tag: 12).0
            try send(x, dest: right, tag: 12)
        }
        XCTAssertEqual(message.shape, [count / 4, 4])
        XCTAssertTrue(message.scalars.elementsEqual((0..<count).lazy.map { Double($0 * self.size + self.left) }), here)
    }

    func testAnySourceReceivesWithStatus() throws {
        // Every other rank sends [10 r, 100 + r] with tag 100 + r to rank 0, which receives them
        // from any source with any tag, in whatever order they come.
        if rank == 0 {
            var sources: [Int] = []
            for _ in 1..<size {
                let status = Status()
                let (message, _) = try recv(ShapedArray(repeating: Int32(0), shape: [2]), status: status)
                XCTAssertEqual(status.tag, 100 + status.source)
                XCTAssertEqual(status.count, 2)
                XCTAssertEqual(message.scalars, [Int32(10 * status.source), Int32(100 + status.source)])
                sources.append(status.source)
            }
            XCTAssertEqual(sources.sorted(), Array(1..<size))
        } else {
            try send(ShapedArray([Int32(10 * rank), Int32(100 + rank)]), dest: 0, tag: 100 + rank)
        }
        // Rank 0 has received them all before anybody sends it anything else.
        try barrier()
        // Explicitly spelled wildcards.
        let status = Status()
        if canSendAroundARing(of: size) {
            try send([UInt16(rank)], dest: right, tag: 13)
            let (message, _) = try recv([UInt16(0)], source: anySource, tag: anyTag, status: status)
            XCTAssertEqual(message, [UInt16(left)], here)
            XCTAssertEqual(status.source, left)
            XCTAssertEqual(status.tag, 13)
            XCTAssertEqual(status.count, 1)
        }
        let (fromAny, _) = try sendrecv([UInt16(rank)], [UInt16(0)], source: anySource, dest: right, sendtag: 14,
                                        recvtag: anyTag, status: status)
        XCTAssertEqual(fromAny, [UInt16(left)], here)
        XCTAssertEqual(status.source, left)
        XCTAssertEqual(status.tag, 14)
        try barrier()
    }

    func testTagsMatchMessagesOutOfSendOrder() throws {
        guard canSendAroundARing(of: size) else { return }
        // Three messages to the right with tags 21, 22 and 23 (of 1, 2 and 3 elements),
        // received in the order 23, 21, 22.
        try send([Int64(rank)], dest: right, tag: 21)
        try send([Int64(rank), 22], dest: right, tag: 22)
        try send([Int64(rank), 23, 23], dest: right, tag: 23)
        let status = Status()
        let (third, _) = try recv([Int64](repeating: 0, count: 3), source: left, tag: 23, status: status)
        XCTAssertEqual(third, [Int64(left), 23, 23], here)
        XCTAssertEqual(status.tag, 23)
        XCTAssertEqual(status.count, 3)
        let (first, _) = try recv([Int64(0)], source: left, tag: 21, status: status)
        XCTAssertEqual(first, [Int64(left)], here)
        XCTAssertEqual(status.tag, 21)
        XCTAssertEqual(status.count, 1)
        let (second, _) = try recv([Int64](repeating: 0, count: 2), source: anySource, tag: 22, status: status)
        XCTAssertEqual(second, [Int64(left), 22], here)
        XCTAssertEqual(status.tag, 22)
        XCTAssertEqual(status.source, left)
    }

    func testMessagesWithTheSameTagArriveInSendOrder() throws {
        guard canSendAroundARing(of: size) else { return }
        for i in 0..<5 { try send(rank * 10 + i, dest: right, tag: 24) }
        for i in 0..<5 {
            let (value, _) = try recv(-1, source: left, tag: 24)
            XCTAssertEqual(value, left * 10 + i, here)
        }
    }

    func testTheLargestTagWorks() throws {
        let tag = MPIRuntime.tagUpperBound
        let status = Status()
        if canSendAroundARing(of: size) {
            try send(Float(rank), dest: right, tag: tag)
            let (value, _) = try recv(Float(-1), source: left, tag: tag, status: status)
            XCTAssertEqual(value, Float(left))
            XCTAssertEqual(status.tag, tag)
        }
        let (value, _) = try sendrecv(Float(rank), Float(-1), source: left, dest: right, sendtag: tag, recvtag: tag,
                                      status: status)
        XCTAssertEqual(value, Float(left))
        XCTAssertEqual(status.tag, tag)
    }

    // MARK: sendrecv

    func testSendrecvEveryTypeAndShape() throws {
        for type in allScalarTypes { try checkSendrecv(type) }
    }

    private func checkSendrecv<T: TestScalar>(_ type: T.Type) throws {
        let context = "\(T.self) \(here)"
        for shape in testShapes {
            let x = pattern(shape, rank: rank, as: T.self)
            let before = deepCopy(x)
            let template = junk(shape, as: T.self)
            let status = Status()
            // Around the ring to the right, then back to the left.
            let (fromLeft, token) = try sendrecv(x, template, source: left, dest: right, status: status)
            XCTAssertEqual(fromLeft, pattern(shape, rank: left, as: T.self), "shape \(shape) \(context)")
            XCTAssertEqual(token.sequence, 1)
            XCTAssertEqual(status.source, left, context)
            XCTAssertEqual(status.tag, 0, "the default sendtag is 0 \(context)")
            XCTAssertEqual(status.count, shapeCount(shape), context)
            let (fromRight, _) = try sendrecv(x, template, source: right, dest: left, status: status)
            XCTAssertEqual(fromRight, pattern(shape, rank: right, as: T.self), "shape \(shape) \(context)")
            XCTAssertEqual(status.source, right, context)
            XCTAssertEqual(template, junk(shape, as: T.self), "the template was overwritten \(context)")
            XCTAssertEqual(x, before, "the input was modified \(context)")
        }
        let (array, _) = try sendrecv(pattern([3], rank: rank, as: T.self).scalars, [T](repeating: T.make(127), count: 3),
                                      source: left, dest: right, sendtag: 31, recvtag: 31)
        XCTAssertEqual(array, pattern([3], rank: left, as: T.self).scalars, context)
        let (scalar, _) = try sendrecv(T.make(rank + 1), T.make(127), source: anySource, dest: right)
        XCTAssertEqual(scalar, T.make(left + 1), context)
    }

    func testSendrecvTemplateGivesTheResultShape() throws {
        // The message is 6 elements; the template's shape [3, 2] is the result's.
        let (result, _) = try sendrecv(ShapedArray([1, 2, 3, 4, 5, 6].map { Int32($0 * (rank + 1)) }),
                                       ShapedArray(repeating: Int32(0), shape: [3, 2]), source: left, dest: right)
        XCTAssertEqual(result.shape, [3, 2])
        XCTAssertEqual(result.scalars, [1, 2, 3, 4, 5, 6].map { Int32($0 * (left + 1)) })
    }

    func testSendrecvRecvtagSelectsAMessage() throws {
        guard canSendAroundARing(of: size) else { return }
        // Messages with tags 7 and 8 are waiting; sendrecv with recvtag 8 takes the second one.
        try send([Int32(rank), 7], dest: right, tag: 7)
        try send([Int32(rank), 8], dest: right, tag: 8)
        let status = Status()
        let (eight, _) = try sendrecv([Int32(rank), 9], [Int32(0), 0], source: left, dest: right, sendtag: 9,
                                      recvtag: 8, status: status)
        XCTAssertEqual(eight, [Int32(left), 8], here)
        XCTAssertEqual(status.tag, 8)
        let (nine, _) = try recv([Int32(0), 0], source: left, tag: 9)
        XCTAssertEqual(nine, [Int32(left), 9], here)
        let (seven, _) = try recv([Int32(0), 0], source: left, tag: anyTag, status: status)
        XCTAssertEqual(seven, [Int32(left), 7], here)
        XCTAssertEqual(status.tag, 7)
    }

    func testSendrecvOfLargeMessages() throws {
        let count = 300_000
        let x = (0..<count).map { Float($0 % 1000) + Float(rank) * 1000 }
        let (received, _) = try sendrecv(x, [Float](repeating: -1, count: count), source: left, dest: right)
        XCTAssertTrue(received.elementsEqual((0..<count).lazy.map { Float($0 % 1000) + Float(self.left) * 1000 }), here)
    }

    func testPointToPointOnTheWorldAndAnEvenOddSplit() throws {
        if canSendAroundARing(of: size) {
            try send(ShapedArray([Complex<Double>(Double(rank), 1)]), dest: right, tag: 41, comm: world)
            let (onWorld, _) = try recv(ShapedArray([Complex<Double>(0, 0)]), source: left, tag: 41, comm: world)
            XCTAssertEqual(onWorld.scalars, [Complex<Double>(Double(left), 1)])
        }
        let (viaWorld, _) = try sendrecv(Complex<Double>(Double(rank), 1), Complex<Double>(0, 0), source: left,
                                         dest: right, comm: world)
        XCTAssertEqual(viaWorld, Complex<Double>(Double(left), 1))
        let sub = try world.split(color: rank % 2)
        let (subLeft, subRight) = ringNeighbours(rank: sub.rank, size: sub.size)
        let status = Status()
        let (fromSubLeft, _) = try sendrecv(Int8(rank), Int8(-1), source: subLeft, dest: subRight, comm: sub, status: status)
        XCTAssertEqual(Int(fromSubLeft), 2 * subLeft + rank % 2, here)
        XCTAssertEqual(status.source, subLeft)
    }

    // MARK: errors

    func testRecvTemplateSmallerThanTheMessageThrowsShapeMismatch() throws {
        guard canSendAroundARing(of: size) else { return }
        try send([1.0, 2.0, 3.0], dest: right, tag: 50)
        // The message is probed first, so its exact size is known.
        assertShapeMismatch(operation: "recv", argument: "x", expectedContains: ["2"], actualContains: ["3 elements"]) {
            try recv([0.0, 0.0], source: left, tag: 50)
        }
        try send(ShapedArray([Int16(1), 2]), dest: right, tag: 51)
        assertShapeMismatch(operation: "recv", argument: "x", expectedContains: ["1"], actualContains: ["2 elements"]) {
            try recv(Int16(0), source: left, tag: 51)
        }
        // The failed receive consumed its message: the next one is received normally.
        try send([4.0], dest: right, tag: 50)
        XCTAssertEqual(try recv([0.0], source: left, tag: 50).0, [4.0], here)
    }

    func testAReceiveThatThrowsShapeMismatchStillFillsItsStatus() throws {
        guard canSendAroundARing(of: size) else { return }
        try send([1.0, 2.0, 3.0], dest: right, tag: 59)
        let status = Status()
        assertShapeMismatch(operation: "recv", argument: "x", expectedContains: ["2"], actualContains: ["3 elements"]) {
            try recv([0.0, 0.0], source: anySource, tag: anyTag, status: status)
        }
        XCTAssertEqual([status.source, status.tag, status.count], [left, 59, 3], here)
        let sent = try isend([Int8(1), 2, 3], dest: right, tag: 60)
        let other = Status()
        assertShapeMismatch(operation: "sendrecv", argument: "recvbuf", expectedContains: ["1"], actualContains: ["3 bytes"]) {
            try sendrecv([Int16](), [Int16(0)], source: left, dest: right, sendtag: 61, recvtag: 60, status: other)
        }
        XCTAssertEqual([other.source, other.tag, other.count], [left, 60, -1], "no whole number of elements \(here)")
        try sent.wait()
        XCTAssertEqual(try recv([Int16](), source: left, tag: 61).0, [], here)
        try barrier()
    }

    func testRecvTemplateLargerThanTheMessageThrowsShapeMismatch() throws {
        guard canSendAroundARing(of: size) else { return }
        try send([1.0, 2.0, 3.0], dest: right, tag: 52)
        assertShapeMismatch(operation: "recv", argument: "x", expectedContains: ["4"], actualContains: ["3"]) {
            try recv(ShapedArray(repeating: 0.0, shape: [2, 2]), source: left, tag: 52)
        }
        try send([Bool](), dest: right, tag: 53)
        assertShapeMismatch(operation: "recv", argument: "x", expectedContains: ["1"], actualContains: ["0"]) {
            try recv(false, source: left, tag: 53)
        }
        try barrier()
    }

    func testSendrecvTemplateOfAnotherSizeThrowsShapeMismatch() throws {
        // The message is probed first (at size 1 it is checked before sending), so its exact size is known.
        assertShapeMismatch(operation: "sendrecv", argument: "recvbuf", expectedContains: ["2"],
                            actualContains: ["3 elements"]) {
            try sendrecv([1, 2, 3], [0, 0], source: left, dest: right)
        }
        assertShapeMismatch(operation: "sendrecv", argument: "recvbuf", expectedContains: ["5"], actualContains: ["3"]) {
            try sendrecv(ShapedArray([UInt8(1), 2, 3]), ShapedArray(repeating: UInt8(0), shape: [5]), source: left, dest: right)
        }
        assertShapeMismatch(operation: "sendrecv", argument: "recvbuf", expectedContains: ["1"],
                            actualContains: ["2 elements"]) {
            try sendrecv(ShapedArray([Float16(1), 2]), ShapedArray(scalar: Float16(0)), source: left, dest: right)
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    func testAMessageOfNoWholeNumberOfElementsThrowsShapeMismatch() throws {
        // Sent as bytes, received as 2-byte elements: MPI counts no whole number of elements
        // (MPI_UNDEFINED); rounding 3 bytes down to 1 element took it for the template's size
        // and returned the template's storage unwritten.
        let actual = ["3 bytes", "no whole number"]
        let bytes: [Int8] = [1, 2, 3]
        if canSendAroundARing(of: size) {
            try send(bytes, dest: right, tag: 54)
            assertShapeMismatch(operation: "recv", argument: "x", expectedContains: ["1"], actualContains: actual) {
                try recv(Int16(0), source: left, tag: 54)
            }
            try send([Int8(1)], dest: right, tag: 55)
            assertShapeMismatch(operation: "recv", argument: "x", expectedContains: ["0"],
                                actualContains: ["1 bytes", "no whole number"]) {
                try recv([Int16](), source: left, tag: 55)
            }
            // The request's path (a receive queued before its message arrives, or matched at once).
            let receive = try irecv([Int16(0)], source: left, tag: 56)
            try send(bytes, dest: right, tag: 56)
            var thrown: MPIError?
            do { _ = try receive.wait() } catch { thrown = error }
            XCTAssertEqual(thrown, MPIError.shapeMismatch(
                operation: "recv", argument: "x", expected: "a message of 1 element (the template's size)",
                actual: "a message of 3 bytes, no whole number of the template's elements (sent with another type)"),
                here)
            // sendrecv receiving the bytes (its own message, empty, goes with another tag).
            let sent = try isend(bytes, dest: right, tag: 57)
            assertShapeMismatch(operation: "sendrecv", argument: "recvbuf", expectedContains: ["1"],
                                actualContains: actual) {
                try sendrecv([Int16](), [Int16(0)], source: left, dest: right, sendtag: 58, recvtag: 57)
            }
            try sent.wait()
            XCTAssertEqual(try recv([Int16](), source: left, tag: 58).0, [], here)
            try barrier()
        }
        // The failed receives took their messages: the next ones are received normally.
        XCTAssertEqual(try sendrecv([Int16(7)], [Int16(0)], source: left, dest: right).0, [7], here)
    }

    func testSendrecvWithItselfChecksTheTemplateSize() throws {
        // A rank may exchange with itself (source and dest its own rank), at any size.
        let (same, _) = try sendrecv([1.0, 2.0], [0.0, 0.0], source: rank, dest: rank)
        XCTAssertEqual(same, [1.0, 2.0])
        assertShapeMismatch(operation: "sendrecv", argument: "recvbuf", expectedContains: ["2"],
                            actualContains: ["3 elements", "to itself"]) {
            try sendrecv([1.0, 2.0, 3.0], [0.0, 0.0], source: rank, dest: rank)
        }
        assertShapeMismatch(operation: "sendrecv", argument: "recvbuf", expectedContains: ["4"], actualContains: ["3"]) {
            try sendrecv([1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0], source: rank, dest: rank)
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    func testRanksOutOfRangeThrowOnEveryRank() throws {
        let n = size
        for bad in [n, n + 7, -1, -3] {
            assertThrows(.rankOutOfRange(operation: "send", argument: "dest", rank: bad, size: n)) {
                try send(1.0, dest: bad)
            }
            assertThrows(.rankOutOfRange(operation: "send", argument: "dest", rank: bad, size: n)) {
                try send(ShapedArray([1.0]), dest: bad, tag: 3)
            }
            assertThrows(.rankOutOfRange(operation: "sendrecv", argument: "dest", rank: bad, size: n)) {
                try sendrecv([1.0], [0.0], source: left, dest: bad)
            }
        }
        // -1 is the any-source wildcard and -2 procNull (testProcNullPeers); size and -3 are out of range.
        for bad in [n, -3, Int.min] {
            assertThrows(.rankOutOfRange(operation: "recv", argument: "source", rank: bad, size: n)) {
                try recv([0.0], source: bad)
            }
            assertThrows(.rankOutOfRange(operation: "recv", argument: "source", rank: bad, size: n)) {
                try recv(Int8(0), source: bad, tag: 1)
            }
            assertThrows(.rankOutOfRange(operation: "sendrecv", argument: "source", rank: bad, size: n)) {
                try sendrecv(ShapedArray([1.0]), ShapedArray([0.0]), source: bad, dest: right)
            }
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    /// `procNull` as a destination or source, as in MPI (`MPI_PROC_NULL`): a send to it goes nowhere, a
    /// receive from it completes at once with source `procNull`, tag `anyTag` and count 0, a zero result
    /// (the result forms) or an output left as it was (`into:`). A line of processes exchanging with
    /// its neighbours, procNull past its ends, as C stencil codes do (an independent audit found these
    /// refused with `rankOutOfRange`, though the package's own persistent plans take procNull).
    func testProcNullPeers() throws {
        let below = rank == 0 ? procNull : rank - 1, above = rank == size - 1 ? procNull : rank + 1
        let mine = [Double(rank + 1), Double(rank + 1) / 2]
        func fromBelow() -> [Double] { rank == 0 ? [0, 0] : [Double(rank), Double(rank) / 2] }
        let status = Status()
        let (up, _) = try sendrecv(mine, [-1.0, -1], source: below, dest: above, status: status)
        XCTAssertEqual(up, fromBelow(), here)
        XCTAssertEqual(status.source, rank == 0 ? procNull : below, here)
        XCTAssertEqual(status.tag, rank == 0 ? anyTag : 0, here)
        XCTAssertEqual(status.count, rank == 0 ? 0 : 2, here)
        var output = [-1.0, -1]
        try sendrecv(mine, into: &output, source: below, dest: above, sendtag: 4, recvtag: 4)
        XCTAssertEqual(output, rank == 0 ? [-1, -1] : fromBelow(), "into: left as it was from procNull \(here)")
        let shaped = try sendrecv(ShapedArray(shape: [2, 1], scalars: mine), ShapedArray(shape: [2, 1], scalars: [7.0, 7]),
                                  source: below, dest: above).0
        XCTAssertEqual(shaped, ShapedArray(shape: [2, 1], scalars: fromBelow()), here)
        // Plain send and recv: down the line.
        try send(mine, dest: below, tag: 9)
        let fromAbove = Status()
        let (down, _) = try recv([0.0, 0], source: above, tag: 9, status: fromAbove)
        XCTAssertEqual(down, rank == size - 1 ? [0, 0] : [Double(rank + 2), Double(rank + 2) / 2], here)
        XCTAssertEqual(fromAbove.count, rank == size - 1 ? 0 : 2, here)
        XCTAssertEqual(try recv(5, source: procNull).0, 0, here)
        let (none, nullStatus, _) = try recv(Double.self, source: procNull)
        XCTAssertEqual(none, [], here)
        XCTAssertEqual([nullStatus.source, nullStatus.tag, nullStatus.count], [procNull, anyTag, 0], here)
        // Non-blocking.
        let receive = try irecv([0.0, 0], source: below, tag: 11)
        let sent = try isend(mine, dest: above, tag: 11)
        let pair = try isendrecv(mine, [3.0, 3], source: above, dest: below, sendtag: 12, recvtag: 12)
        try sent.wait()
        let received = try receive.wait(), paired = try pair.wait()
        XCTAssertEqual(received, fromBelow(), here)
        XCTAssertEqual(paired, rank == size - 1 ? [0, 0] : [Double(rank + 2), Double(rank + 2) / 2], here)
        XCTAssertEqual(try allreduce(1, op: .sum).0, size, here)
    }

    func testBadTagsThrowOnEveryRank() throws {
        let upper = MPIRuntime.tagUpperBound
        // Sends take no wildcard: -1 is as bad as any negative tag.
        for bad in [-1, -5, upper + 1, Int.max, Int.min] {
            assertThrows(.invalidTag(operation: "send", argument: "tag", tag: bad, upperBound: upper)) {
                try send([1.0], dest: right, tag: bad)
            }
            assertThrows(.invalidTag(operation: "sendrecv", argument: "sendtag", tag: bad, upperBound: upper)) {
                try sendrecv([1.0], [0.0], source: left, dest: right, sendtag: bad)
            }
        }
        // Receives accept -1 (any tag) and nothing else negative.
        for bad in [-2, -100, upper + 1, Int.max] {
            assertThrows(.invalidTag(operation: "recv", argument: "tag", tag: bad, upperBound: upper)) {
                try recv([0.0], source: left, tag: bad)
            }
            assertThrows(.invalidTag(operation: "sendrecv", argument: "recvtag", tag: bad, upperBound: upper)) {
                try sendrecv([1.0], [0.0], source: left, dest: right, recvtag: bad)
            }
        }
        let sendError = assertThrowsError { try send(1, dest: right, tag: -3) }
        if let error = sendError {
            assertMessageNames(error, ["send", "tag", "-3", "0...\(upper)"])
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }
}
