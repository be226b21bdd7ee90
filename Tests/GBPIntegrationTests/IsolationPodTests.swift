import Foundation
import GBPCore
import Testing

/// The isolation and spoofing table (`Isolation.cases`) on kernel-facing ports: pods in
/// network namespaces on af_packet and af_xdp (veth host ends) and on tap ports. s1's pod writes every case's
/// frame onto its interface with a raw socket; raw sockets in s2's and o1's pods record
/// what arrives. o1 gets nothing at all; s2 gets exactly the frames meant for it; gbpd's
/// drop counters match the table reason for reason.
@Suite(.serialized, .enabled(if: E2E.podsAvailable, "needs root and working network namespaces with veth pairs (ip netns); the reason is printed on stderr"))
struct IsolationPodTests {
    enum Attachment: String { case afPacket = "af_packet", afXDP = "af_xdp", tap }

    /// Sends the frames of a hex file (one per line) on an interface, or prints "ready" and
    /// then every frame the interface receives, as hex, one per line.
    static let rawFrames = """
        import socket, sys, time
        mode, iface = sys.argv[1], sys.argv[2]
        if mode == "send":
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((iface, 0))
            for line in open(sys.argv[3]):
                s.send(bytes.fromhex(line.strip()))
                time.sleep(0.01)
        else:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
            s.bind((iface, 0))
            print("ready", flush=True)
            while True:
                data, addr = s.recvfrom(65535)
                if addr[2] != socket.PACKET_OUTGOING:
                    print(data.hex(), flush=True)
        """

    @Test func afPacket() throws { try check(.afPacket) }

    @Test func afXDP() throws {
        try E2E.requirePods(tools: ["python3", "timeout"])
        if !E2E.hasPMD("af_xdp") { try Test.cancel("skipped: this DPDK build has no net_af_xdp PMD (librte_net_af_xdp.so)") }
        try check(.afXDP)
    }

    @Test func tap() throws {
        try E2E.requirePods(tools: ["python3", "timeout"])
        if !E2E.hasPMD("tap") { try Test.cancel("skipped: this DPDK build has no net_tap PMD (librte_net_tap.so)") }
        if !FileManager.default.fileExists(atPath: "/dev/net/tun") { try Test.cancel("skipped: no /dev/net/tun: the kernel has no tun/tap") }
        try check(.tap)
    }

