// The overlapped halo exchange: a persistent plan (MPI_Send_init / MPI_Recv_init,
// made once) is started before the cells that need no halo are computed, and
// completed before the cells next to the halo are.
//
// Every message of a step starts at once, so the corners of the halo, which the
// blocking exchange passes on in two stages (the x halo first, then rows that
// include it), come straight from the diagonal neighbours when x is split. The
// halo ends up with the same values as after the blocking exchange, and the
// kernel computes each cell with the same arithmetic whatever range of rows and
// columns it is given, so the fields are the same bits.

import MPI

/// Message tags of the overlapped exchange, one per direction of travel.
private enum OverlapTag {
    static let westward = 11
    static let eastward = 12
    static let northward = 13
    static let southward = 14
    static let northeastward = 15
    static let northwestward = 16
    static let southeastward = 17
    static let southwestward = 18
}

/// A part of the subdomain that one call of the kernel computes.
struct KernelTask {
    /// Interior rows, within `1...ny`.
    let rows: ClosedRange<Int>
    /// Interior columns, within `1...nx`.
    let columns: ClosedRange<Int>
}

/// What the overlapped exchange needs: the plan and the split of the subdomain into the
/// cells that need no halo (the interior) and the others (the boundary).
final class OverlappedHalo {
    /// What one message carries: the cells of h, u and v it packs, in that order.
    struct Cells {
        /// The first cell's (row, column).
        let row: Int, column: Int
        /// How many cells, along a row (`alongRow`) or down a column.
        let count: Int
        let alongRow: Bool
    }

    /// The halo messages, made once.
    let plan: PersistentPlan<Double>
    /// What each send packs, in the order of `plan.sends`.
    let sendCells: [Cells]
    /// Where each receive goes, in the order of `plan.receives`; `nil` for a wall (procNull).
    let receiveCells: [Cells?]
    /// Whether this rank holds whole rows (nprocX = 1), so the x halo is a local wrap.
    let wrapsX: Bool
    /// The cells that need no halo, split between threads.
    let interiorTasks: [KernelTask]
    /// The cells next to the halo, computed after the exchange completes.
    let boundaryTasks: [KernelTask]

    /// The plan and the split for `subdomain`, on `communicator` (local: no communication).
    init(subdomain: Subdomain, globalNX: Int, globalNY: Int, threads: Int, communicator: Communicator) throws(MPIError) {
        let nx = subdomain.nx, ny = subdomain.ny
        let grid = subdomain.processGrid
        wrapsX = grid.nprocX == 1
        var sends: [PersistentMessage] = [], receives: [PersistentMessage] = []
        var sendCells: [Cells] = [], receiveCells: [Cells?] = []
        func add(send peer: Int?, _ cells: Cells, tag: Int, receive from: Int?, into target: Cells) {
            sends.append(PersistentMessage(peer: peer ?? procNull, tag: tag, count: 3 * cells.count))
            sendCells.append(cells)
            receives.append(PersistentMessage(peer: from ?? procNull, tag: tag, count: 3 * target.count))
            receiveCells.append(from == nil ? nil : target)
        }
        if !wrapsX {
            // Our first column goes west, our last east; the halo columns come from the other side.
            add(send: subdomain.west, Cells(row: 1, column: 1, count: ny, alongRow: false), tag: OverlapTag.westward,
                receive: subdomain.east, into: Cells(row: 1, column: nx + 1, count: ny, alongRow: false))
            add(send: subdomain.east, Cells(row: 1, column: nx, count: ny, alongRow: false), tag: OverlapTag.eastward,
                receive: subdomain.west, into: Cells(row: 1, column: 0, count: ny, alongRow: false))
        }
        // Rows: the interior columns, or whole rows (halo columns wrapped first) when nprocX = 1.
        let first = wrapsX ? 0 : 1, width = wrapsX ? nx + 2 : nx
        add(send: subdomain.north, Cells(row: ny, column: first, count: width, alongRow: true), tag: OverlapTag.northward,
            receive: subdomain.south, into: Cells(row: 0, column: first, count: width, alongRow: true))
        add(send: subdomain.south, Cells(row: 1, column: first, count: width, alongRow: true), tag: OverlapTag.southward,
            receive: subdomain.north, into: Cells(row: ny + 1, column: first, count: width, alongRow: true))
        if !wrapsX {
            // Corners, from the diagonal neighbours (the blocking exchange passes them on
            // through the x halo of the rows it sends).
            func neighbour(_ rank: Int?) -> Subdomain? {
                rank.map { Subdomain(rank: $0, processGrid: grid, globalNX: globalNX, globalNY: globalNY) }
            }
            let north = neighbour(subdomain.north), south = neighbour(subdomain.south)
            func corner(_ row: Int, _ column: Int) -> Cells { Cells(row: row, column: column, count: 1, alongRow: true) }
            add(send: north?.east, corner(ny, nx), tag: OverlapTag.northeastward, receive: south?.west, into: corner(0, 0))
            add(send: north?.west, corner(ny, 1), tag: OverlapTag.northwestward,
                receive: south?.east, into: corner(0, nx + 1))
            add(send: south?.east, corner(1, nx), tag: OverlapTag.southeastward,
                receive: north?.west, into: corner(ny + 1, 0))
            add(send: south?.west, corner(1, 1), tag: OverlapTag.southwestward,
                receive: north?.east, into: corner(ny + 1, nx + 1))
        }
        plan = try PersistentPlan<Double>(sends: sends, receives: receives, comm: communicator)
        self.sendCells = sendCells
        self.receiveCells = receiveCells

        // The interior: rows 2...ny-1, and columns 2...nx-1 when x is split.
        let interiorRows = ny >= 3 ? 2...(ny - 1) : nil
        let interiorColumns = wrapsX ? 1...nx : (nx >= 3 ? 2...(nx - 1) : nil)
        func bands(_ rows: ClosedRange<Int>, _ columns: ClosedRange<Int>) -> [KernelTask] {
            let count = threads == 1 ? 1 : min(rows.count, 2 * threads)
            let start = rows.lowerBound
            return (0..<count).map { b in
                KernelTask(rows: (start + b * rows.count / count)...(start + (b + 1) * rows.count / count - 1),
                           columns: columns)
            }
        }
        var interior: [KernelTask] = [], boundary: [KernelTask] = []
        if let interiorRows {
            if let interiorColumns {
                interior = bands(interiorRows, interiorColumns)
                if !wrapsX {
                    boundary.append(KernelTask(rows: interiorRows, columns: 1...1))
                    boundary.append(KernelTask(rows: interiorRows, columns: nx...nx))
                }
            } else {
                boundary += bands(interiorRows, 1...nx)
            }
        }
        boundary.append(KernelTask(rows: 1...1, columns: 1...nx))
        if ny >= 2 { boundary.append(KernelTask(rows: ny...ny, columns: 1...nx)) }
        interiorTasks = interior
        boundaryTasks = boundary
    }
}

