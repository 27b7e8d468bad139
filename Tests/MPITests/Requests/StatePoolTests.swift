// Tests of the pool of finished request states (Requests/PendingOperation.swift):
// a finished state is reused by the next request started on its thread, reset
// (nothing of its previous request carries over: error, status, cancellation,
// wrong-sized output, kept input), never while anything else holds it, never
// for an unfinished or transferred request, and a thread's pool is released
// when the thread exits. Expectations come from rank and size.
import Foundation
@testable import MPI
import MPITestSupport
import Synchronization
import XCTest

final class StatePoolTests: MPITestCase {
    // MARK: Reuse

    func testAFinishedStateIsReusedByTheNextRequestOnItsThread() throws {
        let x = pattern([3], rank: rank, as: Double.self)
        let expected = try allreduce(x, op: .sum).0
        let first = try iallreduce(x, op: .sum)
        let firstState = ObjectIdentifier(first.pending)
        let firstResult = try first.wait()
        XCTAssertEqual(firstResult, expected, here)
        let second = try iallreduce(x, op: .sum)
        XCTAssertEqual(ObjectIdentifier(second.pending), firstState, "the finished state is taken again \(here)")
        let secondResult = try second.wait()
        XCTAssertEqual(secondResult, expected, here)
    }

    func testAVoidRequestsStateIsRecycledWhenItCompletesOrIsDropped() throws {
        // Request<Void> (isend, ibarrier) held only trivial fields for Void, and Swift 6.3 at -Onone
        // (this test module) then never ran its deinit: the state was never recycled, and a dropped
        // request was not waited for (see Request.anchor).
        let (left, right) = ringNeighbours(rank: rank, size: size)
        // Each send is received before it is completed: MPICH does not complete a send to oneself
        // (at one rank) before its receive.
        let first = try isend([Int32(rank)], dest: right, tag: 70)
        let firstState = ObjectIdentifier(first.pending)
        XCTAssertEqual(try recv([Int32(0)], source: left, tag: 70).0, [Int32(left)], here)
        try first.wait()
        let second = try ibarrier()
        XCTAssertEqual(ObjectIdentifier(second.pending), firstState, "a completed send's state is reused \(here)")
        do { _ = consume second }  // dropped (in flight where other ranks are late): waits, then recycles
        let third = try isend([Int32(rank)], dest: right, tag: 71)
        XCTAssertEqual(ObjectIdentifier(third.pending), firstState, "a dropped barrier's state is reused \(here)")
        XCTAssertEqual(try recv([Int32(0)], source: left, tag: 71).0, [Int32(left)], here)
        do { _ = consume third }
        let fourth = try ibarrier()
        XCTAssertEqual(ObjectIdentifier(fourth.pending), firstState, "a dropped send's state is reused \(here)")
        try fourth.wait()
    }

    func testAStateHeldElsewhereIsNotReused() {
        let held = PendingOperation.make(.barrier)
        held.finished = true
        PendingOperation.recycle(.passRetained(held))  // pooled (a reference of its own), and still held here
        let next = PendingOperation.make(.barrier)
        XCTAssertFalse(next === held, "a state that something else holds must not be handed out \(here)")
        XCTAssertFalse(next.finished, here)
    }

    func testAnUnfinishedOrTransferredStateIsNotPooled() {
        weak var unfinishedState: PendingOperation?
        weak var transferredState: PendingOperation?
        do {
            let unfinished = PendingOperation.make(.barrier)
            unfinishedState = unfinished
            PendingOperation.recycle(.passRetained(unfinished))
            let transferred = PendingOperation.make(.barrier)
            transferred.finished = true
            transferred.transferred = true
            transferredState = transferred
            PendingOperation.recycle(.passRetained(transferred))
        }
        XCTAssertNil(unfinishedState, "an unfinished state is not kept by the pool \(here)")
        XCTAssertNil(transferredState, "a state a request set took over is not kept by the pool \(here)")
    }

    func testAThreadsPoolIsReleasedWhenTheThreadExits() {
        final class Observed: @unchecked Sendable {
            weak var state: PendingOperation?
        }
        let observed = Observed()
        let pooled = Mutex(false)
        runOnJoinedThreads(1) { _ in
            let state = PendingOperation.make(.barrier)
            state.finished = true
            observed.state = state
            PendingOperation.recycle(.passRetained(state))
            pooled.withLock { $0 = observed.state != nil }
        }
        XCTAssertTrue(pooled.withLock { $0 }, "the thread's pool did not keep its finished state \(here)")
        // The pthread key's destructor runs as the thread exits, after its closure returned: by the join.
        XCTAssertNil(observed.state, "the exited thread's pool still holds its state \(here)")
    }

