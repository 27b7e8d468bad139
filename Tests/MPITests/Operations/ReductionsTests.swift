// Tests of Reductions.swift: allreduce, reduce and scan.
//
// Rank r contributes `T.reductionValue(op, rank: r, index: j)` at element j;
// the expected result is the reference operation folded over the ranks, which
// is exact for these values whatever order MPI combines them in.
import CMPI  // MPI_Reduce_local
import ComplexModule
@testable import MPI  // ReductionOp.checkedHandle
import MPITestSupport
import XCTest

final class ReductionsTests: MPITestCase {
    private let shapes: [[Int]] = [[], [7], [2, 3, 2], [0]]

    /// allreduce, reduce (every root) and scan, in every form, for one type and op.
    private func checkReductions<T: TestScalar>(_ type: T.Type, _ op: ReductionOp, comm: Communicator? = nil) throws {
        guard let combine = T.reference(op) else {
            return XCTFail("the test has no reference for \(op) on \(T.self)")
        }
        let comm = comm ?? defaultComm
        let (me, n) = (comm.rank, comm.size)
        let context = "\(op) on \(T.self) \(here)"
        func values(_ rank: Int, _ count: Int) -> [T] { (0..<count).map { T.reductionValue(op, rank: rank, index: $0) } }
        /// The reduction over ranks 0...last.
        func expected(_ count: Int, upTo last: Int) -> [T] {
            (0..<count).map { j in fold((0...last).map { T.reductionValue(op, rank: $0, index: j) }, combine) }
        }

        for shape in shapes {
            let count = shapeCount(shape)
            let x = ShapedArray(shape: shape, scalars: values(me, count))
            let before = deepCopy(x)
            let (all, t1) = try allreduce(x, op: op, comm: comm)
            XCTAssertEqual(all.shape, shape, context)
            XCTAssertEqual(all.scalars, expected(count, upTo: n - 1), "allreduce shape \(shape) \(context)")
            XCTAssertEqual(t1.sequence, 1)
            for root in 0..<n {
                let (reduced, t2) = try reduce(x, op: op, root: root, comm: comm)
                if me == root {
                    XCTAssertEqual(reduced.shape, shape, context)
                    XCTAssertEqual(reduced.scalars, expected(count, upTo: n - 1), "reduce root \(root) shape \(shape) \(context)")
                } else {
                    // Non-root ranks get their input back unchanged, not zeros or an empty array.
                    XCTAssertEqual(reduced, x, "reduce root \(root) \(context)")
                    if count > 0 { XCTAssertEqual(storageAddress(reduced), storageAddress(x), context) }
                }
                XCTAssertEqual(t2.sequence, 1)
            }
            let (prefix, t3) = try scan(x, op: op, comm: comm)
            XCTAssertEqual(prefix.shape, shape, context)
            XCTAssertEqual(prefix.scalars, expected(count, upTo: me), "scan shape \(shape) \(context)")
            XCTAssertEqual(t3.sequence, 1)
            XCTAssertEqual(x, before, "the input was modified \(context)")
        }

        // [T] forms.
        let array = values(me, 5)
        XCTAssertEqual(try allreduce(array, op: op, comm: comm).0, expected(5, upTo: n - 1), context)
        XCTAssertEqual(try scan(array, op: op, comm: comm).0, expected(5, upTo: me), context)
        XCTAssertEqual(try allreduce([T](), op: op, comm: comm).0, [], context)
        for root in 0..<n {
            let (reduced, _) = try reduce(array, op: op, root: root, comm: comm)
            XCTAssertEqual(reduced, me == root ? expected(5, upTo: n - 1) : array, "root \(root) \(context)")
        }
        // Scalar forms (element 0's values).
        let scalar = T.reductionValue(op, rank: me, index: 0)
        XCTAssertEqual(try allreduce(scalar, op: op, comm: comm).0, expected(1, upTo: n - 1)[0], context)
        XCTAssertEqual(try scan(scalar, op: op, comm: comm).0, expected(1, upTo: me)[0], context)
        for root in 0..<n {
            let (reduced, _) = try reduce(scalar, op: op, root: root, comm: comm)
            XCTAssertEqual(reduced, me == root ? expected(1, upTo: n - 1)[0] : scalar, "root \(root) \(context)")
        }
    }

    func testSumOfEveryNumericType() throws {
        for type in allScalarTypes where type != Bool.self {
            try checkReductions(type, .sum)
        }
    }

