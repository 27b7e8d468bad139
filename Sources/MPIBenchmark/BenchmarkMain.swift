import CMPI
import CMPIBenchmarks
import Foundation
import MPI

/// `mpi-benchmark`: the Swift library against the C reference, under one mpirun.
///
///     mpirun -n 2 .build/release/mpi-benchmark                 # table, CSV and SVG
///     mpirun -n 2 .build/release/mpi-benchmark --check         # CI regression check
///     .build/release/mpi-benchmark plot --svg all.svg a.csv b.csv
///     .build/release/mpi-benchmark report a.csv b.csv          # Markdown tables, targets
///     .build/release/mpi-benchmark memory                      # memory cost of live arrays
///     .build/release/mpi-benchmark pages                       # copy cost per page layout
///     valgrind --tool=callgrind --toggle-collect='*SwiftCase*loop*' \
///         .build/release/mpi-benchmark profile --impl swift --op allreduce --bytes 8
@main
enum BenchmarkMain {
    static func main() {
        let command: Command
        do {
            command = try Command.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("mpi-benchmark: \(error)\n\n\(Command.usage)\n".utf8))
            exit(2)
        }
        switch command {
        case .help:
            print(Command.usage)
        case .plot(let svg, let csvs):
            do {
                var measurements: [Measurement] = []
                for path in csvs {
                    measurements += try CSV.parse(String(contentsOfFile: path, encoding: .utf8), source: path)
                }
                try Runner.write(SVGPlot.render(Measurement.mergingRuns(measurements)), to: svg)
                print("wrote \(svg) from \(measurements.count) measurements")
            } catch {
                FileHandle.standardError.write(Data("mpi-benchmark plot: \(error)\n".utf8))
                exit(1)
            }
        case .report(let csvs):
            do {
                var runs: [[Measurement]] = []
                for path in csvs {
                    runs.append(try CSV.parse(String(contentsOfFile: path, encoding: .utf8), source: path))
                }
                print(Targets.markdown(runs: runs), terminator: "")
            } catch {
                FileHandle.standardError.write(Data("mpi-benchmark report: \(error)\n".utf8))
                exit(1)
            }
        case .run(let options):
            do {
                exit(try Runner.run(options))
            } catch {
                abortJob("\(error)")
            }
        case .profile(let options):
            do {
                try Profiler.run(options)
            } catch {
                abortJob("\(error)")
            }
        case .recordCost(let iterations):
            do {
                try RecordCost.run(iterations: iterations)
            } catch {
                abortJob("\(error)")
            }
        case .memory(let options):
            StorageMemory.run(options)
        case .pages(let options):
            PageCopyCost.run(options)
        case .engine(let idle, let repeats):
            do {
                try EngineBackoff.run(idleMilliseconds: idle, repeats: repeats)
            } catch {
                abortJob("\(error)")
            }
        }
    }

    /// Reports an error and stops every rank, so that no rank waits forever in
    /// a collective the failed rank will never join.
    static func abortJob(_ message: String) -> Never {
        FileHandle.standardError.write(Data("mpi-benchmark: \(message)\n".utf8))
        if MPIRuntime.isInitialized && !MPIRuntime.isFinalized {
            MPI_Abort(swiftmpi_comm_world(), 1)
        }
        exit(1)
    }
}

/// The `profile` subcommand: one implementation of one primitive in a tight
/// loop, for an instruction-counting profiler on a single rank.
///
/// On one rank, `sendrecv` and `iexchange` exchange with the rank itself
/// (`cmpib_case_partner`); `pingpong` idles.
///
/// Run under callgrind with `--toggle-collect` set to the loop function
/// (`*SwiftCase*loop*`, `*SwiftIntoCase*loop*` or `cmpib_profile_loop`), the collected cost divided by
/// `--iterations` is the cost of one call, without start-up and set-up (the
/// loop is entered once, with no warm-up, so that nothing else is collected).
enum Profiler {
    static func run(_ options: ProfileOptions) throws {
        if let requested = options.threadLevel {
            _ = try MPIRuntime.initialize(threadLevel: requested)
        } else {
            _ = try MPIRuntime.initialize()
        }
        let comm = try Communicator.default
        let bytes = options.primitive.hasPayload ? options.bytes : 8
        switch options.implementation {
        case .swift:
            let c = SwiftCase(options.primitive, bytes: bytes, comm: comm)
            let start = cmpib_wtime()
            try c.loop(iterations: options.iterations)
            report(options, seconds: cmpib_wtime() - start, rank: comm.rank)
        case .swiftInto:
            guard SwiftIntoCase.supports(options.primitive) else {
                throw BenchmarkError(description: "\(options.primitive.rawValue) has no into: variant")
            }
            let c = SwiftIntoCase(options.primitive, bytes: bytes, comm: comm)
            var output = c.takeOutput()
            let start = cmpib_wtime()
            try c.loop(iterations: options.iterations, output: &output)
            report(options, seconds: cmpib_wtime() - start, rank: comm.rank)
        case .swiftAwait:
            guard SwiftAwaitCase.supports(options.primitive) else {
                throw BenchmarkError(description: "\(options.primitive.rawValue) has no awaited form")
            }
            let c = SwiftAwaitCase(options.primitive, bytes: bytes, comm: comm)
            let seconds = try c.sample(iterations: options.iterations) * Double(options.iterations)
            report(options, seconds: seconds, rank: comm.rank)
        case .cMalloc, .cHuge:
            let c = try CReferenceCase(options.primitive, bytes: bytes, implementation: options.implementation,
                                       comm: comm)
            let start = cmpib_wtime()
            try c.profileLoop(iterations: options.iterations)
            report(options, seconds: cmpib_wtime() - start, rank: comm.rank)
        }
        try MPIRuntime.finalize()
    }

    private static func report(_ options: ProfileOptions, seconds: Double, rank: Int) {
        guard rank == 0 else { return }
        let calls = Double(options.iterations * options.primitive.callsPerIteration)
        print("\(options.implementation.rawValue) \(options.primitive.rawValue) \(options.bytes) B: "
            + "\(options.iterations) iterations, "
            + String(format: "%.4f µs per call (wall clock; slower under a profiler)", seconds / calls * 1e6))
    }
}

/// The `record-cost` subcommand: what the flight record adds to every call
/// (its start and end writes), measured in the library against an empty loop.
enum RecordCost {
    static func run(iterations: Int) throws {
        _ = try MPIRuntime.initialize()
        var samples = (0..<11).map { _ in flightRecordCostPerCall(iterations: iterations) }
        samples.sort()
        print(String(format: "flight record: %.1f ns per call (median of 11 samples of %d calls; range %.1f-%.1f ns)",
                     samples[5] * 1e9, iterations, samples[0] * 1e9, samples[10] * 1e9))
        try MPIRuntime.finalize()
    }
}
