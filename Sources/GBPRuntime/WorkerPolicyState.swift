import GBPCore

/// A worker's own policy state: its connection table and its fragment table.
/// Single-threaded, allocated before launch, kept across policy swaps (flows are
/// stamped with the epoch that admitted them).
public struct WorkerPolicyState {
    public var flows: FlowTable
    public var fragments: FragmentTable
    /// Verdict capture (nil: off), and whether allowed packets are captured too.
    public var capture: CaptureRing?
    public var captureAll = false

    public init(flowCapacity: Int, timeouts: ConntrackTimeouts, tscHz: UInt64) {
        flows = FlowTable(capacity: flowCapacity, ticksPerSecond: tscHz, timeouts: timeouts)
        fragments = FragmentTable(capacity: 4096, lifetime: tscHz * 2)
    }
}
