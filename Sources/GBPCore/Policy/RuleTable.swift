/// Per-rule facts kept for the runtime (counters, logging) and for explain.
@frozen
public struct CompiledRule: Sendable, Equatable {
    public var contract: UInt16
    public var priority: UInt16
    public var allow: Bool
    public var log: Bool

    /// "No rule": the rule id of a verdict no rule decided.
    @inlinable public static var none: UInt32 { 0x3FFF_FFFF }
    /// Rule ids are below this (30 bits; two bits of an interval word hold allow and log).
    public static var maxRules: Int { 0x3FFF_FFFF }
}

/// The outcome stored for one key interval: the deciding rule, its contract, action and log flag.
@frozen
public struct RuleDecision: Sendable, Equatable {
    /// Bits 16-31 contract, 32-61 rule, 62 log, 63 allow.
    @usableFromInline var bits: UInt64

    @inlinable init(bits: UInt64) { self.bits = bits }

    init(contract: UInt16, rule: UInt32, allow: Bool, log: Bool) {
        bits = UInt64(contract) << 16 | UInt64(rule) << 32 | (log ? 1 << 62 : 0) | (allow ? 1 << 63 : 0)
    }

    @inlinable static var noDecision: RuleDecision { RuleDecision(bits: UInt64(0xFFFF) << 16 | UInt64(0x3FFF_FFFF) << 32) }

    @inlinable public var contract: UInt16 { UInt16(truncatingIfNeeded: bits >> 16) }
    @inlinable public var rule: UInt32 { UInt32(truncatingIfNeeded: bits >> 32) & 0x3FFF_FFFF }
    @inlinable public var log: Bool { bits & (1 << 62) != 0 }
    @inlinable public var allow: Bool { bits & (1 << 63) != 0 }
    @inlinable public var isRule: Bool { rule != CompiledRule.none }
}

@frozen @usableFromInline
struct PairSlot {
    /// srcGroup << 16 | dstGroup; `empty` when free.
    @usableFromInline var key: UInt32
    /// Word index in `words` of the pair's block, with `wideFlag` for a block whose
    /// class boundaries need 32 bits.
    @usableFromInline var block: UInt32
    @inlinable static var empty: UInt32 { .max }
    @inlinable static var wideFlag: UInt32 { 0x8000_0000 }
}

