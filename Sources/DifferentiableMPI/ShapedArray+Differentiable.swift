// ShapedArray as a differentiable value: its tangent vector, with a symbolic
// zero that has no shape, and the conformance to Differentiable for arrays of
// Float and Double. Pullbacks and differentials turn a zero tangent into zeros
// of the right shape (scalars(materializedFor:), materializedArray) before
// they use it.

import MPI
import _Differentiation

extension ShapedArray where Scalar: DifferentiableMPIScalar {
    /// The tangent vector (gradient, cotangent) of a ``MPI/ShapedArray``.
    ///
    /// A tangent vector is either *materialised*, with a shape and one scalar per
    /// element, or the *symbolic zero* ``zero``, which has no shape. Automatic
    /// differentiation creates symbolic zeros for values that do not influence
    /// the result, without knowing their shapes. The symbolic zero is the
    /// identity of `+` for every shape, and ``materialized(shape:)`` turns it
    /// into zeros of a given shape; every pullback in this package does that
    /// before it communicates, so that all ranks send messages of the same size.
    ///
    /// ```swift
    /// let x = ShapedArray(shape: [2], scalars: [3.0, 4.0])
    /// let g = gradient(at: x) { $0.dot($0) }   // shape [2], scalars [6.0, 8.0]
    /// let z = ShapedArray<Double>.TangentVector.zero
    /// z.shape                                  // nil
    /// z.materialized(shape: [2]).scalars       // [0.0, 0.0]
    /// ```
    public struct TangentVector: Differentiable, AdditiveArithmetic, Sendable, CustomStringConvertible {
        /// A tangent vector is its own tangent vector.
        public typealias TangentVector = Self

        /// The shape, or `nil` for the symbolic zero.
        @usableFromInline var _shape: [Int]?
        /// The elements in row-major order; empty for the symbolic zero.
        @usableFromInline var _scalars: [Scalar]

        /// A materialised tangent vector with the given shape and elements in row-major order.
        ///
        /// - Precondition: `scalars.count` is the product of `shape`.
        @inlinable
        public init(shape: [Int], scalars: [Scalar]) {
            precondition(shape.allSatisfy { $0 >= 0 } && elementCount(shape) == scalars.count,
                         "ShapedArray.TangentVector: shape \(shape) needs \(elementCount(shape)) elements, got \(scalars.count)")
            _shape = shape
            _scalars = scalars
        }

        /// The tangent vector with the shape and elements of `array`.
        @inlinable
        public init(_ array: ShapedArray<Scalar>) {
            _shape = array.shape
            _scalars = array.scalars
        }

        @inlinable
        init(_uncheckedShape shape: [Int]?, scalars: [Scalar]) {
            _shape = shape
            _scalars = scalars
        }

        /// Materialised zeros of the given shape.
        @inlinable
        public static func zeros(shape: [Int]) -> Self {
            Self(shape: shape, scalars: Array(repeating: 0, count: elementCount(shape)))
        }

        /// The symbolic zero: the zero tangent of every shape, holding no elements.
        @inlinable
        public static var zero: Self { Self(_uncheckedShape: nil, scalars: []) }

        /// The shape of a materialised tangent vector; `nil` for the symbolic zero.
        @inlinable public var shape: [Int]? { _shape }

        /// Whether this is the symbolic zero (no shape, no elements).
        @inlinable public var isSymbolicZero: Bool { _shape == nil }

        /// The elements in row-major order; empty for the symbolic zero.
        @inlinable public var scalars: [Scalar] { _scalars }

        /// The tangent as an array of the given shape: zeros for the symbolic zero,
        /// otherwise the elements, which must have that shape.
        ///
        /// - Precondition: a materialised tangent vector has shape `shape`.
        @inlinable
        public func materialized(shape: [Int]) -> ShapedArray<Scalar> {
            guard let own = _shape else { return ShapedArray(repeating: 0, shape: shape) }
            precondition(own == shape, "ShapedArray.TangentVector: expected shape \(shape), got \(own)")
            return ShapedArray(shape: own, scalars: _scalars)
        }

        /// The tangent as an array: `nil` for the symbolic zero, whose shape is unknown.
        @inlinable
        public var array: ShapedArray<Scalar>? {
            _shape.map { ShapedArray(shape: $0, scalars: _scalars) }
        }

