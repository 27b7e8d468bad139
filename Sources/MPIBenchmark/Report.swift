import Foundation

/// The performance targets of the issue, evaluated on measurements, and the
/// Markdown report that the Performance article embeds (`mpi-benchmark report`;
/// `Sources/MPI/MPI.docc/Performance.md`).
///
/// The small-message targets (up to 1 KiB, and barrier) bound the difference
/// to C-malloc; from 64 KiB the ratio to C-malloc; from 1 MiB the ratio to the
/// faster of the two C references.
enum Targets {
    /// Up to this size (and for barrier) the small-message targets apply.
    static let smallLimit = 1 << 10
    /// Result-returning API: at most C + this many microseconds per call.
    static let smallSlackSwift = 0.15
    /// `into:` variants: at most C + this many microseconds per call.
    static let smallSlackInto = 0.05
    /// Non-blocking forms, start + wait: at most C + this many microseconds per call.
    static let smallSlackStartWait = 0.10
    /// Non-blocking forms awaited from a task: at most C + this many microseconds per call.
    static let smallSlackAwait = 1.0
    /// From this size, Swift/C-malloc is at most ``largeRatio``.
    static let mediumLimit = 64 << 10
    /// The bound on Swift/C-malloc from ``mediumLimit``.
    static let largeRatio = 1.03
    /// From this size, Swift is at least as fast as the better C reference.
    static let hugeLimit = 1 << 20

    /// The verdict on one Swift measurement.
    struct Verdict {
        /// What was required, for example `≤ C + 0.15 µs`.
        var requirement: String
        /// The measured value, for example `+0.121 µs`.
        var measured: String
        /// Whether the target is met.
        var met: Bool
    }

    /// The targets that apply to a Swift measurement of `bytes` bytes, given
    /// its difference to C-malloc in microseconds and its ratios to C-malloc
    /// and to the better C reference (each the median over the runs).
    static func verdicts(implementation: Implementation, primitive: Primitive? = nil, bytes: Int, delta: Double,
                         ratio: Double, ratioToBest: Double?) -> [Verdict] {
        var verdicts: [Verdict] = []
        if bytes <= smallLimit {
            let nonBlocking = primitive == .iallreduce || primitive == .iexchange
            // The non-blocking rows' start + wait target holds for both forms (result and `into:`).
            let slack = implementation == .swiftAwait ? smallSlackAwait
                : nonBlocking ? smallSlackStartWait
                : implementation == .swiftInto ? smallSlackInto : smallSlackSwift
            verdicts.append(Verdict(requirement: String(format: "≤ C + %.2f µs", slack),
                                    measured: String(format: "%+.3f µs", delta), met: delta <= slack))
        }
        if bytes >= mediumLimit {
            verdicts.append(Verdict(requirement: String(format: "≤ %.2f × C-malloc", largeRatio),
                                    measured: String(format: "%.3f ×", ratio), met: ratio <= largeRatio))
        }
        if bytes >= hugeLimit, let ratioToBest {
            verdicts.append(Verdict(requirement: "≤ better C", measured: String(format: "%.3f ×", ratioToBest),
                                    met: ratioToBest <= 1))
        }
        return verdicts
    }

    /// The form a target row measures: `result`, `into:`, `start+wait` (with `, into:` for the non-blocking
    /// `into:` form) or `await`.
    static func apiLabel(_ impl: Implementation, _ primitive: Primitive) -> String {
        let nonBlocking = primitive == .iallreduce || primitive == .iexchange
        switch impl {
        case .swiftAwait: return "await"
        case .swiftInto: return nonBlocking ? "start+wait, into:" : "into:"
        default: return nonBlocking ? "start+wait" : "result"
        }
    }

    /// The comparisons of one Swift implementation with C in one run.
    struct Comparison {
        var delta: Double
        var ratio: Double
        var ratioToBest: Double?
    }

    /// The comparison of `impl` with C at one rank count, primitive and size in one run, if measured.
    static func comparison(_ run: [Measurement], ranks: Int, primitive: Primitive, bytes: Int,
                           impl: Implementation) -> Comparison? {
        let row = run.filter { $0.ranks == ranks && $0.primitive == primitive && $0.bytes == bytes }
        guard let s = row.first(where: { $0.implementation == impl })?.medianMicroseconds,
              let cm = row.first(where: { $0.implementation == .cMalloc })?.medianMicroseconds, cm > 0
        else { return nil }
        let ch = row.first { $0.implementation == .cHuge }?.medianMicroseconds
        return Comparison(delta: s - cm, ratio: s / cm, ratioToBest: ch.map { s / min(cm, $0) })
    }

