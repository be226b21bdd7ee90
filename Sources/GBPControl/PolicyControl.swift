import GBPCore
import GBPRuntime

/// The one place that changes the running policy. A SIGHUP reload of the config
/// file and changes over the control socket both end in `apply`, which validates and
/// compiles on the control thread and swaps the snapshot the workers use; anything
/// that fails leaves the running policy as it was and says why.
public final class PolicyControl {
    public enum Failure: Error, CustomStringConvertible {
        case config(ConfigError)
        case needsRestart([String])
        case rejected(PolicyRejection)
        case port(PortChangeError)

        public var description: String {
            switch self {
            case .config(let e): e.description
            case .needsRestart(let what):
                "reload refused, the running policy is unchanged: changing \(what.joined(separator: ", ")) needs a restart of gbpd"
            case .rejected(let r):
                "policy rejected, the running policy is unchanged:\n" + r.errors.map { "  \($0)" }.joined(separator: "\n")
            case .port(let e): "port change refused, nothing changed: \(e)"
            }
        }
    }

    public let dataplane: Dataplane
    /// The config whose policy is in force.
    public private(set) var config: DaemonConfig
    /// The latest swaps (at most `swapHistory`), oldest first: a daemon that lives long
    /// under endpoint churn must not grow with every change.
    public private(set) var swaps: [PolicySwap] = []
    /// Swaps since start.
    public private(set) var swapCount = 0
    /// As many swaps as `Dataplane.retiredEpochs` keeps epochs.
    public static let swapHistory = Dataplane.retiredHistory

    public init(dataplane: Dataplane, config: DaemonConfig) {
        self.dataplane = dataplane
        self.config = config
    }

    /// Makes `newConfig`'s policy and endpoints the running ones.
    public func apply(_ newConfig: DaemonConfig) -> Result<PolicySwap, Failure> {
        let restart = Self.restartOnlyChanges(from: config.runtime, to: newConfig.runtime)
        if !restart.isEmpty { return .failure(.needsRestart(restart)) }
        do { return .success(record(try dataplane.replacePolicy(with: newConfig.runtime), newConfig)) } catch {
            return .failure(.rejected(error))
        }
    }

    /// Opens port `name` of `newConfig` (its ports are the running ones plus this one) and
    /// makes `newConfig` the running config.
    public func addPort(named name: String, _ newConfig: DaemonConfig) -> Result<PolicySwap, Failure> {
        guard let port = newConfig.runtime.ports.first(where: { $0.name == name }) else {
            return .failure(.port(.port(DPDKError("adding port '\(name)'", code: 22, detail: "the config has no such port"))))
        }
        var others = newConfig.runtime
        others.ports.removeAll { $0.name == name }
        let restart = Self.restartOnlyChanges(from: config.runtime, to: others)
        if !restart.isEmpty { return .failure(.needsRestart(restart)) }
        do { return .success(record(try dataplane.addPort(port, config: newConfig.runtime), newConfig)) } catch {
            return .failure(.port(error))
        }
    }

    /// Makes `newConfig` (the running config without port `name`) the running one, then
    /// closes the port.
    public func removePort(named name: String, _ newConfig: DaemonConfig) -> Result<PolicySwap, Failure> {
        var before = config.runtime
        before.ports.removeAll { $0.name == name }
        let restart = Self.restartOnlyChanges(from: before, to: newConfig.runtime)
        if !restart.isEmpty { return .failure(.needsRestart(restart)) }
        do { return .success(record(try dataplane.removePort(named: name, config: newConfig.runtime), newConfig)) } catch {
            return .failure(.port(error))
        }
    }

    private func record(_ swap: PolicySwap, _ newConfig: DaemonConfig) -> PolicySwap {
        config = newConfig
        swaps.append(swap)
        swapCount += 1
        if swaps.count > Self.swapHistory { swaps.removeFirst(swaps.count - Self.swapHistory) }
        return swap
    }

    /// What a reload cannot change: EAL, workers, ports, the mempool and conntrack sizing.
    static func restartOnlyChanges(from a: RuntimeConfig, to b: RuntimeConfig) -> [String] {
        var out: [String] = []
        if a.ealArguments != b.ealArguments { out.append("eal") }
        if a.workerLcores != b.workerLcores { out.append("workers") }
        if a.ports.map({ [$0.name, $0.devargs, $0.role.rawValue] }) != b.ports.map({ [$0.name, $0.devargs, $0.role.rawValue] }) {
            out.append("ports (names, devargs, roles)")
        }
        if a.mempoolSize != b.mempoolSize || a.mempoolCache != b.mempoolCache { out.append("mempool") }
        if a.rxDescriptors != b.rxDescriptors || a.txDescriptors != b.txDescriptors { out.append("descriptors") }
        if a.conntrackCapacity != b.conntrackCapacity || a.conntrackTimeouts != b.conntrackTimeouts
            || a.conntrackTenantBudget != b.conntrackTenantBudget { out.append("conntrack") }
        if (a.policy == nil) != (b.policy == nil) { out.append("policy on/off (tenants)") }
        if a.capture != b.capture { out.append("capture") }
        if a.logDeniedFlows != b.logDeniedFlows || a.flowLogPerSecond != b.flowLogPerSecond { out.append("flow_log") }
        return out
    }
}
