#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

// Where a ShapedArray's elements live.
//
// Small arrays (under 4 KiB), and arrays made from a caller's `[Scalar]`, keep
// Swift Array storage, so wrapping an array and reading `.scalars` back never
// copy. Larger arrays that the library allocates (results, and
// `init(repeating:shape:)`) live in blocks (StorageBlocks) of whole 4 KiB pages,
// page-aligned (Swift array elements start 32 bytes into a malloc block, which
// made copies of 4 KiB to 256 KiB messages measurably slower). From 1 MiB, a
// block is mapped 2 MiB-aligned and advised with `madvise(MADV_HUGEPAGE)` before
// first touch, so that its whole 2 MiB pages are huge pages and shared-memory
// copies between ranks run on them (up to 2x faster here); its last, partial
// 2 MiB page is rounded up to a whole huge page when it is at least half used
// (1 MiB to 2 MiB arrays, 3 MiB, ...), and otherwise left in 4 KiB pages
// (2 MiB + 1 byte: one huge page and one 4 KiB page), so that the padding never
// exceeds what it speeds up. Freed blocks are recycled through a small cache, so
// a loop that drops each result before the next call reuses the same, already
// faulted-in memory, instead of mapping and page-faulting fresh memory on every
// call (which is what glibc does for blocks above its 32 MiB mmap threshold).

extension MPIRuntime {
    /// The bytes of freed array storage the library keeps for reuse.
    ///
    /// Result arrays of 4 KiB and more live in library blocks that are
    /// recycled when freed, up to 256 MiB and 64 blocks per process by default.
    /// Set `SWIFT_MPI_BLOCK_CACHE_MB` in the environment to change the limit
    /// (in MiB; `0` turns recycling off), and call ``releaseCachedStorage()``
    /// to give the memory back now.
    public static var cachedStorageBytes: Int { StorageBlocks.shared.cachedBytes }

    /// Frees the array storage the library keeps for reuse, and returns how many bytes that was.
    ///
    /// Arrays still in use are not affected. Safe to call from any thread.
    @discardableResult
    public static func releaseCachedStorage() -> Int { StorageBlocks.shared.trim() }
}

/// The elements of a ``ShapedArray``: a Swift array, or a library-allocated block.
///
/// Exactly one of the two holds the elements: when `block` is non-nil, `array` is empty.
@usableFromInline
struct ScalarStorage<Scalar> {
    @usableFromInline var array: [Scalar]
    @usableFromInline var block: ScalarBlock<Scalar>?

    @inlinable init(_ array: [Scalar]) {
        self.array = array
        self.block = nil
    }

    @inlinable init(block: ScalarBlock<Scalar>) {
        self.array = []
        self.block = block
    }

    /// The number of elements.
    @inlinable var count: Int {
        if let block { return block.count }
        return array.count
    }

    /// The elements as a Swift array: free for array storage, a copy for a block.
    @inlinable var asArray: [Scalar] {
        guard let block else { return array }
        return withExtendedLifetime(block) { Array(UnsafeBufferPointer(start: block.base, count: block.count)) }
    }

    /// Storage of `count` elements that `initializer` writes without their being zero-filled first.
    ///
    /// `initializer` must initialise every element. From ``ScalarBlock/threshold``
    /// bytes the storage is a block (see ``StorageBlocks``), below it a Swift array.
    @inlinable
    static func uninitialized<E: Error>(
        count: Int, _ initializer: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> Void
    ) throws(E) -> ScalarStorage {
        if count >= ScalarBlock<Scalar>.thresholdCount, let block = ScalarBlock<Scalar>.allocate(count: count) {
            try initializer(UnsafeMutableBufferPointer(start: block.base, count: count))
            block.initializedCount = count
            return ScalarStorage(block: block)
        }
        return ScalarStorage(try makeUninitializedArray(count: count, initializer))
    }

    /// Storage of `count` copies of `value`.
    @inlinable
    static func repeating(_ value: Scalar, count: Int) -> ScalarStorage {
        if count >= ScalarBlock<Scalar>.thresholdCount, let block = ScalarBlock<Scalar>.allocate(count: count) {
            block.base.initialize(repeating: value, count: count)
            block.initializedCount = count
            return ScalarStorage(block: block)
        }
        return ScalarStorage(Array(repeating: value, count: count))
    }

    @inlinable
    subscript(index: Int) -> Scalar {
        get {
            if let block {
                precondition(index >= 0 && index < block.count, "ShapedArray: index \(index) out of range 0..<\(block.count)")
                return withExtendedLifetime(block) { block.base[index] }
            }
            return array[index]
        }
        set {
            if block != nil { makeBlockUnique() }  // may fall back to an array if no memory can be mapped
            if let block {
                precondition(index >= 0 && index < block.count, "ShapedArray: index \(index) out of range 0..<\(block.count)")
                block.base[index] = newValue
            } else {
                array[index] = newValue
            }
        }
    }

