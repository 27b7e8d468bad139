// The differentiable neighbour collectives on Cartesian grids: neighborAllgather
// and neighborAlltoall, with their rules.
//
// On a Cartesian grid, neighbour i of a process is, for dimension d = i / 2, its
// −1 neighbour (i = 2d) or its +1 neighbour (i = 2d + 1), and the block that a
// process sends in slot 2d arrives at its −1 neighbour in slot 2d + 1 (and the
// other way round). So neighborAlltoall is its own transpose: the pullback sends
// each row of the cotangent back the way its row came. A wall changes nothing:
// a row sent past a wall is lost, so its cotangent is zero, which is what the
// transpose receives from the null neighbour there. neighborAllgather sends the
// same x to every neighbour; its transpose is neighborAlltoall of the cotangent,
// summed over the rows. Both hold on periodic dimensions of one or two
// processes too, where both neighbours are the same process: the package
// delivers those blocks by direction as well, whatever order the library matches
// them in (checked, with finite differences, on such grids with both libraries).

import MPI
import _Differentiation

// MARK: - neighborAllgather

extension Autodiff {
    /// Gathers `x` from each neighbour of a Cartesian grid: row `i` of the result
    /// is neighbour `i`'s `x` (for each dimension, the −1 then the +1 neighbour),
    /// zero from a null neighbour past a wall.
    ///
    /// The differentiable form of `neighborAllgather(_:comm:token:)`. The output
    /// differs between processes; the pullback is the transpose, a
    /// `neighborAlltoall` of the cotangent summed over its rows.
    ///
    /// - Parameters:
    ///   - x: This process's contribution, of the same shape on every process.
    ///   - comm: The grid.
    /// - Returns: An array of shape `[2 × dimensions] + x.shape`.
    public static func neighborAllgather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: CartesianCommunicator
    ) -> ShapedArray<T> {
        performOrStop("neighborAllgather", comm.communicator) {
            try MPI.neighborAllgather(x, comm: comm.communicator).0
        }
    }

    /// The reverse derivative of `neighborAllgather` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: neighborAllgather, wrt: x)
    @usableFromInline static func vjpNeighborAllgather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: CartesianCommunicator
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        neighborAllgatherRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `neighborAllgather` on a ``MPI/ShapedArray``.
    @derivative(of: neighborAllgather, wrt: x)
    public static func jvpNeighborAllgather<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: CartesianCommunicator
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        neighborAllgatherRule(x, comm: comm).shapedJVP()
    }

    /// The plain-array form of `neighborAllgather`: the result has shape `[2 × dimensions, x.count]`.
    public static func neighborAllgather<T: DifferentiableMPIScalar>(
        _ x: [T], comm: CartesianCommunicator
    ) -> ShapedArray<T> {
        performOrStop("neighborAllgather", comm.communicator) {
            try MPI.neighborAllgather(x, comm: comm.communicator).0
        }
    }

    /// The reverse derivative of `neighborAllgather` on a plain array, registered with the compiler.
    @derivative(of: neighborAllgather, wrt: x)
    @usableFromInline static func vjpNeighborAllgather<T: DifferentiableMPIScalar>(
        _ x: [T], comm: CartesianCommunicator
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> Array<T>.TangentVector) {
        neighborAllgatherRule(ShapedArray(x), comm: comm).arrayToShapedVJP()
    }

    /// The forward derivative of `neighborAllgather` on a plain array.
    @derivative(of: neighborAllgather, wrt: x)
    public static func jvpNeighborAllgather<T: DifferentiableMPIScalar>(
        _ x: [T], comm: CartesianCommunicator
    ) -> (value: ShapedArray<T>, differential: (Array<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        neighborAllgatherRule(ShapedArray(x), comm: comm).arrayToShapedJVP()
    }
}

// MARK: - neighborAlltoall

