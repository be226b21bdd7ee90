import Foundation
import GBPCore
import GBPRuntime
import Logging

/// The daemon's life: load the config, start EAL, ports and workers, run the
/// control loop on the main lcore until stopped, then shut down and report.
public struct Daemon {
    public struct Options: Sendable {
        public var configPath: String
        public var statsJSONPath: String?
        /// Stop after this many seconds (benchmarks); nil runs until a signal or drain.
        public var duration: Double?
        public init(configPath: String, statsJSONPath: String? = nil, duration: Double? = nil) {
            self.configPath = configPath; self.statsJSONPath = statsJSONPath; self.duration = duration
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case config(ConfigError)
        case dpdk(DPDKError)
        case other(String)
        public var description: String {
            switch self {
            case .config(let e): e.description
            case .dpdk(let e): "gbpd: \(e)"
            case .other(let s): "gbpd: \(s)"
            }
        }
    }

    let options: Options
    public init(options: Options) { self.options = options }

    /// Runs to the end; returns the final stats.
    @discardableResult
    public func run() throws(Failure) -> DataplaneStats {
        GBPDLog.bootstrap()
        let logger = GBPDLog.control
        let loaded: (text: String, config: DaemonConfig, control: ControlSettings)
        do { loaded = try ConfigDocument.load(path: options.configPath) } catch { throw .config(error) }
        let config = loaded.config
        let rt = config.runtime

        var expected: [Int: Int] = [:]   // port index -> packets in its finite pcap inputs
        if rt.stopWhenInputsDrained {
            for (i, p) in rt.ports.enumerated() {
                do { if let n = try PcapInputs.finitePacketCount(devargs: p.devargs) { expected[i] = n } } catch {
                    throw .other("port '\(p.name)': \(error)")
                }
            }
            if expected.isEmpty { throw .other("run.stop_when_inputs_drained is set but no port has a finite pcap input (rx_pcap without infinite_rx=1)") }
        }

        do { try EAL.initialize(arguments: rt.ealArguments) } catch { throw .dpdk(error) }
        defer { EAL.cleanup() }
        EAL.installSignalHandlers()

        let dataplane: Dataplane
        do { dataplane = try Dataplane(config: rt) } catch { throw .dpdk(error) }
        print("gbpd: \(dataplane.ports.count) ports (\(dataplane.ports.map { "\($0.name): \($0.driver), \($0.rxQueues) rx queue(s)\($0.rss ? " RSS" : "")" }.joined(separator: "; "))), "
              + "\(rt.workerLcores.count) worker(s) on lcore(s) \(rt.workerLcores.map(String.init).joined(separator: ",")), "
              + "\(rt.stations.count) endpoints, mempool \(rt.mempoolSize) mbufs")
        do { try dataplane.launch() } catch {
            dataplane.stopWorkers()
            _ = dataplane.closePorts()
            throw .dpdk(error)
        }

        let control = PolicyControl(dataplane: dataplane, config: config)
        logger.info("started with \(config.file): \(config.policy == nil ? "no policy (L2 switch)" : "policy epoch \(dataplane.policyEpoch)"), \(config.endpoints.count) endpoints")
        for n in config.notes { logger.notice("\(n)") }
        for w in config.warnings { logger.warning("config lint: \(w)") }
        let plane = ControlPlane(control: control, document: ConfigDocument(text: loaded.text, file: config.file),
                                 settings: loaded.control, logger: logger)
        controlLoop(dataplane, plane: plane, expected: expected, statsInterval: rt.statsInterval)
        plane.close()
        logger.info("stopping")

        dataplane.stopWorkers()
        dataplane.drainFlowLog { GBPDLog.flows.notice("\($0)") }
        let stats = dataplane.stats()
        let inUse = dataplane.closePorts()
        print(StatsReport.summary(stats, mempoolInUseAtExit: inUse))
        if let path = options.statsJSONPath {
            var json = StatsReport.json(stats, mempoolInUseAtExit: inUse)
            json.merge(StatsReport.policyHistory(dataplane: dataplane, swaps: control.swaps)) { a, _ in a }
            do { try StatsReport.write(json, to: path) } catch {
                throw .other("writing stats to \(path): \(error)")
            }
        }
        return stats
    }

    /// The main lcore's loop: periodic stats, stop on signal, duration or drained inputs;
    /// the control socket, metrics, telemetry and reloads (`ControlPlane`). A tick is 10 ms,
    /// shorter when a control or metrics client is waiting.
    private func controlLoop(_ dataplane: Dataplane, plane: ControlPlane, expected: [Int: Int], statsInterval: Double) {
        let tickMs: Int32 = 10
        let start = SocketIO.now()
        var lastStats = start
        let flowLogger = GBPDLog.flows
        while !EAL.stopRequested {
            plane.wait(timeoutMs: tickMs)
            let now = SocketIO.now()
            if statsInterval > 0 && now - lastStats >= statsInterval {
                print(StatsReport.line(dataplane.stats()))
                lastStats = now
            }
            if let d = options.duration, now - start >= d { break }
            if !expected.isEmpty {
                let s = dataplane.stats()
                if expected.allSatisfy({ i, n in s.ports[i].rx + s.ports[i].hwRxMissed >= UInt64(n) }) { break }
            }
            dataplane.serviceCapture()
            dataplane.drainFlowLog { flowLogger.notice("\($0)") }
            if EAL.takeReloadRequest() { plane.reload(origin: "SIGHUP") }
            plane.service()
        }
    }
}
