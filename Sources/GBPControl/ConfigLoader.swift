import Foundation
import GBPCore
import GBPRuntime
import Yams

/// Reads and validates a `gbpd` config file. Every problem is reported with file,
/// line, field and reason; nothing is half-applied.
public enum ConfigLoader {
    public static func load(path: String) throws(ConfigError) -> DaemonConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(issues: [ConfigIssue(file: path, line: nil, field: "(file)", reason: "cannot be read: \(error.localizedDescription)")])
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> DaemonConfig {
        try parseWithControl(text, file: file).config
    }

    static func parse(_ text: String, file: String, attachments: [PortAttachment]) throws(ConfigError) -> DaemonConfig {
        try parseWithControl(text, file: file, attachments: attachments).config
    }

    /// Like `parse`, with the `control` section (socket, metrics), which only the daemon uses.
    /// `attachments` (ports added over the socket) are read as if the file listed them last.
    static func parseWithControl(_ text: String, file: String, attachments: [PortAttachment] = [])
        throws(ConfigError) -> (config: DaemonConfig, control: ControlSettings) {
        let composed: Node?
        do { composed = try Yams.compose(yaml: text) } catch {
            throw ConfigError(issues: [yamlIssue(error, file: file)])
        }
        guard var root = composed else {
            throw ConfigError(issues: [ConfigIssue(file: file, line: nil, field: "(file)", reason: "is empty")])
        }
        let spliced = PortAttachment.splice(attachments, into: root)
        if let spliced { root = spliced.root }
        let r = ConfigReader(file: file)
        let config = read(root, r)
        var control = ControlSettings()
        if case .mapping(let m) = root, let c = m["control"] { readControl(c, &control, r) }
        if !r.issues.isEmpty || config == nil {
            var issues = r.issues.isEmpty ? [ConfigIssue(file: file, line: nil, field: "(file)", reason: "invalid")] : r.issuesInFileOrder
            if let spliced { issues = issues.map { PortAttachment.rename($0, attachments, ports: spliced.ports, endpoints: spliced.endpoints) } }
            throw ConfigError(issues: issues)
        }
        var checked = config!
        // A policy compiled from Kubernetes manifests says exactly what they say (open pods
        // are open by Kubernetes' rules): the lint is for contracts written by hand.
        if let spec = checked.policy, checked.kubernetes == nil { checked.warnings = PolicyLint.warnings(spec, r) }
        return (checked, control)
    }

    /// A YAML syntax error, at its line.
    static func yamlIssue(_ error: any Error, file: String) -> ConfigIssue {
        let problem: String, mark: Mark, context: YamlError.Context?
        switch error as? YamlError {
        case .scanner(let c, let p, let m, _), .parser(let c, let p, let m, _), .composer(let c, let p, let m, _):
            (problem, mark, context) = (p, m, c)
        default:
            return ConfigIssue(file: file, line: nil, field: "(yaml)", reason: "not valid YAML: \(error)")
        }
        let while_ = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
        return ConfigIssue(file: file, line: mark.line, field: "(yaml)", reason: "not valid YAML: \(problem)\(while_)")
    }

    static let topLevelKeys = (required: ["eal", "workers", "ports"],
                               optional: ["mempool", "descriptors", "endpoints", "run", "conntrack", "capture", "flow_log", "control", "kubernetes"] + PolicyConfigLoader.keys)

