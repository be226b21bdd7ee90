import Foundation
import GBPControl
import GBPCore
import Testing

/// The `kubernetes` config key and the manifest reader: what is accepted, what is
/// rejected with file, line, field and reason.
struct KubernetesManifestTests {
    /// Writes `manifest` next to a config with ports p-a and x-b, and loads the config.
    func load(_ manifest: String, extra: String = "", ports: String = "") throws(ConfigError) -> DaemonConfig {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("k8s-manifest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try? manifest.write(to: dir.appendingPathComponent("m.yaml"), atomically: true, encoding: .utf8)
        let config = """
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: p-a, devargs: net_null0 }
          - { name: x-b, devargs: net_null1 }
        \(ports)
        kubernetes: { manifests: [m.yaml] }
        \(extra)
        """
        return try ConfigLoader.parse(config, file: dir.appendingPathComponent("gbpd.yaml").path)
    }

    func problems(_ manifest: String, extra: String = "") -> [String] {
        do { _ = try load(manifest, extra: extra); Issue.record("accepted"); return [] } catch {
            return error.issues.map { "\(URL(fileURLWithPath: $0.file).lastPathComponent):\($0.line.map(String.init) ?? "-"): \($0.field): \($0.reason)" }
        }
    }

    static let pods = """
    apiVersion: v1
    kind: Pod
    metadata: { name: a, namespace: p, annotations: { gbp.dataplane/mac: "02:00:00:00:00:0a" }, labels: { app: web } }
    status: { podIP: 10.0.0.1 }
    ---
    apiVersion: v1
    kind: Pod
    metadata: { name: b, namespace: x, uid: 1234 }
    spec: { nodeName: n1, containers: [{ name: c, image: i, ports: [{ name: http, containerPort: 8080 }] }] }
    status: { podIPs: [{ ip: 10.0.0.2 }, { ip: "fd00::2" }] }
    ---
    apiVersion: v1
    kind: Pod
    metadata: { name: c, namespace: x, annotations: { gbp.dataplane/port: p-a } }
    status: { podIP: 10.0.0.3 }
    ---
    apiVersion: v1
    kind: Pod
    metadata: { name: pending, namespace: x }
    ---
    apiVersion: v1
    kind: Pod
    metadata: { name: done, namespace: x }
    status: { phase: Succeeded, podIP: 10.0.0.4 }
    ---
    apiVersion: v1
    kind: Service
    metadata: { name: svc }
    """

    @Test func podsBecomeEndpointsOnTheirPorts() throws {
        let c = try load(Self.pods)
        let k = try #require(c.kubernetes)
        let eps = Dictionary(uniqueKeysWithValues: c.endpoints.map { ($0.name, $0) })
        #expect(eps.keys.sorted() == ["p/a", "x/b", "x/c"])
        #expect(eps["p/a"]?.port == "p-a" && eps["p/a"]?.mac == MACAddress("02:00:00:00:00:0a"))    // by name, MAC annotation
        #expect(eps["x/b"]?.port == "x-b" && eps["x/b"]?.mac == MACAddress("0a:58:0a:00:00:02"))    // by name, derived MAC
        #expect(eps["x/b"]?.ips == [IPAddress("10.0.0.2")!, IPAddress("fd00::2")!])
        #expect(eps["x/c"]?.port == "p-a")                                                          // by annotation
        #expect(k.evaluator.cluster.pods.first { $0.id == "x/b" }?.namedPorts == [KubernetesNamedPort(name: "http", proto: .tcp, port: 8080)])
        #expect(c.runtime.ports.allSatisfy { $0.tenant == "k8s" })
        #expect(c.notes.contains { $0.contains("kind Service skipped") })
        #expect(c.notes.contains { $0.contains("pod x/pending has no address") })
        #expect(c.notes.contains { $0.contains("Pod(x/done): pod has terminated (phase Succeeded): skipped") }, "\(c.notes)")
    }

    @Test func badManifestsAreRejectedWithFileLineAndField() {
        let bad = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: { name: np, namespace: x }
        spec:
          podSelector:
            matchExpressions: [{ key: app, operator: Within, values: [a] }]
          ingres: []
          ingress:
            - from:
                - ipBlock: { cidr: 10.0.0.0/8, except: [192.168.0.0/16] }
                - {}
              ports:
                - { protocol: tcp, port: 80 }
                - { port: http, endPort: 90 }
        ---
        apiVersion: networking.k8s.io/v1beta1
        kind: NetworkPolicy
        metadata: { name: old }
        ---
        apiVersion: policy.networking.k8s.io/v1alpha1
        kind: AdminNetworkPolicy
        metadata: { name: anp }
        spec:
          priority: 1001
          subject: { namespaces: {} }
          ingress:
            - { action: Skip, from: [{ namespaces: {} }] }
        """
        let p = problems(bad)
        #expect(p.contains("m.yaml:6: NetworkPolicy(x/np).spec.podSelector.matchExpressions[0].operator: must be In, NotIn, Exists or DoesNotExist, got 'Within'"), "\(p)")
        #expect(p.contains("m.yaml:7: NetworkPolicy(x/np).spec.ingres: unknown key (allowed here: egress, ingress, podSelector, policyTypes)"), "\(p)")
        #expect(p.contains("m.yaml:10: NetworkPolicy(x/np).spec.ingress[0].from[0].ipBlock.except[0]: 192.168.0.0/16 must be strictly inside cidr 10.0.0.0/8"), "\(p)")
        #expect(p.contains("m.yaml:11: NetworkPolicy(x/np).spec.ingress[0].from[1]: a peer needs podSelector, namespaceSelector or ipBlock"), "\(p)")
        #expect(p.contains("m.yaml:13: NetworkPolicy(x/np).spec.ingress[0].ports[0].protocol: must be TCP, UDP or SCTP, got 'tcp'"), "\(p)")
        #expect(p.contains("m.yaml:14: NetworkPolicy(x/np).spec.ingress[0].ports[1].endPort: endPort needs a numeric port"), "\(p)")
        #expect(p.contains("m.yaml:16: documents[1].apiVersion: NetworkPolicy needs apiVersion networking.k8s.io/v1, got 'networking.k8s.io/v1beta1'"), "\(p)")
        #expect(p.contains("m.yaml:24: AdminNetworkPolicy(anp).spec.priority: 1001 is out of range 0...1000"), "\(p)")
        #expect(p.contains("m.yaml:27: AdminNetworkPolicy(anp).spec.ingress[0].action: must be Allow, Deny or Pass, got 'Skip'"), "\(p)")
    }

    /// Fields set to null are absent, as the API server reads them.
    @Test func nullMeansAbsent() throws {
        let c = try load(Self.pods + """

        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: { name: np, namespace: x }
        spec:
          podSelector: null
          policyTypes: ~
          ingress:
            - from:
                - podSelector: null
                  namespaceSelector: { matchLabels: null }
              ports: null
        """)
        let np = try #require(c.kubernetes?.evaluator.cluster.networkPolicies.first)
        #expect(np.podSelector == .all && np.policyTypes == nil && np.ingress.count == 1)
        #expect(np.ingress[0].peers == [NetworkPolicyPeer(podSelector: nil, namespaceSelector: .all)] && np.ingress[0].ports.isEmpty)
    }

    @Test func configProblems() {
        #expect(problems(Self.pods, extra: "tenants: [{ name: t }]").contains { $0.contains("tenants: cannot be combined with kubernetes") })
        let p = problems("apiVersion: v1\nkind: Pod\nmetadata: { name: q, annotations: { gbp.dataplane/port: nope } }\nstatus: { podIP: 10.0.0.9 }\n")
        #expect(p.contains { $0.contains("pod default/q: annotation gbp.dataplane/port names unknown port 'nope' (ports: p-a, x-b)") }, "\(p)")
        let dup = problems(Self.pods + "\n---\napiVersion: v1\nkind: Pod\nmetadata: { name: a, namespace: x, annotations: { gbp.dataplane/port: x-b } }\nstatus: { podIP: 10.0.0.1 }\n")
        #expect(dup.contains { $0.contains("the pods cannot be compiled: pod x/a .ips[0]: 10.0.0.1 is also pod p/a .ips[0]") }, "\(dup)")
        #expect(problems("a: [b").first?.contains("not valid YAML") == true)
    }
}
