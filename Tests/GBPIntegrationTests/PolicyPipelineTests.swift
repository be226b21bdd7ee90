import Foundation
import GBPCore
import Testing

/// gbpd enforcing a policy on pcap ports: a mixed input whose verdict is known for
/// every packet comes out exactly as expected, packet for packet.
@Suite(.serialized)
struct PolicyPipelineTests {
    let macF = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!
    let macY1 = MACAddress("02:00:00:00:0c:01")!, macY2 = MACAddress("02:00:00:00:0c:02")!
    let ipF = IPAddress("10.0.0.1")!, ipB = IPAddress("10.0.0.2")!, ipY1 = IPAddress("10.0.0.3")!
    let ipF6 = IPAddress("fd00::1")!, ipB6 = IPAddress("fd00::2")!

    func config(_ g: GBPDProcess, extra: String = "") -> String {
        """
        \(extra)
        \(g.pcapHeader(ports: ["pa", "pb", "pc"]))
        tenants:
          - { name: shop }
          - { name: other }
        groups:
          - { name: frontend, tenant: shop }
          - { name: backend, tenant: shop }
          - { name: misc, tenant: other }
        endpoints:
          - { name: f1, tenant: shop, group: frontend, port: pa, mac: "\(macF)", ips: [10.0.0.1, "fd00::1"] }
          - { name: b1, tenant: shop, group: backend, port: pb, mac: "\(macB)", ips: [10.0.0.2, "fd00::2"] }
          - { name: y1, tenant: other, group: misc, port: pc, mac: "\(macY1)", ips: [10.0.0.3] }
          - { name: y2, tenant: other, group: misc, port: pc, mac: "\(macY2)", ips: [10.0.0.2] }
        contracts:
          - name: web
            tenant: shop
            providers: [backend]
            consumers: [frontend]
            rules:
              - { name: http, protocol: tcp, ports: [80] }
        run: { stop_when_inputs_drained: true, stats_interval_s: 0 }
        """
    }

    /// Writes the mixed inputs; returns what pa, pb and pc receive.
    func writeInputs(_ g: GBPDProcess) throws {
        let syn80 = PacketBuilder.tcp(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, srcPort: 40000, dstPort: 80, flags: .syn)
        let syn81 = PacketBuilder.tcp(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, srcPort: 40001, dstPort: 81, flags: .syn)
        let udp80 = PacketBuilder.udp(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, srcPort: 40002, dstPort: 80)
        let ping = PacketBuilder.icmpEcho(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, id: 9)
        let spoofMAC = PacketBuilder.tcp(srcMAC: MACAddress("02:00:00:00:ee:ee")!, dstMAC: macB, src: ipF, dst: ipB,
                                         srcPort: 40003, dstPort: 80)
        let spoofIP = PacketBuilder.tcp(srcMAC: macF, dstMAC: macB, src: IPAddress("10.0.0.9")!, dst: ipB, srcPort: 40004, dstPort: 80)
        var badIHL = syn80
        badIHL[14] = 0x43
        let toOtherTenant = PacketBuilder.tcp(srcMAC: macF, dstMAC: macY1, src: ipF, dst: ipY1, srcPort: 40005, dstPort: 80)
        let arpAsk = PacketBuilder.arp(op: 1, senderMAC: macF, senderIP: ipF, targetIP: ipB)
        let arpGratuitousClaim = PacketBuilder.arp(op: 1, senderMAC: macF, senderIP: ipB, targetIP: ipB)
        let nsAsk = PacketBuilder.neighborSolicitation(srcMAC: macF, src: ipF6, target: ipB6)
        let bigUDP = PacketBuilder.udp(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, srcPort: 5000, dstPort: 80,
                                       payload: PacketBuilder.pattern(count: 64))
        let laterFragment = PacketBuilder.fragment(bigUDP, size: 32)[1]
        try g.writePcap("pa-in.pcap", [syn80, syn81, udp80, ping, spoofMAC, spoofIP, badIHL, toOtherTenant,
                                        arpAsk, arpGratuitousClaim, nsAsk, laterFragment])

        let synAck = PacketBuilder.tcp(srcMAC: macB, dstMAC: macF, src: ipB, dst: ipF, srcPort: 80, dstPort: 40000, flags: [.syn, .ack])
        let reverseSyn = PacketBuilder.tcp(srcMAC: macB, dstMAC: macF, src: ipB, dst: ipF, srcPort: 50000, dstPort: 80, flags: .syn)
        try g.writePcap("pb-in.pcap", [synAck, reverseSyn])

        // Tenant "other" reuses 10.0.0.2 (y2, on pc itself): it never reaches tenant shop's b1.
        let y1ToY2 = PacketBuilder.tcp(srcMAC: macY1, dstMAC: macY2, src: ipY1, dst: ipB, srcPort: 1234, dstPort: 80)
        try g.writePcap("pc-in.pcap", [y1ToY2])
    }