    private static func read(_ root: Node, _ r: ConfigReader) -> DaemonConfig? {
        guard let top = r.mapping(root, "", required: topLevelKeys.required, optional: topLevelKeys.optional) else { return nil }
        let eal = top["eal"].flatMap { r.stringList($0, "eal") } ?? []
        let workers: [UInt32] = r.each(top["workers"], "workers") { n, f in
            r.int(n, f, in: 1...Int(RTE_MAX_LCORE_VALUE - 1)).map(UInt32.init)
        }
        if let w = top["workers"], workers.isEmpty, r.issues.isEmpty { r.fail(w, "workers", "at least one worker lcore is needed") }
        if Set(workers).count != workers.count, let w = top["workers"] { r.fail(w, "workers", "an lcore is listed twice") }

        var ports = r.eachIndexed(top["ports"], "ports") { n, f in readPort(n, f, r) }
        if let p = top["ports"], ports.isEmpty, r.issues.isEmpty { r.fail(p, "ports", "at least one port is needed") }
        checkUnique(ports.map(\.value.name), top["ports"], "ports", "port name", r)
        checkUnique(ports.map(\.value.devargs), top["ports"], "ports", "devargs", r)

        // With `tenants`, gbpd enforces a policy: endpoints need a group and a tenant, and
        // names and MACs are unique per tenant (checked by policy validation).
        let withPolicy = top["tenants"] != nil
        let portNames = Set(ports.map(\.value.name))
        let endpoints = r.eachIndexed(top["endpoints"], "endpoints") { n, f in readEndpoint(n, f, portNames, withPolicy: withPolicy, r) }
        if !withPolicy {
            checkUnique(endpoints.map(\.value.name), top["endpoints"], "endpoints", "endpoint name", r)
            checkUnique(endpoints.map(\.value.mac.description), top["endpoints"], "endpoints", "endpoint MAC", r)
        }

        var policy: PolicySpec?
        var kubernetes: KubernetesConfigLoader.Loaded?
        if let k = top["kubernetes"] {
            kubernetes = KubernetesConfigLoader.read(k, top, ports: &ports, r)
            policy = kubernetes?.compilation.spec ?? PolicySpec()
        } else if withPolicy {
            policy = PolicyConfigLoader.read(top, ports: &ports, endpoints: endpoints, r)
        } else {
            PolicyConfigLoader.rejectWithoutTenants(top, ports: ports, r)
        }

        var runtime = RuntimeConfig(ealArguments: eal, workerLcores: workers, ports: ports.map(\.value))
        runtime.policy = policy
        if let m = top["mempool"], let mm = r.mapping(m, "mempool", optional: ["mbufs", "cache"]) {
            if let n = mm["mbufs"] { runtime.mempoolSize = r.int(n, "mempool.mbufs", in: 1024...(1 << 26)) ?? runtime.mempoolSize }
            if let n = mm["cache"] { runtime.mempoolCache = r.int(n, "mempool.cache", in: 0...512) ?? runtime.mempoolCache }
        }
        if let d = top["descriptors"], let dm = r.mapping(d, "descriptors", optional: ["rx", "tx"]) {
            if let n = dm["rx"] { runtime.rxDescriptors = r.int(n, "descriptors.rx", in: 32...16384) ?? runtime.rxDescriptors }
            if let n = dm["tx"] { runtime.txDescriptors = r.int(n, "descriptors.tx", in: 32...16384) ?? runtime.txDescriptors }
        }
        if let ct = top["conntrack"] { readConntrack(ct, &runtime, r) }
        if let c = top["capture"] { runtime.capture = readCapture(c, r) }
        if let fl = top["flow_log"], let m = r.mapping(fl, "flow_log", optional: ["denied", "max_per_second"]) {
            if let d = m["denied"] { runtime.logDeniedFlows = r.bool(d, "flow_log.denied") ?? false }
            if let n = m["max_per_second"] { runtime.flowLogPerSecond = r.int(n, "flow_log.max_per_second", in: 0...100_000) ?? runtime.flowLogPerSecond }
        }
        if let run = top["run"], let rm = r.mapping(run, "run", optional: ["stop_when_inputs_drained", "stats_interval_s"]) {
            if let n = rm["stop_when_inputs_drained"] { runtime.stopWhenInputsDrained = r.bool(n, "run.stop_when_inputs_drained") ?? false }
            if let n = rm["stats_interval_s"] { runtime.statsInterval = r.double(n, "run.stats_interval_s", in: 0...3600) ?? 1 }
        }
        var entries = endpoints.map(\.value)
        if let k = kubernetes?.compilation {
            entries = k.spec.endpoints.map { EndpointEntry(name: $0.name, port: $0.port, mac: $0.mac, ips: $0.ips, group: $0.group, tenant: $0.tenant) }
        }
        runtime.stations = entries.map { .init(name: $0.name, port: $0.port, mac: $0.mac) }
        var config = DaemonConfig(file: r.file, runtime: runtime, endpoints: entries, policy: policy)
        config.kubernetes = kubernetes?.compilation
        config.notes = kubernetes?.notes ?? []
        return config
    }

