/// Idle timeouts in seconds, per protocol and TCP state. A flow expires when it has seen
/// no packet for its current timeout.
public struct ConntrackTimeouts: Sendable, Equatable {
    /// SYN sent or SYN-ACK seen, handshake not complete.
    public var tcpHandshake: Double = 30
    public var tcpEstablished: Double = 86_400
    /// One side has sent FIN.
    public var tcpClosing: Double = 120
    /// Both sides have sent FIN.
    public var tcpTimeWait: Double = 30
    /// After a RST.
    public var tcpClosed: Double = 10
    public var udp: Double = 60
    public var sctp: Double = 60
    /// ICMP and ICMPv6 echo.
    public var icmp: Double = 30
    /// Other IP protocols.
    public var other: Double = 60

    public init() {}
}

/// What the flow table counts. Read with `FlowTable.counters`.
@frozen
public struct ConntrackCounters: Sendable, Equatable {
    /// Packets of a live, known connection (either direction).
    public var hits: UInt64 = 0
    /// Of those, packets the established fast path decided from the connection's entry
    /// alone (the endpoints of both ends remembered there), without the endpoint lookups.
    public var fastPath: UInt64 = 0
    /// Packets of flows the policy denies, dropped by the fast path from a remembered
    /// denial (`DenialCache`) rather than classified again.
    public var denialHits: UInt64 = 0
    /// Connections admitted.
    public var newFlows: UInt64 = 0
    /// New connections refused because the table was full (`conntrackFull`).
    public var fullDrops: UInt64 = 0
    /// New connections refused because their tenant held its budget (`conntrackTenantBudget`).
    public var budgetDrops: UInt64 = 0
    /// Entries found expired and removed or reused.
    public var expired: UInt64 = 0
    /// Packets that do not fit their connection's TCP state, or TCP without SYN and no state (`conntrackInvalid`).
    public var invalid: UInt64 = 0
    /// Connections classified again after a policy change.
    public var rechecked: UInt64 = 0
    /// Of those, removed because the new policy denies them.
    public var recheckDrops: UInt64 = 0
    /// Of those, kept although denied, by `onPolicyChange: keep`.
    public var kept: UInt64 = 0

    public init() {}
}
