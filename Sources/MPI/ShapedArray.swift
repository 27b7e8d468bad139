#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A multi-dimensional array with row-major, contiguous storage: what the primitives send and return.
///
/// `ShapedArray` is a value type. Copies share storage until one of them is
/// mutated (copy on write), so returning the input unchanged, as ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``
/// does on non-root ranks, costs nothing. A 0-d array (`shape == []`) holds one
/// scalar; an array with a zero in its shape holds none.
///
/// ```swift
/// let x = ShapedArray(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6] as [Double])
/// x.shape        // [2, 3]
/// x.scalars      // [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
/// x[flat: 4]     // 5.0, the element at row 1, column 1
/// ```
///
/// The storage is handed to MPI directly. The primitives write their results
/// straight into a new array's uninitialised storage, without zero-filling it
/// first; results of 1 MiB and more are advised to use transparent huge pages.
public struct ShapedArray<Scalar> {
    @usableFromInline var _shape: [Int]
    @usableFromInline var _scalars: [Scalar]

    /// The extent of each dimension, outermost first. Empty for a 0-d array.
    @inlinable public var shape: [Int] { _shape }

    /// The elements in row-major order.
    ///
    /// Setting it requires the same number of elements as the shape has.
    @inlinable public var scalars: [Scalar] {
        get { _scalars }
        set {
            precondition(newValue.count == _scalars.count,
                         "ShapedArray.scalars: expected \(_scalars.count) elements for shape \(_shape), got \(newValue.count)")
            _scalars = newValue
        }
    }

    /// The number of elements: the product of ``shape`` (1 for a 0-d array).
    @inlinable public var scalarCount: Int { _scalars.count }

    /// The number of dimensions (0 for a scalar).
    @inlinable public var dimensionCount: Int { _shape.count }

