import GBPCore

/// A parsed packet through the classifier and connection tracking of `FuzzPolicy`, in
/// both tenants: verdicts well formed and inside the packet's tenant, the burst paths
/// agreeing with the one-packet paths, and conntrack agreeing with the classifier.
enum PolicyChecks {
    static let ticksPerSecond: UInt64 = 1000
    static let single = FlowTable(capacity: 16, ticksPerSecond: ticksPerSecond)
    static let burst = FlowTable(capacity: 16, ticksPerSecond: ticksPerSecond)
    /// Kept across inputs, small and with short timeouts: full tables, reclaim and expiry.
    static let aged: FlowTable = {
        var t = ConntrackTimeouts()
        t.tcpHandshake = 1; t.tcpEstablished = 5; t.tcpClosing = 1; t.tcpTimeWait = 1; t.tcpClosed = 1
        t.udp = 2; t.sctp = 2; t.icmp = 1; t.other = 2
        return FlowTable(capacity: 8, ticksPerSecond: ticksPerSecond, timeouts: t)
    }()
    nonisolated(unsafe) static var clock: UInt64 = 1
    static let denials = DenialCache(lines: 16)

    static func run(_ f: PacketFields) {
        let policy = FuzzPolicy.compiled
        for tenant in [FuzzPolicy.shop, FuzzPolicy.other] {
            let v = policy.classify(tenant: tenant, fields: f)
            invariant(policy.classify(tenant: tenant, fields: f) == v, "classify is not deterministic")
            checkVerdict(v, tenant: tenant, policy: policy)
            checkBurstClassify(f, tenant: tenant, policy: policy)
            if (f.kind == .ipv4 || f.kind == .ipv6) && !f.isLaterFragment {
                checkConntrack(f, tenant: tenant, classified: v)
                checkAged(f, tenant: tenant, classified: v)
                checkFragments(f, tenant: tenant, classified: v)
                checkDenial(f, tenant: tenant, classified: v)
            }
        }
    }

    /// Allowed means no reason and both groups in the packet's tenant; drops carry a policy reason.
    static func checkVerdict(_ v: Verdict, tenant: UInt16, policy: CompiledPolicy) {
        if v.allowed {
            invariant(v.reason == nil, "allowed with reason \(v.reason!.name)")
            invariant(Int(v.srcGroup) < policy.groupCount && Int(v.dstGroup) < policy.groupCount, "allowed without groups")
            invariant(policy.group(v.srcGroup).tenant == tenant && policy.group(v.dstGroup).tenant == tenant,
                      "allowed across tenants: groups \(v.srcGroup) -> \(v.dstGroup) for tenant \(tenant)")
        } else {
            guard let r = v.reason else { return invariant(false, "dropped without a reason") }
            invariant(r.rawValue >= DropReason.spoofedMAC.rawValue, "classifier dropped with \(r.name)")
        }
        if v.decidedByRule {
            invariant(Int(v.rule) < policy.ruleCount && Int(v.contract) < policy.contractCount,
                      "rule \(v.rule) / contract \(v.contract) out of range")
            invariant(policy.contract(v.contract).tenant == tenant, "a contract of another tenant decided")
        }
    }

    /// `classify(burst:)` gives each packet what `classify` gives it, whatever its neighbours.
    static func checkBurstClassify(_ f: PacketFields, tenant: UInt16, policy: CompiledPolicy) {
        let fields = [f, reply(to: f), f, reply(to: f)]
        let tenants = [tenant, tenant, tenant ^ 1, tenant ^ 1]
        var verdicts = [Verdict](repeating: .drop(.runtFrame), count: fields.count)
        verdicts.withUnsafeMutableBufferPointer { out in
            policy.classify(burst: fields.count, tenants: tenants, fields: fields, verdicts: out.baseAddress!)
        }
        for i in fields.indices {
            invariant(verdicts[i] == policy.classify(tenant: tenants[i], fields: fields[i]),
                      "burst classify differs for packet \(i): \(verdicts[i])")
        }
    }

