// The time step of the shallow-water equations on one subdomain: tendencies and the
// Adams–Bashforth update, in one sweep over the rows.
//
// The equations, in vector-invariant form with the Bernoulli function B = g h + K:
//
//   ∂h/∂t = −∂(h u)/∂x − ∂(h v)/∂y
//   ∂u/∂t =  q (h v) − ∂B/∂x + ν ∇²u
//   ∂v/∂t = −q (h u) − ∂B/∂y + ν ∇²v
//
// with q = (f + ζ) / h the potential vorticity, ζ = ∂v/∂x − ∂u/∂y and
// K = (u² + v²) / 2. On the Arakawa C grid h sits at cell centres, u on east faces,
// v on north faces, ζ and q on north-east corners; the Coriolis term uses the
// energy-conserving average of Sadourny (1975). The mass fluxes are differenced in
// flux form, so the total mass changes only by rounding. Time stepping is the
// second-order Adams–Bashforth scheme with the usual stabilising offset ε,
// φⁿ⁺¹ = φⁿ + Δt [(3/2 + ε) Fⁿ − (1/2 + ε) Fⁿ⁻¹], started by a forward step; the
// viscous term is part of F.
//
// Every quantity a row's tendencies need is computable from the state and its
// one-cell halo, so one halo exchange per step is enough. Intermediate rows (mass
// fluxes, q, B and the Coriolis products) live in nine row buffers that are rotated
// as the sweep moves north; each is computed once. Each row is then updated by three
// short loops, one per field, which keeps the live pointers and values within the
// registers. The arithmetic of every cell is the same whether it falls in a 4-wide
// SIMD chunk or in the scalar remainder, on any split of the rows between threads
// and on any decomposition, so a distributed run reproduces a single-rank run bit
// for bit.

/// The arithmetic a kernel point needs, for one value (`Double`) or four
/// (`SIMD4<Double>`), so a point is written once and evaluated either way.
protocol Lanes {
    /// The value with every lane equal to `scalar`.
    init(splat scalar: Double)
    /// Loads the lanes from `pointer` (no alignment required).
    init(loading pointer: UnsafePointer<Double>)
    /// Stores the lanes at `pointer` (no alignment required).
    func store(to pointer: UnsafeMutablePointer<Double>)
    /// Lane-wise sum.
    static func + (lhs: Self, rhs: Self) -> Self
    /// Lane-wise difference.
    static func - (lhs: Self, rhs: Self) -> Self
    /// Lane-wise product.
    static func * (lhs: Self, rhs: Self) -> Self
    /// Lane-wise quotient.
    static func / (lhs: Self, rhs: Self) -> Self
}

extension Double: Lanes {
    @inline(__always) init(splat scalar: Double) { self = scalar }
    @inline(__always) init(loading pointer: UnsafePointer<Double>) { self = pointer.pointee }
    @inline(__always) func store(to pointer: UnsafeMutablePointer<Double>) { pointer.pointee = self }
}

extension SIMD4: Lanes where Scalar == Double {
    @inline(__always) init(splat scalar: Double) { self.init(repeating: scalar) }
    @inline(__always) init(loading pointer: UnsafePointer<Double>) {
        self = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD4<Double>.self)
    }
    @inline(__always) func store(to pointer: UnsafeMutablePointer<Double>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: SIMD4<Double>.self)
    }
}

/// Runs `vector` on 4-wide chunks of `lower...upper` and `scalar` on what is left.
@inline(__always)
private func sweep(_ lower: Int, _ upper: Int, vector: (Int) -> Void, scalar: (Int) -> Void) {
    var i = lower
    while i + 3 <= upper {
        vector(i)
        i += 4
    }
    while i <= upper {
        scalar(i)
        i += 1
    }
}

/// The state of one subdomain, halo included: three fields with the same row stride.
struct StatePointers {
    /// Layer thickness at cell centres.
    var h: UnsafeMutablePointer<Double>
    /// Zonal velocity on east faces.
    var u: UnsafeMutablePointer<Double>
    /// Meridional velocity on north faces.
    var v: UnsafeMutablePointer<Double>
}

