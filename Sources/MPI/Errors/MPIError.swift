import CMPI

/// An MPI error class, as returned by `MPI_Error_class`.
///
/// Every error code that an MPI library returns belongs to one of the classes
/// defined by the MPI standard (section 8.4 of MPI 3.1). The raw value is the
/// class's integer value in the MPI library this package was built against;
/// compare against the static members rather than against numbers, since the
/// numbers differ between Open MPI and MPICH.
///
/// The corresponding C function is `MPI_Error_class`.
public struct MPIErrorClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The integer value of the error class in the underlying MPI library.
    public var rawValue: Int32

    /// Creates an error class from its integer value in the underlying MPI library.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// No error (`MPI_SUCCESS`).
    public static var success: MPIErrorClass { .init(rawValue: swiftmpi_success()) }
    /// Invalid buffer pointer (`MPI_ERR_BUFFER`).
    public static var buffer: MPIErrorClass { .init(rawValue: swiftmpi_err_buffer()) }
    /// Invalid count argument (`MPI_ERR_COUNT`).
    public static var count: MPIErrorClass { .init(rawValue: swiftmpi_err_count()) }
    /// Invalid datatype argument (`MPI_ERR_TYPE`).
    public static var type: MPIErrorClass { .init(rawValue: swiftmpi_err_type()) }
    /// Invalid tag argument (`MPI_ERR_TAG`).
    public static var tag: MPIErrorClass { .init(rawValue: swiftmpi_err_tag()) }
    /// Invalid communicator (`MPI_ERR_COMM`).
    public static var comm: MPIErrorClass { .init(rawValue: swiftmpi_err_comm()) }
    /// Invalid rank (`MPI_ERR_RANK`).
    public static var rank: MPIErrorClass { .init(rawValue: swiftmpi_err_rank()) }
    /// Invalid request handle (`MPI_ERR_REQUEST`).
    public static var request: MPIErrorClass { .init(rawValue: swiftmpi_err_request()) }
    /// Invalid root (`MPI_ERR_ROOT`).
    public static var root: MPIErrorClass { .init(rawValue: swiftmpi_err_root()) }
    /// Invalid group (`MPI_ERR_GROUP`).
    public static var group: MPIErrorClass { .init(rawValue: swiftmpi_err_group()) }
    /// Invalid operation (`MPI_ERR_OP`).
    public static var op: MPIErrorClass { .init(rawValue: swiftmpi_err_op()) }
    /// Invalid topology (`MPI_ERR_TOPOLOGY`).
    public static var topology: MPIErrorClass { .init(rawValue: swiftmpi_err_topology()) }
    /// Invalid dimension argument (`MPI_ERR_DIMS`).
    public static var dimensions: MPIErrorClass { .init(rawValue: swiftmpi_err_dims()) }
    /// Invalid argument of some other kind (`MPI_ERR_ARG`).
    public static var argument: MPIErrorClass { .init(rawValue: swiftmpi_err_arg()) }
    /// Unknown error (`MPI_ERR_UNKNOWN`).
    public static var unknown: MPIErrorClass { .init(rawValue: swiftmpi_err_unknown()) }
    /// Message truncated on receive (`MPI_ERR_TRUNCATE`).
    public static var truncate: MPIErrorClass { .init(rawValue: swiftmpi_err_truncate()) }
    /// Known error not in this list (`MPI_ERR_OTHER`).
    public static var other: MPIErrorClass { .init(rawValue: swiftmpi_err_other()) }
    /// Internal MPI (implementation) error (`MPI_ERR_INTERN`).
    public static var intern: MPIErrorClass { .init(rawValue: swiftmpi_err_intern()) }
    /// Error code is in status (`MPI_ERR_IN_STATUS`).
    public static var inStatus: MPIErrorClass { .init(rawValue: swiftmpi_err_in_status()) }
    /// Pending request (`MPI_ERR_PENDING`).
    public static var pending: MPIErrorClass { .init(rawValue: swiftmpi_err_pending()) }
    /// Memory exhausted (`MPI_ERR_NO_MEM`).
    public static var noMemory: MPIErrorClass { .init(rawValue: swiftmpi_err_no_mem()) }

    /// The class's name in the MPI standard, such as `MPI_ERR_TRUNCATE`.
    public var description: String {
        let names: [(MPIErrorClass, String)] = [
            (.success, "MPI_SUCCESS"), (.buffer, "MPI_ERR_BUFFER"), (.count, "MPI_ERR_COUNT"),
            (.type, "MPI_ERR_TYPE"), (.tag, "MPI_ERR_TAG"), (.comm, "MPI_ERR_COMM"),
            (.rank, "MPI_ERR_RANK"), (.request, "MPI_ERR_REQUEST"), (.root, "MPI_ERR_ROOT"),
            (.group, "MPI_ERR_GROUP"), (.op, "MPI_ERR_OP"), (.topology, "MPI_ERR_TOPOLOGY"),
            (.dimensions, "MPI_ERR_DIMS"), (.argument, "MPI_ERR_ARG"), (.unknown, "MPI_ERR_UNKNOWN"),
            (.truncate, "MPI_ERR_TRUNCATE"), (.other, "MPI_ERR_OTHER"), (.intern, "MPI_ERR_INTERN"),
            (.inStatus, "MPI_ERR_IN_STATUS"), (.pending, "MPI_ERR_PENDING"), (.noMemory, "MPI_ERR_NO_MEM"),
        ]
        return names.first { $0.0 == self }?.1 ?? "MPI error class \(rawValue)"
    }
}

