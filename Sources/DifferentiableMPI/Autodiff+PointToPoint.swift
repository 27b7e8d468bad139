// The differentiable form of the point-to-point exchange, registered with the
// compiler: sendrecv.

import MPI
import _Differentiation

// MARK: - sendrecv

extension Autodiff {
    /// Sends `sendbuf` to `dest` and receives a message from `source` shaped like `recvbuf`.
    ///
    /// The differentiable form of `sendrecv(_:_:source:dest:sendtag:recvtag:comm:status:token:)`.
    /// `recvbuf` is a template whose data is never read, so its cotangent is
    /// zeros of its shape (as mpi4jax's `zeros_like(recvbuf)`). The transpose is a sendrecv with source and dest swapped: the
    /// cotangent of the received data goes back to the rank it came from, with
    /// the tag it came with, and `sendbuf` gets the cotangent that `dest` sends
    /// back. The source and tag are those of the message that arrived, so
    /// `anyTag` works. With `source: anySource`, make sure that no rank can still
    /// be waiting in its forward receive when another rank runs the pullback (a
    /// collective between the forward pass and the pullback, such as the
    /// allreduce of the loss, does it): the pullback's message travels on the
    /// same communicator with the forward message's tag, so a receive from
    /// `anySource` still pending on its destination would take it as data.
    /// A specific `source` has no such limit.
    public static func sendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int = 0,
        recvtag: Int = anyTag, comm: Communicator? = nil
    ) -> ShapedArray<T> {
        performOrStop("sendrecv", comm) {
            try MPI.sendrecv(sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm).0
        }
    }

    /// The reverse derivative of `sendrecv` on ``MPI/ShapedArray``s, registered with the compiler.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    @usableFromInline static func vjpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int,
        recvtag: Int, comm: Communicator?
    ) -> (
        value: ShapedArray<T>,
        pullback: (ShapedArray<T>.TangentVector) -> (ShapedArray<T>.TangentVector, ShapedArray<T>.TangentVector)
    ) {
        let (value, pullback) = sendrecvRule(
            sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm
        ).shapedVJP()
        // Zeros of recvbuf's shape, as mpi4jax's zeros_like(recvbuf), not the shapeless symbolic zero.
        let recvShape = recvbuf.shape
        return (value, { v in (pullback(v), .zeros(shape: recvShape)) })
    }

    /// The forward derivative of `sendrecv` on ``MPI/ShapedArray``s.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func jvpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int,
        recvtag: Int, comm: Communicator?
    ) -> (
        value: ShapedArray<T>,
        differential: (ShapedArray<T>.TangentVector, ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector
    ) {
        let (value, differential) = sendrecvRule(
            sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm
        ).shapedJVP()
        return (value, { t, _ in differential(t) })
    }

    /// The plain-array form of `sendrecv`.
    public static func sendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: [T], _ recvbuf: [T], source: Int, dest: Int, sendtag: Int = 0, recvtag: Int = anyTag,
        comm: Communicator? = nil
    ) -> [T] {
        performOrStop("sendrecv", comm) {
            try MPI.sendrecv(sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm).0
        }
    }

    /// The reverse derivative of `sendrecv` on plain arrays, registered with the compiler.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    @usableFromInline static func vjpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: [T], _ recvbuf: [T], source: Int, dest: Int, sendtag: Int, recvtag: Int, comm: Communicator?
    ) -> (value: [T], pullback: (Array<T>.TangentVector) -> (Array<T>.TangentVector, Array<T>.TangentVector)) {
        let (value, pullback) = sendrecvRule(
            ShapedArray(sendbuf), ShapedArray(recvbuf), source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
            comm: comm
        ).arrayVJP()
        // Zeros of recvbuf's length, as mpi4jax's zeros_like(recvbuf), not the empty symbolic zero.
        let recvCount = recvbuf.count
        return (value, { v in (pullback(v), Array<T>.TangentVector([T](repeating: 0, count: recvCount))) })
    }

    /// The forward derivative of `sendrecv` on plain arrays.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func jvpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: [T], _ recvbuf: [T], source: Int, dest: Int, sendtag: Int, recvtag: Int, comm: Communicator?
    ) -> (value: [T], differential: (Array<T>.TangentVector, Array<T>.TangentVector) -> Array<T>.TangentVector) {
        let (value, differential) = sendrecvRule(
            ShapedArray(sendbuf), ShapedArray(recvbuf), source: source, dest: dest, sendtag: sendtag, recvtag: recvtag,
            comm: comm
        ).arrayJVP()
        return (value, { t, _ in differential(t) })
    }

    /// The scalar form of `sendrecv`.
    public static func sendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: T, _ recvbuf: T, source: Int, dest: Int, sendtag: Int = 0, recvtag: Int = anyTag,
        comm: Communicator? = nil
    ) -> T {
        performOrStop("sendrecv", comm) {
            try MPI.sendrecv(sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: comm).0
        }
    }

    /// The reverse derivative of `sendrecv` on scalars, registered with the compiler.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    @usableFromInline static func vjpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: T, _ recvbuf: T, source: Int, dest: Int, sendtag: Int, recvtag: Int, comm: Communicator?
    ) -> (value: T, pullback: (T) -> (T, T)) {
        let (value, pullback) = sendrecvRule(
            ShapedArray(scalar: sendbuf), ShapedArray(scalar: recvbuf), source: source, dest: dest, sendtag: sendtag,
            recvtag: recvtag, comm: comm
        ).scalarVJP()
        return (value, { v in (pullback(v), 0) })
    }

    /// The forward derivative of `sendrecv` on scalars.
    @derivative(of: sendrecv, wrt: (sendbuf, recvbuf))
    public static func jvpSendrecv<T: DifferentiableMPIScalar>(
        _ sendbuf: T, _ recvbuf: T, source: Int, dest: Int, sendtag: Int, recvtag: Int, comm: Communicator?
    ) -> (value: T, differential: (T, T) -> T) {
        let (value, differential) = sendrecvRule(
            ShapedArray(scalar: sendbuf), ShapedArray(scalar: recvbuf), source: source, dest: dest, sendtag: sendtag,
            recvtag: recvtag, comm: comm
        ).scalarJVP()
        return (value, { t, _ in differential(t) })
    }
}
