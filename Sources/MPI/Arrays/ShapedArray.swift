#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

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
/// first. Arrays the library allocates (results, ``init(repeating:shape:)``,
/// ``init(shape:unsafeUninitializedCapacityInitializingWith:)``) of 4 KiB and
/// more live in page-aligned blocks that are recycled when freed; from 1 MiB
/// the blocks are 2 MiB-aligned and advised for transparent huge pages, which
/// makes shared-memory transfers between ranks faster. Smaller arrays, and
/// arrays made from a Swift array, use that array's storage.
public struct ShapedArray<Scalar> {
    @usableFromInline var _shape: [Int]
    @usableFromInline var _storage: ScalarStorage<Scalar>

    /// The extent of each dimension, outermost first. Empty for a 0-d array.
    @inlinable public var shape: [Int] { _shape }

    /// The elements in row-major order.
    ///
    /// For an array made from a Swift array, and for any array under 4 KiB, this
    /// returns the storage itself without copying. Arrays of 4 KiB and more that
    /// the library allocated (results of the primitives, ``init(repeating:shape:)``
    /// and ``init(shape:unsafeUninitializedCapacityInitializingWith:)``) live in
    /// library blocks, and reading this property copies them into a new Swift
    /// array; use ``subscript(flat:)``, ``withUnsafeBufferPointer(_:)`` or an
    /// `into:` variant to avoid the copy.
    ///
    /// Setting it requires the same number of elements as the shape has.
    @inlinable public var scalars: [Scalar] {
        get { _storage.asArray }
        set {
            precondition(newValue.count == _storage.count,
                         "ShapedArray.scalars: expected \(_storage.count) elements for shape \(_shape), got \(newValue.count)")
            _storage = ScalarStorage(newValue)
        }
    }

    /// The elements as a Swift array (a copy for block storage); see ``scalars``.
    @inlinable var _scalars: [Scalar] { _storage.asArray }

    /// The number of elements: the product of ``shape`` (1 for a 0-d array).
    @inlinable public var scalarCount: Int { _storage.count }

    /// The number of dimensions (0 for a scalar).
    @inlinable public var dimensionCount: Int { _shape.count }

    /// Creates an array with the given shape and elements in row-major order.
    ///
    /// The array shares `scalars`' storage; nothing is copied.
    ///
    /// - Precondition: every extent is non-negative and `scalars.count` is the
    ///   product of `shape` (1 when `shape` is empty).
    @inlinable
    public init(shape: [Int], scalars: [Scalar]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "ShapedArray: negative extent in shape \(shape)")
        precondition(shapeProduct(shape) == scalars.count,
                     "ShapedArray: shape \(shape) needs \(shapeProduct(shape)) elements, got \(scalars.count)")
        _shape = shape
        _storage = ScalarStorage(scalars)
    }

    /// Creates a 0-d array (shape `[]`) holding one scalar.
    @inlinable
    public init(scalar: Scalar) {
        _shape = []
        _storage = ScalarStorage([scalar])
    }

    /// Creates a 1-d array of the given elements, sharing their storage.
    @inlinable
    public init(_ scalars: [Scalar]) {
        _shape = [scalars.count]
        _storage = ScalarStorage(scalars)
    }

    /// Creates an array of the given shape with every element equal to `repeatedValue`.
    ///
    /// From 4 KiB, the storage is a page-aligned library block, and from 1 MiB a
    /// 2 MiB-aligned one advised for transparent huge pages, like the primitives' results.
    @inlinable
    public init(repeating repeatedValue: Scalar, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "ShapedArray: negative extent in shape \(shape)")
        _shape = shape
        _storage = ScalarStorage.repeating(repeatedValue, count: shapeProduct(shape))
    }

    /// Creates an array of the given shape whose storage is written by `initializer`
    /// without being zero-filled first.
    ///
    /// `initializer` must initialise every element of the buffer it is given.
    /// From 4 KiB, the storage is a page-aligned library block, and from 1 MiB a
    /// 2 MiB-aligned one advised for transparent huge pages, like the primitives' results.
    @inlinable
    public init<E: Error>(
        shape: [Int],
        unsafeUninitializedCapacityInitializingWith initializer: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> Void
    ) throws(E) {
        precondition(shape.allSatisfy { $0 >= 0 }, "ShapedArray: negative extent in shape \(shape)")
        _shape = shape
        if _isPOD(Scalar.self) {
            _storage = try ScalarStorage.uninitialized(count: shapeProduct(shape), initializer)
        } else {
            _storage = ScalarStorage(try makeArrayOfReferences(count: shapeProduct(shape), initializer))
        }
    }

    @inlinable
    init(_uncheckedShape shape: [Int], scalars: [Scalar]) {
        _shape = shape
        _storage = ScalarStorage(scalars)
    }

    @inlinable
    init(_uncheckedShape shape: [Int], storage: ScalarStorage<Scalar>) {
        _shape = shape
        _storage = storage
    }

    /// The element at a row-major (flat) index.
    @inlinable
    public subscript(flat index: Int) -> Scalar {
        get { _storage[index] }
        set { _storage[index] = newValue }
    }

    /// The element at a multi-dimensional index, one entry per dimension.
    @inlinable
    public subscript(index: Int...) -> Scalar {
        get { _storage[flatIndex(index)] }
        set { _storage[flatIndex(index)] = newValue }
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
    @inlinable public var scalar: Scalar? { _storage.count == 1 ? _storage[0] : nil }

    /// The same elements with a different shape of the same element count.
    ///
    /// The result shares this array's storage; nothing is copied.
    @inlinable
    public func reshaped(to newShape: [Int]) -> ShapedArray {
        precondition(newShape.allSatisfy { $0 >= 0 }, "ShapedArray: negative extent in shape \(newShape)")
        precondition(shapeProduct(newShape) == _storage.count,
                     "ShapedArray: shape \(newShape) needs \(shapeProduct(newShape)) elements, got \(_storage.count)")
        return ShapedArray(_uncheckedShape: newShape, storage: _storage)
    }

    /// Calls `body` with a pointer to the contiguous row-major storage.
    @inlinable
    public func withUnsafeBufferPointer<R, E: Error>(
        _ body: (UnsafeBufferPointer<Scalar>) throws(E) -> R
    ) throws(E) -> R {
        try _storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the contiguous row-major storage.
    ///
    /// Storage shared with another array is copied first (copy on write).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (inout UnsafeMutableBufferPointer<Scalar>) throws(E) -> R
    ) throws(E) -> R {
        try _storage.withUnsafeMutableBufferPointer { (buffer) throws(E) -> R in
            var view = buffer
            defer {
                precondition(view.baseAddress == buffer.baseAddress && view.count == buffer.count,
                             "ShapedArray: the buffer must not be replaced")
            }
            return try body(&view)
        }
    }
}

