// Tests of Autodiff+PointToPoint.swift: the differentiable sendrecv, against
// central finite differences (see DifferentiationTestCase), in forward mode,
// and in mpi4jax's case.
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

final class AutodiffPointToPointTests: DifferentiationTestCase {
    /// mpi4jax: for (sendrecv(v, v, other, other) * (rank + 1)).sum() on 2 ranks,
    /// rank 0's gradient is 2 and rank 1's is 1. Run on pairs of ranks (0, 1),
    /// (2, 3); a rank left without a partner (at sizes 1 and 3) has nothing to check.
    func testSendrecvPairGradient() throws {
        let pair = try world.split(color: rank / 2, key: rank)
        if pair.size == 2 {
            let me = pair.rank, other = 1 - me
            let v = ShapedArray<Double>([1, 1, 1])
            let g = gradient(at: v) { v in
                (Double(me + 1) * Autodiff.sendrecv(v, v, source: other, dest: other, comm: pair)).sum()
            }
            XCTAssertEqual(g.scalars, Array(repeating: Double(2 - me), count: 3), here)
        } else {
            XCTAssertTrue(size == 1 || (size == 3 && rank == 2), "only a rank without a partner has nothing to check \(here)")
        }
    }

    func testSendrecvFiniteDifferences() throws {
        let comm = defaultComm
        let (left, right) = ((rank + size - 1) % size, (rank + 1) % size)
        // A ring: send 4 elements to the right, receive the left neighbour's 4
        // as a 2 x 2 array, so the send and receive shapes differ.
        let w = Self.rankWeights([2, 2], rank: rank, salt: 100)
        let x = Self.pseudoArray([4], rank: rank, salt: 101)
        try checkGradient("sendrecv ring (ShapedArray)", at: x, comm: comm) { x in
            let y = Autodiff.sendrecv(x, ShapedArray(repeating: 0, shape: [2, 2]), source: left, dest: right, sendtag: 5, recvtag: 5, comm: comm)
            return Autodiff.allreduce(y.dot(w), op: .sum, comm: comm)
        }
        // Wildcards: the transpose uses the source and tag of the message that arrived.
        let tag = 3 + rank
        try checkGradient("sendrecv anySource anyTag (ShapedArray)", at: x, comm: comm) { x in
            let y = Autodiff.sendrecv(x, ShapedArray(repeating: 0, shape: [2, 2]), source: anySource, dest: right, sendtag: tag, comm: comm)
            return Autodiff.allreduce(y.dot(w), op: .sum, comm: comm)
        }
        let w1 = Self.rankWeights([3], rank: rank, salt: 102)
        try checkGradient("sendrecv ring ([T])", at: Self.pseudoArray([3], rank: rank, salt: 103).scalars, comm: comm) { x in
            let y = Autodiff.sendrecv(x, [0, 0, 0], source: right, dest: left, comm: comm)
            return Autodiff.allreduce(ShapedArray(shape: [3], scalars: y).dot(w1), op: .sum, comm: comm)
        }
        let w0 = Self.pseudo(rank, 0, 104)
        try checkGradient("sendrecv ring (scalar)", at: Self.pseudo(rank, 0, 105), comm: comm) { x in
            Autodiff.allreduce(w0 * Autodiff.sendrecv(x, 0, source: left, dest: right, comm: comm), op: .sum, comm: comm)
        }
    }

    /// A line of processes with `procNull` past its ends: what is sent there is lost (its cotangent is
    /// zero), and what comes from there is zero (the transpose receives zero from there too).
    func testSendrecvWithProcNullAtTheEnds() throws {
        let comm = defaultComm
        let below = rank == 0 ? procNull : rank - 1, above = rank == size - 1 ? procNull : rank + 1
        let w = Self.rankWeights([3], rank: rank, salt: 110)
        let x = Self.pseudoArray([3], rank: rank, salt: 111)
        // At one process both ends are procNull and the loss is constant: only the gradient below.
        if size > 1 { try checkGradient("sendrecv up a line (procNull at the ends)", at: x, comm: comm) { x in
            let y = Autodiff.sendrecv(x, ShapedArray(repeating: 0, shape: [3]), source: below, dest: above, comm: comm)
            return Autodiff.allreduce(y.dot(w), op: .sum, comm: comm)
        } }
        // The gradient itself: x goes to the process above, whose weight it meets; nothing at the top.
        let g = gradient(at: x) { x in
            Autodiff.allreduce(Autodiff.sendrecv(x, ShapedArray(repeating: 0, shape: [3]), source: below, dest: above,
                                                 comm: comm).dot(w), op: .sum, comm: comm)
        }
        let wAbove = Self.rankWeights([3], rank: rank + 1, salt: 110)
        XCTAssertEqual(g.scalars, rank == size - 1 ? [0, 0, 0] : wAbove.scalars, here)
    }

