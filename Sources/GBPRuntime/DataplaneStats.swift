import GBPCore

/// A reading of the dataplane's counters.
///
/// Accounting: every received packet is either forwarded or dropped for one reason.
/// A flooded packet is sent on several ports from one mbuf; the extra transmissions
/// are `floodCopies`, so `rx + floodCopies == tx + dropped` over all ports.
public struct DataplaneStats: Sendable {
    public struct PortStats: Sendable {
        public var name: String
        public var driver: String
        public var rx: UInt64 = 0
        public var rxBytes: UInt64 = 0
        public var tx: UInt64 = 0
        public var txRefused: UInt64 = 0
        /// Packets received on this port and dropped by the pipeline.
        public var ingressDrops: UInt64 = 0
        /// Packets the PMD missed or failed to receive (DPDK's imissed + ierrors + rx_nombuf).
        public var hwRxMissed: UInt64 = 0
        /// Drops charged to this port: pipeline drops of its ingress traffic and tx refusals.
        public var dropped: UInt64 { ingressDrops + txRefused }
    }

    public struct WorkerStats: Sendable {
        public var lcore: UInt32
        public var rx: UInt64
        public var bursts: UInt64
        public var busyCycles: UInt64
    }

    /// Per contract rule, summed over workers (only with a policy).
    public struct RuleStats: Sendable {
        public var contract: String
        public var rule: String
        public var packets: UInt64 = 0
        public var bytes: UInt64 = 0
        public var allowed: UInt64 = 0
        public var denied: UInt64 = 0

        public init(contract: String, rule: String, packets: UInt64 = 0, bytes: UInt64 = 0, allowed: UInt64 = 0, denied: UInt64 = 0) {
            self.contract = contract; self.rule = rule
            self.packets = packets; self.bytes = bytes; self.allowed = allowed; self.denied = denied
        }

        /// Adds `other`'s counts (the same rule in another snapshot).
        public mutating func add(_ other: RuleStats) {
            packets &+= other.packets; bytes &+= other.bytes; allowed &+= other.allowed; denied &+= other.denied
        }

        /// Each rule's counts since start: `retired` (the replaced snapshots', summed per rule)
        /// plus `current`, per (contract, rule) name, the current rules first in their order.
        public static func sinceStart(current: [RuleStats], retired: [RuleStats]) -> [RuleStats] {
            var index: [String: Int] = [:]
            var out: [RuleStats] = []
            for r in current + retired {
                let k = r.contract + "\u{0}" + r.rule
                if let i = index[k] { out[i].add(r) } else { index[k] = out.count; out.append(r) }
            }
            return out
        }
    }

    public var ports: [PortStats] = []
    /// The rules of the policy in force, and its epoch.
    public var rules: [RuleStats] = []
    public var policyEpoch: UInt32 = 0
    /// Connection tracking summed over workers: live entries and counters.
    public var conntrackEntries: Int = 0
    public var conntrack = ConntrackCounters()
    public var drops: [DropReason: UInt64] = [:]
    public var floodCopies: UInt64 = 0
    public var workers: [WorkerStats] = []
    public var runSeconds: Double = 0
    /// Verdict capture: packets written to the pcapng file, and packets that found a worker's ring full.
    public var captureWritten: UInt64 = 0
    public var captureLost: UInt64 = 0

    /// Ports removed at runtime: how many, and their counters summed.
    public var removedPorts: (count: Int, totals: PortStats)?

    public var rx: UInt64 { ports.reduce(removedPorts?.totals.rx ?? 0) { $0 + $1.rx } }
    public var tx: UInt64 { ports.reduce(removedPorts?.totals.tx ?? 0) { $0 + $1.tx } }
    public var dropped: UInt64 { drops.values.reduce(0, +) }
}

/// What one policy swap took: compiling off the data path, then publishing and
/// waiting until every worker uses the new snapshot.
public struct PolicySwap: Sendable {
    public var epoch: UInt32
    public var compileSeconds: Double
    public var publishSeconds: Double
    /// The endpoints were unchanged and their tables reused (`PolicyCompiler`).
    public var reusedEndpoints: Bool
    public var totalSeconds: Double { compileSeconds + publishSeconds }
}
