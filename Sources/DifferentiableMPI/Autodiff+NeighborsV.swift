// The differentiable variable-size neighbour collectives on Cartesian grids:
// neighborAllgatherv and neighborAlltoallv on plain arrays, with their rules.
//
// They transpose like their fixed-size counterparts (Autodiff+Neighbors.swift):
// the block that a process sends in slot i arrives at neighbour i, and what
// neighbour i sends back in the transpose arrives in slot i again, so
// neighborAlltoallv is its own transpose with the send and receive counts
// swapped, and neighborAllgatherv's transpose is a neighborAlltoallv of the
// cotangent's blocks (each back to the neighbour it came from, `x.count`
// elements from each), summed over the neighbours. A block sent past a wall
// is lost, so its cotangent is zero, which is what the transpose receives from
// the null neighbour there.

import MPI
import _Differentiation

// MARK: - neighborAllgatherv

extension Autodiff {
    /// Gathers a block of any length from each neighbour of a Cartesian grid: the
    /// blocks follow each other in neighbour order (for each dimension, the −1
    /// then the +1 neighbour), `receiveCounts[i]` elements from neighbour `i`, zero
    /// from a null neighbour past a wall.
    ///
    /// The differentiable form of `neighborAllgatherv(_:receiveCounts:comm:token:)`.
    /// The pullback sends each block of the cotangent back to the neighbour it came
    /// from (`neighborAlltoallv`) and sums what comes back.
    ///
    /// - Parameters:
    ///   - x: This process's block; `receiveCounts[i]` on neighbour `i` must be its length.
    ///   - receiveCounts: One count per neighbour (`2 × dimensions`), at least 0.
    ///   - comm: The grid.
    /// - Returns: The neighbours' blocks one after the other, `receiveCounts.reduce(0, +)` elements.
    public static func neighborAllgatherv<T: DifferentiableMPIScalar>(
        _ x: [T], receiveCounts: [Int], comm: CartesianCommunicator
    ) -> [T] {
        performOrStop("neighborAllgatherv", comm.communicator) {
            try MPI.neighborAllgatherv(x, receiveCounts: receiveCounts, comm: comm.communicator).0
        }
    }

    /// The reverse derivative of `neighborAllgatherv`, registered with the compiler.
    @derivative(of: neighborAllgatherv, wrt: x)
    @usableFromInline static func vjpNeighborAllgatherv<T: DifferentiableMPIScalar>(
        _ x: [T], receiveCounts: [Int], comm: CartesianCommunicator
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        neighborAllgathervRule(x, receiveCounts: receiveCounts, comm: comm).arrayVJP()
    }

    /// The forward derivative of `neighborAllgatherv`.
    @derivative(of: neighborAllgatherv, wrt: x)
    public static func jvpNeighborAllgatherv<T: DifferentiableMPIScalar>(
        _ x: [T], receiveCounts: [Int], comm: CartesianCommunicator
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        neighborAllgathervRule(x, receiveCounts: receiveCounts, comm: comm).arrayJVP()
    }
}

// MARK: - neighborAlltoallv

extension Autodiff {
    /// Sends a block of any length to each neighbour of a Cartesian grid and
    /// receives one from each: `x` holds the blocks for the neighbours one after the
    /// other (`sendCounts[i]` elements for neighbour `i`), and the result the blocks
    /// received (`receiveCounts[i]` from neighbour `i`, zero from a null neighbour).
    ///
    /// The differentiable form of `neighborAlltoallv(_:sendCounts:receiveCounts:comm:token:)`.
    /// The pullback is the same exchange with the counts swapped.
    ///
    /// - Parameters:
    ///   - x: The blocks to send, `sendCounts.reduce(0, +)` elements.
    ///   - sendCounts: One count per neighbour (`2 × dimensions`), at least 0.
    ///   - receiveCounts: One count per neighbour: `receiveCounts[i]` is the length of the block
    ///     that neighbour `i` sends to this process.
    ///   - comm: The grid.
    /// - Returns: The received blocks one after the other, `receiveCounts.reduce(0, +)` elements.
    public static func neighborAlltoallv<T: DifferentiableMPIScalar>(
        _ x: [T], sendCounts: [Int], receiveCounts: [Int], comm: CartesianCommunicator
    ) -> [T] {
        performOrStop("neighborAlltoallv", comm.communicator) {
            try MPI.neighborAlltoallv(x, sendCounts: sendCounts, receiveCounts: receiveCounts,
                                      comm: comm.communicator).0
        }
    }

    /// The reverse derivative of `neighborAlltoallv`, registered with the compiler.
    @derivative(of: neighborAlltoallv, wrt: x)
    @usableFromInline static func vjpNeighborAlltoallv<T: DifferentiableMPIScalar>(
        _ x: [T], sendCounts: [Int], receiveCounts: [Int], comm: CartesianCommunicator
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        neighborAlltoallvRule(x, sendCounts: sendCounts, receiveCounts: receiveCounts, comm: comm).arrayVJP()
    }

    /// The forward derivative of `neighborAlltoallv`.
    @derivative(of: neighborAlltoallv, wrt: x)
    public static func jvpNeighborAlltoallv<T: DifferentiableMPIScalar>(
        _ x: [T], sendCounts: [Int], receiveCounts: [Int], comm: CartesianCommunicator
    ) -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        neighborAlltoallvRule(x, sendCounts: sendCounts, receiveCounts: receiveCounts, comm: comm).arrayJVP()
    }
}

// MARK: - Rules

extension Autodiff {
    static func neighborAllgathervRule<T>(
        _ x: [T], receiveCounts: [Int], comm: CartesianCommunicator
    ) -> LinearRule<T> {
        let c = comm.communicator
        let y = performOrStop("neighborAllgatherv", c) {
            try MPI.neighborAllgatherv(x, receiveCounts: receiveCounts, comm: c).0
        }
        let n = x.count, k = receiveCounts.count
        return LinearRule(
            operation: "neighborAllgatherv", value: ShapedArray(shape: [y.count], scalars: y), inputShape: [n],
            pullback: { v in
                let back = runPullback("neighborAllgatherv", c) {
                    try MPI.neighborAlltoallv(v, sendCounts: receiveCounts,
                                              receiveCounts: [Int](repeating: n, count: k), comm: c).0
                }
                var sum = [T](repeating: 0, count: n)
                for i in 0..<k {
                    for j in 0..<n { sum[j] += back[i * n + j] }
                }
                return sum
            },
            differential: { t in
                performOrStop("the differential of neighborAllgatherv", c) {
                    try MPI.neighborAllgatherv(t, receiveCounts: receiveCounts, comm: c).0
                }
            })
    }

    static func neighborAlltoallvRule<T>(
        _ x: [T], sendCounts: [Int], receiveCounts: [Int], comm: CartesianCommunicator
    ) -> LinearRule<T> {
        let c = comm.communicator
        let y = performOrStop("neighborAlltoallv", c) {
            try MPI.neighborAlltoallv(x, sendCounts: sendCounts, receiveCounts: receiveCounts, comm: c).0
        }
        return LinearRule(
            operation: "neighborAlltoallv", value: ShapedArray(shape: [y.count], scalars: y), inputShape: [x.count],
            pullback: { v in
                runPullback("neighborAlltoallv", c) {
                    try MPI.neighborAlltoallv(v, sendCounts: receiveCounts, receiveCounts: sendCounts, comm: c).0
                }
            },
            differential: { t in
                performOrStop("the differential of neighborAlltoallv", c) {
                    try MPI.neighborAlltoallv(t, sendCounts: sendCounts, receiveCounts: receiveCounts, comm: c).0
                }
            })
    }
}
