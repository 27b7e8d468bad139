// Tests of requests below MPI_THREAD_SERIALIZED (Sources/MPI/Requests/ProgressEngine.swift,
// waitOnMainActor; PendingOperation.swift, the orphaned requests): `value()` waits on the main
// actor, and a request dropped or completed on a thread that may not call MPI stays alive, with what
// MPI reads and writes for it, until MPI's main thread sees it complete. Runs in a process of its own
// (Scripts/test launches every class alone), which it initialises at MPI_THREAD_FUNNELED.
@testable import MPI
import Foundation
import MPITestSupport
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class FunneledRequestTests: XCTestCase {
    @MainActor
    func testRequestsAtTheFunneledLevel() async throws {
        try requireOwnProcess()
        setenv("SWIFT_MPI_THREAD_LEVEL", "funneled", 1)
        defer { unsetenv("SWIFT_MPI_THREAD_LEVEL") }
        XCTAssertEqual(MPIRuntime.threadLevel, .funneled)  // initialises MPI on this, the main, thread
        let comm = try Communicator.default
        let (rank, size) = (comm.rank, comm.size)
        let (left, right) = ringNeighbours(rank: rank, size: size)

        // value() from a task: no progress engine at this level; the wait runs on the main actor.
        let sum = try await iallreduce(ShapedArray([Double(rank)]), op: .sum).value()
        XCTAssertEqual(sum, ShapedArray([Double((0..<size).reduce(0, +))]))

        // A receive handed to another thread, whose wait throws: MPI's main thread keeps it (and its
        // template's result storage) and polls it at its calls until its message has come.
        let receive = RequestSlot(try irecv(ShapedArray<Int32>([0, 0]), source: left, tag: 70))
        // A collective dropped on another thread without a wait.
        let collective = RequestSlot(try iallreduce([Double(rank), 1], op: .sum))
        let thrown = Mutex<MPIError?>(nil)
        runOnJoinedThreads(1) { _ in
            guard let request = receive.take() else { return }
            do throws(MPIError) { _ = try request.wait() } catch { thrown.withLock { $0 = error } }
            _ = collective.take()
        }
        guard case .threadLevel(let operation, let provided, _)? = thrown.withLock({ $0 }) else {
            return XCTFail("expected MPIError.threadLevel, got \(String(describing: thrown.withLock { $0 }))")
        }
        XCTAssertEqual(operation, "recv")
        XCTAssertEqual(provided, .funneled)
        XCTAssertEqual(orphanedRequests.withLock { $0.count }, 2, "both are kept for MPI's main thread")

        // The main thread's calls poll them: the receive's message comes with this send.
        try isend(ShapedArray<Int32>([Int32(rank), 5]), dest: right, tag: 70).wait()
        let deadline = Date().addingTimeInterval(20)
        while orphanedRequests.withLock({ $0.count }) > 0 && Date() < deadline {
            _ = try iprobe(Int32.self, source: left, tag: 71, comm: comm)
        }
        XCTAssertEqual(orphanedRequests.withLock { $0.count }, 0, "MPI's main thread completed both")
        // The orphaned receive took its message, and every rank is still in step.
        XCTAssertNil(try iprobe(Int32.self, source: left, tag: 70, comm: comm))
        let (after, _) = try allreduce(2, op: .sum)
        XCTAssertEqual(after, 2 * size)

        // No progress engine at this level, even when receives are queued while another thread's call
        // (which then throws threadLevel) counts itself in progress: woken then, the engine called MPI
        // from its own thread, and MPICH's UCX aborted (an audit, 3 of 3 runs).
        let grid = try XCTUnwrap(try comm.cartesian(dimensions: [size], periodic: [true]))
        final class Worker: @unchecked Sendable {
            let stop = Atomic<Bool>(false)
            let done = DispatchSemaphore(value: 0)
            let refusals = Atomic<Int>(0)
        }
        let worker = Worker()
        Thread {
            while !worker.stop.load(ordering: .relaxed) {
                do throws(MPIError) {
                    _ = try grid.coordinates(of: 0)
                } catch {
                    if case .threadLevel = error { worker.refusals.add(1, ordering: .relaxed) }
                }
            }
            worker.done.signal()
        }.start()
        for i in 0..<2_000 {
            let request = try irecv([Int32(0)], source: rank, tag: 91, comm: comm)
            try send([Int32(i)], dest: rank, tag: 91, comm: comm)
            let value = try request.wait()
            XCTAssertEqual(value, [Int32(i)])
        }
        worker.stop.store(true, ordering: .relaxed)
        worker.done.wait()
        XCTAssertGreaterThan(worker.refusals.load(ordering: .relaxed), 0)
        XCTAssertFalse(ProgressEngine.shared.started.load(ordering: .relaxed), "the engine started at .funneled")
    }
}

/// A request handed from one thread to another.
private final class RequestSlot<Value: Sendable>: Sendable {
    private let request: Mutex<Request<Value>?>
    init(_ request: consuming Request<Value>) { self.request = Mutex(request) }
    /// The request, leaving the slot empty.
    func take() -> Request<Value>? { request.withLock { $0.take() } }
}
