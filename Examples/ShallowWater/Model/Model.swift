// The distributed model: one rank's subdomain, its storage, the time loop and the
// gather to the root.

import MPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A distributed shallow-water model: this rank's part of the grid, advanced in
/// lock-step with the other ranks of its communicator.
///
/// Every rank of the communicator creates the model with the same configuration; the
/// grid is split by ``ProcessGrid/choose(nx:ny:ranks:)`` (or the grid given) into a
/// Cartesian communicator (``grid``), whose `shift` gives each rank its neighbours, and
/// each step exchanges one halo of h, u and v with the neighbours through `sendrecv`
/// (plain `send` and `recv` next to the walls), with neighbour collectives
/// (``HaloExchange/neighborCollective``), or with a persistent plan overlapped with the
/// interior's computation (``HaloExchange/overlapped``). The result does not depend on the
/// number of ranks or threads: a run on any decomposition gives the same bits as a
/// run on one rank.
///
/// Storage is one contiguous `[Double]`: nine fields of `(nx + 2) * (ny + 2)` values
/// (two sets of h, u, v that alternate as current and next state, then the
/// tendencies of h, u, v), then the Coriolis parameter of each local row and the
/// kernel's row buffers. A step allocates nothing.
public final class ShallowWaterModel {
    /// The configuration every rank runs.
    public let configuration: ShallowWaterConfiguration
    /// The model's own communicator: the Cartesian grid's (``grid``), a new communicator
    /// over the processes of the one it was created with.
    public let communicator: Communicator
    /// The process grid as a Cartesian communicator of dimensions `[nprocY, nprocX]`:
    /// walls in y (dimension 0), periodic in x (dimension 1), ranks in the order of the
    /// communicator the model was created with.
    public let grid: CartesianCommunicator
    /// This rank's subdomain and neighbours.
    public let subdomain: Subdomain
    /// Threads this rank splits its rows between.
    public let threadCount: Int
    /// Steps taken so far.
    public private(set) var stepCount = 0
    /// Seconds this rank spent exchanging halos in ``step(count:)`` so far: packing, MPI
    /// calls (waiting for the neighbours included) and unpacking, without the interior cells
    /// that an overlapped exchange computes while its messages travel.
    public private(set) var haloExchangeSeconds = 0.0

    /// The process grid of the run.
    public var processGrid: ProcessGrid { subdomain.processGrid }
    /// Model time in seconds: steps taken times Δt.
    public var modelTime: Double { Double(stepCount) * configuration.timeStep }
    /// Model time in days.
    public var modelDays: Double { modelTime / ShallowWaterConfiguration.secondsPerDay }

    /// The storage: see the type's description.
    var storage: [Double]
    /// Values per field, halo included.
    let fieldCount: Int
    /// Which of the two state sets (0 or 1) is current.
    var current = 0
    /// Offset of the Coriolis rows in `storage`.
    let coriolisOffset: Int
    /// Offset of the kernel's row buffers in `storage`.
    let scratchOffset: Int
    /// Distance in `storage` between two threads' row buffers.
    let scratchStride: Int
    let kernel: StepKernel
    let pool: WorkerPool
    /// The bands of rows the threads share out: two per thread, so that a thread
    /// slowed down by anything else does less (one band for one thread).
    let bands: [ClosedRange<Int>]
    /// Halo message buffers.
    let halo: HaloBuffers
    /// How each step fills the halo.
    public let haloExchange: HaloExchange
    /// The persistent plan and the interior/boundary split of the overlapped exchange
    /// (``HaloExchange/overlapped`` only).
    let overlappedHalo: OverlappedHalo?
    /// The sub-grids and buffers of the neighbour-collective exchange (``HaloExchange/neighborCollective`` only).
    let neighborHalo: NeighborHalo?

