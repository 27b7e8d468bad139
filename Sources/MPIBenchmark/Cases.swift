import CMPI
import CMPIBenchmarks
import Dispatch
import MPI
import Synchronization

/// An error of the benchmark itself (as opposed to a usage error).
struct BenchmarkError: Error, CustomStringConvertible {
    /// What went wrong.
    var description: String
}

/// One timed implementation of one primitive at one message size: buffers
/// made once, then repeated samples.
protocol BenchmarkCase {
    /// Which implementation this is.
    var implementation: Implementation { get }
    /// One sample: a barrier, then the time of `iterations` iterations, in
    /// seconds per call.
    func sample(iterations: Int) throws -> Double
}

extension BenchmarkCase {
    /// The ping-pong and pair-exchange partner of this rank, or `nil` when it idles: the C reference's
    /// choice (`cmpib_case_partner`), so that both pair the same ranks.
    static func partner(of primitive: Primitive, comm: Communicator) -> Int? {
        let partner = cmpib_case_partner(primitive.cOp, Int32(comm.rank), Int32(comm.size))
        return partner >= 0 ? Int(partner) : nil
    }
}

/// A case of the C reference benchmark (`cmpib_case`).
final class CReferenceCase: BenchmarkCase {
    let implementation: Implementation
    private let handle: OpaquePointer

    /// Allocates and fills the C buffers of `primitive` at `bytes` on `comm`.
    init(_ primitive: Primitive, bytes: Int, implementation: Implementation, comm: Communicator) throws {
        precondition(implementation.isC)
        let alloc = implementation == .cHuge ? CMPIB_ALLOC_HUGEPAGE : CMPIB_ALLOC_MALLOC
        guard let handle = cmpib_case_create(primitive.cOp, bytes, alloc, comm.handle) else {
            throw BenchmarkError(description: "cannot create the C case \(primitive.rawValue) at \(bytes) B")
        }
        self.implementation = implementation
        self.handle = handle
    }

    deinit { cmpib_case_destroy(handle) }

    func sample(iterations: Int) throws -> Double {
        var seconds = 0.0
        let code = cmpib_case_sample(handle, Int32(clamping: iterations), &seconds)
        guard code == MPI_SUCCESS else { throw BenchmarkError(description: "C reference: MPI error \(code)") }
        return seconds
    }

    /// The profiled loop: the same calls, no barrier, no timing.
    func profileLoop(iterations: Int) throws {
        let code = cmpib_profile_loop(handle, Int32(clamping: iterations))
        guard code == MPI_SUCCESS else { throw BenchmarkError(description: "C reference: MPI error \(code)") }
    }
}

/// A case of the Swift library, called the way a user calls it: the public,
/// result-returning functions on `ShapedArray<Double>`, with the default
/// communicator (`comm: nil`) and no explicit token.
final class SwiftCase: BenchmarkCase {
    let implementation: Implementation = .swift
    private let primitive: Primitive
    private let rank: Int
    /// The ping-pong and pair-exchange partner, or `nil` when this rank idles.
    private let partner: Int?
    /// The communicator the barrier between samples runs on (the library's default one).
    private let barrierComm: MPI_Comm
    /// The input: the send buffer of every primitive.
    private let input: ShapedArray<Double>
    /// The receive template of recv and sendrecv.
    private let template: ShapedArray<Double>
    /// The 1-D periodic grid of neighborAlltoall (made collectively with the case), else `nil`.
    private let grid: Communicator?

    /// Makes the input arrays of `primitive` at `bytes` per block on `comm`,
    /// which must be `Communicator.default`.
    init(_ primitive: Primitive, bytes: Int, comm: Communicator) {
        self.primitive = primitive
        rank = comm.rank
        partner = Self.partner(of: primitive, comm: comm)
        barrierComm = comm.handle
        let count = bytes / MemoryLayout<Double>.stride
        let value = Double(comm.rank + 1)
        grid = neighborGrid(primitive, comm)
        switch primitive {
        case .alltoall, .reduceScatterBlock:
            input = ShapedArray(repeating: value, shape: [comm.size, count])
        case .neighborAlltoall:
            input = ShapedArray(repeating: value, shape: [2, count])
        case .scatter:
            input = comm.rank == 0
                ? ShapedArray(repeating: value, shape: [comm.size, count])
                : ShapedArray(repeating: 0, shape: [count])
        case .barrier:
            input = ShapedArray(repeating: value, shape: [0])
        default:
            input = ShapedArray(repeating: value, shape: [count])
        }
        template = ShapedArray(repeating: 0, shape: [count])
    }

