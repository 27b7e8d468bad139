// The Swift side of the wire-compatibility jobs: one MPMD job runs this
// program beside a C program (Tests/Interop/interop.c) that makes the plain MPI
// calls, and each side checks what it receives.
//
//   mpirun -n 1 .build/debug/mpi-interop MODE PRIMITIVE... : -n 1 ./interop-c MODE PRIMITIVE...
//
// MODE is where the primitives run:
//   world     on MPI_COMM_WORLD (`comm: .world`);
//   default   on the package's default communicator (`comm: nil`), after one
//             barrier on the world: the C program calls MPI_Comm_dup(MPI_COMM_WORLD)
//             right after that barrier, which is where the default communicator
//             must be created (on first use, not when MPI is initialised).
// PRIMITIVE is one of allgather, allreduce, alltoall, barrier, bcast, gather,
// reduce, scan, scatter, sendrecv, send-recv (send and recv), allgatherv,
// gatherv, scatterv, alltoallv, reduce-scatter-block, exscan, reduce-scatter,
// isend-irecv, iallreduce, ibcast, iallgather, igather, iscatter,
// neighbor-allgather, neighbor-alltoall, neighbor-allgatherv, neighbor-alltoallv
// (explicit counts), persistent (a PersistentPlan halo exchange), or `all`
// (every one, in that order). Collectives with a root run once per root.
//
// The variable-size collectives use the explicit-counts forms (`counts:`,
// `sendCounts:receiveCounts:`), which make exactly the one MPI call. The easy
// forms (`allgatherv(_:)`, `gatherv(_:root:)`, `scatterv(_:rowCounts:root:)`,
// `alltoallv(_:rowCounts:)`) are not tested here: by design they first exchange
// the block lengths and row shapes with one small collective of their own (an
// allgather or a bcast), which a C rank making only the plain MPI_*v call does
// not make, so they cannot share a communicator with such a rank.
//
// The non-blocking primitives start the package's i-form and wait for it with
// `wait()` (isend-irecv also with RequestSet.waitAll); the C side makes the matching non-blocking call (MPI_Iallreduce, ...)
// for the collectives, since MPI never matches a non-blocking collective with a
// blocking one, and plain MPI_Send / MPI_Recv for isend / irecv.
//
// The data is computed from the sender's rank, the receiver's rank, the root
// and the element index, by the same formulas on both sides (see the comment at
// the top of interop.c). Each rank prints "interop RANK swift READY" once MPI
// is set up, "interop RANK swift START PRIMITIVE" before each primitive (so a
// hang shows where each rank stopped) and one result line per primitive:
// "interop RANK swift PASS|FAIL PRIMITIVE [what was wrong]"; it exits with
// status 1 if anything failed or threw.
import MPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes a line to standard error (unbuffered).
func printError(_ line: String) { writeLine(line, to: 2) }

/// Writes a line to standard output in one `write`, so that the launcher, which
/// merges the ranks' outputs, never splits it.
func say(_ line: String) { writeLine(line, to: 1) }

func writeLine(_ line: String, to descriptor: Int32) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
}

/// Elements per block.
let k = 3

/// Every primitive, in the order that `all` runs them.
let primitives = [
    "allgather", "allreduce", "alltoall", "barrier", "bcast", "gather",
    "reduce", "scan", "scatter", "sendrecv", "send-recv",
    "allgatherv", "gatherv", "scatterv", "alltoallv", "reduce-scatter-block", "exscan", "reduce-scatter",
    "isend-irecv", "iallreduce", "ibcast", "iallgather", "igather", "iscatter", "neighbor-allgather",
    "neighbor-alltoall", "neighbor-allgatherv", "neighbor-alltoallv", "persistent",
]

/// Rank `s`'s block length in round `t` (the root, 0 for allgatherv) of the variable-size
/// collectives: ragged, and zero on rank `(t + 1) % n`.
func vcount(_ s: Int, _ t: Int, _ n: Int) -> Int { s == (t + 1) % n ? 0 : 1 + (s + 2 * t) % 4 }

