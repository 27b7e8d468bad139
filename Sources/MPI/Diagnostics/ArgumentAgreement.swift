import CMPI
import ComplexModule

// The opt-in cross-rank argument check (`SWIFT_MPI_CHECK=1` or
// `MPIRuntime.checksCollectiveArguments`). Before each collective, the ranks
// agree on what they are calling (operation, scalar type, element count, root,
// op, blocking or not) and on whether their own argument checks passed, with one small allgather,
// and every rank throws when they differ or when any rank's checks failed. MPI,
// like mpi4jax, trusts the ranks to match; a mismatch otherwise hangs, fails on
// some ranks only, or reinterprets bytes.

/// The fields compared across ranks, in order (the last, whether the rank's own checks passed, is not
/// compared but reported). Two more follow them in the exchange, summed rather than compared: alltoallv's
/// digests of what the ranks send and receive (``AgreedCounts``).
private let agreedFields = [
    "operation", "scalar type", "scalar size", "element count", "root", "reduction op", "collective number",
    "form", "counts", "local checks",
]

/// FNV-1a, stable across processes (Swift's `Hasher` is seeded per process).
func stableHash(_ text: String) -> Int64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return Int64(bitPattern: hash)
}

/// Agrees with the other ranks on `call` (and on its number among the collectives
/// of its communicator, which tells a skipped collective), and throws the same kind of error on
/// every rank when the calls differ or some rank's argument checks failed.
///
/// A rank whose checks failed throws its own error; the others throw
/// ``MPIError/peerFailed(operation:rank:reason:)`` naming the first such rank.
///
/// `nonBlocking`: whether the call is MPI's non-blocking collective (a non-blocking form, except at
/// `MPI_THREAD_SERIALIZED`, where every collective is), which MPI does not match with a blocking one.
///
/// `countsArgument`: the receive counts' argument, named when alltoallv's or a neighbour `v`
/// collective's blocks are not received with the counts they are sent with.
func agreeAcrossRanks(
    _ call: Call, sequence: Int, nonBlocking: Bool, failedHere failure: MPIError?,
    countsArgument: StaticString = "receiveCounts"
) throws(MPIError) {
    let comm = call.comm
    let operation = call.operation.name
    let typeName = "\(call.scalarType)"
    let agreedCount = agreedFields.count
    let fieldCount = agreedCount + 2
    var local: [Int64] = [
        Int64(call.operation.rawValue), stableHash(typeName), Int64(call.scalarType.size), Int64(call.count),
        Int64(call.root), Int64(call.op.map { Int($0.kind.rawValue) } ?? -1), Int64(sequence), nonBlocking ? 1 : 0,
        call.counts.same, failure == nil ? 0 : 1, call.counts.sent, call.counts.received,
    ]
    var all = [Int64](repeating: 0, count: fieldCount * comm.size)
    // Through the raw layer, so that it is serialised like every call at MPI_THREAD_SERIALIZED.
    try local.withUnsafeMutableBufferPointer { (l) throws(MPIError) in
        try all.withUnsafeMutableBufferPointer { (a) throws(MPIError) in
            try rawAllgather(l.baseAddress, a.baseAddress, count: fieldCount, type: swiftmpi_int64(),
                             elementSize: MemoryLayout<Int64>.stride, comm: comm.handle, operation: call.operation)
        }
    }
    if let failure { throw failure }
    let rows = (0..<comm.size).map { r in Array(all[(r * fieldCount)..<((r + 1) * fieldCount)]) }
    if let failed = rows.indices.first(where: { rows[$0][agreedCount - 1] != 0 }) {
        throw MPIError.peerFailed(
            operation: operation, rank: failed,
            reason: "its arguments failed its own checks (that rank throws the error; SWIFT_MPI_CHECK=1)")
    }
    let reference = rows[0]
    // An element count of `Call.anyCount` agrees with every other (neighborAlltoall on a rank without
    // neighbours, whose blocks have no size); the others are compared with the first rank that has one.
    let countField = 3
    let countRank = rows.firstIndex { $0[countField] != Int64(Call.anyCount) } ?? 0
    func differs(_ theirs: [Int64], _ field: Int) -> Bool {
        guard field == countField else { return theirs[field] != reference[field] }
        return theirs[field] != Int64(Call.anyCount) && theirs[field] != rows[countRank][field]
    }
    for (r, theirs) in rows.enumerated() {
        guard let field = (0..<(agreedCount - 1)).first(where: { differs(theirs, $0) }) else { continue }
        let name = agreedFields[field]
        let referenceRank = field == countField ? countRank : 0
        if name == "counts" {
            // Only their digests were exchanged.
            throw MPIError.invalidArgument(
                operation: operation, argument: "counts",
                expected: "the same counts on every rank (SWIFT_MPI_CHECK=1), as rank 0 passed",
                actual: "rank \(r) passed other counts")
        }
        func describe(_ value: Int64) -> String {
            if field == 0 { return MPIOperation(rawValue: UInt8(truncatingIfNeeded: value))?.name ?? "\(value)" }
            if field == 1 { return builtInScalarTypeName(hash: value) ?? "another scalar type" }
            if field == 5 {
                return value < 0 ? "none" : ReductionOp.Kind(rawValue: UInt8(value)).map { "\(ReductionOp($0))" } ?? "\(value)"
            }
            if field == 7 {
                return value == 0 ? "the blocking form (a blocking collective does not match a non-blocking one)"
                    : "a non-blocking form"
            }
            return "\(value)"
        }
        throw MPIError.invalidArgument(
            operation: operation, argument: name,
            expected: "the same \(name) on every rank (SWIFT_MPI_CHECK=1); rank \(referenceRank) passed \(describe(rows[referenceRank][field]))",
            actual: "rank \(r) passed \(describe(theirs[field]))")
    }
    // alltoallv: what every rank sends every rank against what every rank receives from every rank;
    // a neighbour v collective: what every process sends each neighbour against what each receives.
    let sent = rows.reduce(0 as Int64) { $0 &+ $1[agreedCount] }
    let received = rows.reduce(0 as Int64) { $0 &+ $1[agreedCount + 1] }
    if sent != received {
        let neighbors = "counts that differ from what the neighbours send (on some process)"
        let (expected, actual) = switch call.operation {
        case .neighborAllgatherv:
            ("on every process, \(countsArgument)[i] equal to the size of in-neighbour i's x (SWIFT_MPI_CHECK=1)",
             neighbors)
        case .neighborAlltoallv:
            ("on every process, \(countsArgument)[i] equal to what in-neighbour i sends it (SWIFT_MPI_CHECK=1)",
             neighbors)
        default:
            ("on every rank j, \(countsArgument)[i] equal to rank i's sendCounts[j] (SWIFT_MPI_CHECK=1)",
             "counts that differ from what the ranks send (on some rank)")
        }
        throw MPIError.invalidArgument(operation: operation, argument: "\(countsArgument)", expected: expected,
                                       actual: actual)
    }
}

/// The name of the package's own scalar type whose name hashes to `hash`, or `nil` for
/// another type (a conformance of the program's own, whose name only its rank knows).
private func builtInScalarTypeName(hash: Int64) -> String? {
    let types: [any MPIScalar.Type] = [
        Float.self, Double.self, Float16.self, Int8.self, Int16.self, Int32.self, Int64.self, Int.self,
        UInt8.self, UInt16.self, UInt32.self, UInt64.self, UInt.self, Bool.self, Complex<Float>.self,
        Complex<Double>.self,
    ]
    return types.lazy.map { "\($0)" }.first { stableHash($0) == hash }
}

extension MPIScalar {
    /// The size of one element in bytes.
    static var size: Int { MemoryLayout<Self>.stride }
}
