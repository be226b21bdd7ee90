import Testing
@testable import GBPCore

/// Per-tenant connection budgets: a tenant that floods new connections fills its share
/// of the table and no more; the other tenant's connections, old and new, and the
/// flooding tenant's established ones keep going.
@Suite("Conntrack tenant budgets")
struct ConntrackBudgetTests {
    typealias F = PolicyFixtures
    static let hz: UInt64 = 1_000
    static let syn: UInt8 = 0x02, synAck: UInt8 = 0x12, ack: UInt8 = 0x10

    /// Tenants t1 (id 0) and t2 (id 1), the same addresses in both: app may open any TCP
    /// and UDP connection to db.
    static func twoTenants() -> PolicySpec {
        var endpoints: [EndpointSpec] = []
        var groups: [GroupSpec] = []
        var contracts: [ContractSpec] = []
        for (i, t) in ["t1", "t2"].enumerated() {
            groups += [GroupSpec(name: "app", tenant: t), GroupSpec(name: "db", tenant: t)]
            endpoints += [F.endpoint("app-1", "app", ["10.0.2.1"], mac: UInt64(0x21 + i * 0x100), tenant: t),
                          F.endpoint("db-1", "db", ["10.0.3.1"], mac: UInt64(0x31 + i * 0x100), tenant: t)]
            contracts.append(F.contract("app-db", providers: ["db"], consumers: ["app"],
                                        [RuleSpec(proto: .tcp), RuleSpec(proto: .udp)], tenant: t))
        }
        return PolicySpec(tenants: [TenantSpec(name: "t1"), TenantSpec(name: "t2")], groups: groups,
                          endpoints: endpoints, externalGroups: [], contracts: contracts)
    }

