// The parameters of the shallow-water model: grid, physics, initial state and time step.

/// The set-up a run starts from: its initial state and where the Coriolis parameter
/// is evaluated. The equations, the time stepping and the boundaries are the same for
/// both.
public enum ShallowWaterSetup: String, Sendable, Hashable, CaseIterable {
    /// This model's own set-up: coordinates of cell centres ((i + ½) dx), a jet of
    /// half-width 2 % of nx·dx in discrete geostrophic balance on the faces between
    /// rows, a wave of `perturbationWavenumber` wavelengths in h confined to the jet,
    /// and f evaluated at the north-east corners, where the kernel uses it.
    case standard
    /// The set-up of mpi4jax's shallow-water example, to reproduce its numbers.
    ///
    /// Coordinates include the halo: interior column c lies at x = c·dx and interior
    /// row r at y = r·dy, and the lengths are Lx = (nx − 1)·dx and Ly = (ny − 1)·dy.
    /// The jet u = U exp(−(y − Ly/2)² / w²), with w = 0.02 Lx unless given, is
    /// balanced by h = H + h_geo − mean(h_geo), where h_geo is the cumulative sum over
    /// rows, from the southern halo row, of −dy·u·f/g with f = f₀ + β y at the row,
    /// and the mean is over the whole (ny + 2) × (nx + 2) array, halo included. The
    /// perturbation is A sin(2π k x / Lx) cos(8π y / Ly) over the whole channel,
    /// with k = `perturbationWavenumber`. The Coriolis parameter of a corner is f at
    /// the y of the cell below it (r·dy), β·dy less than at the corner itself.
    case mpi4jax
}

/// The parameters of a shallow-water run: the global grid, the physical constants,
/// the initial jet and the time step.
///
/// The defaults describe the classic set-up: a 360 × 180 interior grid of 5 km cells
/// (1800 km × 900 km), a 100 m deep layer on a β-plane with f₀ = 2·10⁻⁴ s⁻¹, and a
/// 10 m/s geostrophic zonal jet in the middle of the channel, perturbed by a small
/// wave in the surface height so that it goes unstable and rolls up into eddies.
///
/// ``setup`` switches to the set-up of mpi4jax's shallow-water example instead (its
/// initial state and its placement of f), which reproduces mpi4jax's numbers when the
/// viscosity is 0.
///
/// Every rank of a run must use the same configuration: the initial state and the
/// Coriolis parameter are computed from global coordinates, which is what makes the
/// result independent of the process grid.
public struct ShallowWaterConfiguration: Sendable, Equatable {
    /// Interior cells in x (periodic direction).
    public var nx: Int
    /// Interior cells in y (between the walls).
    public var ny: Int
    /// Cell width in metres.
    public var dx: Double
    /// Cell height in metres.
    public var dy: Double
    /// Gravitational acceleration g in m/s².
    public var gravity: Double
    /// Mean layer depth H in metres.
    public var depth: Double
    /// Coriolis parameter f₀ at the southern wall, in s⁻¹.
    public var coriolisF: Double
    /// Meridional gradient β of the Coriolis parameter, in (m s)⁻¹: f(y) = f₀ + β y.
    public var coriolisBeta: Double
    /// Lateral (harmonic) viscosity ν of the momentum equations, in m²/s.
    public var lateralViscosity: Double
    /// Peak speed of the zonal jet, in m/s.
    public var jetSpeed: Double
    /// e-folding half-width of the Gaussian jet profile, in metres.
    public var jetWidth: Double
    /// Amplitude, in metres, of the surface-height wave that perturbs the jet.
    public var perturbationAmplitude: Double
    /// Number of wavelengths of the perturbation along the channel.
    public var perturbationWavenumber: Int
    /// Time step Δt in seconds.
    public var timeStep: Double
    /// The offset ε of the stabilised second-order Adams–Bashforth scheme,
    /// φⁿ⁺¹ = φⁿ + Δt [(3/2 + ε) Fⁿ − (1/2 + ε) Fⁿ⁻¹].
    public var adamsBashforthEpsilon: Double
    /// Density of the fluid in kg/m³, used only to report mass and energy in SI units.
    public var density: Double
    /// The initial state and the placement of f: the model's own, or mpi4jax's.
    public var setup: ShallowWaterSetup

    /// Seconds in a model day.
    public static let secondsPerDay: Double = 86_400

