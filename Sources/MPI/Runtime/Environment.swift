import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The one place where the package reads its environment variables.
//
// Every `SWIFT_MPI_*` variable is listed in `EnvironmentVariable`, and read
// through `SwiftMPIEnvironment` with one rule per kind of value. Booleans accept
// `1/true/yes/on` and `0/false/no/off` (any case); an empty or unset variable
// means the default; anything else is reported once on standard error, naming
// the variable and what it accepts, and the default is used.

/// An environment variable that swift-mpi reads.
///
/// The README's table of environment variables lists the same variables with
/// the same defaults.
public enum EnvironmentVariable: String, CaseIterable, Sendable {
    /// `SWIFT_MPI_CHECK`: a boolean; when on, each collective first checks, across
    /// ranks, that every rank calls the same operation with the same arguments.
    case check = "SWIFT_MPI_CHECK"
    /// `SWIFT_MPI_DEBUG`: a boolean; when on, each call prints one line to standard error.
    case debug = "SWIFT_MPI_DEBUG"
    /// `SWIFT_MPI_THREAD_LEVEL`: `single`, `funneled`, `serialized` or `multiple`
    /// (default); the thread level requested when the package initialises MPI.
    case threadLevel = "SWIFT_MPI_THREAD_LEVEL"
    /// `SWIFT_MPI_TIMEOUT`: seconds (default 600; `0` or `off` turns it off) that one call may
    /// run before the watchdog prints where this rank is stuck and ends the job.
    case timeout = "SWIFT_MPI_TIMEOUT"
    /// `SWIFT_MPI_BLOCK_CACHE_MB`: a whole number of MiB (default 256, `0` turns
    /// it off); how much freed array storage is kept for reuse.
    case blockCacheMegabytes = "SWIFT_MPI_BLOCK_CACHE_MB"
    /// `SWIFT_MPI_CHECK_PULLBACKS`: a boolean; when on, the pullbacks of collective
    /// primitives check that every rank runs them.
    case checkPullbacks = "SWIFT_MPI_CHECK_PULLBACKS"
    /// `SWIFT_MPI_CHECK_PULLBACKS_TIMEOUT`: seconds (default 30) a checked pullback
    /// waits before it reports where it waits.
    case checkPullbacksTimeout = "SWIFT_MPI_CHECK_PULLBACKS_TIMEOUT"

    /// The variable's name, such as `SWIFT_MPI_CHECK`.
    public var name: String { rawValue }
}

/// Reads the package's environment variables, with one rule for each kind of value.
package enum SwiftMPIEnvironment {
    /// The variable's text, or `nil` when it is unset or empty.
    package static func string(_ variable: EnvironmentVariable) -> String? {
        guard let raw = getenv(variable.rawValue) else { return nil }
        let text = String(cString: raw).trimmingSpaces()
        return text.isEmpty ? nil : text
    }

    /// A boolean: `1/true/yes/on` or `0/false/no/off`, in any case; `default` when
    /// unset, empty or not a boolean (which is reported once).
    package static func flag(_ variable: EnvironmentVariable, default: Bool = false) -> Bool {
        guard let text = string(variable) else { return `default` }
        if let value = parseFlag(text) { return value }
        reportInvalid(variable, text, expected: "1, true, yes or on; 0, false, no or off", default: `default` ? "on" : "off")
        return `default`
    }

    /// The boolean a text stands for, or `nil` when it is not one.
    package static func parseFlag(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes", "on": true
        case "0", "false", "no", "off": false
        default: nil
        }
    }

    /// One of a fixed set of words (compared in lower case); `default` when unset
    /// or empty, and when the word is not one of `choices` (which is reported once).
    package static func choice<Value>(
        _ variable: EnvironmentVariable, _ choices: [(String, Value)], default: Value, defaultName: String
    ) -> Value {
        guard let text = string(variable) else { return `default` }
        if let match = choices.first(where: { $0.0 == text.lowercased() }) { return match.1 }
        reportInvalid(variable, text, expected: choices.map(\.0).joined(separator: ", "), default: defaultName)
        return `default`
    }

    /// A whole number at least `minimum`; `default` when unset, empty or invalid
    /// (which is reported once).
    package static func integer(_ variable: EnvironmentVariable, minimum: Int, default: Int) -> Int {
        guard let text = string(variable) else { return `default` }
        if let value = Int(text), value >= minimum { return value }
        reportInvalid(variable, text, expected: "a whole number from \(minimum)", default: "\(`default`)")
        return `default`
    }

    /// A number of seconds above zero; `default` when unset, empty or invalid
    /// (which is reported once, with `alsoValid` after what is expected: what the caller
    /// handled itself before asking, such as the words that turn the watchdog off).
    package static func seconds(_ variable: EnvironmentVariable, default: Double, alsoValid: String = "") -> Double {
        guard let text = string(variable) else { return `default` }
        if let value = Double(text), value > 0, value.isFinite { return value }
        reportInvalid(variable, text, expected: "a number of seconds above 0" + alsoValid, default: "\(`default`)")
        return `default`
    }

    /// This process's rank and the job's size as the launcher announced them in
    /// the environment, for ``Communicator/world`` when MPI cannot be asked:
    /// `OMPI_COMM_WORLD_RANK` and `OMPI_COMM_WORLD_SIZE` (Open MPI's `mpirun`),
    /// `PMI_RANK` and `PMI_SIZE` (MPICH's Hydra, Slurm with PMI), `SLURM_PROCID`
    /// and `SLURM_NTASKS` (Slurm's `srun`), the first pair that is set and valid;
    /// rank 0 of 1 without a launcher, as `MPI_Init` would give. These are the
    /// launchers' variables, not the package's, so they have no
    /// ``EnvironmentVariable`` case.
    package static func launcherRankAndSize() -> (rank: Int, size: Int) {
        let pairs = [
            ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS"),
        ]
        for (rankName, sizeName) in pairs {
            guard let rank = getenv(rankName).flatMap({ Int(String(cString: $0)) }),
                  let size = getenv(sizeName).flatMap({ Int(String(cString: $0)) }),
                  size >= 1, (0..<size).contains(rank)
            else { continue }
            return (rank, size)
        }
        return (0, 1)
    }

    /// The invalid settings reported so far (`NAME=value`): each is reported once, however often it is read
    /// (after a failed initialisation, every call reads the thread level again).
    private static let reported = Mutex<Set<String>>([])

    private static func reportInvalid(_ variable: EnvironmentVariable, _ text: String, expected: String, default: String) {
        guard reported.withLock({ $0.insert("\(variable.rawValue)=\(text)").inserted }) else { return }
        let line = "swift-mpi: ignoring \(variable.rawValue)=\(text): expected \(expected); using \(`default`)\n"
        line.withCString { _ = write(2, $0, strlen($0)) }
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s.removeLast() }
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        return String(s)
    }
}
