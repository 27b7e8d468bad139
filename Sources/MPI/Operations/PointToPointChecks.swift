import CMPI

// The argument checks and receive outcomes shared by send, recv and sendrecv.

/// Checks a tag: `0...MPI_TAG_UB`, or ``anyTag`` where a wildcard is allowed.
@inlinable
func checkTag(_ tag: Int, _ argument: StaticString, _ operation: MPIOperation, wildcardAllowed: Bool) throws(MPIError) {
    if _fastPath(tag >= 0 && tag <= 32767) { return }  // MPI guarantees MPI_TAG_UB >= 32767
    if wildcardAllowed && tag == anyTag { return }
    try checkLargeTag(tag, "\(argument)", operation)
}

@usableFromInline
func checkLargeTag(_ tag: Int, _ argument: String, _ operation: MPIOperation) throws(MPIError) {
    let upperBound = MPIRuntime.tagUpperBound
    if tag >= 0 && tag <= upperBound { return }
    throw MPIError.invalidTag(operation: operation.name, argument: argument, tag: tag, upperBound: upperBound)
}

/// Checks a source rank and converts it for MPI (``anySource`` becomes `MPI_ANY_SOURCE`, and where
/// `allowingProcNull`, ``procNull`` `MPI_PROC_NULL`).
@inlinable
func checkSource(
    _ source: Int, _ operation: MPIOperation, _ comm: ResolvedCommunicator, allowingProcNull: Bool = false
) throws(MPIError) -> Int32 {
    if source == anySource { return swiftmpi_any_source() }
    if allowingProcNull && source == procNull { return swiftmpi_proc_null() }
    try comm.checkRank(source, "source", operation)
    return Int32(truncatingIfNeeded: source)
}

/// Checks a destination rank (a rank of `comm`, or ``procNull``, to which a send goes nowhere).
@inlinable
func checkDestination(_ dest: Int, _ operation: MPIOperation, _ comm: ResolvedCommunicator) throws(MPIError) {
    if dest == procNull { return }
    try comm.checkRank(dest, "dest", operation)
}

/// `dest` for MPI: ``procNull`` becomes `MPI_PROC_NULL` (-2 in Open MPI, -1 in MPICH).
@inlinable
func mpiDestination(_ dest: Int) -> Int {
    _slowPath(dest == procNull) ? Int(swiftmpi_proc_null()) : dest
}

/// A receive's output where its source is ``procNull``: nothing arrives, so a new result (the
/// result-returning forms) is zero, and a caller's `into:` output is left as it was.
@inlinable
func zeroResultFromProcNull<Output: MPIBuffer>(_ output: inout Output, source: Int) {
    guard _slowPath(source == procNull), let result = output as? ResultBuffer<Output.Scalar>,
          let base = result.buffer.baseAddress else { return }
    UnsafeMutableRawPointer(base).initializeMemory(as: UInt8.self, repeating: 0,
                                                   count: result.buffer.count * MemoryLayout<Output.Scalar>.stride)
}

/// Checks a receive's tag and converts it for MPI (``anyTag`` becomes `MPI_ANY_TAG`).
@inlinable
func checkReceiveTag(_ tag: Int, _ argument: StaticString, _ operation: MPIOperation) throws(MPIError) -> Int32 {
    try checkTag(tag, argument, operation, wildcardAllowed: true)
    return tag == anyTag ? swiftmpi_any_tag() : Int32(truncatingIfNeeded: tag)
}

/// Fills `status` from a receive's outcome, then turns the outcome into an error: an MPI
/// error, a truncated message (larger than the template), a message smaller than the
/// template, or one whose bytes are no whole number of the template's elements.
///
/// A message of the wrong size was matched and consumed, so `status` describes it even
/// when this throws (its count is the message's element count, or -1 for no whole number);
/// only an error of MPI leaves `status` as it was.
@inlinable
func finishReceive(
    _ outcome: ReceiveOutcome, expected: Int, _ operation: MPIOperation, argument: StaticString, status: Status?
) throws(MPIError) {
    if let status, outcome.code == 0 {
        status.source = outcome.source
        status.tag = outcome.tag
        // MPI_UNDEFINED: no whole number of elements; a receive from procNull receives nothing.
        status.count = outcome.source == procNull ? 0 : outcome.count >= 0 ? outcome.count : -1
    }
    if _slowPath(outcome.code != 0 || outcome.count != expected) {
        try receiveFailure(outcome.code, received: outcome.count, bytes: outcome.bytes, expected: expected, operation,
                           argument: "\(argument)")
    }
}

@usableFromInline @inline(never)
func receiveFailure(
    _ code: Int32, received: Int, bytes: Int, expected: Int, _ operation: MPIOperation, argument: String
) throws(MPIError) {
    if code != 0 {
        let error = makeMPIError(code, operation.name)
        if case .mpi(_, let errorClass, let message) = error, errorClass == .truncate {
            throw MPIError.shapeMismatch(
                operation: operation.name, argument: argument,
                expected: "a message of \(counted(expected, "element")) (the template's size)",
                actual: "a larger message (MPI_ERR_TRUNCATE: \(message))")
        }
        throw error
    }
    throw MPIError.shapeMismatch(
        operation: operation.name, argument: argument,
        expected: "a message of \(counted(expected, "element")) (the template's size)",
        actual: received >= 0
            ? "a message of \(counted(received, "element"))"
            : "a message of \(bytes) bytes, no whole number of the template's elements (sent with another type)")
}
