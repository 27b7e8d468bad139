// What the variable-size collectives (allgatherv, gatherv, scatterv, alltoallv)
// and variable reduce-scatter share: their result type, the checks of counts and
// displacements, and the small exchange of block sizes of their easy forms.
//
// Counts are always lengths along the first axis: rows of a ShapedArray, and
// elements of a `[T]` or of an `into:` buffer (one axis).

/// The blocks of a variable-size collective, one per rank, in one array: block
/// `r` is rank `r`'s.
///
/// The blocks lie one after another along the first axis of ``data``, whose
/// trailing axes are those of every block. ``counts`` gives each block's length
/// along the first axis (zero for an empty block) and ``offsets`` where it
/// starts. Returned by ``allgatherv(_:comm:token:)-(ShapedArray<T>,_,_)``, ``gatherv(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``
/// and ``alltoallv(_:rowCounts:comm:token:)-(ShapedArray<T>,_,_,_)``, and accepted by
/// ``scatterv(_:root:comm:token:)``. The shaped-array forms of the neighbour
/// collectives, ``neighborAllgatherv(_:receiveRowCounts:comm:token:)`` and
/// ``neighborAlltoallv(_:sendRowCounts:receiveRowCounts:comm:token:)``, return one
/// block per neighbour instead, in neighbour order.
public struct VariableBlocks<Scalar> {
    /// All blocks, one after another along the first axis.
    public let data: ShapedArray<Scalar>
    /// The length of each block along the first axis, in rank order (neighbour order for the neighbour collectives).
    public let counts: [Int]
    /// The first-axis index at which each block starts in ``data``, in the order of ``counts``.
    public let offsets: [Int]

    @inlinable
    init(_uncheckedData data: ShapedArray<Scalar>, counts: [Int]) {
        self.data = data
        self.counts = counts
        self.offsets = packedOffsets(counts)
    }

    /// The number of blocks: the communicator's size (the number of neighbours for the neighbour collectives).
    @inlinable public var blockCount: Int { counts.count }

    /// The shape of one row: ``data``'s shape without its first axis.
    @inlinable public var rowShape: [Int] { Array(data.shape.dropFirst()) }

    /// Block `r` as an array of shape `[counts[r]] + rowShape` (a copy).
    ///
    /// `r` must be in `0..<blockCount`.
    public func block(_ r: Int) -> ShapedArray<Scalar> {
        precondition(r >= 0 && r < counts.count, "VariableBlocks.block: \(r) is not in 0..<\(counts.count)")
        let rowSize = rowShape.reduce(1, *)
        let start = offsets[r] * rowSize
        let scalars = data.withUnsafeBufferPointer { Array($0[start..<(start + counts[r] * rowSize)]) }
        return ShapedArray(shape: [counts[r]] + rowShape, scalars: scalars)
    }

    /// Block `r` (``block(_:)``).
    public subscript(r: Int) -> ShapedArray<Scalar> { block(r) }
}

extension VariableBlocks: Equatable where Scalar: Equatable {}

extension VariableBlocks: CustomStringConvertible {
    /// For example `VariableBlocks(counts: [2, 0, 1], data: [[1, 2], [3, 4], [5, 6]])`.
    public var description: String { "VariableBlocks(counts: \(counts), data: \(data))" }
}

// MARK: - Checks

/// The row shape and row count of a shaped-array block: its first axis is the rows; a 0-d array is one row.
@inlinable
func rowsOf<T>(_ x: ShapedArray<T>) -> (rows: Int, rowShape: [Int], rowSize: Int) {
    let rowShape = x._shape.count <= 1 ? [] : droppingFirst(x._shape)
    return (x._shape.first ?? 1, rowShape, rowShape.reduce(1, *))
}