    /// On an empty table the first packet gets the classifier's verdict (a TCP packet
    /// that opens nothing excepted); the opener's replies pass; `track(burst:)` and `track`
    /// agree packet by packet, also across a policy change.
    static func checkConntrack(_ f: PacketFields, tenant: UInt16, classified c: Verdict) {
        let policy = FuzzPolicy.compiled
        single.removeAll()
        burst.removeAll()
        let r = reply(to: f)
        var ack = f
        ack.tcpFlags = 0x10
        let sequence = [f, r, ack, r, f]
        var got: [Verdict] = sequence.map { single.track(key: FlowKey(tenant: tenant, fields: $0), fields: $0, now: 10, policy: policy) }
        let first = got[0]
        if !c.allowed {
            invariant(first == c, "conntrack \(first) where the classifier says \(c)")
        } else if first.allowed {
            invariant(first.contract == c.contract && first.rule == c.rule && first.srcGroup == c.srcGroup
                      && first.dstGroup == c.dstGroup, "conntrack admitted under another rule: \(first) vs \(c)")
            if first.flow == .new { invariant(got[1].allowed, "the reply to an admitted connection was dropped: \(got[1])") }
        } else {
            invariant(f.ipProto == 6 && first.reason == .conntrackInvalid, "conntrack dropped what the classifier allows: \(first)")
        }
        // Under a new epoch the connections are rechecked.
        got += sequence.map { single.track(key: FlowKey(tenant: tenant, fields: $0), fields: $0, now: 20, policy: FuzzPolicy.recompiled) }

        var keys = sequence.map { FlowKey(tenant: tenant, fields: $0) }
        var fields = sequence
        var burstVerdicts = [Verdict](repeating: .drop(.runtFrame), count: 2 * sequence.count)
        keys += keys
        fields += sequence
        // The first burst as the pipeline gives it: home slots and endpoint lookups already done.
        let homes = keys.map { burst.home(of: $0) }
        let sources = fields.map { policy.endpoints.lookup(tenant: tenant, ip: $0.src) ?? .noMatch }
        let destinations = fields.map { policy.endpoints.lookup(tenant: tenant, ip: $0.dst) ?? .noMatch }
        burstVerdicts.withUnsafeMutableBufferPointer { out in
            burst.track(burst: sequence.count, keys: keys, fields: fields, now: 10, policy: policy, verdicts: out.baseAddress!,
                        homes: homes, sources: sources, destinations: destinations)
            burst.track(burst: sequence.count, keys: Array(keys[sequence.count...]), fields: Array(fields[sequence.count...]),
                        now: 20, policy: FuzzPolicy.recompiled, verdicts: out.baseAddress! + sequence.count)
        }
        for i in got.indices {
            invariant(got[i] == burstVerdicts[i], "track(burst:) differs from track at packet \(i): \(burstVerdicts[i]) vs \(got[i])")
        }
        invariant(single.count == burst.count && single.count <= 1, "tables hold \(single.count) and \(burst.count) entries")
        checkEstablished(sequence, tenant: tenant)
    }

    /// The established fast path: once the pipeline remembered a connection's endpoints, a
    /// packet it decides is one the long path allows on the same table as a hit of the same
    /// rule; under another epoch it decides nothing.
    static func checkEstablished(_ sequence: [PacketFields], tenant: UInt16) {
        let policy = FuzzPolicy.compiled
        burst.removeAll()
        let keys = sequence.map { FlowKey(tenant: tenant, fields: $0) }
        var verdicts = [Verdict](repeating: .drop(.runtFrame), count: sequence.count)
        var slots = [Int32](repeating: -1, count: sequence.count)
        verdicts.withUnsafeMutableBufferPointer { v in
            slots.withUnsafeMutableBufferPointer { s in
                burst.track(burst: sequence.count, keys: keys, fields: sequence, now: 10, policy: policy, verdicts: v.baseAddress!,
                            hitSlots: s.baseAddress!)
            }
        }
        for j in sequence.indices where slots[j] >= 0 {
            invariant(verdicts[j].allowed && (verdicts[j].flow == .established || verdicts[j].flow == .reply),
                      "a hit slot for a packet that was no hit: \(verdicts[j])")
            burst.remember(slot: Int(slots[j]), key: keys[j], source: 1, destination: 2, epoch: policy.epoch)
        }
        for (q, k) in zip(sequence, keys) {
            let home = burst.home(of: k)
            invariant(burst.established(k, home: home, tcpFlags: q.tcpFlags, now: 10, epoch: policy.epoch &+ 1) == nil,
                      "the fast path decided under a stale epoch")
            guard let h = burst.established(k, home: home, tcpFlags: q.tcpFlags, now: 10, epoch: policy.epoch) else { continue }
            let v = burst.track(key: k, fields: q, now: 10, policy: policy)
            invariant(v.allowed && v.flow != .new && v.rule == h.rule && v.contract == h.contract,
                      "the fast path decided \(h) where the long path says \(v)")
        }
    }