    /// mpi4jax gives `recvbuf` the cotangent `zeros_like(recvbuf)`: zeros of its shape,
    /// not a shapeless zero.
    func testTheCotangentOfRecvbufIsZerosOfItsShape() throws {
        let comm = defaultComm
        let (left, right) = ((rank + size - 1) % size, (rank + 1) % size)
        let x = ShapedArray<Double>([1, 2, 3, 4]), template = ShapedArray<Double>(repeating: 7, shape: [2, 2])
        let (_, gTemplate) = gradient(at: x, template) { x, template in
            Autodiff.sendrecv(x, template, source: left, dest: right, comm: comm).sum()
        }
        XCTAssertEqual(gTemplate.shape, [2, 2], here)
        XCTAssertEqual(gTemplate.scalars, [0, 0, 0, 0], here)
        let (_, gArray) = gradient(at: [1.0, 2, 3], [5.0, 5, 5]) { x, template in
            let y = Autodiff.sendrecv(x, template, source: left, dest: right, comm: comm)
            return y[0] + y[1] + y[2]
        }
        XCTAssertEqual(gArray.base, [0, 0, 0], here)
        try barrier(comm: comm)
    }

    // MARK: - Forward mode

    /// valueWithDifferential on a function whose forward derivative is the package's JVP.
    func testForwardModeMatchesFiniteDifferences() throws {
        let comm = defaultComm
        try checkDifferential("sendrecv", at: Self.pseudoArray([3], rank: rank, salt: 150), comm: comm, probeSendrecv)
    }

    /// The JVP of the plain-array form, called directly.
    func testForwardDerivativeOfArrayForm() throws {
        let comm = defaultComm
        let left: Int = (rank + size - 1) % size
        let right: Int = (rank + 1) % size
        let mine: [Double] = [Double(rank)]
        let (received, dreceived) = Autodiff.jvpSendrecv(mine, [0.0], source: left, dest: right, sendtag: 0, recvtag: anyTag, comm: comm)
        XCTAssertEqual(received, [Double(left)], here)
        let tangent = Array<Double>.TangentVector([Double(10 * rank)])
        XCTAssertEqual(dreceived(tangent, .zero).base, [Double(10 * left)], here)
    }
}

// A function whose forward derivative is the package's JVP, for valueWithDifferential.

private var ringSource: Int { (Communicator.world.rank + Communicator.world.size - 1) % Communicator.world.size }
private var ringDest: Int { (Communicator.world.rank + 1) % Communicator.world.size }

private func probeSendrecv(_ x: ShapedArray<Double>) -> ShapedArray<Double> {
    Autodiff.sendrecv(x, x, source: ringSource, dest: ringDest)
}
@derivative(of: probeSendrecv)
private func jvpProbeSendrecv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, differential: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    let (value, differential) = Autodiff.jvpSendrecv(x, x, source: ringSource, dest: ringDest, sendtag: 0, recvtag: anyTag, comm: nil)
    return (value, { t in differential(t, t) })
}
@derivative(of: probeSendrecv)
private func vjpProbeSendrecv(_ x: ShapedArray<Double>) -> (value: ShapedArray<Double>, pullback: (ShapedArray<Double>.TangentVector) -> ShapedArray<Double>.TangentVector) {
    let (value, pullback) = Autodiff.vjpSendrecv(x, x, source: ringSource, dest: ringDest, sendtag: 0, recvtag: anyTag, comm: nil)
    return (value, { v in let (s, r) = pullback(v); return s + r })
}
