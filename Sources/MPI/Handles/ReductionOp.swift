import CMPI

/// A predefined reduction operation for ``allreduce(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``,
/// ``reduce(_:op:root:comm:token:)-(ShapedArray<T>,_,_,_,_)`` and ``scan(_:op:comm:token:)-(ShapedArray<T>,_,_,_)``.
///
/// Each operation is defined for the scalar kinds that MPI allows (MPI 3.1 section 5.9.2):
///
/// | operation | floating point | Float16 | integers | Bool | complex |
/// |---|---|---|---|---|---|
/// | `sum`, `product` | yes | yes | yes | no | yes |
/// | `min`, `max` | yes | yes | yes | no | no |
/// | `logicalAnd`, `logicalOr`, `logicalXor` | no | no | yes | yes | no |
/// | `bitwiseAnd`, `bitwiseOr`, `bitwiseXor` | no | no | yes | no | no |
///
/// An invalid pair throws ``MPIError/unsupportedReduction(operation:op:scalarType:)``
/// on every rank before anything is communicated; ``isSupported(for:)`` answers
/// the same question without MPI.
///
/// `Float16` reductions use operations that this package creates with
/// `MPI_Op_create` when it sets MPI up, and frees with `MPI_Op_free` when it
/// finalises, since MPI has no half-precision type. Their `min` and `max` give
/// the same bits on every rank, whatever the order the library combines in: NaN
/// propagates (a NaN at a position on any rank gives a NaN there; of several
/// NaNs, the one with the largest bit pattern), and `-0.0` is below `+0.0`. MPI's own `min` and `max` for `Float` and `Double`
/// are not defined for NaN: measured on Open MPI 4.1.4 and MPICH 4.0.2, whether
/// a NaN survives depends on the rank that holds it, the number of ranks and the
/// library (a NaN on the last rank survived, one on rank 0 was dropped), and
/// `reduce` and `allreduce` can disagree.
///
/// MPI's `min` and `max` of unsigned integers are checked once when the package sets MPI up (a
/// local `MPI_Reduce_local` of values above the signed range, no message): MPICH 4.0.x compares them
/// as signed integers (pmodels/mpich#6083; `min` of 117 and 130 as `UInt8` gave 130), and where the
/// library does, the package reduces them with operations of its own instead (see
/// <doc:Troubleshooting>). Likewise `sum` of 8- and 16-bit integers, which Open MPI 4.1.4 saturates
/// on long vectors: where the library does, the package's own `sum` wraps around, as `&+` does.
public struct ReductionOp: Hashable, Sendable, CustomStringConvertible {
    @usableFromInline
    enum Kind: UInt8, Sendable {
        case sum, product, min, max, logicalAnd, logicalOr, logicalXor, bitwiseAnd, bitwiseOr, bitwiseXor
    }

    @usableFromInline let kind: Kind

    @inlinable init(_ kind: Kind) { self.kind = kind }

    // The operations are computed and inlined, not stored: a stored static is read through its
    // accessor, a call in every reduction of a client module.

    /// Sum (`MPI_SUM`).
    @inlinable public static var sum: ReductionOp { ReductionOp(.sum) }
    /// Product (`MPI_PROD`).
    @inlinable public static var product: ReductionOp { ReductionOp(.product) }
    /// Minimum (`MPI_MIN`).
    @inlinable public static var min: ReductionOp { ReductionOp(.min) }
    /// Maximum (`MPI_MAX`).
    @inlinable public static var max: ReductionOp { ReductionOp(.max) }
    /// Logical and (`MPI_LAND`).
    @inlinable public static var logicalAnd: ReductionOp { ReductionOp(.logicalAnd) }
    /// Logical or (`MPI_LOR`).
    @inlinable public static var logicalOr: ReductionOp { ReductionOp(.logicalOr) }
    /// Logical exclusive or (`MPI_LXOR`).
    @inlinable public static var logicalXor: ReductionOp { ReductionOp(.logicalXor) }
    /// Bitwise and (`MPI_BAND`).
    @inlinable public static var bitwiseAnd: ReductionOp { ReductionOp(.bitwiseAnd) }
    /// Bitwise or (`MPI_BOR`).
    @inlinable public static var bitwiseOr: ReductionOp { ReductionOp(.bitwiseOr) }
    /// Bitwise exclusive or (`MPI_BXOR`).
    @inlinable public static var bitwiseXor: ReductionOp { ReductionOp(.bitwiseXor) }

