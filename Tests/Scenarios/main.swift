// mpi-scenarios: small MPI programs that misbehave on purpose, for the tests of
// the watchdog and of failure behaviour (Scripts/test runs them under mpirun
// and checks their output, exit status and duration).
//
//   mpi-scenarios ok                  a few collectives, then a normal exit
//   mpi-scenarios skipped-collective  the last rank skips one allreduce
//   mpi-scenarios different-order     rank 0 calls barrier then allreduce, the others the reverse
//   mpi-scenarios unmatched-recv      rank 0 receives a message that nobody sends
//   mpi-scenarios absent-from-default the last rank never makes the default communicator (its first
//                                     use is collective: MPI_Comm_dup of the world), which the
//                                     others wait in
//   mpi-scenarios loop SECONDS        allreduce in a loop for SECONDS (for cut links and killed hosts)
//   mpi-scenarios exit-early STATUS   the last rank exits with STATUS while the others loop in allreduce
//   mpi-scenarios finalize-race [THREADS]
//                                     THREADS threads (default 4) loop allreduce, iallreduce + wait,
//                                     a Cartesian shift and a duplicate freed at once, on one-rank
//                                     communicators of their own while the main thread
//                                     finalises MPI after 0.2 s; each thread must end with `finalized`
//                                     (a call that raced the finalisation reached MPI after
//                                     MPI_Finalize: an abort on Open MPI, an error exit on MPICH)
//   mpi-scenarios exit-with-blocked-thread
//                                     a thread of rank 0 waits in a recv that nobody sends while
//                                     every rank calls exit(0): finalisation waits 2 s for it, names
//                                     it, and leaves MPI unfinalised (MPI_Finalize under it aborted
//                                     on MPICH, corrupted the heap once on Open MPI); the job ends
//                                     with status 1 on Open MPI (its mpirun says the process did not
//                                     finalise), 0 (or 9) on MPICH
//   mpi-scenarios resident-memory [CALLS]
//                                     CALLS small calls (default 1,000,000: allreduce of one Double,
//                                     result-returning and into:, and sendrecv around the ring, in
//                                     turn) after 30,000 of warm-up; prints the resident set after the
//                                     warm-up and after every tenth, and exits with status 1 on every
//                                     rank when any rank grew by more than 1 MiB (the bound of
//                                     ResidentMemoryTests, which makes fewer calls; build this one with
//                                     -c release to make a million quickly)
import MPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

func say(_ text: String) {
    let line = text + "\n"
    line.withCString { _ = write(1, $0, strlen($0)) }
}

let arguments = CommandLine.arguments.dropFirst()
guard let scenario = arguments.first else {
    say("usage: mpi-scenarios ok|skipped-collective|different-order|unmatched-recv|absent-from-default|loop SECONDS"
        + "|exit-early STATUS|finalize-race [THREADS]|exit-with-blocked-thread|resident-memory [CALLS]")
    exit(2)
}