    /// The median of non-empty values.
    static func median(_ values: [Double]) -> Double {
        let v = values.sorted()
        return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    }

    /// The Markdown report: per rank count, the medians and the comparisons
    /// with C, then every target with its verdict.
    ///
    /// `runs` holds one array of measurements per run (per CSV file). Times
    /// are the median of the runs' medians. Ratios and differences are taken
    /// within each run, where C and Swift ran interleaved in the same
    /// processes, and the median of those is shown and judged.
    static func markdown(runs: [[Measurement]]) -> String {
        let merged = Measurement.mergingRuns(runs.flatMap { $0 })
        var out = ""
        for ranks in Set(merged.map(\.ranks)).sorted() {
            let data = merged.filter { $0.ranks == ranks }
            let runCount = runs.filter { $0.contains { $0.ranks == ranks } }.count
            let implementations = Implementation.allCases.filter { i in data.contains { $0.implementation == i } }
            let swifts = implementations.filter { !$0.isC }
            let keys = rowKeys(data)
            func compared(_ primitive: Primitive, _ bytes: Int, _ impl: Implementation) -> Comparison? {
                let all = runs.compactMap { comparison($0, ranks: ranks, primitive: primitive, bytes: bytes, impl: impl) }
                guard !all.isEmpty else { return nil }
                let best = all.compactMap(\.ratioToBest)
                return Comparison(delta: median(all.map(\.delta)), ratio: median(all.map(\.ratio)),
                                  ratioToBest: best.isEmpty ? nil : median(best))
            }
            out += "#### \(ranks) ranks: median µs per call"
            out += runCount > 1 ? " (median of \(runCount) runs; comparisons: median of the per-run values)\n\n" : "\n\n"
            var header = "| op | size |"
            var rule = "|---|---:|"
            for impl in implementations {
                header += " \(impl.rawValue) |"
                rule += "---:|"
            }
            for impl in swifts {
                header += " \(impl.rawValue)/C-malloc | \(impl.rawValue)/better C | \(impl.rawValue) − C-malloc µs |"
                rule += "---:|---:|---:|"
            }
            out += header + "\n" + rule + "\n"
            for (primitive, bytes) in keys {
                let row = data.filter { $0.primitive == primitive && $0.bytes == bytes }
                let by = Dictionary(row.map { ($0.implementation, $0) }, uniquingKeysWith: { a, _ in a })
                var line = "| \(primitive.rawValue) | \(bytes == 0 ? "–" : ByteSize.format(bytes)) |"
                for impl in implementations {
                    line += " \(by[impl].map { Table.microseconds($0.medianMicroseconds) } ?? "–") |"
                }
                for impl in swifts {
                    guard let c = compared(primitive, bytes, impl) else {
                        line += " – | – | – |"
                        continue
                    }
                    line += String(format: " %.3f |", c.ratio)
                    line += c.ratioToBest.map { String(format: " %.3f |", $0) } ?? " – |"
                    line += String(format: " %+.3f |", c.delta)
                }
                out += line + "\n"
            }
            out += "\n#### \(ranks) ranks: targets\n\n"
            out += "| op | size | API | target | measured | met |\n|---|---:|---|---|---:|:---:|\n"
            var met = 0
            var total = 0
            for (primitive, bytes) in keys {
                for impl in swifts {
                    guard let c = compared(primitive, bytes, impl) else { continue }
                    for v in verdicts(implementation: impl, primitive: primitive, bytes: bytes, delta: c.delta, ratio: c.ratio,
                                      ratioToBest: c.ratioToBest) {
                        total += 1
                        if v.met { met += 1 }
                        out += "| \(primitive.rawValue) | \(bytes == 0 ? "–" : ByteSize.format(bytes)) | "
                            + "\(apiLabel(impl, primitive)) | \(v.requirement) | "
                            + "\(v.measured) | \(v.met ? "yes" : "**no**") |\n"
                    }
                }
            }
            out += "\n\(met) of \(total) targets met at \(ranks) ranks.\n\n"
        }
        return out
    }

    /// The (primitive, size) pairs present, in table order.
    static func rowKeys(_ data: [Measurement]) -> [(Primitive, Int)] {
        var seen = Set<String>()
        var keys: [(Primitive, Int)] = []
        for primitive in Primitive.allCases {
            for bytes in Set(data.filter { $0.primitive == primitive }.map(\.bytes)).sorted()
            where seen.insert("\(primitive.rawValue) \(bytes)").inserted {
                keys.append((primitive, bytes))
            }
        }
        return keys
    }
}
