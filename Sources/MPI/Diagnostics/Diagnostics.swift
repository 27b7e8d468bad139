import CMPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Opt-in diagnostics, read from the environment when MPI is set up:
//
//   SWIFT_MPI_CHECK=1  Before each collective, the ranks agree on what they are
//                      calling (operation, scalar type, element count, root,
//                      op) with one small allgather, and every rank throws the
//                      same error when they differ. MPI, like mpi4jax, trusts
//                      the ranks to match; a mismatch otherwise hangs, fails on
//                      some ranks only, or reinterprets bytes.
//   SWIFT_MPI_DEBUG=1  Prints one line to stderr per collective call (rank,
//                      operation, op, count and type, root), like mpi4jax's
//                      MPI4JAX_DEBUG.
//
// When both are off, which is the default, each costs one predictable branch.

/// The diagnostics in force, fixed when MPI is set up.
@usableFromInline
struct DiagnosticsOptions {
    @usableFromInline var checkCollectives = false
    @usableFromInline var debugLog = false
    @inlinable var any: Bool { checkCollectives || debugLog }

    static func fromEnvironment() -> DiagnosticsOptions {
        DiagnosticsOptions(
            checkCollectives: SwiftMPIEnvironment.flag(.check), debugLog: SwiftMPIEnvironment.flag(.debug))
    }
}

/// Written once when MPI is set up, before any operation can run.
@exclusivity(unchecked) @usableFromInline nonisolated(unsafe) var diagnostics = DiagnosticsOptions()

/// What one rank is about to call, as compared across ranks by `SWIFT_MPI_CHECK=1`.
@usableFromInline
struct CollectiveSignature: Equatable {
    /// A stable hash of the operation's name.
    @usableFromInline var operation: Int64
    /// A stable hash of the scalar type's name, and its size in bytes.
    @usableFromInline var scalarType: Int64
    @usableFromInline var scalarSize: Int64
    /// The element count that must agree across ranks (per rank, for gathers and scatters).
    @usableFromInline var count: Int64
    /// The root, or -1.
    @usableFromInline var root: Int64
    /// The reduction op, or -1.
    @usableFromInline var op: Int64

    @usableFromInline static let fieldCount = 6
}

/// FNV-1a, stable across processes (Swift's `Hasher` is seeded per process).
@usableFromInline
func stableHash(_ text: String) -> Int64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return Int64(bitPattern: hash)
}

/// Runs the diagnostics for one collective call, when any is enabled.
///
/// - Parameters:
///   - count: The element count every rank must agree on.
///   - root: The root, for rooted collectives.
///   - op: The reduction, for reductions.
@inlinable @inline(__always)
func diagnoseCollective<T>(
    _ comm: ResolvedCommunicator, _ operation: StaticString, _ type: T.Type, count: Int, root: Int? = nil,
    op: ReductionOp? = nil
) throws(MPIError) {
    if _slowPath(diagnostics.any) {
        try runCollectiveDiagnostics(
            comm, "\(operation)", typeName: "\(T.self)", scalarSize: MemoryLayout<T>.stride, count: count,
            root: root, op: op)
    }
}

@usableFromInline @inline(never)
func runCollectiveDiagnostics(
    _ comm: ResolvedCommunicator, _ operation: String, typeName: String, scalarSize: Int, count: Int, root: Int?,
    op: ReductionOp?
) throws(MPIError) {
    if diagnostics.debugLog {
        var line = "r\(comm.rank) | \(operation)"
        if let op { line += "(\(op))" }
        line += " \(count) × \(typeName)"
        if let root { line += ", root \(root)" }
        line += ", communicator size \(comm.size)"
        debugPrintLine(line)
    }
    guard diagnostics.checkCollectives else { return }
    let mine = CollectiveSignature(
        operation: stableHash(operation), scalarType: stableHash(typeName), scalarSize: Int64(scalarSize),
        count: Int64(count), root: Int64(root ?? -1), op: Int64(op.map { Int($0.kind.rawValue) } ?? -1))
    var local = [mine.operation, mine.scalarType, mine.scalarSize, mine.count, mine.root, mine.op]
    var all = [Int64](repeating: 0, count: CollectiveSignature.fieldCount * comm.size)
    let code = local.withUnsafeMutableBufferPointer { l in
        all.withUnsafeMutableBufferPointer { a in
            MPI_Allgather(l.baseAddress, Int32(CollectiveSignature.fieldCount), swiftmpi_int64(), a.baseAddress,
                          Int32(CollectiveSignature.fieldCount), swiftmpi_int64(), comm.handle)
        }
    }
    try check(code, operation)
    let fields = ["operation", "scalar type", "scalar size", "element count", "root", "reduction op"]
    let reference = Array(all[0..<CollectiveSignature.fieldCount])
    for r in 0..<comm.size {
        let theirs = Array(all[(r * CollectiveSignature.fieldCount)..<((r + 1) * CollectiveSignature.fieldCount)])
        guard let field = theirs.indices.first(where: { theirs[$0] != reference[$0] }) else { continue }
        let name = fields[field]
        func describe(_ value: Int64) -> String {
            if field == 5 {
                return value < 0 ? "none" : ReductionOp.Kind(rawValue: UInt8(value)).map { "\(ReductionOp($0))" } ?? "\(value)"
            }
            return "\(value)"
        }
        if field <= 1 {
            let own = field == 0 ? operation : typeName
            throw MPIError.invalidArgument(
                operation: operation, argument: name,
                expected: "the same \(name) on every rank (SWIFT_MPI_CHECK=1)",
                actual: "rank \(r) differs from rank 0 (this rank, \(comm.rank): \(own))")
        }
        throw MPIError.invalidArgument(
            operation: operation, argument: name,
            expected: "the same \(name) on every rank (SWIFT_MPI_CHECK=1); rank 0 passed \(describe(reference[field]))",
            actual: "rank \(r) passed \(describe(theirs[field]))")
    }
}

@usableFromInline
func debugPrintLine(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
