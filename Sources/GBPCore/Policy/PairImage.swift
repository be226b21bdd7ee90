/// The rules of one linked (source group, destination group) pair, without their ids: what
/// decides how the pair's block (RuleTable) and line (RuleLineTable) look. Rule `i` is the
/// pair's i-th rule in id order, which is also their precedence order at equal priority
/// and action, so two pairs of equal shape compile to the same images whatever their rule
/// and contract ids: only the decisions written into them differ.
struct PairShape: Hashable {
    struct Rule: Hashable {
        var footprint: RuleFootprint
        var priority: UInt16
        var allow: Bool
        /// The rank of the rule's contract among the pair's contracts (a line holds the
        /// rules of one contract only in the inline format).
        var contractRank: UInt16
    }
    let rules: [Rule]
    let layout: RuleLineTable.Layout
    /// A digest of the fields above: the dictionary hashes it alone, and compares it
    /// before the rules.
    private let digest: UInt64

    init(rules: [Rule], layout: RuleLineTable.Layout) {
        self.rules = rules
        self.layout = layout
        var h: UInt64 = layout == .best ? 1 : layout == .extendedOrGeneral ? 2 : 3
        for r in rules {
            h = PolicyHash.mix(h, UInt64(r.footprint.classMask) | UInt64(r.priority) << 8 | UInt64(r.allow ? 1 : 0) << 24
                                  | UInt64(r.contractRank) << 32)
            for k in r.footprint.ranges { h = PolicyHash.mix(h, UInt64(k.lowerBound) | UInt64(k.upperBound) << 16 | 1 << 40) }
        }
        digest = h
    }

    func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    static func == (a: PairShape, b: PairShape) -> Bool {
        a.digest == b.digest && a.layout == b.layout && a.rules == b.rules
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
    var rules: [UInt32]
    var image: PairImage
}

/// Pair images by shape, kept from one compile to the next by `PolicyCompiler`: a policy
/// change recompiles only the pairs whose rules changed. Images no compile used lately are
/// dropped once they outnumber the pairs of the last compile.
struct PairImageCache {
    private var images: [PairShape: (image: PairImage, used: Int)] = [:]
    private var generation = 0
    /// Images the last compile built (did not find).
    private(set) var built = 0

    init() {}

    private mutating func image(for shape: PairShape) -> PairImage {
        if let i = images.index(forKey: shape) {
            images.values[i].used = generation
            return images.values[i].image
        }
        let image = PairImage(shape)
        images[shape] = (image, generation)
        built += 1
        return image
    }

    /// The linked pairs of `p` in key order, their images from this cache or built.
    mutating func pairs(of p: ResolvedPolicy, layout: RuleLineTable.Layout) -> [LinkedPair] {
        generation += 1
        built = 0
        let byPair = RuleTable.rulesByPair(p)
        var out: [LinkedPair] = []
        out.reserveCapacity(byPair.count)
        for key in byPair.keys.sorted() {
            let ids = byPair[key]!
            var rules: [PairShape.Rule] = []
            rules.reserveCapacity(ids.count)
            var rank: UInt16 = 0
            var lastContract = p.rules[Int(ids[0])].contract
            for id in ids {
                let r = p.rules[Int(id)]
                if r.contract != lastContract { rank += 1; lastContract = r.contract }  // contracts ascend with ids
                rules.append(.init(footprint: r.footprint, priority: r.priority, allow: r.allow, contractRank: rank))
            }
            out.append(LinkedPair(key: key, rules: ids, image: image(for: PairShape(rules: rules, layout: layout))))
        }
        if images.count > 2 * out.count + 64 { images = images.filter { $0.value.used == generation } }
        return out
    }
}
