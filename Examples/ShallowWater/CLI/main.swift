// shallow-water: the distributed shallow-water model of swift-mpi.
//
//   swift build -c release --product shallow-water
//   .build/release/shallow-water                      # 1 rank, no launcher
//   Scripts/mpirun -n 4 .build/release/shallow-water  # 4 ranks
//   .build/release/shallow-water --benchmark          # timing only, no files
//
// Rank 0 prints the progress and the summary and writes the pictures; every rank
// computes its part of the grid.

import ArgumentParser
import Foundation
import MPI
import ShallowWaterModel

/// The quantity drawn in the pictures.
enum PlotQuantity: String, ExpressibleByArgument, CaseIterable {
    /// Surface height anomaly h − H, in metres.
    case height
    /// Relative vorticity divided by f₀.
    case vorticity
}

extension ShallowWaterSetup: ExpressibleByArgument {}
extension HaloExchange: ExpressibleByArgument {}

/// The command line of the shallow-water model.
struct ShallowWaterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shallow-water",
        abstract: "A nonlinear shallow-water model (a zonal jet going unstable), decomposed over MPI ranks.",
        discussion: """
            Run it directly for one rank, or under mpirun for more (for example \
            Scripts/mpirun -n 4 .build/release/shallow-water). The grid is split over a \
            process grid that divides it; rank counts that cannot split it are refused \
            before anything runs. Rank 0 writes PNG pictures to the output directory at \
            every output interval and at the end, unless --benchmark is given.
            """
    )

    @Option(help: "Interior cells in x (the periodic direction).")
    var nx = 360

    @Option(help: "Interior cells in y (between the walls).")
    var ny = 180

    @Option(help: ArgumentHelp(
        "The initial state and the placement of f: standard (the model's own) or mpi4jax (mpi4jax's example's).",
        discussion: "With --setup mpi4jax --viscosity 0 the run reproduces the numbers of mpi4jax's shallow-water example."))
    var setup = ShallowWaterSetup.standard

    @Option(help: "Lateral viscosity in m²/s (default: 10⁻³ f₀ dx², 5 m²/s at dx = 5 km).")
    var viscosity: Double?

    @Option(help: "Model days to simulate.")
    var days = 10.0

    @Option(help: "Model days between pictures (0: only the first and the last).")
    var outputInterval = 1.0

    @Option(help: "Directory for the PNG pictures (created if missing).")
    var outputDirectory = "output"

    @Option(help: "What the pictures show: height or vorticity.")
    var field = PlotQuantity.height

    @Option(help: "Process grid as PXxPY (for example 2x2), instead of the automatic choice.")
    var processGrid: String?

    @Option(help: "Threads per rank (default: the cores divided by the ranks on this node).")
    var threads: Int?

    @Flag(help: "Time the run only: no pictures, just steps per second and the time taken.")
    var benchmark = false

    @Option(help: ArgumentHelp(
        "How each step fills the halo: sendrecv (one per neighbour), neighbor (neighbour collectives on the Cartesian grid), overlapped (a persistent plan started before the interior is computed and completed before the boundary) or skipped (timing only: wrong results); the first three give the same bits.",
        discussion: "--halo-exchange skipped exchanges the halo at the first two steps only; its time per step is the limit that overlapping the exchange can approach."))
    var haloExchange = HaloExchange.sendrecv

    mutating func validate() throws {
        guard nx >= 1, ny >= 1 else { throw ValidationError("--nx and --ny must be at least 1") }
        guard days >= 0, days.isFinite else { throw ValidationError("--days must be a non-negative number") }
        guard outputInterval >= 0, outputInterval.isFinite else {
            throw ValidationError("--output-interval must be a non-negative number")
        }
        if let processGrid, ProcessGrid(parsing: processGrid) == nil {
            throw ValidationError("--process-grid must look like 2x2 (got '\(processGrid)')")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let viscosity, !(viscosity >= 0 && viscosity.isFinite) {
            throw ValidationError("--viscosity must be a non-negative number of m²/s (got \(viscosity))")
        }
    }

    func run() throws {
        let wallStart = Date()
        do {
            try MPIRuntime.initialize()
        } catch {
            throw runFailure("MPI could not start: \(error)", rank: 0)
        }
        let world = Communicator.world
        let rank = world.rank

        let config = ShallowWaterConfiguration(nx: nx, ny: ny, lateralViscosity: viscosity, setup: setup)
        let threadCount = threads ?? defaultThreads(ranks: world.size)
        let model: ShallowWaterModel
        do {
            model = try ShallowWaterModel(configuration: config, communicator: world,
                                          processGrid: processGrid.flatMap(ProcessGrid.init(parsing:)),
                                          threads: threadCount, haloExchange: haloExchange)
        } catch {
            // Every rank reaches the same verdict without communicating; rank 0 says
            // it, and the others wait for that before they exit (a launcher may stop
            // the whole job at the first failed process).
            let failure = runFailure(error.description, rank: rank)
            _ = try? barrier(comm: world)
            throw failure
        }

        let totalSteps = config.steps(forDays: days)
        let outputEvery = outputInterval > 0 ? max(1, config.steps(forDays: outputInterval)) : 0
        let grid = model.processGrid
        if rank == 0 {
            let local = model.subdomain
            print("""
                shallow-water: \(config.nx) × \(config.ny) cells of \(kilometres(config.dx)) × \(kilometres(config.dy)), \
                periodic in x, walls in y
                  \(world.size) rank\(world.size == 1 ? "" : "s") as a \(grid) process grid (\(local.nx) × \(local.ny) cells each), \
                \(model.threadCount) thread\(model.threadCount == 1 ? "" : "s") per rank, \(model.haloExchange) halo exchange, \(MPIRuntime.libraryVersion.split(separator: ",").first ?? "MPI")
                  Δt = \(String(format: "%.3f", config.timeStep)) s: \(totalSteps) steps for \(days) model days\
                \(benchmark ? " (benchmark: no pictures)" : "")
                """)
            switch haloExchange {
            case .overlapped: print("  halo exchange: overlapped (persistent plan, interior computed while it travels)")
            case .skipped: print("  halo exchange: skipped after the first two steps (timing only: the fields are wrong)")
            case .sendrecv, .neighborCollective: break
            }
            if setup != .standard || viscosity != nil {
                print("  \(setup == .mpi4jax ? "mpi4jax's set-up (its initial state and its placement of f)" : "standard set-up"), "
                      + "viscosity \(String(format: "%g", config.lateralViscosity)) m²/s")
            }
        }

        let plotter: Plotter?
        if benchmark {
            plotter = nil
        } else {
            plotter = try collective { try Plotter(quantity: field, directory: outputDirectory, model: model, rank: rank) }
        }
        let startDiagnostics = try collective { try model.diagnostics() }
        if let plotter { try collective { try plotter.write(model) } }

        // The time loop: chunks of steps between checks of the clock, outputs at
        // multiples of `outputEvery`. The chunking depends only on step counts, so
        // every rank takes part in the same gathers.
        _ = try collective { try barrier(comm: world) }
        let loopStart = Date()
        var progress = ProgressLine(totalSteps: totalSteps, timeStep: config.timeStep, enabled: rank == 0)
        let chunk = 20
        var pictureTime = 0.0
        while model.stepCount < totalSteps {
            var target = min(totalSteps, model.stepCount + chunk)
            if outputEvery > 0 {
                let nextOutput = (model.stepCount / outputEvery + 1) * outputEvery
                target = min(target, nextOutput)
            }
            try collective { try model.step(count: target - model.stepCount) }
            progress.update(step: model.stepCount, elapsed: Date().timeIntervalSince(loopStart))
            if let plotter, outputEvery > 0, model.stepCount % outputEvery == 0, model.stepCount < totalSteps {
                let pictureStart = Date()
                try collective { try plotter.write(model) }
                pictureTime += Date().timeIntervalSince(pictureStart)
            }
        }
        _ = try collective { try barrier(comm: world) }
        let loopTime = Date().timeIntervalSince(loopStart)
        progress.finish(step: model.stepCount, elapsed: loopTime)
        let steppingTime = loopTime - pictureTime

        if let plotter, totalSteps > 0 { try collective { try plotter.write(model) } }
        let endDiagnostics = try collective { try model.diagnostics() }
        // The halo exchange's time per step outside computation: the mean and the largest over the ranks.
        let exchangeMicroseconds = model.stepCount > 0 ? model.haloExchangeSeconds / Double(model.stepCount) * 1e6 : 0
        let exchangeSum = try collective { try allreduce(exchangeMicroseconds, op: .sum, comm: world).0 }
        let exchangeMax = try collective { try allreduce(exchangeMicroseconds, op: .max, comm: world).0 }

        if rank == 0, let start = startDiagnostics, let end = endDiagnostics {
            let rate = steppingTime > 0 ? Double(totalSteps) / steppingTime : 0
            print("""
                summary
                  model time     \(String(format: "%.2f", model.modelDays)) days in \(model.stepCount) steps \
                on \(world.size) rank\(world.size == 1 ? "" : "s") (\(grid)) × \(model.threadCount) thread\(model.threadCount == 1 ? "" : "s")
                  total mass     \(scientific(start.mass)) kg at the start, \(scientific(end.mass)) kg at the end \
                (relative change \(String(format: "%.1e", (end.mass - start.mass) / start.mass)))
                  total energy   \(scientific(start.totalEnergy)) J at the start, \(scientific(end.totalEnergy)) J at the end \
                (relative change \(String(format: "%+.2e", (end.totalEnergy - start.totalEnergy) / start.totalEnergy)))
                    kinetic      \(scientific(start.kineticEnergy)) J → \(scientific(end.kineticEnergy)) J
                    potential    \(scientific(start.potentialEnergy)) J → \(scientific(end.potentialEnergy)) J
                  time stepping  \(String(format: "%.2f", steppingTime)) s, \(String(format: "%.0f", rate)) steps/s\
                \(plotter == nil ? "" : String(format: " (pictures during the run: %.2f s more)", pictureTime))
                  halo exchange \(String(format: "%6.1f", exchangeSum / Double(world.size))) µs per step on average over the ranks, \
                \(String(format: "%.1f", exchangeMax)) µs on the slowest (outside computation: packing, MPI, unpacking)
                  wall time      \(String(format: "%.2f", Date().timeIntervalSince(wallStart))) s
                """)
            if let plotter { print("  pictures       \(plotter.written) in \(plotter.directoryName)") }
        }
    }

    /// One thread per core that this node's ranks leave free (at least one).
    private func defaultThreads(ranks: Int) -> Int {
        let env = ProcessInfo.processInfo.environment
        let local = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"].lazy.compactMap { env[$0].flatMap(Int.init) }.first ?? ranks
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, local))
    }

    /// Prints `message` on rank 0 and returns the error that makes every rank exit
    /// with a failure status.
    private func runFailure(_ message: String, rank: Int) -> ExitCode {
        if rank == 0 {
            FileHandle.standardError.write(Data("shallow-water: error: \(message)\n".utf8))
        }
        return ExitCode.failure
    }

    /// Runs a collective step of the run, turning its error into a failure exit.
    private func collective<R>(_ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as ShallowWaterError {
            throw runFailure(error.description, rank: 0)
        } catch {
            throw runFailure(String(describing: error), rank: 0)
        }
    }
}

