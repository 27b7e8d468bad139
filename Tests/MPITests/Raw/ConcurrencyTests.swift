// Tests of calls from several tasks and threads at once (Raw/ThreadLevel.swift).
//
// Scripts/test runs this class at the default thread level (MPI_THREAD_MULTIPLE,
// where MPI makes concurrent calls safe) and with SWIFT_MPI_THREAD_LEVEL=serialized
// (where the package serialises its calls: each blocking call runs as its
// non-blocking counterpart, polled under a lock), at 1 to 4 ranks on both
// libraries. Every test first checks the level it runs at.
//
// Each task or thread works on its own communicator, duplicated beforehand on
// the test's thread, in the same order on every rank, and checks every result
// against expectations computed from the rank, the size, the task and the
// iteration. The tasks never suspend between calls: see the README (Initialisation
// and thread level) for why tasks that block in MPI calls must not.
import Foundation
@testable import MPI
import MPITestSupport
import Synchronization
import XCTest

final class ConcurrencyTests: MPITestCase {
    /// How many tasks or threads, and how many rounds each: sized so that the class runs in well
    /// under the driver's timeout at 4 ranks on 2 busy cores, where every rank runs 8 spinning threads.
    private let rounds = [(2, 20), (8, 5)]

    /// The level this process must run at: `SWIFT_MPI_THREAD_LEVEL` when the driver sets it, else the default.
    private var expectedLevel: ThreadLevel {
        switch environment("SWIFT_MPI_THREAD_LEVEL")?.lowercased() {
        case "serialized": .serialized
        case "funneled": .funneled
        case "single": .single
        default: .multiple
        }
    }

    override func setUp() {
        super.setUp()
        XCTAssertEqual(MPIRuntime.threadLevel, expectedLevel, "the thread level in force \(here)")
    }

    func testRunsAtALevelThatAllowsConcurrentCalls() {
        XCTAssertGreaterThanOrEqual(MPIRuntime.threadLevel, .serialized, here)
    }

    // MARK: Swift concurrency

    func testCollectivesFromTwoAndEightTasks() async throws {
        for (tasks, iterations) in rounds {
            let comms = try (0..<tasks).map { _ in try Communicator.world.duplicate() }
            let failures = try await withThrowingTaskGroup(of: [String].self) { group in
                for (task, comm) in comms.enumerated() {
                    group.addTask { try collectiveRounds(comm: comm, task: task, iterations: iterations) }
                }
                var all: [String] = []
                for try await found in group { all += found }
                return all
            }
            XCTAssertEqual(failures, [], "\(tasks) tasks \(here)")
        }
    }

    func testSendrecvRingsFromTwoAndEightTasks() async throws {
        for (tasks, iterations) in rounds {
            let comms = try (0..<tasks).map { _ in try Communicator.world.duplicate() }
            let shared = defaultComm
            let failures = try await withThrowingTaskGroup(of: [String].self) { group in
                for (task, comm) in comms.enumerated() {
                    group.addTask {
                        try pointToPointRounds(comm: comm, shared: shared, task: task, iterations: iterations)
                    }
                }
                var all: [String] = []
                for try await found in group { all += found }
                return all
            }
            XCTAssertEqual(failures, [], "\(tasks) tasks \(here)")
        }
    }

    // MARK: Threads

    func testCollectivesFromTwoAndEightThreads() throws {
        for (threads, iterations) in rounds {
            let comms = try (0..<threads).map { _ in try Communicator.world.duplicate() }
            let failures = onThreads(threads) { thread in
                try collectiveRounds(comm: comms[thread], task: thread, iterations: iterations)
            }
            XCTAssertEqual(failures, [], "\(threads) threads \(here)")
        }
    }

    func testSendrecvRingsFromTwoAndEightThreads() throws {
        for (threads, iterations) in rounds {
            let comms = try (0..<threads).map { _ in try Communicator.world.duplicate() }
            let shared = defaultComm
            let failures = onThreads(threads) { thread in
                try pointToPointRounds(comm: comms[thread], shared: shared, task: thread, iterations: iterations)
            }
            XCTAssertEqual(failures, [], "\(threads) threads \(here)")
        }
    }

    /// Communicators made and released on several threads at once, while others communicate.
    func testCommunicatorsDuplicatedAndReleasedOnThreads() throws {
        let comms = try (0..<4).map { _ in try Communicator.world.duplicate() }
        let failures = onThreads(4) { thread in
            var found: [String] = []
            for i in 0..<8 {
                // Each thread duplicates its own communicator, uses it and drops it.
                let mine = try comms[thread].duplicate()
                let (sum, _) = try allreduce(mine.rank + i, op: .sum, comm: mine)
                let n = mine.size
                if sum != n * (n - 1) / 2 + n * i { found.append("thread \(thread), round \(i): sum \(sum)") }
            }
            return found
        }
        XCTAssertEqual(failures, [], here)
    }