    func check(_ kind: Attachment) throws {
        try E2E.requirePods(tools: ["python3", "timeout"])
        let g = try GBPDProcess("iso-\(kind.rawValue)")
        defer { g.cleanUp() }
        let pods = PodSet(dir: g.dir)
        defer { pods.cleanUp() }
        let layout: [(label: String, ip: String, mac: MACAddress, tenant: String, group: String)] = [
            ("a", "10.0.0.1", Isolation.macS1, "shop", "client"),
            ("b", "10.0.0.2", Isolation.macS2, "shop", "server"),
            ("c", "10.0.0.3", Isolation.macO1, "other", "x"),
        ]
        var port: [String: String] = [:], iface: [String: String] = [:]
        for p in layout {
            switch kind {
            case .afPacket, .afXDP:
                let pod = try pods.add(p.label, ip: p.ip, mac: "\(p.mac)", tenant: p.tenant, group: p.group, pmd: kind.rawValue)
                (port[p.label], iface[p.label]) = (pod.name, "eth0")
            case .tap:
                let name = "gbpti" + String(getpid(), radix: 36) + p.label
                try pods.addBare(p.label, ip: p.ip, mac: "\(p.mac)", tenant: p.tenant, group: p.group,
                                 port: "tap-\(p.label)", devargs: "net_tap_\(name),iface=\(name)")
                (port[p.label], iface[p.label]) = ("tap-\(p.label)", name)
            }
        }
        let d = try E2EDaemon(g, config: """
            eal: \(g.eal)
            workers: [1]
            mempool: { mbufs: \(kind == .afXDP ? 16383 : 4095), cache: 64 }   # af_xdp: 2048 per port for its fill ring
            descriptors: { rx: 256, tx: 256 }
            control: { socket: \(g.path("gbpd.sock")) }
            \(pods.portsYAML)
            \(Isolation.policy(a: port["a"]!, b: port["b"]!, c: port["c"]!))
            run: { stats_interval_s: 0 }
            """)
        if kind == .tap {
            // gbpd creates the tap interfaces when it opens its ports; each then moves into its pod.
            for p in layout {
                let name = iface[p.label]!
                let made = E2E.eventually(within: 20, every: 0.1) { E2E.run(["ip", "link", "show", "dev", name]).ok || !d.isRunning }
                try #require(made && d.isRunning, "gbpd made no tap interface \(name): \(d.log)")
                #expect(E2E.run(["ip", "link", "set", name, "netns", pods[p.label].name]).ok)
                for cmd in [["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/\(name)/disable_ipv6"],
                            ["ip", "link", "set", name, "address", "\(p.mac)"], ["ip", "link", "set", name, "up"]] {
                    let r = pods.exec(p.label, cmd)
                    #expect(r.ok, "\(cmd.joined(separator: " ")): \(r)")
                }
            }
        }
        let script = g.path("rawframes.py")
        try Self.rawFrames.write(toFile: script, atomically: true, encoding: .utf8)
        let python = E2E.which("python3") ?? "python3"
        for label in ["b", "c"] {
            try pods.background(label, [python, "-u", script, "sniff", iface[label]!], log: "sniff-\(label).log")
        }
        for label in ["b", "c"] {
            let ready = E2E.eventually(within: 20, every: 0.1) { pods.log("sniff-\(label).log").hasPrefix("ready") }
            try #require(ready, "the raw socket in pod \(label) did not start: \(pods.log("sniff-\(label).log"))")
        }
        // Counters before: what the pods' kernels sent while they were set up is not counted.
        var before: Counters?
        _ = E2E.eventually(within: 20, every: 0.2) { before = try? Counters(g); return before != nil || !d.isRunning }
        let start = try #require(before, "gbpd does not answer on its control socket: \(d.log)")

        let cases = Isolation.cases
        let hex = { (f: [UInt8]) in f.map { String(format: "%02x", $0) }.joined() }
        try cases.map { hex($0.frame) }.joined(separator: "\n").write(toFile: g.path("frames.hex"), atomically: true, encoding: .utf8)
        let sent = pods.exec("a", [python, script, "send", iface["a"]!, g.path("frames.hex")], timeout: 30)
        #expect(sent.ok, "sending from pod a: \(sent)")
        Thread.sleep(forTimeInterval: 1)
        let end = try Counters(g)
        let s = d.stop()
        #expect(s.status == 0, "\(s)")

        // Hex lines only (a raw socket whose interface disappears when gbpd stops says so).
        func received(_ label: String) -> [String] {
            pods.log("sniff-\(label).log").split(separator: "\n").dropFirst().map(String.init).filter { $0.allSatisfy(\.isHexDigit) }
        }
        let atO1 = received("c"), atS2 = Set(received("b"))
        #expect(atO1.isEmpty, "the other tenant's pod received \(atO1.count) frames: \(atO1.prefix(5))")
        for c in cases {
            let arrived = atS2.contains(hex(c.frame))
            #expect(arrived == (c.expect == .toPeer), "\(c.name): expected \(c.expect), \(arrived ? "" : "not ")received by s2")
        }
        let expected = Isolation.expectedDrops(cases)
        for reason in Set(expected.keys).union(end.drops.keys.compactMap { name in DropReason.allCases.first { $0.name == name } }) {
            let n = end.drops[reason.name, default: 0] - start.drops[reason.name, default: 0]
            #expect(n == expected[reason, default: 0],
                    "\(reason.name): \(n), expected \(expected[reason, default: 0]): \(cases.filter { $0.expect == .drop(reason) }.map(\.name))")
        }
        #expect(end.tx[port["c"]!] == start.tx[port["c"]!], "nothing sent to the other tenant's port")
        #expect(s.balanced, "\(s)")
    }

    /// Drops by reason, rx and tx per port, from `gbpctl stats --json` while gbpd runs.
    struct Counters {
        var drops: [String: Int] = [:]
        var rx: [String: Int] = [:]
        var tx: [String: Int] = [:]
        init(_ g: GBPDProcess) throws {
            let r = try ControlTests().gbpctl(g, ["stats", "--json"])
            guard r.status == 0, let stats = r.json?["stats"] as? [String: Any] else { throw E2EError("gbpctl stats: \(r.stderr)") }
            drops = ((stats["drops"] as? [String: Any]) ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
            for p in stats["ports"] as? [[String: Any]] ?? [] {
                guard let name = p["name"] as? String else { continue }
                rx[name] = (p["rx"] as? NSNumber)?.intValue
                tx[name] = (p["tx"] as? NSNumber)?.intValue
            }
        }
    }
}
