import Foundation
import GBPCore
import Testing

/// Ports added and removed over the control socket while gbpd forwards traffic: a new
/// set of ports reaches the workers like a new policy (RCU), so the other ports lose
/// and misjudge nothing, and a removed port leaves no mbuf behind.
@Suite(.serialized)
struct RuntimePortTests {
    let macF = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!
    let ipF = IPAddress("10.0.0.1")!, ipB = IPAddress("10.0.0.2")!
    let gatewayMAC = MACAddress("0a:58:0a:00:00:fe")!, gatewayIP = IPAddress("10.0.0.254")!
    let control = ControlTests()

    /// The shop policy with a gateway for tenant shop.
    static let policy = GBPDProcess.shopPolicy().replacingOccurrences(
        of: "tenants: [{ name: shop }]", with: "tenants: [{ name: shop, gateway: { ips: [10.0.0.254], mac: \"0a:58:0a:00:00:fe\" } }]")

    func ctl(_ g: GBPDProcess, _ args: [String]) throws -> ControlTests.Run {
        let r = try control.gbpctl(g, args)
        #expect(r.status == 0, "gbpctl \(args.joined(separator: " ")): \(r.stderr)")
        return r
    }

    /// gbpd in the background on `ports` (a header with EAL, workers and ports) and the
    /// policy, with its control socket up.
    func start(_ g: GBPDProcess, ports: String) throws -> BackgroundGBPD {
        let config = """
            \(ports)
            \(Self.policy)
            control:
              socket: \(g.path("gbpd.sock"))
            run: { stats_interval_s: 0 }
            """
        try config.write(toFile: g.path("gbpd.yaml"), atomically: true, encoding: .utf8)
        let d = try BackgroundGBPD(configPath: g.path("gbpd.yaml"), statsPath: g.path("stats.json"))
        #expect(d.wait(for: "control socket"), "\(d.stdout)")
        return d
    }

