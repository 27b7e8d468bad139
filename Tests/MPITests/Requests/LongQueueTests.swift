// Tests of long queues of receives (more than UnmatchedReceives.scanned; Sources/MPI/Requests/
// PendingOperation.swift: ProbedReceives.matchWaitingMessages, and the pass with its index of
// unmatched receives), written by the review of that change: random patterns of sources, tags and
// communicators against MPI's rule (each message to the oldest receive that matches it), computed
// here, with messages that arrive before or after the receives and messages for no queued receive;
// cancelled receives; sendrecv's receive half.
// Also run at SWIFT_MPI_THREAD_LEVEL=serialized by Scripts/test.
import Foundation
import MPI
import MPITestSupport
import XCTest

private struct LCG {
    var s: UInt64
    mutating func next(_ n: Int) -> Int {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Int((s >> 33) % UInt64(n))
    }
}

final class LongQueueTests: MPITestCase {
    // MPI's rule, computed: the receives, in order, each take the earliest message that matches it (on one
    // communicator, from one sender; the review checked by brute force that this is what giving each message
    // to the oldest matching receive gives).
    private func greedy(_ recvs: [(comm: Int, anySrc: Bool, tag: Int)], _ msgs: [(comm: Int, tag: Int)]) -> [Int?] {
        var used = Set<Int>()
        var out: [Int?] = []
        for r in recvs {
            var got: Int? = nil
            for (j, m) in msgs.enumerated() where !used.contains(j) && m.comm == r.comm && (r.tag < 0 || r.tag == m.tag) {
                got = j; used.insert(j); break
            }
            out.append(got)
        }
        return out
    }

