import GBPCore

/// Everything a worker reads to decide where a packet goes. Built whole on the
/// control thread and published to the workers by pointer; never changed after.
@frozen
public struct ForwardingState: @unchecked Sendable {
    /// Every endpoint's MAC -> its port slot, across tenants (plain L2 switching, and
    /// telling "another tenant's address" from "nobody's").
    public var l2: L2Table
    /// The ports of this snapshot: which rx queues each worker polls, and the port slots
    /// in use (flooding, tx drains). Ports added or removed at runtime arrive with a new
    /// snapshot, like a new policy.
    public var ports: PortSet
    /// The policy in force; nil makes gbpd a plain L2 switch.
    public let policy: PolicyTables?
    /// `policy != nil`, tested once per burst without copying the tables out.
    public let hasPolicy: Bool

    public init(l2: L2Table, ports: PortSet, policy: PolicyTables?) {
        self.l2 = l2; self.ports = ports; self.policy = policy; hasPolicy = policy != nil
    }

    public func deallocate() {
        l2.deallocate()
        ports.deallocate()
        policy?.deallocate()
    }
}

/// The ports of one snapshot, by slot. A port keeps its slot (its index in counters,
/// tx buffers and policy tables) from when it is added until it is removed.
@frozen
public struct PortSet: @unchecked Sendable {
    /// Per worker: the rx queues it polls.
    @usableFromInline let rx: UnsafeMutablePointer<UnsafeMutableBufferPointer<RxQueueRef>>
    /// The slots in use, in order.
    public let slots: UnsafeMutableBufferPointer<Int32>
    let workers: Int

    /// `ports` are (slot, port) pairs; worker w polls queue w of every port that has one.
    init(_ ports: [(slot: Int, port: Port)], workers: Int) {
        self.workers = workers
        rx = .allocate(capacity: workers)
        for w in 0..<workers {
            let refs = ports.compactMap { s, p in
                w < p.rxQueues ? RxQueueRef(portIndex: s, port: p.id.rawValue, queue: UInt16(w)) : nil
            }
            let b = UnsafeMutableBufferPointer<RxQueueRef>.allocate(capacity: refs.count)
            _ = b.initialize(from: refs)
            (rx + w).initialize(to: b)
        }
        slots = .allocate(capacity: ports.count)
        _ = slots.initialize(from: ports.map { Int32($0.slot) })
    }

    @inlinable @inline(__always)
    func rxQueues(worker w: Int) -> UnsafeMutableBufferPointer<RxQueueRef> { rx[w] }

    func deallocate() {
        for w in 0..<workers { rx[w].deallocate() }
        rx.deallocate()
        slots.deallocate()
    }
}
