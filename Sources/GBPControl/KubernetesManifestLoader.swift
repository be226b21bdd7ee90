import Foundation
import GBPCore
import Yams

/// Reads Kubernetes manifests (YAML, several documents per file, `kind: List` too) into a
/// `KubernetesCluster`: Namespace and Pod (v1), NetworkPolicy (networking.k8s.io/v1),
/// AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1).
/// Other kinds are skipped with a note. Every problem is reported with file, line,
/// field and reason. Policy specs are read strictly (an unknown key is an error: a
/// misspelt field must not widen or narrow a policy unnoticed); metadata, pod specs and
/// status only for the fields that matter.
enum KubernetesManifestLoader {
    struct Result {
        var cluster = KubernetesCluster()
        var issues: [ConfigIssue] = []
        var notes: [String] = []
    }

    static func load(files: [String], into out: inout Result) {
        for file in files {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                out.issues.append(ConfigIssue(file: file, line: nil, field: "(file)", reason: "cannot be read: \(error.localizedDescription)"))
                continue
            }
            parse(text, file: file, into: &out)
        }
    }

    static func parse(_ text: String, file: String, into out: inout Result) {
        let r = ConfigReader(file: file)
        var docs: [Node] = []
        do {
            let parser = try Parser(yaml: text)
            while let n = try parser.nextRoot() { docs.append(n) }
        } catch {
            out.issues.append(ConfigLoader.yamlIssue(error, file: file)); return
        }
        var reader = KubernetesObjectReader(r: r, out: out)
        for (i, d) in docs.enumerated() { reader.object(d, "documents[\(i)]") }
        out = reader.out
        out.issues += r.issuesInFileOrder
    }
}

/// Reads one file's objects (AdminNetworkPolicy and BaselineAdminNetworkPolicy specs:
/// KubernetesManifestLoader-Admin.swift).
struct KubernetesObjectReader {
    let r: ConfigReader
    var out: KubernetesManifestLoader.Result

    static let kinds: [String: String] = [
        "Namespace": "v1", "Pod": "v1", "NetworkPolicy": "networking.k8s.io/v1",
        "AdminNetworkPolicy": "policy.networking.k8s.io/v1alpha1",
        "BaselineAdminNetworkPolicy": "policy.networking.k8s.io/v1alpha1",
    ]

    mutating func object(_ n: Node, _ f: String) {
        if case .scalar(let s) = n, s.string.isEmpty || s.string == "null" { return }   // an empty document
        guard let m = loose(n, f) else { return }
        guard let kind = m["kind"].flatMap({ r.nonEmptyString($0, "\(f).kind") }) else {
            if m["kind"] == nil { r.fail(n, "\(f).kind", "required key is missing") }
            return
        }
        let api = m["apiVersion"].flatMap { r.string($0, "\(f).apiVersion") }
        if kind == "List" {
            if let items = m["items"].flatMap({ r.sequence($0, "\(f).items") }) {
                for (i, item) in items.enumerated() { object(item, "\(f).items[\(i)]") }
            }
            return
        }
        guard let want = Self.kinds[kind] else { out.notes.append("\(r.file): \(f): kind \(kind) skipped"); return }
        if api != want {
            r.fail(m["apiVersion"] ?? n, "\(f).apiVersion", "\(kind) needs apiVersion \(want), got '\(api ?? "(none)")'")
            return
        }
        guard let meta = m["metadata"].flatMap({ loose($0, "\(f).metadata") }),
              let name = meta["name"].flatMap({ r.nonEmptyString($0, "\(f).metadata.name") }) else {
            if m["metadata"] == nil || (m["metadata"].flatMap { loose($0, "") }?["name"] == nil) { r.fail(n, "\(f).metadata.name", "required key is missing") }
            return
        }
        let namespace = meta["namespace"].flatMap { r.nonEmptyString($0, "\(f).metadata.namespace") } ?? "default"
        let labels = meta["labels"].map { stringMap($0, "\(f).metadata.labels") } ?? [:]
        let id = kind == "Namespace" || kind.hasSuffix("AdminNetworkPolicy") ? name : "\(namespace)/\(name)"
        let g = "\(kind)(\(id))"
        switch kind {
        case "Namespace":
            out.cluster.namespaces.append(KubernetesNamespace(name: name, labels: labels))
        case "Pod":
            let annotations = meta["annotations"].map { stringMap($0, "\(f).metadata.annotations") } ?? [:]
            pod(m, g, KubernetesPod(namespace: namespace, name: name, labels: labels, annotations: annotations))
        case "NetworkPolicy":
            guard let spec = m["spec"] else { r.fail(n, "\(g).spec", "required key is missing"); return }
            if let p = networkPolicy(spec, "\(g).spec", namespace: namespace, name: name) { out.cluster.networkPolicies.append(p) }
        default:
            guard let spec = m["spec"] else { r.fail(n, "\(g).spec", "required key is missing"); return }
            let baseline = kind == "BaselineAdminNetworkPolicy"
            if baseline && name != "default" {
                r.fail(meta["name"], "\(f).metadata.name", "a BaselineAdminNetworkPolicy must be named 'default' (there is one per cluster)")
                return
            }
            if baseline && out.cluster.baselinePolicy != nil { r.fail(n, g, "a second BaselineAdminNetworkPolicy (there is one per cluster)"); return }
            guard let p = adminPolicy(spec, "\(g).spec", name: name, baseline: baseline) else { return }
            if baseline { out.cluster.baselinePolicy = p } else { out.cluster.adminPolicies.append(p) }
        }
    }

