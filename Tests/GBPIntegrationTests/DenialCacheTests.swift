import Foundation
import GBPCore
import Testing

/// Remembered denials (the fast path drops the packets of a denied flow from one line)
/// decide exactly as the long path: sources are still checked, rule counters still
/// count, and a denial ends when the reverse direction opens the connection.
@Suite(.serialized)
struct DenialCacheIntegrationTests {
    let macC = MACAddress("02:00:00:00:0a:01")!, macC2 = MACAddress("02:00:00:00:0a:02")!, macS = MACAddress("02:00:00:00:0b:01")!
    let ipC = IPAddress("10.0.0.1")!, ipS = IPAddress("10.0.0.2")!

    /// Client and server sit behind one port (pa), so that the order of their packets is
    /// the order of one pcap; what the policy allows between them is then dropped as
    /// `destination_on_ingress_port`, after conntrack and the rule counters saw it.
    func config(_ g: GBPDProcess, extra: String = "") -> String {
        """
        \(g.pcapHeader(ports: ["pa", "pb"]))
        \(extra)
        tenants: [{ name: shop }]
        groups:
          - { name: client, tenant: shop }
          - { name: server, tenant: shop }
        endpoints:
          - { name: c1, tenant: shop, group: client, port: pa, mac: "\(macC)", ips: [10.0.0.1] }
          - { name: c2, tenant: shop, group: client, port: pa, mac: "\(macC2)", ips: [10.0.0.5] }
          - { name: s1, tenant: shop, group: server, port: pa, mac: "\(macS)", ips: [10.0.0.2] }
        contracts:
          - name: callback
            tenant: shop
            providers: [client]
            consumers: [server]
            rules: [{ name: udp, protocol: udp, ports: [40000] }]
          - name: block
            tenant: shop
            providers: [server]
            consumers: [client]
            rules: [{ name: udp6000, protocol: udp, ports: [6000], action: deny }]
        run: { stop_when_inputs_drained: true, stats_interval_s: 0 }
        """
    }

    func toServer(_ i: Int, srcMAC: MACAddress) -> [UInt8] {
        PacketBuilder.udp(srcMAC: srcMAC, dstMAC: macS, src: ipC, dst: ipS, srcPort: 40000, dstPort: 6000,
                          payload: [UInt8(i >> 8), UInt8(i & 0xFF)])
    }

    /// 95 packets client:40000 -> server:6000, denied by rule (every tenth from the 50th on
    /// from c2's MAC claiming c1's address: spoofed); then the server opens the reverse
    /// flow (allowed by `callback`), after which 100 more such packets are replies.
    ///
    /// The reverse flow's packet ends a burst (the pcap PMD gives bursts of 32): the replies
    /// that follow find a connection whose endpoints the fast path does not know yet, and
    /// a denial that was not forgotten would drop them.
    func writeInputs(_ g: GBPDProcess) throws {
        var input: [[UInt8]] = []
        for i in 0..<95 { input.append(toServer(i, srcMAC: i >= 50 && i % 10 == 7 ? macC2 : macC)) }
        input.append(PacketBuilder.udp(srcMAC: macS, dstMAC: macC, src: ipS, dst: ipC, srcPort: 6000, dstPort: 40000, payload: [1]))
        for i in 96..<196 { input.append(toServer(i, srcMAC: macC)) }
        try g.writePcap("pa-in.pcap", input)
        try g.writePcap("pb-in.pcap", [])
    }

    @Test func denialsAreCheckedCountedAndEndWhenTheReverseFlowOpens() throws {
        let g = try GBPDProcess("denials")
        defer { g.cleanUp() }
        try writeInputs(g)
        let r = try g.run(config: config(g))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        #expect(r.drop(.deniedByRule) == 91)
        #expect(r.drop(.spoofedIP) == 4)
        #expect(r.drop(.destinationOnIngressPort) == 101)   // the reverse flow's first packet and its 100 replies
        #expect(r.int("dropped") == 196)
        #expect(r.int("rx") == 196)
        #expect(r.int("mempool_in_use_at_exit") == 0)
        let ct = r.stats?["conntrack"] as? [String: Any] ?? [:]
        #expect(ct["new"] as? Int == 1)
        #expect(ct["hits"] as? Int == 100)
        // The first burst goes the long way (the denial is remembered there), and so does the
        // rest of a burst after a spoofed packet.
        #expect((ct["denial_hits"] as? Int ?? 0) >= 20, "denial hits: \(ct)")
        let rules = r.stats?["rules"] as? [[String: Any]] ?? []
        let block = rules.first { $0["rule"] as? String == "block/udp6000" }
        #expect(block?["packets"] as? Int == 91)
        #expect(block?["denied"] as? Int == 91)
        let callback = rules.first { $0["rule"] as? String == "callback/udp" }
        #expect(callback?["allowed"] as? Int == 101)
    }

    /// Verdict capture sees a remembered denial as the long path's: its contract and rule.
    @Test func capturedDenialsNameTheirRule() throws {
        let g = try GBPDProcess("denials-capture")
        defer { g.cleanUp() }
        try writeInputs(g)
        let capture = g.path("verdicts.pcapng")
        let r = try g.run(config: config(g, extra: "capture: { path: \(capture), packets: all }"))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        let comments = try PcapngComments.read(capture)
        #expect(comments.count == 196)
        func count(_ s: String) -> Int { comments.filter { $0.contains(s) }.count }
        #expect(count("verdict=drop reason=denied_by_rule contract=block rule=block/udp6000 ") == 91)
        #expect(count("reason=spoofed_ip ") == 4)
        #expect(count("reason=destination_on_ingress_port contract=callback rule=callback/udp ") == 101)
        let ct = r.stats?["conntrack"] as? [String: Any] ?? [:]
        #expect((ct["denial_hits"] as? Int ?? 0) >= 20, "denial hits: \(ct)")
    }
}
