import Testing
@testable import GBPCore

@Suite("Policy classifier semantics")
struct PolicyClassifierTests {
    typealias F = PolicyFixtures

    /// Compiles, classifies in tenant 0, frees.
    func verdict(_ spec: PolicySpec, _ f: PacketFields, tenant: UInt16 = 0) -> Verdict {
        let p = F.compile(spec)
        defer { p.deallocate() }
        return p.classify(tenant: tenant, fields: f)
    }

    let web = UInt16(0), app = UInt16(1), db = UInt16(2)

    @Test func insideAGroupTrafficIsAllowedUnlessTheGroupSaysOtherwise() {
        let v = verdict(F.threeTier(), F.tcp("10.0.1.1", "10.0.1.2", dport: 22))
        #expect(v.allowed && v.reason == nil && !v.decidedByRule && v.srcGroup == web && v.dstGroup == web)
        let d = verdict(F.threeTier(intraDB: .deny), F.tcp("10.0.3.1", "10.0.3.2", dport: 22))
        #expect(!d.allowed && d.reason == .intraGroupDenied)
    }

    @Test func betweenGroupsWithoutAContractTrafficIsDenied() {
        let v = verdict(F.threeTier(), F.tcp("10.0.1.1", "10.0.2.1", dport: 80))
        #expect(!v.allowed && v.reason == .noContract && v.srcGroup == web && v.dstGroup == app)
        #expect(v.contract == CompiledPolicy.noContract && v.rule == CompiledRule.none)
    }

