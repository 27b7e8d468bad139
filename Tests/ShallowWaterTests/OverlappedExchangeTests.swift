// The overlapped halo exchange (a persistent plan started before the interior and
// completed before the boundary) against the blocking exchange, bit for bit, on every
// process grid of the world's size and of every smaller size down to 1 (so a launch at
// 4 ranks also covers 3, 2 and 1, and one at 6 covers 5 down to 1). Every expectation
// is computed from the rank and the size; every rank makes the same calls.
import MPI
import ShallowWaterModel
import XCTest

final class OverlappedExchangeTests: XCTestCase {
    /// 30 × 12 leaves SIMD remainders; the jet makes every term matter.
    let configuration = ShallowWaterConfiguration(nx: 30, ny: 12, jetWidth: 15_000, perturbationAmplitude: 0.5)
    let steps = 40

    var world: Communicator { Communicator.world }

    override func setUp() {
        super.setUp()
        continueAfterFailure = true
        XCTAssertNoThrow(try MPIRuntime.initialize())
    }

    /// Every process grid of `ranks` ranks that splits `configuration`'s grid.
    func grids(_ configuration: ShallowWaterConfiguration, ranks: Int) -> [ProcessGrid] {
        (1...ranks).filter { ranks % $0 == 0 }
            .map { ProcessGrid(nprocX: ranks / $0, nprocY: $0) }
            .filter { $0.fits(nx: configuration.nx, ny: configuration.ny, ranks: ranks) }
    }

    /// Steps the same model with both exchanges on `comm` and compares the gathered fields on its rank 0.
    func compare(_ configuration: ShallowWaterConfiguration, grid: ProcessGrid, threads: Int, comm: Communicator,
                 steps: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let context = "\(comm.size) ranks, \(grid) grid, \(threads) thread(s), \(configuration.nx) × \(configuration.ny)"
        let blocking = try ShallowWaterModel(configuration: configuration, communicator: comm, processGrid: grid,
                                             threads: threads, haloExchange: .sendrecv)
        let overlapped = try ShallowWaterModel(configuration: configuration, communicator: comm, processGrid: grid,
                                               threads: threads, haloExchange: .overlapped)
        XCTAssertEqual(overlapped.haloExchange, .overlapped)
        // In two calls, so a step count other than the first restarts nothing.
        let blockingStart = ContinuousClock.now
        try blocking.step(count: 1)
        try blocking.step(count: steps - 1)
        let blockingTime = ContinuousClock.now - blockingStart
        let overlappedStart = ContinuousClock.now
        try overlapped.step(count: 1)
        try overlapped.step(count: steps - 1)
        let overlappedTime = ContinuousClock.now - overlappedStart
        // The exchanges' time is part of the stepping time (the overlapped one without its interior).
        for (model, time) in [(blocking, blockingTime), (overlapped, overlappedTime)] {
            XCTAssertGreaterThan(model.haloExchangeSeconds, 0, "\(model.haloExchange): \(context)", file: file, line: line)
            XCTAssertLessThan(model.haloExchangeSeconds, Double(time.components.seconds)
                              + Double(time.components.attoseconds) * 1e-18,
                              "\(model.haloExchange): \(context)", file: file, line: line)
        }
        // The halos too: the overlapped exchange leaves the same values in them.
        let (b, o) = (blocking.localFields, overlapped.localFields)
        XCTAssertEqual(o.h.values, b.h.values, "local h (halo included) differs: \(context)", file: file, line: line)
        XCTAssertEqual(o.u.values, b.u.values, "local u (halo included) differs: \(context)", file: file, line: line)
        XCTAssertEqual(o.v.values, b.v.values, "local v (halo included) differs: \(context)", file: file, line: line)
        let blockingState = try blocking.gather()
        let overlappedState = try overlapped.gather()
        if comm.rank == 0 {
            let blockingState = try XCTUnwrap(blockingState), overlappedState = try XCTUnwrap(overlappedState)
            XCTAssertEqual(overlappedState.h, blockingState.h, "h differs: \(context)", file: file, line: line)
            XCTAssertEqual(overlappedState.u, blockingState.u, "u differs: \(context)", file: file, line: line)
            XCTAssertEqual(overlappedState.v, blockingState.v, "v differs: \(context)", file: file, line: line)
            XCTAssertNotEqual(blockingState.v, [Double](repeating: 0, count: blockingState.v.count),
                              "the flow did not evolve: \(context)", file: file, line: line)
        }
    }

    /// Runs `body` on a communicator of the first `ranks` ranks of the world (the
    /// others get nil and skip it). Collective over the world.
    func onFirstRanks(_ ranks: Int, _ body: (Communicator) throws -> Void) throws {
        let comm = try world.split(color: world.rank < ranks ? 0 : nil, key: world.rank)
        if let comm { try body(comm) }
    }

    func testOverlappedEqualsBlockingOnEveryGridAndSize() throws {
        // Every size from the world's down to 1, so that a launch at 4 ranks also covers 3.
        for ranks in stride(from: world.size, through: 1, by: -1) {
            try onFirstRanks(ranks) { comm in
                for grid in grids(configuration, ranks: ranks) {
                    try compare(configuration, grid: grid, threads: 1, comm: comm, steps: steps)
                }
            }
        }
    }

    func testOverlappedEqualsBlockingWithThreadsAndThinSubdomains() throws {
        // Subdomains of 1 and 2 rows or columns (no interior, or an interior of one column),
        // and threads that split the interior into bands.
        let thin = ShallowWaterConfiguration(nx: 12, ny: 6, jetWidth: 10_000, perturbationAmplitude: 0.5)
        let ranks = world.size
        for grid in grids(thin, ranks: ranks) {
            for threads in [1, 3] {
                try compare(thin, grid: grid, threads: threads, comm: world, steps: 20)
            }
        }
    }

    func testSkippedExchangeDiffers() throws {
        // The timing-only mode leaves the halo (the wrap and the walls too) as it was after
        // the first two steps, so its fields differ from the blocking run's on every grid.
        let ranks = world.size
        for grid in grids(configuration, ranks: ranks) {
            let blocking = try ShallowWaterModel(configuration: configuration, communicator: world, processGrid: grid)
            let skipped = try ShallowWaterModel(configuration: configuration, communicator: world, processGrid: grid,
                                                haloExchange: .skipped)
            try blocking.step(count: steps)
            try skipped.step(count: steps)
            let b = try blocking.gather(), s = try skipped.gather()
            if world.rank == 0 {
                let b = try XCTUnwrap(b), s = try XCTUnwrap(s)
                XCTAssertNotEqual(s.h, b.h, "skipping the exchange changed nothing on the \(grid) grid")
            }
        }
    }
}
