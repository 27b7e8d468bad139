// Tests of PullbackChecks.swift: the agreement before each collective pullback,
// a skipped pullback, a primitive mismatch, and the watchdog. The test hooks of
// PullbackChecks replace stopping the process and printing.
import Synchronization
@testable import DifferentiableMPI
import MPITestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class PullbackChecksTests: DifferentiationTestCase {
    /// A thread-safe list of reports.
    final class Reports: Sendable {
        private let messages = Mutex<[String]>([])
        func append(_ message: String) { messages.withLock { $0.append(message) } }
        var all: [String] { messages.withLock { $0 } }
    }

    private func withPullbackChecks(timeout: Double, _ body: (Reports, Reports) throws -> Void) rethrows {
        let mismatches = Reports(), timeouts = Reports()
        PullbackChecks.resetCounts()
        PullbackChecks.setHandlers(mismatch: { mismatches.append($0) }, timeout: { timeouts.append($0) })
        let (wasEnabled, oldTimeout) = (PullbackChecks.isEnabled, PullbackChecks.timeout)
        PullbackChecks.isEnabled = true
        PullbackChecks.timeout = timeout
        defer {
            PullbackChecks.isEnabled = wasEnabled
            PullbackChecks.timeout = oldTimeout
            PullbackChecks.resetCounts()
        }
        try body(mismatches, timeouts)
    }

    /// With every rank in the same pullbacks, the checks agree and the gradients are unchanged.
    func testPullbackChecksPassWhenEveryRankRunsThePullbacks() throws {
        let comm = defaultComm
        let w = Self.rankWeights([2 * size], rank: rank, salt: 180)
        let x = Self.pseudoArray([size, 2], rank: rank, salt: 181)
        let (flat, last) = (2 * size, size - 1)
        let loss: @differentiable(reverse) (ShapedArray<Double>) -> Double = { x in
            let a = Autodiff.alltoall(x, comm: comm)
            let p = Autodiff.scan(a, op: .sum, comm: comm).reshaped(to: [flat])
            let r = Autodiff.reduce(p, op: .sum, root: last, comm: comm)
            let g = Autodiff.gather(r, root: 0, comm: comm)
            let s = Autodiff.scatter(g, root: 0, comm: comm)
            return Autodiff.allreduce(s.dot(w), op: .sum, comm: comm)
        }
        let unchecked = gradient(at: x, of: loss)
        withPullbackChecks(timeout: 30) { mismatches, timeouts in
            let checked = gradient(at: x, of: loss)
            XCTAssertEqual(checked, unchecked, here)
            XCTAssertEqual(mismatches.all, [], here)
            XCTAssertEqual(timeouts.all, [], here)
        }
    }

    /// A rank that skipped a collective pullback is caught at the next one, on every rank.
    func testPullbackChecksReportASkippedPullback() throws {
        let comm = defaultComm
        withPullbackChecks(timeout: 30) { mismatches, _ in
            if rank == size - 1 { PullbackChecks.simulateSkippedPullback(on: comm) }
            let (_, pullback) = valueWithPullback(at: ShapedArray<Double>([1, 2])) { x in
                Autodiff.gather(x, root: 0, comm: comm)
            }
            _ = pullback(.zeros(shape: rank == 0 ? [size, 2] : [2]))
            let reports = mismatches.all
            if size > 1 {
                XCTAssertEqual(reports.count, 1, here)
                let message = reports.first ?? ""
                for piece in ["rank \(rank)", "pullback of gather", "#1 to #2", "skipped a pullback"] {
                    XCTAssertTrue(message.contains(piece), "'\(message)' lacks '\(piece)' \(here)")
                }
            } else {
                XCTAssertEqual(reports, [], "one rank cannot disagree with itself \(here)")
            }
        }
    }

    /// Ranks in different primitives' pullbacks with the same number disagree too.
    func testPullbackChecksCompareThePrimitives() {
        let comm = defaultComm
        let mine = rank == 0 ? "gather" : "scan"
        let message = PullbackChecks.disagreement(operation: mine, sequence: 1, comm: comm)
        if size > 1 {
            XCTAssertNotNil(message, here)
            for piece in ["rank \(rank)", "pullback of \(mine)", "#1 to #1", "gather and scan"] {
                XCTAssertTrue(message?.contains(piece) ?? false, "'\(message ?? "")' lacks '\(piece)' \(here)")
            }
        } else {
            XCTAssertNil(message, here)
        }
        XCTAssertNil(PullbackChecks.disagreement(operation: "reduce", sequence: 7, comm: comm), here)
    }

    /// A rank that waits in a pullback for another rank reports where it waits, and then completes.
    func testPullbackWatchdogReportsWhereARankWaits() throws {
        let comm = defaultComm
        try withPullbackChecks(timeout: 0.2) { _, timeouts in
            let (_, pullback) = valueWithPullback(at: ShapedArray<Double>([1, 2, 3])) { x in
                Autodiff.scan(x, op: .sum, comm: comm)
            }
            // Rank 0 arrives late to the pullback; the others wait for it.
            if rank == 0 { usleep(1_000_000) }
            let g = pullback(.init(ShapedArray<Double>([1, 1, 1])))
            XCTAssertEqual(g.scalars, Array(repeating: Double(size - rank), count: 3), here)
            let reports = timeouts.all
            if rank != 0 {
                XCTAssertFalse(reports.isEmpty, "rank \(rank) waited 1 s with a timeout of 0.2 s \(here)")
                let message = reports.first ?? ""
                for piece in ["rank \(rank)", "pullback of scan", "#1"] {
                    XCTAssertTrue(message.contains(piece), "'\(message)' lacks '\(piece)' \(here)")
                }
            }
            try barrier(comm: comm)
        }
    }
}
