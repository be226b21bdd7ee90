import Testing
@testable import GBPCore

/// Label selectors, the identity compiler and what its policy does to packets and flows
/// (the e2e-style truth tables are in GBPControlTests and GBPIntegrationTests).
@Suite("Kubernetes policy")
struct KubernetesCompilerTests {
    typealias F = PolicyFixtures

    static func pod(_ ns: String, _ name: String, _ labels: [String: String], _ ip: String,
                    ports: [KubernetesNamedPort] = []) -> KubernetesPod {
        KubernetesPod(namespace: ns, name: name, labels: labels, ips: [F.ip(ip)], namedPorts: ports)
    }

    static func compile(_ c: KubernetesCluster, epoch: UInt32 = 1) -> (KubernetesCompilation, CompiledPolicy) {
        var attach: [String: KubernetesAttachment] = [:]
        for (i, p) in c.pods.enumerated() { attach[p.id] = KubernetesAttachment(port: "p\(i)", mac: F.mac(UInt64(i + 1))) }
        let k = KubernetesCompiler.compile(c, tenant: "k8s", attachments: attach)
        #expect(Policy.validate(k.spec).isEmpty, "\(Policy.validate(k.spec))")
        return (k, F.compile(k.spec, epoch: epoch))
    }

    static func allowed(_ p: CompiledPolicy, _ f: PacketFields) -> Bool { p.classify(tenant: 0, fields: f).allowed }

    @Test func labelSelectors() {
        let l = ["app": "web", "tier": "front"]
        #expect(LabelSelector.all.matches(l) && LabelSelector.all.matches([:]))
        #expect(LabelSelector(matchLabels: ["app": "web"]).matches(l))
        #expect(!LabelSelector(matchLabels: ["app": "web", "x": "y"]).matches(l))
        func expr(_ op: LabelSelector.Operator, _ key: String, _ values: [String] = []) -> LabelSelector {
            LabelSelector(matchExpressions: [.init(key: key, op: op, values: values)])
        }
        #expect(expr(.in, "app", ["db", "web"]).matches(l) && !expr(.in, "app", ["db"]).matches(l))
        #expect(!expr(.in, "missing", ["web"]).matches(l))
        #expect(expr(.notIn, "app", ["db"]).matches(l) && !expr(.notIn, "app", ["web"]).matches(l))
        #expect(expr(.notIn, "missing", ["web"]).matches(l))   // NotIn holds for an absent key
        #expect(expr(.exists, "tier").matches(l) && !expr(.exists, "missing").matches(l))
        #expect(expr(.doesNotExist, "missing").matches(l) && !expr(.doesNotExist, "tier").matches(l))
        // matchLabels and every expression are ANDed.
        #expect(!LabelSelector(matchLabels: ["app": "web"], matchExpressions: [.init(key: "tier", op: .doesNotExist)]).matches(l))
        // Namespaces carry kubernetes.io/metadata.name.
        #expect(KubernetesNamespace(name: "x").labels == ["kubernetes.io/metadata.name": "x"])
    }

    /// Pods with equal namespace and labels share a group; equal labels with different
    /// named ports do not (a named port may resolve differently).
    @Test func podsWithTheSameLabelsShareAGroup() {
        let c = KubernetesCluster(pods: [
            Self.pod("x", "w1", ["app": "web"], "10.1.0.1"), Self.pod("x", "w2", ["app": "web"], "10.1.0.2"),
            Self.pod("y", "w3", ["app": "web"], "10.1.0.3"),
            Self.pod("x", "w4", ["app": "web"], "10.1.0.4", ports: [KubernetesNamedPort(name: "http", proto: .tcp, port: 8080)]),
        ])
        let (k, p) = Self.compile(c)
        defer { p.deallocate() }
        #expect(k.podGroups["x/w1"] == "x/{app=web}" && k.podGroups["x/w2"] == "x/{app=web}")
        #expect(k.podGroups["y/w3"] == "y/{app=web}")
        #expect(k.podGroups["x/w4"] == "x/{app=web}#2")
        #expect(k.spec.groups.count == 3)
        // The two-pod group denies inside itself by default and has its own contract; one-pod groups allow.
        #expect(k.spec.groups.first { $0.name == "x/{app=web}" }?.intraGroup == .deny)
        #expect(k.spec.groups.first { $0.name == "y/{app=web}" }?.intraGroup == .allow)
        #expect(Self.allowed(p, F.tcp("10.1.0.1", "10.1.0.2", dport: 1)))   // no policy: all open
    }

