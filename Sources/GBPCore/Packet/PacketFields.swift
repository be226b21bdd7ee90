/// What the parser extracts from one frame: the input of ingress checks,
/// the classifier and connection tracking. A plain value, filled in place.
@frozen
public struct PacketFields: Equatable, Sendable {
    @frozen
    public enum Kind: UInt8, Sendable {
        case other = 0      // an Ethernet frame carrying something else (forwarded at L2 only)
        case arp
        case ipv4
        case ipv6
    }

    public var kind: Kind = .other
    public var dstMAC: MACAddress = .zero
    public var srcMAC: MACAddress = .zero
    /// Outer and inner 802.1Q VLAN ids (0 when absent).
    public var outerVLAN: UInt16 = 0
    public var innerVLAN: UInt16 = 0
    /// The EtherType after any VLAN tags.
    public var etherType: UInt16 = 0
    /// Byte offsets of the L3 and L4 headers in the frame. `l3Offset` is set for
    /// every parsed frame (for `.other`, the end of the L2 header); `l4Offset` is 0
    /// when there is no L4 header (ARP, later fragments).
    public var l3Offset: UInt16 = 0
    public var l4Offset: UInt16 = 0

    public var src: IPAddress = .zero
    public var dst: IPAddress = .zero
    /// IP protocol number of the L4 header (6 TCP, 17 UDP, 132 SCTP, 1 ICMP, 58 ICMPv6).
    public var ipProto: UInt8 = 0
    /// TCP/UDP/SCTP ports; for ICMP echo, `srcPort` and `dstPort` both hold the identifier.
    public var srcPort: UInt16 = 0
    public var dstPort: UInt16 = 0
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10).
    public var tcpFlags: UInt8 = 0

    /// Fragment state: `isFragment` for any fragment; `isLaterFragment` when the
    /// offset is not zero (no L4 header); `fragmentID` from IPv4 or the IPv6 fragment header.
    public var isFragment: Bool = false
    public var isLaterFragment: Bool = false
    public var fragmentID: UInt32 = 0

    /// ARP: opcode, sender and target protocol addresses, sender hardware address.
    public var arpOpcode: UInt16 = 0
    public var arpSenderMAC: MACAddress = .zero
    /// IPv6 neighbour discovery: target address of a solicitation or advertisement.
    public var ndTarget: IPAddress = .zero

    @inlinable public init() {}

    /// The fields of a frame of the common shape (`PacketParser.peekCommonShape`).
    @inlinable @inline(__always)
    public init(_ c: CommonShape) {
        kind = .ipv4
        dstMAC = c.dstMAC
        srcMAC = c.srcMAC
        etherType = 0x0800
        l3Offset = 14
        l4Offset = 34
        src = IPAddress(v4: c.src)
        dst = IPAddress(v4: c.dst)
        ipProto = c.proto
        srcPort = c.srcPort
        dstPort = c.dstPort
        tcpFlags = c.tcpFlags
    }
}

/// What a frame of the common shape carries (untagged IPv4 without options or
/// fragmentation, TCP or UDP; see `PacketParser.peekCommonShape`): 32 bytes rather than
/// `PacketFields`' 120, for the established fast path.
@frozen
public struct CommonShape: Sendable {
    public var dstMAC: MACAddress
    public var srcMAC: MACAddress
    /// IPv4 addresses in host order.
    public var src: UInt32
    public var dst: UInt32
    public var srcPort: UInt16
    public var dstPort: UInt16
    public var proto: UInt8
    public var tcpFlags: UInt8

    @inlinable
    public init(dstMAC: MACAddress, srcMAC: MACAddress, src: UInt32, dst: UInt32, srcPort: UInt16, dstPort: UInt16,
                proto: UInt8, tcpFlags: UInt8) {
        self.dstMAC = dstMAC; self.srcMAC = srcMAC; self.src = src; self.dst = dst
        self.srcPort = srcPort; self.dstPort = dstPort; self.proto = proto; self.tcpFlags = tcpFlags
    }
}

/// A connection's identity within a tenant, as seen in one direction.
@frozen
public struct FlowKey: Hashable, Sendable {
    public var src: IPAddress
    public var dst: IPAddress
    public var srcPort: UInt16
    public var dstPort: UInt16
    public var proto: UInt8
    public var tenant: UInt16

    @inlinable
    public init(src: IPAddress, dst: IPAddress, srcPort: UInt16, dstPort: UInt16, proto: UInt8, tenant: UInt16) {
        self.src = src; self.dst = dst; self.srcPort = srcPort; self.dstPort = dstPort
        self.proto = proto; self.tenant = tenant
    }

    /// The same connection seen from the other side.
    @inlinable
    public var reversed: FlowKey {
        FlowKey(src: dst, dst: src, srcPort: dstPort, dstPort: srcPort, proto: proto, tenant: tenant)
    }
}
