// The rule table: the value of each linear primitive with its pullback and its
// differential, computed once per call and adapted to the three forms of the
// primitive (ShapedArray, [T], scalar) by LinearRule.

import MPI
import _Differentiation

/// The value of a linear primitive with its pullback and differential, on flat element arrays.
///
/// `pullback` maps the output's cotangent (as many elements as `value`) to the
/// input's cotangent; `differential` maps the input's tangent to the output's.
/// Both communicate where the rule says so.
struct LinearRule<T: DifferentiableMPIScalar> {
    let operation: String
    let value: ShapedArray<T>
    let inputShape: [Int]
    let pullback: ([T]) -> [T]
    let differential: ([T]) -> [T]

    // ShapedArray in, ShapedArray out.
    func shapedVJP() -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        let outShape = value.shape, inShape = inputShape, pullback = pullback, name = "the pullback of \(operation)"
        return (value, { v in
            ShapedArray<T>.TangentVector(_uncheckedShape: inShape, scalars: pullback(v.scalars(materializedFor: outShape, operation: name)))
        })
    }

    func shapedJVP() -> (value: ShapedArray<T>, differential: (ShapedArray<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        let outShape = value.shape, inShape = inputShape, differential = differential, name = "the differential of \(operation)"
        return (value, { t in
            ShapedArray<T>.TangentVector(_uncheckedShape: outShape, scalars: differential(t.scalars(materializedFor: inShape, operation: name)))
        })
    }

    // [T] in, [T] out.
    func arrayVJP() -> (value: [T], pullback: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        let outCount = value.scalarCount, pullback = pullback, name = "the pullback of \(operation)"
        return (value.scalars, { v in Array<T>.TangentVector(pullback(materializedArray(v, count: outCount, operation: name))) })
    }

    func arrayJVP() -> (value: [T], differential: (Array<T>.TangentVector) -> Array<T>.TangentVector) {
        let inCount = elementCount(inputShape), differential = differential, name = "the differential of \(operation)"
        return (value.scalars, { t in Array<T>.TangentVector(differential(materializedArray(t, count: inCount, operation: name))) })
    }

    // [T] in, ShapedArray out.
    func arrayToShapedVJP() -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> Array<T>.TangentVector) {
        let outShape = value.shape, pullback = pullback, name = "the pullback of \(operation)"
        return (value, { v in Array<T>.TangentVector(pullback(v.scalars(materializedFor: outShape, operation: name))) })
    }

    func arrayToShapedJVP() -> (value: ShapedArray<T>, differential: (Array<T>.TangentVector) -> ShapedArray<T>.TangentVector) {
        let outShape = value.shape, inCount = elementCount(inputShape), differential = differential
        let name = "the differential of \(operation)"
        return (value, { t in
            ShapedArray<T>.TangentVector(_uncheckedShape: outShape, scalars: differential(materializedArray(t, count: inCount, operation: name)))
        })
    }

    // T in, T out.
    func scalarVJP() -> (value: T, pullback: (T) -> T) {
        let pullback = pullback
        return (value.scalars[0], { v in pullback([v])[0] })
    }

    func scalarJVP() -> (value: T, differential: (T) -> T) {
        let differential = differential
        return (value.scalars[0], { t in differential([t])[0] })
    }

    // T in, ShapedArray out.
    func scalarToShapedVJP() -> (value: ShapedArray<T>, pullback: (ShapedArray<T>.TangentVector) -> T) {
        let outShape = value.shape, pullback = pullback, name = "the pullback of \(operation)"
        return (value, { v in pullback(v.scalars(materializedFor: outShape, operation: name))[0] })
    }

    func scalarToShapedJVP() -> (value: ShapedArray<T>, differential: (T) -> ShapedArray<T>.TangentVector) {
        let outShape = value.shape, differential = differential
        return (value, { t in ShapedArray<T>.TangentVector(_uncheckedShape: outShape, scalars: differential([t])) })
    }
}

extension Autodiff {
    static func resolved(_ comm: Communicator?, _ operation: String) -> Communicator {
        if let comm { return comm }
        return performOrStop(operation, nil) { try Communicator.default }
    }