/// An error thrown by an MPI operation of this package.
///
/// Every case names the ``operation`` that failed (for example `"scatter"`).
/// Cases caused by a bad argument also name the argument and give what was
/// expected and what was passed, so that the message alone says what to fix.
///
/// Arguments that every rank can check locally (a root out of range, an op that
/// is invalid for the scalar type, a leading axis that is not the communicator
/// size) are checked on every rank before anything is communicated, so every
/// rank throws the same error and none is left waiting. Where only one rank can
/// know (the root's input to ``scatter(_:root:comm:token:)-(ShapedArray<T>,_,_,_)``), that rank passes the
/// error on, and the others throw ``peerFailed(operation:rank:reason:)``.
///
/// Errors raised by the MPI library itself are ``mpi(operation:errorClass:message:)``:
/// this package installs `MPI_ERRORS_RETURN` on every communicator it makes or
/// uses, so MPI reports errors instead of aborting the job.
public enum MPIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An argument has a value that the operation does not accept.
    case invalidArgument(operation: String, argument: String, expected: String, actual: String)
    /// An array has a shape or element count that the operation does not accept,
    /// or a receive template does not match the size of the message that arrived.
    case shapeMismatch(operation: String, argument: String, expected: String, actual: String)
    /// A rank argument (root, source or destination) is outside `0..<size` of the communicator.
    case rankOutOfRange(operation: String, argument: String, rank: Int, size: Int)
    /// A tag is negative (other than ``anyTag`` where that is allowed) or above the
    /// MPI library's `MPI_TAG_UB`.
    case invalidTag(operation: String, argument: String, tag: Int, upperBound: Int)
    /// The reduction operation is not defined for the scalar type, for example
    /// a bitwise operation on floating-point values, `min` on complex values or
    /// `sum` on `Bool`.
    case unsupportedReduction(operation: String, op: ReductionOp, scalarType: String)
    /// MPI has already been finalised in this process, so no more communication is possible.
    case finalized(operation: String)
    /// Another rank found an error in its arguments and told this rank, so that
    /// this rank does not wait for a message that will never come.
    case peerFailed(operation: String, rank: Int, reason: String)
    /// The MPI library returned an error code.
    ///
    /// `errorClass` is the code's class (`MPI_Error_class`) and `message` is the
    /// library's text for the code (`MPI_Error_string`).
    case mpi(operation: String, errorClass: MPIErrorClass, message: String)
    /// The call is not allowed at the thread level MPI provides: below
    /// `MPI_THREAD_SERIALIZED` (``ThreadLevel/funneled`` or ``ThreadLevel/single``),
    /// only the thread that initialised MPI may call it. Thrown on the calling
    /// thread before anything is communicated; `reason` says what to do.
    case threadLevel(operation: String, provided: ThreadLevel, reason: String)
    /// The task awaiting a receive's ``Request`` was cancelled before a message matched the receive,
    /// so the receive was withdrawn and no message was taken.
    case cancelled(operation: String)

    /// The name of the operation that failed, for example `"allreduce"` or `"MPI_Comm_split"`.
    public var operation: String {
        switch self {
        case .invalidArgument(let op, _, _, _), .shapeMismatch(let op, _, _, _),
             .rankOutOfRange(let op, _, _, _), .invalidTag(let op, _, _, _),
             .unsupportedReduction(let op, _, _), .finalized(let op), .peerFailed(let op, _, _),
             .mpi(let op, _, _), .threadLevel(let op, _, _), .cancelled(let op):
            return op
        }
    }

    /// A one-line message that names the operation, the argument, and the expected and actual values.
    public var description: String {
        switch self {
        case let .invalidArgument(op, arg, expected, actual):
            return "\(op): invalid argument '\(arg)': expected \(expected), got \(actual)"
        case let .shapeMismatch(op, arg, expected, actual):
            return "\(op): shape mismatch in '\(arg)': expected \(expected), got \(actual)"
        case let .rankOutOfRange(op, arg, rank, size):
            // A receive's source may also be the wildcard, and a point-to-point peer the null rank (not a probe's).
            let pointToPoint = op == "send" || op == "recv" || op == "sendrecv"
            let also = arg == "source" ? (pointToPoint ? " or anySource (-1) or procNull (-2)" : " or anySource (-1)")
                : arg.hasSuffix("].peer") || (arg == "dest" && pointToPoint) ? " or procNull (-2)" : ""
            return "\(op): '\(arg)' out of range: expected a rank in 0..<\(size)\(also), got \(rank)"
        case let .invalidTag(op, arg, tag, upperBound):
            // A receive's tag may also be the wildcard; say so where it is one.
            let receives = arg == "recvtag" || (arg == "tag" && (op == "recv" || op == "probe" || op == "iprobe"))
            return "\(op): invalid tag '\(arg)': expected 0...\(upperBound)\(receives ? " or anyTag (-1)" : ""), got \(tag)"
        case let .unsupportedReduction(op, reduction, scalarType):
            let kinds = MPIScalarKind.allCases.filter(reduction.supportedScalarKinds.contains)
            return "\(op): invalid argument 'op': reduction '\(reduction)' is not defined for \(scalarType) "
                + "(expected a scalar of kind \(kinds.map(\.rawValue).joined(separator: ", ")), got \(scalarType))"
        case let .finalized(op):
            return "\(op): MPI has already been finalized in this process"
        case let .peerFailed(op, rank, reason):
            return "\(op): rank \(rank) reported an error: \(reason)"
        case let .mpi(op, errorClass, message):
            return "\(op): MPI error \(errorClass): \(message)"
        case let .threadLevel(op, provided, reason):
            return "\(op): not allowed at \(provided): \(reason)"
        case let .cancelled(op):
            return "\(op): cancelled before a message matched the receive"
        }
    }
}

