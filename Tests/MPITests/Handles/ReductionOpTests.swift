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

    /// Float16 min and max with NaN and signed zeros: the same bits on every rank,
    /// whatever order the library combines in, in allreduce, reduce and scan.
    /// NaN propagates (a NaN at a position on any rank gives a NaN; of several, the
    /// one with the largest bit pattern), and -0.0 is below +0.0.
    func testFloat16MinAndMaxWithNaNGiveTheSameBitsOnEveryRank() throws {
        let signaling = Float16(bitPattern: 0x7D00)
        XCTAssertTrue(signaling.isSignalingNaN)
        /// The value of `rank` at `position`: NaN on rank 0 only, on the last rank only,
        /// on rank 1 only, on even ranks, on every rank, negative and positive NaN on
        /// different ranks, a signalling NaN on the middle rank, +0 and -0, and no NaN.
        func value(_ rank: Int, _ position: Int) -> Float16 {
            let plain = Float16(rank + 1) * (position % 2 == 0 ? 1 : -1)
            switch position {
            case 0: return rank == 0 ? .nan : plain
            case 1: return rank == size - 1 ? .nan : plain
            case 2: return rank == 1 % size ? .nan : plain
            case 3: return rank % 2 == 0 ? .nan : plain
            case 4: return .nan
            case 5: return rank == 0 ? -Float16.nan : rank == size - 1 ? .nan : plain
            case 6: return rank == size / 2 ? signaling : plain
            case 7: return rank % 2 == 0 ? 0 : -0.0
            default: return plain
            }
        }
        let positions = 0..<10
        /// What min or max over ranks 0...last gives at `position`.
        func expected(_ op: ReductionOp, _ position: Int, upTo last: Int) -> Float16 {
            let values = (0...last).map { value($0, position) }
            // NaN propagates: of several NaNs, the one with the largest bit pattern.
            if let nan = values.filter(\.isNaN).max(by: { $0.bitPattern < $1.bitPattern }) { return nan }
            if values.allSatisfy({ $0 == 0 }) {
                // -0 is below +0.
                let hasMinus = values.contains { $0.sign == .minus }, hasPlus = values.contains { $0.sign == .plus }
                return op == .min ? (hasMinus ? -0.0 : 0) : (hasPlus ? 0 : -0.0)
            }
            return op == .min ? values.min()! : values.max()!
        }
        func bits(_ values: [Float16]) -> [UInt16] { values.map(\.bitPattern) }
        let mine = positions.map { value(rank, $0) }
        for op in [ReductionOp.min, .max] {
            let all = positions.map { expected(op, $0, upTo: size - 1) }
            let (result, _) = try allreduce(mine, op: op)
            XCTAssertEqual(bits(result), bits(all), "allreduce \(op) \(here)")
            // Every rank has the same bits.
            let (gathered, _) = try allgather(ShapedArray(result.map(\.bitPattern)))
            for r in 0..<size {
                XCTAssertEqual(Array(gathered.scalars[r * positions.count ..< (r + 1) * positions.count]), bits(result),
                               "allreduce \(op): rank \(r) differs \(here)")
            }
            for root in 0..<size {
                let (reduced, _) = try reduce(mine, op: op, root: root)
                XCTAssertEqual(bits(reduced), bits(rank == root ? all : mine), "reduce \(op) root \(root) \(here)")
            }
            let (prefix, _) = try scan(mine, op: op)
            XCTAssertEqual(bits(prefix), bits(positions.map { expected(op, $0, upTo: rank) }), "scan \(op) \(here)")
            // Many elements: libraries may hand a user-defined op the data in chunks.
            let many = (0..<50_000).map { mine[$0 % positions.count] }
            let (large, _) = try allreduce(many, op: op)
            XCTAssertEqual(bits(large), bits((0..<50_000).map { all[$0 % positions.count] }), "large \(op) \(here)")
        }
    }
}

/// A Float16 reduction as the first call of a process works (its operations are
/// created when MPI is set up), and asking whether an op supports Float16 before
/// that makes no MPI call.
final class ReductionOpFirstUseTests: XCTestCase {
    func testFloat16ReductionAsTheFirstCallOfAProcess() throws {
        guard !MPIRuntime.isInitialized else {
            throw XCTSkip("MPI was initialised before this test; run this class as its own process (Scripts/test does)")
        }
        for op in ReductionOp.allCases {
            XCTAssertEqual(op.isSupported(for: Float16.self), [.sum, .product, .min, .max].contains(op))
        }
        XCTAssertFalse(MPIRuntime.isInitialized, "isSupported(for:) initialised MPI")
        let (maximum, _) = try allreduce(Float16(2.5), op: .max)
        XCTAssertEqual(maximum, 2.5)
        checkLaunchEnvironment()
        let world = Communicator.world
        let (sum, _) = try allreduce([Float16(world.rank), 1], op: .sum)
        XCTAssertEqual(sum, [Float16(world.size * (world.size - 1) / 2), Float16(world.size)])
    }
}
