import Foundation
import GBPCore
import Testing

/// Addresses outside the cluster through an uplink port: an ipBlock with except decides
/// what reaches an isolated pod, a pod no policy isolates is open to the world, and a
/// pod's traffic to an outside address leaves by the uplink.
@Suite(.serialized)
struct KubernetesUplinkTests {
    typealias T = KubernetesTruthTableTests

    @Test func ipBlocksDecideForOutsideAddresses() throws {
        let g = try GBPDProcess("k8s-uplink")
        defer { g.cleanUp() }
        let router = MACAddress("02:00:00:00:ff:01")!
        func from(_ ip: String, to pod: String, port: UInt16) -> [UInt8] {
            PacketBuilder.tcp(srcMAC: router, dstMAC: T.mac(pod), src: IPAddress(ip)!, dst: T.ip(pod), srcPort: 5555, dstPort: port, flags: .syn)
        }
        let allowedIn = from("10.0.5.5", to: "x/a", port: 80)        // in 10.0.0.0/16, in no except
        let exceptIn = from("10.0.2.9", to: "x/a", port: 80)         // in except 10.0.2.0/24
        let worldIn = from("8.8.8.8", to: "x/a", port: 80)           // outside the cidr
        let worldToOpen = from("8.8.8.8", to: "x/b", port: 22)       // x/b: no policy
        try g.writePcap("up0-in.pcap", [allowedIn, exceptIn, worldIn, worldToOpen])
        let out = PacketBuilder.udp(srcMAC: T.mac("x/b"), dstMAC: router, src: T.ip("x/b"), dst: IPAddress("8.8.8.8")!, srcPort: 4444, dstPort: 53)
        for p in T.pods { try g.writePcap("\(T.port(p))-in.pcap", p == "x/b" ? [out] : []) }
        let config = """
        eal: \(g.eal)
        workers: [1]
        mempool: { mbufs: 4095, cache: 64 }
        ports:
        \(T.pods.enumerated().map { i, p in g.pcapPort(T.port(p), index: i) }.joined(separator: "\n"))
          - { name: up0, role: uplink, tenant: k8s, devargs: "net_pcap9,rx_pcap=\(g.path("up0-in.pcap")),tx_pcap=\(g.path("up0-out.pcap"))" }
        kubernetes:
          manifests: [\(T.k8sDir.path)/cluster.yaml, \(T.k8sDir.path)/truth-tables/19-ipblock-except.yaml]
        run: { stop_when_inputs_drained: true, stats_interval_s: 0 }
        """
        let r = try g.run(config: config)
        try #require(r.status == 0, "gbpd failed: \(r.stderr)")
        #expect(try g.readPcap("x-a-out.pcap") == [allowedIn])
        #expect(try g.readPcap("x-b-out.pcap") == [worldToOpen])
        #expect(try g.readPcap("up0-out.pcap") == [out])
        #expect(r.drop(.noContract) == 2)
    }
}