    /// A mapping whose unknown keys are ignored. Keys set to null count as absent, as in Kubernetes.
    func loose(_ n: Node, _ f: String) -> [String: Node]? {
        r.note(n, f)
        guard case .mapping(let m) = n else { r.fail(n, f, "expected a mapping"); return nil }
        var out: [String: Node] = [:]
        for (k, v) in m where !Self.isNull(v) { if let key = k.string { out[key] = v; r.note(v, f.isEmpty ? key : "\(f).\(key)") } }
        return out
    }

    /// A mapping with only the keys given; keys set to null count as absent.
    func strict(_ n: Node, _ f: String, required: [String] = [], optional: [String] = []) -> [String: Node]? {
        r.mapping(n, f, required: required, optional: optional)?.filter { !Self.isNull($0.value) }
    }

    static func isNull(_ n: Node) -> Bool {
        guard case .scalar(let s) = n, s.style == .plain else { return false }
        return ["", "null", "~", "Null", "NULL"].contains(s.string)
    }

    func stringMap(_ n: Node, _ f: String) -> [String: String] {
        guard let m = loose(n, f) else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in m { if let s = r.string(v, "\(f).\(k)") { out[k] = s } }
        return out
    }

    // MARK: Pods

    mutating func pod(_ m: [String: Node], _ g: String, _ base: KubernetesPod) {
        var pod = base
        if let spec = m["spec"].flatMap({ loose($0, "\(g).spec") }) {
            if let h = spec["hostNetwork"], r.bool(h, "\(g).spec.hostNetwork") == true {
                out.notes.append("\(r.file): \(g): hostNetwork pod skipped (NetworkPolicy does not apply to it)"); return
            }
            for (c, cn) in (spec["containers"].flatMap { r.sequence($0, "\(g).spec.containers") } ?? []).enumerated() {
                let cf = "\(g).spec.containers[\(c)]"
                guard let cm = loose(cn, cf) else { continue }
                for (k, pn) in (cm["ports"].flatMap { r.sequence($0, "\(cf).ports") } ?? []).enumerated() {
                    let pf = "\(cf).ports[\(k)]"
                    guard let pm = loose(pn, pf) else { continue }
                    guard let portNode = pm["containerPort"] else { r.fail(pn, "\(pf).containerPort", "required key is missing"); continue }
                    guard let port = r.int(portNode, "\(pf).containerPort", in: 1...65535) else { continue }
                    let proto = pm["protocol"].map { protocolValue($0, "\(pf).protocol") } ?? .tcp
                    if let nameNode = pm["name"], let name = r.nonEmptyString(nameNode, "\(pf).name"), let proto {
                        pod.namedPorts.append(KubernetesNamedPort(name: name, proto: proto, port: port))
                    }
                }
            }
        }
        if let status = m["status"].flatMap({ loose($0, "\(g).status") }) {
            if let phase = status["phase"].flatMap({ r.string($0, "\(g).status.phase") }), phase == "Succeeded" || phase == "Failed" {
                out.notes.append("\(r.file): \(g): pod has terminated (phase \(phase)): skipped"); return
            }
            var texts: [(Node, String, String)] = []
            if let list = status["podIPs"].flatMap({ r.sequence($0, "\(g).status.podIPs") }) {
                for (i, item) in list.enumerated() {
                    if let im = loose(item, "\(g).status.podIPs[\(i)]"), let ipNode = im["ip"], let s = r.string(ipNode, "\(g).status.podIPs[\(i)].ip") {
                        texts.append((ipNode, "\(g).status.podIPs[\(i)].ip", s))
                    }
                }
            }
            if texts.isEmpty, let n = status["podIP"], let s = r.string(n, "\(g).status.podIP"), !s.isEmpty { texts.append((n, "\(g).status.podIP", s)) }
            for (n, f, s) in texts {
                if let ip = IPAddress(s) { if !pod.ips.contains(ip) { pod.ips.append(ip) } } else { r.fail(n, f, "'\(s)' is not an IPv4 or IPv6 address") }
            }
        }
        if out.cluster.pods.contains(where: { $0.id == pod.id }) { r.fail(nil, g, "pod \(pod.id) is defined twice"); return }
        out.cluster.pods.append(pod)
    }

