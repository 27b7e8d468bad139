// The PNG writer, checked against known checksums and against an independent
// decoder: the inflate below reads stored and fixed-Huffman blocks, and the PNG
// reader undoes the row filters.
import ShallowWaterModel
import XCTest

final class PNGTests: XCTestCase {
    func testChecksumsMatchKnownValues() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
        XCTAssertEqual(Adler32.checksum(Array("Wikipedia".utf8)), 0x11E6_0398)
        XCTAssertEqual(Adler32.checksum([]), 1)
        // Long input: the modulo is taken in blocks.
        let long = [UInt8](repeating: 255, count: 100_000)
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in long {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        XCTAssertEqual(Adler32.checksum(long), b << 16 | a)
    }

    func testDeflateRoundTrips() throws {
        var generator = SplitMix(seed: 7)
        let repetitive = (0..<50_000).map { UInt8(truncatingIfNeeded: ($0 / 7) % 13) }
        let noise = (0..<70_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let mixed = Array(repetitive.prefix(1000)) + Array(noise.prefix(3000)) + Array(repetitive.prefix(40_000))
        for data in [[], [42], Array("abcabcabcabcabcabc".utf8), repetitive, noise, mixed] {
            let compressed = Deflate.compress(data)
            XCTAssertEqual(try Inflate.decode(compressed), data)
            XCTAssertLessThanOrEqual(compressed.count, data.count + 5 * (data.count / 65535 + 1))
        }
        // Repetitive data compresses; noise falls back to stored blocks.
        XCTAssertLessThan(Deflate.compress(repetitive).count, repetitive.count / 20)
        XCTAssertEqual(Deflate.compress(noise).first.map { $0 & 0b110 }, 0)
        let zlib = Deflate.zlibCompress(mixed)
        XCTAssertEqual((Int(zlib[0]) << 8 | Int(zlib[1])) % 31, 0)
        XCTAssertEqual(try Inflate.decode(Array(zlib[2..<zlib.count - 4])), mixed)
        let adler = zlib.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        XCTAssertEqual(adler, Adler32.checksum(mixed))
    }

    func testPNGDecodesToTheImage() throws {
        var image = RGBImage(width: 37, height: 23, fill: RGB(10, 20, 30))
        for y in 0..<23 {
            for x in 0..<37 { image[x, y] = ColorMap.sequential.color(at: Double(x * y) / Double(36 * 22)) }
        }
        image.fillRectangle(x: 5, y: 5, width: 10, height: 3, color: RGB(255, 0, 0))
        image.drawText("H 1.5", x: 2, y: 12, scale: 1, color: RGB(0, 0, 0))
        let png = image.pngData()
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])

        // Walk the chunks, checking each CRC.
        var offset = 8
        var chunks: [(String, [UInt8])] = []
        while offset < png.count {
            let length = png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let type = Array(png[offset + 4..<offset + 8])
            let body = Array(png[offset + 8..<offset + 8 + length])
            let crc = png[offset + 8 + length..<offset + 12 + length].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            XCTAssertEqual(crc, CRC32.checksum(type + body))
            chunks.append((String(decoding: type, as: UTF8.self), body))
            offset += 12 + length
        }
        XCTAssertEqual(chunks.map(\.0), ["IHDR", "IDAT", "IEND"])
        XCTAssertEqual(chunks[0].1, [0, 0, 0, 37, 0, 0, 0, 23, 8, 2, 0, 0, 0])

