import _Differentiation

// ShapedArray as a differentiable value: its tangent vector, the scalar types
// that can be differentiated, and the few differentiable operations that losses
// are written with (sum, dot, elementwise arithmetic, reshaping, element access).
//
// Every operation here has a custom reverse derivative (VJP) and forward
// derivative (JVP), so the compiler never differentiates a loop over the
// elements, and a zero cotangent is turned into zeros of the right shape before
// it is used.

// MARK: - Differentiable scalars

/// A scalar type through which swift-mpi's communication can be differentiated:
/// `Float` and `Double`.
///
/// The conforming types are their own tangent vectors. ``ShapedArray`` is
/// `Differentiable` when its scalars conform, and the differentiable forms of
/// the primitives in ``Autodiff`` take arrays of these types.
public protocol DifferentiableMPIScalar: MPIScalar, BinaryFloatingPoint, Differentiable
where TangentVector == Self {}

extension Float: DifferentiableMPIScalar {}
extension Double: DifferentiableMPIScalar {}

// MARK: - The tangent vector

extension ShapedArray where Scalar: DifferentiableMPIScalar {
    /// The tangent vector (gradient, cotangent) of a ``ShapedArray``.
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
            precondition(shape.allSatisfy { $0 >= 0 } && shapeProduct(shape) == scalars.count,
                         "ShapedArray.TangentVector: shape \(shape) needs \(shapeProduct(shape)) elements, got \(scalars.count)")
            _shape = shape
            _scalars = scalars
        }

        /// The tangent vector with the shape and elements of `array`.
        @inlinable
        public init(_ array: ShapedArray<Scalar>) {
            _shape = array._shape
            _scalars = array._scalars
        }

        @inlinable
        init(_uncheckedShape shape: [Int]?, scalars: [Scalar]) {
            _shape = shape
            _scalars = scalars
        }

        /// Materialised zeros of the given shape.
        @inlinable
        public static func zeros(shape: [Int]) -> Self {
            Self(shape: shape, scalars: Array(repeating: 0, count: shapeProduct(shape)))
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
            return ShapedArray(_uncheckedShape: own, scalars: _scalars)
        }

        /// The tangent as an array: `nil` for the symbolic zero, whose shape is unknown.
        @inlinable
        public var array: ShapedArray<Scalar>? {
            _shape.map { ShapedArray(_uncheckedShape: $0, scalars: _scalars) }
        }

        /// The elements for `shape`: zeros for the symbolic zero. Stops the process
        /// with a message naming `operation` if a materialised tangent has another shape.
        @inlinable
        func scalars(materializedFor shape: [Int], operation: String) -> [Scalar] {
            guard let own = _shape else { return Array(repeating: 0, count: shapeProduct(shape)) }
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
            return ShapedArray(_uncheckedShape: shape, scalars: _scalars).description
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
        precondition(shape == _shape, "ShapedArray.move(by:): tangent of shape \(shape) for an array of shape \(_shape)")
        _storage.withUnsafeMutableBufferPointer { r in
            offset._scalars.withUnsafeBufferPointer { b in
                for i in r.indices { r[i] += b[i] }
            }
        }
    }
}

// MARK: - Differentiable operations

extension ShapedArray where Scalar: DifferentiableMPIScalar {
    /// The sum of all elements.
    @inlinable
    public func sum() -> Scalar {
        _storage.withUnsafeBufferPointer { b in
            var total: Scalar = 0
            for v in b { total += v }
            return total
        }
    }

    /// The reverse derivative of ``sum()``: the cotangent, repeated over the shape.
    @inlinable
    @derivative(of: sum)
    public func vjpSum() -> (value: Scalar, pullback: (Scalar) -> TangentVector) {
        let shape = _shape
        let count = _storage.count
        return (sum(), { v in TangentVector(_uncheckedShape: shape, scalars: Array(repeating: v, count: count)) })
    }

