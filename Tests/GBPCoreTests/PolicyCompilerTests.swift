import Testing
@testable import GBPCore

/// `PolicyCompiler` reuses the endpoint side of the previous compile when only contracts
/// change: what it compiles must classify exactly as the reference evaluator says.
@Suite("Policy compiler: reuse across compiles")
struct PolicyCompilerTests {
    @Test func contractEditsReuseEndpointsAndClassifyLikeTheReference() throws {
        var compared = 0, reused = 0
        for n in 0..<100 {
            let seed = DifferentialTests.baseSeed &+ 7_000 &+ UInt64(n)
            var rng = SeededRandom(seed: seed)
            guard let a = RandomPolicy.make(&rng), !a.contracts.isEmpty else { continue }
            var compiler = PolicyCompiler()
            defer { compiler.deallocate() }
            let (first, _) = try compiler.compile(a, epoch: 1)
            first.deallocate()
            // Same membership, other contracts: reversed, every rule's action flipped at random.
            var b = a
            b.contracts.reverse()
            for c in b.contracts.indices {
                for r in b.contracts[c].rules.indices where Bool.random(using: &rng) {
                    b.contracts[c].rules[r].action = b.contracts[c].rules[r].action == .allow ? .deny : .allow
                }
            }
            guard Policy.validate(b).isEmpty else { continue }  // a flip can shadow a rule
            let (policy, names) = try compiler.compile(b, epoch: 2)
            defer { policy.deallocate() }
            if compiler.reusedMembership { reused += 1 }
            #expect(names == PolicyNames(b), "seed \(seed)")
            let reference = ReferenceEvaluator(spec: b)
            let traffic = RandomTraffic(spec: b)
            for _ in 0..<100 {
                let (tenant, f) = traffic.packet(&rng)
                let want = reference.evaluate(tenant: tenant, f)
                let v = policy.classify(tenant: UInt16(tenant), fields: f)
                let got = ReferenceEvaluator.Answer(v)
                compared += 1
                #expect(got == want, "seed \(seed): \(f.src) -> \(f.dst) proto \(f.ipProto) dport \(f.dstPort)")
            }
        }
        #expect(reused >= 50)
        #expect(compared >= 5_000)
    }

    @Test func anEndpointChangeCompilesFromScratch() throws {
        var spec = PolicyFixtures.threeTier(contracts: [PolicyFixtures.contract(
            "web-app", providers: ["app"], consumers: ["web"], [RuleSpec(proto: .tcp, ports: [PortRange(8080)])])])
        var compiler = PolicyCompiler()
        defer { compiler.deallocate() }
        try compiler.compile(spec, epoch: 1).0.deallocate()
        spec.endpoints[0].ips = [PolicyFixtures.ip("10.0.1.99")]
        let (p, _) = try compiler.compile(spec, epoch: 2)
        defer { p.deallocate() }
        #expect(!compiler.reusedMembership)
        #expect(p.endpoints.lookup(tenant: 0, ip: PolicyFixtures.ip("10.0.1.99")) != nil)
    }
}
