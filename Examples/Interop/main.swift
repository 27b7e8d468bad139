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
// reduce, scan, scatter, sendrecv, send-recv (send and recv), or `all`
// (every one, in that order). Collectives with a root run once per root.
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
]

/// Collects what a primitive got wrong on this rank.
struct Mismatches {
    var lines: [String] = []
    mutating func expect<T: Equatable>(_ got: [T], _ expected: [T], _ what: String) {
        if got != expected, lines.count < 5 { lines.append("\(what): got \(got), expected \(expected)") }
    }
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