    /// The forward derivative of ``sum()``: the sum of the tangent.
    @inlinable
    @derivative(of: sum)
    public func jvpSum() -> (value: Scalar, differential: (TangentVector) -> Scalar) {
        let shape = _shape
        return (sum(), { t in
            t.scalars(materializedFor: shape, operation: "sum").reduce(0, +)
        })
    }

    /// The inner product: the sum of the elementwise products.
    ///
    /// - Precondition: both arrays have the same shape.
    @inlinable
    public func dot(_ other: ShapedArray) -> Scalar {
        precondition(_shape == other._shape, "ShapedArray.dot: shapes \(_shape) and \(other._shape) differ")
        var total: Scalar = 0
        _storage.withUnsafeBufferPointer { a in
            other._storage.withUnsafeBufferPointer { b in
                for i in a.indices { total += a[i] * b[i] }
            }
        }
        return total
    }

    /// The reverse derivative of ``dot(_:)``.
    @inlinable
    @derivative(of: dot)
    public func vjpDot(_ other: ShapedArray) -> (value: Scalar, pullback: (Scalar) -> (TangentVector, TangentVector)) {
        let a = self, b = other
        return (dot(other), { v in
            (TangentVector(_uncheckedShape: a._shape, scalars: b._scalars.map { v * $0 }),
             TangentVector(_uncheckedShape: b._shape, scalars: a._scalars.map { v * $0 }))
        })
    }

    /// The forward derivative of ``dot(_:)``.
    @inlinable
    @derivative(of: dot)
    public func jvpDot(_ other: ShapedArray) -> (value: Scalar, differential: (TangentVector, TangentVector) -> Scalar) {
        let a = self._scalars, b = other._scalars
        let aShape = _shape, bShape = other._shape
        return (dot(other), { da, db in
            let ta = da.scalars(materializedFor: aShape, operation: "dot")
            let tb = db.scalars(materializedFor: bShape, operation: "dot")
            var total: Scalar = 0
            for i in ta.indices { total += ta[i] * b[i] + a[i] * tb[i] }
            return total
        })
    }

    @inlinable
    static func elementwise(_ lhs: ShapedArray, _ rhs: ShapedArray, _ name: String, _ f: (Scalar, Scalar) -> Scalar) -> ShapedArray {
        precondition(lhs._shape == rhs._shape, "ShapedArray \(name): shapes \(lhs._shape) and \(rhs._shape) differ")
        var result = lhs._scalars
        rhs._storage.withUnsafeBufferPointer { b in
            for i in result.indices { result[i] = f(result[i], b[i]) }
        }
        return ShapedArray(_uncheckedShape: lhs._shape, scalars: result)
    }

    /// Elementwise sum.
    ///
    /// - Precondition: both arrays have the same shape.
    @inlinable
    public static func + (lhs: ShapedArray, rhs: ShapedArray) -> ShapedArray { elementwise(lhs, rhs, "+", +) }

    /// The reverse derivative of `+`.
    @inlinable
    @derivative(of: +)
    public static func vjpAdd(_ lhs: ShapedArray, _ rhs: ShapedArray)
        -> (value: ShapedArray, pullback: (TangentVector) -> (TangentVector, TangentVector)) {
        (lhs + rhs, { v in (v, v) })
    }

    /// The forward derivative of `+`.
    @inlinable
    @derivative(of: +)
    public static func jvpAdd(_ lhs: ShapedArray, _ rhs: ShapedArray)
        -> (value: ShapedArray, differential: (TangentVector, TangentVector) -> TangentVector) {
        (lhs + rhs, { a, b in a + b })
    }

    /// Elementwise difference.
    ///
    /// - Precondition: both arrays have the same shape.
    @inlinable
    public static func - (lhs: ShapedArray, rhs: ShapedArray) -> ShapedArray { elementwise(lhs, rhs, "-", -) }

