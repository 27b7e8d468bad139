import Foundation

/// Draws latency against message size, log-log, one chart per primitive, with
/// every implementation and rank count of the measurements on the same chart.
/// Plain SVG text, no dependencies.
enum SVGPlot {
    private static let chartWidth = 400.0
    private static let chartHeight = 290.0
    private static let margin = (left: 60.0, right: 14.0, top: 30.0, bottom: 44.0)
    private static let columns = 3
    private static let legendHeight = 64.0

    /// The stroke colour of an implementation.
    static func color(_ impl: Implementation) -> String {
        switch impl {
        case .cMalloc: "#1f77b4"
        case .cHuge: "#2ca02c"
        case .swift: "#f05138"
        case .swiftInto: "#9467bd"
        case .swiftAwait: "#8c564b"
        }
    }

    /// The dash pattern of the n-th rank count (solid for the first).
    static func dash(_ index: Int) -> String {
        ["", "7,4", "2,3", "10,3,2,3"][index % 4]
    }

    /// The SVG document.
    static func render(_ measurements: [Measurement]) -> String {
        let primitives = Primitive.allCases.filter { p in measurements.contains { $0.primitive == p } }
        let rankCounts = Array(Set(measurements.map(\.ranks))).sorted()
        let implementations = Implementation.allCases.filter { i in measurements.contains { $0.implementation == i } }
        let payload = measurements.filter { $0.bytes > 0 }
        let xLow = log2(Double(payload.map(\.bytes).min() ?? 8))
        var xHigh = log2(Double(payload.map(\.bytes).max() ?? 8))
        if xHigh <= xLow { xHigh = xLow + 1 }

        let rows = (primitives.count + columns - 1) / columns
        let width = chartWidth * Double(min(columns, max(primitives.count, 1)))
        let height = legendHeight + chartHeight * Double(max(rows, 1))
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" \
            viewBox="0 0 \(f(width)) \(f(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>

            """
        let mpi = Set(measurements.map(\.mpi)).sorted().joined(separator: ", ")
        let threads = Set(measurements.map(\.threadLevel)).sorted().joined(separator: ", ")
        svg += text(12, 20, "swift-mpi vs C: median µs per call (log-log), Float64, \(mpi), \(threads)",
                    size: 14, weight: "bold")

        // Legend: implementations by colour, rank counts by dash.
        var x = 12.0
        for impl in implementations {
            svg += line(x, 42, x + 26, 42, color: color(impl), width: 2.5)
            svg += text(x + 32, 46, impl.rawValue)
            x += 110
        }
        for (n, ranks) in rankCounts.enumerated() {
            svg += line(x, 42, x + 26, 42, color: "#444", width: 2, dash: dash(n))
            svg += text(x + 32, 46, "\(ranks) ranks")
            x += 90
        }
        svg += text(x, 46, "bars: min-max of samples", color: "#666")

        for (index, primitive) in primitives.enumerated() {
            let originX = chartWidth * Double(index % columns)
            let originY = legendHeight + chartHeight * Double(index / columns)
            svg += chart(primitive, measurements.filter { $0.primitive == primitive }, originX: originX,
                         originY: originY, xRange: (xLow, xHigh), rankCounts: rankCounts,
                         implementations: implementations)
        }
        return svg + "</svg>\n"
    }

    private static func chart(_ primitive: Primitive, _ data: [Measurement], originX: Double, originY: Double,
                              xRange: (Double, Double), rankCounts: [Int],
                              implementations: [Implementation]) -> String {
        let left = originX + margin.left
        let right = originX + chartWidth - margin.right
        let top = originY + margin.top
        let bottom = originY + chartHeight - margin.bottom
        let positive = data.flatMap { [$0.minMicroseconds, $0.medianMicroseconds, $0.maxMicroseconds] }.filter { $0 > 0 }
        var yLow = floor(log10(positive.min() ?? 0.1))
        var yHigh = ceil(log10(positive.max() ?? 1))
        if yHigh <= yLow { yHigh = yLow + 1 }
        if yHigh - yLow < 2 { yLow -= 1 }
        func px(_ bytes: Int) -> Double {
            left + (log2(Double(bytes)) - xRange.0) / (xRange.1 - xRange.0) * (right - left)
        }
        func py(_ us: Double) -> Double {
            bottom - (log10(us) - yLow) / (yHigh - yLow) * (bottom - top)
        }

        var svg = "<g>\n"
        svg += text(left, originY + 20, primitive.title, size: 13, weight: "bold")
        // Grid and y axis: decades, with lighter lines at 2x and 5x.
        for decade in Int(yLow)...Int(yHigh) {
            let base = pow(10, Double(decade))
            let y = py(base)
            svg += line(left, y, right, y, color: "#ccc", width: 0.8)
            svg += text(left - 6, y + 4, microsecondsLabel(base), anchor: "end")
            if decade < Int(yHigh) {
                for k in [2.0, 5.0] {
                    let yk = py(base * k)
                    svg += line(left, yk, right, yk, color: "#eee", width: 0.6)
                }
            }
        }
        // x axis: a tick at every power of 4 from 16 B (and 8 B), labels at powers of 16.
        if primitive.hasPayload {
            var exponent = Int(ceil(xRange.0))
            while Double(exponent) <= xRange.1 + 1e-9 {
                let bytes = 1 << exponent
                let x = px(bytes)
                if exponent % 2 == 0 || exponent == Int(ceil(xRange.0)) {
                    svg += line(x, top, x, bottom, color: exponent % 4 == 0 ? "#ccc" : "#eee", width: 0.6)
                }
                if exponent % 4 == 0 { svg += text(x, bottom + 15, ByteSize.format(bytes), anchor: "middle") }
                exponent += 1
            }
            svg += text((left + right) / 2, bottom + 32, "bytes per block", anchor: "middle", color: "#444")
        } else {
            svg += text((left + right) / 2, bottom + 32, "(no payload)", anchor: "middle", color: "#444")
        }
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" "
            + "fill=\"none\" stroke=\"#888\" stroke-width=\"1\"/>\n"
        let yLabelX = originX + 16
        let yLabelY = (top + bottom) / 2
        svg += "<text x=\"\(f(yLabelX))\" y=\"\(f(yLabelY))\" text-anchor=\"middle\" fill=\"#444\" "
            + "transform=\"rotate(-90 \(f(yLabelX)) \(f(yLabelY)))\">µs per call</text>\n"

        // Series.
        for (n, ranks) in rankCounts.enumerated() {
            for impl in implementations {
                let points = data.filter { $0.ranks == ranks && $0.implementation == impl }.sorted { $0.bytes < $1.bytes }
                guard !points.isEmpty else { continue }
                let c = color(impl)
                if !primitive.hasPayload {
                    // One value: a horizontal line across the chart, its spread as a band.
                    let m = points[0]
                    svg += "<rect x=\"\(f(left))\" y=\"\(f(py(m.maxMicroseconds)))\" width=\"\(f(right - left))\" "
                        + "height=\"\(f(max(0.5, py(m.minMicroseconds) - py(m.maxMicroseconds))))\" fill=\"\(c)\" "
                        + "fill-opacity=\"0.12\"/>\n"
                    svg += line(left, py(m.medianMicroseconds), right, py(m.medianMicroseconds), color: c, width: 1.8,
                                dash: dash(n))
                    continue
                }
                let path = points.map { "\(f(px($0.bytes))),\(f(py($0.medianMicroseconds)))" }.joined(separator: " ")
                svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.8\""
                    + (dash(n).isEmpty ? "" : " stroke-dasharray=\"\(dash(n))\"") + "/>\n"
                for m in points {
                    let x = px(m.bytes)
                    svg += line(x, py(m.minMicroseconds), x, py(m.maxMicroseconds), color: c, width: 1, opacity: 0.5)
                    svg += "<circle cx=\"\(f(x))\" cy=\"\(f(py(m.medianMicroseconds)))\" r=\"2.2\" fill=\"\(c)\"/>\n"
                }
            }
        }
        return svg + "</g>\n"
    }

    /// `0.01`, `0.1`, `1`, `10`, `1k`, `10k`, ...
    static func microsecondsLabel(_ us: Double) -> String {
        if us >= 1000 { return "\(Int((us / 1000).rounded()))k" }
        if us >= 1 { return "\(Int(us.rounded()))" }
        return String(format: "%g", us)
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    private static func text(_ x: Double, _ y: Double, _ content: String, size: Double = 11, weight: String? = nil,
                             anchor: String? = nil, color: String? = nil) -> String {
        var attributes = "x=\"\(f(x))\" y=\"\(f(y))\""
        if size != 11 { attributes += " font-size=\"\(f(size))\"" }
        if let weight { attributes += " font-weight=\"\(weight)\"" }
        if let anchor { attributes += " text-anchor=\"\(anchor)\"" }
        if let color { attributes += " fill=\"\(color)\"" }
        return "<text \(attributes)>\(escape(content))</text>\n"
    }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String, width: Double,
                             dash: String = "", opacity: Double = 1) -> String {
        var s = "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\" "
            + "stroke-width=\"\(f(width))\""
        if !dash.isEmpty { s += " stroke-dasharray=\"\(dash)\"" }
        if opacity < 1 { s += " stroke-opacity=\"\(opacity)\"" }
        return s + "/>\n"
    }
}
