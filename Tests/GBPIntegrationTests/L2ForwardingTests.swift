import Foundation
import GBPCore
import Testing

/// gbpd on pcap ports: frames in, frames out, counters checked.
@Suite(.serialized)
struct L2ForwardingTests {
    let macA = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!, macC = MACAddress("02:00:00:00:0c:01")!
    let ipA = IPAddress("10.0.0.1")!, ipB = IPAddress("10.0.0.2")!, ipC = IPAddress("10.0.0.3")!

    func config(_ g: GBPDProcess, ports: [String]) -> String {
        """
        eal: \(g.eal)
        workers: [1]
        mempool: { mbufs: 4095, cache: 64 }
        ports:
        \(ports.enumerated().map { g.pcapPort($1, index: $0) }.joined(separator: "\n"))
        endpoints:
          - { name: a, port: pod-a, mac: "\(macA)", ips: [10.0.0.1] }
          - { name: b, port: pod-b, mac: "\(macB)", ips: [10.0.0.2] }
          - { name: c, port: pod-c, mac: "\(macC)", ips: [10.0.0.3] }
        run: { stop_when_inputs_drained: true, stats_interval_s: 0 }
        """
    }

    func tcp(_ sm: MACAddress, _ dm: MACAddress, _ s: IPAddress, _ d: IPAddress, _ i: Int) -> [UInt8] {
        PacketBuilder.tcp(srcMAC: sm, dstMAC: dm, src: s, dst: d, srcPort: UInt16(1000 + i), dstPort: 80, flags: .ack, seq: UInt32(i))
    }

    @Test func unicastFramesLeaveThroughTheirEndpointsPort() throws {
        let g = try GBPDProcess("unicast")
        defer { g.cleanUp() }
        let aToB = (0..<50).map { tcp(macA, macB, ipA, ipB, $0) }
        let aToC = (0..<30).map { tcp(macA, macC, ipA, ipC, $0) }
        let bToA = (0..<40).map { tcp(macB, macA, ipB, ipA, $0) }
        let aIn = zip(aToB.prefix(30), aToC).flatMap { [$0, $1] } + aToB.suffix(20)
        try g.writePcap("pod-a-in.pcap", aIn)
        try g.writePcap("pod-b-in.pcap", bToA)
        try g.writePcap("pod-c-in.pcap", [])

        let r = try g.run(config: config(g, ports: ["pod-a", "pod-b", "pod-c"]))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        // Each output holds exactly the frames for its endpoint, in order.
        #expect(try g.readPcap("pod-b-out.pcap") == aToB)
        #expect(try g.readPcap("pod-c-out.pcap") == aToC)
        #expect(try g.readPcap("pod-a-out.pcap") == bToA)
        #expect(r.port("pod-a")?["rx"] as? Int == 80)
        #expect(r.port("pod-b")?["tx"] as? Int == 50)
        // No flooding here: rx = tx + dropped exactly, nothing dropped, nothing leaked.
        #expect(r.int("rx") == 120)
        #expect(r.int("rx") == r.int("tx") + r.int("dropped"))
        #expect(r.int("dropped") == 0)
        #expect(r.int("mempool_in_use_at_exit") == 0)
    }