/// One Adams–Bashforth step of the shallow-water equations on a subdomain whose halo
/// is up to date.
///
/// To save multiplications the row buffers hold scaled quantities: doubled mass
/// fluxes 2hu and 2hv, q/4 (which is (f + ζ) over the sum of the four corner depths)
/// and 4B; the constants below undo the scaling.
struct StepKernel {
    /// Interior cells in x.
    let nx: Int
    /// Interior cells in y.
    let ny: Int
    /// Row stride of the fields, `nx + 2`.
    let stride: Int
    /// 1 / dx, for ζ.
    let rdx: Double
    /// 1 / dy, for ζ.
    let rdy: Double
    /// 1 / (2 dx), for the divergence of doubled fluxes.
    let halfRdx: Double
    /// 1 / (2 dy), for the divergence of doubled fluxes.
    let halfRdy: Double
    /// 1 / (4 dx), for the gradient of 4B.
    let quarterRdx: Double
    /// 1 / (4 dy), for the gradient of 4B.
    let quarterRdy: Double
    /// 4g, for 4B.
    let fourGravity: Double
    /// ν / dx².
    let viscosityX: Double
    /// ν / dy².
    let viscosityY: Double
    /// 2ν / dx² + 2ν / dy², the centre weight of the Laplacian.
    let viscosityCentre: Double
    /// Whether the last interior row of v is the northern wall (v stays 0 there).
    let northWall: Bool

    /// A kernel for a subdomain of `nx` × `ny` interior cells.
    init(configuration c: ShallowWaterConfiguration, nx: Int, ny: Int, northWall: Bool) {
        self.nx = nx
        self.ny = ny
        stride = nx + 2
        rdx = 1 / c.dx
        rdy = 1 / c.dy
        halfRdx = 0.5 / c.dx
        halfRdy = 0.5 / c.dy
        quarterRdx = 0.25 / c.dx
        quarterRdy = 0.25 / c.dy
        fourGravity = 4 * c.gravity
        viscosityX = c.lateralViscosity / (c.dx * c.dx)
        viscosityY = c.lateralViscosity / (c.dy * c.dy)
        viscosityCentre = 2 * viscosityX + 2 * viscosityY
        self.northWall = northWall
    }

    /// Doubles of scratch space one call of `step` needs: nine rows.
    var scratchCount: Int { 9 * stride }

    // MARK: The discrete quantities, each written once for both lane types.

    /// 2hu on an east face from the depths either side.
    @inline(__always) func eastFlux<L: Lanes>(_ h: L, _ hEast: L, _ u: L) -> L { (h + hEast) * u }

    /// 2hv on a north face from the depths either side.
    @inline(__always) func northFlux<L: Lanes>(_ h: L, _ hNorth: L, _ v: L) -> L { (h + hNorth) * v }

    /// q/4 at a north-east corner: (f + ζ) / (sum of the four surrounding depths).
    @inline(__always) func potentialVorticity<L: Lanes>(
        _ f: Double, h: L, hEast: L, hNorth: L, hNorthEast: L, u: L, uNorth: L, v: L, vEast: L
    ) -> L {
        (L(splat: f) + ((vEast - v) * L(splat: rdx) - (uNorth - u) * L(splat: rdy)))
            / ((h + hEast) + (hNorth + hNorthEast))
    }

    /// 4B = 4g h + u²ₑ + u²_w + v²ₙ + v²ₛ at a cell centre.
    @inline(__always) func bernoulli<L: Lanes>(_ h: L, u: L, uWest: L, v: L, vSouth: L) -> L {
        L(splat: fourGravity) * h + ((u * u + uWest * uWest) + (v * v + vSouth * vSouth))
    }

    /// q/4 times the sum of two doubled fluxes: half the Coriolis product at a corner.
    @inline(__always) func coriolisProduct<L: Lanes>(_ pv: L, _ flux: L, _ otherFlux: L) -> L { pv * (flux + otherFlux) }

    // MARK: The sweep

