import CMPI

/// A communicator whose processes form a Cartesian grid (MPI's Cartesian topology).
///
/// Make one with ``Communicator/cartesian(dimensions:periodic:reorder:)``, choose
/// balanced dimensions with ``balancedDimensions(processes:dimensions:)``, and find
/// neighbours with ``shift(dimension:displacement:)``. The grid is in row-major
/// order: the last dimension varies fastest, so on a grid of dimensions
/// `[rows, columns]` made without reordering, rank `r` sits at coordinates
/// `[r / columns, r % columns]`.
///
/// A `CartesianCommunicator` wraps a ``Communicator`` (``communicator``): pass that
/// to any operation, and to the neighbour collectives
/// (``neighborAlltoall(_:comm:token:)-(ShapedArray<T>,_,_)`` and
/// ``neighborAllgather(_:comm:token:)-(ShapedArray<T>,_,_)``), which exchange with
/// the grid's neighbours in MPI's order: for each dimension, the neighbour at −1,
/// then the neighbour at +1. The communicator is freed like the others: when its
/// last copy goes away, or by ``Communicator/free()``.
///
/// A neighbour beyond a wall (a non-periodic dimension's edge) is the null
/// neighbour, `MPI_PROC_NULL` in C; here it is `nil`.
///
/// The corresponding C functions are `MPI_Cart_create`, `MPI_Cart_get`,
/// `MPI_Cart_coords`, `MPI_Cart_rank`, `MPI_Cart_shift`, `MPI_Cart_sub` and `MPI_Dims_create`.
public struct CartesianCommunicator: Sendable, Hashable, CustomStringConvertible {
    /// The communicator itself: pass it as `comm:` to any operation.
    public let communicator: Communicator
    /// The number of processes along each dimension.
    public let dimensions: [Int]
    /// Whether each dimension wraps around (periodic) or ends at walls.
    public let periodic: [Bool]
    /// This process's coordinates in the grid, one per dimension.
    public let coordinates: [Int]

    /// This process's rank in ``communicator``.
    public var rank: Int { communicator.rank }
    /// The number of processes in the grid (the product of ``dimensions``).
    public var size: Int { communicator.size }

