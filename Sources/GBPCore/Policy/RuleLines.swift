/// The classifier's rule lookup: per linked (source group, destination group) pair, one
/// 128-byte line pair (two adjacent cache lines, prefetched together) holding the pair's
/// key intervals for every traffic class and their decisions, found by a perfect hash of
/// the pair (PerfectHash.swift): one small displacement read, then this line, whatever the
/// number of rules in the policy.
///
///     0   UInt32   pair key src << 16 | dst (all ones in an empty slot)
///     4   UInt8    format: 0 inline, 1 in `RuleTable` (block id at 8), 2 empty
///     5   UInt8 x8 cum[0...7]: class c's stored interval starts are [cum[c], cum[c+1])
///     13  UInt8    steps of the interval search: 2^steps >= the intervals of any class
///     14  UInt16   the contract of every rule of the pair (inline format)
///     16  UInt16 x S   interval starts, per class without its first start (always 0)
///     16+2S        a 4-bit decision index per interval (class c's intervals are numbered
///                  from cum[c] + c), 15 = no rule matches
///     then         UInt32 x D decisions: rule id | log << 30 | allow << 31
///
/// A pair is inline when its rules come from one contract, it has at most 15 distinct
/// deciding rules and it fits the 128 bytes (the benchmark's 10-rule contracts do).
/// Else, when its starts and 5 bits per interval fit the line (two contracts of 10 rules
/// do), it is split (format 4): the line has the same layout with 5 bits per interval
/// (31 = no rule), and its decisions are whole 8-byte `RuleDecision`s in `splitDecisions`
/// from index `UInt16` at 14: a lookup reads the line, then the one decision it needs
/// (the burst classifier prefetches that and decides such packets in a last pass).
/// Otherwise, up to 255 deciding rules and 512 bytes, its line points (format 3; byte
/// offset at 8, cache lines at 12) at an extended line in `extended`: the same layout
/// with a byte per interval (255 = no rule) and whole 8-byte `RuleDecision`s, 8-aligned.
/// The burst classifier prefetches an extended line once it has read the pair's line and
/// decides such packets in a last pass. Bigger pairs point at their block in `RuleTable`,
/// the general layout (format 1, block id at 8).
@frozen @usableFromInline
struct RuleLineTable: @unchecked Sendable {
    @usableFromInline let shape: PerfectHashShape
    @usableFromInline let lines: UnsafeMutableRawPointer
    /// Pairs stored inline and in `RuleTable`.
    @usableFromInline let inlineCount: Int
    @usableFromInline let blockCount: Int
    @usableFromInline let extendedCount: Int
    @usableFromInline let splitCount: Int
    /// Decisions of the pairs in split format.
    @usableFromInline let splitDecisions: UnsafeMutablePointer<UInt64>
    /// Extended lines, each starting on a cache line.
    @usableFromInline let extended: UnsafeMutableRawPointer
    /// Per IP protocol number: traffic class | destination-port mask << 16 | ICMP
    /// type/code mask << 32, so that class and key come without a branch on the protocol.
    @usableFromInline let classTable: UnsafeMutablePointer<UInt64>

    @inlinable static var lineBytes: Int { 128 }
    @inlinable static var formatInline: UInt8 { 0 }
    @inlinable static var formatBlock: UInt8 { 1 }
    @inlinable static var formatEmpty: UInt8 { 2 }
    @inlinable static var formatExtended: UInt8 { 3 }
    @inlinable static var formatSplit: UInt8 { 4 }
    @inlinable static var extendedMaxBytes: Int { 512 }

    /// Which formats the compiler may use (tests force the slower ones to check them).
    enum Layout: Hashable { case best, extendedOrGeneral, generalOnly }

