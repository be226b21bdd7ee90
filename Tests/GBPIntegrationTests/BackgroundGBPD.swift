import Foundation

/// gbpd running in the background while a test acts on it: stdout is collected as
/// it arrives, signals can be sent, and `finish` stops it and returns its stats.
final class BackgroundGBPD: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var output = ""
    let statsPath: String

    init(configPath: String, statsPath: String) throws {
        self.statsPath = statsPath
        try? FileManager.default.removeItem(atPath: statsPath)
        process.executableURL = GBPDProcess.binary
        process.arguments = ["--config", configPath, "--stats-json", statsPath]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        out.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.output += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        try process.run()
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return output }

    /// Waits until stdout contains `text`; false after `timeout` seconds or if gbpd exited.
    func wait(for text: String, timeout: Double = 20) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if stdout.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return false
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// SIGINT, wait (SIGKILL after `timeout`), then the stats JSON.
    func finish(timeout: Double = 30) -> (status: Int32, stats: [String: Any]?) {
        signal(SIGINT)
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { signal(SIGKILL); process.waitUntilExit() }
        let stats = FileManager.default.contents(atPath: statsPath).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return (process.terminationStatus, stats)
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
