/// Burst classification: the same verdicts as `classify`, in two passes over a burst so
/// that the endpoint-table reads of many packets are in flight at once (as DPDK's bulk
/// lookups do): the first pass reads the home slots of both addresses of every packet and
/// keeps what they say, the second finishes each packet from there. The first pass's reads
/// are real uses (their values go on), so they stay early. The rule lookups of consecutive
/// packets in the second pass are independent, so the CPU overlaps their misses too.

/// What stage 1 learnt from an address's home slot.
@frozen @usableFromInline
struct AddressPeek {
    /// 0: not found (empty home slot); 1: found; 2: keep probing.
    @usableFromInline var state: UInt8
    @usableFromInline var match: GroupMatch

    @inlinable init(state: UInt8, match: GroupMatch) { self.state = state; self.match = match }
}

/// Per-packet state between the two passes of a burst.
@frozen @usableFromInline
struct BurstSlot {
    @usableFromInline var src: GroupMatch
    @usableFromInline var dst: GroupMatch
    /// `AddressPeek.state` of the source (bits 0-7) and destination (bits 8-15).
    @usableFromInline var peeks: UInt32
}

extension EndpointTable {
    /// The answer of the home slot alone for an IPv4 address, for burst stage 1.
    @inlinable @inline(__always)
    func peek(tenant: UInt16, ip: IPAddress) -> AddressPeek {
        let slot: (endpoint: UInt32, group: UInt16, matches: Bool)
        if ip.isIPv4 {
            let p = v4Slots + (Int(truncatingIfNeeded: PolicyHash.v4(tenant: tenant, ip.v4)) & v4Mask)
            slot = (p.pointee.endpoint, p.pointee.group, p.pointee.ip == ip.v4 && p.pointee.tenant == tenant)
        } else {
            let p = v6Slots + (Int(truncatingIfNeeded: PolicyHash.v6(tenant: tenant, ip)) & v6Mask)
            slot = (p.pointee.endpoint, p.pointee.group, p.pointee.lo == ip.lo && p.pointee.hi == ip.hi && p.pointee.tenant == tenant)
        }
        if slot.endpoint == CompiledPolicy.noEndpoint { return AddressPeek(state: 0, match: GroupMatch(group: 0, endpoint: 0)) }
        if slot.matches { return AddressPeek(state: 1, match: GroupMatch(group: slot.group, endpoint: slot.endpoint)) }
        return AddressPeek(state: 2, match: GroupMatch(group: 0, endpoint: 0))
    }
}

extension CompiledPolicy {
    /// Largest burst handled in one pipeline pass (longer bursts are cut into such chunks).
    @inlinable public static var burstChunk: Int { 32 }

    /// Classifies `count` packets: `verdicts[i]` = `classify(tenant: tenants[i], fields: fields[i])`.
    @inlinable
    public func classify(burst count: Int, tenants: UnsafePointer<UInt16>, fields: UnsafePointer<PacketFields>,
                         verdicts: UnsafeMutablePointer<Verdict>) {
        withUnsafeTemporaryAllocation(of: BurstSlot.self, capacity: CompiledPolicy.burstChunk) { scratch in
            let st = scratch.baseAddress!
            var start = 0
            while start < count {
                let n = min(CompiledPolicy.burstChunk, count &- start)
                classifyChunk(n, tenants + start, fields + start, verdicts + start, st)
                start &+= n
            }
        }
    }

    @inlinable @inline(__always)
    func classifyChunk(_ n: Int, _ tenants: UnsafePointer<UInt16>, _ fields: UnsafePointer<PacketFields>,
                       _ out: UnsafeMutablePointer<Verdict>, _ st: UnsafeMutablePointer<BurstSlot>) {
        // 1. Home slots of both addresses of every IP packet (their misses overlap).
        for i in 0..<n {
            let f = fields + i
            if f.pointee.kind == .ipv4 || f.pointee.kind == .ipv6 {
                let ps = endpoints.peek(tenant: tenants[i], ip: f.pointee.src)
                let pd = endpoints.peek(tenant: tenants[i], ip: f.pointee.dst)
                st[i].src = ps.match
                st[i].dst = pd.match
                st[i].peeks = UInt32(ps.state) | UInt32(pd.state) << 8
            }
        }
        // 2. Each packet on to its verdict, starting from what its home slots said.
        for i in 0..<n {
            let f = fields + i
            guard f.pointee.kind == .ipv4 || f.pointee.kind == .ipv6 else {
                out[i] = classify(tenant: tenants[i], fields: f.pointee)
                continue
            }
            let t = tenants[i]
            let ps = UInt8(truncatingIfNeeded: st[i].peeks), pd = UInt8(truncatingIfNeeded: st[i].peeks >> 8)
            var src = st[i].src, dst = st[i].dst
            if ps != 1 {
                guard let m = ps == 2 ? resolve(tenant: t, ip: f.pointee.src) : resolveExternal(tenant: t, ip: f.pointee.src) else {
                    out[i] = .drop(.unknownSource); continue
                }
                src = m
            }
            if pd != 1 {
                guard let m = pd == 2 ? resolve(tenant: t, ip: f.pointee.dst) : resolveExternal(tenant: t, ip: f.pointee.dst) else {
                    out[i] = .drop(.unknownDestination, srcGroup: src.group); continue
                }
                dst = m
            }
            out[i] = decide(src: src, dst: dst, fields: f.pointee)
        }
    }

    /// External prefixes only (the address is known not to be an endpoint).
    @inlinable @inline(__always)
    func resolveExternal(tenant: UInt16, ip: IPAddress) -> GroupMatch? {
        guard let g = externals.lookup(tenant: tenant, ip: ip) else { return nil }
        return GroupMatch(group: g, endpoint: CompiledPolicy.noEndpoint)
    }
}
