/// Flow entry states. 0 marks a free slot; the TCP states follow the connection's life.
@usableFromInline
enum FlowStateCode {
    @inlinable static var free: UInt8 { 0 }
    @inlinable static var udp: UInt8 { 1 }
    @inlinable static var sctp: UInt8 { 2 }
    @inlinable static var icmp: UInt8 { 3 }
    @inlinable static var otherIP: UInt8 { 4 }
    @inlinable static var tcpSynSent: UInt8 { 5 }
    @inlinable static var tcpSynReceived: UInt8 { 6 }
    @inlinable static var tcpEstablished: UInt8 { 7 }
    @inlinable static var tcpClosing: UInt8 { 8 }
    @inlinable static var tcpTimeWait: UInt8 { 9 }
    @inlinable static var tcpClosed: UInt8 { 10 }
    static let count = 11
}

/// Bits of `FlowEntry.flags`.
@usableFromInline
enum FlowFlag {
    /// The side that opened the connection is side A of the canonical key.
    @inlinable static var origIsA: UInt8 { 0x01 }
    @inlinable static var log: UInt8 { 0x02 }
    /// Admitted by a contract with `onPolicyChange: keep`.
    @inlinable static var keep: UInt8 { 0x04 }
    @inlinable static var finOrig: UInt8 { 0x08 }
    @inlinable static var finReply: UInt8 { 0x10 }
}

/// One connection, in one 64-byte slot (one cache line). The key is canonical: side A is
/// the smaller (address, port) of the two ends, so both directions find the same entry.
@frozen @usableFromInline
struct FlowEntry {
    @usableFromInline var aHi: UInt64
    @usableFromInline var aLo: UInt64
    @usableFromInline var bHi: UInt64
    @usableFromInline var bLo: UInt64
    @usableFromInline var aPort: UInt16
    @usableFromInline var bPort: UInt16
    @usableFromInline var tenant: UInt16
    @usableFromInline var proto: UInt8
    @usableFromInline var state: UInt8
    /// Time (caller's ticks) at which the entry expires unless a packet refreshes it.
    @usableFromInline var expires: UInt64
    /// Epoch of the policy the verdict below was taken under.
    @usableFromInline var epoch: UInt32
    @usableFromInline var rule: UInt32
    @usableFromInline var contract: UInt16
    /// Groups of the side that opened the connection and of the other side.
    @usableFromInline var origGroup: UInt16
    @usableFromInline var replyGroup: UInt16
    @usableFromInline var flags: UInt8
    @usableFromInline var _pad: UInt8 = 0

    @inlinable
    init(_ k: CanonicalFlowKey, state: UInt8, expires: UInt64, epoch: UInt32, rule: UInt32, contract: UInt16,
         origGroup: UInt16, replyGroup: UInt16, flags: UInt8) {
        aHi = k.aHi; aLo = k.aLo; bHi = k.bHi; bLo = k.bLo; aPort = k.aPort; bPort = k.bPort
        tenant = k.tenant; proto = k.proto; self.state = state; self.expires = expires; self.epoch = epoch
        self.rule = rule; self.contract = contract; self.origGroup = origGroup; self.replyGroup = replyGroup
        self.flags = flags
    }
}

/// A `FlowKey` in canonical order, with the packet's direction relative to it.
@frozen @usableFromInline
struct CanonicalFlowKey {
    @usableFromInline var aHi: UInt64
    @usableFromInline var aLo: UInt64
    @usableFromInline var bHi: UInt64
    @usableFromInline var bLo: UInt64
    @usableFromInline var aPort: UInt16
    @usableFromInline var bPort: UInt16
    @usableFromInline var tenant: UInt16
    @usableFromInline var proto: UInt8
    /// The packet's source is side A.
    @usableFromInline var srcIsA: Bool

    @inlinable @inline(__always)
    init(_ k: FlowKey) {
        let srcFirst = k.src.hi != k.dst.hi ? k.src.hi < k.dst.hi
            : k.src.lo != k.dst.lo ? k.src.lo < k.dst.lo : k.srcPort <= k.dstPort
        if srcFirst {
            aHi = k.src.hi; aLo = k.src.lo; bHi = k.dst.hi; bLo = k.dst.lo; aPort = k.srcPort; bPort = k.dstPort
        } else {
            aHi = k.dst.hi; aLo = k.dst.lo; bHi = k.src.hi; bLo = k.src.lo; aPort = k.dstPort; bPort = k.srcPort
        }
        tenant = k.tenant; proto = k.proto; srcIsA = srcFirst
    }

    @inlinable @inline(__always)
    var hash: UInt64 {
        CanonicalFlowKey.hash(aHi: aHi, aLo: aLo, bHi: bHi, bLo: bLo, aPort: aPort, bPort: bPort, proto: proto, tenant: tenant)
    }

    @inlinable @inline(__always)
    static func hash(aHi: UInt64, aLo: UInt64, bHi: UInt64, bLo: UInt64, aPort: UInt16, bPort: UInt16,
                     proto: UInt8, tenant: UInt16) -> UInt64 {
        // The ports go where an IPv4-mapped address has zeros, the protocol and tenant beside b.
        var h = PolicyHash.mix(aLo ^ (UInt64(aPort) << 48 | UInt64(bPort) << 32),
                               bLo ^ (UInt64(proto) << 56 | UInt64(tenant) << 40))
        if aHi | bHi != 0 { h = PolicyHash.mix(h ^ aHi, bHi) }
        return h
    }

    @inlinable @inline(__always)
    func matches(_ e: UnsafePointer<FlowEntry>) -> Bool {
        e.pointee.aLo == aLo && e.pointee.bLo == bLo && e.pointee.aHi == aHi && e.pointee.bHi == bHi
            && e.pointee.aPort == aPort && e.pointee.bPort == bPort
            && e.pointee.proto == proto && e.pointee.tenant == tenant
    }
}

extension FlowEntry {
    @inlinable @inline(__always)
    var hash: UInt64 {
        CanonicalFlowKey.hash(aHi: aHi, aLo: aLo, bHi: bHi, bLo: bLo, aPort: aPort, bPort: bPort, proto: proto, tenant: tenant)
    }
}

extension FlowKey {
    /// The key of a parsed IP packet in `tenant`. For ICMP echo the ports hold the identifier.
    @inlinable
    public init(tenant: UInt16, fields f: PacketFields) {
        self.init(src: f.src, dst: f.dst, srcPort: f.srcPort, dstPort: f.dstPort, proto: f.ipProto, tenant: tenant)
    }
}
