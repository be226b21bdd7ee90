import Testing
@testable import GBPCore

/// Random policies x random packets: the compiled classifier must give exactly the
/// reference evaluator's answer (action, reason, contract, rule, log flag, groups).
/// Seeded and reproducible: a failure names its seed.
@Suite("Differential: compiled classifier vs reference evaluator")
struct DifferentialTests {
    static let policies = 300
    static let packetsPerPolicy = 120
    static let baseSeed: UInt64 = 0x6762_7064_6966_6600

    @Test func compiledClassifierAgreesWithTheReference() {
        var compared = 0, allowed = 0, byRule = 0, rejected = 0
        var reasons = Set<DropReason>()
        for n in 0..<Self.policies {
            let seed = Self.baseSeed &+ UInt64(n)
            var rng = SeededRandom(seed: seed)
            guard let spec = RandomPolicy.make(&rng) else { rejected += 1; continue }
            let policy: CompiledPolicy
            do { policy = try CompiledPolicy.compile(spec, epoch: 1) } catch {
                Issue.record("seed \(seed): generated policy rejected: \(error)")
                continue
            }
            defer { policy.deallocate() }
            let reference = ReferenceEvaluator(spec: spec)
            let traffic = RandomTraffic(spec: spec)
            var failures = 0
            for _ in 0..<Self.packetsPerPolicy {
                let (tenant, f) = traffic.packet(&rng)
                let want = reference.evaluate(tenant: tenant, f)
                let v = policy.classify(tenant: UInt16(tenant), fields: f)
                let got = ReferenceEvaluator.Answer(v)
                compared += 1
                if v.allowed { allowed += 1 }
                if v.decidedByRule { byRule += 1 }
                if let r = v.reason { reasons.insert(r) }
                if got != want && failures < 3 {
                    failures += 1
                    Issue.record("""
                        seed \(seed): tenant \(tenant) kind \(f.kind) \(f.src) -> \(f.dst) mac \(f.srcMAC) -> \(f.dstMAC) \
                        ethertype \(f.etherType) proto \(f.ipProto) dport \(f.dstPort) icmp \(f.icmpType)/\(f.icmpCode)
                          compiled:  \(got)
                          reference: \(want)
                        """)
                }
            }
        }
        print("differential: \(compared) packets, \(allowed) allowed, \(byRule) decided by a rule, \(rejected) policies skipped")
        // The generator must exercise the interesting paths, or agreement means little.
        #expect(compared >= 30_000)
        #expect(rejected < Self.policies / 10)
        #expect(allowed > compared / 20 && byRule > compared / 10)
        #expect(reasons.isSuperset(of: [.unknownSource, .unknownDestination, .externalDenied, .noContract,
                                        .deniedByRule, .intraGroupDenied]))
    }
}

/// The classifier keeps each group pair's rules in one of three formats (RuleLines.swift):
/// the same random policies, compiled with only the extended and general formats allowed,
/// must agree with the reference too, and every format must have been used.
@Suite("Differential: every rule-line format vs reference evaluator")
struct DifferentialLayoutTests {
    @Test(arguments: [RuleLineTable.Layout.best, .extendedOrGeneral, .generalOnly])
    func everyFormatAgreesWithTheReference(layout: RuleLineTable.Layout) {
        var compared = 0, byRule = 0
        var used = (inline: 0, split: 0, extended: 0, general: 0)
        for n in 0..<120 {
            let seed = DifferentialTests.baseSeed &+ 20_000 &+ UInt64(n)
            var rng = SeededRandom(seed: seed)
            guard let spec = RandomPolicy.make(&rng),
                  let policy = try? CompiledPolicy.compile(spec, epoch: 1, lineLayout: layout) else { continue }
            defer { policy.deallocate() }
            let l = policy.pairLayout
            used.inline += l.inline; used.split += l.split; used.extended += l.extended; used.general += l.general
            let reference = ReferenceEvaluator(spec: spec)
            let traffic = RandomTraffic(spec: spec)
            var tenants: [UInt16] = [], fields: [PacketFields] = []
            for _ in 0..<100 {
                let (t, f) = traffic.packet(&rng)
                tenants.append(UInt16(t)); fields.append(f)
            }
            var out = [Verdict](repeating: .drop(.runtFrame), count: fields.count)
            tenants.withUnsafeBufferPointer { t in
                fields.withUnsafeBufferPointer { f in
                    out.withUnsafeMutableBufferPointer { o in
                        policy.classify(burst: f.count, tenants: t.baseAddress!, fields: f.baseAddress!, verdicts: o.baseAddress!)
                    }
                }
            }
            for i in fields.indices {
                let want = reference.evaluate(tenant: Int(tenants[i]), fields[i])
                for v in [out[i], policy.classify(tenant: tenants[i], fields: fields[i])] {
                    let got = ReferenceEvaluator.Answer(v)
                    #expect(got == want, "seed \(seed) packet \(i) layout \(layout)")
                }
                compared += 1
                if out[i].decidedByRule { byRule += 1 }
            }
        }
        #expect(compared >= 10_000 && byRule > compared / 10)
        switch layout {
        case .best: #expect(used.inline > 0 && used.split > 0, "\(used)")
        case .extendedOrGeneral: #expect(used.inline + used.split == 0 && used.extended > 0, "\(used)")
        case .generalOnly: #expect(used.inline + used.split + used.extended == 0 && used.general > 0, "\(used)")
        }
    }
}

