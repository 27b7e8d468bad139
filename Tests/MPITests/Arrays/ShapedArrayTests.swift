// Tests of ShapedArray.swift: shapes, storage, value semantics and descriptions.
// (Local only: every rank runs the same checks.)
import ComplexModule
import MPI
import MPITestSupport
import XCTest

final class ShapedArrayTests: MPITestCase {
    func testInitWithShapeAndScalars() {
        let x = ShapedArray(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6] as [Double])
        XCTAssertEqual(x.shape, [2, 3])
        XCTAssertEqual(x.scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(x.scalarCount, 6)
        XCTAssertEqual(x.dimensionCount, 2)
        XCTAssertNil(x.scalar)
    }

    func testAnUninitialisedArrayWhoseInitializerThrowsDestroysNothingUnwritten() {
        // Of a type with references: the unwritten elements must not be destroyed (they hold no strings).
        struct Failure: Error {}
        XCTAssertThrowsError(try ShapedArray<String>(shape: [3]) { (_: UnsafeMutableBufferPointer<String>) throws(Failure) in
            throw Failure()
        })
        let written = ShapedArray<String>(shape: [2]) { buffer in
            buffer.initialize(repeating: "swift")
        }
        XCTAssertEqual(written.scalars, ["swift", "swift"])
    }

    func testRowMajorIndexing() {
        let x = ShapedArray(shape: [2, 3, 4], scalars: Array(0..<24))
        XCTAssertEqual(x[flat: 4], 4)
        XCTAssertEqual(x[0, 0, 0], 0)
        XCTAssertEqual(x[0, 1, 2], 6)
        XCTAssertEqual(x[1, 0, 0], 12)
        XCTAssertEqual(x[1, 2, 3], 23)
        var y = x
        y[1, 1, 1] = -1
        XCTAssertEqual(y[flat: 12 + 4 + 1], -1)
        y[flat: 0] = -2
        XCTAssertEqual(y[0, 0, 0], -2)
    }

    func testZeroDimensionalArrays() {
        let x = ShapedArray(scalar: Float16(2.5))
        XCTAssertEqual(x.shape, [])
        XCTAssertEqual(x.scalars, [2.5])
        XCTAssertEqual(x.scalarCount, 1)
        XCTAssertEqual(x.dimensionCount, 0)
        XCTAssertEqual(x.scalar, 2.5)
        XCTAssertEqual(x[], 2.5)
        XCTAssertEqual(x, ShapedArray(shape: [], scalars: [Float16(2.5)]))
        XCTAssertEqual(x.description, "2.5")
    }

    func testEmptyArrays() {
        let e = ShapedArray<Int32>(shape: [0], scalars: [])
        XCTAssertEqual(e.scalarCount, 0)
        XCTAssertEqual(e.dimensionCount, 1)
        XCTAssertEqual(e.description, "[]")
        let e2 = ShapedArray<Int32>(shape: [3, 0], scalars: [])
        XCTAssertEqual(e2.scalarCount, 0)
        XCTAssertEqual(e2.description, "[[], [], []]")
        XCTAssertNotEqual(e, e2, "arrays of different shapes differ even when both are empty")
        XCTAssertEqual(ShapedArray<Int32>([]), e)
        XCTAssertEqual(ShapedArray(repeating: Int32(1), shape: [0, 5]).scalarCount, 0)
    }

    func testConvenienceInitialisers() {
        XCTAssertEqual(ShapedArray([1, 2, 3]), ShapedArray(shape: [3], scalars: [1, 2, 3]))
        XCTAssertEqual(ShapedArray(repeating: true, shape: [2, 2]), ShapedArray(shape: [2, 2], scalars: [true, true, true, true]))
        XCTAssertEqual(ShapedArray(repeating: 7, shape: []), ShapedArray(scalar: 7))
        let made = ShapedArray<Int>(shape: [2, 2]) { buffer in
            for i in buffer.indices { buffer.initializeElement(at: i, to: i * i) }
        }
        XCTAssertEqual(made, ShapedArray(shape: [2, 2], scalars: [0, 1, 4, 9]))
    }

