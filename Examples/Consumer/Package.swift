// swift-tools-version:6.0
//
// A package that uses swift-mpi as a dependency, as any other project would.
// It depends on the repository two folders up by path; a project elsewhere
// names the repository's URL instead:
//
//   .package(url: "https://github.com/swift-mpi/swift-mpi", branch: "main")
//
// A path dependency is known by the name of its folder, which depends on where
// the repository was cloned, so `name:` fixes it to "swift-mpi", the name the
// product's `package:` uses (as it is for the URL above).
//
// Build and run it from the repository root with Scripts/test-consumer.
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [
        .package(name: "swift-mpi", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "Consumer",
            dependencies: [.product(name: "MPI", package: "swift-mpi")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
