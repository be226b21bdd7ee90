import Foundation
import GBPCore
import Testing

/// Idle workers sweep expired connections out of their table: after a run of short-lived
/// UDP flows and a quiet second, the table is empty again (without the sweep, expired
/// entries stay until the table or a tenant budget fills, and `conntrack.entries` counts them).
@Suite struct ConntrackIdleSweepTests {
    @Test func idleWorkersRemoveExpiredConnections() throws {
        let g = try GBPDProcess("idle-sweep")
        defer { g.cleanUp() }
        let f1 = MACAddress("02:00:00:00:0a:01")!, b1 = MACAddress("02:00:00:00:0b:01")!
        try g.writePcap("pa-in.pcap", (0..<300).map {
            PacketBuilder.udp(srcMAC: f1, dstMAC: b1, src: IPAddress("10.0.0.1")!, dst: IPAddress("10.0.0.2")!,
                              srcPort: UInt16(2000 + $0), dstPort: 80)
        })
        try g.writePcap("pb-in.pcap", [])
        let config = """
        \(g.pcapHeader(ports: ["pa", "pb"]))
        \(GBPDProcess.shopPolicy())
        conntrack: { capacity: 4096, timeouts: { udp_s: 0.05 } }
        run: { stats_interval_s: 0 }
        """
        let r = try g.run(config: config, extraArgs: ["--duration", "2"])
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")
        let ct = r.stats?["conntrack"] as? [String: Any]
        let count = { (key: String) in (ct?[key] as? NSNumber)?.intValue ?? -1 }
        #expect(count("new") == 300, "\(ct ?? [:])")
        #expect(count("expired") == 300 && count("entries") == 0, "\(ct ?? [:])")
        #expect(try g.readPcap("pb-out.pcap").count == 300)
    }
}
