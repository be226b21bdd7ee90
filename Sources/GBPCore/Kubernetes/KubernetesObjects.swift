/// Kubernetes objects as gbpd reads them from manifests: only the fields that decide
/// network policy. Plain values; `KubernetesManifestLoader` (GBPControl) fills them from
/// YAML, `KubernetesEvaluator` gives them Kubernetes' semantics and `KubernetesCompiler`
/// turns them into a `PolicySpec`.

/// `metav1.LabelSelector`: every `matchLabels` pair and every expression must hold; an
/// empty selector selects everything.
public struct LabelSelector: Sendable, Equatable, Hashable {
    public enum Operator: String, Sendable, Equatable, Hashable, CaseIterable {
        case `in` = "In", notIn = "NotIn", exists = "Exists", doesNotExist = "DoesNotExist"
    }
    public struct Requirement: Sendable, Equatable, Hashable {
        public var key: String
        public var op: Operator
        public var values: [String]
        public init(key: String, op: Operator, values: [String] = []) { self.key = key; self.op = op; self.values = values }
    }
    public var matchLabels: [String: String]
    public var matchExpressions: [Requirement]

    public init(matchLabels: [String: String] = [:], matchExpressions: [Requirement] = []) {
        self.matchLabels = matchLabels; self.matchExpressions = matchExpressions
    }

    /// Selects everything.
    public static let all = LabelSelector()
}

public struct KubernetesNamespace: Sendable, Equatable {
    public var name: String
    /// As written, plus `kubernetes.io/metadata.name: <name>`, which the API server sets on every namespace.
    public var labels: [String: String]
    public init(name: String, labels: [String: String] = [:]) {
        self.name = name
        var l = labels
        l["kubernetes.io/metadata.name"] = name
        self.labels = l
    }
}

public enum KubernetesProtocol: String, Sendable, Equatable, Hashable, CaseIterable {
    case tcp = "TCP", udp = "UDP", sctp = "SCTP"

    public var ruleProtocol: RuleProtocol {
        switch self { case .tcp: .tcp; case .udp: .udp; case .sctp: .sctp }
    }
    public var ipProtocolNumber: UInt8 { ruleProtocol.ipProtocolNumber! }
    public init?(ipProtocolNumber n: UInt8) {
        switch n { case 6: self = .tcp; case 17: self = .udp; case 132: self = .sctp; default: return nil }
    }
}

/// A named container port (`spec.containers[].ports[]` with a `name`).
public struct KubernetesNamedPort: Sendable, Equatable, Hashable, Comparable {
    public var name: String
    public var proto: KubernetesProtocol
    public var port: Int
    public init(name: String, proto: KubernetesProtocol, port: Int) { self.name = name; self.proto = proto; self.port = port }
    public static func < (a: Self, b: Self) -> Bool { (a.name, a.proto.rawValue, a.port) < (b.name, b.proto.rawValue, b.port) }
}

public struct KubernetesPod: Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// `status.podIPs` (or `status.podIP`).
    public var ips: [IPAddress]
    public var namedPorts: [KubernetesNamedPort]

    public init(namespace: String, name: String, labels: [String: String] = [:], annotations: [String: String] = [:],
                ips: [IPAddress] = [], namedPorts: [KubernetesNamedPort] = []) {
        self.namespace = namespace; self.name = name; self.labels = labels; self.annotations = annotations
        self.ips = ips; self.namedPorts = namedPorts
    }

    /// "namespace/name": the pod's endpoint name in the compiled policy.
    public var id: String { "\(namespace)/\(name)" }
}

/// `port` of a policy port: a number, a container port name, or absent (every port).
public enum KubernetesPortRef: Sendable, Equatable, Hashable {
    case any
    case number(Int)
    case named(String)
}

/// `NetworkPolicyPort`: protocol (default TCP), port and `endPort`.
public struct NetworkPolicyPort: Sendable, Equatable {
    public var proto: KubernetesProtocol
    public var port: KubernetesPortRef
    public var endPort: Int?
    public init(proto: KubernetesProtocol = .tcp, port: KubernetesPortRef = .any, endPort: Int? = nil) {
        self.proto = proto; self.port = port; self.endPort = endPort
    }
}

/// `IPBlock`: addresses in `cidr` and in none of `except`.
public struct IPBlock: Sendable, Equatable {
    public var cidr: IPPrefix
    public var except: [IPPrefix]
    public init(cidr: IPPrefix, except: [IPPrefix] = []) { self.cidr = cidr; self.except = except }
}

/// `NetworkPolicyPeer`. A nil selector is absent, which differs from an empty one:
/// no `namespaceSelector` means the policy's own namespace.
public struct NetworkPolicyPeer: Sendable, Equatable {
    public var podSelector: LabelSelector?
    public var namespaceSelector: LabelSelector?
    public var ipBlock: IPBlock?
    public init(podSelector: LabelSelector? = nil, namespaceSelector: LabelSelector? = nil, ipBlock: IPBlock? = nil) {
        self.podSelector = podSelector; self.namespaceSelector = namespaceSelector; self.ipBlock = ipBlock
    }
}