    /// Copies a shared block before it is written (copy on write).
    @inlinable
    mutating func makeBlockUnique() {
        if !isKnownUniquelyReferenced(&block) {
            let old = block.unsafelyUnwrapped
            self = withExtendedLifetime(old) {
                ScalarStorage.uninitialized(count: old.count) { destination in
                    _ = destination.initialize(from: UnsafeBufferPointer(start: old.base, count: old.count))
                }
            }
        }
    }

    @inlinable
    func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Scalar>) throws(E) -> R) throws(E) -> R {
        if let block {
            return try withExtendedLifetime(block) { () throws(E) -> R in
                try body(UnsafeBufferPointer(start: block.base, count: block.count))
            }
        }
        return try array.withUnsafeBufferPointer(body)
    }

    @inlinable
    mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> R
    ) throws(E) -> R {
        if block != nil { makeBlockUnique() }  // may fall back to an array if no memory can be mapped
        if let block {
            return try withExtendedLifetime(block) { () throws(E) -> R in
                try body(UnsafeMutableBufferPointer(start: block.base, count: block.count))
            }
        }
        return try array.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<Scalar>) throws(E) -> R in
            try body(buffer)
        }
    }
}

/// A library-allocated block of elements: whole 4 KiB pages, page-aligned; from 1 MiB, 2 MiB-aligned and
/// advised for huge pages (see ``StorageBlocks/blockLength(byteCount:)``).
///
/// Freed blocks go back to ``StorageBlocks`` for reuse.
@usableFromInline
final class ScalarBlock<Scalar>: @unchecked Sendable {
    /// The smallest array, in bytes, that the library allocates as a block: 4 KiB.
    @inlinable static var threshold: Int { StorageBlocks.smallPage }

    /// ``threshold`` in elements.
    @inlinable static var thresholdCount: Int { threshold / Swift.max(1, MemoryLayout<Scalar>.stride) }

    @usableFromInline let base: UnsafeMutablePointer<Scalar>
    @usableFromInline let count: Int
    /// The block's length in bytes: whole pages.
    @usableFromInline let blockBytes: Int
    /// How many elements, from the start, hold initialised values (set once they all do).
    /// Written once, before the block is shared, so it needs no exclusivity check.
    @exclusivity(unchecked) @usableFromInline var initializedCount = 0

    @usableFromInline
    init(base: UnsafeMutablePointer<Scalar>, count: Int, blockBytes: Int) {
        self.base = base
        self.count = count
        self.blockBytes = blockBytes
    }

    /// A block of `count` uninitialised elements, or `nil` when the memory cannot be had.
    @inlinable
    static func allocate(count: Int) -> ScalarBlock? {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Scalar>.stride)
        guard !overflow, MemoryLayout<Scalar>.alignment <= StorageBlocks.smallPage,
              let (memory, blockBytes) = StorageBlocks.shared.take(byteCount: bytes)
        else { return nil }
        return ScalarBlock(base: memory.bindMemory(to: Scalar.self, capacity: count), count: count, blockBytes: blockBytes)
    }

    deinit {
        if !_isPOD(Scalar.self) { base.deinitialize(count: initializedCount) }
        StorageBlocks.shared.give(UnsafeMutableRawPointer(base), blockBytes: blockBytes)
    }
}

/// The process-wide source of array blocks, with a cache of freed ones.
///
/// Two kinds of block, told apart by their length (``blockLength(byteCount:)``):
/// - under 1 MiB: whole 4 KiB pages, page-aligned, from `posix_memalign`;
/// - from 1 MiB: 2 MiB-aligned, from `mmap`, advised with `madvise(MADV_HUGEPAGE)`
///   before first touch: whole 4 KiB pages, or whole 2 MiB pages when the array's
///   last 2 MiB page is at least half used.
///
/// A freed block is kept for reuse while the cache holds at most ``cacheLimit``
/// bytes and 64 blocks (256 MiB by default; the environment variable
/// `SWIFT_MPI_BLOCK_CACHE_MB` sets the limit in MiB, and `0` turns the cache
/// off). A block is reused only for a request of the same length; when the cache
/// is full, the oldest block is released. The cache is thread-safe.
@usableFromInline
final class StorageBlocks: Sendable {
    /// The page size that every block is a whole number of: 4 KiB.
    @usableFromInline static let smallPage = 4 << 10

    /// The huge-page size that blocks of 1 MiB and more are aligned to: 2 MiB.
    @usableFromInline static let hugePage = 2 << 20

