// Tests of the non-blocking forms and their requests (Sources/MPI/Requests):
// every form against its blocking form, requests completed out of order,
// receives matched in the order they were started, any-source receives with
// Status, a dropped request, copy-on-write of the input, request sets, and every
// argument error thrown at the call. Expectations come from rank and size.
import MPI
import MPITestSupport
import XCTest

final class RequestTests: MPITestCase {
    private let shapes: [[Int]] = [[], [5], [2, 3, 2], [0]]

    // MARK: Every form against its blocking form

    func testCollectivesMatchTheirBlockingForms() throws {
        try collectives(Double.self)
        try collectives(Int32.self)
        try collectives(UInt8.self)
    }

    private func collectives<T: TestScalar>(_ type: T.Type) throws {
        for shape in shapes {
            let x = pattern(shape, rank: rank, as: T.self)
            let label = "\(T.self) \(shape) \(here)"
            try iallreduce(x, op: .sum).wait().assertEqual(try allreduce(x, op: .sum).0, label)
            try iscan(x, op: .sum).wait().assertEqual(try scan(x, op: .sum).0, label)
            try iallgather(x).wait().assertEqual(try allgather(x).0, label)
            for root in 0..<size {
                try ibcast(x, root: root).wait().assertEqual(try bcast(x, root: root).0, "root \(root) \(label)")
                try igather(x, root: root).wait().assertEqual(try gather(x, root: root).0, "root \(root) \(label)")
                try ireduce(x, op: .sum, root: root).wait()
                    .assertEqual(try reduce(x, op: .sum, root: root).0, "root \(root) \(label)")
                let rows = rank == root ? pattern([size] + shape, rank: rank, as: T.self) : x
                try iscatter(rows, root: root).wait()
                    .assertEqual(try scatter(rows, root: root).0, "root \(root) \(label)")
            }
            let blocks = pattern([size] + shape, rank: rank, as: T.self)
            try ialltoall(blocks).wait().assertEqual(try alltoall(blocks).0, label)
            try ibarrier().wait()
        }
        // The plain-array forms, against the blocking plain-array forms (the same result types).
        for count in [4, 0, 1] {
            let plain = (0..<count).map { T.make(rank * 5 + $0) }
            let label = "\(T.self) [T] of \(count) \(here)"
            XCTAssertEqual(try iallreduce(plain, op: .sum).wait(), try allreduce(plain, op: .sum).0, label)
            XCTAssertEqual(try iscan(plain, op: .sum).wait(), try scan(plain, op: .sum).0, label)
            try iallgather(plain).wait().assertEqual(try allgather(plain).0, label)
            for root in 0..<size {
                XCTAssertEqual(try ibcast(plain, root: root).wait(), try bcast(plain, root: root).0, label)
                try igather(plain, root: root).wait().assertEqual(try gather(plain, root: root).0, label)
                XCTAssertEqual(try ireduce(plain, op: .sum, root: root).wait(),
                               try reduce(plain, op: .sum, root: root).0, label)
            }
        }
        let perRank = (0..<size).map { T.make(rank * 7 + $0) }
        XCTAssertEqual(try ialltoall(perRank).wait(), try alltoall(perRank).0, here)
        for root in 0..<size {
            let rows = rank == root ? perRank : [T.make(0)]
            try iscatter(rows, root: root).wait().assertEqual(try scatter(rows, root: root).0, "root \(root) \(here)")
        }
    }