/// Random but valid policies over small address, port and type spaces, so that rules,
/// prefixes and packets collide often.
enum RandomPolicy {
    static let v4Prefixes = ["0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/26", "10.0.0.0/28", "10.0.0.16/28", "10.0.0.32/27",
                             "10.0.0.8/29", "10.0.0.40/30", "172.16.0.0/12", "172.16.1.0/24", "8.8.8.0/24"]
    static let v6Prefixes = ["::/0", "fd00::/16", "fd00::/64", "fd00::/122", "fd00::20/123", "fd00::10/124", "2001:db8::/32"]

    static func make(_ rng: inout SeededRandom) -> PolicySpec? {
        var spec = PolicySpec()
        let tenantCount = Int.random(in: 1...3, using: &rng)
        for t in 0..<tenantCount {
            let tn = "t\(t)"
            spec.tenants.append(TenantSpec(name: tn))
            let groupCount = Int.random(in: 1...5, using: &rng)
            var usedIPs = Set<IPAddress>()
            var usedMACs = Set<UInt64>()
            for g in 0..<groupCount {
                spec.groups.append(GroupSpec(name: "g\(g)", tenant: tn, intraGroup: Bool.random(using: &rng) ? .allow : .deny))
                for e in 0..<Int.random(in: 1...4, using: &rng) {
                    var ips: [IPAddress] = []
                    for _ in 0..<Int.random(in: 0...2, using: &rng) {
                        let x = UInt64.random(in: 1...60, using: &rng)
                        let a = Bool.random(using: &rng) ? IPAddress(v4: 0x0A00_0000 | UInt32(x)) : IPAddress(hi: 0xFD00_0000_0000_0000, lo: x)
                        if usedIPs.insert(a).inserted { ips.append(a) }
                    }
                    var m: UInt64
                    repeat { m = UInt64.random(in: 1...200, using: &rng) } while !usedMACs.insert(m).inserted
                    spec.endpoints.append(EndpointSpec(name: "g\(g)-e\(e)", port: "port\(m % 7)", mac: PolicyFixtures.mac(m),
                                                       ips: ips, group: "g\(g)", tenant: tn))
                }
            }
            let prefixes = (v4Prefixes + v6Prefixes).shuffled(using: &rng)
            var next = 0
            for x in 0..<Int.random(in: 0...3, using: &rng) {
                var cidrs: [String] = []
                for _ in 0..<Int.random(in: 1...3, using: &rng) where next < prefixes.count {
                    cidrs.append(prefixes[next]); next += 1
                }
                if cidrs.isEmpty { break }
                var except: [String] = []
                if Bool.random(using: &rng) {
                    except.append((v4Prefixes + v6Prefixes).randomElement(using: &rng)!)
                }
                spec.externalGroups.append(ExternalGroupSpec(name: "x\(x)", tenant: tn, cidrs: cidrs, except: except))
            }
            let names = (0..<groupCount).map { "g\($0)" } + spec.externalGroups.filter { $0.tenant == tn }.map(\.name)
            for c in 0..<Int.random(in: 1...8, using: &rng) {
                let providers = Array(Set((0..<Int.random(in: 1...2, using: &rng)).map { _ in names.randomElement(using: &rng)! }))
                let consumers = Array(Set((0..<Int.random(in: 1...2, using: &rng)).map { _ in names.randomElement(using: &rng)! }))
                let rules = (0..<Int.random(in: 1...4, using: &rng)).map { _ in randomRule(&rng) }
                spec.contracts.append(ContractSpec(name: "c\(c)", tenant: tn, providers: providers.sorted(),
                                                   consumers: consumers.sorted(), rules: rules))
            }
        }
        return repair(spec)
    }

