import GBPCore

/// One worker's counters: a flat block of `UInt64`s written only by that worker
/// (and by DPDK's tx-buffer callback on that worker's lcore), read racily by the
/// control thread. 64-bit aligned loads and stores do not tear on x86-64 and arm64.
@frozen
public struct WorkerCounters: @unchecked Sendable {
    public static let maxPorts = 64
    // Layout of the block, in UInt64 slots.
    @usableFromInline static let rxBase = 0
    @usableFromInline static let txQueuedBase = maxPorts
    @usableFromInline static let txRefusedBase = 2 * maxPorts
    @usableFromInline static let ingressDropBase = 3 * maxPorts
    @usableFromInline static let rxBytesBase = 4 * maxPorts
    @usableFromInline static let dropBase = 5 * maxPorts
    @usableFromInline static let floodCopiesSlot = dropBase + DropReason.counterSlots
    @usableFromInline static let burstsSlot = floodCopiesSlot + 1
    @usableFromInline static let busyCyclesSlot = burstsSlot + 1
    static let slotCount = busyCyclesSlot + 1

    public let base: UnsafeMutablePointer<UInt64>

    public init() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Self.slotCount * 8, alignment: 64)
        base = raw.bindMemory(to: UInt64.self, capacity: Self.slotCount)
        base.initialize(repeating: 0, count: Self.slotCount)
    }

    public func deallocate() { base.deallocate() }

    // MARK: Writes (worker only)
    @inlinable @inline(__always) public func countRx(port: Int, packets: Int, bytes: Int) {
        base[Self.rxBase + port] &+= UInt64(truncatingIfNeeded: packets)
        base[Self.rxBytesBase + port] &+= UInt64(truncatingIfNeeded: bytes)
    }
    @inlinable @inline(__always) public func countTxQueued(port: Int, packets: Int) {
        base[Self.txQueuedBase + port] &+= UInt64(truncatingIfNeeded: packets)
    }
    @inlinable @inline(__always) public func countTxRefused(port: Int, packets: Int) {
        base[Self.txRefusedBase + port] &+= UInt64(truncatingIfNeeded: packets)
    }
    @inlinable @inline(__always) public func countDrop(_ reason: DropReason, ingress port: Int) {
        base[Self.dropBase + Int(reason.rawValue)] &+= 1
        base[Self.ingressDropBase + port] &+= 1
    }
    @inlinable @inline(__always) public func countFloodCopies(_ n: Int) { base[Self.floodCopiesSlot] &+= UInt64(n) }
    @inlinable @inline(__always) public func countBurst() { base[Self.burstsSlot] &+= 1 }
    @inlinable @inline(__always) public func countBusy(cycles: UInt64) { base[Self.busyCyclesSlot] &+= cycles }
    /// Zeroes port slot `port`'s counters (control thread, once no worker uses the slot).
    public func resetPort(_ port: Int) {
        for base in [Self.rxBase, Self.txQueuedBase, Self.txRefusedBase, Self.ingressDropBase, Self.rxBytesBase] { self.base[base + port] = 0 }
    }
    /// Where DPDK's tx-buffer callback adds the packets a port refused.
    public func txRefusedSlot(port: Int) -> UnsafeMutablePointer<UInt64> { base + Self.txRefusedBase + port }

    // MARK: Reads (control thread)
    public func rx(port: Int) -> UInt64 { base[Self.rxBase + port] }
    public func rxBytes(port: Int) -> UInt64 { base[Self.rxBytesBase + port] }
    /// Packets the port accepted for transmission.
    public func tx(port: Int) -> UInt64 { base[Self.txQueuedBase + port] &- base[Self.txRefusedBase + port] }
    public func txRefused(port: Int) -> UInt64 { base[Self.txRefusedBase + port] }
    public func ingressDrops(port: Int) -> UInt64 { base[Self.ingressDropBase + port] }
    public func drops(_ reason: DropReason) -> UInt64 { base[Self.dropBase + Int(reason.rawValue)] }
    public var floodCopies: UInt64 { base[Self.floodCopiesSlot] }
    public var bursts: UInt64 { base[Self.burstsSlot] }
    public var busyCycles: UInt64 { base[Self.busyCyclesSlot] }
}
