/// Why a packet would pass or not, in names: for `gbpctl explain` and logs. Off the hot path.
public struct Explanation: Sendable, CustomStringConvertible {
    public var verdict: Verdict
    public var tenant: String
    /// "endpoint web-1 (group web)", "external group internet", or "unknown 10.9.9.9".
    public var source: String
    public var destination: String
    public var contract: String?
    public var rule: String?
    /// One sentence: what decided and why.
    public var summary: String

    public var description: String {
        "\(verdict.allowed ? "ALLOW" : "DROP") \(source) -> \(destination) in tenant \(tenant): \(summary)"
    }
}

/// What to explain between two named endpoints.
public struct ExplainQuery: Sendable {
    public var tenant: String
    public var source: String
    public var destination: String
    /// IP protocol number (6 tcp, 17 udp, 132 sctp, 1 icmp, 58 icmpv6, ...).
    public var ipProto: UInt8
    public var srcPort: UInt16
    public var dstPort: UInt16
    public var icmpType: UInt8
    public var icmpCode: UInt8
    /// Use the endpoints' IPv6 addresses rather than IPv4.
    public var ipv6: Bool

    public init(tenant: String, source: String, destination: String, ipProto: UInt8, srcPort: UInt16 = 40000,
                dstPort: UInt16 = 0, icmpType: UInt8 = 0, icmpCode: UInt8 = 0, ipv6: Bool = false) {
        self.tenant = tenant; self.source = source; self.destination = destination; self.ipProto = ipProto
        self.srcPort = srcPort; self.dstPort = dstPort; self.icmpType = icmpType; self.icmpCode = icmpCode
        self.ipv6 = ipv6
    }
}

public enum ExplainError: Error, Equatable, CustomStringConvertible {
    case unknownTenant(String)
    case unknownEndpoint(String)
    case noAddress(endpoint: String, ipv6: Bool)

    public var description: String {
        switch self {
        case .unknownTenant(let t): "unknown tenant \"\(t)\""
        case .unknownEndpoint(let e): "unknown endpoint \"\(e)\""
        case .noAddress(let e, let v6): "endpoint \"\(e)\" has no \(v6 ? "IPv6" : "IPv4") address"
        }
    }
}

extension CompiledPolicy {
    /// Explains the verdict for `fields` in tenant `tenant` (an id of `names`).
    public func explain(tenant: UInt16, fields: PacketFields, names: PolicyNames) -> Explanation {
        let v = classify(tenant: tenant, fields: fields)
        let ip = fields.kind == .ipv4 || fields.kind == .ipv6
        func side(_ addr: IPAddress, _ mac: MACAddress) -> String {
            let m = ip ? resolve(tenant: tenant, ip: addr) : endpoints.lookup(tenant: tenant, mac: mac)
            guard let m else { return "unknown \(ip ? addr.description : mac.description)" }
            let g = names.groupName(m.group) ?? "#\(m.group)"
            if m.isEndpoint { return "endpoint \(names.endpoints[Int(m.endpoint)]) (group \(g))" }
            return "external group \(g) (\(addr))"
        }
        let src = side(fields.src, fields.srcMAC)
        let dst = side(fields.dst, fields.dstMAC)
        let contractName = v.contract == CompiledPolicy.noContract ? nil : names.contractName(v.contract)
        let ruleName = v.decidedByRule ? names.ruleName(v.rule) : nil
        let sg = names.groupName(v.srcGroup) ?? "?", dg = names.groupName(v.dstGroup) ?? "?"
        let summary: String
        if let ruleName, v.decidedByRule {
            let r = rule(v.rule)
            summary = "\(r.allow ? "allowed" : "denied") by rule \(ruleName) of contract \(contractName ?? "?") (priority \(r.priority)\(r.log ? ", logged" : ""))"
        } else if v.allowed {
            summary = "allowed: same group \(sg), no contract rule matches, intra_group allow"
        } else {
            switch v.reason {
            case .unknownSource?: summary = "denied: the source is no endpoint and in no external group of the tenant"
            case .unknownDestination?: summary = "denied: the destination is no endpoint and in no external group of the tenant"
            case .externalDenied?: summary = "denied: both sides are external"
            case .intraGroupDenied?: summary = "denied: same group \(sg), no contract rule matches, intra_group deny"
            case .noContract?: summary = "denied: no contract rule from \(sg) to \(dg) matches"
            default: summary = "denied: \(v.reason?.name ?? "?")"
            }
        }
        return Explanation(verdict: v, tenant: names.tenants.indices.contains(Int(tenant)) ? names.tenants[Int(tenant)] : "#\(tenant)",
                           source: src, destination: dst, contract: contractName, rule: ruleName, summary: summary)
    }

    /// Explains a packet between two named endpoints of `spec` (the spec this snapshot was compiled from).
    public func explain(_ q: ExplainQuery, spec: PolicySpec, names: PolicyNames) -> Result<Explanation, ExplainError> {
        guard let t = names.tenantID(q.tenant) else { return .failure(.unknownTenant(q.tenant)) }
        func address(_ name: String) -> Result<EndpointSpec, ExplainError> {
            guard let id = names.endpointID(tenant: q.tenant, endpoint: name) else { return .failure(.unknownEndpoint(name)) }
            return .success(spec.endpoints[Int(id)])
        }
        let s: EndpointSpec, d: EndpointSpec
        switch (address(q.source), address(q.destination)) {
        case (.failure(let e), _), (_, .failure(let e)): return .failure(e)
        case (.success(let a), .success(let b)): s = a; d = b
        }
        guard let sip = s.ips.first(where: { $0.isIPv4 != q.ipv6 }) else { return .failure(.noAddress(endpoint: s.name, ipv6: q.ipv6)) }
        guard let dip = d.ips.first(where: { $0.isIPv4 != q.ipv6 }) else { return .failure(.noAddress(endpoint: d.name, ipv6: q.ipv6)) }
        var f = PacketFields()
        f.kind = q.ipv6 ? .ipv6 : .ipv4
        f.etherType = q.ipv6 ? 0x86DD : 0x0800
        f.srcMAC = s.mac; f.dstMAC = d.mac
        f.src = sip; f.dst = dip
        f.ipProto = q.ipProto
        f.srcPort = q.srcPort; f.dstPort = q.dstPort
        f.icmpType = q.icmpType; f.icmpCode = q.icmpCode
        return .success(explain(tenant: t, fields: f, names: names))
    }
}
