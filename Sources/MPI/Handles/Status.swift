import CMPI

/// What a receive learned about the message it matched: source, tag and element count.
///
/// Pass one as `status:` to ``recv(_:source:tag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_)`` or
/// ``sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)-(ShapedArray<T>,_,_,_,_,_,_,_,_)``
/// and read it afterwards, as with mpi4py's `MPI.Status`. This is useful with
/// ``anySource`` and ``anyTag``.
///
/// A receive that matches a message of the wrong size consumes it and throws
/// ``MPIError/shapeMismatch(operation:argument:expected:actual:)``; the status then still
/// describes that message (its ``count`` is -1 when its bytes are no whole number of elements).
///
/// The corresponding C type is `MPI_Status`.
public final class Status: CustomStringConvertible {
    /// The rank that sent the message, or -1 before a receive fills it.
    public var source: Int = -1
    /// The tag of the message, or -1 before a receive fills it.
    public var tag: Int = -1
    /// The number of elements received, or -1 before a receive fills it.
    public var count: Int = -1

    /// A status to be filled by a receive.
    public init() {}

    /// For example `Status(source: 1, tag: 7, count: 3)`.
    public var description: String { "Status(source: \(source), tag: \(tag), count: \(count))" }
}
