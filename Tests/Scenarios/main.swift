// mpi-scenarios: small MPI programs that misbehave on purpose, for the tests of
// the watchdog and of failure behaviour (Scripts/test runs them under mpirun
// and checks their output, exit status and duration).
//
//   mpi-scenarios ok                  a few collectives, then a normal exit
//   mpi-scenarios skipped-collective  the last rank skips one allreduce
//   mpi-scenarios different-order     rank 0 calls barrier then allreduce, the others the reverse
//   mpi-scenarios unmatched-recv      rank 0 receives a message that nobody sends
//   mpi-scenarios loop SECONDS        allreduce in a loop for SECONDS (for cut links and killed hosts)
//   mpi-scenarios exit-early STATUS   the last rank exits with STATUS while the others loop in allreduce
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
    say("usage: mpi-scenarios ok|skipped-collective|different-order|unmatched-recv|loop SECONDS|exit-early STATUS")
    exit(2)
}

do {
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
        var iterations = 0
        while true {
            _ = try allreduce([Double](repeating: 1, count: 1024), op: .sum)
            iterations += 1
            clock_gettime(CLOCK_MONOTONIC, &t)
            if Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 > end { break }
        }
        // Every rank ends after the same number of iterations: agree on it first.
        say("rank \(rank): looped")
        try barrier()
    case "exit-early":
        let status = Int32(arguments.dropFirst().first ?? "1") ?? 1
        if rank == size - 1 {
            say("rank \(rank): exiting with status \(status)")
            exit(status)
        }
        while true { _ = try allreduce(1.0, op: .sum) }
    default:
        say("unknown scenario \(scenario)")
        exit(2)
    }
} catch {
    say("error: \(error)")
    exit(3)
}
