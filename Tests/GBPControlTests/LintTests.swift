import GBPCore
@testable import GBPControl
import Testing

/// The lint pass: each warning, at its file, line and field, with its reason; and no
/// warning for the narrow policies the lints should leave alone.
@Suite struct LintTests {
    /// A valid config: four groups in tenant shop, one endpoint each on its own port
    /// (lines 1-16), then `extra` (from line 17 on).
    static func config(_ extra: String, groupDefaults: String = "") -> String {
        """
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: p1, devargs: net_null0 }
          - { name: p2, devargs: net_null1 }
          - { name: p3, devargs: net_null2 }
          - { name: p4, devargs: net_null3 }
        tenants: [{ name: shop }]
        endpoints:
          - { name: w1, tenant: shop, group: web, port: p1, mac: "02:00:00:00:00:01", ips: [10.0.0.1] }
          - { name: w2, tenant: shop, group: web, port: p2, mac: "02:00:00:00:00:02", ips: [10.0.0.2] }
          - { name: a1, tenant: shop, group: api, port: p3, mac: "02:00:00:00:00:03", ips: [10.0.0.3] }
          - { name: d1, tenant: shop, group: db, port: p4, mac: "02:00:00:00:00:04", ips: [10.0.0.4] }
        external_groups:
          - { name: internet, tenant: shop, cidrs: [0.0.0.0/0, "::/0"], except: [10.0.0.0/8] }
          - { name: partner, tenant: shop, cidrs: [203.0.113.0/24] }
        \(extra)
        """
    }

    static let groups = """
        groups: [{ name: web, tenant: shop }, { name: api, tenant: shop }, { name: db, tenant: shop }, { name: ops, tenant: shop }]
        """

    func warnings(_ extra: String) throws -> [String] {
        try ConfigLoader.parse(Self.config(extra), file: "g.yaml").warnings.map(\.description)
    }

    func contracts(_ body: String) -> String { Self.groups + "\ncontracts:\n" + body }

