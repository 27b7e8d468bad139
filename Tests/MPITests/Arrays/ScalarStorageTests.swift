// Tests of ScalarStorage.swift: where ShapedArray keeps its elements.
//
// Arrays of 4 KiB and more that the library allocates live in page-aligned
// blocks recycled through a cache, and from 1 MiB those blocks are 2 MiB-aligned
// and advised for huge pages, rounded up to whole 2 MiB pages only when their
// last 2 MiB page is at least half used; everything else keeps Swift Array storage.
// Expectations are computed from rank and size.
@testable import MPI
import MPITestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class ScalarStorageTests: MPITestCase {
    /// Elements in 1 MiB of Double: the smallest block.
    let blockCount = (1 << 20) / MemoryLayout<Double>.stride

    /// Whether an array's elements are in a library block: whole 4 KiB pages, page-aligned, and from 1 MiB
    /// 2 MiB-aligned and advised for huge pages, with whole 2 MiB pages only where the last is half used.
    private func checkBlock<T>(_ x: ShapedArray<T>, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let block = x._storage.block else {
            XCTFail("\(what): \(x.scalarCount) elements of \(T.self) are not in a library block", file: file, line: line)
            return
        }
        XCTAssertTrue(x._storage.array.isEmpty, "\(what): block storage also holds an array", file: file, line: line)
        let bytes = x.scalarCount * MemoryLayout<T>.stride
        let alignment = bytes >= 1 << 20 ? 2 << 20 : 4 << 10
        let address = Int(bitPattern: UnsafeRawPointer(block.base))
        XCTAssertEqual(address % alignment, 0, "\(what): block at \(address) is not \(alignment)-byte-aligned",
                       file: file, line: line)
        XCTAssertEqual(block.blockBytes % 4096, 0, "\(what): block of \(block.blockBytes) bytes", file: file, line: line)
        XCTAssertGreaterThanOrEqual(block.blockBytes, bytes, file: file, line: line)
        let lastHugePageUse = bytes % (2 << 20)
        if lastHugePageUse >= 1 << 20 {
            XCTAssertEqual(block.blockBytes % (2 << 20), 0, "\(what): \(bytes) bytes in a block of \(block.blockBytes)",
                           file: file, line: line)
            XCTAssertLessThanOrEqual(block.blockBytes - bytes, 1 << 20, "\(what): more padding than the last page's use",
                                     file: file, line: line)
        } else {
            XCTAssertLessThan(block.blockBytes, bytes + 4096, "\(what): more than one spare 4 KiB page", file: file, line: line)
        }
        guard bytes >= 1 << 20 else { return }
        #if os(Linux)
        if let flags = vmFlags(containing: address) {
            XCTAssertTrue(flags.contains("hg"), "\(what): block not advised MADV_HUGEPAGE (VmFlags: \(flags))",
                          file: file, line: line)
        } else {
            XCTFail("\(what): no mapping for \(address) in /proc/self/smaps", file: file, line: line)
        }
        #endif
    }

    /// The `VmFlags` of the mapping that contains `address`, from /proc/self/smaps.
    private func vmFlags(containing address: Int) -> [Substring]? {
        guard let file = fopen("/proc/self/smaps", "r") else { return nil }
        defer { fclose(file) }
        var inside = false
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            if let dash = text.firstIndex(of: "-"), let space = text.firstIndex(of: " "), dash < space,
               let start = Int(text[..<dash], radix: 16), let end = Int(text[text.index(after: dash)..<space], radix: 16) {
                inside = start <= address && address < end
            } else if inside, text.hasPrefix("VmFlags:") {
                return text.dropFirst("VmFlags:".count).split(separator: " ").map { $0.filter { !$0.isNewline } }
            }
        }
        return nil
    }

    // MARK: Which storage

    func testSmallArraysAndWrappedArraysKeepArrayStorage() throws {
        let small = ShapedArray(repeating: 1.0, shape: [511])  // under 4 KiB
        XCTAssertNil(small._storage.block)
        checkBlock(ShapedArray(repeating: 1.0, shape: [512]), "4 KiB")
        checkBlock(ShapedArray(repeating: Int8(1), shape: [(1 << 20) - 1]), "1 MiB - 1 B")
        let wrapped = ShapedArray(shape: [blockCount * 2], scalars: [Double](repeating: 2, count: blockCount * 2))
        XCTAssertNil(wrapped._storage.block, "an array made from [Scalar] shares that array")
        let (sum, _) = try allreduce(ShapedArray(repeating: 1.0, shape: [8]), op: .sum)
        XCTAssertNil(sum._storage.block)
        XCTAssertEqual(sum.scalars, [Double](repeating: Double(size), count: 8))
    }

    func testLargeResultsOfEveryPrimitiveAreHugePageBlocks() throws {
        let n = blockCount
        let x = ShapedArray<Double>(shape: [n], unsafeUninitializedCapacityInitializingWith: { buffer in
            for i in buffer.indices { buffer[i] = Double(rank * n + i) }
        })
        checkBlock(x, "init(shape:unsafeUninitializedCapacityInitializingWith:)")
        checkBlock(ShapedArray(repeating: 1.0, shape: [2, n]), "init(repeating:shape:)")

        let (sum, _) = try allreduce(x, op: .sum)
        checkBlock(sum, "allreduce")
        let rankSum = Double(size * (size - 1) / 2 * n)
        XCTAssertEqual(sum[flat: 0], rankSum)
        XCTAssertEqual(sum[flat: n - 1], rankSum + Double(size * (n - 1)))

        let (gathered, _) = try allgather(x)
        checkBlock(gathered, "allgather")
        XCTAssertEqual(gathered.shape, [size, n])
        for r in 0..<size { XCTAssertEqual(gathered[r, n - 1], Double(r * n + n - 1)) }

        let (cast, _) = try bcast(x, root: size - 1)
        if rank != size - 1 { checkBlock(cast, "bcast") }
        XCTAssertEqual(cast[flat: 7], Double((size - 1) * n + 7))

        let (prefix, _) = try scan(x, op: .sum)
        checkBlock(prefix, "scan")
        XCTAssertEqual(prefix[flat: 3], Double((0...rank).reduce(0) { $0 + $1 * n + 3 }))

        let (reduced, _) = try reduce(x, op: .max, root: 0)
        if rank == 0 {
            checkBlock(reduced, "reduce")
            XCTAssertEqual(reduced[flat: 1], Double((size - 1) * n + 1))
        } else {
            XCTAssertEqual(reduced, x, "non-root ranks get their input back")
        }

        let rows = ShapedArray<Double>(shape: [size, n], unsafeUninitializedCapacityInitializingWith: { buffer in
            for i in buffer.indices { buffer[i] = Double(rank * 1000 + i / n) }
        })
        let (exchanged, _) = try alltoall(rows)
        checkBlock(exchanged, "alltoall")
        for r in 0..<size { XCTAssertEqual(exchanged[r, 5], Double(r * 1000 + rank)) }

        let (collected, _) = try gather(x, root: 0)
        if rank == 0 {
            checkBlock(collected, "gather")
            XCTAssertEqual(collected[size - 1, 2], Double((size - 1) * n + 2))
        }

        let (row, _) = try scatter(rank == 0 ? rows : x, root: 0)
        checkBlock(row, "scatter")
        XCTAssertEqual(row[flat: n - 1], Double(rank))

        let right = (rank + 1) % size, left = (rank + size - 1) % size
        let (received, _) = try sendrecv(x, x, source: left, dest: right)
        checkBlock(received, "sendrecv")
        XCTAssertEqual(received[flat: 9], Double(left * n + 9))
    }

    // MARK: The cache

    func testAFreedBlockIsReusedForTheSameSize() throws {
        guard StorageBlocks.shared.cacheLimit >= 4 << 20 else {
            throw XCTSkip("the block cache is limited to \(StorageBlocks.shared.cacheLimit) bytes")
        }
        var first: Int?
        do {
            let a = ShapedArray(repeating: 1.0, shape: [3 * blockCount])  // 3 MiB: two 2 MiB pages
            first = a._storage.block.map { Int(bitPattern: UnsafeRawPointer($0.base)) }
        }
        let b = ShapedArray(repeating: 2.0, shape: [4 * blockCount])  // 4 MiB: the same two pages
        XCTAssertEqual(b._storage.block.map { Int(bitPattern: UnsafeRawPointer($0.base)) }, first)
        XCTAssertEqual(b[flat: 4 * blockCount - 1], 2.0, "a reused block holds the new array's elements")
    }

    func testTheCacheKeepsAtMostItsLimitAndTrims() {
        let page = StorageBlocks.hugePage
        let pool = StorageBlocks(cacheLimit: 2 * page + 8192)
        let blocks = (0..<3).compactMap { _ in pool.take(byteCount: page + page / 2) }  // each two huge pages
        XCTAssertEqual(blocks.count, 3)
        for (pointer, bytes) in blocks {
            XCTAssertEqual(bytes, 2 * page)
            XCTAssertEqual(Int(bitPattern: pointer) % page, 0)
            pointer.storeBytes(of: 42, toByteOffset: bytes - 8, as: Int.self)  // the whole block is writable
        }
        for (pointer, bytes) in blocks { pool.give(pointer, blockBytes: bytes) }
        XCTAssertEqual(pool.cachedBytes, 2 * page, "the oldest blocks are unmapped beyond the limit")

        // Blocks under 1 MiB: whole 4 KiB pages, page-aligned, cached too.
        guard let (small, smallBytes) = pool.take(byteCount: 5000) else {
            XCTFail("allocating 5000 bytes failed")
            return
        }
        XCTAssertEqual(smallBytes, 8192)
        XCTAssertEqual(Int(bitPattern: small) % 4096, 0)
        pool.give(small, blockBytes: smallBytes)
        XCTAssertEqual(pool.cachedBytes, 2 * page + 8192)
        XCTAssertEqual(pool.take(byteCount: 8000).map { $0.0 }, small, "a freed block serves the same page count")
        pool.give(small, blockBytes: smallBytes)
        XCTAssertEqual(StorageBlocks.blockLength(byteCount: page), page, "a one-page request is not a two-page block")
        XCTAssertEqual(StorageBlocks.blockLength(byteCount: page + 1), page + 4096, "a nearly empty last huge page")
        XCTAssertEqual(StorageBlocks.blockLength(byteCount: (1 << 20) - 1), 1 << 20)
        XCTAssertEqual(StorageBlocks.blockLength(byteCount: 1 << 20), page)
        XCTAssertEqual(StorageBlocks.blockLength(byteCount: 1), 4096)
        XCTAssertNil(StorageBlocks.blockLength(byteCount: Int.max - 5))
        XCTAssertEqual(pool.trim(), 2 * page + 8192)
        XCTAssertEqual(pool.cachedBytes, 0)

        let uncached = StorageBlocks(cacheLimit: 0)
        if let (pointer, bytes) = uncached.take(byteCount: 1 << 20) {
            XCTAssertEqual(bytes, page)
            uncached.give(pointer, blockBytes: bytes)
        } else {
            XCTFail("mapping one 2 MiB page failed")
        }
        XCTAssertEqual(uncached.cachedBytes, 0)
    }

    func testCachedStorageCanBeReleased() {
        do { _ = ShapedArray(repeating: 1.0, shape: [2 * blockCount]) }  // freed at once
        if StorageBlocks.shared.cacheLimit >= 2 << 20 {
            XCTAssertGreaterThanOrEqual(MPIRuntime.cachedStorageBytes, 2 << 20)
        }
        let cached = MPIRuntime.cachedStorageBytes
        XCTAssertEqual(MPIRuntime.releaseCachedStorage(), cached)
        XCTAssertEqual(MPIRuntime.cachedStorageBytes, 0)
        let x = ShapedArray(repeating: 3.0, shape: [2 * blockCount])
        XCTAssertEqual(x[flat: 2 * blockCount - 1], 3, "blocks are allocated afresh after a release")
    }

    func testCacheLimitInMegabytes() {
        XCTAssertEqual(StorageBlocks.cacheLimit(megabytes: 0), 0)
        XCTAssertEqual(StorageBlocks.cacheLimit(megabytes: 64), 64 << 20)
        XCTAssertEqual(StorageBlocks.cacheLimit(megabytes: Int.max), Int.max)
    }

    // MARK: The rounding policy

    func testBlocksAreRoundedUpToHugePagesOnlyWhereTheLastIsHalfUsed() {
        let kib = 1 << 10, mib = 1 << 20
        let expected: [(bytes: Int, block: Int)] = [
            (1, 4 * kib), (4 * kib, 4 * kib), (4 * kib + 1, 8 * kib), (mib - 1, mib),
            (mib, 2 * mib),                     // the last (only) huge page half used: a whole huge page
            (3 * mib / 2, 2 * mib), (2 * mib - 1, 2 * mib), (2 * mib, 2 * mib),
            (2 * mib + 1, 2 * mib + 4 * kib),   // one huge page and one 4 KiB page, not two huge pages
            (5 * mib / 2, 5 * mib / 2), (3 * mib - 1, 3 * mib),
            (3 * mib, 4 * mib), (4 * mib, 4 * mib), (5 * mib, 6 * mib),
            (10 * mib, 10 * mib), (10 * mib + 1, 10 * mib + 4 * kib), (11 * mib, 12 * mib),
        ]
        for (bytes, block) in expected {
            XCTAssertEqual(StorageBlocks.blockLength(byteCount: bytes), block, "the block of \(bytes) bytes")
        }
        // Everywhere: whole 4 KiB pages; padding under a 4 KiB page, or at most 1 MiB for whole huge pages.
        for bytes in stride(from: 1, through: 12 * mib, by: 4093) {
            guard let block = StorageBlocks.blockLength(byteCount: bytes) else {
                XCTFail("no block for \(bytes) bytes")
                continue
            }
            XCTAssertEqual(block % (4 * kib), 0)
            XCTAssertGreaterThanOrEqual(block, bytes)
            if block - bytes >= 4 * kib {
                XCTAssertEqual(block % (2 * mib), 0, "\(bytes) bytes: padding of \(block - bytes) bytes")
                XCTAssertLessThanOrEqual(block - bytes, mib, "\(bytes) bytes: padding of \(block - bytes) bytes")
            }
        }
        XCTAssertNil(StorageBlocks.blockLength(byteCount: -1))
    }

    func testBlocksWithALightlyUsedLastHugePageUseOnlyWhatTheyNeed() throws {
        #if os(Linux)
        // A live array of 2 MiB + 1 byte costs 2 MiB and a page of resident memory, not two huge pages;
        // arrays of 1.5 MiB and 2.5 MiB cost at most their block: one huge page, and 2.5 MiB.
        MPIRuntime.releaseCachedStorage()
        for (bytes, most) in [((2 << 20) + 1, (2 << 20) + (4 << 10)), (3 << 19, 2 << 20), (5 << 19, 5 << 19)] {
            let before = residentBytes()
            let x = ShapedArray(repeating: UInt8(7), shape: [bytes])  // every page touched
            let grown = residentBytes() - before
            checkBlock(x, "\(bytes) bytes")
            XCTAssertEqual(x[flat: bytes - 1], 7)
            XCTAssertGreaterThanOrEqual(grown, bytes - (64 << 10), "\(bytes) bytes touched, resident grew by \(grown)")
            XCTAssertLessThanOrEqual(grown, most + (256 << 10), "\(bytes) bytes touched, resident grew by \(grown)")
        }
        MPIRuntime.releaseCachedStorage()
        #else
        throw XCTSkip("resident memory is read from /proc")
        #endif
    }

    // MARK: Value semantics of blocks

    func testBlocksAreCopiedOnWrite() {
        let a = ShapedArray(repeating: 1.0, shape: [blockCount])
        var b = a
        b[flat: 0] = 5
        XCTAssertEqual(a[flat: 0], 1, "writing a copy leaves the original unchanged")
        XCTAssertEqual(b[flat: 0], 5)
        checkBlock(b, "copy of a block")
        let address = b.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
        b.withUnsafeMutableBufferPointer { $0[1] = 6 }
        XCTAssertEqual(b.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }, address,
                       "a uniquely held block is written in place")
        XCTAssertEqual(a[flat: 1], 1)
        XCTAssertEqual(b[flat: 1], 6)
    }

    func testScalarsEqualityAndHashingAgreeAcrossStorages() {
        let n = blockCount
        let block = ShapedArray<Double>(shape: [2, n / 2], unsafeUninitializedCapacityInitializingWith: { buffer in
            for i in buffer.indices { buffer[i] = Double(i % 97) }
        })
        let array = ShapedArray(shape: [2, n / 2], scalars: (0..<n).map { Double($0 % 97) })
        XCTAssertNotNil(block._storage.block)
        XCTAssertNil(array._storage.block)
        XCTAssertEqual(block.scalars, array.scalars)
        XCTAssertEqual(block, array)
        XCTAssertEqual(block.hashValue, array.hashValue)
        XCTAssertNotEqual(block, array.reshaped(to: [n]))

        var replaced = block
        replaced.scalars = [Double](repeating: 3, count: n)
        XCTAssertEqual(replaced[1, 0], 3)
        XCTAssertEqual(block[1, 0], Double((n / 2) % 97), "setting scalars on a copy leaves the original")
        XCTAssertEqual(block.reshaped(to: [n / 2, 2])[0, 1], 1, "reshaping keeps the elements")
    }

    /// A reference type that counts how many instances are alive.
    private final class Tracked {
        nonisolated(unsafe) static var alive = 0
        init() { Tracked.alive += 1 }
        deinit { Tracked.alive -= 1 }
    }

    func testBlocksOfReferencesReleaseTheirElements() {
        let count = (1 << 20) / MemoryLayout<Tracked>.stride
        do {
            let tracked = Tracked()
            var x = ShapedArray(repeating: tracked, shape: [count])
            XCTAssertNotNil(x._storage.block)
            XCTAssertTrue(x[flat: count - 1] === tracked)
            x[flat: 0] = Tracked()
            XCTAssertEqual(Tracked.alive, 2)
        }
        XCTAssertEqual(Tracked.alive, 0, "a freed block releases the references it holds")
    }

    func testAThrowingInitializerLeavesNothingBehind() {
        struct Stop: Error {}
        XCTAssertThrowsError(try ShapedArray<Double>(shape: [blockCount]) { (_: UnsafeMutableBufferPointer<Double>) throws(Stop) in
            throw Stop()
        })
    }
}
