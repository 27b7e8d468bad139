import MPI

/// A command-line error, printed with the usage text.
struct UsageError: Error, CustomStringConvertible {
    /// What was wrong.
    var description: String
}

/// What the program was asked to do.
enum Command {
    /// Run the benchmark (or, with `--check`, the regression check) under mpirun.
    case run(RunOptions)
    /// Write an SVG plot from one or more CSV files; needs no MPI.
    case plot(svg: String, csvs: [String])
    /// Print the Markdown report (tables and targets) of one or more CSV files; needs no MPI.
    case report(csvs: [String])
    /// Time one implementation of one primitive in a tight loop, for a profiler.
    case profile(ProfileOptions)
    /// Time the flight record's writes per call (start and end), on one rank.
    case recordCost(iterations: Int)
    /// Measure the memory that live library-allocated arrays cost; needs no MPI.
    case memory(MemoryOptions)
    /// Time a large message's single copy on three page layouts; needs no MPI.
    case pages(PagesOptions)
    /// Time the progress engine's back-off (how late an awaited request is noticed after an idle stretch).
    case engine(idleMilliseconds: [Int], repeats: Int)
    /// Print the usage text.
    case help
}

/// Options of the benchmark run and of the regression check.
struct RunOptions {
    /// The primitives to time, in table order.
    var primitives: [Primitive] = Primitive.allCases
    /// The message sizes in bytes (multiples of 8).
    var sizes: [Int] = ByteSize.defaults
    /// Calls per sample at every size, or `nil` for the size-dependent default.
    var iterations: Int?
    /// Timed samples per implementation and case.
    var samples = 15
    /// Untimed warm-up samples per implementation and case.
    var warmup = 2
    /// The implementations to time.
    var implementations: [Implementation] = Implementation.allCases
    /// The CSV output path; `nil` means `bench-out/benchmark-<ranks>ranks.csv`.
    var csvPath: String?
    /// The SVG output path; `nil` means next to the CSV, `""` means none.
    var svgPath: String?
    /// The thread level to request, or `nil` for the library's default.
    var threadLevel: ThreadLevel?
    /// Whether this is the regression check.
    var check = false
    /// The check fails a row when Swift/C(malloc), fastest samples compared, exceeds this ratio...
    var maxRatio = 2.0
    /// ...and Swift is also slower than C(malloc) by more than this many microseconds.
    var slackMicroseconds = 2.0

    /// The regression check's defaults: fewer sizes and samples.
    static var checkDefaults: RunOptions {
        var options = RunOptions()
        options.check = true
        options.sizes = [8, 1 << 10, 64 << 10, 1 << 20]
        options.samples = 11
        options.warmup = 1
        return options
    }

    /// Calls per sample for a message of `bytes`: 1000 up to 8 KiB, then
    /// about 8 MiB of payload per sample, at least 4.
    func iterations(forBytes bytes: Int) -> Int {
        if let iterations { return iterations }
        return max(4, min(1000, (8 << 20) / max(bytes, 8 << 10)))
    }
}

/// Options of the `profile` subcommand.
struct ProfileOptions {
    /// The primitive to loop over.
    var primitive: Primitive = .allreduce
    /// The message size in bytes.
    var bytes = 8
    /// The implementation to loop over.
    var implementation: Implementation = .swift
    /// Calls in the profiled loop.
    var iterations = 100_000
    /// The thread level to request, or `nil` for the library's default.
    var threadLevel: ThreadLevel?
}

extension Command {
    /// The usage text.
    static let usage = """
        usage: mpi-benchmark [options]              run the benchmark (launch it with mpirun)
               mpi-benchmark --check [options]      regression check: exit 1 when Swift/C is out of bounds
               mpi-benchmark plot --svg OUT.svg IN.csv [IN.csv ...]
               mpi-benchmark report IN.csv [IN.csv ...]   Markdown tables and the issue's targets
                 (plot and report take the median of the runs' medians where CSVs repeat a row)
               mpi-benchmark profile [--impl swift|swift-into|swift-await|c-malloc|c-huge] [--op OP] [--bytes N] [--iterations N]
               mpi-benchmark record-cost [--iterations N]   the flight record's cost per call (one rank)
               mpi-benchmark memory [--sizes LIST] [--total SIZE]
                 what one live array the library allocates costs in resident and virtual memory, per
                 size (any byte count; LIST may use K/M suffixes and sums such as 2M+1), keeping
                 about SIZE bytes of arrays alive per size (default 160M); run without mpirun
               mpi-benchmark pages [--sizes LIST] [--repeats N]
                 the CPU time of a large message's single copy (process_vm_readv, as Open MPI's
                 shared-memory transport makes it) on 4 KiB pages, whole 2 MiB pages, and 2 MiB
                 pages with a 4 KiB-page tail (median of N copies, default 400); run without mpirun
               mpi-benchmark engine [--repeats N]   the progress engine's back-off: an awaited receive after
                 idle stretches of 0 to 500 ms against a blocking one (2 ranks)

        options:
          --ops LIST          primitives, comma-separated (default: all):
                              \(Primitive.allCases.map(\.rawValue).joined(separator: ","))
          --sizes LIST        message sizes in bytes, comma-separated, K/M suffixes allowed
                              (default: 8,16,64,256,1K,4K,16K,64K,256K,1M,4M,16M;
                               --check: 8,1K,64K,1M)
          --max-size SIZE     drop the sizes above SIZE
          --iterations N      calls per sample at every size (default: 1000 up to 8K, then
                              about 8 MiB of payload per sample, at least 4)
          --samples N         timed samples per implementation (default 15; --check: 11)
          --warmup N          untimed warm-up samples per implementation (default 2; --check: 1)
          --impls LIST        implementations (default: all):
                              \(Implementation.allCases.map(\.rawValue).joined(separator: ","))
          --csv PATH          CSV output (default: bench-out/benchmark-<ranks>ranks.csv; with --check, -check.csv)
          --svg PATH          SVG output (default: the CSV path with .svg)
          --no-svg            write no SVG
          --thread-level L    single|funneled|serialized|multiple (default: the library's)
          --max-ratio R       --check: fail when Swift/C-malloc > R ... (default 2.0)
          --slack-us U        ... and Swift - C-malloc > U microseconds (default 2.0),
                              comparing the fastest samples
          -h, --help          this text

        Sizes are per block (OSU convention): the per-rank contribution of allgather and gather,
        the per-destination block of alltoall and scatter, the vector of allreduce, bcast, reduce
        and scan, and the message of ping-pong and sendrecv. Data is Float64.
        """