/// The progress line: model day, steps per second and the time left, on rank 0,
/// about once a second (rewritten in place on a terminal).
struct ProgressLine {
    /// Steps of the whole run.
    let totalSteps: Int
    /// Δt in seconds.
    let timeStep: Double
    /// Whether this rank prints (rank 0 only).
    let enabled: Bool
    /// Whether standard output is a terminal (then the line is rewritten in place).
    let terminal = isatty(STDOUT_FILENO) != 0
    /// Elapsed seconds at the last line printed.
    var lastPrint = 0.0

    /// A progress line for a run of `totalSteps` steps.
    init(totalSteps: Int, timeStep: Double, enabled: Bool) {
        self.totalSteps = totalSteps
        self.timeStep = timeStep
        self.enabled = enabled
    }

    /// Prints the line if a second has passed since the last one.
    mutating func update(step: Int, elapsed: Double) {
        guard enabled, elapsed - lastPrint >= 1 else { return }
        lastPrint = elapsed
        emit(step: step, elapsed: elapsed, final: false)
    }

    /// Prints the final line.
    func finish(step: Int, elapsed: Double) {
        guard enabled else { return }
        emit(step: step, elapsed: elapsed, final: true)
    }

    private func emit(step: Int, elapsed: Double, final: Bool) {
        let rate = elapsed > 0 ? Double(step) / elapsed : 0
        let left = rate > 0 ? Double(totalSteps - step) / rate : 0
        let day = Double(step) * timeStep / ShallowWaterConfiguration.secondsPerDay
        let totalDays = Double(totalSteps) * timeStep / ShallowWaterConfiguration.secondsPerDay
        let line = String(format: "  day %6.2f / %.2f | step %6d / %d | %6.0f steps/s | %@",
                          day, totalDays, step, totalSteps, rate,
                          final ? String(format: "done in %.2f s", elapsed) : String(format: "ETA %5.1f s", left))
        if terminal {
            print("\r" + line, terminator: final ? "\n" : "")
        } else {
            print(line)
        }
        fflush(nil)
    }
}

