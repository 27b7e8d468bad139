// A master/worker program with async/await: the master hands out jobs and
// collects the answers with any-source receives; every worker runs several
// tasks, each awaiting its own jobs. No thread blocks in MPI while it waits:
// the package's progress engine completes the awaited requests.
//
//   mpirun -n 4 .build/debug/mpi-master-worker [JOBS]
//
// Rank 0 is the master (at one rank it also works). A job is a number n; its
// answer is the sum of the squares 0...n, checked by the master. A job of -1
// tells a worker task to stop.
import MPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The tags of the two kinds of message.
let jobTag = 1, answerTag = 2

/// What each worker task does: receive a job from the master, answer it, until told to stop.
func workerTask(master: Int, task: Int) async throws -> Int {
    var done = 0
    while true {
        let job = try await irecv([Int64(0)], source: master, tag: jobTag + 10 * task).value()[0]
        if job < 0 { return done }
        let answer = (0...job).reduce(Int64(0)) { $0 + $1 * $1 }
        try await isend([job, answer, Int64(task)], dest: master, tag: answerTag).value()
        done += 1
    }
}

// Every rank reads the same argument, so every rank rejects a bad one alike, before MPI starts.
let jobsArgument = CommandLine.arguments.dropFirst().first
guard CommandLine.arguments.count <= 2, let jobs = jobsArgument.map({ Int($0) }) ?? 40, jobs >= 0 else {
    let got = CommandLine.arguments.dropFirst().joined(separator: " ")
    let usage = "usage: mpi-master-worker [JOBS] (JOBS a whole number of 0 or more; got \(got))\n"
    _ = usage.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    exit(2)
}
let comm = try Communicator.default
let (rank, size) = (comm.rank, comm.size)
let tasksPerWorker = 3
let master = 0

if rank == master {
    // The workers: every task of every other rank (or this rank's own tasks at one rank).
    let workerRanks = size == 1 ? [master] : Array(1..<size)
    let slots = workerRanks.flatMap { worker in (0..<tasksPerWorker).map { (worker, $0) } }
    let localWork = Task { () async throws -> Int in
        guard size == 1 else { return 0 }
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<tasksPerWorker { group.addTask { try await workerTask(master: master, task: task) } }
            var total = 0
            for try await done in group { total += done }
            return total
        }
    }
    var next = 0
    var outstanding = 0
    for (worker, task) in slots where next < jobs {
        try await isend([Int64(next)], dest: worker, tag: jobTag + 10 * task).value()
        next += 1
        outstanding += 1
    }
    var answered: [Int64: Int64] = [:]
    var jobsPerRank = [Int](repeating: 0, count: size)
    while outstanding > 0 {
        // Whichever worker answers first: an any-source receive, with its Status.
        let status = Status()
        let answer = try await irecv([Int64(0), 0, 0], source: anySource, tag: answerTag, status: status).value()
        answered[answer[0]] = answer[1]
        jobsPerRank[status.source] += 1
        outstanding -= 1
        let task = Int(answer[2])
        let reply = next < jobs ? Int64(next) : -1
        try await isend([reply], dest: status.source, tag: jobTag + 10 * task).value()
        if next < jobs {
            next += 1
            outstanding += 1
        }
    }
    // Stop the tasks that never got a job (when there are more tasks than jobs).
    for (index, (worker, task)) in slots.enumerated() where index >= jobs {
        try await isend([Int64(-1)], dest: worker, tag: jobTag + 10 * task).value()
    }
    _ = try await localWork.value
    let wrong = (0..<jobs).filter { n in answered[Int64(n)] != (0...n).reduce(0) { $0 + Int64($1 * $1) } }
    print("master: \(answered.count) of \(jobs) jobs answered, \(wrong.count) wrong; jobs per rank: \(jobsPerRank)")
    if !wrong.isEmpty || answered.count != jobs { fatalError("master: wrong answers for jobs \(wrong)") }
} else {
    let done = try await withThrowingTaskGroup(of: Int.self) { group in
        for task in 0..<tasksPerWorker { group.addTask { try await workerTask(master: master, task: task) } }
        var total = 0
        for try await done in group { total += done }
        return total
    }
    print("worker \(rank): \(done) jobs")
}
try barrier()
