// Tests of ShapedArray+Differentiable.swift and
// ShapedArray+DifferentiableOperations.swift: the tangent vector and its
// symbolic zero, and the local operations in reverse and forward mode.
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

final class ShapedArrayDifferentiableTests: DifferentiationTestCase {
    func testTangentVectorZeroKeepsTheShapeOutOfTheWay() {
        typealias TV = ShapedArray<Double>.TangentVector
        let a = TV(shape: [2], scalars: [1, 2])
        XCTAssertTrue(TV.zero.isSymbolicZero)
        XCTAssertNil(TV.zero.shape)
        XCTAssertEqual((a + .zero).shape, [2])
        XCTAssertEqual((TV.zero + a).scalars, [1, 2])
        XCTAssertEqual((TV.zero - a).scalars, [-1, -2])
        XCTAssertEqual((a - .zero).scalars, [1, 2])
        XCTAssertEqual(TV.zero.materialized(shape: [2, 3]), ShapedArray(repeating: 0, shape: [2, 3]))
        XCTAssertEqual(TV.zero, TV.zeros(shape: [4]))
        XCTAssertNotEqual(TV.zero, a)
        XCTAssertEqual((0.5 * a).scalars, [0.5, 1])
        XCTAssertNil(TV.zero.array)
        XCTAssertEqual(a.array, ShapedArray([1, 2]))
        var x = ShapedArray<Double>([1, 1])
        x.move(by: .zero)
        XCTAssertEqual(x.scalars, [1, 1])
        x.move(by: a)
        XCTAssertEqual(x.scalars, [2, 3])
        XCTAssertEqual("\(TV.zero)", "zero")
        XCTAssertEqual("\(a)", "[1.0, 2.0]")
    }

    func testLocalOperationsMatchFiniteDifferences() throws {
        // One rank's computation: a communicator of size 1.
        let single = try world.split(color: rank, key: 0)
        let x = Self.pseudoArray([2, 3], rank: rank, salt: 170)
        let c = Self.pseudoArray([2, 3], rank: rank, salt: 171)
        try checkGradient("sum, dot, +, -, *, scale", at: x, comm: single, h: 1e-5) { x in
            (x * c + 2 * x - c).sum() + x.dot(x) + (0.5 * x).dot(c)
        }
        try checkGradient("reshaped, subscript, scalars, init", at: x, comm: single, h: 1e-5) { x in
            let r = x.reshaped(to: [3, 2])
            let s = r.scalars
            return r[flat: 4] * 3 + s[1] * s[2] + ShapedArray(shape: [6], scalars: s).dot(ShapedArray(c.scalars))
        }
        let (value, differential) = valueWithDifferential(at: x, of: probeLocal)
        XCTAssertEqual(value, probeLocal(x))
        let v = Self.pseudoArray([2, 3], rank: rank, salt: 172)
        let h = 1e-4
        let fd = (probeLocal(x + h * v) - probeLocal(x - h * v)) / (2 * h)
        XCTAssertEqual(differential(.init(v)), fd, accuracy: 1e-7 * max(1, abs(fd)), here)
    }
}

/// The local operations, for the forward-mode check: every JVP of ShapedArray+Differentiable.swift composed by hand.
private func probeLocal(_ x: ShapedArray<Double>) -> Double {
    let c = ShapedArray<Double>(shape: [2, 3], scalars: [1, -2, 3, 0.5, 2, -1])
    return ((x * c + 2 * x - c).reshaped(to: [6]) + ShapedArray(shape: [6], scalars: x.scalars)).sum() + x.dot(x) + x[flat: 2]
}
@derivative(of: probeLocal)
private func jvpProbeLocal(_ x: ShapedArray<Double>) -> (value: Double, differential: (ShapedArray<Double>.TangentVector) -> Double) {
    let c = ShapedArray<Double>(shape: [2, 3], scalars: [1, -2, 3, 0.5, 2, -1])
    let (xc, dxc) = ShapedArray.jvpMultiply(x, c)
    let (twoX, dTwoX) = ShapedArray.jvpScale(2, x)
    let (sum1, dSum1) = ShapedArray.jvpAdd(xc, twoX)
    let (diff, dDiff) = ShapedArray.jvpSubtract(sum1, c)
    let (flat, dFlat) = diff.jvpReshaped(to: [6])
    let (s, dS) = x.jvpScalars()
    let (rebuilt, dRebuilt) = ShapedArray.jvpInit(shape: [6], scalars: s)
    let (total, dTotal) = ShapedArray.jvpAdd(flat, rebuilt)
    let (summed, dSummed) = total.jvpSum()
    let (xx, dXX) = x.jvpDot(x)
    let (element, dElement) = x.jvpSubscript(flat: 2)
    return (summed + xx + element, { t in
        let a = dFlat(dDiff(dSum1(dxc(t, .zero), dTwoX(0, t)), .zero))
        let b = dRebuilt(dS(t))
        return dSummed(dTotal(a, b)) + dXX(t, t) + dElement(t)
    })
}
@derivative(of: probeLocal)
private func vjpProbeLocal(_ x: ShapedArray<Double>) -> (value: Double, pullback: (Double) -> ShapedArray<Double>.TangentVector) {
    valueWithPullback(at: x) { x in
        let c = ShapedArray<Double>(shape: [2, 3], scalars: [1, -2, 3, 0.5, 2, -1])
        return ((x * c + 2 * x - c).reshaped(to: [6]) + ShapedArray(shape: [6], scalars: x.scalars)).sum() + x.dot(x) + x[flat: 2]
    }
}