    /// A denial the cache keeps holds for the flow's key and epoch: with no connection,
    /// every packet with that key (whatever its TCP flags, MACs, VLANs, ICMP fields or
    /// offsets) is denied with the same reason, rule and contract; the reverse direction is
    /// not covered, and admitting the connection from either end forgets it.
    static func checkDenial(_ f: PacketFields, tenant: UInt16, classified c: Verdict) {
        guard DenialCache.keeps(c, proto: f.ipProto) else { return }
        let policy = FuzzPolicy.compiled
        let k = FlowKey(tenant: tenant, fields: f)
        let home = single.home(of: k)
        denials.remember(k, home: home, epoch: policy.epoch, verdict: c, source: 7)
        guard let d = denials.lookup(k, home: home, epoch: policy.epoch) else { return invariant(false, "a kept denial was not found") }
        invariant(d.reason == c.reason && d.rule == c.rule && d.contract == c.contract && d.log == c.log && d.source == 7,
                  "the cache gives \(d) for \(c)")
        var variants = [f, f, f, f]
        variants[0].tcpFlags ^= 0x17
        variants[1].srcMAC = MACAddress(raw: f.srcMAC.raw ^ 0x0200_0000_0001)
        variants[1].dstMAC = MACAddress(raw: f.dstMAC.raw ^ 0x0000_0000_0100)
        variants[2].outerVLAN ^= 0x123; variants[2].icmpType ^= 8; variants[2].icmpCode ^= 1
        variants[3].l4Offset &+= 4; variants[3].isFragment.toggle(); variants[3].fragmentID ^= 9
        for g in variants {
            single.removeAll()
            let v = single.track(key: FlowKey(tenant: tenant, fields: g), fields: g, now: 10, policy: policy)
            invariant(!v.allowed && v.reason == d.reason && v.rule == d.rule && v.contract == d.contract,
                      "a remembered denial (\(d.reason.name)) where the long path says \(v)")
        }
        invariant(denials.lookup(k, home: home, epoch: policy.epoch &+ 1) == nil, "a denial held under another epoch")
        if k.reversed != k {
            invariant(denials.lookup(k.reversed, home: home, epoch: policy.epoch) == nil, "a denial held for the reverse direction")
        }
        denials.forget(k.reversed, home: single.home(of: k.reversed))
        invariant(denials.lookup(k, home: home, epoch: policy.epoch) == nil, "an admitted flow's denial was not forgotten")
    }

    /// A small table kept across inputs, its clock running: it never holds more than its
    /// capacity, and admits only what the classifier allows.
    static func checkAged(_ f: PacketFields, tenant: UInt16, classified c: Verdict) {
        clock &+= 97
        let v = aged.track(key: FlowKey(tenant: tenant, fields: f), fields: f, now: clock, policy: FuzzPolicy.compiled)
        if v.allowed && v.flow == .new { invariant(c.allowed, "admitted a connection the classifier denies") }
        if !v.allowed {
            invariant(v.reason == c.reason || v.reason == .conntrackInvalid || v.reason == .conntrackFull,
                      "conntrack dropped with \(v.reason?.name ?? "nil"), the classifier with \(c.reason?.name ?? "nil")")
        }
        if clock % 5 == 0 { aged.expire(now: clock, budget: 8) }
        invariant(aged.count <= aged.capacity, "\(aged.count) entries in a table of \(aged.capacity)")
    }

    /// A first fragment's verdict and ports are found by its later fragments (same tenant,
    /// addresses, protocol and id) while it lives, and by nothing else.
    static func checkFragments(_ f: PacketFields, tenant: UInt16, classified c: Verdict) {
        guard f.isFragment else { return }
        let table = FragmentTable(capacity: 64, lifetime: 100)
        defer { table.deallocate() }
        let drop: DropReason? = c.allowed ? nil : (c.reason ?? .deniedByRule)
        table.recordFirst(tenant: tenant, f, drop: drop, now: 10)
        var later = f
        later.isLaterFragment = true
        later.srcPort = 0; later.dstPort = 0; later.tcpFlags = 0; later.icmpType = 0; later.l4Offset = 0
        let e = table.lookup(tenant: tenant, later, now: 20)
        invariant(e != nil && e!.srcPort == f.srcPort && e!.dstPort == f.dstPort && e!.dropReason == drop?.rawValue ?? 0,
                  "a later fragment does not find its first fragment's verdict")
        invariant(table.lookup(tenant: tenant ^ 1, later, now: 20) == nil, "a later fragment found another tenant's first")
        invariant(table.lookup(tenant: tenant, later, now: 110) == nil, "an expired first fragment was found")
        var other = later
        other.fragmentID ^= 1
        invariant(table.lookup(tenant: tenant, other, now: 20) == nil, "another datagram's first fragment was found")
    }

    /// The packet the other side would send back.
    static func reply(to f: PacketFields) -> PacketFields {
        var r = f
        swap(&r.src, &r.dst)
        swap(&r.srcMAC, &r.dstMAC)
        swap(&r.srcPort, &r.dstPort)
        if f.ipProto == 6 { r.tcpFlags = f.tcpFlags & 0x02 != 0 ? 0x12 : 0x10 }
        if f.icmpType == 8 && f.ipProto == 1 { r.icmpType = 0 }
        if f.icmpType == 128 && f.ipProto == 58 { r.icmpType = 129 }
        return r
    }
}
