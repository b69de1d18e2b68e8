// swift-tools-version:6.1
import PackageDescription

/// One settings array for every target: Swift 6 mode plus explicit existentials
/// and internal-by-default imports, so C modules never leak into public API.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "danser-batch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "danser-batch", targets: ["BatchJob"]),
        .library(name: "DANSeR", targets: ["DANSeR"]),
        .library(name: "FeatureStore", targets: ["FeatureStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CPostgres",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // FAISS's inverted-file index behind a small C interface (Debian ships FAISS as a static
        // C++ library that needs OpenMP and BLAS at link time).
        .target(
            name: "CFaiss",
            linkerSettings: [.linkedLibrary("faiss"), .linkedLibrary("gomp"), .linkedLibrary("openblas")]
        ),
        .target(
            name: "DANSeR",
            dependencies: ["CBLAS", "CFaiss"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FeatureStore",
            dependencies: [
                "CPostgres",
                "CLZ4",
                "CZlib",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "BatchJob",
            dependencies: [
                "DANSeR",
                "FeatureStore",
                "CZlib",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DANSeRTests",
            dependencies: ["DANSeR"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FeatureStoreTests",
            dependencies: ["FeatureStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatchJobTests",
            dependencies: ["BatchJob"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["FeatureStore"],
            swiftSettings: swiftSettings
        ),
    ],
    cxxLanguageStandard: .cxx17
)
