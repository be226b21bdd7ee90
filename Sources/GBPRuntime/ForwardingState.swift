import GBPCore

/// Everything a worker reads to decide where a packet goes. Built whole on the
/// control thread and published to the workers by pointer; never changed after.
/// (The compiled policy joins it here.)
@frozen
public struct ForwardingState: @unchecked Sendable {
    public var l2: L2Table
    public var portCount: Int

    public init(l2: L2Table, portCount: Int) { self.l2 = l2; self.portCount = portCount }

    public func deallocate() { l2.deallocate() }
}
