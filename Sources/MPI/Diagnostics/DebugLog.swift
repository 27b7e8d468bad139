#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The per-call debug log (`SWIFT_MPI_DEBUG=1` or `MPIRuntime.logsCollectives`),
// like mpi4jax's MPI4JAX_DEBUG: one line per call on standard error, the
// call's flight record entry, for example
// `r0 | allreduce #3 on communicator 1 (rank 0 of 4): sum, 3 × Double`.

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

/// This process's rank in the world, for the lines of the debug log and the watchdog.
var worldRank: Int { Communicator.world.rank }

/// Writes one line to standard error with a single `write`, so lines of different ranks do not interleave.
@usableFromInline
func debugPrintLine(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
