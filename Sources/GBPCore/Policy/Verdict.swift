/// Where a packet stands with connection tracking.
@frozen
public enum FlowState: UInt8, Sendable {
    /// Classified without connection tracking (`CompiledPolicy.classify`, or traffic
    /// the flow table does not track: non-IP frames, ICMP other than echo).
    case untracked = 0
    /// The first packet of a connection, just admitted.
    case new
    /// A later packet from the side that opened the connection.
    case established
    /// A packet from the other side.
    case reply
}

/// The answer for one packet: allowed or why not, and what decided.
@frozen
public struct Verdict: Sendable, Equatable {
    public var allowed: Bool
    /// Why the packet is dropped; nil when allowed.
    public var reason: DropReason?
    /// The deciding rule asked for logging.
    public var log: Bool
    public var flow: FlowState
    /// The deciding contract and rule, or `CompiledPolicy.noContract` / `CompiledRule.none`
    /// when a default decided (intra-group, no contract, unknown address, ...).
    public var contract: UInt16
    public var rule: UInt32
    /// Groups of the packet's source and destination (`CompiledPolicy.noGroup` when unknown).
    public var srcGroup: UInt16
    public var dstGroup: UInt16

    @inlinable
    public init(allowed: Bool, reason: DropReason?, log: Bool = false, flow: FlowState = .untracked,
                contract: UInt16 = 0xFFFF, rule: UInt32 = 0x3FFF_FFFF,
                srcGroup: UInt16 = 0xFFFF, dstGroup: UInt16 = 0xFFFF) {
        self.allowed = allowed; self.reason = reason; self.log = log; self.flow = flow
        self.contract = contract; self.rule = rule; self.srcGroup = srcGroup; self.dstGroup = dstGroup
    }

    /// A drop no rule decided.
    @inlinable
    public static func drop(_ reason: DropReason, srcGroup: UInt16 = 0xFFFF, dstGroup: UInt16 = 0xFFFF) -> Verdict {
        Verdict(allowed: false, reason: reason, srcGroup: srcGroup, dstGroup: dstGroup)
    }

    /// True when a contract rule (not a default) decided.
    @inlinable public var decidedByRule: Bool { rule != 0x3FFF_FFFF }
}
