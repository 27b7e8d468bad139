#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The per-call debug log (`SWIFT_MPI_DEBUG=1` or `MPIRuntime.logsCollectives`),
// like mpi4jax's MPI4JAX_DEBUG: one line per call on standard error.

/// The diagnostics in force, fixed when MPI is set up and changed through ``MPIRuntime``.
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

extension Call {
    /// For example `r0 | allreduce(sum) 3 × Double, communicator size 4`.
    var logLine: String {
        var line = "r\(comm.rank) | \(operation)"
        if let op { line += "(\(op))" }
        line += " \(count) × \(scalarType)"
        if root >= 0 { line += ", root \(root)" }
        switch operation {
        case .send: line += ", dest \(peer), tag \(tag)"
        case .recv: line += ", source \(peer == anySource ? "any" : "\(peer)"), tag \(tag == anyTag ? "any" : "\(tag)")"
        default: break
        }
        line += ", communicator size \(comm.size)"
        return line
    }
}

/// Writes one line to standard error with a single `write`, so lines of different ranks do not interleave.
@usableFromInline
func debugPrintLine(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