    func testPointToPointMatchesItsBlockingForms() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        for shape in shapes {
            let x = pattern(shape, rank: rank, as: Double.self)
            let template = junk(shape, as: Double.self)
            // isend + irecv around the ring against the blocking sendrecv.
            let status = Status()
            let receive = try irecv(template, source: left, tag: 4, status: status)
            let send = try isend(x, dest: right, tag: 4)
            let received = try receive.wait()
            try send.wait()
            let blockingStatus = Status()
            let blocking = try sendrecv(x, template, source: left, dest: right, sendtag: 4, recvtag: 4,
                                        status: blockingStatus).0
            received.assertEqual(blocking, "\(shape) \(here)")
            XCTAssertEqual(received, pattern(shape, rank: left), "\(shape) \(here)")
            XCTAssertEqual([status.source, status.tag, status.count],
                           [blockingStatus.source, blockingStatus.tag, blockingStatus.count], "\(shape) \(here)")
            // isendrecv against sendrecv.
            let both = Status()
            try isendrecv(x, template, source: left, dest: right, sendtag: 5, recvtag: 5, status: both).wait()
                .assertEqual(blocking, "\(shape) \(here)")
            XCTAssertEqual([both.source, both.tag, both.count], [left, 5, shapeCount(shape)], here)
        }
        // The plain-array forms.
        let array = [Int64(rank), Int64(rank * 2)]
        let r = try irecv([Int64](repeating: 0, count: 2), source: left, tag: 6)
        try isend(array, dest: right, tag: 6).wait()
        let plainMessage = try r.wait()
        XCTAssertEqual(plainMessage, [Int64(left), Int64(left * 2)], here)
        let plainStatus = Status()
        let exchanged = try isendrecv(array, [Int64](repeating: 0, count: 2), source: left, dest: right, sendtag: 7,
                                      recvtag: 7, status: plainStatus).wait()
        XCTAssertEqual(exchanged, try sendrecv(array, [0, 0], source: left, dest: right, sendtag: 7, recvtag: 7).0, here)
        XCTAssertEqual([plainStatus.source, plainStatus.tag, plainStatus.count], [left, 7, 2], here)
    }

    func testTestCompletesExactlyOnceAndGivesTheResult() throws {
        let x = pattern([3], rank: rank, as: Double.self)
        var request: Request<ShapedArray<Double>>? = try iallreduce(x, op: .max)
        var result: ShapedArray<Double>?
        var polls = 0
        while let inFlight = request.take() {
            polls += 1
            switch try inFlight.test() {
            case .completed(let value): result = value
            case .pending(let again): request = consume again
            }
        }
        XCTAssertEqual(result, try allreduce(x, op: .max).0, "after \(polls) tests \(here)")
    }

    // MARK: Order, any source, dropping

    func testManyInFlightCompletedInReverseOrder() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let count = 12
        var reductions = RequestSet<ShapedArray<Int64>>()
        var receives = RequestSet<ShapedArray<Int64>>()
        var sends = RequestSet<Void>()
        for i in 0..<count {
            reductions.append(try iallreduce(ShapedArray([Int64(rank * 100 + i)]), op: .sum))
            receives.append(try irecv(ShapedArray([Int64(0), 0]), source: left, tag: 10 + i))
        }
        for i in (0..<count).reversed() {
            sends.append(try isend(ShapedArray([Int64(rank), Int64(i)]), dest: right, tag: 10 + i))
        }
        // Complete the receives one at a time, newest first (each through waitAny until it comes).
        var got: [Int: ShapedArray<Int64>] = [:]
        while let (index, result) = try receives.waitAny() {
            got[index] = try result.get()
        }
        for i in 0..<count {
            XCTAssertEqual(got[i], ShapedArray([Int64(left), Int64(i)]), "receive \(i) \(here)")
        }
        let sums = try reductions.waitAll()
        let ranks = (0..<size).reduce(0, +)
        XCTAssertEqual(sums, (0..<count).map { ShapedArray([Int64(ranks * 100 + size * $0)]) }, here)
        let sent: [Void] = try sends.waitAll()
        XCTAssertEqual(sent.count, count, here)
    }

    func testReceivesMatchInTheOrderTheyWereStarted() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let first = try irecv([Int32(0)], source: left, tag: 7)
        let second = try irecv([Int32(0)], source: left, tag: 7)
        try isend([Int32(1000 + rank)], dest: right, tag: 7).wait()
        try isend([Int32(2000 + rank)], dest: right, tag: 7).wait()
        // Wait for the second first: it must still get the second message.
        let secondMessage = try second.wait()
        let firstMessage = try first.wait()
        XCTAssertEqual(secondMessage, [Int32(2000 + left)], here)
        XCTAssertEqual(firstMessage, [Int32(1000 + left)], here)
    }

    func testAnySourceReceivesWithStatus() throws {
        let root = size - 1
        if rank == root {
            var set = RequestSet<[Int64]>()
            var statuses: [Status] = []
            for _ in 0..<size {
                let status = Status()
                statuses.append(status)
                set.append(try irecv([Int64](repeating: 0, count: 3), source: anySource, tag: anyTag, status: status))
            }
            try isend([Int64](repeating: Int64(rank), count: 3), dest: root, tag: 20 + rank).wait()
            let messages = try set.waitAll()
            XCTAssertEqual(Set(statuses.map(\.source)), Set(0..<size), here)
            for (message, status) in zip(messages, statuses) {
                XCTAssertEqual(message, [Int64](repeating: Int64(status.source), count: 3), here)
                XCTAssertEqual(status.tag, 20 + status.source, here)
                XCTAssertEqual(status.count, 3, here)
            }
        } else {
            try isend([Int64](repeating: Int64(rank), count: 3), dest: root, tag: 20 + rank).wait()
        }
        try barrier()
    }

    func testADroppedRequestWaitsForItsOperation() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        var sends = RequestSet<Void>()
        sends.append(try isend([Int32(1), Int32(rank)], dest: right, tag: 30))
        sends.append(try isend([Int32(2), Int32(rank)], dest: right, tag: 30))
        do {
            // Dropped at once: its deinit waits, so it takes the first message.
            _ = try irecv([Int32(0), 0], source: left, tag: 30)
        }
        XCTAssertEqual(try recv([Int32(0), 0], source: left, tag: 30).0, [Int32(2), Int32(left)], here)
        _ = try sends.waitAll()
        // A dropped collective completes too, so the next one on the communicator matches.
        do { _ = try iallreduce([Double(rank)], op: .sum) }
        XCTAssertEqual(try allreduce([1.0], op: .sum).0, [Double(size)], here)
        // A dropped set waits for what it holds.
        do {
            var set = RequestSet<[Double]>()
            set.append(try iallreduce([2.0], op: .sum))
            _ = set.count
        }
        XCTAssertEqual(try allreduce([3.0], op: .sum).0, [3.0 * Double(size)], here)
    }

    func testTheRequestOwnsItsInput() throws {
        var x = pattern([4], rank: rank, as: Double.self)
        let expected = try allreduce(x, op: .sum).0
        let request = try iallreduce(x, op: .sum)
        x[flat: 0] = -1  // copied on write: MPI still reads the original
        let result = try request.wait()
        XCTAssertEqual(result, expected, here)
        // An input with no other owner is kept alive by the request alone.
        let alone = try iallreduce(pattern([4], rank: rank, as: Double.self), op: .sum)
        let aloneResult = try alone.wait()
        XCTAssertEqual(aloneResult, expected, here)
    }

    /// A request keeps its input's elements alive by one reference to their owner, whatever holds them: an
    /// `Array`, a `ShapedArray` over an array, a `ShapedArray` over a library block. The inputs here have no
    /// other owner, are 1 MiB (sent by rendezvous, so MPI reads them after the start), and arrays of the same
    /// size are made and filled meanwhile, which would reuse freed storage.
    func testTheRequestKeepsEveryKindOfInputAlive() throws {
        let count = 1 << 17  // 1 MiB of Double
        let (next, previous) = ((rank + 1) % size, (rank + size - 1) % size)
        func values(of sender: Int) -> [Double] { (0..<count).map { Double(sender * count + $0) } }
        func churn() -> Double {
            var total = 0.0
            for _ in 0..<4 {
                let array = [Double](repeating: -1, count: count)
                let shaped = ShapedArray<Double>(repeating: -2, shape: [count])
                total += array[count - 1] + shaped[flat: count - 1]
            }
            return total
        }
        let starts: [(String, () throws -> Request<Void>)] = [
            ("[Double]", { try isend(values(of: self.rank), dest: next, tag: 7) }),
            ("ShapedArray over an array", {
                try isend(ShapedArray(shape: [count], scalars: values(of: self.rank)), dest: next, tag: 7)
            }),
            ("ShapedArray over a block", {
                let sender = Double(self.rank * count)
                let block = ShapedArray<Double>(shape: [count]) { buffer in
                    for i in 0..<count { buffer[i] = sender + Double(i) }
                }
                return try isend(block, dest: next, tag: 7)
            }),
        ]
        for (kind, start) in starts {
            let request = try start()
            XCTAssertEqual(churn(), -12, "\(kind) \(here)")
            var received = [Double](repeating: 0, count: count)
            try recv(into: &received, source: previous, tag: 7)
            try request.wait()
            XCTAssertEqual(received, values(of: previous), "\(kind) \(here)")
        }
    }

    /// waitAny hands out the requests that an earlier call found completed, lowest index first, without
    /// polling the others again (which made a drain of n completed requests O(n²): 5.4 s for 8,000 at
    /// 2 ranks on Open MPI, C's MPI_Waitany loop 0.24 s); testSome still returns the parked ones with
    /// the newly completed ones, in index order, and every result is handed out once.
    func testWaitAnyDrainsCompletedRequestsInIndexOrder() throws {
        let n = 300
        var set = RequestSet<[Int]>()
        for i in 0..<n { set.append(try iallreduce([i + rank], op: .sum)) }
        try barrier()
        var handedOut: [Int] = []
        func take(_ index: Int, _ result: Result<[Int], MPIError>) throws {
            XCTAssertEqual(try result.get(), [index * size + (0..<size).reduce(0, +)], "\(index) \(here)")
            handedOut.append(index)
        }
        // Drain half with waitAny, then testSome, then the rest with waitAny.
        var drained: [Int] = []
        while drained.count < n / 2, let (index, result) = try set.waitAny() {
            try take(index, result)
            drained.append(index)
        }
        let some = try set.testSome()
        XCTAssertEqual(some.map(\.index), some.map(\.index).sorted(), "testSome in index order \(here)")
        for (index, result) in some { try take(index, result) }
        while let (index, result) = try set.waitAny() { try take(index, result) }
        XCTAssertEqual(handedOut.sorted(), Array(0..<n), "each handed out once \(here)")
        XCTAssertEqual(set.remaining, 0, here)
    }

    func testRequestSetTestSomeAndWaitAny() throws {
        var set = RequestSet<ShapedArray<Double>>()
        for i in 0..<5 { set.append(try iallreduce(ShapedArray([Double(i + rank)]), op: .sum)) }
        XCTAssertEqual(set.count, 5, here)
        var results: [Int: ShapedArray<Double>] = [:]
        let someDone = try set.testSome()
        for (index, result) in someDone { results[index] = try result.get() }
        while let (index, result) = try set.waitAny() {
            XCTAssertNil(results[index], "index \(index) handed out twice \(here)")
            results[index] = try result.get()
        }
        XCTAssertEqual(set.remaining, 0, here)
        let none = try set.waitAny()
        XCTAssertNil(none, here)
        let ranks = Double((0..<size).reduce(0, +))
        for i in 0..<5 { XCTAssertEqual(results[i], ShapedArray([Double(i * size) + ranks]), "\(i) \(here)") }
        let rest = try set.waitAll()
        XCTAssertEqual(rest, [], here)
    }

    func testAReceiveOfAnotherSizeFailsLikeTheBlockingForm() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let request = try irecv(ShapedArray([Int64(0), 0]), source: left, tag: 40)
        try isend(ShapedArray([Int64(1), 2, 3]), dest: right, tag: 40).wait()
        var thrown: MPIError?
        do { _ = try request.wait() } catch { thrown = error }
        XCTAssertEqual(thrown, MPIError.shapeMismatch(
            operation: "recv", argument: "x", expected: "a message of 2 elements (the template's size)",
            actual: "a message of 3 elements"), here)
    }

    // MARK: Argument errors, thrown at the call

    func testEveryArgumentErrorIsThrownAtTheCall() throws {
        let x = pattern([2], rank: rank, as: Double.self)
        let flags = ShapedArray([true, false])
        let cases: [(String, () throws -> Void, () throws -> Void)] = [
            ("send dest", { _ = try send(x, dest: self.size) }, { _ = try isend(x, dest: self.size) }),
            ("send tag", { _ = try send(x, dest: 0, tag: -5) }, { _ = try isend(x, dest: 0, tag: -5) }),
            ("recv source", { _ = try recv(x, source: -7) }, { _ = try irecv(x, source: -7) }),
            ("recv tag", { _ = try recv(x, tag: -5) }, { _ = try irecv(x, tag: -5) }),
            ("sendrecv dest", { _ = try sendrecv(x, x, source: 0, dest: self.size) },
             { _ = try isendrecv(x, x, source: 0, dest: self.size) }),
            ("sendrecv sendtag", { _ = try sendrecv(x, x, source: 0, dest: 0, sendtag: -2) },
             { _ = try isendrecv(x, x, source: 0, dest: 0, sendtag: -2) }),
            ("bcast root", { _ = try bcast(x, root: self.size) }, { _ = try ibcast(x, root: self.size) }),
            ("gather root", { _ = try gather(x, root: -1) }, { _ = try igather(x, root: -1) }),
            ("scatter root", { _ = try scatter(x, root: self.size) }, { _ = try iscatter(x, root: self.size) }),
            ("reduce root", { _ = try reduce(x, op: .sum, root: self.size) },
             { _ = try ireduce(x, op: .sum, root: self.size) }),
            ("reduce op", { _ = try reduce(x, op: .bitwiseAnd, root: 0) }, { _ = try ireduce(x, op: .bitwiseAnd, root: 0) }),
            ("allreduce op", { _ = try allreduce(flags, op: .sum) }, { _ = try iallreduce(flags, op: .sum) }),
            ("scan op", { _ = try scan(x, op: .bitwiseXor) }, { _ = try iscan(x, op: .bitwiseXor) }),
            ("alltoall axis", { _ = try alltoall(pattern([self.size + 1], rank: 0, as: Double.self)) },
             { _ = try ialltoall(pattern([self.size + 1], rank: 0, as: Double.self)) }),
        ]
        if size == 1 {
            // The root's input check of scatter, which only the root can make, at one rank.
            let blockingError = assertThrowsError("scatter input") { try scatter(pattern([3], rank: 0, as: Double.self), root: 0) }
            let error = assertThrowsError("iscatter input") { _ = try iscatter(pattern([3], rank: 0, as: Double.self), root: 0) }
            XCTAssertEqual(error, blockingError, here)
        }
        for (name, blocking, nonBlocking) in cases {
            let expected = assertThrowsError("\(name) blocking \(here)", blocking)
            let got = assertThrowsError("\(name) non-blocking \(here)", nonBlocking)
            XCTAssertNotNil(got, name)
            XCTAssertEqual(got, expected, "\(name) \(here)")
        }
        // Nothing was started: the ranks are still in step.
        XCTAssertEqual(try allreduce([1], op: .sum).0, [size], here)
    }

    func testTheFlightRecordEntryStaysOpenUntilCompletion() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let receive = try irecv([Int16(0)], source: left, tag: 50)
        let open = try XCTUnwrap(MPIRuntime.flightRecord.last, here)
        XCTAssertTrue(open.hasPrefix("recv on communicator"), open)
        XCTAssertTrue(open.contains("source \(left), tag 50; non-blocking form; running for"), open)
        try isend([Int16(rank)], dest: right, tag: 50).wait()
        let message = try receive.wait()
        XCTAssertEqual(message, [Int16(left)], here)
        let closed = MPIRuntime.flightRecord.suffix(2)
        XCTAssertTrue(closed.allSatisfy { $0.contains("; took ") }, "\(closed) \(here)")
        // A failed request closes its entry as failed.
        let wrongSize = try irecv([Int16(0)], source: left, tag: 51)
        try isend([Int16(1), 2], dest: right, tag: 51).wait()
        var threw = false
        do { _ = try wrongSize.wait() } catch { threw = true }
        XCTAssertTrue(threw, here)
        XCTAssertTrue(MPIRuntime.flightRecord.suffix(2).first?.contains("threw after") == true,
                      "\(MPIRuntime.flightRecord.suffix(2)) \(here)")
    }

    func testDebugNamesAndTheOperation() throws {
        let request = try ibarrier()
        XCTAssertEqual(request.operation, .barrier, here)
        try request.wait()
        XCTAssertEqual(MPIError.cancelled(operation: "recv").description,
                       "recv: cancelled before a message matched the receive", here)
    }
}

extension ShapedArray where Scalar: Equatable {
    /// Asserts equality with the blocking form's result, shape included.
    fileprivate func assertEqual(_ other: ShapedArray, _ label: String, file: StaticString = #filePath,
                                 line: UInt = #line) {
        XCTAssertEqual(shape, other.shape, label, file: file, line: line)
        XCTAssertEqual(self, other, label, file: file, line: line)
    }
}
