/// Where a pod is attached to the dataplane.
public struct KubernetesAttachment: Sendable, Equatable {
    public var port: String
    public var mac: MACAddress
    public init(port: String, mac: MACAddress) { self.port = port; self.mac = mac }
}

/// A cluster compiled into a `PolicySpec`, with what explain needs to speak Kubernetes.
public struct KubernetesCompilation: Sendable {
    public var spec: PolicySpec
    public var tenant: String
    public var evaluator: KubernetesEvaluator
    /// Pod "namespace/name" -> its group, for the pods that became endpoints.
    public var podGroups: [String: String]
    /// Pods left out, and why (no address, no port).
    public var warnings: [String]
}

/// Compiles Kubernetes policy into groups and contracts, like identities:
///
/// - Pods with the same namespace, labels, named ports and set of policy prefixes that
///   contain their addresses behave the same under every policy, so they share one
///   endpoint group (named `namespace/{k=v,...}`, with `#2`... when only ports or
///   prefixes differ). A label change moves the pod to another group; the other groups'
///   pairs, and so their rules, stay as they were.
/// - Every prefix a policy mentions (ipBlock cidrs and excepts, ANP networks) plus
///   0.0.0.0/0 and ::/0 becomes one external group (`cidr:PREFIX`). Longest-prefix match
///   makes each address land in the most specific one, and all addresses of such a region
///   are in or out of every ipBlock alike.
/// - For each ordered pair of groups (not both external) the evaluator decides every
///   (protocol, port interval) between two port cuts of the rules whose peers match that
///   pair, and "other IP traffic"; what passes
///   becomes allow rules (consumer: source group, provider: destination group), named
///   after the egress and ingress rules that allowed it. The destinations that get the
///   same rules from one source share a contract (`source > destination (+n)`). Anything else is
///   denied by default (no contract). Replies pass through connection tracking.
/// - Groups with several pods are `intra_group: deny` with their own self-pair contract;
///   a one-pod group allows traffic to itself (a pod can always reach itself).
public enum KubernetesCompiler {
    public static func compile(_ cluster: KubernetesCluster, tenant: String,
                               attachments: [String: KubernetesAttachment]) -> KubernetesCompilation {
        let ev = KubernetesEvaluator(cluster)
        var warnings: [String] = []
        let prefixes = ev.mentionedPrefixes

        // Pod groups by identity.
        struct Identity: Hashable, Comparable {
            var namespace: String
            var labels: [String]
            var ports: [KubernetesNamedPort]
            var prefixes: [String]
            static func < (a: Identity, b: Identity) -> Bool {
                (a.namespace, a.labels.joined(separator: ","), a.ports.map { "\($0.name)/\($0.proto.rawValue)/\($0.port)" }.joined(separator: ","),
                 a.prefixes.joined(separator: ","))
                    < (b.namespace, b.labels.joined(separator: ","), b.ports.map { "\($0.name)/\($0.proto.rawValue)/\($0.port)" }.joined(separator: ","),
                       b.prefixes.joined(separator: ","))
            }
        }
        var members: [Identity: [Int]] = [:]
        for (i, pod) in cluster.pods.enumerated() {
            guard !pod.ips.isEmpty else { warnings.append("pod \(pod.id) has no address (status.podIP): left out"); continue }
            guard attachments[pod.id] != nil else { warnings.append("pod \(pod.id) is attached to no port: left out"); continue }
            let id = Identity(namespace: pod.namespace, labels: pod.labels.map { "\($0.key)=\($0.value)" }.sorted(),
                              ports: pod.namedPorts.sorted(),
                              prefixes: prefixes.filter { p in pod.ips.contains { p.contains($0) } }.map(\.description))
            members[id, default: []].append(i)
        }
        let identities = members.keys.sorted()
        var groupNames: [String] = []
        var taken: [String: Int] = [:]
        for id in identities {
            let base = "\(id.namespace)/{\(id.labels.joined(separator: ","))}"
            let n = (taken[base] ?? 0) + 1
            taken[base] = n
            groupNames.append(n == 1 ? base : "\(base)#\(n)")
        }

        var spec = PolicySpec(tenants: [TenantSpec(name: tenant)])
        var podGroups: [String: String] = [:]
        for (g, id) in identities.enumerated() {
            let pods = members[id]!
            spec.groups.append(GroupSpec(name: groupNames[g], tenant: tenant, intraGroup: pods.count > 1 ? .deny : .allow))
            for i in pods {
                let pod = cluster.pods[i], a = attachments[pod.id]!
                spec.endpoints.append(EndpointSpec(name: pod.id, port: a.port, mac: a.mac, ips: pod.ips, group: groupNames[g], tenant: tenant))
                podGroups[pod.id] = groupNames[g]
            }
        }
        let world = [IPPrefix.parse("0.0.0.0/0"), IPPrefix.parse("::/0")].compactMap { try? $0.get() }
        let externals = (world + prefixes.filter { !world.contains($0) })
        for p in externals {
            spec.externalGroups.append(ExternalGroupSpec(name: "cidr:\(p)", tenant: tenant, cidrs: [p.description]))
        }

        // One representative per group.
        typealias Side = (name: String, rep: KubernetesEvaluator.Endpoint, pods: Int)
        let sides: [Side] = identities.enumerated().map { (groupNames[$0.offset], .pod(members[$0.element]![0]), members[$0.element]!.count) }
            + externals.map { ("cidr:\($0)", .address($0), 0) }
        for s in sides {
            // Destinations that get the same rules from `s` share one contract.
            var byRules: [(rules: [RuleSpec], providers: [String])] = []
            for d in sides {
                guard s.pods > 0 || d.pods > 0 else { continue }
                if s.name == d.name && s.pods < 2 { continue }   // a one-pod group: only the pod itself
                let rules = pairRules(ev, from: s.rep, to: d.rep)
                guard !rules.isEmpty else { continue }
                if let i = byRules.firstIndex(where: { $0.rules == rules }) { byRules[i].providers.append(d.name) } else {
                    byRules.append((rules, [d.name]))
                }
            }
            for (rules, providers) in byRules {
                let to = providers.count == 1 ? providers[0] : "\(providers[0]) (+\(providers.count - 1))"
                spec.contracts.append(ContractSpec(name: "\(s.name) > \(to)", tenant: tenant,
                                                   providers: providers, consumers: [s.name], rules: rules))
            }
        }
        return KubernetesCompilation(spec: spec, tenant: tenant, evaluator: ev, podGroups: podGroups, warnings: warnings)
    }

