/// Mutable state of a flow table, kept in its own allocation so that `FlowTable` is a
/// handle whose copies all see the same table.
@frozen @usableFromInline
struct FlowTableState {
    @usableFromInline var count: Int
    @usableFromInline var sweepCursor: Int
    @usableFromInline var ownsSlots: Bool
    @usableFromInline var counters: ConntrackCounters
}

/// A burst packet between the two passes of `track(burst:...)`.
@frozen @usableFromInline
struct BurstFlowSlot {
    @usableFromInline var key: CanonicalFlowKey
    @usableFromInline var home: Int
    @usableFromInline var homeFree: Bool
    @inlinable init(key: CanonicalFlowKey, home: Int, homeFree: Bool) { self.key = key; self.home = home; self.homeFree = homeFree }
}

/// Connection tracking for one worker: a linear-probing hash table of fixed capacity over
/// one allocation of 64-byte entries, allocated at init and never again. Single-threaded:
/// give each worker its own table (RSS keeps both directions of a connection on one worker
/// when the key is symmetric).
///
/// `track` finds the connection from either direction; on a miss it classifies the packet
/// and admits allowed connections. Admitted connections carry the policy epoch; when the
/// policy changes, the next packet classifies the connection again (drop if now denied),
/// unless its contract says `onPolicyChange: keep`. Replies pass without a reverse contract.
/// A full table refuses new connections (`conntrackFull`) and keeps serving known ones.
///
/// Time is the caller's clock in ticks (TSC cycles in the runtime), `ticksPerSecond` given at init.
@frozen
public struct FlowTable: @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutablePointer<FlowEntry>
    @usableFromInline let mask: Int
    @usableFromInline let state: UnsafeMutablePointer<FlowTableState>
    /// Timeout in ticks per `FlowStateCode`.
    @usableFromInline let timeoutTicks: UnsafeMutablePointer<UInt64>
    /// Most connections the table holds.
    public let capacity: Int
    public let ticksPerSecond: UInt64

    /// Slots examined to reclaim expired entries when a new connection finds the table full.
    @inlinable static var reclaimBudget: Int { 64 }

    /// A table for up to `capacity` connections (at least 1), with twice as many slots
    /// rounded up to a power of two, so probes stay short.
    public init(capacity: Int, ticksPerSecond: UInt64, timeouts: ConntrackTimeouts = ConntrackTimeouts()) {
        let bytes = FlowTable.bytesNeeded(capacity: capacity)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        self.init(capacity: capacity, ticksPerSecond: ticksPerSecond, timeouts: timeouts, memory: raw, owned: true)
    }

    /// A table whose slots live in `memory`, provided by the caller (for example hugepage
    /// memory from the DPDK allocator, which spares the TLB): `bytesNeeded(capacity:)`
    /// bytes, 64-byte aligned. `deallocate()` leaves that memory to its owner.
    public init(capacity: Int, ticksPerSecond: UInt64, timeouts: ConntrackTimeouts = ConntrackTimeouts(),
                memory: UnsafeMutableRawPointer) {
        self.init(capacity: capacity, ticksPerSecond: ticksPerSecond, timeouts: timeouts, memory: memory, owned: false)
    }

    /// Bytes of slot memory for a table of `capacity` connections.
    public static func bytesNeeded(capacity: Int) -> Int { slotCount(capacity: capacity) * MemoryLayout<FlowEntry>.stride }

    static func slotCount(capacity: Int) -> Int {
        var n = 16
        while n < max(capacity, 1) * 2 { n <<= 1 }
        return n
    }

    private init(capacity: Int, ticksPerSecond: UInt64, timeouts t: ConntrackTimeouts, memory raw: UnsafeMutableRawPointer, owned: Bool) {
        self.capacity = max(capacity, 1)
        self.ticksPerSecond = ticksPerSecond
        let n = FlowTable.slotCount(capacity: capacity)
        mask = n - 1
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: n * MemoryLayout<FlowEntry>.stride)
        slots = raw.bindMemory(to: FlowEntry.self, capacity: n)
        state = .allocate(capacity: 1)
        state.initialize(to: FlowTableState(count: 0, sweepCursor: 0, ownsSlots: owned, counters: ConntrackCounters()))
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
        if state.pointee.ownsSlots { UnsafeMutableRawPointer(slots).deallocate() }
        state.deallocate()
        timeoutTicks.deallocate()
    }

    /// Connections held, live or expired but not yet reclaimed.
    public var count: Int { state.pointee.count }
    public var counters: ConntrackCounters { state.pointee.counters }

    /// Empties the table (counters are kept).
    public func removeAll() {
        for i in 0...mask { slots[i].state = FlowStateCode.free }
        state.pointee.count = 0
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
        let ck = CanonicalFlowKey(key)
        return withUnsafePointer(to: fields) { f in
            track(ck, home: Int(truncatingIfNeeded: ck.hash) & mask, homeFree: false, fields: f, now: now, policy: policy)
        }
    }

    /// Everything but non-IP frames and ICMP other than echo.
    @inlinable @inline(__always)
    static func isTracked(_ proto: UInt8, _ f: PacketFields) -> Bool {
        guard f.kind == .ipv4 || f.kind == .ipv6 else { return false }
        if proto == 1 { return f.icmpType == 8 || f.icmpType == 0 }
        if proto == 58 { return f.icmpType == 128 || f.icmpType == 129 }
        return true
    }

    /// Lookup from the key's home slot (`homeFree`: found free by a burst's first pass), then hit or admit.
    @inlinable @inline(__always)
    func track(_ ck: CanonicalFlowKey, home: Int, homeFree: Bool, fields: UnsafePointer<PacketFields>, now: UInt64,
               policy: CompiledPolicy) -> Verdict {
        // Checked again: an earlier packet of the burst may have taken the slot since.
        if homeFree && slots[home].state == FlowStateCode.free {
            return admit(ck, at: home, reusing: false, fields: fields, now: now, policy: policy)
        }
        var s = home
        var reuse = -1
        while true {
            let e = slots + s
            if e.pointee.state == FlowStateCode.free { break }
            if ck.matches(e) {
                if e.pointee.expires > now {
                    return hit(e, ck, fields: fields, now: now, policy: policy)
                }
                return admit(ck, at: s, reusing: true, fields: fields, now: now, policy: policy)
            }
            if reuse < 0 && e.pointee.expires <= now { reuse = s }
            s = (s &+ 1) & mask
        }
        return admit(ck, at: reuse >= 0 ? reuse : s, reusing: reuse >= 0, fields: fields, now: now, policy: policy)
    }

    /// `verdicts[i]` = `track(key: keys[i], fields: fields[i], ...)` for a burst, with the
    /// home slots of up to 32 packets read before any is processed, so that their cache
    /// misses overlap.
    @inlinable
    public func track(burst count: Int, keys: UnsafePointer<FlowKey>, fields: UnsafePointer<PacketFields>,
                      now: UInt64, policy: CompiledPolicy, verdicts: UnsafeMutablePointer<Verdict>) {
        withUnsafeTemporaryAllocation(of: BurstFlowSlot.self, capacity: 32) { scratch in
            let st = scratch.baseAddress!
            var start = 0
            while start < count {
                let n = min(32, count &- start)
                for i in 0..<n {
                    let ck = CanonicalFlowKey(keys[start &+ i])
                    let home = Int(truncatingIfNeeded: ck.hash) & mask
                    (st + i).initialize(to: BurstFlowSlot(key: ck, home: home, homeFree: slots[home].state == FlowStateCode.free))
                }
                for i in 0..<n {
                    let j = start &+ i
                    let f = fields + j
                    if FlowTable.isTracked(keys[j].proto, f.pointee) {
                        verdicts[j] = track(st[i].key, home: st[i].home, homeFree: st[i].homeFree, fields: f,
                                            now: now, policy: policy)
                    } else {
                        verdicts[j] = policy.classify(tenant: keys[j].tenant, fields: f.pointee)
                    }
                }
                start &+= n
            }
        }
    }

    /// A packet of a live connection.
    @inlinable @inline(__always)
    func hit(_ e: UnsafeMutablePointer<FlowEntry>, _ ck: CanonicalFlowKey, fields: UnsafePointer<PacketFields>,
             now: UInt64, policy: CompiledPolicy) -> Verdict {
        let fromOrig = ck.srcIsA == (e.pointee.flags & FlowFlag.origIsA != 0)
        if e.pointee.epoch != policy.epoch {
            if let drop = recheck(e, ck, fromOrig: fromOrig, policy: policy) { return drop }
        }
        var st = e.pointee.state
        if ck.proto == 6 {
            switch TCPTracker.step(state: st, entryFlags: e.pointee.flags, tcpFlags: fields.pointee.tcpFlags, fromOrig: fromOrig) {
            case .ok(let next, let flags):
                st = next
                e.pointee.state = next
                e.pointee.flags = flags
            case .invalid:
                state.pointee.counters.invalid &+= 1
                return Verdict(allowed: false, reason: .conntrackInvalid, flow: fromOrig ? .established : .reply,
                               srcGroup: fromOrig ? e.pointee.origGroup : e.pointee.replyGroup,
                               dstGroup: fromOrig ? e.pointee.replyGroup : e.pointee.origGroup)
            case .reopen:
                return admit(ck, at: e - slots, reusing: true, fields: fields, now: now, policy: policy)
            }
        }
        e.pointee.expires = now &+ timeoutTicks[Int(st)]
        state.pointee.counters.hits &+= 1
        return Verdict(allowed: true, reason: nil, log: e.pointee.flags & FlowFlag.log != 0,
                       flow: fromOrig ? .established : .reply,
                       contract: e.pointee.contract, rule: e.pointee.rule,
                       srcGroup: fromOrig ? e.pointee.origGroup : e.pointee.replyGroup,
                       dstGroup: fromOrig ? e.pointee.replyGroup : e.pointee.origGroup)
    }

    /// First packet seen under a new policy: classify the connection again, as its opener
    /// sent it. Returns the drop when the connection is removed, nil when it goes on.
    @inlinable @inline(never)
    func recheck(_ e: UnsafeMutablePointer<FlowEntry>, _ ck: CanonicalFlowKey, fromOrig: Bool,
                 policy: CompiledPolicy) -> Verdict? {
        state.pointee.counters.rechecked &+= 1
        let origIsA = e.pointee.flags & FlowFlag.origIsA != 0
        var f = PacketFields()
        f.src = origIsA ? IPAddress(hi: ck.aHi, lo: ck.aLo) : IPAddress(hi: ck.bHi, lo: ck.bLo)
        f.dst = origIsA ? IPAddress(hi: ck.bHi, lo: ck.bLo) : IPAddress(hi: ck.aHi, lo: ck.aLo)
        f.srcPort = origIsA ? ck.aPort : ck.bPort
        f.dstPort = origIsA ? ck.bPort : ck.aPort
        f.kind = f.src.isIPv4 ? .ipv4 : .ipv6
        f.etherType = f.src.isIPv4 ? 0x0800 : 0x86DD
        f.ipProto = ck.proto
        f.icmpType = ck.proto == 1 ? 8 : ck.proto == 58 ? 128 : 0  // only echo is tracked
        f.tcpFlags = TCPTracker.syn
        let v = policy.classify(tenant: ck.tenant, fields: f)
        e.pointee.epoch = policy.epoch
        if v.allowed {
            let keep = v.contract != CompiledPolicy.noContract && policy.contract(v.contract).keep
            e.pointee.contract = v.contract
            e.pointee.rule = v.rule
            e.pointee.origGroup = v.srcGroup
            e.pointee.replyGroup = v.dstGroup
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
    func admit(_ ck: CanonicalFlowKey, at slot: Int, reusing: Bool, fields: UnsafePointer<PacketFields>,
               now: UInt64, policy: CompiledPolicy) -> Verdict {
        var v = policy.classify(tenant: ck.tenant, fields: fields.pointee)
        guard v.allowed else { return v }
        let initial: UInt8
        switch ck.proto {
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
        var target = slot
        if !reusing && state.pointee.count >= capacity {
            if reclaim(now: now) == 0 {
                state.pointee.counters.fullDrops &+= 1
                return Verdict(allowed: false, reason: .conntrackFull, srcGroup: v.srcGroup, dstGroup: v.dstGroup)
            }
            target = freeSlot(for: ck)  // reclaiming may have moved entries
        }
        let keep = v.contract != CompiledPolicy.noContract && policy.contract(v.contract).keep
        let flags = (ck.srcIsA ? FlowFlag.origIsA : 0) | (v.log ? FlowFlag.log : 0) | (keep ? FlowFlag.keep : 0)
        let expiredBefore = reusing && slots[target].expires <= now
        slots[target] = FlowEntry(
            ck, state: initial, expires: now &+ timeoutTicks[Int(initial)], epoch: policy.epoch,
            rule: v.rule, contract: v.contract, origGroup: v.srcGroup, replyGroup: v.dstGroup, flags: flags)
        if !reusing { state.pointee.count &+= 1 }
        if expiredBefore { state.pointee.counters.expired &+= 1 }
        state.pointee.counters.newFlows &+= 1
        v.flow = .new
        return v
    }

    /// The free slot where a key known to be absent goes.
    @inlinable
    func freeSlot(for ck: CanonicalFlowKey) -> Int {
        var s = Int(truncatingIfNeeded: ck.hash) & mask
        while slots[s].state != FlowStateCode.free { s = (s &+ 1) & mask }
        return s
    }

    // MARK: Removal and expiry

    /// Removes the entry in slot `i`, shifting later entries of its probe run back so
    /// that no lookup stops early (no tombstones).
    @inlinable
    func remove(at i: Int) {
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
        let ck = CanonicalFlowKey(key)
        var s = Int(truncatingIfNeeded: ck.hash) & mask
        while slots[s].state != FlowStateCode.free {
            if ck.matches(slots + s) { remove(at: s); return true }
            s = (s &+ 1) & mask
        }
        return false
    }

    /// The TCP state name of the connection of `key`, for tests and debugging.
    public func stateName(of key: FlowKey) -> String? {
        let ck = CanonicalFlowKey(key)
        var s = Int(truncatingIfNeeded: ck.hash) & mask
        while slots[s].state != FlowStateCode.free {
            if ck.matches(slots + s) {
                return ["free", "udp", "sctp", "icmp", "other", "syn_sent", "syn_received", "established",
                        "closing", "time_wait", "closed"][Int(slots[s].state)]
            }
            s = (s &+ 1) & mask
        }
        return nil
    }
}