/// Checks a count array: one count per rank (or per `per`), none negative, their sum less than
/// `Int.max`. Returns their sum.
@inlinable
func checkCounts(
    _ counts: [Int], _ argument: StaticString, size: Int, _ operation: MPIOperation,
    per: StaticString = "rank of the communicator"
) throws(MPIError) -> Int {
    try counts.withUnsafeBufferPointer { (c) throws(MPIError) in
        try checkCounts(c, argument, size: size, operation, per: per)
    }
}

/// ``checkCounts(_:_:size:_:per:)`` on the counts' storage: what the v collectives' cores call, which
/// take their arrays' storage once (closures that capture the arrays themselves retain and release them).
@inlinable
func checkCounts(
    _ counts: UnsafeBufferPointer<Int>, _ argument: StaticString, size: Int, _ operation: MPIOperation,
    per: StaticString = "rank of the communicator"
) throws(MPIError) -> Int {
    if _slowPath(counts.count != size) {
        throw MPIError.invalidArgument(
            operation: operation.name, argument: "\(argument)",
            expected: "\(counted(size, "count")) (one per \(per))", actual: counted(counts.count, "count"))
    }
    var total = 0
    for c in counts {
        if _slowPath(c < 0) { try negativeCountError(counts, argument, operation) }
        let (sum, overflow) = total.addingReportingOverflow(c)
        if _slowPath(overflow || sum == Int.max) {
            throw MPIError.invalidArgument(
                operation: operation.name, argument: "\(argument)", expected: "counts whose sum is less than \(Int.max)",
                actual: "\(Array(counts))")
        }
        total = sum
    }
    return total
}

@usableFromInline @inline(never)
func negativeCountError(
    _ values: UnsafeBufferPointer<Int>, _ argument: StaticString, _ operation: MPIOperation
) throws(MPIError) {
    let index = values.firstIndex { $0 < 0 } ?? 0
    throw MPIError.invalidArgument(
        operation: operation.name, argument: "\(argument)",
        expected: "values ≥ 0", actual: "\(values[index]) at index \(index)")
}

/// Checks caller-given displacements against their counts and returns the
/// number of elements the buffer must hold: the largest displacement + count
/// (the sum of the counts when `displacements` is `nil`, packed blocks).
///
/// `receiving`: the displacements place blocks that MPI writes, which must not overlap (MPI
/// writes no element twice: an overlap is erroneous, and what it left would depend on the order in
/// which the blocks arrived). A send's blocks may overlap.
@inlinable
func checkedExtent(
    counts: UnsafeBufferPointer<Int>, total: Int, displacements: UnsafeBufferPointer<Int>?,
    _ argument: StaticString, _ operation: MPIOperation, receiving: Bool = false
) throws(MPIError) -> Int {
    guard let displacements else { return total }
    if _slowPath(displacements.count != counts.count) {
        throw MPIError.invalidArgument(
            operation: operation.name, argument: "\(argument)",
            expected: "\(counts.count) displacements (one per rank of the communicator)",
            actual: "\(displacements.count) displacements")
    }
    var extent = 0
    for (d, c) in zip(displacements, counts) {
        if _slowPath(d < 0) { try negativeCountError(displacements, argument, operation) }
        guard c > 0 else { continue }
        let (end, overflow) = d.addingReportingOverflow(c)
        if _slowPath(overflow) {
            throw MPIError.invalidArgument(
                operation: operation.name, argument: "\(argument)",
                expected: "displacements whose blocks end within Int", actual: "\(d) with a count of \(c)")
        }
        extent = Swift.max(extent, end)
    }
    if receiving { try checkDisjoint(counts: counts, displacements: displacements, argument, operation) }
    return extent
}