/// Displacements for `counts` that leave one element free before each block (and one at the end), and
/// a function that lays packed blocks out that way, with `fill` in the gaps.
func spacedLayout(_ counts: [Int]) -> ([Int], ([Int32], Int32) -> [Int32]) {
    var displacements: [Int] = [], next = 1
    for c in counts { displacements.append(next); next += c + 1 }
    let layout = { (packed: [Int32], fill: Int32) -> [Int32] in
        var out = [Int32](repeating: fill, count: next)
        var from = 0
        for (c, d) in zip(counts, displacements) {
            for i in 0..<c { out[d + i] = packed[from + i] }
            from += c
        }
        return out
    }
    return (displacements, layout)
}

/// The neighbour v-collectives' block length for rank `q`: ragged, zero on rank 1.
func ncount(_ q: Int) -> Int { q == 1 ? 0 : q + 2 }

/// alltoallv's count from rank `s` to rank `d`: zero when `s == (d + 1) % n`.
func acount(_ s: Int, _ d: Int, _ n: Int) -> Int { s == (d + 1) % n ? 0 : 1 + s + 2 * d }

/// Collects what a primitive got wrong on this rank.
struct Mismatches {
    var lines: [String] = []
    mutating func expect<T: Equatable>(_ got: [T], _ expected: [T], _ what: String) {
        if got != expected, lines.count < 5 { lines.append("\(what): got \(got), expected \(expected)") }
    }
    /// The blocks of a neighbour collective, the first two of `length` elements each; with `either`,
    /// those two in either order (both neighbours of the first dimension are one rank: MPI may fill
    /// their two blocks in either order).
    mutating func expectRows<T: Equatable>(
        _ got: [T], _ expected: [T], length: Int = k, either: Bool, _ what: String
    ) {
        if either, got.count == expected.count, got.count >= 2 * length,
           got == Array(expected[length..<(2 * length)] + expected[..<length] + expected[(2 * length)...]) { return }
        expect(got, expected, what)
    }
}

/// Grid `p` of the neighbour collectives: 1, 1-D periodic; 0, 1-D not periodic; 2, 2-D n x 1 periodic
/// in its first dimension only (the second dimension's two neighbours are null). Made as the C side
/// makes it (`MPI_Cart_create`, reorder false; a collective, so each grid is made just before its
/// primitive runs, in the same order on both sides), with the number of neighbours (rows) and this
/// rank's two neighbours in the first dimension (`nil` past a wall); `nil` off the grid.
func neighborGrid(_ p: Int, comm: Communicator?, rank r: Int, size n: Int) throws
    -> (grid: CartesianCommunicator, wraps: Bool, rows: Int, left: Int?, right: Int?)? {
    let (dimensions, periodic) = p == 2 ? ([n, 1], [true, false]) : ([n], [p == 1])
    guard let grid = try (comm ?? .default).cartesian(dimensions: dimensions, periodic: periodic) else { return nil }
    let wraps = periodic[0]
    return (grid, wraps, 2 * dimensions.count, wraps || r > 0 ? (r - 1 + n) % n : nil,
            wraps || r < n - 1 ? (r + 1) % n : nil)
}

