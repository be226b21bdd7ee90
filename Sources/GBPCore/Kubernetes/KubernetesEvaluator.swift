/// Kubernetes network policy semantics, evaluated for one connection: the reference that
/// `KubernetesCompiler` compiles and `gbpctl explain` reports from.
///
/// A connection from S to D passes when S's egress side and D's ingress side both allow
/// it (a side that is not a pod, an address outside the cluster, has no policy), or when
/// S and D are the same pod. Each side is decided in the order the APIs define:
/// 1. AdminNetworkPolicies whose subject selects the pod, lowest `priority` first (equal
///    priorities by name), each one's rules of that direction in order: the first rule
///    whose peers and ports match decides: Allow or Deny; Pass skips every remaining ANP.
/// 2. NetworkPolicies of the pod's namespace that select it and have that policy type:
///    with at least one, the pod is isolated on that side and the traffic passes only if
///    some rule of one of them matches (policies add up); with none, on to 3.
/// 3. The BaselineAdminNetworkPolicy's rules of that direction in order: the first match
///    decides (Allow or Deny); no match: allowed.
/// Named ports are resolved on the destination pod; a named port never matches traffic to
/// an address outside the cluster. `ipBlock` and `networks` match pod addresses too.
public struct KubernetesEvaluator: Sendable {
    public let cluster: KubernetesCluster
    private let namespaceLabels: [String: [String: String]]
    private let admins: [AdminNetworkPolicy]
    private let policiesByNamespace: [String: [NetworkPolicy]]
    private let podIndex: [String: Int]

    public init(_ cluster: KubernetesCluster) {
        self.cluster = cluster
        var ns: [String: [String: String]] = [:]
        for n in cluster.namespaces { ns[n.name] = n.labels }
        for p in cluster.pods where ns[p.namespace] == nil { ns[p.namespace] = KubernetesNamespace(name: p.namespace).labels }
        namespaceLabels = ns
        admins = cluster.adminPolicies.sorted { ($0.priority ?? 0, $0.name) < ($1.priority ?? 0, $1.name) }
        policiesByNamespace = Dictionary(grouping: cluster.networkPolicies.sorted { $0.name < $1.name }, by: \.namespace)
        var idx: [String: Int] = [:]
        for (i, p) in cluster.pods.enumerated() where idx[p.id] == nil { idx[p.id] = i }
        podIndex = idx
    }

    /// The pod "namespace/name".
    public func pod(_ id: String) -> Int? { podIndex[id] }

    /// One side of a connection: a pod (index in `cluster.pods`) or an address outside the
    /// cluster, given as the prefix it is known by (a /32 or /128 for one address).
    public enum Endpoint: Sendable, Equatable, Hashable {
        case pod(Int)
        case address(IPPrefix)
    }

    /// Protocol and destination port; `proto` nil is any other IP traffic (ICMP, ...).
    public struct Traffic: Sendable, Equatable {
        public var proto: KubernetesProtocol?
        public var port: Int
        public init(_ proto: KubernetesProtocol?, _ port: Int = 0) { self.proto = proto; self.port = port }
    }

    /// What decided one side.
    public enum Reason: Sendable, Equatable {
        /// The side is no pod: nothing restricts it.
        case notAPod
        /// An AdminNetworkPolicy (priority set) or the BaselineAdminNetworkPolicy rule.
        case admin(kind: String, policy: String, rule: Int, ruleName: String, action: AdminPolicyAction)
        /// Allowed by this NetworkPolicy rule.
        case networkPolicy(policy: String, rule: Int)
        /// Denied: these NetworkPolicies isolate the pod and none of their rules match.
        case isolated(policies: [String])
        /// Allowed: nothing selects the pod for this direction.
        case notIsolated
    }

    public struct Side: Sendable, Equatable {
        public var direction: PolicyDirection
        public var allowed: Bool
        public var reason: Reason
        /// The ANP rule that passed the decision on to NetworkPolicy, if any.
        public var passedBy: String?

        /// A short name for rule names of the compiled policy.
        public var tag: String {
            let d = direction.word
            switch reason {
            case .notAPod: return "\(d):none"
            case .admin(let kind, let p, let r, _, let a):
                return "\(d):\(kind == "AdminNetworkPolicy" ? "anp" : "banp")/\(p)[\(r)]\(a.rawValue)"
            case .networkPolicy(let p, let r): return "\(d):np/\(p)[\(r)]"
            case .isolated: return "\(d):isolated"
            case .notIsolated: return "\(d):open"
            }
        }