/// Throws when two of the non-empty blocks that `displacements` place overlap (see
/// ``checkedExtent(counts:total:displacements:_:_:receiving:)``): one pass when the blocks are in
/// ascending order, as they usually are, else a sort of their starts.
@usableFromInline
func checkDisjoint(
    counts: UnsafeBufferPointer<Int>, displacements: UnsafeBufferPointer<Int>, _ argument: StaticString,
    _ operation: MPIOperation
) throws(MPIError) {
    var end = 0
    var ascending = true
    for (d, c) in zip(displacements, counts) where c > 0 {
        if d < end {
            ascending = false
            break
        }
        end = d + c
    }
    if ascending { return }
    let order = counts.indices.filter { counts[$0] > 0 }.sorted {
        (displacements[$0], $0) < (displacements[$1], $1)
    }
    for (a, b) in zip(order, order.dropFirst()) where displacements[a] + counts[a] > displacements[b] {
        let (first, second) = (Swift.min(a, b), Swift.max(a, b))
        func block(_ r: Int) -> String {
            "block \(r) at \(displacements[r])..<\(displacements[r] + counts[r])"
        }
        throw MPIError.invalidArgument(
            operation: operation.name, argument: "\(argument)",
            expected: "blocks that do not overlap (MPI writes each element of the output at most once)",
            actual: "\(block(first)) and \(block(second))")
    }
}

/// Throws when a rank's own block does not have the count that `counts` gives it.
@inlinable
func checkOwnCount(
    _ count: Int, expected: Int, _ argument: StaticString, _ countsArgument: StaticString, _ operation: MPIOperation
) throws(MPIError) {
    if _slowPath(count != expected) {
        throw MPIError.shapeMismatch(
            operation: operation.name, argument: "\(argument)",
            expected: "\(counted(expected, "element")) (this rank's entry of '\(countsArgument)')", actual: "\(counted(count, "element"))")
    }
}

/// Runs `body` with the output's address when it can hold `extent` elements
/// (exactly `extent` when `exact`, which the error calls `exactly`), else on scratch storage of
/// `extent` elements and then throws: the collective completes on every rank and nothing is
/// written past the output's end.
@inlinable @inline(__always)
func withVariableOutput<Output: MPIBuffer>(
    _ output: inout Output, extent: Int, exact: Bool, exactly: StaticString = "the sum of the counts",
    _ operation: MPIOperation, _ body: (UnsafeMutableRawPointer?) throws(MPIError) -> Void
) throws(MPIError) {
    let count = output.scalarCount
    if _fastPath(count == extent || (!exact && count > extent)) {
        try output.withUnsafeMutableMPIBuffer(body)
        return
    }
    try completeIntoScratch(byteCount: extent * MemoryLayout<Output.Scalar>.stride, body)
    throw MPIError.shapeMismatch(
        operation: operation.name, argument: "output",
        expected: exact ? "\(counted(extent, "element")) (\(exactly))"
            : "at least \(counted(extent, "element")) (the largest displacement + count)",
        actual: "\(counted(count, "element"))")
}

/// Writes where each of the packed blocks of `counts` starts (the prefix sums of the counts) to the
/// first `counts.count` elements of `offsets`: the one such loop, for the arrays, temporary storage and
/// MPI's displacements below and the neighbour v forms' plans.
@inlinable @inline(__always)
func writePackedOffsets<Counts: Collection<Int>>(of counts: Counts, to offsets: UnsafeMutableBufferPointer<Int>) {
    var next = 0
    for (i, count) in zip(offsets.indices, counts) {
        offsets[i] = next
        next += count
    }
}

/// Where each of the packed blocks of `counts` starts: the prefix sums of the counts.
@inlinable
func packedOffsets(_ counts: [Int]) -> [Int] {
    makeUninitializedArray(count: counts.count) { (offsets: UnsafeMutableBufferPointer<Int>) in
        writePackedOffsets(of: counts, to: offsets)
    }
}

/// Calls `body` with the storage of `values`, or `nil`: for the optional displacements of the v
/// collectives' cores, taken once around the whole call.
@inlinable @inline(__always)
func withOptionalBuffer<R>(
    _ values: [Int]?, _ body: (UnsafeBufferPointer<Int>?) throws(MPIError) -> R
) throws(MPIError) -> R {
    guard let values else { return try body(nil) }
    return try values.withUnsafeBufferPointer { (v) throws(MPIError) -> R in try body(v) }
}