extension ShapedArray: Equatable where Scalar: Equatable {
    /// Arrays are equal when they have the same shape and the same elements.
    @inlinable
    public static func == (lhs: ShapedArray, rhs: ShapedArray) -> Bool {
        lhs._shape == rhs._shape && lhs._storage.withUnsafeBufferPointer { a in
            rhs._storage.withUnsafeBufferPointer { b in a.elementsEqual(b) }
        }
    }
}

extension ShapedArray: Hashable where Scalar: Hashable {
    /// Hashes the shape and the elements.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(_shape)
        // The same as hashing the elements as an Array, whichever storage holds them.
        _storage.withUnsafeBufferPointer { elements in
            hasher.combine(elements.count)
            for element in elements { hasher.combine(element) }
        }
    }
}

extension ShapedArray: Sendable where Scalar: Sendable {}

extension ShapedArray: CustomStringConvertible {
    /// Nested brackets in row-major order, like NumPy: `[[1.0, 2.0], [3.0, 4.0]]`;
    /// a 0-d array prints as its scalar.
    public var description: String {
        if _shape.isEmpty { return _storage.count > 0 ? "\(_storage[0])" : "[]" }
        var text = ""
        func emit(_ dim: Int, _ offset: Int) -> Int {
            text += "["
            var offset = offset
            for i in 0..<_shape[dim] {
                if i > 0 { text += ", " }
                if dim == _shape.count - 1 {
                    text += "\(_storage[offset])"
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



/// `[extent] + shape`: the result shape of allgather and gather.
///
/// A loop that gathers arrays of one shape gets the same result shape on
/// every call, so the last one is remembered and shared (arrays are values):
/// this saves allocating and freeing a shape array per call, about 500
/// instructions, for about 40 spent on the lock and the comparison.
@usableFromInline
func prepending(_ extent: Int, to shape: [Int]) -> [Int] {
    let cached: [Int]? = lastPrependedShape.withLock { last in
        last.extent == extent && last.shape == shape ? last.result : nil
    }
    if let cached { return cached }
    let result = makeUninitializedArray(count: shape.count + 1) { (buffer: UnsafeMutableBufferPointer<Int>) in
        buffer[0] = extent
        for (i, extent) in shape.enumerated() { buffer[i + 1] = extent }
    }
    lastPrependedShape.withLock { $0 = (extent, shape, result) }
    return result
}

/// The last shape ``prepending(_:to:)`` built: its arguments and its result.
let lastPrependedShape = Mutex<(extent: Int, shape: [Int], result: [Int])>((-1, [], []))

/// `shape` without its first extent: the result shape of scatter on the root.
///
/// Remembered like ``prepending(_:to:)``'s.
@usableFromInline
func droppingFirst(_ shape: [Int]) -> [Int] {
    let cached: [Int]? = lastDroppedShape.withLock { last in last.shape == shape ? last.result : nil }
    if let cached { return cached }
    let result = Array(shape.dropFirst())
    lastDroppedShape.withLock { $0 = (shape, result) }
    return result
}

/// The last shape ``droppingFirst(_:)`` built: its argument and its result.
let lastDroppedShape = Mutex<(shape: [Int], result: [Int])>(([], []))