/// One ingress (`from`) or egress (`to`) rule. Empty `peers`: every peer; empty `ports`: all traffic.
public struct NetworkPolicyRule: Sendable, Equatable {
    public var peers: [NetworkPolicyPeer]
    public var ports: [NetworkPolicyPort]
    public init(peers: [NetworkPolicyPeer] = [], ports: [NetworkPolicyPort] = []) { self.peers = peers; self.ports = ports }
}

public enum PolicyDirection: String, Sendable, Equatable, Hashable {
    case ingress = "Ingress", egress = "Egress"
    public var word: String { self == .ingress ? "ingress" : "egress" }
}

/// `networking.k8s.io/v1` NetworkPolicy.
public struct NetworkPolicy: Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var podSelector: LabelSelector
    public var ingress: [NetworkPolicyRule]
    public var egress: [NetworkPolicyRule]
    /// `spec.policyTypes` as written; nil when absent (see `types`).
    public var policyTypes: [PolicyDirection]?

    public init(namespace: String, name: String, podSelector: LabelSelector = .all, ingress: [NetworkPolicyRule] = [],
                egress: [NetworkPolicyRule] = [], policyTypes: [PolicyDirection]? = nil) {
        self.namespace = namespace; self.name = name; self.podSelector = podSelector
        self.ingress = ingress; self.egress = egress; self.policyTypes = policyTypes
    }

    /// The API's defaulting: without `policyTypes` (or with an empty list), Ingress always,
    /// and Egress when there are egress rules.
    public var types: Set<PolicyDirection> {
        if let t = policyTypes, !t.isEmpty { return Set(t) }
        return egress.isEmpty ? [.ingress] : [.ingress, .egress]
    }

    public var id: String { "\(namespace)/\(name)" }
}

// MARK: AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1)

public enum AdminPolicyAction: String, Sendable, Equatable {
    case allow = "Allow", deny = "Deny", pass = "Pass"
}

/// `subject` (and the `namespaces` / `pods` peers): pods in namespaces matching
/// `namespaceSelector` whose labels match `podSelector` (nil: every pod).
public struct AdminPodSelection: Sendable, Equatable {
    public var namespaceSelector: LabelSelector
    public var podSelector: LabelSelector?
    public init(namespaceSelector: LabelSelector, podSelector: LabelSelector? = nil) {
        self.namespaceSelector = namespaceSelector; self.podSelector = podSelector
    }
}

/// An ANP/BANP peer: pods (`namespaces` or `pods`), or for egress `networks` (CIDRs).
/// `nodes` peers select nodes, which gbpd does not know: they match nothing.
public enum AdminPeer: Sendable, Equatable {
    case pods(AdminPodSelection)
    case networks([IPPrefix])
    case nodes
}

/// `AdminNetworkPolicyPort`: `portNumber`, `portRange` or `namedPort`.
public enum AdminPort: Sendable, Equatable {
    case number(KubernetesProtocol, Int)
    case range(KubernetesProtocol, Int, Int)
    case named(String)
}

public struct AdminPolicyRule: Sendable, Equatable {
    public var name: String
    public var action: AdminPolicyAction
    public var peers: [AdminPeer]
    /// nil: all traffic.
    public var ports: [AdminPort]?
    public init(name: String, action: AdminPolicyAction, peers: [AdminPeer], ports: [AdminPort]? = nil) {
        self.name = name; self.action = action; self.peers = peers; self.ports = ports
    }
}

/// AdminNetworkPolicy (`priority` set) or BaselineAdminNetworkPolicy (`priority` nil;
/// its actions are Allow and Deny).
public struct AdminNetworkPolicy: Sendable, Equatable {
    public var name: String
    /// 0...1000, lower first; nil for the baseline policy.
    public var priority: Int?
    public var subject: AdminPodSelection
    public var ingress: [AdminPolicyRule]
    public var egress: [AdminPolicyRule]
    public init(name: String, priority: Int?, subject: AdminPodSelection, ingress: [AdminPolicyRule] = [], egress: [AdminPolicyRule] = []) {
        self.name = name; self.priority = priority; self.subject = subject; self.ingress = ingress; self.egress = egress
    }
    public var isBaseline: Bool { priority == nil }
    public var kind: String { isBaseline ? "BaselineAdminNetworkPolicy" : "AdminNetworkPolicy" }
}

/// Everything read from the manifests.
public struct KubernetesCluster: Sendable, Equatable {
    public var namespaces: [KubernetesNamespace]
    public var pods: [KubernetesPod]
    public var networkPolicies: [NetworkPolicy]
    public var adminPolicies: [AdminNetworkPolicy]
    public var baselinePolicy: AdminNetworkPolicy?

    public init(namespaces: [KubernetesNamespace] = [], pods: [KubernetesPod] = [], networkPolicies: [NetworkPolicy] = [],
                adminPolicies: [AdminNetworkPolicy] = [], baselinePolicy: AdminNetworkPolicy? = nil) {
        self.namespaces = namespaces; self.pods = pods; self.networkPolicies = networkPolicies
        self.adminPolicies = adminPolicies; self.baselinePolicy = baselinePolicy
    }
}
