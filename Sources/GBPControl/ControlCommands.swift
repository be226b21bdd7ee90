import Foundation
import GBPCore
import GBPRuntime
import Logging

/// Answers the requests of the control protocol (ControlProtocol.swift) on the control
/// thread, and reloads the config file (SIGHUP and `gbpctl reload` alike).
///
/// Every change of the running policy, from the file or the socket, ends in
/// `PolicyControl.apply`. Socket changes edit the YAML of the config in force
/// (`ConfigDocument`) and are read back by `ConfigLoader`, so they are checked exactly
/// like the file; a rejected change returns its errors and changes nothing. A reload of
/// the file replaces everything changed over the socket with the file's content.
final class ControlCommands {
    typealias Key = ControlProtocol.Key

    let control: PolicyControl
    var dataplane: Dataplane { control.dataplane }
    private(set) var document: ConfigDocument
    /// The control settings gbpd started with (a reload does not change them).
    let settings: ControlSettings
    let logger: Logger
    let metrics: GBPDMetrics?
    /// Bumped whenever the config in force changes.
    private(set) var version = 0

    init(control: PolicyControl, document: ConfigDocument, settings: ControlSettings, logger: Logger, metrics: GBPDMetrics?) {
        self.control = control; self.document = document; self.settings = settings
        self.logger = logger; self.metrics = metrics
    }

    // MARK: Requests

    /// Answers one request line with one response line.
    func handle(line: some Collection<UInt8>) -> [UInt8] {
        guard let request = ControlProtocol.decodeLine(line) else {
            metrics?.requestHandled("invalid", ok: false)
            return ControlProtocol.encodeLine(ControlProtocol.failure("request is not a JSON object on one line"))
        }
        return ControlProtocol.encodeLine(handle(request))
    }