extension Autodiff {
    /// Sends row `i` of `x` to neighbour `i` of a Cartesian grid (for each
    /// dimension, the −1 then the +1 neighbour); row `i` of the result came from
    /// neighbour `i`, zero from a null neighbour past a wall.
    ///
    /// The differentiable form of `neighborAlltoall(_:comm:token:)`. The output
    /// differs between processes; on a Cartesian grid the exchange is its own
    /// transpose, so the pullback is a `neighborAlltoall` of the cotangent.
    ///
    /// - Parameters:
    ///   - x: An array whose first axis has `2 × dimensions` rows.
    ///   - comm: The grid.
    /// - Returns: An array of `x`'s shape.
    public static func neighborAlltoall<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: CartesianCommunicator
    ) -> ShapedArray<T> {
        performOrStop("neighborAlltoall", comm.communicator) {
            try MPI.neighborAlltoall(x, comm: comm.communicator).0
        }
    }

    /// The reverse derivative of `neighborAlltoall` on a ``MPI/ShapedArray``, registered with the compiler.
    @derivative(of: neighborAlltoall, wrt: x)
    @usableFromInline static func vjpNeighborAlltoall<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: CartesianCommunicator
    ) -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        neighborAlltoallRule(x, comm: comm).shapedVJP()
    }

    /// The forward derivative of `neighborAlltoall` on a ``MPI/ShapedArray``.
    @derivative(of: neighborAlltoall, wrt: x)
    public static func jvpNeighborAlltoall<T: DifferentiableMPIScalar>(
        _ x: ShapedArray<T>, comm: CartesianCommunicator
    ) -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        neighborAlltoallRule(x, comm: comm).shapedJVP()
    }

    /// The plain-array form of `neighborAlltoall`: `x.count` is `2 × dimensions`, and element `i`
    /// goes to neighbour `i`.
    public static func neighborAlltoall<T: DifferentiableMPIScalar>(_ x: [T], comm: CartesianCommunicator) -> [T] {
        performOrStop("neighborAlltoall", comm.communicator) {
            try MPI.neighborAlltoall(x, comm: comm.communicator).0
        }
    }

    /// The reverse derivative of `neighborAlltoall` on a plain array, registered with the compiler.
    @derivative(of: neighborAlltoall, wrt: x)
    @usableFromInline static func vjpNeighborAlltoall<T: DifferentiableMPIScalar>(
        _ x: [T], comm: CartesianCommunicator
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        neighborAlltoallRule(ShapedArray(x), comm: comm).arrayVJP()
    }

    /// The forward derivative of `neighborAlltoall` on a plain array.
    @derivative(of: neighborAlltoall, wrt: x)
    public static func jvpNeighborAlltoall<T: DifferentiableMPIScalar>(
        _ x: [T], comm: CartesianCommunicator
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        neighborAlltoallRule(ShapedArray(x), comm: comm).arrayJVP()
    }
}

// MARK: - Rules

extension Autodiff {
    static func neighborAllgatherRule<T>(_ x: ShapedArray<T>, comm: CartesianCommunicator) -> LinearRule<T> {
        let c = comm.communicator
        let y = performOrStop("neighborAllgather", c) { try MPI.neighborAllgather(x, comm: c).0 }
        let shape = x.shape, n = x.scalarCount, k = 2 * comm.dimensions.count
        return LinearRule(
            operation: "neighborAllgather", value: y, inputShape: shape,
            pullback: { v in
                let back = runPullback("neighborAllgather", c) {
                    try MPI.neighborAlltoall(ShapedArray(shape: [k, n], scalars: v), comm: c).0.scalars
                }
                var sum = [T](repeating: 0, count: n)
                for i in 0..<k {
                    for j in 0..<n { sum[j] += back[i * n + j] }
                }
                return sum
            },
            differential: { t in
                performOrStop("the differential of neighborAllgather", c) {
                    try MPI.neighborAllgather(ShapedArray(shape: shape, scalars: t), comm: c).0.scalars
                }
            })
    }

    static func neighborAlltoallRule<T>(_ x: ShapedArray<T>, comm: CartesianCommunicator) -> LinearRule<T> {
        let c = comm.communicator
        let y = performOrStop("neighborAlltoall", c) { try MPI.neighborAlltoall(x, comm: c).0 }
        let shape = x.shape
        return LinearRule(
            operation: "neighborAlltoall", value: y, inputShape: shape,
            pullback: { v in
                runPullback("neighborAlltoall", c) {
                    try MPI.neighborAlltoall(ShapedArray(shape: shape, scalars: v), comm: c).0.scalars
                }
            },
            differential: { t in
                performOrStop("the differential of neighborAlltoall", c) {
                    try MPI.neighborAlltoall(ShapedArray(shape: shape, scalars: t), comm: c).0.scalars
                }
            })
    }
}
