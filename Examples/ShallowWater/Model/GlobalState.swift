// The whole model state on one rank: the initial jet, diagnostics, vorticity.

import Foundation

/// The interior of the whole grid, as rank 0 holds it after a gather (or as the
/// initial state is defined): `ny` rows of `nx` values each, row-major, row 0 the
/// southernmost, for the layer thickness h (cell centres), the zonal velocity u (east
/// faces) and the meridional velocity v (north faces; the last row is the northern
/// wall, where v is 0).
public struct GlobalState: Sendable, Equatable {
    /// Interior cells in x.
    public let nx: Int
    /// Interior cells in y.
    public let ny: Int
    /// Layer thickness in metres.
    public var h: [Double]
    /// Zonal velocity in m/s.
    public var u: [Double]
    /// Meridional velocity in m/s.
    public var v: [Double]

    /// A state from its three fields (`nx * ny` values each).
    public init(nx: Int, ny: Int, h: [Double], u: [Double], v: [Double]) {
        precondition(h.count == nx * ny && u.count == nx * ny && v.count == nx * ny,
                     "each field needs \(nx * ny) values")
        self.nx = nx
        self.ny = ny
        self.h = h
        self.u = u
        self.v = v
    }

    /// The initial state of the configuration's set-up: a Gaussian zonal jet in
    /// geostrophic balance with the surface height, plus a wave in the height that
    /// seeds the instability, and v = 0.
    ///
    /// In the standard set-up the jet is u(y) = U exp(−((y − Ly/2)/w)²) on the east
    /// faces, with y at the cell centres. The height follows from the discrete balance
    /// f u = −g ∂h/∂y between neighbouring rows, with f and u taken on the face between
    /// them, and is shifted to mean depth H; the wave has `perturbationWavenumber`
    /// wavelengths along the channel and is confined to the jet. The
    /// ``ShallowWaterSetup/mpi4jax`` set-up computes mpi4jax's initial state instead
    /// (see there). Everything is computed from global coordinates, so every rank
    /// derives the same values.
    public static func initial(_ c: ShallowWaterConfiguration) -> GlobalState {
        switch c.setup {
        case .standard: standardInitial(c)
        case .mpi4jax: mpi4jaxInitial(c)
        }
    }

    /// The standard set-up's initial state (see ``initial(_:)``).
    private static func standardInitial(_ c: ShallowWaterConfiguration) -> GlobalState {
        let nx = c.nx, ny = c.ny
        let centre = 0.5 * c.lengthY
        func jet(_ row: Int) -> Double {
            let y = (Double(row) + 0.5) * c.dy
            let s = (y - centre) / c.jetWidth
            return c.jetSpeed * exp(-s * s)
        }
        var eta = [Double](repeating: 0, count: ny)
        for row in stride(from: 1, to: ny, by: 1) {
            let fFace = c.coriolisF + c.coriolisBeta * Double(row) * c.dy
            eta[row] = eta[row - 1] - c.dy / c.gravity * fFace * 0.5 * (jet(row - 1) + jet(row))
        }
        let meanEta = eta.reduce(0, +) / Double(ny)
        var h = [Double](repeating: 0, count: nx * ny)
        var u = [Double](repeating: 0, count: nx * ny)
        let k = 2 * Double.pi * Double(c.perturbationWavenumber) / c.lengthX
        for row in 0..<ny {
            let y = (Double(row) + 0.5) * c.dy
            let s = (y - centre) / (2 * c.jetWidth)
            let envelope = c.perturbationAmplitude * exp(-s * s)
            let uRow = jet(row)
            for column in 0..<nx {
                let x = (Double(column) + 0.5) * c.dx
                h[row * nx + column] = c.depth + (eta[row] - meanEta) + envelope * sin(k * x)
                u[row * nx + column] = uRow
            }
        }
        return GlobalState(nx: nx, ny: ny, h: h, u: u, v: [Double](repeating: 0, count: nx * ny))
    }

