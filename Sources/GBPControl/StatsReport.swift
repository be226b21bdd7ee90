import Foundation
import GBPCore
import GBPRuntime

/// Renders dataplane stats as the JSON of `gbpd --stats-json` and as text.
public enum StatsReport {
    public static func json(_ s: DataplaneStats, mempoolInUseAtExit: Int?) -> [String: Any] {
        var out: [String: Any] = [
            "ports": s.ports.map { p -> [String: Any] in
                ["name": p.name, "driver": p.driver, "rx": p.rx, "tx": p.tx, "dropped": p.dropped,
                 "rx_bytes": p.rxBytes, "tx_refused": p.txRefused, "ingress_dropped": p.ingressDrops,
                 "hw_rx_missed": p.hwRxMissed]
            },
            "drops": Dictionary(uniqueKeysWithValues: s.drops.map { ($0.key.name, $0.value) }),
            "rx": s.rx, "tx": s.tx, "dropped": s.dropped, "flood_copies": s.floodCopies,
            "run_seconds": s.runSeconds,
            "rx_mpps": s.runSeconds > 0 ? Double(s.rx) / s.runSeconds / 1e6 : 0,
            "workers": s.workers.map { w -> [String: Any] in
                ["lcore": w.lcore, "rx": w.rx, "bursts": w.bursts, "busy_cycles": w.busyCycles,
                 "cycles_per_packet": w.rx > 0 ? Double(w.busyCycles) / Double(w.rx) : 0]
            },
        ]
        if let m = mempoolInUseAtExit { out["mempool_in_use_at_exit"] = m }
        if let r = s.removedPorts {
            out["removed_ports"] = ["count": r.count, "rx": r.totals.rx, "tx": r.totals.tx, "dropped": r.totals.dropped,
                                    "rx_bytes": r.totals.rxBytes]
        }
        if s.captureWritten + s.captureLost > 0 { out["capture"] = ["written": s.captureWritten, "lost": s.captureLost] }
        if s.policyEpoch > 0 {   // a policy is in force (it may have no rule at all)
            out["rules"] = s.rules.map(ruleJSON)
            let c = s.conntrack
            out["conntrack"] = ["entries": s.conntrackEntries, "hits": c.hits, "fast_path": c.fastPath, "denial_hits": c.denialHits, "new": c.newFlows, "full_drops": c.fullDrops,
                                "budget_drops": c.budgetDrops,
                                "expired": c.expired, "invalid": c.invalid, "rechecked": c.rechecked,
                                "recheck_drops": c.recheckDrops, "kept": c.kept]
        }
        return out
    }

    /// Policy swaps and the rule counters of every replaced snapshot, by epoch.
    public static func policyHistory(dataplane: Dataplane, swaps: [PolicySwap]) -> [String: Any] {
        guard dataplane.config.policy != nil else { return [:] }
        return [
            "policy_epoch": dataplane.policyEpoch,
            "policy_swaps": swaps.map { ["epoch": $0.epoch, "compile_ms": $0.compileSeconds * 1e3, "publish_ms": $0.publishSeconds * 1e3,
                                         "total_ms": $0.totalSeconds * 1e3, "reused_endpoints": $0.reusedEndpoints] },
            "retired_epochs": dataplane.retiredEpochs.map { e -> [String: Any] in
                ["epoch": e.epoch, "rules": e.rules.map(ruleJSON)]
            },
            "retired_rule_totals": dataplane.retiredRuleTotals.map(ruleJSON),
        ]
    }

    static func ruleJSON(_ r: DataplaneStats.RuleStats) -> [String: Any] {
        ["contract": r.contract, "rule": r.rule, "packets": r.packets, "bytes": r.bytes, "allowed": r.allowed, "denied": r.denied]
    }

    public static func write(_ object: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// One line for periodic printing.
    public static func line(_ s: DataplaneStats) -> String {
        let ports = s.ports.map { "\($0.name) rx \($0.rx) tx \($0.tx) drop \($0.dropped)" }.joined(separator: " | ")
        return String(format: "[%7.1fs] rx %llu tx %llu dropped %llu | ", s.runSeconds, s.rx, s.tx, s.dropped) + ports
    }

    /// The summary printed on exit.
    public static func summary(_ s: DataplaneStats, mempoolInUseAtExit: Int?) -> String {
        var lines: [String] = []
        lines.append(String(format: "gbpd ran %.2f s: %llu packets received, %llu transmitted, %llu dropped, %llu extra copies from flooding",
                            s.runSeconds, s.rx, s.tx, s.dropped, s.floodCopies))
        let w = max(8, s.ports.map(\.name.count).max() ?? 0)
        lines.append("  " + "port".padding(toLength: w, withPad: " ", startingAt: 0) + "        rx        tx   dropped  driver")
        for p in s.ports {
            lines.append("  " + p.name.padding(toLength: w, withPad: " ", startingAt: 0)
                         + String(format: "%10llu%10llu%10llu  ", p.rx, p.tx, p.dropped) + p.driver)
        }
        if let r = s.removedPorts {
            lines.append("  " + "(\(r.count) ports removed)".padding(toLength: w, withPad: " ", startingAt: 0)
                         + String(format: "%10llu%10llu%10llu", r.totals.rx, r.totals.tx, r.totals.dropped))
        }
        if !s.drops.isEmpty {
            lines.append("  drops by reason:")
            for (r, n) in s.drops.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { lines.append("    \(r.name): \(n)") }
        }
        lines.append("  accounting: rx \(s.rx) + flood copies \(s.floodCopies) = tx \(s.tx) + dropped \(s.dropped): "
                     + (s.rx + s.floodCopies == s.tx + s.dropped ? "balanced" : "UNBALANCED"))
        if let m = mempoolInUseAtExit { lines.append("  mbufs still in use after ports closed: \(m)") }
        return lines.joined(separator: "\n")
    }
}
