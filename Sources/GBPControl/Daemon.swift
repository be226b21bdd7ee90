import Foundation
import GBPCore
import GBPRuntime

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
        let config: DaemonConfig
        do { config = try ConfigLoader.load(path: options.configPath) } catch { throw .config(error) }
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
        controlLoop(dataplane, control: control, expected: expected, statsInterval: rt.statsInterval)

        dataplane.stopWorkers()
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

    /// The main lcore's loop: periodic stats, stop on signal, duration or drained inputs.
    private func controlLoop(_ dataplane: Dataplane, control: PolicyControl, expected: [Int: Int], statsInterval: Double) {
        let tick = 0.01
        var sinceStats = 0.0
        var elapsed = 0.0
        while !EAL.stopRequested {
            usleep(UInt32(tick * 1e6))
            elapsed += tick
            sinceStats += tick
            if statsInterval > 0 && sinceStats >= statsInterval {
                print(StatsReport.line(dataplane.stats()))
                sinceStats = 0
            }
            if let d = options.duration, elapsed >= d { break }
            if !expected.isEmpty {
                let s = dataplane.stats()
                if expected.allSatisfy({ i, n in s.ports[i].rx + s.ports[i].hwRxMissed >= UInt64(n) }) { break }
            }
            if EAL.takeReloadRequest() {
                switch control.reloadFile() {
                case .success(let swap):
                    print(String(format: "gbpd: reloaded %@: policy epoch %u in force (compile %.2f ms, publish %.3f ms)",
                                 control.config.file, swap.epoch, swap.compileSeconds * 1e3, swap.publishSeconds * 1e3))
                case .failure(let e):
                    FileHandleOutput.stderr("gbpd: reload of \(control.config.file) failed: \(e)")
                }
            }
        }
    }
}