    /// Advances the interior cells `rows` × `columns` of `state` by one step into `next`.
    ///
    /// Rows can be split between threads: each call reads only `state` (rows
    /// `rows.lowerBound - 1 ... rows.upperBound + 1`, halo included) and writes only
    /// its own rows of `next` and `tendency`, and the first row's intermediate values
    /// are recomputed with the same expressions, so any split gives the same bits.
    /// Columns can be split the same way (the overlapped halo exchange computes the
    /// cells that need no halo first): the values a range needs from the columns either
    /// side of it are recomputed with the same expressions, one column each side, so
    /// the values used from `state` are those of columns `columns.lowerBound - 1 ...
    /// columns.upperBound + 1`.
    ///
    /// - Parameters:
    ///   - rows: interior rows to advance, within `1...ny`.
    ///   - columns: interior columns to advance, within `1...nx` (default: all).
    ///   - state: the current fields, halo filled.
    ///   - next: receives the new interior values of `rows` (its halo is not touched).
    ///   - tendency: on entry the tendencies of the previous step (zeros before the
    ///     first), on exit those of this step, in `rows`.
    ///   - coriolis: f at the north-east corners of local rows `0...ny`.
    ///   - scratch: `scratchCount` doubles, private to this call.
    ///   - a: Δt (3/2 + ε), or Δt for a forward first step.
    ///   - b: −Δt (1/2 + ε), or 0 for a forward first step.
    func step(
        rows: ClosedRange<Int>,
        state: StatePointers,
        next: StatePointers,
        tendency: StatePointers,
        coriolis: UnsafePointer<Double>,
        scratch: UnsafeMutablePointer<Double>,
        a: Double,
        b: Double,
        columns: ClosedRange<Int>? = nil
    ) {
        precondition(rows.lowerBound >= 1 && rows.upperBound <= ny, "rows \(rows) outside 1...\(ny)")
        let columns = columns ?? 1...nx
        precondition(columns.lowerBound >= 1 && columns.upperBound <= nx, "columns \(columns) outside 1...\(nx)")
        var buffers = RowBuffers(scratch: scratch, stride: stride)
        prologue(rows.lowerBound, columns, state: state, coriolis: coriolis[rows.lowerBound - 1], buffers: &buffers)
        for j in rows {
            rowPass(j, columns, state: state, coriolis: coriolis[j], buffers: buffers)
            updatePass(j, columns, state: state, next: next, tendency: tendency, buffers: buffers, a: a, b: b)
            buffers.advance()
        }
        if northWall && rows.upperBound == ny {
            let offset = ny * stride
            for i in columns {
                tendency.v[offset + i] = 0
                next.v[offset + i] = 0
            }
        }
    }

    /// The row buffers. Before row j's passes, `eastFlux` and `bernoulli` hold row j,
    /// `northFluxSouth` row j − 1 and `coriolisU` the product of row j − 1; the row
    /// pass fills `eastFluxNorth` and `bernoulliNorth` (row j + 1), `northFlux`, `pv`
    /// and `coriolisV` (row j).
    struct RowBuffers {
        var eastFlux: UnsafeMutablePointer<Double>
        var eastFluxNorth: UnsafeMutablePointer<Double>
        var northFluxSouth: UnsafeMutablePointer<Double>
        var northFlux: UnsafeMutablePointer<Double>
        var bernoulli: UnsafeMutablePointer<Double>
        var bernoulliNorth: UnsafeMutablePointer<Double>
        /// q/4 (hv + hv east) at the corners of the row below, then of this row.
        let coriolisU: UnsafeMutablePointer<Double>
        /// q/4 (hu + hu north) at the corners of this row.
        let coriolisV: UnsafeMutablePointer<Double>
        /// q/4 at the corners of this row.
        let pv: UnsafeMutablePointer<Double>

        init(scratch: UnsafeMutablePointer<Double>, stride: Int) {
            eastFlux = scratch
            eastFluxNorth = scratch + stride
            northFluxSouth = scratch + 2 * stride
            northFlux = scratch + 3 * stride
            bernoulli = scratch + 4 * stride
            bernoulliNorth = scratch + 5 * stride
            coriolisU = scratch + 6 * stride
            coriolisV = scratch + 7 * stride
            pv = scratch + 8 * stride
        }

        /// Moves the rolling rows one row north.
        mutating func advance() {
            swap(&eastFlux, &eastFluxNorth)
            swap(&northFluxSouth, &northFlux)
            swap(&bernoulli, &bernoulliNorth)
        }
    }

    /// Row `first`'s east flux and B, and row `first - 1`'s north flux and Coriolis
    /// product: what the sweep would have left in the buffers after row `first - 1`.
    /// The row pass of row `first - 1` computes them with the same expressions (its
    /// hu-Coriolis product reads an east flux that is not there, but nothing uses it),
    /// and the hv-Coriolis product is the one the zonal momentum update would form.
    @inline(__always)
    private func prologue(
        _ first: Int, _ columns: ClosedRange<Int>, state: StatePointers, coriolis f: Double, buffers: inout RowBuffers
    ) {
        rowPass(first - 1, columns, state: state, coriolis: f, buffers: buffers)
        let fn = UnsafePointer(buffers.northFlux), pv = UnsafePointer(buffers.pv)
        let product = buffers.coriolisU
        @inline(__always)
        func point<L: Lanes>(_: L.Type, _ i: Int) {
            coriolisProduct(L(loading: pv + i), L(loading: fn + i), L(loading: fn + i + 1)).store(to: product + i)
        }
        sweep(columns.lowerBound, columns.upperBound, vector: { point(SIMD4<Double>.self, $0) },
              scalar: { point(Double.self, $0) })
        buffers.advance()
    }

