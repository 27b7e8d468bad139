import Foundation

/// The statistics of one implementation of one primitive at one size.
///
/// Each sample is the time per call of the slowest rank in that sample.
struct Measurement: Sendable {
    var ranks: Int
    var primitive: Primitive
    /// Bytes per block; 0 for barrier.
    var bytes: Int
    var implementation: Implementation
    var iterations: Int
    var samples: Int
    var medianMicroseconds: Double
    var minMicroseconds: Double
    var maxMicroseconds: Double
    /// `MPI_THREAD_...` as provided.
    var threadLevel: String
    /// The MPI library's name.
    var mpi: String

    /// Block bytes per median call time, in GB/s (10^9 bytes per second); nil for barrier.
    var gigabytesPerSecond: Double? {
        bytes > 0 && medianMicroseconds > 0 ? Double(bytes) / medianMicroseconds / 1e3 : nil
    }

    /// Summarises samples given in seconds per call.
    init(ranks: Int, primitive: Primitive, bytes: Int, implementation: Implementation, iterations: Int,
         secondsPerCall: [Double], threadLevel: String, mpi: String) {
        let sorted = secondsPerCall.sorted()
        let n = sorted.count
        let median = n == 0 ? 0 : (n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2)
        self.ranks = ranks
        self.primitive = primitive
        self.bytes = bytes
        self.implementation = implementation
        self.iterations = iterations
        self.samples = n
        self.medianMicroseconds = median * 1e6
        self.minMicroseconds = (sorted.first ?? 0) * 1e6
        self.maxMicroseconds = (sorted.last ?? 0) * 1e6
        self.threadLevel = threadLevel
        self.mpi = mpi
    }

    init(ranks: Int, primitive: Primitive, bytes: Int, implementation: Implementation, iterations: Int,
         samples: Int, median: Double, min: Double, max: Double, threadLevel: String, mpi: String) {
        self.ranks = ranks
        self.primitive = primitive
        self.bytes = bytes
        self.implementation = implementation
        self.iterations = iterations
        self.samples = samples
        self.medianMicroseconds = median
        self.minMicroseconds = min
        self.maxMicroseconds = max
        self.threadLevel = threadLevel
        self.mpi = mpi
    }
}

extension Measurement {
    /// Combines repeated runs: measurements of the same rank count, primitive,
    /// size and implementation become one, whose median is the median of the
    /// runs' medians, whose spread is the widest, and whose sample count is the
    /// total. Order follows the first occurrence.
    static func mergingRuns(_ measurements: [Measurement]) -> [Measurement] {
        var order: [String] = []
        var groups: [String: [Measurement]] = [:]
        for m in measurements {
            let key = "\(m.ranks) \(m.primitive.rawValue) \(m.bytes) \(m.implementation.rawValue)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(m)
        }
        return order.map { key in
            let runs = groups[key]!
            guard runs.count > 1 else { return runs[0] }
            let medians = runs.map(\.medianMicroseconds).sorted()
            let n = medians.count
            let median = n % 2 == 1 ? medians[n / 2] : (medians[n / 2 - 1] + medians[n / 2]) / 2
            var merged = runs[0]
            merged.medianMicroseconds = median
            merged.minMicroseconds = runs.map(\.minMicroseconds).min()!
            merged.maxMicroseconds = runs.map(\.maxMicroseconds).max()!
            merged.samples = runs.map(\.samples).reduce(0, +)
            return merged
        }
    }
}

/// Reading and writing the CSV: one row per measurement.
enum CSV {
    /// The header row.
    static let header = "ranks,op,bytes,impl,iterations,samples,median_us,min_us,max_us,gbps,thread_level,mpi"

    /// One row.
    static func row(_ m: Measurement) -> String {
        let gbps = m.gigabytesPerSecond.map { String(format: "%.4f", $0) } ?? ""
        return [
            "\(m.ranks)", m.primitive.rawValue, "\(m.bytes)", m.implementation.rawValue, "\(m.iterations)",
            "\(m.samples)", String(format: "%.4f", m.medianMicroseconds), String(format: "%.4f", m.minMicroseconds),
            String(format: "%.4f", m.maxMicroseconds), gbps, m.threadLevel, m.mpi,
        ].joined(separator: ",")
    }

    /// The whole file.
    static func text(_ measurements: [Measurement]) -> String {
        ([header] + measurements.map(row)).joined(separator: "\n") + "\n"
    }