        // Inflate and undo the filters.
        let zlib = chunks[1].1
        let filtered = try Inflate.decode(Array(zlib[2..<zlib.count - 4]))
        let rowBytes = 37 * 3
        XCTAssertEqual(filtered.count, 23 * (rowBytes + 1))
        var pixels = [UInt8]()
        var previous = [UInt8](repeating: 0, count: rowBytes)
        for row in 0..<23 {
            let type = filtered[row * (rowBytes + 1)]
            var line = Array(filtered[row * (rowBytes + 1) + 1..<(row + 1) * (rowBytes + 1)])
            for i in 0..<rowBytes {
                let a = i >= 3 ? Int(line[i - 3]) : 0, b = Int(previous[i]), c = i >= 3 ? Int(previous[i - 3]) : 0
                let predictor: Int
                switch type {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default:
                    XCTFail("filter type \(type)")
                    predictor = 0
                }
                line[i] = UInt8(truncatingIfNeeded: Int(line[i]) + predictor)
            }
            pixels += line
            previous = line
        }
        XCTAssertEqual(pixels, image.pixels)
    }

    func testPlotHasTheColourBarAndTitle() {
        let values = (0..<(20 * 10)).map { Double($0 % 20) - 10 }
        let plot = FieldPlot(title: "TEST", caption: "DAY 1", range: -10...10, colorMap: .diverging)
        let image = plot.render(values, nx: 20, ny: 10)
        XCTAssertGreaterThanOrEqual(image.width, 720)
        // The colour bar runs from the top colour of the map to the bottom one.
        var colours = Set<RGB>()
        for y in 0..<image.height {
            for x in 0..<image.width { colours.insert(image[x, y]) }
        }
        func near(_ a: RGB, _ b: RGB) -> Bool {
            abs(Int(a.red) - Int(b.red)) + abs(Int(a.green) - Int(b.green)) + abs(Int(a.blue) - Int(b.blue)) <= 6
        }
        XCTAssertTrue(colours.contains { near($0, ColorMap.diverging.color(at: 1)) }, "no top colour")
        XCTAssertTrue(colours.contains { near($0, ColorMap.diverging.color(at: 0)) }, "no bottom colour")
        XCTAssertTrue(colours.contains(RGB(20, 20, 20)), "no text or frame drawn")
        XCTAssertEqual(ColorMap.diverging.color(at: 0.5), RGB(247, 247, 247))
        XCTAssertEqual(ColorMap.sequential.color(at: -3), ColorMap.sequential.color(at: 0))
    }
}

/// A deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A minimal inflate (RFC 1951) for stored and fixed-Huffman blocks, written
/// independently of the encoder.
enum Inflate {
    struct Failure: Error { let reason: String }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
                             131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                               2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    static func decode(_ input: [UInt8]) throws -> [UInt8] {
        var position = 0, bitBuffer = 0, bitCount = 0
        func bit() throws -> Int {
            if bitCount == 0 {
                guard position < input.count else { throw Failure(reason: "out of input") }
                bitBuffer = Int(input[position])
                position += 1
                bitCount = 8
            }
            let b = bitBuffer & 1
            bitBuffer >>= 1
            bitCount -= 1
            return b
        }
        func bits(_ n: Int) throws -> Int {
            var value = 0
            for k in 0..<n { value |= try bit() << k }
            return value
        }
        func code(_ n: Int, start: Int) throws -> Int {  // Huffman bits come most significant first
            var value = start
            for _ in 0..<n { value = value << 1 | (try bit()) }
            return value
        }
        func literalLength() throws -> Int {
            let seven = try code(7, start: 0)
            if seven <= 0b0010111 { return 256 + seven }
            let eight = try code(1, start: seven)
            if eight >= 0b0011_0000 && eight <= 0b1011_1111 { return eight - 0b0011_0000 }
            if eight >= 0b1100_0000 && eight <= 0b1100_0111 { return 280 + eight - 0b1100_0000 }
            let nine = try code(1, start: eight)
            return 144 + nine - 0b1_1001_0000
        }

        var output = [UInt8]()
        var final = 0
        repeat {
            final = try bit()
            let type = try bits(2)
            switch type {
            case 0:
                bitCount = 0  // skip to the byte boundary
                guard position + 4 <= input.count else { throw Failure(reason: "short stored header") }
                let length = Int(input[position]) | Int(input[position + 1]) << 8
                let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
                guard length == (~complement & 0xFFFF) else { throw Failure(reason: "bad stored length") }
                position += 4
                guard position + length <= input.count else { throw Failure(reason: "short stored block") }
                output += input[position..<position + length]
                position += length
            case 1:
                while true {
                    let symbol = try literalLength()
                    if symbol < 256 {
                        output.append(UInt8(symbol))
                    } else if symbol == 256 {
                        break
                    } else {
                        let index = symbol - 257
                        guard index < 29 else { throw Failure(reason: "bad length code") }
                        let length = lengthBase[index] + (try bits(lengthExtra[index]))
                        let dcode = try code(5, start: 0)
                        guard dcode < 30 else { throw Failure(reason: "bad distance code") }
                        let distance = distanceBase[dcode] + (try bits(distanceExtra[dcode]))
                        guard distance <= output.count else { throw Failure(reason: "distance too far") }
                        for _ in 0..<length { output.append(output[output.count - distance]) }
                    }
                }
            default:
                throw Failure(reason: "block type \(type) not produced by the encoder")
            }
        } while final == 0
        return output
    }
}
