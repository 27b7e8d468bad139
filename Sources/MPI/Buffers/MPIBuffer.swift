// The buffers that operations read from and write to.
//
// Every operation's core works on `MPIBuffer`s: the caller's `ShapedArray` or
// `Array` (the `into:` forms), one scalar held on the stack (`SingleScalar`, the
// scalar forms), or the uninitialised storage of a new result (`ResultBuffer`,
// the result-returning forms). The buffer closures use typed throws, so the raw
// layer's errors pass through them unchanged.

/// Contiguous storage of MPI scalars that operations read from and write to:
/// ``ShapedArray`` and `Array`.
///
/// MPI reads and writes the storage directly; nothing is staged or copied.
public protocol MPIBuffer {
    /// The element type.
    associatedtype Scalar: MPIScalar
    /// The number of elements.
    var scalarCount: Int { get }
    /// Calls `body` with the address of the first element (or `nil` when empty).
    func withUnsafeMPIBuffer<R, E: Error>(_ body: (UnsafeRawPointer?) throws(E) -> R) throws(E) -> R
    /// Calls `body` with the mutable address of the first element (or `nil` when empty).
    mutating func withUnsafeMutableMPIBuffer<R, E: Error>(
        _ body: (UnsafeMutableRawPointer?) throws(E) -> R
    ) throws(E) -> R
}

extension Array: MPIBuffer where Element: MPIScalar {
    /// The array's element type.
    public typealias Scalar = Element
    /// The number of elements (`count`).
    @inlinable public var scalarCount: Int { count }
    /// Calls `body` with the address of the array's storage.
    @inlinable
    public func withUnsafeMPIBuffer<R, E: Error>(_ body: (UnsafeRawPointer?) throws(E) -> R) throws(E) -> R {
        try withUnsafeBufferPointer { (buffer) throws(E) -> R in try body(UnsafeRawPointer(buffer.baseAddress)) }
    }
    /// Calls `body` with the mutable address of the array's storage.
    @inlinable
    public mutating func withUnsafeMutableMPIBuffer<R, E: Error>(
        _ body: (UnsafeMutableRawPointer?) throws(E) -> R
    ) throws(E) -> R {
        try withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<Element>) throws(E) -> R in
            try body(UnsafeMutableRawPointer(buffer.baseAddress))
        }
    }
}

extension ShapedArray: MPIBuffer where Scalar: MPIScalar {
    /// Calls `body` with the address of the array's storage.
    @inlinable
    public func withUnsafeMPIBuffer<R, E: Error>(_ body: (UnsafeRawPointer?) throws(E) -> R) throws(E) -> R {
        try _storage.withUnsafeBufferPointer { (buffer) throws(E) -> R in try body(UnsafeRawPointer(buffer.baseAddress)) }
    }
    /// Calls `body` with the mutable address of the array's storage.
    @inlinable
    public mutating func withUnsafeMutableMPIBuffer<R, E: Error>(
        _ body: (UnsafeMutableRawPointer?) throws(E) -> R
    ) throws(E) -> R {
        try _storage.withUnsafeMutableBufferPointer { (buffer) throws(E) -> R in
            try body(UnsafeMutableRawPointer(buffer.baseAddress))
        }
    }
}

/// An ``MPIBuffer`` that a ``Request`` can hold while MPI reads or writes it: ``ShapedArray`` and `Array`.
///
/// The non-blocking `into:` forms, such as ``iallreduce(_:into:op:comm:)``, take
/// their output (and keep their input) as values of such a type for as long as
/// the operation is in flight. A conforming type owns its storage, and its
/// storage stays at the address that ``MPIBuffer/withUnsafeMutableMPIBuffer(_:)``
/// gave while the value is only moved and not mutated: true of `ShapedArray`
/// and `Array`, whose storage is a reference-counted heap buffer that copy on
/// write uniquifies before the address is taken. Do not conform a type whose
/// storage is borrowed (an unsafe pointer) or moves.
public protocol RequestBuffer: MPIBuffer {
    /// The object that owns the elements, which a request keeps alive (and so copied on write) while MPI
    /// reads them.
    ///
    /// One reference, so that a started operation retains and releases its input once. The default
    /// keeps a copy of the whole value in a box (one allocation per operation).
    var _requestStorageOwner: AnyObject { get }
}

