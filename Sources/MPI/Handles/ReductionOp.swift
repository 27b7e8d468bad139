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
/// on every rank before anything is communicated. `Float16` reductions use
/// operations created by this package with `MPI_Op_create`, since MPI has no
/// half-precision type.
public struct ReductionOp: Hashable, Sendable, CustomStringConvertible {
    @usableFromInline
    enum Kind: UInt8, Sendable {
        case sum, product, min, max, logicalAnd, logicalOr, logicalXor, bitwiseAnd, bitwiseOr, bitwiseXor
    }

    @usableFromInline let kind: Kind

    @inlinable init(_ kind: Kind) { self.kind = kind }

    /// Sum (`MPI_SUM`).
    public static let sum = ReductionOp(.sum)
    /// Product (`MPI_PROD`).
    public static let product = ReductionOp(.product)
    /// Minimum (`MPI_MIN`).
    public static let min = ReductionOp(.min)
    /// Maximum (`MPI_MAX`).
    public static let max = ReductionOp(.max)
    /// Logical and (`MPI_LAND`).
    public static let logicalAnd = ReductionOp(.logicalAnd)
    /// Logical or (`MPI_LOR`).
    public static let logicalOr = ReductionOp(.logicalOr)
    /// Logical exclusive or (`MPI_LXOR`).
    public static let logicalXor = ReductionOp(.logicalXor)
    /// Bitwise and (`MPI_BAND`).
    public static let bitwiseAnd = ReductionOp(.bitwiseAnd)
    /// Bitwise or (`MPI_BOR`).
    public static let bitwiseOr = ReductionOp(.bitwiseOr)
    /// Bitwise exclusive or (`MPI_BXOR`).
    public static let bitwiseXor = ReductionOp(.bitwiseXor)

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
    @inlinable
    public func isSupported<T: MPIScalar>(for type: T.Type) -> Bool {
        handle(for: T.mpiScalarKind) != nil
    }

    /// The half-precision operation created by this package, or `nil` when the op is not arithmetic.
    @usableFromInline
    func halfPrecisionHandle() -> MPI_Op? {
        switch kind {
        case .sum: return HalfPrecisionOps.shared.sum
        case .product: return HalfPrecisionOps.shared.product
        case .min: return HalfPrecisionOps.shared.min
        case .max: return HalfPrecisionOps.shared.max
        default: return nil
        }
    }

    /// The MPI handle to use for scalars of `kind`, or `nil` when the pair is invalid.
    @inlinable
    func handle(for scalarKind: MPIScalarKind) -> MPI_Op? {
        switch scalarKind {
        case .halfPrecision:
            return halfPrecisionHandle()
        case .floatingPoint:
            switch kind {
            case .sum: return swiftmpi_op_sum()
            case .product: return swiftmpi_op_prod()
            case .min: return swiftmpi_op_min()
            case .max: return swiftmpi_op_max()
            default: return nil
            }
        case .complex:
            switch kind {
            case .sum: return swiftmpi_op_sum()
            case .product: return swiftmpi_op_prod()
            default: return nil
            }
        case .logical:
            switch kind {
            case .logicalAnd: return swiftmpi_op_land()
            case .logicalOr: return swiftmpi_op_lor()
            case .logicalXor: return swiftmpi_op_lxor()
            default: return nil
            }
        case .signedInteger, .unsignedInteger:
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
    }

    /// The MPI handle for scalars of type `T`, or the typed error for an invalid pair.
    @inlinable
    func checkedHandle<T: MPIScalar>(for type: T.Type, operation: MPIOperation) throws(MPIError) -> MPI_Op {
        guard let op = handle(for: T.mpiScalarKind) else {
            throw MPIError.unsupportedReduction(operation: operation.name, op: self, scalarType: scalarTypeName(T.self))
        }
        return op
    }
}

/// Half-precision reduction operations, created with `MPI_Op_create` once MPI is initialised.
///
/// Float16 data travels as `MPI_UINT16_T`; these commutative operations
/// reinterpret it as `Float16` and combine elementwise in half precision,
/// which is what a half-precision reduction computes on one process.
final class HalfPrecisionOps: @unchecked Sendable {
    let sum: MPI_Op
    let product: MPI_Op
    let min: MPI_Op
    let max: MPI_Op

    /// Created on first use; MPI is initialised by then, since every operation
    /// fetches its communicator first.
    static let shared = HalfPrecisionOps()

    private init() {
        // The C signature of MPI_User_function differs between Open MPI (pointer
        // handles) and MPICH (integer handles), so each closure's type is inferred
        // from MPI_Op_create at the call.
        var sum = swiftmpi_op_null(), product = swiftmpi_op_null()
        var min = swiftmpi_op_null(), max = swiftmpi_op_null()
        // Under the package's lock when calls are serialised: the first use may be on any thread.
        let codes = [
            locked { swiftmpi_op_create({ a, b, n, _ in combineHalf(a, b, n) { $0 + $1 } }, 1, &sum) },
            locked { swiftmpi_op_create({ a, b, n, _ in combineHalf(a, b, n) { $0 * $1 } }, 1, &product) },
            locked { swiftmpi_op_create({ a, b, n, _ in combineHalf(a, b, n) { Swift.min($0, $1) } }, 1, &min) },
            locked { swiftmpi_op_create({ a, b, n, _ in combineHalf(a, b, n) { Swift.max($0, $1) } }, 1, &max) },
        ]
        precondition(codes.allSatisfy { $0 == 0 }, "swift-mpi: MPI_Op_create failed for the Float16 reductions")
        self.sum = sum
        self.product = product
        self.min = min
        self.max = max
    }
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