    /// Every predefined reduction operation.
    public static let allCases: [ReductionOp] = [
        .sum, .product, .min, .max, .logicalAnd, .logicalOr, .logicalXor, .bitwiseAnd, .bitwiseOr, .bitwiseXor,
    ]

    /// The operation's name in Swift, for example `sum`.
    public var description: String {
        switch kind {
        case .sum: "sum"
        case .product: "product"
        case .min: "min"
        case .max: "max"
        case .logicalAnd: "logicalAnd"
        case .logicalOr: "logicalOr"
        case .logicalXor: "logicalXor"
        case .bitwiseAnd: "bitwiseAnd"
        case .bitwiseOr: "bitwiseOr"
        case .bitwiseXor: "bitwiseXor"
        }
    }

    /// The scalar kinds for which this operation is defined.
    public var supportedScalarKinds: Set<MPIScalarKind> {
        switch kind {
        case .sum, .product: [.floatingPoint, .halfPrecision, .signedInteger, .unsignedInteger, .complex]
        case .min, .max: [.floatingPoint, .halfPrecision, .signedInteger, .unsignedInteger]
        case .logicalAnd, .logicalOr, .logicalXor: [.signedInteger, .unsignedInteger, .logical]
        case .bitwiseAnd, .bitwiseOr, .bitwiseXor: [.signedInteger, .unsignedInteger]
        }
    }

    /// Whether this operation is defined for the scalar type `T`.
    ///
    /// A lookup in the table above: it calls no MPI function, so it may be
    /// asked before MPI is initialised and after it is finalised.
    @inlinable
    public func isSupported<T: MPIScalar>(for type: T.Type) -> Bool {
        supports(T.mpiScalarKind)
    }

    /// Whether this operation is defined for scalars of `scalarKind` (the table above, without MPI).
    @inlinable @inline(__always)
    func supports(_ scalarKind: MPIScalarKind) -> Bool {
        switch scalarKind {
        case .floatingPoint, .halfPrecision: kind == .sum || kind == .product || kind == .min || kind == .max
        case .complex: kind == .sum || kind == .product
        case .logical: kind == .logicalAnd || kind == .logicalOr || kind == .logicalXor
        case .signedInteger, .unsignedInteger: true
        }
    }

    /// MPI's predefined handle for scalars of `scalarKind`, or `nil` when the pair is
    /// invalid or the kind is half precision (whose operations this package creates).
    ///
    /// The handles are constants of the MPI library: reading one calls no MPI function.
    @inlinable @inline(__always)
    func predefinedHandle(for scalarKind: MPIScalarKind) -> MPI_Op? {
        guard scalarKind != .halfPrecision, supports(scalarKind) else { return nil }
        switch kind {
        case .sum: return swiftmpi_op_sum()
        case .product: return swiftmpi_op_prod()
        case .min: return swiftmpi_op_min()
        case .max: return swiftmpi_op_max()
        case .logicalAnd: return swiftmpi_op_land()
        case .logicalOr: return swiftmpi_op_lor()
        case .logicalXor: return swiftmpi_op_lxor()
        case .bitwiseAnd: return swiftmpi_op_band()
        case .bitwiseOr: return swiftmpi_op_bor()
        case .bitwiseXor: return swiftmpi_op_bxor()
        }
    }

