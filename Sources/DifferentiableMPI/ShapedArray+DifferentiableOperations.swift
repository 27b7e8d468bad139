// The differentiable operations that losses are written with: sum, dot,
// elementwise arithmetic, reshaping, building from and reading the elements,
// element access.
//
// Every operation here has a custom reverse derivative (VJP) and forward
// derivative (JVP), so the compiler never differentiates a loop over the
// elements, and a zero cotangent is turned into zeros of the right shape before
// it is used.

import MPI
import _Differentiation

extension ShapedArray where Scalar: DifferentiableMPIScalar {
    /// The sum of all elements.
    @inlinable
    public func sum() -> Scalar {
        withUnsafeBufferPointer { b in
            var total: Scalar = 0
            for v in b { total += v }
            return total
        }
    }

    /// The reverse derivative of ``sum()``: the cotangent, repeated over the shape.
    @inlinable
    @derivative(of: sum)
    func vjpSum() -> (value: Scalar, pullback: (Scalar) -> TangentVector) {
        let shape = self.shape
        let count = scalarCount
        return (sum(), { v in TangentVector(_uncheckedShape: shape, scalars: Array(repeating: v, count: count)) })
    }

    /// The forward derivative of ``sum()``: the sum of the tangent.
    @inlinable
    @derivative(of: sum)
    public func jvpSum() -> (value: Scalar, differential: (TangentVector) -> Scalar) {
        let shape = self.shape
        return (sum(), { t in
            t.scalars(materializedFor: shape, operation: "sum").reduce(0, +)
        })
    }