    /// Creates this rank's part of a model and sets the initial state.
    ///
    /// Every rank of `communicator` must call this with the same arguments; the
    /// checks happen before any communication, so a grid that cannot be split over
    /// `communicator.size` ranks makes every rank throw the same error.
    ///
    /// - Parameters:
    ///   - configuration: the run's parameters.
    ///   - communicator: the ranks that share the grid (default: `MPI_COMM_WORLD`).
    ///   - processGrid: a process grid to use instead of the chosen one.
    ///   - threads: threads to split this rank's rows between (at most its row count).
    ///   - haloExchange: how each step fills the halo: one `sendrecv` per neighbour (the
    ///     default, ``HaloExchange/sendrecv``), neighbour collectives on the Cartesian grid
    ///     (``HaloExchange/neighborCollective``), or a persistent plan overlapped with the
    ///     interior's computation (``HaloExchange/overlapped``), the same bits each way;
    ///     ``HaloExchange/skipped`` is for timing only.
    /// - Throws: ``ShallowWaterError/invalidConfiguration(_:)``,
    ///   ``ShallowWaterError/cannotDecompose(nx:ny:ranks:validRankCounts:)``,
    ///   ``ShallowWaterError/invalidProcessGrid(nprocX:nprocY:nx:ny:ranks:)``, or
    ///   ``ShallowWaterError/communication(_:)`` when making the Cartesian communicator, the
    ///   neighbour exchange's sub-grids or the overlapped exchange's plan fails.
    public init(
        configuration: ShallowWaterConfiguration,
        communicator: Communicator = .world,
        processGrid: ProcessGrid? = nil,
        threads: Int = 1,
        haloExchange: HaloExchange = .sendrecv
    ) throws(ShallowWaterError) {
        try configuration.validate()
        let ranks = communicator.size
        let grid: ProcessGrid
        if let processGrid {
            grid = try processGrid.validated(nx: configuration.nx, ny: configuration.ny, ranks: ranks)
        } else {
            grid = try ProcessGrid.choose(nx: configuration.nx, ny: configuration.ny, ranks: ranks)
        }
        guard threads >= 1 else { throw .invalidConfiguration("threads must be at least 1 (got \(threads))") }

        let sub: Subdomain
        do {
            // Rank r at row r / nprocX and column r % nprocX, as without reordering.
            let cartesian = try communicator.cartesian(dimensions: [grid.nprocY, grid.nprocX], periodic: [false, true])!
            self.grid = cartesian
            self.communicator = cartesian.communicator
            sub = try Subdomain(grid: cartesian, globalNX: configuration.nx, globalNY: configuration.ny)
            neighborHalo = haloExchange == .neighborCollective ? try NeighborHalo(grid: cartesian, subdomain: sub) : nil
        } catch {
            throw .communication(String(describing: error))
        }
        self.configuration = configuration
        subdomain = sub
        kernel = StepKernel(configuration: configuration, nx: sub.nx, ny: sub.ny, northWall: sub.north == nil)

        let threadCount = min(threads, sub.ny)
        self.threadCount = threadCount
        let bandCount = threadCount == 1 ? 1 : min(sub.ny, 2 * threadCount)
        bands = (0..<bandCount).map { b in
            (1 + b * sub.ny / bandCount)...((b + 1) * sub.ny / bandCount)
        }
        pool = WorkerPool(threads: threadCount)

        fieldCount = (sub.nx + 2) * (sub.ny + 2)
        coriolisOffset = 9 * fieldCount
        scratchOffset = coriolisOffset + sub.ny + 1
        // Each thread's row buffers, 256 bytes apart so no cache line is shared.
        scratchStride = (kernel.scratchCount + 63) / 32 * 32
        storage = [Double](repeating: 0, count: scratchOffset + threadCount * scratchStride)
        halo = HaloBuffers(subdomain: sub)
        self.haloExchange = haloExchange
        do {
            overlappedHalo = haloExchange != .overlapped ? nil : try OverlappedHalo(
                subdomain: sub, globalNX: configuration.nx, globalNY: configuration.ny, threads: threadCount,
                communicator: self.communicator)
        } catch {
            throw .communication(String(describing: error))
        }

        // f at the north-east corners of local rows 0...ny (row 0 is the southern halo),
        // from the global row index, as the set-up places it.
        for row in 0...sub.ny {
            storage[coriolisOffset + row] = configuration.coriolisAtCorners(ofRow: sub.yOffset + row - 1)
        }
        setState(GlobalState.initial(configuration))
    }

