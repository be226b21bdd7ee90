import Testing
@testable import GBPCore

/// `PolicyCompiler` keeps checked contracts and compiled group pairs from one compile to
/// the next (CheckedContracts.swift, PairImage.swift). After any sequence of edits, what it
/// compiles must be what a compile from scratch makes of the same spec: the same rule
/// tables byte for byte, the same verdict on every packet, the same errors for a bad spec.
@Suite("Policy compiler: incremental compile equals a compile from scratch")
struct IncrementalCompileTests {
    @Test func editSequencesCompileLikeFromScratch() throws {
        var compiles = 0, rejected = 0, reusedPairs = 0, compared = 0
        var kinds = Set<Int>()
        for n in 0..<60 {
            let seed = DifferentialTests.baseSeed &+ 40_000 &+ UInt64(n)
            var rng = SeededRandom(seed: seed)
            guard var spec = RandomPolicy.make(&rng), !spec.contracts.isEmpty else { continue }
            var compiler = PolicyCompiler()
            defer { compiler.deallocate() }
            try compiler.compile(spec, epoch: 1).0.deallocate()
            for step in 0..<8 {
                let (kind, edited) = Self.edit(spec, &rng)
                kinds.insert(kind)
                let errors = Policy.validate(edited)
                if !errors.isEmpty {
                    // Checks skipped for known contracts must not hide an error.
                    do {
                        _ = try compiler.compile(edited, epoch: 99)
                        Issue.record("seed \(seed) step \(step) edit \(kind): an invalid spec compiled")
                    } catch {
                        #expect(error.errors == errors, "seed \(seed) step \(step) edit \(kind)")
                    }
                    rejected += 1
                }
                guard let next = RandomPolicy.repair(edited), !next.contracts.isEmpty else { continue }
                spec = next
                let epoch = UInt32(step + 2)
                let (got, _) = try compiler.compile(spec, epoch: epoch)
                defer { got.deallocate() }
                let want = try CompiledPolicy.compile(spec, epoch: epoch)
                defer { want.deallocate() }
                compiles += 1
                let total = got.pairLayout.inline + got.pairLayout.split + got.pairLayout.extended + got.pairLayout.general
                reusedPairs += total - compiler.pairsBuilt
                #expect(Self.sameRuleTables(got, want), "seed \(seed) step \(step) edit \(kind)")
                let reference = ReferenceEvaluator(spec: spec)
                let traffic = RandomTraffic(spec: spec)
                for _ in 0..<60 {
                    let (tenant, f) = traffic.packet(&rng)
                    let v = got.classify(tenant: UInt16(tenant), fields: f)
                    #expect(v == want.classify(tenant: UInt16(tenant), fields: f), "seed \(seed) step \(step) edit \(kind)")
                    #expect(ReferenceEvaluator.Answer(v) == reference.evaluate(tenant: tenant, f), "seed \(seed) step \(step)")
                    compared += 1
                }
            }
        }
        #expect(compiles >= 250 && rejected >= 20 && compared >= 15_000)
        #expect(reusedPairs > compiles)  // the cache is used, not just correct
        #expect(kinds.count == 10)
    }