/// Writes the pictures on rank 0 (the others take part in the gather).
final class Plotter {
    /// What the pictures show.
    let quantity: PlotQuantity
    /// Where they go.
    let directory: URL
    /// The directory as given on the command line.
    let directoryName: String
    /// This process's rank.
    let rank: Int
    /// The colour scale, fixed for the run.
    let range: ClosedRange<Double>
    /// Pictures written so far.
    private(set) var written = 0

    /// Fixes the colour range from the initial state, so every picture of a run
    /// uses the same scale, and creates the directory. Collective: every rank throws
    /// if rank 0 cannot create the directory.
    init(quantity: PlotQuantity, directory: String, model: ShallowWaterModel, rank: Int) throws {
        self.quantity = quantity
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        directoryName = directory
        self.rank = rank
        var problem = ""
        if let state = try model.gather() {
            let values = Self.values(quantity, state, model.configuration)
            let r = FieldPlot.symmetricRange(of: values)
            // The eddies deepen past the initial extremes of the height; vorticity is
            // strongest in the initial jet, and half its peak shows the eddies.
            let scale = quantity == .height ? 1.25 : 0.5
            range = (scale * r.lowerBound)...(scale * r.upperBound)
            do {
                try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            } catch {
                problem = "cannot create the output directory \(self.directory.path): \(error.localizedDescription)"
            }
        } else {
            range = -1...1
        }
        let (failed, _) = try bcast(problem.isEmpty ? 0 : 1, root: 0, comm: model.communicator)
        if failed != 0 {
            throw ShallowWaterError.invalidConfiguration(problem.isEmpty ? "rank 0 cannot write the pictures" : problem)
        }
    }