    deinit {
        pool.stop()
    }

    // MARK: Fields

    /// The fields of the storage, in order.
    enum FieldSlot: Int {
        /// Current or next state, set 0.
        case h0, u0, v0
        /// Current or next state, set 1.
        case h1, u1, v1
        /// Tendencies of the last step.
        case dh, du, dv
    }

    /// The storage index of cell (j, i) of a field.
    @inline(__always)
    func index(_ slot: FieldSlot, _ j: Int, _ i: Int) -> Int {
        slot.rawValue * fieldCount + j * (subdomain.nx + 2) + i
    }

    /// The storage slot of the current h (u and v follow it).
    var currentSlot: FieldSlot { current == 0 ? .h0 : .h1 }

    /// The current state of this rank's subdomain, halo included (the halo holds the
    /// values of the last exchange).
    public var localFields: (h: Field, u: Field, v: Field) {
        func field(_ offset: Int) -> Field {
            var f = Field(nx: subdomain.nx, ny: subdomain.ny)
            let start = (currentSlot.rawValue + offset) * fieldCount
            f.values = Array(storage[start..<start + fieldCount])
            return f
        }
        return (field(0), field(1), field(2))
    }

    /// Replaces the current state with this rank's part of `global` and clears the
    /// tendencies, so the next step starts afresh with a forward step.
    ///
    /// - Precondition: `global` has the configuration's grid size.
    public func setState(_ global: GlobalState) {
        precondition(global.nx == configuration.nx && global.ny == configuration.ny,
                     "the state is \(global.nx) × \(global.ny), the model \(configuration.nx) × \(configuration.ny)")
        let slot = currentSlot.rawValue
        for (k, values) in [global.h, global.u, global.v].enumerated() {
            for j in 1...subdomain.ny {
                let source = (subdomain.yOffset + j - 1) * global.nx + subdomain.xOffset
                let target = (slot + k) * fieldCount + j * (subdomain.nx + 2) + 1
                storage.replaceSubrange(target..<target + subdomain.nx, with: values[source..<source + subdomain.nx])
            }
        }
        let tendencies = FieldSlot.dh.rawValue * fieldCount
        storage.replaceSubrange(tendencies..<tendencies + 3 * fieldCount,
                                with: repeatElement(0.0, count: 3 * fieldCount))
        stepCount = 0
    }

    // MARK: Time stepping

