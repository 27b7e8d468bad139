import CMPIBenchmarks
import Dispatch
import Foundation
import MPI
import Synchronization

/// `mpi-benchmark engine`: what the progress engine's back-off costs (Sources/MPI/Requests/ProgressEngine.swift).
///
/// Ranks 0 and 1 (the others idle): rank 1 awaits a receive (`await irecv(...).value()`) while rank 0
/// sleeps for an idle stretch, then sends; rank 1 answers at once with a blocking send, and rank 0
/// times the round trip from its send. The same round trip with a blocking receive on rank 1 is the
/// reference, so the difference is how late the engine, backed off for that long, notices the
/// message. Rank 1 also reports the processor time its process used while it awaited, as a share of
/// one core. Medians of `repeats` rounds per idle stretch.
enum EngineBackoff {
    static func run(idleMilliseconds: [Int], repeats: Int) throws {
        _ = try MPIRuntime.initialize()
        let comm = try Communicator.default
        guard comm.size >= 2 else { throw BenchmarkError(description: "engine needs at least 2 ranks") }
        let rank = comm.rank
        if rank == 0 {
            print("# mpi-benchmark engine: \(MPIRuntime.implementation.rawValue), \(MPIRuntime.threadLevel); "
                + "medians of \(repeats) rounds")
            print("idle ms   round trip: blocking recv   await     extra µs   rank 1 CPU while awaiting")
        }
        for idle in idleMilliseconds {
            var blocking: [Double] = []
            var awaited: [Double] = []
            var cpuShare: [Double] = []
            for round in 0..<(2 * repeats) {
                let useAwait = round % 2 == 1
                try barrier()
                if rank == 0 {
                    usleep(UInt32(idle * 1000))
                    let start = cmpib_wtime()
                    try send([1.0], dest: 1, tag: 9)
                    let reply = try recv([0.0], source: 1, tag: 10).0
                    let seconds = cmpib_wtime() - start
                    if useAwait {
                        awaited.append(seconds)
                        cpuShare.append(reply[0])
                    } else {
                        blocking.append(seconds)
                    }
                } else if rank == 1 {
                    if useAwait {
                        let cpu = try awaitOnce(idleSeconds: Double(idle) / 1000)
                        try send([cpu], dest: 0, tag: 10)
                    } else {
                        _ = try recv([0.0], source: 0, tag: 9)
                        try send([0.0], dest: 0, tag: 10)
                    }
                }
            }
            if rank == 0 {
                let b = median(blocking) * 1e6
                let a = median(awaited) * 1e6
                print(String(format: "%7d   %20.1f µs %9.1f µs %+10.1f   %5.1f %%", idle, b, a, a - b,
                             median(cpuShare) * 100))
            }
        }
        try MPIRuntime.finalize()
    }

    /// Awaits one receive from a task (the calling thread waits for the task), answers nothing, and
    /// returns the processor time of the process during the await as a share of `idleSeconds`.
    private static func awaitOnce(idleSeconds: Double) throws -> Double {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Double, MPIError>>(.success(0))
        let before = processCPUSeconds()
        Task {
            do throws(MPIError) {
                _ = try await irecv([0.0], source: 0, tag: 9).value()
                outcome.withLock { $0 = .success(processCPUSeconds()) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        let after = try outcome.withLock { try $0.get() }
        return idleSeconds > 0 ? (after - before) / idleSeconds : 0
    }

    private static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    private static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
