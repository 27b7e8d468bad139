import CMPI

// The allocation-free variants of the primitives, for hot loops: each writes
// its result into storage the caller owns (`into:`), so a call allocates
// nothing at all. The result-returning functions stay the primary API.
//
// Outputs are checked by element count, on every rank, before anything is
// communicated; an output keeps its own shape. Passing an output whose storage
// is shared with another array (copy on write) makes it unique first, as any
// mutation of a Swift array does.

/// Contiguous storage of MPI scalars that the `into:` variants read from and write to:
/// ``ShapedArray`` and `Array`.
public protocol MPIBuffer {
    /// The element type.
    associatedtype Scalar: MPIScalar
    /// The number of elements.
    var scalarCount: Int { get }
    /// Calls `body` with the address of the first element (or `nil` when empty).
    func withUnsafeMPIBuffer<R>(_ body: (UnsafeRawPointer?) -> R) -> R
    /// Calls `body` with the mutable address of the first element (or `nil` when empty).
    mutating func withUnsafeMutableMPIBuffer<R>(_ body: (UnsafeMutableRawPointer?) -> R) -> R
}

extension Array: MPIBuffer where Element: MPIScalar {
    /// The array's element type.
    public typealias Scalar = Element
    /// The number of elements (`count`).
    @inlinable public var scalarCount: Int { count }
    /// Calls `body` with the address of the array's storage.
    @inlinable
    public func withUnsafeMPIBuffer<R>(_ body: (UnsafeRawPointer?) -> R) -> R {
        withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress)) }
    }
    /// Calls `body` with the mutable address of the array's storage.
    @inlinable
    public mutating func withUnsafeMutableMPIBuffer<R>(_ body: (UnsafeMutableRawPointer?) -> R) -> R {
        withUnsafeMutableBufferPointer { body(UnsafeMutableRawPointer($0.baseAddress)) }
    }
}

extension ShapedArray: MPIBuffer where Scalar: MPIScalar {
    /// Calls `body` with the address of the array's storage.
    @inlinable
    public func withUnsafeMPIBuffer<R>(_ body: (UnsafeRawPointer?) -> R) -> R {
        _storage.withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress)) }
    }
    /// Calls `body` with the mutable address of the array's storage.
    @inlinable
    public mutating func withUnsafeMutableMPIBuffer<R>(_ body: (UnsafeMutableRawPointer?) -> R) -> R {
        _storage.withUnsafeMutableBufferPointer { body(UnsafeMutableRawPointer($0.baseAddress)) }
    }
}

/// Checks that a caller-owned output has the element count the operation writes.
@inlinable
func checkOutput(_ actual: Int, _ expected: Int, _ what: @autoclosure () -> String, _ operation: String) throws(MPIError) {
    if _slowPath(actual != expected) {
        throw MPIError.shapeMismatch(
            operation: operation, argument: "output",
            expected: "\(expected) elements (\(what()))", actual: "\(actual) elements")
    }
}

/// Runs `body` with the input's address and the output's mutable address.
@inlinable @inline(__always)
func withBuffers<Input: MPIBuffer, Output: MPIBuffer>(
    _ input: Input, _ output: inout Output, _ body: (UnsafeRawPointer?, UnsafeMutableRawPointer?) -> Int32
) -> Int32 {
    input.withUnsafeMPIBuffer { source in output.withUnsafeMutableMPIBuffer { destination in body(source, destination) } }
}

// MARK: - Collectives

/// ``allgather(_:comm:token:)-(ShapedArray<T>,_,_)`` into caller-owned storage of `size * x.scalarCount` elements.
///
/// The corresponding C function is `MPI_Allgather`.
@inlinable @discardableResult
public func allgather<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let comm = try Communicator.resolve(comm, "allgather")
    let count = x.scalarCount
    try checkOutput(output.scalarCount, count * comm.size, "size × input", "allgather")
    try diagnoseCollective(comm, "allgather", Input.Scalar.self, count: count)
    let code = withBuffers(x, &output) { s, d in
        rawAllgather(s, d, count: count, type: Input.Scalar.mpiDatatype.handle,
                     elementSize: MemoryLayout<Input.Scalar>.stride, comm: comm.handle)
    }
    try check(code, "allgather")
    return advance(token)
}

/// ``allreduce(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage of `x.scalarCount` elements.
///
/// The corresponding C function is `MPI_Allreduce`.
@inlinable @discardableResult
public func allreduce<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let comm = try Communicator.resolve(comm, "allreduce")
    let mpiOp = try op.checkedHandle(for: Input.Scalar.self, operation: "allreduce")
    let count = x.scalarCount
    try checkOutput(output.scalarCount, count, "the input's count", "allreduce")
    try diagnoseCollective(comm, "allreduce", Input.Scalar.self, count: count, op: op)
    let code = withBuffers(x, &output) { s, d in
        rawAllreduce(s, d, count: count, type: Input.Scalar.mpiDatatype.handle,
                     elementSize: MemoryLayout<Input.Scalar>.stride, op: mpiOp, comm: comm.handle)
    }
    try check(code, "allreduce")
    return advance(token)
}