    /// The inner product: the sum of the elementwise products.
    ///
    /// - Precondition: both arrays have the same shape.
    @inlinable
    public func dot(_ other: ShapedArray) -> Scalar {
        precondition(shape == other.shape, "ShapedArray.dot: shapes \(shape) and \(other.shape) differ")
        var total: Scalar = 0
        withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                for i in a.indices { total += a[i] * b[i] }
            }
        }
        return total
    }

    /// The reverse derivative of ``dot(_:)``.
    @inlinable
    @derivative(of: dot)
    func vjpDot(_ other: ShapedArray) -> (value: Scalar, pullback: (Scalar) -> (TangentVector, TangentVector)) {
        let a = self, b = other
        return (dot(other), { v in
            (TangentVector(_uncheckedShape: a.shape, scalars: b.scalars.map { v * $0 }),
             TangentVector(_uncheckedShape: b.shape, scalars: a.scalars.map { v * $0 }))
        })
    }

    /// The forward derivative of ``dot(_:)``.
    @inlinable
    @derivative(of: dot)
    public func jvpDot(_ other: ShapedArray) -> (value: Scalar, differential: (TangentVector, TangentVector) -> Scalar) {
        let a = self.scalars, b = other.scalars
        let aShape = shape, bShape = other.shape
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
        precondition(lhs.shape == rhs.shape, "ShapedArray \(name): shapes \(lhs.shape) and \(rhs.shape) differ")
        var result = lhs.scalars
        rhs.withUnsafeBufferPointer { b in
            for i in result.indices { result[i] = f(result[i], b[i]) }
        }
        return ShapedArray(shape: lhs.shape, scalars: result)
    }

    /// Elementwise sum.
    ///
    /// - Precondition: both arrays have the same shape.
    @inlinable
    public static func + (lhs: ShapedArray, rhs: ShapedArray) -> ShapedArray { elementwise(lhs, rhs, "+", +) }

    /// The reverse derivative of `+`.
    @inlinable
    @derivative(of: +)
    static func vjpAdd(_ lhs: ShapedArray, _ rhs: ShapedArray)
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
    static func vjpSubtract(_ lhs: ShapedArray, _ rhs: ShapedArray)
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
    static func vjpMultiply(_ lhs: ShapedArray, _ rhs: ShapedArray)
        -> (value: ShapedArray, pullback: (TangentVector) -> (TangentVector, TangentVector)) {
        (lhs * rhs, { v in
            guard let shape = v._shape else { return (.zero, .zero) }
            return (TangentVector(_uncheckedShape: shape, scalars: (ShapedArray(shape: shape, scalars: v._scalars) * rhs).scalars),
                    TangentVector(_uncheckedShape: shape, scalars: (ShapedArray(shape: shape, scalars: v._scalars) * lhs).scalars))
        })
    }

    /// The forward derivative of the elementwise `*`.
    @inlinable
    @derivative(of: *)
    public static func jvpMultiply(_ lhs: ShapedArray, _ rhs: ShapedArray)
        -> (value: ShapedArray, differential: (TangentVector, TangentVector) -> TangentVector) {
        (lhs * rhs, { a, b in
            let ta = ShapedArray(shape: lhs.shape, scalars: a.scalars(materializedFor: lhs.shape, operation: "*"))
            let tb = ShapedArray(shape: rhs.shape, scalars: b.scalars(materializedFor: rhs.shape, operation: "*"))
            return TangentVector(ta * rhs + lhs * tb)
        })
    }

    /// Every element multiplied by `scale`.
    @inlinable
    public static func * (scale: Scalar, rhs: ShapedArray) -> ShapedArray {
        ShapedArray(shape: rhs.shape, scalars: rhs.scalars.map { scale * $0 })
    }

    /// The reverse derivative of scaling by a scalar.
    @inlinable
    @derivative(of: *)
    static func vjpScale(_ scale: Scalar, _ rhs: ShapedArray)
        -> (value: ShapedArray, pullback: (TangentVector) -> (Scalar, TangentVector)) {
        (scale * rhs, { v in
            guard v._shape != nil else { return (0, .zero) }
            return (ShapedArray(shape: rhs.shape, scalars: v.scalars(materializedFor: rhs.shape, operation: "*")).dot(rhs),
                    scale * v)
        })
    }

    /// The forward derivative of scaling by a scalar.
    @inlinable
    @derivative(of: *)
    public static func jvpScale(_ scale: Scalar, _ rhs: ShapedArray)
        -> (value: ShapedArray, differential: (Scalar, TangentVector) -> TangentVector) {
        (scale * rhs, { ds, dr in
            let t = dr.scalars(materializedFor: rhs.shape, operation: "*")
            var out = rhs.scalars
            for i in out.indices { out[i] = ds * out[i] + scale * t[i] }
            return TangentVector(_uncheckedShape: rhs.shape, scalars: out)
        })
    }

    /// The reverse derivative of `reshaped(to:)`: the cotangent reshaped back.
    @inlinable
    @derivative(of: reshaped)
    func vjpReshaped(to newShape: [Int]) -> (value: ShapedArray, pullback: (TangentVector) -> TangentVector) {
        let shape = self.shape
        return (reshaped(to: newShape), { v in
            TangentVector(_uncheckedShape: shape, scalars: v.scalars(materializedFor: newShape, operation: "reshaped(to:)"))
        })
    }

    /// The forward derivative of `reshaped(to:)`: the tangent reshaped.
    @inlinable
    @derivative(of: reshaped)
    public func jvpReshaped(to newShape: [Int]) -> (value: ShapedArray, differential: (TangentVector) -> TangentVector) {
        let shape = self.shape
        return (reshaped(to: newShape), { t in
            TangentVector(_uncheckedShape: newShape, scalars: t.scalars(materializedFor: shape, operation: "reshaped(to:)"))
        })
    }

    /// The reverse derivative of `init(shape:scalars:)` with respect to the elements.
    @inlinable
    @derivative(of: init(shape:scalars:), wrt: scalars)
    static func vjpInit(shape: [Int], scalars: [Scalar])
        -> (value: ShapedArray, pullback: (TangentVector) -> Array<Scalar>.TangentVector) {
        (ShapedArray(shape: shape, scalars: scalars), { v in
            Array<Scalar>.TangentVector(v.scalars(materializedFor: shape, operation: "ShapedArray.init(shape:scalars:)"))
        })
    }

    /// The forward derivative of `init(shape:scalars:)` with respect to the elements.
    @inlinable
    @derivative(of: init(shape:scalars:), wrt: scalars)
    public static func jvpInit(shape: [Int], scalars: [Scalar])
        -> (value: ShapedArray, differential: (Array<Scalar>.TangentVector) -> TangentVector) {
        let count = scalars.count
        return (ShapedArray(shape: shape, scalars: scalars), { t in
            TangentVector(_uncheckedShape: shape, scalars: materializedArray(t, count: count, operation: "ShapedArray.init(shape:scalars:)"))
        })
    }

    /// The reverse derivative of the `scalars` getter.
    @inlinable
    @derivative(of: scalars)
    func vjpScalars() -> (value: [Scalar], pullback: (Array<Scalar>.TangentVector) -> TangentVector) {
        let shape = self.shape
        let count = scalarCount
        return (scalars, { v in
            TangentVector(_uncheckedShape: shape, scalars: materializedArray(v, count: count, operation: "ShapedArray.scalars"))
        })
    }

    /// The forward derivative of the `scalars` getter.
    @inlinable
    @derivative(of: scalars)
    public func jvpScalars() -> (value: [Scalar], differential: (TangentVector) -> Array<Scalar>.TangentVector) {
        let shape = self.shape
        return (scalars, { t in Array<Scalar>.TangentVector(t.scalars(materializedFor: shape, operation: "ShapedArray.scalars")) })
    }

    /// The reverse derivative of `subscript(flat:)`: the cotangent at one element, zeros elsewhere.
    @inlinable
    @derivative(of: subscript(flat:))
    func vjpSubscript(flat index: Int) -> (value: Scalar, pullback: (Scalar) -> TangentVector) {
        let shape = self.shape
        let count = scalarCount
        return (self[flat: index], { v in
            var z = [Scalar](repeating: 0, count: count)
            z[index] = v
            return TangentVector(_uncheckedShape: shape, scalars: z)
        })
    }

    /// The forward derivative of `subscript(flat:)`: the tangent's element.
    @inlinable
    @derivative(of: subscript(flat:))
    public func jvpSubscript(flat index: Int) -> (value: Scalar, differential: (TangentVector) -> Scalar) {
        let shape = self.shape
        return (self[flat: index], { t in t._shape == nil ? 0 : t.scalars(materializedFor: shape, operation: "subscript(flat:)")[index] })
    }
}
