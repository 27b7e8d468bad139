import CMPI

// scatterv (MPI_Scatterv): its core, then its forms: the easy ones
// (ShapedArray with row counts, VariableBlocks: the root's block sizes and row
// shape broadcast by one small bcast first, so that every rank can shape its
// result and every rank throws when the root's arguments are wrong), the
// explicit ones (caller-given counts on every rank, no extra communication:
// [T], into:).

/// The core of scatterv: the root and count checks, the hooks and the raw call.
///
/// `counts` (the same on every rank) gives every rank's block; `x` holds them on
/// the root at `displacements` (packed when `nil`) and is read there only;
/// `output` receives `counts[rank]` elements.
@inlinable
func scattervCore<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], displacements: [Int]?, root: Int,
    comm: ResolvedCommunicator
) throws(MPIError) where Input.Scalar == Output.Scalar {
    typealias T = Input.Scalar
    let isRoot = comm.rank == root
    // The arrays' storage, taken once: closures that capture the arrays retain and release them.
    try counts.withUnsafeBufferPointer { (c) throws(MPIError) in
        try withOptionalBuffer(displacements) { (given) throws(MPIError) in
            try perform(Call(.scatterv, comm, T.self, count: 0, root: root, counts: .same(c)), checks: { () throws(MPIError) -> Int in
                try comm.checkRank(root, "root", .scatterv)
                let total = try checkCounts(c, "counts", size: comm.size, .scatterv)
                let extent = try checkedExtent(counts: c, total: total, displacements: given, "displacements",
                                               .scatterv)
                if isRoot {
                    let count = x.scalarCount
                    if _slowPath(given == nil ? count != extent : count < extent) {
                        throw MPIError.shapeMismatch(
                            operation: MPIOperation.scatterv.name, argument: "x",
                            expected: given == nil ? "\(counted(extent, "element")) (the sum of the counts)"
                                : "at least \(counted(extent, "element")) (the largest displacement + count)",
                            actual: "\(counted(count, "element"))")
                    }
                }
                return c[comm.rank]
            }) { (own) throws(MPIError) in
                try x.withUnsafeMPIBuffer { (source) throws(MPIError) in
                    try withVariableOutput(&output, extent: own, exact: true, exactly: "this rank's entry of 'counts'",
                                           .scatterv) {
                        (destination) throws(MPIError) in
                        guard isRoot else {
                            return try rawScatterv(nil, sendCounts: c, displacements: nil, destination, count: own,
                                                   type: T.mpiDatatype.handle, root: root, comm: comm.handle)
                        }
                        try withDisplacements(given, of: c) { (d) throws(MPIError) in
                            try rawScatterv(source, sendCounts: c, displacements: d, destination, count: own,
                                            type: T.mpiDatatype.handle, root: root, comm: comm.handle)
                        }
                    }
                }
            }
        }
    }
}

/// The most trailing axes the easy form's broadcast header carries.
@usableFromInline let scattervMaxRowAxes = 8

/// The easy forms' adapter: the root's row counts and row shape broadcast in
/// one small header (with the outcome of the root's checks), then the core.
@inlinable
func scattervRows<T: MPIScalar>(
    _ x: ShapedArray<T>?, rowCounts: [Int]?, root: Int, comm: Communicator?
) throws(MPIError) -> ShapedArray<T> {
    let comm = try Communicator.resolve(comm, .scatterv)
    try comm.checkRank(root, "root", .scatterv)
    let size = comm.size
    let width = 2 + scattervMaxRowAxes + size
    var header: [Int64] = zeroedArray(count: width)
    var ownError: MPIError?
    if comm.rank == root {
        ownError = scattervRootError(x, rowCounts: rowCounts, size: size)
        if ownError == nil, let x, let rowCounts {
            let rowShape = Array(x._shape.dropFirst())
            header[1] = Int64(rowShape.count)
            for (i, d) in rowShape.enumerated() { header[2 + i] = Int64(d) }
            for (r, c) in rowCounts.enumerated() { header[2 + scattervMaxRowAxes + r] = Int64(c) }
        } else {
            header[0] = 1
        }
    }
    var received: [Int64] = zeroedArray(count: width)
    try bcastCore(header, into: &received, count: width, root: root, comm: comm)
    if comm.rank == root { received = header }
    if let ownError { throw ownError }
    if _slowPath(received[0] != 0) {
        throw MPIError.peerFailed(operation: MPIOperation.scatterv.name, rank: root,
                                  reason: "the root's 'x' or 'rowCounts' were invalid")
    }
    let rowShape = (0..<Int(received[1])).map { Int(received[2 + $0]) }
    let rowSize = rowShape.reduce(1, *)
    let counts = (0..<size).map { Int(received[2 + scattervMaxRowAxes + $0]) * rowSize }
    // From the header, not from `counts`: rows of zero elements (a row shape such as [0]) still count.
    let rows = Int(received[2 + scattervMaxRowAxes + comm.rank])
    let input = comm.rank == root ? x! : ShapedArray<T>(_uncheckedShape: [0], scalars: [])
    let result = try ScalarStorage<T>.filled(count: counts[comm.rank]) { (output) throws(MPIError) in
        try scattervCore(input, into: &output, counts: counts, displacements: nil, root: root, comm: comm)
    }
    return ShapedArray(_uncheckedShape: [rows] + rowShape, storage: result)
}

