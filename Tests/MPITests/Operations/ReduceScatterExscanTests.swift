// Tests of ReduceScatterBlock.swift, ReduceScatter.swift and Exscan.swift: every
// scalar type with the ops defined for it, ragged blocks with zero-length ones,
// rank 0's defined exscan result (zeros), and each error case.
import MPI
import MPITestSupport
import XCTest

final class ReduceScatterExscanTests: MPITestCase {
    private let ops = ReductionOp.allCases

    /// What `op` over ranks `0..<upTo` of `reductionValue` gives at `index`.
    private func reduced<T: TestScalar>(_ op: ReductionOp, upTo: Int, index: Int, as type: T.Type) -> T {
        fold((0..<upTo).map { T.reductionValue(op, rank: $0, index: index) }, T.reference(op)!)
    }

    func testReduceScatterBlockEveryTypeAndOp() throws {
        for type in allScalarTypes { try checkReduceScatterBlock(type) }
    }

    private func checkReduceScatterBlock<T: TestScalar>(_ type: T.Type) throws {
        let m = 3
        for op in ops where T.reference(op) != nil {
            let x = ShapedArray(shape: [size, m], scalars: (0..<(size * m)).map { T.reductionValue(op, rank: rank, index: $0) })
            let (result, _) = try reduceScatterBlock(x, op: op)
            XCTAssertEqual(result.shape, [m], here)
            let expected = (0..<m).map { reduced(op, upTo: size, index: rank * m + $0, as: T.self) }
            XCTAssertEqual(bytes(of: result.scalars), bytes(of: expected), "\(op) \(T.self) \(here)")
            let (flat, _) = try reduceScatterBlock(x.scalars, op: op)
            XCTAssertEqual(bytes(of: flat), bytes(of: expected), here)
            var output = [T](repeating: T.make(127), count: m)
            try reduceScatterBlock(x.scalars, into: &output, op: op)
            XCTAssertEqual(bytes(of: output), bytes(of: expected), here)
        }
    }

    func testReduceScatterRaggedCounts() throws {
        // Rank r gets (r * 2) % 3 rows of 2: zero for some ranks.
        let counts = (0..<size).map { ($0 * 2) % 3 }
        let rows = counts.reduce(0, +)
        let x = ShapedArray(shape: [rows, 2], scalars: (0..<(rows * 2)).map { Double(rank * 1000 + $0) })
        let (result, _) = try reduceScatter(x, counts: counts, op: .sum)
        let start = counts.prefix(rank).reduce(0, +) * 2
        let expected = (0..<(counts[rank] * 2)).map { j in (0..<size).reduce(0.0) { $0 + Double($1 * 1000 + start + j) } }
        XCTAssertEqual(result.shape, [counts[rank], 2], here)
        XCTAssertEqual(result.scalars, expected, here)
        let elementCounts = counts.map { $0 * 2 }
        let (flat, _) = try reduceScatter(x.scalars, counts: elementCounts, op: .sum)
        XCTAssertEqual(flat, expected, here)
        var output = [Double](repeating: -1, count: elementCounts[rank])
        try reduceScatter(x.scalars, into: &output, counts: elementCounts, op: .sum)
        XCTAssertEqual(output, expected, here)
        let (maxima, _) = try reduceScatter(x.scalars.map { Int32($0) }, counts: elementCounts, op: .max)
        XCTAssertEqual(maxima, expected.indices.map { Int32((size - 1) * 1000 + start + $0) }, here)
    }

