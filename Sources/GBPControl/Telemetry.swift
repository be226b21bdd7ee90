import CDPDK
import GBPCore
import Glibc
import GBPRuntime
import Logging

/// gbpd's commands on DPDK's telemetry socket, so that `dpdk-telemetry.py` shows the
/// dataplane's state next to DPDK's own (`/ethdev/stats,0`...):
///
///   /gbp/stats       totals, policy epoch, conntrack, per port counters, drops by reason
///   /gbp/endpoints   endpoints in force: tenant, group, port, MAC, addresses
///   /gbp/groups      endpoint and external groups
///   /gbp/contracts   contracts with providers, consumers and rule counters
///
/// DPDK answers these on its telemetry thread from snapshots the control loop renders
/// (`publish`) and stores in C under a mutex (CDPDK/cdpdk_telemetry.c): that thread never
/// touches the dataplane. Telemetry dict keys allow only letters, digits, '_' and '/', so
/// names are keyed as `tenant/name` with other characters turned into '_' (the real
/// name is in the entry). Telemetry answers are at most 16 KiB: lists stop after
/// `maxEntries` entries and say how many more there are (`gbpctl` lists them all).
final class Telemetry {
    static let commands: [(cmd: String, help: String)] = [
        ("/gbp/stats", "gbpd dataplane totals, policy epoch, conntrack, per-port counters, drops by reason. Takes no parameters"),
        ("/gbp/endpoints", "gbpd endpoints in force: tenant, group, port, MAC, IPs. Takes no parameters"),
        ("/gbp/groups", "gbpd endpoint and external groups in force. Takes no parameters"),
        ("/gbp/contracts", "gbpd contracts in force with rule counters. Takes no parameters"),
    ]
    static let maxEntries = 48

    private(set) var registered: [String] = []

    init(logger: Logger) {
        for (cmd, help) in Self.commands {
            let rc = cdpdk_telemetry_register(cmd, help)
            if rc == 0 { registered.append(cmd) } else {
                logger.warning("telemetry command \(cmd) not registered: \(String(cString: strerror(-rc)))")
            }
        }
    }

    /// Renders every snapshot; `lists` false keeps the endpoint and group snapshots (they
    /// change only with the config).
    /// `rules` are the rule counters since start, the policy in force's rules first in their order.
    func publish(stats s: DataplaneStats, rules: [DataplaneStats.RuleStats], config: DaemonConfig, epoch: UInt32, swaps: Int, lists: Bool) {
        set("/gbp/stats", Self.stats(s, config: config, epoch: epoch, swaps: swaps))
        set("/gbp/contracts", Self.contracts(config.policy, rules: rules))
        if lists {
            set("/gbp/endpoints", Self.endpoints(config))
            set("/gbp/groups", Self.groups(config.policy))
        }
    }

    private func set(_ cmd: String, _ snapshot: TelemetrySnapshot) {
        guard registered.contains(cmd) else { return }
        _ = cdpdk_telemetry_set(cmd, snapshot.text)
    }

    // MARK: Snapshots

    static func stats(_ s: DataplaneStats, config: DaemonConfig, epoch: UInt32, swaps: Int) -> TelemetrySnapshot {
        var t = TelemetrySnapshot()
        t.u("rx", s.rx); t.u("tx", s.tx); t.u("dropped", s.dropped); t.u("flood_copies", s.floodCopies)
        t.u("uptime_ms", UInt64(max(0, s.runSeconds * 1000)))
        t.u("policy_epoch", UInt64(epoch)); t.u("policy_swaps", UInt64(swaps))
        t.u("endpoints", UInt64(config.endpoints.count))
        if epoch != 0 { t.u("conntrack_entries", UInt64(s.conntrackEntries)) }
        var keys = KeyMaker()
        for p in s.ports.prefix(maxEntries) {
            t.dict(keys.key("port/" + p.name)) { d in
                d.s("name", p.name); d.s("driver", p.driver)
                d.u("rx", p.rx); d.u("rx_bytes", p.rxBytes); d.u("tx", p.tx); d.u("dropped", p.dropped)
                d.u("tx_refused", p.txRefused); d.u("hw_rx_missed", p.hwRxMissed)
            }
        }
        if !s.drops.isEmpty {
            t.dict("drops") { d in
                for (r, n) in s.drops.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { d.u(KeyMaker.clean(r.name), n) }
            }
        }
        if epoch != 0 {
            let c = s.conntrack
            t.dict("conntrack") { d in
                d.u("entries", UInt64(s.conntrackEntries)); d.u("new", c.newFlows); d.u("hits", c.hits); d.u("fast_path", c.fastPath); d.u("denial_hits", c.denialHits)
                d.u("full_drops", c.fullDrops); d.u("budget_drops", c.budgetDrops); d.u("expired", c.expired); d.u("invalid", c.invalid)
                d.u("rechecked", c.rechecked); d.u("recheck_drops", c.recheckDrops); d.u("kept", c.kept)
            }
        }
        return t
    }