    /// The reverse derivative of `-`.
    @inlinable
    @derivative(of: -)
    public static func vjpSubtract(_ lhs: ShapedArray, _ rhs: ShapedArray)
        -> (value: ShapedArray, pullback: (TangentVector) -> (TangentVector, TangentVector)) {
        (lhs - rhs, { v in (v, .zero - v) })
    }

    /// The forward derivative of `-`.
    @inlinable
    @derivative(of: -)
    public static func jvpSubtract(_ lhs: ShapedArray, _ rhs: ShapedArray)
        -> (value: ShapedArray, differential: (TangentVector, TangentVector) -> TangentVector) {
        (lhs - rhs, { a, b in a - b })
    }

    /// Elementwise product.
    ///
    /// - Precondition: both arrays have the same shape.
    @inlinable
    public static func * (lhs: ShapedArray, rhs: ShapedArray) -> ShapedArray { elementwise(lhs, rhs, "*", *) }

    /// The reverse derivative of the elementwise `*`.
    @inlinable
    @derivative(of: *)
    public static func vjpMultiply(_ lhs: ShapedArray, _ rhs: ShapedArray)
        -> (value: ShapedArray, pullback: (TangentVector) -> (TangentVector, TangentVector)) {
        (lhs * rhs, { v in
            guard let shape = v._shape else { return (.zero, .zero) }
            return (TangentVector(_uncheckedShape: shape, scalars: (ShapedArray(_uncheckedShape: shape, scalars: v._scalars) * rhs)._scalars),
                    TangentVector(_uncheckedShape: shape, scalars: (ShapedArray(_uncheckedShape: shape, scalars: v._scalars) * lhs)._scalars))
        })
    }

    /// The forward derivative of the elementwise `*`.
    @inlinable
    @derivative(of: *)
    public static func jvpMultiply(_ lhs: ShapedArray, _ rhs: ShapedArray)
        -> (value: ShapedArray, differential: (TangentVector, TangentVector) -> TangentVector) {
        (lhs * rhs, { a, b in
            let ta = ShapedArray(_uncheckedShape: lhs._shape, scalars: a.scalars(materializedFor: lhs._shape, operation: "*"))
            let tb = ShapedArray(_uncheckedShape: rhs._shape, scalars: b.scalars(materializedFor: rhs._shape, operation: "*"))
            return TangentVector(ta * rhs + lhs * tb)
        })
    }

    /// Every element multiplied by `scale`.
    @inlinable
    public static func * (scale: Scalar, rhs: ShapedArray) -> ShapedArray {
        ShapedArray(_uncheckedShape: rhs._shape, scalars: rhs._scalars.map { scale * $0 })
    }

    /// The reverse derivative of scaling by a scalar.
    @inlinable
    @derivative(of: *)
    public static func vjpScale(_ scale: Scalar, _ rhs: ShapedArray)
        -> (value: ShapedArray, pullback: (TangentVector) -> (Scalar, TangentVector)) {
        (scale * rhs, { v in
            guard v._shape != nil else { return (0, .zero) }
            return (ShapedArray(_uncheckedShape: rhs._shape, scalars: v.scalars(materializedFor: rhs._shape, operation: "*")).dot(rhs),
                    scale * v)
        })
    }

    /// The forward derivative of scaling by a scalar.
    @inlinable
    @derivative(of: *)
    public static func jvpScale(_ scale: Scalar, _ rhs: ShapedArray)
        -> (value: ShapedArray, differential: (Scalar, TangentVector) -> TangentVector) {
        (scale * rhs, { ds, dr in
            let t = dr.scalars(materializedFor: rhs._shape, operation: "*")
            var out = rhs._scalars
            for i in out.indices { out[i] = ds * out[i] + scale * t[i] }
            return TangentVector(_uncheckedShape: rhs._shape, scalars: out)
        })
    }

