// Tests of Rules.swift: the rules on a sub-communicator, and the zero
// cotangent that every rule materialises before it communicates.
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

final class RulesTests: DifferentiationTestCase {
    /// A sub-communicator: every rule on the ranks of one half of the world.
    func testRulesOnASubCommunicator() throws {
        let half = try world.split(color: rank % 2, key: -rank)
        let me = half.rank, n = half.size
        let w = Self.rankWeights([2], rank: me, salt: 110)
        try checkGradient("scan and reduce on a split communicator with the ranks reversed", at: Self.pseudoArray([2], rank: me, salt: 111), comm: half) { x in
            Autodiff.allreduce(Autodiff.reduce(Autodiff.scan(x, op: .sum, comm: half), op: .sum, root: n - 1, comm: half).dot(w),
                               op: .sum, comm: half)
        }
    }

    /// A rank whose result does not reach its loss gets a symbolic zero
    /// cotangent; the pullback turns it into zeros of the right shape before it communicates.
    func testZeroCotangentIsMaterialisedBeforeCommunicating() throws {
        let comm = defaultComm
        for root in roots(comm) {
            let w = Self.rankWeights([size, 2], rank: rank, salt: 120)
            try checkGradient("gather root \(root), output used on the root only", at: Self.pseudoArray([2], rank: rank, salt: 121), comm: comm) { x in
                let y = Autodiff.gather(x, root: root, comm: comm)
                var local = 0.0
                if comm.rank == root { local = y.dot(w) }
                return Autodiff.allreduce(local, op: .sum, comm: comm)
            }
            try checkGradient("reduce root \(root), output used on the root only", at: Self.pseudoArray([2], rank: rank, salt: 122), comm: comm) { x in
                let y = Autodiff.reduce(x, op: .sum, root: root, comm: comm)
                var local = 0.0
                if comm.rank == root { local = y.sum() }
                return Autodiff.allreduce(local, op: .sum, comm: comm)
            }
            try checkGradient("scatter root \(root), output used off the root only", at: Self.pseudoArray(rank == root ? [size, 2] : [2], rank: rank, salt: 123), comm: comm) { x in
                let y = Autodiff.scatter(x, root: root, comm: comm)
                var local = 0.0
                if comm.rank != root || comm.size == 1 { local = y.sum() }
                return Autodiff.allreduce(local, op: .sum, comm: comm)
            }
        }
        // The same for a plain array: the empty view is the zero tangent.
        try checkGradient("scan ([T]), output used on rank 0 only", at: Self.pseudoArray([2], rank: rank, salt: 124).scalars, comm: comm) { x in
            let y = Autodiff.scan(x, op: .sum, comm: comm)
            var local = 0.0
            if comm.rank == 0 { local = y[0] + 2 * y[1] }
            return Autodiff.allreduce(local, op: .sum, comm: comm)
        }
    }
}