extension RequestBuffer {
    /// A copy of the value, boxed: the default `RequestBuffer._requestStorageOwner`.
    @inlinable
    public var _requestStorageOwner: AnyObject { KeptValue(self) }
}

/// A copy of a ``RequestBuffer`` value, kept alive by a request (the default storage owner).
@usableFromInline
final class KeptValue<Value> {
    @usableFromInline let value: Value

    @inlinable init(_ value: Value) { self.value = value }
}

extension Array: RequestBuffer where Element: MPIScalar {
    /// The array's storage object: an `Array` is one reference to it where there is no Objective-C
    /// bridging (elsewhere, a boxed copy of the array).
    @inlinable
    public var _requestStorageOwner: AnyObject {
        #if _runtime(_ObjC)
        KeptValue(self)
        #else
        unsafeBitCast(self, to: AnyObject.self)
        #endif
    }
}

extension ShapedArray: RequestBuffer where Scalar: MPIScalar {
    /// The block that holds the elements, or the storage object of the array that does.
    @inlinable
    public var _requestStorageOwner: AnyObject { _storage.block ?? _storage.array._requestStorageOwner }
}

/// One scalar, as the input or the result of a primitive's scalar form, held without allocating.
@usableFromInline
struct SingleScalar<Scalar: MPIScalar>: MPIBuffer, UninitializedResult {
    @usableFromInline var value: Scalar

    @inlinable init(_ value: Scalar) { self.value = value }

    @inlinable var scalarCount: Int { 1 }

    @inlinable
    func withUnsafeMPIBuffer<R, E: Error>(_ body: (UnsafeRawPointer?) throws(E) -> R) throws(E) -> R {
        try withUnsafeBytes(of: value) { (bytes) throws(E) -> R in try body(bytes.baseAddress) }
    }

    @inlinable
    mutating func withUnsafeMutableMPIBuffer<R, E: Error>(
        _ body: (UnsafeMutableRawPointer?) throws(E) -> R
    ) throws(E) -> R {
        try withUnsafeMutableBytes(of: &value) { (bytes) throws(E) -> R in try body(bytes.baseAddress) }
    }

    @inlinable
    static func uninitialized<E: Error>(
        count: Int, _ initializer: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> Void
    ) throws(E) -> SingleScalar {
        precondition(count == 1, "swift-mpi: a scalar result of \(count) elements")
        var failure: E?
        let value: Scalar? = withUnsafeTemporaryAllocation(of: Scalar.self, capacity: 1) { buffer in
            do throws(E) {
                try initializer(buffer)
                return buffer[0]
            } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        return SingleScalar(value.unsafelyUnwrapped)
    }
}

/// Storage that a result-returning form allocates without initialising it, for its operation's core to fill.
@usableFromInline
protocol UninitializedResult {
    associatedtype Element
    /// Storage of `count` elements, all of which `initializer` writes.
    static func uninitialized<E: Error>(
        count: Int, _ initializer: (UnsafeMutableBufferPointer<Element>) throws(E) -> Void
    ) throws(E) -> Self
}

extension Array: UninitializedResult {
    @inlinable
    static func uninitialized<E: Error>(
        count: Int, _ initializer: (UnsafeMutableBufferPointer<Element>) throws(E) -> Void
    ) throws(E) -> [Element] {
        try makeUninitializedArray(count: count, initializer)
    }
}

extension ScalarStorage: UninitializedResult {}

/// The uninitialised storage of a new result, as the output of an operation's core.
@usableFromInline
struct ResultBuffer<Scalar: MPIScalar>: MPIBuffer {
    @usableFromInline let buffer: UnsafeMutableBufferPointer<Scalar>

    @inlinable init(_ buffer: UnsafeMutableBufferPointer<Scalar>) { self.buffer = buffer }

