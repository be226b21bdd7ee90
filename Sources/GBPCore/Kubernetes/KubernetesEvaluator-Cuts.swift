/// What the compiler needs to know of the policies as a whole.
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

    /// Port numbers where some policy's answer may change, per protocol: a verdict is the
    /// same for every port from one cut to the next. Always starts with 0 and ends with 65536.
    public func portCuts(_ proto: KubernetesProtocol) -> [Int] {
        var cuts: Set<Int> = [0, 65536]
        func range(_ a: Int, _ b: Int) { cuts.insert(max(0, a)); cuts.insert(min(65536, b + 1)) }
        for p in cluster.networkPolicies {
            for r in p.ingress + p.egress {
                for port in r.ports where port.proto == proto {
                    if case .number(let n) = port.port { range(n, port.endPort ?? n) }
                }
            }
        }
        for a in cluster.adminPolicies + (cluster.baselinePolicy.map { [$0] } ?? []) {
            for r in a.ingress + a.egress {
                for p in r.ports ?? [] {
                    switch p {
                    case .number(let pr, let n) where pr == proto: range(n, n)
                    case .range(let pr, let x, let y) where pr == proto: range(x, y)
                    default: break
                    }
                }
            }
        }
        for pod in cluster.pods { for np in pod.namedPorts where np.proto == proto { range(np.port, np.port) } }
        return cuts.filter { $0 <= 65536 }.sorted()
    }
}
