import GBPCore

/// Everything a worker reads to decide where a packet goes. Built whole on the
/// control thread and published to the workers by pointer; never changed after.
@frozen
public struct ForwardingState: @unchecked Sendable {
    /// Every endpoint's MAC -> its port, across tenants (plain L2 switching, and
    /// telling "another tenant's address" from "nobody's").
    public var l2: L2Table
    public var portCount: Int
    /// The policy in force; nil makes gbpd a plain L2 switch.
    public var policy: PolicyTables?

    public init(l2: L2Table, portCount: Int, policy: PolicyTables?) {
        self.l2 = l2; self.portCount = portCount; self.policy = policy
    }

    public func deallocate() {
        l2.deallocate()
        policy?.deallocate()
    }
}
