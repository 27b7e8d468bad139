// How the global grid is split over ranks: the process grid and each rank's subdomain.

import MPI

/// The errors of the shallow-water model.
public enum ShallowWaterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The number of ranks cannot split the grid into equal rectangular subdomains.
    ///
    /// `validRankCounts` lists the rank counts up to 64 that do decompose this grid.
    case cannotDecompose(nx: Int, ny: Int, ranks: Int, validRankCounts: [Int])
    /// An explicitly requested process grid does not fit the grid or the number of ranks.
    case invalidProcessGrid(nprocX: Int, nprocY: Int, nx: Int, ny: Int, ranks: Int)
    /// A configuration parameter is out of range; the text names it.
    case invalidConfiguration(String)
    /// An MPI call failed; the text is the MPI error's description.
    case communication(String)

    /// A sentence that says what went wrong and what would work.
    public var description: String {
        switch self {
        case let .cannotDecompose(nx, ny, ranks, valid):
            let list = valid.map(String.init).joined(separator: ", ")
            return "cannot decompose the \(nx) × \(ny) grid over \(ranks) rank\(ranks == 1 ? "" : "s"): "
                + "no process grid nprocX × nprocY = \(ranks) has nprocX dividing \(nx) and nprocY dividing \(ny). "
                + "Rank counts that work for this grid: \(list.isEmpty ? "none up to 64" : list)."
        case let .invalidProcessGrid(px, py, nx, ny, ranks):
            // Each condition that fails, so that the message says which.
            var failed: [String] = []
            if px * py != ranks {
                failed.append("nprocX × nprocY = \(px * py) is not the number of ranks, \(ranks)")
            }
            if px < 1 || nx % px != 0 { failed.append("nprocX = \(px) does not divide nx = \(nx)") }
            if py < 1 || ny % py != 0 { failed.append("nprocY = \(py) does not divide ny = \(ny)") }
            return "the process grid \(px) × \(py) does not fit: " + failed.joined(separator: ", and ") + "."
        case let .invalidConfiguration(message):
            return "invalid shallow-water configuration: \(message)"
        case let .communication(message):
            return "MPI communication failed: \(message)"
        }
    }
}

/// A process grid: `nprocX` ranks along the periodic x direction times `nprocY` ranks
/// between the walls. Rank r sits at column `r % nprocX`, row `r / nprocX`; row 0 is
/// the southern one.
public struct ProcessGrid: Sendable, Hashable, CustomStringConvertible {
    /// Ranks along x.
    public let nprocX: Int
    /// Ranks along y.
    public let nprocY: Int

    /// Creates a process grid without checking it against a grid; see
    /// ``validated(nx:ny:ranks:)``.
    public init(nprocX: Int, nprocY: Int) {
        self.nprocX = nprocX
        self.nprocY = nprocY
    }

    /// Parses "PXxPY" (for example "4x1").
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let px = Int(parts[0]), let py = Int(parts[1]), px > 0, py > 0 else { return nil }
        self.init(nprocX: px, nprocY: py)
    }

    /// The number of ranks of the grid.
    public var count: Int { nprocX * nprocY }

    /// "PX × PY".
    public var description: String { "\(nprocX) × \(nprocY)" }

    /// Whether the process grid has `ranks` ranks and splits an `nx` × `ny` grid evenly.
    public func fits(nx: Int, ny: Int, ranks: Int) -> Bool {
        nprocX > 0 && nprocY > 0 && nprocX * nprocY == ranks
            && nx % nprocX == 0 && ny % nprocY == 0
    }

    /// This grid, if it fits; otherwise the error says why not.
    public func validated(nx: Int, ny: Int, ranks: Int) throws(ShallowWaterError) -> ProcessGrid {
        guard fits(nx: nx, ny: ny, ranks: ranks) else {
            throw .invalidProcessGrid(nprocX: nprocX, nprocY: nprocY, nx: nx, ny: ny, ranks: ranks)
        }
        return self
    }

    /// Halo messages the busiest rank receives per step: two when x is split (one from
    /// each side), and one (at a wall) or two more when y is split.
    public var haloMessages: Int {
        (nprocX > 1 ? 2 : 0) + (nprocY > 2 ? 2 : (nprocY == 2 ? 1 : 0))
    }

    /// Halo cells the busiest rank receives per field per step: two columns of
    /// `ny / nprocY` cells when x is split, and one (at a wall) or two rows of
    /// `nx / nprocX + 2` cells when y is split.
    public func haloCells(nx: Int, ny: Int) -> Int {
        let localX = nx / nprocX, localY = ny / nprocY
        let columns = nprocX > 1 ? 2 * localY : 0
        let rows = nprocY > 2 ? 2 * (localX + 2) : (nprocY == 2 ? localX + 2 : 0)
        return columns + rows
    }

    /// The process grid used for `ranks` ranks on an `nx` × `ny` grid.
    ///
    /// The starting point is mpi4jax's rule, `nprocY = min(ranks, 2)` and
    /// `nprocX = ranks / nprocY`. Every factorisation `nprocX × nprocY = ranks` that
    /// divides the grid is a candidate. The one whose busiest rank receives the fewest
    /// halo messages per step (``haloMessages``) wins, since on one node a message costs
    /// far more than the few kilobytes it carries; then the fewest halo cells
    /// (``haloCells(nx:ny:)``); then mpi4jax's rule; then fewer rows of ranks (longer
    /// contiguous rows).
    ///
    /// - Throws: ``ShallowWaterError/cannotDecompose(nx:ny:ranks:validRankCounts:)``
    ///   when no factorisation divides the grid.
    public static func choose(nx: Int, ny: Int, ranks: Int) throws(ShallowWaterError) -> ProcessGrid {
        guard nx >= 1, ny >= 1, ranks >= 1 else {
            throw .cannotDecompose(nx: nx, ny: ny, ranks: ranks, validRankCounts: validRankCounts(nx: nx, ny: ny))
        }
        let mpi4jaxY = min(ranks, 2)
        let mpi4jax = ProcessGrid(nprocX: ranks / mpi4jaxY, nprocY: mpi4jaxY)
        var best: ProcessGrid?
        var bestKey = (Int.max, Int.max, 1, Int.max)
        for py in 1...ranks where ranks % py == 0 {
            let candidate = ProcessGrid(nprocX: ranks / py, nprocY: py)
            guard candidate.fits(nx: nx, ny: ny, ranks: ranks) else { continue }
            let key = (candidate.haloMessages, candidate.haloCells(nx: nx, ny: ny), candidate == mpi4jax ? 0 : 1, py)
            if key < bestKey {
                best = candidate
                bestKey = key
            }
        }
        guard let best else {
            throw .cannotDecompose(nx: nx, ny: ny, ranks: ranks, validRankCounts: validRankCounts(nx: nx, ny: ny))
        }
        return best
    }

    /// The rank counts from 1 to `limit` that decompose an `nx` × `ny` grid.
    public static func validRankCounts(nx: Int, ny: Int, limit: Int = 64) -> [Int] {
        guard nx >= 1, ny >= 1, limit >= 1 else { return [] }
        return (1...limit).filter { ranks in
            (1...ranks).contains { py in
                ranks % py == 0 && ProcessGrid(nprocX: ranks / py, nprocY: py).fits(nx: nx, ny: ny, ranks: ranks)
            }
        }
    }
}