    final class Harness {
        let table: FlowTable
        let policy = F.compile(ConntrackBudgetTests.twoTenants())
        init(capacity: Int, share: Double, timeouts: ConntrackTimeouts = ConntrackTimeouts()) {
            table = FlowTable(capacity: capacity, ticksPerSecond: ConntrackBudgetTests.hz, timeouts: timeouts,
                              tenantLimit: FlowTable.tenantLimit(capacity: capacity, share: share))
        }
        deinit { table.deallocate(); policy.deallocate() }
        func send(_ f: PacketFields, tenant: UInt16, at now: UInt64 = 0) -> Verdict {
            table.track(key: FlowKey(tenant: tenant, fields: f), fields: f, now: now, policy: policy)
        }
        /// A burst through the staged path the workers use.
        func burst(_ packets: [(PacketFields, UInt16)], at now: UInt64) -> [Verdict] {
            let fields = packets.map(\.0), keys = packets.map { FlowKey(tenant: $0.1, fields: $0.0) }
            var out = [Verdict](repeating: .drop(.runtFrame), count: packets.count)
            keys.withUnsafeBufferPointer { k in
                fields.withUnsafeBufferPointer { f in
                    out.withUnsafeMutableBufferPointer { o in
                        table.track(burst: k.count, keys: k.baseAddress!, fields: f.baseAddress!, now: now, policy: policy,
                                    verdicts: o.baseAddress!)
                    }
                }
            }
            return out
        }
        /// Opens a TCP connection app-1:sport -> db-1:5432 (handshake both ways) in `tenant`.
        func establish(sport: UInt16, tenant: UInt16) -> Bool {
            send(F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, sport: sport, flags: ConntrackBudgetTests.syn), tenant: tenant).flow == .new
                && send(F.tcp("10.0.3.1", "10.0.2.1", dport: sport, sport: 5432, flags: ConntrackBudgetTests.synAck), tenant: tenant).allowed
                && send(F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, sport: sport, flags: ConntrackBudgetTests.ack), tenant: tenant).allowed
        }
        /// Entries per tenant, counted from the slots: what the table's counters must say.
        func recount() -> [UInt16: Int] {
            var n: [UInt16: Int] = [:]
            for i in 0...table.mask where table.slots[i].state != FlowStateCode.free { n[table.slots[i].tenant, default: 0] += 1 }
            return n
        }
    }

    @Test func limitsFromShares() {
        #expect(FlowTable.tenantLimit(capacity: 64, share: 0.5) == 32)
        #expect(FlowTable.tenantLimit(capacity: 64, share: 1) == 64)
        #expect(FlowTable.tenantLimit(capacity: 64, share: 0.000001) == 1)
        #expect(FlowTable(capacity: 64, ticksPerSecond: 1).tenantLimit == 64)  // no budget
    }

    /// 10x the capacity in SYNs from tenant t1, in bursts of 32 mixed with data of
    /// established connections of both tenants and with new connections of t2.
    @Test(arguments: [0.5, 1.0])
    func synFloodOfTenTimesTheCapacity(share: Double) {
        let capacity = 256
        let h = Harness(capacity: capacity, share: share)
        for sport in UInt16(1)...8 {
            #expect(h.establish(sport: sport, tenant: 0) && h.establish(sport: sport, tenant: 1))
        }
        let data = { (sport: UInt16, tenant: UInt16) in
            (F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, sport: sport, flags: ConntrackBudgetTests.ack), tenant)
        }
        var floodVerdicts: [Verdict] = [], establishedVerdicts: [Verdict] = [], t2New: [Verdict] = []
        var sport: UInt16 = 10_000
        for round in 0..<(10 * capacity / 24) {
            var b: [(PacketFields, UInt16)] = []
            for _ in 0..<24 {   // the flood: new connections of t1, never completed
                b.append((F.tcp("10.0.2.1", "10.0.3.1", dport: 80, sport: sport, flags: ConntrackBudgetTests.syn), 0))
                sport &+= 1
            }
            for s in UInt16(1)...3 { b += [data(s + UInt16(round % 6), 0), data(s + UInt16(round % 6), 1)] }
            b.append((F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: UInt16(20_000 + round)), 1))  // a new t2 flow
            b.append((F.udp("10.0.3.1", "10.0.2.1", dport: UInt16(20_000 + round), sport: 53), 1))  // and its reply
            let v = h.burst(b, at: UInt64(round))
            floodVerdicts += v[0..<24]
            establishedVerdicts += v[24..<30]
            t2New.append(v[30])
            if v[30].allowed { #expect(v[31].allowed && v[31].flow == .reply, "round \(round): reply of t2's new flow") }
            #expect(h.table.count <= capacity)
        }
        // Established connections of both tenants kept flowing all along.
        #expect(establishedVerdicts.allSatisfy { $0.allowed && $0.flow == .established })
        let limit = h.table.tenantLimit
        #expect(floodVerdicts.filter(\.allowed).count <= limit)
        #expect(h.table.count(tenant: 0) <= limit && h.recount() == [0: h.table.count(tenant: 0), 1: h.table.count(tenant: 1)])
        if share < 1 {
            // t1 holds its share and no more; every t2 connection was admitted.
            #expect(h.table.count(tenant: 0) == limit)
            #expect(floodVerdicts.filter { $0.reason == .conntrackTenantBudget }.count == floodVerdicts.count - (limit - 8))
            #expect(h.table.counters.budgetDrops == UInt64(floodVerdicts.count - (limit - 8)) && h.table.counters.fullDrops == 0)
            #expect(t2New.allSatisfy { $0.allowed && $0.flow == .new })
        } else {
            // Without a budget the flood takes the whole table: t2's new connections are refused.
            #expect(h.table.count == capacity && h.table.counters.budgetDrops == 0)
            #expect(t2New.suffix(10).allSatisfy { $0.reason == .conntrackFull })
        }
        // Denied traffic is still told apart from a spent budget.
        #expect(h.send(F.tcp("10.0.3.1", "10.0.2.1", dport: 80, sport: 1, flags: ConntrackBudgetTests.syn), tenant: 0).reason == .noContract)
    }

    /// A tenant's expired connections stop counting once reclaimed: after the flood's
    /// handshake timeout its new connections are admitted again.
    @Test func theBudgetComesBackWhenTheFloodExpires() {
        var t = ConntrackTimeouts()
        t.tcpHandshake = 5
        let h = Harness(capacity: 64, share: 0.25, timeouts: t)
        for s in UInt16(1)...16 { #expect(h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 80, sport: s), tenant: 0).flow == .new) }
        #expect(h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 80, sport: 17), tenant: 0, at: 10).reason == .conntrackTenantBudget)
        #expect(h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 80, sport: 17), tenant: 1, at: 10).flow == .new)
        // 6 s later the 16 SYNs have expired (not yet removed): a new connection reclaims them.
        #expect(h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 80, sport: 18), tenant: 0, at: 6_000).flow == .new)
        #expect(h.table.count(tenant: 0) <= 16 && h.recount()[0] == h.table.count(tenant: 0))
    }

    /// The per-tenant counters equal a recount of the slots after any mix of admits,
    /// hits, TCP reopens, expiry (swept and reused in place), rechecks and removals.
    @Test func tenantCountsMatchTheSlots() {
        var t = ConntrackTimeouts()
        t.udp = 3; t.tcpHandshake = 2; t.tcpClosed = 1
        let h = Harness(capacity: 48, share: 0.4, timeouts: t)
        var rng = SeededRandom(seed: 99)
        for step in 0..<6_000 {
            let now = UInt64(step) * 2
            let tenant = UInt16.random(in: 0...1, using: &rng)
            let sp = UInt16.random(in: 1...60, using: &rng)
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<4: _ = h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: sp), tenant: tenant, at: now)
            case 4..<7:
                let flags: UInt8 = [0x02, 0x12, 0x10, 0x04, 0x11].randomElement(using: &rng)!
                _ = h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 80, sport: sp, flags: flags), tenant: tenant, at: now)
            case 7: _ = h.burst((0..<8).map { i in (F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: sp &+ UInt16(i)), tenant) }, at: now)
            case 8: h.table.expire(now: now, budget: 7)
            default: h.table.remove(key: FlowKey(tenant: tenant, fields: F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: sp)))
            }
            let n = h.recount()
            #expect(n[0, default: 0] == h.table.count(tenant: 0) && n[1, default: 0] == h.table.count(tenant: 1), "step \(step)")
            #expect(h.table.count(tenant: 0) <= h.table.tenantLimit && h.table.count(tenant: 1) <= h.table.tenantLimit)
            if n[0, default: 0] != h.table.count(tenant: 0) { break }
        }
        #expect(h.table.counters.budgetDrops > 0 && h.table.counters.expired > 0)
        h.table.removeAll()
        #expect(h.table.count(tenant: 0) == 0 && h.table.count(tenant: 1) == 0)
    }
}