    /// The lines of `pairs` (in key order), their decisions from `p`'s rules; a pair in
    /// the general layout points at its block in `blocks`.
    init(_ p: ResolvedPolicy, pairs: [LinkedPair], blocks: RuleTable) {
        let (shape, slotOf) = PerfectHashShape.build(count: pairs.count) { seed in
            pairs.map { PolicyHash.pair($0.key, seed: seed) }
        }
        self.shape = shape
        let bytes = shape.slotCount * Self.lineBytes + 256  // reads may run past the last line
        lines = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        lines.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        for s in 0..<shape.slotCount {
            let line = lines + s * Self.lineBytes
            line.storeBytes(of: UInt32.max, as: UInt32.self)
            line.storeBytes(of: Self.formatEmpty, toByteOffset: 4, as: UInt8.self)
        }
        var inline = 0, block = 0, extCount = 0, split = 0
        var extBlob: [UInt8] = []
        var splitBlob: [UInt64] = []
        func decision(_ pair: LinkedPair, _ local: UInt32) -> RuleDecision {
            let id = pair.rule(local)
            let r = p.rules[Int(id)]
            return RuleDecision(contract: r.contract, rule: id, allow: r.allow, log: r.log)
        }
        /// Bytes 5... of `image` into the line (0-4 are the key and the format).
        func copy(_ image: [UInt8], to line: UnsafeMutableRawPointer) {
            image.withUnsafeBytes { (line + 5).copyMemory(from: $0.baseAddress! + 5, byteCount: image.count - 5) }
        }
        for (i, pair) in pairs.enumerated() {
            let line = lines + slotOf[i] * Self.lineBytes
            line.storeBytes(of: pair.key, as: UInt32.self)
            var format = pair.image.line
            if case .split(_, let rules) = format, splitBlob.count + rules.count > Int(UInt16.max) + 1 {
                format = pair.image.lineWithoutSplit  // the line's 16-bit index cannot reach further
            }
            switch format {
            case .inline(let image, let rules):
                precondition(image.count + 4 * rules.count <= Self.lineBytes)
                line.storeBytes(of: Self.formatInline, toByteOffset: 4, as: UInt8.self)
                copy(image, to: line)
                let contract = rules.first.map { decision(pair, $0).contract } ?? CompiledPolicy.noContract
                line.storeBytes(of: contract, toByteOffset: 14, as: UInt16.self)
                for (k, r) in rules.enumerated() {
                    let d = decision(pair, r)
                    let word = d.rule | (d.log ? 1 << 30 : 0) | (d.allow ? 1 << 31 : 0)
                    line.storeBytes(of: word.littleEndian, toByteOffset: image.count + 4 * k, as: UInt32.self)
                }
                inline += 1
            case .split(let image, let rules):
                line.storeBytes(of: Self.formatSplit, toByteOffset: 4, as: UInt8.self)
                copy(image, to: line)
                line.storeBytes(of: UInt16(truncatingIfNeeded: splitBlob.count), toByteOffset: 14, as: UInt16.self)
                for r in rules { splitBlob.append(decision(pair, r).bits) }
                split += 1
            case .extended(let image, let rules):
                line.storeBytes(of: Self.formatExtended, toByteOffset: 4, as: UInt8.self)
                line.storeBytes(of: UInt32(extBlob.count), toByteOffset: 8, as: UInt32.self)
                line.storeBytes(of: UInt8((image.count + 8 * rules.count + 63) / 64), toByteOffset: 12, as: UInt8.self)
                extBlob += image
                for r in rules { withUnsafeBytes(of: decision(pair, r).bits.littleEndian) { extBlob += $0 } }
                while extBlob.count % 64 != 0 { extBlob.append(0) }
                extCount += 1
            case .general:
                let b = blocks.findBlock(src: UInt16(pair.key >> 16), dst: UInt16(truncatingIfNeeded: pair.key))
                line.storeBytes(of: Self.formatBlock, toByteOffset: 4, as: UInt8.self)
                line.storeBytes(of: b, toByteOffset: 8, as: UInt32.self)
                block += 1
            }
        }
        inlineCount = inline
        blockCount = block
        extendedCount = extCount
        splitCount = split
        splitDecisions = .allocate(capacity: max(splitBlob.count, 1))
        splitDecisions.initialize(from: splitBlob, count: splitBlob.count)
        let ext = UnsafeMutableRawPointer.allocate(byteCount: extBlob.count + 1024, alignment: 64)
        ext.initializeMemory(as: UInt8.self, repeating: 0, count: extBlob.count + 1024)
        extBlob.withUnsafeBytes { if !$0.isEmpty { ext.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        extended = ext
        classTable = .allocate(capacity: 256)
        for proto in 0..<256 {
            let c = TrafficClass.of(ipProto: UInt8(proto))
            let masks: UInt64 = c == .tcp || c == .udp || c == .sctp ? 0xFFFF << 16 : c == .icmp || c == .icmpv6 ? 0xFFFF << 32 : 0
            classTable[proto] = UInt64(c.rawValue) | masks
        }
    }

    /// Steps of the interval search for a line whose classes have these stored starts.
    static func searchSteps(_ cum: [UInt8]) -> UInt8 {
        var most = 1
        for c in 0..<TrafficClass.count { most = max(most, Int(cum[c + 1]) - Int(cum[c]) + 1) }
        var steps: UInt8 = 0
        while (1 << steps) < most { steps += 1 }
        return steps
    }

    /// What every line format stores of a pair: its distinct rules (at most `maxRules`, in
    /// order of first use),
    /// its intervals flattened class by class (the stored starts, each interval's rule
    /// index or `noRule`), and the 16-byte header with the per-class cumulative interval
    /// counts and the search depth. Nil when the pair exceeds those limits.
    static func flatten(_ classes: [[(start: UInt16, rule: UInt32)]], maxRules: Int, noRule: UInt8)
        -> (rules: [UInt32], image: [UInt8], indices: [UInt8])? {
        var rules: [UInt32] = []
        var index: [UInt32: UInt8] = [:]
        for c in classes {
            for (_, r) in c where r != CompiledRule.none && index[r] == nil {
                guard rules.count < maxRules else { return nil }
                index[r] = UInt8(rules.count)
                rules.append(r)
            }
        }
        var cum: [UInt8] = [0]
        var starts: [UInt16] = []
        var indices: [UInt8] = []
        for c in classes {
            let intervals = c.isEmpty ? [(start: UInt16(0), rule: CompiledRule.none)] : c
            for (k, iv) in intervals.enumerated() {
                if k > 0 { starts.append(iv.start) }
                indices.append(iv.rule == CompiledRule.none ? noRule : index[iv.rule]!)
            }
            guard starts.count <= 255 else { return nil }
            cum.append(UInt8(starts.count))
        }
        var image = [UInt8](repeating: 0, count: 16)
        for (c, v) in cum.enumerated() { image[5 + c] = v }
        image[13] = searchSteps(cum)
        for s in starts { image.append(UInt8(truncatingIfNeeded: s)); image.append(UInt8(truncatingIfNeeded: s >> 8)) }
        return (rules, image, indices)
    }

    /// A line in split format without its decisions (they go to `splitDecisions`, from the
    /// index at 14), and the rules whose decisions those are; nil when it does not fit.
    static func splitImage(_ classes: [[(start: UInt16, rule: UInt32)]]) -> (image: [UInt8], rules: [UInt32])? {
        guard let (rules, header, indices) = flatten(classes, maxRules: 30, noRule: 31) else { return nil }
        var image = header
        // 5 bits per interval, little-endian bit order.
        var packed = [UInt8](repeating: 0, count: (indices.count * 5 + 7) / 8 + 1)
        for (i, v) in indices.enumerated() {
            let bit = i * 5
            let w = UInt16(v) << UInt16(bit % 8)
            packed[bit / 8] |= UInt8(truncatingIfNeeded: w)
            packed[bit / 8 + 1] |= UInt8(truncatingIfNeeded: w >> 8)
        }
        image += packed  // one spare byte: the decoder reads two at a time
        guard image.count <= lineBytes else { return nil }
        return (image, rules)
    }

    /// An extended line (see above) without its decisions, which follow it (8 bytes each,
    /// for `rules`), or nil when the pair needs the general layout.
    static func extendedImage(_ classes: [[(start: UInt16, rule: UInt32)]]) -> (image: [UInt8], rules: [UInt32])? {
        guard let (rules, header, indices) = flatten(classes, maxRules: 255, noRule: 255) else { return nil }
        var image = header
        image += indices
        while image.count % 8 != 0 { image.append(0) }
        return image.count + 8 * rules.count <= extendedMaxBytes ? (image, rules) : nil
    }

    /// The line of a pair in inline format without its decisions (4 bytes each, for
    /// `rules`, follow it) and contract (at 14), or nil when the pair needs another format:
    /// the rules that decide must be of one contract (`contractRank` of a rule tells).
    static func inlineImage(_ classes: [[(start: UInt16, rule: UInt32)]], contractRank: (UInt32) -> UInt16)
        -> (image: [UInt8], rules: [UInt32])? {
        guard let (rules, header, nibbles) = flatten(classes, maxRules: 15, noRule: 15) else { return nil }
        guard rules.allSatisfy({ contractRank($0) == contractRank(rules[0]) }) else { return nil }
        var image = header
        for k in stride(from: 0, to: nibbles.count, by: 2) {
            image.append(nibbles[k] | (k + 1 < nibbles.count ? nibbles[k + 1] << 4 : 0))
        }
        return image.count + 4 * rules.count <= lineBytes ? (image, rules) : nil
    }

    func deallocate() {
        shape.deallocate(); lines.deallocate(); extended.deallocate(); classTable.deallocate(); splitDecisions.deallocate()
    }

    // MARK: Lookup

    /// The line where pair (src, dst) is, if anywhere (its key says).
    @inlinable @inline(__always)
    func line(src: UInt16, dst: UInt16) -> UnsafeRawPointer {
        let k = UInt32(src) << 16 | UInt32(dst)
        return UnsafeRawPointer(lines + shape.slot(PolicyHash.pair(k, seed: shape.seed)) &* RuleLineTable.lineBytes)
    }

    /// The decision for class `cls` and key `key` of pair `pairKey` (`src << 16 | dst`),
    /// from its line (`line(src:dst:)`, possibly another pair's: then no rule links them).
    @inlinable @inline(__always)
    func decide(line: UnsafeRawPointer, pairKey: UInt32, cls: Int, key: UInt16, blocks: RuleTable) -> RuleDecision {
        let head = line.load(as: UInt64.self)
        if UInt32(truncatingIfNeeded: head) != pairKey { return .noDecision }
        if UInt8(truncatingIfNeeded: head &>> 32) != RuleLineTable.formatInline {
            return RuleLineTable.decideOutOfLine(line, cls: cls, key: key, blocks: blocks, extended: extended,
                                                 split: splitDecisions)
        }
        return RuleLineTable.decideInline(line, cls: cls, key: key)
    }

    /// The decision in a line of inline format.
    @inlinable @inline(__always)
    static func decideInline(_ line: UnsafeRawPointer, cls: Int, key: UInt16) -> RuleDecision {
        // Inline format.
        let total = Int(line.load(fromByteOffset: 12, as: UInt8.self))
        let interval = intervalIndex(line, cls: cls, key: key)
        let nibOff = 16 &+ total &* 2
        let nib = Int(line.load(fromByteOffset: nibOff &+ interval &>> 1, as: UInt8.self) &>> UInt8((interval & 1) &* 4)) & 15
        if nib == 15 { return .noDecision }
        let decOff = nibOff &+ (total &+ 8) &>> 1
        let d = line.loadUnaligned(fromByteOffset: decOff &+ nib &* 4, as: UInt32.self)
        let contract = line.load(fromByteOffset: 14, as: UInt16.self)
        return RuleDecision(bits: UInt64(d) << 32 | UInt64(contract) << 16)
    }

    /// The global number of the interval of class `cls` holding `key`, in a line (inline
    /// or extended): class c's intervals are numbered from cum[c] + c.
    @inlinable @inline(__always)
    static func intervalIndex(_ line: UnsafeRawPointer, cls: Int, key: UInt16) -> Int {
        let lo = Int(line.load(fromByteOffset: 5 &+ cls, as: UInt8.self))
        let hi = Int(line.load(fromByteOffset: 6 &+ cls, as: UInt8.self))
        // Largest j in 0...(hi - lo) with start(j) <= key, start(0) = 0, start(j) = starts[lo + j - 1],
        // by steps of 2^(steps-1), ..., 1: the same number of steps for every class of the
        // line, so the loop's branch follows the line, not the packet's protocol.
        let first = line + (14 &+ lo &* 2)  // starts[i] is at 16 + 2i
        let n = hi &- lo  // stored starts of the class
        let k = UInt64(key) | 0x1_0000
        var base = 0
        var step = 1 &<< Int(line.load(fromByteOffset: 13, as: UInt8.self))
        while step > 1 {
            step &>>= 1
            // Past the class's last start, that start: taking it gives the last interval.
            let j = min(base &+ step, n)
            let s = UInt64(first.load(fromByteOffset: j &* 2, as: UInt16.self))
            // Arithmetic, not a comparison: the compiler would make a select of it, then a
            // branch, which misses on every other packet. Bit 16 of k - s is set when s <= key.
            let take = (k &- s) &>> 16
            base &+= (j &- base) & Int(bitPattern: UInt(0 &- take))
        }
        return lo &+ cls &+ base
    }

    /// Where the decision is for a line in split format, or nil when no rule matches.
    @inlinable @inline(__always)
    static func splitDecision(_ line: UnsafeRawPointer, cls: Int, key: UInt16, split: UnsafePointer<UInt64>) -> UnsafePointer<UInt64>? {
        let total = Int(line.load(fromByteOffset: 12, as: UInt8.self))
        let bit = intervalIndex(line, cls: cls, key: key) &* 5
        let w = line.loadUnaligned(fromByteOffset: 16 &+ total &* 2 &+ bit &>> 3, as: UInt16.self)
        let idx = Int(w &>> UInt16(bit & 7)) & 31
        if idx == 31 { return nil }
        return split + (Int(line.load(fromByteOffset: 14, as: UInt16.self)) &+ idx)
    }

    /// The decision in an extended line.
    @inlinable @inline(__always)
    static func decideExtended(_ ext: UnsafeRawPointer, cls: Int, key: UInt16) -> RuleDecision {
        let total = Int(ext.load(fromByteOffset: 12, as: UInt8.self))
        let interval = intervalIndex(ext, cls: cls, key: key)
        let idxOff = 16 &+ total &* 2
        let idx = Int(ext.load(fromByteOffset: idxOff &+ interval, as: UInt8.self))
        if idx == 255 { return .noDecision }
        let decOff = (idxOff &+ total &+ 7 &+ 7) & ~7
        return RuleDecision(bits: ext.load(fromByteOffset: decOff &+ idx &* 8, as: UInt64.self))
    }

    /// Class and key of an IP packet, as `TrafficClass.classify`, from the class table.
    @inlinable @inline(__always)
    func classAndKey(_ f: UnsafePointer<PacketFields>) -> (cls: Int, key: UInt16) {
        let t = classTable[Int(f.pointee.ipProto)]
        let icmp = UInt64(f.pointee.icmpType) &<< 8 | UInt64(f.pointee.icmpCode)
        let key = (UInt64(f.pointee.dstPort) & (t &>> 16)) | (icmp & (t &>> 32))
        return (Int(t & 0xFF), UInt16(truncatingIfNeeded: key))
    }

    /// The extended line a pair's line points at (format 3).
    @inlinable @inline(__always)
    func extendedLine(_ line: UnsafeRawPointer) -> UnsafeRawPointer {
        UnsafeRawPointer(extended + Int(line.load(fromByteOffset: 8, as: UInt32.self)))
    }

    /// A pair in an extended line or in `RuleTable`'s general layout (or an empty slot).
    @inlinable @inline(never)
    static func decideOutOfLine(_ line: UnsafeRawPointer, cls: Int, key: UInt16, blocks: RuleTable,
                                extended: UnsafeRawPointer, split: UnsafePointer<UInt64>) -> RuleDecision {
        let format = line.load(fromByteOffset: 4, as: UInt8.self)
        if format == formatSplit {
            guard let d = splitDecision(line, cls: cls, key: key, split: split) else { return .noDecision }
            return RuleDecision(bits: d.pointee)
        }
        if format == formatExtended {
            return decideExtended(extended + Int(line.load(fromByteOffset: 8, as: UInt32.self)), cls: cls, key: key)
        }
        if format != formatBlock { return .noDecision }
        return blocks.decide(block: line.load(fromByteOffset: 8, as: UInt32.self), cls: TrafficClass(rawValue: cls)!, key: key)
    }
}
