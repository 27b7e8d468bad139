// The finite-difference checks that the DifferentiableMPI tests share.
//
// Every rule is checked against central finite differences of a replicated
// scalar loss, in Double: for an output that differs between ranks,
// L = allreduce(Σ_r ⟨w_r, y_r⟩); for an output that is the same on every rank,
// L = ⟨w, y⟩ with the same w everywhere. Every rank steps through the same
// perturbations (each element of each rank in turn, only the owner perturbs),
// so every rank runs the same collectives in the same order. The forward
// derivatives are checked the same way, along a direction that every rank
// perturbs at once.
import DifferentiableMPI
import MPITestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The base of the test classes of differentiation: deterministic values and
/// the finite-difference checks of gradients and differentials.
class DifferentiationTestCase: MPITestCase {
    /// The largest finite-difference error each test allows (relative to the largest gradient element).
    let tolerance = 1e-6

    // MARK: - Values

    /// A deterministic value in [-1, 1] for element `i` of rank `rank`, varied by `salt`.
    static func pseudo(_ rank: Int, _ i: Int, _ salt: Int) -> Double {
        sin(0.7 + 1.3 * Double(rank) + 0.37 * Double(i) + 2.1 * Double(salt))
    }

    /// An array of `pseudo` values of rank `rank`.
    static func pseudoArray(_ shape: [Int], rank: Int, salt: Int) -> ShapedArray<Double> {
        ShapedArray(shape: shape, scalars: (0..<shape.reduce(1, *)).map { pseudo(rank, $0, salt) })
    }

    /// The same weights on every rank.
    static func replicatedWeights(_ shape: [Int], salt: Int) -> ShapedArray<Double> {
        pseudoArray(shape, rank: 0, salt: salt + 1000)
    }

    /// Weights that differ between ranks.
    static func rankWeights(_ shape: [Int], rank: Int, salt: Int) -> ShapedArray<Double> {
        pseudoArray(shape, rank: rank, salt: salt + 2000)
    }

    // MARK: - The finite-difference check

    /// The worst relative error of the gradient of `loss` at this rank's `x`
    /// against central differences, the same on every rank: the largest
    /// elementwise difference over all ranks, divided by the largest
    /// finite-difference gradient element over all ranks.
    func gradientError<X: Differentiable>(
        at x: X, comm: Communicator, h: Double = 1e-3,
        flatten: (X) -> [Double], unflatten: ([Double]) -> X, tangentScalars: (X.TangentVector, Int) -> [Double],
        loss: @differentiable(reverse) (X) -> Double
    ) throws -> Double {
        let base = flatten(x)
        let ad = tangentScalars(gradient(at: x, of: loss), base.count)
        XCTAssertEqual(ad.count, base.count, "gradient size \(here)")
        let (longest, _) = try allreduce(base.count, op: .max, comm: comm)
        var fd = [Double](repeating: 0, count: base.count)
        for owner in 0..<comm.size {
            for i in 0..<longest {
                let mine = comm.rank == owner && i < base.count
                var plus = base, minus = base
                if mine {
                    plus[i] += h
                    minus[i] -= h
                }
                let lp = loss(unflatten(plus))
                let lm = loss(unflatten(minus))
                if mine { fd[i] = (lp - lm) / (2 * h) }
            }
        }
        let localError = zip(ad, fd).map { abs($0 - $1) }.max() ?? 0
        let localScale = fd.map(abs).max() ?? 0
        let (error, _) = try allreduce(localError, op: .max, comm: comm)
        let (scale, _) = try allreduce(localScale, op: .max, comm: comm)
        XCTAssertGreaterThan(scale, 0, "the loss does not depend on the input: the check would prove nothing \(here)")
        return error / max(scale, .leastNormalMagnitude)
    }