    func testProduct() throws {
        try checkReductions(Double.self, .product)
        try checkReductions(Float16.self, .product)
        try checkReductions(Int8.self, .product)
        try checkReductions(UInt16.self, .product)
        try checkReductions(Complex<Double>.self, .product)
        try checkReductions(Complex<Float>.self, .product)
    }

    func testMinAndMax() throws {
        for op in [ReductionOp.min, .max] {
            try checkReductions(Float.self, op)
            try checkReductions(Float16.self, op)
            try checkReductions(Int16.self, op)
            try checkReductions(Int.self, op)
            // Every unsigned width, with values above the signed range (see reductionValue).
            try checkReductions(UInt8.self, op)
            try checkReductions(UInt16.self, op)
            try checkReductions(UInt32.self, op)
            try checkReductions(UInt64.self, op)
            try checkReductions(UInt.self, op)
        }
    }

    func testUnsignedMinAndMaxInTheOtherReductions() throws {
        // Values above the signed range on odd ranks: MPICH 4.0.x's own MPI_MIN and MPI_MAX
        // compare unsigned integers as signed; every reduction takes the package's operation.
        let value: (Int) -> UInt64 = { r in r % 2 == 1 ? UInt64.max - UInt64(r) : UInt64(r + 1) }
        let all = (0..<size).map(value)
        let x = (0..<size).map { _ in value(rank) }
        for (op, fold) in [(ReductionOp.min, { (a: UInt64, b: UInt64) in Swift.min(a, b) }), (.max, Swift.max)] {
            let context = "\(op) \(here)"
            XCTAssertEqual(try iallreduce([value(rank)], op: op).wait(), [all.reduce(all[0], fold)], context)
            if rank > 0 {
                XCTAssertEqual(try exscan([value(rank)], op: op).0, [all[0..<rank].reduce(all[0], fold)], context)
            } else {
                _ = try exscan([value(rank)], op: op)
            }
            XCTAssertEqual(try reduceScatterBlock(x, op: op).0, [all.reduce(all[0], fold)], context)
        }
    }

    /// Sums of 8- and 16-bit integers wrap around, on vectors long enough for Open MPI 4.1.4's
    /// vector code (`op/avx`), whose own `MPI_SUM` saturates there (32767 + 2 as `Int16` gave 32767,
    /// from C too); every reduction takes the package's operation where the library saturates.
    /// `MPI_Reduce_local` with the handle that the reductions use shows it at one rank too.
    func testNarrowIntegerSumsWrapAround() throws {
        func check<T: MPIScalar & FixedWidthInteger>(_: T.Type) throws {
            let n = 64
            let context = "\(T.self) \(here)"
            let total = (0..<size).reduce(T(0)) { sum, _ in sum &+ T.max }  // size × T.max, wrapped
            let x = [T](repeating: .max, count: n)
            XCTAssertEqual(try allreduce(x, op: .sum).0, [T](repeating: total, count: n), context)
            let (reduced, _) = try reduce(x, op: .sum, root: size - 1)
            if rank == size - 1 { XCTAssertEqual(reduced, [T](repeating: total, count: n), context) }
            let prefix = (0...rank).reduce(T(0)) { sum, _ in sum &+ T.max }
            XCTAssertEqual(try scan(x, op: .sum).0, [T](repeating: prefix, count: n), context)
            XCTAssertEqual(try iallreduce(x, op: .sum).wait(), [T](repeating: total, count: n), context)
            // One process: the package's handle, reduced locally (T.max + 2 wraps to T.min + 1).
            var input = [T](repeating: .max, count: n), sums = [T](repeating: 2, count: n)
            let handle = try ReductionOp.sum.checkedHandle(for: T.self, operation: .allreduce)
            XCTAssertEqual(MPI_Reduce_local(&input, &sums, Int32(n), T.mpiDatatype.handle, handle), 0, context)
            XCTAssertEqual(sums, [T](repeating: T.max &+ 2, count: n), context)
        }
        try check(Int8.self)
        try check(UInt8.self)
        try check(Int16.self)
        try check(UInt16.self)
        try check(Int32.self)
    }

    func testLogicalOps() throws {
        for op in [ReductionOp.logicalAnd, .logicalOr, .logicalXor] {
            try checkReductions(Bool.self, op)
            try checkReductions(Int32.self, op)
            try checkReductions(UInt8.self, op)
        }
    }

