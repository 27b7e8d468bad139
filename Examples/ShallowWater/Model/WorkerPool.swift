// A small fixed pool of threads for splitting one rank's rows between cores.

import Foundation
import Synchronization

/// Threads that share out one job at a time: `run(tasks:_:)` hands the tasks
/// `0..<tasks` to the calling thread and the pool's threads, each taking the next
/// task as soon as it is free (so a thread slowed down by anything else simply does
/// fewer), and returns when all are done.
///
/// Between jobs a thread spins for up to two milliseconds (the next time step comes
/// a few microseconds after the last one ends) and then sleeps on a condition
/// variable, so an idle pool costs nothing. The pool's threads never call MPI.
///
/// `stop()` joins the threads: a thread still exiting when the process exits and
/// finalises MPI can crash in Open MPI 4.1, which unloads its memory hooks then
/// (see the package's Troubleshooting article).
final class WorkerPool: @unchecked Sendable {
    /// Threads taking part in a job, the caller included.
    let count: Int

    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let condition = NSCondition()
    // Written by `run` before `generation` is released, read by workers after they
    // acquire it; `run` clears `job` only after every worker has finished.
    private var job: ((_ task: Int, _ thread: Int) -> Void)?
    private var taskCount = 0
    /// The pool's threads, joined by `stop()`.
    private var threads: [pthread_t] = []

    /// What a new thread of the pool runs.
    private final class Start {
        let pool: WorkerPool
        let index: Int
        init(_ pool: WorkerPool, _ index: Int) {
            self.pool = pool
            self.index = index
        }
    }

    /// Starts `threads - 1` threads (none for 1).
    init(threads: Int) {
        count = max(1, threads)
        for index in 1..<count {
            let start = Unmanaged.passRetained(Start(self, index)).toOpaque()
            var thread = pthread_t()
            let made = pthread_create(&thread, nil, { raw in
                let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
                Thread.current.name = "shallow-water worker \(start.index)"
                start.pool.work(start.index)
                return nil
            }, start)
            precondition(made == 0, "shallow-water: a worker thread could not be started (\(made))")
            self.threads.append(thread)
        }
    }

    /// Runs `body(task, thread)` for every task in `0..<tasks`, spread over the
    /// threads (`thread` is in `0..<count`; 0 is the caller), and waits for all.
    func run(tasks: Int, _ body: (_ task: Int, _ thread: Int) -> Void) {
        guard count > 1, tasks > 1 else {
            for task in 0..<tasks { body(task, 0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            job = body
            taskCount = tasks
            nextTask.store(0, ordering: .relaxed)
            remaining.store(count - 1, ordering: .relaxed)
            condition.lock()
            generation.wrappingAdd(1, ordering: .releasing)
            condition.broadcast()
            condition.unlock()
            drain(thread: 0)
            var spins = 0
            while remaining.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > 2_000 { sched_yield() }
            }
            job = nil
        }
    }

    /// Takes tasks until none is left.
    private func drain(thread: Int) {
        while true {
            let task = nextTask.wrappingAdd(1, ordering: .relaxed).oldValue
            guard task < taskCount else { return }
            job?(task, thread)
        }
    }

    /// How long an idle thread spins before it sleeps, in seconds.
    static let spinLimit = 0.002

    /// A monotonic clock in seconds.
    private static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
    }

    /// Ends the pool's threads once they are idle, and waits until they have exited. The pool cannot
    /// run jobs afterwards. Not to be called from one of the pool's threads.
    func stop() {
        guard count > 1, !stopped.load(ordering: .acquiring) else { return }
        stopped.store(true, ordering: .releasing)
        condition.lock()
        generation.wrappingAdd(1, ordering: .releasing)
        condition.broadcast()
        condition.unlock()
        for thread in threads { pthread_join(thread, nil) }
        threads = []
    }

    private func work(_ index: Int) {
        var seen = 0
        while true {
            // Spin for up to `spinLimit` seconds (the gap between two steps is a few
            // microseconds; waking a sleeping thread costs tens), then sleep.
            var spins = 0
            var spinStart = 0.0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                guard spins & 255 == 0 else { continue }
                let now = Self.seconds()
                if spinStart == 0 {
                    spinStart = now
                } else if now - spinStart > Self.spinLimit {
                    condition.lock()
                    while generation.load(ordering: .acquiring) == seen { condition.wait() }
                    condition.unlock()
                }
            }
            seen = generation.load(ordering: .acquiring)
            if stopped.load(ordering: .acquiring) { return }
            drain(thread: index)
            remaining.wrappingSubtract(1, ordering: .releasing)
        }
    }
}