    /// Row j's north flux, q and hu-Coriolis product, and row j + 1's east flux and B, in
    /// `columns` and the column either side of them.
    @inline(__always)
    private func rowPass(_ j: Int, _ columns: ClosedRange<Int>, state: StatePointers, coriolis f: Double, buffers: RowBuffers) {
        let h0 = UnsafePointer(state.h + j * stride), h1 = UnsafePointer(state.h + (j + 1) * stride)
        let u0 = UnsafePointer(state.u + j * stride), u1 = UnsafePointer(state.u + (j + 1) * stride)
        let v0 = UnsafePointer(state.v + j * stride), v1 = UnsafePointer(state.v + (j + 1) * stride)
        let eastFluxHere = UnsafePointer(buffers.eastFlux)
        let eastFluxNorth = buffers.eastFluxNorth, northFluxOut = buffers.northFlux
        let pvOut = buffers.pv, coriolisV = buffers.coriolisV, bernoulliNorth = buffers.bernoulliNorth

        @inline(__always)
        func point<L: Lanes>(_: L.Type, _ i: Int) {
            let hHere = L(loading: h0 + i), hNorth = L(loading: h1 + i), hNorthEast = L(loading: h1 + i + 1)
            let uHere = L(loading: u0 + i), uNorth = L(loading: u1 + i)
            let vHere = L(loading: v0 + i), vNorth = L(loading: v1 + i)
            let feNorth = eastFlux(hNorth, hNorthEast, uNorth)
            feNorth.store(to: eastFluxNorth + i)
            northFlux(hHere, hNorth, vHere).store(to: northFluxOut + i)
            let pv: L = potentialVorticity(f, h: hHere, hEast: L(loading: h0 + i + 1), hNorth: hNorth, hNorthEast: hNorthEast,
                                           u: uHere, uNorth: uNorth, v: vHere, vEast: L(loading: v0 + i + 1))
            pv.store(to: pvOut + i)
            coriolisProduct(pv, L(loading: eastFluxHere + i), feNorth).store(to: coriolisV + i)
            bernoulli(hNorth, u: uNorth, uWest: L(loading: u1 + i - 1), v: vNorth, vSouth: vHere).store(to: bernoulliNorth + i)
        }
        sweep(columns.lowerBound, columns.upperBound, vector: { point(SIMD4<Double>.self, $0) },
              scalar: { point(Double.self, $0) })
        // Inside the subdomain, the columns either side of the range are ordinary points
        // (of which the update reads only what the edges below compute).
        if columns.lowerBound > 1 { point(Double.self, columns.lowerBound - 1) }
        if columns.upperBound < nx { point(Double.self, columns.upperBound + 1) }
        if columns.lowerBound > 1 && columns.upperBound < nx { return }
        if columns.lowerBound > 1 {
            eastEdge(h0: h0, h1: h1, u1: u1, v0: v0, v1: v1, northFluxOut: northFluxOut, bernoulliNorth: bernoulliNorth)
            return
        }

        // The western edge (i = 0): what the first interior column's update reads.
        let feNorth0 = eastFlux(h1[0], h1[1], u1[0])
        eastFluxNorth[0] = feNorth0
        northFluxOut[0] = northFlux(h0[0], h1[0], v0[0])
        let pv0: Double = potentialVorticity(f, h: h0[0], hEast: h0[1], hNorth: h1[0], hNorthEast: h1[1],
                                             u: u0[0], uNorth: u1[0], v: v0[0], vEast: v0[1])
        pvOut[0] = pv0
        coriolisV[0] = coriolisProduct(pv0, eastFluxHere[0], feNorth0)
        if columns.upperBound == nx {
            eastEdge(h0: h0, h1: h1, u1: u1, v0: v0, v1: v1, northFluxOut: northFluxOut, bernoulliNorth: bernoulliNorth)
        }
    }

    /// The eastern edge (i = nx + 1) of a row pass: what the last interior column's update reads.
    @inline(__always)
    private func eastEdge(
        h0: UnsafePointer<Double>, h1: UnsafePointer<Double>, u1: UnsafePointer<Double>, v0: UnsafePointer<Double>,
        v1: UnsafePointer<Double>, northFluxOut: UnsafeMutablePointer<Double>, bernoulliNorth: UnsafeMutablePointer<Double>
    ) {
        let e = nx + 1
        northFluxOut[e] = northFlux(h0[e], h1[e], v0[e])
        bernoulliNorth[e] = bernoulli(h1[e], u: u1[e], uWest: u1[e - 1], v: v1[e], vSouth: v0[e])
    }

