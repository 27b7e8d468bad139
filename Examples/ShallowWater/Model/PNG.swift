// A self-contained PNG encoder: CRC-32, Adler-32, a deflate compressor (LZ77 with the
// fixed Huffman code, or stored blocks when those come out smaller) and the zlib and
// PNG containers. No dependencies.

/// CRC-32 as PNG and zlib's gzip use it (reflected polynomial 0xEDB88320).
public struct CRC32: Sendable {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The checksum of the bytes fed so far.
    public private(set) var value: UInt32 = 0

    /// A checksum of no bytes.
    public init() {}

    /// Feeds `bytes` into the checksum.
    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        var c = ~value
        Self.table.withUnsafeBufferPointer { table in
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        value = ~c
    }

    /// The CRC-32 of `bytes`.
    public static func checksum<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }
}

/// Adler-32, the checksum that ends a zlib stream.
public struct Adler32: Sendable {
    private var a: UInt32 = 1
    private var b: UInt32 = 0

    /// A checksum of no bytes (value 1).
    public init() {}

    /// The checksum of the bytes fed so far.
    public var value: UInt32 { b << 16 | a }

    /// Feeds `bytes` into the checksum.
    public mutating func update(_ bytes: [UInt8]) {
        // 5552 bytes is the most that cannot overflow b before the modulo.
        var start = 0
        while start < bytes.count {
            let end = min(start + 5552, bytes.count)
            for index in start..<end {
                a &+= UInt32(bytes[index])
                b &+= a
            }
            a %= 65521
            b %= 65521
            start = end
        }
    }

    /// The Adler-32 of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var adler = Adler32()
        adler.update(bytes)
        return adler.value
    }
}

/// A deflate (RFC 1951) compressor and the zlib (RFC 1950) wrapper around it.
public enum Deflate {
    /// The raw deflate stream of `data`: one block with the fixed Huffman code after
    /// greedy LZ77 matching (32 KiB window), or stored blocks if those are smaller.
    public static func compress(_ data: [UInt8]) -> [UInt8] {
        let fixed = fixedHuffmanBlock(data)
        let storedSize = data.count + 5 * max(1, (data.count + 65534) / 65535)
        return fixed.count <= storedSize ? fixed : storedBlocks(data)
    }

