/// Mutable state of a flow table, kept in its own allocation so that `FlowTable` is a
/// handle whose copies all see the same table.
@frozen @usableFromInline
struct FlowTableState {
    @usableFromInline var count: Int
    @usableFromInline var sweepCursor: Int
    @usableFromInline var ownsSlots: Bool
    @usableFromInline var counters: ConntrackCounters
    /// Most connections one tenant holds, and the entries each tenant id holds (65536
    /// counters). Here rather than in `FlowTable`, whose handle the hit path passes
    /// around: the budget is read only when a connection is admitted or removed.
    @usableFromInline var tenantLimit: Int
    @usableFromInline var tenantEntries: UnsafeMutablePointer<UInt32>
}

/// A burst packet between the two passes of `track(burst:...)`: its canonical key and home slot.
@frozen @usableFromInline
struct BurstFlowSlot {
    @usableFromInline var key: CanonicalFlowKey
    @usableFromInline var home: Int
    @inlinable static var homeOffset: Int { MemoryLayout<BurstFlowSlot>.offset(of: \BurstFlowSlot.home)! }
}

/// Connection tracking for one worker: a linear-probing hash table of fixed capacity over
/// one allocation of 64-byte entries (one cache line each, key and state together, at a
/// load of at most 1/2, so a hit mostly reads one line) followed by the groups of each
/// entry's two ends (4 bytes a slot), allocated at init and never again. Single-threaded:
/// give each worker its own table (RSS keeps both directions of a connection on one worker
/// when the key is symmetric).
///
/// `track` finds the connection from either direction; on a miss it classifies the packet
/// and admits allowed connections. Admitted connections carry the policy epoch; when the
/// policy changes, the next packet classifies the connection again (drop if now denied),
/// unless its contract says `onPolicyChange: keep`. Replies pass without a reverse contract.
/// A full table refuses new connections (`conntrackFull`) and keeps serving known ones.
///
/// Tenant budgets: no tenant holds more than `tenantLimit` entries, so a tenant that
/// floods new connections cannot take the table from the others. Entries are counted
/// per tenant id on insert and removal (a 64K-entry array allocated at init, touched
/// only on the admit and removal paths, never on a hit); a new connection of a tenant
/// at its limit is refused (`conntrackTenantBudget`), its known connections keep going.
///
/// Time is the caller's clock in ticks (TSC cycles in the runtime), `ticksPerSecond` given at init.
@frozen
public struct FlowTable: @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutablePointer<FlowEntry>
    /// Per slot: the groups of the side that opened the connection (low 16 bits) and of
    /// the other side (high 16 bits), read as one word and swapped for replies.
    @usableFromInline let groupWords: UnsafeMutablePointer<UInt32>
    @usableFromInline let mask: Int
    @usableFromInline let state: UnsafeMutablePointer<FlowTableState>
    /// Timeout in ticks per `FlowStateCode`.
    @usableFromInline let timeoutTicks: UnsafeMutablePointer<UInt64>
    /// Most connections the table holds.
    public let capacity: Int
    /// Most connections one tenant holds (`capacity` when there is no budget).
    public var tenantLimit: Int { state.pointee.tenantLimit }
    @usableFromInline var tenantEntries: UnsafeMutablePointer<UInt32> { state.pointee.tenantEntries }
    public let ticksPerSecond: UInt64

    /// Slots examined to reclaim expired entries when a new connection finds the table full.
    @inlinable static var reclaimBudget: Int { 64 }

    /// A table for up to `capacity` connections (at least 1), with twice as many slots
    /// rounded up to a power of two, so probes stay short.
    /// `tenantLimit` caps the connections of each tenant (nil or more than `capacity`: no cap).
    public init(capacity: Int, ticksPerSecond: UInt64, timeouts: ConntrackTimeouts = ConntrackTimeouts(), tenantLimit: Int? = nil) {
        let bytes = FlowTable.bytesNeeded(capacity: capacity)
        let raw = TableMemory.allocate(bytes: bytes)  // on huge pages when it is large: see TableMemory
        self.init(capacity: capacity, ticksPerSecond: ticksPerSecond, timeouts: timeouts, tenantLimit: tenantLimit, memory: raw, owned: true)
    }

    /// The per-tenant limit for a budget given as a share of the capacity (0 < share <= 1),
    /// at least one connection.
    public static func tenantLimit(capacity: Int, share: Double) -> Int {
        max(1, min(max(capacity, 1), Int((Double(max(capacity, 1)) * share).rounded(.down))))
    }

    /// A table whose slots live in `memory`, provided by the caller (for example hugepage
    /// memory from the DPDK allocator, which spares the TLB): `bytesNeeded(capacity:)`
    /// bytes, 64-byte aligned. `deallocate()` leaves that memory to its owner.
    public init(capacity: Int, ticksPerSecond: UInt64, timeouts: ConntrackTimeouts = ConntrackTimeouts(), tenantLimit: Int? = nil,
                memory: UnsafeMutableRawPointer) {
        self.init(capacity: capacity, ticksPerSecond: ticksPerSecond, timeouts: timeouts, tenantLimit: tenantLimit, memory: memory, owned: false)
    }

    /// Bytes of slot memory for a table of `capacity` connections.
    public static func bytesNeeded(capacity: Int) -> Int {
        slotCount(capacity: capacity) * (MemoryLayout<FlowEntry>.stride + MemoryLayout<UInt32>.stride)
    }

    static func slotCount(capacity: Int) -> Int {
        var n = 16
        while n < max(capacity, 1) * 2 { n <<= 1 }
        return n
    }

    private init(capacity: Int, ticksPerSecond: UInt64, timeouts t: ConntrackTimeouts, tenantLimit: Int?,
                 memory raw: UnsafeMutableRawPointer, owned: Bool) {
        self.capacity = max(capacity, 1)
        let entries = UnsafeMutablePointer<UInt32>.allocate(capacity: FlowTable.tenantSlots)
        entries.initialize(repeating: 0, count: FlowTable.tenantSlots)
        self.ticksPerSecond = ticksPerSecond
        precondition(FlowEntry.hasKeyWordLayout, "FlowEntry layout changed: see CanonicalFlowKey.matches")
        let n = FlowTable.slotCount(capacity: capacity)
        mask = n - 1
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: FlowTable.bytesNeeded(capacity: capacity))
        slots = raw.bindMemory(to: FlowEntry.self, capacity: n)
        groupWords = (raw + n * MemoryLayout<FlowEntry>.stride).bindMemory(to: UInt32.self, capacity: n)
        state = .allocate(capacity: 1)
        state.initialize(to: FlowTableState(count: 0, sweepCursor: 0, ownsSlots: owned, counters: ConntrackCounters(),
                                            tenantLimit: min(max(tenantLimit ?? self.capacity, 1), self.capacity),
                                            tenantEntries: entries))
        timeoutTicks = .allocate(capacity: FlowStateCode.count)
        func ticks(_ s: Double) -> UInt64 { UInt64(max(s, 0) * Double(ticksPerSecond)) }
        let table: [UInt64] = [
            0, ticks(t.udp), ticks(t.sctp), ticks(t.icmp), ticks(t.other),
            ticks(t.tcpHandshake), ticks(t.tcpHandshake), ticks(t.tcpEstablished),
            ticks(t.tcpClosing), ticks(t.tcpTimeWait), ticks(t.tcpClosed),
        ]
        timeoutTicks.initialize(from: table, count: FlowStateCode.count)
    }

    /// Frees the table. Call once, when no thread uses it.
    public func deallocate() {
        if state.pointee.ownsSlots { TableMemory.deallocate(UnsafeMutableRawPointer(slots), bytes: FlowTable.bytesNeeded(capacity: capacity)) }
        tenantEntries.deallocate()
        state.deallocate()
        timeoutTicks.deallocate()
    }

    /// One counter per possible tenant id.
    static let tenantSlots = Int(UInt16.max) + 1

    /// Connections `tenant` holds (live or expired but not yet reclaimed).
    public func count(tenant: UInt16) -> Int { Int(tenantEntries[Int(tenant)]) }

    /// Connections held, live or expired but not yet reclaimed.
    public var count: Int { state.pointee.count }
    public var counters: ConntrackCounters { state.pointee.counters }

    /// Empties the table (counters are kept).
    public func removeAll() {
        for i in 0...mask { slots[i].state = FlowStateCode.free }
        state.pointee.count = 0
        tenantEntries.update(repeating: 0, count: FlowTable.tenantSlots)
    }

    // MARK: Tracking

    /// The verdict for one packet: found from either direction, or classified under
    /// `policy` and admitted when allowed. `key` is `FlowKey(tenant:fields:)`.
    ///
    /// Tracked: TCP, UDP, SCTP, other IP protocols, and ICMP/ICMPv6 echo (request opens,
    /// reply matches). Untracked, classified on every packet: non-IP frames and other ICMP.
    /// Later fragments carry no ports: the caller gives them their first fragment's ports.
    @inlinable
    public func track(key: FlowKey, fields: PacketFields, now: UInt64, policy: CompiledPolicy) -> Verdict {
        guard FlowTable.isTracked(key.proto, fields) else { return policy.classify(tenant: key.tenant, fields: fields) }
        let k = CanonicalFlowKey(key)
        return withUnsafePointer(to: fields) { f in
            track(k, home: Int(truncatingIfNeeded: k.hash) & mask, fields: f, now: now, policy: policy)
        }
    }

    /// Everything but non-IP frames and ICMP other than echo.
    @inlinable @inline(__always)
    public static func isTracked(_ proto: UInt8, _ f: PacketFields) -> Bool {
        guard f.kind == .ipv4 || f.kind == .ipv6 else { return false }
        if proto == 1 { return f.icmpType == 8 || f.icmpType == 0 }
        if proto == 58 { return f.icmpType == 128 || f.icmpType == 129 }
        return true
    }

    /// Lookup from the key's home slot, then hit or admit.
    @inlinable @inline(__always)
    func track(_ k: CanonicalFlowKey, home: Int, fields: UnsafePointer<PacketFields>, now: UInt64,
               policy: CompiledPolicy, ends: ResolvedEnds? = nil) -> Verdict {
        let slots = self.slots, mask = self.mask
        var s = home
        var reuse = -1
        while true {
            let e = slots + s
            if e.pointee.state == FlowStateCode.free { break }
            if k.matches(e) {
                if e.pointee.expires > now {
                    // From the opener when the packet's side A is the opener's.
                    let fromOrig = 1 ^ (UInt8(truncatingIfNeeded: k.srcIsA) ^ (e.pointee.flags & FlowFlag.origIsA))
                    return hit(e, k, fromOrig: fromOrig, fields: fields, now: now, policy: policy, ends: ends)
                }
                return admit(k, at: s, reusing: true, fields: fields, now: now, policy: policy, ends: ends)
            }
            if reuse < 0 && e.pointee.expires <= now { reuse = s }
            s = (s &+ 1) & mask
        }
        return admit(k, at: reuse >= 0 ? reuse : s, reusing: reuse >= 0, fields: fields, now: now, policy: policy, ends: ends)
    }

    /// `verdicts[i]` = `track(key: keys[i], fields: fields[i], ...)` for a burst, in two
    /// passes over up to 32 packets, so that the cache misses of the whole burst overlap:
    ///
    /// 1. hash every key (the hash is the same for either order of the ends, so no
    ///    canonical order is needed) and prefetch its home slot and the next one (linear
    ///    probing leaves a fifth of the entries one slot further; a slot is a cache line);
    /// 2. in order (packets of one burst may belong to one connection, and each sees what
    ///    the earlier ones did): compare the two slots with the key in both orientations,
    ///    without a branch on the direction; the common case, a live entry with nothing to
    ///    change but its expiry, inline; anything else by `track` (canonical key, full probe).
    ///
    /// `hitSlots`, when given, gets per packet the slot of its connection when it was the
    /// common hit (for `remember`), else -1. `homes`, when given, are the packets' home
    /// slots as the caller already computed them (`home(of:)`; -1 where it did not).
    /// `sources` and `destinations`, when given, are what the packets' addresses resolved
    /// to in the endpoint table (`GroupMatch.noMatch` when not found): a new connection
    /// between two endpoints is then classified without looking them up again.
    @inlinable
    public func track(burst count: Int, keys: UnsafePointer<FlowKey>, fields: UnsafePointer<PacketFields>,
                      now: UInt64, policy: CompiledPolicy, verdicts: UnsafeMutablePointer<Verdict>,
                      hitSlots: UnsafeMutablePointer<Int32>? = nil, homes known: UnsafePointer<Int>? = nil,
                      sources: UnsafePointer<GroupMatch>? = nil, destinations: UnsafePointer<GroupMatch>? = nil) {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 32) { scratch in
            let homes = scratch.baseAddress!
            let slots = self.slots, mask = self.mask, timeouts = self.timeoutTicks, epoch = policy.epoch
            var start = 0
            var hits: UInt64 = 0
            while start < count {
                let n = min(32, count &- start)
                for i in 0..<n {
                    let given = known?[start &+ i] ?? -1
                    let home = given >= 0 ? given : Int(truncatingIfNeeded: CanonicalFlowKey.hash(keys[start &+ i])) & mask
                    prefetch(slots + home)
                    prefetch(slots + ((home &+ 1) & mask))
                    prefetch(groupWords + home)
                    homes[i] = home
                }
                for i in 0..<n {
                    let j = start &+ i
                    let f = fields + j
                    let key = keys + j
                    let proto = key.pointee.proto
                    hitSlots?[j] = -1
                    guard FlowTable.isTracked(proto, f.pointee) else {
                        verdicts[j] = FlowTable.classifyUntracked(tenant: key.pointee.tenant, fields: f, policy: policy)
                        continue
                    }
                    // The entry holds the key in canonical order: the packet's in either direction.
                    let home = homes[i]
                    var e = slots + home
                    var m = FlowTable.mismatch(e, key.pointee)
                    if m.both != 0 {
                        e = slots + ((home &+ 1) & mask)
                        m = FlowTable.mismatch(e, key.pointee)
                    }
                    let entryState = e.pointee.state
                    if m.both == 0 && e.pointee.expires > now && e.pointee.epoch == epoch
                        && (proto != 6 || (entryState == FlowStateCode.tcpEstablished && f.pointee.tcpFlags & 0x07 == 0)) {
                        // A live connection with nothing to change but its expiry (TCP: data and ACKs).
                        e.pointee.expires = now &+ timeouts[Int(entryState)]
                        hits &+= 1
                        // From the opener when the packet's source is the opener's side.
                        verdicts[j] = hitVerdict(e, fromOrig: 1 ^ (m.srcIsA ^ (e.pointee.flags & FlowFlag.origIsA)))
                        hitSlots?[j] = Int32(truncatingIfNeeded: e - slots)
                        continue
                    }
                    verdicts[j] = trackOutOfLine(key, home: home, fields: f, now: now, policy: policy,
                                                 ends: ResolvedEnds(sources?[j], destinations?[j]))
                }
                start &+= n
            }
            state.pointee.counters.hits &+= hits
        }
    }

    /// Whether entry `e`, in use, holds the key given as its two ends and its key word in
    /// the packet's direction (`fwdTail`) and the other (`revTail`): `both` is 0 when it
    /// does, either way round, and `srcIsA` 1 when the packet's source is the entry's side A.
    /// (The two comparisons are combined with arithmetic: a branch on either would follow
    /// the packet's direction, which is as good as random.)
    @inlinable @inline(__always)
    static func mismatch(_ e: UnsafePointer<FlowEntry>, _ sh: UInt64, _ sl: UInt64, _ dh: UInt64, _ dl: UInt64,
                         _ fwdTail: UInt64, _ revTail: UInt64) -> (both: UInt64, srcIsA: UInt8) {
        let p = UnsafeRawPointer(e)
        let w0 = p.load(as: UInt64.self), w1 = p.load(fromByteOffset: 8, as: UInt64.self)
        let w2 = p.load(fromByteOffset: 16, as: UInt64.self), w3 = p.load(fromByteOffset: 24, as: UInt64.self)
        let w4 = p.load(fromByteOffset: 32, as: UInt64.self)
        let key = w4 & 0x00FF_FFFF_FFFF_FFFF
        let fwd = (w0 ^ sh) | (w1 ^ sl) | (w2 ^ dh) | (w3 ^ dl) | (key ^ fwdTail)
        let rev = (w0 ^ dh) | (w1 ^ dl) | (w2 ^ sh) | (w3 ^ sl) | (key ^ revTail)
        // 1 when fwd is 0: the top bit of ~x & (x - 1) is set only for x = 0.
        let fwdZero = (~fwd & (fwd &- 1)) &>> 63
        let revZero = (~rev & (rev &- 1)) &>> 63
        let free = w4 &>> 56 == UInt64(FlowStateCode.free) ? 1 as UInt64 : 0
        return ((fwdZero | revZero) ^ 1 | free, UInt8(truncatingIfNeeded: fwdZero))
    }

    /// `mismatch` for the key of a packet (`FlowKey`, in the packet's direction).
    @inlinable @inline(__always)
    static func mismatch(_ e: UnsafePointer<FlowEntry>, _ key: FlowKey) -> (both: UInt64, srcIsA: UInt8) {
        let sp = UInt64(key.srcPort), dp = UInt64(key.dstPort)
        let rest = UInt64(key.tenant) &<< 32 | UInt64(key.proto) &<< 48
        return mismatch(e, key.src.hi, key.src.lo, key.dst.hi, key.dst.lo, sp | dp &<< 16 | rest, dp | sp &<< 16 | rest)
    }

    /// A burst packet that is not the common hit.
    @inlinable @inline(never)
    func trackOutOfLine(_ key: UnsafePointer<FlowKey>, home: Int, fields: UnsafePointer<PacketFields>, now: UInt64,
                        policy: CompiledPolicy, ends: ResolvedEnds?) -> Verdict {
        track(CanonicalFlowKey(key.pointee), home: home, fields: fields, now: now, policy: policy, ends: ends)
    }

    /// The verdict of a packet of a live connection; `fromOrig` is 1 when it comes from the opener.
    @inlinable @inline(__always)
    func hitVerdict(_ e: UnsafePointer<FlowEntry>, fromOrig: UInt8) -> Verdict {
        let g = groups(e, fromOrig: fromOrig)
        // .established (2) from the opener, .reply (3) from the other side.
        return Verdict(allowed: true, reason: nil, log: e.pointee.flags & FlowFlag.log != 0,
                       flow: unsafeBitCast(3 &- fromOrig, to: FlowState.self),
                       contract: e.pointee.contract, rule: e.pointee.rule, srcGroup: g.src, dstGroup: g.dst)
    }

    /// Non-IP frames and ICMP other than echo, out of the burst loop.
    @inlinable @inline(never)
    static func classifyUntracked(tenant: UInt16, fields: UnsafePointer<PacketFields>, policy: CompiledPolicy) -> Verdict {
        policy.classify(tenant: tenant, fields: fields.pointee)
    }

    /// A packet of a live connection; `fromOrig` is 1 when it comes from the opener.
    @inlinable @inline(__always)
    func hit(_ e: UnsafeMutablePointer<FlowEntry>, _ k: CanonicalFlowKey, fromOrig: UInt8, fields: UnsafePointer<PacketFields>,
             now: UInt64, policy: CompiledPolicy, ends: ResolvedEnds? = nil) -> Verdict {
        if e.pointee.epoch != policy.epoch {
            if let drop = recheck(e, fromOrig: fromOrig != 0, policy: policy) { return drop }
        }
        var st = e.pointee.state
        let flags = e.pointee.flags
        let tcpFlags = fields.pointee.tcpFlags
        if k.proto == 6 && !(st == FlowStateCode.tcpEstablished && tcpFlags & (0x01 | 0x02 | 0x04) == 0) {
            // Not the common case of data and ACKs on an established connection.
            switch TCPTracker.slowStep(state: st, entryFlags: flags, tcpFlags: tcpFlags, fromOrig: fromOrig != 0) {
            case .ok(let next, let nextFlags):
                st = next
                e.pointee.state = next
                e.pointee.flags = nextFlags
            case .invalid:
                state.pointee.counters.invalid &+= 1
                let g = groups(e, fromOrig: fromOrig)
                return Verdict(allowed: false, reason: .conntrackInvalid, flow: fromOrig != 0 ? .established : .reply,
                               srcGroup: g.src, dstGroup: g.dst)
            case .reopen:
                return admit(k, at: e - slots, reusing: true, fields: fields, now: now, policy: policy, ends: ends)
            }
        }
        e.pointee.expires = now &+ timeoutTicks[Int(st)]
        state.pointee.counters.hits &+= 1
        return hitVerdict(e, fromOrig: fromOrig)
    }

    /// The packet's source and destination groups: the entry's (opener, other side)
    /// groups, swapped for a reply, without a branch on the direction.
    @inlinable @inline(__always)
    func groups(_ e: UnsafePointer<FlowEntry>, fromOrig: UInt8) -> (src: UInt16, dst: UInt16) {
        let w = groupWords[e - UnsafePointer(slots)]  // origGroup | replyGroup << 16
        let r = UInt32(1 &- fromOrig) &<< 4  // 0 from the opener, 16 for a reply
        let v = w &>> r | w &<< (32 &- r)
        return (UInt16(truncatingIfNeeded: v), UInt16(truncatingIfNeeded: v &>> 16))
    }

    /// First packet seen under a new policy: classify the connection again, as its opener
    /// sent it. Returns the drop when the connection is removed, nil when it goes on.
    @inlinable @inline(never)
    func recheck(_ e: UnsafeMutablePointer<FlowEntry>, fromOrig: Bool, policy: CompiledPolicy) -> Verdict? {
        state.pointee.counters.rechecked &+= 1
        let origIsA = e.pointee.flags & FlowFlag.origIsA != 0
        let a = IPAddress(hi: e.pointee.aHi, lo: e.pointee.aLo), b = IPAddress(hi: e.pointee.bHi, lo: e.pointee.bLo)
        var f = PacketFields()
        f.src = origIsA ? a : b
        f.dst = origIsA ? b : a
        f.srcPort = origIsA ? e.pointee.aPort : e.pointee.bPort
        f.dstPort = origIsA ? e.pointee.bPort : e.pointee.aPort
        f.kind = f.src.isIPv4 ? .ipv4 : .ipv6
        f.etherType = f.src.isIPv4 ? 0x0800 : 0x86DD
        let proto = e.pointee.proto
        f.ipProto = proto
        f.icmpType = proto == 1 ? 8 : proto == 58 ? 128 : 0  // only echo is tracked
        f.tcpFlags = TCPTracker.syn
        let v = policy.classify(tenant: e.pointee.tenant, fields: f)
        e.pointee.epoch = policy.epoch
        e.pointee.flags &= ~FlowFlag.endpointsKnown   // resolved under the old tables
        if v.allowed {
            let keep = v.contract != CompiledPolicy.noContract && policy.contract(v.contract).keep
            e.pointee.contract = v.contract
            e.pointee.rule = v.rule
            groupWords[e - slots] = UInt32(v.srcGroup) | UInt32(v.dstGroup) &<< 16
            e.pointee.flags = (e.pointee.flags & ~(FlowFlag.log | FlowFlag.keep))
                | (v.log ? FlowFlag.log : 0) | (keep ? FlowFlag.keep : 0)
            return nil
        }
        if e.pointee.flags & FlowFlag.keep != 0 {
            // Kept under the new policy, which has no rule for it: ids of the old policy mean nothing now.
            state.pointee.counters.kept &+= 1
            e.pointee.contract = CompiledPolicy.noContract
            e.pointee.rule = CompiledRule.none
            return nil
        }
        state.pointee.counters.recheckDrops &+= 1
        remove(at: e - slots)
        var drop = v
        drop.flow = fromOrig ? .established : .reply
        if !fromOrig { swap(&drop.srcGroup, &drop.dstGroup) }
        return drop
    }

    /// A packet with no live entry: classify, and admit the connection in slot `at`
    /// (a free slot, or an expired one when `reusing`) if allowed and there is room.
    @inlinable @inline(never)
    func admit(_ k: CanonicalFlowKey, at slot: Int, reusing: Bool, fields: UnsafePointer<PacketFields>,
               now: UInt64, policy: CompiledPolicy, ends: ResolvedEnds? = nil) -> Verdict {
        var v = if let ends { policy.decide(src: ends.src, dst: ends.dst, fields: fields.pointee) }
            else { policy.classify(tenant: k.tenant, fields: fields.pointee) }
        guard v.allowed else { return v }
        let initial: UInt8
        switch k.proto {
        case 6:
            guard TCPTracker.opens(fields.pointee.tcpFlags) else {
                state.pointee.counters.invalid &+= 1
                return Verdict(allowed: false, reason: .conntrackInvalid, srcGroup: v.srcGroup, dstGroup: v.dstGroup)
            }
            initial = FlowStateCode.tcpSynSent
        case 17: initial = FlowStateCode.udp
        case 132: initial = FlowStateCode.sctp
        case 1, 58:
            // Only a request opens an echo flow; a reply with no request is classified alone.
            guard fields.pointee.icmpType == 8 || fields.pointee.icmpType == 128 else { return v }
            initial = FlowStateCode.icmp
        default: initial = FlowStateCode.otherIP
        }
        var target = slot, reusing = reusing
        if overBudget(k.tenant, at: target, reusing: reusing) {
            // Expired entries count until reclaimed: reclaim some, then look again.
            if reclaim(now: now) > 0 { (target, reusing) = place(k, now: now) }
            if overBudget(k.tenant, at: target, reusing: reusing) {
                state.pointee.counters.budgetDrops &+= 1
                return Verdict(allowed: false, reason: .conntrackTenantBudget, srcGroup: v.srcGroup, dstGroup: v.dstGroup)
            }
        }
        if !reusing && state.pointee.count >= capacity {
            if reclaim(now: now) == 0 {
                state.pointee.counters.fullDrops &+= 1
                return Verdict(allowed: false, reason: .conntrackFull, srcGroup: v.srcGroup, dstGroup: v.dstGroup)
            }
            (target, reusing) = place(k, now: now)  // reclaiming may have moved entries
        }
        let keep = v.contract != CompiledPolicy.noContract && policy.contract(v.contract).keep
        let flags = (k.srcIsA != 0 ? FlowFlag.origIsA : 0) | (v.log ? FlowFlag.log : 0) | (keep ? FlowFlag.keep : 0)
        let expiredBefore = reusing && slots[target].expires <= now
        if reusing { tenantEntries[Int(slots[target].tenant)] &-= 1 }
        tenantEntries[Int(k.tenant)] &+= 1
        slots[target] = FlowEntry(
            k, state: initial, expires: now &+ timeoutTicks[Int(initial)], epoch: policy.epoch,
            rule: v.rule, contract: v.contract, flags: flags)
        groupWords[target] = UInt32(v.srcGroup) | UInt32(v.dstGroup) &<< 16
        if !reusing { state.pointee.count &+= 1 }
        if expiredBefore { state.pointee.counters.expired &+= 1 }
        state.pointee.counters.newFlows &+= 1
        v.flow = .new
        return v
    }

    /// Where a key with no live entry goes: its own expired entry, else the first expired
    /// slot of its probe run, else the free slot that ends the run (as `track` probes).
    @inlinable
    func place(_ k: CanonicalFlowKey, now: UInt64) -> (slot: Int, reusing: Bool) {
        var s = Int(truncatingIfNeeded: k.hash) & mask
        var reuse = -1
        while slots[s].state != FlowStateCode.free {
            if k.matches(slots + s) { return (s, true) }
            if reuse < 0 && slots[s].expires <= now { reuse = s }
            s = (s &+ 1) & mask
        }
        return reuse >= 0 ? (reuse, true) : (s, false)
    }

    /// Whether admitting a connection of `tenant` into `slot` would take the tenant past its
    /// limit (replacing an expired entry of the same tenant does not). Never without a
    /// budget: then a full table is `conntrackFull`.
    @inlinable @inline(__always)
    func overBudget(_ tenant: UInt16, at slot: Int, reusing: Bool) -> Bool {
        if tenantLimit >= capacity { return false }
        let held = Int(tenantEntries[Int(tenant)]) - (reusing && slots[slot].tenant == tenant ? 1 : 0)
        return held >= tenantLimit
    }

    // MARK: Removal and expiry

    /// Removes the entry in slot `i`, shifting later entries of its probe run back so
    /// that no lookup stops early (no tombstones).
    @inlinable
    func remove(at i: Int) {
        tenantEntries[Int(slots[i].tenant)] &-= 1
        var hole = i
        var j = i
        while true {
            j = (j &+ 1) & mask
            if slots[j].state == FlowStateCode.free { break }
            let home = Int(truncatingIfNeeded: slots[j].hash) & mask
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
            if !stays {
                slots[hole] = slots[j]
                groupWords[hole] = groupWords[j]
                hole = j
            }
        }
        slots[hole].state = FlowStateCode.free
        state.pointee.count &-= 1
    }

    /// Examines up to `budget` slots from where the last call stopped and removes expired
    /// entries. Call it regularly (for example once per burst with a small budget, or from
    /// a timer) so that expired connections free their slots. Returns how many it removed.
    @discardableResult
    public func expire(now: UInt64, budget: Int) -> Int {
        var i = state.pointee.sweepCursor & mask
        var removed = 0
        for _ in 0..<max(budget, 0) {
            let e = slots + i
            if e.pointee.state != FlowStateCode.free && e.pointee.expires <= now {
                remove(at: i)  // another entry may move into slot i: look at it again
                removed += 1
                continue
            }
            i = (i &+ 1) & mask
        }
        state.pointee.sweepCursor = i
        state.pointee.counters.expired &+= UInt64(removed)
        return removed
    }

    @inlinable
    func reclaim(now: UInt64) -> Int {
        expire(now: now, budget: FlowTable.reclaimBudget)
    }

    /// Removes the connection of `key` (either direction). Returns whether it was there.
    @discardableResult
    public func remove(key: FlowKey) -> Bool {
        let k = CanonicalFlowKey(key)
        var s = Int(truncatingIfNeeded: k.hash) & mask
        while slots[s].state != FlowStateCode.free {
            if k.matches(slots + s) { remove(at: s); return true }
            s = (s &+ 1) & mask
        }
        return false
    }

    /// The TCP state name of the connection of `key`, for tests and debugging.
    public func stateName(of key: FlowKey) -> String? {
        let k = CanonicalFlowKey(key)
        var s = Int(truncatingIfNeeded: k.hash) & mask
        while slots[s].state != FlowStateCode.free {
            if k.matches(slots + s) {
                return ["free", "udp", "sctp", "icmp", "other", "syn_sent", "syn_received", "established",
                        "closing", "time_wait", "closed"][Int(slots[s].state)]
            }
            s = (s &+ 1) & mask
        }
        return nil
    }
}

/// Both addresses of a packet found in the endpoint table (by the caller, for its own
/// checks): what `CompiledPolicy.resolve` would return for them, so `decide` can classify
/// without looking them up again. An address not found there may still be an external
/// prefix: no `ResolvedEnds` then, and the classifier resolves both.
@frozen
public struct ResolvedEnds {
    public let src: GroupMatch
    public let dst: GroupMatch

    @inlinable @inline(__always)
    init?(_ src: GroupMatch?, _ dst: GroupMatch?) {
        guard let src, let dst, src.group != CompiledPolicy.noGroup, dst.group != CompiledPolicy.noGroup else { return nil }
        self.src = src
        self.dst = dst
    }
}
