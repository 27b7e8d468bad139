// Tests of Sources/MPI/Runtime/Environment.swift: one rule per kind of value.
@testable import MPI
import MPITestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class EnvironmentTests: XCTestCase {
    /// Runs `body` with `variable` set to `value` (unset for `nil`), then restores it.
    private func with(_ variable: EnvironmentVariable, _ value: String?, _ body: () -> Void) {
        let saved = getenv(variable.name).map { String(cString: $0) }
        if let value { setenv(variable.name, value, 1) } else { unsetenv(variable.name) }
        body()
        if let saved { setenv(variable.name, saved, 1) } else { unsetenv(variable.name) }
    }

    func testBooleansAcceptOneSpellingPerValue() {
        for text in ["1", "true", "YES", "On", " on "] {
            with(.check, text) { XCTAssertTrue(SwiftMPIEnvironment.flag(.check), text) }
        }
        for text in ["0", "false", "No", "OFF"] {
            with(.check, text) { XCTAssertFalse(SwiftMPIEnvironment.flag(.check, default: true), text) }
        }
    }

    func testUnsetEmptyOrInvalidBooleansUseTheDefault() {
        for text in [nil, "", "  ", "maybe", "2"] as [String?] {
            with(.debug, text) {
                XCTAssertFalse(SwiftMPIEnvironment.flag(.debug), "\(text ?? "unset")")
                XCTAssertTrue(SwiftMPIEnvironment.flag(.debug, default: true), "\(text ?? "unset")")
            }
        }
    }

    func testEveryBooleanVariableFollowsTheSameRule() {
        // The pullback check used to read "off" as on, unlike SWIFT_MPI_CHECK.
        for variable in [EnvironmentVariable.check, .debug, .checkPullbacks] {
            with(variable, "off") { XCTAssertFalse(SwiftMPIEnvironment.flag(variable), variable.name) }
            with(variable, "on") { XCTAssertTrue(SwiftMPIEnvironment.flag(variable), variable.name) }
        }
    }

    func testChoicesIntegersAndSeconds() {
        with(.threadLevel, "Serialized") { XCTAssertEqual(RuntimeState.defaultThreadLevel(), .serialized) }
        with(.threadLevel, "fast") { XCTAssertEqual(RuntimeState.defaultThreadLevel(), .multiple) }
        with(.threadLevel, nil) { XCTAssertEqual(RuntimeState.defaultThreadLevel(), .multiple) }
        with(.blockCacheMegabytes, " 8 ") {
            XCTAssertEqual(SwiftMPIEnvironment.integer(.blockCacheMegabytes, minimum: 0, default: 256), 8)
        }
        for text in ["-1", "lots", "1.5"] {
            with(.blockCacheMegabytes, text) {
                XCTAssertEqual(SwiftMPIEnvironment.integer(.blockCacheMegabytes, minimum: 0, default: 256), 256, text)
            }
        }
        with(.checkPullbacksTimeout, "2.5") {
            XCTAssertEqual(SwiftMPIEnvironment.seconds(.checkPullbacksTimeout, default: 30), 2.5)
        }
        for text in ["0", "-3", "soon", "inf"] {
            with(.checkPullbacksTimeout, text) {
                XCTAssertEqual(SwiftMPIEnvironment.seconds(.checkPullbacksTimeout, default: 30), 30, text)
            }
        }
    }

    func testTheWatchdogsTimeoutIsOffForZeroOrFewerSeconds() {
        let saved = MPIRuntime.watchdogTimeout
        defer { MPIRuntime.watchdogTimeout = saved }
        for (text, expected) in [("off", nil), ("0", nil), ("0.0", nil), ("-1", nil), ("2.5", 2.5), ("soon", 600)] as [(String, Double?)] {
            with(.timeout, text) {
                configureWatchdogFromEnvironment()
                XCTAssertEqual(MPIRuntime.watchdogTimeout, expected, text)
            }
        }
    }

    func testAnInvalidValueIsReportedOnceNamingWhatIsValid() {
        let saved = MPIRuntime.watchdogTimeout
        defer { MPIRuntime.watchdogTimeout = saved }
        // Each invalid `NAME=value` is reported once per process: a value of this test's own.
        let text = "soon-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let lines = capturingStandardError {
            with(.timeout, text) {
                configureWatchdogFromEnvironment()
                configureWatchdogFromEnvironment()
            }
        }
        XCTAssertEqual(lines, [
            "swift-mpi: ignoring SWIFT_MPI_TIMEOUT=\(text): expected a number of seconds above 0, or 0, a negative "
                + "number or off for no watchdog; using 600.0",
        ])
        XCTAssertEqual(MPIRuntime.watchdogTimeout, 600)
        let level = "fast-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let levelLines = capturingStandardError {
            with(.threadLevel, level) { XCTAssertEqual(RuntimeState.defaultThreadLevel(), .multiple) }
        }
        XCTAssertEqual(levelLines, [
            "swift-mpi: ignoring SWIFT_MPI_THREAD_LEVEL=\(level): expected single, funneled, serialized, multiple; "
                + "using multiple",
        ])
    }

    /// The lines that `body` writes to standard error (file descriptor 2), which is restored after it.
    private func capturingStandardError(_ body: () -> Void) -> [String] {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            XCTFail("pipe: \(errno)")
            return []
        }
        let saved = dup(2)
        dup2(ends[1], 2)
        close(ends[1])
        body()
        dup2(saved, 2)
        close(saved)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(ends[0], &chunk, chunk.count)
            if n <= 0 { break }
            bytes += chunk[..<n]
        }
        close(ends[0])
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func testEveryVariableIsNamedSWIFT_MPI() {
        for variable in EnvironmentVariable.allCases {
            XCTAssertTrue(variable.name.hasPrefix("SWIFT_MPI_"), variable.name)
        }
    }
}
