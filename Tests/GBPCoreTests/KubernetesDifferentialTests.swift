import Testing
@testable import GBPCore

/// The compiler is exact: for random clusters and policies (NetworkPolicy, ANP, BANP),
/// the compiled classifier gives the evaluator's verdict for every pair of pods and
/// outside addresses, on the ports the policies name, the ports around them and other
/// protocols.
@Suite("Kubernetes: compiled policy vs evaluator")
struct KubernetesDifferentialTests {
    typealias F = PolicyFixtures

    struct Gen {
        var rng: SeededRandom
        mutating func pick<T>(_ xs: [T]) -> T { xs.randomElement(using: &rng)! }
        mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
        mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }

        mutating func selector(_ key: String, _ values: [String]) -> LabelSelector {
            switch int(0...4) {
            case 0: return .all
            case 1: return LabelSelector(matchLabels: [key: pick(values)])
            case 2: return LabelSelector(matchExpressions: [.init(key: key, op: pick([.in, .notIn]), values: [pick(values), pick(values)])])
            case 3: return LabelSelector(matchExpressions: [.init(key: pick([key, "tier"]), op: pick([.exists, .doesNotExist]))])
            default: return LabelSelector(matchLabels: ["tier": pick(["fe", "be"])])
            }
        }
        mutating func prefix() -> IPPrefix {
            pick([try! IPPrefix.parse("10.0.0.0/16").get(), try! IPPrefix.parse("10.0.2.0/24").get(),
                  try! IPPrefix.parse("10.0.1.\(int(1...3))/32").get(), try! IPPrefix.parse("0.0.0.0/0").get(),
                  try! IPPrefix.parse("192.168.0.0/16").get()])
        }
        mutating func peer() -> NetworkPolicyPeer {
            switch int(0...3) {
            case 0: return NetworkPolicyPeer(podSelector: selector("pod", ["a", "b", "c"]))
            case 1: return NetworkPolicyPeer(namespaceSelector: selector("ns", ["x", "y", "z"]))
            case 2: return NetworkPolicyPeer(podSelector: selector("pod", ["a", "b", "c"]), namespaceSelector: selector("ns", ["x", "y", "z"]))
            default:
                let cidr = prefix()
                let except = [try! IPPrefix.parse("10.0.2.0/24").get(), try! IPPrefix.parse("10.0.1.2/32").get()].filter { cidr.contains($0) && cidr != $0 }
                return NetworkPolicyPeer(ipBlock: IPBlock(cidr: cidr, except: chance(0.5) ? except : []))
            }
        }
        mutating func port() -> NetworkPolicyPort {
            let proto: KubernetesProtocol = pick([.tcp, .tcp, .udp, .sctp])
            switch int(0...3) {
            case 0: return NetworkPolicyPort(proto: proto)
            case 1: return NetworkPolicyPort(proto: proto, port: .number(pick([80, 81, 8080])))
            case 2: return NetworkPolicyPort(proto: proto, port: .number(80), endPort: pick([81, 90]))
            default: return NetworkPolicyPort(proto: proto, port: .named(pick(["web", "serve-80-tcp", "serve-81-udp"])))
            }
        }
        mutating func rules() -> [NetworkPolicyRule] {
            (0..<int(0...2)).map { _ in NetworkPolicyRule(peers: (0..<int(0...2)).map { _ in peer() }, ports: (0..<int(0...2)).map { _ in port() }) }
        }
        mutating func adminRule(baseline: Bool, egress: Bool) -> AdminPolicyRule {
            let peer: AdminPeer = egress && chance(0.3) ? .networks([prefix()])
                : .pods(AdminPodSelection(namespaceSelector: selector("ns", ["x", "y", "z"]), podSelector: chance(0.5) ? selector("pod", ["a", "b", "c"]) : nil))
            let ports: [AdminPort]? = chance(0.5) ? nil : [pick([.number(.tcp, 80), .range(.udp, 80, 81), .named("web"), .number(.sctp, 80)])]
            return AdminPolicyRule(name: "r", action: pick(baseline ? [.allow, .deny] : [.allow, .deny, .pass]), peers: [peer], ports: ports)
        }
        mutating func admin(_ name: String, priority: Int?) -> AdminNetworkPolicy {
            AdminNetworkPolicy(name: name, priority: priority,
                               subject: AdminPodSelection(namespaceSelector: selector("ns", ["x", "y", "z"]), podSelector: chance(0.5) ? selector("pod", ["a", "b", "c"]) : nil),
                               ingress: (0..<int(0...2)).map { _ in adminRule(baseline: priority == nil, egress: false) },
                               egress: (0..<int(0...2)).map { _ in adminRule(baseline: priority == nil, egress: true) })
        }