    /// Wraps a communicator that has a Cartesian topology, for example one made in C and
    /// wrapped with ``Communicator/init(handle:)``.
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` when
    ///   `communicator` has no Cartesian topology or has been freed;
    ///   ``MPIError/finalized(operation:)`` after finalisation.
    ///
    /// The corresponding C functions are `MPI_Topo_test` and `MPI_Cart_get`.
    public init(_ communicator: Communicator) throws(MPIError) {
        let operation = "CartesianCommunicator.init"
        let resolved = try Communicator.resolve(communicator, operation)
        try RuntimeState.enterCall(for: operation)
        defer { RuntimeState.leaveCall() }
        try admitCallingThread(operation)
        var kind: Int32 = 0, indegree: Int32 = 0, outdegree: Int32 = 0, unusedNulls: Int32 = 1
        try resolved.inUse(operation) { () throws(MPIError) in
            try check(locked { swiftmpi_topology(resolved.handle, &kind, &indegree, &outdegree, &unusedNulls) },
                      "MPI_Topo_test")
        }
        guard kind == 1 else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "communicator", expected: "a communicator with a Cartesian topology",
                actual: topologyDescription(kind))
        }
        let (dimensions, periodic, coordinates) = try resolved.inUse(operation) { () throws(MPIError) in
            try rawCartGet(resolved.handle)
        }
        self.communicator = communicator
        self.dimensions = dimensions
        self.periodic = periodic
        self.coordinates = coordinates
    }

    /// The processes along each dimension chosen by MPI to be as close to each
    /// other as possible, for `processes` processes in a grid of `dimensions.count`
    /// dimensions.
    ///
    /// A positive entry of `dimensions` is kept as it is; a `0` is a dimension for
    /// MPI to choose. The result is in non-increasing order over the chosen
    /// dimensions, for example `[2, 2]` for 4 processes in 2 dimensions, `[3, 2]`
    /// for 6, and `[4, 1]` for 4 when the second dimension is fixed at 1. A local
    /// call: nothing is communicated.
    ///
    /// - Parameters:
    ///   - processes: The number of processes of the grid (usually `comm.size`), at least 1.
    ///   - dimensions: One entry per dimension: the processes along it, or `0` to choose.
    /// - Returns: The processes along each dimension; their product is `processes`.
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for
    ///   fewer than one process, no dimensions, a negative entry, fixed entries
    ///   whose product does not divide `processes`, or, with no `0` entry, a product other than
    ///   `processes` (as Open MPI's `MPI_Dims_create`; MPICH 4.0.2's accepts `[2]` for 4
    ///   processes and returns it); ``MPIError/finalized(operation:)``
    ///   after finalisation (MPI is initialised first if needed).
    ///
    /// The corresponding C function is `MPI_Dims_create`.
    public static func balancedDimensions(processes: Int, dimensions: [Int]) throws(MPIError) -> [Int] {
        let operation = "CartesianCommunicator.balancedDimensions"
        guard processes >= 1, processes <= Int(Int32.max) else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "processes", expected: "a number of processes in 1...\(Int32.max)",
                actual: "\(processes)")
        }
        guard !dimensions.isEmpty, dimensions.count <= Int(Int32.max) else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "dimensions", expected: "at least one dimension", actual: "none")
        }
        var fixedProduct = 1
        for d in dimensions {
            guard d >= 0, d <= Int(Int32.max) else {
                throw MPIError.invalidArgument(
                    operation: operation, argument: "dimensions",
                    expected: "entries in 0...\(Int32.max) (0: chosen by MPI)", actual: "\(dimensions)")
            }
            if d > 0 {
                let (product, overflow) = fixedProduct.multipliedReportingOverflow(by: d)
                fixedProduct = overflow ? Int.max : product
            }
        }
        guard processes % fixedProduct == 0, fixedProduct <= processes else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "dimensions",
                expected: "fixed entries whose product divides \(processes) (the number of processes)",
                actual: "\(dimensions)")
        }
        if !dimensions.contains(0) && fixedProduct != processes {
            throw MPIError.invalidArgument(
                operation: operation, argument: "dimensions",
                expected: "entries whose product is \(processes) (the number of processes), or a 0 for MPI to choose",
                actual: "\(dimensions)")
        }
        _ = try RuntimeState.current(for: operation)
        try admitCallingThread(operation)
        try RuntimeState.enterCall(for: operation)
        defer { RuntimeState.leaveCall() }
        var dims = dimensions.map { Int32($0) }
        try rawDimsCreate(nodes: processes, dimensions: &dims)
        return dims.map(Int.init)
    }

    /// The rank of the process at `coordinates`.
    ///
    /// In a periodic dimension any coordinate is taken modulo the dimension (so −1
    /// is the last process along it); in a non-periodic dimension it must be in
    /// range. A local call.
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a
    ///   coordinate count other than the number of dimensions, or a coordinate out of
    ///   range in a non-periodic dimension; ``MPIError/finalized(operation:)`` after finalisation.
    ///
    /// The corresponding C function is `MPI_Cart_rank`.
    public func rank(at coordinates: [Int]) throws(MPIError) -> Int {
        let operation = "CartesianCommunicator.rank(at:)"
        let resolved = try Communicator.resolve(communicator, operation)
        try RuntimeState.enterCall(for: operation)
        defer { RuntimeState.leaveCall() }
        try admitCallingThread(operation)
        guard coordinates.count == dimensions.count else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "coordinates",
                expected: "\(dimensions.count) coordinates (one per dimension)", actual: "\(coordinates.count)")
        }
        var wrapped = [Int32]()
        wrapped.reserveCapacity(coordinates.count)
        for (d, c) in coordinates.enumerated() {
            let n = dimensions[d]
            if periodic[d] {
                wrapped.append(Int32(((c % n) + n) % n))
            } else if c >= 0 && c < n {
                wrapped.append(Int32(c))
            } else {
                throw MPIError.invalidArgument(
                    operation: operation, argument: "coordinates",
                    expected: "coordinate \(d) in 0..<\(n) (dimension \(d) is not periodic)", actual: "\(coordinates)")
            }
        }
        return try resolved.inUse(operation) { () throws(MPIError) in try rawCartRank(resolved.handle, coordinates: wrapped) }
    }

    /// The coordinates of the process of rank `rank`. A local call.
    ///
    /// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a rank
    ///   outside `0..<size`; ``MPIError/finalized(operation:)`` after finalisation.
    ///
    /// The corresponding C function is `MPI_Cart_coords`.
    public func coordinates(of rank: Int) throws(MPIError) -> [Int] {
        let operation = "CartesianCommunicator.coordinates(of:)"
        let resolved = try Communicator.resolve(communicator, operation)
        try RuntimeState.enterCall(for: operation)
        defer { RuntimeState.leaveCall() }
        try admitCallingThread(operation)
        guard rank >= 0 && rank < size else {
            throw MPIError.rankOutOfRange(operation: operation, argument: "rank", rank: rank, size: size)
        }
        return try resolved.inUse(operation) { () throws(MPIError) in
            try rawCartCoordinates(resolved.handle, rank: rank, dimensions: dimensions.count)
        }
    }

    /// The neighbours `displacement` steps away along `dimension`: the process to
    /// receive from (`source`, at `-displacement`) and the one to send to
    /// (`destination`, at `+displacement`).
    ///
    /// Past a wall of a non-periodic dimension there is no process, and the
    /// neighbour is `nil` (`MPI_PROC_NULL` in C). In a periodic dimension the
    /// neighbours wrap around, and may be this process. A local call.
    ///
    /// ```swift
    /// let (west, east) = try grid.shift(dimension: 1, displacement: 1)
    /// ```
    ///
    /// - Parameters:
    ///   - dimension: The dimension, in `0..<dimensions.count`.
    ///   - displacement: Steps along it (negative: the other way).
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for a
    ///   dimension out of range or a displacement that does not fit in `Int32`;
    ///   ``MPIError/finalized(operation:)`` after finalisation.
    ///
    /// The corresponding C function is `MPI_Cart_shift`.
    public func shift(dimension: Int, displacement: Int = 1) throws(MPIError) -> (source: Int?, destination: Int?) {
        let operation = "CartesianCommunicator.shift"
        let resolved = try Communicator.resolve(communicator, operation)
        try RuntimeState.enterCall(for: operation)
        defer { RuntimeState.leaveCall() }
        try admitCallingThread(operation)
        try checkDimension(dimension, operation)
        guard displacement >= Int(Int32.min) && displacement <= Int(Int32.max) else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "displacement", expected: "a displacement that fits in Int32",
                actual: "\(displacement)")
        }
        let (source, destination) = try resolved.inUse(operation) { () throws(MPIError) in
            try rawCartShift(resolved.handle, dimension: dimension, displacement: displacement)
        }
        return (source, destination)
    }

    /// The sub-grid of the processes that share this process's coordinates in
    /// the dimensions not kept: for example the row of a 2-D grid with
    /// `keeping: [false, true]`, or its column with `[true, false]`.
    ///
    /// Collective: every process of the grid must call it with the same
    /// `keeping`. Every process gets its own sub-grid (they partition the grid),
    /// with the kept dimensions and their periodicity. At least one dimension must
    /// be kept (MPI 3.1 allows none, for a grid of one process, but MPICH 4.0 gives
    /// `MPI_COMM_NULL` on all but one process then).
    ///
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` when
    ///   `keeping` does not have one entry per dimension or keeps none, on every
    ///   process, before anything is communicated; ``MPIError/finalized(operation:)`` after finalisation;
    ///   the MPI error if `MPI_Cart_sub` fails.
    ///
    /// The corresponding C function is `MPI_Cart_sub`.
    public func sub(keeping: [Bool]) throws(MPIError) -> CartesianCommunicator {
        let operation = "CartesianCommunicator.sub"
        let resolved = try Communicator.resolve(communicator, operation)
        try RuntimeState.enterCall(for: operation)
        defer { RuntimeState.leaveCall() }
        guard keeping.count == dimensions.count, keeping.contains(true) else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "keeping",
                expected: "\(dimensions.count) entries (one per dimension), at least one of them true",
                actual: "\(keeping)")
        }
        var newHandle = swiftmpi_comm_null()
        try perform(Call(.cartesianSub, resolved, UInt8.self, count: 0)) { () throws(MPIError) in
            try rawCartSub(resolved.handle, remain: keeping.map { $0 ? 1 : 0 }, &newHandle)
        }
        let made = try Communicator.adopting(newHandle, dimensions: keeping.filter { $0 }.count)
        return CartesianCommunicator(
            communicator: made, dimensions: zip(dimensions, keeping).filter { $0.1 }.map { $0.0 },
            periodic: zip(periodic, keeping).filter { $0.1 }.map { $0.0 },
            coordinates: zip(coordinates, keeping).filter { $0.1 }.map { $0.0 })
    }

    /// For example `CartesianCommunicator(rank: 3, dimensions: [2, 2], periodic: [false, true], coordinates: [1, 1])`.
    public var description: String {
        "CartesianCommunicator(rank: \(rank), dimensions: \(dimensions), periodic: \(periodic), coordinates: \(coordinates))"
    }

    private init(communicator: Communicator, dimensions: [Int], periodic: [Bool], coordinates: [Int]) {
        self.communicator = communicator
        self.dimensions = dimensions
        self.periodic = periodic
        self.coordinates = coordinates
    }

    private func checkDimension(_ dimension: Int, _ operation: String) throws(MPIError) {
        guard dimension >= 0 && dimension < dimensions.count else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "dimension",
                expected: "a dimension in 0..<\(dimensions.count)", actual: "\(dimension)")
        }
    }

    fileprivate static func made(
        communicator: Communicator, dimensions: [Int], periodic: [Bool], coordinates: [Int]
    ) -> CartesianCommunicator {
        CartesianCommunicator(communicator: communicator, dimensions: dimensions, periodic: periodic,
                              coordinates: coordinates)
    }
}

/// How errors name a topology kind from ``rawTopology(_:_:)``.
func topologyDescription(_ kind: Int32) -> String {
    switch kind {
    case 0: "a communicator without a topology"
    case 1: "a communicator with a Cartesian topology"
    case 2: "a communicator with a graph topology"
    default: "a communicator with a distributed graph topology"
    }
}

extension Communicator {
    /// A new communicator over a Cartesian grid of these processes.
    ///
    /// The first `dimensions.reduce(1, *)` processes form the grid, in row-major
    /// order (the last dimension varies fastest) unless `reorder` lets MPI renumber
    /// them; processes beyond it get `nil`, as with ``split(color:key:)-(Int?,_)``
    /// and no color. Collective: every process of the communicator must call it
    /// with the same arguments. The new communicator is freed when its last copy
    /// goes away (see ``Communicator``).
    ///
    /// ```swift
    /// let dims = try CartesianCommunicator.balancedDimensions(processes: comm.size, dimensions: [0, 0])
    /// let grid = try comm.cartesian(dimensions: dims, periodic: [true, false])!
    /// ```
    ///
    /// - Parameters:
    ///   - dimensions: The processes along each dimension (at least one dimension, each at least 1).
    ///   - periodic: Whether each dimension wraps around; `nil` means none does.
    ///   - reorder: Whether MPI may give the processes new ranks (to fit the machine).
    /// - Returns: This process's grid, or `nil` when it is not in the grid.
    /// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` on
    ///   every process, before anything is communicated, for no dimensions, a
    ///   dimension below 1 or above `Int32.max`, a product above `size`, or a
    ///   `periodic` of another length than `dimensions`;
    ///   ``MPIError/finalized(operation:)`` after finalisation; the MPI error if
    ///   `MPI_Cart_create` fails.
    ///
    /// The corresponding C function is `MPI_Cart_create`.
    public func cartesian(
        dimensions: [Int], periodic: [Bool]? = nil, reorder: Bool = false
    ) throws(MPIError) -> CartesianCommunicator? {
        let operation = "Communicator.cartesian"
        let resolved = try Communicator.resolve(self, operation)
        try RuntimeState.enterCall(for: operation)
        defer { RuntimeState.leaveCall() }
        let periodic = periodic ?? [Bool](repeating: false, count: dimensions.count)
        guard !dimensions.isEmpty else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "dimensions", expected: "at least one dimension", actual: "[]")
        }
        var product = 1
        for d in dimensions {
            guard d >= 1 && d <= Int(Int32.max) else {
                throw MPIError.invalidArgument(
                    operation: operation, argument: "dimensions",
                    expected: "each dimension in 1...\(Int32.max)", actual: "\(dimensions)")
            }
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            product = overflow ? Int.max : p
        }
        guard product <= size else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "dimensions",
                expected: "dimensions whose product is at most \(size) (the communicator size)",
                actual: "\(dimensions) (product \(product == Int.max ? "above Int.max" : "\(product)"))")
        }
        guard periodic.count == dimensions.count else {
            throw MPIError.invalidArgument(
                operation: operation, argument: "periodic",
                expected: "\(dimensions.count) entries (one per dimension)", actual: "\(periodic.count)")
        }
        var newHandle = swiftmpi_comm_null()
        try perform(Call(.cartesian, resolved, UInt8.self, count: 0)) { () throws(MPIError) in
            try rawCartCreate(resolved.handle, dimensions: dimensions.map { Int32($0) },
                              periods: periodic.map { $0 ? 1 : 0 }, reorder: reorder, &newHandle)
        }
        if newHandle == swiftmpi_comm_null() { return nil }
        let made = try Communicator.adopting(newHandle, dimensions: dimensions.count)
        let coordinates = try rawCartCoordinates(newHandle, rank: made.rank, dimensions: dimensions.count)
        return CartesianCommunicator.made(
            communicator: made, dimensions: dimensions, periodic: periodic, coordinates: coordinates)
    }

    /// Takes ownership of the handle of a Cartesian grid of `dimensions` dimensions made by MPI:
    /// freed when its last copy goes away, errors returned, its topology known (two neighbours per dimension).
    static func adopting(_ handle: MPI_Comm, dimensions: Int) throws(MPIError) -> Communicator {
        var topology = RawTopology()
        topology.kind = 1
        topology.indegree = Int32(2 * dimensions)
        topology.outdegree = Int32(2 * dimensions)
        let code = locked { swiftmpi_cart_unwritten_blocks(handle, &topology.mayLeaveBlocksUnwritten) }
        if code != MPI_SUCCESS {
            var unused = handle
            rawCommFree(&unused)  // not adopted: nothing else frees it
            try check(code, "MPI_Cart_get")
        }
        let made = CommunicatorStorage(handle: handle, ownership: .owned, topology: topology)
        try check(locked { MPI_Comm_set_errhandler(handle, swiftmpi_errors_return()) }, "MPI_Comm_set_errhandler")
        return try Communicator(storage: made)
    }
}
