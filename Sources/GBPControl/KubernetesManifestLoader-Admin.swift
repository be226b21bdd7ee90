import GBPCore
import Yams

/// AdminNetworkPolicy and BaselineAdminNetworkPolicy specs (policy.networking.k8s.io/v1alpha1).
extension KubernetesObjectReader {
    func adminPolicy(_ n: Node, _ f: String, name: String, baseline: Bool) -> AdminNetworkPolicy? {
        guard let m = strict(n, f, required: (baseline ? [] : ["priority"]) + ["subject"], optional: ["ingress", "egress"]) else { return nil }
        let before = r.issues.count
        let priority = baseline ? nil : m["priority"].flatMap { r.int($0, "\(f).priority", in: 0...1000) }
        guard let subject = m["subject"].flatMap({ podSelection($0, "\(f).subject", podsKey: "pods", namespacesKey: "namespaces") }) else { return nil }
        let actions: [AdminPolicyAction] = baseline ? [.allow, .deny] : [.allow, .deny, .pass]
        let ingress = r.each(m["ingress"], "\(f).ingress") { n, f in adminRule(n, f, peersKey: "from", actions: actions, egress: false) }
        let egress = r.each(m["egress"], "\(f).egress") { n, f in adminRule(n, f, peersKey: "to", actions: actions, egress: true) }
        guard r.issues.count == before else { return nil }
        return AdminNetworkPolicy(name: name, priority: baseline ? nil : priority ?? 0, subject: subject, ingress: ingress, egress: egress)
    }

    /// `{namespaces: selector}` or `{pods: {namespaceSelector, podSelector}}`.
    func podSelection(_ n: Node, _ f: String, podsKey: String, namespacesKey: String) -> AdminPodSelection? {
        guard let m = strict(n, f, optional: [namespacesKey, podsKey]) else { return nil }
        guard m.count == 1 else { r.fail(n, f, "exactly one of \(namespacesKey) or \(podsKey) is needed"); return nil }
        if let ns = m[namespacesKey] { return selector(ns, "\(f).\(namespacesKey)").map { AdminPodSelection(namespaceSelector: $0) } }
        guard let pm = strict(m[podsKey]!, "\(f).\(podsKey)", required: ["namespaceSelector", "podSelector"]),
              let ns = selector(pm["namespaceSelector"]!, "\(f).\(podsKey).namespaceSelector"),
              let ps = selector(pm["podSelector"]!, "\(f).\(podsKey).podSelector") else { return nil }
        return AdminPodSelection(namespaceSelector: ns, podSelector: ps)
    }

    func adminRule(_ n: Node, _ f: String, peersKey: String, actions: [AdminPolicyAction], egress: Bool) -> AdminPolicyRule? {
        guard let m = strict(n, f, required: ["action", peersKey], optional: ["name", "ports"]) else { return nil }
        let name = m["name"].flatMap { r.string($0, "\(f).name") } ?? ""
        guard let action = m["action"].flatMap({ r.choice($0, "\(f).action", actions) }) else { return nil }
        let peers: [AdminPeer] = r.each(m[peersKey], "\(f).\(peersKey)") { n, f in
            let keys = ["namespaces", "pods"] + (egress ? ["nodes", "networks"] : [])
            guard let pm = strict(n, f, optional: keys) else { return nil }
            guard pm.count == 1 else { r.fail(n, f, "exactly one of \(keys.joined(separator: ", ")) is needed"); return nil }
            if pm["nodes"] != nil { return .nodes }
            if let nets = pm["networks"] {
                return .networks(r.each(nets, "\(f).networks") { n, f in prefix(n, f) })
            }
            return podSelection(n, f, podsKey: "pods", namespacesKey: "namespaces").map { .pods($0) }
        }
        if case .sequence(let s)? = m[peersKey], s.isEmpty { r.fail(m[peersKey], "\(f).\(peersKey)", "at least one peer is needed") }
        var ports: [AdminPort]?
        if let pl = m["ports"] {
            ports = r.each(pl, "\(f).ports") { n, f in
                guard let pm = strict(n, f, optional: ["portNumber", "portRange", "namedPort"]) else { return nil }
                guard pm.count == 1 else { r.fail(n, f, "exactly one of portNumber, portRange or namedPort is needed"); return nil }
                if let v = pm["namedPort"] { return r.nonEmptyString(v, "\(f).namedPort").map { .named($0) } }
                if let v = pm["portNumber"] {
                    guard let x = strict(v, "\(f).portNumber", required: ["port"], optional: ["protocol"]),
                          let port = x["port"].flatMap({ r.int($0, "\(f).portNumber.port", in: 1...65535) }) else { return nil }
                    let proto = x["protocol"].map { protocolValue($0, "\(f).portNumber.protocol") } ?? .tcp
                    return proto.map { .number($0, port) }
                }
                guard let x = strict(pm["portRange"]!, "\(f).portRange", required: ["start", "end"], optional: ["protocol"]),
                      let a = x["start"].flatMap({ r.int($0, "\(f).portRange.start", in: 1...65535) }),
                      let b = x["end"].flatMap({ r.int($0, "\(f).portRange.end", in: 1...65535) }) else { return nil }
                guard a < b else { r.fail(x["end"], "\(f).portRange.end", "end \(b) must be greater than start \(a)"); return nil }
                let proto = x["protocol"].map { protocolValue($0, "\(f).portRange.protocol") } ?? .tcp
                return proto.map { .range($0, a, b) }
            }
        }
        return AdminPolicyRule(name: name, action: action, peers: peers, ports: ports)
    }
}
