// swift-tools-version:6.0
import PackageDescription

// Debian's libdpdk.pc cannot be read by SwiftPM (multi-line Description), so the
// flags `pkg-config --cflags libdpdk` prints are spelled out here.
let dpdkCFlags = [
    "-I/usr/include/x86_64-linux-gnu/dpdk", "-I/usr/include/dpdk",
    "-include", "rte_config.h", "-march=corei7",
]
let dpdkImporterFlags = dpdkCFlags.flatMap { ["-Xcc", $0] }
let dpdkLibraries: [LinkerSetting] = [
    "rte_eal", "rte_ethdev", "rte_mbuf", "rte_mempool", "rte_net", "rte_ring",
    "rte_kvargs", "rte_telemetry", "rte_rcu", "rte_hash", "rte_pcapng",
].map { .linkedLibrary($0) }

// The hot path is built with -Ounchecked and whole-module optimisation in release
// builds (bench/README.md has the measurement behind this choice).
// GBP_RELEASE_FLAGS=plain builds with SwiftPM's default -O instead, to measure it.
let hotPathSwift: [SwiftSetting] = Context.environment["GBP_RELEASE_FLAGS"] == "plain" ? [] : [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "gbp-dataplane",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gbpd", targets: ["gbpd"]),
        .executable(name: "gbpctl", targets: ["gbpctl"]),
        .executable(name: "gbp-cni", targets: ["gbp-cni"]),
        .library(name: "GBPCore", targets: ["GBPCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C shims over DPDK 22.11.
        .target(
            name: "CDPDK",
            path: "CDPDK",
            cSettings: [.unsafeFlags(dpdkCFlags + ["-O3"])],
            linkerSettings: dpdkLibraries
        ),
        // Packets and policy in pure Swift: no DPDK, no Foundation on the hot path.
        .target(name: "GBPCore", swiftSettings: hotPathSwift),
        // EAL, mempools, ports and lcore workers.
        .target(
            name: "GBPRuntime",
            dependencies: ["CDPDK", "GBPCore"],
            swiftSettings: hotPathSwift + [.unsafeFlags(dpdkImporterFlags)]
        ),
        // Config loading, stats output, the control loop on the main lcore.
        .target(
            name: "GBPControl",
            dependencies: [
                "GBPCore", "GBPRuntime",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: [.unsafeFlags(dpdkImporterFlags)]
        ),
        .executableTarget(
            name: "gbpd",
            dependencies: [
                "GBPControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.unsafeFlags(dpdkImporterFlags)]
        ),
        .executableTarget(
            name: "gbpctl",
            dependencies: [
                "GBPCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The CNI plugin: veth + IPAM delegation + a gbpd port and endpoint per container
        // (Foundation and Glibc only; talks to gbpd over its control socket).
        .target(name: "GBPCNI"),
        .executableTarget(name: "gbp-cni", dependencies: ["GBPCNI"]),
        // Micro-benchmarks of the pure library (classifier, conntrack).
        .executableTarget(
            name: "gbp-microbench",
            dependencies: ["GBPCore"],
            path: "bench/micro",
            swiftSettings: hotPathSwift
        ),
        // Writes the pcaps of the demo and of the benchmarks.
        .executableTarget(
            name: "gbp-trafficgen",
            dependencies: ["GBPCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "bench/trafficgen"
        ),
        // libFuzzer target over the parser, responders, classifier and conntrack. Tests/Fuzz/run.sh
        // builds it with --sanitize fuzzer; a plain build makes a replayer of inputs (`gbp-fuzz DIR`).
        .executableTarget(name: "gbp-fuzz", dependencies: ["GBPCore"], path: "Tests/Fuzz/Target"),
        .testTarget(name: "GBPCoreTests", dependencies: ["GBPCore"]),
        .testTarget(name: "GBPCNITests", dependencies: ["GBPCNI"]),
        .testTarget(
            name: "GBPControlTests",
            dependencies: ["GBPControl", "GBPCore"],
            swiftSettings: [.unsafeFlags(dpdkImporterFlags)]
        ),
        // Runs the real gbpd on pcap/null ports as a subprocess and checks packets and counters.
        .testTarget(
            name: "GBPIntegrationTests",
            dependencies: ["GBPCore", "gbpd", "gbpctl", "gbp-trafficgen"]
        ),
    ]
)