/// ``alltoall(_:comm:token:)-(ShapedArray<T>,_,_)`` into caller-owned storage of `x.scalarCount` elements.
///
/// `x.scalarCount` must be a multiple of `size`; block `i` goes to rank `i`.
///
/// The corresponding C function is `MPI_Alltoall`.
@inlinable @discardableResult
public func alltoall<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let comm = try Communicator.resolve(comm, "alltoall")
    let count = x.scalarCount
    if _slowPath(count % comm.size != 0) {
        throw MPIError.shapeMismatch(
            operation: "alltoall", argument: "x",
            expected: "a multiple of \(comm.size) elements (the communicator size)", actual: "\(count) elements")
    }
    try checkOutput(output.scalarCount, count, "the input's count", "alltoall")
    try diagnoseCollective(comm, "alltoall", Input.Scalar.self, count: count)
    let code = withBuffers(x, &output) { s, d in
        rawAlltoall(s, d, blockCount: count / comm.size, type: Input.Scalar.mpiDatatype.handle,
                    elementSize: MemoryLayout<Input.Scalar>.stride, comm: comm.handle)
    }
    try check(code, "alltoall")
    return advance(token)
}

/// Broadcasts the root's `buffer` in place: the root's contents overwrite every other rank's.
///
/// The allocation-free form of ``bcast(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// The corresponding C function is `MPI_Bcast`.
@inlinable @discardableResult
public func bcast<Buffer: MPIBuffer>(
    inPlace buffer: inout Buffer, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    let comm = try Communicator.resolve(comm, "bcast")
    try comm.checkRank(root, "root", "bcast")
    let count = buffer.scalarCount
    try diagnoseCollective(comm, "bcast", Buffer.Scalar.self, count: count, root: root)
    let code: Int32
    if comm.rank == root {
        // Read only: no copy-on-write uniquing of a shared buffer on the root.
        code = buffer.withUnsafeMPIBuffer { s in
            rawBcast(UnsafeMutableRawPointer(mutating: s), count: count, type: Buffer.Scalar.mpiDatatype.handle,
                     elementSize: MemoryLayout<Buffer.Scalar>.stride, root: root, comm: comm.handle)
        }
    } else {
        code = buffer.withUnsafeMutableMPIBuffer { d in
            rawBcast(d, count: count, type: Buffer.Scalar.mpiDatatype.handle,
                     elementSize: MemoryLayout<Buffer.Scalar>.stride, root: root, comm: comm.handle)
        }
    }
    try check(code, "bcast")
    return advance(token)
}

/// ``gather(_:root:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage of `size * x.scalarCount`
/// elements on the root; `output` is neither checked nor touched on the other ranks.
///
/// The corresponding C function is `MPI_Gather`.
@inlinable @discardableResult
public func gather<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let comm = try Communicator.resolve(comm, "gather")
    try comm.checkRank(root, "root", "gather")
    let count = x.scalarCount
    let type = Input.Scalar.mpiDatatype.handle
    let stride = MemoryLayout<Input.Scalar>.stride
    try diagnoseCollective(comm, "gather", Input.Scalar.self, count: count, root: root)
    let code: Int32
    if comm.rank == root {
        try checkOutput(output.scalarCount, count * comm.size, "size × input", "gather")
        code = withBuffers(x, &output) { s, d in
            rawGather(s, d, count: count, type: type, elementSize: stride, root: root, comm: comm.handle)
        }
    } else {
        code = x.withUnsafeMPIBuffer { s in
            rawGather(s, nil, count: count, type: type, elementSize: stride, root: root, comm: comm.handle)
        }
    }
    try check(code, "gather")
    return advance(token)
}

/// ``scatter(_:root:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage: every rank receives
/// `output.scalarCount` elements; on the root `x` holds `size * output.scalarCount` elements, elsewhere
/// `x` is not used (pass an empty array).
///
/// Like the result-returning form, the root's input is checked collectively, so
/// a bad root input makes every rank throw.
///
/// The corresponding C function is `MPI_Scatter`.
@inlinable @discardableResult
public func scatter<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, root: Int, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let comm = try Communicator.resolve(comm, "scatter")
    try comm.checkRank(root, "root", "scatter")
    let isRoot = comm.rank == root
    let rowCount = output.scalarCount
    let rootCheck: ScatterRootCheck = x.scalarCount == rowCount * comm.size ? .valid : .elementCount(x.scalarCount)
    try scatterHandshake(
        isRoot: isRoot, rootCheck: rootCheck, rowCount: rowCount, elementSize: MemoryLayout<Input.Scalar>.stride,
        root: root, comm: comm)
    try diagnoseCollective(comm, "scatter", Input.Scalar.self, count: rowCount, root: root)
    let code = withBuffers(x, &output) { s, d in
        rawScatter(isRoot ? s : nil, d, rowCount: rowCount, type: Input.Scalar.mpiDatatype.handle,
                   elementSize: MemoryLayout<Input.Scalar>.stride, root: root, comm: comm.handle)
    }
    try check(code, "scatter")
    return advance(token)
}

