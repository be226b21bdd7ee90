import Foundation
import GBPCore
import Testing

/// A label change in the manifests, applied by a reload while traffic runs: the pod
/// moves to another group and loses its access; the other pod's connection is
/// re-checked and keeps flowing.
@Suite(.serialized)
struct KubernetesReloadTests {
    static let ips = ["w1": "10.9.0.1", "w2": "10.9.0.2", "db": "10.9.0.3"]
    static func mac(_ pod: String) -> MACAddress { MACAddress(raw: 0x0A58_0000_0000 | UInt64(IPAddress(ips[pod]!)!.v4)) }

    static func manifests(w2Label: String) -> String {
        let pods = ["w1": "web", "w2": w2Label, "db": "db"].sorted { $0.key < $1.key }.map { name, app in
            "apiVersion: v1\nkind: Pod\nmetadata: { name: \(name), namespace: x, labels: { app: \(app) } }\nstatus: { podIP: \(ips[name]!) }"
        }
        let policy = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: { name: db-from-web, namespace: x }
        spec:
          podSelector: { matchLabels: { app: db } }
          ingress:
            - from: [{ podSelector: { matchLabels: { app: web } } }]
              ports: [{ protocol: UDP, port: 5432 }]
        """
        return (pods + [policy]).joined(separator: "\n---\n")
    }

    @Test func aLabelChangeMovesOnePodAndLeavesTheOtherFlowAlone() throws {
        let g = try GBPDProcess("k8s-reload")
        defer { g.cleanUp() }
        for w in ["w1", "w2"] {
            try g.writePcap("\(w).pcap", (0..<64).map { _ in
                PacketBuilder.udp(srcMAC: Self.mac(w), dstMAC: Self.mac("db"), src: IPAddress(Self.ips[w]!)!, dst: IPAddress(Self.ips["db"]!)!,
                                  srcPort: 7000, dstPort: 5432)
            })
        }
        let manifest = g.path("pods.yaml")
        try Self.manifests(w2Label: "web").write(toFile: manifest, atomically: true, encoding: .utf8)
        let configPath = g.path("gbpd.yaml")
        try """
        eal: \(g.eal)
        workers: [1]
        mempool: { mbufs: 8191, cache: 64 }
        ports:
          - { name: x-w1, devargs: "net_pcap0,rx_pcap=\(g.path("w1.pcap")),infinite_rx=1,tx_pcap=/dev/null" }
          - { name: x-w2, devargs: "net_pcap1,rx_pcap=\(g.path("w2.pcap")),infinite_rx=1,tx_pcap=/dev/null" }
          - { name: x-db, devargs: "net_null0,no-rx=1" }
        kubernetes: { manifests: [\(manifest)] }
        run: { stats_interval_s: 0 }
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let d = try BackgroundGBPD(configPath: configPath, statsPath: g.path("stats.json"))
        try #require(d.wait(for: "worker(s) on lcore"), "gbpd did not start: \(d.stdout)")
        Thread.sleep(forTimeInterval: 0.3)
        try Self.manifests(w2Label: "batch").write(toFile: manifest, atomically: true, encoding: .utf8)
        d.signal(SIGHUP)
        #expect(d.wait(for: "policy epoch 2 in force"), "\(d.stdout.suffix(500))")
        Thread.sleep(forTimeInterval: 0.3)
        let (status, stats) = d.finish()
        #expect(status == 0)
        let s = try #require(stats)
        func int(_ v: Any?) -> Int { (v as? NSNumber)?.intValue ?? -1 }
        let ct = s["conntrack"] as? [String: Any] ?? [:]
        // Both flows were admitted once under epoch 1 and re-checked once under epoch 2:
        // w1's passed, w2's was dropped, and w2 never got a connection again.
        #expect(int(ct["new"]) == 2, "\(ct)")
        #expect(int(ct["rechecked"]) == 2 && int(ct["recheck_drops"]) == 1, "\(ct)")
        let drops = s["drops"] as? [String: Any] ?? [:]
        #expect(Set(drops.keys) == [DropReason.noContract.name], "\(drops)")
        let ports = Dictionary(uniqueKeysWithValues: (s["ports"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0) })
        let w1rx = int(ports["x-w1"]?["rx"]), w2rx = int(ports["x-w2"]?["rx"]), dbtx = int(ports["x-db"]?["tx"])
        let dropped = int(drops[DropReason.noContract.name])
        #expect(w1rx > 1000 && w2rx > 1000)
        // Every w1 packet reached db; w2's stopped at the reload.
        #expect(dbtx + dropped == w1rx + w2rx && dbtx > w1rx && dropped > 0 && dropped < w2rx, "w1 \(w1rx) w2 \(w2rx) db \(dbtx) dropped \(dropped)")
    }
}