    @Test func aContractEditRebuildsOnlyItsPairs() throws {
        var spec = PolicyFixtures.threeTier(contracts: [
            PolicyFixtures.contract("web-app", providers: ["app"], consumers: ["web"], [RuleSpec(proto: .tcp, ports: [PortRange(8080)])]),
            PolicyFixtures.contract("app-db", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .tcp, ports: [PortRange(5432)])]),
        ])
        var compiler = PolicyCompiler()
        defer { compiler.deallocate() }
        try compiler.compile(spec, epoch: 1).0.deallocate()
        #expect(compiler.pairsBuilt == 2)
        spec.contracts[1].rules[0].ports = [PortRange(5433)]
        try compiler.compile(spec, epoch: 2).0.deallocate()
        #expect(compiler.reusedMembership && compiler.pairsBuilt == 1)
        // A rule added before them changes every later rule id, not the pairs' shapes.
        spec.contracts[0].rules.insert(RuleSpec(proto: .icmp, icmpType: 8), at: 0)
        let (p, _) = try compiler.compile(spec, epoch: 3)
        defer { p.deallocate() }
        #expect(compiler.pairsBuilt == 1)
        let want = try CompiledPolicy.compile(spec, epoch: 3)
        defer { want.deallocate() }
        #expect(Self.sameRuleTables(p, want))
    }

    /// One random edit of `spec` (possibly invalid) and its kind.
    static func edit(_ spec: PolicySpec, _ rng: inout SeededRandom) -> (Int, PolicySpec) {
        var s = spec
        let c = Int.random(in: 0..<s.contracts.count, using: &rng)
        let r = Int.random(in: 0..<s.contracts[c].rules.count, using: &rng)
        let kind = Int.random(in: 0..<10, using: &rng)
        switch kind {
        case 0: s.contracts[c].rules[r].action = s.contracts[c].rules[r].action == .allow ? .deny : .allow
        case 1: s.contracts[c].rules[r] = RandomPolicy.randomRule(&rng)
        case 2: s.contracts[c].rules.insert(RandomPolicy.randomRule(&rng), at: Int.random(in: 0...s.contracts[c].rules.count, using: &rng))
        case 3: s.contracts[c].rules.remove(at: r)  // may leave a contract without rules: rejected
        case 4:
            var copy = s.contracts[c]
            copy.name += "-copy\(Int.random(in: 0..<1000, using: &rng))"
            copy.rules.shuffle(using: &rng)
            s.contracts.insert(copy, at: Int.random(in: 0...s.contracts.count, using: &rng))
        case 5: s.contracts.remove(at: c)
        case 6: s.contracts.reverse()
        case 7:
            s.contracts[c].rules[r].log.toggle()
            s.contracts[c].rules[r].priority = Int.random(in: 0...2, using: &rng)
        case 8: s.contracts[c].providers.append("no-such-group")  // rejected
        default:
            // Membership: an endpoint leaves, or a group's intra-group policy flips.
            if s.endpoints.count > 1 && Bool.random(using: &rng) {
                s.endpoints.remove(at: Int.random(in: 0..<s.endpoints.count, using: &rng))
            } else {
                let g = Int.random(in: 0..<s.groups.count, using: &rng)
                s.groups[g].intraGroup = s.groups[g].intraGroup == .allow ? .deny : .allow
            }
        }
        return (kind, s)
    }

    /// Same rule tables, byte for byte: pair blocks and their hash, lines, per-rule and
    /// per-contract records (the endpoint tables are checked by classification).
    static func sameRuleTables(_ a: CompiledPolicy, _ b: CompiledPolicy) -> Bool {
        func same(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ n: Int) -> Bool {
            UnsafeRawBufferPointer(start: x, count: n).elementsEqual(UnsafeRawBufferPointer(start: y, count: n))
        }
        guard a.ruleCount == b.ruleCount, a.contractCount == b.contractCount, a.groupCount == b.groupCount,
              a.pairLayout == b.pairLayout, a.pairs.bytes == b.pairs.bytes, a.pairs.mask == b.pairs.mask,
              a.pairs.intervalCount == b.pairs.intervalCount,
              a.lines.shape.slotCount == b.lines.shape.slotCount, a.lines.shape.seed == b.lines.shape.seed else { return false }
        let lineBytes = a.lines.shape.slotCount * RuleLineTable.lineBytes
        return same(a.pairs.words, b.pairs.words, a.pairs.bytes)
            && same(a.pairs.slots, b.pairs.slots, (a.pairs.mask + 1) * MemoryLayout<PairSlot>.stride)
            && same(a.lines.lines, b.lines.lines, lineBytes)
            && (0..<a.ruleCount).allSatisfy { a.rule(UInt32($0)) == b.rule(UInt32($0)) }
            && (0..<a.contractCount).allSatisfy { a.contract(UInt16($0)) == b.contract(UInt16($0)) }
    }
}
