// swift-tools-version:6.0
//
// swift-mpi: MPI communication for Swift arrays.
//
// The MPI implementation is chosen when the package is built, through the
// environment variable SWIFT_MPI:
//
//   SWIFT_MPI=openmpi (default)  pkg-config name "ompi-c"  (Debian: libopenmpi-dev)
//   SWIFT_MPI=mpich              pkg-config name "mpich"   (Debian: libmpich-dev)
//
// Any other value is used as a pkg-config name directly. Build each
// implementation in its own scratch directory, e.g.
//   SWIFT_MPI=mpich swift build --scratch-path .build/mpich
import PackageDescription
import Foundation

let mpiImplementation = ProcessInfo.processInfo.environment["SWIFT_MPI"] ?? "openmpi"
let mpiPkgConfig: String
switch mpiImplementation.lowercased() {
case "openmpi", "ompi", "open-mpi": mpiPkgConfig = "ompi-c"
case "mpich": mpiPkgConfig = "mpich"
default: mpiPkgConfig = mpiImplementation
}

let package = Package(
    name: "swift-mpi",
    products: [
        .library(name: "MPI", targets: ["MPI"]),
        .library(name: "DifferentiableMPI", targets: ["DifferentiableMPI"]),
        .executable(name: "mpi-tour", targets: ["Tour"]),
        .executable(name: "shallow-water", targets: ["ShallowWater"]),
        .executable(name: "data-parallel", targets: ["DataParallel"]),
        .executable(name: "mpi-benchmark", targets: ["MPIBenchmark"]),
        .executable(name: "hosts-probe", targets: ["HostsProbe"]),
        .executable(name: "mpi-interop", targets: ["Interop"]),
        .executable(name: "mpi-master-worker", targets: ["MasterWorker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation` (Scripts/docs); no effect on builds.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The C shim: what Swift cannot import from mpi.h (Open MPI's handles
        // are macros over globals, MPICH's are integer casts).
        .systemLibrary(
            name: "CMPI",
            path: "Sources/CMPI",
            pkgConfig: mpiPkgConfig,
            providers: [.apt(["libopenmpi-dev", "libmpich-dev"])]
        ),
        .target(
            name: "MPI",
            dependencies: [
                "CMPI",
                .product(name: "ComplexModule", package: "swift-numerics"),
            ]
        ),
        // Differentiable communication (Swift's _Differentiation), kept out of
        // the core so that MPI builds on toolchains without it.
        .target(name: "DifferentiableMPI", dependencies: ["MPI"]),
        // C reference benchmark loops, timed with the same method as the Swift ones.
        .target(name: "CMPIBenchmarks", dependencies: ["CMPI"]),
        .executableTarget(
            name: "MPIBenchmark",
            dependencies: ["MPI", "CMPI", "CMPIBenchmarks"]
        ),
        .executableTarget(name: "Tour", dependencies: ["MPI"], path: "Examples/Tour"),
        // The model is compiled with optimisation in debug builds too: unoptimised its
        // SIMD kernel does 1.8 steps/s of the 360 × 180 grid (hundreds of times slower),
        // and the test that checks it against mpi4jax's numbers steps that grid 4330
        // times (seconds optimised, 40 minutes not). The flag stays inside the example;
        // the MPI product has no unsafe flags, so depending on it is unaffected.
        .target(
            name: "ShallowWaterModel",
            dependencies: ["MPI"],
            path: "Examples/ShallowWater/Model",
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .executableTarget(
            name: "ShallowWater",
            dependencies: [
                "ShallowWaterModel",
                "MPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/ShallowWater/CLI"
        ),
        .executableTarget(name: "DataParallel", dependencies: ["DifferentiableMPI"], path: "Examples/DataParallel"),
        // Programs that misbehave on purpose, for the watchdog and failure tests (Scripts/test).
        .executableTarget(name: "mpi-scenarios", dependencies: ["MPI"], path: "Tests/Scenarios"),
        // The base test class and launch checks shared by the test targets.
        .target(name: "MPITestSupport", dependencies: ["MPI"], path: "Tests/MPITestSupport"),
        // For Scripts/test-hosts (simulated hosts) and Scripts/test-interop (MPMD jobs with C).
        .executableTarget(name: "HostsProbe", dependencies: ["MPI"], path: "Examples/HostsProbe"),
        .executableTarget(name: "Interop", dependencies: ["MPI"], path: "Examples/Interop"),
        .executableTarget(name: "MasterWorker", dependencies: ["MPI"], path: "Examples/MasterWorker"),
        .testTarget(
            name: "MPITests",
            dependencies: ["MPI", "MPITestSupport", .product(name: "ComplexModule", package: "swift-numerics")]
        ),
        .testTarget(name: "ShallowWaterTests", dependencies: ["ShallowWaterModel", "MPI"]),
        .testTarget(name: "DifferentiableMPITests", dependencies: ["DifferentiableMPI", "MPITestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
