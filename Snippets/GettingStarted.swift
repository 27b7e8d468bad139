// The first program: each rank contributes its rank number, and every rank
// gets the sum. Run it with a launcher (`mpirun -n 4 .build/debug/GettingStarted`)
// or on its own, as one rank.
// snippet.first
import MPI

let comm = try Communicator.default
let (total, _) = try allreduce(comm.rank, op: .sum)
print("rank \(comm.rank) of \(comm.size): the ranks add up to \(total)")
// snippet.end

// snippet.arrays
// A 2 × 3 array on every rank, filled with the rank number.
let mine = ShapedArray(repeating: Double(comm.rank), shape: [2, 3])
// Every rank gets the rows of every rank: shape [size, 2, 3].
let (all, _) = try allgather(mine)
print("rank \(comm.rank): gathered shape \(all.shape)")
// snippet.end

// snippet.errors
do throws(MPIError) {
    // There is no rank `size`: every rank throws the same error,
    // and nothing is sent.
    _ = try bcast([1.0, 2.0], root: comm.size)
} catch {
    print("rank \(comm.rank): \(error)")
}
// snippet.end

// snippet.hide
precondition(total == comm.size * (comm.size - 1) / 2, "allreduce: wrong sum \(total)")
precondition(all.shape == [comm.size, 2, 3] && all[comm.size - 1, 1, 2] == Double(comm.size - 1), "allgather")