    /// Row j's tendencies and its Adams–Bashforth update.
    @inline(__always)
    private func updatePass(
        _ j: Int, _ columns: ClosedRange<Int>, state: StatePointers, next: StatePointers, tendency: StatePointers,
        buffers: RowBuffers, a: Double, b: Double
    ) {
        let offset = j * stride
        let h = UnsafePointer(state.h + offset)
        let u = UnsafePointer(state.u + offset)
        let uSouth = UnsafePointer(state.u + offset - stride), uNorth = UnsafePointer(state.u + offset + stride)
        let v = UnsafePointer(state.v + offset)
        let vSouth = UnsafePointer(state.v + offset - stride), vNorth = UnsafePointer(state.v + offset + stride)
        let hNext = next.h + offset, uNext = next.u + offset, vNext = next.v + offset
        let dh = tendency.h + offset, du = tendency.u + offset, dv = tendency.v + offset
        let fe = UnsafePointer(buffers.eastFlux)
        let fn = UnsafePointer(buffers.northFlux), fnSouth = UnsafePointer(buffers.northFluxSouth)
        let pv = UnsafePointer(buffers.pv)
        let coriolisU = buffers.coriolisU, coriolisV = UnsafePointer(buffers.coriolisV)
        let bern = UnsafePointer(buffers.bernoulli), bernNorth = UnsafePointer(buffers.bernoulliNorth)

        // Three sweeps, one per field, keep the number of live pointers and values
        // small enough for the registers.
        @inline(__always)
        func continuity<L: Lanes>(_: L.Type, _ i: Int) {
            // Minus the divergence of the mass flux.
            let dhNew = (L(loading: fe + i - 1) - L(loading: fe + i)) * L(splat: halfRdx)
                + (L(loading: fnSouth + i) - L(loading: fn + i)) * L(splat: halfRdy)
            (L(loading: h + i) + (L(splat: a) * dhNew + L(splat: b) * L(loading: dh + i))).store(to: hNext + i)
            dhNew.store(to: dh + i)
        }
        @inline(__always)
        func zonalMomentum<L: Lanes>(_: L.Type, _ i: Int) {
            // q hv − ∂B/∂x + ν∇²u on the east face, q hv the mean of the corner
            // products north and south of the face.
            let productNorth = coriolisProduct(L(loading: pv + i), L(loading: fn + i), L(loading: fn + i + 1))
            let productSouth = L(loading: coriolisU + i)
            productNorth.store(to: coriolisU + i)
            let uHere = L(loading: u + i)
            let duNew = L(splat: 0.5) * (productNorth + productSouth)
                + (L(loading: bern + i) - L(loading: bern + i + 1)) * L(splat: quarterRdx)
                + ((L(splat: viscosityX) * (L(loading: u + i + 1) + L(loading: u + i - 1))
                    + L(splat: viscosityY) * (L(loading: uNorth + i) + L(loading: uSouth + i)))
                    - L(splat: viscosityCentre) * uHere)
            (uHere + (L(splat: a) * duNew + L(splat: b) * L(loading: du + i))).store(to: uNext + i)
            duNew.store(to: du + i)
        }
        @inline(__always)
        func meridionalMomentum<L: Lanes>(_: L.Type, _ i: Int) {
            // −q hu − ∂B/∂y + ν∇²v on the north face.
            let vHere = L(loading: v + i)
            let dvNew = ((L(loading: bern + i) - L(loading: bernNorth + i)) * L(splat: quarterRdy)
                - L(splat: 0.5) * (L(loading: coriolisV + i) + L(loading: coriolisV + i - 1)))
                + ((L(splat: viscosityX) * (L(loading: v + i + 1) + L(loading: v + i - 1))
                    + L(splat: viscosityY) * (L(loading: vNorth + i) + L(loading: vSouth + i)))
                    - L(splat: viscosityCentre) * vHere)
            (vHere + (L(splat: a) * dvNew + L(splat: b) * L(loading: dv + i))).store(to: vNext + i)
            dvNew.store(to: dv + i)
        }
        let lo = columns.lowerBound, hi = columns.upperBound
        sweep(lo, hi, vector: { continuity(SIMD4<Double>.self, $0) }, scalar: { continuity(Double.self, $0) })
        sweep(lo, hi, vector: { zonalMomentum(SIMD4<Double>.self, $0) }, scalar: { zonalMomentum(Double.self, $0) })
        sweep(lo, hi, vector: { meridionalMomentum(SIMD4<Double>.self, $0) }, scalar: { meridionalMomentum(Double.self, $0) })
    }
}