    /// mpi4jax's initial state (see ``ShallowWaterSetup/mpi4jax``), with its operations
    /// in its order, so the values agree with mpi4jax's to rounding.
    ///
    /// mpi4jax works on arrays that include the one-cell halo: array row j = 0 ... ny + 1
    /// lies at y = (j − 1)·dy and array column i at x = (i − 1)·dx. Its balance and its
    /// mean include the halo rows, so they are computed here too; only the interior is
    /// returned.
    private static func mpi4jaxInitial(_ c: ShallowWaterConfiguration) -> GlobalState {
        let nx = c.nx, ny = c.ny
        let lengthX = Double(nx - 1) * c.dx
        let lengthY = Double(ny - 1) * c.dy
        let rows = ny + 2
        func y(_ j: Int) -> Double { Double(j - 1) * c.dy }
        // The jet at every array row, and h_geo, the cumulative sum from the southern
        // halo row of −dy u f / g with f at the row's own y.
        var jet = [Double](repeating: 0, count: rows)
        var balance = [Double](repeating: 0, count: rows)
        var sum = 0.0
        for j in 0..<rows {
            let offset = y(j) - 0.5 * lengthY
            jet[j] = c.jetSpeed * exp(-(offset * offset) / (c.jetWidth * c.jetWidth))
            let f = c.coriolisF + y(j) * c.coriolisBeta
            sum += -c.dy * jet[j] * f / c.gravity
            balance[j] = sum
        }
        // The mean over the whole (ny + 2) × (nx + 2) array: h_geo does not vary along
        // a row, so it is the mean of the rows.
        let mean = balance.reduce(0, +) / Double(rows)
        let waves = Double(2 * c.perturbationWavenumber)
        var h = [Double](repeating: 0, count: nx * ny)
        var u = [Double](repeating: 0, count: nx * ny)
        for row in 0..<ny {
            let j = row + 1
            let meridional = cos(y(j) / lengthY * 8 * Double.pi)
            for column in 0..<nx {
                let x = Double(column) * c.dx
                let wave = c.perturbationAmplitude * sin(x / lengthX * waves * Double.pi) * meridional
                h[row * nx + column] = c.depth + balance[j] - mean + wave
                u[row * nx + column] = jet[j]
            }
        }
        return GlobalState(nx: nx, ny: ny, h: h, u: u, v: [Double](repeating: 0, count: nx * ny))
    }

    /// Total mass, kinetic and potential energy, summed in row-major order.
    ///
    /// Kinetic energy uses the C-grid average K = ¼(u²ₑ + u²_w + v²ₙ + v²ₛ) at cell
    /// centres (periodic in x, v = 0 on the southern wall); potential energy is
    /// measured from the state at rest, ½ ρ g (h − H)².
    public func diagnostics(_ c: ShallowWaterConfiguration) -> Diagnostics {
        var mass = 0.0, kinetic = 0.0, potential = 0.0
        for row in 0..<ny {
            for column in 0..<nx {
                let index = row * nx + column
                let west = row * nx + (column == 0 ? nx - 1 : column - 1)
                let vSouth = row == 0 ? 0 : v[index - nx]
                let depth = h[index]
                let k = 0.25 * (u[index] * u[index] + u[west] * u[west] + v[index] * v[index] + vSouth * vSouth)
                mass += depth
                kinetic += depth * k
                potential += 0.5 * c.gravity * (depth - c.depth) * (depth - c.depth)
            }
        }
        let cell = c.density * c.dx * c.dy
        return Diagnostics(mass: mass * cell, kineticEnergy: kinetic * cell, potentialEnergy: potential * cell)
    }

    /// Relative vorticity ζ = ∂v/∂x − ∂u/∂y at the north-east corner of every cell, in
    /// s⁻¹, row-major like the fields. Along the northern wall the slip condition
    /// (u mirrored) makes ∂u/∂y vanish.
    public func relativeVorticity(_ c: ShallowWaterConfiguration) -> [Double] {
        var zeta = [Double](repeating: 0, count: nx * ny)
        for row in 0..<ny {
            for column in 0..<nx {
                let index = row * nx + column
                let east = row * nx + (column + 1) % nx
                let north = row + 1 < ny ? index + nx : index
                zeta[index] = (v[east] - v[index]) / c.dx - (u[north] - u[index]) / c.dy
            }
        }
        return zeta
    }

    /// Surface height anomaly h − H in metres.
    public func heightAnomaly(_ c: ShallowWaterConfiguration) -> [Double] {
        h.map { $0 - c.depth }
    }
}

/// Integral quantities of a state, in SI units.
public struct Diagnostics: Sendable, Equatable {
    /// Total mass ρ Σ h dx dy, in kg.
    public var mass: Double
    /// Kinetic energy ρ Σ h K dx dy, in J.
    public var kineticEnergy: Double
    /// Potential energy relative to rest, ½ ρ g Σ (h − H)² dx dy, in J.
    public var potentialEnergy: Double

    /// Creates diagnostics from their parts.
    public init(mass: Double, kineticEnergy: Double, potentialEnergy: Double) {
        self.mass = mass
        self.kineticEnergy = kineticEnergy
        self.potentialEnergy = potentialEnergy
    }

    /// Kinetic plus potential energy, in J.
    public var totalEnergy: Double { kineticEnergy + potentialEnergy }
}