    /// The MPI handle for scalars of type `T`, or the typed error for an invalid pair.
    ///
    /// For `Float16` the handle is one of the operations the package created when
    /// it set MPI up: this initialises MPI if needed, and throws
    /// ``MPIError/finalized(operation:)`` once the package has finalised it.
    ///
    /// Inlined into each operation's core: for a known `T` the scalar kind is a
    /// constant, so a valid pair costs the op's handle, one table load (callgrind,
    /// allreduce of a `Double`: the checks went from about 40 instructions per call,
    /// two calls, to about 20); half precision and invalid pairs go to
    /// ``otherHandle(for:scalarKind:operation:)``.
    @inlinable @inline(__always)
    func checkedHandle<T: MPIScalar>(for type: T.Type, operation: MPIOperation) throws(MPIError) -> MPI_Op {
        if T.mpiScalarKind == .unsignedInteger, kind == .min || kind == .max {
            return try unsignedOrderHandle(byteWidth: MemoryLayout<T>.size, operation: operation)
        }
        if kind == .sum, MemoryLayout<T>.size <= 2, T.mpiScalarKind == .signedInteger || T.mpiScalarKind == .unsignedInteger {
            return try narrowSumHandle(byteWidth: MemoryLayout<T>.size, signed: T.mpiScalarKind == .signedInteger,
                                       operation: operation)
        }
        if T.mpiScalarKind != .halfPrecision, let op = predefinedHandle(for: T.mpiScalarKind) { return op }
        return try otherHandle(for: T.self, scalarKind: T.mpiScalarKind, operation: operation)
    }

    /// `min` or `max` of unsigned integers of `byteWidth` bytes: MPI's, or the package's own
    /// where the library compares unsigned integers as signed (see ``UnsignedOrderOps``).
    @usableFromInline @inline(never)
    func unsignedOrderHandle(byteWidth: Int, operation: MPIOperation) throws(MPIError) -> MPI_Op {
        let state = try RuntimeState.current(for: operation.name)
        if let ops = state.unsignedOrderOps { return ops.handle(byteWidth: byteWidth, minimum: kind == .min) }
        return kind == .min ? swiftmpi_op_min() : swiftmpi_op_max()
    }

    /// `sum` of 8- or 16-bit integers: MPI's, or the package's own where the library's saturates
    /// (see ``WrappingSumOps``).
    @usableFromInline @inline(never)
    func narrowSumHandle(byteWidth: Int, signed: Bool, operation: MPIOperation) throws(MPIError) -> MPI_Op {
        let state = try RuntimeState.current(for: operation.name)
        return state.wrappingSumOps?.handle(byteWidth: byteWidth, signed: signed) ?? swiftmpi_op_sum()
    }

    /// ``checkedHandle(for:operation:)`` for half precision, and the typed error for an invalid pair.
    @usableFromInline @inline(never)
    func otherHandle(for type: Any.Type, scalarKind: MPIScalarKind, operation: MPIOperation) throws(MPIError) -> MPI_Op {
        if scalarKind == .halfPrecision {
            return try halfPrecisionHandle(operation: operation.name, scalarType: type)
        }
        throw MPIError.unsupportedReduction(operation: operation.name, op: self, scalarType: scalarTypeName(type))
    }

    /// The package's half-precision operation for this op, created when MPI was set up.
    @usableFromInline
    func halfPrecisionHandle(operation: String, scalarType: Any.Type) throws(MPIError) -> MPI_Op {
        guard supports(.halfPrecision) else {
            throw MPIError.unsupportedReduction(operation: operation, op: self, scalarType: String(describing: scalarType))
        }
        let ops = try RuntimeState.current(for: operation).halfPrecisionOps
        switch kind {
        case .sum: return ops.sum
        case .product: return ops.product
        case .min: return ops.min
        default: return ops.max
        }
    }
}

/// Half-precision reduction operations, created with `MPI_Op_create` when the
/// package sets MPI up and freed with `MPI_Op_free` when it finalises.
///
/// Float16 data travels as `MPI_UINT16_T`; these commutative operations
/// reinterpret it as `Float16` and combine elementwise in half precision,
/// which is what a half-precision reduction computes on one process.
///
/// `min` and `max` are commutative and associative for every input, NaN and
/// signed zeros included, so every rank of an allreduce gets the same bits
/// whatever order the MPI library combines the contributions in:
/// - a NaN at a position on any rank gives a NaN there (NaN propagates, as in
///   IEEE 754-2019 `minimum` and `maximum`): of several NaNs, the one with the
///   largest bit pattern, so a single NaN keeps its bits;
/// - `-0.0` is below `+0.0`: `min` of the two is `-0.0`, `max` is `+0.0`.
final class HalfPrecisionOps: @unchecked Sendable {
    let sum: MPI_Op
    let product: MPI_Op
    let min: MPI_Op
    let max: MPI_Op

