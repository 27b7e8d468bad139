// Each mpi4jax primitive and its Swift spelling, on ShapedArray values.
// Runs at any number of ranks; every result is checked.
import MPI

let comm = try Communicator.default
let (rank, size) = (comm.rank, comm.size)
// snippet.hide
func expect(_ ok: Bool, _ what: String) { precondition(ok, "FromMpi4jax: \(what) on rank \(rank)") }
// snippet.show

// snippet.allgather
// mpi4jax: res, token = allgather(x)
// Shape [size, 2]: row r came from rank r.
let (everyone, _) = try allgather(ShapedArray([Double(rank), 1]))
// snippet.end

// snippet.allreduce
// mpi4jax: res, token = allreduce(x, op=MPI.SUM)
let (total, _) = try allreduce(ShapedArray(repeating: 1.0, shape: [3, 2]), op: .sum)
// snippet.end

// snippet.alltoall
// mpi4jax: res, token = alltoall(x)   (x.shape[0] == size)
let blocks = ShapedArray(shape: [size, 2],
                         scalars: (0..<size * 2).map { Double(rank * 100 + $0) })
let (exchanged, _) = try alltoall(blocks)   // row i came from rank i
// snippet.end

// snippet.barrier
// mpi4jax: token = barrier()
try barrier()
// snippet.end

// snippet.bcast
// mpi4jax: res, token = bcast(x, root=0)
let mine = ShapedArray(repeating: Double(rank), shape: [2])
let (fromRoot, _) = try bcast(mine, root: 0)   // the root's data
// snippet.end

// snippet.gather
// mpi4jax: res, token = gather(x, root=0)
// On the root, shape [size, 1]; elsewhere, the input unchanged.
let (stacked, _) = try gather(ShapedArray([Double(rank)]), root: 0)
// snippet.end

// snippet.reduce
// mpi4jax: res, token = reduce(x, op=MPI.PROD, root=0)
// On the root, the product; elsewhere, the input unchanged.
let (product, _) = try reduce(Double(rank + 1), op: .product, root: 0)
// snippet.end

// snippet.scan
// mpi4jax: res, token = scan(x, op=MPI.SUM)
let (prefix, _) = try scan(rank + 1, op: .sum)   // 1 + 2 + … + (rank + 1)
// snippet.end

// snippet.scatter
// mpi4jax: res, token = scatter(x, root=0)
let table = ShapedArray(shape: [size, 3], scalars: (0..<size * 3).map(Double.init))
let template = ShapedArray(repeating: 0.0, shape: [3])
// Every rank gets row `rank` of the root's table.
let (row, _) = try scatter(rank == 0 ? table : template, root: 0)
// snippet.end

// snippet.sendrecv
// mpi4jax: res, token = sendrecv(sendbuf, recvbuf, source=left, dest=right,
//                                 status=status)
let right = (rank + 1) % size, left = (rank + size - 1) % size
let status = Status()
let (fromLeft, _) = try sendrecv(ShapedArray([Double(rank)]), ShapedArray([0.0]),
                                 source: left, dest: right, status: status)
// status.source == left, status.tag == 0, status.count == 1
// snippet.end

// snippet.send-recv
// mpi4jax: token = send(x, dest=1, tag=7)  /  res, token = recv(x, source=0, tag=7)
if size > 1 && rank == 0 {
    try send(ShapedArray([1.0, 2.0]), dest: 1, tag: 7)
} else if size > 1 && rank == 1 {
    let template = ShapedArray(repeating: 0.0, shape: [2])
    let (message, _) = try recv(template, source: 0, tag: 7)
    // snippet.hide
    expect(message.scalars == [1, 2], "recv")
    // snippet.show
}
// snippet.end

// snippet.tokens
// mpi4jax: token = barrier(); a, token = allreduce(x, op=MPI.SUM, token=token); ...
let start = try barrier()
let (a, t1) = try allreduce(1.0, op: .sum, token: start)
let (b, t2) = try allreduce(a, op: .sum, token: t1)
// t2.sequence == start.sequence + 2
// snippet.end

// snippet.auto-tokenize
// mpi4jax: auto_tokenize(f)(x)
func twice(_ x: Double) throws(MPIError) -> Double {
    let (y, _) = try allreduce(x, op: .sum)
    return try allreduce(y, op: .sum).0
}
let c = try autoTokenize(twice)(1.0)
// Or a block, which also returns the chain's last token:
let (d, last) = try autoTokenize {
    let (x, _) = try allreduce(1.0, op: .sum)
    let (y, _) = try allreduce(x, op: .sum)
    return y
}
// last.sequence == 2
// snippet.end

// snippet.cuda
// mpi4jax: has_cuda_support()
let gpu = hasCUDASupport()   // false: every buffer is host memory
// snippet.end

// snippet.hide
expect(everyone.shape == [size, 2] && everyone[size - 1, 0] == Double(size - 1), "allgather")
expect(total.scalars.allSatisfy { $0 == Double(size) }, "allreduce")
expect((0..<size).allSatisfy { exchanged[$0, 0] == Double($0 * 100 + rank * 2) }, "alltoall")
expect(fromRoot.scalars == [0, 0], "bcast")
expect(rank == 0 ? stacked.shape == [size, 1] : stacked.scalars == [Double(rank)], "gather")
expect(rank == 0 ? product == Double((1...size).reduce(1, *)) : product == Double(rank + 1), "reduce")
expect(prefix == (rank + 1) * (rank + 2) / 2, "scan")
expect(row.scalars == (0..<3).map { Double(rank * 3 + $0) }, "scatter")
expect(fromLeft.scalars == [Double(left)] && status.source == left && status.count == 1, "sendrecv")
expect(t2.sequence == start.sequence + 2 && b == Double(size * size), "tokens")
expect(last.sequence == 2 && c == Double(size * size) && d == c, "autoTokenize")
expect(!gpu, "hasCUDASupport")
