// The distributed model against a single-rank reference. The binary runs under
// mpirun at any size; every expectation is computed from the rank and the size, and
// every rank makes the same collective calls in the same order.
import MPI
import ShallowWaterModel
import XCTest

final class DistributedModelTests: XCTestCase {
    /// A small channel with a jet several cells wide, so that every term matters.
    /// 30 columns leave SIMD remainders on most decompositions.
    let configuration = ShallowWaterConfiguration(nx: 30, ny: 12, jetWidth: 15_000, perturbationAmplitude: 0.5)
    let steps = 40

    var world: Communicator { Communicator.world }

    override func setUp() {
        super.setUp()
        continueAfterFailure = true
        XCTAssertNoThrow(try MPIRuntime.initialize())
    }

    /// The state after `steps` steps on rank 0 alone (nil elsewhere). Collective
    /// over the world (the split), but only rank 0 computes.
    func singleRankReference(threads: Int = 1) throws -> GlobalState? {
        let alone = try world.split(color: world.rank, key: 0)
        guard world.rank == 0 else { return nil }
        let model = try ShallowWaterModel(configuration: configuration, communicator: alone, threads: threads)
        XCTAssertEqual(model.processGrid, ProcessGrid(nprocX: 1, nprocY: 1))
        try model.step(count: steps)
        return try model.gather()
    }

    func testFieldsEqualSingleRankReference() throws {
        let reference = try singleRankReference()
        let size = world.size
        let expectedGrid = try? ProcessGrid.choose(nx: configuration.nx, ny: configuration.ny, ranks: size)
        do {
            let model = try ShallowWaterModel(configuration: configuration, communicator: world)
            XCTAssertEqual(model.processGrid, expectedGrid)
            try model.step(count: 1)
            try model.step(count: steps - 1)
            XCTAssertEqual(model.stepCount, steps)
            let state = try model.gather()
            if world.rank == 0 {
                let state = try XCTUnwrap(state)
                let reference = try XCTUnwrap(reference)
                // Bit for bit: the same arithmetic on the same inputs at every cell.
                XCTAssertEqual(state.h, reference.h, "h differs on \(size) ranks")
                XCTAssertEqual(state.u, reference.u, "u differs on \(size) ranks")
                XCTAssertEqual(state.v, reference.v, "v differs on \(size) ranks")
                XCTAssertNotEqual(state.v, [Double](repeating: 0, count: state.v.count), "the flow did not evolve")
            } else {
                XCTAssertNil(state)
            }
        } catch let error as ShallowWaterError {
            XCTAssertNil(expectedGrid, "unexpected refusal: \(error)")
            XCTAssertEqual(error, .cannotDecompose(nx: configuration.nx, ny: configuration.ny, ranks: size,
                                                   validRankCounts: ProcessGrid.validRankCounts(nx: configuration.nx, ny: configuration.ny)))
        }
    }

    func testEveryProcessGridGivesTheSameFields() throws {
        let reference = try singleRankReference()
        let size = world.size
        let grids = (1...size).filter { size % $0 == 0 }
            .map { ProcessGrid(nprocX: size / $0, nprocY: $0) }
            .filter { $0.fits(nx: configuration.nx, ny: configuration.ny, ranks: size) }
        for grid in grids {
            let model = try ShallowWaterModel(configuration: configuration, communicator: world, processGrid: grid)
            try model.step(count: steps)
            let state = try model.gather()
            if world.rank == 0, let state, let reference {
                XCTAssertEqual(state.h, reference.h, "h differs on the \(grid) process grid")
                XCTAssertEqual(state.u, reference.u, "u differs on the \(grid) process grid")
                XCTAssertEqual(state.v, reference.v, "v differs on the \(grid) process grid")
            }
        }
    }

    func testThreadsDoNotChangeTheFields() throws {
        let one = try singleRankReference(threads: 1)
        for threads in [2, 3, 5] {
            let many = try singleRankReference(threads: threads)
            if world.rank == 0 {
                XCTAssertEqual(many, one, "\(threads) threads differ from one")
            }
        }
    }

    func testMassIsConservedToRoundOff() throws {
        guard ProcessGrid.validRankCounts(nx: configuration.nx, ny: configuration.ny).contains(world.size) else {
            throw XCTSkip("\(world.size) ranks cannot split the test grid")
        }
        let model = try ShallowWaterModel(configuration: configuration, communicator: world)
        let start = try model.diagnostics()
        try model.step(count: 150)
        let end = try model.diagnostics()
        if world.rank == 0 {
            let start = try XCTUnwrap(start), end = try XCTUnwrap(end)
            // The fluxes cancel exactly in exact arithmetic; what is left is rounding.
            XCTAssertLessThan(abs(end.mass - start.mass) / start.mass, 1e-13)
            // Energy is not conserved (viscosity), but it stays close over a short run.
            XCTAssertLessThan(abs(end.totalEnergy - start.totalEnergy) / start.totalEnergy, 0.05)
        } else {
            XCTAssertNil(start)
            XCTAssertNil(end)
        }
    }

    func testRefusedSizeFailsClearlyOnEveryRank() throws {
        // 13 × 11 has no factorisation over 2...12 ranks; one rank is always fine.
        let odd = ShallowWaterConfiguration(nx: 13, ny: 11)
        var refused = 0
        do {
            _ = try ShallowWaterModel(configuration: odd, communicator: world)
            XCTAssertEqual(world.size, 1, "\(world.size) ranks should have been refused")
        } catch {
            refused = 1
            XCTAssertGreaterThan(world.size, 1)
            XCTAssertEqual(error, .cannotDecompose(nx: 13, ny: 11, ranks: world.size, validRankCounts: [1, 11, 13]))
            XCTAssertTrue(error.description.contains("cannot decompose the 13 × 11 grid over \(world.size) ranks"))
        }
        // Every rank came to the same verdict, without the model communicating.
        let (agreed, _) = try allreduce(refused, op: .sum, comm: world)
        XCTAssertEqual(agreed, world.size > 1 ? world.size : 0)
    }

    func testInitialStateIsBalancedAndAtRest() throws {
        let state = GlobalState.initial(configuration)
        let c = configuration
        XCTAssertEqual(state.v, [Double](repeating: 0, count: c.nx * c.ny))
        // Mean depth H (the perturbation has whole wavelengths).
        let mean = state.h.reduce(0, +) / Double(state.h.count)
        XCTAssertEqual(mean, c.depth, accuracy: 1e-9)
        // Geostrophic balance f u = −g ∂h/∂y away from the perturbation.
        let flat = GlobalState.initial(ShallowWaterConfiguration(nx: 30, ny: 12, jetWidth: 15_000, perturbationAmplitude: 0))
        for row in 0..<(c.ny - 1) {
            let gradient = (flat.h[(row + 1) * c.nx] - flat.h[row * c.nx]) / c.dy
            let f = c.coriolisF + c.coriolisBeta * Double(row + 1) * c.dy
            let u = 0.5 * (flat.u[row * c.nx] + flat.u[(row + 1) * c.nx])
            XCTAssertEqual(f * u, -c.gravity * gradient, accuracy: 1e-12)
        }
    }
}