    static func randomRule(_ rng: inout SeededRandom) -> RuleSpec {
        let protos: [RuleProtocol] = [.tcp, .tcp, .udp, .sctp, .icmp, .icmpv6, .any, .etherType(0x88CC), .etherType(0x9000)]
        var r = RuleSpec(proto: protos.randomElement(using: &rng)!)
        if r.proto.hasPorts {
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                let a = Int.random(in: 0...30, using: &rng), b = Int.random(in: 0...30, using: &rng)
                r.ports.append(PortRange(min(a, b), max(a, b)))
            }
        }
        if r.proto.isICMP && Bool.random(using: &rng) {
            r.icmpType = Int.random(in: 0...3, using: &rng)
            if Bool.random(using: &rng) { r.icmpCode = Int.random(in: 0...2, using: &rng) }
        }
        r.direction = [.consumerToProvider, .providerToConsumer, .both].randomElement(using: &rng)!
        r.action = Int.random(in: 0..<3, using: &rng) == 0 ? .deny : .allow
        r.log = Bool.random(using: &rng)
        r.priority = Int.random(in: 0...2, using: &rng)
        return r
    }

    /// Drops what validation says can never match (shadowed rules, useless excepts,
    /// outside-only contracts) until the spec is valid; nil if that does not converge.
    static func repair(_ input: PolicySpec) -> PolicySpec? {
        var spec = input
        for _ in 0..<20 {
            let errors = Policy.validate(spec)
            if errors.isEmpty { return spec }
            guard let e = errors.first else { return spec }
            let nums = e.path.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            switch e.path {
            case let p where p.hasPrefix("contracts[") && p.contains(".rules["):
                spec.contracts[nums[0]].rules.remove(at: nums[1])
                if spec.contracts[nums[0]].rules.isEmpty { spec.contracts.remove(at: nums[0]) }
            case let p where p.hasPrefix("contracts["):
                spec.contracts.remove(at: nums[0])
            case let p where p.hasPrefix("external_groups[") && p.contains(".except["):
                spec.externalGroups[nums[0]].except.remove(at: nums[1])
            case let p where p.hasPrefix("external_groups[") && p.contains(".cidrs["):
                spec.externalGroups[nums[0]].except = []  // an except swallowed a whole cidr
            default:
                return nil
            }
        }
        return nil
    }
}

/// Packets aimed at the policy: addresses of its endpoints (any tenant), inside and outside
/// its prefixes, and unknown ones; ports, types and EtherTypes from the rules' small spaces.
struct RandomTraffic {
    let spec: PolicySpec
    let v4: [IPAddress]
    let v6: [IPAddress]
    let macs: [MACAddress]
    /// Per tenant, its endpoints' addresses: most packets stay inside one tenant.
    let tenantV4: [[IPAddress]]
    let tenantV6: [[IPAddress]]

    init(spec: PolicySpec) {
        self.spec = spec
        tenantV4 = spec.tenants.map { t in spec.endpoints.filter { $0.tenant == t.name }.flatMap(\.ips).filter(\.isIPv4) }
        tenantV6 = spec.tenants.map { t in spec.endpoints.filter { $0.tenant == t.name }.flatMap(\.ips).filter { !$0.isIPv4 } }
        let ips = spec.endpoints.flatMap(\.ips)
        let extraV4 = ["10.0.0.61", "10.0.0.0", "10.0.0.17", "10.255.0.1", "172.16.1.9", "172.20.0.1", "8.8.8.8", "1.1.1.1", "192.168.1.1"]
        let extraV6 = ["fd00::3f", "fd00::21", "fd00::11", "fd00:0:0:1::5", "fd01::1", "2001:db8::9", "2002::1"]
        v4 = ips.filter(\.isIPv4) + extraV4.map(PolicyFixtures.ip)
        v6 = ips.filter { !$0.isIPv4 } + extraV6.map(PolicyFixtures.ip)
        macs = spec.endpoints.map(\.mac) + [PolicyFixtures.mac(0xFFF), .broadcast]
    }

    func packet(_ rng: inout SeededRandom) -> (tenant: Int, fields: PacketFields) {
        let tenant = Int.random(in: 0..<50, using: &rng) == 0 ? spec.tenants.count : Int.random(in: 0..<spec.tenants.count, using: &rng)
        var f = PacketFields()
        if Int.random(in: 0..<5, using: &rng) == 0 {
            f.kind = .other
            f.srcMAC = macs.randomElement(using: &rng)!
            f.dstMAC = macs.randomElement(using: &rng)!
            f.etherType = [0x88CC, 0x9000, 0x1234].randomElement(using: &rng)!
            return (tenant, f)
        }
        let six = Bool.random(using: &rng)
        let all = six ? v6 : v4
        let own = tenant < spec.tenants.count ? (six ? tenantV6 : tenantV4)[tenant] : []
        func pick(_ rng: inout SeededRandom) -> IPAddress {
            own.isEmpty || Int.random(in: 0..<3, using: &rng) == 0 ? all.randomElement(using: &rng)! : own.randomElement(using: &rng)!
        }
        f.kind = six ? .ipv6 : .ipv4
        f.etherType = six ? 0x86DD : 0x0800
        f.src = pick(&rng)
        f.dst = pick(&rng)
        f.ipProto = [6, 6, 17, 132, 1, 58, 47].randomElement(using: &rng)!
        f.srcPort = UInt16.random(in: 0...40, using: &rng)
        f.dstPort = UInt16.random(in: 0...32, using: &rng)
        f.icmpType = UInt8.random(in: 0...4, using: &rng)
        f.icmpCode = UInt8.random(in: 0...3, using: &rng)
        return (tenant, f)
    }
}

