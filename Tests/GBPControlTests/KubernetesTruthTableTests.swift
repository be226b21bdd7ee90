import Foundation
import GBPControl
import GBPCore
import Testing

/// The truth tables of config/k8s/truth-tables, checked without a dataplane: each case's
/// manifests go through the config loader (`kubernetes` key), and every (source,
/// destination, traffic) of its tables is asked of the Kubernetes evaluator (what
/// `gbpctl explain` reports) and of the compiled classifier (what gbpd enforces).
struct KubernetesTruthTableTests {
    static let k8sDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("config/k8s")
    static let cases = ((try? FileManager.default.contentsOfDirectory(atPath: k8sDir.appendingPathComponent("truth-tables").path)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.sorted()
    static let pods = ["x", "y", "z"].flatMap { n in ["a", "b", "c"].map { "\(n)/\($0)" } }

    /// A config with one pcap port per pod, named <namespace>-<pod>, and `manifests`.
    static func config(manifests: [String], tenant: String = "k8s") -> String {
        """
        eal: [--no-huge]
        workers: [1]
        ports:
        \(pods.map { p in "  - { name: \(p.replacingOccurrences(of: "/", with: "-")), devargs: \"net_null_\(p.replacingOccurrences(of: "/", with: ""))\" }" }.joined(separator: "\n"))
        kubernetes:
          manifests: [\(manifests.joined(separator: ", "))]
          tenant: \(tenant)
        """
    }

    static func load(_ caseFile: String) throws -> DaemonConfig {
        let text = config(manifests: ["cluster.yaml", "truth-tables/\(caseFile)"])
        return try ConfigLoader.parse(text, file: k8sDir.appendingPathComponent("test.yaml").path)
    }

    @Test func thereAreAtLeastTwentyCases() {
        #expect(Self.cases.count >= 20, "\(Self.cases)")
    }

    @Test(arguments: cases)
    func truthTable(_ caseFile: String) throws {
        let text = try String(contentsOf: Self.k8sDir.appendingPathComponent("truth-tables/\(caseFile)"), encoding: .utf8)
        let table = try KubernetesTruthTable.parse(text).get()
        #expect(Set(table.expected.keys) == ["tcp/80", "tcp/81", "udp/80", "udp/81"])
        let config = try Self.load(caseFile)
        let k8s = try #require(config.kubernetes)
        let spec = try #require(config.policy)
        #expect(spec.endpoints.count == 9)
        let compiled = try CompiledPolicy.compile(spec, epoch: 1)
        let ev = k8s.evaluator
        for (kind, cells) in table.expected.sorted(by: { $0.key < $1.key }) {
            let (proto, port) = try #require(KubernetesTruthTable.traffic(kind))
            var evaluatorSays: [KubernetesTruthTable.Pair: Bool] = [:], classifierSays: [KubernetesTruthTable.Pair: Bool] = [:]
            for s in Self.pods {
                for d in Self.pods {
                    let pair = KubernetesTruthTable.Pair(s, d)
                    evaluatorSays[pair] = ev.decide(from: .pod(ev.pod(s)!), to: .pod(ev.pod(d)!), .init(proto, port)).allowed
                    // A pod's traffic to itself never reaches the dataplane; the classifier is asked about the others.
                    guard s != d else { classifierSays[pair] = true; continue }
                    let src = spec.endpoints.first { $0.name == s }!, dst = spec.endpoints.first { $0.name == d }!
                    var f = PacketFields()
                    f.kind = .ipv4; f.etherType = 0x0800
                    f.srcMAC = src.mac; f.dstMAC = dst.mac; f.src = src.ips[0]; f.dst = dst.ips[0]
                    f.ipProto = proto.ipProtocolNumber; f.srcPort = 40000; f.dstPort = UInt16(port)
                    f.tcpFlags = proto == .tcp ? 0x02 : 0
                    classifierSays[pair] = compiled.classify(tenant: 0, fields: f).allowed
                }
            }
            let expected = KubernetesTruthTable.render(pods: Self.pods) { cells[.init($0, $1)] ?? false }
            let evaluated = KubernetesTruthTable.render(pods: Self.pods) { evaluatorSays[.init($0, $1)]! }
            let classified = KubernetesTruthTable.render(pods: Self.pods) { classifierSays[.init($0, $1)]! }
            #expect(evaluated == expected, "\(caseFile) \(kind): evaluator\n\(evaluated)\nexpected\n\(expected)")
            #expect(classified == expected, "\(caseFile) \(kind): classifier\n\(classified)\nexpected\n\(expected)")
        }
    }
}