    static func endpoints(_ config: DaemonConfig) -> TelemetrySnapshot {
        var t = TelemetrySnapshot()
        t.u("count", UInt64(config.endpoints.count))
        var keys = KeyMaker()
        for e in config.endpoints.prefix(maxEntries) {
            t.dict(keys.key((e.tenant.map { $0 + "/" } ?? "") + e.name)) { d in
                d.s("name", e.name)
                if let x = e.tenant { d.s("tenant", x) }
                if let g = e.group { d.s("group", g) }
                d.s("port", e.port); d.s("mac", e.mac.description)
                d.s("ips", e.ips.map(\.description).joined(separator: " "))
            }
        }
        t.more(config.endpoints.count - maxEntries, "endpoints")
        return t
    }

    static func groups(_ policy: PolicySpec?) -> TelemetrySnapshot {
        var t = TelemetrySnapshot()
        guard let p = policy else { t.s("policy", "none: gbpd switches at L2 (no tenants)"); return t }
        t.u("count", UInt64(p.groups.count + p.externalGroups.count))
        var members: [String: Int] = [:]
        for e in p.endpoints { members[e.tenant + "/" + e.group, default: 0] += 1 }
        var keys = KeyMaker()
        for g in p.groups.prefix(maxEntries) {
            t.dict(keys.key(g.tenant + "/" + g.name)) { d in
                d.s("name", g.name); d.s("tenant", g.tenant); d.s("kind", "endpoint"); d.s("intra_group", g.intraGroup.rawValue)
                d.u("endpoints", UInt64(members[g.tenant + "/" + g.name] ?? 0))
            }
        }
        for g in p.externalGroups.prefix(max(0, maxEntries - p.groups.count)) {
            t.dict(keys.key(g.tenant + "/" + g.name)) { d in
                d.s("name", g.name); d.s("tenant", g.tenant); d.s("kind", "external")
                d.s("cidrs", g.cidrs.joined(separator: " "))
                if !g.except.isEmpty { d.s("except", g.except.joined(separator: " ")) }
            }
        }
        t.more(p.groups.count + p.externalGroups.count - maxEntries, "groups")
        return t
    }

    static func contracts(_ policy: PolicySpec?, rules: [DataplaneStats.RuleStats]) -> TelemetrySnapshot {
        var t = TelemetrySnapshot()
        guard let p = policy else { t.s("policy", "none: gbpd switches at L2 (no tenants)"); return t }
        t.u("count", UInt64(p.contracts.count))
        var keys = KeyMaker()
        var first = 0
        for (i, c) in p.contracts.enumerated() {
            defer { first += c.rules.count }
            guard i < maxEntries else { continue }
            let mine = first + c.rules.count <= rules.count ? Array(rules[first..<first + c.rules.count]) : []
            t.dict(keys.key(c.tenant + "/" + c.name)) { d in
                d.s("name", c.name); d.s("tenant", c.tenant)
                d.s("providers", c.providers.joined(separator: " ")); d.s("consumers", c.consumers.joined(separator: " "))
                d.u("rules", UInt64(c.rules.count))
                d.u("packets", mine.reduce(0) { $0 + $1.packets })
                d.u("allowed", mine.reduce(0) { $0 + $1.allowed })
                d.u("denied", mine.reduce(0) { $0 + $1.denied })
            }
        }
        t.more(p.contracts.count - maxEntries, "contracts")
        return t
    }
}

/// The line format cdpdk_telemetry.c reads (see cdpdk_telemetry.h).
struct TelemetrySnapshot {
    private(set) var text = ""

    mutating func u(_ key: String, _ v: UInt64) { text += "u\t\(key)\t\(v)\n" }
    mutating func s(_ key: String, _ v: String) {
        // No tabs or newlines inside a value; DPDK keeps 127 bytes.
        let clean = String(v.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
        var short = ""
        for ch in clean {
            if short.utf8.count + ch.utf8.count > 127 { break }
            short.append(ch)
        }
        text += "s\t\(key)\t\(short)\n"
    }
    mutating func dict(_ key: String, _ body: (inout TelemetrySnapshot) -> Void) {
        var inner = TelemetrySnapshot()
        body(&inner)
        text += "{\t\(key)\n" + inner.text + "}\n"
    }
    mutating func more(_ n: Int, _ what: String) {
        if n > 0 { s("more", "\(n) more \(what) not shown (telemetry answers are small): gbpctl lists them all") }
    }
}

/// Telemetry keys: letters, digits, '_' and '/' only, unique within one dict.
struct KeyMaker {
    private var used = Set<String>()

    static func clean(_ s: String) -> String {
        let k = String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "/") ? $0 : "_" })
        return String(k.prefix(63))
    }

    mutating func key(_ s: String) -> String {
        let base = Self.clean(s)
        var k = base, n = 2
        while !used.insert(k).inserted { k = "\(base.prefix(58))_\(n)"; n += 1 }
        return k
    }
}
