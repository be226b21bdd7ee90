/// What an address resolves to: a group, and the endpoint when it is one of ours
/// (`endpoint == CompiledPolicy.noEndpoint` for a member of an external group).
@frozen
public struct GroupMatch: Sendable, Equatable {
    public var group: UInt16
    public var endpoint: UInt32

    @inlinable
    public init(group: UInt16, endpoint: UInt32) { self.group = group; self.endpoint = endpoint }

    @inlinable public var isEndpoint: Bool { endpoint != CompiledPolicy.noEndpoint }

    /// No group, no endpoint: what an address outside every table resolves to.
    @inlinable public static var noMatch: GroupMatch { GroupMatch(group: CompiledPolicy.noGroup, endpoint: CompiledPolicy.noEndpoint) }
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

/// Endpoints by (tenant, IPv4), (tenant, IPv6) and (tenant, MAC), plus the endpoint
/// records. Immutable once built.
///
/// IPv4, the classifier's hot path, is a perfect hash (PerfectHash.swift) over 8-byte
/// entries `tenant << 48 | address << 16 | group` (all ones when empty), at a load of
/// 0.4 to 0.8: 10k endpoints take 128 KiB, and a lookup reads one entry, found or not,
/// after one read of a 2-byte displacement (8 KiB for 10k endpoints). The endpoint id of
/// each entry sits in a parallel array that only `lookup(tenant:ip:)` reads.
/// IPv6 and MAC are linear-probing tables at a load factor of at most 2/3.
@frozen
public struct EndpointTable: @unchecked Sendable {
    @usableFromInline let v4: PerfectHashShape
    @usableFromInline let v4Entries: UnsafeMutablePointer<UInt64>
    @usableFromInline let v4Endpoints: UnsafeMutablePointer<UInt32>
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
        let n6 = PolicyHash.slotCount(for: v6Count), nm = PolicyHash.slotCount(for: count)
        // IPv4 keys (tenant << 32 | address) with their group and endpoint.
        var v4Keys: [UInt64] = [], v4Values: [(group: UInt16, endpoint: UInt32)] = []
        v4Keys.reserveCapacity(v4Count)
        for (i, e) in endpoints.enumerated() {
            for ip in e.ips where ip.isIPv4 {
                v4Keys.append(UInt64(e.tenant) << 32 | UInt64(ip.v4))
                v4Values.append((e.group, UInt32(i)))
            }
        }
        let (shape, v4SlotOf) = PerfectHashShape.build(count: v4Keys.count) { seed in
            v4Keys.map { PolicyHash.v4(key: $0, seed: seed) }
        }
        v4 = shape
        v4Entries = .allocate(capacity: shape.slotCount)
        v4Entries.initialize(repeating: .max, count: shape.slotCount)
        v4Endpoints = .allocate(capacity: shape.slotCount)
        v4Endpoints.initialize(repeating: none, count: shape.slotCount)
        for (k, s) in zip(v4Keys.indices, v4SlotOf) {
            v4Entries[s] = v4Keys[k] << 16 | UInt64(v4Values[k].group)
            v4Endpoints[s] = v4Values[k].endpoint
        }
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
                if !ip.isIPv4 {
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

    private init(copying t: EndpointTable) {
        func dup<T>(_ p: UnsafeMutablePointer<T>, _ n: Int) -> UnsafeMutablePointer<T> {
            let q = UnsafeMutablePointer<T>.allocate(capacity: max(n, 1))
            q.initialize(from: p, count: n)
            return q
        }
        v4 = t.v4.copy()
        v4Entries = dup(t.v4Entries, t.v4.slotCount)
        v4Endpoints = dup(t.v4Endpoints, t.v4.slotCount)
        v6Slots = dup(t.v6Slots, t.v6Mask + 1)
        v6Mask = t.v6Mask
        macSlots = dup(t.macSlots, t.macMask + 1)
        macMask = t.macMask
        records = dup(t.records, t.count)
        count = t.count
    }

    /// An independent copy, for a snapshot that reuses the endpoints of the previous one
    /// (each snapshot frees its own tables).
    func copy() -> EndpointTable { EndpointTable(copying: self) }

    func deallocate() {
        v4.deallocate(); v4Entries.deallocate(); v4Endpoints.deallocate(); v6Slots.deallocate(); macSlots.deallocate(); records.deallocate()
    }

    /// The endpoint with address `ip` in `tenant`.
    @inlinable @inline(__always)
    public func lookup(tenant: UInt16, ip: IPAddress) -> GroupMatch? {
        if ip.isIPv4 {
            let k = UInt64(tenant) << 32 | UInt64(ip.v4)
            let s = v4.slot(PolicyHash.v4(key: k, seed: v4.seed))
            let g = EndpointTable.group(entry: v4Entries[s], key: k)
            if g == CompiledPolicy.noGroup { return nil }
            return GroupMatch(group: g, endpoint: v4Endpoints[s])
        }
        return lookupV6(tenant: tenant, ip: ip)
    }

    @inlinable @inline(__always)
    func lookupV6(tenant: UInt16, ip: IPAddress) -> GroupMatch? {
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

    /// The group of IPv4 entry `e` if it holds key `k`, else `noGroup` (an empty entry,
    /// all ones, yields `noGroup` even for the one key it could match).
    @inlinable @inline(__always)
    static func group(entry e: UInt64, key k: UInt64) -> UInt16 {
        e &>> 16 == k ? UInt16(truncatingIfNeeded: e) : CompiledPolicy.noGroup
    }

    /// The cache line `lookup(tenant:ip:)` reads for an IPv6 address, for burst prefetching.
    @inlinable @inline(__always)
    func v6FirstSlot(tenant: UInt16, ip: IPAddress) -> UnsafeRawPointer {
        UnsafeRawPointer(v6Slots + (Int(truncatingIfNeeded: PolicyHash.v6(tenant: tenant, ip)) & v6Mask))
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
