/// External groups by longest prefix match, IPv4 and IPv6 alike (IPv4 lives in the
/// IPv4-mapped part of the 128-bit space).
///
/// Membership: an address belongs to external group G when it is inside one of G's cidrs
/// and inside none of G's excepts. When several groups of a tenant contain it, the group
/// whose containing cidr is longest wins (two groups cannot share a cidr: validation).
///
/// The compiler flattens each tenant's prefixes into a partition of the address space:
/// sorted range starts, each with the group of its range (or none). A lookup is one
/// binary search; its cost grows with log(prefixes), not with their lengths.
@frozen
public struct ExternalPrefixTable: @unchecked Sendable {
    @frozen @usableFromInline
    struct Span { @usableFromInline var offset: UInt32; @usableFromInline var count: UInt32 }

    @usableFromInline let spans: UnsafeMutablePointer<Span>
    @usableFromInline let starts: UnsafeMutablePointer<IPAddress>
    @usableFromInline let groups: UnsafeMutablePointer<UInt16>
    @usableFromInline let tenantCount: Int
    /// Ranges in all tenants (for stats and tests).
    public let rangeCount: Int

    init(tenantCount: Int, externals: [ResolvedPolicy.External]) {
        var perTenant = [[ResolvedPolicy.External]](repeating: [], count: tenantCount)
        for e in externals { perTenant[Int(e.tenant)].append(e) }
        var allStarts: [IPAddress] = []
        var allGroups: [UInt16] = []
        var spanList: [Span] = []
        for list in perTenant {
            let part = list.isEmpty ? [] : Self.partition(list)
            spanList.append(Span(offset: UInt32(allStarts.count), count: UInt32(part.count)))
            for (s, g) in part { allStarts.append(s); allGroups.append(g) }
        }
        self.tenantCount = tenantCount
        rangeCount = allStarts.count
        spans = .allocate(capacity: max(tenantCount, 1))
        spans.initialize(from: spanList, count: spanList.count)
        starts = .allocate(capacity: max(allStarts.count, 1))
        starts.initialize(from: allStarts, count: allStarts.count)
        groups = .allocate(capacity: max(allGroups.count, 1))
        groups.initialize(from: allGroups, count: allGroups.count)
    }

    private init(copying t: ExternalPrefixTable) {
        tenantCount = t.tenantCount
        rangeCount = t.rangeCount
        spans = .allocate(capacity: max(tenantCount, 1))
        spans.initialize(from: t.spans, count: tenantCount)
        starts = .allocate(capacity: max(rangeCount, 1))
        starts.initialize(from: t.starts, count: rangeCount)
        groups = .allocate(capacity: max(rangeCount, 1))
        groups.initialize(from: t.groups, count: rangeCount)
    }

    /// An independent copy (see `EndpointTable.copy`).
    func copy() -> ExternalPrefixTable { ExternalPrefixTable(copying: self) }

    func deallocate() {
        spans.deallocate(); starts.deallocate(); groups.deallocate()
    }

    /// The external group containing `ip` in `tenant`, if any.
    @inlinable @inline(__always)
    public func lookup(tenant: UInt16, ip: IPAddress) -> UInt16? {
        guard Int(tenant) < tenantCount else { return nil }
        let span = spans[Int(tenant)]
        if span.count == 0 { return nil }
        // Last start <= ip; the first start of a tenant is always ::, so one exists.
        var base = Int(span.offset)
        var len = Int(span.count)
        while len > 1 {
            let half = len >> 1
            let s = starts[base + half]
            if s.hi < ip.hi || (s.hi == ip.hi && s.lo <= ip.lo) { base += half }
            len -= half
        }
        let g = groups[base]
        return g == CompiledPolicy.noGroup ? nil : g
    }

    // MARK: Building

    private struct Entry { var group: UInt16; var include: Bool }

    /// The partition of one tenant's address space: (range start, group or noGroup),
    /// starting at :: and with no two neighbours of the same group.
    private static func partition(_ externals: [ResolvedPolicy.External]) -> [(IPAddress, UInt16)] {
        var entries: [IPPrefix: [Entry]] = [:]
        var lengths = Set<Int>()
        for e in externals {
            for p in e.cidrs { entries[p, default: []].append(Entry(group: e.group, include: true)); lengths.insert(p.length) }
            for p in e.except { entries[p, default: []].append(Entry(group: e.group, include: false)); lengths.insert(p.length) }
        }
        let sortedLengths = lengths.sorted()
        // Every address of prefix p that no longer prefix covers has the same answer:
        // the one computed from p and its ancestors.
        func value(of p: IPPrefix) -> UInt16 {
            var best: [UInt16: Int] = [:]
            var excluded = Set<UInt16>()
            for len in sortedLengths where len <= p.length {
                guard let list = entries[IPPrefix(address: p.address, length: len)] else { continue }
                for e in list {
                    if e.include { best[e.group] = max(best[e.group] ?? -1, len) } else { excluded.insert(e.group) }
                }
            }
            var winner = CompiledPolicy.noGroup, winnerLen = -1
            for (g, len) in best where !excluded.contains(g) {
                if len > winnerLen || (len == winnerLen && g < winner) { winner = g; winnerLen = len }
            }
            return winner
        }
        let prefixes = entries.keys.sorted {
            $0.address != $1.address ? $0.address < $1.address : $0.length < $1.length
        }
        var out: [(IPAddress, UInt16)] = [(.zero, CompiledPolicy.noGroup)]
        func emit(_ start: IPAddress, _ g: UInt16) {
            if out[out.count - 1].0 == start { out[out.count - 1].1 = g } else { out.append((start, g)) }
        }
        var stack: [(last: IPAddress, group: UInt16)] = []
        func pop() {
            let top = stack.removeLast()
            if let n = successor(top.last) { emit(n, stack.last?.group ?? CompiledPolicy.noGroup) }
        }
        for p in prefixes {
            while let top = stack.last, top.last < p.address { pop() }
            let v = value(of: p)
            emit(p.address, v)
            stack.append((p.last, v))
        }
        while !stack.isEmpty { pop() }
        // Merge neighbours that ended up with the same group.
        var merged: [(IPAddress, UInt16)] = []
        for r in out where merged.last?.1 != r.1 { merged.append(r) }
        return merged
    }

    private static func successor(_ a: IPAddress) -> IPAddress? {
        if a.lo != .max { return IPAddress(hi: a.hi, lo: a.lo + 1) }
        if a.hi != .max { return IPAddress(hi: a.hi + 1, lo: 0) }
        return nil
    }
}