    /// Checks the gradient with respect to a ``ShapedArray`` input.
    func checkGradient(
        _ name: String, at x: ShapedArray<Double>, comm: Communicator, h: Double = 1e-3,
        file: StaticString = #filePath, line: UInt = #line,
        loss: @differentiable(reverse) (ShapedArray<Double>) -> Double
    ) throws {
        let shape = x.shape
        let error = try gradientError(
            at: x, comm: comm, h: h, flatten: { $0.scalars }, unflatten: { ShapedArray(shape: shape, scalars: $0) },
            tangentScalars: { g, n in g.materialized(shape: shape).scalars }, loss: loss)
        record(name, error)
        XCTAssertLessThanOrEqual(error, tolerance, "\(name) \(here)", file: file, line: line)
    }

    /// Checks the gradient with respect to a plain-array input.
    func checkGradient(
        _ name: String, at x: [Double], comm: Communicator,
        file: StaticString = #filePath, line: UInt = #line,
        loss: @differentiable(reverse) ([Double]) -> Double
    ) throws {
        let error = try gradientError(
            at: x, comm: comm, flatten: { $0 }, unflatten: { $0 },
            tangentScalars: { g, n in g.base.isEmpty ? [Double](repeating: 0, count: n) : g.base }, loss: loss)
        record(name, error)
        XCTAssertLessThanOrEqual(error, tolerance, "\(name) \(here)", file: file, line: line)
    }

    /// Checks the gradient with respect to a scalar input.
    func checkGradient(
        _ name: String, at x: Double, comm: Communicator,
        file: StaticString = #filePath, line: UInt = #line,
        loss: @differentiable(reverse) (Double) -> Double
    ) throws {
        let error = try gradientError(
            at: x, comm: comm, flatten: { [$0] }, unflatten: { $0[0] }, tangentScalars: { g, _ in [g] }, loss: loss)
        record(name, error)
        XCTAssertLessThanOrEqual(error, tolerance, "\(name) \(here)", file: file, line: line)
    }

    /// Prints the measured error once per check (rank 0), for the record.
    func record(_ name: String, _ error: Double) {
        if rank == 0 && environment("SWIFT_MPI_TEST_VERBOSE") != nil {
            print("finite-difference check \(name) at size \(size): relative error \(error)")
        }
    }

    /// Roots worth checking: the first and the last rank.
    func roots(_ comm: Communicator) -> [Int] { Array(Set([0, comm.size - 1])).sorted() }

    // MARK: - The forward-mode check

    /// The forward derivative along a direction `v` (each rank its own part) against central differences.
    func checkDifferential(
        _ name: String, at x: ShapedArray<Double>, h: Double = 1e-3, comm: Communicator,
        file: StaticString = #filePath, line: UInt = #line,
        _ f: @differentiable(reverse) (ShapedArray<Double>) -> ShapedArray<Double>
    ) throws {
        let v = Self.pseudoArray(x.shape, rank: rank, salt: 140)
        let (y, differential) = valueWithDifferential(at: x, of: f)
        let dy = differential(.init(v)).materialized(shape: y.shape).scalars
        let plus = f(x + h * v), minus = f(x - h * v)
        let fd = zip(plus.scalars, minus.scalars).map { ($0 - $1) / (2 * h) }
        XCTAssertEqual(dy.count, fd.count, "\(name) \(here)", file: file, line: line)
        let (error, _) = try allreduce(zip(dy, fd).map { abs($0 - $1) }.max() ?? 0, op: .max, comm: comm)
        let (scale, _) = try allreduce(fd.map(abs).max() ?? 0, op: .max, comm: comm)
        let relative = error / max(scale, .leastNormalMagnitude)
        if rank == 0 && environment("SWIFT_MPI_TEST_VERBOSE") != nil {
            print("forward-mode check \(name) at size \(size): relative error \(relative)")
        }
        XCTAssertGreaterThan(scale, 0, "\(name) \(here)", file: file, line: line)
        XCTAssertLessThanOrEqual(relative, tolerance, "\(name) \(here)", file: file, line: line)
    }
}