    func testUninitializedInitializerPassesErrorsOn() {
        struct Failure: Error, Equatable {}
        XCTAssertThrowsError(try ShapedArray<Double>(shape: [3]) { (_: UnsafeMutableBufferPointer<Double>) throws(Failure) in
            throw Failure()
        }) { error in
            XCTAssertEqual(error as? Failure, Failure())
        }
    }

    func testReshaped() {
        let x = ShapedArray(shape: [2, 3], scalars: Array(0..<6))
        let y = x.reshaped(to: [3, 2])
        XCTAssertEqual(y.shape, [3, 2])
        XCTAssertEqual(y.scalars, x.scalars)
        XCTAssertEqual(y[2, 1], 5)
        XCTAssertEqual(x.reshaped(to: [6]).shape, [6])
        XCTAssertEqual(ShapedArray([4]).reshaped(to: []).scalar, 4)
    }

    func testValueSemantics() {
        let x = ShapedArray(shape: [2], scalars: [1.0, 2.0])
        var y = x
        y[flat: 0] = 10
        XCTAssertEqual(x.scalars, [1, 2], "mutating a copy changed the original")
        XCTAssertEqual(y.scalars, [10, 2])
        var z = x
        z.scalars = [5, 6]
        XCTAssertEqual(x.scalars, [1, 2])
        XCTAssertEqual(z.scalars, [5, 6])
        XCTAssertEqual(z.shape, [2])
        var w = x
        w.withUnsafeMutableBufferPointer { $0[1] = 99 }
        XCTAssertEqual(x.scalars, [1, 2])
        XCTAssertEqual(w.scalars, [1, 99])
    }

    func testUnsafeBufferAccessIsRowMajorAndContiguous() {
        let x = ShapedArray(shape: [2, 2], scalars: [Int16(1), 2, 3, 4])
        let read = x.withUnsafeBufferPointer { Array($0) }
        XCTAssertEqual(read, [1, 2, 3, 4])
        let count = x.withUnsafeBufferPointer { $0.count }
        XCTAssertEqual(count, 4)
        var y = x
        y.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] *= 10 }
        }
        XCTAssertEqual(y.scalars, [10, 20, 30, 40])
        struct Failure: Error {}
        XCTAssertThrowsError(try x.withUnsafeBufferPointer { (_: UnsafeBufferPointer<Int16>) throws(Failure) -> Int in
            throw Failure()
        })
    }

    func testEquatableAndHashable() {
        let a = ShapedArray(shape: [2, 2], scalars: [1, 2, 3, 4])
        let b = ShapedArray(shape: [4], scalars: [1, 2, 3, 4])
        let c = ShapedArray(shape: [2, 2], scalars: [1, 2, 3, 5])
        XCTAssertEqual(a, ShapedArray(shape: [2, 2], scalars: [1, 2, 3, 4]))
        XCTAssertNotEqual(a, b, "same elements, different shape")
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(Set([a, b, c, a]).count, 3)
        XCTAssertEqual(ShapedArray([Complex<Double>(1, 2)]), ShapedArray([Complex<Double>(1, 2)]))
    }

    func testSendable() async {
        let x = ShapedArray(shape: [3], scalars: [1.0, 2.0, 3.0])
        let sum = await Task.detached { x.scalars.reduce(0, +) }.value
        XCTAssertEqual(sum, 6)
    }

    func testDescriptions() {
        XCTAssertEqual(ShapedArray(shape: [2, 2], scalars: [1.0, 2.0, 3.0, 4.0]).description, "[[1.0, 2.0], [3.0, 4.0]]")
        XCTAssertEqual(ShapedArray([1, 2, 3]).description, "[1, 2, 3]")
        XCTAssertEqual(ShapedArray(shape: [2, 1, 2], scalars: [1, 2, 3, 4]).description, "[[[1, 2]], [[3, 4]]]")
        XCTAssertEqual(ShapedArray(scalar: true).description, "true")
        XCTAssertEqual(ShapedArray([1.5, 2.0]).debugDescription, "ShapedArray<Double>(shape: [2], [1.5, 2.0])")
        XCTAssertEqual(ShapedArray(scalar: Int8(3)).debugDescription, "ShapedArray<Int8>(shape: [], 3)")
    }
}
