import CMPI
import ComplexModule

/// The kind of a scalar type, which decides the reduction operations MPI allows on it.
///
/// MPI defines each predefined reduction operation for some groups of types
/// only (MPI 3.1 section 5.9.2): for example `MPI_SUM` for integers, floating
/// point and complex; the logical operations for integers and logical (`Bool`);
/// the bitwise operations for integers and bytes.
public enum MPIScalarKind: String, Sendable, Hashable, CaseIterable {
    /// IEEE single or double precision (`Float`, `Double`).
    case floatingPoint
    /// IEEE half precision (`Float16`). MPI has no such type; reductions use
    /// operations defined by this package.
    case halfPrecision
    /// Signed integers (`Int8` to `Int64`, `Int`).
    case signedInteger
    /// Unsigned integers (`UInt8` to `UInt64`, `UInt`).
    case unsignedInteger
    /// Logical values (`Bool`, sent as `MPI_C_BOOL`).
    case logical
    /// Complex numbers (`Complex<Float>`, `Complex<Double>`).
    case complex
}

/// An MPI datatype handle.
///
/// A thin, immutable wrapper over `MPI_Datatype` (a pointer in Open MPI, an
/// integer in MPICH). Predefined datatypes are valid for the whole life of MPI.
public struct Datatype: @unchecked Sendable, Hashable {
    /// The underlying MPI handle.
    public let handle: MPI_Datatype

    /// Wraps an MPI datatype handle.
    public init(handle: MPI_Datatype) { self.handle = handle }

    /// Two datatypes are equal when their handles are identical.
    public static func == (lhs: Datatype, rhs: Datatype) -> Bool { lhs.handle == rhs.handle }

    /// Hashes the handle.
    public func hash(into hasher: inout Hasher) { hasher.combine(handle) }
}

/// A Swift scalar type that has an MPI datatype.
///
/// This is the counterpart of rsmpi's `Equivalence` trait: each conforming type
/// names the predefined MPI datatype whose memory layout it has, so arrays of it
/// can be handed to MPI without conversion. The package conforms `Float`,
/// `Double`, `Float16`, `Int8`, `Int16`, `Int32`, `Int64`, `Int`, `UInt8`,
/// `UInt16`, `UInt32`, `UInt64`, `UInt`, `Bool`, `Complex<Float>` and
/// `Complex<Double>`.
///
/// Conforming types must be trivial (plain old data) and their memory layout
/// must match ``mpiDatatype``.
public protocol MPIScalar: Sendable, Equatable {
    /// The MPI datatype with this type's memory layout.
    static var mpiDatatype: Datatype { get }
    /// The kind of the type, which decides the reduction operations allowed on it.
    static var mpiScalarKind: MPIScalarKind { get }
}

extension Float: MPIScalar {
    /// `MPI_FLOAT`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_float()) }
    /// ``MPIScalarKind/floatingPoint``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .floatingPoint }
}
extension Double: MPIScalar {
    /// `MPI_DOUBLE`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_double()) }
    /// ``MPIScalarKind/floatingPoint``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .floatingPoint }
}
extension Float16: MPIScalar {
    /// `MPI_UINT16_T` for data movement; reductions use this package's
    /// user-defined half-precision operations, since MPI has no half-precision type.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_uint16()) }
    /// ``MPIScalarKind/halfPrecision``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .halfPrecision }
}
extension Int8: MPIScalar {
    /// `MPI_INT8_T`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_int8()) }
    /// ``MPIScalarKind/signedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .signedInteger }
}
extension Int16: MPIScalar {
    /// `MPI_INT16_T`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_int16()) }
    /// ``MPIScalarKind/signedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .signedInteger }
}
extension Int32: MPIScalar {
    /// `MPI_INT32_T`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_int32()) }
    /// ``MPIScalarKind/signedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .signedInteger }
}
extension Int64: MPIScalar {
    /// `MPI_INT64_T`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_int64()) }
    /// ``MPIScalarKind/signedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .signedInteger }
}
extension Int: MPIScalar {
    /// `MPI_INT64_T` on 64-bit platforms, `MPI_INT32_T` on 32-bit ones.
    @inlinable public static var mpiDatatype: Datatype {
        Datatype(handle: MemoryLayout<Int>.size == 8 ? swiftmpi_int64() : swiftmpi_int32())
    }
    /// ``MPIScalarKind/signedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .signedInteger }
}
extension UInt8: MPIScalar {
    /// `MPI_UINT8_T`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_uint8()) }
    /// ``MPIScalarKind/unsignedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .unsignedInteger }
}
extension UInt16: MPIScalar {
    /// `MPI_UINT16_T`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_uint16()) }
    /// ``MPIScalarKind/unsignedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .unsignedInteger }
}
extension UInt32: MPIScalar {
    /// `MPI_UINT32_T`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_uint32()) }
    /// ``MPIScalarKind/unsignedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .unsignedInteger }
}
extension UInt64: MPIScalar {
    /// `MPI_UINT64_T`.
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_uint64()) }
    /// ``MPIScalarKind/unsignedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .unsignedInteger }
}
extension UInt: MPIScalar {
    /// `MPI_UINT64_T` on 64-bit platforms, `MPI_UINT32_T` on 32-bit ones.
    @inlinable public static var mpiDatatype: Datatype {
        Datatype(handle: MemoryLayout<UInt>.size == 8 ? swiftmpi_uint64() : swiftmpi_uint32())
    }
    /// ``MPIScalarKind/unsignedInteger``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .unsignedInteger }
}
extension Bool: MPIScalar {
    /// `MPI_C_BOOL` (one byte, 0 or 1, like Swift's `Bool`).
    @inlinable public static var mpiDatatype: Datatype { Datatype(handle: swiftmpi_c_bool()) }
    /// ``MPIScalarKind/logical``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .logical }
}
extension Complex: MPIScalar where RealType: MPIComplexComponent {
    /// `MPI_C_FLOAT_COMPLEX` for `Complex<Float>`, `MPI_C_DOUBLE_COMPLEX` for `Complex<Double>`.
    @inlinable public static var mpiDatatype: Datatype { RealType.complexDatatype }
    /// ``MPIScalarKind/complex``.
    @inlinable public static var mpiScalarKind: MPIScalarKind { .complex }
}

/// A real type whose `Complex` has a predefined MPI datatype: `Float` and `Double`.
///
/// swift-numerics lays out `Complex<T>` as two `T`s, real part first, which is the
/// layout of C's `float _Complex` and `double _Complex`.
public protocol MPIComplexComponent: MPIScalar {
    /// `MPI_C_FLOAT_COMPLEX` or `MPI_C_DOUBLE_COMPLEX`.
    static var complexDatatype: Datatype { get }
}
extension Float: MPIComplexComponent {
    /// `MPI_C_FLOAT_COMPLEX`.
    @inlinable public static var complexDatatype: Datatype { Datatype(handle: swiftmpi_c_float_complex()) }
}
extension Double: MPIComplexComponent {
    /// `MPI_C_DOUBLE_COMPLEX`.
    @inlinable public static var complexDatatype: Datatype { Datatype(handle: swiftmpi_c_double_complex()) }
}

/// The name of a scalar type for error messages, e.g. `Complex<Double>`.
@usableFromInline
func scalarTypeName<T>(_ type: T.Type) -> String { String(describing: type) }
