import Foundation
import GBPCore

/// gbpd running in the background while a test sends real traffic through it.
/// Its output goes to `<dir>/gbpd.log` (a file: nothing can block on a full pipe);
/// `stop()` sends SIGINT, waits for the summary and reads `--stats-json`. gbpd stops by
/// itself after `lifetime` seconds (`--duration`), and is killed at `deinit` or 15 s later.
final class E2EDaemon: @unchecked Sendable {
    let process: E2EChild
    let g: GBPDProcess
    private let watchdog: DispatchWorkItem

    init(_ g: GBPDProcess, config: String, lifetime: Double = 90) throws {
        self.g = g
        let configPath = g.path("gbpd.yaml")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: g.path("stats.json"))
        // --duration: gbpd stops by itself even if this test process dies without cleaning up.
        let p = try E2EChild([GBPDProcess.binary.path, "--config", configPath, "--stats-json", g.path("stats.json"),
                              "--duration", String(Int(lifetime))],
                             stdout: g.path("gbpd.log"))
        process = p
        E2E.note("gbpd started")
        watchdog = DispatchWorkItem { p.kill(SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + lifetime + 15, execute: watchdog)
    }

    deinit {
        watchdog.cancel()
        if process.isRunning { process.kill(SIGKILL); _ = process.wait(timeout: 10) }
    }

    var isRunning: Bool { process.isRunning }
    var log: String { (try? String(contentsOfFile: g.path("gbpd.log"), encoding: .utf8)) ?? "" }

    /// Waits until `path` exists (a vhost-user socket gbpd creates when its port starts).
    func waitForFile(_ path: String, timeout: Double = 20) -> Bool {
        E2E.eventually(within: timeout, every: 0.05) { FileManager.default.fileExists(atPath: path) || !isRunning }
            && FileManager.default.fileExists(atPath: path)
    }

    /// SIGINT, then the exit status and the final stats (SIGKILL after `timeout` seconds).
    func stop(timeout: Double = 30) -> E2EStats {
        E2E.note("stopping gbpd")
        if process.isRunning { process.kill(SIGINT) }
        var status = process.wait(timeout: timeout)
        if status == nil { process.kill(SIGKILL); status = process.wait(timeout: 10).map { _ in -9 } }
        watchdog.cancel()
        E2E.note("gbpd stopped: \(status.map(String.init) ?? "killed")")
        if !process.isRunning { E2E.removeDPDKRuntimeDir(prefix: "gbpt-\(g.name)-\(getpid())") }
        let stats = FileManager.default.contents(atPath: g.path("stats.json"))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return E2EStats(status: status ?? -9, stats: stats, log: log)
    }
}

/// gbpd's final counters (`--stats-json`).
struct E2EStats: CustomStringConvertible {
    var status: Int32
    var stats: [String: Any]?
    var log: String

    func int(_ key: String) -> Int { (stats?[key] as? NSNumber)?.intValue ?? -1 }
    func drop(_ reason: DropReason) -> Int {
        ((stats?["drops"] as? [String: Any])?[reason.name] as? NSNumber)?.intValue ?? 0
    }
    /// A counter of the port `name` ("rx", "tx", "dropped"...); -1 when missing.
    func port(_ name: String, _ key: String) -> Int {
        let p = (stats?["ports"] as? [[String: Any]])?.first { $0["name"] as? String == name }
        return (p?[key] as? NSNumber)?.intValue ?? -1
    }
    var drops: [String: Int] {
        ((stats?["drops"] as? [String: Any]) ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
    }
    /// rx + flood copies = tx + dropped: every packet received was forwarded or dropped.
    var balanced: Bool { int("rx") >= 0 && int("rx") + max(0, int("flood_copies")) == int("tx") + int("dropped") }
    var description: String {
        "gbpd exit \(status); rx \(int("rx")) tx \(int("tx")) dropped \(int("dropped")); drops \(drops)\n\(log.suffix(3000))"
    }
}
