import Testing
@testable import GBPCore

@Suite("Policy validation")
struct PolicyValidationTests {
    typealias F = PolicyFixtures

    /// The errors of `spec` as (path, code), for compact assertions.
    func problems(_ spec: PolicySpec) -> [String: PolicyError.Code] {
        var out: [String: PolicyError.Code] = [:]
        for e in Policy.validate(spec) { out[e.path] = e.code }
        return out
    }

    func rule(_ r: RuleSpec) -> PolicySpec {
        F.threeTier(contracts: [F.contract("c", providers: ["db"], consumers: ["app"], [r])])
    }

    @Test func aValidPolicyHasNoProblems() {
        let spec = F.threeTier(
            contracts: [F.contract("app-db", providers: ["db"], consumers: ["app"],
                                   [RuleSpec(proto: .tcp, ports: [PortRange(5432)]),
                                    RuleSpec(proto: .icmp, icmpType: 8)])],
            externals: [ExternalGroupSpec(name: "net", tenant: "t1", cidrs: ["0.0.0.0/0", "::/0"], except: ["10.0.0.0/8"])])
        #expect(Policy.validate(spec).isEmpty)
    }

    @Test func unknownTenantsAreReportedWherever() {
        var spec = F.threeTier()
        spec.groups.append(GroupSpec(name: "x", tenant: "nope"))
        spec.endpoints.append(F.endpoint("e", "web", ["10.9.9.9"], mac: 0x99, tenant: "nope"))
        spec.contracts.append(F.contract("c", providers: ["web"], consumers: ["app"], [RuleSpec(proto: .any)], tenant: "nope"))
        spec.externalGroups.append(ExternalGroupSpec(name: "ext", tenant: "nope", cidrs: ["1.0.0.0/8"]))
        let p = problems(spec)
        #expect(p["groups[3].tenant"] == .unknownTenant)
        #expect(p["endpoints[6].tenant"] == .unknownTenant)
        #expect(p["contracts[0].tenant"] == .unknownTenant)
        #expect(p["external_groups[0].tenant"] == .unknownTenant)
    }

    @Test func unknownGroupsAndGroupsOfAnotherTenant() {
        var spec = F.threeTier()
        spec.tenants.append(TenantSpec(name: "t2"))
        spec.groups.append(GroupSpec(name: "only-t2", tenant: "t2"))
        spec.endpoints.append(F.endpoint("e", "ghost", ["10.9.9.9"], mac: 0x99))
        spec.contracts = [F.contract("c", providers: ["only-t2"], consumers: ["app", "missing"], [RuleSpec(proto: .any)])]
        let errors = Policy.validate(spec)
        let byPath = Dictionary(errors.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["endpoints[6].group"]?.code == .unknownGroup)
        #expect(byPath["contracts[0].providers[0]"]?.code == .unknownGroup)
        #expect(byPath["contracts[0].providers[0]"]?.reason.contains("belongs to tenant \"t2\"") == true)
        #expect(byPath["contracts[0].consumers[1]"]?.code == .unknownGroup)
    }

    @Test func endpointsCannotJoinExternalGroups() {
        let spec = F.threeTier(externals: [ExternalGroupSpec(name: "net", tenant: "t1", cidrs: ["8.0.0.0/8"])])
        var s = spec
        s.endpoints.append(F.endpoint("e", "net", ["10.9.9.9"], mac: 0x99))
        #expect(problems(s)["endpoints[6].group"] == .unknownGroup)
    }

    @Test func duplicateNames() {
        var spec = F.threeTier()
        spec.tenants.append(TenantSpec(name: "t1"))
        spec.groups.append(GroupSpec(name: "web", tenant: "t1"))
        spec.externalGroups.append(ExternalGroupSpec(name: "app", tenant: "t1", cidrs: ["8.0.0.0/8"]))
        spec.endpoints.append(F.endpoint("web-1", "web", ["10.9.9.9"], mac: 0x99))
        let r = [RuleSpec(proto: .any)]
        spec.contracts = [F.contract("c", providers: ["db"], consumers: ["app"], r),
                          F.contract("c", providers: ["db"], consumers: ["web"], r)]
        let p = problems(spec)
        #expect(p["tenants[1].name"] == .duplicateName)
        #expect(p["groups[3].name"] == .duplicateName)
        #expect(p["external_groups[0].name"] == .duplicateName)
        #expect(p["endpoints[6].name"] == .duplicateName)
        #expect(p["contracts[1].name"] == .duplicateName)
    }

    @Test func duplicateAddressWithinATenantButNotAcross() {
        var spec = F.threeTier()
        spec.endpoints.append(F.endpoint("dup", "web", ["10.0.2.1"], mac: 0x99))
        #expect(problems(spec)["endpoints[6].ips[0]"] == .duplicateAddress)
        #expect(Policy.validate(spec).first { $0.path == "endpoints[6].ips[0]" }?.reason.contains("endpoints[2].ips[0]") == true)

        var other = F.threeTier()
        other.tenants.append(TenantSpec(name: "t2"))
        other.groups.append(GroupSpec(name: "web", tenant: "t2"))
        other.endpoints.append(F.endpoint("web-1", "web", ["10.0.1.1"], mac: 0x11, tenant: "t2"))
        #expect(Policy.validate(other).isEmpty)
    }