    /// Parses a file written by ``text(_:)``; unknown columns are ignored.
    static func parse(_ text: String, source: String) throws -> [Measurement] {
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard !lines.isEmpty else { return [] }
        let columns = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        func index(_ name: String) throws -> Int {
            guard let i = columns.firstIndex(of: name) else {
                throw BenchmarkError(description: "\(source): no column \(name)")
            }
            return i
        }
        let (ranks, op, bytes, impl, iterations, samples, median, minimum, maximum, thread, mpi) = (
            try index("ranks"), try index("op"), try index("bytes"), try index("impl"), try index("iterations"),
            try index("samples"), try index("median_us"), try index("min_us"), try index("max_us"),
            try index("thread_level"), try index("mpi"))
        return try lines.enumerated().map { number, line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == columns.count, let r = Int(f[ranks]), let p = Primitive(rawValue: f[op]),
                  let b = Int(f[bytes]), let i = Implementation(rawValue: f[impl]), let it = Int(f[iterations]),
                  let s = Int(f[samples]), let med = Double(f[median]), let lo = Double(f[minimum]),
                  let hi = Double(f[maximum])
            else { throw BenchmarkError(description: "\(source):\(number + 2): malformed row") }
            return Measurement(ranks: r, primitive: p, bytes: b, implementation: i, iterations: it, samples: s,
                               median: med, min: lo, max: hi, threadLevel: f[thread], mpi: f[mpi])
        }
    }
}

/// The side-by-side table on stdout.
enum Table {
    /// Microseconds with three significant decimals at small values.
    static func microseconds(_ us: Double) -> String {
        switch us {
        case ..<10: String(format: "%.3f", us)
        case ..<1000: String(format: "%.2f", us)
        default: String(format: "%.0f", us)
        }
    }

    /// `median [min-max]`.
    static func cell(_ m: Measurement?) -> String {
        guard let m else { return "-" }
        return "\(microseconds(m.medianMicroseconds)) [\(microseconds(m.minMicroseconds))-\(microseconds(m.maxMicroseconds))]"
    }

    private static func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return left ? s + fill : fill + s
    }

    /// The Swift implementations among `implementations`, with their short column names.
    private static func swiftColumns(_ implementations: [Implementation]) -> [(Implementation, String)] {
        implementations.filter { !$0.isC }.map { impl in
            (impl, impl == .swift ? "Swift" : impl == .swiftAwait ? "await" : "into")
        }
    }

    /// The header lines.
    static func header(implementations: [Implementation]) -> String {
        var line = pad("op", 10, left: true) + pad("size", 5)
        for impl in implementations { line += pad("\(impl.rawValue) µs [min-max]", 25) }
        for (_, name) in swiftColumns(implementations) {
            line += pad("\(name)/Cm", 9) + pad("\(name)/Cb", 9) + pad("Δ\(name) µs", 10)
        }
        line += " GB/s:"
        for impl in implementations { line += pad(impl.rawValue, impl.rawValue.count + 1) }
        return line + "\n" + String(repeating: "-", count: line.count)
    }

    /// One row: every implementation of one primitive at one size.
    ///
    /// `/Cm` is the ratio to C-malloc, `/Cb` to the better (faster) of the two
    /// C references, `Δ` the difference to C-malloc in microseconds.
    static func row(_ row: [Measurement], implementations: [Implementation]) -> String {
        guard let first = row.first else { return "" }
        let by = Dictionary(row.map { ($0.implementation, $0) }, uniquingKeysWith: { a, _ in a })
        var line = pad(first.primitive.rawValue, 10, left: true)
        line += pad(first.bytes == 0 ? "-" : ByteSize.format(first.bytes), 5)
        for impl in implementations { line += pad(cell(by[impl]), 25) }
        let cm = by[.cMalloc]?.medianMicroseconds
        let cb = [by[.cMalloc], by[.cHuge]].compactMap { $0?.medianMicroseconds }.min()
        for (impl, _) in swiftColumns(implementations) {
            guard let s = by[impl]?.medianMicroseconds else {
                line += pad("-", 9) + pad("-", 9) + pad("-", 10)
                continue
            }
            line += pad(cm.map { String(format: "%.3f", s / $0) } ?? "-", 9)
            line += pad(cb.map { String(format: "%.3f", s / $0) } ?? "-", 9)
            line += pad(cm.map { String(format: "%+.3f", s - $0) } ?? "-", 10)
        }
        line += "      "
        for impl in implementations {
            let text = by[impl]?.gigabytesPerSecond.map { String(format: "%.2f", $0) } ?? "-"
            line += pad(text, impl.rawValue.count + 1)
        }
        return line
    }
}
