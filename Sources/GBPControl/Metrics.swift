import CoreMetrics
import GBPCore
import GBPRuntime
import Prometheus

/// gbpd's Prometheus metrics: the dataplane's counters (read from `Dataplane.stats()` on
/// the control thread when scraped) and the control plane's events (recorded through
/// swift-metrics). swift-prometheus's registry renders the text format; the HTTP side is
/// `MetricsServer`.
///
/// Dataplane counters are absolute readings turned into counter increments: each reading
/// adds what grew since the last one. Rule counters belong to a policy snapshot; when a
/// snapshot is replaced its final counts go to `Dataplane.retiredRuleTotals`, and each
/// rule's series is those totals plus the snapshot in force, so `gbpd_rule_*_total` keep
/// counting across reloads.
final class GBPDMetrics {
    let registry = PrometheusCollectorRegistry()
    /// swift-metrics objects made with this factory land in `registry`.
    let factory: PrometheusMetricsFactory

    private var counters: [String: (counter: Prometheus.Counter, last: UInt64)] = [:]
    private var gauges: [String: Prometheus.Gauge] = [:]
    /// Rule counters: each rule's totals at the last reading.
    private var ruleLast: [String: DataplaneStats.RuleStats] = [:]

    init() { factory = PrometheusMetricsFactory(registry: registry) }

    // MARK: Control-plane events (swift-metrics)

    func requestHandled(_ cmd: String, ok: Bool) {
        CoreMetrics.Counter(label: "gbpd_control_requests_total", dimensions: [("cmd", cmd), ("result", ok ? "ok" : "error")],
                            factory: factory).increment()
    }

    /// A policy change from the file (`file`) or the control socket (`socket`).
    func policyChange(origin: String, applied: Bool, seconds: Double?) {
        CoreMetrics.Counter(label: "gbpd_policy_changes_total", dimensions: [("origin", origin), ("result", applied ? "applied" : "rejected")],
                            factory: factory).increment()
        if let s = seconds {
            CoreMetrics.Timer(label: "gbpd_policy_apply_seconds", dimensions: [], factory: factory)
                .recordNanoseconds(Int64(s * 1e9))
        }
    }

    // MARK: Dataplane readings

    /// Updates every dataplane metric from a reading.
    func update(_ s: DataplaneStats, retired: [DataplaneStats.RuleStats], endpoints: Int, policyEpoch: UInt32) {
        count("gbpd_rx_packets_total", "Packets received on all ports", [], s.rx)
        count("gbpd_tx_packets_total", "Packets transmitted on all ports", [], s.tx)
        count("gbpd_dropped_packets_total", "Packets dropped, for any reason", [], s.dropped)
        count("gbpd_flood_copies_total", "Extra transmissions of flooded packets", [], s.floodCopies)
        for p in s.ports {
            let l = [("port", p.name)]
            count("gbpd_port_rx_packets_total", "Packets received on the port", l, p.rx)
            count("gbpd_port_rx_bytes_total", "Bytes received on the port", l, p.rxBytes)
            count("gbpd_port_tx_packets_total", "Packets transmitted on the port", l, p.tx)
            count("gbpd_port_dropped_packets_total", "Drops charged to the port: its ingress drops and tx refusals", l, p.dropped)
            count("gbpd_port_hw_rx_missed_total", "Packets the PMD missed or failed to receive (imissed + ierrors + rx_nombuf)", l, p.hwRxMissed)
        }
        for (reason, n) in s.drops {
            count("gbpd_drops_total", "Dropped packets by reason", [("reason", reason.name)], n)
        }
        for w in s.workers {
            let l = [("lcore", String(w.lcore))]
            count("gbpd_worker_rx_packets_total", "Packets received by the worker", l, w.rx)
            count("gbpd_worker_busy_cycles_total", "TSC cycles of the worker loop turns that received packets", l, w.busyCycles)
        }
        gauge("gbpd_policy_epoch", "Epoch of the policy in force (0: no policy)", Double(policyEpoch))
        gauge("gbpd_endpoints", "Endpoints in the config in force", Double(endpoints))
        gauge("gbpd_uptime_seconds", "Seconds since the workers started", s.runSeconds)
        if policyEpoch != 0 {
            gauge("gbpd_conntrack_entries", "Live connection-tracking entries, all workers", Double(s.conntrackEntries))
            let c = s.conntrack
            count("gbpd_conntrack_new_total", "Connections admitted into connection tracking", [], c.newFlows)
            count("gbpd_conntrack_hits_total", "Packets that matched a tracked connection", [], c.hits)
            count("gbpd_conntrack_fast_path_total", "Packets of established connections decided from their conntrack entry alone",
                  [], c.fastPath)
            count("gbpd_conntrack_denial_hits_total", "Packets of denied flows dropped from a remembered denial", [], c.denialHits)
            count("gbpd_conntrack_full_drops_total", "New connections dropped because the table was full", [], c.fullDrops)
            count("gbpd_conntrack_budget_drops_total", "New connections dropped because their tenant held its budget", [], c.budgetDrops)
            count("gbpd_conntrack_expired_total", "Connections expired", [], c.expired)
            count("gbpd_conntrack_rechecked_total", "Connections classified again after a policy change", [], c.rechecked)
            count("gbpd_conntrack_recheck_drops_total", "Connections dropped because a new policy denies them", [], c.recheckDrops)
            updateRules(s.rules, retired: retired)
        }
    }