    func testRequestsLeaveNoStateBehindBeyondThePool() throws {
        // More requests than the pool holds, completed by a request set, by wait, by test and by being
        // dropped: afterwards at most `StatePool.capacity` of their states are alive (pooled). A
        // reference left over by a request keeps its state alive (and out of reuse): every one of them.
        final class Weak { weak var state: PendingOperation? }
        let x = pattern([4], rank: rank, as: Double.self)
        let expected = try allreduce(x, op: .sum).0
        let n = StatePool.capacity + 8
        var observed: [Weak] = []
        func observe(_ state: PendingOperation) {
            let weak = Weak()
            weak.state = state
            observed.append(weak)
        }
        do {
            var set = RequestSet<ShapedArray<Double>>()
            for i in 0..<n {
                let request = try iallreduce(x, op: .sum)
                observe(request.pending)
                switch i % 4 {
                case 0:
                    set.append(request)
                case 1:
                    let value = try request.wait()
                    XCTAssertEqual(value, expected, here)
                case 2:
                    var pending = request
                    while true {
                        switch try pending.test() {
                        case .completed(let value):
                            XCTAssertEqual(value, expected, here)
                        case .pending(let again):
                            pending = again
                            continue
                        }
                        break
                    }
                default:
                    _ = consume request  // dropped in flight: waits for its operation
                }
            }
            for value in try set.waitAll() { XCTAssertEqual(value, expected, here) }
        }
        let alive = observed.filter { $0.state != nil }.count
        XCTAssertLessThanOrEqual(alive, StatePool.capacity, "states kept alive after their requests completed \(here)")
    }

    // MARK: Nothing carries over

    func testAReusedStateCarriesNothingOver() throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let x = pattern([2], rank: rank, as: Int64.self)
        // A receive of the wrong size fails; the next requests, on its state, do not.
        let wrong = try irecv(ShapedArray([Int64(0)]), source: left, tag: 41)
        try isend(x, dest: right, tag: 41).wait()
        var wrongThrew = false
        do { _ = try wrong.wait() } catch { wrongThrew = true }
        XCTAssertTrue(wrongThrew, here)
        XCTAssertEqual(try iallreduce(x, op: .sum).wait(), try allreduce(x, op: .sum).0, here)
        // A receive with a `Status`, then one without: the first status is filled once, not again.
        let status = Status()
        let received = try irecv(x, source: left, tag: 42, status: status)
        try isend(x, dest: right, tag: 42).wait()
        let receivedValue = try received.wait()
        XCTAssertEqual(receivedValue, pattern([2], rank: left, as: Int64.self), here)
        XCTAssertEqual(status.source, left, here)
        XCTAssertEqual(status.tag, 42, here)
        let plain = try irecv(x, source: left, tag: 43)
        try isend(x, dest: right, tag: 43).wait()
        let plainValue = try plain.wait()
        XCTAssertEqual(plainValue, pattern([2], rank: left, as: Int64.self), here)
        XCTAssertEqual(status.tag, 42, "a later request wrote the earlier request's status \(here)")
        // An `into:` output of the wrong size fails its request; the next one, the right size, does not.
        let badOutput = try iallreduce(x, into: ShapedArray([Int64(0)]), op: .sum)
        var badOutputThrew = false
        do { _ = try badOutput.wait() } catch { badOutputThrew = true }
        XCTAssertTrue(badOutputThrew, here)
        let goodOutput = try iallreduce(x, into: ShapedArray([Int64(0), 0]), op: .sum)
        let goodValue = try goodOutput.wait()
        XCTAssertEqual(goodValue, try allreduce(x, op: .sum).0, here)
        // A request dropped in flight, then a request on its state.
        do { _ = try ibarrier() }
        XCTAssertEqual(try ibcast(x, root: 0).wait(), pattern([2], rank: 0, as: Int64.self), here)
    }

    func testACancelledReceivesStateStartsUncancelled() async throws {
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let x = pattern([2], rank: rank, as: Double.self)
        let waiting = Task { () async throws(MPIError) -> ShapedArray<Double> in
            try await irecv(x, source: left, tag: 44).value()
        }
        waiting.cancel()
        let outcome = await waiting.result
        XCTAssertThrowsError(try outcome.get(), here)
        try barrier()
        let request = try irecv(x, source: left, tag: 45)
        try isend(x, dest: right, tag: 45).wait()
        let value = try await request.value()
        XCTAssertEqual(value, pattern([2], rank: left, as: Double.self), here)
    }

    func testACompletedRequestKeepsNoInputAlive() throws {
        var x = [Double](repeating: Double(rank), count: 64)
        let address = x.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        for _ in 0..<3 {
            _ = try iallreduce(x, op: .sum).wait()
            let sent = try isend(x, dest: rank, tag: 46)
            XCTAssertEqual(try recv(x, source: rank, tag: 46).0, x, here)
            try sent.wait()
        }
        x[0] = -1  // unique again: written in place, not copied
        XCTAssertEqual(x.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }, address,
                       "a finished request's state still keeps the input's storage \(here)")
    }
}
