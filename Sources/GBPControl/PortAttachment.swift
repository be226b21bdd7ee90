import Foundation
import Yams

/// A port added over the control socket (`ports.add`), with the endpoint behind it.
///
/// Runtime ports are not written to the config file: they are added to every reading of
/// it (socket edits and reloads alike) until `ports.remove`, so that a reload of the file
/// keeps the containers attached since. They are checked exactly like the file's ports
/// and endpoints. They end with gbpd: a restart starts from the file's ports.
struct PortAttachment {
    var name: String
    /// The element of `ports` (keys of the config file: name, devargs, tenant, role).
    var port: Node
    /// The element of `endpoints`, its `port` (and `tenant`, when not given) the port's.
    var endpoint: Node?

    /// From the objects of a `ports.add` request.
    static func from(port: Any?, endpoint: Any?) -> Result<PortAttachment, ConfigDocument.EditError> {
        guard let p = port as? [String: Any] else {
            return .failure(.init(message: "ports.add needs \"port\": {name, devargs, tenant} (the keys of a ports element of the config file)"))
        }
        guard let name = p["name"] as? String, !name.isEmpty else { return .failure(.init(message: "the port has no name")) }
        guard let portNode = ConfigDocument.node(fromJSON: p) else {
            return .failure(.init(message: "the port is not a JSON object of strings, numbers, booleans and lists"))
        }
        var endpointNode: Node?
        if let e = endpoint {
            guard var o = e as? [String: Any] else { return .failure(.init(message: "\"endpoint\" is not a JSON object")) }
            if let other = o["port"] as? String, other != name {
                return .failure(.init(message: "the endpoint names port '\(other)', not the port being added ('\(name)')"))
            }
            o["port"] = name
            if o["tenant"] == nil, let t = p["tenant"] { o["tenant"] = t }
            guard let n = ConfigDocument.node(fromJSON: o) else {
                return .failure(.init(message: "the endpoint is not a JSON object of strings, numbers, booleans and lists"))
            }
            endpointNode = n
        }
        return .success(PortAttachment(name: name, port: portNode, endpoint: endpointNode))
    }

    /// `root` with `attachments` appended to its `ports` and `endpoints` lists, and where
    /// the attachments start in each (to name their problems). nil when `root` is not a
    /// mapping or those keys are not lists: the reader reports that as it is.
    static func splice(_ attachments: [PortAttachment], into root: Node) -> (root: Node, ports: Int, endpoints: Int)? {
        guard !attachments.isEmpty, case .mapping(var top) = root else { return nil }
        var ports = Node.Sequence([]), endpoints = Node.Sequence([])
        if let p = top["ports"] { guard case .sequence(let s) = p else { return nil }; ports = s }
        if let e = top["endpoints"] { guard case .sequence(let s) = e else { return nil }; endpoints = s }
        let (portBase, endpointBase) = (ports.count, endpoints.count)
        for a in attachments {
            ports.append(a.port)
            if let e = a.endpoint { endpoints.append(e) }
        }
        top["ports"] = .sequence(ports)
        top["endpoints"] = .sequence(endpoints)
        return (.mapping(top), portBase, endpointBase)
    }

    /// `issue` with a field of an attachment (`ports[7].tenant`) named after its port
    /// (`runtime port 'c1'.tenant`), since it has no line in the file.
    static func rename(_ issue: ConfigIssue, _ attachments: [PortAttachment], ports: Int, endpoints: Int) -> ConfigIssue {
        var out = issue
        let withEndpoint = attachments.filter { $0.endpoint != nil }
        for (list, base, what, names) in [("ports", ports, "runtime port", attachments.map(\.name)),
                                          ("endpoints", endpoints, "endpoint of runtime port", withEndpoint.map(\.name))] {
            guard issue.field.hasPrefix(list + "["), let close = issue.field.firstIndex(of: "]"),
                  let i = Int(issue.field[issue.field.index(issue.field.startIndex, offsetBy: list.count + 1)..<close]),
                  i >= base, i - base < names.count else { continue }
            out.field = "\(what) '\(names[i - base])'" + issue.field[issue.field.index(after: close)...]
            out.line = nil
        }
        return out
    }
}
