import Foundation
import GBPControl
import GBPCore
import Testing

/// The problems `ConfigLoader.parse` reports for `yaml` (as `file:line: field: reason`),
/// or a recorded failure when it accepts the file.
func problems(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
    do {
        _ = try ConfigLoader.parse(yaml, file: "t.yaml")
        Issue.record("the config was accepted", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

/// A policy config as README.md shows it: one tenant, three groups, an external group,
/// three contracts, an uplink.
let shopConfig = """
eal: [--no-huge, -m, "256", --file-prefix, t, --no-pci]
workers: [1]
ports:
  - { name: vhost0, devargs: net_null0 }
  - { name: vhost1, devargs: net_null1 }
  - { name: vhost2, devargs: net_null2 }
  - { name: up0, devargs: net_null3, role: uplink, tenant: shop }
tenants:
  - name: shop
groups:
  - { name: web, tenant: shop }
  - { name: api, tenant: shop }
  - { name: db,  tenant: shop, intra_group: deny }
endpoints:
  - { name: web-1, tenant: shop, group: web, port: vhost0, mac: "02:00:00:00:01:01", ips: [10.1.0.11, "fd00:1::11"] }
  - { name: api-1, tenant: shop, group: api, port: vhost1, mac: "02:00:00:00:02:01", ips: [10.1.0.21] }
  - { name: db-1,  tenant: shop, group: db,  port: vhost2, mac: "02:00:00:00:03:01", ips: [10.1.0.31] }
external_groups:
  - name: internet
    tenant: shop
    cidrs: [0.0.0.0/0, "::/0"]
    except: [10.0.0.0/8, "fd00::/8"]
contracts:
  - name: public-web
    tenant: shop
    providers: [web]
    consumers: [internet]
    rules:
      - { protocol: tcp, ports: [443] }
  - name: web-api
    tenant: shop
    providers: [api]
    consumers: [web]
    on_policy_change: keep
    rules:
      - { protocol: tcp, ports: [8080-8089] }
      - { protocol: icmp, icmp_type: 8 }
  - name: api-db
    tenant: shop
    providers: [db]
    consumers: [api]
    rules:
      - { name: postgres, protocol: tcp, ports: [5432], log: true }
      - { name: no-admin, protocol: tcp, ports: ["1-1023", 22], action: deny, priority: 10, direction: both }
"""

@Suite struct PolicyConfigTests {
    // MARK: Accepted

    @Test func fullPolicyParses() throws {
        let c = try ConfigLoader.parse(shopConfig, file: "t.yaml")
        let p = try #require(c.policy)
        #expect(p.tenants == [TenantSpec(name: "shop")])
        #expect(p.groups == [
            GroupSpec(name: "web", tenant: "shop"), GroupSpec(name: "api", tenant: "shop"),
            GroupSpec(name: "db", tenant: "shop", intraGroup: .deny),
        ])
        #expect(p.endpoints.count == 3)
        #expect(p.endpoints[0] == EndpointSpec(
            name: "web-1", port: "vhost0", mac: MACAddress("02:00:00:00:01:01")!,
            ips: [IPAddress("10.1.0.11")!, IPAddress("fd00:1::11")!], group: "web", tenant: "shop"))
        #expect(p.externalGroups == [ExternalGroupSpec(name: "internet", tenant: "shop", cidrs: ["0.0.0.0/0", "::/0"],
                                                       except: ["10.0.0.0/8", "fd00::/8"])])
        #expect(p.contracts.map(\.name) == ["public-web", "web-api", "api-db"])
        #expect(p.contracts[0].providers == ["web"] && p.contracts[0].consumers == ["internet"])
        #expect(p.contracts[0].onPolicyChange == .recheck)
        #expect(p.contracts[1].onPolicyChange == .keep)
        #expect(p.contracts[1].rules == [
            RuleSpec(proto: .tcp, ports: [PortRange(8080, 8089)]),
            RuleSpec(proto: .icmp, icmpType: 8),
        ])
        #expect(p.contracts[2].rules[0] == RuleSpec(name: "postgres", proto: .tcp, ports: [PortRange(5432)], log: true))
        #expect(p.contracts[2].rules[1] == RuleSpec(name: "no-admin", proto: .tcp, ports: [PortRange(1, 1023), PortRange(22)],
                                                    direction: .both, action: .deny, priority: 10))
        #expect(Policy.validate(p).isEmpty)
        // Ports: the uplink's tenant as written, the others' from their endpoints.
        #expect(c.runtime.ports.map(\.tenant) == ["shop", "shop", "shop", "shop"])
        #expect(c.runtime.ports[3].role == .uplink)
        #expect(c.runtime.policy == p)
        #expect(c.runtime.stations.map(\.port) == ["vhost0", "vhost1", "vhost2"])
    }

    @Test func twoTenantsWithEtherTypeRule() throws {
        let c = try ConfigLoader.parse("""
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: a, devargs: net_null0 }
          - { name: b, devargs: net_null1, tenant: lab }
          - { name: spare, devargs: net_null2 }
        tenants: [{ name: shop }, { name: lab }]
        groups:
          - { name: web, tenant: shop }
          - { name: web, tenant: lab }
        endpoints:
          - { name: w1, tenant: shop, group: web, port: a, mac: "02:00:00:00:00:01", ips: [10.0.0.1] }
          - { name: w1, tenant: lab, group: web, port: b, mac: "02:00:00:00:00:01", ips: [10.0.0.1] }
        contracts:
          - name: lldp
            tenant: lab
            providers: [web]
            consumers: [web]
            rules: [{ ethertype: 0x88cc }, { protocol: udp, ports: [53], priority: 2, action: deny, log: on }]
        """, file: "t.yaml")
        let p = try #require(c.policy)
        #expect(p.tenants.map(\.name) == ["shop", "lab"])
        #expect(p.contracts[0].rules == [RuleSpec(proto: .etherType(0x88CC)),
                                         RuleSpec(proto: .udp, ports: [PortRange(53)], action: .deny, log: true, priority: 2)])
        #expect(c.runtime.ports.map(\.tenant) == ["shop", "lab", nil])
    }

    @Test func withoutTenantsThereIsNoPolicy() throws {
        let c = try ConfigLoader.parse("""
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: p0, devargs: net_null0 }
          - { name: p1, devargs: net_null1, role: uplink }
        endpoints:
          - { name: web-1, port: p0, mac: "02:00:00:00:0a:01", ips: [10.0.0.1], group: web, tenant: demo }
          - { name: db-1, port: p0, mac: "02:00:00:00:0b:01" }
        """, file: "t.yaml")
        #expect(c.policy == nil)
        #expect(c.runtime.policy == nil)
        #expect(c.runtime.ports.map(\.tenant) == [nil, nil])
        #expect(c.endpoints.map(\.group) == ["web", nil])
    }

    @Test func demoConfigHasNoPolicy() throws {
        let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../config/demo.yaml").standardized.path
        let c = try ConfigLoader.load(path: demo)
        #expect(c.policy == nil)
        #expect(c.runtime.stations.count == 3)
    }

    @Test func rejectedFileThrowsAndGivesNoConfig() {
        let bad = shopConfig.replacingOccurrences(of: "ports: [443]", with: "ports: [443-80]")
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(bad, file: "t.yaml") }
        let config = try? ConfigLoader.parse(bad, file: "t.yaml")
        #expect(config == nil)
    }

    // MARK: Rejected: the shape of the file

    @Test func unknownTopLevelKey() {
        #expect(problems("""
        eal: [--no-huge]
        workers: [1]
        ports: [{ name: p0, devargs: net_null0 }]
        tenant: [{ name: shop }]
        """) == [
            "t.yaml:4: tenant: unknown key (allowed here: capture, conntrack, contracts, control, descriptors, eal, endpoints, external_groups, flow_log, groups, kubernetes, mempool, ports, run, tenants, workers)",
        ])
    }

    @Test func unknownKeyInRule() {
        #expect(problems(shopConfig.replacingOccurrences(of: "{ protocol: tcp, ports: [443] }", with: "{ protocol: tcp, port: [443] }")) == [
            "t.yaml:29: contracts[0].rules[0].port: unknown key (allowed here: action, direction, ethertype, icmp_code, icmp_type, log, name, ports, priority, protocol)",
        ])
    }

    @Test func wrongType() {
        #expect(problems(shopConfig.replacingOccurrences(of: "providers: [api]", with: "providers: api")) == [
            "t.yaml:32: contracts[1].providers: expected a list",
        ])
    }

    @Test func badMAC() {
        #expect(problems(shopConfig.replacingOccurrences(of: "\"02:00:00:00:02:01\"", with: "\"02:00:00:00:02\"")) == [
            "t.yaml:16: endpoints[1].mac: '02:00:00:00:02' is not a MAC address (aa:bb:cc:dd:ee:ff)",
        ])
    }

    @Test func badIP() {
        #expect(problems(shopConfig.replacingOccurrences(of: "ips: [10.1.0.21]", with: "ips: [10.1.0.256]")) == [
            "t.yaml:16: endpoints[1].ips[0]: '10.1.0.256' is not an IPv4 or IPv6 address",
        ])
    }

    @Test func unknownPortOnEndpoint() {
        #expect(problems(shopConfig.replacingOccurrences(of: "port: vhost2", with: "port: vhost9")) == [
            "t.yaml:17: endpoints[2].port: unknown port 'vhost9' (ports: up0, vhost0, vhost1, vhost2)",
        ])
    }

    @Test func duplicatePortName() {
        // Reported at the line of the list (the first "-").
        #expect(problems(shopConfig.replacingOccurrences(of: "{ name: up0, devargs: net_null3", with: "{ name: vhost0, devargs: net_null3")) == [
            "t.yaml:4: ports: port name 'vhost0' appears twice",
        ])
    }

    @Test func missingRequiredKey() {
        // With tenants declared, every endpoint needs a group and a tenant.
        #expect(problems(shopConfig.replacingOccurrences(of: "{ name: api-1, tenant: shop, group: api,", with: "{ name: api-1, group: api,")) == [
            "t.yaml:16: endpoints[1].tenant: required key is missing",
        ])
    }

    @Test func yamlSyntaxError() {
        #expect(problems("""
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: p0, devargs: net_null0
        tenants: [{ name: shop }]
        """) == [
            "t.yaml:5: (yaml): not valid YAML: did not find expected ',' or '}' (while parsing a flow mapping at line 4, column 5)",
        ])
    }

    @Test func unknownProtocol() {
        #expect(problems(shopConfig.replacingOccurrences(of: "{ protocol: icmp, icmp_type: 8 }", with: "{ protocol: ping }")) == [
            "t.yaml:37: contracts[1].rules[1].protocol: unknown protocol 'ping' (tcp, udp, sctp, icmp, icmpv6 or any; ethertype for non-IP frames)",
        ])
    }

    @Test func badEnumValue() {
        #expect(problems(shopConfig.replacingOccurrences(of: "direction: both", with: "direction: inbound")) == [
            "t.yaml:44: contracts[2].rules[1].direction: must be consumer-to-provider, provider-to-consumer or both, got 'inbound'",
        ])
    }

    @Test func emptyTenantList() {
        #expect(problems("""
        eal: [--no-huge]
        workers: [1]
        ports: [{ name: p0, devargs: net_null0 }]
        tenants: []
        """) == [
            "t.yaml:4: tenants: at least one tenant is needed (leave out tenants to run gbpd without policy)",
        ])
    }

    @Test func policyKeysWithoutTenants() {
        #expect(problems("""
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: p0, devargs: net_null0, tenant: shop }
        groups:
          - { name: web, tenant: shop }
        """) == [
            "t.yaml:4: ports[0].tenant: unknown tenant 'shop' (no tenants are declared)",
            "t.yaml:6: groups: needs a tenants list: without tenants gbpd is a plain L2 switch and enforces no policy",
        ])
    }

    // MARK: Rejected: policy validation, at the line of the node

    @Test func endpointWithUnknownGroup() {
        #expect(problems(shopConfig.replacingOccurrences(of: "group: db,  port: vhost2", with: "group: dbs, port: vhost2")) == [
            "t.yaml:17: endpoints[2].group: unknown group \"dbs\" in tenant \"shop\"",
        ])
    }

    @Test func groupOfUnknownTenant() {
        #expect(problems(shopConfig.replacingOccurrences(of: "{ name: db,  tenant: shop, intra_group: deny }", with: "{ name: db,  tenant: shops, intra_group: deny }")) == [
            "t.yaml:13: groups[2].tenant: unknown tenant \"shops\"",
            // db-1 and the api-db contract name db, which now exists only in another tenant.
            "t.yaml:17: endpoints[2].group: group \"db\" belongs to tenant \"shops\", not \"shop\"",
            "t.yaml:40: contracts[2].providers[0]: group \"db\" belongs to tenant \"shops\", not \"shop\"",
        ])
    }

    @Test func duplicateAddressInTenant() {
        #expect(problems(shopConfig.replacingOccurrences(of: "ips: [10.1.0.31]", with: "ips: [10.1.0.21]")) == [
            "t.yaml:17: endpoints[2].ips[0]: 10.1.0.21 is also endpoints[1].ips[0] in tenant \"shop\"",
        ])
    }

    @Test func malformedCIDR() {
        #expect(problems(shopConfig.replacingOccurrences(of: "except: [10.0.0.0/8,", with: "except: [10.1.2.3/8,")) == [
            "t.yaml:22: external_groups[0].except[0]: host bits set in \"10.1.2.3/8\"; did you mean 10.0.0.0/8?",
        ])
    }

    @Test func reversedPortRange() {
        #expect(problems(shopConfig.replacingOccurrences(of: "ports: [8080-8089]", with: "ports: [8089-8080]")) == [
            "t.yaml:36: contracts[1].rules[0].ports[0]: port range 8089-8080 is reversed: it contains no port",
        ])
    }

    @Test func icmpTypeOnTCP() {
        #expect(problems(shopConfig.replacingOccurrences(of: "{ protocol: icmp, icmp_type: 8 }", with: "{ protocol: tcp, icmp_type: 8 }")) == [
            "t.yaml:37: contracts[1].rules[1].icmp_type: icmp_type needs protocol icmp or icmpv6",
        ])
    }

    @Test func priorityOutOfRange() {
        #expect(problems(shopConfig.replacingOccurrences(of: "priority: 10", with: "priority: 70000")) == [
            "t.yaml:44: contracts[2].rules[1].priority: priority 70000 is outside 0...65535",
        ])
    }

    @Test func contractWithoutProviders() {
        #expect(problems(shopConfig.replacingOccurrences(of: "providers: [db]", with: "providers: []")) == [
            "t.yaml:40: contracts[2].providers: no groups: the contract can never apply",
        ])
    }

    @Test func etherTypeProblemIsReportedOnEthertype() {
        #expect(problems(shopConfig.replacingOccurrences(of: "{ protocol: tcp, ports: [443] }", with: "{ ethertype: 0x0800 }")) == [
            "t.yaml:29: contracts[0].rules[0].ethertype: EtherType 0x800 can never match: IPv4 frames are classified as IP; use a protocol",
        ])
    }

    @Test func positionsSkipRulesThatCannotBeRead() {
        // rules[0] cannot be read and is left out of the spec; the problem of rules[1] is
        // still reported as rules[1], at its line.
        #expect(problems(shopConfig.replacingOccurrences(of: "{ protocol: tcp, ports: [8080-8089] }", with: "{ protocol: tcp, ports: [http] }")
                    .replacingOccurrences(of: "{ protocol: icmp, icmp_type: 8 }", with: "{ protocol: icmp, icmp_code: 0 }")) == [
            "t.yaml:36: contracts[1].rules[0].ports[0]: 'http' is not a port or a port range (80, 8080-8089)",
            "t.yaml:37: contracts[1].rules[1].icmp_code: icmp_code needs icmp_type",
        ])
    }

    @Test func unreadableGroupIsNotAlsoUnknown() {
        // The group without a tenant is reported once; its members are not "unknown group".
        #expect(problems(shopConfig.replacingOccurrences(of: "{ name: api, tenant: shop }", with: "{ name: api }")) == [
            "t.yaml:12: groups[1].tenant: required key is missing",
        ])
    }

    // MARK: Rejected: ports and tenants

    @Test func portWithEndpointsOfTwoTenants() {
        #expect(problems("""
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: p0, devargs: net_null0 }
        tenants: [{ name: shop }, { name: lab }]
        groups: [{ name: web, tenant: shop }, { name: web, tenant: lab }]
        endpoints:
          - { name: w1, tenant: shop, group: web, port: p0, mac: "02:00:00:00:00:01" }
          - { name: w2, tenant: lab, group: web, port: p0, mac: "02:00:00:00:00:02" }
        """) == [
            "t.yaml:4: ports[0]: port 'p0' has endpoints of two tenants, 'shop' (endpoints[0]) and 'lab' (endpoints[1]); a port carries one tenant's traffic",
        ])
    }

    @Test func endpointOnPortOfAnotherTenant() {
        #expect(problems("""
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: p0, devargs: net_null0, tenant: lab }
        tenants: [{ name: shop }, { name: lab }]
        groups: [{ name: web, tenant: shop }]
        endpoints:
          - { name: w1, tenant: shop, group: web, port: p0, mac: "02:00:00:00:00:01" }
        """) == [
            "t.yaml:8: endpoints[0].tenant: endpoint of tenant 'shop' on port 'p0', which belongs to tenant 'lab'",
        ])
    }

    @Test func uplinkWithoutTenant() {
        #expect(problems(shopConfig.replacingOccurrences(of: "role: uplink, tenant: shop", with: "role: uplink")) == [
            "t.yaml:7: ports[3].tenant: an uplink port needs a tenant when tenants are declared (tenants: shop)",
        ])
    }

    @Test func twoUplinksInOneTenant() {
        #expect(problems(shopConfig.replacingOccurrences(of: "  - { name: up0, devargs: net_null3, role: uplink, tenant: shop }",
                                                         with: "  - { name: up0, devargs: net_null3, role: uplink, tenant: shop }\n  - { name: up1, devargs: net_null4, role: uplink, tenant: shop }")) == [
            "t.yaml:8: ports[4].role: tenant 'shop' already has an uplink, ports[3]; a tenant has at most one",
        ])
    }

    @Test func portOfUndeclaredTenant() {
        #expect(problems(shopConfig.replacingOccurrences(of: "role: uplink, tenant: shop", with: "role: uplink, tenant: shopp")) == [
            "t.yaml:7: ports[3].tenant: unknown tenant 'shopp' (tenants: shop)",
        ])
    }

    // MARK: Rejected: several problems at once

    @Test func everyProblemIsReportedInFileOrder() {
        let text = shopConfig
            .replacingOccurrences(of: "workers: [1]", with: "workers: [1]\ncolour: blue")           // shape, line 3
            .replacingOccurrences(of: "ips: [10.1.0.31]", with: "ips: [10.1.0.11]")                // validation, line 18
            .replacingOccurrences(of: "ports: [443]", with: "ports: [443-80]")                       // validation, line 30
        let found = problems(text)
        #expect(found == [
            "t.yaml:3: colour: unknown key (allowed here: capture, conntrack, contracts, control, descriptors, eal, endpoints, external_groups, flow_log, groups, kubernetes, mempool, ports, run, tenants, workers)",
            "t.yaml:18: endpoints[2].ips[0]: 10.1.0.11 is also endpoints[0].ips[0] in tenant \"shop\"",
            "t.yaml:30: contracts[0].rules[0].ports[0]: port range 443-80 is reversed: it contains no port",
        ])
        do {
            _ = try ConfigLoader.parse(text, file: "t.yaml")
        } catch {
            #expect(error.description.hasPrefix("config rejected (3 problems):\n  t.yaml:3: colour: "))
        }
    }
}