extension ShallowWaterModel {
    /// Fills the halo of `state` with the overlapped exchange: packs and starts every
    /// message, runs `interior` (which must not read the halo) while they travel,
    /// completes them, unpacks them and applies the walls.
    func exchangeHalosOverlapping(
        _ state: StatePointers, stride: Int, with halo: OverlappedHalo, _ interior: () -> Void
    ) throws(ShallowWaterError) {
        let nx = subdomain.nx, ny = subdomain.ny
        if halo.wrapsX { Boundaries.wrapX(state, nx: nx, ny: ny) }
        do {
            try halo.plan.withSendBuffers { buffers in
                for (i, cells) in halo.sendCells.enumerated() {
                    Self.pack(state, cells, stride: stride, into: buffers[i])
                }
            }
            let exchange = try halo.plan.start()
            interior()
            try exchange.wait()
            try halo.plan.withReceiveBuffers { buffers in
                for (i, cells) in halo.receiveCells.enumerated() {
                    if let cells { Self.unpack(buffers[i], into: state, cells, stride: stride) }
                }
            }
        } catch {
            throw .communication(String(describing: error))
        }
        if subdomain.south == nil { Boundaries.southWall(state, nx: nx) }
        if subdomain.north == nil { Boundaries.northWall(state, nx: nx, ny: ny) }
    }

    /// Copies `cells` of h, u and v into `buffer` (h first, then u, then v).
    private static func pack(
        _ state: StatePointers, _ cells: OverlappedHalo.Cells, stride: Int, into buffer: UnsafeMutableBufferPointer<Double>
    ) {
        let n = cells.count, step = cells.alongRow ? 1 : stride
        let start = cells.row * stride + cells.column
        let out = buffer.baseAddress!
        func copy(_ field: UnsafeMutablePointer<Double>, to k: Int) {
            for c in 0..<n { out[k * n + c] = field[start + c * step] }
        }
        copy(state.h, to: 0)
        copy(state.u, to: 1)
        copy(state.v, to: 2)
    }

    /// Copies `buffer` (h, u, v) into `cells` of the state.
    private static func unpack(
        _ buffer: UnsafeBufferPointer<Double>, into state: StatePointers, _ cells: OverlappedHalo.Cells, stride: Int
    ) {
        let n = cells.count, step = cells.alongRow ? 1 : stride
        let start = cells.row * stride + cells.column
        let received = buffer.baseAddress!
        func copy(_ k: Int, to field: UnsafeMutablePointer<Double>) {
            for c in 0..<n { field[start + c * step] = received[k * n + c] }
        }
        copy(0, to: state.h)
        copy(1, to: state.u)
        copy(2, to: state.v)
    }
}