    @Test func aNarrowPolicyHasNoWarning() throws {
        #expect(try warnings(contracts("""
              - { name: c, tenant: shop, providers: [api], consumers: [web], rules: [{ protocol: tcp, ports: [8080] }, { protocol: icmp, icmp_type: 8 }] }
              - { name: out, tenant: shop, providers: [internet], consumers: [web], rules: [{ protocol: tcp, ports: [443] }] }
              - { name: in, tenant: shop, providers: [web], consumers: [internet], rules: [{ protocol: tcp, ports: [443] }] }
              - { name: p, tenant: shop, providers: [api], consumers: [partner], rules: [{ protocol: any }] }
              - { name: two, tenant: shop, providers: [api, db], consumers: [web], rules: [{ protocol: any, action: deny }] }
            """)) == [])
    }

    @Test func anyProtocolBetweenManyGroups() throws {
        #expect(try warnings(contracts("""
              - { name: wide, tenant: shop, providers: [api, db, ops], consumers: [web], rules: [{ protocol: any }] }
              - { name: ok, tenant: shop, providers: [api], consumers: [web, ops], rules: [{ protocol: any }] }
            """)) == ["g.yaml:19: contracts[0].rules[0]: allows every protocol and port between 3 group pairs (consumers web, providers [api, db, ops]); name the protocols and ports"])
    }

    @Test func theWholeInternetOpeningEveryPort() throws {
        #expect(try warnings(contracts("""
              - { name: in, tenant: shop, providers: [web], consumers: [internet], rules: [{ protocol: tcp }] }
              - name: in6
                tenant: shop
                providers: [api]
                consumers: [db]
                rules:
                  - { protocol: udp, ports: [53] }
                  - { protocol: any, direction: both }
            """)) == [
                "g.yaml:19: contracts[0].rules[0]: lets the whole Internet (external group internet, a /0 cidr) open connections to web on every tcp port",
            ])
        // An Internet group on the opening side through the rule's direction.
        #expect(try warnings(contracts("""
              - { name: back, tenant: shop, providers: [internet], consumers: [api], rules: [{ protocol: any, direction: provider-to-consumer }] }
            """)) == ["g.yaml:19: contracts[0].rules[0]: lets the whole Internet (external group internet, a /0 cidr) open connections to api on every protocol and port"])
    }

    @Test func groupsOpeningEveryPortOfTheWholeInternet() throws {
        #expect(try warnings(contracts("""
              - { name: out, tenant: shop, providers: [internet], consumers: [web, api], rules: [{ protocol: any }] }
            """)) == ["g.yaml:19: contracts[0].rules[0]: lets [web, api] open connections to the whole Internet (external group internet, a /0 cidr) on every protocol and port"])
    }

    /// (Inside one contract such a rule is an error, from validation; across contracts a lint.)
    @Test func aDenyThatAHigherPriorityAllowShadows() throws {
        #expect(try warnings(contracts("""
              - { name: all, tenant: shop, providers: [api], consumers: [web], rules: [{ name: everything, protocol: tcp, ports: [1-65535], priority: 10 }] }
              - { name: d, tenant: shop, providers: [api], consumers: [web], rules: [{ name: no-ssh, protocol: tcp, ports: [22], action: deny }, { name: no-ping, protocol: icmp, icmp_type: 8, action: deny, priority: 20 }] }
              - { name: e, tenant: shop, providers: [api, db], consumers: [web], rules: [{ name: udp, protocol: udp, priority: 6 }] }
              - { name: f, tenant: shop, providers: [api], consumers: [web], rules: [{ name: no-dns, protocol: udp, ports: [53], action: deny, priority: 5 }] }
              - { name: g, tenant: shop, providers: [api], consumers: [web, db], rules: [{ name: no-sctp, protocol: sctp, action: deny }] }
            """)) == [
                "g.yaml:20: contracts[1].rules[0]: this deny never applies: allow rule all/everything has a higher priority and matches everything it matches between the same groups",
                "g.yaml:22: contracts[3].rules[0]: this deny never applies: allow rule e/udp has a higher priority and matches everything it matches between the same groups",
            ])
    }

    @Test func aGroupOnManyPortsOpenOnlyByDefault() throws {
        let text = { (intra: String) in
            Self.config("groups: [{ name: web, tenant: shop\(intra) }, { name: api, tenant: shop }, { name: db, tenant: shop }]")
                .replacingOccurrences(of: "group: api, port: p3", with: "group: web, port: p3")
                .replacingOccurrences(of: "group: db, port: p4", with: "group: web, port: p4")
        }
        let implicit = try ConfigLoader.parse(text(""), file: "g.yaml").warnings.map(\.description)
        #expect(implicit == ["g.yaml:17: groups[0]: 4 endpoints behind 4 ports reach each other on every protocol and port because intra_group defaults to allow; write intra_group: allow to keep that, or deny and a contract for what they need"])
        #expect(try ConfigLoader.parse(text(", intra_group: allow"), file: "g.yaml").warnings.isEmpty)
        #expect(try ConfigLoader.parse(text(", intra_group: deny"), file: "g.yaml").warnings.isEmpty)
    }

    @Test func coverage() {
        let tcp80 = RuleSpec(proto: .tcp, ports: [PortRange(80)])
        #expect(PolicyLint.matchesAll(RuleSpec(proto: .any), of: tcp80))
        #expect(PolicyLint.matchesAll(RuleSpec(proto: .tcp), of: tcp80))
        #expect(PolicyLint.matchesAll(RuleSpec(proto: .tcp, ports: [PortRange(1, 100)]), of: tcp80))
        #expect(!PolicyLint.matchesAll(RuleSpec(proto: .tcp, ports: [PortRange(81, 100)]), of: tcp80))
        #expect(!PolicyLint.matchesAll(RuleSpec(proto: .tcp, ports: [PortRange(80)]), of: RuleSpec(proto: .tcp)))
        #expect(!PolicyLint.matchesAll(RuleSpec(proto: .udp), of: tcp80))
        #expect(PolicyLint.matchesAll(RuleSpec(proto: .icmp), of: RuleSpec(proto: .icmp, icmpType: 8)))
        #expect(!PolicyLint.matchesAll(RuleSpec(proto: .icmp, icmpType: 0), of: RuleSpec(proto: .icmp, icmpType: 8)))
    }
}
