import CDPDK
import GBPCore

/// An rx queue a worker polls.
@frozen
public struct RxQueueRef {
    public var portIndex: Int
    public var port: UInt16
    public var queue: UInt16
}

/// Where a worker sends packets for one port: its own tx queue and tx buffer.
@frozen
public struct TxPortRef {
    public var port: UInt16
    public var queue: UInt16
    public var buffer: UnsafeMutablePointer<rte_eth_dev_tx_buffer>
}

/// Per-worker state, allocated by the control thread before launch and owned by
/// the worker's lcore afterwards. Nothing in it is shared with other workers
/// except the published `ForwardingState` (read-only).
public struct WorkerContext {
    public var index: Int
    public var lcore: LcoreID
    /// Per port slot (`WorkerCounters.maxPorts` of them): this worker's tx queue and
    /// tx buffer. A slot's entry is set before a snapshot using it is published.
    public var tx: UnsafeMutableBufferPointer<TxPortRef>
    public var counters: WorkerCounters
    /// The slot through which the control thread publishes `ForwardingState`.
    public var stateSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// The QSBR variable this worker reports its quiescent states to.
    public var rcu: OpaquePointer
    /// TSC cycles between tx-buffer drains (DPDK's l2fwd uses 100 µs).
    public var drainCycles: UInt64
    /// Connection tracking, fragments and rule counters (used when a policy is in force).
    public var policy: WorkerPolicyState
    /// The rx burst array, allocated here so the worker allocates nothing.
    public var burst: UnsafeMutablePointer<OpaquePointer?>
    /// What the pipeline decided for each packet of the burst (see `Outcome`).
    public var outcomes: UnsafeMutablePointer<Int32>
    /// Set by the worker once it has left its loop and flushed its buffers.
    public var finished: Bool = false
}