    /// The most blocks the cache keeps.
    static let maximumCachedBlocks = 64

    @usableFromInline static let shared = StorageBlocks(
        cacheLimit: StorageBlocks.cacheLimit(megabytes: SwiftMPIEnvironment.integer(.blockCacheMegabytes, minimum: 0, default: 256)))

    /// The most bytes kept in the cache.
    let cacheLimit: Int

    private struct Cache {
        /// Free blocks, oldest first: address and length.
        var blocks: [(address: UInt, bytes: Int)] = []
        var bytes = 0
    }

    private let cache = Mutex(Cache())

    init(cacheLimit: Int) {
        self.cacheLimit = cacheLimit
    }

    /// The cache limit for a value of `SWIFT_MPI_BLOCK_CACHE_MB` (nil: the default, 256 MiB).
    static func cacheLimit(megabytes: Int) -> Int {
        megabytes.multipliedReportingOverflow(by: 1 << 20).overflow ? Int.max : megabytes << 20
    }

    /// Blocks of this length and more are mapped 2 MiB-aligned and advised for huge pages: 1 MiB.
    static let mappedFrom = 1 << 20

    /// The least use of a block's last 2 MiB page that rounds the block up to whole huge pages:
    /// half of it, 1 MiB.
    ///
    /// Rounding up then adds at most as much memory as it puts on huge pages: the padding is
    /// never more than the array's last, partial huge page. Copying huge pages costs 0.24 to
    /// 0.53 of copying 4 KiB pages here (`process_vm_readv`, Open MPI's single copy, measured
    /// in docs/performance.md), so a last page that is at least half used is worth its
    /// padding, and one that is less than half used is left in 4 KiB pages.
    static let minimumHugePageUse = hugePage / 2

    /// The length of the block that holds `byteCount` bytes; `nil` when that overflows.
    ///
    /// Whole 4 KiB pages, except that an array whose last 2 MiB page is at least half used
    /// (``minimumHugePageUse``) is rounded up to whole 2 MiB pages: from 1 MiB to 2 MiB, a
    /// block of one huge page; 2 MiB + 1 byte, 2 MiB and one 4 KiB page; 3 MiB, two huge pages.
    static func blockLength(byteCount: Int) -> Int? {
        guard byteCount >= 0, byteCount <= Int.max - hugePage else { return nil }
        let lastPageUse = byteCount & (hugePage - 1)
        if lastPageUse >= minimumHugePageUse { return (byteCount + hugePage - 1) & ~(hugePage - 1) }
        return Swift.max(smallPage, (byteCount + smallPage - 1) & ~(smallPage - 1))
    }

    /// A block of at least `byteCount` bytes, from the cache or newly allocated, and its
    /// length; `nil` when the memory cannot be had.
    @usableFromInline
    func take(byteCount: Int) -> (UnsafeMutableRawPointer, Int)? {
        guard let bytes = Self.blockLength(byteCount: byteCount) else { return nil }
        let reused: UInt? = cache.withLock { cache in
            guard let index = cache.blocks.lastIndex(where: { $0.bytes == bytes }) else { return nil }
            cache.bytes -= bytes
            return cache.blocks.remove(at: index).address
        }
        if let reused, let pointer = UnsafeMutableRawPointer(bitPattern: reused) { return (pointer, bytes) }
        return Self.allocate(bytes: bytes).map { ($0, bytes) }
    }

    /// Returns a block to the cache, or releases it when the cache has no room.
    @usableFromInline
    func give(_ pointer: UnsafeMutableRawPointer, blockBytes bytes: Int) {
        var release: [(address: UInt, bytes: Int)] = []
        let address = UInt(bitPattern: Int(bitPattern: pointer))
        cache.withLock { cache in
            guard bytes <= cacheLimit else {
                release.append((address, bytes))
                return
            }
            cache.blocks.append((address, bytes))
            cache.bytes += bytes
            while cache.bytes > cacheLimit || cache.blocks.count > Self.maximumCachedBlocks {
                let oldest = cache.blocks.removeFirst()
                cache.bytes -= oldest.bytes
                release.append(oldest)
            }
        }
        for block in release { Self.release(block.address, bytes: block.bytes) }
    }

    /// Releases every cached block; returns the number of bytes released.
    @discardableResult
    func trim() -> Int {
        let blocks = cache.withLock { cache in
            defer { cache.blocks = []; cache.bytes = 0 }
            return cache.blocks
        }
        for block in blocks { Self.release(block.address, bytes: block.bytes) }
        return blocks.reduce(0) { $0 + $1.bytes }
    }

