import Foundation
import GBPCore
import Testing

/// The lint pass through gbpd: `--check` prints each warning with file, line, field and
/// reason and still accepts the config (exit 0); a reload to a config with a finding
/// applies it and logs the warning.
@Suite(.serialized)
struct LintTests {
    /// The shared shop policy plus an external group for the whole Internet whose
    /// contract `in` opens `rule` to group backend.
    static func config(_ g: GBPDProcess, rule: String) -> String {
        """
        \(g.flowsHeader())
        \(GBPDProcess.shopPolicy())
          - { name: in, tenant: shop, providers: [backend], consumers: [internet], rules: [\(rule)] }
        external_groups: [{ name: internet, tenant: shop, cidrs: [0.0.0.0/0] }]
        run: { stats_interval_s: 0 }
        control: { socket: \(g.path("gbpd.sock")) }
        """
    }

    static let lintLine = 14   // the line of contract `in`
    static let warning = "contracts[1].rules[0]: lets the whole Internet (external group internet, a /0 cidr) open connections to backend on every protocol and port"

    @Test func checkPrintsWarningsAndAcceptsTheConfig() throws {
        let g = try GBPDProcess("lint-check")
        defer { g.cleanUp() }
        let file = g.path("gbpd.yaml")
        let wide = try g.run(config: Self.config(g, rule: "{ protocol: any }"), extraArgs: ["--check"])
        #expect(wide.status == 0, "\(wide.stderr)")
        #expect(wide.stderr == "warning: \(file):\(Self.lintLine): \(Self.warning)\n")
        #expect(wide.stdout == "\(file): OK (2 ports, 2 endpoints, 1 warning)\n")
        let narrow = try g.run(config: Self.config(g, rule: "{ protocol: tcp, ports: [443] }"), extraArgs: ["--check"])
        #expect(narrow.status == 0 && narrow.stderr.isEmpty, "\(narrow.stderr)")
        #expect(narrow.stdout == "\(file): OK (2 ports, 2 endpoints)\n")
    }

    @Test func aReloadLogsTheWarningsOfTheNewConfig() throws {
        let g = try GBPDProcess("lint-reload")
        defer { g.cleanUp() }
        let f1 = MACAddress("02:00:00:00:0a:01")!, b1 = MACAddress("02:00:00:00:0b:01")!
        try g.writePcap("flows.pcap", [PacketBuilder.udp(srcMAC: f1, dstMAC: b1, src: IPAddress("10.0.0.1")!, dst: IPAddress("10.0.0.2")!,
                                                         srcPort: 2000, dstPort: 80)])
        let file = g.path("gbpd.yaml")
        try Self.config(g, rule: "{ protocol: tcp, ports: [443] }").write(toFile: file, atomically: true, encoding: .utf8)
        let d = try BackgroundGBPD(configPath: file, statsPath: g.path("stats.json"))
        #expect(d.wait(for: "started with"), "gbpd did not start: \(d.stdout)")
        #expect(!d.stdout.contains("config lint"))
        try Self.config(g, rule: "{ protocol: any }").write(toFile: file, atomically: true, encoding: .utf8)
        d.signal(SIGHUP)
        #expect(d.wait(for: "policy epoch 2 in force"), "\(d.stdout)")
        #expect(d.wait(for: "config lint: \(file):\(Self.lintLine): \(Self.warning)"), "\(d.stdout)")

        // A change over the control socket is linted too.
        let add = try ControlTests().gbpctl(g, ["contracts", "add", "--json-spec",
            #"{"name": "out", "tenant": "shop", "providers": ["internet"], "consumers": ["frontend"], "rules": [{"protocol": "any"}]}"#])
        #expect(add.status == 0, "\(add.stderr)")
        #expect(d.wait(for: "contracts[2].rules[0]: lets frontend open connections to the whole Internet (external group internet, a /0 cidr) on every protocol and port"),
                "\(d.stdout)")
        #expect(d.finish().status == 0)
    }
}
