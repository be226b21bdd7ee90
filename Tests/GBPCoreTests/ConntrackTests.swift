import Testing
@testable import GBPCore

@Suite("Connection tracking")
struct ConntrackTests {
    typealias F = PolicyFixtures
    static let hz: UInt64 = 1_000  // one tick per millisecond
    static let syn: UInt8 = 0x02, ack: UInt8 = 0x10, synAck: UInt8 = 0x12, fin: UInt8 = 0x11, rst: UInt8 = 0x04

    /// app may open tcp/5432, udp/53 and ping to db; nothing else crosses groups.
    static func spec(keep: Bool = false) -> PolicySpec {
        F.threeTier(contracts: [F.contract("app-db", providers: ["db"], consumers: ["app"], [
            RuleSpec(proto: .tcp, ports: [PortRange(5432)]),
            RuleSpec(proto: .udp, ports: [PortRange(53)]),
            RuleSpec(proto: .icmp, icmpType: 8),
        ], onPolicyChange: keep ? .keep : .recheck)])
    }

    final class Harness {
        let table: FlowTable
        var policy: CompiledPolicy
        init(capacity: Int = 1024, spec: PolicySpec = ConntrackTests.spec(), timeouts: ConntrackTimeouts = ConntrackTimeouts()) {
            table = FlowTable(capacity: capacity, ticksPerSecond: ConntrackTests.hz, timeouts: timeouts)
            policy = F.compile(spec, epoch: 1)
        }
        deinit { table.deallocate(); policy.deallocate() }
        func send(_ f: PacketFields, at now: UInt64 = 0) -> Verdict {
            table.track(key: FlowKey(tenant: 0, fields: f), fields: f, now: now, policy: policy)
        }
        func replace(_ spec: PolicySpec, epoch: UInt32) {
            policy.deallocate()
            policy = F.compile(spec, epoch: epoch)
        }
    }

    @Test func entriesAreOneCacheLine() {
        #expect(MemoryLayout<FlowEntry>.stride == 64)
        #expect(FlowEntry.hasKeyWordLayout)  // what the word-wise key comparison reads
    }

    /// Both directions of a connection hash alike, and a key matches its entry only in its
    /// two orientations (IPv4 and IPv6, equal addresses or ports on both ends included).
    @Test func canonicalKeysAndSymmetricHashes() {
        var rng = SeededRandom(seed: 5)
        let addrs = ["10.0.2.1", "10.0.3.1", "2001:db8::2:1", "2001:db8::3:1", "2001:db8:1::2:1"].map(F.ip)
        for _ in 0..<2_000 {
            let k = FlowKey(src: addrs.randomElement(using: &rng)!, dst: addrs.randomElement(using: &rng)!,
                            srcPort: UInt16.random(in: 1...3, using: &rng), dstPort: UInt16.random(in: 1...3, using: &rng),
                            proto: [6, 17].randomElement(using: &rng)!, tenant: UInt16.random(in: 0...1, using: &rng))
            let a = CanonicalFlowKey(k), b = CanonicalFlowKey(k.reversed)
            #expect(a.aHi == b.aHi && a.aLo == b.aLo && a.bHi == b.bHi && a.bLo == b.bLo && a.tail == b.tail)
            #expect(a.hash == b.hash && a.hash == CanonicalFlowKey.hash(k) && a.hash == CanonicalFlowKey.hash(k.reversed))
            #expect((a.aHi, a.aLo, a.aPort) <= (a.bHi, a.bLo, a.bPort))
            #expect(a.srcIsA + b.srcIsA == 1 || (k.src == k.dst && k.srcPort == k.dstPort))
            var e = FlowEntry(a, state: FlowStateCode.udp, expires: 1, epoch: 1, rule: 0, contract: 0, flags: 0)
            #expect(e.hash == a.hash && a.matches(&e))
            withUnsafePointer(to: &e) { p in
                let fr = a.tail, rv = UInt64(a.bPort) | UInt64(a.aPort) << 16 | a.tail & ~0xFFFF_FFFF
                let m = FlowTable.mismatch(p, a.aHi, a.aLo, a.bHi, a.bLo, fr, rv)
                #expect(m.both == 0 && m.srcIsA == 1)
                let r = FlowTable.mismatch(p, a.bHi, a.bLo, a.aHi, a.aLo, rv, fr)
                #expect(r.both == 0 && (r.srcIsA == 0 || (a.aHi == a.bHi && a.aLo == a.bLo && a.aPort == a.bPort)))
                let other = FlowTable.mismatch(p, a.aHi, a.aLo ^ 1, a.bHi, a.bLo, fr, rv)
                #expect(other.both != 0)
            }
        }
    }