    /// `data` in a zlib stream: header, deflate data, Adler-32.
    public static func zlibCompress(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]  // deflate, 32 KiB window; 0x7801 is a multiple of 31
        out.append(contentsOf: compress(data))
        let adler = Adler32.checksum(data)
        out.append(contentsOf: [UInt8(adler >> 24), UInt8(adler >> 16 & 0xFF), UInt8(adler >> 8 & 0xFF), UInt8(adler & 0xFF)])
        return out
    }

    /// `data` as stored (uncompressed) blocks of at most 65535 bytes.
    public static func storedBlocks(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(data.count + 5 * (data.count / 65535 + 1))
        var start = 0
        repeat {
            let end = min(start + 65535, data.count)
            let length = UInt16(end - start)
            out.append(end == data.count ? 1 : 0)  // BFINAL, BTYPE = 00, padded to the byte
            out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)])
            out.append(contentsOf: data[start..<end])
            start = end
        } while start < data.count
        return out
    }

    // Length codes 257...285: base lengths and extra bits.
    private static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                            35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                             3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    // Distance codes 0...29: base distances and extra bits.
    private static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                              257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                              8193, 12289, 16385, 24577]
    private static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                               7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    /// Bits written least significant first, as deflate packs them.
    private struct BitWriter {
        var bytes = [UInt8]()
        var buffer: UInt64 = 0
        var count = 0

        mutating func write(_ value: Int, bits: Int) {
            buffer |= UInt64(value) << UInt64(count)
            count += bits
            while count >= 8 {
                bytes.append(UInt8(buffer & 0xFF))
                buffer >>= 8
                count -= 8
            }
        }

        /// A Huffman code, whose bits go most significant first.
        mutating func writeCode(_ code: Int, length: Int) {
            var reversed = 0
            for bit in 0..<length { reversed |= (code >> bit & 1) << (length - 1 - bit) }
            write(reversed, bits: length)
        }

        mutating func finish() -> [UInt8] {
            if count > 0 { bytes.append(UInt8(buffer & 0xFF)) }
            buffer = 0
            count = 0
            return bytes
        }
    }

    /// The fixed literal/length code of symbol 0...287 (RFC 1951, 3.2.6).
    private static func writeLiteral(_ symbol: Int, to writer: inout BitWriter) {
        switch symbol {
        case 0...143: writer.writeCode(0x30 + symbol, length: 8)
        case 144...255: writer.writeCode(0x190 + symbol - 144, length: 9)
        case 256...279: writer.writeCode(symbol - 256, length: 7)
        default: writer.writeCode(0xC0 + symbol - 280, length: 8)
        }
    }

    private static func writeMatch(length: Int, distance: Int, to writer: inout BitWriter) {
        var code = lengthBase.count - 1
        while lengthBase[code] > length { code -= 1 }
        writeLiteral(257 + code, to: &writer)
        if lengthExtra[code] > 0 { writer.write(length - lengthBase[code], bits: lengthExtra[code]) }
        var dcode = distanceBase.count - 1
        while distanceBase[dcode] > distance { dcode -= 1 }
        writer.writeCode(dcode, length: 5)
        if distanceExtra[dcode] > 0 { writer.write(distance - distanceBase[dcode], bits: distanceExtra[dcode]) }
    }

    /// One final block with the fixed Huffman code, after greedy LZ77 matching with
    /// hash chains of 3-byte prefixes.
    private static func fixedHuffmanBlock(_ data: [UInt8]) -> [UInt8] {
        let window = 32768, minMatch = 3, maxMatch = 258, maxChain = 64
        let hashBits = 15
        var writer = BitWriter()
        writer.bytes.reserveCapacity(data.count / 2 + 16)
        writer.write(1, bits: 1)  // BFINAL
        writer.write(1, bits: 2)  // BTYPE = 01, fixed Huffman
        let n = data.count
        var head = [Int](repeating: -1, count: 1 << hashBits)
        var previous = [Int](repeating: -1, count: window)
        data.withUnsafeBufferPointer { d in
            func hash(_ p: Int) -> Int {
                let key = Int(d[p]) << 16 | Int(d[p + 1]) << 8 | Int(d[p + 2])
                return (key &* 2_654_435_761) >> 16 & ((1 << hashBits) - 1)
            }
            func insert(_ p: Int) {
                guard p + minMatch <= n else { return }
                let key = hash(p)
                previous[p & (window - 1)] = head[key]
                head[key] = p
            }
            var p = 0
            while p < n {
                var bestLength = 0, bestDistance = 0
                if p + minMatch <= n {
                    var candidate = head[hash(p)]
                    var chain = 0
                    let limit = min(maxMatch, n - p)
                    while candidate >= 0 && p - candidate <= window && chain < maxChain {
                        if d[candidate + bestLength] == d[p + bestLength] || bestLength == 0 {
                            var length = 0
                            while length < limit && d[candidate + length] == d[p + length] { length += 1 }
                            if length > bestLength {
                                bestLength = length
                                bestDistance = p - candidate
                                if length == limit { break }
                            }
                        }
                        let next = previous[candidate & (window - 1)]
                        if next >= candidate { break }
                        candidate = next
                        chain += 1
                    }
                }
                if bestLength >= minMatch {
                    writeMatch(length: bestLength, distance: bestDistance, to: &writer)
                    for q in p..<p + bestLength { insert(q) }
                    p += bestLength
                } else {
                    writeLiteral(Int(d[p]), to: &writer)
                    insert(p)
                    p += 1
                }
            }
        }
        writeLiteral(256, to: &writer)  // end of block
        return writer.finish()
    }
}

