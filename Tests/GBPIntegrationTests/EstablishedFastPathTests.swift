import Foundation
import GBPCore
import Testing

/// The established fast path (packets of known connections decided from their conntrack
/// entry) decides exactly as the long path: sources are still checked, packets sent to
/// the gateway still leave with the endpoint's MAC, and rule counters still count.
@Suite(.serialized)
struct EstablishedFastPathTests {
    let macF = MACAddress("02:00:00:00:0a:01")!, macF2 = MACAddress("02:00:00:00:0a:02")!, macB = MACAddress("02:00:00:00:0b:01")!
    let gatewayMAC = MACAddress("0a:58:0a:00:00:fe")!
    let ipF = IPAddress("10.0.0.1")!, ipB = IPAddress("10.0.0.2")!

    func config(_ g: GBPDProcess) -> String {
        """
        \(g.pcapHeader(ports: ["pa", "pb"]))
        tenants: [{ name: shop, gateway: { ips: [10.0.0.254], mac: "\(gatewayMAC)" } }]
        groups:
          - { name: frontend, tenant: shop }
          - { name: backend, tenant: shop }
        endpoints:
          - { name: f1, tenant: shop, group: frontend, port: pa, mac: "\(macF)", ips: [10.0.0.1] }
          - { name: f2, tenant: shop, group: frontend, port: pa, mac: "\(macF2)", ips: [10.0.0.5] }
          - { name: b1, tenant: shop, group: backend, port: pb, mac: "\(macB)", ips: [10.0.0.2] }
        contracts:
          - name: web
            tenant: shop
            providers: [backend]
            consumers: [frontend]
            rules:
              - { name: udp, protocol: udp, ports: [5000] }
        run: { stop_when_inputs_drained: true, stats_interval_s: 0 }
        """
    }

    func packet(_ i: Int, srcMAC: MACAddress, dstMAC: MACAddress) -> [UInt8] {
        PacketBuilder.udp(srcMAC: srcMAC, dstMAC: dstMAC, src: ipF, dst: ipB, srcPort: 40000, dstPort: 5000,
                          payload: [UInt8(i >> 8), UInt8(i & 0xFF)])
    }

    /// 400 packets of one connection, many bursts: every tenth is sent to the gateway's
    /// MAC; in the second half, every tenth claims f1's address from f2's MAC (same port,
    /// same 5-tuple: spoofed).
    @Test func establishedPacketsAreCheckedAndForwardedAsOnTheLongPath() throws {
        let g = try GBPDProcess("fastpath")
        defer { g.cleanUp() }
        var input: [[UInt8]] = [], expected: [[UInt8]] = []
        for i in 0..<400 {
            switch i % 10 {
            case 7 where i >= 200: input.append(packet(i, srcMAC: macF2, dstMAC: macB))
            case 3:
                input.append(packet(i, srcMAC: macF, dstMAC: gatewayMAC))
                expected.append(packet(i, srcMAC: macF, dstMAC: macB))
            default:
                input.append(packet(i, srcMAC: macF, dstMAC: macB))
                expected.append(packet(i, srcMAC: macF, dstMAC: macB))
            }
        }
        try g.writePcap("pa-in.pcap", input)
        try g.writePcap("pb-in.pcap", [])
        let r = try g.run(config: config(g))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        #expect(try g.readPcap("pb-out.pcap") == expected)
        #expect(r.drop(.spoofedIP) == 20)
        #expect(r.int("dropped") == 20)
        #expect(r.int("rx") == r.int("tx") + r.int("dropped"))
        #expect(r.int("mempool_in_use_at_exit") == 0)
        let ct = r.stats?["conntrack"] as? [String: Any] ?? [:]
        #expect(ct["new"] as? Int == 1)
        #expect(ct["hits"] as? Int == 379)
        // The first burst goes the long way (the connection is admitted there), and so does
        // the rest of a burst after a spoofed packet; the bursts of the first half after the
        // first take the fast path whole.
        #expect((ct["fast_path"] as? Int ?? 0) >= 150, "fast path: \(ct)")
        let rules = r.stats?["rules"] as? [[String: Any]] ?? []
        let udp = rules.first { $0["rule"] as? String == "web/udp" }
        #expect(udp?["allowed"] as? Int == 380)
    }
}
