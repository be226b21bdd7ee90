import Testing
@testable import GBPCore

@Suite("Policy explain")
struct PolicyExplainTests {
    typealias F = PolicyFixtures

    let spec = F.threeTier(contracts: [F.contract("app-db", providers: ["db"], consumers: ["app"], [
        RuleSpec(name: "postgres", proto: .tcp, ports: [PortRange(5432)], log: true),
        RuleSpec(name: "no-ssh", proto: .tcp, ports: [PortRange(22)], action: .deny, priority: 5),
    ])], intraDB: .deny)

    func explain(_ q: ExplainQuery) -> Result<Explanation, ExplainError> {
        let p = F.compile(spec)
        defer { p.deallocate() }
        return p.explain(q, spec: spec, names: PolicyNames(spec))
    }

    @Test func namesTheDecidingContractAndRule() throws {
        let e = try explain(ExplainQuery(tenant: "t1", source: "app-1", destination: "db-2", ipProto: 6, dstPort: 5432)).get()
        #expect(e.verdict.allowed && e.contract == "app-db" && e.rule == "app-db/postgres")
        #expect(e.source == "endpoint app-1 (group app)" && e.destination == "endpoint db-2 (group db)")
        #expect(e.description.hasPrefix("ALLOW") && e.summary.contains("logged"))
        let ssh = try explain(ExplainQuery(tenant: "t1", source: "app-1", destination: "db-1", ipProto: 6, dstPort: 22)).get()
        #expect(!ssh.verdict.allowed && ssh.rule == "app-db/no-ssh" && ssh.summary.contains("denied by rule"))
    }

    @Test func explainsDefaults() throws {
        let none = try explain(ExplainQuery(tenant: "t1", source: "web-1", destination: "db-1", ipProto: 17, dstPort: 53)).get()
        #expect(none.verdict.reason == .noContract && none.contract == nil && none.summary.contains("from web to db"))
        let intra = try explain(ExplainQuery(tenant: "t1", source: "db-1", destination: "db-2", ipProto: 6, dstPort: 1)).get()
        #expect(intra.verdict.reason == .intraGroupDenied && intra.summary.contains("intra_group deny"))
        let v6 = try explain(ExplainQuery(tenant: "t1", source: "web-1", destination: "app-1", ipProto: 58, icmpType: 128, ipv6: true)).get()
        #expect(v6.verdict.reason == .noContract)
    }

    @Test func reportsBadQueries() {
        #expect(throws: ExplainError.unknownTenant("t9")) {
            try explain(ExplainQuery(tenant: "t9", source: "app-1", destination: "db-1", ipProto: 6)).get()
        }
        #expect(throws: ExplainError.unknownEndpoint("nobody")) {
            try explain(ExplainQuery(tenant: "t1", source: "nobody", destination: "db-1", ipProto: 6)).get()
        }
        #expect(throws: ExplainError.noAddress(endpoint: "db-1", ipv6: true)) {
            try explain(ExplainQuery(tenant: "t1", source: "app-1", destination: "db-1", ipProto: 6, ipv6: true)).get()
        }
    }
}