    /// Traffic between two pods of one group follows the policy like any other pair.
    @Test func podsOfOneGroupFollowThePolicyBetweenThemselves() {
        let c = KubernetesCluster(
            pods: [Self.pod("x", "w1", ["app": "web"], "10.1.0.1"), Self.pod("x", "w2", ["app": "web"], "10.1.0.2"),
                   Self.pod("x", "o", ["app": "other"], "10.1.0.3")],
            networkPolicies: [NetworkPolicy(namespace: "x", name: "web", podSelector: LabelSelector(matchLabels: ["app": "web"]), ingress: [
                NetworkPolicyRule(peers: [NetworkPolicyPeer(podSelector: LabelSelector(matchLabels: ["app": "other"]))]),
                NetworkPolicyRule(peers: [NetworkPolicyPeer(podSelector: LabelSelector(matchLabels: ["app": "web"]))],
                                  ports: [NetworkPolicyPort(proto: .udp, port: .number(53))]),
            ])])
        let (k, p) = Self.compile(c)
        defer { p.deallocate() }
        #expect(k.podGroups["x/w1"] == k.podGroups["x/w2"])
        #expect(!Self.allowed(p, F.tcp("10.1.0.1", "10.1.0.2", dport: 80)))
        #expect(Self.allowed(p, F.udp("10.1.0.2", "10.1.0.1", dport: 53)))
        #expect(!Self.allowed(p, F.udp("10.1.0.2", "10.1.0.1", dport: 54)))
        #expect(Self.allowed(p, F.tcp("10.1.0.3", "10.1.0.2", dport: 80)))
        #expect(Self.allowed(p, F.tcp("10.1.0.2", "10.1.0.3", dport: 80)))
    }

    /// SCTP ports, other IP protocols (a rule with ports lets only its protocol through, one
    /// without ports lets everything), and addresses outside the cluster.
    @Test func protocolsAndOutsideAddresses() throws {
        let block = IPBlock(cidr: try IPPrefix.parse("192.168.0.0/16").get(), except: [try IPPrefix.parse("192.168.1.0/24").get()])
        let c = KubernetesCluster(
            pods: [Self.pod("x", "srv", ["app": "srv"], "10.1.0.1"), Self.pod("x", "cli", ["app": "cli"], "10.1.0.2")],
            networkPolicies: [
                NetworkPolicy(namespace: "x", name: "srv", podSelector: LabelSelector(matchLabels: ["app": "srv"]), ingress: [
                    NetworkPolicyRule(peers: [NetworkPolicyPeer(podSelector: LabelSelector(matchLabels: ["app": "cli"]))],
                                      ports: [NetworkPolicyPort(proto: .sctp, port: .number(80))]),
                    NetworkPolicyRule(peers: [NetworkPolicyPeer(ipBlock: block)]),
                ]),
            ])
        let (k, p) = Self.compile(c)
        defer { p.deallocate() }
        #expect(Self.allowed(p, F.ipPacket("10.1.0.2", "10.1.0.1", proto: 132, dport: 80)))
        #expect(!Self.allowed(p, F.ipPacket("10.1.0.2", "10.1.0.1", proto: 132, dport: 81)))
        #expect(!Self.allowed(p, F.tcp("10.1.0.2", "10.1.0.1", dport: 80)))
        #expect(!Self.allowed(p, F.icmp("10.1.0.2", "10.1.0.1", type: 8)))
        // From outside: the ipBlock (no ports: every protocol), minus its except.
        #expect(Self.allowed(p, F.icmp("192.168.2.5", "10.1.0.1", type: 8)))
        #expect(Self.allowed(p, F.udp("192.168.2.5", "10.1.0.1", dport: 9)))
        #expect(!Self.allowed(p, F.udp("192.168.1.5", "10.1.0.1", dport: 9)))
        #expect(!Self.allowed(p, F.udp("8.8.8.8", "10.1.0.1", dport: 9)))
        // cli is not isolated: it reaches the world and the world reaches it; srv's egress is open too.
        #expect(Self.allowed(p, F.udp("10.1.0.2", "8.8.8.8", dport: 53)))
        #expect(Self.allowed(p, F.tcp("8.8.8.8", "10.1.0.2", dport: 22)))
        #expect(Self.allowed(p, F.udp("10.1.0.1", "192.168.1.5", dport: 53)))
        // A pod always reaches itself, whatever isolates it.
        let ev = k.evaluator
        #expect(ev.decide(from: .pod(0), to: .pod(0), .init(.tcp, 1)).allowed)
        #expect(!ev.decide(from: .pod(1), to: .pod(0), .init(.tcp, 1)).allowed)
    }

