@testable import GBPCore

/// A naive evaluator written straight from the documented semantics (Classifier.swift,
/// README): it scans the spec by name for every packet, with no tables, no precomputation
/// and none of the compiler's code. The differential test holds the compiled classifier to it.
struct ReferenceEvaluator {
    let spec: PolicySpec

    struct Answer: Equatable, CustomStringConvertible {
        var allowed: Bool
        var reason: DropReason?
        var log = false
        var contract = 0xFFFF
        var rule = 0x3FFF_FFFF
        var srcGroup = 0xFFFF
        var dstGroup = 0xFFFF

        init(allowed: Bool, reason: DropReason?, log: Bool = false, contract: Int = 0xFFFF, rule: Int = 0x3FFF_FFFF,
             srcGroup: Int = 0xFFFF, dstGroup: Int = 0xFFFF) {
            self.allowed = allowed; self.reason = reason; self.log = log; self.contract = contract
            self.rule = rule; self.srcGroup = srcGroup; self.dstGroup = dstGroup
        }

        /// What the compiled classifier answered, in the reference's terms.
        init(_ v: Verdict) {
            self.init(allowed: v.allowed, reason: v.reason, log: v.log, contract: Int(v.contract), rule: Int(v.rule),
                      srcGroup: Int(v.srcGroup), dstGroup: Int(v.dstGroup))
        }

        var description: String {
            "\(allowed ? "allow" : "drop \(reason?.name ?? "?")") contract \(contract) rule \(rule) log \(log) groups \(srcGroup)->\(dstGroup)"
        }
    }

    /// Group ids: endpoint groups in spec order, then external groups.
    func groupID(tenant: String, name: String) -> Int? {
        if let i = spec.groups.firstIndex(where: { $0.tenant == tenant && $0.name == name }) { return i }
        if let j = spec.externalGroups.firstIndex(where: { $0.tenant == tenant && $0.name == name }) { return spec.groups.count + j }
        return nil
    }

    /// Endpoint first; then the external group whose containing cidr is longest (lowest index on a tie).
    func group(of ip: IPAddress, tenant: String) -> Int? {
        if let e = spec.endpoints.first(where: { $0.tenant == tenant && $0.ips.contains(ip) }) {
            return groupID(tenant: tenant, name: e.group)
        }
        var best: (len: Int, id: Int)?
        for (j, g) in spec.externalGroups.enumerated() where g.tenant == tenant {
            let cidrs = g.cidrs.compactMap { try? IPPrefix.parse($0).get() }
            let excepts = g.except.compactMap { try? IPPrefix.parse($0).get() }
            guard !excepts.contains(where: { $0.contains(ip) }) else { continue }
            guard let len = cidrs.filter({ $0.contains(ip) }).map(\.length).max() else { continue }
            if best == nil || len > best!.len { best = (len, spec.groups.count + j) }
        }
        return best?.id
    }

    func group(of mac: MACAddress, tenant: String) -> Int? {
        guard let e = spec.endpoints.first(where: { $0.tenant == tenant && $0.mac == mac }) else { return nil }
        return groupID(tenant: tenant, name: e.group)
    }

    func isExternal(_ g: Int) -> Bool { g >= spec.groups.count }

    func matches(_ r: RuleSpec, _ f: PacketFields) -> Bool {
        let isIP = f.kind == .ipv4 || f.kind == .ipv6
        switch r.proto {
        case .any:
            return true
        case .etherType(let e):
            return !isIP && Int(f.etherType) == e
        case .tcp, .udp, .sctp:
            let n: UInt8 = r.proto == .tcp ? 6 : r.proto == .udp ? 17 : 132
            return isIP && f.ipProto == n && (r.ports.isEmpty || r.ports.contains { $0.first <= Int(f.dstPort) && Int(f.dstPort) <= $0.last })
        case .icmp, .icmpv6:
            let n: UInt8 = r.proto == .icmp ? 1 : 58
            return isIP && f.ipProto == n && (r.icmpType == nil || r.icmpType == Int(f.icmpType))
                && (r.icmpCode == nil || r.icmpCode == Int(f.icmpCode))
        }
    }

    func evaluate(tenant: Int, _ f: PacketFields) -> Answer {
        guard tenant < spec.tenants.count else { return Answer(allowed: false, reason: .unknownSource) }
        let t = spec.tenants[tenant].name
        let isIP = f.kind == .ipv4 || f.kind == .ipv6
        guard let s = isIP ? group(of: f.src, tenant: t) : group(of: f.srcMAC, tenant: t) else {
            return Answer(allowed: false, reason: .unknownSource)
        }
        guard let d = isIP ? group(of: f.dst, tenant: t) : group(of: f.dstMAC, tenant: t) else {
            return Answer(allowed: false, reason: .unknownDestination, srcGroup: s)
        }
        if isExternal(s) && isExternal(d) {
            return Answer(allowed: false, reason: .externalDenied, srcGroup: s, dstGroup: d)
        }
        // Every applicable, matching rule; then the best by precedence.
        var best: (priority: Int, deny: Bool, id: Int, contract: Int, rule: RuleSpec)?
        var id = 0
        for (ci, c) in spec.contracts.enumerated() {
            for r in c.rules {
                defer { id += 1 }
                guard c.tenant == t else { continue }
                let providers = c.providers.compactMap { groupID(tenant: t, name: $0) }
                let consumers = c.consumers.compactMap { groupID(tenant: t, name: $0) }
                let forward = r.direction != .providerToConsumer && consumers.contains(s) && providers.contains(d)
                let backward = r.direction != .consumerToProvider && providers.contains(s) && consumers.contains(d)
                guard forward || backward, matches(r, f) else { continue }
                let deny = r.action == .deny
                if let b = best {
                    let better = r.priority != b.priority ? r.priority > b.priority : deny != b.deny ? deny : id < b.id
                    if !better { continue }
                }
                best = (r.priority, deny, id, ci, r)
            }
        }
        if let b = best {
            return Answer(allowed: !b.deny, reason: b.deny ? .deniedByRule : nil, log: b.rule.log,
                          contract: b.contract, rule: b.id, srcGroup: s, dstGroup: d)
        }
        if s == d {
            if spec.groups[s].intraGroup == .deny {
                return Answer(allowed: false, reason: .intraGroupDenied, srcGroup: s, dstGroup: d)
            }
            return Answer(allowed: true, reason: nil, srcGroup: s, dstGroup: d)
        }
        return Answer(allowed: false, reason: .noContract, srcGroup: s, dstGroup: d)
    }
}
