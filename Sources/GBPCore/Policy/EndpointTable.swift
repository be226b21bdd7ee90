/// What an address resolves to: a group, and the endpoint when it is one of ours
/// (`endpoint == CompiledPolicy.noEndpoint` for a member of an external group).
@frozen
public struct GroupMatch: Sendable, Equatable {
    public var group: UInt16
    public var endpoint: UInt32

    @inlinable
    public init(group: UInt16, endpoint: UInt32) { self.group = group; self.endpoint = endpoint }

    @inlinable public var isEndpoint: Bool { endpoint != CompiledPolicy.noEndpoint }
}

/// Per endpoint, for forwarding and anti-spoofing.
@frozen
public struct EndpointRecord: Sendable {
    public var mac: MACAddress
    public var tenant: UInt16
    public var group: UInt16
    /// Index into `PolicyNames.ports` (distinct port names in first-seen order).
    public var port: UInt32
}

/// Open-addressing slot keyed by (tenant, IPv4 address): 16 bytes, four to a cache line.
/// Empty when `endpoint == noEndpoint`.
@frozen @usableFromInline
struct EndpointV4Slot {
    @usableFromInline var ip: UInt32
    @usableFromInline var tenant: UInt16
    @usableFromInline var group: UInt16
    @usableFromInline var endpoint: UInt32
    @usableFromInline var _pad: UInt32 = 0
}

/// Open-addressing slot keyed by (tenant, IPv6 address).
@frozen @usableFromInline
struct EndpointV6Slot {
    @usableFromInline var hi: UInt64
    @usableFromInline var lo: UInt64
    @usableFromInline var tenant: UInt16
    @usableFromInline var group: UInt16
    @usableFromInline var endpoint: UInt32
    @usableFromInline var _pad: UInt64 = 0  // 32-byte slots never straddle a cache line
}

/// Open-addressing slot keyed by (tenant, MAC).
@frozen @usableFromInline
struct EndpointMACSlot {
    @usableFromInline var mac: UInt64
    @usableFromInline var tenant: UInt16
    @usableFromInline var group: UInt16
    @usableFromInline var endpoint: UInt32
}

/// Endpoints by (tenant, IPv4), (tenant, IPv6) and (tenant, MAC): three linear-probing
/// hash tables at a load factor of at most 2/3, plus the endpoint records. The IPv4 table
/// has 16-byte slots so that 10k endpoints fit in 256 KiB. Immutable once built.
@frozen
public struct EndpointTable: @unchecked Sendable {
    @usableFromInline let v4Slots: UnsafeMutablePointer<EndpointV4Slot>
    @usableFromInline let v4Mask: Int
    @usableFromInline let v6Slots: UnsafeMutablePointer<EndpointV6Slot>
    @usableFromInline let v6Mask: Int
    @usableFromInline let macSlots: UnsafeMutablePointer<EndpointMACSlot>
    @usableFromInline let macMask: Int
    @usableFromInline let records: UnsafeMutablePointer<EndpointRecord>
    public let count: Int