    func testRandomPatternsOverLongQueue() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let comms = [try Communicator.default, try (try Communicator.default).duplicate(), try (try Communicator.default).duplicate()]
        for trial in 0..<80 {
            let nobody = trial % 4 >= 2
            var rng = LCG(s: UInt64(trial * 7919 + 1))
            let nRecv = 17 + rng.next(60)
            var recvs: [(comm: Int, anySrc: Bool, tag: Int)] = []
            var msgs: [(comm: Int, tag: Int)] = []
            var expected: [Int?] = []
            var blockingLast = false
            while true {
                recvs = []; msgs = []
                for _ in 0..<nRecv {
                    let c = rng.next(comms.count)
                    var t = rng.next(5) == 0 ? -1 : rng.next(4)
                    let anySrc = rng.next(3) == 0
                    // A message for nobody (tag 50, from this rank itself) must match no receive, also
                    // at one rank, where the left neighbour is this rank.
                    if nobody && t < 0 { t = rng.next(4) }
                    recvs.append((c, anySrc, t))
                    msgs.append((c, t < 0 ? rng.next(4) : t))
                }
                blockingLast = rng.next(2) == 0
                // shuffle messages, keeping it deterministic
                for k in stride(from: msgs.count - 1, to: 0, by: -1) { let j = rng.next(k + 1); msgs.swapAt(k, j) }
                expected = greedy(recvs, msgs)
                if !expected.contains(where: { $0 == nil }) { break }
            }
            let mode = trial % 2  // 0: receives queued first; 1: messages arrive first
            var sends = RequestSet<Void>()
            if nobody { for c in comms { sends.append(try isend([Int32(-5)], dest: rank, tag: 50, comm: c)) } }
            if mode == 1 {
                // Not waited for here: MPICH completes a send to this rank itself only once it is received.
                for (j, m) in msgs.enumerated() {
                    sends.append(try isend([Int32(j), Int32(m.tag)], dest: right, tag: m.tag, comm: comms[m.comm]))
                }
                try barrier(); usleep(20_000)
            }
            var reqs = RequestSet<[Int32]>()
            let queuedCount = blockingLast ? recvs.count - 1 : recvs.count
            for r in recvs.prefix(queuedCount) {
                reqs.append(try irecv([Int32(0), 0], source: r.anySrc ? anySource : left, tag: r.tag < 0 ? anyTag : r.tag,
                                      comm: comms[r.comm]))
            }
            if mode == 0 {
                try barrier()
                for (j, m) in msgs.enumerated() {
                    sends.append(try isend([Int32(j), Int32(m.tag)], dest: right, tag: m.tag, comm: comms[m.comm]))
                }
            }
            var blockingGot: [Int32]? = nil
            if blockingLast {
                let r = recvs.last!
                blockingGot = try recv([Int32(0), 0], source: r.anySrc ? anySource : left, tag: r.tag < 0 ? anyTag : r.tag,
                                       comm: comms[r.comm]).0
            }
            var got = try reqs.waitAll()
            if let b = blockingGot { got.append(b) }
            if nobody { for c in comms { XCTAssertEqual(try recv([Int32(0)], source: rank, tag: 50, comm: c).0, [Int32(-5)], here) } }
            let want = expected.map { j in [Int32(j!), Int32(msgs[j!].tag)] }
            XCTAssertEqual(got, want, "trial \(trial) mode \(mode) blockingLast \(blockingLast) \(here)")
            if got != want {
                for (k, (g, w)) in zip(got, want).enumerated() where g != w {
                    print("rank \(rank) trial \(trial) recv \(k) \(recvs[k]) got \(g) want \(w)")
                }
            }
            _ = try sends.waitAll()
            try barrier()
        }
    }

    func testABurstOfWaitingMessagesInReverseOrder() throws {
        // Every message waits before the receives are polled, last tag first: a poll gives 16 of them to
        // their receives, then a pass takes the rest with one probe per receive.
        let n = 2000
        var receives = RequestSet<[Int32]>()
        for tag in 0..<n { receives.append(try irecv([Int32(0)], source: rank, tag: tag)) }
        var sends = RequestSet<Void>()
        for tag in (0..<n).reversed() { sends.append(try isend([Int32(tag)], dest: rank, tag: tag)) }
        let got = try receives.waitAll()
        XCTAssertEqual(got, (0..<n).map { [Int32($0)] }, here)
        _ = try sends.waitAll()
        try barrier()
    }

    func testCancelledOlderReceivesInLongQueue() async throws {
        // Ten awaited receives, then twenty queued ones of the same source and tag; the ten tasks are
        // cancelled, then 30 messages come. A task still polling before it suspends may take a message
        // before it sees its cancellation (as a receive in MPI completes if it matched before MPI_Cancel),
        // so the test counts: every message is received exactly once, by a task, by the twenty (in the
        // order sent), or, left over, by a blocking receive here; and every task either got a message
        // or threw `cancelled`.
        let rank = self.rank
        var tasks: [Task<[Int32], Error>] = []
        for _ in 0..<10 {
            tasks.append(Task { try await irecv([Int32(0)], source: rank, tag: 77).value() })
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        var reqs = RequestSet<[Int32]>()
        for _ in 0..<20 { reqs.append(try irecv([Int32(0)], source: rank, tag: 77)) }
        for t in tasks { t.cancel() }
        // Not waited for yet: MPICH completes a send to this rank itself only once it is received.
        var sends = RequestSet<Void>()
        for k in 0..<30 { sends.append(try isend([Int32(k)], dest: rank, tag: 77)) }
        let got = try reqs.waitAll().flatMap { $0 }
        var taken: [Int32] = []
        var cancelled = 0
        for t in tasks {
            do { taken += try await t.value } catch let error as MPIError {
                XCTAssertEqual(error, .cancelled(operation: "recv"), here)
                cancelled += 1
            }
        }
        var rest: [Int32] = []
        for _ in 0..<cancelled { rest += try recv([Int32(0)], source: rank, tag: 77).0 }
        _ = try sends.waitAll()
        XCTAssertEqual(got, got.sorted(), "the twenty get their messages in the order sent \(here)")
        XCTAssertEqual((taken + got + rest).sorted(), (0..<30).map { Int32($0) }, here)
        XCTAssertEqual(taken.count + cancelled, 10, here)
        try barrier()
    }

    func testSendrecvHalvesBehindLongQueue() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        var reqs = RequestSet<[Int32]>()
        for _ in 0..<20 { reqs.append(try irecv([Int32(0)], source: left, tag: 9)) }
        let isr = try isendrecv([Int32(500 + rank)], [Int32(0)], source: left, dest: right, sendtag: 9, recvtag: 9)
        for _ in 0..<5 { reqs.append(try irecv([Int32(0)], source: anySource, tag: anyTag)) }
        var sends = RequestSet<Void>()
        for k in 0..<20 { sends.append(try isend([Int32(k)], dest: right, tag: 9)) }
        for k in 0..<5 { sends.append(try isend([Int32(1000 + k)], dest: right, tag: 9)) }
        let got = try sendrecv([Int32(900 + rank)], [Int32(0)], source: left, dest: right, sendtag: 9, recvtag: 9).0
        // Order of messages from left on tag 9: 500+left (isendrecv's send), 0..19, 1000..1004, 900+left.
        // Receives in order: 20 irecv(left,9), isendrecv(left,9), 5 irecv(any,any), then the blocking sendrecv.
        let all = try reqs.waitAll()
        let isrGot = try isr.wait()
        XCTAssertEqual(all, [[Int32(500 + left)]] + (0..<19).map { [Int32($0)] } + (1000..<1005).map { [Int32($0)] },
                       "queued \(here)")
        XCTAssertEqual(isrGot, [Int32(19)], "isendrecv \(here)")
        XCTAssertEqual(got, [Int32(900 + left)], "sendrecv \(here)")
        _ = try sends.waitAll()
        try barrier()
    }
}