    /// A label change moves a pod to another group on reload; the pairs of the other pods
    /// compile to the same contracts and their connections pass the re-check.
    @Test func aLabelChangeMovesOnePodAndLeavesOtherFlowsAlone() {
        func cluster(w2: String) -> KubernetesCluster {
            KubernetesCluster(
                pods: [Self.pod("x", "w1", ["app": "web"], "10.1.0.1"), Self.pod("x", "w2", ["app": w2], "10.1.0.2"),
                       Self.pod("x", "db", ["app": "db"], "10.1.0.3")],
                networkPolicies: [NetworkPolicy(namespace: "x", name: "db", podSelector: LabelSelector(matchLabels: ["app": "db"]), ingress: [
                    NetworkPolicyRule(peers: [NetworkPolicyPeer(podSelector: LabelSelector(matchLabels: ["app": "web"]))],
                                      ports: [NetworkPolicyPort(proto: .tcp, port: .number(5432))]),
                ])])
        }
        let (k1, p1) = Self.compile(cluster(w2: "web"), epoch: 1)
        let (k2, p2) = Self.compile(cluster(w2: "batch"), epoch: 2)
        defer { p1.deallocate(); p2.deallocate() }
        #expect(k1.podGroups["x/w2"] == "x/{app=web}" && k2.podGroups["x/w2"] == "x/{app=batch}")
        #expect(k1.podGroups["x/w1"] == k2.podGroups["x/w1"])
        let webToDB = { (k: KubernetesCompilation) in k.spec.contracts.first { $0.consumers == ["x/{app=web}"] && $0.providers.contains("x/{app=db}") }?.rules }
        #expect(webToDB(k1) != nil && webToDB(k1) == webToDB(k2))

        let table = FlowTable(capacity: 64, ticksPerSecond: 1000, timeouts: ConntrackTimeouts())
        defer { table.deallocate() }
        func send(_ f: PacketFields, _ p: CompiledPolicy) -> Verdict { table.track(key: FlowKey(tenant: 0, fields: f), fields: f, now: 0, policy: p) }
        let w1 = F.tcp("10.1.0.1", "10.1.0.3", dport: 5432, sport: 1000), w2 = F.tcp("10.1.0.2", "10.1.0.3", dport: 5432, sport: 1000)
        #expect(send(w1, p1).flow == .new && send(w2, p1).flow == .new)
        let ack: UInt8 = 0x10
        let w1Next = send(F.tcp("10.1.0.1", "10.1.0.3", dport: 5432, sport: 1000, flags: ack), p2)
        #expect(w1Next.allowed && w1Next.flow == .established)
        let w2Next = send(F.tcp("10.1.0.2", "10.1.0.3", dport: 5432, sport: 1000, flags: ack), p2)
        #expect(!w2Next.allowed)
        #expect(table.counters.rechecked == 2 && table.counters.recheckDrops == 1)
    }