    init(_ endpoints: [ResolvedPolicy.Endpoint]) {
        count = endpoints.count
        records = .allocate(capacity: max(count, 1))
        let none = CompiledPolicy.noEndpoint
        let v4Count = endpoints.reduce(0) { $0 + $1.ips.filter(\.isIPv4).count }
        let v6Count = endpoints.reduce(0) { $0 + $1.ips.filter { !$0.isIPv4 }.count }
        let n4 = PolicyHash.slotCount(for: v4Count), n6 = PolicyHash.slotCount(for: v6Count), nm = PolicyHash.slotCount(for: count)
        v4Slots = .allocate(capacity: n4)
        v4Slots.initialize(repeating: EndpointV4Slot(ip: 0, tenant: 0, group: 0, endpoint: none), count: n4)
        v4Mask = n4 - 1
        v6Slots = .allocate(capacity: n6)
        v6Slots.initialize(repeating: EndpointV6Slot(hi: 0, lo: 0, tenant: 0, group: 0, endpoint: none), count: n6)
        v6Mask = n6 - 1
        macSlots = .allocate(capacity: nm)
        macSlots.initialize(repeating: EndpointMACSlot(mac: 0, tenant: 0, group: 0, endpoint: none), count: nm)
        macMask = nm - 1
        for (i, e) in endpoints.enumerated() {
            let id = UInt32(i)
            (records + i).initialize(to: EndpointRecord(mac: e.mac, tenant: e.tenant, group: e.group, port: e.port))
            for ip in e.ips {
                if ip.isIPv4 {
                    var s = Int(truncatingIfNeeded: PolicyHash.v4(tenant: e.tenant, ip.v4)) & v4Mask
                    while v4Slots[s].endpoint != none { s = (s + 1) & v4Mask }
                    v4Slots[s] = EndpointV4Slot(ip: ip.v4, tenant: e.tenant, group: e.group, endpoint: id)
                } else {
                    var s = Int(truncatingIfNeeded: PolicyHash.v6(tenant: e.tenant, ip)) & v6Mask
                    while v6Slots[s].endpoint != none { s = (s + 1) & v6Mask }
                    v6Slots[s] = EndpointV6Slot(hi: ip.hi, lo: ip.lo, tenant: e.tenant, group: e.group, endpoint: id)
                }
            }
            var s = Int(truncatingIfNeeded: PolicyHash.mac(tenant: e.tenant, e.mac)) & macMask
            while macSlots[s].endpoint != none { s = (s + 1) & macMask }
            macSlots[s] = EndpointMACSlot(mac: e.mac.raw, tenant: e.tenant, group: e.group, endpoint: id)
        }
    }

    func deallocate() {
        v4Slots.deallocate(); v6Slots.deallocate(); macSlots.deallocate(); records.deallocate()
    }

    /// The endpoint with address `ip` in `tenant`.
    @inlinable @inline(__always)
    public func lookup(tenant: UInt16, ip: IPAddress) -> GroupMatch? {
        if ip.isIPv4 {
            let a = ip.v4
            var s = Int(truncatingIfNeeded: PolicyHash.v4(tenant: tenant, a)) & v4Mask
            while true {
                let slot = v4Slots + s
                if slot.pointee.endpoint == CompiledPolicy.noEndpoint { return nil }
                if slot.pointee.ip == a && slot.pointee.tenant == tenant {
                    return GroupMatch(group: slot.pointee.group, endpoint: slot.pointee.endpoint)
                }
                s = (s + 1) & v4Mask
            }
        }
        var s = Int(truncatingIfNeeded: PolicyHash.v6(tenant: tenant, ip)) & v6Mask
        while true {
            let slot = v6Slots + s
            if slot.pointee.endpoint == CompiledPolicy.noEndpoint { return nil }
            if slot.pointee.lo == ip.lo && slot.pointee.hi == ip.hi && slot.pointee.tenant == tenant {
                return GroupMatch(group: slot.pointee.group, endpoint: slot.pointee.endpoint)
            }
            s = (s + 1) & v6Mask
        }
    }

    /// The cache line `lookup(tenant:ip:)` reads first, for burst prefetching.
    @inlinable @inline(__always)
    func firstSlot(tenant: UInt16, ip: IPAddress) -> UnsafeRawPointer {
        if ip.isIPv4 {
            return UnsafeRawPointer(v4Slots + (Int(truncatingIfNeeded: PolicyHash.v4(tenant: tenant, ip.v4)) & v4Mask))
        }
        return UnsafeRawPointer(v6Slots + (Int(truncatingIfNeeded: PolicyHash.v6(tenant: tenant, ip)) & v6Mask))
    }

    /// The endpoint with MAC `mac` in `tenant`.
    @inlinable @inline(__always)
    public func lookup(tenant: UInt16, mac: MACAddress) -> GroupMatch? {
        var s = Int(truncatingIfNeeded: PolicyHash.mac(tenant: tenant, mac)) & macMask
        while true {
            let slot = macSlots + s
            if slot.pointee.endpoint == CompiledPolicy.noEndpoint { return nil }
            if slot.pointee.mac == mac.raw && slot.pointee.tenant == tenant {
                return GroupMatch(group: slot.pointee.group, endpoint: slot.pointee.endpoint)
            }
            s = (s + 1) & macMask
        }
    }

    /// MAC, tenant, group and port of endpoint `id` (< count).
    @inlinable @inline(__always)
    public func record(_ id: UInt32) -> EndpointRecord { records[Int(id)] }
}
