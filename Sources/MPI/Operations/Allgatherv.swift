import CMPI

// allgatherv (MPI_Allgatherv): its core, then its forms: the easy ones
// (ShapedArray, [T]: block sizes exchanged by one small allgather first), the
// explicit ones (caller-given counts, no extra communication: [T], into:).

/// The core of allgatherv: the count checks, the hooks and the raw call, from
/// `x` into `output` (the blocks of `counts` at `displacements`, packed when `nil`).
@inlinable
func allgathervCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], displacements: [Int]?, comm: ResolvedCommunicator
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    // The arrays' storage, taken once: closures that capture the arrays retain and release them.
    try counts.withUnsafeBufferPointer { (c) throws(MPIError) in
        try withOptionalBuffer(displacements) { (given) throws(MPIError) in
            try perform(Call(.allgatherv, comm, T.self, count: 0, counts: .same(c)), checks: { () throws(MPIError) -> Int in
                let total = try checkCounts(c, "counts", size: comm.size, .allgatherv)
                let extent = try checkedExtent(counts: c, total: total, displacements: given, "displacements",
                                               .allgatherv, receiving: true)
                try checkOwnCount(count, expected: c[comm.rank], "x", "counts", .allgatherv)
                return extent
            }) { (extent) throws(MPIError) in
                try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
                    try withVariableOutput(&output, extent: extent, exact: given == nil, .allgatherv) {
                        (destination) throws(MPIError) in
                        try withDisplacements(given, of: c) { (d) throws(MPIError) in
                            if _slowPath(d.count == 1 && d[0] != 0 && c[0] > 0) {
                                // MPICH 4.0.2 writes a one-rank communicator's block at element 0
                                // whatever its displacement (in C too): the block's own address instead.
                                return try [0].withUnsafeBufferPointer { (zero) throws(MPIError) in
                                    try rawAllgatherv(source, count: count, destination! + d[0] * MemoryLayout<T>.stride,
                                                      receiveCounts: c, displacements: zero,
                                                      type: T.mpiDatatype.handle, comm: comm.handle)
                                }
                            }
                            try rawAllgatherv(source, count: count, destination, receiveCounts: c, displacements: d,
                                              type: T.mpiDatatype.handle, comm: comm.handle)
                        }
                    }
                }
            }
        }
    }
}

/// The easy forms' adapter: the block lengths exchanged by one small allgather, then the core.
@inlinable
func allgathervBlocks<T: MPIScalar>(_ x: ShapedArray<T>, comm: Communicator?) throws(MPIError) -> VariableBlocks<T> {
    let comm = try Communicator.resolve(comm, .allgatherv)
    let (rows, rowShape, rowSize) = rowsOf(x)
    let hash = BlockHeader.hash(rowShape)
    let header: [Int64] = [0, Int64(rows), Int64(rowSize), hash]
    var headers: [Int64] = zeroedArray(count: BlockHeader.width * comm.size)
    try allgatherCore(header, into: &headers, comm: comm)
    let rowCounts = try checkBlockHeaders(headers, rowSize: rowSize, rowHash: hash, rowShape: rowShape,
                                          argument: "x", ownError: nil, .allgatherv)
    let counts = rowSize == 1 ? rowCounts : rowCounts.map { $0 * rowSize }
    let total = rowCounts.reduce(0, +)
    let result = try ScalarStorage<T>.filled(count: total * rowSize) { (output) throws(MPIError) in
        try allgathervCore(x, into: &output, counts: counts, displacements: nil, comm: comm)
    }
    return VariableBlocks(_uncheckedData: ShapedArray(_uncheckedShape: prepending(total, to: rowShape), storage: result),
                          counts: rowCounts)
}

/// Gathers blocks of different lengths from every rank onto every rank.
///
/// Each rank passes its own block: any length along the first axis (zero
/// included), with the same trailing shape and type on every rank. The library
/// first exchanges the block lengths with one small allgather (4 integers per
/// rank; see the Performance article for its cost), then calls `MPI_Allgatherv`.
/// A 0-d `x` is a block of one row.
///
/// - Parameters:
///   - x: This rank's block. It is not modified.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The blocks of all ranks, in rank order (`result[r]` is rank `r`'s `x`), and the new token.
/// - Throws: ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on every rank when the
///   ranks' row shapes differ, found by the exchange before any data moves.
///
/// The corresponding C function is `MPI_Allgatherv`.
@inlinable
public func allgatherv<T: MPIScalar>(
    _ x: ShapedArray<T>, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (VariableBlocks<T>, Token) {
    (try allgathervBlocks(x, comm: comm), advance(token))
}

/// The plain-array form of ``allgatherv(_:comm:token:)-(ShapedArray<T>,_,_)``: the blocks are 1-d.
///
/// The corresponding C function is `MPI_Allgatherv`.
@inlinable
public func allgatherv<T: MPIScalar>(
    _ x: [T], comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (VariableBlocks<T>, Token) {
    (try allgathervBlocks(ShapedArray(x), comm: comm), advance(token))
}

/// Gathers blocks of caller-given lengths from every rank onto every rank, with no extra communication.
///
/// - Parameters:
///   - x: This rank's block, of `counts[rank]` elements. It is not modified.
///   - counts: Every rank's block length, in rank order: the same array on every rank.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The blocks one after another (`counts.reduce(0, +)` elements), and the new token.
/// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for `counts` of
///   another length than the communicator's size or with a negative count, and
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an `x` of another
///   length than `counts[rank]`, before anything is communicated.
///
/// The corresponding C function is `MPI_Allgatherv`.
@inlinable
public func allgatherv<T: MPIScalar>(
    _ x: [T], counts: [Int], comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let comm = try Communicator.resolve(comm, .allgatherv)
    // Sized without throwing: invalid counts throw in the core's checks, where SWIFT_MPI_CHECK=1
    // has every rank agree on the failure (a throw here skipped that, and the other ranks hung).
    let total = (try? checkCounts(counts, "counts", size: comm.size, .allgatherv)) ?? 0
    let result = try [T].filled(count: total) { (output) throws(MPIError) in
        try allgathervCore(x, into: &output, counts: counts, displacements: nil, comm: comm)
    }
    return (result, advance(token))
}

/// ``allgatherv(_:counts:comm:token:)`` into caller-owned storage, with optional displacements.
///
/// Block `r` (`counts[r]` elements) is written at element `displacements[r]`
/// of `output`; without displacements the blocks are packed in rank order and
/// `output` must hold exactly their sum, else at least the largest
/// displacement + count. Displacements that place two non-empty blocks over each other throw
/// ``MPIError/invalidArgument(operation:argument:expected:actual:)`` before anything is
/// communicated. An output that cannot hold what arrives throws
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on this rank after the
/// collective has completed into scratch storage: nothing is written past its end.
///
/// The corresponding C function is `MPI_Allgatherv`.
@inlinable @discardableResult
public func allgatherv<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], displacements: [Int]? = nil, comm: Communicator? = nil,
    token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try allgathervCore(x, into: &output, counts: counts, displacements: displacements,
                       comm: Communicator.resolve(comm, .allgatherv))
    return advance(token)
}
