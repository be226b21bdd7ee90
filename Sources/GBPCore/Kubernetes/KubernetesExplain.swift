/// `gbpctl explain` in Kubernetes terms: which policy and rule decide a connection.
public struct KubernetesExplanation: Sendable, CustomStringConvertible {
    public var source: String
    public var destination: String
    /// "tcp/80", "udp/53", "icmp".
    public var traffic: String
    public var decision: KubernetesEvaluator.Decision

    public var description: String {
        var lines = ["\(decision.allowed ? "ALLOW" : "DENY") \(source) -> \(destination) \(traffic)"]
        if decision.toItself { lines.append("  a pod can always reach itself") }
        lines.append("  " + decision.egress.sentence + " (source \(source))")
        lines.append("  " + decision.ingress.sentence + " (destination \(destination))")
        return lines.joined(separator: "\n")
    }
}

public enum KubernetesExplainError: Error, Equatable, CustomStringConvertible {
    case unknownPeer(String)
    public var description: String {
        switch self {
        case .unknownPeer(let p): "\"\(p)\" is neither a pod (namespace/name) nor an IP address"
        }
    }
}

extension KubernetesEvaluator {
    /// A pod "namespace/name", a pod's address, or an address outside the cluster.
    public func endpoint(_ text: String) -> Endpoint? {
        if let i = pod(text) { return .pod(i) }
        guard let ip = IPAddress(text) else { return nil }
        if let i = cluster.pods.firstIndex(where: { $0.ips.contains(ip) }) { return .pod(i) }
        return .address(IPPrefix(address: ip, length: 128))
    }

    /// Explains traffic of IP protocol `ipProto` to destination port `port` (ignored unless
    /// TCP, UDP or SCTP).
    public func explain(from: String, to: String, ipProto: UInt8, port: Int) -> Result<KubernetesExplanation, KubernetesExplainError> {
        guard let s = endpoint(from) else { return .failure(.unknownPeer(from)) }
        guard let d = endpoint(to) else { return .failure(.unknownPeer(to)) }
        let proto = KubernetesProtocol(ipProtocolNumber: ipProto)
        let text = proto.map { "\($0.rawValue.lowercased())/\(port)" } ?? (ipProto == 1 ? "icmp" : ipProto == 58 ? "icmpv6" : "ip protocol \(ipProto)")
        return .success(KubernetesExplanation(source: from, destination: to, traffic: text,
                                              decision: decide(from: s, to: d, .init(proto, port))))
    }
}
