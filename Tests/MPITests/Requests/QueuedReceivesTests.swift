// Tests of non-blocking receives that wait, unmatched, in the package's queue
// (Sources/MPI/Requests/PendingOperation.swift, ProbedReceives) while blocking
// calls run: MPI's order for receives (a newer receive, blocking or probed, leaves
// to an older one a message that both can match), and blocking point-to-point
// calls and collectives that keep matching the queued receives, so that a
// partner's blocking send of a large message returns (Sources/MPI/Raw/ThreadLevel.swift).
// Also run at SWIFT_MPI_THREAD_LEVEL=serialized by Scripts/test.
import Foundation
import MPI
import MPITestSupport
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class QueuedReceivesTests: MPITestCase {
    func testBlockingReceivesAndProbesLeaveTheirMessagesToOlderRequests() throws {
        // MPI's order for receives: a receive cannot take a message that an older receive, still waiting,
        // matches too. The older receives here are requests, the newer ones blocking.
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let older = try irecv([Int32(0)], source: left, tag: 40)
        let olderAnySource = try irecv([Int32(0), 0], source: anySource, tag: 41)
        var sends = RequestSet<Void>()
        sends.append(try isend([Int32(1000 + rank)], dest: right, tag: 40))
        sends.append(try isend([Int32(2000 + rank)], dest: right, tag: 40))
        sends.append(try isend([Int32(3000 + rank), 1], dest: right, tag: 41))
        sends.append(try isend([Int32(4000 + rank), 2], dest: right, tag: 41))
        // The blocking receive gets the second message of tag 40; the request, started first, the first.
        XCTAssertEqual(try recv([Int32(0)], source: left, tag: 40).0, [Int32(2000 + left)], here)
        let olderMessage = try older.wait()
        XCTAssertEqual(olderMessage, [Int32(1000 + left)], here)
        // The same for a receive of any size, behind an any-source request.
        let (second, status, _) = try recv(Int32.self, source: left, tag: 41)
        XCTAssertEqual(second, [Int32(4000 + left), 2], here)
        XCTAssertEqual(status.count, 2, here)
        let olderAnySourceMessage = try olderAnySource.wait()
        XCTAssertEqual(olderAnySourceMessage, [Int32(3000 + left), 1], here)
        let olderAnyTag = try irecv([Int64(0)], source: left, tag: anyTag)
        sends.append(try isend([Int64(5000 + rank)], dest: right, tag: 42))
        sends.append(try isend([Int64(6000 + rank), 4], dest: right, tag: 42))
        sends.append(try isend([Int64(7000 + rank), 3], dest: right, tag: 43))
        // A probe does not report the message that an older any-tag request takes: the first of tag 42
        // (one element) is the request's, so the probe sees the second (two elements).
        let probed = try probe(Int64.self, source: left, tag: 42)
        XCTAssertEqual(probed.tag, 42, here)
        XCTAssertEqual(probed.count, 2, here)
        let olderAnyTagMessage = try olderAnyTag.wait()
        XCTAssertEqual(olderAnyTagMessage, [Int64(5000 + left)], here)
        XCTAssertEqual(try recv([Int64(0), 0], source: left, tag: anyTag).0, [Int64(6000 + left), 4], here)
        XCTAssertNil(try iprobe(Int64.self, source: left, tag: 42), here)
        XCTAssertEqual(try recv([Int64(0), 0], source: left, tag: 43).0, [Int64(7000 + left), 3], here)
        _ = try sends.waitAll()
        try barrier()
    }

    func testManyQueuedReceivesGetTheirMessagesInMPIsOrder() throws {
        // More receives than the queue's pass scans (UnmatchedReceives.scanned), so that the pass counts
        // them by pattern and asks each communicator first whether a message waits: 100 of distinct tags
        // from the left neighbour, then 30 any-source ones of one tag (each later one subsumed by the
        // earlier, still waiting), then 10 any-tag ones from the left, which overlap the first 100. The
        // left neighbour sends the distinct tags in a scrambled order, with the others between them.
        // MPI gives each message to the oldest receive that matches it, so every result is known.
        let (left, right) = ringNeighbours(rank: rank, size: size)
        var receives = RequestSet<[Int32]>()
        for tag in 0..<100 { receives.append(try irecv([Int32(0), 0], source: left, tag: tag)) }
        for _ in 0..<30 { receives.append(try irecv([Int32(0), 0], source: anySource, tag: 200)) }
        for _ in 0..<10 { receives.append(try irecv([Int32(0), 0], source: left, tag: anyTag)) }
        var sends = RequestSet<Void>()
        var (ofTag200, ofTag300) = (0, 0)
        for k in 0..<100 {
            let tag = (k * 37 + 11) % 100
            sends.append(try isend([Int32(tag), 0], dest: right, tag: tag))
            if k % 3 == 0 && ofTag200 < 30 {
                sends.append(try isend([Int32(200), Int32(ofTag200)], dest: right, tag: 200))
                ofTag200 += 1
            }
            if k % 9 == 4 && ofTag300 < 10 {
                sends.append(try isend([Int32(300), Int32(ofTag300)], dest: right, tag: 300))
                ofTag300 += 1
            }
        }
        while ofTag200 < 30 { sends.append(try isend([Int32(200), Int32(ofTag200)], dest: right, tag: 200)); ofTag200 += 1 }
        while ofTag300 < 10 { sends.append(try isend([Int32(300), Int32(ofTag300)], dest: right, tag: 300)); ofTag300 += 1 }
        let got = try receives.waitAll()
        let expected = (0..<100).map { [Int32($0), 0] } + (0..<30).map { [Int32(200), Int32($0)] }
            + (0..<10).map { [Int32(300), Int32($0)] }
        XCTAssertEqual(got, expected, here)
        _ = try sends.waitAll()
        try barrier()
    }

    func testManyQueuedReceivesOnTwoCommunicatorsWithTheSameTags() throws {
        // A long queue whose receives are on two communicators (the queue then asks each for its waiting
        // messages), with the same tags on both: a message goes to a receive of its own communicator.
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let other = try Communicator.default.duplicate()
        var receives = RequestSet<[Int32]>()
        for tag in 0..<20 {
            receives.append(try irecv([Int32(0)], source: left, tag: tag))
            receives.append(try irecv([Int32(0)], source: left, tag: tag, comm: other))
        }
        var sends = RequestSet<Void>()
        for tag in (0..<20).reversed() {
            sends.append(try isend([Int32(1000 + tag)], dest: right, tag: tag, comm: other))
            sends.append(try isend([Int32(tag)], dest: right, tag: tag))
        }
        let got = try receives.waitAll()
        XCTAssertEqual(got, (0..<20).flatMap { [[Int32($0)], [Int32(1000 + $0)]] }, here)
        _ = try sends.waitAll()
        try barrier()
    }

    func testAPollOfManyQueuedReceivesCostsLinearTime() throws {
        // 2,000 receives of distinct tags queued from this rank itself, then 2,000 sends to itself, each
        // waited for in turn, last tag first: each wait polls the queue. A pass that compared each receive
        // with every older one cost O(n²) per poll, 3.4 s here in a release build (an audit: 1,000 tasks
        // awaiting receives took 17 s on Open MPI); the limit is far above what the linear pass takes.
        let n = 2000
        var receives = RequestSet<[Int32]>()
        for tag in 0..<n { receives.append(try irecv([Int32(0)], source: rank, tag: tag)) }
        let start = Date()
        for tag in (0..<n).reversed() { try isend([Int32(tag)], dest: rank, tag: tag).wait() }
        let got = try receives.waitAll()
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(got, (0..<n).map { [Int32($0)] }, here)
        XCTAssertLessThan(seconds, 20, "2,000 sends to 2,000 queued receives took \(seconds) s \(here)")
        try barrier()
    }

    func testABlockingReceiveBehindARequestThatMatchesLater() throws {
        // The blocking receive is likely to start before the messages come (their sender sleeps 20 ms after
        // the receiver's signal); the older request must still get the first one when it comes.
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let older = try irecv([Int32(0)], source: left, tag: 50)
        let go = try irecv([UInt8(0)], source: right, tag: 51)
        try send([UInt8(1)], dest: left, tag: 51)
        _ = try go.wait()
        usleep(20_000)
        var sends = RequestSet<Void>()
        sends.append(try isend([Int32(1)], dest: right, tag: 50))
        sends.append(try isend([Int32(2)], dest: right, tag: 50))
        XCTAssertEqual(try recv([Int32(0)], source: left, tag: 50).0, [Int32(2)], here)
        let olderMessage = try older.wait()
        XCTAssertEqual(olderMessage, [Int32(1)], here)
        _ = try sends.waitAll()
        // A sendrecv's receive takes part in the same order.
        let olderRing = try irecv([Int32(0)], source: left, tag: 52)
        var ringSends = RequestSet<Void>()
        ringSends.append(try isend([Int32(10 + rank)], dest: right, tag: 52))
        let got = try sendrecv([Int32(20 + rank)], [Int32(0)], source: left, dest: right,
                               sendtag: 52, recvtag: 52).0
        XCTAssertEqual(got, [Int32(20 + left)], here)
        let olderRingMessage = try olderRing.wait()
        XCTAssertEqual(olderRingMessage, [Int32(10 + left)], here)
        _ = try ringSends.waitAll()
        try barrier()
    }

    func testBlockingCallsKeepMatchingUnmatchedRequests() throws {
        // Messages of 2 MiB, above every eager limit: a blocking send returns only once the message is
        // matched. In C these patterns complete because MPI_Irecv posts the receive; here the package must
        // keep matching the queued receives while a blocking call waits.
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let n = 1 << 18
        let big = { (r: Int, i: Int) in [Double](repeating: Double(r * 10 + i), count: n) }
        let template = [Double](repeating: 0, count: n)
        // The C pattern MPI_Irecv, MPI_Send, MPI_Wait.
        let first = try irecv(template, source: left, tag: 60)
        try send(big(rank, 1), dest: right, tag: 60)
        let firstMessage = try first.wait()
        XCTAssertEqual(firstMessage, big(left, 1), here)
        // The sends' set completed before the receives' set (MPI_Waitall on the sends first): the sends'
        // wait keeps matching the queued receive that the left neighbour's send needs.
        var receives = RequestSet<[Double]>()
        receives.append(try irecv(template, source: left, tag: 65))
        var sends = RequestSet<Void>()
        sends.append(try isend(big(rank, 5), dest: right, tag: 65))
        _ = try sends.waitAll()
        let fifth = try receives.waitAll()
        XCTAssertEqual(fifth, [big(left, 5)], here)
        // A rank waits in a blocking collective while its left neighbour's blocking send needs its request
        // (from MPI_THREAD_SERIALIZED: below it, nothing matches the request while the collective waits).
        try XCTSkipIf(MPIRuntime.threadLevel < .serialized, "needs MPI_THREAD_SERIALIZED or more")
        let second = try irecv(template, source: left, tag: 61)
        if rank % 2 == 0 {
            try send(big(rank, 2), dest: right, tag: 61)
            try barrier()
        } else {
            try barrier()
            try send(big(rank, 2), dest: right, tag: 61)
        }
        let secondMessage = try second.wait()
        XCTAssertEqual(secondMessage, big(left, 2), here)
        // A probe and blocking receives of other tags wait while the left neighbour's blocking send of the
        // request's message, sent before theirs, waits for the request.
        let third = try irecv(template, source: left, tag: 62)
        var small = RequestSet<Void>()
        if rank % 2 == 0 {
            try send(big(rank, 3), dest: right, tag: 62)
            small.append(try isend([Int32(rank)], dest: right, tag: 63))
            small.append(try isend([Int32(rank + 100)], dest: right, tag: 64))
        }
        XCTAssertEqual(try probe(Int32.self, source: left, tag: 64).count, 1, here)
        XCTAssertEqual(try recv([Int32(0)], source: left, tag: 64).0, [Int32(left + 100)], here)
        XCTAssertEqual(try recv([Int32(0)], source: left, tag: 63).0, [Int32(left)], here)
        if rank % 2 != 0 {
            try send(big(rank, 3), dest: right, tag: 62)
            small.append(try isend([Int32(rank)], dest: right, tag: 63))
            small.append(try isend([Int32(rank + 100)], dest: right, tag: 64))
        }
        _ = try small.waitAll()
        let thirdMessage = try third.wait()
        XCTAssertEqual(thirdMessage, big(left, 3), here)
        try barrier()
    }

    func testAQueuedReceiveThatMatchesALargeMessageOfAnotherSizeThrowsAndTheQueueGoesOn() throws {
        // A queued receive that matches a message of another size takes it into scratch memory, under the
        // queue's lock. A large message (a rendezvous, not complete at its first test) is then received
        // without advancing the queue from there: the lock is not recursive (this used to stop the process).
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let count = 1 << 20  // 8 MiB
        let small = try irecv(ShapedArray([Double(0)]), source: left, tag: 60)
        let next = try irecv([Int32(0)], source: left, tag: 61)
        let large = try isend(ShapedArray<Double>(repeating: 1, shape: [count]), dest: right, tag: 60)
        let second = try isend([Int32(7 + rank)], dest: right, tag: 61)
        var thrown: MPIError?
        do { _ = try small.wait() } catch { thrown = error }
        XCTAssertEqual(thrown, MPIError.shapeMismatch(
            operation: "recv", argument: "x", expected: "a message of 1 element (the template's size)",
            actual: "a message of \(count) elements"), here)
        let nextMessage = try next.wait()
        XCTAssertEqual(nextMessage, [Int32(7 + left)], here)
        try large.wait()
        try second.wait()
        // The same with this receive alone in the queue.
        let alone = try irecv([Int32(0), 0], source: left, tag: 62)
        let third = try isend([Int32](repeating: 3, count: count), dest: right, tag: 62)
        thrown = nil
        do { _ = try alone.wait() } catch { thrown = error }
        XCTAssertEqual(thrown, MPIError.shapeMismatch(
            operation: "recv", argument: "x", expected: "a message of 2 elements (the template's size)",
            actual: "a message of \(count) elements"), here)
        try third.wait()
        try barrier()
    }

    func testAQueuedReceiveKeepsItsCommunicatorUntilItMatches() throws {
        // MPI lets a program free a communicator with a receive pending on it (MPI_Irecv, MPI_Comm_free,
        // MPI_Wait). A queued receive is probed by the package on the communicator's handle, so that
        // handle's MPI_Comm_free is put off until the receive has matched: it is neither probed freed nor
        // given by MPI to a new communicator whose messages the receive would then take.
        let (left, right) = ringNeighbours(rank: rank, size: size)
        var sends = RequestSet<Void>()
        let freed = try Communicator.world.duplicate()
        let receive = try irecv([Int32(0)], source: left, tag: 80, comm: freed)
        sends.append(try isend([Int32(500 + rank)], dest: right, tag: 80, comm: freed))
        try freed.free()
        let next = try Communicator.world.duplicate()
        sends.append(try isend([Int32(700 + rank)], dest: right, tag: 80, comm: next))
        // The same when the communicator's last copy goes away instead of `free()`.
        var scopedReceive: Request<[Int32]>? = nil
        do {
            let scoped = try Communicator.world.duplicate()
            scopedReceive = try irecv([Int32(0)], source: left, tag: 81, comm: scoped)
            sends.append(try isend([Int32(600 + rank)], dest: right, tag: 81, comm: scoped))
        }
        let another = try Communicator.world.duplicate()
        sends.append(try isend([Int32(800 + rank)], dest: right, tag: 81, comm: another))
        let message = try receive.wait()
        XCTAssertEqual(message, [Int32(500 + left)], here)
        let scopedMessage = try scopedReceive.take()!.wait()
        XCTAssertEqual(scopedMessage, [Int32(600 + left)], here)
        XCTAssertEqual(try recv([Int32(0)], source: left, tag: 80, comm: next).0, [Int32(700 + left)], here)
        XCTAssertEqual(try recv([Int32(0)], source: left, tag: 81, comm: another).0, [Int32(800 + left)], here)
        _ = try sends.waitAll()
        try barrier()
    }

    func testAReceiveQueuedWhileAnotherThreadWaitsInMPIIsMatched() throws {
        // Thread A enters a blocking call while no receive is queued, so it waits inside MPI; then another
        // thread queues a receive for a large message, whose partner's blocking send waits for that receive
        // to match before it sends what releases thread A. In C (MPI_Irecv) thread A's call progresses the
        // posted receive; here the queued receive is matched only by the package's polls: the progress
        // engine now advances the queue while calls are in progress. Before, each variant hung on both
        // libraries (an audit on 2026-12-04, 3 of 3 runs each). Even ranks receive from the next odd rank.
        let partner = rank % 2 == 0 ? (rank + 1 < size ? rank + 1 : nil) : rank - 1
        let count = 1 << 20  // 4 MiB of Int32: a rendezvous send, which waits for the receive to match
        for variant in ["blocking receive", "barrier", "barrier behind a queued receive"] {
            let inBarrier = variant != "blocking receive"
            guard let partner else {
                if inBarrier { try barrier() }
                continue
            }
            if rank % 2 == 1 {
                if variant == "barrier behind a queued receive" { try send([Int32(rank)], dest: partner, tag: 72) }
                try send([Int32](repeating: Int32(rank), count: count), dest: partner, tag: 70)
                if inBarrier { try barrier() } else { try send([Int32(rank + 7)], dest: partner, tag: 71) }
                continue
            }
            let started = Mutex<Request<[Int32]>?>(nil)
            let failure = Mutex<String?>(nil)
            runOnJoinedThreads(2) { thread in
                do {
                    if thread == 0 {
                        switch variant {
                        case "blocking receive":
                            let (value, _) = try recv([Int32(0)], source: partner, tag: 71)
                            if value != [Int32(partner + 7)] { failure.withLock { $0 = "thread A got \(value)" } }
                        case "barrier":
                            try barrier()
                        default:
                            let small = try irecv([Int32(0)], source: partner, tag: 72)
                            try barrier()
                            let value = try small.wait()
                            if value != [Int32(partner)] { failure.withLock { $0 = "the small receive got \(value)" } }
                        }
                    } else {
                        usleep(100_000)  // thread A is in MPI by now
                        try started.withLock { (slot) throws(MPIError) in
                            slot = try irecv([Int32](repeating: -1, count: count), source: partner, tag: 70)
                        }
                    }
                } catch {
                    failure.withLock { $0 = "thread \(thread): \(error)" }
                }
            }
            XCTAssertNil(failure.withLock { $0 }, "\(variant) \(here)")
            guard let request = started.withLock({ $0.take() }) else {
                return XCTFail("no receive was started: \(variant) \(here)")
            }
            let value = try request.wait()
            XCTAssertEqual(value, [Int32](repeating: Int32(partner), count: count), "\(variant) \(here)")
        }
    }
}
