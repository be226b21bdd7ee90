import Foundation

/// A CNI result: what the IPAM plugin returns and what gbp-cni prints after ADD.
/// Versions 0.3.0 to 1.0.0 share this shape; before 1.0.0 every ip has a "version".
public struct CNIResult: Equatable {
    public struct IP: Equatable {
        /// "10.89.0.5/24"
        public var address: String
        public var gateway: String?
        /// Index into `interfaces`, when the result says.
        public var interface: Int? = nil
        public var isIPv6: Bool { address.contains(":") }
        /// The address without its prefix length.
        public var host: String { String(address.split(separator: "/").first ?? "") }
        public var prefixLength: Int? { address.split(separator: "/").dropFirst().first.flatMap { Int($0) } }
    }
    public struct Route: Equatable {
        public var dst: String
        public var gw: String?
    }
    public struct Interface: Equatable {
        public var name: String
        public var mac: String
        public var sandbox: String?
    }

    public var interfaces: [Interface] = []
    public var ips: [IP] = []
    public var routes: [Route] = []
    /// Passed through from IPAM as it came.
    public var dns: [String: AnyHashable] = [:]

    public init() {}

    /// Reads a result (the IPAM plugin's, or prevResult).
    public static func parse(_ o: [String: Any], what: String) throws(CNIError) -> CNIResult {
        var r = CNIResult()
        for (i, ip) in ((o["ips"] as? [[String: Any]]) ?? []).enumerated() {
            guard let a = ip["address"] as? String, a.contains("/") else {
                throw CNIError(.decodeFailure, "\(what): ips[\(i)] has no \"address\" ADDRESS/PREFIX")
            }
            r.ips.append(IP(address: a, gateway: ip["gateway"] as? String, interface: (ip["interface"] as? NSNumber)?.intValue))
        }
        for (i, rt) in ((o["routes"] as? [[String: Any]]) ?? []).enumerated() {
            guard let d = rt["dst"] as? String else { throw CNIError(.decodeFailure, "\(what): routes[\(i)] has no \"dst\"") }
            r.routes.append(Route(dst: d, gw: rt["gw"] as? String))
        }
        for i in (o["interfaces"] as? [[String: Any]]) ?? [] {
            r.interfaces.append(Interface(name: i["name"] as? String ?? "", mac: i["mac"] as? String ?? "", sandbox: i["sandbox"] as? String))
        }
        if let d = o["dns"] as? [String: Any] { r.dns = d.compactMapValues { $0 as? AnyHashable } }
        return r
    }

    /// The gateway of a route: its own, else the gateway of the first address of its family.
    public func gateway(for route: Route) -> String? {
        if let g = route.gw { return g }
        let v6 = route.dst.contains(":")
        return ips.first { $0.isIPv6 == v6 && $0.gateway != nil }?.gateway
    }

    /// The result as printed for `cniVersion`. The ips belong to interface `ipInterface`.
    public func json(cniVersion: String, ipInterface: Int?) -> [String: Any] {
        let versioned = CNIVersion.ipsCarryVersion(cniVersion)
        var o: [String: Any] = ["cniVersion": cniVersion]
        o["interfaces"] = interfaces.map { i -> [String: Any] in
            var d: [String: Any] = ["name": i.name, "mac": i.mac]
            if let s = i.sandbox { d["sandbox"] = s }
            return d
        }
        o["ips"] = ips.map { ip -> [String: Any] in
            var d: [String: Any] = ["address": ip.address]
            if let g = ip.gateway { d["gateway"] = g }
            if let n = ipInterface { d["interface"] = n }
            if versioned { d["version"] = ip.isIPv6 ? "6" : "4" }
            return d
        }
        o["routes"] = routes.map { r -> [String: Any] in
            var d: [String: Any] = ["dst": r.dst]
            if let g = r.gw { d["gw"] = g }
            return d
        }
        o["dns"] = dns
        return o
    }
}
