// Pictures of a field: colour maps, a 5 × 7 pixel font, and a map with a colour bar.

import Foundation

/// A colour map from [0, 1] to RGB, by linear interpolation between control colours.
public enum ColorMap: String, Sendable, CaseIterable {
    /// Dark blue through green to yellow (viridis-like), for fields of one sign.
    case sequential
    /// Blue through white to red, for fields centred on zero.
    case diverging

    private var stops: [(Double, Double, Double)] {
        switch self {
        case .sequential:
            return [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
                    (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)]
        case .diverging:
            return [(5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (247, 247, 247),
                    (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31)]
        }
    }

    /// The colour at `t`, clamped to [0, 1] (NaN maps to 0).
    public func color(at t: Double) -> RGB {
        let stops = self.stops
        let clamped = t.isNaN ? 0 : min(1, max(0, t))
        let position = clamped * Double(stops.count - 1)
        let lower = min(Int(position), stops.count - 2)
        let f = position - Double(lower)
        let a = stops[lower], b = stops[lower + 1]
        func mix(_ x: Double, _ y: Double) -> UInt8 { UInt8((x + (y - x) * f).rounded()) }
        return RGB(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// A fixed 5 × 7 pixel font of upper-case letters, digits and some punctuation, for
/// titles and colour-bar labels. Lower-case letters are drawn as upper-case; other
/// characters as blanks.
public enum PixelFont {
    /// Glyph width in font pixels.
    public static let glyphWidth = 5
    /// Glyph height in font pixels.
    public static let glyphHeight = 7
    /// Horizontal advance per character in font pixels (one blank column).
    public static let advance = 6

    // Each glyph: 7 rows of 5 columns, '#' for ink.
    private static let glyphs: [Character: String] = [
        "0": ".###.#...##..###.#.###..##...#.###.", "1": "..#...##....#....#....#....#...###.",
        "2": ".###.#...#....#...#...#...#...#####", "3": "#####...#...#.....#.....##...#.###.",
        "4": "...#...##..#.#.#..#.#####...#....#.", "5": "######....####.....#....##...#.###.",
        "6": "..##..#...#....####.#...##...#.###.", "7": "#####....#...#...#...#....#....#...",
        "8": ".###.#...##...#.###.#...##...#.###.", "9": ".###.#...##...#.####....#...#..##..",
        "A": ".###.#...##...#######...##...##...#", "B": "####.#...##...#####.#...##...#####.",
        "C": ".###.#...##....#....#....#...#.###.", "D": "###..#..#.#...##...##...##..#.###..",
        "E": "######....#....####.#....#....#####", "F": "######....#....####.#....#....#....",
        "G": ".###.#...##....#.####...##...#.####", "H": "#...##...##...#######...##...##...#",
        "I": ".###...#....#....#....#....#...###.", "J": "..###...#....#....#....#.#..#..##..",
        "K": "#...##..#.#.#..##...#.#..#..#.#...#", "L": "#....#....#....#....#....#....#####",
        "M": "#...###.###.#.##.#.##...##...##...#", "N": "#...##...###..##.#.##..###...##...#",
        "O": ".###.#...##...##...##...##...#.###.", "P": "####.#...##...#####.#....#....#....",
        "Q": ".###.#...##...##...##.#.##..#..##.#", "R": "####.#...##...#####.#.#..#..#.#...#",
        "S": ".#####....#.....###.....#....#####.", "T": "#####..#....#....#....#....#....#..",
        "U": "#...##...##...##...##...##...#.###.", "V": "#...##...##...##...##...#.#.#...#..",
        "W": "#...##...##...##.#.##.#.##.#.#.#.#.", "X": "#...##...#.#.#...#...#.#.#...##...#",
        "Y": "#...##...#.#.#...#....#....#....#..", "Z": "#####....#...#...#...#...#....#####",
        ".": "..........................##...##..", "-": "...............#####...............",
        "+": ".......#....#..#####..#....#.......", ":": "......##...##........##...##.......",
        "/": ".........#...#...#...#...#.........", "(": "...#...#...#....#....#.....#.....#.",
        ")": ".#.....#.....#....#....#...#...#...", "=": "..........#####.....#####..........",
        ",": ".....................##....#...#...", "%": "##...##..#...#...#...#...#..##...##",
        "[": ".###..#....#....#....#....#....###.", "]": ".###....#....#....#....#....#..###.",
    ]

    /// Whether the font pixel (`column`, `row`) of `character` is ink.
    public static func isInk(_ character: Character, column: Int, row: Int) -> Bool {
        guard column >= 0, column < glyphWidth, row >= 0, row < glyphHeight else { return false }
        let key = Character(String(character).uppercased())
        guard let glyph = glyphs[key] else { return false }
        let cells = glyph.utf8
        return cells[cells.index(cells.startIndex, offsetBy: row * glyphWidth + column)] == UInt8(ascii: "#")
    }

    /// Width in image pixels of `text` drawn at `scale`.
    public static func width(of text: String, scale: Int) -> Int {
        max(0, text.count * advance - 1) * scale
    }
}

extension RGBImage {
    /// Draws `text` with its top-left corner at (`x`, `y`), each font pixel a
    /// `scale` × `scale` square.
    public mutating func drawText(_ text: String, x: Int, y: Int, scale: Int = 2, color: RGB = RGB(0, 0, 0)) {
        var originX = x
        for character in text {
            for row in 0..<PixelFont.glyphHeight {
                for column in 0..<PixelFont.glyphWidth where PixelFont.isInk(character, column: column, row: row) {
                    fillRectangle(x: originX + column * scale, y: y + row * scale, width: scale, height: scale, color: color)
                }
            }
            originX += PixelFont.advance * scale
        }
    }
}

/// A picture of a 2-D field: the field as a colour map (north up), a title line, a
/// caption line and a colour bar with labelled ticks.
public struct FieldPlot: Sendable {
    /// The title above the map.
    public var title: String
    /// The line under the title (model time, grid, ranks).
    public var caption: String
    /// The values that map to the two ends of the colour bar; values outside are clamped.
    public var range: ClosedRange<Double>
    /// The colour map.
    public var colorMap: ColorMap

    /// A plot description.
    public init(title: String, caption: String, range: ClosedRange<Double>, colorMap: ColorMap) {
        self.title = title
        self.caption = caption
        self.range = range
        self.colorMap = colorMap
    }

    /// A symmetric range ±max|value| (or ±1 for an all-zero field).
    public static func symmetricRange(of values: [Double]) -> ClosedRange<Double> {
        let m = values.reduce(0) { max($0, abs($1)) }
        return m > 0 && m.isFinite ? -m...m : -1...1
    }

    /// The range from the smallest to the largest value (widened when they are equal).
    public static func valueRange(of values: [Double]) -> ClosedRange<Double> {
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return 0...1 }
        return lo < hi ? lo...hi : (lo - 1)...(hi + 1)
    }

    /// Renders `values` (row-major, `ny` rows of `nx`, row 0 the southernmost) as an
    /// image about 720 pixels wide: each cell becomes a square of whole pixels.
    public func render(_ values: [Double], nx: Int, ny: Int) -> RGBImage {
        precondition(values.count == nx * ny, "expected \(nx * ny) values, got \(values.count)")
        let cell = max(1, min(720 / nx, 480 / ny))
        let mapWidth = nx * cell, mapHeight = ny * cell
        let textScale = 2
        let lineHeight = PixelFont.glyphHeight * textScale
        let margin = 16
        let labels = tickLabels()
        let labelWidth = labels.map { PixelFont.width(of: $0.text, scale: textScale) }.max() ?? 0
        let barWidth = 20, barGap = 16, tickLength = 5
        let mapX = margin, mapY = margin + 2 * lineHeight + 12 + 10
        let barX = mapX + mapWidth + barGap
        let width = max(barX + barWidth + tickLength + 4 + labelWidth + margin,
                        margin + max(PixelFont.width(of: title, scale: textScale), PixelFont.width(of: caption, scale: textScale)) + margin)
        let height = mapY + mapHeight + margin + lineHeight / 2

        var image = RGBImage(width: width, height: height)
        let ink = RGB(20, 20, 20)
        image.drawText(title, x: margin, y: margin, scale: textScale, color: ink)
        image.drawText(caption, x: margin, y: margin + lineHeight + 6, scale: textScale, color: RGB(90, 90, 90))

        // The map: rows from the north down.
        let span = range.upperBound - range.lowerBound
        for row in 0..<ny {
            let top = mapY + (ny - 1 - row) * cell
            for column in 0..<nx {
                let color = colorMap.color(at: (values[row * nx + column] - range.lowerBound) / span)
                image.fillRectangle(x: mapX + column * cell, y: top, width: cell, height: cell, color: color)
            }
        }
        drawFrame(&image, x: mapX - 1, y: mapY - 1, width: mapWidth + 2, height: mapHeight + 2, color: ink)

        // The colour bar: the upper bound at the top.
        for y in 0..<mapHeight {
            let t = 1 - (Double(y) + 0.5) / Double(mapHeight)
            image.fillRectangle(x: barX, y: mapY + y, width: barWidth, height: 1, color: colorMap.color(at: t))
        }
        drawFrame(&image, x: barX - 1, y: mapY - 1, width: barWidth + 2, height: mapHeight + 2, color: ink)
        for label in labels {
            let y = mapY + Int(((1 - label.position) * Double(mapHeight - 1)).rounded())
            image.fillRectangle(x: barX + barWidth, y: y, width: tickLength, height: 1, color: ink)
            image.drawText(label.text, x: barX + barWidth + tickLength + 4, y: y - lineHeight / 2, scale: textScale, color: ink)
        }
        return image
    }

    /// Five evenly spaced ticks with labels, position 0 at the bottom of the bar.
    private func tickLabels() -> [(position: Double, text: String)] {
        (0...4).map { k in
            let position = Double(k) / 4
            let value = range.lowerBound + position * (range.upperBound - range.lowerBound)
            return (position, Self.format(value, span: range.upperBound - range.lowerBound))
        }
    }

    /// A short label: fixed-point for moderate magnitudes, exponent form otherwise.
    static func format(_ value: Double, span: Double) -> String {
        let magnitude = max(abs(value), span)
        if magnitude == 0 { return "0" }
        if abs(value) < span * 1e-9 { return "0" }
        if magnitude >= 1e-2 && magnitude < 1e5 {
            let decimals = max(0, min(4, 2 - Int(log10(span).rounded(.down))))
            return String(format: "%.\(decimals)f", value)
        }
        return String(format: "%.2E", value)
    }

    private func drawFrame(_ image: inout RGBImage, x: Int, y: Int, width: Int, height: Int, color: RGB) {
        image.fillRectangle(x: x, y: y, width: width, height: 1, color: color)
        image.fillRectangle(x: x, y: y + height - 1, width: width, height: 1, color: color)
        image.fillRectangle(x: x, y: y, width: 1, height: height, color: color)
        image.fillRectangle(x: x + width - 1, y: y, width: 1, height: height, color: color)
    }
}
