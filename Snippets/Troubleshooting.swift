// The diagnostics of swift-mpi, set from code instead of the environment, and
// how to tell its errors apart.
import MPI

// snippet.diagnostics
MPIRuntime.watchdogTimeout = 120               // SWIFT_MPI_TIMEOUT=120; nil: off
MPIRuntime.checksCollectiveArguments = true    // SWIFT_MPI_CHECK=1
MPIRuntime.logsCollectives = true              // SWIFT_MPI_DEBUG=1
// snippet.end

let comm = try Communicator.default
_ = try allreduce(Double(comm.rank), op: .sum)

// snippet.flight-record
// The last calls of this rank, oldest first, as the watchdog prints them.
for line in MPIRuntime.flightRecord {
    print("rank \(comm.rank): \(line)")
}
// snippet.end

// snippet.errors
do throws(MPIError) {
    // A sum is not defined for Bool.
    _ = try allreduce(ShapedArray([true, false]), op: .sum)
} catch {
    switch error {
    case .unsupportedReduction(let operation, let op, let scalarType):
        print("\(operation): \(op) does not apply to \(scalarType)")
    case .mpi(_, let errorClass, let message) where errorClass == .truncate:
        print("a message was longer than expected: \(message)")
    default:
        print(error)   // every case describes itself in one line
    }
}
// snippet.end
// snippet.hide
precondition(MPIRuntime.flightRecord.count >= 1, "flight record")