    private init(sum: MPI_Op, product: MPI_Op, min: MPI_Op, max: MPI_Op) {
        self.sum = sum
        self.product = product
        self.min = min
        self.max = max
    }

    /// Creates the four operations (`MPI_Op_create`, a local call); MPI must be initialised.
    static func create() throws(MPIError) -> HalfPrecisionOps {
        // The C signature of MPI_User_function differs between Open MPI (pointer
        // handles) and MPICH (integer handles), so each closure's type is inferred
        // from MPI_Op_create at the call.
        let made = try createOps([
            { swiftmpi_op_create({ a, b, n, _ in combineHalf(a, b, n) { $0 + $1 } }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineHalf(a, b, n) { $0 * $1 } }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineHalf(a, b, n, halfMinimum) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineHalf(a, b, n, halfMaximum) }, 1, $0) },
        ])
        return HalfPrecisionOps(sum: made[0], product: made[1], min: made[2], max: made[3])
    }

    /// Frees the operations (`MPI_Op_free`, a local call); MPI must not be finalised.
    func free() { freeOps([sum, product, min, max]) }
}

/// `min` and `max` of unsigned integers, created by the package where the MPI library's own
/// compare unsigned integers as signed, and freed when the package finalises.
///
/// MPICH 4.0.x (pmodels/mpich#6083, fixed in 4.1) reduces `MPI_UINT8_T` to `MPI_UINT64_T` with
/// `MPI_MIN` and `MPI_MAX` as if they were signed: values from 2^(bits-1) up count as negative, so
/// `min` of 117 and 130 as `UInt8` is 130, on every rank and without an error.
/// ``checkIfNeeded()`` finds this out with `MPI_Reduce_local` (local, no message) when the package sets
/// MPI up; where it is so, the reductions use these commutative operations on the same
/// datatypes and counts instead: the same MPI call with another `MPI_Op`. A C rank in the same
/// reduction that passes `MPI_MIN` or `MPI_MAX` mixes two operations, which MPI does not allow.
final class UnsignedOrderOps: @unchecked Sendable {
    /// The operations for 1, 2, 4 and 8 bytes, `min` first: indexed by ``index(byteWidth:minimum:)``.
    private let ops: [MPI_Op]

    private init(ops: [MPI_Op]) { self.ops = ops }

    private static func index(byteWidth: Int, minimum: Bool) -> Int {
        let size = byteWidth == 1 ? 0 : byteWidth == 2 ? 1 : byteWidth == 4 ? 2 : 3
        return 2 * size + (minimum ? 0 : 1)
    }

    /// The operation for unsigned integers of `byteWidth` bytes (1, 2, 4 or 8).
    func handle(byteWidth: Int, minimum: Bool) -> MPI_Op {
        ops[Self.index(byteWidth: byteWidth, minimum: minimum)]
    }

    /// The package's operations if MPI's `min` or `max` is wrong for an unsigned type, else `nil`.
    /// Local calls only (`MPI_Reduce_local`, `MPI_Op_create`); MPI must be initialised.
    static func checkIfNeeded() throws(MPIError) -> UnsignedOrderOps? {
        let wrong = [
            try comparesAsSigned(UInt8.self, swiftmpi_uint8()), try comparesAsSigned(UInt16.self, swiftmpi_uint16()),
            try comparesAsSigned(UInt32.self, swiftmpi_uint32()), try comparesAsSigned(UInt64.self, swiftmpi_uint64()),
        ]
        return wrong.contains(true) ? try create() : nil
    }