// MARK: - Reductions

/// ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)`` into caller-owned storage of `x.scalarCount`
/// elements on the root; `output` is neither checked nor touched on the other ranks.
///
/// The corresponding C function is `MPI_Reduce`.
@inlinable @discardableResult
public func reduce<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, root: Int, comm: Communicator? = nil,
    token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let comm = try Communicator.resolve(comm, "reduce")
    try comm.checkRank(root, "root", "reduce")
    let mpiOp = try op.checkedHandle(for: Input.Scalar.self, operation: "reduce")
    let count = x.scalarCount
    try diagnoseCollective(comm, "reduce", Input.Scalar.self, count: count, root: root, op: op)
    let type = Input.Scalar.mpiDatatype.handle
    let stride = MemoryLayout<Input.Scalar>.stride
    let code: Int32
    if comm.rank == root {
        try checkOutput(output.scalarCount, count, "the input's count", "reduce")
        code = withBuffers(x, &output) { s, d in
            rawReduce(s, d, count: count, type: type, elementSize: stride, op: mpiOp, root: root, comm: comm.handle)
        }
    } else {
        code = x.withUnsafeMPIBuffer { s in
            rawReduce(s, nil, count: count, type: type, elementSize: stride, op: mpiOp, root: root, comm: comm.handle)
        }
    }
    try check(code, "reduce")
    return advance(token)
}

/// ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)`` into caller-owned storage of `x.scalarCount` elements.
///
/// The corresponding C function is `MPI_Scan`.
@inlinable @discardableResult
public func scan<Input: MPIBuffer, Output: MPIBuffer>(
    _ x: Input, into output: inout Output, op: ReductionOp, comm: Communicator? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let comm = try Communicator.resolve(comm, "scan")
    let mpiOp = try op.checkedHandle(for: Input.Scalar.self, operation: "scan")
    let count = x.scalarCount
    try checkOutput(output.scalarCount, count, "the input's count", "scan")
    try diagnoseCollective(comm, "scan", Input.Scalar.self, count: count, op: op)
    let code = withBuffers(x, &output) { s, d in
        rawScan(s, d, count: count, type: Input.Scalar.mpiDatatype.handle,
                elementSize: MemoryLayout<Input.Scalar>.stride, op: mpiOp, comm: comm.handle)
    }
    try check(code, "scan")
    return advance(token)
}

// MARK: - Point to point

/// ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)`` into caller-owned storage: the
/// message must have exactly `output.scalarCount` elements.
///
/// The corresponding C function is `MPI_Recv`.
@inlinable @discardableResult
public func recv<Output: MPIBuffer>(
    into output: inout Output, source: Int = anySource, tag: Int = anyTag, comm: Communicator? = nil,
    status: Status? = nil, token: Token? = nil
) throws(MPIError) -> Token {
    let (comm, mpiSource, mpiTag) = try receiveArguments(comm, source: source, tag: tag, "recv")
    let count = output.scalarCount
    let outcome = output.withUnsafeMutableMPIBuffer { d in
        rawRecv(d, count: count, type: Output.Scalar.mpiDatatype.handle, elementSize: MemoryLayout<Output.Scalar>.stride,
                source: mpiSource, tag: mpiTag, comm: comm.handle)
    }
    try checkReceive(outcome, expected: count, operation: "recv", argument: "output", status: status)
    return advance(token)
}

/// ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)`` into
/// caller-owned storage: the message received must have exactly `output.scalarCount` elements.
///
/// The corresponding C function is `MPI_Sendrecv`.
@inlinable @discardableResult
public func sendrecv<Input: MPIBuffer, Output: MPIBuffer>(
    _ sendbuf: Input, into output: inout Output, source: Int, dest: Int, sendtag: Int = 0, recvtag: Int = anyTag,
    comm: Communicator? = nil, status: Status? = nil, token: Token? = nil
) throws(MPIError) -> Token where Input.Scalar == Output.Scalar {
    let (comm, mpiSource, mpiRecvTag) = try receiveArguments(
        comm, source: source, tag: recvtag, "sendrecv", dest: dest, sendtag: sendtag)
    let sendCount = sendbuf.scalarCount
    let receiveCount = output.scalarCount
    try checkSelfMessage(comm, source: source, dest: dest, sendCount: sendCount, receiveCount: receiveCount,
                         argument: "output")
    var outcome = ReceiveOutcome()
    _ = withBuffers(sendbuf, &output) { s, d in
        outcome = rawSendrecv(
            s, sendCount: sendCount, dest: dest, sendTag: sendtag, d, receiveCount: receiveCount,
            source: mpiSource, receiveTag: mpiRecvTag, type: Input.Scalar.mpiDatatype.handle,
            elementSize: MemoryLayout<Input.Scalar>.stride, comm: comm.handle)
        return outcome.code
    }
    try checkReceive(outcome, expected: receiveCount, operation: "sendrecv", argument: "output", status: status)
    return advance(token)
}