/// The burst entry points must answer exactly as the one-packet ones.
@Suite("Differential: burst vs one packet at a time")
struct DifferentialBurstTests {
    @Test func burstClassificationEqualsSingle() {
        var checked = 0
        for n in 0..<60 {
            var rng = SeededRandom(seed: DifferentialTests.baseSeed &+ 10_000 &+ UInt64(n))
            guard let spec = RandomPolicy.make(&rng), let policy = try? CompiledPolicy.compile(spec, epoch: 1) else { continue }
            defer { policy.deallocate() }
            let traffic = RandomTraffic(spec: spec)
            let count = Int.random(in: 1...100, using: &rng)  // bursts longer and shorter than a chunk
            var tenants: [UInt16] = [], fields: [PacketFields] = []
            for _ in 0..<count {
                let (t, f) = traffic.packet(&rng)
                tenants.append(UInt16(t)); fields.append(f)
            }
            var out = [Verdict](repeating: .drop(.runtFrame), count: count)
            tenants.withUnsafeBufferPointer { t in
                fields.withUnsafeBufferPointer { f in
                    out.withUnsafeMutableBufferPointer { o in
                        policy.classify(burst: count, tenants: t.baseAddress!, fields: f.baseAddress!, verdicts: o.baseAddress!)
                    }
                }
            }
            for i in 0..<count {
                #expect(out[i] == policy.classify(tenant: tenants[i], fields: fields[i]), "seed offset \(n) packet \(i)")
                checked += 1
            }
        }
        #expect(checked > 2_000)
    }

    @Test func burstTrackingEqualsSingle() {
        // Two identical tables: one fed bursts, one fed packet by packet, with repeats of the
        // same connections inside one burst (new, then established, then replies).
        let spec = PolicyFixtures.threeTier(contracts: [PolicyFixtures.contract("c", providers: ["db"], consumers: ["app"],
                                                                               [RuleSpec(proto: .udp), RuleSpec(proto: .tcp)])])
        let policy = PolicyFixtures.compile(spec)
        defer { policy.deallocate() }
        let a = FlowTable(capacity: 64, ticksPerSecond: 1000), b = FlowTable(capacity: 64, ticksPerSecond: 1000)
        defer { a.deallocate(); b.deallocate() }
        var rng = SeededRandom(seed: 99)
        let ends = ["10.0.2.1", "10.0.2.2", "10.0.3.1", "10.0.3.2", "10.0.1.1"]
        for round in 0..<40 {
            var fields: [PacketFields] = []
            for _ in 0..<Int.random(in: 1...70, using: &rng) {
                let s = ends.randomElement(using: &rng)!, d = ends.randomElement(using: &rng)!
                let sp = UInt16.random(in: 1...6, using: &rng), dp = UInt16.random(in: 1...6, using: &rng)
                fields.append(Bool.random(using: &rng)
                    ? PolicyFixtures.udp(s, d, dport: dp, sport: sp)
                    : PolicyFixtures.tcp(s, d, dport: dp, sport: sp, flags: [0x02, 0x12, 0x10, 0x11].randomElement(using: &rng)!))
            }
            let keys = fields.map { FlowKey(tenant: 0, fields: $0) }
            var out = [Verdict](repeating: .drop(.runtFrame), count: fields.count)
            let now = UInt64(round) * 7_000  // some flows expire between rounds
            keys.withUnsafeBufferPointer { k in
                fields.withUnsafeBufferPointer { f in
                    out.withUnsafeMutableBufferPointer { o in
                        a.track(burst: k.count, keys: k.baseAddress!, fields: f.baseAddress!, now: now, policy: policy, verdicts: o.baseAddress!)
                    }
                }
            }
            for i in fields.indices {
                #expect(out[i] == b.track(key: keys[i], fields: fields[i], now: now, policy: policy), "round \(round) packet \(i)")
            }
            #expect(a.count == b.count && a.counters == b.counters)
        }
        #expect(a.counters.newFlows > 20 && a.counters.hits > 50 && a.counters.fullDrops > 0 && a.counters.expired > 0 && a.counters.invalid > 0)
    }
}
