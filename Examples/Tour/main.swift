// A tour of every primitive of swift-mpi, with printed results.
//
//   mpirun -n 4 .build/debug/mpi-tour
//
// Each rank prints its own lines, prefixed with its rank; lines of different
// ranks may interleave.
import ComplexModule
import MPI

#if canImport(Glibc)
import Glibc
#endif

// No arguments: refuse any, before MPI starts, rather than run the tour regardless.
if CommandLine.arguments.count > 1 {
    let usage = "usage: mpi-tour (no arguments; launch it with mpirun -n N)\n"
    _ = usage.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    exit(CommandLine.arguments.dropFirst().allSatisfy { $0 == "-h" || $0 == "--help" } ? 0 : 2)
}

let comm = try Communicator.default
let rank = comm.rank
let size = comm.size

func say(_ text: String) { print("r\(rank) | \(text)") }

if rank == 0 {
    print("swift-mpi tour on \(size) rank(s): \(MPIRuntime.implementation.rawValue), MPI \(MPIRuntime.standardVersion.major).\(MPIRuntime.standardVersion.minor), thread level \(MPIRuntime.threadLevel)")
}
var token = try barrier()

// allreduce: every rank contributes [rank, 1]; everyone gets [sum of ranks, size].
let local = ShapedArray([Double(rank), 1])
let (total, t1) = try allreduce(local, op: .sum, token: token)
say("allreduce(sum) of [rank, 1] = \(total)")
token = t1

// allgather: a scalar from each rank becomes a [size] array.
let (gathered, t2) = try allgather(rank * 10, token: token)
say("allgather(rank * 10) = \(gathered)")
token = t2

// alltoall: row i goes to rank i.
let rows = ShapedArray(shape: [size, 2], scalars: (0..<size).flatMap { [Int32(rank * 100 + $0), Int32(-rank)] })
let (exchanged, t3) = try alltoall(rows, token: token)
say("alltoall: row i of the result came from rank i: \(exchanged)")
token = t3

// bcast: the root's data replaces the template elsewhere.
let root = size - 1
let (broadcast, t4) = try bcast(ShapedArray(shape: [2, 2], scalars: Array(repeating: Float(rank), count: 4)), root: root, token: token)
say("bcast from rank \(root) = \(broadcast)")
token = t4

// gather: shape [size] on the root, the input unchanged elsewhere.
let (onRoot, t5) = try gather(ShapedArray([Int64(rank), Int64(rank * rank)]), root: 0, token: token)
say("gather to rank 0: shape \(onRoot.shape) \(onRoot)")
token = t5

// reduce: the root gets the product; the others get their input back.
let (product, t6) = try reduce(Double(rank + 1), op: .product, root: 0, token: token)
say("reduce(product) of rank+1 to rank 0 = \(product)")
token = t6

// scan: inclusive prefix sums.
let (prefix, t7) = try scan(rank + 1, op: .sum, token: token)
say("scan(sum) of rank+1 = \(prefix)")
token = t7

// scatter: the root holds [size, 3]; each rank gets one row.
let table = ShapedArray(shape: [size, 3], scalars: (0..<(size * 3)).map { Double($0) })
let template = ShapedArray(repeating: 0.0, shape: [3])
let (row, t8) = try scatter(rank == 0 ? table : template, root: 0, token: token)
say("scatter row from rank 0 = \(row)")
token = t8

// sendrecv around a ring, with complex numbers.
let right = (rank + 1) % size, left = (rank + size - 1) % size
let status = Status()
let (fromLeft, t9) = try sendrecv(
    [Complex(Double(rank), 1)], [Complex(0.0, 0)], source: left, dest: right, status: status, token: token)
say("sendrecv ring: got \(fromLeft) from rank \(status.source) (tag \(status.tag), \(status.count) element)")
token = t9

// send / recv: every rank > 0 sends to rank 0, which receives from any source.
if rank == 0 {
    for _ in 1..<size {
        let info = Status()
        let (message, t) = try recv(ShapedArray(repeating: Float16(0), shape: [2]), tag: 7, status: info, token: token)
        say("recv from rank \(info.source) with tag \(info.tag): \(message)")
        token = t
    }
} else {
    token = try send(ShapedArray([Float16(rank), Float16(0.5)]), dest: 0, tag: 7, token: token)
}

// Half precision reductions and logical ops on Bool.
let (halfSum, _) = try allreduce([Float16(0.25), Float16(rank)], op: .sum)
let (allEven, _) = try allreduce(rank % 2 == 0, op: .logicalAnd)
say("allreduce(sum) of Float16 [0.25, rank] = \(halfSum); all ranks even: \(allEven)")

// Errors are thrown, typed, on every rank that can know.
do {
    _ = try bcast(1.0, root: size)
} catch {
    say("bcast with root \(size) threw: \(error)")
}

// Tokens thread automatically through a closure.
let (_, last) = try autoTokenize {
    let (a, _) = try allreduce(1.0, op: .sum)
    let (b, _) = try allreduce(a, op: .sum)
    return b
}
say("autoTokenize ordered 2 operations: last token \(last); manual chain reached \(token)")