    /// Adds to each rule's counters what it counted since the last reading, across snapshot swaps.
    private func updateRules(_ current: [DataplaneStats.RuleStats], retired: [DataplaneStats.RuleStats]) {
        for t in DataplaneStats.RuleStats.sinceStart(current: current, retired: retired) {
            let k = t.contract + "\u{0}" + t.rule
            let b = ruleLast[k] ?? DataplaneStats.RuleStats(contract: t.contract, rule: t.rule)
            let l = [("contract", t.contract), ("rule", t.rule)]
            increment("gbpd_rule_packets_total", "Packets a contract rule decided", l, t.packets &- min(b.packets, t.packets))
            increment("gbpd_rule_bytes_total", "Bytes of the packets a contract rule decided", l, t.bytes &- min(b.bytes, t.bytes))
            increment("gbpd_rule_allowed_total", "Packets a contract rule allowed", l, t.allowed &- min(b.allowed, t.allowed))
            increment("gbpd_rule_denied_total", "Packets a contract rule denied", l, t.denied &- min(b.denied, t.denied))
            ruleLast[k] = t
        }
    }

    /// The Prometheus text exposition of every metric, families in name order.
    func render() -> String { Self.sortedFamilies(registry.emitToString()) }

    /// The registry writes families (and the series of a family) in hash order; people
    /// reading the page find them easier sorted. Series of histograms keep their order
    /// (buckets by `le`).
    static func sortedFamilies(_ text: String) -> String {
        var order: [String] = []
        var headers: [String: [Substring]] = [:], series: [String: [Substring]] = [:]
        var histogram = Set<String>()
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count >= 3 else { continue }
                let name = String(parts[2])
                if headers[name] == nil && series[name] == nil { order.append(name) }
                headers[name, default: []].append(line)
                if parts[1] == "TYPE", parts.count == 4, parts[3] == "histogram" { histogram.insert(name) }
            } else {
                let metric = String(line.prefix { $0 != "{" && $0 != " " })
                var name = metric
                for suffix in ["_bucket", "_sum", "_count"] where metric.hasSuffix(suffix) {
                    let base = String(metric.dropLast(suffix.count))
                    if histogram.contains(base) { name = base }
                }
                if headers[name] == nil && series[name] == nil { order.append(name) }
                series[name, default: []].append(line)
            }
        }
        var out = ""
        for name in order.sorted() {
            for h in headers[name] ?? [] { out += h + "\n" }
            let lines = series[name] ?? []
            for l in histogram.contains(name) ? lines : lines.sorted() { out += l + "\n" }
        }
        return out
    }

    // MARK: Registry helpers

    /// The whole name in `metricName` (swift-prometheus joins the parts with '_').
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private func id(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "\u{0}" + $1.0 + "=" + $1.1 }
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> (counter: Prometheus.Counter, last: UInt64) {
        let k = id(name, labels)
        if let c = counters[k] { return c }
        let c = (registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels), UInt64(0))
        counters[k] = c
        return c
    }

    /// Sets a counter to the absolute `value` (adds what grew since the last reading).
    private func count(_ name: String, _ help: String, _ labels: [(String, String)], _ value: UInt64) {
        let k = id(name, labels)
        let c = counter(name, help, labels)
        let delta = value >= c.last ? value - c.last : value   // a reset: count from zero again
        if delta > 0 { c.counter.increment(by: Int64(clamping: delta)) }
        counters[k] = (c.counter, value)
    }

    private func increment(_ name: String, _ help: String, _ labels: [(String, String)], _ delta: UInt64) {
        let c = counter(name, help, labels)
        if delta > 0 { c.counter.increment(by: Int64(clamping: delta)) }
    }

    private func gauge(_ name: String, _ help: String, _ value: Double) {
        let g = gauges[name] ?? registry.makeGauge(descriptor: Self.descriptor(name, help), labels: [])
        gauges[name] = g
        g.set(to: value)
    }
}