    /// Creates an array with the given shape and elements in row-major order.
    ///
    /// - Precondition: every extent is non-negative and `scalars.count` is the
    ///   product of `shape` (1 when `shape` is empty).
    @inlinable
    public init(shape: [Int], scalars: [Scalar]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "ShapedArray: negative extent in shape \(shape)")
        precondition(shapeProduct(shape) == scalars.count,
                     "ShapedArray: shape \(shape) needs \(shapeProduct(shape)) elements, got \(scalars.count)")
        _shape = shape
        _scalars = scalars
    }

    /// Creates a 0-d array (shape `[]`) holding one scalar.
    @inlinable
    public init(scalar: Scalar) {
        _shape = []
        _scalars = [scalar]
    }

    /// Creates a 1-d array of the given elements.
    @inlinable
    public init(_ scalars: [Scalar]) {
        _shape = [scalars.count]
        _scalars = scalars
    }

    /// Creates an array of the given shape with every element equal to `repeatedValue`.
    @inlinable
    public init(repeating repeatedValue: Scalar, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "ShapedArray: negative extent in shape \(shape)")
        _shape = shape
        _scalars = Array(repeating: repeatedValue, count: shapeProduct(shape))
    }

    /// Creates an array of the given shape whose storage is written by `initializer`
    /// without being zero-filled first.
    ///
    /// `initializer` must initialise every element of the buffer it is given.
    /// Storage of 1 MiB and more is advised to use transparent huge pages.
    @inlinable
    public init<E: Error>(
        shape: [Int],
        unsafeUninitializedCapacityInitializingWith initializer: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> Void
    ) throws(E) {
        let count = shapeProduct(shape)
        _shape = shape
        _scalars = try makeUninitializedArray(count: count, initializer)
    }

    @inlinable
    init(_uncheckedShape shape: [Int], scalars: [Scalar]) {
        _shape = shape
        _scalars = scalars
    }

    /// The element at a row-major (flat) index.
    @inlinable
    public subscript(flat index: Int) -> Scalar {
        get { _scalars[index] }
        set { _scalars[index] = newValue }
    }

    /// The element at a multi-dimensional index, one entry per dimension.
    @inlinable
    public subscript(index: Int...) -> Scalar {
        get { _scalars[flatIndex(index)] }
        set { _scalars[flatIndex(index)] = newValue }
    }

    @inlinable
    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == _shape.count,
                     "ShapedArray: index \(index) has \(index.count) entries for shape \(_shape)")
        var flat = 0
        for (i, extent) in zip(index, _shape) {
            precondition(i >= 0 && i < extent, "ShapedArray: index \(index) out of range for shape \(_shape)")
            flat = flat * extent + i
        }
        return flat
    }

    /// The element of a 0-d or one-element array, otherwise `nil`.
    @inlinable public var scalar: Scalar? { _scalars.count == 1 ? _scalars[0] : nil }

    /// The same elements with a different shape of the same element count.
    @inlinable
    public func reshaped(to newShape: [Int]) -> ShapedArray {
        ShapedArray(shape: newShape, scalars: _scalars)
    }

    /// Calls `body` with a pointer to the contiguous row-major storage.
    @inlinable
    public func withUnsafeBufferPointer<R, E: Error>(
        _ body: (UnsafeBufferPointer<Scalar>) throws(E) -> R
    ) throws(E) -> R {
        // Array.withUnsafeBufferPointer rethrows untyped errors; keep the type.
        var result: Result<R, E>!
        _scalars.withUnsafeBufferPointer { buffer in
            do throws(E) { result = .success(try body(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Calls `body` with a mutable pointer to the contiguous row-major storage.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (inout UnsafeMutableBufferPointer<Scalar>) throws(E) -> R
    ) throws(E) -> R {
        var result: Result<R, E>!
        _scalars.withUnsafeMutableBufferPointer { buffer in
            let base = buffer
            var view = buffer
            do throws(E) { result = .success(try body(&view)) } catch { result = .failure(error) }
            precondition(view.baseAddress == base.baseAddress && view.count == base.count,
                         "ShapedArray: the buffer must not be replaced")
        }
        return try result.get()
    }
}

extension ShapedArray: Equatable where Scalar: Equatable {
    /// Arrays are equal when they have the same shape and the same elements.
    @inlinable
    public static func == (lhs: ShapedArray, rhs: ShapedArray) -> Bool {
        lhs._shape == rhs._shape && lhs._scalars == rhs._scalars
    }
}

extension ShapedArray: Hashable where Scalar: Hashable {
    /// Hashes the shape and the elements.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(_shape)
        hasher.combine(_scalars)
    }
}

extension ShapedArray: Sendable where Scalar: Sendable {}

extension ShapedArray: CustomStringConvertible {
    /// Nested brackets in row-major order, like NumPy: `[[1.0, 2.0], [3.0, 4.0]]`;
    /// a 0-d array prints as its scalar.
    public var description: String {
        if _shape.isEmpty { return _scalars.first.map { "\($0)" } ?? "[]" }
        var text = ""
        func emit(_ dim: Int, _ offset: Int) -> Int {
            text += "["
            var offset = offset
            for i in 0..<_shape[dim] {
                if i > 0 { text += ", " }
                if dim == _shape.count - 1 {
                    text += "\(_scalars[offset])"
                    offset += 1
                } else {
                    offset = emit(dim + 1, offset)
                }
            }
            text += "]"
            return offset
        }
        _ = emit(0, 0)
        return text
    }
}

extension ShapedArray: CustomDebugStringConvertible {
    /// The type, shape and elements: `ShapedArray<Double>(shape: [2], [1.0, 2.0])`.
    public var debugDescription: String {
        "ShapedArray<\(Scalar.self)>(shape: \(_shape), \(description))"
    }
}

/// The number of elements of a shape (1 for the empty shape).
@inlinable
func shapeProduct(_ shape: [Int]) -> Int {
    var n = 1
    for extent in shape { n *= extent }
    return n
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
/// that are claimed but not yet written hold no references.
///
/// For 1 MiB and more, the 2 MiB-aligned interior of the allocation is advised
/// with `madvise(MADV_HUGEPAGE)` before it is first touched, as NumPy does for
/// its large buffers: with the kernel's THP mode `madvise`, shared-memory copies
/// between ranks then run on huge pages, which makes large messages faster.
@inlinable
func makeUninitializedArray<Scalar, E: Error>(
    count: Int, _ initializer: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> Void
) throws(E) -> [Scalar] {
    var array = [Scalar]()
    array.append(contentsOf: UninitializedElements<Scalar>(count: count))
    var failure: E?
    array.withUnsafeMutableBufferPointer { buffer in
        // From 1 MiB, advise transparent huge pages.
        if count * MemoryLayout<Scalar>.stride >= 1 << 20, let base = buffer.baseAddress {
            adviseHugePages(UnsafeMutableRawPointer(base), byteCount: count * MemoryLayout<Scalar>.stride)
        }
        do throws(E) { try initializer(buffer) } catch { failure = error }
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

/// Advises the kernel to back the 2 MiB-aligned interior of a buffer with huge pages.
@usableFromInline
func adviseHugePages(_ base: UnsafeMutableRawPointer, byteCount: Int) {
    #if os(Linux)
    let hugePage = 2 << 20
    let start = (Int(bitPattern: base) + hugePage - 1) & ~(hugePage - 1)
    let end = (Int(bitPattern: base) + byteCount) & ~(hugePage - 1)
    if end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) {
        _ = madvise(pointer, end - start, 14 /* MADV_HUGEPAGE */)
    }
    #endif
}
