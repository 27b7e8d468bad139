// The halo exchange: one message per neighbour and direction carries the halo of
// h, u and v together.

import MPI

/// How a model's step fills the halo of its subdomain.
///
/// ``sendrecv``, ``neighborCollective`` and ``overlapped`` give the same bits on every
/// process grid; ``skipped`` is for timing only.
public enum HaloExchange: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// One `sendrecv` per pair of directions (plain `send` and `recv` next to the walls),
    /// then the whole subdomain is computed. The default.
    case sendrecv
    /// One neighbour collective per split direction: over the row of the process grid
    /// (west and east; a `neighborAlltoall`, or a `neighborAllgather` when two ranks share
    /// the periodic x direction) when x is split, then a `neighborAlltoall` over its column
    /// (south and north) when y is split, then the whole subdomain is computed. So one collective per step on a
    /// process grid split in one direction (the grids chosen automatically on the
    /// default grid), two on a grid split in both: the corner cells of the rows travel
    /// south and north only once the columns have arrived from west and east, as in the
    /// `sendrecv` exchange.
    case neighborCollective = "neighbor"
    /// A persistent plan of every halo message (``MPI/PersistentPlan``) is started, the
    /// cells that need no halo are computed while the messages travel, the plan is
    /// completed, and the cells next to the halo are computed.
    case overlapped
    /// For timing only: the halo is exchanged (as with ``sendrecv``) at the first two
    /// steps only, once for each of the two state sets, and afterwards left as it is,
    /// so the fields are wrong. Its time per step is the limit that hiding the exchange
    /// can approach.
    case skipped

    /// The name used on the command line: `sendrecv`, `neighbor`, `overlapped` or `skipped`.
    public var description: String { rawValue }
}

/// Message buffers for the halo exchange, allocated once.
final class HaloBuffers {
    /// One column of h, u and v (interior rows), to send.
    var columnSend: [Double]
    /// One column of h, u and v, received.
    var columnReceive: [Double]
    /// One row of h, u and v (halo columns included), to send.
    var rowSend: [Double]
    /// One row of h, u and v, received.
    var rowReceive: [Double]

    /// Buffers for a subdomain.
    init(subdomain: Subdomain) {
        columnSend = [Double](repeating: 0, count: 3 * subdomain.ny)
        columnReceive = columnSend
        rowSend = [Double](repeating: 0, count: 3 * (subdomain.nx + 2))
        rowReceive = rowSend
    }
}

/// Message tags, one per direction of travel.
private enum HaloTag {
    static let westward = 11
    static let eastward = 12
    static let northward = 13
    static let southward = 14
}

