import Foundation

/// The network configuration on standard input (one plugin entry of a .conflist, as the
/// runtime hands it over), with gbp-cni's keys:
///
///     { "cniVersion": "1.0.0", "name": "gbp-frontend", "type": "gbp-cni",
///       "socket": "/run/gbpd/gbpd.sock",   // gbpd's control socket (this is the default)
///       "tenant": "pods", "group": "frontend",
///       "mtu": 1500,                       // optional
///       "af_packet_args": "framecnt=512",  // optional: appended to the port's devargs
///       "log_file": "/var/log/gbp-cni.log",// optional: one line per call
///       "ipam": { "type": "host-local", ... } }
///
/// Keys the runtime adds (prevResult, runtimeConfig, args, capabilities...) are read
/// where they matter and otherwise left alone.
public struct NetworkConfig {
    public var cniVersion: String
    public var name: String
    public var socket: String
    public var tenant: String?
    public var group: String?
    public var mtu: Int?
    public var afPacketArgs: String?
    public var logFile: String?
    /// The ipam section as given (its `type` names the plugin to run).
    public var ipam: [String: Any]?
    public var prevResult: [String: Any]?
    /// Labels from `args.cni.labels` ([{key, value}], CNI conventions) and the pod
    /// annotations a runtime passes in `runtimeConfig["io.kubernetes.cri.pod-annotations"]`.
    public var labels: [String: String]
    /// The bytes read, passed unchanged to the IPAM plugin.
    public var raw: Data

    public static let defaultSocket = "/run/gbpd/gbpd.sock"
    /// The labels or annotations that pick the endpoint group and tenant.
    public static let groupLabel = "gbp/group"
    public static let tenantLabel = "gbp/tenant"

    public var ipamType: String? { ipam?["type"] as? String }

    /// Only `cniVersion`: what VERSION reads, and the version for an error object when
    /// the rest of the config is bad.
    public static func version(of data: Data) -> String? {
        ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["cniVersion"] as? String
    }

    public static func parse(_ data: Data) throws(CNIError) -> NetworkConfig {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw CNIError(.decodeFailure, "the network config on standard input is not JSON",
                           details: String(describing: error))
        }
        guard let o = any as? [String: Any] else {
            throw CNIError(.decodeFailure, "the network config on standard input is not a JSON object")
        }
        func string(_ key: String, required: Bool = false) throws(CNIError) -> String? {
            guard let v = o[key] else {
                if required { throw CNIError(.invalidNetworkConfig, "network config has no \"\(key)\"", details: "add \"\(key)\" to the plugin's entry in the .conflist") }
                return nil
            }
            guard let s = v as? String, !s.isEmpty else {
                throw CNIError(.invalidNetworkConfig, "network config key \"\(key)\" must be a non-empty string")
            }
            return s
        }
        let version = try string("cniVersion", required: true)!
        var c = NetworkConfig(cniVersion: version, name: try string("name", required: true)!,
                              socket: try string("socket") ?? defaultSocket, tenant: try string("tenant"),
                              group: try string("group"), mtu: nil, afPacketArgs: try string("af_packet_args"),
                              logFile: try string("log_file"), ipam: nil, prevResult: nil, labels: [:], raw: data)
        if let v = o["mtu"] {
            guard let n = (v as? NSNumber)?.intValue, n >= 68, n <= 65535, !(v is Bool) else {
                throw CNIError(.invalidNetworkConfig, "network config key \"mtu\" must be a number from 68 to 65535")
            }
            c.mtu = n
        }
        if let v = o["ipam"] {
            guard let d = v as? [String: Any] else { throw CNIError(.invalidNetworkConfig, "network config key \"ipam\" must be an object") }
            c.ipam = d
        }
        if let v = o["prevResult"] {
            guard let d = v as? [String: Any] else { throw CNIError(.invalidNetworkConfig, "\"prevResult\" must be an object") }
            c.prevResult = d
        }
        if let args = o["args"] as? [String: Any], let cni = args["cni"] as? [String: Any],
           let labels = cni["labels"] as? [[String: Any]] {
            for l in labels { if let k = l["key"] as? String, let v = l["value"] as? String { c.labels[k] = v } }
        }
        if let rc = o["runtimeConfig"] as? [String: Any],
           let annotations = rc["io.kubernetes.cri.pod-annotations"] as? [String: Any] {
            for (k, v) in annotations { if let s = v as? String { c.labels[k] = s } }
        }
        if let s = c.afPacketArgs, s.contains(where: { $0 == " " || $0 == "\n" }) || s.hasPrefix(",") {
            throw CNIError(.invalidNetworkConfig, "\"af_packet_args\" \"\(s)\" must be devargs like \"framecnt=512,blocksz=4096\"")
        }
        return c
    }

    /// The endpoint group: CNI_ARGS GBP_GROUP, then the gbp/group label or annotation,
    /// then the config's `group`.
    public func group(env: CNIEnvironment) throws(CNIError) -> String {
        if let g = env.arg("GBP_GROUP"), !g.isEmpty { return g }
        if let g = labels[Self.groupLabel], !g.isEmpty { return g }
        if let g = group { return g }
        throw CNIError(.invalidNetworkConfig, "network \"\(name)\" names no endpoint group",
                       details: "add \"group\" to the plugin's entry in the .conflist, or pass GBP_GROUP=<group> in CNI_ARGS")
    }

    /// The tenant, required by ADD and CHECK: CNI_ARGS GBP_TENANT, then the gbp/tenant
    /// label or annotation, then the config's `tenant`.
    public func tenant(env: CNIEnvironment) throws(CNIError) -> String {
        if let t = env.arg("GBP_TENANT"), !t.isEmpty { return t }
        if let t = labels[Self.tenantLabel], !t.isEmpty { return t }
        if let t = tenant { return t }
        throw CNIError(.invalidNetworkConfig, "network \"\(name)\" names no tenant",
                       details: "add \"tenant\": \"<a tenant of gbpd's config>\" to the plugin's entry in the .conflist, or pass GBP_TENANT=<tenant> in CNI_ARGS")
    }

    /// The IPAM plugin's name, required by ADD and CHECK.
    public func requireIPAMType() throws(CNIError) -> String {
        guard let t = ipamType, !t.isEmpty else {
            throw CNIError(.invalidNetworkConfig, "network \"\(name)\" has no \"ipam\" with a \"type\"",
                           details: "gbp-cni delegates addresses to an IPAM plugin: add e.g. \"ipam\": {\"type\": \"host-local\", \"ranges\": [[{\"subnet\": \"10.89.0.0/24\", \"gateway\": \"10.89.0.1\"}]], \"routes\": [{\"dst\": \"0.0.0.0/0\"}]}")
        }
        guard !t.contains("/") && t != "." && t != ".." else {
            throw CNIError(.invalidNetworkConfig, "ipam type \"\(t)\" must be a plugin name, not a path")
        }
        return t
    }
}