    /// Parses the arguments after the program name.
    static func parse(_ arguments: [String]) throws(UsageError) -> Command {
        var args = arguments[...]
        if args.first == "plot" {
            args.removeFirst()
            var svg: String?
            var csvs: [String] = []
            while let arg = args.popFirst() {
                switch arg {
                case "--svg": svg = try value(of: arg, from: &args)
                case "-h", "--help": return .help
                default:
                    if arg.hasPrefix("-") { throw UsageError(description: "unknown plot option \(arg)") }
                    csvs.append(arg)
                }
            }
            guard let svg, !csvs.isEmpty else { throw UsageError(description: "plot needs --svg and CSV files") }
            return .plot(svg: svg, csvs: csvs)
        }
        if args.first == "report" {
            args.removeFirst()
            if args.contains("-h") || args.contains("--help") { return .help }
            guard !args.isEmpty, !args.contains(where: { $0.hasPrefix("-") }) else {
                throw UsageError(description: "report needs CSV files and no options")
            }
            return .report(csvs: Array(args))
        }
        if args.first == "engine" {
            args.removeFirst()
            var repeats = 7
            while let arg = args.popFirst() {
                switch arg {
                case "--repeats": repeats = try positive(try value(of: arg, from: &args), arg)
                case "-h", "--help": return .help
                default: throw UsageError(description: "engine: unknown option \(arg)")
                }
            }
            return .engine(idleMilliseconds: [0, 1, 5, 20, 100, 500], repeats: repeats)
        }
        if args.first == "record-cost" {
            args.removeFirst()
            var iterations = 10_000_000
            while let arg = args.popFirst() {
                switch arg {
                case "--iterations": iterations = try positive(try value(of: arg, from: &args), arg)
                case "-h", "--help": return .help
                default: throw UsageError(description: "record-cost: unknown option \(arg)")
                }
            }
            return .recordCost(iterations: iterations)
        }
        if args.first == "profile" {
            args.removeFirst()
            var options = ProfileOptions()
            while let arg = args.popFirst() {
                switch arg {
                case "--op": options.primitive = try primitive(try value(of: arg, from: &args))
                case "--bytes": options.bytes = try size(try value(of: arg, from: &args))
                case "--impl": options.implementation = try implementation(try value(of: arg, from: &args))
                case "--iterations": options.iterations = try positive(try value(of: arg, from: &args), arg)
                case "--thread-level": options.threadLevel = try threadLevel(try value(of: arg, from: &args))
                case "-h", "--help": return .help
                default: throw UsageError(description: "unknown profile option \(arg)")
                }
            }
            return .profile(options)
        }
        if args.first == "memory" {
            args.removeFirst()
            var options = MemoryOptions()
            while let arg = args.popFirst() {
                switch arg {
                case "--sizes": options.sizes = try list(try value(of: arg, from: &args)).map(byteSum)
                case "--total":
                    guard let bytes = ByteSize.parse(try value(of: arg, from: &args)), bytes > 0 else {
                        throw UsageError(description: "--total needs a positive size")
                    }
                    options.total = bytes
                case "-h", "--help": return .help
                default: throw UsageError(description: "unknown memory option \(arg)")
                }
            }
            return .memory(options)
        }
        if args.first == "pages" {
            args.removeFirst()
            var options = PagesOptions()
            while let arg = args.popFirst() {
                switch arg {
                case "--sizes": options.sizes = try list(try value(of: arg, from: &args)).map(byteSum)
                case "--repeats": options.repeats = try positive(try value(of: arg, from: &args), arg)
                case "-h", "--help": return .help
                default: throw UsageError(description: "unknown pages option \(arg)")
                }
            }
            return .pages(options)
        }
        var options = args.contains("--check") ? RunOptions.checkDefaults : RunOptions()
        var maxSize: Int?
        while let arg = args.popFirst() {
            switch arg {
            case "--check": options.check = true
            case "--ops":
                options.primitives = try list(try value(of: arg, from: &args)).map(primitive)
                // Keep table order whatever the order given.
                options.primitives = Primitive.allCases.filter(options.primitives.contains)
            case "--sizes": options.sizes = try list(try value(of: arg, from: &args)).map(size)
            case "--max-size": maxSize = try size(try value(of: arg, from: &args))
            case "--iterations": options.iterations = try positive(try value(of: arg, from: &args), arg)
            case "--samples": options.samples = try positive(try value(of: arg, from: &args), arg)
            case "--warmup":
                let text = try value(of: arg, from: &args)
                guard let n = Int(text), n >= 0 else { throw UsageError(description: "--warmup needs a count") }
                options.warmup = n
            case "--impls":
                let chosen = try list(try value(of: arg, from: &args)).map(implementation)
                options.implementations = Implementation.allCases.filter(chosen.contains)
            case "--csv": options.csvPath = try value(of: arg, from: &args)
            case "--svg": options.svgPath = try value(of: arg, from: &args)
            case "--no-svg": options.svgPath = ""
            case "--thread-level": options.threadLevel = try threadLevel(try value(of: arg, from: &args))
            case "--max-ratio": options.maxRatio = try positiveDouble(try value(of: arg, from: &args), arg)
            case "--slack-us": options.slackMicroseconds = try positiveDouble(try value(of: arg, from: &args), arg)
            case "-h", "--help": return .help
            default: throw UsageError(description: "unknown option \(arg)")
            }
        }
        if let maxSize { options.sizes = options.sizes.filter { $0 <= maxSize } }
        options.sizes = Array(Set(options.sizes)).sorted()
        if options.check {
            guard options.implementations.contains(.cMalloc), options.implementations.contains(.swift) else {
                throw UsageError(description: "--check compares Swift with C-malloc; keep both in --impls")
            }
        }
        guard !options.primitives.isEmpty, !options.implementations.isEmpty else {
            throw UsageError(description: "nothing to run")
        }
        guard options.primitives == [.barrier] || !options.sizes.isEmpty else {
            throw UsageError(description: "no message sizes left")
        }
        return .run(options)
    }