/// The root's checks of the easy form, as an error (or `nil`).
@usableFromInline
func scattervRootError<T>(_ x: ShapedArray<T>?, rowCounts: [Int]?, size: Int) -> MPIError? {
    let name = MPIOperation.scatterv.name
    guard let x, let rowCounts else {
        return .invalidArgument(operation: name, argument: "blocks", expected: "the blocks to scatter on the root",
                                actual: "nil")
    }
    guard let rows = x._shape.first else {
        return .shapeMismatch(operation: name, argument: "x", expected: "an array with a first axis",
                              actual: "a 0-d array")
    }
    if x._shape.count - 1 > scattervMaxRowAxes {
        return .shapeMismatch(operation: name, argument: "x",
                              expected: "at most \(scattervMaxRowAxes + 1) axes", actual: "shape \(x._shape)")
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

/// Scatters blocks of different lengths from the root: rank `r` gets the next
/// `rowCounts[r]` rows of `x`.
///
/// `x` and `rowCounts` are read on the root only (the other ranks may pass an
/// empty array and `[]`). The library first broadcasts the row counts and the
/// row shape with one small bcast, then calls `MPI_Scatterv`.
///
/// - Parameters:
///   - x: On the root, the rows to scatter, in rank order. It is not modified.
///   - rowCounts: On the root, the number of rows for each rank (zero allowed); they must add up to
///     `x`'s first axis.
///   - root: The rank that holds the data.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: This rank's block, of shape `[rowCounts[rank]] + x.shape.dropFirst()`, and the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` on every rank for a bad
///   `root`. For a wrong `rowCounts` (another length than the communicator's size, a negative
///   count, counts that do not add up to `x`'s first axis) or a 0-d `x` (or one of more than 9
///   axes), the root throws ``MPIError/invalidArgument(operation:argument:expected:actual:)`` or
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` and the other ranks
///   ``MPIError/peerFailed(operation:rank:reason:)``, after the header's bcast and before any data moves.
///
/// The corresponding C function is `MPI_Scatterv`.
@inlinable
public func scatterv<T: MPIScalar>(
    _ x: ShapedArray<T>, rowCounts: [Int], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    (try scattervRows(x, rowCounts: rowCounts, root: root, comm: comm), advance(token))
}

/// ``scatterv(_:rowCounts:root:comm:token:)`` of the blocks of a ``VariableBlocks`` (for example
/// the root's result of ``gatherv(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``): rank `r` gets `blocks[r]`.
///
/// `blocks` is read on the root only; the other ranks pass `nil`. A `nil` on the
/// root throws ``MPIError/invalidArgument(operation:argument:expected:actual:)`` there and
/// ``MPIError/peerFailed(operation:rank:reason:)`` elsewhere.
///
/// The corresponding C function is `MPI_Scatterv`.
@inlinable
public func scatterv<T: MPIScalar>(
    _ blocks: VariableBlocks<T>?, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> (ShapedArray<T>, Token) {
    (try scattervRows(blocks?.data, rowCounts: blocks?.counts, root: root, comm: comm), advance(token))
}

/// Scatters blocks of caller-given lengths from the root, with no extra communication: rank `r`
/// gets `counts[r]` elements.
///
/// Unlike C's `MPI_Scatterv`, every rank passes the whole `counts`, so that every
/// rank knows its block's length and can check the counts before anything is communicated.
///
/// - Parameters:
///   - x: On the root, the blocks one after another (`counts.reduce(0, +)` elements); read on the
///     root only.
///   - counts: Every rank's block length, in rank order: the same array on every rank.
///   - root: The rank that holds the data.
///   - comm: The communicator; `nil` means ``Communicator/default``.
///   - token: Orders this operation after the one that returned it.
/// - Returns: This rank's block, and the new token.
/// - Throws: ``MPIError/rankOutOfRange(operation:argument:rank:size:)`` for a bad `root` and
///   ``MPIError/invalidArgument(operation:argument:expected:actual:)`` for `counts` of another
///   length than the communicator's size or with a negative count, on every rank; on the root,
///   ``MPIError/shapeMismatch(operation:argument:expected:actual:)`` for an `x` of another length
///   than the sum of the counts (the other ranks then wait in `MPI_Scatterv`, as with
///   ``scatter(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``, unless `SWIFT_MPI_CHECK=1`).
///
/// The corresponding C function is `MPI_Scatterv`.
@inlinable
public func scatterv<T: MPIScalar>(
    _ x: [T], counts: [Int], root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> ([T], Token) {
    let comm = try Communicator.resolve(comm, .scatterv)
    let own = comm.rank < counts.count ? Swift.max(0, counts[comm.rank]) : 0
    let result = try [T].filled(count: own) { (output) throws(MPIError) in
        try scattervCore(x, into: &output, counts: counts, displacements: nil, root: root, comm: comm)
    }
    return (result, advance(token))
}

/// ``scatterv(_:counts:root:comm:token:)`` into caller-owned storage of `counts[rank]` elements,
/// with optional displacements of the blocks in the root's `x`.
///
/// An output of another size throws ``MPIError/shapeMismatch(operation:argument:expected:actual:)``
/// on this rank after the collective has completed into scratch storage: nothing is written
/// past its end.
///
/// The corresponding C function is `MPI_Scatterv`.
@inlinable @discardableResult
public func scatterv<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, counts: [Int], displacements: [Int]? = nil, root: Int,
    comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    try scattervCore(x, into: &output, counts: counts, displacements: displacements, root: root,
                     comm: Communicator.resolve(comm, .scatterv))
    return advance(token)
}
