/// The prefixes the compiler makes external groups of.
extension KubernetesEvaluator {
    /// Every prefix the policies mention (ipBlock cidrs and excepts, ANP networks).
    public var mentionedPrefixes: [IPPrefix] {
        var out = Set<IPPrefix>()
        for p in cluster.networkPolicies {
            for r in p.ingress + p.egress {
                for peer in r.peers { if let b = peer.ipBlock { out.insert(b.cidr); out.formUnion(b.except) } }
            }
        }
        for a in cluster.adminPolicies + (cluster.baselinePolicy.map { [$0] } ?? []) {
            for r in a.ingress + a.egress { for case .networks(let c) in r.peers { out.formUnion(c) } }
        }
        return out.sorted { ($0.address, $0.length) < ($1.address, $1.length) }
    }
}