        public var sentence: String {
            let pass = passedBy.map { " (after \($0) passed)" } ?? ""
            switch reason {
            case .notAPod: return "\(direction.word): not a pod, no policy applies"
            case .admin(let kind, let p, let r, let n, let a):
                return "\(direction.word): \(a == .allow ? "allowed" : "denied") by \(kind) \(p) \(direction.word) rule \(r)\(n.isEmpty ? "" : " \"\(n)\"") (\(a.rawValue))"
            case .networkPolicy(let p, let r):
                return "\(direction.word): allowed by NetworkPolicy \(p) \(direction.word) rule \(r)\(pass)"
            case .isolated(let ps):
                return "\(direction.word): denied: isolated by NetworkPolicy \(ps.joined(separator: ", ")) and no \(direction.word) rule matches\(pass)"
            case .notIsolated:
                return "\(direction.word): allowed: no NetworkPolicy selects the pod for \(direction.word)\(pass)"
            }
        }
    }

    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        /// The source pod's egress side and the destination pod's ingress side.
        public var egress: Side
        public var ingress: Side
        /// Source and destination are the same pod: always allowed.
        public var toItself: Bool
    }

    /// The verdict for traffic from `src` to `dst`.
    public func decide(from src: Endpoint, to dst: Endpoint, _ t: Traffic) -> Decision {
        let e = side(.egress, of: src, peer: dst, t, destination: dst)
        let i = side(.ingress, of: dst, peer: src, t, destination: dst)
        let same = src == dst && { if case .pod = src { return true } else { return false } }()
        return Decision(allowed: same || (e.allowed && i.allowed), egress: e, ingress: i, toItself: same)
    }

    /// One side: `subject`'s policies of `direction` toward `peer`.
    public func side(_ direction: PolicyDirection, of subject: Endpoint, peer: Endpoint, _ t: Traffic, destination: Endpoint) -> Side {
        prepare(direction, of: subject, peer: peer, destination: destination).decide(t)
    }

    /// The rules of one side whose peers match, in the order they are taken: what is left
    /// to decide depends on the traffic's protocol and port only.
    public struct PreparedSide: Sendable {
        struct AdminStep: Sendable {
            var kind: String, policy: String, rule: Int, ruleName: String, action: AdminPolicyAction
            var ports: [AdminPort]?
        }
        var direction: PolicyDirection
        var isPod: Bool
        var admin: [AdminStep] = []
        /// Ids of the NetworkPolicies that isolate the pod; empty: not isolated.
        var isolating: [String] = []
        var networkRules: [(policy: String, rule: Int, ports: [NetworkPolicyPort])] = []
        var baseline: [AdminStep] = []
        /// The destination pod's named ports (named ports never match an outside destination).
        var namedPorts: [KubernetesNamedPort] = []

        public func decide(_ t: Traffic) -> Side {
            guard isPod else { return Side(direction: direction, allowed: true, reason: .notAPod) }
            var passed: String?
            for a in admin where matches(a.ports, t) {
                if a.action == .pass { passed = "AdminNetworkPolicy \(a.policy) rule \(a.rule)"; break }
                return Side(direction: direction, allowed: a.action == .allow,
                            reason: .admin(kind: a.kind, policy: a.policy, rule: a.rule, ruleName: a.ruleName, action: a.action))
            }
            if !isolating.isEmpty {
                for r in networkRules where r.ports.isEmpty || r.ports.contains(where: { matches($0, t) }) {
                    return Side(direction: direction, allowed: true, reason: .networkPolicy(policy: r.policy, rule: r.rule), passedBy: passed)
                }
                return Side(direction: direction, allowed: false, reason: .isolated(policies: isolating), passedBy: passed)
            }
            for b in baseline where matches(b.ports, t) {
                return Side(direction: direction, allowed: b.action == .allow,
                            reason: .admin(kind: b.kind, policy: b.policy, rule: b.rule, ruleName: b.ruleName, action: b.action), passedBy: passed)
            }
            return Side(direction: direction, allowed: true, reason: .notIsolated, passedBy: passed)
        }

        func matches(_ p: NetworkPolicyPort, _ t: Traffic) -> Bool {
            guard let proto = t.proto, proto == p.proto else { return false }
            switch p.port {
            case .any: return true
            case .number(let n): return t.port >= n && t.port <= (p.endPort ?? n)
            case .named(let name): return named(name, proto, t.port)
            }
        }

        func matches(_ ports: [AdminPort]?, _ t: Traffic) -> Bool {
            guard let ports else { return true }
            guard let proto = t.proto else { return false }
            return ports.contains { p in
                switch p {
                case .number(let pr, let n): return pr == proto && t.port == n
                case .range(let pr, let a, let b): return pr == proto && t.port >= a && t.port <= b
                case .named(let name): return named(name, proto, t.port)
                }
            }
        }

        func named(_ name: String, _ proto: KubernetesProtocol, _ port: Int) -> Bool {
            namedPorts.contains { $0.name == name && $0.proto == proto && $0.port == port }
        }

        /// Ports of `proto` where this side's answer may change: every answer is the same
        /// from one cut to the next.
        func cuts(_ proto: KubernetesProtocol, into cuts: inout Set<Int>) {
            func range(_ a: Int, _ b: Int) { cuts.insert(a); cuts.insert(b + 1) }
            func named(_ name: String) { for n in namedPorts where n.name == name && n.proto == proto { range(n.port, n.port) } }
            func adminPorts(_ ports: [AdminPort]?) {
                for p in ports ?? [] {
                    switch p {
                    case .number(let pr, let n) where pr == proto: range(n, n)
                    case .range(let pr, let a, let b) where pr == proto: range(a, b)
                    case .named(let name): named(name)
                    default: break
                    }
                }
            }
            for a in admin { adminPorts(a.ports) }
            for b in baseline { adminPorts(b.ports) }
            for r in networkRules {
                for p in r.ports where p.proto == proto {
                    switch p.port {
                    case .any: break
                    case .number(let n): range(n, p.endPort ?? n)
                    case .named(let name): named(name)
                    }
                }
            }
        }
    }

    public func prepare(_ direction: PolicyDirection, of subject: Endpoint, peer: Endpoint, destination: Endpoint) -> PreparedSide {
        var out = PreparedSide(direction: direction, isPod: false)
        guard case .pod(let s) = subject else { return out }
        out.isPod = true
        let pod = cluster.pods[s]
        if case .pod(let d) = destination { out.namedPorts = cluster.pods[d].namedPorts }
        for a in admins where selects(a.subject, pod) {
            for (k, r) in (direction == .ingress ? a.ingress : a.egress).enumerated() where adminPeerMatches(r, peer) {
                out.admin.append(.init(kind: a.kind, policy: a.name, rule: k, ruleName: r.name, action: r.action, ports: r.ports))
            }
        }
        let isolating = (policiesByNamespace[pod.namespace] ?? []).filter { $0.types.contains(direction) && $0.podSelector.matches(pod.labels) }
        out.isolating = isolating.map(\.id)
        for p in isolating {
            for (k, r) in (direction == .ingress ? p.ingress : p.egress).enumerated()
            where r.peers.isEmpty || r.peers.contains(where: { peerMatches($0, policyNamespace: p.namespace, peer) }) {
                out.networkRules.append((p.id, k, r.ports))
            }
        }
        if let b = cluster.baselinePolicy, selects(b.subject, pod) {
            for (k, r) in (direction == .ingress ? b.ingress : b.egress).enumerated() where r.action != .pass && adminPeerMatches(r, peer) {
                out.baseline.append(.init(kind: b.kind, policy: b.name, rule: k, ruleName: r.name, action: r.action, ports: r.ports))
            }
        }
        return out
    }

    // MARK: Matching

    func labels(ofNamespace ns: String) -> [String: String] {
        namespaceLabels[ns] ?? KubernetesNamespace(name: ns).labels
    }

    func selects(_ s: AdminPodSelection, _ pod: KubernetesPod) -> Bool {
        s.namespaceSelector.matches(labels(ofNamespace: pod.namespace)) && (s.podSelector?.matches(pod.labels) ?? true)
    }

    func peerMatches(_ peer: NetworkPolicyPeer, policyNamespace: String, _ e: Endpoint) -> Bool {
        if let b = peer.ipBlock { return blockMatches(b.cidr, except: b.except, e) }
        guard case .pod(let i) = e else { return false }
        let pod = cluster.pods[i]
        if let ns = peer.namespaceSelector {
            guard ns.matches(labels(ofNamespace: pod.namespace)) else { return false }
        } else if pod.namespace != policyNamespace {
            return false
        }
        return peer.podSelector?.matches(pod.labels) ?? true
    }

    /// A pod matches when one of its addresses does; an outside prefix when it lies inside
    /// `cidr` and inside no `except` (the compiler's prefixes are nested or disjoint).
    func blockMatches(_ cidr: IPPrefix, except: [IPPrefix], _ e: Endpoint) -> Bool {
        switch e {
        case .pod(let i):
            return cluster.pods[i].ips.contains { ip in cidr.contains(ip) && !except.contains { $0.contains(ip) } }
        case .address(let p):
            return cidr.contains(p) && !except.contains { $0.contains(p) }
        }
    }

    func adminPeerMatches(_ r: AdminPolicyRule, _ peer: Endpoint) -> Bool {
        r.peers.contains { p in
            switch p {
            case .pods(let sel):
                guard case .pod(let i) = peer else { return false }
                return selects(sel, cluster.pods[i])
            case .networks(let cidrs): return cidrs.contains { blockMatches($0, except: [], peer) }
            case .nodes: return false
            }
        }
    }
}