    /// The values drawn for `quantity`: h − H, or ζ / f₀.
    static func values(_ quantity: PlotQuantity, _ state: GlobalState, _ c: ShallowWaterConfiguration) -> [Double] {
        switch quantity {
        case .height: return state.heightAnomaly(c)
        case .vorticity: return state.relativeVorticity(c).map { $0 / c.coriolisF }
        }
    }

    /// Gathers the state and, on rank 0, writes `<quantity>-day<DDD.DD>.png` (a failed
    /// write is reported and the run goes on). Collective.
    func write(_ model: ShallowWaterModel) throws {
        guard let state = try model.gather() else { return }
        let c = model.configuration
        let title: String
        let colorMap: ColorMap
        switch quantity {
        case .height:
            title = "SURFACE HEIGHT ANOMALY H - \(Int(c.depth)) M"
            colorMap = .sequential
        case .vorticity:
            title = "RELATIVE VORTICITY / F0"
            colorMap = .diverging
        }
        let ranks = model.communicator.size
        let caption = String(format: "DAY %.2f  STEP %d  %dX%d CELLS  %d RANK%@", model.modelDays, model.stepCount,
                             c.nx, c.ny, ranks, ranks == 1 ? "" : "S")
        let plot = FieldPlot(title: title, caption: caption, range: range, colorMap: colorMap)
        let image = plot.render(Self.values(quantity, state, c), nx: c.nx, ny: c.ny)
        let name = String(format: "%@-day%06.2f.png", quantity.rawValue, model.modelDays)
        let url = directory.appendingPathComponent(name)
        do {
            try Data(image.pngData()).write(to: url)
            written += 1
        } catch {
            // Only rank 0 writes; stopping here would leave the others waiting.
            FileHandle.standardError.write(Data("shallow-water: warning: could not write \(url.path): \(error.localizedDescription)\n".utf8))
        }
    }
}

private func kilometres(_ metres: Double) -> String {
    metres.truncatingRemainder(dividingBy: 1000) == 0 ? "\(Int(metres / 1000)) km" : String(format: "%.2f km", metres / 1000)
}

private func scientific(_ value: Double) -> String { String(format: "%.10e", value) }

ShallowWaterCommand.main()