// MARK: - Internal helpers

/// Converts an MPI return code into a thrown ``MPIError`` when it is not `MPI_SUCCESS`.
///
/// This is the package's one converter from MPI return codes to Swift errors.
@inlinable @inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(MPIError) {
    // MPI_SUCCESS is 0 in every MPI library.
    if _slowPath(code != 0) { throw makeMPIError(code, operation()) }
}

/// Converts an operation's MPI return code into a thrown ``MPIError`` when it is not `MPI_SUCCESS`.
@inlinable @inline(__always)
func check(_ code: Int32, _ operation: MPIOperation) throws(MPIError) {
    if _slowPath(code != 0) { throw makeMPIError(code, operation.name) }
}

/// Builds the ``MPIError/mpi(operation:errorClass:message:)`` for an MPI error code.
@usableFromInline @inline(never)
func makeMPIError(_ code: Int32, _ operation: String) -> MPIError {
    var errorClass: Int32 = 0
    // Under the package's lock when calls are serialised, like every MPI call.
    if locked({ MPI_Error_class(code, &errorClass) }) != MPI_SUCCESS { errorClass = swiftmpi_err_unknown() }
    let capacity = Int(swiftmpi_max_error_string()) + 1
    var buffer = [CChar](repeating: 0, count: capacity)
    var length: Int32 = 0
    let message: String
    if locked({ MPI_Error_string(code, &buffer, &length) }) == MPI_SUCCESS {
        let bytes = buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }
        // MPICH appends an "error stack" on further lines; keep the message on one line.
        message = String(decoding: bytes, as: UTF8.self)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: " \t") }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    } else {
        message = "error code \(code)"
    }
    return .mpi(operation: operation, errorClass: MPIErrorClass(rawValue: errorClass), message: message)
}

extension Substring {
    /// The substring without leading and trailing characters from `set`.
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var result = self
        while let c = result.first, set.contains(c) { result.removeFirst() }
        while let c = result.last, set.contains(c) { result.removeLast() }
        return result
    }
}

/// `n` and `noun`, plural unless `n` is 1 ("1 element", "2 elements"): for errors and diagnostics.
@usableFromInline
func counted(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
