// One collective through swift-mpi as a package dependency: every rank
// contributes [rank, 1], every rank checks the sum and prints one line.
import MPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

let comm = try Communicator.default
let (rank, size) = (comm.rank, comm.size)
let (sum, _) = try allreduce(ShapedArray([Double(rank), 1]), op: .sum)
let expected = [Double(size * (size - 1) / 2), Double(size)]
guard sum.scalars == expected else {
    print("consumer: rank \(rank) of \(size): allreduce gave \(sum.scalars), expected \(expected)")
    exit(1)
}
print("consumer: rank \(rank) of \(size): allreduce gave \(sum.scalars)")