    // MARK: Errors at every level

    /// A message of another size than the receive expects still throws (the receive's scratch path).
    func testAReceiveOfTheWrongSizeThrowsUnderConcurrency() throws {
        let comms = try (0..<2).map { _ in try Communicator.world.duplicate() }
        let failures = onThreads(2) { thread in
            let comm = comms[thread]
            let (me, n) = (comm.rank, comm.size)
            let sent = [Double](repeating: Double(me), count: 5 + thread)
            do {
                _ = try sendrecv(sent, [Double](repeating: 0, count: 3), source: (me + n - 1) % n,
                                 dest: (me + 1) % n, sendtag: 4, recvtag: 4, comm: comm)
                return ["thread \(thread): no error"]
            } catch let error as MPIError {
                guard case .shapeMismatch(operation: "sendrecv", _, _, _) = error else {
                    return ["thread \(thread): \(error)"]
                }
                return []
            }
        }
        XCTAssertEqual(failures, [], here)
        // Every rank is still in step afterwards.
        let (sum, _) = try allreduce(1, op: .sum)
        XCTAssertEqual(sum, size, here)
    }

    /// A persistent plan's wait that fails with a receive still active cancels that receive.
    ///
    /// This rank sends itself 2 elements for a receive of 1 (MPI's truncation error) while the
    /// plan's second receive (tag 241) has no message. At ``ThreadLevel/serialized`` the wait polls
    /// `MPI_Testall`, which MPICH ends with `MPI_ERR_IN_STATUS` and that receive still active
    /// (`MPI_ERR_PENDING`); the wait must cancel it, so that the plan's buffers are freed with
    /// nothing pointing into them and a later message of tag 241 goes to the next receive. MPICH's
    /// `MPI_Waitall` (the other levels) and Open MPI's `MPI_Testall` and `MPI_Waitall` complete every
    /// request before they report an error, so there this wait would never return.
    func testAFailedPersistentWaitCancelsTheReceiveItLeftActive() throws {
        guard MPIRuntime.implementation == .mpich && MPIRuntime.threadLevel == .serialized else {
            throw XCTSkip("only MPICH's MPI_Testall (at SWIFT_MPI_THREAD_LEVEL=serialized) fails with a request active")
        }
        let comm = try Communicator.world.duplicate()
        let me = comm.rank
        var plan: PersistentPlan<Double>? = try PersistentPlan<Double>(
            sends: [PersistentMessage(peer: me, tag: 240, count: 2)],
            receives: [PersistentMessage(peer: me, tag: 240, count: 1),
                       PersistentMessage(peer: me, tag: 241, count: 1)], comm: comm)
        let error = assertThrowsError { try plan!.exchange() }
        if case .shapeMismatch(_, let argument, _, _)? = error {
            XCTAssertEqual(argument, "receives[0]", here)
        } else {
            XCTFail("expected shapeMismatch, got \(String(describing: error)) \(here)")
        }
        XCTAssertFalse(plan!.keepsBuffers, "a request stayed active after the failed wait \(here)")
        plan = nil
        try assertAMessageToSelfReachesAPlainReceive(tag: 241, comm: comm)
    }
}

// MARK: - The work of one task

