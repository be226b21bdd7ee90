import Foundation
import GBPCore
import Testing

/// Hot reload while traffic runs at full rate: 100 SIGHUPs flip one contract
/// between allow and deny. Every packet must be counted under the policy in force
/// when it was classified, none lost or misjudged, no mbuf leaked.
@Suite(.serialized)
struct ReloadTests {
    let macF = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!
    let ipF = IPAddress("10.0.0.1")!, ipB = IPAddress("10.0.0.2")!

    func config(_ g: GBPDProcess, action: String) -> String {
        """
        \(g.flowsHeader())
        \(GBPDProcess.shopPolicy(action: action))
        run: { stats_interval_s: 0 }
        """
    }

    @Test func hundredReloadsUnderTrafficLoseAndMisjudgeNothing() throws {
        let g = try GBPDProcess("reload")
        defer { g.cleanUp() }
        try g.writePcap("flows.pcap", (0..<256).map {
            PacketBuilder.udp(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, srcPort: UInt16(2000 + $0), dstPort: 80)
        })
        let configPath = g.path("gbpd.yaml")
        try config(g, action: "allow").write(toFile: configPath, atomically: true, encoding: .utf8)
        let d = try BackgroundGBPD(configPath: configPath, statsPath: g.path("stats.json"))
        #expect(d.wait(for: "worker(s) on lcore"), "gbpd did not start: \(d.stdout)")
        Thread.sleep(forTimeInterval: 0.3)
        for epoch in 2...101 {
            // Even epochs deny, odd epochs allow (epoch 1 is the initial policy).
            try config(g, action: epoch % 2 == 0 ? "deny" : "allow").write(toFile: configPath, atomically: true, encoding: .utf8)
            d.signal(SIGHUP)
            let applied = d.wait(for: "policy epoch \(epoch) in force")
            #expect(applied, "reload to epoch \(epoch) not applied: \(d.stdout.suffix(500))")
            if !applied { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let (status, stats) = d.finish()
        #expect(status == 0)
        let s = try #require(stats)
        func int(_ v: Any?) -> Int { (v as? NSNumber)?.intValue ?? -1 }
        #expect(int(s["mempool_in_use_at_exit"]) == 0)
        let rx = int(s["rx"]), tx = int(s["tx"]), dropped = int(s["dropped"])
        #expect(rx > 100_000, "traffic ran at full rate")
        #expect(rx == tx + dropped, "no packet lost")
        let drops = s["drops"] as? [String: Any] ?? [:]
        #expect(Set(drops.keys).isSubset(of: [DropReason.deniedByRule.name]), "only the contract's deny drops: \(drops)")

        // Per epoch: the rule's counters under that epoch's action.
        var epochs = (s["retired_epochs"] as? [[String: Any]] ?? []).map { (int($0["epoch"]), $0["rules"] as? [[String: Any]] ?? []) }
        epochs.append((int(s["policy_epoch"]), s["rules"] as? [[String: Any]] ?? []))
        #expect(epochs.map(\.0) == Array(1...101))
        var allowed = 0, denied = 0, packets = 0
        for (epoch, rules) in epochs {
            let http = try #require(rules.first { $0["rule"] as? String == "web/http" })
            let a = int(http["allowed"]), dn = int(http["denied"])
            if epoch % 2 == 0 { #expect(a == 0, "epoch \(epoch) denies, yet allowed \(a)") }
            else { #expect(dn == 0, "epoch \(epoch) allows, yet denied \(dn)") }
            allowed += a; denied += dn; packets += int(http["packets"])
        }
        #expect(packets == rx, "every packet was classified under exactly one epoch")
        #expect(allowed == tx)
        #expect(denied == dropped)
    }
}
