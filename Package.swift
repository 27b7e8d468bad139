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
        .executable(name: "mpi-tour", targets: ["Tour"]),
        .executable(name: "shallow-water", targets: ["ShallowWater"]),
        .executable(name: "data-parallel", targets: ["DataParallel"]),
        .executable(name: "mpi-benchmark", targets: ["MPIBenchmark"]),
        .executable(name: "hosts-probe", targets: ["HostsProbe"]),
        .executable(name: "mpi-interop", targets: ["Interop"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        // C reference benchmark loops, timed with the same method as the Swift ones.
        .target(name: "CMPIBenchmarks", dependencies: ["CMPI"]),
        .executableTarget(
            name: "MPIBenchmark",
            dependencies: ["MPI", "CMPI", "CMPIBenchmarks"]
        ),
        .executableTarget(name: "Tour", dependencies: ["MPI"], path: "Examples/Tour"),
        .target(name: "ShallowWaterModel", dependencies: ["MPI"], path: "Examples/ShallowWater/Model"),
        .executableTarget(
            name: "ShallowWater",
            dependencies: [
                "ShallowWaterModel",
                "MPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/ShallowWater/CLI"
        ),
        .executableTarget(name: "DataParallel", dependencies: ["MPI"], path: "Examples/DataParallel"),
        // For Scripts/test-hosts (simulated hosts) and Scripts/test-interop (MPMD jobs with C).
        .executableTarget(name: "HostsProbe", dependencies: ["MPI"], path: "Examples/HostsProbe"),
        .executableTarget(name: "Interop", dependencies: ["MPI"], path: "Examples/Interop"),
        .testTarget(
            name: "MPITests",
            dependencies: ["MPI", .product(name: "ComplexModule", package: "swift-numerics")]
        ),
        .testTarget(name: "ShallowWaterTests", dependencies: ["ShallowWaterModel", "MPI"]),
    ],
    swiftLanguageModes: [.v6]
)
