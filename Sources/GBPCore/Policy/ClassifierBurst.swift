/// Burst classification: the same verdicts as `classify`, in three passes over up to 32
/// packets so that the memory reads of all packets are in flight at once, the way DPDK's
/// bulk lookups work:
///
/// 1. hash both IPv4 addresses of every packet and prefetch their endpoint entries;
/// 2. read those entries (groups), and hash and prefetch every packet's pair line;
/// 3. decide every packet from its pair line (and for a pair in split format, its
///    decision, from a small array), or for a pair in an extended line (RuleLines.swift),
///    prefetch that and
/// 4. decide those packets.
///
/// The prefetches are real `prefetcht0` instructions (Prefetch.swift): each pass issues
/// the reads of the next for the whole burst before any of them is waited on. IPv6 and
/// non-IP frames, and addresses that are no endpoint (external prefixes), take the
/// one-packet path in pass 2.

/// Per-packet state between the passes of a burst.
@frozen @usableFromInline
struct BurstSlot {
    /// Pass 1 -> 2: the IPv4 endpoint entries of the source and the destination.
    @usableFromInline var srcEntry: UnsafePointer<UInt64>
    @usableFromInline var dstEntry: UnsafePointer<UInt64>
    /// Pass 2 -> 3: the pair's line and key.
    @usableFromInline var line: UnsafeRawPointer
    @usableFromInline var pairKey: UInt32
    /// 0: on the fast path; 1: IPv6 or non-IP (one-packet path); 2: verdict written;
    /// 3: decided in pass 4 (`line` is then the extended line).
    @usableFromInline var mode: UInt8
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
        // The tables in locals: stores to `st` and `out` could otherwise alias them.
        let v4 = endpoints.v4, v4Entries = endpoints.v4Entries
        let pairShape = lines.shape, pairLines = lines.lines
        // 1. Endpoint entries of both IPv4 addresses of every packet.
        for i in 0..<n {
            let f = fields + i
            let s = f.pointee.src, d = f.pointee.dst
            // An IP packet with two IPv4 addresses (::ffff:a.b.c.d), in one test.
            let notV4 = (UInt64(f.pointee.kind.rawValue & 0xFE) ^ 2) | s.hi | d.hi
                | ((s.lo &>> 32) ^ 0xFFFF) | ((d.lo &>> 32) ^ 0xFFFF)
            if notV4 == 0 {
                let t = UInt64(tenants[i]) << 32
                let es = v4Entries + v4.slot(PolicyHash.v4(key: t | UInt64(s.v4), seed: v4.seed))
                let ed = v4Entries + v4.slot(PolicyHash.v4(key: t | UInt64(d.v4), seed: v4.seed))
                prefetch(es)
                prefetch(ed)
                st[i].srcEntry = UnsafePointer(es)
                st[i].dstEntry = UnsafePointer(ed)
                st[i].mode = 0
            } else {
                st[i].mode = 1
            }
        }
        // 2. Groups; the pair line of every packet.
        for i in 0..<n {
            let f = fields + i
            if st[i].mode != 0 {
                out[i] = classifyOnePacket(tenant: tenants[i], fields: f)
                continue
            }
            let t = UInt64(tenants[i]) << 32
            var gs = EndpointTable.group(entry: st[i].srcEntry.pointee, key: t | UInt64(f.pointee.src.v4))
            var gd = EndpointTable.group(entry: st[i].dstEntry.pointee, key: t | UInt64(f.pointee.dst.v4))
            if gs == CompiledPolicy.noGroup || gd == CompiledPolicy.noGroup {
                // Not endpoints: external prefixes, or unknown.
                guard let m = resolvePartly(tenant: tenants[i], fields: f, srcGroup: gs, dstGroup: gd, out: out + i) else {
                    st[i].mode = 2
                    continue
                }
                gs = m.src; gd = m.dst
            }
            let k = UInt32(gs) << 16 | UInt32(gd)
            let line = UnsafeRawPointer(pairLines + pairShape.slot(PolicyHash.pair(k, seed: pairShape.seed)) &* RuleLineTable.lineBytes)
            prefetch(line)
            prefetch(line + 64)
            st[i].line = line
            st[i].pairKey = k
        }
        // 3. Decisions.
        var deferred = 0
        for i in 0..<n where st[i].mode == 0 {
            let k = st[i].pairKey
            let line = st[i].line
            let head = line.load(as: UInt64.self)
            let (cls, key) = lines.classAndKey(fields + i)
            let d: RuleDecision
            if UInt32(truncatingIfNeeded: head) != k {
                d = .noDecision
            } else if UInt8(truncatingIfNeeded: head &>> 32) == RuleLineTable.formatInline {
                d = RuleLineTable.decideInline(line, cls: cls, key: key)
            } else if UInt8(truncatingIfNeeded: head &>> 32) == RuleLineTable.formatSplit {
                // The split decisions are few (8 bytes per rule of such pairs): read at once.
                let at = RuleLineTable.splitDecision(line, cls: cls, key: key, split: lines.splitDecisions)
                d = at.map { RuleDecision(bits: $0.pointee) } ?? .noDecision
            } else if UInt8(truncatingIfNeeded: head &>> 32) == RuleLineTable.formatExtended {
                let ext = lines.extendedLine(line)
                for l in 0..<Int(line.load(fromByteOffset: 12, as: UInt8.self)) { prefetch(ext + l &* 64) }
                st[i].line = ext
                st[i].mode = 3
                deferred &+= 1
                continue
            } else {
                d = RuleLineTable.decideOutOfLine(line, cls: cls, key: key, blocks: pairs, extended: lines.extended,
                                                  split: lines.splitDecisions)
            }
            out[i] = verdict(d, srcGroup: UInt16(truncatingIfNeeded: k &>> 16), dstGroup: UInt16(truncatingIfNeeded: k))
        }
        // 4. Pairs in extended lines.
        if deferred != 0 {
            for i in 0..<n where st[i].mode == 3 {
                let k = st[i].pairKey
                let (cls, key) = lines.classAndKey(fields + i)
                let d = RuleLineTable.decideExtended(st[i].line, cls: cls, key: key)
                out[i] = verdict(d, srcGroup: UInt16(truncatingIfNeeded: k &>> 16), dstGroup: UInt16(truncatingIfNeeded: k))
            }
        }
    }

    /// The one-packet path, out of line (IPv6 and non-IP frames in a burst).
    @inlinable @inline(never)
    func classifyOnePacket(tenant: UInt16, fields: UnsafePointer<PacketFields>) -> Verdict {
        classify(tenant: tenant, fields: fields.pointee)
    }

    /// Finishes resolving an IPv4 packet one of whose addresses is no endpoint (group
    /// `noGroup` from the endpoint table): external prefixes, then the drops of steps 1-3.
    /// Returns the groups, or nil after writing the verdict to `out`.
    @inlinable @inline(never)
    func resolvePartly(tenant: UInt16, fields f: UnsafePointer<PacketFields>, srcGroup: UInt16, dstGroup: UInt16,
                       out: UnsafeMutablePointer<Verdict>) -> (src: UInt16, dst: UInt16)? {
        var s = srcGroup, d = dstGroup
        if s == CompiledPolicy.noGroup {
            guard let g = externals.lookup(tenant: tenant, ip: f.pointee.src) else {
                out.pointee = .drop(.unknownSource)
                return nil
            }
            s = g
        }
        if d == CompiledPolicy.noGroup {
            guard let g = externals.lookup(tenant: tenant, ip: f.pointee.dst) else {
                out.pointee = .drop(.unknownDestination, srcGroup: s)
                return nil
            }
            d = g
        }
        if srcGroup == CompiledPolicy.noGroup && dstGroup == CompiledPolicy.noGroup {
            out.pointee = .drop(.externalDenied, srcGroup: s, dstGroup: d)
            return nil
        }
        return (s, d)
    }
}