/// Calls `body` with `displacements`, or the packed displacements of `counts` (their prefix sums).
@inlinable @inline(__always)
func withDisplacements<R>(
    _ displacements: UnsafeBufferPointer<Int>?, of counts: UnsafeBufferPointer<Int>,
    _ body: (UnsafeBufferPointer<Int>) throws(MPIError) -> R
) throws(MPIError) -> R {
    if let displacements { return try body(displacements) }
    return try withUnsafeTemporaryAllocation(of: Int.self, capacity: Swift.max(1, counts.count)) {
        (d) throws(MPIError) -> R in
        writePackedOffsets(of: counts, to: d)
        return try body(UnsafeBufferPointer(rebasing: d[0..<counts.count]))
    }
}

// MARK: - The easy forms' exchange of block sizes

/// An array of `count` zeros, allocated through ``makeUninitializedArray(count:_:)``'s
/// specialised path: about 330 instructions cheaper than `Array(repeating:count:)`,
/// whose allocator runs unspecialised (the easy forms make two such arrays per call).
@inlinable
func zeroedArray<Scalar: FixedWidthInteger>(count: Int) -> [Scalar] {
    makeUninitializedArray(count: count) { (buffer: UnsafeMutableBufferPointer<Scalar>) in buffer.initialize(repeating: 0) }
}

/// What a rank tells the others about its block in an easy form: its length
/// along the first axis, the size and a hash of its row shape, and whether its
/// own arguments were valid (0) or which check failed (> 0).
@usableFromInline
struct BlockHeader {
    /// The Int64 values per rank.
    @usableFromInline static let width = 4
    /// The Int64 values per pair of ranks in alltoallv's exchange: the four, then the sender's total
    /// (its blocks to all ranks, in elements), from which every rank computes the same total of all ranks.
    @usableFromInline static let alltoallvWidth = 5

    /// A stable hash of a row shape, so that blocks of the same row size but another row shape are told apart.
    @inlinable
    static func hash(_ shape: some Collection<Int>) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for d in shape {
            h = (h ^ UInt64(truncatingIfNeeded: d)) &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: h)
    }
}

/// Checks the headers every rank received in an easy form's exchange, in rank
/// order: a rank that reported an invalid argument, or a row shape that differs
/// from this rank's, throws here on every rank before any data moves. Returns
/// the block lengths. Each rank's header is `width` values, of which the first four are checked.
@inlinable
func checkBlockHeaders(
    _ headers: [Int64], width: Int = BlockHeader.width, rowSize: Int, rowHash: Int64,
    rowShape: @autoclosure () -> [Int], argument: StaticString, ownError: MPIError?, _ operation: MPIOperation
) throws(MPIError) -> [Int] {
    let size = headers.count / width
    var counts: [Int] = zeroedArray(count: size)
    for r in 0..<size {
        let h = headers[(r * width)...]
        let (status, rows, size, hash) = (h[h.startIndex], h[h.startIndex + 1], h[h.startIndex + 2], h[h.startIndex + 3])
        if _slowPath(status != 0) {
            if let ownError { throw ownError }
            throw MPIError.peerFailed(
                operation: operation.name, rank: r, reason: "its '\(argument)' or counts were invalid (status \(status))")
        }
        if _slowPath(Int(size) != rowSize || hash != rowHash) {
            throw MPIError.shapeMismatch(
                operation: operation.name, argument: "\(argument)",
                expected: "rows of shape \(rowShape()) on every rank (as on this rank)",
                actual: "rows of \(size) elements on rank \(r)")
        }
        counts[r] = Int(rows)
    }
    if let ownError { throw ownError }
    return counts
}