/// `iterations` rounds of every collective on `comm`, each result checked against
/// what the rank, the size, the task and the round give. Returns the mismatches.
private func collectiveRounds(comm: Communicator, task: Int, iterations: Int) throws -> [String] {
    let (me, n) = (comm.rank, comm.size)
    var failures: [String] = []
    func expect<T: Equatable>(_ got: T, _ expected: T, _ what: String, _ i: Int) {
        if got != expected { failures.append("task \(task), round \(i): \(what): got \(got), expected \(expected)") }
    }
    for i in 0..<iterations {
        let v = task * 1000 + i
        let root = (task + i) % n
        let (sums, _) = try allreduce([me + v, 1], op: .sum, comm: comm)
        expect(sums, [n * (n - 1) / 2 + n * v, n], "allreduce", i)
        let (value, _) = try bcast(me * 7 + v, root: root, comm: comm)
        expect(value, root * 7 + v, "bcast", i)
        let (all, _) = try allgather(me + v, comm: comm)
        expect(all.scalars, (0..<n).map { $0 + v }, "allgather", i)
        let (exchanged, _) = try alltoall((0..<n).map { me * n + $0 + v }, comm: comm)
        expect(exchanged, (0..<n).map { $0 * n + me + v }, "alltoall", i)
        let (prefix, _) = try scan(me + 1 + v, op: .sum, comm: comm)
        expect(prefix, (me + 1) * (me + 2) / 2 + (me + 1) * v, "scan", i)
        let (largest, _) = try reduce(me + v, op: .max, root: root, comm: comm)
        expect(largest, me == root ? n - 1 + v : me + v, "reduce", i)
        let (gathered, _) = try gather(me + v, root: root, comm: comm)
        expect(gathered.scalars, me == root ? (0..<n).map { $0 + v } : [me + v], "gather", i)
        let rows = me == root
            ? ShapedArray(shape: [n, 2], scalars: (0..<n).flatMap { [$0 + v, -$0] })
            : ShapedArray(shape: [2], scalars: [0, 0])
        let (row, _) = try scatter(rows, root: root, comm: comm)
        expect(row.scalars, [me + v, -me], "scatter", i)
        let (halves, _) = try allreduce(Float16(1), op: .sum, comm: comm)
        expect(halves, Float16(n), "allreduce of Float16", i)
        _ = try barrier(comm: comm)
        if i % 4 == 0 {
            // A message above the eager limits (320 KB), which needs progress on every rank.
            let (large, _) = try allreduce([Double](repeating: Double(me + v), count: 40_000), op: .sum, comm: comm)
            expect(large.allSatisfy { $0 == Double(n * (n - 1) / 2 + n * v) }, true, "large allreduce", i)
        }
    }
    return failures
}

/// `iterations` rounds of point-to-point calls: a sendrecv ring on `comm` (tag
/// 1000 + round), a ring on the communicator that all tasks share (`shared`, told
/// apart by the task's tag), and sends to rank 0 (tag 2000 + round: a sender may
/// be a round ahead), received from any source. Returns the mismatches.
private func pointToPointRounds(comm: Communicator, shared: Communicator, task: Int, iterations: Int) throws -> [String] {
    let (me, n) = (comm.rank, comm.size)
    let (right, left) = ((me + 1) % n, (me + n - 1) % n)
    var failures: [String] = []
    func expect<T: Equatable>(_ got: T, _ expected: T, _ what: String, _ i: Int) {
        if got != expected { failures.append("task \(task), round \(i): \(what): got \(got), expected \(expected)") }
    }
    for i in 0..<iterations {
        let v = task * 1000 + i
        let count = i % 4 == 0 ? 40_000 : 3  // some messages above the eager limits
        let (ring, _) = try sendrecv([Int](repeating: me + v, count: count), [Int](repeating: 0, count: count),
                                     source: left, dest: right, sendtag: 1000 + i, recvtag: 1000 + i, comm: comm)
        expect(ring, [Int](repeating: left + v, count: count), "sendrecv ring", i)
        let (tagged, _) = try sendrecv(me * 100 + v, 0, source: left, dest: right, sendtag: task, recvtag: task,
                                       comm: shared)
        expect(tagged, left * 100 + v, "sendrecv on the shared communicator, tag \(task)", i)
        if n > 1 {
            if me == 0 {
                var senders: [Int] = []
                for _ in 1..<n {
                    let status = Status()
                    let (got, _) = try recv(0, source: anySource, tag: 2000 + i, comm: comm, status: status)
                    expect(got, status.source * 10 + v, "recv from any source", i)
                    senders.append(status.source)
                }
                expect(senders.sorted(), Array(1..<n), "senders", i)
            } else {
                _ = try send(me * 10 + v, dest: 0, tag: 2000 + i, comm: comm)
            }
        }
    }
    return failures
}

/// Runs `body(0..<count)` on `count` threads of their own at once, and returns the
/// failures they report (a thrown error counts as one) once every thread has exited
/// (``runOnJoinedThreads(_:stackSize:_:)``: a thread still exiting when the process
/// finalises MPI at exit can crash in Open MPI).
private func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> [String]) -> [String] {
    let box = FailureBox()
    runOnJoinedThreads(count) { index in
        let found: [String]
        do { found = try body(index) } catch { found = ["thread \(index) threw \(error)"] }
        box.append(found)
    }
    return box.all
}

/// The failures that threads report.
private final class FailureBox: Sendable {
    private let failures = Mutex<[String]>([])
    func append(_ found: [String]) { failures.withLock { $0 += found } }
    var all: [String] { failures.withLock { $0 } }
}