    @Test func duplicateAndUnusableMACsAndAddresses() {
        var spec = F.threeTier()
        spec.endpoints.append(F.endpoint("e1", "web", ["10.0.9.1"], mac: 0x11))
        spec.endpoints.append(EndpointSpec(name: "e2", port: "p", mac: MACAddress(raw: 0x01_00_5E_00_00_01),
                                           ips: [F.ip("224.0.0.1"), F.ip("::")], group: "web", tenant: "t1"))
        let p = problems(spec)
        #expect(p["endpoints[6].mac"] == .duplicateMAC)
        #expect(p["endpoints[7].mac"] == .invalidMAC)
        #expect(p["endpoints[7].ips[0]"] == .invalidAddress)
        #expect(p["endpoints[7].ips[1]"] == .invalidAddress)
    }

    @Test func malformedCIDRs() {
        let spec = F.threeTier(externals: [
            ExternalGroupSpec(name: "a", tenant: "t1",
                              cidrs: ["10.0.0.0", "10.0.0.0/33", "10.1.2.3/16", "bogus/8", "2001:db8::/129", "8.0.0.0/8"],
                              except: ["9.0.0.0/16", "nonsense"]),
        ])
        let errors = Policy.validate(spec)
        let p = problems(spec)
        for k in 0..<5 { #expect(p["external_groups[0].cidrs[\(k)]"] == .malformedCIDR) }
        #expect(p["external_groups[0].cidrs[5]"] == nil)
        #expect(errors.first { $0.path == "external_groups[0].cidrs[2]" }?.reason.contains("10.1.0.0/16") == true)
        #expect(p["external_groups[0].except[1]"] == .malformedCIDR)
    }

    @Test func exceptsMustMatterAndPrefixesMustBeUnique() {
        let spec = F.threeTier(externals: [
            ExternalGroupSpec(name: "a", tenant: "t1", cidrs: ["8.0.0.0/8", "9.9.0.0/16"], except: ["7.0.0.0/8", "9.0.0.0/8"]),
            ExternalGroupSpec(name: "b", tenant: "t1", cidrs: ["8.0.0.0/8"]),
        ])
        let p = problems(spec)
        #expect(p["external_groups[0].except[0]"] == .neverMatches)  // outside every cidr
        #expect(p["external_groups[0].cidrs[1]"] == .neverMatches)   // swallowed by except[1]
        #expect(p["external_groups[1].cidrs[0]"] == .duplicatePrefix)
    }

    @Test func portRanges() {
        let p = problems(rule(RuleSpec(proto: .tcp, ports: [PortRange(80), PortRange(90, 80), PortRange(1, 70000), PortRange(-1)])))
        #expect(p["contracts[0].rules[0].ports[0]"] == nil)
        #expect(p["contracts[0].rules[0].ports[1]"] == .reversedPortRange)
        #expect(p["contracts[0].rules[0].ports[2]"] == .outOfRange)
        #expect(p["contracts[0].rules[0].ports[3]"] == .outOfRange)
    }

    @Test func rulesThatCanNeverMatch() {
        #expect(problems(rule(RuleSpec(proto: .icmp, ports: [PortRange(80)])))["contracts[0].rules[0].ports"] == .neverMatches)
        #expect(problems(rule(RuleSpec(proto: .any, ports: [PortRange(80)])))["contracts[0].rules[0].ports"] == .neverMatches)
        #expect(problems(rule(RuleSpec(proto: .tcp, icmpType: 8)))["contracts[0].rules[0].icmp_type"] == .neverMatches)
        #expect(problems(rule(RuleSpec(proto: .etherType(0x0800))))["contracts[0].rules[0].protocol"] == .neverMatches)
        #expect(problems(rule(RuleSpec(proto: .etherType(0x8100))))["contracts[0].rules[0].protocol"] == .neverMatches)
        #expect(problems(rule(RuleSpec(proto: .etherType(0x05DC))))["contracts[0].rules[0].protocol"] == .invalidField)
        #expect(problems(rule(RuleSpec(proto: .etherType(0x88CC)))).isEmpty)
        #expect(problems(rule(RuleSpec(proto: .icmp, icmpCode: 1)))["contracts[0].rules[0].icmp_code"] == .invalidField)
        #expect(problems(rule(RuleSpec(proto: .icmp, icmpType: 300)))["contracts[0].rules[0].icmp_type"] == .outOfRange)
        #expect(problems(rule(RuleSpec(proto: .tcp, priority: 70000)))["contracts[0].rules[0].priority"] == .outOfRange)
    }

    @Test func contractsThatCanNeverApply() {
        var spec = F.threeTier(externals: [ExternalGroupSpec(name: "net", tenant: "t1", cidrs: ["8.0.0.0/8"]),
                                           ExternalGroupSpec(name: "net2", tenant: "t1", cidrs: ["9.0.0.0/8"])])
        spec.contracts = [
            F.contract("empty", providers: ["db"], consumers: ["app"], []),
            F.contract("nobody", providers: [], consumers: ["app"], [RuleSpec(proto: .any)]),
            F.contract("outside", providers: ["net"], consumers: ["net2"], [RuleSpec(proto: .any)]),
        ]
        let p = problems(spec)
        #expect(p["contracts[0].rules"] == .neverMatches)
        #expect(p["contracts[1].providers"] == .neverMatches)
        #expect(p["contracts[2]"] == .neverMatches)
    }

    @Test func shadowedRulesFollowPrecedence() {
        func shadowed(_ rules: [RuleSpec]) -> Set<String> {
            let spec = F.threeTier(contracts: [F.contract("c", providers: ["db"], consumers: ["app"], rules)])
            return Set(Policy.validate(spec).filter { $0.code == .neverMatches }.map(\.path))
        }
        // An allow-all at equal priority makes a later narrower allow redundant...
        #expect(shadowed([RuleSpec(proto: .any), RuleSpec(proto: .tcp, ports: [PortRange(80)])]) == ["contracts[0].rules[1]"])
        // ...but not a deny, which wins at equal priority,
        #expect(shadowed([RuleSpec(proto: .any), RuleSpec(proto: .tcp, ports: [PortRange(80)], action: .deny)]).isEmpty)
        // nor a rule of higher priority, nor one the first covers only in part, nor the other direction.
        #expect(shadowed([RuleSpec(proto: .any), RuleSpec(proto: .tcp, priority: 5)]).isEmpty)
        #expect(shadowed([RuleSpec(proto: .tcp, ports: [PortRange(80, 89)]), RuleSpec(proto: .tcp, ports: [PortRange(85, 95)])]).isEmpty)
        #expect(shadowed([RuleSpec(proto: .tcp), RuleSpec(proto: .tcp, direction: .both)]).isEmpty)
        // A higher-priority deny covering two ranges shadows an allow inside their union.
        #expect(shadowed([RuleSpec(proto: .udp, ports: [PortRange(1, 10), PortRange(11, 20)], action: .deny, priority: 9),
                          RuleSpec(proto: .udp, ports: [PortRange(5, 15)])]) == ["contracts[0].rules[1]"])
        #expect(shadowed([RuleSpec(proto: .icmp, icmpType: 8), RuleSpec(proto: .icmp, icmpType: 8, icmpCode: 0)]) == ["contracts[0].rules[1]"])
    }

    @Test func everyProblemIsReportedNotOnlyTheFirst() {
        var spec = F.threeTier(contracts: [
            F.contract("c", providers: ["db"], consumers: ["app"], [
                RuleSpec(proto: .tcp, ports: [PortRange(443, 80)]),
                RuleSpec(proto: .udp, icmpType: 3),
            ]),
        ])
        spec.endpoints.append(F.endpoint("dup", "web", ["10.0.1.1"], mac: 0x77))
        spec.externalGroups.append(ExternalGroupSpec(name: "bad", tenant: "t1", cidrs: ["300.0.0.0/8"]))
        let paths = Policy.validate(spec).map(\.path)
        #expect(paths == ["endpoints[6].ips[0]", "external_groups[0].cidrs[0]",
                          "contracts[0].rules[0].ports[0]", "contracts[0].rules[1].icmp_type"])
    }

    @Test func compileThrowsEveryProblemAndARejectedPolicyChangesNothing() throws {
        let good = F.threeTier(contracts: [F.contract("app-db", providers: ["db"], consumers: ["app"],
                                                      [RuleSpec(proto: .tcp, ports: [PortRange(5432)])])])
        var compiler = PolicyCompiler()
        defer { compiler.deallocate() }
        let (first, _) = try compiler.compile(good, epoch: 1)
        defer { first.deallocate() }
        let packet = F.tcp("10.0.2.1", "10.0.3.1", dport: 5432)
        #expect(first.classify(tenant: 0, fields: packet).allowed)

        var bad = good
        bad.contracts[0].rules[0].ports = [PortRange(6000, 5000)]
        bad.contracts[0].providers = ["nope"]
        #expect(throws: PolicyRejection.self) { _ = try CompiledPolicy.compile(bad, epoch: 9) }
        do {
            _ = try compiler.compile(bad, epoch: 2)
            Issue.record("invalid policy accepted")
        } catch {
            #expect(error.errors.map(\.path) == ["contracts[0].providers[0]", "contracts[0].rules[0].ports[0]"])
        }
        // The rejection left the compiler as it was: the next valid spec reuses the endpoints.
        var next = good
        next.contracts[0].rules[0].ports = [PortRange(5433)]
        let (second, names) = try compiler.compile(next, epoch: 2)
        defer { second.deallocate() }
        #expect(compiler.reusedMembership)
        #expect(names.ruleCount == 1 && names.ruleName(0) == "app-db/rules[0]")
        #expect(!second.classify(tenant: 0, fields: packet).allowed)
        #expect(second.classify(tenant: 0, fields: F.tcp("10.0.2.1", "10.0.3.1", dport: 5433)).allowed)
    }
}