    /// Creates a configuration. Parameters left out take the classic values; the
    /// derived ones (viscosity, jet width, time step) follow the grid unless given.
    ///
    /// - Parameters:
    ///   - nx: interior cells in x (default 360).
    ///   - ny: interior cells in y (default 180).
    ///   - dx: cell width in metres (default 5 km).
    ///   - dy: cell height in metres (default 5 km).
    ///   - gravity: g in m/s² (default 9.81).
    ///   - depth: mean depth in metres (default 100).
    ///   - coriolisF: f₀ in s⁻¹ (default 2·10⁻⁴).
    ///   - coriolisBeta: β in (m s)⁻¹ (default 2·10⁻¹¹).
    ///   - lateralViscosity: ν in m²/s (default 10⁻³ f₀ dx²).
    ///   - jetSpeed: jet peak speed in m/s (default 10).
    ///   - jetWidth: jet half-width in metres (default 2 % of the channel length,
    ///     nx·dx, or of mpi4jax's Lx = (nx − 1)·dx with the ``ShallowWaterSetup/mpi4jax`` set-up).
    ///   - perturbationAmplitude: height perturbation in metres (default 0.2).
    ///   - perturbationWavenumber: waves along the channel (default 5).
    ///   - timeStep: Δt in seconds (default 0.125 min(dx, dy) / √(g H)).
    ///   - adamsBashforthEpsilon: the Adams–Bashforth offset ε (default 0.1).
    ///   - density: ρ in kg/m³ (default 1000).
    ///   - setup: the initial state and the placement of f (default ``ShallowWaterSetup/standard``).
    public init(
        nx: Int = 360,
        ny: Int = 180,
        dx: Double = 5_000,
        dy: Double = 5_000,
        gravity: Double = 9.81,
        depth: Double = 100,
        coriolisF: Double = 2e-4,
        coriolisBeta: Double = 2e-11,
        lateralViscosity: Double? = nil,
        jetSpeed: Double = 10,
        jetWidth: Double? = nil,
        perturbationAmplitude: Double = 0.2,
        perturbationWavenumber: Int = 5,
        timeStep: Double? = nil,
        adamsBashforthEpsilon: Double = 0.1,
        density: Double = 1_000,
        setup: ShallowWaterSetup = .standard
    ) {
        self.nx = nx
        self.ny = ny
        self.dx = dx
        self.dy = dy
        self.gravity = gravity
        self.depth = depth
        self.coriolisF = coriolisF
        self.coriolisBeta = coriolisBeta
        self.lateralViscosity = lateralViscosity ?? 1e-3 * coriolisF * dx * dx
        self.jetSpeed = jetSpeed
        switch setup {
        case .standard: self.jetWidth = jetWidth ?? 0.02 * Double(nx) * dx
        case .mpi4jax: self.jetWidth = jetWidth ?? 0.02 * (Double(nx - 1) * dx)
        }
        self.perturbationAmplitude = perturbationAmplitude
        self.perturbationWavenumber = perturbationWavenumber
        self.timeStep = timeStep ?? 0.125 * min(dx, dy) / (gravity * depth).squareRoot()
        self.adamsBashforthEpsilon = adamsBashforthEpsilon
        self.density = density
        self.setup = setup
    }

    /// Channel length Lx = nx·dx in metres.
    public var lengthX: Double { Double(nx) * dx }
    /// Channel width Ly = ny·dy in metres.
    public var lengthY: Double { Double(ny) * dy }

    /// The Coriolis parameter f the kernel uses at the north-east corners of global
    /// interior row `row` (0-based; −1 is the southern halo row): f₀ + β (row + 1) dy,
    /// at the corners, in the standard set-up, and f₀ + β row·dy, at the cell's own y,
    /// in mpi4jax's.
    func coriolisAtCorners(ofRow row: Int) -> Double {
        let y: Double
        switch setup {
        case .standard: y = Double(row + 1) * dy
        case .mpi4jax: y = Double(row) * dy
        }
        return coriolisF + coriolisBeta * y
    }

    /// The number of time steps that covers `days` model days (rounded up, so the run
    /// reaches at least that model time).
    public func steps(forDays days: Double) -> Int {
        let exact = days * Self.secondsPerDay / timeStep
        return max(0, Int(exact.rounded(.up)))
    }

    /// Checks that the configuration describes a runnable model.
    ///
    /// - Throws: ``ShallowWaterError/invalidConfiguration(_:)`` naming the first bad parameter.
    public func validate() throws(ShallowWaterError) {
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(ShallowWaterError) {
            if !condition { throw .invalidConfiguration(message()) }
        }
        try require(nx >= 1 && ny >= 1, "the grid needs at least one interior cell in each direction (got \(nx) × \(ny))")
        try require(setup != .mpi4jax || (nx >= 2 && ny >= 2),
                    "mpi4jax's set-up needs at least two interior cells in each direction, since its lengths are (nx − 1)·dx and (ny − 1)·dy (got \(nx) × \(ny))")
        try require(dx > 0 && dx.isFinite && dy > 0 && dy.isFinite, "dx and dy must be positive (got dx = \(dx), dy = \(dy))")
        try require(gravity > 0 && gravity.isFinite, "gravity must be positive (got \(gravity))")
        try require(depth > 0 && depth.isFinite, "depth must be positive (got \(depth))")
        try require(coriolisF.isFinite && coriolisBeta.isFinite, "the Coriolis parameters must be finite")
        try require(lateralViscosity >= 0 && lateralViscosity.isFinite, "the lateral viscosity must be non-negative (got \(lateralViscosity))")
        try require(jetSpeed.isFinite && jetWidth > 0 && jetWidth.isFinite, "the jet needs a finite speed and a positive width")
        try require(perturbationAmplitude.isFinite, "the perturbation amplitude must be finite")
        try require(timeStep > 0 && timeStep.isFinite, "the time step must be positive (got \(timeStep))")
        try require(adamsBashforthEpsilon.isFinite, "the Adams–Bashforth offset must be finite")
        try require(density > 0 && density.isFinite, "the density must be positive (got \(density))")
    }
}
