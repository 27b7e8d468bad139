// Tests of awaiting requests (Sources/MPI/Requests/ProgressEngine.swift): the
// awaited result against the blocking form, hundreds of tasks awaiting at once,
// a master/worker exchange of any-source receives, a receive cancelled before
// it matched, and blocking calls inside async functions.
//
// Scripts/test runs this class at the default thread level (MPI_THREAD_MULTIPLE)
// and again with SWIFT_MPI_THREAD_LEVEL=serialized, where the progress engine
// takes the package's lock like every other caller.
import MPI
import MPITestSupport
import XCTest

final class AsyncRequestTests: MPITestCase {
    func testAwaitedResultsMatchTheBlockingForms() async throws {
        let x = pattern([3, 2], rank: rank, as: Double.self)
        let summed = try await iallreduce(x, op: .sum).value()
        XCTAssertEqual(summed, try allreduce(x, op: .sum).0, here)
        let gathered = try await iallgather(x).value()
        XCTAssertEqual(gathered, try allgather(x).0, here)
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let status = Status()
        let receive = try irecv(junk([3, 2], as: Double.self), source: left, tag: 2, status: status)
        try await isend(x, dest: right, tag: 2).value()
        let received = try await receive.value()
        XCTAssertEqual(received, pattern([3, 2], rank: left), here)
        XCTAssertEqual([status.source, status.tag, status.count], [left, 2, 6], here)
        try await ibarrier().value()
    }

    func testHundredsOfTasksAwaitAtOnce() async throws {
        let tasks = 300
        let (left, right) = ringNeighbours(rank: rank, size: size)
        let rank = self.rank
        let received = try await withThrowingTaskGroup(of: (Int, [Int64]).self) { group in
            for task in 0..<tasks {
                group.addTask {
                    let receive = try irecv([Int64(0), 0], source: left, tag: 100 + task)
                    let send = try isend([Int64(rank), Int64(task)], dest: right, tag: 100 + task)
                    let message = try await receive.value()
                    try await send.value()
                    return (task, message)
                }
            }
            var all: [Int: [Int64]] = [:]
            for try await (task, message) in group { all[task] = message }
            return all
        }
        XCTAssertEqual(received.count, tasks, here)
        for task in 0..<tasks {
            XCTAssertEqual(received[task], [Int64(left), Int64(task)], "task \(task) \(here)")
        }
        // Collectives from many tasks would need one communicator each; one more on the world checks the ranks agree.
        let total = try await iallreduce([Int64(received.count)], op: .sum).value()
        XCTAssertEqual(total, [Int64(tasks * size)], here)
    }

    func testMasterAndWorkersWithAnySourceReceives() async throws {
        let master = 0
        let jobs = 3 * size
        if rank == master {
            // The master hands out jobs; at one rank a task of its own does them (MPI may complete a
            // send to this rank only once a receive takes it, so the worker must run alongside).
            let localWorker: Task<Void, Error>? = size == 1
                ? Task { while try await AsyncRequestTests.work(master: master) {} } : nil
            var answers: [Int: Int64] = [:]
            var next = 0
            var busy = 0
            let workers = size == 1 ? [0] : Array(1..<size)
            for worker in workers where next < jobs {
                try await isend([Int64(next)], dest: worker, tag: 1).value()
                next += 1
                busy += 1
            }
            while busy > 0 {
                let status = Status()
                let answer = try await irecv([Int64(0), 0], source: anySource, tag: 2, status: status).value()
                answers[Int(answer[0])] = answer[1]
                busy -= 1
                if next < jobs {
                    try await isend([Int64(next)], dest: status.source, tag: 1).value()
                    next += 1
                    busy += 1
                }
            }
            for worker in workers {
                try await isend([Int64(-1)], dest: worker, tag: 1).value()
            }
            try await localWorker?.value
            XCTAssertEqual(answers.count, jobs, here)
            for job in 0..<jobs { XCTAssertEqual(answers[job], Int64(job * job), "job \(job) \(here)") }
        } else {
            while try await Self.work(master: master) {}
        }
        try barrier()
    }

    /// Receives one job from the master and answers it; returns false at the end.
    private static func work(master: Int) async throws -> Bool {
        let job = try await irecv([Int64(0)], source: master, tag: 1).value()[0]
        guard job >= 0 else { return false }
        try await isend([job, job * job], dest: master, tag: 2).value()
        return true
    }

    /// Awaits a receive from this rank with `tag` in a task, cancels the task 20 ms later (no message
    /// of `tag` is sent meanwhile), and checks that the await threw `cancelled`.
    private func awaitAReceiveAndCancelIt(tag: Int) async throws {
        let rank = self.rank
        let waiting = Task { () throws -> [Int32] in
            try await irecv([Int32(0)], source: rank, tag: tag).value()
        }
        try await Task.sleep(nanoseconds: 20_000_000)
        waiting.cancel()
        do {
            _ = try await waiting.value
            XCTFail("the receive completed without a message \(here)")
        } catch let error as MPIError {
            XCTAssertEqual(error, .cancelled(operation: "recv"), here)
        }
    }

    func testCancellingATaskWithdrawsAnUnmatchedReceive() async throws {
        try await awaitAReceiveAndCancelIt(tag: 77)
        // The withdrawn receive took nothing: the next message goes to the next receive.
        let receive = try irecv([Int32(0)], source: rank, tag: 77)
        try isend([Int32(rank + 5)], dest: rank, tag: 77).wait()
        let message = try receive.wait()
        XCTAssertEqual(message, [Int32(rank + 5)], here)
        // A collective is not cancelled: a cancelled task still gets its result.
        let reduction = Task { () throws -> [Int32] in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await iallreduce([Int32(1)], op: .sum).value()
        }
        let total = try await reduction.value
        XCTAssertEqual(total, [Int32(size)], here)
    }

    func testCancellingATaskWithdrawsAReceiveFromALongQueue() async throws {
        // With more receives queued than the queue's pass scans, polls take waiting messages to the
        // receives and look for cancelled receives only after a cancellation is asked for.
        var others = RequestSet<[Int32]>()
        for tag in 0..<40 { others.append(try irecv([Int32(0)], source: rank, tag: 100 + tag)) }
        try await awaitAReceiveAndCancelIt(tag: 78)
        // The withdrawn receive took nothing; the queued ones get their messages, sent last tag first.
        // (The receive is started before the send: MPICH completes a send to oneself only once a
        // receive takes it.)
        let receive = try irecv([Int32(0)], source: rank, tag: 78)
        for tag in (0..<40).reversed() { try isend([Int32(tag)], dest: rank, tag: 100 + tag).wait() }
        try isend([Int32(rank + 5)], dest: rank, tag: 78).wait()
        let message = try receive.wait()
        XCTAssertEqual(message, [Int32(rank + 5)], here)
        let got = try others.waitAll()
        XCTAssertEqual(got, (0..<40).map { [Int32($0)] }, here)
    }

    func testBlockingCallsCompileAndRunInsideAsyncFunctions() async throws {
        let x = pattern([4], rank: rank, as: Int32.self)
        let (sum, token) = try allreduce(x, op: .sum)
        let (again, _) = try allreduce(x, op: .sum, token: token)
        XCTAssertEqual(sum, again, here)
        let awaited = try await iallreduce(x, op: .sum).value()
        XCTAssertEqual(awaited, sum, here)
    }
}