    static func allreduceRule<T>(_ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "allreduce")
        guard op == .sum || op == .max || op == .min else {
            stopNotDifferentiable("allreduce", op, allowed: "sum, max and min", c)
        }
        let y = performOrStop("allreduce", c) { try MPI.allreduce(x, op: op, comm: c).0 }
        let shape = x.shape
        if op == .sum {
            return LinearRule(
                operation: "allreduce", value: y, inputShape: shape,
                pullback: { $0 },
                differential: { t in
                    performOrStop("the differential of allreduce", c) {
                        try MPI.allreduce(t, op: .sum, comm: c).0
                    }
                })
        }
        // max and min: the extreme of each element belongs to the lowest rank that holds it, found by an
        // allreduce-min of the ranks that hold it when the pullback or the differential runs, not in the
        // forward pass: the forward pass makes the plain call's collectives only, so that a rank that
        // differentiates the call and one that calls it plainly stay matched.
        let rank = Int64(c.rank)
        let candidates = zip(x.scalars, y.scalars).map { $0 == $1 ? rank : Int64(c.size) }
        /// `v` where this rank owns the element, `0` elsewhere (one allreduce-min of `candidates`).
        func onOwners(_ v: [T]) throws -> [T] {
            let owners = try MPI.allreduce(candidates, op: .min, comm: c).0
            return zip(v, owners).map { $1 == rank ? $0 : 0 }
        }
        return LinearRule(
            operation: "allreduce", value: y, inputShape: shape,
            pullback: { v in runPullback("allreduce", c) { try onOwners(v) } },
            differential: { t in
                performOrStop("the differential of allreduce", c) { try MPI.allreduce(onOwners(t), op: .sum, comm: c).0 }
            })
    }

    static func allgatherRule<T>(_ x: ShapedArray<T>, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "allgather")
        let y = performOrStop("allgather", c) { try MPI.allgather(x, comm: c).0 }
        let shape = x.shape, n = x.scalarCount, rank = c.rank
        return LinearRule(
            operation: "allgather", value: y, inputShape: shape,
            pullback: { v in Array(v[(rank * n)..<((rank + 1) * n)]) },
            differential: { t in
                performOrStop("the differential of allgather", c) {
                    try MPI.allgather(ShapedArray(shape: shape, scalars: t), comm: c).0.scalars
                }
            })
    }

    static func alltoallRule<T>(_ x: ShapedArray<T>, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "alltoall")
        let y = performOrStop("alltoall", c) { try MPI.alltoall(x, comm: c).0 }
        let shape = x.shape
        return LinearRule(
            operation: "alltoall", value: y, inputShape: shape,
            pullback: { v in
                runPullback("alltoall", c) { try MPI.alltoall(ShapedArray(shape: shape, scalars: v), comm: c).0.scalars }
            },
            differential: { t in
                performOrStop("the differential of alltoall", c) {
                    try MPI.alltoall(ShapedArray(shape: shape, scalars: t), comm: c).0.scalars
                }
            })
    }

    static func bcastRule<T>(_ x: ShapedArray<T>, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "bcast")
        let y = performOrStop("bcast", c) { try MPI.bcast(x, root: root, comm: c).0 }
        let shape = x.shape, n = x.scalarCount, isRoot = c.rank == root
        return LinearRule(
            operation: "bcast", value: y, inputShape: shape,
            pullback: { v in isRoot ? v : [T](repeating: 0, count: n) },
            differential: { t in
                performOrStop("the differential of bcast", c) {
                    try MPI.bcast(ShapedArray(shape: shape, scalars: t), root: root, comm: c).0.scalars
                }
            })
    }

    static func gatherRule<T>(_ x: ShapedArray<T>, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "gather")
        let y = performOrStop("gather", c) { try MPI.gather(x, root: root, comm: c).0 }
        let shape = x.shape, outShape = y.shape, isRoot = c.rank == root
        return LinearRule(
            operation: "gather", value: y, inputShape: shape,
            pullback: { v in
                // The root's cotangent is scattered; a non-root rank also got its
                // input back, so its own cotangent adds to its block.
                let block = runPullback("gather", c) {
                    try MPI.scatter(ShapedArray(shape: outShape, scalars: v), root: root, comm: c).0.scalars
                }
                return isRoot ? block : zip(block, v).map { $0 + $1 }
            },
            differential: { t in
                performOrStop("the differential of gather", c) {
                    try MPI.gather(ShapedArray(shape: shape, scalars: t), root: root, comm: c).0.scalars
                }
            })
    }

    static func reduceRule<T>(_ x: ShapedArray<T>, op: ReductionOp, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "reduce")
        guard op == .sum else { stopNotDifferentiable("reduce", op, allowed: "sum", c) }
        let y = performOrStop("reduce", c) { try MPI.reduce(x, op: .sum, root: root, comm: c).0 }
        let shape = x.shape, isRoot = c.rank == root
        return LinearRule(
            operation: "reduce", value: y, inputShape: shape,
            pullback: { v in
                // Every input contributes to the root's sum; a non-root rank also
                // got its input back, so its own cotangent adds to the root's.
                let rootCotangent = runPullback("reduce", c) {
                    try MPI.bcast(ShapedArray(shape: shape, scalars: v), root: root, comm: c).0.scalars
                }
                return isRoot ? rootCotangent : zip(rootCotangent, v).map { $0 + $1 }
            },
            differential: { t in
                performOrStop("the differential of reduce", c) {
                    try MPI.reduce(ShapedArray(shape: shape, scalars: t), op: .sum, root: root, comm: c).0.scalars
                }
            })
    }

    static func scanRule<T>(_ x: ShapedArray<T>, op: ReductionOp, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "scan")
        guard op == .sum else { stopNotDifferentiable("scan", op, allowed: "sum", c) }
        let y = performOrStop("scan", c) { try MPI.scan(x, op: .sum, comm: c).0 }
        let shape = x.shape
        return LinearRule(
            operation: "scan", value: y, inputShape: shape,
            pullback: { v in
                // The transpose of an inclusive prefix sum over ranks is the
                // inclusive suffix sum: a scan over the ranks in reverse order.
                runPullback("scan", c) {
                    let reversed = try c.split(color: 0, key: c.size - 1 - c.rank)
                    return try MPI.scan(v, op: .sum, comm: reversed).0
                }
            },
            differential: { t in
                performOrStop("the differential of scan", c) { try MPI.scan(t, op: .sum, comm: c).0 }
            })
    }

    static func scatterRule<T>(_ x: ShapedArray<T>, root: Int, comm: Communicator?) -> LinearRule<T> {
        let c = resolved(comm, "scatter")
        let y = performOrStop("scatter", c) { try MPI.scatter(x, root: root, comm: c).0 }
        let shape = x.shape, n = x.scalarCount, rowShape = y.shape, isRoot = c.rank == root
        return LinearRule(
            operation: "scatter", value: y, inputShape: shape,
            pullback: { v in
                // The root's input gets every rank's cotangent, in rank order; a
                // non-root rank's input is a template whose data is never read.
                let gathered = runPullback("scatter", c) {
                    try MPI.gather(ShapedArray(shape: rowShape, scalars: v), root: root, comm: c).0.scalars
                }
                return isRoot ? gathered : [T](repeating: 0, count: n)
            },
            differential: { t in
                performOrStop("the differential of scatter", c) {
                    try MPI.scatter(ShapedArray(shape: shape, scalars: t), root: root, comm: c).0.scalars
                }
            })
    }

    static func sendrecvRule<T>(
        _ sendbuf: ShapedArray<T>, _ recvbuf: ShapedArray<T>, source: Int, dest: Int, sendtag: Int, recvtag: Int,
        comm: Communicator?
    ) -> LinearRule<T> {
        let c = resolved(comm, "sendrecv")
        let status = Status()
        let y = performOrStop("sendrecv", c) {
            try MPI.sendrecv(
                sendbuf, recvbuf, source: source, dest: dest, sendtag: sendtag, recvtag: recvtag, comm: c,
                status: status).0
        }
        // The message that arrived fixes the partner and the tag even when the
        // receive used anySource or anyTag.
        let from = status.source, tag = status.tag
        let sendShape = sendbuf.shape, recvShape = recvbuf.shape
        return LinearRule(
            operation: "sendrecv", value: y, inputShape: sendShape,
            pullback: { v in
                // The transpose: the cotangent goes back to the rank the data came
                // from, and this rank's send buffer gets the cotangent of the rank it sent to.
                // From procNull nothing arrived (tag anyTag): the cotangent goes nowhere, with any valid tag.
                runPullback("sendrecv", c, checked: false) {
                    try MPI.sendrecv(
                        ShapedArray(shape: recvShape, scalars: v), ShapedArray(repeating: 0, shape: sendShape),
                        source: dest, dest: from, sendtag: from == procNull ? 0 : tag, recvtag: sendtag, comm: c).0.scalars
                }
            },
            differential: { t in
                performOrStop("the differential of sendrecv", c) {
                    try MPI.sendrecv(
                        ShapedArray(shape: sendShape, scalars: t), ShapedArray(repeating: 0, shape: recvShape),
                        source: from, dest: dest, sendtag: sendtag, recvtag: tag, comm: c).0.scalars
                }
            })
    }
}