    /// `capture: { path: FILE.pcapng, packets: drops|all, ring_slots: N }`
    private static func readCapture(_ n: Node, _ r: ConfigReader) -> RuntimeConfig.Capture? {
        guard let m = r.mapping(n, "capture", required: ["path"], optional: ["packets", "ring_slots"]),
              let path = m["path"].flatMap({ r.nonEmptyString($0, "capture.path") }) else { return nil }
        var c = RuntimeConfig.Capture(path: path)
        if let p = m["packets"], let s = r.string(p, "capture.packets") {
            switch s {
            case "drops": c.allPackets = false
            case "all": c.allPackets = true
            default: r.fail(p, "capture.packets", "must be drops or all, got '\(s)'")
            }
        }
        if let n = m["ring_slots"] { c.ringSlots = r.int(n, "capture.ring_slots", in: 64...(1 << 20)) ?? c.ringSlots }
        return c
    }

    /// `conntrack: { capacity: N, tenant_budget: 0.5, timeouts: { tcp_established_s: ..., udp_s: ... } }`
    private static func readConntrack(_ n: Node, _ runtime: inout RuntimeConfig, _ r: ConfigReader) {
        guard let m = r.mapping(n, "conntrack", optional: ["capacity", "tenant_budget", "timeouts"]) else { return }
        if let c = m["capacity"] { runtime.conntrackCapacity = r.int(c, "conntrack.capacity", in: 64...(1 << 26)) ?? runtime.conntrackCapacity }
        if let b = m["tenant_budget"], let share = r.double(b, "conntrack.tenant_budget", in: 0.000001...1) {
            runtime.conntrackTenantBudget = share
        }
        guard let tn = m["timeouts"] else { return }
        let fields: [(String, WritableKeyPath<ConntrackTimeouts, Double>)] = [
            ("tcp_handshake_s", \.tcpHandshake), ("tcp_established_s", \.tcpEstablished), ("tcp_closing_s", \.tcpClosing),
            ("tcp_time_wait_s", \.tcpTimeWait), ("tcp_closed_s", \.tcpClosed), ("udp_s", \.udp), ("sctp_s", \.sctp),
            ("icmp_s", \.icmp), ("other_s", \.other),
        ]
        guard let tm = r.mapping(tn, "conntrack.timeouts", optional: fields.map(\.0)) else { return }
        for (key, path) in fields {
            if let v = tm[key], let d = r.double(v, "conntrack.timeouts.\(key)", in: 0.000001...31_536_000) {
                runtime.conntrackTimeouts[keyPath: path] = d
            }
        }
    }

    /// `control: { socket: PATH, metrics_port: N, metrics_address: 127.0.0.1 | ::1 }`
    private static func readControl(_ n: Node, _ control: inout ControlSettings, _ r: ConfigReader) {
        guard let m = r.mapping(n, "control", optional: ["socket", "metrics_port", "metrics_address"]) else { return }
        if let v = m["socket"], let path = r.nonEmptyString(v, "control.socket") {
            if !path.hasPrefix("/") {
                r.fail(v, "control.socket", "'\(path)' is not an absolute path")
            } else if path.hasSuffix("/") {
                r.fail(v, "control.socket", "'\(path)' names a folder, not a socket file")
            } else if path.utf8.count > 107 {
                r.fail(v, "control.socket", "path is \(path.utf8.count) bytes long; a Unix socket path has at most 107")
            } else {
                control.socketPath = path
            }
        }
        if let v = m["metrics_port"] { control.metricsPort = r.int(v, "control.metrics_port", in: 0...65535) }
        if let v = m["metrics_address"], let a = r.nonEmptyString(v, "control.metrics_address") {
            if ControlSettings.metricsAddresses.contains(a) { control.metricsAddress = a } else {
                r.fail(v, "control.metrics_address", "'\(a)' is not allowed: metrics are served on loopback only (127.0.0.1 or ::1)")
            }
            if m["metrics_port"] == nil { r.fail(v, "control.metrics_address", "needs metrics_port (without it there is no metrics endpoint)") }
        }
    }

