// How a packet is classified (the semantics the differential test checks):
//
// 1. Source. For IPv4/IPv6: the endpoint of the tenant with that address; else the
//    external group of the tenant that contains it (ExternalPrefixTable.swift: cidrs minus
//    excepts, longest cidr wins); else drop `unknownSource`. An endpoint's address wins over
//    any external prefix that contains it. For other frames (ARP included): the endpoint of
//    the tenant with the source MAC; else `unknownSource`.
// 2. Destination, the same way; else drop `unknownDestination`.
// 3. Both sides external: drop `externalDenied` (the host does not carry outside-to-outside traffic).
// 4. Candidate rules: every rule of every contract of the tenant that applies from the
//    source group to the destination group (consumer -> provider for consumer-to-provider,
//    provider -> consumer for provider-to-consumer, either for both) and matches the packet:
//      tcp / udp / sctp: IP protocol 6 / 17 / 132 and destination port in a range (no ranges: any port);
//      icmp / icmpv6:    IP protocol 1 / 58, and the type and code when given;
//      any:              every frame;
//      etherType(x):     a non-IP frame with EtherType x.
// 5. Precedence among candidates: higher priority first; at equal priority deny wins;
//    then the lower rule id (contract order in the spec, then rule order) is the one reported.
//    The winner decides: allow, or drop `deniedByRule`; its log flag is the verdict's.
// 6. No candidate: within one group, the group's intra_group (allow, or drop
//    `intraGroupDenied`); between two groups, drop `noContract`.
//
// Contracts whose providers and consumers share a group thus also govern traffic inside
// that group, ahead of its intra_group default.
//
// The compiler precomputes step 4-5 per (source group, destination group, traffic class)
// as intervals of a 16-bit key, so a lookup costs two perfect-hash reads for the
// addresses (IPv4; EndpointTable.swift), one for the group pair's 128-byte line
// (RuleLines.swift) and a binary search over the pair's few intervals in that line,
// whatever the number of rules in the policy.

extension CompiledPolicy {
    /// The group (and endpoint, if any) of an address in `tenant`: endpoint first, then external prefixes.
    @inlinable @inline(__always)
    public func resolve(tenant: UInt16, ip: IPAddress) -> GroupMatch? {
        if let m = endpoints.lookup(tenant: tenant, ip: ip) { return m }
        if let g = externals.lookup(tenant: tenant, ip: ip) {
            return GroupMatch(group: g, endpoint: CompiledPolicy.noEndpoint)
        }
        return nil
    }

    /// Parsed fields in, verdict out (steps 1-6 above), without connection tracking.
    @inlinable @inline(__always)
    public func classify(tenant: UInt16, fields f: PacketFields) -> Verdict {
        let src: GroupMatch
        let dst: GroupMatch
        if f.kind == .ipv4 || f.kind == .ipv6 {
            guard let s = resolve(tenant: tenant, ip: f.src) else { return .drop(.unknownSource) }
            guard let d = resolve(tenant: tenant, ip: f.dst) else { return .drop(.unknownDestination, srcGroup: s.group) }
            src = s; dst = d
        } else {
            guard let s = endpoints.lookup(tenant: tenant, mac: f.srcMAC) else { return .drop(.unknownSource) }
            guard let d = endpoints.lookup(tenant: tenant, mac: f.dstMAC) else { return .drop(.unknownDestination, srcGroup: s.group) }
            src = s; dst = d
        }
        return decide(src: src, dst: dst, fields: f)
    }

    /// Steps 3-6 for sides already resolved (by `resolve` or the endpoint table), for a
    /// runtime that has looked the endpoints up for its own checks.
    @inlinable @inline(__always)
    public func decide(src: GroupMatch, dst: GroupMatch, fields f: PacketFields) -> Verdict {
        if !src.isEndpoint && !dst.isEndpoint {
            return .drop(.externalDenied, srcGroup: src.group, dstGroup: dst.group)
        }
        let (cls, key) = TrafficClass.classify(f)
        let d = lines.decide(line: lines.line(src: src.group, dst: dst.group),
                                     pairKey: UInt32(src.group) << 16 | UInt32(dst.group),
                                     cls: cls.rawValue, key: key, blocks: pairs)
        return verdict(d, srcGroup: src.group, dstGroup: dst.group)
    }

    /// Starts loading the rule line `decide` will read for the group pair (`src`, `dst`),
    /// for a burst pipeline whose packets conntrack does not know yet.
    @inlinable @inline(__always)
    public func prefetchRuleLine(src: GroupMatch, dst: GroupMatch) {
        let line = lines.line(src: src.group, dst: dst.group)
        prefetch(line)
        prefetch(line + 64)
    }

    /// Steps 5-6: the verdict from the winning rule, or the default when none matched.
    @inlinable @inline(__always)
    func verdict(_ d: RuleDecision, src: GroupMatch, dst: GroupMatch) -> Verdict {
        verdict(d, srcGroup: src.group, dstGroup: dst.group)
    }

    @inlinable @inline(__always)
    func verdict(_ d: RuleDecision, srcGroup s: UInt16, dstGroup t: UInt16) -> Verdict {
        if d.isRule {
            return Verdict(allowed: d.allow, reason: d.allow ? nil : .deniedByRule, log: d.log,
                           contract: d.contract, rule: d.rule, srcGroup: s, dstGroup: t)
        }
        if s == t {
            if groupRecords[Int(s)].intraDeny {
                return .drop(.intraGroupDenied, srcGroup: s, dstGroup: t)
            }
            return Verdict(allowed: true, reason: nil, srcGroup: s, dstGroup: t)
        }
        return .drop(.noContract, srcGroup: s, dstGroup: t)
    }
}