func run(_ primitive: String, comm: Communicator?, rank r: Int, size n: Int) throws -> Mismatches {
    var m = Mismatches()
    let elements = 0..<k
    switch primitive {
    case "allgather":
        let mine = elements.map { Int32(1000 * r + $0 + 1) }
        let (got, _) = try allgather(mine, comm: comm)
        m.expect(got.shape, [n, k], "shape")
        m.expect(got.scalars, (0..<n).flatMap { s in elements.map { Int32(1000 * s + $0 + 1) } }, "data")
    case "allreduce":
        let mine = elements.map { Double((r + 1) * ($0 + 1)) + 0.5 }
        let (sum, _) = try allreduce(ShapedArray(mine), op: .sum, comm: comm)
        m.expect(sum.scalars, elements.map { Double(($0 + 1) * n * (n + 1) / 2) + 0.5 * Double(n) }, "sum")
        let (maximum, _) = try allreduce(ShapedArray(elements.map { Int32(10 * r + $0) }), op: .max, comm: comm)
        m.expect(maximum.scalars, elements.map { Int32(10 * (n - 1) + $0) }, "max")
    case "alltoall":
        let rows = ShapedArray(shape: [n, k], scalars: (0..<n).flatMap { d in elements.map { Int32(10000 * r + 100 * d + $0) } })
        let (got, _) = try alltoall(rows, comm: comm)
        m.expect(got.scalars, (0..<n).flatMap { s in elements.map { Int32(10000 * s + 100 * r + $0) } }, "data")
    case "barrier":
        for _ in 0..<3 { try barrier(comm: comm) }
    case "bcast":
        for root in 0..<n {
            let input = r == root ? elements.map { Int32(100 * root + $0 + 1) } : [Int32](repeating: -1, count: k)
            let (got, _) = try bcast(ShapedArray(input), root: root, comm: comm)
            m.expect(got.scalars, elements.map { Int32(100 * root + $0 + 1) }, "root \(root)")
        }
    case "gather":
        for root in 0..<n {
            let mine = elements.map { Int32(100 * r + 10 * root + $0) }
            let (got, _) = try gather(mine, root: root, comm: comm)
            if r == root {
                m.expect(got.shape, [n, k], "root \(root) shape")
                m.expect(got.scalars, (0..<n).flatMap { s in elements.map { Int32(100 * s + 10 * root + $0) } }, "root \(root)")
            } else {
                m.expect(got.scalars, mine, "root \(root), non-root result")
            }
        }
    case "reduce":
        for root in 0..<n {
            let mine = elements.map { Double((r + 1) * ($0 + 1) + root) }
            let (got, _) = try reduce(ShapedArray(mine), op: .sum, root: root, comm: comm)
            let expected = r == root ? elements.map { Double(($0 + 1) * n * (n + 1) / 2 + n * root) } : mine
            m.expect(got.scalars, expected, "root \(root)")
        }
    case "scan":
        let mine = elements.map { Double((r + 1) * ($0 + 1)) }
        let (got, _) = try scan(ShapedArray(mine), op: .sum, comm: comm)
        m.expect(got.scalars, elements.map { Double(($0 + 1) * (r + 1) * (r + 2) / 2) }, "prefix sum")
    case "scatter":
        for root in 0..<n {
            let input = r == root
                ? ShapedArray(shape: [n, k], scalars: (0..<n).flatMap { d in elements.map { Int32(1000 * root + 10 * d + $0) } })
                : ShapedArray(repeating: Int32(-1), shape: [k])
            let (got, _) = try scatter(input, root: root, comm: comm)
            m.expect(got.scalars, elements.map { Int32(1000 * root + 10 * r + $0) }, "root \(root)")
        }
    case "sendrecv":
        for shift in 1..<n {
            let dest = (r + shift) % n, source = (r - shift + n) % n
            let status = Status()
            let (got, _) = try sendrecv(
                elements.map { Int32(500 * r + 50 * shift + $0) }, [Int32](repeating: -1, count: k),
                source: source, dest: dest, sendtag: shift, recvtag: shift, comm: comm, status: status)
            m.expect(got, elements.map { Int32(500 * source + 50 * shift + $0) }, "shift \(shift)")
            m.expect([status.source, status.tag, status.count], [source, shift, k], "shift \(shift) status")
        }
    case "send-recv":
        // Every ordered pair in one global order: each rank's sends and receives
        // follow it, so blocking calls cannot deadlock.
        for source in 0..<n {
            for dest in 0..<n where dest != source {
                if r == source {
                    try send(elements.map { Int32(100 * source + 10 * dest + $0) }, dest: dest, tag: 10 + source, comm: comm)
                } else if r == dest {
                    let status = Status()
                    let (got, _) = try recv([Int32](repeating: -1, count: k), source: source, tag: 10 + source,
                                            comm: comm, status: status)
                    m.expect(got, elements.map { Int32(100 * source + 10 * dest + $0) }, "from \(source)")
                    m.expect([status.source, status.tag, status.count], [source, 10 + source, k], "from \(source) status")
                }
            }
        }
    case "allgatherv":
        let counts = (0..<n).map { vcount($0, 0, n) }
        let mine = (0..<counts[r]).map { Int32(1000 * r + $0 + 1) }
        let expected = (0..<n).flatMap { s in (0..<counts[s]).map { Int32(1000 * s + $0 + 1) } }
        let (got, _) = try allgatherv(mine, counts: counts, comm: comm)
        m.expect(got, expected, "data \(counts)")
        // The same message again, into: with displacements that leave gaps (local only).
        let (spaced, gapped) = spacedLayout(counts)
        var output = [Int32](repeating: -7, count: spaced.last! + counts.last! + 1)
        try allgatherv(mine, into: &output, counts: counts, displacements: spaced, comm: comm)
        m.expect(output, gapped(expected, -7), "into: with displacements \(spaced)")
    case "gatherv":
        for root in 0..<n {
            let counts = (0..<n).map { vcount($0, root, n) }
            let mine = (0..<counts[r]).map { Int32(100 * r + 10 * root + $0) }
            let expected = (0..<n).flatMap { s in (0..<counts[s]).map { Int32(100 * s + 10 * root + $0) } }
            let (got, _) = try gatherv(mine, counts: counts, root: root, comm: comm)
            if r == root {
                m.expect(got ?? [], expected, "root \(root) \(counts)")
            } else if got != nil {
                m.lines.append("root \(root): a non-root rank got a result")
            }
            // The same message again, into: with displacements that leave gaps (local only).
            let (spaced, gapped) = spacedLayout(counts)
            var output = [Int32](repeating: -7, count: spaced.last! + counts.last! + 1)
            try gatherv(mine, into: &output, counts: counts, displacements: spaced, root: root, comm: comm)
            m.expect(output, r == root ? gapped(expected, -7) : [Int32](repeating: -7, count: output.count),
                     "root \(root) into: with displacements \(spaced)")
        }
    case "scatterv":
        for root in 0..<n {
            let counts = (0..<n).map { vcount($0, root, n) }
            let input = r == root ? (0..<n).flatMap { d in (0..<counts[d]).map { Int32(1000 * root + 10 * d + $0) } } : []
            let (got, _) = try scatterv(input, counts: counts, root: root, comm: comm)
            m.expect(got, (0..<counts[r]).map { Int32(1000 * root + 10 * r + $0) }, "root \(root) \(counts)")
        }
    case "alltoallv":
        let sendCounts = (0..<n).map { acount(r, $0, n) }, receiveCounts = (0..<n).map { acount($0, r, n) }
        let input = (0..<n).flatMap { d in (0..<sendCounts[d]).map { Int32(10000 * r + 100 * d + $0) } }
        let expected = (0..<n).flatMap { s in (0..<receiveCounts[s]).map { Int32(10000 * s + 100 * r + $0) } }
        let (got, _) = try alltoallv(input, sendCounts: sendCounts, receiveCounts: receiveCounts, comm: comm)
        m.expect(got, expected, "data from \(receiveCounts)")
        // The same messages again, into: with receive displacements that leave gaps (local only).
        let (spaced, gapped) = spacedLayout(receiveCounts)
        var output = [Int32](repeating: -7, count: spaced.last! + receiveCounts.last! + 1)
        try alltoallv(input, into: &output, sendCounts: sendCounts, receiveCounts: receiveCounts,
                      receiveDisplacements: spaced, comm: comm)
        m.expect(output, gapped(expected, -7), "into: with displacements \(spaced)")
    case "reduce-scatter-block":
        let blocks = (0..<n).flatMap { d in elements.map { Double((r + 1) * (d + 1) + $0) } }
        let (sum, _) = try reduceScatterBlock(blocks, op: .sum, comm: comm)
        m.expect(sum, elements.map { Double((r + 1) * n * (n + 1) / 2 + n * $0) }, "sum")
        let (maximum, _) = try reduceScatterBlock((0..<n).flatMap { d in elements.map { Int32(10 * r + d + $0) } },
                                                  op: .max, comm: comm)
        m.expect(maximum, elements.map { Int32(10 * (n - 1) + r + $0) }, "max")
    case "exscan":
        // Rank 0's result: zeros, as the package defines it (MPI leaves it undefined).
        let (got, _) = try exscan(elements.map { Double((r + 1) * ($0 + 1)) }, op: .sum, comm: comm)
        m.expect(got, elements.map { Double(($0 + 1) * r * (r + 1) / 2) }, "prefix sum")
        let (ints, _) = try exscan(elements.map { Int32(r + $0) }, op: .sum, comm: comm)
        m.expect(ints, elements.map { Int32(r * (r - 1) / 2 + r * $0) }, "int32 prefix sum")
    case "isend-irecv":
        // Round 0: each ordered pair in send-recv's global order, every request waited with wait()
        // at once. Round 1: every receive of this rank started first (from the highest source down),
        // then every send, then all waited (RequestSet.waitAll). The C ranks make the same messages
        // with blocking calls in the global order both times, which this rank never blocks.
        for source in 0..<n {
            for dest in 0..<n where dest != source {
                if r == source {
                    try isend(elements.map { Int32(200 * source + 10 * dest + $0) }, dest: dest, tag: 20 + source,
                              comm: comm).wait()
                } else if r == dest {
                    let status = Status()
                    let request = try irecv([Int32](repeating: -1, count: k), source: source, tag: 20 + source,
                                            comm: comm, status: status)
                    let got = try request.wait()
                    m.expect(got, elements.map { Int32(200 * source + 10 * dest + $0) }, "round 0 from \(source)")
                    m.expect([status.source, status.tag, status.count], [source, 20 + source, k],
                             "round 0 from \(source) status")
                }
            }
        }
        var receives = RequestSet<[Int32]>(), sends = RequestSet<Void>()
        var statuses: [(source: Int, status: Status)] = []
        for source in (0..<n).reversed() where source != r {
            let status = Status()
            receives.append(try irecv([Int32](repeating: -1, count: k), source: source, tag: 30 + source,
                                      comm: comm, status: status))
            statuses.append((source, status))
        }
        for dest in 0..<n where dest != r {
            sends.append(try isend(elements.map { Int32(200 * r + 10 * dest + $0) }, dest: dest, tag: 30 + r, comm: comm))
        }
        let got = try receives.waitAll()
        _ = try sends.waitAll()
        for ((source, status), message) in zip(statuses, got) {
            m.expect(message, elements.map { Int32(200 * source + 10 * r + $0) }, "round 1 from \(source)")
            m.expect([status.source, status.tag, status.count], [source, 30 + source, k], "round 1 from \(source) status")
        }
    case "reduce-scatter":
        let counts = (0..<n).map { vcount($0, 0, n) }
        let x = (0..<n).flatMap { d in (0..<counts[d]).map { Double((r + 1) * (d + 1) + $0) } }
        let (got, _) = try reduceScatter(x, counts: counts, op: .sum, comm: comm)
        m.expect(got, (0..<counts[r]).map { Double((r + 1) * n * (n + 1) / 2 + n * $0) }, "sum \(counts)")
    case "iallreduce":
        let sum = try iallreduce(elements.map { Double((r + 1) * ($0 + 1)) + 0.5 }, op: .sum, comm: comm).wait()
        m.expect(sum, elements.map { Double(($0 + 1) * n * (n + 1) / 2) + 0.5 * Double(n) }, "sum")
        let maximum = try iallreduce(elements.map { Int32(10 * r + $0) }, op: .max, comm: comm).wait()
        m.expect(maximum, elements.map { Int32(10 * (n - 1) + $0) }, "max")
    case "ibcast":
        for root in 0..<n {
            let input = r == root ? elements.map { Int32(100 * root + $0 + 1) } : [Int32](repeating: -1, count: k)
            let got = try ibcast(input, root: root, comm: comm).wait()
            m.expect(got, elements.map { Int32(100 * root + $0 + 1) }, "root \(root)")
        }
    case "iallgather":
        let got = try iallgather(elements.map { Int32(1000 * r + $0 + 1) }, comm: comm).wait()
        m.expect(got.shape, [n, k], "shape")
        m.expect(got.scalars, (0..<n).flatMap { s in elements.map { Int32(1000 * s + $0 + 1) } }, "data")
    case "igather":
        for root in 0..<n {
            let mine = elements.map { Int32(100 * r + 10 * root + $0) }
            let got = try igather(mine, root: root, comm: comm).wait()
            if r == root {
                m.expect(got.shape, [n, k], "root \(root) shape")
                m.expect(got.scalars, (0..<n).flatMap { s in elements.map { Int32(100 * s + 10 * root + $0) } }, "root \(root)")
            } else {
                m.expect(got.scalars, mine, "root \(root), non-root result")
            }
        }
    case "iscatter":
        for root in 0..<n {
            let input = r == root
                ? ShapedArray(shape: [n, k], scalars: (0..<n).flatMap { d in elements.map { Int32(1000 * root + 10 * d + $0) } })
                : ShapedArray(repeating: Int32(-1), shape: [k])
            let got = try iscatter(input, root: root, comm: comm).wait()
            m.expect(got.scalars, elements.map { Int32(1000 * root + 10 * r + $0) }, "root \(root)")
        }
    case "neighbor-allgather", "neighbor-alltoall":
        // Three grids of every rank: 1-D periodic (p = 1), 1-D not (p = 0), 2-D n x 1 periodic in
        // its first dimension only (p = 2: the second dimension's two neighbours are null).
        // Neighbours in MPI's order: for each dimension -1, then +1.
        for p in [1, 0, 2] {
            guard let made = try neighborGrid(p, comm: comm, rank: r, size: n) else {
                m.lines.append("grid \(p): not in the grid")
                continue
            }
            let (grid, wraps, rows, left, right) = made
            let (source, destination) = try grid.shift(dimension: 0)
            m.expect([source ?? -1, destination ?? -1], [left ?? -1, right ?? -1], "grid \(p) shift")
            let nulls = [Int32](repeating: 0, count: (rows - 2) * k)
            if primitive == "neighbor-allgather" {
                let (got, _) = try neighborAllgather(elements.map { Int32(100 * r + 10 * p + $0) },
                                                     comm: grid.communicator)
                m.expect(got.shape, [rows, k], "grid \(p) shape")
                // A row from a null neighbour (past a wall) is zero.
                func row(_ q: Int?) -> [Int32] {
                    guard let q else { return [Int32](repeating: 0, count: k) }
                    return elements.map { i in Int32(100 * q + 10 * p + i) }
                }
                m.expectRows(got.scalars, row(left) + row(right) + nulls, either: wraps && n == 2, "grid \(p)")
            } else {
                // Rank q's row j (to its neighbour j); a row from a null neighbour is zero.
                func row(_ q: Int?, _ j: Int) -> [Int32] {
                    guard let q else { return [Int32](repeating: 0, count: k) }
                    return elements.map { i in Int32(1000 * q + 100 * j + 10 * p + i) }
                }
                let mine: [Int32] = (0..<rows).flatMap { row(r, $0) }
                let (got, _) = try neighborAlltoall(ShapedArray(shape: [rows, k], scalars: mine),
                                                    comm: grid.communicator)
                m.expect(got.shape, [rows, k], "grid \(p) shape")
                // Row 0 from the left neighbour (its row 1, sent to its right), row 1 from the right one (its row 0).
                m.expectRows(got.scalars, row(left, 1) + row(right, 0) + nulls, either: wraps && n == 2, "grid \(p)")
            }
        }
    case "neighbor-allgatherv", "neighbor-alltoallv":
        // The grids of neighbor-allgather; rank q's blocks have ncount(q) elements (zero on rank 1).
        for p in [1, 0, 2] {
            guard let made = try neighborGrid(p, comm: comm, rank: r, size: n) else {
                m.lines.append("grid \(p): not in the grid")
                continue
            }
            let (grid, wraps, rows, left, right) = made
            // A null neighbour's receive count is 0.
            let receiveCounts = (0..<rows).map { j in j < 2 ? [left, right][j].map { ncount($0) } ?? 0 : 0 }
            let allgather = primitive == "neighbor-allgatherv"
            // Neighbour -1 sends its block 1 (to its +1), neighbour +1 its block 0.
            let expected: [Int32] = [left, right].enumerated().flatMap { (j, q) -> [Int32] in
                guard let q else { return [] }
                return (0..<ncount(q)).map { i in
                    Int32(allgather ? 100 * q + 10 * p + i : 1000 * q + 100 * (1 - j) + 10 * p + i)
                }
            }
            let got: [Int32]
            if allgather {
                (got, _) = try neighborAllgatherv((0..<ncount(r)).map { Int32(100 * r + 10 * p + $0) },
                                                  receiveCounts: receiveCounts, comm: grid.communicator)
            } else {
                let blocks: [Int32] = (0..<rows).flatMap { j in (0..<ncount(r)).map { Int32(1000 * r + 100 * j + 10 * p + $0) } }
                (got, _) = try neighborAlltoallv(blocks, sendCounts: [Int](repeating: ncount(r), count: rows),
                                                 receiveCounts: receiveCounts, comm: grid.communicator)
            }
            m.expectRows(got, expected, length: receiveCounts[0], either: wraps && n == 2, "grid \(p) \(receiveCounts)")
        }
    case "persistent":
        // A halo exchange on the ring: to the right with tag 7, to the left with tag 8.
        let right = (r + 1) % n, left = (r - 1 + n) % n
        let plan = try PersistentPlan<Int32>(
            sends: [PersistentMessage(peer: right, tag: 7, count: k), PersistentMessage(peer: left, tag: 8, count: k)],
            receives: [PersistentMessage(peer: left, tag: 7, count: k), PersistentMessage(peer: right, tag: 8, count: k)],
            comm: comm)
        for step in 0..<3 {
            try plan.setSend(0, to: ShapedArray(elements.map { Int32(10000 * step + 1000 * r + $0) }))
            try plan.setSend(1, to: ShapedArray(elements.map { Int32(10000 * step + 1000 * r + 100 + $0) }))
            if step == 1 {
                // start() and wait() apart: nothing else happens between them here.
                let exchange = try plan.start()
                try exchange.wait()
            } else {
                try plan.exchange()
            }
            m.expect(try plan.received(0).scalars, elements.map { Int32(10000 * step + 1000 * left + $0) },
                     "step \(step) from the left")
            m.expect(try plan.received(1).scalars, elements.map { Int32(10000 * step + 1000 * right + 100 + $0) },
                     "step \(step) from the right")
        }
    default:
        m.lines.append("unknown primitive")
    }
    return m
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2, ["world", "default"].contains(arguments[0]) else {
    printError("usage: mpi-interop world|default PRIMITIVE... (\(primitives.joined(separator: ", ")), or all)")
    exit(2)
}
let mode = arguments[0]
let chosen = arguments.dropFirst().flatMap { $0 == "all" ? primitives : [$0] }

var failed = false
do {
    try MPIRuntime.initialize()
    let world = Communicator.world
    say("interop \(world.rank) swift READY")
    let comm: Communicator?
    if mode == "world" {
        comm = .world
    } else {
        // The C side duplicates MPI_COMM_WORLD right after this barrier.
        try barrier(comm: .world)
        comm = nil
    }
    for primitive in chosen {
        say("interop \(world.rank) swift START \(primitive)")
        do {
            let m = try run(primitive, comm: comm, rank: world.rank, size: world.size)
            if m.lines.isEmpty {
                say("interop \(world.rank) swift PASS \(primitive)")
            } else {
                failed = true
                say("interop \(world.rank) swift FAIL \(primitive) \(m.lines.joined(separator: "; "))")
            }
        } catch {
            failed = true
            say("interop \(world.rank) swift FAIL \(primitive) threw \(error)")
        }
    }
} catch {
    failed = true
    say("interop ? swift FAIL setup threw \(error)")
}
exit(failed ? 1 : 0)