        /// The elements for `shape`: zeros for the symbolic zero. Stops the process
        /// with a message naming `operation` if a materialised tangent has another shape.
        @inlinable
        func scalars(materializedFor shape: [Int], operation: String) -> [Scalar] {
            guard let own = _shape else { return Array(repeating: 0, count: elementCount(shape)) }
            precondition(own == shape,
                         "swift-mpi: \(operation): the tangent has shape \(own), but the value it belongs to has shape \(shape)")
            return _scalars
        }

        /// Elementwise sum. The symbolic zero is the identity for every shape.
        ///
        /// - Precondition: two materialised operands have the same shape.
        @inlinable
        public static func + (lhs: Self, rhs: Self) -> Self {
            guard let shape = lhs._shape else { return rhs }
            guard let other = rhs._shape else { return lhs }
            precondition(shape == other, "ShapedArray.TangentVector +: shapes \(shape) and \(other) differ")
            var result = lhs._scalars
            result.withUnsafeMutableBufferPointer { r in
                rhs._scalars.withUnsafeBufferPointer { b in
                    for i in r.indices { r[i] += b[i] }
                }
            }
            return Self(_uncheckedShape: shape, scalars: result)
        }

        /// Elementwise difference. The symbolic zero acts as zeros of the other operand's shape.
        ///
        /// - Precondition: two materialised operands have the same shape.
        @inlinable
        public static func - (lhs: Self, rhs: Self) -> Self {
            guard let other = rhs._shape else { return lhs }
            guard let shape = lhs._shape else {
                return Self(_uncheckedShape: other, scalars: rhs._scalars.map { -$0 })
            }
            precondition(shape == other, "ShapedArray.TangentVector -: shapes \(shape) and \(other) differ")
            var result = lhs._scalars
            result.withUnsafeMutableBufferPointer { r in
                rhs._scalars.withUnsafeBufferPointer { b in
                    for i in r.indices { r[i] -= b[i] }
                }
            }
            return Self(_uncheckedShape: shape, scalars: result)
        }

        /// The tangent scaled by `scale`, for example a learning rate. The symbolic zero stays zero.
        @inlinable
        public static func * (scale: Scalar, rhs: Self) -> Self {
            Self(_uncheckedShape: rhs._shape, scalars: rhs._scalars.map { scale * $0 })
        }

        /// Adds `offset` to `self` (the `Differentiable` requirement).
        @inlinable
        public mutating func move(by offset: Self) { self = self + offset }

        /// Equality of vectors: the symbolic zero equals any tangent whose elements
        /// are all zero, whatever its shape; two materialised tangents are equal when
        /// they have the same shape and elements.
        @inlinable
        public static func == (lhs: Self, rhs: Self) -> Bool {
            switch (lhs._shape, rhs._shape) {
            case (nil, nil): return true
            case (nil, _): return rhs._scalars.allSatisfy { $0 == 0 }
            case (_, nil): return lhs._scalars.allSatisfy { $0 == 0 }
            case let (a?, b?): return a == b && lhs._scalars == rhs._scalars
            }
        }

        /// `zero` for the symbolic zero, otherwise like the array: `[[1.0, 2.0], [3.0, 4.0]]`.
        public var description: String {
            guard let shape = _shape else { return "zero" }
            return ShapedArray(shape: shape, scalars: _scalars).description
        }
    }
}

extension ShapedArray: Differentiable where Scalar: DifferentiableMPIScalar {
    /// Adds a tangent vector to the elements (the symbolic zero leaves them unchanged).
    ///
    /// - Precondition: a materialised `offset` has this array's shape.
    @inlinable
    public mutating func move(by offset: TangentVector) {
        guard let shape = offset._shape else { return }
        precondition(shape == self.shape, "ShapedArray.move(by:): tangent of shape \(shape) for an array of shape \(self.shape)")
        withUnsafeMutableBufferPointer { r in
            offset._scalars.withUnsafeBufferPointer { b in
                for i in r.indices { r[i] += b[i] }
            }
        }
    }
}

/// The elements of an array tangent for an array of `count` elements: zeros for
/// the empty view that automatic differentiation uses as the zero tangent.
@inlinable
func materializedArray<T: DifferentiableMPIScalar>(
    _ tangent: Array<T>.DifferentiableView, count: Int, operation: String
) -> [T] {
    let base = tangent.base
    if base.count == count { return base }
    precondition(base.isEmpty,
                 "swift-mpi: \(operation): the tangent has \(base.count) elements, but the value it belongs to has \(count)")
    return Array(repeating: 0, count: count)
}

/// The number of elements of `shape` (1 for the empty shape).
@inlinable
func elementCount(_ shape: [Int]) -> Int {
    shape.reduce(1, *)
}
