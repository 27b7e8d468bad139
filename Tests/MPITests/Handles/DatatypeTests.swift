// Tests of Datatype.swift: the Swift scalar types and their MPI datatypes.
import CMPI
import ComplexModule
import MPI
import MPITestSupport
import XCTest

final class DatatypeTests: MPITestCase {
    private var left: Int { ringNeighbours(rank: rank, size: size).left }
    private var right: Int { ringNeighbours(rank: rank, size: size).right }

    func testKinds() {
        XCTAssertEqual(Float.mpiScalarKind, .floatingPoint)
        XCTAssertEqual(Double.mpiScalarKind, .floatingPoint)
        XCTAssertEqual(Float16.mpiScalarKind, .halfPrecision)
        for kind in [Int8.mpiScalarKind, Int16.mpiScalarKind, Int32.mpiScalarKind, Int64.mpiScalarKind, Int.mpiScalarKind] {
            XCTAssertEqual(kind, .signedInteger)
        }
        for kind in [UInt8.mpiScalarKind, UInt16.mpiScalarKind, UInt32.mpiScalarKind, UInt64.mpiScalarKind,
                     UInt.mpiScalarKind] {
            XCTAssertEqual(kind, .unsignedInteger)
        }
        XCTAssertEqual(Bool.mpiScalarKind, .logical)
        XCTAssertEqual(Complex<Float>.mpiScalarKind, .complex)
        XCTAssertEqual(Complex<Double>.mpiScalarKind, .complex)
        XCTAssertEqual(Set(MPIScalarKind.allCases),
                       [.floatingPoint, .halfPrecision, .signedInteger, .unsignedInteger, .logical, .complex])
    }

    func testDatatypesAreThePredefinedOnes() {
        XCTAssertEqual(Float.mpiDatatype.handle, swiftmpi_float())
        XCTAssertEqual(Double.mpiDatatype.handle, swiftmpi_double())
        XCTAssertEqual(Int8.mpiDatatype.handle, swiftmpi_int8())
        XCTAssertEqual(Int16.mpiDatatype.handle, swiftmpi_int16())
        XCTAssertEqual(Int32.mpiDatatype.handle, swiftmpi_int32())
        XCTAssertEqual(Int64.mpiDatatype.handle, swiftmpi_int64())
        XCTAssertEqual(UInt8.mpiDatatype.handle, swiftmpi_uint8())
        XCTAssertEqual(UInt16.mpiDatatype.handle, swiftmpi_uint16())
        XCTAssertEqual(UInt32.mpiDatatype.handle, swiftmpi_uint32())
        XCTAssertEqual(UInt64.mpiDatatype.handle, swiftmpi_uint64())
        XCTAssertEqual(Bool.mpiDatatype.handle, swiftmpi_c_bool())
        XCTAssertEqual(Complex<Float>.mpiDatatype.handle, swiftmpi_c_float_complex())
        XCTAssertEqual(Complex<Double>.mpiDatatype.handle, swiftmpi_c_double_complex())
        XCTAssertEqual(Float.complexDatatype, Complex<Float>.mpiDatatype)
        XCTAssertEqual(Double.complexDatatype, Complex<Double>.mpiDatatype)
        // Int and UInt are 64-bit here; Float16 travels as 16-bit words.
        XCTAssertEqual(Int.mpiDatatype, Int64.mpiDatatype)
        XCTAssertEqual(UInt.mpiDatatype, UInt64.mpiDatatype)
        XCTAssertEqual(Float16.mpiDatatype, UInt16.mpiDatatype)
        let distinct: Set<Datatype> = [
            Float.mpiDatatype, Double.mpiDatatype, Int8.mpiDatatype, Int16.mpiDatatype, Int32.mpiDatatype,
            Int64.mpiDatatype, UInt8.mpiDatatype, UInt16.mpiDatatype, UInt32.mpiDatatype, UInt64.mpiDatatype,
            Bool.mpiDatatype, Complex<Float>.mpiDatatype, Complex<Double>.mpiDatatype,
        ]
        XCTAssertEqual(distinct.count, 13)
        XCTAssertEqual(Datatype(handle: swiftmpi_double()), Double.mpiDatatype)
    }

