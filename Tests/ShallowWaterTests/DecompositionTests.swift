// The choice of process grid and the refusal of rank counts that cannot split the
// grid: pure functions, the same on every rank.
import ShallowWaterModel
import XCTest

final class DecompositionTests: XCTestCase {
    func testDefaultGridFollowsMpi4jaxWhenItIsCheapest() throws {
        // One rank, and two ranks split north/south (one message each way per step).
        XCTAssertEqual(try ProcessGrid.choose(nx: 360, ny: 180, ranks: 1), ProcessGrid(nprocX: 1, nprocY: 1))
        XCTAssertEqual(try ProcessGrid.choose(nx: 360, ny: 180, ranks: 2), ProcessGrid(nprocX: 1, nprocY: 2))
    }

    func testBetterFactorisationWhenItDividesTheGrid() throws {
        // mpi4jax's rule would give 1 × 2 for three ranks, which is not three ranks.
        XCTAssertEqual(try ProcessGrid.choose(nx: 360, ny: 180, ranks: 3), ProcessGrid(nprocX: 3, nprocY: 1))
        // Strips along x need two halo messages per rank; 2 × 2 needs three.
        XCTAssertEqual(try ProcessGrid.choose(nx: 360, ny: 180, ranks: 4), ProcessGrid(nprocX: 4, nprocY: 1))
        XCTAssertEqual(try ProcessGrid.choose(nx: 360, ny: 180, ranks: 6), ProcessGrid(nprocX: 6, nprocY: 1))
        // When x cannot be split that way, y is.
        XCTAssertEqual(try ProcessGrid.choose(nx: 7, ny: 12, ranks: 4), ProcessGrid(nprocX: 1, nprocY: 4))
        XCTAssertEqual(try ProcessGrid.choose(nx: 30, ny: 12, ranks: 4), ProcessGrid(nprocX: 1, nprocY: 4))
        XCTAssertEqual(try ProcessGrid.choose(nx: 30, ny: 12, ranks: 6), ProcessGrid(nprocX: 6, nprocY: 1))
    }

    func testChosenGridAlwaysFits() throws {
        for ranks in 1...16 {
            for (nx, ny) in [(360, 180), (30, 12), (24, 12), (7, 12), (13, 11)] {
                if let grid = try? ProcessGrid.choose(nx: nx, ny: ny, ranks: ranks) {
                    XCTAssertTrue(grid.fits(nx: nx, ny: ny, ranks: ranks), "\(grid) for \(ranks) ranks on \(nx) × \(ny)")
                    XCTAssertTrue(ProcessGrid.validRankCounts(nx: nx, ny: ny).contains(ranks))
                } else {
                    XCTAssertFalse(ProcessGrid.validRankCounts(nx: nx, ny: ny).contains(ranks))
                }
            }
        }
    }

    func testRefusalIsClear() {
        XCTAssertThrowsError(try ProcessGrid.choose(nx: 360, ny: 180, ranks: 7)) { error in
            guard let error = error as? ShallowWaterError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(error, .cannotDecompose(nx: 360, ny: 180, ranks: 7,
                                                   validRankCounts: ProcessGrid.validRankCounts(nx: 360, ny: 180)))
            let text = error.description
            XCTAssertTrue(text.contains("cannot decompose the 360 × 180 grid over 7 ranks"), text)
            XCTAssertTrue(text.contains("1, 2, 3, 4, 5, 6, 8"), text)
        }
        XCTAssertThrowsError(try ProcessGrid(nprocX: 4, nprocY: 2).validated(nx: 30, ny: 12, ranks: 8)) { error in
            XCTAssertEqual(error as? ShallowWaterError,
                           .invalidProcessGrid(nprocX: 4, nprocY: 2, nx: 30, ny: 12, ranks: 8))
            // The message names the condition that fails (it listed all three, one of which held).
            XCTAssertEqual("\(error)", "the process grid 4 × 2 does not fit: nprocX = 4 does not divide nx = 30.")
        }
        XCTAssertEqual(ShallowWaterError.invalidProcessGrid(nprocX: 2, nprocY: 2, nx: 90, ny: 45, ranks: 3).description,
                       "the process grid 2 × 2 does not fit: nprocX × nprocY = 4 is not the number of ranks, 3, "
                           + "and nprocY = 2 does not divide ny = 45.")
        XCTAssertThrowsError(try ProcessGrid(nprocX: 2, nprocY: 2).validated(nx: 30, ny: 12, ranks: 3))
        XCTAssertEqual(try ProcessGrid(nprocX: 3, nprocY: 3).validated(nx: 360, ny: 180, ranks: 9),
                       ProcessGrid(nprocX: 3, nprocY: 3))
    }

    func testSubdomainsTileTheGrid() {
        let grid = ProcessGrid(nprocX: 3, nprocY: 2)
        var covered = Set<Int>()
        for rank in 0..<6 {
            let part = Subdomain(rank: rank, processGrid: grid, globalNX: 30, globalNY: 12)
            XCTAssertEqual(part.nx, 10)
            XCTAssertEqual(part.ny, 6)
            for j in 0..<part.ny {
                for i in 0..<part.nx { covered.insert((part.yOffset + j) * 30 + part.xOffset + i) }
            }
            // Periodic in x, walls in y.
            XCTAssertEqual(Subdomain(rank: part.west, processGrid: grid, globalNX: 30, globalNY: 12).east, rank)
            XCTAssertEqual(part.south == nil, part.row == 0)
            XCTAssertEqual(part.north == nil, part.row == 1)
        }
        XCTAssertEqual(covered.count, 30 * 12)
    }

    func testProcessGridParsing() {
        XCTAssertEqual(ProcessGrid(parsing: "4x1"), ProcessGrid(nprocX: 4, nprocY: 1))
        XCTAssertEqual(ProcessGrid(parsing: "2X3"), ProcessGrid(nprocX: 2, nprocY: 3))
        XCTAssertNil(ProcessGrid(parsing: "4"))
        XCTAssertNil(ProcessGrid(parsing: "0x2"))
        XCTAssertNil(ProcessGrid(parsing: "2x2x2"))
    }

    func testStepCountCoversTheDays() {
        let c = ShallowWaterConfiguration()
        XCTAssertEqual(c.timeStep, 0.125 * 5000 / (9.81 * 100).squareRoot())
        let steps = c.steps(forDays: 10)
        XCTAssertGreaterThanOrEqual(Double(steps) * c.timeStep, 10 * 86_400)
        XCTAssertLessThan(Double(steps - 1) * c.timeStep, 10 * 86_400)
    }
}