    /// The rules that let through exactly what the evaluator allows from `src` to `dst`.
    /// Other IP traffic (and non-IP frames) allowed: one `any` rule at priority 0, with
    /// priority-1 deny rules for the denied port intervals. Port intervals allowed: allow
    /// rules at priority 1, one per protocol and deciding policy rules.
    static func pairRules(_ ev: KubernetesEvaluator, from src: KubernetesEvaluator.Endpoint,
                          to dst: KubernetesEvaluator.Endpoint) -> [RuleSpec] {
        let egress = ev.prepare(.egress, of: src, peer: dst, destination: dst)
        let ingress = ev.prepare(.ingress, of: dst, peer: src, destination: dst)
        func tag(_ t: KubernetesEvaluator.Traffic) -> String? {
            let e = egress.decide(t), i = ingress.decide(t)
            return e.allowed && i.allowed ? "\(e.tag) \(i.tag)" : nil
        }
        let other = tag(.init(nil))
        var rules: [RuleSpec] = []
        if let other { rules.append(RuleSpec(name: other, proto: .any)) }
        for proto in KubernetesProtocol.allCases {
            var cutSet: Set<Int> = [0, 65536]
            egress.cuts(proto, into: &cutSet)
            ingress.cuts(proto, into: &cutSet)
            let c = cutSet.sorted()
            // (allow tag or nil for deny) -> ranges, in first-seen order.
            var groups: [(String?, [PortRange])] = []
            for k in 0..<(c.count - 1) {
                let t = tag(.init(proto, c[k]))
                if t != nil && t == other { continue }          // the `any` rule covers it
                if t == nil && other == nil { continue }        // denied by default
                let range = PortRange(c[k], c[k + 1] - 1)
                if let j = groups.firstIndex(where: { $0.0 == t }) {
                    if let last = groups[j].1.last, last.last + 1 == range.first {
                        groups[j].1[groups[j].1.count - 1].last = range.last
                    } else {
                        groups[j].1.append(range)
                    }
                } else {
                    groups.append((t, [range]))
                }
            }
            for (t, ranges) in groups {
                let name = t.map { "\(proto.rawValue.lowercased()) \($0)" } ?? "\(proto.rawValue.lowercased()) denied"
                rules.append(RuleSpec(name: name, proto: proto.ruleProtocol, ports: ranges,
                                      action: t == nil ? .deny : .allow, priority: 1))
            }
        }
        return rules
    }
}