    /// The number of bytes the cache holds now.
    var cachedBytes: Int { cache.withLock { $0.bytes } }

    /// A new block of `bytes`, a length from ``blockLength(byteCount:)``.
    private static func allocate(bytes: Int) -> UnsafeMutableRawPointer? {
        if bytes < mappedFrom {
            var memory: UnsafeMutableRawPointer?
            guard posix_memalign(&memory, smallPage, bytes) == 0 else { return nil }
            return memory
        }
        let page = hugePage
        // Over-allocate by one huge page, then unmap the unaligned head and the tail.
        let length = bytes + page
        guard let raw = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != UnsafeMutableRawPointer(bitPattern: -1) // MAP_FAILED
        else { return nil }
        let start = (Int(bitPattern: raw) + page - 1) & ~(page - 1)
        let head = start - Int(bitPattern: raw)
        if head > 0 { _ = munmap(raw, head) }
        let tail = length - head - bytes
        let aligned = UnsafeMutableRawPointer(bitPattern: start).unsafelyUnwrapped
        if tail > 0 { _ = munmap(aligned + bytes, tail) }
        #if os(Linux)
        _ = madvise(aligned, bytes, 14 /* MADV_HUGEPAGE */)
        #endif
        return aligned
    }

    /// Frees or unmaps a block made by ``allocate(bytes:)``.
    private static func release(_ address: UInt, bytes: Int) {
        let pointer = UnsafeMutableRawPointer(bitPattern: address)
        if bytes < mappedFrom { free(pointer) } else { _ = munmap(pointer, bytes) }
    }
}

/// An array of `count` elements whose storage `initializer` writes, without zero-filling.
///
/// The storage comes from `append(contentsOf:)` on an empty array with a
/// sequence that claims `count` elements without writing them
/// (``UninitializedElements``); `initializer` then writes them in place. That
/// path allocates through the standard library's specialised code, about 330
/// instructions cheaper per array than `Array(unsafeUninitializedCapacity:)`,
/// whose allocator runs unspecialised and looks up the storage class's
/// metadata at run time. Only trivial scalar types are used here, so elements
/// that are claimed but not yet written hold no references (other types take
/// ``makeArrayOfReferences(count:_:)``).
@inlinable
func makeUninitializedArray<Scalar, E: Error>(
    count: Int, _ initializer: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> Void
) throws(E) -> [Scalar] {
    var array = [Scalar]()
    array.append(contentsOf: UninitializedElements<Scalar>(count: count))
    var failure: E?
    array.withUnsafeMutableBufferPointer { buffer in
        do throws(E) { try initializer(buffer) } catch { failure = error }
    }
    if let failure { throw failure }
    return array
}

/// ``makeUninitializedArray(count:_:)`` for a type that is not trivial (a `ShapedArray<String>`, say,
/// made by ``ShapedArray/init(shape:unsafeUninitializedCapacityInitializingWith:)``):
/// `Array(unsafeUninitializedCapacity:)`, so that an initializer that throws leaves no unwritten
/// element to be destroyed. Not taken by the primitives' results (their types are trivial): asking
/// `_isPOD` inside their generic allocation cost 64 to 234 instructions per call.
@inlinable
func makeArrayOfReferences<Scalar, E: Error>(
    count: Int, _ initializer: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> Void
) throws(E) -> [Scalar] {
    var failure: E?
    let array = [Scalar](unsafeUninitializedCapacity: count) { buffer, initializedCount in
        do throws(E) {
            try initializer(buffer)
            initializedCount = count
        } catch {
            failure = error
            initializedCount = 0
        }
    }
    if let failure { throw failure }
    return array
}

/// A sequence of `count` elements of a trivial type that, when appended to an
/// array, leaves the appended storage unwritten for the caller to fill.
///
/// Used only by ``makeUninitializedArray(count:_:)``, which writes every
/// element before the array is visible to anyone.
@usableFromInline
struct UninitializedElements<Element>: Sequence {
    @usableFromInline let count: Int

    @inlinable init(count: Int) { self.count = count }

    /// Iteration yields nothing: the elements are claimed by `_copyContents`.
    @usableFromInline
    struct Iterator: IteratorProtocol {
        @inlinable init() {}
        @inlinable mutating func next() -> Element? { nil }
    }

    @inlinable func makeIterator() -> Iterator { Iterator() }

    @inlinable var underestimatedCount: Int { count }

    @inlinable
    func _copyContents(initializing buffer: UnsafeMutableBufferPointer<Element>) -> (Iterator, Int) {
        precondition(buffer.count >= count, "swift-mpi: array storage smaller than requested")
        return (Iterator(), count)
    }
}

extension ScalarStorage: Sendable where Scalar: Sendable {}