    private static func readPort(_ n: Node, _ f: String, _ r: ConfigReader) -> RuntimeConfig.Port? {
        guard let m = r.mapping(n, f, required: ["name", "devargs"], optional: ["role", "tenant"]) else { return nil }
        let name = m["name"].flatMap { r.nonEmptyString($0, "\(f).name") }
        let devargs = m["devargs"].flatMap { r.nonEmptyString($0, "\(f).devargs") }
        let role = m["role"].flatMap { r.choice($0, "\(f).role", [RuntimeConfig.PortRole.endpoint, .uplink]) } ?? .endpoint
        let tenant = m["tenant"].flatMap { r.nonEmptyString($0, "\(f).tenant") }
        guard let name, let devargs else { return nil }
        return .init(name: name, devargs: devargs, role: role, tenant: tenant)
    }

    /// A unicast MAC address.
    static func readMAC(_ n: Node, _ f: String, _ r: ConfigReader) -> MACAddress? {
        guard let s = r.string(n, f) else { return nil }
        guard let mac = MACAddress(s) else { r.fail(n, f, "'\(s)' is not a MAC address (aa:bb:cc:dd:ee:ff)"); return nil }
        if mac.isMulticast { r.fail(n, f, "\(s) is a multicast address"); return nil }
        return mac
    }

    /// A list of IPv4 and IPv6 addresses; nil when one of them is not one.
    static func readAddresses(_ n: Node, _ f: String, _ r: ConfigReader) -> [IPAddress]? {
        guard let texts = r.stringList(n, f) else { return nil }
        var out: [IPAddress] = []
        for (i, t) in texts.enumerated() {
            guard let a = IPAddress(t) else { r.fail(at: "\(f)[\(i)]", "'\(t)' is not an IPv4 or IPv6 address"); return nil }
            out.append(a)
        }
        return out
    }

    /// With a policy, `group` and `tenant` are required; without, they are accepted and unused.
    private static func readEndpoint(_ n: Node, _ f: String, _ ports: Set<String>, withPolicy: Bool, _ r: ConfigReader) -> EndpointEntry? {
        guard let m = r.mapping(n, f, required: ["name", "port", "mac"] + (withPolicy ? ["group", "tenant"] : []),
                                optional: ["ips"] + (withPolicy ? [] : ["group", "tenant"])) else { return nil }
        let name = m["name"].flatMap { r.nonEmptyString($0, "\(f).name") }
        var port = m["port"].flatMap { r.nonEmptyString($0, "\(f).port") }
        if let p = port, !ports.contains(p) {
            r.fail(m["port"], "\(f).port", "unknown port '\(p)' (ports: \(ports.sorted().joined(separator: ", ")))")
            port = nil
        }
        let mac = m["mac"].flatMap { readMAC($0, "\(f).mac", r) }
        var ips: [IPAddress] = []
        var ipsOK = true
        if let list = m["ips"] {
            if let a = readAddresses(list, "\(f).ips", r) { ips = a } else { ipsOK = false }
        }
        let group = m["group"].flatMap { r.nonEmptyString($0, "\(f).group") }
        let tenant = m["tenant"].flatMap { r.nonEmptyString($0, "\(f).tenant") }
        guard let name, let port, let mac, ipsOK else { return nil }
        return EndpointEntry(name: name, port: port, mac: mac, ips: ips, group: group, tenant: tenant)
    }

    private static func checkUnique(_ values: [String], _ node: Node?, _ field: String, _ what: String, _ r: ConfigReader) {
        var seen = Set<String>()
        for v in values where !seen.insert(v).inserted { r.fail(node, field, "\(what) '\(v)' appears twice") }
    }
}

private let RTE_MAX_LCORE_VALUE = 128
