// A small MPI program for the tests across simulated hosts (Scripts/test-hosts).
//
//   hosts-probe loop [SECONDS]          allreduce and bcast in a loop for SECONDS
//                                       (default 600), then exit cleanly
//   hosts-probe exit-early RANK SECONDS like loop, but rank RANK leaves the job
//                                       after SECONDS with _exit(3), without finalising
//   hosts-probe clean                   a few collectives, checked, then a clean exit
//                                       (MPI finalised by the package at exit)
//
// Every mode works on the package's default communicator (`comm: nil`). Each
// rank prints "hosts-probe RANK/SIZE on HOST: ready" once every rank has
// started (after a barrier), so a test knows when the job runs; `clean` ends
// with "hosts-probe RANK: clean exit" and `loop` with "hosts-probe RANK: done after N rounds".
// The command line is checked before MPI starts.
import MPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes a line to standard error (unbuffered).
func printError(_ line: String) { writeLine(line, to: 2) }

/// Writes a line to standard output in one `write` (unbuffered, so nothing is
/// lost when a rank leaves with `_exit`; the launcher never splits the line).
func say(_ line: String) { writeLine(line, to: 1) }

func writeLine(_ line: String, to descriptor: Int32) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
}

func seconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count - 1)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func usage() -> Never {
    printError("usage: hosts-probe loop [SECONDS] | exit-early RANK SECONDS | clean")
    exit(2)
}

/// Runs allreduce and bcast rounds until `duration` seconds have passed; rank
/// `leaver` (if any) calls `_exit(3)` after `leaveAfter` seconds instead.
func loop(duration: Double, leaver: Int?, leaveAfter: Double, comm: Communicator) throws {
    let start = seconds()
    var round = 0
    let payload = ShapedArray(repeating: UInt8(7), shape: [65536])
    while true {
        // Every rank decides to stop on rank 0's clock, so all stop together.
        let elapsed = seconds() - start
        if let leaver, comm.rank == leaver, elapsed >= leaveAfter {
            say("hosts-probe \(comm.rank): leaving without finalising")
            _exit(3)
        }
        let (stop, _) = try bcast(elapsed >= duration ? Int32(1) : Int32(0), root: 0)
        if stop != 0 { break }
        let (sum, _) = try allreduce(Int64(comm.rank + round), op: .sum)
        let n = comm.size
        guard sum == Int64(n * (n - 1) / 2 + n * round) else {
            printError("hosts-probe \(comm.rank): round \(round): allreduce gave \(sum)")
            exit(1)
        }
        if round % 64 == 0 { _ = try bcast(payload, root: round / 64 % n) }
        round += 1
    }
    say("hosts-probe \(comm.rank): done after \(round) rounds")
}

/// A few collectives whose results are checked; exits with status 1 on a wrong result.
func clean(comm: Communicator) throws {
    let n = comm.size, r = comm.rank
    let (sum, _) = try allreduce([Double(r), 1], op: .sum)
    let (gathered, _) = try allgather(Int32(r))
    let (broadcast, _) = try bcast(r == n - 1 ? [Int64(42), -1] : [0, 0], root: n - 1)
    try barrier()
    guard sum == [Double(n * (n - 1) / 2), Double(n)], gathered.scalars == (0..<n).map(Int32.init),
          broadcast == [42, -1] else {
        printError("hosts-probe \(r): wrong result: \(sum) \(gathered) \(broadcast)")
        exit(1)
    }
    say("hosts-probe \(r): clean exit")
}

/// A number of seconds: finite and at least 0 (`nan` would never be reached).
func secondsArgument(_ text: String) -> Double? {
    guard let value = Double(text), value.isFinite, value >= 0 else { return nil }
    return value
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first else { usage() }
// Checked before MPI starts, so that a bad command line prints no "ready" line and ends no job.
switch mode {
case "loop": guard arguments.count <= 2, secondsArgument(arguments.count == 2 ? arguments[1] : "600") != nil else { usage() }
case "exit-early": guard arguments.count == 3, Int(arguments[1]) != nil, secondsArgument(arguments[2]) != nil else { usage() }
case "clean": guard arguments.count == 1 else { usage() }
default: usage()
}
do {
    let comm = try Communicator.default
    try barrier()
    say("hosts-probe \(comm.rank)/\(comm.size) on \(hostName()): ready")
    switch mode {
    case "loop":
        let duration = secondsArgument(arguments.count == 2 ? arguments[1] : "600")!
        try loop(duration: duration, leaver: nil, leaveAfter: 0, comm: comm)
    case "exit-early":
        let (leaver, after) = (Int(arguments[1])!, secondsArgument(arguments[2])!)
        // Every rank sees the same arguments and size, so every rank rejects a rank that no process has
        // (which would otherwise loop for ever).
        guard (0..<comm.size).contains(leaver) else {
            printError("hosts-probe: exit-early RANK must be a rank of the job, 0 to \(comm.size - 1); got \(leaver)")
            exit(2)
        }
        try loop(duration: .infinity, leaver: leaver, leaveAfter: after, comm: comm)
    default:
        try clean(comm: comm)
    }
} catch {
    printError("hosts-probe: \(error)")
    exit(1)
}