    /// The reverse derivative of ``reshaped(to:)``: the cotangent reshaped back.
    @inlinable
    @derivative(of: reshaped)
    public func vjpReshaped(to newShape: [Int]) -> (value: ShapedArray, pullback: (TangentVector) -> TangentVector) {
        let shape = _shape
        return (reshaped(to: newShape), { v in
            TangentVector(_uncheckedShape: shape, scalars: v.scalars(materializedFor: newShape, operation: "reshaped(to:)"))
        })
    }

    /// The forward derivative of ``reshaped(to:)``: the tangent reshaped.
    @inlinable
    @derivative(of: reshaped)
    public func jvpReshaped(to newShape: [Int]) -> (value: ShapedArray, differential: (TangentVector) -> TangentVector) {
        let shape = _shape
        return (reshaped(to: newShape), { t in
            TangentVector(_uncheckedShape: newShape, scalars: t.scalars(materializedFor: shape, operation: "reshaped(to:)"))
        })
    }

    /// The reverse derivative of ``init(shape:scalars:)`` with respect to the elements.
    @inlinable
    @derivative(of: init(shape:scalars:), wrt: scalars)
    public static func vjpInit(shape: [Int], scalars: [Scalar])
        -> (value: ShapedArray, pullback: (TangentVector) -> Array<Scalar>.TangentVector) {
        (ShapedArray(shape: shape, scalars: scalars), { v in
            Array<Scalar>.TangentVector(v.scalars(materializedFor: shape, operation: "ShapedArray.init(shape:scalars:)"))
        })
    }

    /// The forward derivative of ``init(shape:scalars:)`` with respect to the elements.
    @inlinable
    @derivative(of: init(shape:scalars:), wrt: scalars)
    public static func jvpInit(shape: [Int], scalars: [Scalar])
        -> (value: ShapedArray, differential: (Array<Scalar>.TangentVector) -> TangentVector) {
        let count = scalars.count
        return (ShapedArray(shape: shape, scalars: scalars), { t in
            TangentVector(_uncheckedShape: shape, scalars: materializedArray(t, count: count, operation: "ShapedArray.init(shape:scalars:)"))
        })
    }

    /// The reverse derivative of the ``scalars`` getter.
    @inlinable
    @derivative(of: scalars)
    public func vjpScalars() -> (value: [Scalar], pullback: (Array<Scalar>.TangentVector) -> TangentVector) {
        let shape = _shape
        let count = _storage.count
        return (_scalars, { v in
            TangentVector(_uncheckedShape: shape, scalars: materializedArray(v, count: count, operation: "ShapedArray.scalars"))
        })
    }

    /// The forward derivative of the ``scalars`` getter.
    @inlinable
    @derivative(of: scalars)
    public func jvpScalars() -> (value: [Scalar], differential: (TangentVector) -> Array<Scalar>.TangentVector) {
        let shape = _shape
        return (_scalars, { t in Array<Scalar>.TangentVector(t.scalars(materializedFor: shape, operation: "ShapedArray.scalars")) })
    }

    /// The reverse derivative of ``subscript(flat:)``: the cotangent at one element, zeros elsewhere.
    @inlinable
    @derivative(of: subscript(flat:))
    public func vjpSubscript(flat index: Int) -> (value: Scalar, pullback: (Scalar) -> TangentVector) {
        let shape = _shape
        let count = _storage.count
        return (self[flat: index], { v in
            var z = [Scalar](repeating: 0, count: count)
            z[index] = v
            return TangentVector(_uncheckedShape: shape, scalars: z)
        })
    }

    /// The forward derivative of ``subscript(flat:)``: the tangent's element.
    @inlinable
    @derivative(of: subscript(flat:))
    public func jvpSubscript(flat index: Int) -> (value: Scalar, differential: (TangentVector) -> Scalar) {
        let shape = _shape
        return (self[flat: index], { t in t._shape == nil ? 0 : t.scalars(materializedFor: shape, operation: "subscript(flat:)")[index] })
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
