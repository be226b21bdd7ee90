/// What a rule matches at L3/L4 (or L2 for non-IP frames).
public enum RuleProtocol: Hashable, Sendable {
    /// Every frame, IP or not.
    case any
    case tcp
    case udp
    case sctp
    /// IP protocol 1 (matched on the protocol number, whatever the IP version).
    case icmp
    /// IP protocol 58.
    case icmpv6
    /// A non-IP frame with this EtherType (after VLAN tags). IPv4, IPv6 and VLAN
    /// EtherTypes are rejected: such frames are classified as IP or have their tags removed.
    case etherType(Int)

    /// The IP protocol number for tcp/udp/sctp/icmp/icmpv6.
    public var ipProtocolNumber: UInt8? {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .sctp: 132
        case .icmp: 1
        case .icmpv6: 58
        case .any, .etherType: nil
        }
    }

    /// True for the protocols that carry ports.
    public var hasPorts: Bool { self == .tcp || self == .udp || self == .sctp }
    public var isICMP: Bool { self == .icmp || self == .icmpv6 }
}

/// An inclusive destination port range. Ints so that a loader can pass what it read and
/// validation can say what is wrong with it.
public struct PortRange: Hashable, Sendable {
    public var first: Int
    public var last: Int
    public init(_ first: Int, _ last: Int) { self.first = first; self.last = last }
    public init(_ port: Int) { self.first = port; self.last = port }
}

/// Which way a rule lets connections be opened. The contract's consumers are clients of its
/// providers: a rule applies to packets from a consumer to a provider (`consumerToProvider`,
/// the default), from a provider to a consumer (`providerToConsumer`), or both.
/// Replies of an admitted connection always pass through connection tracking.
public enum RuleDirection: String, Sendable, Equatable {
    case consumerToProvider = "consumer-to-provider"
    case providerToConsumer = "provider-to-consumer"
    case both
}

public enum RuleAction: String, Sendable, Equatable {
    case allow
    case deny
}

/// One rule of a contract. Precedence between rules is documented in Classifier.swift.
public struct RuleSpec: Sendable, Hashable {
    /// Optional; shown by explain and stats (`contract/rules[i]` when empty).
    public var name: String
    public var proto: RuleProtocol
    /// Destination ports (tcp, udp, sctp only); empty means every port.
    public var ports: [PortRange]
    /// ICMP/ICMPv6 type and code; nil matches any. A code needs a type.
    public var icmpType: Int?
    public var icmpCode: Int?
    public var direction: RuleDirection
    public var action: RuleAction
    /// Ask the runtime to log packets this rule decides.
    public var log: Bool
    /// 0...65535; higher wins.
    public var priority: Int

    public init(
        name: String = "", proto: RuleProtocol, ports: [PortRange] = [], icmpType: Int? = nil,
        icmpCode: Int? = nil, direction: RuleDirection = .consumerToProvider,
        action: RuleAction = .allow, log: Bool = false, priority: Int = 0
    ) {
        self.name = name; self.proto = proto; self.ports = ports
        self.icmpType = icmpType; self.icmpCode = icmpCode; self.direction = direction
        self.action = action; self.log = log; self.priority = priority
    }
}
