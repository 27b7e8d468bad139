// Tests of PerRank.swift: perRank against finite differences and exact
// values, and its forward derivative.
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

final class PerRankTests: DifferentiationTestCase {
    /// perRank: a replicated value that meets per-rank data gets the whole
    /// derivative back, so chained allreduces differentiate exactly.
    func testPerRankMakesChainedAllreducesExact() throws {
        let comm = defaultComm
        let w = Self.replicatedWeights([3], salt: 6)
        try checkGradient("allreduce(perRank(allreduce(x)) * x)", at: Self.pseudoArray([3], rank: rank, salt: 7), comm: comm) { x in
            let y = Autodiff.perRank(Autodiff.allreduce(x, op: .sum, comm: comm), comm: comm)
            return Autodiff.allreduce(y * x, op: .sum, comm: comm).dot(w)
        }
        let g = gradient(at: ShapedArray<Double>([1, 2])) { x in
            Autodiff.allreduce(Autodiff.perRank(Autodiff.allreduce(x, op: .sum, comm: comm), comm: comm), op: .sum, comm: comm).sum()
        }
        XCTAssertEqual(g.scalars, [Double(size), Double(size)], here)
        // The plain-array and scalar forms; the scalar one is the data-parallel
        // recipe with replicated parameters: the gradient of the whole loss.
        let a = gradient(at: [1.0, 2.0]) { a in
            let y = Autodiff.perRank(a, comm: comm)
            return Autodiff.allreduce(y[0] * 3 + y[1], op: .sum, comm: comm)
        }
        XCTAssertEqual(a.base, [3 * Double(size), Double(size)], here)
        let samples = [Double(rank + 1), Double(2 * rank)]
        let s = gradient(at: 0.5) { w in
            let v = Autodiff.perRank(w, comm: comm)
            return Autodiff.allreduce(v * v * samples[0] + v * samples[1], op: .sum, comm: comm)
        }
        // d/dw Σ_r (w² (r + 1) + 2 r w) at w = 0.5: Σ_r ((r + 1) + 2 r).
        var expected = 0.0
        for r in 0..<size { expected += Double(3 * r + 1) }
        XCTAssertEqual(s, expected, accuracy: 1e-12, here)
    }

    /// The forward derivative of perRank is the identity, in every form, without communicating.
    func testForwardDerivativeIsTheIdentity() throws {
        let comm = defaultComm
        let x = Self.pseudoArray([2, 2], rank: rank, salt: 190), v = Self.pseudoArray([2, 2], rank: rank, salt: 191)
        let (y, dy) = Autodiff.jvpPerRank(x, comm: comm)
        XCTAssertEqual(y, x, here)
        XCTAssertEqual(dy(.init(v)), .init(v), here)
        XCTAssertEqual(dy(.zero), .zero, here)
        let (a, da) = Autodiff.jvpPerRank(x.scalars, comm: comm)
        XCTAssertEqual(a, x.scalars, here)
        XCTAssertEqual(da(.init(v.scalars)).base, v.scalars, here)
        let (s, ds) = Autodiff.jvpPerRank(Double(rank), comm: comm)
        XCTAssertEqual(s, Double(rank), here)
        XCTAssertEqual(ds(3), 3, here)
    }
}
