// The halo exchange with neighbour collectives: one `neighborAlltoall` per split
// direction of the process grid, on the row or column of the Cartesian grid.

import MPI

/// The sub-grids and message buffers of the neighbour-collective exchange, made once.
final class NeighborHalo {
    /// The row of the process grid (periodic in x), when x is split.
    let row: CartesianCommunicator?
    /// The column of the process grid (walls in y), when y is split.
    let column: CartesianCommunicator?
    /// Column 1 then column `nx` of h, u and v (interior rows): to the west, then to the east.
    var columnsSend: [Double]
    /// From the west (into column 0), then from the east (into column `nx + 1`); with two
    /// ranks along x, each neighbour's whole `columnsSend` (see ``twoColumns``).
    var columnsReceive: [Double]
    /// Whether the row has two ranks, so that the west and east neighbour are the same rank.
    ///
    /// With two ranks along x, each rank sends both of its edge columns to its neighbour
    /// with `neighborAllgather`, and takes the column it needs from each block, for twice
    /// the bytes. It was written when the libraries' own order of two messages between the
    /// same two ranks decided which block they filled; the package now delivers them by
    /// direction (see the MPI documentation's Cartesian topologies), so `neighborAlltoall`
    /// would do too. The allgather is kept, since it is what docs/shallow-water.md measured.
    let twoColumns: Bool
    /// Row 1 then row `ny` of h, u and v (halo columns included): to the south, then to the north.
    var rowsSend: [Double]
    /// From the south (into row 0), then from the north (into row `ny + 1`).
    var rowsReceive: [Double]

    /// The sub-grids of `grid` that the exchange needs (collective over `grid`), and the buffers.
    init(grid: CartesianCommunicator, subdomain: Subdomain) throws(MPIError) {
        row = subdomain.processGrid.nprocX > 1 ? try grid.sub(keeping: [false, true]) : nil
        column = subdomain.processGrid.nprocY > 1 ? try grid.sub(keeping: [true, false]) : nil
        columnsSend = [Double](repeating: 0, count: 2 * 3 * subdomain.ny)
        twoColumns = subdomain.processGrid.nprocX == 2
        columnsReceive = [Double](repeating: 0, count: (twoColumns ? 4 : 2) * 3 * subdomain.ny)
        rowsSend = [Double](repeating: 0, count: 2 * 3 * (subdomain.nx + 2))
        rowsReceive = rowsSend
    }
}

extension ShallowWaterModel {
    /// Fills the halo of the state at `state` with neighbour collectives: the columns
    /// (one `neighborAlltoall` over the row of the process grid, a `neighborAllgather`
    /// when the row has two ranks, or the local wrap when this rank holds whole rows), then the rows with their corners (one
    /// `neighborAlltoall` over the column, whose null neighbours at the walls send
    /// nothing, so the walls are set locally).
    func exchangeHalosWithNeighborCollectives(
        _ state: StatePointers, stride: Int, _ halo: NeighborHalo
    ) throws(ShallowWaterError) {
        let nx = subdomain.nx, ny = subdomain.ny
        do {
            if let row = halo.row {
                halo.columnsSend.withUnsafeMutableBufferPointer { out in
                    packColumn(state, column: 1, stride: stride, ny: ny, into: out.baseAddress!)
                    packColumn(state, column: nx, stride: stride, ny: ny, into: out.baseAddress! + 3 * ny)
                }
                if halo.twoColumns {
                    // Blocks of two columns: the west neighbour's column nx is the second half of
                    // block 0, the east neighbour's column 1 the first half of block 1.
                    try neighborAllgather(halo.columnsSend, into: &halo.columnsReceive, comm: row.communicator)
                    halo.columnsReceive.withUnsafeBufferPointer { received in
                        unpackColumn(state, column: 0, stride: stride, ny: ny, from: received.baseAddress! + 3 * ny)
                        unpackColumn(state, column: nx + 1, stride: stride, ny: ny,
                                     from: received.baseAddress! + 6 * ny)
                    }
                } else {
                    try neighborAlltoall(halo.columnsSend, into: &halo.columnsReceive, comm: row.communicator)
                    halo.columnsReceive.withUnsafeBufferPointer { received in
                        unpackColumn(state, column: 0, stride: stride, ny: ny, from: received.baseAddress!)
                        unpackColumn(state, column: nx + 1, stride: stride, ny: ny,
                                     from: received.baseAddress! + 3 * ny)
                    }
                }
            } else {
                Boundaries.wrapX(state, nx: nx, ny: ny)
            }
            if let column = halo.column {
                halo.rowsSend.withUnsafeMutableBufferPointer { out in
                    packRow(state, row: 1, stride: stride, into: out.baseAddress!)
                    packRow(state, row: ny, stride: stride, into: out.baseAddress! + 3 * stride)
                }
                try neighborAlltoall(halo.rowsSend, into: &halo.rowsReceive, comm: column.communicator)
                halo.rowsReceive.withUnsafeBufferPointer { received in
                    if subdomain.south != nil {
                        unpackRow(state, row: 0, stride: stride, from: received.baseAddress!)
                    }
                    if subdomain.north != nil {
                        unpackRow(state, row: ny + 1, stride: stride, from: received.baseAddress! + 3 * stride)
                    }
                }
            }
            if subdomain.south == nil { Boundaries.southWall(state, nx: nx) }
            if subdomain.north == nil { Boundaries.northWall(state, nx: nx, ny: ny) }
        } catch {
            throw .communication(String(describing: error))
        }
    }

    /// Copies interior rows `1...ny` of `column` of h, u, v to `out` (h's, then u's, then v's).
    private func packColumn(
        _ state: StatePointers, column: Int, stride: Int, ny: Int, into out: UnsafeMutablePointer<Double>
    ) {
        for j in 1...ny {
            let source = j * stride + column
            out[j - 1] = state.h[source]
            out[ny + j - 1] = state.u[source]
            out[2 * ny + j - 1] = state.v[source]
        }
    }

    /// Copies `received` into interior rows `1...ny` of `column` of h, u, v.
    private func unpackColumn(
        _ state: StatePointers, column: Int, stride: Int, ny: Int, from received: UnsafePointer<Double>
    ) {
        for j in 1...ny {
            let target = j * stride + column
            state.h[target] = received[j - 1]
            state.u[target] = received[ny + j - 1]
            state.v[target] = received[2 * ny + j - 1]
        }
    }

    /// Copies the whole of `row` (halo columns included) of h, u, v to `out`.
    private func packRow(_ state: StatePointers, row: Int, stride: Int, into out: UnsafeMutablePointer<Double>) {
        out.update(from: state.h + row * stride, count: stride)
        (out + stride).update(from: state.u + row * stride, count: stride)
        (out + 2 * stride).update(from: state.v + row * stride, count: stride)
    }

    /// Copies `received` into the whole of `row` of h, u, v.
    private func unpackRow(_ state: StatePointers, row: Int, stride: Int, from received: UnsafePointer<Double>) {
        (state.h + row * stride).update(from: received, count: stride)
        (state.u + row * stride).update(from: received + stride, count: stride)
        (state.v + row * stride).update(from: received + 2 * stride, count: stride)
    }
}
