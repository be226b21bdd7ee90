import GBPCore
import GBPRuntime
import Logging

/// What the control loop serves besides stats: the control socket (gbpctl), the
/// Prometheus port, DPDK telemetry snapshots and reloads. Everything runs on the main
/// lcore, one `service()` per tick; `wait` is the tick's pause, cut short when a client
/// is waiting.
final class ControlPlane {
    let commands: ControlCommands
    private var server: ControlServer?
    private var metricsServer: MetricsServer?
    private let metrics: GBPDMetrics
    private let telemetry: Telemetry
    private let logger: Logger
    private var lastTelemetry = -1.0
    private var telemetryVersion = -1
    static let telemetryInterval = 0.1

    /// Opens the control socket and the metrics port and registers the telemetry commands.
    /// A socket or port that cannot be opened is logged and left out: the dataplane runs on.
    init(control: PolicyControl, document: ConfigDocument, settings: ControlSettings, logger: Logger) {
        self.logger = logger
        metrics = GBPDMetrics()
        commands = ControlCommands(control: control, document: document, settings: settings, logger: logger, metrics: metrics)
        do {
            server = try ControlServer(path: settings.socketPath, logger: logger)
            logger.info("control socket \(settings.socketPath) (mode 0600)")
        } catch {
            logger.error("no control socket: \(error); gbpctl cannot reach this gbpd")
        }
        if let port = settings.metricsPort {
            do {
                let m = try MetricsServer(address: settings.metricsAddress, port: port, logger: logger)
                metricsServer = m
                logger.info("metrics on \(m.url)")
            } catch {
                logger.error("no metrics endpoint: \(error)")
            }
        }
        telemetry = Telemetry(logger: logger)
        if !telemetry.registered.isEmpty {
            logger.info("telemetry commands \(telemetry.registered.joined(separator: ", ")) (dpdk-telemetry.py)")
        }
        publishTelemetry(now: SocketIO.now())
    }

    /// The tick's pause: up to `timeoutMs`, less when a client has something to say.
    func wait(timeoutMs: Int32) {
        let read = (server?.readFDs ?? []) + (metricsServer?.readFDs ?? [])
        let write = (server?.writeFDs ?? []) + (metricsServer?.writeFDs ?? [])
        SocketIO.wait(read: read, write: write, timeoutMs: timeoutMs)
    }

    /// One tick: answer clients, refresh telemetry snapshots.
    func service() {
        let now = SocketIO.now()
        server?.service(now: now) { line in commands.handle(line: line) }
        metricsServer?.service(now: now) { renderMetrics() }
        if now - lastTelemetry >= Self.telemetryInterval { publishTelemetry(now: now) }
    }

    /// SIGHUP.
    func reload(origin: String) { _ = commands.reload(origin: origin) }

    private func renderMetrics() -> String {
        let dp = commands.dataplane
        metrics.update(dp.stats(), retired: dp.retiredRuleTotals, endpoints: commands.control.config.endpoints.count,
                       policyEpoch: dp.policyEpoch)
        return metrics.render()
    }

    private func publishTelemetry(now: Double) {
        lastTelemetry = now
        guard !telemetry.registered.isEmpty else { return }
        let dp = commands.dataplane
        let lists = telemetryVersion != commands.version
        telemetryVersion = commands.version
        let s = dp.stats()
        telemetry.publish(stats: s, rules: commands.ruleTotals(s), config: commands.control.config, epoch: dp.policyEpoch,
                          swaps: commands.control.swapCount, lists: lists)
    }

    /// Closes the socket (removing its file) and the metrics port.
    func close() {
        server?.close()
        server = nil
        metricsServer?.close()
        metricsServer = nil
    }
}
