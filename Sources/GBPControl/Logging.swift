import Foundation
import Logging

/// The control plane's logging (swift-log): startup, reloads, changes over the control
/// socket, errors. Lines go to standard error as
/// `2025-01-31T12:00:00.123Z info gbpd: reloaded gbpd.yaml: policy epoch 3 in force ... [origin=SIGHUP]`;
/// stats lines and the exit summary stay on standard output. `GBPD_LOG_LEVEL`
/// (trace, debug, info, notice, warning, error, critical) sets the level; info by default.
public enum GBPDLog {
    nonisolated(unsafe) private static var bootstrapped = false

    /// Installs the handler once per process (swift-log allows one bootstrap).
    public static func bootstrap() {
        guard !bootstrapped else { return }
        bootstrapped = true
        let level = ProcessInfo.processInfo.environment["GBPD_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        LoggingSystem.bootstrap { label in
            var h = GBPDLogHandler(label: label)
            h.logLevel = level
            return h
        }
    }

    /// The control plane's logger.
    public static var control: Logger { Logger(label: "gbpd") }

    /// Flows of rules marked `log: true` (and every policy drop with `flow_log.denied`).
    public static var flows: Logger { Logger(label: "gbpd.flows") }
}

/// One line per message on standard error: time (UTC, ms), level, label, message, metadata.
public struct GBPDLogHandler: LogHandler {
    public let label: String
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let p = metadataProvider?.get() { all.merge(p) { _, b in b } }
        if let e = event.metadata { all.merge(e) { _, b in b } }
        let meta = all.isEmpty ? "" : " [" + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "]"
        let text = "\(Self.timestamp()) \(event.level) \(label): \(event.message)\(meta)\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec, Int(ts.tv_nsec / 1_000_000))
    }
}
