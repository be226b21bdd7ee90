import GBPCore

/// A worker's own policy state: its connection table, its fragment table and its
/// per-rule counters. Single-threaded, allocated before launch.
public struct WorkerPolicyState {
    public var flows: FlowTable
    public var fragments: FragmentTable
    /// Per rule id: packets, bytes, allowed, denied (4 slots each).
    public var ruleCounters: UnsafeMutablePointer<UInt64>
    public var ruleCapacity: Int

    public init(flowCapacity: Int, timeouts: ConntrackTimeouts, ruleCapacity: Int, tscHz: UInt64) {
        flows = FlowTable(capacity: flowCapacity, ticksPerSecond: tscHz, timeouts: timeouts)
        fragments = FragmentTable(capacity: 4096, lifetime: tscHz * 2)
        self.ruleCapacity = max(ruleCapacity, 1)
        ruleCounters = .allocate(capacity: self.ruleCapacity * 4)
        ruleCounters.initialize(repeating: 0, count: self.ruleCapacity * 4)
    }

    @inlinable @inline(__always)
    func countRule(_ rule: UInt32, bytes: Int, allowed: Bool) {
        let r = Int(rule)
        guard r < ruleCapacity else { return }
        let p = ruleCounters + 4 * r
        p[0] &+= 1
        p[1] &+= UInt64(truncatingIfNeeded: bytes)
        p[allowed ? 2 : 3] &+= 1
    }

    public struct RuleCount: Sendable { public var packets, bytes, allowed, denied: UInt64 }
    public func ruleCount(_ r: Int) -> RuleCount {
        let p = ruleCounters + 4 * r
        return RuleCount(packets: p[0], bytes: p[1], allowed: p[2], denied: p[3])
    }
}