    // MARK: NetworkPolicy

    func networkPolicy(_ n: Node, _ f: String, namespace: String, name: String) -> NetworkPolicy? {
        guard let m = strict(n, f, optional: ["podSelector", "policyTypes", "ingress", "egress"]) else { return nil }
        let before = r.issues.count
        var p = NetworkPolicy(namespace: namespace, name: name)
        if let s = m["podSelector"] { p.podSelector = selector(s, "\(f).podSelector") ?? .all }
        if let t = m["policyTypes"] {
            p.policyTypes = r.each(t, "\(f).policyTypes") { n, f in r.choice(n, f, [PolicyDirection.ingress, .egress]) }
        }
        p.ingress = r.each(m["ingress"], "\(f).ingress") { n, f in rule(n, f, peersKey: "from") }
        p.egress = r.each(m["egress"], "\(f).egress") { n, f in rule(n, f, peersKey: "to") }
        return r.issues.count == before ? p : nil
    }

    func rule(_ n: Node, _ f: String, peersKey: String) -> NetworkPolicyRule? {
        guard let m = strict(n, f, optional: [peersKey, "ports"]) else { return nil }
        return NetworkPolicyRule(peers: r.each(m[peersKey], "\(f).\(peersKey)", peer),
                                 ports: r.each(m["ports"], "\(f).ports", policyPort))
    }

    func peer(_ n: Node, _ f: String) -> NetworkPolicyPeer? {
        guard let m = strict(n, f, optional: ["podSelector", "namespaceSelector", "ipBlock"]) else { return nil }
        if m.isEmpty { r.fail(n, f, "a peer needs podSelector, namespaceSelector or ipBlock"); return nil }
        if m["ipBlock"] != nil && m.count > 1 { r.fail(n, f, "ipBlock cannot be combined with podSelector or namespaceSelector"); return nil }
        var p = NetworkPolicyPeer()
        if let s = m["podSelector"] { p.podSelector = selector(s, "\(f).podSelector") }
        if let s = m["namespaceSelector"] { p.namespaceSelector = selector(s, "\(f).namespaceSelector") }
        if let b = m["ipBlock"], let bm = strict(b, "\(f).ipBlock", required: ["cidr"], optional: ["except"]),
           let cidr = bm["cidr"].flatMap({ prefix($0, "\(f).ipBlock.cidr") }) {
            var block = IPBlock(cidr: cidr)
            for (i, e) in (bm["except"].flatMap { r.sequence($0, "\(f).ipBlock.except") } ?? []).enumerated() {
                guard let x = prefix(e, "\(f).ipBlock.except[\(i)]") else { continue }
                if !(cidr.contains(x) && x != cidr) {
                    r.fail(e, "\(f).ipBlock.except[\(i)]", "\(x) must be strictly inside cidr \(cidr)"); continue
                }
                block.except.append(x)
            }
            p.ipBlock = block
        }
        return p
    }