    func portNames(_ g: GBPDProcess) throws -> [String] {
        (try ctl(g, ["ports", "--json"]).json?["ports"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
    }

    @Test func hundredPortsComeAndGoWhileTrafficFlowsOnAnother() throws {
        let g = try GBPDProcess("rtports")
        defer { g.cleanUp() }
        // pa replays, forever: 32 packets web/http allows, then 32 no contract allows.
        try g.writePcap("flows.pcap", (0..<64).map {
            PacketBuilder.udp(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, srcPort: UInt16(2000 + $0), dstPort: $0 < 32 ? 80 : 81)
        })
        let d = try start(g, ports: g.flowsHeader())

        // Most ports are null devices; where this machine can, every tenth is a tap device
        // and every tenth an af_packet port on a veth pair made for it.
        let canTap = getuid() == 0 && E2E.hasPMD("tap") && FileManager.default.fileExists(atPath: "/dev/net/tun")
        let canVeth = getuid() == 0 && E2E.which("ip") != nil
        var kinds: [String: Int] = [:]
        for i in 1...100 {
            let name = "c\(i)"
            let endpoint = #"{"name": "\#(name)", "group": "backend", "mac": "02:00:00:00:0c:\#(String(format: "%02x", i))", "ips": ["10.0.1.\#(i)"]}"#
            var devargs = "net_null\(10 + i),no-rx=1"
            var veth: String?
            if canTap && i % 10 == 3 {
                devargs = "net_tap\(i),iface=gbprt\(i)"
            } else if canVeth && i % 10 == 7 {
                veth = "gbprt\(i)"
                #expect(E2E.run(["ip", "link", "add", "gbprt\(i)", "type", "veth", "peer", "name", "gbprtp\(i)"]).status == 0)
                E2E.run(["ip", "link", "set", "gbprt\(i)", "up"])
                devargs = "net_af_packet_rt\(i),iface=gbprt\(i)"
            }
            kinds[String(devargs.prefix { $0 != "," }.filter { !$0.isNumber }), default: 0] += 1
            _ = try ctl(g, ["ports", "add", "--name", name, "--devargs", devargs, "--tenant", "shop", "--endpoint", endpoint])
            if i % 25 == 1 {
                #expect(try portNames(g) == ["pa", "pb", name])
                let eps = try ctl(g, ["endpoints", "--json"]).json?["endpoints"] as? [[String: Any]]
                #expect(eps?.contains { $0["name"] as? String == name && $0["port"] as? String == name } == true)
            }
            _ = try ctl(g, ["ports", "remove", name])
            if let v = veth { E2E.run(["ip", "link", "del", v]) }
        }
        print("runtime ports added and removed by driver: \(kinds)")
        if canTap { #expect(!E2E.run(["ip", "-o", "link"]).stdout.contains("gbprt"), "a tap device outlived its port") }
        #expect(try portNames(g) == ["pa", "pb"])
        #expect(try control.epoch(g) == 201)

        let (status, stats) = d.finish()
        #expect(status == 0, "\(d.stdout)")
        let s = try #require(stats)
        func int(_ o: Any?) -> Int { (o as? NSNumber)?.intValue ?? -1 }
        let ports = try #require(s["ports"] as? [[String: Any]])
        #expect(ports.map { $0["name"] as? String } == ["pa", "pb"])
        let rx = int(ports[0]["rx"]), tx = int(ports[1]["tx"])
        let drops = s["drops"] as? [String: Any] ?? [:]
        #expect(rx > 100_000, "traffic flowed all along: \(rx)")
        // Nothing lost: every packet of pa was sent to pb or dropped, and dropped only by the policy.
        // (The kernel's own frames on the tap and veth ports, router solicitations and the
        // like, are dropped as spoofed: they are the only other drops.)
        let paDropped = int(ports[0]["ingress_dropped"])
        #expect(rx == tx + paDropped, "rx \(rx), tx \(tx), drops \(drops)")
        #expect(paDropped == int(drops["no_contract"]), "\(drops)")
        let removed = s["removed_ports"] as? [String: Any]
        let others = drops.filter { $0.key != "no_contract" }.values.reduce(0) { $0 + int($1) }
        #expect(others == int(removed?["dropped"]), "drops \(drops), removed ports \(String(describing: removed))")
        // Nothing misjudged: web/http allowed exactly what went out, and half the packets (to a burst) were denied.
        let rules = s["rules"] as? [[String: Any]] ?? []
        let http = rules.first { $0["rule"] as? String == "web/http" }
        let retired = (s["retired_rule_totals"] as? [[String: Any]] ?? []).first { $0["rule"] as? String == "web/http" }
        #expect(int(http?["allowed"]) + max(int(retired?["allowed"]), 0) == tx, "\(rules) \(String(describing: retired))")
        #expect(abs(tx - int(drops["no_contract"])) <= 32)
        #expect(int(removed?["count"]) == 100)
        #expect(int(s["mempool_in_use_at_exit"]) == 0)
    }

    @Test func aRuntimePortCarriesTrafficThroughTheGateway() throws {
        let g = try GBPDProcess("rtgateway")
        defer { g.cleanUp() }
        let macD = MACAddress("02:00:00:00:0d:01")!, ipD = IPAddress("10.0.0.4")!
        try g.writePcap("pa-in.pcap", [])
        try g.writePcap("pb-in.pcap", [])
        try g.writePcap("pd-in.pcap", [
            // d1 asks for its gateway, then sends to b1 through it (allowed, then no contract).
            PacketBuilder.arp(op: 1, senderMAC: macD, senderIP: ipD, targetIP: gatewayIP),
            PacketBuilder.udp(srcMAC: macD, dstMAC: gatewayMAC, src: ipD, dst: ipB, srcPort: 3000, dstPort: 80),
            PacketBuilder.udp(srcMAC: macD, dstMAC: gatewayMAC, src: ipD, dst: ipB, srcPort: 3001, dstPort: 81),
        ])
        let d = try start(g, ports: g.pcapHeader(ports: ["pa", "pb"]))

        // A config port cannot be removed; a runtime port whose endpoint is invalid is not opened.
        let refused = try control.gbpctl(g, ["ports", "remove", "pa"])
        #expect(refused.status == 1 && refused.stderr.contains("port 'pa' comes from the config file"), "\(refused.stderr)")
        let bad = try control.gbpctl(g, ["ports", "add", "--name", "px", "--devargs", "net_null9,no-rx=1", "--tenant", "shop",
                                         "--endpoint", #"{"name": "x", "group": "nope", "mac": "02:00:00:00:0e:01", "ips": ["10.0.0.9"]}"#])
        #expect(bad.status == 1 && bad.stderr.contains("endpoint of runtime port 'px'.group: unknown group \"nope\""), "\(bad.stderr)")
        let squat = try control.gbpctl(g, ["ports", "add", "--name", "px", "--devargs", "net_null9,no-rx=1", "--tenant", "shop",
                                           "--endpoint", #"{"name": "x", "group": "frontend", "mac": "02:00:00:00:0e:01", "ips": ["10.0.0.254"]}"#])
        #expect(squat.status == 1 && squat.stderr.contains("is the gateway address of tenant \"shop\""), "\(squat.stderr)")
        #expect(try portNames(g) == ["pa", "pb"])

        let endpoint = #"{"name": "d1", "group": "frontend", "mac": "\#(macD)", "ips": ["\#(ipD)"]}"#
        _ = try ctl(g, ["ports", "add", "--name", "pd", "--devargs",
                        "net_pcap9,rx_pcap=\(g.path("pd-in.pcap")),tx_pcap=\(g.path("pd-out.pcap"))", "--tenant", "shop",
                        "--endpoint", endpoint])
        // A reload of the file keeps the runtime port and its endpoint.
        _ = try ctl(g, ["reload"])
        #expect(try portNames(g) == ["pa", "pb", "pd"])
        var seen = 0
        for _ in 0..<200 where seen < 3 {
            let ports = try ctl(g, ["ports", "--json"]).json?["ports"] as? [[String: Any]]
            seen = (ports?.first { $0["name"] as? String == "pd" }?["rx"] as? NSNumber)?.intValue ?? 0
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(seen == 3)
        _ = try ctl(g, ["ports", "remove", "pd"])
        let (status, stats) = d.finish()
        #expect(status == 0, "\(d.stdout)")
        #expect((stats?["mempool_in_use_at_exit"] as? NSNumber)?.intValue == 0)
        #expect(((stats?["drops"] as? [String: Any])?["no_contract"] as? NSNumber)?.intValue == 1)

        // The ARP request for the gateway came back as the gateway's reply.
        let back = try g.readPcap("pd-out.pcap")
        #expect(back.count == 1)
        if let reply = back.first {
            var f = PacketFields()
            #expect(reply.withUnsafeBytes { PacketParser.parse($0.baseAddress!, length: $0.count, into: &f) } == nil)
            #expect(f.kind == .arp && f.arpOpcode == 2 && f.arpSenderMAC == gatewayMAC && f.src == gatewayIP && f.dstMAC == macD)
        }
        // The packet sent to the gateway's MAC reached b1 with b1's MAC as destination.
        let out = try g.readPcap("pb-out.pcap")
        #expect(out.count == 1)
        if let frame = out.first {
            var f = PacketFields()
            #expect(frame.withUnsafeBytes { PacketParser.parse($0.baseAddress!, length: $0.count, into: &f) } == nil)
            #expect(f.dstMAC == macB && f.srcMAC == macD && f.dst == ipB && f.dstPort == 80)
        }
    }
}