do {
    if scenario == "absent-from-default" {
        let world = Communicator.world
        if world.rank == world.size - 1 {
            say("rank \(world.rank): not making the default communicator")
            var pause = timespec(tv_sec: 60, tv_nsec: 0)
            nanosleep(&pause, nil)
        }
        _ = try Communicator.default
        say("rank \(world.rank): finished (a rank absent from a collective went unnoticed)")
        exit(0)
    }
    let comm = try Communicator.default
    let (rank, size) = (comm.rank, comm.size)
    // Some calls that complete, so that the record has history.
    _ = try allreduce([Double(rank)], op: .sum)
    _ = try bcast([Int32(7)], root: 0)
    switch scenario {
    case "ok":
        _ = try allgather(rank)
        try barrier()
        say("rank \(rank): ok")
    case "skipped-collective":
        if rank != size - 1 { _ = try allreduce(1.0, op: .sum) }
        try barrier()
        _ = try allreduce(2.0, op: .sum)
        say("rank \(rank): finished (a skipped collective went unnoticed)")
    case "different-order":
        if rank == 0 {
            try barrier()
            _ = try allreduce(1.0, op: .sum)
        } else {
            _ = try allreduce(1.0, op: .sum)
            try barrier()
        }
        say("rank \(rank): finished (collectives in different orders went unnoticed)")
    case "unmatched-recv":
        if rank == 0 {
            _ = try recv([0.0], source: size - 1, tag: 99)
        }
        say("rank \(rank): finished")
    case "loop":
        let seconds = Double(arguments.dropFirst().first ?? "30") ?? 30
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        let end = Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 + seconds
        // Every rank stops on rank 0's clock, after the same number of iterations, so that all of them
        // reach the barrier (each rank's own clock let one rank wait there while another looped on).
        var iterations = 0
        while true {
            clock_gettime(CLOCK_MONOTONIC, &t)
            let (stop, _) = try bcast(Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 > end ? Int32(1) : 0, root: 0)
            if stop != 0 { break }
            _ = try allreduce([Double](repeating: 1, count: 1024), op: .sum)
            iterations += 1
        }
        say("rank \(rank): looped \(iterations) times")
        try barrier()
    case "exit-early":
        let status = Int32(arguments.dropFirst().first ?? "1") ?? 1
        if rank == size - 1 {
            say("rank \(rank): exiting with status \(status)")
            exit(status)
        }
        while true { _ = try allreduce(1.0, op: .sum) }
    case "finalize-race":
        let threads = Int(arguments.dropFirst().first ?? "") ?? 4
        try finalizeRace(threads: threads, rank: rank)
    case "exit-with-blocked-thread":
        if rank == 0 { startBlockedReceive() }
        var pause = timespec(tv_sec: 0, tv_nsec: 300_000_000)
        nanosleep(&pause, nil)
        say("rank \(rank): exit(0) with \(rank == 0 ? "a thread in recv" : "no thread")")
        exit(0)
    case "resident-memory":
        let calls = Int(arguments.dropFirst().first ?? "") ?? 1_000_000
        let (growth, samples, seconds) = try residentMemoryRun(calls: calls, comm: comm)
        let (largest, _) = try allreduce(growth, op: .max)
        say("rank \(rank): \(calls) calls in \(Int(seconds * 1000)) ms, resident (KiB) "
            + samples.map { String($0 >> 10) }.joined(separator: " ") + ", growth \(growth >> 10) KiB")
        try barrier()
        if largest > 1 << 20 {
            if rank == 0 { say("resident memory grew by \(largest >> 10) KiB on some rank: more than 1024 KiB") }
            exit(1)
        }
        if rank == 0 { say("resident memory flat: largest growth \(largest >> 10) KiB of at most 1024") }
    default:
        say("unknown scenario \(scenario)")
        exit(2)
    }
} catch {
    say("error: \(error)")
    exit(3)
}

/// A call that returned the wrong value.
struct WrongResult: Error, CustomStringConvertible {
    let what: String
    var description: String { "wrong result of \(what)" }
}

/// The process's resident set in bytes, from /proc/self/statm (its second field, in pages).
func residentBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    guard fgets(&line, Int32(line.count), file) != nil else { return 0 }
    let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * sysconf(Int32(_SC_PAGESIZE))
}

/// 30,000 calls of warm-up, then `calls` calls (allreduce of one Double, result-returning and
/// into:, and sendrecv around the ring, in turn); the resident set after the warm-up and after
/// every tenth of the calls. Returns the growth, the samples and the seconds the calls took.
func residentMemoryRun(calls count: Int, comm: Communicator) throws -> (Int, [Int], Double) {
    let (rank, size) = (comm.rank, comm.size)
    let left = (rank + size - 1) % size, right = (rank + 1) % size
    let x = ShapedArray([Double(rank + 1)])
    var output = ShapedArray(repeating: 0.0, shape: [1])
    let expectedSum = Double(size * (size + 1) / 2)
    func calls(_ n: Int) throws {
        for i in 0..<n {
            switch i % 3 {
            case 0:
                let (sum, _) = try allreduce(x, op: .sum)
                guard sum[flat: 0] == expectedSum else { throw WrongResult(what: "allreduce: \(sum)") }
            case 1:
                try allreduce(x, into: &output, op: .sum)
                guard output[flat: 0] == expectedSum else { throw WrongResult(what: "allreduce into: \(output)") }
            default:
                let (received, _) = try sendrecv(x, x, source: left, dest: right)
                guard received[flat: 0] == Double(left + 1) else { throw WrongResult(what: "sendrecv: \(received)") }
            }
        }
    }
    try calls(30_000)
    var samples = [residentBytes()]
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    let start = Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    for part in 0..<10 {
        try calls(part < 9 ? count / 10 : count - 9 * (count / 10))
        samples.append(residentBytes())
    }
    clock_gettime(CLOCK_MONOTONIC, &t)
    let seconds = Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 - start
    return (samples.last! - samples[0], samples, seconds)
}

