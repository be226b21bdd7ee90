/// gbpd's runtime ports over its control socket (ControlProtocol.swift):
/// ports.add, ports.remove, ports.list and endpoints.list.
struct GBPDPorts {
    let socket: String

    struct Endpoint {
        var name: String
        var group: String
        var mac: String
        var ips: [String]
    }

    private func call(_ request: [String: Any], doing: String) throws(CNIError) -> [String: Any] {
        let answer: [String: Any]
        do {
            answer = try ControlClient(path: socket, timeout: 30).call(request)
        } catch {
            // ControlClient speaks as gbpctl; here the message is gbp-cni's.
            var why = error.description
            if why.hasPrefix("gbpctl: ") { why.removeFirst("gbpctl: ".count) }
            throw CNIError(.tryAgainLater, "\(doing): \(why)",
                           details: "gbp-cni attaches containers to a running gbpd: start gbpd, or set \"socket\" in the network config to its control socket")
        }
        guard answer[ControlProtocol.Key.ok] as? Bool == true else {
            let error = answer[ControlProtocol.Key.error] as? String ?? "gbpd refused the request"
            let errors = answer[ControlProtocol.Key.errors] as? [String] ?? []
            throw CNIError(.gbpdRefused, "\(doing): gbpd: \(error)", details: errors.joined(separator: "; "))
        }
        return answer
    }

    /// Adds the af_packet port of the veth's host end, with the container's endpoint on it.
    func add(port: String, devargs: String, tenant: String, endpoint: Endpoint) throws(CNIError) {
        let e: [String: Any] = ["name": endpoint.name, "group": endpoint.group, "mac": endpoint.mac, "ips": endpoint.ips]
        _ = try call(["cmd": "ports.add", "port": ["name": port, "devargs": devargs, "tenant": tenant], "endpoint": e],
                     doing: "adding port \(port) with endpoint \(endpoint.name) (tenant \(tenant), group \(endpoint.group)) to gbpd at \(socket)")
    }

    /// Removes the port and its endpoints; false when gbpd had no such port.
    @discardableResult
    func remove(port: String) throws(CNIError) -> Bool {
        do {
            _ = try call(["cmd": "ports.remove", "name": port], doing: "removing port \(port) from gbpd at \(socket)")
            return true
        } catch let e where e.code == CNIError.Code.gbpdRefused.rawValue && e.msg.contains(": gbpd: no port named") {
            return false
        }
    }

    func ports() throws(CNIError) -> [[String: Any]] {
        try call(["cmd": "ports.list"], doing: "listing gbpd's ports at \(socket)")["ports"] as? [[String: Any]] ?? []
    }

    func endpoints(tenant: String) throws(CNIError) -> [[String: Any]] {
        try call(["cmd": "endpoints.list", "tenant": tenant], doing: "listing gbpd's endpoints at \(socket)")["endpoints"] as? [[String: Any]] ?? []
    }
}