    func sample(iterations: Int) throws -> Double {
        let code = cmpib_barrier(barrierComm)
        guard code == MPI_SUCCESS else { throw BenchmarkError(description: "barrier: MPI error \(code)") }
        let start = cmpib_wtime()
        try loop(iterations: iterations)
        let end = cmpib_wtime()
        return (end - start) / Double(iterations * primitive.callsPerIteration)
    }

    /// The timed loop, shaped like the C one: one switch, then a tight loop of
    /// one library call, whose result is dropped (and so freed) every time.
    @inline(never)
    func loop(iterations: Int) throws(MPIError) {
        let x = input
        switch primitive {
        case .allgather:
            for _ in 0..<iterations { _ = try allgather(x) }
        case .allreduce:
            for _ in 0..<iterations { _ = try allreduce(x, op: .sum) }
        case .alltoall:
            for _ in 0..<iterations { _ = try alltoall(x) }
        case .barrier:
            for _ in 0..<iterations { _ = try barrier() }
        case .bcast:
            for _ in 0..<iterations { _ = try bcast(x, root: 0) }
        case .gather:
            for _ in 0..<iterations { _ = try gather(x, root: 0) }
        case .reduce:
            for _ in 0..<iterations { _ = try reduce(x, op: .sum, root: 0) }
        case .scan:
            for _ in 0..<iterations { _ = try scan(x, op: .sum) }
        case .scatter:
            for _ in 0..<iterations { _ = try scatter(x, root: 0) }
        case .allgatherv:
            for _ in 0..<iterations { _ = try allgatherv(x) }
        case .reduceScatterBlock:
            for _ in 0..<iterations { _ = try reduceScatterBlock(x, op: .sum) }
        case .exscan:
            for _ in 0..<iterations { _ = try exscan(x, op: .sum) }
        case .pingpong:
            guard let peer = partner else { return }
            let t = template
            if rank % 2 == 0 {
                for _ in 0..<iterations {
                    _ = try send(x, dest: peer, tag: 0)
                    _ = try recv(t, source: peer, tag: 0)
                }
            } else {
                for _ in 0..<iterations {
                    _ = try recv(t, source: peer, tag: 0)
                    _ = try send(x, dest: peer, tag: 0)
                }
            }
        case .sendrecv:
            guard let peer = partner else { return }
            let t = template
            for _ in 0..<iterations {
                _ = try sendrecv(x, t, source: peer, dest: peer, sendtag: 0, recvtag: 0)
            }
        case .neighborAlltoall:
            let g = grid!
            for _ in 0..<iterations { _ = try neighborAlltoall(x, comm: g) }
        case .iallreduce:
            for _ in 0..<iterations { _ = try iallreduce(x, op: .sum).wait() }
        case .iexchange:
            guard let peer = partner else { return }
            let t = template
            for _ in 0..<iterations {
                let receive = try irecv(t, source: peer, tag: 0)
                let send = try isend(x, dest: peer, tag: 0)
                _ = try receive.wait()
                try send.wait()
            }
        }
    }
}

/// A case of the Swift library's allocation-free `into:` variants: the same
/// calls as ``SwiftCase`` writing into a caller-owned `ShapedArray<Double>`
/// made once (bcast uses `bcast(inPlace:)`; send and barrier have no result,
/// so ping-pong pairs `send` with `recv(into:)` and barrier has no such case).
final class SwiftIntoCase: BenchmarkCase {
    let implementation: Implementation = .swiftInto
    private let primitive: Primitive
    private let rank: Int
    private let partner: Int?
    private let barrierComm: MPI_Comm
    private let input: ShapedArray<Double>
    /// The caller-owned output, moved out while a loop runs so that it stays uniquely referenced.
    private var output: ShapedArray<Double>
    /// The 1-D periodic grid of neighborAlltoall (made collectively with the case), else `nil`.
    private let grid: Communicator?
    private let placeholder = ShapedArray<Double>(repeating: 0, shape: [0])
    /// allgatherv's counts: every rank's block of the same count.
    private let counts: [Int]

