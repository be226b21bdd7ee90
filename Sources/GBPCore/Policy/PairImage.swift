/// The rules of one linked (source group, destination group) pair, without their ids: what
/// decides how the pair's block (RuleTable) and line (RuleLineTable) look. Rule `i` is the
/// pair's i-th rule in id order, which is also their precedence order at equal priority
/// and action, so two pairs of equal shape compile to the same images whatever their rule
/// and contract ids: only the decisions written into them differ.
struct PairShape: Equatable {
    struct Rule: Equatable {
        var footprint: RuleFootprint
        var priority: UInt16
        var allow: Bool
        /// The rank of the rule's contract among the pair's contracts (a line holds the
        /// rules of one contract only in the inline format).
        var contractRank: UInt16
    }
    let rules: [Rule]
    let layout: RuleLineTable.Layout
    /// A digest of the fields above (`PairImageCache` finds shapes by it).
    let digest: UInt64

    init(rules: [Rule], layout: RuleLineTable.Layout) {
        self.rules = rules
        self.layout = layout
        var h = Self.digest(layout)
        for r in rules { h = Self.digest(h, r) }
        digest = h
    }

    static func digest(_ layout: RuleLineTable.Layout) -> UInt64 {
        layout == .best ? 1 : layout == .extendedOrGeneral ? 2 : 3
    }

    static func digest(_ h: UInt64, _ r: Rule) -> UInt64 {
        var h = PolicyHash.mix(h, UInt64(r.footprint.classMask) | UInt64(r.priority) << 8 | UInt64(r.allow ? 1 : 0) << 24
                                  | UInt64(r.contractRank) << 32)
        for k in r.footprint.ranges { h = PolicyHash.mix(h, UInt64(k.lowerBound) | UInt64(k.upperBound) << 16 | 1 << 40) }
        return h
    }
}

/// A pair's tables compiled from its shape, with a slot for each decision: the assembly
/// (`RuleTable`, `RuleLineTable`) writes the decisions of the pair's real rules into them.
struct PairImage {
    /// `RuleTable`'s block: the class boundaries and interval starts (whole words), and
    /// per interval the pair's rule that decides it (or `CompiledRule.none`).
    let blockHead: [UInt64]
    let blockRules: [UInt32]
    let wide: Bool
    let line: Line
    /// For a split line: the line to use when the split decisions are full (at most
    /// 2^16 in a policy), else `.general`.
    let lineWithoutSplit: Line

    /// A line's bytes without its decisions, and the pair's rules whose decisions follow
    /// (inline: 4 bytes each; extended: 8 bytes each; split: in `splitDecisions`).
    enum Line {
        case inline(image: [UInt8], rules: [UInt32])
        case split(image: [UInt8], rules: [UInt32])
        case extended(image: [UInt8], rules: [UInt32])
        case general
    }

    init(_ shape: PairShape) {
        var classes: [[(start: UInt16, rule: UInt32)]] = []
        classes.reserveCapacity(TrafficClass.count)
        for c in 0..<TrafficClass.count {
            let bit = UInt8(1) << UInt8(c)
            var candidates: [RuleIntervalBuilder.Candidate] = []
            for (i, r) in shape.rules.enumerated() where r.footprint.classMask & bit != 0 {
                let id = UInt32(i)
                candidates.append(.init(rule: id, order: RulePrecedence.key(priority: r.priority, allow: r.allow, id: id),
                                        ranges: r.footprint.ranges))
            }
            classes.append(RuleIntervalBuilder.partition(candidates))
        }
        (blockHead, blockRules, wide) = Self.block(classes)
        let layout = shape.layout
        func extended() -> Line {
            guard layout != .generalOnly, let (image, rules) = RuleLineTable.extendedImage(classes) else { return .general }
            return .extended(image: image, rules: rules)
        }
        if layout == .best, let (image, rules) = RuleLineTable.inlineImage(classes, contractRank: { shape.rules[Int($0)].contractRank }) {
            line = .inline(image: image, rules: rules)
            lineWithoutSplit = .general  // not read
        } else if layout == .best, let (image, rules) = RuleLineTable.splitImage(classes) {
            line = .split(image: image, rules: rules)
            lineWithoutSplit = extended()
        } else {
            line = extended()
            lineWithoutSplit = line
        }
    }

