import CMPI

// gatherv (MPI_Gatherv): its core, then its forms: the easy ones (ShapedArray,
// [T]: block sizes exchanged by one small allgather first, so that every rank
// can check them), the explicit ones (caller-given counts, no extra
// communication: [T], into:).

/// The core of gatherv: the root and count checks, the hooks and the raw call.
///
/// `counts` (the same on every rank) gives every rank's block; `output` receives
/// them on the root at `displacements` (packed when `nil`) and is not touched elsewhere.
@inlinable
func gathervCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], displacements: [Int]?, root: Int,
    comm: ResolvedCommunicator
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let count = x.scalarCount
    // The arrays' storage, taken once: closures that capture the arrays retain and release them.
    try counts.withUnsafeBufferPointer { (c) throws(MPIError) in
        try withOptionalBuffer(displacements) { (given) throws(MPIError) in
            try perform(Call(.gatherv, comm, T.self, count: 0, root: root, counts: .same(c)), checks: { () throws(MPIError) -> Int in
                try comm.checkRank(root, "root", .gatherv)
                let total = try checkCounts(c, "counts", size: comm.size, .gatherv)
                // The overlap of the blocks only on the root: MPI ignores the others' displacements, and C
                // programs pass anything there.
                let extent = try checkedExtent(counts: c, total: total, displacements: given, "displacements",
                                               .gatherv, receiving: comm.rank == root)
                try checkOwnCount(count, expected: c[comm.rank], "x", "counts", .gatherv)
                return extent
            }) { (extent) throws(MPIError) in
                try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
                    guard comm.rank == root else {
                        return try rawGatherv(source, count: count, nil, receiveCounts: c, displacements: nil,
                                              type: T.mpiDatatype.handle, root: root, comm: comm.handle)
                    }
                    try withVariableOutput(&output, extent: extent, exact: given == nil, .gatherv) {
                        (destination) throws(MPIError) in
                        try withDisplacements(given, of: c) { (d) throws(MPIError) in
                            try rawGatherv(source, count: count, destination, receiveCounts: c, displacements: d,
                                           type: T.mpiDatatype.handle, root: root, comm: comm.handle)
                        }
                    }
                }
            }
        }
    }
}

/// The easy forms' adapter: the block lengths exchanged by one small allgather, then the core.
@inlinable
func gathervBlocks<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator?
) throws(MPIError) -> VariableBlocks<T>? {
    let comm = try Communicator.resolve(comm, .gatherv)
    // Checked before the exchange, so that every rank throws it without communicating.
    try comm.checkRank(root, "root", .gatherv)
    let (rows, rowShape, rowSize) = rowsOf(x)
    let hash = BlockHeader.hash(rowShape)
    let header: [Int64] = [0, Int64(rows), Int64(rowSize), hash]
    var headers: [Int64] = zeroedArray(count: BlockHeader.width * comm.size)
    try allgatherCore(header, into: &headers, comm: comm)
    let rowCounts = try checkBlockHeaders(headers, rowSize: rowSize, rowHash: hash, rowShape: rowShape,
                                          argument: "x", ownError: nil, .gatherv)
    let counts = rowSize == 1 ? rowCounts : rowCounts.map { $0 * rowSize }
    guard comm.rank == root else {
        var unused = ResultBuffer<T>.none
        try gathervCore(x, into: &unused, counts: counts, displacements: nil, root: root, comm: comm)
        return nil
    }
    let total = rowCounts.reduce(0, +)
    let result = try ScalarStorage<T>.filled(count: total * rowSize) { (output) throws(MPIError) in
        try gathervCore(x, into: &output, counts: counts, displacements: nil, root: root, comm: comm)
    }
    return VariableBlocks(_uncheckedData: ShapedArray(_uncheckedShape: prepending(total, to: rowShape), storage: result),
                          counts: rowCounts)
}