    /// Whether MPI's `min` or `max` of `T`, above the signed range, gives the wrong one of two values.
    private static func comparesAsSigned<T: FixedWidthInteger & UnsignedInteger>(
        _: T.Type, _ type: MPI_Datatype
    ) throws(MPIError) -> Bool {
        let high = T(1) << (T.bitWidth - 1) | 2
        var input: [T] = [3, high]
        var minimum: [T] = [high, 3]
        var maximum: [T] = [high, 3]
        try check(MPI_Reduce_local(&input, &minimum, 2, type, swiftmpi_op_min()), "MPI_Reduce_local")
        try check(MPI_Reduce_local(&input, &maximum, 2, type, swiftmpi_op_max()), "MPI_Reduce_local")
        return minimum != [3, 3] || maximum != [high, high]
    }

    /// Creates the eight operations (`MPI_Op_create`, a local call).
    private static func create() throws(MPIError) -> UnsignedOrderOps {
        // As for HalfPrecisionOps, each closure's C type is inferred from MPI_Op_create.
        UnsignedOrderOps(ops: try createOps([
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt8.self, min) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt8.self, max) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt16.self, min) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt16.self, max) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt32.self, min) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt32.self, max) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt64.self, min) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt64.self, max) }, 1, $0) },
        ]))
    }

    /// Frees the operations (`MPI_Op_free`, a local call); MPI must not be finalised.
    func free() { freeOps(ops) }
}

/// `sum` of 8- and 16-bit integers that wraps around, created by the package where the MPI
/// library's saturates, and freed when the package finalises.
///
/// Open MPI 4.1.4's `op/avx` component adds `MPI_INT8_T`, `MPI_UINT8_T`, `MPI_INT16_T` and
/// `MPI_UINT16_T` with saturation once a vector is long enough for its vector code (8 elements and
/// more of 16 bits, 32 and more of 8 bits, measured from C): `MPI_SUM` of 32767 and 2 as `int16_t`
/// gives 32767, where shorter vectors, MPICH and Open MPI without that component (`--mca op ^avx`)
/// give −32767, as two's complement addition does. ``checkIfNeeded()`` finds this out with
/// `MPI_Reduce_local` of 64 elements (local, no message) when the package sets MPI up; where it is
/// so, sums of these types use these commutative operations on the same datatypes and counts
/// instead: the same MPI call with another `MPI_Op`. A C rank in the same reduction that passes
/// `MPI_SUM` mixes two operations, which MPI does not allow.
final class WrappingSumOps: @unchecked Sendable {
    /// The operations for `Int8`, `UInt8`, `Int16` and `UInt16`: indexed by ``index(byteWidth:signed:)``.
    private let ops: [MPI_Op]

    private init(ops: [MPI_Op]) { self.ops = ops }

    private static func index(byteWidth: Int, signed: Bool) -> Int { (byteWidth == 1 ? 0 : 2) + (signed ? 0 : 1) }

    /// The operation for integers of `byteWidth` bytes (1 or 2).
    func handle(byteWidth: Int, signed: Bool) -> MPI_Op { ops[Self.index(byteWidth: byteWidth, signed: signed)] }

    /// The package's operations if MPI's `sum` saturates for one of these types, else `nil`.
    /// Local calls only (`MPI_Reduce_local`, `MPI_Op_create`); MPI must be initialised.
    static func checkIfNeeded() throws(MPIError) -> WrappingSumOps? {
        let wrong = [
            try saturates(Int8.self, swiftmpi_int8()), try saturates(UInt8.self, swiftmpi_uint8()),
            try saturates(Int16.self, swiftmpi_int16()), try saturates(UInt16.self, swiftmpi_uint16()),
        ]
        guard wrong.contains(true) else { return nil }
        return WrappingSumOps(ops: try createOps([
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, Int8.self, &+) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt8.self, &+) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, Int16.self, &+) }, 1, $0) },
            { swiftmpi_op_create({ a, b, n, _ in combineOrdered(a, b, n, UInt16.self, &+) }, 1, $0) },
        ]))
    }

    /// Whether MPI's `sum` of 64 elements of `T`, each the largest value plus 2, stops at the largest.
    private static func saturates<T: FixedWidthInteger>(_: T.Type, _ type: MPI_Datatype) throws(MPIError) -> Bool {
        var input = [T](repeating: .max, count: 64)
        var sums = [T](repeating: 2, count: 64)
        try check(MPI_Reduce_local(&input, &sums, 64, type, swiftmpi_op_sum()), "MPI_Reduce_local")
        return sums.contains { $0 != T.max &+ 2 }
    }

    /// Frees the operations (`MPI_Op_free`, a local call); MPI must not be finalised.
    func free() { freeOps(ops) }
}