    /// No storage: the output of a rank that receives nothing (a non-root rank of gather or reduce).
    @inlinable static var none: ResultBuffer { ResultBuffer(UnsafeMutableBufferPointer(start: nil, count: 0)) }

    @inlinable var scalarCount: Int { buffer.count }

    @inlinable
    func withUnsafeMPIBuffer<R, E: Error>(_ body: (UnsafeRawPointer?) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawPointer(buffer.baseAddress))
    }

    @inlinable
    mutating func withUnsafeMutableMPIBuffer<R, E: Error>(
        _ body: (UnsafeMutableRawPointer?) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableRawPointer(buffer.baseAddress))
    }
}

extension UninitializedResult where Element: MPIScalar {
    /// A new result of `count` elements that `core` writes through its output.
    @inlinable
    static func filled(
        count: Int, by core: (inout ResultBuffer<Element>) throws(MPIError) -> Void
    ) throws(MPIError) -> Self {
        try uninitialized(count: count) { (buffer) throws(MPIError) in
            var output = ResultBuffer(buffer)
            try core(&output)
        }
    }
}

/// Runs `body` with the input's address and the output's mutable address.
@inlinable @inline(__always)
func withBuffers<Input: MPIBuffer, Output: MPIBuffer, R>(
    _ input: Input, _ output: inout Output,
    _ body: (UnsafeRawPointer?, UnsafeMutableRawPointer?) throws(MPIError) -> R
) throws(MPIError) -> R {
    try input.withUnsafeMPIBuffer { (source) throws(MPIError) -> R in
        try output.withUnsafeMutableMPIBuffer { (destination) throws(MPIError) -> R in try body(source, destination) }
    }
}

/// Runs `body` with the output's address when it holds `expected` elements.
///
/// Otherwise only this rank can know that its output is wrong, while the other
/// ranks are already in the collective: `body` runs on scratch storage of
/// `expected` elements, so that the collective completes everywhere and leaves
/// no unmatched message, and then the shape mismatch is thrown on this rank.
///
/// A started operation (`pending`, a non-blocking `into:` form) cannot throw
/// after it started: its scratch storage is owned by the operation, and the
/// request completes with the same error.
@inlinable @inline(__always)
func withOutput<Output: MPIBuffer>(
    _ output: inout Output, expected: Int, _ what: @autoclosure () -> String, _ operation: MPIOperation,
    pending: PendingOperation? = nil, _ body: (UnsafeMutableRawPointer?) throws(MPIError) -> Void
) throws(MPIError) {
    if _fastPath(output.scalarCount == expected) {
        try output.withUnsafeMutableMPIBuffer(body)
        return
    }
    try completeWrongSizedOutput(
        expected: expected, actual: output.scalarCount, byteCount: expected * MemoryLayout<Output.Scalar>.stride,
        what(), operation, pending: pending, body)
}

/// ``withOutput(_:expected:_:_:pending:_:)`` for an output of the wrong size (out of line: an error path).
@usableFromInline @inline(never)
func completeWrongSizedOutput(
    expected: Int, actual: Int, byteCount: Int, _ what: String, _ operation: MPIOperation,
    pending: PendingOperation?, _ body: (UnsafeMutableRawPointer?) throws(MPIError) -> Void
) throws(MPIError) {
    let error = MPIError.shapeMismatch(
        operation: operation.name, argument: "output",
        expected: "\(counted(expected, "element")) (\(what))", actual: "\(counted(actual, "element"))")
    if let pending { return try pending.completeIntoScratch(byteCount: byteCount, then: error, body) }
    try completeIntoScratch(byteCount: byteCount, body)
    throw error
}

/// Runs `body` on scratch storage of `byteCount` bytes (an error path only).
@usableFromInline @inline(never)
func completeIntoScratch(
    byteCount: Int, _ body: (UnsafeMutableRawPointer?) throws(MPIError) -> Void
) throws(MPIError) {
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(1, byteCount), alignment: 64)
    defer { scratch.deallocate() }
    try body(scratch)
}