/// Gathers blocks of different lengths from every rank onto the root.
///
/// Each rank passes its own block: any length along the first axis (zero
/// included), with the same trailing shape and type on every rank. The library
/// first exchanges the block lengths with one small allgather (4 integers per
/// rank), so that every rank can check them and throw the same error, then
/// calls `MPI_Gatherv`. A 0-d `x` is a block of one row.
///
/// - Parameters:
///   - x: This rank's block. It is not modified.
///   - root: The rank that receives the blocks.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: On the root, the blocks of all ranks in rank order (`result[r]` is rank `r`'s `x`);
///   `nil` elsewhere. And the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `root` and
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` when the ranks' row shapes
///   differ, on every rank before any data moves.
///
/// The corresponding C function is `MPI_Gatherv`.
@inlinable
public func gatherv<T: MPIScalar>(
    _ x: ShapedArray<T>, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (VariableBlocks<T>?, Token) {
    (try gathervBlocks(x, root: root, comm: comm), advance(token))
}

/// The plain-array form of ``gatherv(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``: the blocks are 1-d.
///
/// The corresponding C function is `MPI_Gatherv`.
@inlinable
public func gatherv<T: MPIScalar>(
    _ x: [T], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (VariableBlocks<T>?, Token) {
    (try gathervBlocks(ShapedArray(x), root: root, comm: comm), advance(token))
}

/// Gathers blocks of caller-given lengths onto the root, with no extra communication.
///
/// Unlike C's `MPI_Gatherv`, every rank passes the whole `counts`, so that every
/// rank can check its own block and the counts before anything is communicated.
///
/// - Parameters:
///   - x: This rank's block, of `counts[rank]` elements. It is not modified.
///   - counts: Every rank's block length, in rank order: the same array on every rank.
///   - root: The rank that receives the blocks.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: On the root, the blocks one after another (`counts.reduce(0, +)` elements); `nil`
///   elsewhere. And the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `root`,
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for `counts` of another
///   length than the communicator's size or with a negative count, and
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an `x` of another length
///   than `counts[rank]`, before anything is communicated.
///
/// The corresponding C function is `MPI_Gatherv`.
@inlinable
public func gatherv<T: MPIScalar>(
    _ x: [T], counts: [Int], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T]?, Token) {
    let comm = try Communicator.resolve(comm, .gatherv)
    guard comm.rank == root else {
        var unused = ResultBuffer<T>.none
        try gathervCore(x, into: &unused, counts: counts, displacements: nil, root: root, comm: comm)
        return (nil, advance(token))
    }
    // Sized without throwing: invalid counts throw in the core's checks, where SWIFT_MPI_CHECK=1
    // has every rank agree on the failure (a throw here skipped that, and the other ranks hung).
    let total = (try? checkCounts(counts, "counts", size: comm.size, .gatherv)) ?? 0
    let result = try [T].filled(count: total) { (output) throws(MPIError) in
        try gathervCore(x, into: &output, counts: counts, displacements: nil, root: root, comm: comm)
    }
    return (result, advance(token))
}

/// ``gatherv(_:counts:root:comm:token:)`` into caller-owned storage on the root, with optional
/// displacements; `output` is neither checked nor touched on the other ranks.
///
/// Block `r` (`counts[r]` elements) is written at element `displacements[r]` of
/// `output`; without displacements the blocks are packed in rank order and
/// `output` must hold exactly their sum, else at least the largest
/// displacement + count. Displacements that place two non-empty blocks over each other throw
/// ``MPIError/invalidArgument(operation:argument:expected:actual:)`` on the root before anything is
/// communicated (the other ranks then wait in `MPI_Gatherv`, unless `SWIFT_MPI_CHECK=1`; their
/// displacements are not used, and may overlap). An
/// output on the root that cannot hold what arrives
/// throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` there after the
/// collective has completed into scratch storage: nothing is written past its end.
///
/// The corresponding C function is `MPI_Gatherv`.
@inlinable @discardableResult
public func gatherv<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], displacements: [Int]? = nil, root: Int,
    comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try gathervCore(x, into: &output, counts: counts, displacements: displacements, root: root,
                    comm: Communicator.resolve(comm, .gatherv))
    return advance(token)
}