    func testBitwiseOps() throws {
        for op in [ReductionOp.bitwiseAnd, .bitwiseOr, .bitwiseXor] {
            try checkReductions(UInt8.self, op)
            try checkReductions(Int64.self, op)
            try checkReductions(UInt.self, op)
        }
    }

    func testReductionsOnTheWorldAndOnAnEvenOddSplit() throws {
        try checkReductions(Double.self, .sum, comm: world)
        let sub = try world.split(color: rank % 2)
        try checkReductions(Int32.self, .max, comm: sub)
        try checkReductions(Bool.self, .logicalOr, comm: sub)
        try checkReductions(Float16.self, .sum, comm: sub)
    }

    func testScanIsInclusive() throws {
        // Rank r gets 1 + 2 + ... + (r + 1), its own contribution included.
        XCTAssertEqual(try scan(rank + 1, op: .sum).0, (rank + 1) * (rank + 2) / 2, here)
        XCTAssertEqual(try scan(ShapedArray(scalar: Double(rank + 1)), op: .product).0.scalar,
                       Double((1...(rank + 1)).reduce(1, *)), here)
    }

    func testLargeFloat16Reduction() throws {
        // More elements than one chunk of a user-defined op may be given at once by some libraries.
        let count = 100_000
        let x = (0..<count).map { Float16(($0 + rank) % 64) }
        let (sum, _) = try allreduce(x, op: .sum)
        let expected = (0..<count).map { j in (0..<size).reduce(Float16(0)) { $0 + Float16((j + $1) % 64) } }
        XCTAssertEqual(sum, expected, here)
        let (maximum, _) = try allreduce(x, op: .max)
        XCTAssertEqual(maximum, (0..<count).map { j in (0..<size).map { Float16((j + $0) % 64) }.max()! }, here)
    }

    // MARK: errors

    func testReduceRejectsARootOutOfRangeOnEveryRank() throws {
        for root in [size, -1] {
            let expected = MPIError.rankOutOfRange(operation: "reduce", argument: "root", rank: root, size: size)
            assertThrows(expected) { try reduce(ShapedArray([1.0]), op: .sum, root: root) }
            assertThrows(expected) { try reduce([Int32(1)], op: .max, root: root) }
            assertThrows(expected) { try reduce(true, op: .logicalOr, root: root) }
        }
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }

    func testInvalidPairsThrowOnEveryRankInEveryForm() throws {
        func check<T: MPIScalar>(_ x: T, _ op: ReductionOp, _ typeName: String) {
            for name in ["allreduce", "reduce", "scan"] {
                let expected = MPIError.unsupportedReduction(operation: name, op: op, scalarType: typeName)
                assertThrows(expected) { () throws -> Any in
                    switch name {
                    case "allreduce": return try allreduce(ShapedArray(repeating: x, shape: [2, 2]), op: op)
                    case "reduce": return try reduce(ShapedArray(repeating: x, shape: [2, 2]), op: op, root: 0)
                    default: return try scan(ShapedArray(repeating: x, shape: [2, 2]), op: op)
                    }
                }
                assertThrows(expected) { () throws -> Any in
                    switch name {
                    case "allreduce": return try allreduce([x, x], op: op)
                    case "reduce": return try reduce([x], op: op, root: 0)
                    default: return try scan([x], op: op)
                    }
                }
                assertThrows(expected) { () throws -> Any in
                    switch name {
                    case "allreduce": return try allreduce(x, op: op)
                    case "reduce": return try reduce(x, op: op, root: size - 1)
                    default: return try scan(x, op: op)
                    }
                }
            }
        }
        check(Float(1), .bitwiseAnd, "Float")
        check(Double(1), .bitwiseXor, "Double")
        check(Complex<Double>(1, 2), .min, "Complex<Double>")
        check(Complex<Float>(1, 2), .max, "Complex<Float>")
        check(true, .sum, "Bool")
        check(false, .product, "Bool")
        check(true, .max, "Bool")
        check(true, .bitwiseOr, "Bool")
        check(Float(1), .logicalAnd, "Float")
        check(Double(1), .logicalOr, "Double")
        check(Float16(1), .logicalXor, "Float16")
        check(Float16(1), .bitwiseAnd, "Float16")
        check(Complex<Float>(1, 0), .logicalAnd, "Complex<Float>")
        // Nobody communicated: every rank is still in step.
        XCTAssertEqual(try allreduce(1, op: .sum).0, size)
    }
}