extension ShallowWaterModel {
    /// Fills the halo of the state at `state`: first the columns (periodic in x, from
    /// the west and east neighbours, or wrapped locally when this rank holds whole
    /// rows), then the rows, corners included (from the south and north neighbours,
    /// or by the wall conditions).
    ///
    /// Each pair of directions is one `sendrecv`; a rank next to a wall has no partner
    /// on that side, so it only sends (toward the interior) or only receives.
    func exchangeHalos(_ state: StatePointers, stride: Int) throws(ShallowWaterError) {
        if let neighborHalo { return try exchangeHalosWithNeighborCollectives(state, stride: stride, neighborHalo) }
        let nx = subdomain.nx, ny = subdomain.ny
        let comm = communicator
        do {
            if processGrid.nprocX == 1 {
                Boundaries.wrapX(state, nx: nx, ny: ny)
            } else {
                // Our first column goes west; the eastern neighbour's first column
                // becomes our eastern halo. Then the mirror image.
                packColumn(state, column: 1, stride: stride)
                try sendrecv(halo.columnSend, into: &halo.columnReceive, source: subdomain.east, dest: subdomain.west,
                             sendtag: HaloTag.westward, recvtag: HaloTag.westward, comm: comm)
                unpackColumn(state, column: nx + 1, stride: stride)
                packColumn(state, column: nx, stride: stride)
                try sendrecv(halo.columnSend, into: &halo.columnReceive, source: subdomain.west, dest: subdomain.east,
                             sendtag: HaloTag.eastward, recvtag: HaloTag.eastward, comm: comm)
                unpackColumn(state, column: 0, stride: stride)
            }

            // Northward: our last row goes north, the southern neighbour's last row
            // becomes our southern halo.
            switch (subdomain.south, subdomain.north) {
            case let (south?, north?):
                packRow(state, row: ny, stride: stride)
                try sendrecv(halo.rowSend, into: &halo.rowReceive, source: south, dest: north,
                             sendtag: HaloTag.northward, recvtag: HaloTag.northward, comm: comm)
                unpackRow(state, row: 0, stride: stride)
            case let (nil, north?):
                packRow(state, row: ny, stride: stride)
                try send(halo.rowSend, dest: north, tag: HaloTag.northward, comm: comm)
                Boundaries.southWall(state, nx: nx)
            case let (south?, nil):
                try recv(into: &halo.rowReceive, source: south, tag: HaloTag.northward, comm: comm)
                unpackRow(state, row: 0, stride: stride)
            case (nil, nil):
                Boundaries.southWall(state, nx: nx)
            }

            // Southward: our first row goes south, the northern neighbour's first row
            // becomes our northern halo.
            switch (subdomain.north, subdomain.south) {
            case let (north?, south?):
                packRow(state, row: 1, stride: stride)
                try sendrecv(halo.rowSend, into: &halo.rowReceive, source: north, dest: south,
                             sendtag: HaloTag.southward, recvtag: HaloTag.southward, comm: comm)
                unpackRow(state, row: ny + 1, stride: stride)
            case let (nil, south?):
                packRow(state, row: 1, stride: stride)
                try send(halo.rowSend, dest: south, tag: HaloTag.southward, comm: comm)
                Boundaries.northWall(state, nx: nx, ny: ny)
            case let (north?, nil):
                try recv(into: &halo.rowReceive, source: north, tag: HaloTag.southward, comm: comm)
                unpackRow(state, row: ny + 1, stride: stride)
            case (nil, nil):
                Boundaries.northWall(state, nx: nx, ny: ny)
            }
        } catch {
            throw .communication(String(describing: error))
        }
    }

    /// Copies interior rows `1...ny` of `column` of h, u, v into `halo.columnSend`.
    private func packColumn(_ state: StatePointers, column: Int, stride: Int) {
        let ny = subdomain.ny
        halo.columnSend.withUnsafeMutableBufferPointer { out in
            for j in 1...ny {
                let source = j * stride + column
                out[j - 1] = state.h[source]
                out[ny + j - 1] = state.u[source]
                out[2 * ny + j - 1] = state.v[source]
            }
        }
    }

    /// Copies `halo.columnReceive` into interior rows `1...ny` of `column` of h, u, v.
    private func unpackColumn(_ state: StatePointers, column: Int, stride: Int) {
        let ny = subdomain.ny
        halo.columnReceive.withUnsafeBufferPointer { received in
            for j in 1...ny {
                let target = j * stride + column
                state.h[target] = received[j - 1]
                state.u[target] = received[ny + j - 1]
                state.v[target] = received[2 * ny + j - 1]
            }
        }
    }

    /// Copies the whole of `row` (halo columns included) of h, u, v into `halo.rowSend`.
    private func packRow(_ state: StatePointers, row: Int, stride: Int) {
        halo.rowSend.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            base.update(from: state.h + row * stride, count: stride)
            (base + stride).update(from: state.u + row * stride, count: stride)
            (base + 2 * stride).update(from: state.v + row * stride, count: stride)
        }
    }

    /// Copies `halo.rowReceive` into the whole of `row` of h, u, v.
    private func unpackRow(_ state: StatePointers, row: Int, stride: Int) {
        halo.rowReceive.withUnsafeBufferPointer { received in
            let base = received.baseAddress!
            (state.h + row * stride).update(from: base, count: stride)
            (state.u + row * stride).update(from: base + stride, count: stride)
            (state.v + row * stride).update(from: base + 2 * stride, count: stride)
        }
    }
}