    /// IPv6 connections and crowded tables through the burst path: the same verdicts and
    /// counters as packet by packet.
    @Test func burstTrackingOfIPv6AndCollidingFlows() {
        let spec = F.threeTier(contracts: [F.contract("c", providers: ["app"], consumers: ["web"], [RuleSpec(proto: .udp), RuleSpec(proto: .tcp)])])
        let policy = F.compile(spec)
        defer { policy.deallocate() }
        let a = FlowTable(capacity: 40, ticksPerSecond: 1000), b = FlowTable(capacity: 40, ticksPerSecond: 1000)
        defer { a.deallocate(); b.deallocate() }
        var rng = SeededRandom(seed: 17)
        let ends = ["2001:db8::1:1", "2001:db8::2:1", "10.0.1.1", "10.0.2.1"]
        for round in 0..<60 {
            var fields: [PacketFields] = []
            for _ in 0..<Int.random(in: 1...64, using: &rng) {
                let six = Bool.random(using: &rng)
                let s = ends[Int.random(in: 0...1, using: &rng) + (six ? 0 : 2)], d = ends[Int.random(in: 0...1, using: &rng) + (six ? 0 : 2)]
                let sp = UInt16.random(in: 1...9, using: &rng), dp = UInt16.random(in: 1...9, using: &rng)
                fields.append(Bool.random(using: &rng)
                    ? F.udp(s, d, dport: dp, sport: sp)
                    : F.tcp(s, d, dport: dp, sport: sp, flags: [0x02, 0x12, 0x10, 0x10, 0x11, 0x04].randomElement(using: &rng)!))
            }
            let keys = fields.map { FlowKey(tenant: 0, fields: $0) }
            var out = [Verdict](repeating: .drop(.runtFrame), count: fields.count)
            let now = UInt64(round) * 3_000
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
            if round % 7 == 6 { #expect(a.expire(now: now, budget: 64) == b.expire(now: now, budget: 64)) }
        }
        #expect(a.counters.hits > 50 && a.counters.newFlows > 30 && a.counters.fullDrops > 0 && a.counters.expired > 0, "\(a.counters)")
    }

    @Test func tcpHandshakeDataAndCloseWithRepliesPassingWithoutAReverseContract() {
        let h = Harness()
        let c = "10.0.2.1", s = "10.0.3.1"
        let open = h.send(F.tcp(c, s, dport: 5432, sport: 40000, flags: Self.syn))
        #expect(open.allowed && open.flow == .new && open.contract == 0 && open.rule == 0)
        let synAck = h.send(F.tcp(s, c, dport: 40000, sport: 5432, flags: Self.synAck))
        #expect(synAck.allowed && synAck.flow == .reply && synAck.srcGroup == 2 && synAck.dstGroup == 1)
        #expect(h.table.stateName(of: FlowKey(tenant: 0, fields: F.tcp(c, s, dport: 5432))) == "syn_received")
        #expect(h.send(F.tcp(c, s, dport: 5432, flags: Self.ack)).flow == .established)
        #expect(h.table.stateName(of: FlowKey(tenant: 0, fields: F.tcp(c, s, dport: 5432))) == "established")
        #expect(h.send(F.tcp(s, c, dport: 40000, sport: 5432, flags: Self.ack)).allowed)
        #expect(h.table.count == 1)
        #expect(h.send(F.tcp(c, s, dport: 5432, flags: Self.fin)).allowed)
        #expect(h.table.stateName(of: FlowKey(tenant: 0, fields: F.tcp(c, s, dport: 5432))) == "closing")
        #expect(h.send(F.tcp(s, c, dport: 40000, sport: 5432, flags: Self.fin)).allowed)
        #expect(h.table.stateName(of: FlowKey(tenant: 0, fields: F.tcp(c, s, dport: 5432))) == "time_wait")
        #expect(h.send(F.tcp(c, s, dport: 5432, flags: Self.ack)).allowed)  // last ACK
        #expect(h.table.counters.newFlows == 1 && h.table.counters.hits == 6)
        // Without the connection, the server could not have reached the client.
        #expect(h.send(F.tcp(s, c, dport: 40001, sport: 5432, flags: Self.syn)).reason == .noContract)
    }

    @Test func onlyASynOpensAndTheHandshakeIsChecked() {
        let h = Harness()
        let mid = h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, flags: Self.ack))
        #expect(mid.reason == .conntrackInvalid && h.table.count == 0)
        #expect(h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, flags: Self.synAck)).reason == .conntrackInvalid)
        // A denied SYN leaves no state and says why.
        #expect(h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 22, flags: Self.syn)).reason == .noContract)
        #expect(h.table.count == 0)
        // In syn_sent, the other side must answer SYN-ACK.
        #expect(h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, flags: Self.syn)).flow == .new)
        #expect(h.send(F.tcp("10.0.3.1", "10.0.2.1", dport: 40000, sport: 5432, flags: Self.ack)).reason == .conntrackInvalid)
        #expect(h.table.counters.invalid == 3)
    }

    @Test func rstClosesAndANewSynReopens() {
        let h = Harness()
        let c = "10.0.2.1", s = "10.0.3.1"
        _ = h.send(F.tcp(c, s, dport: 5432, flags: Self.syn))
        _ = h.send(F.tcp(s, c, dport: 40000, sport: 5432, flags: Self.synAck))
        _ = h.send(F.tcp(c, s, dport: 5432, flags: Self.ack))
        #expect(h.send(F.tcp(s, c, dport: 40000, sport: 5432, flags: Self.rst)).allowed)
        #expect(h.table.stateName(of: FlowKey(tenant: 0, fields: F.tcp(c, s, dport: 5432))) == "closed")
        #expect(h.send(F.tcp(c, s, dport: 5432, flags: Self.ack)).reason == .conntrackInvalid)
        let again = h.send(F.tcp(c, s, dport: 5432, flags: Self.syn))
        #expect(again.allowed && again.flow == .new && h.table.count == 1)
        #expect(h.table.stateName(of: FlowKey(tenant: 0, fields: F.tcp(c, s, dport: 5432))) == "syn_sent")
    }

    /// The established fast path reads a connection only once the pipeline remembered its
    /// endpoints, in either direction, under the epoch in force; TCP only while established
    /// and without SYN, FIN or RST; and it sees groups and endpoints move with their entry.
    @Test func establishedFastPathNeedsRememberedEndpointsAndTheCurrentEpoch() {
        let h = Harness()
        let out = F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 5555), back = F.udp("10.0.3.1", "10.0.2.1", dport: 5555, sport: 53)
        let k = FlowKey(tenant: 0, fields: out), r = FlowKey(tenant: 0, fields: back)
        #expect(h.send(out).flow == .new)
        let home = h.table.home(of: k)
        #expect(home == h.table.home(of: r))
        #expect(h.table.established(k, home: home, tcpFlags: 0, now: 1, epoch: 1) == nil)   // endpoints not known yet
        let slot = CanonicalFlowKey(k).matches(h.table.slots + home) ? home : (home + 1) & h.table.mask
        h.table.remember(slot: slot, key: k, source: 7, destination: CompiledPolicy.noEndpoint, epoch: 1)
        let hit = h.table.established(k, home: home, tcpFlags: 0, now: 1, epoch: 1)
        #expect(hit?.source == 7 && hit?.destination == CompiledPolicy.noEndpoint && hit?.slot == slot)
        #expect(hit?.rule == h.send(out, at: 1).rule)
        let reply = h.table.established(r, home: home, tcpFlags: 0, now: 1, epoch: 1)
        #expect(reply?.source == CompiledPolicy.noEndpoint && reply?.destination == 7)
        // Another epoch: nothing until the long path took the connection again and remembered.
        #expect(h.table.established(k, home: home, tcpFlags: 0, now: 1, epoch: 2) == nil)
        h.replace(ConntrackTests.spec(), epoch: 2)
        #expect(h.send(out, at: 2).allowed)   // rechecked under epoch 2
        #expect(h.table.established(k, home: home, tcpFlags: 0, now: 2, epoch: 2) == nil)
        h.table.remember(slot: slot, key: k, source: 0xFF_FFFE, destination: 3, epoch: 2)
        #expect(h.table.established(k, home: home, tcpFlags: 0, now: 2, epoch: 2)?.source == 0xFF_FFFE)
        h.table.remember(slot: slot, key: k, source: 0xFF_FFFF, destination: 3, epoch: 2)   // does not fit 24 bits: ignored
        #expect(h.table.established(k, home: home, tcpFlags: 0, now: 2, epoch: 2)?.source == 0xFF_FFFE)
        // Expired: the long path decides.
        let udpTimeout = UInt64(ConntrackTimeouts().udp * Double(ConntrackTests.hz)) + 10
        #expect(h.table.established(k, home: home, tcpFlags: 0, now: udpTimeout, epoch: 2) == nil)

        // TCP: only established, without SYN, FIN or RST.
        let t = Harness()
        let syn = F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, sport: 7000, flags: ConntrackTests.syn)
        let tk = FlowKey(tenant: 0, fields: syn)
        #expect(t.send(syn).flow == .new)
        #expect(t.send(F.tcp("10.0.3.1", "10.0.2.1", dport: 7000, sport: 5432, flags: ConntrackTests.synAck)).allowed)
        let th = t.table.home(of: tk)
        let ts = CanonicalFlowKey(tk).matches(t.table.slots + th) ? th : (th + 1) & t.table.mask
        t.table.remember(slot: ts, key: tk, source: 1, destination: 2, epoch: 1)
        #expect(t.table.established(tk, home: th, tcpFlags: ConntrackTests.ack, now: 1, epoch: 1) == nil)   // still SYN_RECEIVED
        #expect(t.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, sport: 7000, flags: ConntrackTests.ack)).allowed)
        #expect(t.table.established(tk, home: th, tcpFlags: ConntrackTests.ack, now: 1, epoch: 1)?.destination == 2)
        #expect(t.table.established(tk, home: th, tcpFlags: ConntrackTests.fin, now: 1, epoch: 1) == nil)
        #expect(t.table.established(tk, home: th, tcpFlags: ConntrackTests.rst, now: 1, epoch: 1) == nil)
    }

    /// The fast path moves a connection's expiry in steps of 1/64 of its timeout: a packet
    /// within a step writes nothing, the first one past it moves the expiry.
    @Test func fastPathRefreshMovesTheExpiryInSteps() {
        let h = Harness()
        let out = F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 5555)
        let k = FlowKey(tenant: 0, fields: out)
        #expect(h.send(out, at: 100).flow == .new)
        let home = h.table.home(of: k)
        let slot = CanonicalFlowKey(k).matches(h.table.slots + home) ? home : (home + 1) & h.table.mask
        let entry = h.table.slots + slot
        let timeout = UInt64(ConntrackTimeouts().udp * Double(ConntrackTests.hz)), step = timeout >> 6
        #expect(step > 1 && entry.pointee.expires == 100 + timeout)
        h.table.refresh(slot: slot, now: 100 + step)
        #expect(entry.pointee.expires == 100 + timeout)
        h.table.refresh(slot: slot, now: 101 + step)
        #expect(entry.pointee.expires == 101 + step + timeout)
        h.table.remember(slot: slot, key: k, source: 1, destination: 2, epoch: 1)
        #expect(h.table.established(k, home: home, tcpFlags: 0, now: 100 + timeout + step, epoch: 1)?.destination == 2)
        #expect(h.table.established(k, home: home, tcpFlags: 0, now: 101 + step + timeout, epoch: 1) == nil)
    }

    @Test func udpAndIcmpEcho() {
        let h = Harness()
        #expect(h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 5555)).flow == .new)
        let reply = h.send(F.udp("10.0.3.1", "10.0.2.1", dport: 5555, sport: 53))
        #expect(reply.allowed && reply.flow == .reply)
        #expect(h.send(F.udp("10.0.3.1", "10.0.2.1", dport: 53, sport: 5555)).reason == .noContract)
        #expect(h.send(F.icmp("10.0.2.1", "10.0.3.1", type: 8, id: 9)).flow == .new)
        let pong = h.send(F.icmp("10.0.3.1", "10.0.2.1", type: 0, id: 9))
        #expect(pong.allowed && pong.flow == .reply)
        // An echo reply with no request, and other ICMP, are classified alone.
        let stray = h.send(F.icmp("10.0.3.1", "10.0.2.1", type: 0, id: 10))
        #expect(stray.reason == .noContract && stray.flow == .untracked)
        #expect(h.send(F.icmp("10.0.2.1", "10.0.3.1", type: 13)).flow == .untracked)
        #expect(h.table.count == 2)
    }

    @Test func flowsExpireAfterTheirProtocolsTimeout() {
        var t = ConntrackTimeouts()
        t.udp = 2
        t.tcpHandshake = 5
        let h = Harness(timeouts: t)
        let q = F.udp("10.0.2.1", "10.0.3.1", dport: 53)
        let r = F.udp("10.0.3.1", "10.0.2.1", dport: 40000, sport: 53)
        #expect(h.send(q, at: 0).flow == .new)
        #expect(h.send(r, at: 1_999).flow == .reply)      // refreshed: expires at 3_999
        #expect(h.send(r, at: 3_998).flow == .reply)
        #expect(h.send(r, at: 6_000).reason == .noContract)  // expired: the reply is new, and denied
        #expect(h.send(q, at: 6_001).flow == .new)
        #expect(h.table.counters.expired == 1 && h.table.count == 1)
        _ = h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, flags: Self.syn), at: 6_001)
        #expect(h.table.count == 2)
        #expect(h.table.expire(now: 8_100, budget: 1 << 20) == 1)  // the UDP flow; the SYN lives till 11_001
        #expect(h.table.count == 1)
        #expect(h.table.expire(now: 11_001, budget: 1 << 20) == 1)
        #expect(h.table.count == 0)
    }

    @Test func aFullTableRefusesNewFlowsAndKeepsEstablishedOnes() {
        var t = ConntrackTimeouts()
        t.udp = 10
        let h = Harness(capacity: 2, timeouts: t)
        #expect(h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 1), at: 0).flow == .new)
        #expect(h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 2), at: 0).flow == .new)
        let full = h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 3), at: 1)
        #expect(!full.allowed && full.reason == .conntrackFull && h.table.counters.fullDrops == 1)
        #expect(h.send(F.udp("10.0.3.1", "10.0.2.1", dport: 1, sport: 53), at: 2).flow == .reply)
        #expect(h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 2), at: 3).flow == .established)
        // Denied traffic is still told apart from a full table.
        #expect(h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 54, sport: 3), at: 3).reason == .noContract)
        // Once flows expire, there is room again.
        #expect(h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 3), at: 20_000).flow == .new)
    }

    @Test func aPolicyChangeRechecksFlowsOnTheirNextPacket() {
        let h = Harness()
        let q = F.udp("10.0.2.1", "10.0.3.1", dport: 53)
        let r = F.udp("10.0.3.1", "10.0.2.1", dport: 40000, sport: 53)
        _ = h.send(q)
        _ = h.send(F.tcp("10.0.2.1", "10.0.3.1", dport: 5432, flags: Self.syn))
        // New policy: TCP still allowed (moved to rule 1 of a second contract), UDP gone.
        let next = F.threeTier(contracts: [
            F.contract("other", providers: ["web"], consumers: ["app"], [RuleSpec(proto: .any)]),
            F.contract("app-db", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .tcp, ports: [PortRange(5432)])]),
        ])
        h.replace(next, epoch: 2)
        let dropped = h.send(r)  // the reply is the first packet under epoch 2
        #expect(!dropped.allowed && dropped.reason == .noContract && dropped.flow == .reply)
        #expect(h.table.counters.recheckDrops == 1 && h.table.count == 1)
        let tcp = h.send(F.tcp("10.0.3.1", "10.0.2.1", dport: 40000, sport: 5432, flags: Self.synAck))
        #expect(tcp.allowed && tcp.flow == .reply && tcp.contract == 1 && tcp.rule == 1)
        #expect(h.table.counters.rechecked == 2)
    }

    @Test func keepLetsAdmittedFlowsRunAcrossAPolicyChange() {
        let h = Harness(spec: Self.spec(keep: true))
        let q = F.udp("10.0.2.1", "10.0.3.1", dport: 53)
        _ = h.send(q)
        h.replace(F.threeTier(), epoch: 2)  // no contracts at all
        let v = h.send(F.udp("10.0.3.1", "10.0.2.1", dport: 40000, sport: 53))
        #expect(v.allowed && v.flow == .reply && v.contract == CompiledPolicy.noContract)
        #expect(h.table.counters.kept == 1)
        #expect(h.send(q).allowed)
        #expect(h.table.counters.kept == 1)  // checked once per epoch
        // New connections follow the new policy.
        #expect(h.send(F.udp("10.0.2.1", "10.0.3.1", dport: 53, sport: 1)).reason == .noContract)
    }

    @Test func nonIPFramesAreClassifiedEveryTime() {
        let spec = F.threeTier(contracts: [F.contract("l2", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .etherType(0x88B5))])])
        let h = Harness(spec: spec)
        let f = F.frame(src: F.mac(0x21), dst: F.mac(0x31), etherType: 0x88B5)
        let v = h.table.track(key: FlowKey(src: .zero, dst: .zero, srcPort: 0, dstPort: 0, proto: 0, tenant: 0),
                              fields: f, now: 0, policy: h.policy)
        #expect(v.allowed && v.flow == .untracked && h.table.count == 0)
    }

    /// Random inserts, hits and removals against a dictionary: every live connection stays
    /// findable through the backward-shift deletions of a crowded table.
    @Test func tableAgreesWithADictionaryUnderChurn() {
        var t = ConntrackTimeouts()
        t.udp = 1_000
        let h = Harness(capacity: 48, spec: F.threeTier(contracts: [F.contract("u", providers: ["db"], consumers: ["app"], [RuleSpec(proto: .udp)])]),
                        timeouts: t)
        var rng = SeededRandom(seed: 7)
        var live = Set<UInt16>()
        for step in 0..<20_000 {
            let port = UInt16.random(in: 1...80, using: &rng)
            let q = F.udp("10.0.2.1", "10.0.3.1", dport: 9, sport: port)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let v = h.send(q)
                if live.contains(port) {
                    #expect(v.flow == .established, "step \(step)")
                } else if live.count < 48 {
                    #expect(v.flow == .new, "step \(step)")
                    live.insert(port)
                } else {
                    #expect(v.reason == .conntrackFull, "step \(step)")
                }
            case 1:
                #expect(h.table.remove(key: FlowKey(tenant: 0, fields: q)) == live.contains(port), "step \(step)")
                live.remove(port)
            default:
                let back = F.udp("10.0.3.1", "10.0.2.1", dport: port, sport: 9)
                #expect((h.table.stateName(of: FlowKey(tenant: 0, fields: back)) != nil) == live.contains(port), "step \(step)")
            }
            #expect(h.table.count == live.count)
        }
    }
}
