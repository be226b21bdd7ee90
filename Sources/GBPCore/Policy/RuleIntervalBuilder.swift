/// Precomputes, for one (source group, destination group, traffic class), which rule wins
/// at every key (port, ICMP type/code or EtherType): the rules' key ranges cut the 16-bit
/// key space into elementary intervals, and the rules, taken in precedence order, each
/// claim the intervals no earlier rule claimed. A union-find "next unclaimed" pointer makes
/// every interval claimed once, so the cost is O(R log R + I) for R rules and I intervals.
struct RuleIntervalBuilder {
    /// A rule as the builder needs it: its id, precedence key and key ranges.
    struct Candidate {
        var rule: UInt32
        var order: UInt64
        var ranges: [ClosedRange<UInt16>]
    }

    /// The partition of 0...65535 as (interval start, winning rule or `CompiledRule.none`),
    /// first start 0, no two neighbours with the same rule. Empty for no candidates.
    static func partition(_ candidates: [Candidate]) -> [(start: UInt16, rule: UInt32)] {
        if candidates.isEmpty { return [] }
        var bounds: [Int] = [0]
        for c in candidates {
            for r in c.ranges {
                bounds.append(Int(r.lowerBound))
                if r.upperBound < .max { bounds.append(Int(r.upperBound) + 1) }
            }
        }
        bounds.sort()
        var unique: [Int] = []
        unique.reserveCapacity(bounds.count)
        for b in bounds where unique.last != b { unique.append(b) }
        let n = unique.count
        var winner = [UInt32](repeating: CompiledRule.none, count: n)
        var next = Array(0...n)  // next[i]: some index >= i that may be unclaimed; n = end

        func find(_ i: Int) -> Int {
            var root = i
            while next[root] != root { root = next[root] }
            var j = i
            while next[j] != root { let k = next[j]; next[j] = root; j = k }
            return root
        }
        /// Index of the last bound <= x.
        func index(_ x: Int) -> Int {
            var lo = 0, hi = n  // invariant: unique[lo] <= x < unique[hi] (hi == n: +inf)
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if unique[mid] <= x { lo = mid } else { hi = mid }
            }
            return lo
        }

        for c in candidates.sorted(by: { $0.order < $1.order }) {
            for r in c.ranges {
                let last = index(Int(r.upperBound))
                var k = find(index(Int(r.lowerBound)))
                while k <= last {
                    winner[k] = c.rule
                    next[k] = k + 1
                    k = find(k + 1)
                }
            }
        }
        var out: [(start: UInt16, rule: UInt32)] = []
        for i in 0..<n where out.last?.rule != winner[i] {
            out.append((UInt16(unique[i]), winner[i]))
        }
        return out
    }
}
