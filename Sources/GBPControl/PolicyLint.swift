import GBPCore

/// Warnings about a valid policy that opens the dataplane wider than it seems to say:
/// nothing here is an error (gbpd runs the policy as written), but each finding is a
/// common way to let through more than was meant. `gbpd --check` prints them; gbpd logs
/// them at start and on every reload. Each names the field and says why.
///
/// - `contracts[i].rules[j]`: an allow rule for every protocol and port between many
///   groups (`protocol: any` across `manyGroupPairs` group pairs or more);
/// - `contracts[i].rules[j]`: an allow rule on every port (any protocol, or tcp/udp/sctp
///   without ports) that lets the whole Internet (an external group with a /0 cidr) open
///   connections to groups, or lets groups open connections to the whole Internet;
/// - `contracts[i].rules[j]`: a deny rule that never applies, because an allow rule of
///   higher priority matches all it matches between the same groups;
/// - `groups[i]`: a group whose endpoints sit behind `manyPorts` ports or more and talk
///   to each other freely only because `intra_group` defaults to allow (not written).
public enum PolicyLint {
    public struct Finding: Sendable, Equatable {
        public var path: String
        public var reason: String
    }

    static let manyGroupPairs = 3
    static let manyPorts = 4

    /// The findings for `spec`, in file order. `written(path)` says whether the file
    /// gives that field (for defaults); `spec` positions are the file's (a valid file).
    public static func check(_ spec: PolicySpec, written: (String) -> Bool) -> [Finding] {
        var out: [Finding] = []
        for (gi, g) in spec.groups.enumerated() where g.intraGroup == .allow && !written("groups[\(gi)].intra_group") {
            let members = spec.endpoints.filter { $0.tenant == g.tenant && $0.group == g.name }
            let ports = Set(members.map(\.port))
            if ports.count >= manyPorts {
                out.append(Finding(path: "groups[\(gi)]",
                    reason: "\(members.count) endpoints behind \(ports.count) ports reach each other on every protocol and port because intra_group defaults to allow; write intra_group: allow to keep that, or deny and a contract for what they need"))
            }
        }
        let world = Set(spec.externalGroups.filter { $0.cidrs.contains { $0.hasSuffix("/0") } }.map { Key($0.tenant, $0.name) })
        for (ci, c) in spec.contracts.enumerated() {
            for (ri, r) in c.rules.enumerated() {
                let path = "contracts[\(ci)].rules[\(ri)]"
                if r.action == .deny {
                    if let shadow = shadowingAllow(of: r, in: c, spec) {
                        out.append(Finding(path: path,
                            reason: "this deny never applies: allow rule \(shadow) has a higher priority and matches everything it matches between the same groups"))
                    }
                    continue
                }
                let openers = openingGroups(c, r), served = servedGroups(c, r)
                let pairs = Set(c.consumers).count * Set(c.providers).count
                if r.proto == .any && pairs >= manyGroupPairs {
                    out.append(Finding(path: path,
                        reason: "allows every protocol and port between \(pairs) group pairs (consumers \(list(c.consumers)), providers \(list(c.providers))); name the protocols and ports"))
                }
                guard r.proto == .any || (r.proto.hasPorts && r.ports.isEmpty) else { continue }
                let every = r.proto == .any ? "every protocol and port" : "every \(r.proto) port"
                if let w = openers.first(where: { world.contains(Key(c.tenant, $0)) }) {
                    out.append(Finding(path: path,
                        reason: "lets the whole Internet (external group \(w), a /0 cidr) open connections to \(list(served)) on \(every)"))
                }
                if let w = served.first(where: { world.contains(Key(c.tenant, $0)) }) {
                    out.append(Finding(path: path,
                        reason: "lets \(list(openers)) open connections to the whole Internet (external group \(w), a /0 cidr) on \(every)"))
                }
            }
        }
        return out
    }

    /// The findings as config issues, at the lines of their fields.
    static func warnings(_ spec: PolicySpec, _ r: ConfigReader) -> [ConfigIssue] {
        check(spec) { r.nodes[$0] != nil }.map {
            ConfigIssue(file: r.file, line: r.node(at: $0.path)?.mark.map { $0.line }, field: $0.path, reason: $0.reason)
        }
    }

    private struct Key: Hashable {
        var tenant: String, name: String
        init(_ t: String, _ n: String) { tenant = t; name = n }
    }

    private static func list(_ names: [String]) -> String { names.count == 1 ? names[0] : "[\(names.joined(separator: ", "))]" }

    /// The groups that may open connections under rule `r` of `c`, and those they reach.
    private static func openingGroups(_ c: ContractSpec, _ r: RuleSpec) -> [String] {
        switch r.direction {
        case .consumerToProvider: c.consumers
        case .providerToConsumer: c.providers
        case .both: c.consumers + c.providers.filter { !c.consumers.contains($0) }
        }
    }

    private static func servedGroups(_ c: ContractSpec, _ r: RuleSpec) -> [String] {
        switch r.direction {
        case .consumerToProvider: c.providers
        case .providerToConsumer: c.consumers
        case .both: c.providers + c.consumers.filter { !c.providers.contains($0) }
        }
    }

    /// An allow rule of a higher priority, in a contract of the same tenant that covers
    /// every group pair of `deny`'s contract in its direction, matching all `deny` matches.
    private static func shadowingAllow(of deny: RuleSpec, in dc: ContractSpec, _ spec: PolicySpec) -> String? {
        for c in spec.contracts where c.tenant == dc.tenant
            && Set(dc.consumers).isSubset(of: c.consumers) && Set(dc.providers).isSubset(of: c.providers) {
            for (i, a) in c.rules.enumerated() where a.action == .allow && a.priority > deny.priority
                && (a.direction == deny.direction || a.direction == .both) && matchesAll(a, of: deny) {
                return "\(c.name)/" + (a.name.isEmpty ? "rules[\(i)]" : a.name)
            }
        }
        return nil
    }

    /// Whether rule `a` matches every packet rule `b` matches (protocol, ports, ICMP fields).
    static func matchesAll(_ a: RuleSpec, of b: RuleSpec) -> Bool {
        if a.proto == .any { return true }
        guard a.proto == b.proto else { return false }
        if a.proto.hasPorts && !a.ports.isEmpty {
            if b.ports.isEmpty { return false }
            let bRanges = b.ports
            return bRanges.allSatisfy { br in a.ports.contains { $0.first <= br.first && br.last <= $0.last } }
        }
        if a.proto.isICMP {
            if let t = a.icmpType, t != b.icmpType { return false }
            if let code = a.icmpCode, code != b.icmpCode { return false }
        }
        return true
    }
}
