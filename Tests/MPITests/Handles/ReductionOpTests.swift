// Tests of ReductionOp.swift: the ops, the table of valid pairs, and every pair through MPI.
import ComplexModule
import MPI
import MPITestSupport
import XCTest

final class ReductionOpTests: MPITestCase {
    /// The documented table: the scalar kinds each op is defined for.
    private let table: [ReductionOp: Set<MPIScalarKind>] = [
        .sum: [.floatingPoint, .halfPrecision, .signedInteger, .unsignedInteger, .complex],
        .product: [.floatingPoint, .halfPrecision, .signedInteger, .unsignedInteger, .complex],
        .min: [.floatingPoint, .halfPrecision, .signedInteger, .unsignedInteger],
        .max: [.floatingPoint, .halfPrecision, .signedInteger, .unsignedInteger],
        .logicalAnd: [.signedInteger, .unsignedInteger, .logical],
        .logicalOr: [.signedInteger, .unsignedInteger, .logical],
        .logicalXor: [.signedInteger, .unsignedInteger, .logical],
        .bitwiseAnd: [.signedInteger, .unsignedInteger],
        .bitwiseOr: [.signedInteger, .unsignedInteger],
        .bitwiseXor: [.signedInteger, .unsignedInteger],
    ]

    func testOpsAndNames() {
        XCTAssertEqual(ReductionOp.allCases, [
            .sum, .product, .min, .max, .logicalAnd, .logicalOr, .logicalXor, .bitwiseAnd, .bitwiseOr, .bitwiseXor,
        ])
        XCTAssertEqual(ReductionOp.allCases.map(\.description), [
            "sum", "product", "min", "max", "logicalAnd", "logicalOr", "logicalXor", "bitwiseAnd", "bitwiseOr", "bitwiseXor",
        ])
        XCTAssertEqual(Set(ReductionOp.allCases).count, 10)
        XCTAssertNotEqual(ReductionOp.min, ReductionOp.max)
    }

    func testSupportedScalarKindsFollowTheTable() {
        for op in ReductionOp.allCases {
            XCTAssertEqual(op.supportedScalarKinds, table[op], "\(op)")
        }
    }

    func testIsSupportedForEveryTypeFollowsTheTable() {
        for type in allScalarTypes { checkIsSupported(type) }
    }

    private func checkIsSupported<T: TestScalar>(_ type: T.Type) {
        for op in ReductionOp.allCases {
            let documented = table[op]!.contains(T.mpiScalarKind)
            XCTAssertEqual(op.isSupported(for: T.self), documented, "\(op) on \(T.self)")
            // The suite's reference implementation covers exactly the supported pairs.
            XCTAssertEqual(T.reference(op) != nil, documented, "test reference for \(op) on \(T.self)")
        }
    }

    /// Every op on every type through MPI: valid pairs give the reference result on every
    /// rank, invalid pairs throw unsupportedReduction on every rank without communicating.
    func testEveryOpOnEveryType() throws {
        for type in allScalarTypes { try checkEveryOp(type) }
    }

    private func checkEveryOp<T: TestScalar>(_ type: T.Type) throws {
        let count = 6
        for op in ReductionOp.allCases {
            let x = ShapedArray(shape: [2, 3], scalars: (0..<count).map { T.reductionValue(op, rank: rank, index: $0) })
            if let combine = T.reference(op) {
                let expected = (0..<count).map { j in fold((0..<size).map { T.reductionValue(op, rank: $0, index: j) }, combine) }
                let (result, _) = try allreduce(x, op: op)
                XCTAssertEqual(result.scalars, expected, "\(op) on \(T.self) \(here)")
                let (prefix, _) = try scan(x, op: op)
                let expectedPrefix = (0..<count).map { j in fold((0...rank).map { T.reductionValue(op, rank: $0, index: j) }, combine) }
                XCTAssertEqual(prefix.scalars, expectedPrefix, "scan \(op) on \(T.self) \(here)")
            } else {
                let name = "\(T.self)"
                assertThrows(.unsupportedReduction(operation: "allreduce", op: op, scalarType: name)) { try allreduce(x, op: op) }
                assertThrows(.unsupportedReduction(operation: "reduce", op: op, scalarType: name)) {
                    try reduce(x, op: op, root: 0)
                }
                assertThrows(.unsupportedReduction(operation: "scan", op: op, scalarType: name)) { try scan(x, op: op) }
            }
        }
    }

    func testUnsupportedReductionMessagesNameOpTypeAndWhatIsSupported() {
        let error = assertThrowsError { try allreduce(Float(1), op: .bitwiseAnd) }
        guard let error else { return }
        XCTAssertEqual(error, .unsupportedReduction(operation: "allreduce", op: .bitwiseAnd, scalarType: "Float"))
        assertMessageNames(error, ["allreduce", "bitwiseAnd", "Float", "signedInteger", "unsignedInteger"])
    }

    func testFloat16ReductionsOfSpecialValues() throws {
        let (sum, _) = try allreduce([Float16(0.25), Float16(-0.5), .infinity, Float16(65504)], op: .sum)
        XCTAssertEqual(sum[0], Float16(0.25) * Float16(size), here)
        XCTAssertEqual(sum[1], Float16(-0.5) * Float16(size), here)
        XCTAssertEqual(sum[2], .infinity, here)
        // 65504 is the largest Float16: twice it overflows to infinity.
        XCTAssertEqual(sum[3], size == 1 ? Float16(65504) : .infinity, here)
        let (minimum, _) = try allreduce(Float16(rank) - 0.5, op: .min)
        XCTAssertEqual(minimum, -0.5)
        let (maximum, _) = try allreduce(Float16(rank) - 0.5, op: .max)
        XCTAssertEqual(maximum, Float16(size - 1) - 0.5)
        let (product, _) = try allreduce(Float16(-2), op: .product)
        XCTAssertEqual(product, Float16(size % 2 == 0 ? 1 : -1) * Float16(1 << size))
    }
}