/// An 8-bit RGB image, row-major from the top row, three bytes per pixel.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// `width * height * 3` bytes: red, green, blue, row by row from the top.
    public var pixels: [UInt8]

    /// An image filled with one colour.
    public init(width: Int, height: Int, fill: RGB = RGB(255, 255, 255)) {
        precondition(width > 0 && height > 0, "an image needs at least one pixel")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fillRectangle(x: 0, y: 0, width: width, height: height, color: fill)
    }

    /// The colour at column `x`, row `y` (0 is the top).
    public subscript(x: Int, y: Int) -> RGB {
        get {
            let p = (y * width + x) * 3
            return RGB(pixels[p], pixels[p + 1], pixels[p + 2])
        }
        set {
            let p = (y * width + x) * 3
            pixels[p] = newValue.red
            pixels[p + 1] = newValue.green
            pixels[p + 2] = newValue.blue
        }
    }

    /// Paints the part of a rectangle that lies inside the image.
    public mutating func fillRectangle(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        let x0 = max(0, x), x1 = min(width, x + w), y0 = max(0, y), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for row in y0..<y1 {
            for column in x0..<x1 { self[column, row] = color }
        }
    }

    /// The image as a PNG file: 8-bit RGB, each row with the filter (none, sub, up,
    /// average or Paeth) whose output has the smallest sum of magnitudes.
    public func pngData() -> [UInt8] {
        let rowBytes = width * 3
        var filtered = [UInt8]()
        filtered.reserveCapacity(height * (rowBytes + 1))
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        var best = [UInt8](repeating: 0, count: rowBytes)
        let zeroRow = [UInt8](repeating: 0, count: rowBytes)
        for row in 0..<height {
            let start = row * rowBytes
            let line = Array(pixels[start..<start + rowBytes])
            let above = row > 0 ? Array(pixels[start - rowBytes..<start]) : zeroRow
            var bestType: UInt8 = 0
            var bestScore = Int.max
            for type in UInt8(0)...4 {
                var score = 0
                for index in 0..<rowBytes {
                    let left = index >= 3 ? Int(line[index - 3]) : 0
                    let up = Int(above[index])
                    let upLeft = index >= 3 ? Int(above[index - 3]) : 0
                    let predictor: Int
                    switch type {
                    case 0: predictor = 0
                    case 1: predictor = left
                    case 2: predictor = up
                    case 3: predictor = (left + up) / 2
                    default: predictor = Self.paeth(left, up, upLeft)
                    }
                    let byte = UInt8(truncatingIfNeeded: Int(line[index]) - predictor)
                    candidate[index] = byte
                    score += Int(min(byte, 0 &- byte))
                }
                if score < bestScore {
                    bestScore = score
                    bestType = type
                    swap(&best, &candidate)
                }
            }
            filtered.append(bestType)
            filtered.append(contentsOf: best)
        }

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = [UInt8]()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [8, 2, 0, 0, 0])  // 8 bits, RGB, deflate, adaptive filters, no interlace
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", Deflate.zlibCompress(filtered))
        png.appendChunk("IEND", [])
        return png
    }

    private static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}

/// An 8-bit RGB colour.
public struct RGB: Sendable, Hashable {
    /// Red.
    public var red: UInt8
    /// Green.
    public var green: UInt8
    /// Blue.
    public var blue: UInt8

    /// A colour from its three components.
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }

    fileprivate mutating func appendChunk(_ type: String, _ data: [UInt8]) {
        appendBigEndian(UInt32(data.count))
        let typeBytes = Array(type.utf8)
        append(contentsOf: typeBytes)
        append(contentsOf: data)
        var crc = CRC32()
        crc.update(typeBytes)
        crc.update(data)
        appendBigEndian(crc.value)
    }
}