/// One rank's part of the global grid and its neighbours.
public struct Subdomain: Sendable, Hashable {
    /// The process grid the subdomain belongs to.
    public let processGrid: ProcessGrid
    /// The rank that owns it.
    public let rank: Int
    /// Column of the rank in the process grid (0 is the westernmost).
    public let column: Int
    /// Row of the rank in the process grid (0 is the southernmost).
    public let row: Int
    /// Interior cells in x.
    public let nx: Int
    /// Interior cells in y.
    public let ny: Int
    /// Global x index (0-based, interior cells) of the first interior column.
    public let xOffset: Int
    /// Global y index (0-based, interior cells) of the first interior row.
    public let yOffset: Int

    /// The subdomain of `rank` when an `nx` × `ny` grid is split by `processGrid`
    /// (which must fit it), with its neighbours computed from the rank.
    public init(rank: Int, processGrid: ProcessGrid, globalNX: Int, globalNY: Int) {
        precondition(rank >= 0 && rank < processGrid.count, "rank \(rank) outside the process grid \(processGrid)")
        let column = rank % processGrid.nprocX, row = rank / processGrid.nprocX
        let px = processGrid.nprocX
        self.init(processGrid: processGrid, rank: rank, column: column, row: row, globalNX: globalNX,
                  globalNY: globalNY, west: row * px + (column + px - 1) % px, east: row * px + (column + 1) % px,
                  south: row > 0 ? rank - px : nil, north: row < processGrid.nprocY - 1 ? rank + px : nil)
    }

    /// The subdomain of this rank of `grid`, a Cartesian communicator of dimensions
    /// `[nprocY, nprocX]`, periodic in x (dimension 1) and with walls in y (dimension 0):
    /// its coordinates and neighbours as MPI gives them (`MPI_Cart_shift`).
    public init(grid: CartesianCommunicator, globalNX: Int, globalNY: Int) throws(MPIError) {
        precondition(grid.dimensions.count == 2 && grid.periodic == [false, true],
                     "the grid must be [nprocY, nprocX], with walls in y and periodic in x")
        let (south, north) = try grid.shift(dimension: 0, displacement: 1)
        let (west, east) = try grid.shift(dimension: 1, displacement: 1)
        self.init(processGrid: ProcessGrid(nprocX: grid.dimensions[1], nprocY: grid.dimensions[0]), rank: grid.rank,
                  column: grid.coordinates[1], row: grid.coordinates[0], globalNX: globalNX, globalNY: globalNY,
                  west: west!, east: east!, south: south, north: north)
    }

    private init(
        processGrid: ProcessGrid, rank: Int, column: Int, row: Int, globalNX: Int, globalNY: Int,
        west: Int, east: Int, south: Int?, north: Int?
    ) {
        precondition(globalNX % processGrid.nprocX == 0 && globalNY % processGrid.nprocY == 0,
                     "the process grid \(processGrid) does not divide \(globalNX) × \(globalNY)")
        self.processGrid = processGrid
        self.rank = rank
        self.column = column
        self.row = row
        nx = globalNX / processGrid.nprocX
        ny = globalNY / processGrid.nprocY
        xOffset = column * nx
        yOffset = row * ny
        self.west = west
        self.east = east
        self.south = south
        self.north = north
    }

    /// The rank to the west (periodic; may be this rank).
    public let west: Int
    /// The rank to the east (periodic; may be this rank).
    public let east: Int
    /// The rank to the south, or nil at the southern wall.
    public let south: Int?
    /// The rank to the north, or nil at the northern wall.
    public let north: Int?
}
