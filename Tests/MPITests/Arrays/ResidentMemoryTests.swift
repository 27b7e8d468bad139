// Tests that the library does not leak: resident memory stays flat over many
// small calls (allreduce of one Double, result-returning and into:, and sendrecv
// around the ring, in turn), measured from /proc/self/statm after a warm-up, after
// every tenth of the calls and at the end.
//
// - 1,000,000 calls on every rank, each on a communicator of its own (the world
//   split by rank): the library's whole path for each form, MPI's included, at
//   full speed whatever the other ranks do.
// - Calls between the ranks, on the world: 100,000, or 2,000 when there are more
//   ranks than processors (oversubscribed ranks wait for each other's time slices;
//   MPICH, which polls without yielding, then takes about 25 ms per allreduce at
//   4 ranks on 2 cores).
// `SWIFT_MPI_TEST_RSS_CALLS` sets both counts. A million calls between ranks:
// `mpirun -n 2 .build/release/mpi-scenarios resident-memory 1000000`.
//
// The bound, 1 MiB per process: a leak of one allocation per call, the smallest
// that malloc makes (32 bytes), would grow the process by about 32 MB over a
// million calls, so 1 MiB catches any leak of one allocation in every 30 calls or
// more often. What may legitimately grow, once: malloc's heap, which glibc extends
// by at least 128 KiB at a time (M_TOP_PAD), pages of MPI's shared-memory segments
// touched for the first time, and XCTest's own bookkeeping. Measured here: one
// step of 128 to 268 KiB in the first tenth, then flat.
import MPI
import MPITestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class ResidentMemoryTests: MPITestCase {
    /// How much the resident set may grow over the calls.
    static let bound = 1 << 20

    /// The calls of a test: `SWIFT_MPI_TEST_RSS_CALLS`, or `standard`.
    static func callCount(standard: Int) -> Int {
        environment("SWIFT_MPI_TEST_RSS_CALLS").flatMap(Int.init).map { Swift.max(10, $0) } ?? standard
    }

    /// Whether this node runs more ranks than it has processors (counting all ranks as local).
    var oversubscribed: Bool { size > sysconf(Int32(_SC_NPROCESSORS_ONLN)) }

    func testResidentMemoryStaysFlatOverAMillionCallsOnEachRank() throws {
        let alone = try world.split(color: rank)
        XCTAssertEqual(alone.size, 1)
        try checkFlat(comm: alone, calls: Self.callCount(standard: 1_000_000), what: "on a communicator of its own")
    }

    func testResidentMemoryStaysFlatOverCallsBetweenRanks() throws {
        let comm = try defaultComm.duplicate()
        try checkFlat(comm: comm, calls: Self.callCount(standard: oversubscribed ? 2_000 : 100_000),
                      what: "between the ranks")
    }

    /// Makes `calls` small calls on `comm` after a warm-up of 30% of them (at most 30,000), and checks
    /// that the resident set grew by at most ``bound`` and that every call returned the right values.
    private func checkFlat(comm: Communicator, calls count: Int, what: String) throws {
        let (left, right) = ringNeighbours(rank: comm.rank, size: comm.size)
        let x = ShapedArray([Double(comm.rank + 1)])
        var output = ShapedArray(repeating: 0.0, shape: [1])
        let expectedSum = Double(comm.size * (comm.size + 1) / 2)
        var wrong = 0

        /// `n` calls, the three kinds in turn.
        func calls(_ n: Int) throws {
            for i in 0..<n {
                switch i % 3 {
                case 0:
                    let (sum, _) = try allreduce(x, op: .sum, comm: comm)
                    if sum[flat: 0] != expectedSum { wrong += 1 }
                case 1:
                    try allreduce(x, into: &output, op: .sum, comm: comm)
                    if output[flat: 0] != expectedSum { wrong += 1 }
                default:
                    let (received, _) = try sendrecv(x, x, source: left, dest: right, comm: comm)
                    if received[flat: 0] != Double(left + 1) { wrong += 1 }
                }
            }
        }

        try calls(Swift.min(30_000, count * 3 / 10))
        let before = residentBytes()
        var samples = [before]
        let start = monotonicSeconds()
        for part in 0..<10 {  // a sample after every tenth
            try calls(part < 9 ? count / 10 : count - 9 * (count / 10))
            samples.append(residentBytes())
        }
        let seconds = monotonicSeconds() - start
        let growth = samples.last! - before
        let kib = samples.map { String($0 >> 10) }.joined(separator: " ")
        XCTAssertEqual(wrong, 0, "calls with a wrong result \(here)")
        XCTAssertGreaterThan(before, 0, "/proc/self/statm could not be read \(here)")
        XCTAssertLessThanOrEqual(growth, Self.bound,
                                 "resident memory grew by \(growth) bytes over \(count) calls \(what) \(here); KiB: \(kib)")
        let (largest, _) = try allreduce(growth, op: .max)
        if rank == 0 {
            print("ResidentMemoryTests: \(count) calls \(what) at \(size) ranks in \(String(format: "%.1f", seconds)) s; "
                  + "largest growth \(largest >> 10) KiB; rank 0, KiB: \(kib)")
        }
    }

    func testResidentBytesSeesATouchedMapping() throws {
        // The measurement itself: 8 MiB mapped and touched shows up in the resident set.
        let length = 8 << 20
        let before = residentBytes()
        guard let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED
        else {
            XCTFail("mmap failed")
            return
        }
        defer { munmap(memory, length) }
        memset(memory, 1, length)
        let grown = residentBytes() - before
        XCTAssertGreaterThanOrEqual(grown, length - (256 << 10), "resident growth \(grown) for \(length) bytes touched")
        XCTAssertLessThan(grown, length + (4 << 20), "resident growth \(grown) for \(length) bytes touched")
    }
}

/// The process's resident set in bytes, from /proc/self/statm (its second field, in pages); 0 when unreadable.
func residentBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    guard fgets(&line, Int32(line.count), file) != nil else { return 0 }
    let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * sysconf(Int32(_SC_PAGESIZE))
}