    /// The general layout of RuleTable.swift: 8 class boundaries (16 or 32 bits), the
    /// interval starts, padded to whole words; the decisions follow at assembly.
    private static func block(_ classes: [[(start: UInt16, rule: UInt32)]]) -> ([UInt64], [UInt32], Bool) {
        var bounds = [UInt32](repeating: 0, count: 8)
        var starts: [UInt16] = []
        var rules: [UInt32] = []
        for c in 0..<TrafficClass.count {
            for (start, rule) in classes[c] {
                starts.append(start)
                rules.append(rule)
            }
            bounds[c + 1] = UInt32(starts.count)
        }
        let wide = starts.count > Int(UInt16.max)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 * 4 + starts.count * 2 + 8)
        for b in bounds {
            if wide { withUnsafeBytes(of: b) { bytes.append(contentsOf: $0) } } else {
                withUnsafeBytes(of: UInt16(b)) { bytes.append(contentsOf: $0) }
            }
        }
        for s in starts { withUnsafeBytes(of: s) { bytes.append(contentsOf: $0) } }
        while bytes.count % 8 != 0 { bytes.append(0) }
        let words = (0..<(bytes.count / 8)).map { w in
            bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8 * w, as: UInt64.self) }
        }
        return (words, rules, wide)
    }
}

/// A linked pair of a policy being compiled: its key (src << 16 | dst), its rules (ids,
/// ascending) and its image.
struct LinkedPair {
    var key: UInt32
    var rules: ArraySlice<UInt32>
    var image: PairImage

    /// The id of the pair's rule `local` (as the image numbers them).
    func rule(_ local: UInt32) -> UInt32 { rules[rules.startIndex + Int(local)] }
}

/// Pair images by shape, kept from one compile to the next by `PolicyCompiler`: a policy
/// change recompiles only the pairs whose rules changed. Images no compile used lately are
/// dropped once they outnumber the pairs of the last compile.
///
/// A pair's shape is found by its digest and compared with the pair's rules in place, so
/// that a pair found costs no allocation.
struct PairImageCache {
    private struct Known {
        var shape: PairShape
        var image: PairImage
        var used: Int
    }
    private var images: [UInt64: [Known]] = [:]
    private var count = 0
    private var generation = 0
    /// Images the last compile built (did not find).
    private(set) var built = 0

    init() {}

    /// The linked pairs of `p` in key order, their images from this cache or built.
    mutating func pairs(of p: ResolvedPolicy, layout: RuleLineTable.Layout) -> [LinkedPair] {
        generation += 1
        built = 0
        let links = RuleTable.pairRules(p)
        let ids = links.map { UInt32(truncatingIfNeeded: $0) }
        var out: [LinkedPair] = []
        var lo = 0
        while lo < links.count {
            let key = UInt32(truncatingIfNeeded: links[lo] >> 32)
            var hi = lo + 1
            while hi < links.count && links[hi] >> 32 == links[lo] >> 32 { hi += 1 }
            let rules = ids[lo..<hi]
            out.append(LinkedPair(key: key, rules: rules, image: image(for: rules, of: p, layout: layout)))
            lo = hi
        }
        if count > 2 * out.count + 64 {
            images = images.compactMapValues { known in
                let kept = known.filter { $0.used == generation }
                return kept.isEmpty ? nil : kept
            }
            count = out.count
        }
        return out
    }

    /// The shape of the pair whose rules are `ids`, rule by rule.
    private struct ShapeRules: Sequence, IteratorProtocol {
        let rules: [ResolvedPolicy.Rule]
        var ids: ArraySlice<UInt32>
        var rank: UInt16 = 0
        var lastContract: UInt16

        init(_ ids: ArraySlice<UInt32>, of p: ResolvedPolicy) {
            rules = p.rules
            self.ids = ids
            lastContract = p.rules[Int(ids.first!)].contract
        }

        mutating func next() -> PairShape.Rule? {
            guard let id = ids.popFirst() else { return nil }
            let r = rules[Int(id)]
            if r.contract != lastContract { rank += 1; lastContract = r.contract }  // contracts ascend with ids
            return PairShape.Rule(footprint: r.footprint, priority: r.priority, allow: r.allow, contractRank: rank)
        }
    }

    private mutating func image(for ids: ArraySlice<UInt32>, of p: ResolvedPolicy, layout: RuleLineTable.Layout) -> PairImage {
        var digest = PairShape.digest(layout)
        for r in ShapeRules(ids, of: p) { digest = PairShape.digest(digest, r) }
        if let i = images.index(forKey: digest) {
            for k in images.values[i].indices {
                let shape = images.values[i][k].shape
                guard shape.layout == layout, shape.rules.count == ids.count,
                      zip(shape.rules, ShapeRules(ids, of: p)).allSatisfy({ $0 == $1 }) else { continue }
                images.values[i][k].used = generation
                return images.values[i][k].image
            }
        }
        let shape = PairShape(rules: Array(ShapeRules(ids, of: p)), layout: layout)
        let image = PairImage(shape)
        images[digest, default: []].append(Known(shape: shape, image: image, used: generation))
        count += 1
        built += 1
        return image
    }
}
