import GBPCore

/// `gbpctl explain` with an address on one side (`--from 192.168.2.5 --to x/a`), for
/// ipBlocks and outside peers: the packet the compiled tables are asked about.
enum KubernetesExplainFields {
    /// Fields for `q` where a side is an IP address (a pod's or an outside one) rather
    /// than an endpoint name; nil when a side is neither.
    static func fields(_ q: ExplainQuery, spec: PolicySpec) -> PacketFields? {
        let literal = [q.source, q.destination].compactMap { IPAddress($0) }.first
        let v6 = literal.map { !$0.isIPv4 } ?? q.ipv6
        func side(_ text: String) -> (IPAddress, MACAddress)? {
            if let e = spec.endpoints.first(where: { $0.tenant == q.tenant && $0.name == text }) {
                return e.ips.first { $0.isIPv4 != v6 }.map { ($0, e.mac) }
            }
            guard let ip = IPAddress(text), ip.isIPv4 != v6 else { return nil }
            let mac = spec.endpoints.first { $0.tenant == q.tenant && $0.ips.contains(ip) }?.mac ?? .zero
            return (ip, mac)
        }
        guard let s = side(q.source), let d = side(q.destination) else { return nil }
        var f = PacketFields()
        f.kind = v6 ? .ipv6 : .ipv4
        f.etherType = v6 ? 0x86DD : 0x0800
        f.src = s.0; f.srcMAC = s.1; f.dst = d.0; f.dstMAC = d.1
        f.ipProto = q.ipProto
        f.srcPort = q.srcPort; f.dstPort = q.dstPort
        f.icmpType = q.icmpType; f.icmpCode = q.icmpCode
        return f
    }
}