    /// Replies of an allowed connection pass even where the replying pod may open nothing.
    @Test func repliesOfAllowedConnectionsPass() {
        let c = KubernetesCluster(
            pods: [Self.pod("x", "a", ["pod": "a"], "10.1.0.1"), Self.pod("y", "b", ["pod": "b"], "10.1.0.2")],
            networkPolicies: [NetworkPolicy(namespace: "x", name: "no-egress", podSelector: .all, policyTypes: [.egress])])
        let (_, p) = Self.compile(c)
        defer { p.deallocate() }
        let table = FlowTable(capacity: 64, ticksPerSecond: 1000, timeouts: ConntrackTimeouts())
        defer { table.deallocate() }
        func send(_ f: PacketFields) -> Verdict { table.track(key: FlowKey(tenant: 0, fields: f), fields: f, now: 0, policy: p) }
        #expect(send(F.tcp("10.1.0.2", "10.1.0.1", dport: 80, sport: 1234)).flow == .new)
        let reply = send(F.tcp("10.1.0.1", "10.1.0.2", dport: 1234, sport: 80, flags: 0x12))
        #expect(reply.allowed && reply.flow == .reply)
        #expect(!send(F.tcp("10.1.0.1", "10.1.0.2", dport: 80, sport: 1235)).allowed)
        #expect(send(F.udp("10.1.0.2", "10.1.0.1", dport: 53, sport: 999)).allowed)
        #expect(send(F.udp("10.1.0.1", "10.1.0.2", dport: 999, sport: 53)).flow == .reply)
    }

    /// ANP Allow beats a NetworkPolicy that isolates; BANP only speaks where nothing isolates.
    @Test func adminPoliciesComeBeforeAndAfterNetworkPolicy() {
        let all = AdminPodSelection(namespaceSelector: .all)
        let c = KubernetesCluster(
            pods: [Self.pod("x", "a", ["pod": "a"], "10.1.0.1"), Self.pod("x", "b", ["pod": "b"], "10.1.0.2"),
                   Self.pod("y", "c", ["pod": "c"], "10.1.0.3")],
            networkPolicies: [NetworkPolicy(namespace: "x", name: "deny", podSelector: LabelSelector(matchLabels: ["pod": "a"]), policyTypes: [.ingress])],
            adminPolicies: [AdminNetworkPolicy(name: "allow-c", priority: 1, subject: AdminPodSelection(namespaceSelector: LabelSelector(matchLabels: ["kubernetes.io/metadata.name": "x"])),
                                               ingress: [AdminPolicyRule(name: "c", action: .allow, peers: [.pods(AdminPodSelection(namespaceSelector: .all, podSelector: LabelSelector(matchLabels: ["pod": "c"])))],
                                                                         ports: [.number(.udp, 53)])])],
            baselinePolicy: AdminNetworkPolicy(name: "default", priority: nil, subject: all,
                                               ingress: [AdminPolicyRule(name: "deny", action: .deny, peers: [.pods(all)])]))
        let (k, p) = Self.compile(c)
        defer { p.deallocate() }
        #expect(Self.allowed(p, F.udp("10.1.0.3", "10.1.0.1", dport: 53)))       // ANP allow over NP isolation
        #expect(!Self.allowed(p, F.udp("10.1.0.3", "10.1.0.1", dport: 54)))      // NP isolates a
        #expect(Self.allowed(p, F.udp("10.1.0.3", "10.1.0.2", dport: 53)))       // ANP allow over BANP deny
        #expect(!Self.allowed(p, F.udp("10.1.0.1", "10.1.0.2", dport: 54)))      // b not isolated: BANP deny
        #expect(Self.allowed(p, F.udp("8.8.8.8", "10.1.0.2", dport: 54)))        // BANP peers are pods: the world passes
        let d = k.evaluator.decide(from: .pod(0), to: .pod(1), .init(.udp, 54))
        #expect(d.ingress.reason == .admin(kind: "BaselineAdminNetworkPolicy", policy: "default", rule: 0, ruleName: "deny", action: .deny))
    }
}