    func handle(_ request: [String: Any]) -> [String: Any] {
        guard let name = request[Key.cmd] as? String else {
            return ControlProtocol.failure("request has no \"cmd\" (commands: \(ControlCommand.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let cmd = ControlCommand(rawValue: name) else {
            metrics?.requestHandled("unknown", ok: false)
            return ControlProtocol.failure("unknown command \"\(name)\" (commands: \(ControlCommand.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let response: [String: Any]
        switch cmd {
        case .stats: response = stats()
        case .reload: response = reload(origin: "gbpctl")
        case .explain: response = explain(request)
        case .endpointsList: response = ControlProtocol.success(["endpoints": endpointList(tenant: request[Key.tenant] as? String)])
        case .groupsList: response = ControlProtocol.success(["groups": groupList(tenant: request[Key.tenant] as? String)])
        case .contractsList: response = ControlProtocol.success(["contracts": contractList(tenant: request[Key.tenant] as? String)])
        case .endpointsAdd: response = add(.endpoints, request[Key.endpoint], cmd)
        case .groupsAdd:
            let g = request[Key.group] as? [String: Any]
            response = add(g?["cidrs"] != nil ? .externalGroups : .groups, request[Key.group], cmd)
        case .contractsAdd: response = add(.contracts, request[Key.contract], cmd)
        case .endpointsRemove: response = remove([.endpoints], request, cmd)
        case .groupsRemove: response = remove([.groups, .externalGroups], request, cmd)
        case .contractsRemove: response = remove([.contracts], request, cmd)
        case .portsList: response = ControlProtocol.success(["ports": portList()])
        case .portsAdd:
            switch PortAttachment.from(port: request[Key.port], endpoint: request[Key.endpoint]) {
            case .success(let a): response = change(.attach(a), cmd: cmd, what: "port \(a.name)")
            case .failure(let e): response = ControlProtocol.failure(e.message)
            }
        case .portsRemove:
            if let name = request[Key.name] as? String, !name.isEmpty {
                response = change(.detach(name: name), cmd: cmd, what: "port \(name)")
            } else {
                response = ControlProtocol.failure("ports.remove needs \"name\"")
            }
        }
        metrics?.requestHandled(cmd.rawValue, ok: response[Key.ok] as? Bool == true)
        return response
    }

    // MARK: Stats and lists

    func stats() -> [String: Any] {
        let s = dataplane.stats()
        var j = StatsReport.json(s, mempoolInUseAtExit: nil)
        // Rule counters since start: every port or endpoint change is a new snapshot.
        j["rules"] = ruleTotals(s).map(StatsReport.ruleJSON)
        j["policy_epoch"] = dataplane.policyEpoch
        j["policy_swaps"] = control.swapCount
        // mbufs taken from the pool now: rx rings, pcap infinite_rx copies, packets in flight
        // (DPDK 22.11's telemetry has no occupancy); flat over time means nothing leaks.
        j["mempool_in_use"] = dataplane.pool.inUse
        j["endpoints"] = control.config.endpoints.count
        j["config"] = control.config.file
        j["policy"] = control.config.policy != nil
        return ControlProtocol.success(["stats": j])
    }

    func endpointList(tenant: String?) -> [[String: Any]] {
        control.config.endpoints.filter { tenant == nil || $0.tenant == tenant }.map { e in
            var o: [String: Any] = ["name": e.name, "port": e.port, "mac": e.mac.description, "ips": e.ips.map(\.description)]
            if let t = e.tenant { o["tenant"] = t }
            if let g = e.group { o["group"] = g }
            return o
        }
    }

    /// The ports open now, with where they come from and the endpoints behind them.
    func portList() -> [[String: Any]] {
        let runtime = Set(document.attachments.map(\.name))
        let declared = Dictionary(control.config.runtime.ports.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        return dataplane.stats().ports.map { p in
            var o: [String: Any] = ["name": p.name, "driver": p.driver, "runtime": runtime.contains(p.name),
                                    "rx": p.rx, "tx": p.tx, "dropped": p.dropped,
                                    "endpoints": control.config.endpoints.filter { $0.port == p.name }.map(\.name)]
            if let d = declared[p.name] {
                o["devargs"] = d.devargs
                o["role"] = d.role.rawValue
                if let t = d.tenant { o["tenant"] = t }
            }
            return o
        }
    }

    func groupList(tenant: String?) -> [[String: Any]] {
        guard let p = control.config.policy else { return [] }
        var members: [String: Int] = [:]
        for e in p.endpoints { members[e.tenant + "\u{0}" + e.group, default: 0] += 1 }
        let groups: [[String: Any]] = p.groups.filter { tenant == nil || $0.tenant == tenant }.map { g in
            ["name": g.name, "tenant": g.tenant, "kind": "endpoint", "intra_group": g.intraGroup.rawValue,
             "endpoints": members[g.tenant + "\u{0}" + g.name] ?? 0]
        }
        let externals: [[String: Any]] = p.externalGroups.filter { tenant == nil || $0.tenant == tenant }.map { g in
            ["name": g.name, "tenant": g.tenant, "kind": "external", "cidrs": g.cidrs, "except": g.except]
        }
        return groups + externals
    }

    /// Each rule's counters since start, across policy snapshots.
    func ruleTotals(_ s: DataplaneStats) -> [DataplaneStats.RuleStats] {
        DataplaneStats.RuleStats.sinceStart(current: s.rules, retired: dataplane.retiredRuleTotals)
    }

    func contractList(tenant: String?) -> [[String: Any]] {
        guard let p = control.config.policy else { return [] }
        var counters: [String: DataplaneStats.RuleStats] = [:]
        for r in ruleTotals(dataplane.stats()) { counters[r.rule] = r }
        var out: [[String: Any]] = []
        for c in p.contracts {
            var rules: [[String: Any]] = []
            for (i, r) in c.rules.enumerated() {
                var o = Self.ruleJSON(r)
                o["name"] = "\(c.name)/" + (r.name.isEmpty ? "rules[\(i)]" : r.name)
                if let name = o["name"] as? String, let k = counters[name] {
                    o["packets"] = k.packets; o["allowed"] = k.allowed; o["denied"] = k.denied
                }
                rules.append(o)
            }
            guard tenant == nil || c.tenant == tenant else { continue }
            out.append(["name": c.name, "tenant": c.tenant, "providers": c.providers, "consumers": c.consumers,
                        "on_policy_change": c.onPolicyChange.rawValue, "rules": rules])
        }
        return out
    }

    /// A rule with the keys of the config file.
    static func ruleJSON(_ r: RuleSpec) -> [String: Any] {
        var o: [String: Any] = ["direction": r.direction.rawValue, "action": r.action.rawValue, "priority": r.priority, "log": r.log]
        switch r.proto {
        case .etherType(let t): o["ethertype"] = String(format: "0x%04x", t)
        case .any: o["protocol"] = "any"
        case .tcp: o["protocol"] = "tcp"
        case .udp: o["protocol"] = "udp"
        case .sctp: o["protocol"] = "sctp"
        case .icmp: o["protocol"] = "icmp"
        case .icmpv6: o["protocol"] = "icmpv6"
        }
        if !r.ports.isEmpty { o["ports"] = r.ports.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)-\($0.last)" } }
        if let t = r.icmpType { o["icmp_type"] = t }
        if let c = r.icmpCode { o["icmp_code"] = c }
        return o
    }

    // MARK: Explain

    func explain(_ q: [String: Any]) -> [String: Any] {
        guard let spec = control.config.policy else {
            return ControlProtocol.failure("gbpd runs without a policy (no tenants in \(control.config.file)): every frame is switched at L2")
        }
        var tenant = q[Key.tenant] as? String
        if tenant == nil, spec.tenants.count == 1 { tenant = spec.tenants[0].name }
        guard let tenant else {
            return ControlProtocol.failure("explain needs \"tenant\" (tenants: \(spec.tenants.map(\.name).joined(separator: ", ")))")
        }
        guard let from = q[Key.from] as? String, let to = q[Key.to] as? String else {
            return ControlProtocol.failure("explain needs \"from\" and \"to\": endpoint names")
        }
        let protoText = (q[Key.proto] as? String) ?? (q[Key.proto] as? NSNumber)?.stringValue ?? "tcp"
        guard let proto = ControlProtocol.protocolNumber(protoText) else {
            return ControlProtocol.failure("unknown protocol \"\(protoText)\" (tcp, udp, sctp, icmp, icmpv6 or a number)")
        }
        var problem: String?
        func number(_ key: String, _ range: ClosedRange<Int>) -> Int? {
            guard let v = q[key] else { return nil }
            guard let n = (v as? NSNumber)?.intValue ?? (v as? String).flatMap({ Int($0) }), range.contains(n) else {
                problem = problem ?? "\(key) must be a number in \(range.lowerBound)...\(range.upperBound)"
                return nil
            }
            return n
        }
        let port = number(Key.port, 0...65535), srcPort = number(Key.srcPort, 0...65535)
        let icmpType = number(Key.icmpType, 0...255), icmpCode = number(Key.icmpCode, 0...255)
        if let problem { return ControlProtocol.failure(problem) }
        if [6, 17, 132].contains(proto) && port == nil { return ControlProtocol.failure("explain needs \"port\" for \(protoText)") }
        let query = ExplainQuery(tenant: tenant, source: from, destination: to, ipProto: proto,
                                 srcPort: UInt16(srcPort ?? 40000), dstPort: UInt16(port ?? 0),
                                 icmpType: UInt8(icmpType ?? (proto == 58 ? 128 : 8)), icmpCode: UInt8(icmpCode ?? 0),
                                 ipv6: (q[Key.ipv6] as? Bool) ?? false)
        guard let tables = currentTables() else { return ControlProtocol.failure("no policy in force") }
        var result = tables.compiled.explain(query, spec: spec, names: tables.names)
        if case .failure = result, control.config.kubernetes != nil, let t = tables.names.tenantID(tenant),
           let f = KubernetesExplainFields.fields(query, spec: spec) {
            result = .success(tables.compiled.explain(tenant: t, fields: f, names: tables.names))
        }
        switch result {
        case .failure(let e):
            return ControlProtocol.failure("cannot explain: \(e)")
        case .success(let e):
            var r: [String: Any] = [
                "verdict": e.verdict.allowed ? "allow" : "drop", "tenant": e.tenant, "source": e.source,
                "destination": e.destination, "summary": e.summary, "description": e.description,
                "logged": e.verdict.log, Key.epoch: tables.epoch, Key.proto: protoText,
            ]
            if let p = port { r[Key.port] = p }
            if let reason = e.verdict.reason { r["reason"] = reason.name }
            if let c = e.contract { r["contract"] = c }
            if let rule = e.rule { r["rule"] = rule }
            if let k = control.config.kubernetes,
               case .success(let x) = k.evaluator.explain(from: from, to: to, ipProto: proto, port: port ?? 0) {
                r["kubernetes"] = x.description
                r["kubernetes_verdict"] = x.decision.allowed ? "allow" : "deny"
            }
            return ControlProtocol.success(r)
        }
    }

    /// The compiled tables the workers use right now. Safe to read here: only this
    /// (control) thread publishes and frees policy snapshots.
    private func currentTables() -> (epoch: UInt32, compiled: CompiledPolicy, names: PolicyNames)? {
        guard let compiled = dataplane.currentPolicy, let names = dataplane.currentPolicyNames else { return nil }
        return (dataplane.policyEpoch, compiled, names)
    }

    // MARK: Changes

    private func add(_ section: ConfigDocument.Section, _ object: Any?, _ cmd: ControlCommand) -> [String: Any] {
        let key = section == .externalGroups ? Key.group : (section == .endpoints ? Key.endpoint : section == .contracts ? Key.contract : Key.group)
        guard let o = object as? [String: Any] else {
            return ControlProtocol.failure("\(cmd.rawValue) needs \"\(key)\": a JSON object with the keys of the config file")
        }
        let name = (o["name"] as? String) ?? "?"
        return change(.add(section, o), cmd: cmd, what: "\(section.noun) \(name)")
    }

    private func remove(_ sections: [ConfigDocument.Section], _ request: [String: Any], _ cmd: ControlCommand) -> [String: Any] {
        guard let name = request[Key.name] as? String, !name.isEmpty else {
            return ControlProtocol.failure("\(cmd.rawValue) needs \"name\"")
        }
        let tenant = request[Key.tenant] as? String
        return change(.remove(sections, name: name, tenant: tenant), cmd: cmd, what: "\(sections[0].noun) \(name)")
    }

    /// Applies one edit of the document through `PolicyControl.apply`.
    private func change(_ edit: ConfigDocument.Edit, cmd: ControlCommand, what: String) -> [String: Any] {
        let current = document
        switch HelperThread.run({ current.applying(edit) }) {
        case .failure(let e):
            metrics?.policyChange(origin: "socket", applied: false, seconds: nil)
            logger.warning("\(cmd.rawValue) \(what) rejected: \(e.message)\(e.details.isEmpty ? "" : ": " + e.details.joined(separator: "; "))",
                           metadata: ["origin": "socket"])
            return ControlProtocol.failure(e.message, errors: e.details)
        case .success(let applied):
            let config = applied.config
            let result: Result<PolicySwap, PolicyControl.Failure>
            switch edit {
            case .attach(let a): result = control.addPort(named: a.name, config)
            case .detach(let name): result = control.removePort(named: name, config)
            case .add, .remove: result = control.apply(config)
            }
            switch result {
            case .success(let swap):
                document.commit(applied)
                version += 1
                metrics?.policyChange(origin: "socket", applied: true, seconds: swap.totalSeconds)
                logger.info("\(cmd.rawValue) \(what): policy epoch \(swap.epoch) in force (compile \(Self.ms(swap.compileSeconds)) ms, publish \(Self.ms(swap.publishSeconds)) ms)",
                            metadata: ["origin": "socket"])
                for w in config.warnings { logger.warning("config lint: \(w)", metadata: ["origin": "socket"]) }
                return ControlProtocol.success([Key.epoch: swap.epoch, "change": "\(cmd.rawValue) \(what)"])
            case .failure(let f):
                metrics?.policyChange(origin: "socket", applied: false, seconds: nil)
                let (message, errors) = Self.describe(f)
                logger.warning("\(cmd.rawValue) \(what) rejected: \(message)", metadata: ["origin": "socket"])
                return ControlProtocol.failure(message, errors: errors)
            }
        }
    }

    static func describe(_ f: PolicyControl.Failure) -> (String, [String]) {
        switch f {
        case .config(let e): ("change rejected, the running policy is unchanged", e.issues.map { "\($0.field): \($0.reason)" })
        case .needsRestart: (f.description, [])
        case .rejected(let r): ("policy rejected, the running policy is unchanged", r.errors.map(\.description))
        case .port(let e): ("\(e)", [])
        }
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.2f", seconds * 1e3) }

    // MARK: Reload

    /// Reads the config file again and applies it: SIGHUP (`origin` "SIGHUP") and
    /// `gbpctl reload` (`origin` "gbpctl"). Replaces every change made over the socket.
    func reload(origin: String) -> [String: Any] {
        let file = document.file
        let loaded: (text: String, config: DaemonConfig, control: ControlSettings)
        do {
            let attachments = document.attachments
            loaded = try HelperThread.run { Result { () throws(ConfigError) in try ConfigDocument.load(path: file, attachments: attachments) } }.get()
        } catch {
            metrics?.policyChange(origin: "file", applied: false, seconds: nil)
            logger.error("reload of \(file) failed: \(error)", metadata: ["origin": "\(origin)"])
            return ControlProtocol.failure("reload of \(file) failed, the running policy is unchanged",
                                           errors: error.issues.map(\.description))
        }
        switch control.apply(loaded.config) {
        case .success(let swap):
            for n in loaded.config.notes { logger.notice("\(n)") }
            document = ConfigDocument(text: loaded.text, file: file, attachments: document.attachments)
            version += 1
            metrics?.policyChange(origin: "file", applied: true, seconds: swap.totalSeconds)
            logger.info("reloaded \(file): policy epoch \(swap.epoch) in force (compile \(Self.ms(swap.compileSeconds)) ms, publish \(Self.ms(swap.publishSeconds)) ms)",
                        metadata: ["origin": "\(origin)"])
            for w in loaded.config.warnings { logger.warning("config lint: \(w)", metadata: ["origin": "\(origin)"]) }
            if loaded.control != settings {
                logger.warning("the control section of \(file) changed: socket and metrics settings apply at the next start of gbpd")
            }
            return ControlProtocol.success([Key.epoch: swap.epoch, "file": file])
        case .failure(let f):
            metrics?.policyChange(origin: "file", applied: false, seconds: nil)
            logger.error("reload of \(file) failed: \(f)", metadata: ["origin": "\(origin)"])
            let (message, errors) = Self.describe(f)
            return ControlProtocol.failure("reload of \(file) failed: " + message, errors: f.configIssues ?? errors)
        }
    }
}

extension PolicyControl.Failure {
    /// The issues of a config that could not be read, with file and line.
    var configIssues: [String]? { if case .config(let e) = self { e.issues.map(\.description) } else { nil } }
}
