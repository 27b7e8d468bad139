import CMPI

// alltoallv (MPI_Alltoallv): its core, then its forms: the easy ones
// (ShapedArray, [T]: the row counts exchanged by one small alltoall first, which
// also carries each rank's argument check and send total to every rank), the
// explicit ones (caller-given send and receive counts, no extra communication:
// [T], into:).
//
// Counts above Int32.max: the raw call describes the blocks in a common unit
// where one exists (RawVariableCollectives.swift). Where none does on some rank,
// that rank cannot call MPI_Alltoallv, and only the easy form can tell the
// others: when the total of all ranks' sends (known to every rank after the
// header exchange) is at most Int32.max no count can be above it, and the call
// is MPI_Alltoallv with nothing more; above it the ranks agree with one
// MPI_Allreduce (max) of each rank's own need whether all call MPI_Alltoallv or
// all the alltoallw fallback (VariableExchange.swift). The explicit forms throw.
// Where the library has MPI 4.0's `MPI_Alltoallv_c` (MPICH 4) none of this is
// needed: a rank whose counts have no unit calls it, the others MPI_Alltoallv,
// so no agreement is sent and the explicit forms do not throw.

/// The core of alltoallv: the count checks, the hooks and the raw call: the
/// blocks of `x` (`sendCounts` at `sendDisplacements`) to each rank, theirs into
/// `output` (`receiveCounts` at `receiveDisplacements`); `nil` displacements are packed.
/// `exchange` (the same on every rank) moves them as one MPI_Alltoallw of per-peer types instead.
@inlinable
func alltoallvCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, sendCounts: [Int], sendDisplacements: [Int]?, receiveCounts: [Int],
    receiveDisplacements: [Int]?, comm: ResolvedCommunicator, exchange: Bool = false
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    // The arrays' storage, taken once: closures that capture the arrays retain and release them.
    try sendCounts.withUnsafeBufferPointer { (sc) throws(MPIError) in
        try receiveCounts.withUnsafeBufferPointer { (rc) throws(MPIError) in
            try withOptionalBuffer(sendDisplacements) { (givenSD) throws(MPIError) in
                try withOptionalBuffer(receiveDisplacements) { (givenRD) throws(MPIError) in
                    let counts = AgreedCounts.exchanged(sendCounts: sc, receiveCounts: rc, rank: comm.rank)
                    try perform(Call(.alltoallv, comm, T.self, count: 0, counts: counts), checks: { () throws(MPIError) -> Int in
                        let sent = try checkCounts(sc, "sendCounts", size: comm.size, .alltoallv)
                        let sendExtent = try checkedExtent(counts: sc, total: sent, displacements: givenSD,
                                                           "sendDisplacements", .alltoallv)
                        let received = try checkCounts(rc, "receiveCounts", size: comm.size, .alltoallv)
                        let count = x.scalarCount
                        if _slowPath(givenSD == nil ? count != sendExtent : count < sendExtent) {
                            throw MPIError.shapeMismatch(
                                operation: MPIOperation.alltoallv.name, argument: "x",
                                expected: givenSD == nil ? "\(counted(sendExtent, "element")) (the sum of sendCounts)"
                                    : "at least \(counted(sendExtent, "element")) (the largest send displacement + count)",
                                actual: "\(counted(count, "element"))")
                        }
                        return try checkedExtent(counts: rc, total: received, displacements: givenRD,
                                                 "receiveDisplacements", .alltoallv, receiving: true)
                    }) { (extent) throws(MPIError) in
                        try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
                            try withVariableOutput(&output, extent: extent, exact: givenRD == nil, .alltoallv) {
                                (destination) throws(MPIError) in
                                try withDisplacements(givenSD, of: sc) { (sd) throws(MPIError) in
                                    try withDisplacements(givenRD, of: rc) { (rd) throws(MPIError) in
                                        try rawAlltoallv(source, sendCounts: sc, sendDisplacements: sd, destination,
                                                         receiveCounts: rc, receiveDisplacements: rd,
                                                         type: T.mpiDatatype.handle, comm: comm.handle,
                                                         exchange: exchange)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// This rank's checks of the easy form, as an error (or `nil`).
@usableFromInline
func alltoallvOwnError(shape: [Int], rowCounts: [Int], size: Int) -> MPIError? {
    let name = MPIOperation.alltoallv.name
    guard let rows = shape.first else {
        return .shapeMismatch(operation: name, argument: "x", expected: "an array with a first axis",
                              actual: "a 0-d array")
    }
    if rowCounts.count != size {
        return .invalidArgument(operation: name, argument: "rowCounts",
                                expected: "\(counted(size, "count")) (one per rank of the communicator)",
                                actual: counted(rowCounts.count, "count"))
    }
    if let i = rowCounts.firstIndex(where: { $0 < 0 }) {
        return .invalidArgument(operation: name, argument: "rowCounts", expected: "values ≥ 0",
                                actual: "\(rowCounts[i]) at index \(i)")
    }
    let total = rowCounts.reduce(0, +)
    if total != rows {
        return .invalidArgument(operation: name, argument: "rowCounts",
                                expected: "counts that add up to x's first axis (\(rows))",
                                actual: "\(rowCounts) (sum \(total))")
    }
    return nil
}

/// Whether the ranks of an easy alltoallv that moves more than Int32.max elements in all take the
/// alltoallw fallback: one MPI_Allreduce (max) of each rank's own need (``alltoallvNeedsExchange``),
/// so that every rank calls the same collective.
@usableFromInline @inline(never)
func alltoallvAgreesOnExchange(
    sendCounts: [Int], receiveCounts: [Int], comm: ResolvedCommunicator
) throws(MPIError) -> Bool {
    let needs: [Int32] = [alltoallvNeedsExchange(sendCounts: sendCounts, receiveCounts: receiveCounts) ? 1 : 0]
    var agreed: [Int32] = [0]
    try allreduceCore(needs, into: &agreed, op: .max, comm: comm)
    return agreed[0] != 0
}

/// The easy forms' adapter: the row counts exchanged by one small alltoall, then the core (with the
/// fallback where the ranks agree on it; see the file's comment).
@inlinable
func alltoallvBlocks<T: MPIScalar>(
    _ x: ShapedArray<T>, rowCounts: [Int], comm: Communicator?
) throws(MPIError) -> VariableBlocks<T> {
    let comm = try Communicator.resolve(comm, .alltoallv)
    let size = comm.size
    let width = BlockHeader.alltoallvWidth
    let (_, rowShape, rowSize) = rowsOf(x)
    let hash = BlockHeader.hash(rowShape)
    let ownError = alltoallvOwnError(shape: x._shape, rowCounts: rowCounts, size: size)
    let valid = ownError == nil
    let sent = valid ? Int64(x.scalarCount) : 0
    var headers: [Int64] = zeroedArray(count: width * size)
    for r in 0..<size {
        let i = r * width
        headers[i] = valid ? 0 : 1
        headers[i + 1] = valid ? Int64(rowCounts[r]) : 0
        headers[i + 2] = Int64(rowSize)
        headers[i + 3] = hash
        headers[i + 4] = sent
    }
    var received: [Int64] = zeroedArray(count: width * size)
    try alltoallCore(headers, into: &received, blocks: .elements, comm: comm)
    let receivedRows = try checkBlockHeaders(received, width: width, rowSize: rowSize, rowHash: hash,
                                             rowShape: rowShape, argument: "x", ownError: ownError, .alltoallv)
    var allSent: Int64 = 0
    for r in 0..<size { allSent &+= received[r * width + 4] }
    let sendCounts = rowSize == 1 ? rowCounts : rowCounts.map { $0 * rowSize }
    let receiveCounts = rowSize == 1 ? receivedRows : receivedRows.map { $0 * rowSize }
    let exchange = try _slowPath(allSent > Int64(maxDirectCount)) && !hasLargeCountCollectives
        ? alltoallvAgreesOnExchange(sendCounts: sendCounts, receiveCounts: receiveCounts, comm: comm) : false
    let total = receivedRows.reduce(0, +)
    let result = try ScalarStorage<T>.filled(count: total * rowSize) { (output) throws(MPIError) in
        try alltoallvCore(x, into: &output, sendCounts: sendCounts, sendDisplacements: nil,
                          receiveCounts: receiveCounts, receiveDisplacements: nil, comm: comm, exchange: exchange)
    }
    return VariableBlocks(_uncheckedData: ShapedArray(_uncheckedShape: prepending(total, to: rowShape), storage: result),
                          counts: receivedRows)
}

/// Sends blocks of different lengths from every rank to every rank: the next
/// `rowCounts[r]` rows of `x` go to rank `r`.
///
/// The library first exchanges the row counts with one small alltoall (5
/// integers per pair of ranks), which also tells every rank whether every
/// other rank's arguments were valid and how many elements every rank sends,
/// then calls `MPI_Alltoallv`. Every rank's rows must have the same shape.
///
/// Blocks above `Int32.max` elements (MPI 3.1's counts are C ints) also work.
/// While all ranks together send at most `Int32.max` elements nothing else is
/// communicated. Above that, the ranks agree with one small `MPI_Allreduce`
/// on the call: `MPI_Alltoallv` when every rank's counts and displacements fit
/// in a C int (as they are, or in units of a contiguous type of their common
/// divisor), else, where some rank's have no such unit (a block of 2^31 + 1
/// elements beside one of 5, say), one `MPI_Alltoallw` with a datatype per
/// peer at 64-bit byte offsets (not the messages of `MPI_Alltoallv`, which
/// could not be called). Where the MPI library has MPI 4.0's large-count
/// functions (MPICH 4) nothing is agreed: a rank whose counts have no unit
/// calls `MPI_Alltoallv_c`, the others `MPI_Alltoallv` (the same collective).
///
/// - Parameters:
///   - x: This rank's rows, in destination order. It is not modified.
///   - rowCounts: The number of rows for each rank (zero allowed); they must add up to `x`'s first axis.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The blocks this rank received, in source order (`result[r]` came from rank `r`), and the
///   new token.
/// - Throws: For a wrong `rowCounts` (another length than the communicator's size, a negative count,
///   counts that do not add up to `x`'s first axis) or a 0-d `x`, that rank throws
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` or
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` and the others
///   ``MPIError/peerFailed(operation:rank:reason:)``; ranks whose row shapes differ throw
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)``: all after the exchange and
///   before any data moves.
///
/// The corresponding C function is `MPI_Alltoallv`.
@inlinable
public func alltoallv<T: MPIScalar>(
    _ x: ShapedArray<T>, rowCounts: [Int], comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (VariableBlocks<T>, Token) {
    (try alltoallvBlocks(x, rowCounts: rowCounts, comm: comm), advance(token))
}

/// The plain-array form of ``alltoallv(_:rowCounts:comm:token:)-(ShapedArray<T>,_,_,_)``: `rowCounts`
/// are element counts and the blocks are 1-d.
///
/// The corresponding C function is `MPI_Alltoallv`.
@inlinable
public func alltoallv<T: MPIScalar>(
    _ x: [T], rowCounts: [Int], comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (VariableBlocks<T>, Token) {
    (try alltoallvBlocks(ShapedArray(x), rowCounts: rowCounts, comm: comm), advance(token))
}

/// Sends blocks of caller-given lengths from every rank to every rank, with no extra communication.
///
/// - Parameters:
///   - x: This rank's blocks one after another, in destination order (`sendCounts.reduce(0, +)`
///     elements). It is not modified.
///   - sendCounts: The elements for each rank.
///   - receiveCounts: The elements from each rank; `receiveCounts[r]` must be rank `r`'s
///     `sendCounts[rank]`.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: The received blocks one after another, in source order, and the new token.
/// - Throws: ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for count arrays of
///   another length than the communicator's size or with a negative count, and
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an `x` of another length
///   than the sum of `sendCounts`, on this rank before anything is communicated.
///   Only where the MPI library lacks MPI 4.0's `MPI_Alltoallv_c` (Open MPI 4.1, an MPI 3.1
///   library): ``MPIError/invalidArgument(operation:argument:expected:actual:)`` naming `counts` for
///   counts or displacements above `Int32.max` that no common unit brings under it, on each rank
///   whose own values have none, before anything is communicated: this form cannot know whether the
///   other ranks could take a fallback, so it has none; the easy form
///   ``alltoallv(_:rowCounts:comm:token:)-([T],_,_,_)`` moves such blocks. With `MPI_Alltoallv_c`
///   (MPICH 4) such a rank calls it instead, and this does not throw.
///
/// The corresponding C function is `MPI_Alltoallv` (`MPI_Alltoallv_c` for counts without a unit).
@inlinable
public func alltoallv<T: MPIScalar>(
    _ x: [T], sendCounts: [Int], receiveCounts: [Int], comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let comm = try Communicator.resolve(comm, .alltoallv)
    // Sized without throwing: invalid counts throw in the core's checks, where SWIFT_MPI_CHECK=1
    // has every rank agree on the failure (a throw here skipped that, and the other ranks hung).
    let total = (try? checkCounts(receiveCounts, "receiveCounts", size: comm.size, .alltoallv)) ?? 0
    let result = try [T].filled(count: total) { (output) throws(MPIError) in
        try alltoallvCore(x, into: &output, sendCounts: sendCounts, sendDisplacements: nil,
                          receiveCounts: receiveCounts, receiveDisplacements: nil, comm: comm)
    }
    return (result, advance(token))
}

/// ``alltoallv(_:sendCounts:receiveCounts:comm:token:)`` into caller-owned storage, with optional
/// displacements on either side.
///
/// Without receive displacements the received blocks are packed and `output`
/// must hold exactly their sum, else at least the largest displacement + count.
/// Receive displacements that place two non-empty blocks over each other throw
/// ``MPIError/invalidArgument(operation:argument:expected:actual:)`` before anything is
/// communicated (send blocks may overlap). An output that cannot hold what arrives throws
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` on this rank after the
/// collective has completed into scratch storage: nothing is written past its end. Counts or
/// displacements above `Int32.max` with no common unit throw as in
/// ``alltoallv(_:sendCounts:receiveCounts:comm:token:)`` where the library lacks `MPI_Alltoallv_c`
/// (Open MPI 4.1), and call `MPI_Alltoallv_c` where it has it (MPICH 4).
///
/// The corresponding C function is `MPI_Alltoallv` (`MPI_Alltoallv_c` for counts without a unit).
@inlinable @discardableResult
public func alltoallv<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, sendCounts: [Int], sendDisplacements: [Int]? = nil,
    receiveCounts: [Int], receiveDisplacements: [Int]? = nil, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try alltoallvCore(x, into: &output, sendCounts: sendCounts, sendDisplacements: sendDisplacements,
                      receiveCounts: receiveCounts, receiveDisplacements: receiveDisplacements,
                      comm: Communicator.resolve(comm, .alltoallv))
    return advance(token)
}