    func testEveryDatatypeHasTheSizeOfItsSwiftType() {
        for type in allScalarTypes { checkSize(type) }
    }

    private func checkSize<T: TestScalar>(_ type: T.Type) {
        var size: Int32 = -1
        XCTAssertEqual(MPI_Type_size(T.mpiDatatype.handle, &size), 0)
        XCTAssertEqual(Int(size), MemoryLayout<T>.size, "\(T.self)")
        XCTAssertEqual(MemoryLayout<T>.size, MemoryLayout<T>.stride, "\(T.self) has padding")
    }

    /// Extreme values of every type travel bit for bit through allgather, bcast and sendrecv.
    func testExtremeValuesRoundTripBitForBit() throws {
        try roundTrip([Int8.min, Int8.max, 0, -1, 1])
        try roundTrip([Int16.min, Int16.max, 0, -1, 0x1234])
        try roundTrip([Int32.min, Int32.max, 0, -1, 0x1234_5678])
        try roundTrip([Int64.min, Int64.max, 0, -1, 0x1234_5678_9ABC_DEF0])
        try roundTrip([Int.min, Int.max, 0, -1])
        try roundTrip([UInt8.max, 0, 0x80, 0x7F])
        try roundTrip([UInt16.max, 0, 0x8001])
        try roundTrip([UInt32.max, 0, 0x8000_0001])
        try roundTrip([UInt64.max, 0, 0x8000_0000_0000_0001])
        try roundTrip([UInt.max, 0, 1])
        try roundTrip([true, false, true])
        try roundTrip(floatingPointSpecials(Float.self))
        try roundTrip(floatingPointSpecials(Double.self))
        try roundTrip(floatingPointSpecials(Float16.self))
        try roundTrip(floatingPointSpecials(Float.self).map { Complex($0, -$0) })
        try roundTrip(floatingPointSpecials(Double.self).map { Complex(-$0, $0) })
    }

    private func floatingPointSpecials<T: BinaryFloatingPoint>(_ type: T.Type) -> [T] {
        [0, -0.0, 1, -1.5, .pi, .infinity, -.infinity, .nan, -.nan, .signalingNaN, .leastNonzeroMagnitude,
         .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .ulpOfOne]
    }

    private func roundTrip<T: MPIScalar>(_ values: [T]) throws {
        let context = "\(T.self) \(here)"
        let expected = bytes(of: values)
        let (all, _) = try allgather(values)
        XCTAssertEqual(bytes(of: all.scalars), Array((0..<size).map { _ in expected }.joined()), "allgather \(context)")
        let mine = rank == size - 1 ? values : values.reversed()
        let (fromRoot, _) = try bcast(mine, root: size - 1)
        XCTAssertEqual(bytes(of: fromRoot), expected, "bcast \(context)")
        let (fromLeft, _) = try sendrecv(values, values.reversed(), source: left, dest: right)
        XCTAssertEqual(bytes(of: fromLeft), expected, "sendrecv \(context)")
        let (row, _) = try scatter(ShapedArray(shape: rank == 0 ? [size, values.count] : [values.count],
                                               scalars: rank == 0 ? Array(Array(repeating: values, count: size).joined())
                                                   : values.reversed()), root: 0)
        XCTAssertEqual(bytes(of: row.scalars), expected, "scatter \(context)")
    }

    func testBoolTravelsAsCBool() throws {
        // MPI_C_BOOL is one byte holding 0 or 1, the layout of Swift's Bool.
        let (all, _) = try allgather(rank % 2 == 1)
        XCTAssertEqual(all.scalars, (0..<size).map { $0 % 2 == 1 })
        XCTAssertEqual(bytes(of: all.scalars), (0..<size).map { UInt8($0 % 2) })
    }
}