    /// Whether the primitive has an `into:` variant (every one but barrier).
    static func supports(_ primitive: Primitive) -> Bool {
        primitive != .barrier
    }

    /// Makes the input and output arrays of `primitive` at `bytes` per block
    /// on `comm`, which must be `Communicator.default`.
    init(_ primitive: Primitive, bytes: Int, comm: Communicator) {
        precondition(Self.supports(primitive))
        self.primitive = primitive
        rank = comm.rank
        partner = Self.partner(of: primitive, comm: comm)
        barrierComm = comm.handle
        let count = bytes / MemoryLayout<Double>.stride
        let value = Double(comm.rank + 1)
        let isRoot = comm.rank == 0
        counts = [Int](repeating: count, count: comm.size)
        grid = neighborGrid(primitive, comm)
        switch primitive {
        case .alltoall, .reduceScatterBlock:
            input = ShapedArray(repeating: value, shape: [comm.size, count])
        case .neighborAlltoall:
            input = ShapedArray(repeating: value, shape: [2, count])
        case .scatter:
            input = isRoot ? ShapedArray(repeating: value, shape: [comm.size, count]) : ShapedArray(repeating: 0, shape: [0])
        default:
            input = ShapedArray(repeating: value, shape: [count])
        }
        switch primitive {
        case .allgather, .alltoall, .allgatherv:
            output = ShapedArray(repeating: 0, shape: [comm.size, count])
        case .neighborAlltoall:
            output = ShapedArray(repeating: 0, shape: [2, count])
        case .gather:
            output = ShapedArray(repeating: 0, shape: isRoot ? [comm.size, count] : [0])
        case .reduce:
            output = ShapedArray(repeating: 0, shape: isRoot ? [count] : [0])
        case .bcast:
            output = ShapedArray(repeating: value, shape: [count])
        default:
            output = ShapedArray(repeating: 0, shape: [count])
        }
    }

    func sample(iterations: Int) throws -> Double {
        let code = cmpib_barrier(barrierComm)
        guard code == MPI_SUCCESS else { throw BenchmarkError(description: "barrier: MPI error \(code)") }
        var out = takeOutput()
        defer { output = out }
        let start = cmpib_wtime()
        try loop(iterations: iterations, output: &out)
        let end = cmpib_wtime()
        return (end - start) / Double(iterations * primitive.callsPerIteration)
    }

    /// Moves the output out of the object, leaving it the only reference.
    func takeOutput() -> ShapedArray<Double> {
        defer { output = placeholder }
        return output
    }

    /// The timed loop: one switch, then a tight loop of one `into:` call.
    @inline(never)
    func loop(iterations: Int, output out: inout ShapedArray<Double>) throws(MPIError) {
        let x = input
        switch primitive {
        case .allgather:
            for _ in 0..<iterations { try allgather(x, into: &out) }
        case .allreduce:
            for _ in 0..<iterations { try allreduce(x, into: &out, op: .sum) }
        case .alltoall:
            for _ in 0..<iterations { try alltoall(x, into: &out) }
        case .barrier:
            preconditionFailure("\(primitive.rawValue) has no into: variant")
        case .iallreduce:
            // The request takes the output and gives it back: no allocation per operation but the request's.
            // A local that nothing else references: `consume` hands its storage over without a copy.
            var buffer = out
            out = placeholder
            for _ in 0..<iterations { buffer = try iallreduce(x, into: consume buffer, op: .sum).wait() }
            out = buffer
        case .iexchange:
            guard let peer = partner else { return }
            var buffer = out
            out = placeholder
            for _ in 0..<iterations {
                let receive = try irecv(into: consume buffer, source: peer, tag: 0)
                let send = try isend(x, dest: peer, tag: 0)
                buffer = try receive.wait()
                try send.wait()
            }
            out = buffer
        case .bcast:
            for _ in 0..<iterations { try bcast(inPlace: &out, root: 0) }
        case .gather:
            for _ in 0..<iterations { try gather(x, into: &out, root: 0) }
        case .reduce:
            for _ in 0..<iterations { try reduce(x, into: &out, op: .sum, root: 0) }
        case .scan:
            for _ in 0..<iterations { try scan(x, into: &out, op: .sum) }
        case .scatter:
            for _ in 0..<iterations { try scatter(x, into: &out, root: 0) }
        case .allgatherv:
            let counts = counts
            for _ in 0..<iterations { try allgatherv(x, into: &out, counts: counts) }
        case .reduceScatterBlock:
            for _ in 0..<iterations { try reduceScatterBlock(x, into: &out, op: .sum) }
        case .exscan:
            for _ in 0..<iterations { try exscan(x, into: &out, op: .sum) }
        case .pingpong:
            guard let peer = partner else { return }
            if rank % 2 == 0 {
                for _ in 0..<iterations {
                    try send(x, dest: peer, tag: 0)
                    try recv(into: &out, source: peer, tag: 0)
                }
            } else {
                for _ in 0..<iterations {
                    try recv(into: &out, source: peer, tag: 0)
                    try send(x, dest: peer, tag: 0)
                }
            }
        case .sendrecv:
            guard let peer = partner else { return }
            for _ in 0..<iterations {
                try sendrecv(x, into: &out, source: peer, dest: peer, sendtag: 0, recvtag: 0)
            }
        case .neighborAlltoall:
            let g = grid!
            for _ in 0..<iterations { try neighborAlltoall(x, into: &out, comm: g) }
        }
    }
}