    func testReduceScatterErrors() throws {
        let x = ShapedArray<Double>(repeating: 1, shape: [size + 1, 2])
        assertShapeMismatch(operation: "reduceScatterBlock", argument: "x", expectedContains: ["\(size)"],
                            actualContains: ["\(size + 1)"], here) { try reduceScatterBlock(x, op: .sum) }
        if size > 1 {
            assertShapeMismatch(operation: "reduceScatterBlock", argument: "x", expectedContains: ["\(size)"],
                                actualContains: ["\(2 * size + 1)"], here) { try reduceScatterBlock(Array(x.scalars.dropLast()), op: .sum) }
        }
        assertThrows(.unsupportedReduction(operation: "reduceScatterBlock", op: .bitwiseAnd, scalarType: "Double"), here) {
            try reduceScatterBlock(ShapedArray<Double>(repeating: 1, shape: [size]), op: .bitwiseAnd)
        }
        let counts = [Int](repeating: 1, count: size)
        for (bad, what) in [(counts + [1], "length"), (counts.map { _ in 2 }, "sum"), ([-1] + counts.dropFirst() + [0].prefix(0), "negative")] {
            guard let error = assertThrowsError("\(what) \(here)", { try reduceScatter(x.scalars.prefix(size).map { $0 }, counts: bad, op: .sum) }) else { continue }
            guard case let .invalidArgument(op, argument, _, _) = error else { XCTFail("\(error)"); continue }
            XCTAssertEqual(op, "reduceScatter")
            XCTAssertEqual(argument, "counts")
        }
        // The shaped form's counts are rows of x (size + 1 rows of 2), and its errors say so.
        assertThrows(.invalidArgument(operation: "reduceScatter", argument: "counts",
                                      expected: "row counts that add up to x's \(size + 1) rows (its first axis)",
                                      actual: "\(counts) (sum \(size))"), here) {
            try reduceScatter(x, counts: counts, op: .sum)
        }
        assertThrows(.invalidArgument(operation: "reduceScatter", argument: "counts", expected: "values ≥ 0",
                                      actual: "-1 at index 0"), here) {
            try reduceScatter(x, counts: [-1] + counts.dropFirst(), op: .sum)
        }
        // Rows of no elements: a negative row count is still refused.
        let empty = ShapedArray<Double>(repeating: 1, shape: [size + 1, 0])
        assertThrows(.invalidArgument(operation: "reduceScatter", argument: "counts", expected: "values ≥ 0",
                                      actual: "-1 at index 0"), here) {
            try reduceScatter(empty, counts: [-1] + counts.dropFirst(), op: .sum)
        }
        assertThrows(.unsupportedReduction(operation: "reduceScatter", op: .sum, scalarType: "Bool"), here) {
            try reduceScatter([Bool](repeating: true, count: size), counts: counts, op: .sum)
        }
        // An output of the wrong size on rank 0 only: rank 0 throws after the collective.
        var output = [Double](repeating: 0, count: rank == 0 ? 2 : 1)
        if rank == 0 {
            assertShapeMismatch(operation: "reduceScatter", argument: "output", expectedContains: ["1"],
                                actualContains: ["2"], here) {
                try reduceScatter([Double](repeating: 1, count: size), into: &output, counts: counts, op: .sum)
            }
        } else {
            try reduceScatter([Double](repeating: 1, count: size), into: &output, counts: counts, op: .sum)
            XCTAssertEqual(output, [Double(size)], here)
        }
    }

    // MARK: exscan

    func testExscanEveryTypeAndOp() throws {
        for type in allScalarTypes { try checkExscan(type) }
    }

    private func checkExscan<T: TestScalar>(_ type: T.Type) throws {
        let zero = [UInt8](repeating: 0, count: 4 * MemoryLayout<T>.stride)
        for op in ops where T.reference(op) != nil {
            let x = ShapedArray(shape: [2, 2], scalars: (0..<4).map { T.reductionValue(op, rank: rank, index: $0) })
            let (result, _) = try exscan(x, op: op)
            XCTAssertEqual(result.shape, [2, 2])
            if rank == 0 {
                XCTAssertEqual(bytes(of: result.scalars), zero, "rank 0 gets zeros \(op) \(T.self)")
            } else {
                let expected = (0..<4).map { reduced(op, upTo: rank, index: $0, as: T.self) }
                XCTAssertEqual(bytes(of: result.scalars), bytes(of: expected), "\(op) \(T.self) \(here)")
            }
            var output = [T](repeating: T.make(127), count: 4)
            try exscan(x.scalars, into: &output, op: op)
            XCTAssertEqual(bytes(of: output), bytes(of: result.scalars), here)
            let (flat, _) = try exscan(x.scalars, op: op)
            XCTAssertEqual(bytes(of: flat), bytes(of: result.scalars), here)
            let (one, _) = try exscan(x.scalars[0], op: op)
            XCTAssertEqual(bytes(of: [one]), bytes(of: [result.scalars[0]]), here)
        }
    }

    func testExscanPlusInputIsScan() throws {
        let x = (0..<5).map { Double(rank * 10 + $0) }
        let (exclusive, _) = try exscan(x, op: .sum)
        let (inclusive, _) = try scan(x, op: .sum)
        XCTAssertEqual(zip(exclusive, x).map { $0 + $1 }, inclusive, here)
    }

    func testExscanErrors() throws {
        assertThrows(.unsupportedReduction(operation: "exscan", op: .sum, scalarType: "Bool"), here) {
            try exscan([true], op: .sum)
        }
        var output = [Double](repeating: 0, count: rank == 0 ? 3 : 2)
        if rank == 0 {
            assertShapeMismatch(operation: "exscan", argument: "output", expectedContains: ["2"], actualContains: ["3"],
                                here) { try exscan([1.0, 2.0], into: &output, op: .sum) }
        } else {
            try exscan([1.0, 2.0], into: &output, op: .sum)
            XCTAssertEqual(output, [Double(rank), Double(2 * rank)], here)
        }
    }
}
