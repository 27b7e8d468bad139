import CMPI

// Messages of any element count.
//
// MPI 3.1 (Open MPI 4.1) counts are C ints, so one call moves at most
// Int32.max elements. Counts here are Int. Up to Int32.max a message is passed
// to MPI as it is. Beyond that:
//  * data-movement operations describe the whole message with a derived
//    datatype, so it is still a single message that matches a single receive:
//    count/k elements of a contiguous type of k elements when a small k
//    divides the count, else ONE element of a struct type (blocks of 2^30
//    elements plus the rest, resized to the message's exact extent);
//  * reductions, whose predefined ops apply to predefined datatypes only, run
//    in chunks of 2^30 elements, which is exact since they act elementwise.
// The datatype calls run under the package's lock when calls are serialised
// (ThreadLevel.swift); the body's call takes the lock itself.

/// The largest count passed to MPI directly.
@usableFromInline let maxDirectCount = Int(Int32.max)

/// The elements per block of a large message's derived datatype, and per chunk of a large reduction.
@usableFromInline let largeBlockCount = 1 << 30

/// Calls `body` with an MPI (count, datatype) pair describing `count` elements of `base`.
///
/// Returns `body`'s MPI return code, or the code of a failed datatype call.
@inlinable @inline(__always)
func withMessage(
    count: Int, of base: MPI_Datatype, elementSize: Int, _ body: (Int32, MPI_Datatype) -> Int32
) -> Int32 {
    if _fastPath(count <= maxDirectCount) { return body(Int32(truncatingIfNeeded: count), base) }
    return withLargeMessage(count: count, of: base, elementSize: elementSize, body)
}

@usableFromInline @inline(never)
func withLargeMessage(
    count: Int, of base: MPI_Datatype, elementSize: Int, _ body: (Int32, MPI_Datatype) -> Int32
) -> Int32 {
    // Preferred: a contiguous block that divides the count exactly, so the
    // message is `count / k` elements of a contiguous type, which MPI libraries
    // move as fast as a predefined type.
    let smallest = (count + maxDirectCount - 1) / maxDirectCount
    for k in smallest..<(smallest + 4096) where count % k == 0 {
        var block = swiftmpi_datatype_null()
        var code = locked { swiftmpi_type_contiguous(Int32(k), base, &block) }
        guard code == 0 else { return code }
        defer { _ = locked { swiftmpi_type_free(&block) } }
        code = locked { swiftmpi_type_commit(&block) }
        guard code == 0 else { return code }
        return body(Int32(count / k), block)
    }
    // Otherwise: blocks of 2^30 elements and the rest, as one element of a struct type.
    var block = swiftmpi_datatype_null()
    var code = locked { swiftmpi_type_contiguous(Int32(largeBlockCount), base, &block) }
    guard code == 0 else { return code }
    defer { _ = locked { swiftmpi_type_free(&block) } }
    let blocks = count / largeBlockCount
    let rest = count % largeBlockCount
    var message = swiftmpi_datatype_null()
    code = locked {
        swiftmpi_type_blocks_and_rest(
            Int32(blocks), block, MPI_Aint(blocks * largeBlockCount * elementSize), Int32(rest), base,
            MPI_Aint(count * elementSize), &message)
    }
    guard code == 0 else { return code }
    defer { _ = locked { swiftmpi_type_free(&message) } }
    code = locked { swiftmpi_type_commit(&message) }
    guard code == 0 else { return code }
    return body(1, message)
}

/// Runs an elementwise operation over `count` elements in chunks MPI can count.
///
/// `body` gets the byte offset and element count of each chunk; the first
/// failing MPI return code stops the loop and is returned.
@inlinable @inline(__always)
func inChunks(count: Int, elementSize: Int, _ body: (Int, Int32) -> Int32) -> Int32 {
    if _fastPath(count <= maxDirectCount) { return body(0, Int32(truncatingIfNeeded: count)) }
    return inLargeChunks(count: count, elementSize: elementSize, body)
}

@usableFromInline @inline(never)
func inLargeChunks(count: Int, elementSize: Int, _ body: (Int, Int32) -> Int32) -> Int32 {
    var done = 0
    while done < count {
        let n = min(largeBlockCount, count - done)
        let code = body(done * elementSize, Int32(n))
        if code != 0 { return code }
        done += n
    }
    return 0
}