/// The 1-D periodic Cartesian grid of the ranks of `comm` that neighborAlltoall runs on, as the C
/// reference makes it (`MPI_Cart_create`, collective: every rank makes its cases in the same order);
/// `nil` for the other primitives.
func neighborGrid(_ primitive: Primitive, _ comm: Communicator) -> Communicator? {
    guard primitive == .neighborAlltoall else { return nil }
    do {
        return try comm.cartesian(dimensions: [comm.size], periodic: [true])?.communicator
    } catch {
        preconditionFailure("mpi-benchmark: cannot make the Cartesian grid of neighborAlltoall: \(error)")
    }
}

/// A case of the non-blocking forms awaited from a task: `try await request.value()`, one task running the
/// whole timed loop while the calling thread waits for it (the progress engine completes the requests).
final class SwiftAwaitCase: BenchmarkCase, @unchecked Sendable {
    let implementation: Implementation = .swiftAwait
    private let primitive: Primitive
    private let partner: Int?
    private let barrierComm: MPI_Comm
    private let input: ShapedArray<Double>
    private let template: ShapedArray<Double>

    /// Whether the primitive has an awaited form in the benchmark (the non-blocking rows).
    static func supports(_ primitive: Primitive) -> Bool { primitive == .iallreduce || primitive == .iexchange }

    /// Makes the input arrays of `primitive` at `bytes` on `comm`, which must be `Communicator.default`.
    init(_ primitive: Primitive, bytes: Int, comm: Communicator) {
        precondition(Self.supports(primitive))
        self.primitive = primitive
        partner = Self.partner(of: primitive, comm: comm)
        barrierComm = comm.handle
        let count = bytes / MemoryLayout<Double>.stride
        input = ShapedArray(repeating: Double(comm.rank + 1), shape: [count])
        template = ShapedArray(repeating: 0, shape: [count])
    }

    func sample(iterations: Int) throws -> Double {
        let code = cmpib_barrier(barrierComm)
        guard code == MPI_SUCCESS else { throw BenchmarkError(description: "barrier: MPI error \(code)") }
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Double, MPIError>>(.success(0))
        Task {
            let start = cmpib_wtime()
            do throws(MPIError) {
                try await self.loop(iterations: iterations)
                let seconds = cmpib_wtime() - start
                outcome.withLock { $0 = .success(seconds) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { try $0.get() } / Double(iterations)
    }

    /// The timed loop: start, then await.
    func loop(iterations: Int) async throws(MPIError) {
        let x = input
        switch primitive {
        case .iallreduce:
            for _ in 0..<iterations { _ = try await iallreduce(x, op: .sum).value() }
        case .iexchange:
            guard let peer = partner else { return }
            let t = template
            for _ in 0..<iterations {
                let receive = try irecv(t, source: peer, tag: 0)
                let send = try isend(x, dest: peer, tag: 0)
                _ = try await receive.value()
                try await send.value()
            }
        default:
            preconditionFailure("\(primitive.rawValue) has no awaited form")
        }
    }
}