    @Test func everyPacketGetsItsExpectedVerdict() throws {
        let g = try GBPDProcess("policy")
        defer { g.cleanUp() }
        try writeInputs(g)
        let syn80 = PacketBuilder.tcp(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, srcPort: 40000, dstPort: 80, flags: .syn)
        let synAck = PacketBuilder.tcp(srcMAC: macB, dstMAC: macF, src: ipB, dst: ipF, srcPort: 80, dstPort: 40000, flags: [.syn, .ack])
        let r = try g.run(config: config(g))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")

        let arpReply = PacketBuilder.arp(op: 2, senderMAC: macB, senderIP: ipB, targetMAC: macF, targetIP: ipF, dstMAC: macF)
        let naReply = PacketBuilder.neighborAdvertisement(srcMAC: macB, src: ipB6, target: ipB6, targetMAC: macB,
                                                          dstMAC: macF, dst: ipF6, solicited: true)
        #expect(try g.readPcap("pb-out.pcap") == [syn80])
        #expect(try g.readPcap("pa-out.pcap") == [arpReply, naReply, synAck])
        #expect(try g.readPcap("pc-out.pcap").isEmpty)

        #expect(r.drop(.noContract) == 4)             // port 81, UDP, ping, and backend opening to frontend
        #expect(r.drop(.spoofedMAC) == 1)
        #expect(r.drop(.spoofedIP) == 1)
        #expect(r.drop(.badIPv4HeaderLength) == 1)
        #expect(r.drop(.unknownDestination) == 1)     // 10.0.0.3 is not in tenant shop
        #expect(r.drop(.arpConflict) == 1)
        #expect(r.drop(.fragmentWithoutState) == 1)
        #expect(r.drop(.destinationOnIngressPort) == 1)
        #expect(r.int("dropped") == 11)
        #expect(r.int("rx") == 15)
        #expect(r.int("rx") == r.int("tx") + r.int("dropped"))
        #expect(r.int("mempool_in_use_at_exit") == 0)
        // The rule that let the SYN through counted it. Conntrack admitted two flows: the
        // SYN to port 80, and y1 -> y2 (allowed inside group misc, then dropped because
        // y2 sits behind the port it came from).
        let rules = r.stats?["rules"] as? [[String: Any]] ?? []
        let http = rules.first { $0["rule"] as? String == "web/http" && $0["contract"] as? String == "web" }
        #expect((http?["allowed"] as? Int ?? 0) >= 1)
        #expect(http?["denied"] as? Int == 0)
        #expect((r.stats?["conntrack"] as? [String: Any])?["new"] as? Int == 2)
    }

    /// Verdict capture: every packet goes to a pcapng file with its verdict as a
    /// per-packet comment, and tshark reads them back.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark"), "needs tshark"))
    func verdictCaptureWritesEveryVerdictAsAComment() throws {
        let g = try GBPDProcess("capture")
        defer { g.cleanUp() }
        try writeInputs(g)
        let capture = g.path("verdicts.pcapng")
        let r = try g.run(config: config(g, extra: "capture: { path: \(capture), packets: all }"))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        let tshark = Process()
        tshark.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
        tshark.arguments = ["-r", capture, "-T", "fields", "-e", "frame.comment"]
        let out = Pipe()
        tshark.standardOutput = out
        tshark.standardError = FileHandle.nullDevice
        try tshark.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        tshark.waitUntilExit()
        let comments = text.split(separator: "\n").map(String.init)
        #expect(comments.count == 15, "one record per received packet: \(comments)")
        func count(_ s: String) -> Int { comments.filter { $0.contains(s) }.count }
        #expect(count("verdict=allow") == 4)   // SYN to 80, ARP and NS answered, the SYN-ACK reply
        #expect(count("verdict=drop") == 11)
        #expect(count("reason=no_contract") == 4)
        #expect(count("reason=spoofed_ip") == 1)
        #expect(count("reason=fragment_without_state") == 1)
        #expect(count("verdict=allow reason=- contract=web rule=web/http epoch=1 in=pa out=pb") == 1)
        #expect((r.stats?["capture"] as? [String: Any])?["written"] as? Int == 15)
    }

    /// The flow log: policy drops logged through swift-log, at most `max_per_second`.
    @Test func deniedFlowsAreLoggedWithinTheRateLimit() throws {
        let g = try GBPDProcess("flowlog")
        defer { g.cleanUp() }
        try writeInputs(g)
        let r = try g.run(config: config(g, extra: "flow_log: { denied: true, max_per_second: 3 }"))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("gbpd.flows") && $0.contains("flow denied") }
        #expect(lines.count == 3, "11 drops, 3 logged: \(lines)")
        #expect(lines.contains { $0.contains("flow denied (no_contract): 10.0.0.1:40001 -> 10.0.0.2:81 tcp from port pa") })
    }
}