/// The calls of one thread of `finalize-race`: how many completed, and the error that ended them.
final class RacingThread: @unchecked Sendable {
    let comm: Communicator
    let grid: CartesianCommunicator
    var calls = 0
    var ending: MPIError?
    init(_ comm: Communicator, _ grid: CartesianCommunicator) {
        self.comm = comm
        self.grid = grid
    }

    func run() {
        let x = [1.0, 2.0]
        var output = [0.0, 0.0]
        do throws(MPIError) {
            while true {
                _ = try allreduce(x, op: .sum, comm: comm)
                output = try iallreduce(x, into: output, op: .sum, comm: comm).wait()
                // Calls outside the operations: a topology query, and a communicator made and freed.
                _ = try grid.shift(dimension: 0)
                try comm.duplicate().free()
                calls += 4
            }
        } catch {
            ending = error
        }
    }
}

/// Threads call MPI on communicators of their own while the main thread finalises: every call
/// either completes before `MPI_Finalize` or throws `finalized`, and none reaches MPI after it.
func finalizeRace(threads: Int, rank: Int) throws(MPIError) {
    // One-rank communicators (collective to make, local to use), so that no thread waits for another rank.
    var racers: [RacingThread] = []
    // The grids are made here, before the threads start: Open MPI 4.1 set up its topology support
    // lazily, and two first MPI_Cart_create calls at once crashed it (an audit, 4 of 20 runs).
    for _ in 0..<threads {
        let own = try Communicator.default.split(color: rank)
        racers.append(RacingThread(own, try own.cartesian(dimensions: [1], periodic: [true])!))
    }
    var handles: [pthread_t] = []
    for racer in racers {
        var thread = pthread_t()
        let made = pthread_create(&thread, nil, { raw in
            Unmanaged<RacingThread>.fromOpaque(raw!).takeUnretainedValue().run()
            return nil
        }, Unmanaged.passUnretained(racer).toOpaque())
        precondition(made == 0, "pthread_create failed (\(made))")
        handles.append(thread)
    }
    var pause = timespec(tv_sec: 0, tv_nsec: 200_000_000)
    nanosleep(&pause, nil)
    try MPIRuntime.finalize()
    for thread in handles { pthread_join(thread, nil) }
    for (i, racer) in racers.enumerated() {
        guard case .finalized? = racer.ending else {
            say("rank \(rank): thread \(i) ended with \(racer.ending.map { "\($0)" } ?? "no error") after \(racer.calls) calls")
            exit(3)
        }
    }
    say("rank \(rank): finalize-race ok: \(threads) threads ended with 'finalized' after "
        + racers.map { "\($0.calls)" }.joined(separator: ", ") + " calls")
    withExtendedLifetime(racers) {}
}

/// Starts a thread that waits in a receive that nobody sends (tag 98), for `exit-with-blocked-thread`.
/// (Outside the top-level code, whose closures would be isolated to the main actor.)
func startBlockedReceive() {
    var thread = pthread_t()
    let made = pthread_create(&thread, nil, { _ in
        _ = try? recv([0.0], source: anySource, tag: 98)
        return nil
    }, nil)
    precondition(made == 0, "pthread_create failed (\(made))")
}