    @Test func broadcastAndUnknownUnicastFloodOthersDropsAreCounted() throws {
        let g = try GBPDProcess("flood")
        defer { g.cleanUp() }
        let arp = PacketBuilder.arp(op: 1, senderMAC: macA, senderIP: ipA, targetIP: ipB)
        let unknown = tcp(macA, MACAddress("02:00:00:00:99:99")!, ipA, IPAddress("10.0.0.99")!, 1)
        let hairpin = tcp(macB, macA, ipB, ipA, 2)        // for a, arriving on a's own port
        let runt = [UInt8](repeating: 0x11, count: 9)
        let ok = tcp(macA, macB, ipA, ipB, 3)
        try g.writePcap("pod-a-in.pcap", [arp, unknown, hairpin, runt, ok])
        try g.writePcap("pod-b-in.pcap", [])
        try g.writePcap("pod-c-in.pcap", [])

        let r = try g.run(config: config(g, ports: ["pod-a", "pod-b", "pod-c"]))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        #expect(try g.readPcap("pod-b-out.pcap") == [arp, unknown, ok])
        #expect(try g.readPcap("pod-c-out.pcap") == [arp, unknown])
        #expect(try g.readPcap("pod-a-out.pcap").isEmpty)
        #expect(r.drop(.runtFrame) == 1)
        #expect(r.drop(.destinationOnIngressPort) == 1)
        #expect(r.int("dropped") == 2)
        #expect(r.int("flood_copies") == 2)
        // Every received packet is forwarded once or dropped once; flooding adds copies.
        #expect(r.int("rx") + r.int("flood_copies") == r.int("tx") + r.int("dropped"))
        #expect(r.int("mempool_in_use_at_exit") == 0)
    }


    /// Bursts to one destination take a shortcut (one lookup for the burst); what breaks
    /// it must still be caught: a runt whose first bytes are that MAC, a burst for the
    /// ingress port's own endpoint, a burst to an unknown MAC.
    @Test func oneDestinationBurstsStillCatchRuntsHairpinsAndUnknowns() throws {
        let g = try GBPDProcess("burst")
        defer { g.cleanUp() }
        let aToB = (0..<25).map { tcp(macA, macB, ipA, ipB, $0) }
        let runtToB = Array(aToB[0].prefix(10))       // starts with b's MAC, shorter than a header
        let hairpins = (0..<12).map { tcp(macC, macB, ipC, ipB, $0) }   // for b, arriving on b's port
        let unknown = MACAddress("02:00:00:00:99:99")!
        let toUnknown = (0..<6).map { tcp(macC, unknown, ipC, IPAddress("10.0.0.99")!, $0) }
        try g.writePcap("pod-a-in.pcap", Array(aToB.prefix(20)) + [runtToB] + aToB.suffix(5))
        try g.writePcap("pod-b-in.pcap", hairpins)
        try g.writePcap("pod-c-in.pcap", toUnknown)

        let r = try g.run(config: config(g, ports: ["pod-a", "pod-b", "pod-c"]))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        #expect(try g.readPcap("pod-b-out.pcap") == aToB + toUnknown)
        #expect(try g.readPcap("pod-a-out.pcap") == toUnknown)
        #expect(r.drop(.runtFrame) == 1)
        #expect(r.drop(.destinationOnIngressPort) == 12)
        #expect(r.int("flood_copies") == 6)
        #expect(r.int("rx") == 26 + 12 + 6)
        #expect(r.int("rx") + r.int("flood_copies") == r.int("tx") + r.int("dropped"))
        #expect(r.int("mempool_in_use_at_exit") == 0)
    }
    @Test func sigintInMidTrafficStopsCleanlyWithoutLeaks() throws {
        let g = try GBPDProcess("sigint")
        defer { g.cleanUp() }
        try g.writePcap("stream.pcap", (0..<512).map { tcp(macA, macB, ipA, ipB, $0) })
        let cfg = """
        eal: \(g.eal)
        workers: [1]
        mempool: { mbufs: 8191, cache: 64 }
        ports:
          - { name: pod-a, devargs: "net_pcap0,rx_pcap=\(g.path("stream.pcap")),infinite_rx=1,tx_pcap=/dev/null" }
          - { name: pod-b, devargs: "net_null0,no-rx=1" }
        endpoints:
          - { name: b, port: pod-b, mac: "\(macB)" }
        run: { stats_interval_s: 0 }
        """
        let r = try g.run(config: cfg, interruptAfter: 2.0)
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        #expect(r.int("rx") > 10_000, "traffic was flowing when SIGINT came")
        #expect(r.int("rx") == r.int("tx") + r.int("dropped"))
        #expect(r.int("mempool_in_use_at_exit") == 0)
    }
}