    private static func value(of option: String, from args: inout ArraySlice<String>) throws(UsageError) -> String {
        guard let value = args.popFirst() else { throw UsageError(description: "\(option) needs a value") }
        return value
    }

    private static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
    }

    private static func primitive(_ name: String) throws(UsageError) -> Primitive {
        let aliases = ["send": "pingpong", "recv": "pingpong", "send/recv": "pingpong"]
        let key = aliases[name.lowercased()] ?? name.lowercased()
        guard let p = Primitive.allCases.first(where: { $0.rawValue.lowercased() == key }) else {
            throw UsageError(description: "unknown primitive \(name)")
        }
        return p
    }

    private static func implementation(_ name: String) throws(UsageError) -> Implementation {
        guard let i = Implementation.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
            throw UsageError(description: "unknown implementation \(name)")
        }
        return i
    }

    private static func size(_ text: String) throws(UsageError) -> Int {
        guard let bytes = ByteSize.parse(text), bytes > 0, bytes % 8 == 0 else {
            throw UsageError(description: "bad size \(text): a positive multiple of 8 bytes (Float64)")
        }
        return bytes
    }

    /// A positive byte count, any multiple of a byte: `4097`, `64K`, or a sum such as `2M+1`.
    private static func byteSum(_ text: String) throws(UsageError) -> Int {
        let parts = text.split(separator: "+", omittingEmptySubsequences: false).map { ByteSize.parse(String($0)) }
        guard !parts.contains(nil) else { throw UsageError(description: "bad size \(text)") }
        let bytes = parts.reduce(0) { $0 + $1! }
        guard bytes > 0 else { throw UsageError(description: "bad size \(text): not positive") }
        return bytes
    }

    private static func positive(_ text: String, _ option: String) throws(UsageError) -> Int {
        guard let n = Int(text), n > 0 else { throw UsageError(description: "\(option) needs a positive count") }
        return n
    }

    private static func positiveDouble(_ text: String, _ option: String) throws(UsageError) -> Double {
        guard let x = Double(text), x > 0 else { throw UsageError(description: "\(option) needs a positive number") }
        return x
    }

    private static func threadLevel(_ text: String) throws(UsageError) -> ThreadLevel {
        switch text.lowercased() {
        case "single": return .single
        case "funneled": return .funneled
        case "serialized": return .serialized
        case "multiple": return .multiple
        default: throw UsageError(description: "unknown thread level \(text)")
        }
    }
}
