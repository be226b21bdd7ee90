import Testing
@testable import GBPCore

/// RuleSpec, EndpointSpec and ContractSpec compare field by field in place
/// (PolicySpec-Equality.swift) rather than with the derived `==`: each field must count.
@Suite("Policy spec equality")
struct SpecEqualityTests {
    static let rule = RuleSpec(name: "web", proto: .tcp, ports: [PortRange(80), PortRange(8000, 8080)], icmpType: nil,
                               icmpCode: nil, direction: .consumerToProvider, action: .allow, log: false, priority: 10)

    @Test func everyRuleFieldCounts() {
        let r = Self.rule
        #expect(r == RuleSpec(name: "web", proto: .tcp, ports: [PortRange(80), PortRange(8000, 8080)], priority: 10))
        var changes: [RuleSpec] = []
        var x = r; x.name = "web2"; changes.append(x)
        x = r; x.proto = .udp; changes.append(x)
        x = r; x.ports = [PortRange(80)]; changes.append(x)
        x = r; x.ports = [PortRange(80), PortRange(8000, 8081)]; changes.append(x)
        x = r; x.icmpType = 8; changes.append(x)
        x = r; x.icmpCode = 0; changes.append(x)
        x = r; x.direction = .both; changes.append(x)
        x = r; x.action = .deny; changes.append(x)
        x = r; x.log = true; changes.append(x)
        x = r; x.priority = 11; changes.append(x)
        for c in changes {
            #expect(c != r)
            #expect(!RuleSpec.same([r, r], [r, c]))
        }
        #expect(RuleSpec.same([r, r], [r, r]))
        #expect(!RuleSpec.same([r], [r, r]))
        #expect(RuleSpec.same([], []))
    }

    @Test func everyContractAndEndpointFieldCounts() {
        let c = ContractSpec(name: "k", tenant: "t", providers: ["p"], consumers: ["c"], rules: [Self.rule])
        #expect(c == ContractSpec(name: "k", tenant: "t", providers: ["p"], consumers: ["c"], rules: [Self.rule]))
        var x = c; x.name = "k2"; #expect(x != c)
        x = c; x.tenant = "u"; #expect(x != c)
        x = c; x.providers = ["p", "q"]; #expect(x != c)
        x = c; x.consumers = ["d"]; #expect(x != c)
        x = c; x.rules[0].ports = []; #expect(x != c)
        x = c; x.onPolicyChange = .keep; #expect(x != c)

        let e = EndpointSpec(name: "e", port: "p0", mac: MACAddress(raw: 0x0200_0000_0001),
                             ips: [IPAddress(v4: 0x0A00_0001)], group: "g", tenant: "t")
        var y = e; #expect(y == e)
        y.name = "f"; #expect(y != e)
        y = e; y.port = "p1"; #expect(y != e)
        y = e; y.mac = MACAddress(raw: 0x0200_0000_0002); #expect(y != e)
        y = e; y.ips.append(IPAddress(v4: 0x0A00_0002)); #expect(y != e)
        y = e; y.group = "h"; #expect(y != e)
        y = e; y.tenant = "u"; #expect(y != e)
    }
}
