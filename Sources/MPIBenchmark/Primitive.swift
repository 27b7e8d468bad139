import CMPIBenchmarks

/// The primitives the benchmark times, in table order.
///
/// `pingpong` is the send/recv test: ranks 2k and 2k+1 bounce one message back
/// and forth, and a call's time is half a round trip (one send or one receive).
/// `sendrecv` is a pair exchange between the same partners.
enum Primitive: String, CaseIterable, Sendable {
    case allgather, allreduce, alltoall, barrier, bcast, gather, reduce, scan, scatter, pingpong, sendrecv
    // Issue 11: the variable-size allgather (Swift: the easy form, which exchanges the counts first;
    // Swift-into: the explicit form with caller-given counts), reduce-scatter with equal blocks, exscan.
    case allgatherv, reduceScatterBlock = "reduce_scatter_block", exscan
    /// `neighborAlltoall` on a 1-D periodic Cartesian grid of the ranks: a block to and from each of two neighbours.
    case neighborAlltoall
    /// The non-blocking forms: `iallreduce` then wait (or await), and a pair exchange of `irecv` and
    /// `isend` then wait for both (C: `MPI_Irecv`, `MPI_Isend`, `MPI_Waitall`).
    case iallreduce, iexchange

    /// The matching test of the C reference benchmark.
    var cOp: cmpib_op {
        switch self {
        case .allgather: CMPIB_ALLGATHER
        case .allreduce: CMPIB_ALLREDUCE
        case .alltoall: CMPIB_ALLTOALL
        case .barrier: CMPIB_BARRIER
        case .bcast: CMPIB_BCAST
        case .gather: CMPIB_GATHER
        case .reduce: CMPIB_REDUCE
        case .scan: CMPIB_SCAN
        case .scatter: CMPIB_SCATTER
        case .pingpong: CMPIB_PINGPONG
        case .sendrecv: CMPIB_SENDRECV
        case .allgatherv: CMPIB_ALLGATHERV
        case .reduceScatterBlock: CMPIB_REDUCE_SCATTER_BLOCK
        case .exscan: CMPIB_EXSCAN
        case .neighborAlltoall: CMPIB_NEIGHBOR_ALLTOALL
        case .iallreduce: CMPIB_IALLREDUCE
        case .iexchange: CMPIB_IEXCHANGE
        }
    }

    /// Whether the primitive moves a payload (every one but barrier).
    var hasPayload: Bool { self != .barrier }

    /// MPI calls per timed iteration on one rank: a ping-pong round trip is a
    /// send and a receive.
    var callsPerIteration: Int { self == .pingpong ? 2 : 1 }

    /// How the table and the plot name the primitive.
    var title: String {
        switch self {
        case .pingpong: "send/recv (ping-pong)"
        case .sendrecv: "sendrecv (pair exchange)"
        case .allgatherv: "allgatherv (Swift: easy form; into: explicit counts)"
        case .neighborAlltoall: "neighborAlltoall (1-D periodic grid)"
        case .iallreduce: "iallreduce (start + wait)"
        case .iexchange: "isend/irecv (pair exchange)"
        default: rawValue
        }
    }
}

/// Which implementation a measurement is of.
enum Implementation: String, CaseIterable, Sendable {
    /// The C reference with plain `malloc` buffers.
    case cMalloc = "C-malloc"
    /// The C reference with 2 MiB-aligned, `MADV_HUGEPAGE` buffers.
    case cHuge = "C-huge"
    /// The Swift library's result-returning API.
    case swift = "Swift"
    /// The Swift library's allocation-free `into:` variants.
    case swiftInto = "Swift-into"
    /// The non-blocking forms awaited from a task (`await request.value()`), for the non-blocking rows only.
    case swiftAwait = "Swift-await"

    /// Whether this is one of the C references.
    var isC: Bool { self == .cMalloc || self == .cHuge }
}

/// Message sizes: parsing and printing byte counts such as `8`, `64K`, `16M`.
enum ByteSize {
    /// The default sizes: 8 B (one Float64), then the powers of 4 from 16 B to 16 MiB.
    static let defaults: [Int] = [8] + (2...12).map { 1 << (2 * $0) }

    /// Parses `8`, `1024`, `1K`, `64k`, `16M` (binary multiples).
    static func parse(_ text: String) -> Int? {
        guard let last = text.last else { return nil }
        let multiplier: Int
        var digits = Substring(text)
        switch last {
        case "k", "K": multiplier = 1 << 10; digits = digits.dropLast()
        case "m", "M": multiplier = 1 << 20; digits = digits.dropLast()
        case "g", "G": multiplier = 1 << 30; digits = digits.dropLast()
        default: multiplier = 1
        }
        guard let value = Int(digits), value >= 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// `8`, `1K`, `16M`, or plain bytes when not a whole binary multiple.
    static func format(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10)K" }
        return "\(bytes)"
    }
}