    /// Advances the model by `count` steps (a forward step first, Adams–Bashforth
    /// after). Collective over the communicator.
    ///
    /// - Throws: ``ShallowWaterError/communication(_:)`` when a halo exchange fails.
    public func step(count: Int = 1) throws(ShallowWaterError) {
        guard count > 0 else { return }
        let c = configuration
        let stride = subdomain.nx + 2
        let fields = fieldCount
        let kernel = self.kernel
        let bands = self.bands
        let pool = self.pool
        let scratchOffset = self.scratchOffset, coriolisOffset = self.coriolisOffset
        let scratchStride = self.scratchStride
        try storage.withUnsafeMutableBufferPointer { (buffer) throws(ShallowWaterError) in
            let base = buffer.baseAddress!
            func state(_ slot: Int) -> StatePointers {
                StatePointers(h: base + slot * fields, u: base + (slot + 1) * fields, v: base + (slot + 2) * fields)
            }
            let tendency = state(FieldSlot.dh.rawValue)
            let coriolis = UnsafePointer(base + coriolisOffset)
            for _ in 0..<count {
                let now = state(current == 0 ? FieldSlot.h0.rawValue : FieldSlot.h1.rawValue)
                let next = state(current == 0 ? FieldSlot.h1.rawValue : FieldSlot.h0.rawValue)
                let first = stepCount == 0
                let a = first ? c.timeStep : c.timeStep * (1.5 + c.adamsBashforthEpsilon)
                let b = first ? 0 : -c.timeStep * (0.5 + c.adamsBashforthEpsilon)
                if let overlapped = overlappedHalo {
                    // The cells that need no halo while the messages travel, then the others.
                    func run(_ tasks: [KernelTask]) {
                        pool.run(tasks: tasks.count) { task, thread in
                            kernel.step(rows: tasks[task].rows, state: now, next: next, tendency: tendency,
                                        coriolis: coriolis, scratch: base + scratchOffset + thread * scratchStride,
                                        a: a, b: b, columns: tasks[task].columns)
                        }
                    }
                    var computing = 0.0
                    let start = monotonicSeconds()
                    try exchangeHalosOverlapping(now, stride: stride, with: overlapped) {
                        let interiorStart = monotonicSeconds()
                        run(overlapped.interiorTasks)
                        computing = monotonicSeconds() - interiorStart
                    }
                    haloExchangeSeconds += monotonicSeconds() - start - computing
                    run(overlapped.boundaryTasks)
                } else {
                    // Skipped (timing only): both state sets get a halo once, at the first two steps.
                    if haloExchange != .skipped || stepCount < 2 {
                        let start = monotonicSeconds()
                        try exchangeHalos(now, stride: stride)
                        haloExchangeSeconds += monotonicSeconds() - start
                    }
                    pool.run(tasks: bands.count) { band, thread in
                        kernel.step(rows: bands[band], state: now, next: next, tendency: tendency, coriolis: coriolis,
                                    scratch: base + scratchOffset + thread * scratchStride, a: a, b: b)
                    }
                }
                current ^= 1
                stepCount += 1
            }
        }
    }

    // MARK: Output

    /// Gathers the interior of h, u and v to `root` with `gather`. Collective over the
    /// communicator.
    ///
    /// - Returns: the whole state on `root`, nil on the other ranks.
    /// - Throws: ``ShallowWaterError/communication(_:)`` when the gather fails.
    public func gather(root: Int = 0) throws(ShallowWaterError) -> GlobalState? {
        let nx = subdomain.nx, ny = subdomain.ny
        var local = [Double]()
        local.reserveCapacity(3 * nx * ny)
        let slot = currentSlot.rawValue
        for k in 0..<3 {
            for j in 1...ny {
                let start = (slot + k) * fieldCount + j * (nx + 2) + 1
                local.append(contentsOf: storage[start..<start + nx])
            }
        }
        let gathered: ShapedArray<Double>
        do {
            (gathered, _) = try MPI.gather(local, root: root, comm: communicator)
        } catch {
            throw .communication(String(describing: error))
        }
        guard communicator.rank == root else { return nil }

        let c = configuration
        let all = gathered.scalars
        var fields = [[Double]](repeating: [Double](repeating: 0, count: c.nx * c.ny), count: 3)
        for rank in 0..<communicator.size {
            let part = Subdomain(rank: rank, processGrid: processGrid, globalNX: c.nx, globalNY: c.ny)
            let block = rank * 3 * nx * ny
            for k in 0..<3 {
                for j in 0..<ny {
                    let source = block + (k * ny + j) * nx
                    let target = (part.yOffset + j) * c.nx + part.xOffset
                    fields[k].replaceSubrange(target..<target + nx, with: all[source..<source + nx])
                }
            }
        }
        return GlobalState(nx: c.nx, ny: c.ny, h: fields[0], u: fields[1], v: fields[2])
    }

    /// Mass and energy of the whole state, computed on `root` from the gathered fields
    /// (so in the same order whatever the decomposition). Collective.
    ///
    /// - Returns: the diagnostics on `root`, nil elsewhere.
    public func diagnostics(root: Int = 0) throws(ShallowWaterError) -> Diagnostics? {
        try gather(root: root)?.diagnostics(configuration)
    }
}

/// A monotonic clock in seconds (`CLOCK_MONOTONIC`), for ``ShallowWaterModel/haloExchangeSeconds``.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}
