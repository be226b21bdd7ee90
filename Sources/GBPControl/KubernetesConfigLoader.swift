import Foundation
import GBPCore
import GBPRuntime
import Yams

/// The `kubernetes` key of the config: Kubernetes manifests as the policy.
///
///     kubernetes:
///       manifests: [k8s/cluster.yaml, k8s/policies]   # files or folders (*.yaml, *.yml), relative to the config file
///       tenant: k8s                                  # optional, the tenant the pods are put in
///
/// Each pod with an address becomes an endpoint named `namespace/name` behind the port
/// its annotation `gbp.dataplane/port` names, or else the port named `namespace-name`,
/// or else `name`; its MAC is the annotation `gbp.dataplane/mac`, or else 0a:58 followed
/// by the four bytes of its IPv4 address (the last four of its IPv6 address). Pods with
/// no address or no such port are left out with a note. The policy is compiled by
/// `KubernetesCompiler` and checked by `Policy.validate` like a written one.
enum KubernetesConfigLoader {
    static let portAnnotation = "gbp.dataplane/port"
    static let macAnnotation = "gbp.dataplane/mac"
    /// Keys that a config with `kubernetes` cannot have: the policy comes from the manifests.
    static let exclusiveKeys = ["tenants", "groups", "external_groups", "contracts", "endpoints"]

    struct Loaded {
        var compilation: KubernetesCompilation
        var notes: [String]
    }

    static func read(_ node: Node, _ top: [String: Node], ports: inout [(index: Int, value: RuntimeConfig.Port)], _ r: ConfigReader) -> Loaded? {
        for key in exclusiveKeys where top[key] != nil {
            r.fail(at: key, "cannot be combined with kubernetes: the manifests give the policy and the endpoints")
        }
        guard let m = r.mapping(node, "kubernetes", required: ["manifests"], optional: ["tenant"]),
              let list = m["manifests"].flatMap({ r.stringList($0, "kubernetes.manifests") }) else { return nil }
        let tenant = m["tenant"].flatMap { r.nonEmptyString($0, "kubernetes.tenant") } ?? "k8s"
        if list.isEmpty { r.fail(m["manifests"], "kubernetes.manifests", "at least one manifest file or folder is needed") }
        let base = (r.file as NSString).deletingLastPathComponent   // relative stays relative, for messages
        var files: [String] = []
        for (i, p) in list.enumerated() {
            let path = p.hasPrefix("/") || base.isEmpty ? p : (base as NSString).appendingPathComponent(p)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                r.fail(at: "kubernetes.manifests[\(i)]", "'\(path)' does not exist"); continue
            }
            if isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        var loaded = KubernetesManifestLoader.Result()
        KubernetesManifestLoader.load(files: files, into: &loaded)
        if !loaded.issues.isEmpty {
            // Problems in the manifests are reported at their own file and line.
            for i in loaded.issues { r.fail(external: i) }
            return nil
        }
        let portNames = Set(ports.map(\.value.name))
        var attachments: [String: KubernetesAttachment] = [:]
        var notes = loaded.notes
        for pod in loaded.cluster.pods where !pod.ips.isEmpty {
            var port: String?
            if let a = pod.annotations[portAnnotation] {
                if portNames.contains(a) { port = a } else {
                    r.fail(at: "kubernetes.manifests", "pod \(pod.id): annotation \(portAnnotation) names unknown port '\(a)' (ports: \(portNames.sorted().joined(separator: ", ")))")
                    continue
                }
            } else {
                port = ["\(pod.namespace)-\(pod.name)", pod.name].first { portNames.contains($0) }
            }
            guard let port else { continue }   // the compiler notes it
            var mac = derivedMAC(pod.ips)
            if let text = pod.annotations[macAnnotation] {
                guard let m = MACAddress(text), !m.isMulticast, m != .zero else {
                    r.fail(at: "kubernetes.manifests", "pod \(pod.id): annotation \(macAnnotation) '\(text)' is not a unicast MAC address"); continue
                }
                mac = m
            }
            attachments[pod.id] = KubernetesAttachment(port: port, mac: mac)
        }
        let c = KubernetesCompiler.compile(loaded.cluster, tenant: tenant, attachments: attachments)
        notes += c.warnings
        for e in Policy.validate(c.spec) {
            r.fail(at: "kubernetes", "the pods cannot be compiled: \(podNames(e.path, c.spec)): \(podNames(e.reason, c.spec))")
        }
        // Ports carry the tenant of their pods; an uplink names the tenant itself.
        let used = Set(c.spec.endpoints.map(\.port))
        for k in ports.indices {
            let (i, p) = ports[k]
            if let t = p.tenant, t != tenant {
                r.fail(at: "ports[\(i)].tenant", "unknown tenant '\(t)' (the pods are in tenant '\(tenant)')")
            } else if p.role == .uplink && p.tenant == nil {
                r.fail(at: "ports[\(i)].tenant", "an uplink port needs tenant: \(tenant) with kubernetes")
            } else if used.contains(p.name) {
                ports[k].value.tenant = tenant
            }
        }
        return Loaded(compilation: c, notes: notes)
    }

    /// 0a:58 and the IPv4 address (or the last four bytes of the IPv6 one), as many CNIs do.
    static func derivedMAC(_ ips: [IPAddress]) -> MACAddress {
        let ip = ips.first(where: \.isIPv4) ?? ips[0]
        return MACAddress(raw: 0x0A58_0000_0000 | UInt64(UInt32(truncatingIfNeeded: ip.lo)))
    }

    /// `endpoints[3].ips[0]` of the compiled spec as `pod x/a .ips[0]`.
    private static func podNames(_ text: String, _ spec: PolicySpec) -> String {
        var out = "", rest = Substring(text)
        while let r = rest.range(of: "endpoints[") {
            out += rest[..<r.lowerBound]
            rest = rest[r.upperBound...]
            if let close = rest.firstIndex(of: "]"), let i = Int(rest[..<close]), i < spec.endpoints.count {
                out += "pod \(spec.endpoints[i].name) "
                rest = rest[rest.index(after: close)...]
            } else {
                out += "endpoints["
            }
        }
        return out + rest
    }
}

extension ConfigReader {
    /// Records a problem found in another file (a manifest).
    func fail(external issue: ConfigIssue) { appendIssue(issue) }
}
