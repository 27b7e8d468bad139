// The halo values a rank sets itself: the periodic wrap when it owns a whole row of
// the channel, and the walls.

/// The boundary conditions that need no communication.
///
/// Walls are free-slip and impermeable: v = 0 on the wall faces, and h and u are
/// mirrored into the halo row (zero normal gradient), so neither the mass flux nor
/// the viscous stress crosses the wall.
enum Boundaries {
    /// Periodic wrap in x of interior rows `1...ny`, for a rank that holds every column.
    static func wrapX(_ state: StatePointers, nx: Int, ny: Int) {
        let stride = nx + 2
        func wrap(_ field: UnsafeMutablePointer<Double>) {
            for j in 1...ny {
                let row = field + j * stride
                row[0] = row[nx]
                row[nx + 1] = row[1]
            }
        }
        wrap(state.h)
        wrap(state.u)
        wrap(state.v)
    }

    /// The southern wall: fills halo row 0, corners included (so after the x halo).
    static func southWall(_ state: StatePointers, nx: Int) {
        let stride = nx + 2
        for i in 0..<stride {
            state.h[i] = state.h[stride + i]
            state.u[i] = state.u[stride + i]
            state.v[i] = 0
        }
    }

    /// The northern wall: fills halo row `ny + 1`, corners included (so after the x
    /// halo). The wall face itself is v's last interior row, which the kernel keeps at 0.
    static func northWall(_ state: StatePointers, nx: Int, ny: Int) {
        let stride = nx + 2
        let halo = (ny + 1) * stride, last = ny * stride
        for i in 0..<stride {
            state.h[halo + i] = state.h[last + i]
            state.u[halo + i] = state.u[last + i]
            state.v[halo + i] = 0
        }
    }
}
