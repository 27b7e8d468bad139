// The model on its Cartesian communicator: the neighbours from MPI_Cart_shift, and the
// neighbour-collective halo exchange against the sendrecv exchange, bit for bit, on
// every process grid of the launch size. Every expectation follows from the rank and
// the size, and every rank makes the same collective calls in the same order.
import MPI
import ShallowWaterModel
import XCTest

final class HaloExchangeTests: XCTestCase {
    /// A small channel with a jet several cells wide; 30 × 12 splits over 1, 2, 3, 4 and 6 ranks
    /// in one and in two directions.
    let configuration = ShallowWaterConfiguration(nx: 30, ny: 12, jetWidth: 15_000, perturbationAmplitude: 0.5)
    let steps = 40

    var world: Communicator { Communicator.world }

    override func setUp() {
        super.setUp()
        continueAfterFailure = true
        XCTAssertNoThrow(try MPIRuntime.initialize())
    }

    /// Every process grid of the launch size that splits the test grid.
    var processGrids: [ProcessGrid] {
        let size = world.size
        return (1...size).filter { size % $0 == 0 }
            .map { ProcessGrid(nprocX: size / $0, nprocY: $0) }
            .filter { $0.fits(nx: configuration.nx, ny: configuration.ny, ranks: size) }
    }

    func testNeighborsComeFromTheCartesianGrid() throws {
        for processGrid in processGrids {
            let model = try ShallowWaterModel(configuration: configuration, communicator: world, processGrid: processGrid)
            XCTAssertEqual(model.grid.dimensions, [processGrid.nprocY, processGrid.nprocX])
            XCTAssertEqual(model.grid.periodic, [false, true])
            XCTAssertEqual(model.grid.rank, world.rank)
            // The neighbours from MPI_Cart_shift are those of the rank arithmetic.
            XCTAssertEqual(model.subdomain, Subdomain(rank: world.rank, processGrid: processGrid,
                                                      globalNX: configuration.nx, globalNY: configuration.ny),
                           "\(processGrid) rank \(world.rank)")
        }
    }

    func testNeighborCollectiveExchangeGivesTheSameBits() throws {
        XCTAssertFalse(processGrids.isEmpty)
        for processGrid in processGrids {
            var states = [GlobalState?]()
            for exchange in [HaloExchange.sendrecv, .neighborCollective] {
                let model = try ShallowWaterModel(configuration: configuration, communicator: world,
                                                  processGrid: processGrid, haloExchange: exchange)
                XCTAssertEqual(model.haloExchange, exchange)
                try model.step(count: steps)
                states.append(try model.gather())
            }
            if world.rank == 0 {
                let sendrecv = try XCTUnwrap(states[0]), neighbor = try XCTUnwrap(states[1])
                XCTAssertEqual(neighbor.h, sendrecv.h, "h differs on the \(processGrid) process grid")
                XCTAssertEqual(neighbor.u, sendrecv.u, "u differs on the \(processGrid) process grid")
                XCTAssertEqual(neighbor.v, sendrecv.v, "v differs on the \(processGrid) process grid")
                XCTAssertNotEqual(neighbor.v, [Double](repeating: 0, count: neighbor.v.count), "the flow did not evolve")
            }
        }
    }
}
