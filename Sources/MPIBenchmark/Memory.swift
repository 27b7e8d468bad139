#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CMPIBenchmarks
import MPI

/// The `memory` subcommand: what live arrays that the library allocates cost in memory.
///
/// For each size, it makes enough `ShapedArray<UInt8>(repeating:shape:)` arrays to hold
/// about `--total` bytes (at least 8, at most 20,000), keeps them all alive, and reads
/// the process's resident set, virtual size and anonymous huge pages
/// (`/proc/self/statm`, `/proc/self/smaps_rollup`) before and after. The change divided by
/// the number of arrays is what one live array costs; the ratio to the array's bytes is
/// the overhead of the storage's rounding. Results of the operations live in the same
/// storage as `ShapedArray(repeating:shape:)`, so they cost the same. Needs no MPI (run it
/// without mpirun).
enum StorageMemory {
    /// What one reading of the process's memory found, in bytes.
    struct Usage {
        var resident = 0
        var virtual = 0
        var anonHuge = 0

        static func now() -> Usage {
            var usage = Usage()
            let page = sysconf(Int32(_SC_PAGESIZE))
            if let fields = firstLine(of: "/proc/self/statm")?.split(separator: " "), fields.count > 1 {
                usage.virtual = (Int(fields[0]) ?? 0) * page
                usage.resident = (Int(fields[1]) ?? 0) * page
            }
            if let file = fopen("/proc/self/smaps_rollup", "r") {
                defer { fclose(file) }
                var line = [CChar](repeating: 0, count: 512)
                while fgets(&line, Int32(line.count), file) != nil {
                    let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if text.hasPrefix("AnonHugePages:") {
                        usage.anonHuge = (Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0) << 10
                    }
                }
            }
            return usage
        }

        private static func firstLine(of path: String) -> String? {
            guard let file = fopen(path, "r") else { return nil }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 512)
            guard fgets(&line, Int32(line.count), file) != nil else { return nil }
            return String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingNewline
        }
    }

    /// The cost of one live array of one size.
    struct Row {
        var bytes: Int
        var arrays: Int
        var resident: Double
        var virtual: Double
        var anonHuge: Double
    }

    static func measure(bytes: Int, total: Int) -> Row {
        let arrays = Swift.max(8, Swift.min(20_000, total / Swift.max(1, bytes)))
        MPIRuntime.releaseCachedStorage()
        var live: [ShapedArray<UInt8>] = []
        live.reserveCapacity(arrays)
        let reservedAt = Usage.now()  // the list itself is not the arrays' cost
        for i in 0..<arrays { live.append(ShapedArray(repeating: UInt8(truncatingIfNeeded: i | 1), shape: [bytes])) }
        let after = Usage.now()
        precondition(live.allSatisfy { $0.scalarCount == bytes })
        live = []
        MPIRuntime.releaseCachedStorage()
        let n = Double(arrays)
        return Row(bytes: bytes, arrays: arrays,
                   resident: Double(after.resident - reservedAt.resident) / n,
                   virtual: Double(after.virtual - reservedAt.virtual) / n,
                   anonHuge: Double(after.anonHuge - reservedAt.anonHuge) / n)
    }

    static func run(_ options: MemoryOptions) {
        print("# live ShapedArray<UInt8> arrays made by the library (ShapedArray(repeating:shape:)),")
        print("# about \(ByteSize.format(options.total)) of them per size; cost of one array, in KiB and as a multiple of its bytes")
        print("| bytes | arrays | resident KiB | virtual KiB | of which huge pages KiB | resident / bytes | virtual / bytes |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for bytes in options.sizes {
            let row = measure(bytes: bytes, total: options.total)
            let b = Double(bytes)
            print("| \(bytes) (\(ByteSize.format(bytes))) | \(row.arrays) | " + [
                row.resident / 1024, row.virtual / 1024, row.anonHuge / 1024, row.resident / b, row.virtual / b,
            ].map { format($0) }.joined(separator: " | ") + " |")
        }
    }

    private static func format(_ x: Double) -> String {
        let text = x >= 100 ? "\(Int(x.rounded()))" : "\(Double(Int((x * 100).rounded())) / 100)"
        return text
    }
}

/// Options of the `memory` subcommand.
struct MemoryOptions {
    /// Array sizes in bytes.
    var sizes: [Int] = [1000, 4096, 4097, 6 << 10, 64 << 10, (64 << 10) + 1, 1 << 20, 3 << 19, (2 << 20) + 1,
                        3 << 20, 4 << 20, 10 << 20]
    /// About how many bytes of arrays to keep alive per size.
    var total = 160 << 20
}

extension String {
    /// The string without a trailing newline.
    var trimmingNewline: String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}

/// The `pages` subcommand: what a large message's single copy costs from and into buffers of
/// three page layouts (`cmpib_copy_cost_us`): 4 KiB pages; whole 2 MiB pages (the rounding
/// that C-huge uses, and the library where an array's last 2 MiB page is at least half used);
/// and huge pages where whole 2 MiB pages fit with 4 KiB pages for the rest (the library
/// otherwise). Open MPI's shared-memory transport copies messages above its eager limit with
/// `process_vm_readv`, which this times from the process to itself, in CPU time. Needs no MPI.
enum PageCopyCost {
    static let layouts: [(CMPIBenchmarks.cmpib_page_layout, String)] = [
        (CMPIB_PAGES_SMALL, "4 KiB pages"),
        (CMPIB_PAGES_WHOLE_HUGE, "whole 2 MiB pages"),
        (CMPIB_PAGES_HUGE_AND_SMALL_TAIL, "2 MiB pages + 4 KiB tail"),
    ]

    static func run(_ options: PagesOptions) {
        print("# process_vm_readv from and into buffers of each layout: median CPU µs of \(options.repeats) copies")
        print("# (huge pages the source got, KiB, in brackets)")
        print("| bytes | " + layouts.map(\.1).joined(separator: " | ") + " | whole 2 MiB / 4 KiB | with tail / whole |")
        print("|---:|" + String(repeating: "---:|", count: layouts.count + 2))
        for bytes in options.sizes {
            var cells: [String] = []
            var costs: [Double] = []
            for (layout, _) in layouts {
                var hugeKB = 0
                let cost = cmpib_copy_cost_us(bytes, layout, Int32(clamping: options.repeats), &hugeKB)
                costs.append(cost)
                cells.append(cost < 0 ? "failed" : "\(String(format: "%.1f", cost)) [\(hugeKB)]")
            }
            let ratios = [costs[1] / costs[0], costs[2] / costs[1]].map { String(format: "%.2f", $0) }
            print("| \(bytes) (\(ByteSize.format(bytes))) | " + (cells + ratios).joined(separator: " | ") + " |")
        }
    }
}

/// Options of the `pages` subcommand.
struct PagesOptions {
    /// Message sizes in bytes.
    var sizes: [Int] = [1 << 20, 3 << 19, (2 << 20) + 8, 5 << 19, 3 << 20, 4 << 20, 5 << 20, 10 << 20]
    /// Copies per layout and size.
    var repeats = 400
}