/// Creates operations with `MPI_Op_create` (a local call), one per creator; if one fails, frees
/// those made and throws.
private func createOps(_ creators: [(UnsafeMutablePointer<MPI_Op>) -> Int32]) throws(MPIError) -> [MPI_Op] {
    var made = [MPI_Op](repeating: swiftmpi_op_null(), count: creators.count)
    for (i, create) in creators.enumerated() {
        let code = create(&made[i])
        if code != 0 {
            freeOps(made)
            throw makeMPIError(code, "MPI_Op_create")
        }
    }
    return made
}

/// Frees the operations that were created (`MPI_Op_free`, a local call); MPI must not be finalised.
private func freeOps(_ ops: [MPI_Op]) {
    for var op in ops where op != swiftmpi_op_null() {
        _ = swiftmpi_op_free(&op)
    }
}

/// `inoutvec[i] = f(invec[i], inoutvec[i])` over `length` values of `T`.
@inline(__always)
private func combineOrdered<T>(
    _ input: UnsafeMutableRawPointer?, _ inout_: UnsafeMutableRawPointer?, _ length: UnsafeMutablePointer<Int32>?,
    _: T.Type, _ f: (T, T) -> T
) {
    guard let input, let inout_, let length else { return }
    let n = Int(length.pointee)
    let a = input.assumingMemoryBound(to: T.self)
    let b = inout_.assumingMemoryBound(to: T.self)
    for i in 0..<n { b[i] = f(a[i], b[i]) }
}

/// `min` for the Float16 reductions: a NaN if either is NaN (see ``propagatedNaN(_:_:)``),
/// and `-0.0` below `+0.0`.
@inline(__always)
func halfMinimum(_ a: Float16, _ b: Float16) -> Float16 {
    if a.isNaN || b.isNaN { return propagatedNaN(a, b) }
    if a == b { return a.sign == .minus ? a : b }
    return a < b ? a : b
}

/// `max` for the Float16 reductions: a NaN if either is NaN (see ``propagatedNaN(_:_:)``),
/// and `+0.0` above `-0.0`.
@inline(__always)
func halfMaximum(_ a: Float16, _ b: Float16) -> Float16 {
    if a.isNaN || b.isNaN { return propagatedNaN(a, b) }
    if a == b { return a.sign == .minus ? b : a }
    return a < b ? b : a
}

/// The NaN that `min` and `max` give when `a` or `b` is NaN: the NaN one, or of
/// two NaNs the one with the larger bit pattern. So over any number of values,
/// the result is the NaN with the largest bit pattern among them, whatever the
/// order they are combined in, and a single NaN keeps its bits.
@inline(__always)
func propagatedNaN(_ a: Float16, _ b: Float16) -> Float16 {
    guard a.isNaN else { return b }
    guard b.isNaN else { return a }
    return a.bitPattern >= b.bitPattern ? a : b
}

/// `inoutvec[i] = f(invec[i], inoutvec[i])` over `length` half-precision values.
@inline(__always)
private func combineHalf(
    _ input: UnsafeMutableRawPointer?, _ inout_: UnsafeMutableRawPointer?, _ length: UnsafeMutablePointer<Int32>?,
    _ f: (Float16, Float16) -> Float16
) {
    guard let input, let inout_, let length else { return }
    let n = Int(length.pointee)
    let a = input.assumingMemoryBound(to: Float16.self)
    let b = inout_.assumingMemoryBound(to: Float16.self)
    for i in 0..<n { b[i] = f(a[i], b[i]) }
}