    func policyPort(_ n: Node, _ f: String) -> NetworkPolicyPort? {
        guard let m = strict(n, f, optional: ["protocol", "port", "endPort"]) else { return nil }
        var p = NetworkPolicyPort()
        if let v = m["protocol"] { guard let proto = protocolValue(v, "\(f).protocol") else { return nil }; p.proto = proto }
        if let v = m["port"], let s = r.string(v, "\(f).port") {
            if let num = Int(s) {
                guard (1...65535).contains(num) else { r.fail(v, "\(f).port", "\(num) is out of range 1...65535"); return nil }
                p.port = .number(num)
            } else if s.isEmpty {
                r.fail(v, "\(f).port", "must not be empty"); return nil
            } else {
                p.port = .named(s)
            }
        }
        if let v = m["endPort"] {
            guard let e = r.int(v, "\(f).endPort", in: 1...65535) else { return nil }
            guard case .number(let start) = p.port else { r.fail(v, "\(f).endPort", "endPort needs a numeric port"); return nil }
            guard e >= start else { r.fail(v, "\(f).endPort", "endPort \(e) is below port \(start)"); return nil }
            p.endPort = e
        }
        return p
    }

    func protocolValue(_ n: Node, _ f: String) -> KubernetesProtocol? {
        r.choice(n, f, [KubernetesProtocol.tcp, .udp, .sctp])
    }

    /// A CIDR as Kubernetes accepts it: host bits are cleared.
    func prefix(_ n: Node, _ f: String) -> IPPrefix? {
        guard let s = r.string(n, f) else { return nil }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPAddress(parts[0]) else { r.fail(n, f, "'\(s)' is not a CIDR (10.0.0.0/8, fd00::/8)"); return nil }
        let v4 = !parts[0].contains(":")
        guard let len = Int(parts[1]), (0...(v4 ? 32 : 128)).contains(len) else {
            r.fail(n, f, "prefix length '\(parts[1])' is not in 0...\(v4 ? 32 : 128)"); return nil
        }
        return IPPrefix(address: a, length: v4 ? len + 96 : len)
    }

    func selector(_ n: Node, _ f: String) -> LabelSelector? {
        if case .scalar(let s) = n, s.string.isEmpty || s.string == "null" { return .all }
        guard let m = strict(n, f, optional: ["matchLabels", "matchExpressions"]) else { return nil }
        var sel = LabelSelector()
        if let l = m["matchLabels"] { sel.matchLabels = stringMap(l, "\(f).matchLabels") }
        sel.matchExpressions = r.each(m["matchExpressions"], "\(f).matchExpressions") { n, f in
            guard let em = strict(n, f, required: ["key", "operator"], optional: ["values"]),
                  let key = em["key"].flatMap({ r.nonEmptyString($0, "\(f).key") }),
                  let op = em["operator"].flatMap({ r.choice($0, "\(f).operator", LabelSelector.Operator.allCases) }) else { return nil }
            let values = em["values"].flatMap { r.stringList($0, "\(f).values") } ?? []
            let needsValues = op == .in || op == .notIn
            if needsValues && values.isEmpty {
                r.fail(n, "\(f).values", "operator \(op.rawValue) needs at least one value"); return nil
            }
            if !needsValues && !values.isEmpty {
                r.fail(em["values"], "\(f).values", "operator \(op.rawValue) takes no values"); return nil
            }
            return LabelSelector.Requirement(key: key, op: op, values: values)
        }
        return sel
    }
}