        mutating func cluster() -> KubernetesCluster {
            var c = KubernetesCluster()
            for (i, n) in ["x", "y", "z"].enumerated() {
                c.namespaces.append(KubernetesNamespace(name: n, labels: ["ns": n]))
                for (j, p) in ["a", "b", "c"].enumerated() {
                    var labels = ["pod": p]
                    if chance(0.5) { labels["tier"] = pick(["fe", "be"]) }
                    var ports = [KubernetesNamedPort(name: "serve-80-tcp", proto: .tcp, port: 80), KubernetesNamedPort(name: "serve-81-udp", proto: .udp, port: 81)]
                    if chance(0.6) { ports.append(KubernetesNamedPort(name: "web", proto: .tcp, port: pick([80, 81, 8080]))) }
                    c.pods.append(KubernetesPod(namespace: n, name: p, labels: labels, ips: [F.ip("10.0.\(i + 1).\(j + 1)")], namedPorts: ports))
                }
            }
            for k in 0..<int(1...4) {
                let types: [PolicyDirection]? = pick([nil, [.ingress], [.egress], [.ingress, .egress]])
                c.networkPolicies.append(NetworkPolicy(namespace: pick(["x", "y", "z"]), name: "np\(k)", podSelector: selector("pod", ["a", "b", "c"]),
                                                       ingress: rules(), egress: rules(), policyTypes: types))
            }
            if chance(0.5) { c.adminPolicies = (0..<int(1...2)).map { admin("anp\($0)", priority: int(0...3)) } }
            if chance(0.4) { c.baselinePolicy = admin("default", priority: nil) }
            return c
        }
    }

    @Test(arguments: 0..<60)
    func compiledPolicyMatchesEvaluator(seed: Int) throws {
        var g = Gen(rng: SeededRandom(seed: UInt64(seed) &* 7919 &+ 11))
        let c = g.cluster()
        var attach: [String: KubernetesAttachment] = [:]
        for (i, p) in c.pods.enumerated() { attach[p.id] = KubernetesAttachment(port: "p\(i)", mac: F.mac(UInt64(i + 1))) }
        let k = KubernetesCompiler.compile(c, tenant: "k8s", attachments: attach)
        let problems = Policy.validate(k.spec)
        try #require(problems.isEmpty, "seed \(seed): \(problems)")
        let compiled = try CompiledPolicy.compile(k.spec, epoch: 1)
        defer { compiled.deallocate() }
        let ev = k.evaluator
        let outside = ["10.0.2.9", "10.0.5.5", "8.8.8.8", "192.168.3.3"]
        let sides: [(String, KubernetesEvaluator.Endpoint)] = c.pods.indices.map { (c.pods[$0].ips[0].description, .pod($0)) }
            + outside.map { ($0, .address(IPPrefix(address: F.ip($0), length: 128))) }
        let traffic: [(UInt8, Int)] = [(6, 80), (6, 81), (6, 79), (6, 8080), (6, 90), (6, 91), (17, 80), (17, 81), (17, 53), (132, 80), (132, 81), (1, 0)]
        var mismatches: [String] = []
        for (sa, s) in sides {
            for (da, d) in sides where sa != da {
                if case .address = s, case .address = d { continue }
                for (proto, port) in traffic {
                    let want = ev.decide(from: s, to: d, .init(KubernetesProtocol(ipProtocolNumber: proto), port)).allowed
                    let f = proto == 1 ? F.icmp(sa, da, type: 8) : F.ipPacket(sa, da, proto: proto, dport: UInt16(port))
                    let got = compiled.classify(tenant: 0, fields: f).allowed
                    if got != want { mismatches.append("\(sa) -> \(da) proto \(proto) port \(port): evaluator \(want), classifier \(got)") }
                }
            }
        }
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.count) mismatches, first \(mismatches.prefix(5))")
    }
}