    @Test func aContractLetsConsumersOpenConnectionsToProviders() {
        let spec = F.threeTier(contracts: [
            F.contract("app-db", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .tcp, ports: [PortRange(5432)])]),
        ])
        let ok = verdict(spec, F.tcp("10.0.2.1", "10.0.3.2", dport: 5432))
        #expect(ok.allowed && ok.contract == 0 && ok.rule == 0 && ok.srcGroup == app && ok.dstGroup == db)
        #expect(verdict(spec, F.tcp("10.0.3.2", "10.0.2.1", dport: 5432)).reason == .noContract)  // provider -> consumer
        #expect(verdict(spec, F.tcp("10.0.2.1", "10.0.3.2", dport: 5433)).reason == .noContract)  // other port
        #expect(verdict(spec, F.udp("10.0.2.1", "10.0.3.2", dport: 5432)).reason == .noContract)  // other protocol
        // IPv6 goes through the same tables.
        let spec6 = F.threeTier(contracts: [
            F.contract("app-web", providers: ["web"], consumers: ["app"], [RuleSpec(proto: .tcp, ports: [PortRange(443)])]),
        ])
        #expect(verdict(spec6, F.tcp("2001:db8::2:1", "2001:db8::1:1", dport: 443)).allowed)
    }

    @Test func directions() {
        func spec(_ d: RuleDirection) -> PolicySpec {
            F.threeTier(contracts: [F.contract("c", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .tcp, direction: d)])])
        }
        let toProvider = F.tcp("10.0.2.1", "10.0.3.1", dport: 1)
        let toConsumer = F.tcp("10.0.3.1", "10.0.2.1", dport: 1)
        #expect(verdict(spec(.consumerToProvider), toProvider).allowed)
        #expect(!verdict(spec(.consumerToProvider), toConsumer).allowed)
        #expect(!verdict(spec(.providerToConsumer), toProvider).allowed)
        #expect(verdict(spec(.providerToConsumer), toConsumer).allowed)
        #expect(verdict(spec(.both), toProvider).allowed)
        #expect(verdict(spec(.both), toConsumer).allowed)
    }

    @Test func portRangesAreInclusiveAndSeveral() {
        let spec = F.threeTier(contracts: [F.contract("c", providers: ["db"], consumers: ["app"],
                                                      [RuleSpec(proto: .udp, ports: [PortRange(1000, 1999), PortRange(53), PortRange(65535)])])])
        for (port, allowed) in [(999, false), (1000, true), (1500, true), (1999, true), (2000, false), (53, true), (52, false),
                                (54, false), (65535, true), (0, false)] {
            #expect(verdict(spec, F.udp("10.0.2.1", "10.0.3.1", dport: UInt16(port))).allowed == allowed, "port \(port)")
        }
    }

    @Test func higherPriorityFirstThenDenyWinsAtEqualPriority() {
        let allow80 = RuleSpec(proto: .tcp, ports: [PortRange(80)])
        func run(_ rules: [RuleSpec]) -> Verdict {
            // Each rule in its own contract, so no shadowing check gets in the way.
            let contracts = rules.enumerated().map { i, r in F.contract("c\(i)", providers: ["db"], consumers: ["app"], [r]) }
            return verdict(F.threeTier(contracts: contracts), F.tcp("10.0.2.1", "10.0.3.1", dport: 80))
        }
        let denyLow = RuleSpec(proto: .tcp, action: .deny, priority: 1)
        let allowHigh = RuleSpec(proto: .tcp, ports: [PortRange(80)], priority: 5)
        let v1 = run([denyLow, allowHigh])
        #expect(v1.allowed && v1.contract == 1 && v1.rule == 1)
        let denyHigh = RuleSpec(proto: .any, action: .deny, log: true, priority: 9)
        let v2 = run([allow80, denyHigh])
        #expect(!v2.allowed && v2.reason == .deniedByRule && v2.contract == 1 && v2.log)
        let denyEqual = RuleSpec(proto: .tcp, ports: [PortRange(1, 100)], action: .deny)
        let v3 = run([allow80, denyEqual])
        #expect(!v3.allowed && v3.reason == .deniedByRule && v3.rule == 1)
        // Same priority, same action: the lower rule id is reported.
        let v4 = run([RuleSpec(proto: .tcp), allow80])
        #expect(v4.allowed && v4.rule == 0)
        let v5 = run([allow80, RuleSpec(proto: .tcp, log: true)])
        #expect(v5.allowed && v5.rule == 0 && !v5.log)
    }

    @Test func rulesOfOneContractFollowTheSamePrecedence() {
        let spec = F.threeTier(contracts: [F.contract("c", providers: ["db"], consumers: ["app"], [
            RuleSpec(name: "allow-web", proto: .tcp, ports: [PortRange(1, 1024)], log: true),
            RuleSpec(name: "no-ssh", proto: .tcp, ports: [PortRange(22)], action: .deny, priority: 10),
        ])])
        let ssh = verdict(spec, F.tcp("10.0.2.1", "10.0.3.1", dport: 22))
        #expect(!ssh.allowed && ssh.reason == .deniedByRule && ssh.rule == 1)
        let http = verdict(spec, F.tcp("10.0.2.1", "10.0.3.1", dport: 80))
        #expect(http.allowed && http.rule == 0 && http.log)
    }

    @Test func icmpTypeAndCode() {
        let spec = F.threeTier(contracts: [F.contract("c", providers: ["db"], consumers: ["app"], [
            RuleSpec(proto: .icmp, icmpType: 8),
            RuleSpec(proto: .icmp, icmpType: 3, icmpCode: 4),
            RuleSpec(proto: .icmpv6, icmpType: 128),
        ])])
        #expect(verdict(spec, F.icmp("10.0.2.1", "10.0.3.1", type: 8)).allowed)
        #expect(verdict(spec, F.icmp("10.0.2.1", "10.0.3.1", type: 8, code: 9)).allowed)
        #expect(!verdict(spec, F.icmp("10.0.2.1", "10.0.3.1", type: 13)).allowed)
        #expect(verdict(spec, F.icmp("10.0.2.1", "10.0.3.1", type: 3, code: 4)).allowed)
        #expect(!verdict(spec, F.icmp("10.0.2.1", "10.0.3.1", type: 3, code: 3)).allowed)
        var v6spec = spec
        v6spec.endpoints[4].ips.append(F.ip("2001:db8::3:1"))
        #expect(verdict(v6spec, F.icmp("2001:db8::2:1", "2001:db8::3:1", type: 128)).allowed)
        #expect(!verdict(v6spec, F.icmp("2001:db8::2:1", "2001:db8::3:1", type: 129)).allowed)
    }

    @Test func anyMatchesEverythingAndEtherTypeRulesMatchNonIPFramesByMAC() {
        let spec = F.threeTier(contracts: [
            F.contract("any", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .any)]),
            F.contract("lldp", providers: ["web"], consumers: ["app"], [RuleSpec(proto: .etherType(0x88CC))]),
        ])
        #expect(verdict(spec, F.ipPacket("10.0.2.1", "10.0.3.1", proto: 47)).allowed)
        #expect(verdict(spec, F.udp("10.0.2.1", "10.0.3.1", dport: 9)).allowed)
        #expect(verdict(spec, F.frame(src: F.mac(0x21), dst: F.mac(0x31), etherType: 0x9000)).allowed)
        let lldp = verdict(spec, F.frame(src: F.mac(0x21), dst: F.mac(0x11), etherType: 0x88CC))
        #expect(lldp.allowed && lldp.contract == 1 && lldp.srcGroup == app && lldp.dstGroup == web)
        #expect(verdict(spec, F.frame(src: F.mac(0x21), dst: F.mac(0x11), etherType: 0x88CD)).reason == .noContract)
        #expect(verdict(spec, F.frame(src: F.mac(0x99), dst: F.mac(0x11), etherType: 0x88CC)).reason == .unknownSource)
        #expect(verdict(spec, F.frame(src: F.mac(0x21), dst: .broadcast, etherType: 0x88CC)).reason == .unknownDestination)
        // IP traffic that only an etherType rule covers is not allowed.
        #expect(verdict(spec, F.tcp("10.0.2.1", "10.0.1.1", dport: 1)).reason == .noContract)
    }

    @Test func unknownAddresses() {
        let spec = F.threeTier()
        #expect(verdict(spec, F.tcp("10.7.7.7", "10.0.1.1", dport: 1)).reason == .unknownSource)
        let v = verdict(spec, F.tcp("10.0.1.1", "10.7.7.7", dport: 1))
        #expect(v.reason == .unknownDestination && v.srcGroup == web)
    }

    @Test func tenantsAreIsolatedAndMayOverlap() {
        var spec = F.threeTier(contracts: [F.contract("c", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .any)])])
        spec.tenants.append(TenantSpec(name: "t2"))
        spec.groups.append(GroupSpec(name: "db", tenant: "t2", intraGroup: .deny))
        spec.endpoints.append(F.endpoint("other-db", "db", ["10.0.3.1"], mac: 0x31, tenant: "t2"))
        spec.endpoints.append(F.endpoint("other-db2", "db", ["10.0.3.9"], mac: 0x39, tenant: "t2"))
        let p = F.compile(spec)
        defer { p.deallocate() }
        // The same address is a different endpoint in each tenant.
        #expect(p.endpoints.lookup(tenant: 0, ip: F.ip("10.0.3.1"))?.endpoint == 4)
        #expect(p.endpoints.lookup(tenant: 1, ip: F.ip("10.0.3.1"))?.endpoint == 6)
        #expect(p.endpoints.lookup(tenant: 1, mac: F.mac(0x31))?.endpoint == 6)
        // t1's contract does not reach into t2, and t2's own rules apply there.
        #expect(p.classify(tenant: 1, fields: F.tcp("10.0.3.9", "10.0.3.1", dport: 1)).reason == .intraGroupDenied)
        #expect(p.classify(tenant: 1, fields: F.tcp("10.0.2.1", "10.0.3.1", dport: 1)).reason == .unknownSource)
        #expect(p.classify(tenant: 0, fields: F.tcp("10.0.2.1", "10.0.3.9", dport: 1)).reason == .unknownDestination)
        #expect(p.classify(tenant: 0, fields: F.tcp("10.0.2.1", "10.0.3.1", dport: 1)).allowed)
        #expect(p.classify(tenant: 7, fields: F.tcp("10.0.2.1", "10.0.3.1", dport: 1)).reason == .unknownSource)
    }

    @Test func externalGroupsByLongestPrefixWithExceptions() {
        let spec = F.threeTier(
            contracts: [
                F.contract("out", providers: ["internet", "corp", "v6"], consumers: ["web"], [RuleSpec(proto: .tcp, ports: [PortRange(443)])]),
                F.contract("in", providers: ["web"], consumers: ["internet"], [RuleSpec(proto: .tcp, ports: [PortRange(80)])]),
            ],
            externals: [
                ExternalGroupSpec(name: "internet", tenant: "t1", cidrs: ["0.0.0.0/0"], except: ["192.168.0.0/16", "172.16.0.0/12"]),
                ExternalGroupSpec(name: "corp", tenant: "t1", cidrs: ["172.16.0.0/12", "192.168.10.0/24"], except: ["172.16.5.0/24"]),
                ExternalGroupSpec(name: "v6", tenant: "t1", cidrs: ["2001:db8:ff::/48"]),
            ])
        let p = F.compile(spec)
        defer { p.deallocate() }
        let internet = UInt16(3), corp = UInt16(4), v6 = UInt16(5)
        #expect(p.resolve(tenant: 0, ip: F.ip("8.8.8.8"))?.group == internet)
        #expect(p.resolve(tenant: 0, ip: F.ip("8.8.8.8"))?.isEndpoint == false)
        #expect(p.resolve(tenant: 0, ip: F.ip("172.16.1.1"))?.group == corp)
        #expect(p.resolve(tenant: 0, ip: F.ip("172.31.255.255"))?.group == corp)
        #expect(p.resolve(tenant: 0, ip: F.ip("172.16.5.1")) == nil)       // except of corp, except of internet
        #expect(p.resolve(tenant: 0, ip: F.ip("192.168.10.7"))?.group == corp)
        #expect(p.resolve(tenant: 0, ip: F.ip("192.168.11.7")) == nil)
        #expect(p.resolve(tenant: 0, ip: F.ip("0.0.0.0"))?.group == internet)
        #expect(p.resolve(tenant: 0, ip: F.ip("255.255.255.255"))?.group == internet)
        #expect(p.resolve(tenant: 0, ip: F.ip("2001:db8:ff:1::1"))?.group == v6)
        #expect(p.resolve(tenant: 0, ip: F.ip("2001:db8:fe::1")) == nil)  // IPv4 0/0 does not cover IPv6
        // An endpoint inside an external prefix is the endpoint.
        #expect(p.resolve(tenant: 0, ip: F.ip("10.0.1.1"))?.group == web)

        #expect(p.classify(tenant: 0, fields: F.tcp("10.0.1.1", "8.8.8.8", dport: 443)).allowed)
        #expect(p.classify(tenant: 0, fields: F.tcp("10.0.1.1", "172.16.1.1", dport: 443)).allowed)
        #expect(p.classify(tenant: 0, fields: F.tcp("2001:db8::1:1", "2001:db8:ff::9", dport: 443)).allowed)
        #expect(p.classify(tenant: 0, fields: F.tcp("8.8.8.8", "10.0.1.1", dport: 80)).allowed)
        #expect(p.classify(tenant: 0, fields: F.tcp("172.16.1.1", "10.0.1.1", dport: 80)).reason == .noContract)
        #expect(p.classify(tenant: 0, fields: F.tcp("172.16.5.1", "10.0.1.1", dport: 80)).reason == .unknownSource)
        let outside = p.classify(tenant: 0, fields: F.tcp("8.8.8.8", "172.16.1.1", dport: 443))
        #expect(outside.reason == .externalDenied && outside.srcGroup == internet && outside.dstGroup == corp)
    }

    @Test func contractsInsideAGroupComeBeforeItsDefault() {
        let spec = F.threeTier(contracts: [
            F.contract("db-peers", providers: ["db"], consumers: ["db"], [RuleSpec(proto: .tcp, ports: [PortRange(7000)])]),
            F.contract("web-nossh", providers: ["web"], consumers: ["web"], [RuleSpec(proto: .tcp, ports: [PortRange(22)], action: .deny)]),
        ], intraDB: .deny)
        #expect(verdict(spec, F.tcp("10.0.3.1", "10.0.3.2", dport: 7000)).allowed)
        #expect(verdict(spec, F.tcp("10.0.3.1", "10.0.3.2", dport: 7001)).reason == .intraGroupDenied)
        #expect(verdict(spec, F.tcp("10.0.1.1", "10.0.1.2", dport: 22)).reason == .deniedByRule)
        #expect(verdict(spec, F.tcp("10.0.1.1", "10.0.1.2", dport: 80)).allowed)
    }

    @Test func denseIdsAndCountsForTheRuntime() {
        let spec = F.threeTier(contracts: [
            F.contract("a", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .tcp), RuleSpec(proto: .udp)]),
            F.contract("b", providers: ["app"], consumers: ["web"], [RuleSpec(proto: .tcp, ports: [PortRange(8080)], log: true)],
                       onPolicyChange: .keep),
        ], externals: [ExternalGroupSpec(name: "net", tenant: "t1", cidrs: ["8.0.0.0/8"])])
        let p = F.compile(spec, epoch: 42)
        defer { p.deallocate() }
        #expect(p.epoch == 42 && p.tenantCount == 1 && p.groupCount == 4 && p.contractCount == 2 && p.ruleCount == 3)
        #expect(p.rule(2) == CompiledRule(contract: 1, priority: 0, allow: true, log: true))
        #expect(p.contract(1).keep && !p.contract(0).keep && p.contract(1).firstRule == 2)
        #expect(p.group(3).external && !p.group(0).external)
        let v = p.classify(tenant: 0, fields: F.tcp("10.0.1.2", "10.0.2.2", dport: 8080))
        #expect(v.allowed && v.contract == 1 && v.rule == 2 && v.log)
        let e = p.endpoints.record(p.endpoints.lookup(tenant: 0, ip: F.ip("10.0.2.2"))!.endpoint)
        let names = PolicyNames(spec)
        #expect(e.mac == F.mac(0x22) && names.ports[Int(e.port)] == "p-app-2" && e.group == app)
        #expect(names.ruleName(2) == "b/rules[0]" && names.groupName(3) == "net")
    }

    /// The IPv4 endpoint table is a perfect hash: at scale, every address of every tenant
    /// finds its own endpoint, and addresses that are no endpoint (of this tenant or of any)
    /// find none.
    @Test func endpointLookupsAtScale() {
        var spec = PolicySpec(tenants: [TenantSpec(name: "t1"), TenantSpec(name: "t2")],
                              groups: (0..<40).map { GroupSpec(name: "g\($0)", tenant: $0 % 2 == 0 ? "t1" : "t2") })
        var expected: [(tenant: UInt16, ip: IPAddress, endpoint: UInt32, group: UInt16)] = []
        for e in 0..<6_000 {
            let g = e % 40, t = g % 2
            // Overlapping addresses across tenants, spread over a /16.
            let ip = IPAddress(v4: 0x0A01_0000 | UInt32(e / 2 * 7 % 65_000 + 1))
            spec.endpoints.append(EndpointSpec(name: "e\(e)", port: "p", mac: F.mac(UInt64(e + 1)), ips: [ip],
                                               group: "g\(g)", tenant: t == 0 ? "t1" : "t2"))
            expected.append((UInt16(t), ip, UInt32(e), UInt16(g)))
        }
        let p = F.compile(spec)
        defer { p.deallocate() }
        for x in expected {
            let m = p.endpoints.lookup(tenant: x.tenant, ip: x.ip)
            #expect(m?.endpoint == x.endpoint && m?.group == x.group)
        }
        let used = Set(expected.map { UInt64($0.tenant) << 32 | UInt64($0.ip.v4) })
        var absent = 0
        for a in stride(from: UInt32(0x0A01_0000), to: 0x0A01_0000 + 70_000, by: 3) {
            for t in [UInt16(0), 1, 2, 0xFFFF] where !used.contains(UInt64(t) << 32 | UInt64(a)) {
                #expect(p.endpoints.lookup(tenant: t, ip: IPAddress(v4: a)) == nil)
                absent += 1
            }
        }
        #expect(absent > 50_000)
        #expect(p.endpoints.lookup(tenant: 0xFFFF, ip: IPAddress(v4: 0xFFFF_FFFF)) == nil)  // the empty entry's key
    }
}
