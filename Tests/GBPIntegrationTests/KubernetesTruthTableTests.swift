import Foundation
import GBPCore
import Testing

/// The truth tables of config/k8s/truth-tables, packet by packet through gbpd: nine pcap
/// ports, one per pod of config/k8s/cluster.yaml (named <namespace>-<pod>); each pod
/// sends every other pod a TCP SYN and a UDP datagram to ports 80 and 81; what each port
/// transmits must be exactly the packets its table marks X. Then `gbpctl explain` on a
/// running gbpd gives the same verdicts and names the deciding policy and rule.
@Suite(.serialized)
struct KubernetesTruthTableTests {
    static let k8sDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("config/k8s")
    static let cases = ((try? FileManager.default.contentsOfDirectory(atPath: k8sDir.appendingPathComponent("truth-tables").path)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.sorted()
    static let pods = ["x", "y", "z"].flatMap { n in ["a", "b", "c"].map { "\(n)/\($0)" } }
    static let kinds = ["tcp/80", "tcp/81", "udp/80", "udp/81"]

    static func port(_ pod: String) -> String { pod.replacingOccurrences(of: "/", with: "-") }
    /// 10.0.<namespace 1-3>.<pod 1-3>, as cluster.yaml gives them; MACs as gbpd derives them.
    static func ip(_ pod: String) -> IPAddress {
        let p = pod.split(separator: "/")
        return IPAddress("10.0.\(["x", "y", "z"].firstIndex(of: String(p[0]))! + 1).\(["a", "b", "c"].firstIndex(of: String(p[1]))! + 1)")!
    }
    static func mac(_ pod: String) -> MACAddress { MACAddress(raw: 0x0A58_0000_0000 | UInt64(ip(pod).v4)) }

    /// One packet per (source, destination, kind), told apart by the source port.
    struct Sent { var from: String; var to: String; var kind: String; var bytes: [UInt8] }
    static let sent: [Sent] = {
        var out: [Sent] = []
        for (i, s) in pods.enumerated() {
            for (j, d) in pods.enumerated() where s != d {
                for (k, kind) in kinds.enumerated() {
                    let (proto, port) = KubernetesTruthTable.traffic(kind)!
                    let sport = UInt16(20000 + i * 1000 + j * 10 + k)
                    let bytes = proto == .tcp
                        ? PacketBuilder.tcp(srcMAC: mac(s), dstMAC: mac(d), src: ip(s), dst: ip(d), srcPort: sport, dstPort: UInt16(port), flags: .syn)
                        : PacketBuilder.udp(srcMAC: mac(s), dstMAC: mac(d), src: ip(s), dst: ip(d), srcPort: sport, dstPort: UInt16(port))
                    out.append(Sent(from: s, to: d, kind: kind, bytes: bytes))
                }
            }
        }
        return out
    }()

    static func config(_ g: GBPDProcess, caseFile: String, control: Bool = false) -> String {
        """
        eal: \(g.eal)
        workers: [1]
        mempool: { mbufs: 4095, cache: 64 }
        ports:
        \(pods.enumerated().map { i, p in g.pcapPort(port(p), index: i) }.joined(separator: "\n"))
        kubernetes:
          manifests: [\(k8sDir.path)/cluster.yaml, \(k8sDir.path)/truth-tables/\(caseFile)]
        \(control ? "control: { socket: \(g.path("gbpd.sock")) }" : "")
        run: { stop_when_inputs_drained: \(!control), stats_interval_s: 0 }
        """
    }

    func table(_ caseFile: String) throws -> KubernetesTruthTable {
        try KubernetesTruthTable.parse(String(contentsOf: Self.k8sDir.appendingPathComponent("truth-tables/\(caseFile)"), encoding: .utf8)).get()
    }

    @Test(arguments: cases)
    func packetsThroughGBPD(_ caseFile: String) throws {
        let table = try table(caseFile)
        let g = try GBPDProcess("k8s-\(caseFile.prefix(2))")
        defer { g.cleanUp() }
        for s in Self.pods { try g.writePcap("\(Self.port(s))-in.pcap", Self.sent.filter { $0.from == s }.map(\.bytes)) }
        let r = try g.run(config: Self.config(g, caseFile: caseFile))
        try #require(r.status == 0, "gbpd failed: \(r.stderr)")
        #expect(r.int("rx") == Self.sent.count)

        let sentByBytes = Dictionary(uniqueKeysWithValues: Self.sent.map { (Array($0.bytes), $0) })
        var deliveredKinds: [String: Set<KubernetesTruthTable.Pair>] = [:]
        for d in Self.pods {
            let out = try g.readPcap("\(Self.port(d))-out.pcap")
            let expected = Self.sent.filter { $0.to == d && table.expected[$0.kind]![.init($0.from, d)]! }.map(\.bytes)
            // Packet by packet: the exact frames, each once.
            let name = { (b: [UInt8]) in sentByBytes[b].map { "\($0.from)->\($0.to) \($0.kind)" } ?? "unknown \(b.count)-byte frame" }
            let missing = expected.filter { e in !out.contains(e) }.map(name)
            let extra = out.enumerated().filter { i, p in !expected.contains(p) || out[..<i].contains(p) }.map { name($0.element) }
            #expect(missing.isEmpty && extra.isEmpty && out.count == expected.count,
                    "\(caseFile): port \(Self.port(d)) missing \(missing), unexpected \(extra)")
            for p in out {
                guard let s = sentByBytes[p] else { Issue.record("\(caseFile): \(Self.port(d)) sent a packet nobody sent"); continue }
                #expect(s.to == d)
                deliveredKinds[s.kind, default: []].insert(.init(s.from, d))
            }
        }
        // The same as matrices, to read a failure the way the e2e suite prints it.
        for kind in Self.kinds {
            let seen = KubernetesTruthTable.render(pods: Self.pods) { $0 == $1 || deliveredKinds[kind, default: []].contains(.init($0, $1)) }
            let want = KubernetesTruthTable.render(pods: Self.pods) { table.expected[kind]![.init($0, $1)]! }
            #expect(seen == want, "\(caseFile) \(kind): gbpd delivered\n\(seen)\nexpected\n\(want)")
        }
    }

    /// `gbpctl explain` on a running gbpd: for every pair on TCP 80 of one case the verdict
    /// of the compiled tables and of the Kubernetes semantics match the table, and the
    /// deciding policy and rule are named; `gbpctl reload` then switches to other cases'
    /// manifests.
    @Test func explainNamesTheDecidingRule() throws {
        let g = try GBPDProcess("k8s-explain")
        defer { g.cleanUp() }
        for s in Self.pods { try g.writePcap("\(Self.port(s))-in.pcap", []) }
        let configPath = g.path("gbpd.yaml")
        try Self.config(g, caseFile: "25-anp-pass.yaml", control: true).write(toFile: configPath, atomically: true, encoding: .utf8)
        let d = try BackgroundGBPD(configPath: configPath, statsPath: g.path("stats.json"))
        defer { _ = d.finish() }
        try #require(d.wait(for: "control socket"), "gbpd did not start: \(d.stdout)")
        let ctl = ControlTests()
        func explain(_ s: String, _ t: String, _ extra: [String] = []) throws -> ControlTests.Run {
            try ctl.gbpctl(g, ["explain", "--from", s, "--to", t, "--protocol", "tcp", "--port", "80"] + extra, socket: g.path("gbpd.sock"))
        }

        let table = try table("25-anp-pass.yaml")
        for s in Self.pods {
            for t in Self.pods where s != t {
                let r = try explain(s, t, ["--json"])
                let j = try #require(r.json, "\(r.stdout) \(r.stderr)")
                let allowed = table.expected["tcp/80"]![.init(s, t)]!
                #expect(j["verdict"] as? String == (allowed ? "allow" : "drop"), "\(s) -> \(t): \(j)")
                #expect(j["kubernetes_verdict"] as? String == (allowed ? "allow" : "deny"), "\(s) -> \(t): \(j)")
            }
        }
        var out = try explain("y/b", "x/a").stdout
        #expect(out.contains("DENY y/b -> x/a tcp/80"), "\(out)")
        #expect(out.contains("ingress: denied: isolated by NetworkPolicy x/from-y-a and no ingress rule matches (after AdminNetworkPolicy pass-y rule 0 passed)"), "\(out)")
        out = try explain("y/a", "x/a").stdout
        #expect(out.contains("ingress: allowed by NetworkPolicy x/from-y-a ingress rule 0 (after AdminNetworkPolicy pass-y rule 0 passed)"), "\(out)")
        out = try explain("z/a", "x/a").stdout
        #expect(out.contains("ingress: denied by AdminNetworkPolicy deny-all-into-x ingress rule 0 \"deny-all\" (Deny)"), "\(out)")
        out = try explain("x/a", "x/a").stdout
        #expect(out.contains("a pod can always reach itself"), "\(out)")

        // Other manifests through a reload.
        func reload(to caseFile: String) throws {
            try Self.config(g, caseFile: caseFile, control: true).write(toFile: configPath, atomically: true, encoding: .utf8)
            let r = try ctl.gbpctl(g, ["reload"], socket: g.path("gbpd.sock"))
            #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        }
        try reload(to: "17-both-sides-needed.yaml")
        out = try explain("x/a", "y/b").stdout
        #expect(out.contains("DROP"), "\(out)")
        #expect(out.contains("DENY x/a -> y/b tcp/80"), "\(out)")
        #expect(out.contains("egress: allowed by NetworkPolicy x/a-egress-y-b egress rule 0"), "\(out)")
        #expect(out.contains("ingress: denied: isolated by NetworkPolicy y/b-from-x-b and no ingress rule matches"), "\(out)")
        out = try explain("x/b", "y/b").stdout
        #expect(out.contains("ALLOW x/b -> y/b tcp/80"), "\(out)")
        #expect(out.contains("egress: allowed: no NetworkPolicy selects the pod for egress"), "\(out)")

        try reload(to: "27-banp.yaml")
        out = try explain("y/a", "z/b").stdout
        #expect(out.contains("ALLOW y/a -> z/b tcp/80"), "\(out)")
        #expect(out.contains("ingress: allowed by BaselineAdminNetworkPolicy default ingress rule 0 \"allow-y-http\" (Allow)"), "\(out)")
        out = try explain("y/a", "z/a").stdout
        #expect(out.contains("ingress: denied: isolated by NetworkPolicy z/a-from-x and no ingress rule matches"), "\(out)")

        // Addresses outside the cluster against an ipBlock with except.
        try reload(to: "19-ipblock-except.yaml")
        for (from, verdict, group) in [("10.0.5.5", "allow", "cidr:10.0.0.0/16"), ("10.0.2.9", "drop", "cidr:10.0.2.0/24"),
                                       ("8.8.8.8", "drop", "cidr:0.0.0.0/0"), ("10.0.3.3", "drop", "z/{pod=c}")] {
            let j = try #require(try explain(from, "x/a", ["--json"]).json)
            #expect(j["verdict"] as? String == verdict && (j["source"] as? String ?? "").contains(group), "\(from): \(j)")
            #expect(j["kubernetes_verdict"] as? String == (verdict == "allow" ? "allow" : "deny"), "\(from): \(j)")
        }
        out = try explain("10.0.5.5", "x/a").stdout
        #expect(out.contains("ingress: allowed by NetworkPolicy x/a-from-cidr ingress rule 0"), "\(out)")
    }
}
