// Running on a cluster: which library and thread level a job got, and how a
// rank reports an error before it leaves.
import MPI

#if canImport(Glibc)
import Glibc
#endif

// snippet.thread-level
// Ask for MPI_THREAD_MULTIPLE before any other call,
// and check what the library gives.
let provided = try MPIRuntime.initialize(threadLevel: .multiple)
if provided < .multiple {
    print("this MPI library provides only \(provided)")
}
// snippet.end

// snippet.which-library
let comm = try Communicator.default
if comm.rank == 0 {
    let (major, minor) = MPIRuntime.standardVersion
    let (library, level) = (MPIRuntime.implementation.rawValue, MPIRuntime.threadLevel)
    print("\(library), MPI \(major).\(minor), \(comm.size) ranks, \(level)")
}
// snippet.end

// snippet.failure
do throws(MPIError) {
    let (sum, _) = try allreduce([1.0, 2.0], op: .sum)
    print("rank \(comm.rank): \(sum)")
} catch {
    // Argument errors are thrown on every rank alike, so every rank leaves here.
    print("rank \(comm.rank): \(error)")
    exit(1)
}
// snippet.end
