import Foundation
import GBPCore

/// Runs the gbpd binary built next to the test bundle on a config written by the
/// test, in a private temporary folder, and collects what it did.
struct GBPDProcess {
    let dir: URL
    let name: String

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stats: [String: Any]?

        func port(_ name: String) -> [String: Any]? {
            (stats?["ports"] as? [[String: Any]])?.first { $0["name"] as? String == name }
        }
        func int(_ key: String) -> Int { (stats?[key] as? NSNumber)?.intValue ?? -1 }
        func drop(_ reason: DropReason) -> Int { ((stats?["drops"] as? [String: Any])?[reason.name] as? NSNumber)?.intValue ?? 0 }
    }

    init(_ name: String) throws {
        self.name = name
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("gbpd-test-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("gbpd")
    }

    func path(_ file: String) -> String { dir.appendingPathComponent(file).path }

    func writePcap(_ file: String, _ frames: [[UInt8]]) throws {
        let w = try PcapWriter(path: path(file))
        for f in frames { try w.write(f) }
        try w.close()
    }

    func readPcap(_ file: String) throws -> [[UInt8]] { try PcapReader.readAll(path: path(file)) }

    /// EAL arguments for a test process: no hugepages, its own file prefix.
    var eal: String {
        "[-l, \"0-1\", --no-huge, -m, \"256\", --file-prefix, \(filePrefix), --no-pci, --log-level, \"*:error\"]"
    }

    var filePrefix: String { "gbpt-\(name)-\(getpid())" }

    /// The policy several tests share: tenant shop, f1 (group frontend, port pa,
    /// 10.0.0.1) may reach b1 (group backend, port pb, 10.0.0.2) on UDP/80 by rule
    /// web/http, whose action is `action`.
    static func shopPolicy(action: String = "allow") -> String {
        """
        tenants: [{ name: shop }]
        groups: [{ name: frontend, tenant: shop }, { name: backend, tenant: shop }]
        endpoints:
          - { name: f1, tenant: shop, group: frontend, port: pa, mac: "02:00:00:00:0a:01", ips: [10.0.0.1] }
          - { name: b1, tenant: shop, group: backend, port: pb, mac: "02:00:00:00:0b:01", ips: [10.0.0.2] }
        contracts:
          - { name: web, tenant: shop, providers: [backend], consumers: [frontend], rules: [{ name: http, protocol: udp, ports: [80], action: \(action) }] }
        """
    }

    /// A pcap port that replays `rx` once and writes what it sends to `tx`.
    /// `eal`, one worker, a small mempool and pcap ports (`pcapPort`) named `ports`.
    func pcapHeader(ports: [String], mbufs: Int = 4095) -> String {
        (["eal: \(eal)", "workers: [1]", "mempool: { mbufs: \(mbufs), cache: 64 }", "ports:"]
            + ports.enumerated().map { pcapPort($1, index: $0) }).joined(separator: "\n")
    }

    /// `eal`, one worker, and port pa replaying `flows.pcap` forever into null ports
    /// (pb, then `nullPorts` more): the traffic of the shop policy at full rate.
    func flowsHeader(nullPorts: [String] = ["pb"]) -> String {
        (["eal: \(eal)", "workers: [1]", "mempool: { mbufs: 8191, cache: 64 }", "ports:",
          "  - { name: pa, devargs: \"net_pcap0,rx_pcap=\(path("flows.pcap")),infinite_rx=1,tx_pcap=/dev/null\" }"]
            + nullPorts.enumerated().map { "  - { name: \($1), devargs: \"net_null\($0),no-rx=1\" }" }).joined(separator: "\n")
    }

    func pcapPort(_ port: String, index: Int) -> String {
        "  - { name: \(port), devargs: \"net_pcap\(index),rx_pcap=\(path("\(port)-in.pcap")),tx_pcap=\(path("\(port)-out.pcap"))\" }"
    }

    /// Runs gbpd to its end; `interruptAfter` sends SIGINT after that many seconds,
    /// and a gbpd still running after `timeout` seconds is killed (and the test fails on its status).
    func run(config: String, interruptAfter: Double? = nil, timeout: Double = 60, extraArgs: [String] = []) throws -> Result {
        let configPath = path("gbpd.yaml")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let statsPath = path("stats.json")
        try? FileManager.default.removeItem(atPath: statsPath)
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = ["--config", configPath, "--stats-json", statsPath] + extraArgs
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        if let t = interruptAfter {
            Thread.sleep(forTimeInterval: t)
            kill(p.processIdentifier, SIGINT)
        }
        // A gbpd that does not stop by itself must not outlive the test.
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        var stats: [String: Any]?
        if let d = FileManager.default.contents(atPath: statsPath) {
            stats = try JSONSerialization.jsonObject(with: d) as? [String: Any]
        }
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), stats: stats)
    }

    /// Removes the test's directory and the runtime directory DPDK leaves for its file
    /// prefix (/var/run/dpdk/PREFIX as root, else under $XDG_RUNTIME_DIR or /tmp).
    func cleanUp() {
        try? FileManager.default.removeItem(at: dir)
        let base = getuid() == 0 ? "/var/run" : (ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] ?? "/tmp")
        try? FileManager.default.removeItem(atPath: "\(base)/dpdk/\(filePrefix)")
    }
}
