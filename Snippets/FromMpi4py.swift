// mpi4py's buffer API (the capitalised methods) and the `into:` forms of swift-mpi,
// which write into storage the caller owns and allocate nothing.
// Runs at any number of ranks; every result is checked.
import MPI

// snippet.communicator
// mpi4py: comm = MPI.COMM_WORLD.Dup()
//         rank, size = comm.Get_rank(), comm.Get_size()
let comm = try Communicator.default       // a duplicate of the world, made once
let (rank, size) = (comm.rank, comm.size)
let halves = try comm.split(color: rank % 2, key: rank)   // comm.Split(color, key)
let copy = try comm.duplicate()                            // comm.Dup()
// snippet.end
// snippet.hide
func expect(_ ok: Bool, _ what: String) { precondition(ok, "FromMpi4py: \(what) on rank \(rank)") }
let right = (rank + 1) % size, left = (rank + size - 1) % size
// snippet.show

// snippet.allreduce
// mpi4py: comm.Allreduce(local, total, op=MPI.SUM)
let local: [Double] = [Double(rank), 1, 2]
var total = [Double](repeating: 0, count: 3)
try allreduce(local, into: &total, op: .sum, comm: comm)
// snippet.end

// snippet.bcast
// mpi4py: comm.Bcast(buffer, root=0)
var buffer = rank == 0 ? [1.0, 2.0, 3.0] : [Double](repeating: 0, count: 3)
try bcast(inPlace: &buffer, root: 0, comm: comm)
// snippet.end

// snippet.sendrecv
// mpi4py: comm.Sendrecv(mine, dest=right, recvbuf=received, source=left)
var received = [Double](repeating: 0, count: 2)
try sendrecv([Double(rank), -1], into: &received,
             source: left, dest: right, comm: comm)
// snippet.end

// snippet.send-recv
// mpi4py: comm.Send(data, dest=1, tag=11)
//         comm.Recv(message, source=0, tag=11, status=status)
if size > 1 && rank == 0 {
    try send([Int32(1), 2, 3], dest: 1, tag: 11, comm: comm)
} else if size > 1 && rank == 1 {
    var message = [Int32](repeating: 0, count: 3)
    let status = Status()
    try recv(into: &message, source: 0, tag: 11, comm: comm, status: status)
    // status.source == 0, status.tag == 11, status.count == 3
    // snippet.hide
    expect(message == [1, 2, 3] && status.source == 0 && status.tag == 11 && status.count == 3, "recv")
    // snippet.show
}
// snippet.end

// snippet.gather
// mpi4py: comm.Gather(mine, table, root=0)   (table is None off the root)
var table = [Double](repeating: 0, count: rank == 0 ? size * 2 : 0)
try gather([Double(rank), 1], into: &table, root: 0, comm: comm)
// snippet.end

// snippet.scatter
// mpi4py: comm.Scatter(table, mine, root=0)   (table is None off the root)
let rows: [Double] = rank == 0 ? (0..<size * 2).map(Double.init) : []
var mine = [Double](repeating: 0, count: 2)
try scatter(rows, into: &mine, root: 0, comm: comm)
// snippet.end

// snippet.others
// mpi4py: comm.Allgather(x, y); comm.Alltoall(x, y)
//         comm.Reduce(x, y, op, root); comm.Scan(x, y, op); comm.Barrier()
var gathered = ShapedArray(repeating: 0, shape: [size, 2])
try allgather([rank, rank], into: &gathered, comm: comm)
var swapped = [Int](repeating: 0, count: size)
try alltoall([Int](repeating: rank, count: size), into: &swapped, comm: comm)
var largest = [Int](repeating: 0, count: 1)
try reduce([rank], into: &largest, op: .max, root: 0, comm: comm)
var prefix = [Int](repeating: 0, count: 1)
try scan([1], into: &prefix, op: .sum, comm: comm)
try barrier(comm: comm)
// snippet.end

// snippet.hot-loop
// Allocate once, then reuse the same storage on every step.
var sum = [Double](repeating: 0, count: local.count)
for _ in 0..<100 {
    try allreduce(local, into: &sum, op: .sum)
}
// snippet.end

// snippet.hide
let ranks = Double(size * (size - 1) / 2)
expect(halves.size == (size + 1 - rank % 2) / 2 && copy.size == size, "split, duplicate")
expect(total == [ranks, Double(size), Double(2 * size)] && sum == total, "allreduce")
expect(buffer == [1, 2, 3], "bcast")
expect(received == [Double(left), -1], "sendrecv")
expect(rank != 0 || table == (0..<size).flatMap { [Double($0), 1] }, "gather")
expect(mine == [Double(rank * 2), Double(rank * 2 + 1)], "scatter")
expect(gathered.scalars == (0..<size).flatMap { [$0, $0] } && swapped == Array(0..<size), "allgather, alltoall")
expect((rank != 0 || largest == [size - 1]) && prefix == [rank + 1], "reduce, scan")