/// Rule tables per (source group, destination group): a hash from the group pair to a
/// block of precomputed decisions (see RuleIntervalBuilder.swift). Groups belong to one
/// tenant, so the pair implies the tenant. A block starts on a cache line:
///
///     class boundaries  8 x UInt16 (8 x UInt32 when wide): class c's intervals are
///                       [h[c], h[c+1]), h[0] = 0, h[7] = n
///     interval starts   n x UInt16, padded to 8 bytes
///     decisions         n x UInt64 (`RuleDecision`)
///
/// so a lookup reads the pair slot, the boundaries and starts (usually one line), and one decision.
@frozen
public struct RuleTable: @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutablePointer<PairSlot>
    @usableFromInline let mask: Int
    @usableFromInline let words: UnsafeMutablePointer<UInt64>
    public let pairCount: Int
    /// Interval entries in all blocks (for stats and tests).
    public let intervalCount: Int
    /// Bytes of all blocks.
    public let bytes: Int

    /// The blocks of `pairs` (in key order), their decisions from `p`'s rules.
    init(_ p: ResolvedPolicy, pairs: [LinkedPair]) {
        pairCount = pairs.count
        let n = PolicyHash.slotCount(for: pairs.count)
        mask = n - 1
        slots = .allocate(capacity: n)
        slots.initialize(repeating: PairSlot(key: PairSlot.empty, block: 0), count: n)
        var total = 0
        for pair in pairs { total = (total + 7) & ~7; total += pair.image.blockHead.count + pair.image.blockRules.count }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1) * 8, alignment: 64)
        words = raw.bindMemory(to: UInt64.self, capacity: max(total, 1))
        words.initialize(repeating: 0, count: total)
        var at = 0, intervals = 0
        for pair in pairs {
            let image = pair.image
            at = (at + 7) & ~7  // blocks start on a cache line
            let block = at
            (words + at).update(from: image.blockHead, count: image.blockHead.count)
            at += image.blockHead.count
            for local in image.blockRules {
                if local == CompiledRule.none {
                    words[at] = RuleDecision.noDecision.bits
                } else {
                    let id = pair.rule(local)
                    let r = p.rules[Int(id)]
                    words[at] = RuleDecision(contract: r.contract, rule: id, allow: r.allow, log: r.log).bits
                }
                at += 1
            }
            intervals += image.blockRules.count
            var s = Int(truncatingIfNeeded: PolicyHash.pair(pair.key)) & mask
            while slots[s].key != PairSlot.empty { s = (s + 1) & mask }
            slots[s] = PairSlot(key: pair.key, block: UInt32(block) | (image.wide ? PairSlot.wideFlag : 0))
        }
        intervalCount = intervals
        bytes = total * 8
    }

    func deallocate() { slots.deallocate(); UnsafeMutableRawPointer(words).deallocate() }

    /// Every (pair, rule) link as `(src << 16 | dst) << 32 | rule id`, sorted: the rules
    /// of a pair are a run, in rule-id order. A rule applies to (s, d) when its direction
    /// lets s open connections to d: consumer -> provider for consumer-to-provider,
    /// provider -> consumer for provider-to-consumer, either for both. Pairs of two
    /// external groups are left out (that traffic is always denied).
    static func pairRules(_ p: ResolvedPolicy) -> [UInt64] {
        var out: [UInt64] = []
        for c in p.contracts {
            func add(_ from: [UInt16], _ to: [UInt16], _ rule: UInt32) {
                for s in from {
                    for d in to where !(p.groups[Int(s)].external && p.groups[Int(d)].external) {
                        out.append(UInt64(s) << 48 | UInt64(d) << 32 | UInt64(rule))
                    }
                }
            }
            for id in c.firstRule..<(c.firstRule + c.ruleCount) {
                let dir = p.rules[Int(id)].direction
                if dir != .providerToConsumer { add(c.consumers, c.providers, id) }
                if dir != .consumerToProvider { add(c.providers, c.consumers, id) }
            }
        }
        out.sort()
        var unique = 0  // (s, d) reached both ways by `both` is linked once
        for x in out where unique == 0 || out[unique - 1] != x { out[unique] = x; unique += 1 }
        out.removeLast(out.count - unique)
        return out
    }

    // MARK: Lookup

    /// The decision for a packet of class `cls` and key `key` from group `src` to `dst`:
    /// the winning rule, or `noDecision` when no rule of any contract matches.
    @inlinable @inline(__always)
    public func decide(src: UInt16, dst: UInt16, cls: TrafficClass, key: UInt16) -> RuleDecision {
        let block = findBlock(src: src, dst: dst)
        if block == PairSlot.empty { return .noDecision }
        return decide(block: block, cls: cls, key: key)
    }

    /// The pair's block (`PairSlot.block`), or `PairSlot.empty` when no rule links the pair.
    @inlinable @inline(__always)
    func findBlock(src: UInt16, dst: UInt16) -> UInt32 {
        let k = UInt32(src) << 16 | UInt32(dst)
        var s = Int(truncatingIfNeeded: PolicyHash.pair(k)) & mask
        while true {
            let slot = slots[s]
            if slot.key == k { return slot.block }
            if slot.key == PairSlot.empty { return PairSlot.empty }
            s = (s &+ 1) & mask
        }
    }

    /// The slot `findBlock` reads first, for burst prefetching.
    @inlinable @inline(__always)
    func firstSlot(src: UInt16, dst: UInt16) -> UnsafeRawPointer {
        UnsafeRawPointer(slots + (Int(truncatingIfNeeded: PolicyHash.pair(UInt32(src) << 16 | UInt32(dst))) & mask))
    }

    @inlinable @inline(__always)
    func blockStart(_ block: UInt32) -> UnsafeRawPointer {
        UnsafeRawPointer(words + Int(block & ~PairSlot.wideFlag))
    }

    @inlinable @inline(__always)
    func decide(block: UInt32, cls: TrafficClass, key: UInt16) -> RuleDecision {
        let raw = blockStart(block)
        let c = cls.rawValue
        let lo: Int, hi: Int, n: Int, header: Int
        if block & PairSlot.wideFlag == 0 {
            lo = Int(raw.load(fromByteOffset: c &* 2, as: UInt16.self))
            hi = Int(raw.load(fromByteOffset: c &* 2 &+ 2, as: UInt16.self))
            n = Int(raw.load(fromByteOffset: 14, as: UInt16.self))
            header = 16
        } else {
            lo = Int(raw.load(fromByteOffset: c &* 4, as: UInt32.self))
            hi = Int(raw.load(fromByteOffset: c &* 4 &+ 4, as: UInt32.self))
            n = Int(raw.load(fromByteOffset: 28, as: UInt32.self))
            header = 32
        }
        if lo == hi { return .noDecision }
        // Last interval of the class whose start <= key (each class's first start is 0).
        let starts = (raw + header).assumingMemoryBound(to: UInt16.self)
        var base = lo
        var len = hi &- lo
        while len > 1 {
            let half = len >> 1
            base = starts[base &+ half] <= key ? base &+ half : base
            len &-= half
        }
        let decisions = header &+ ((n &* 2 &+ 7) & ~7)
        return RuleDecision(bits: raw.load(fromByteOffset: decisions &+ base &* 8, as: UInt64.self))
    }
}
