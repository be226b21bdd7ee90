/// Perfect hashing for the immutable lookup tables (endpoints by IPv4, rule lines by group
/// pair), by "hash and displace" (as in CHD): keys are spread over buckets by the top bits
/// of their hash, and each bucket gets a 32-bit displacement chosen at compile time, xored
/// into the low bits of the hash, so that all keys of all buckets land in distinct slots. A lookup is then one read of the
/// (small, cache-resident) displacement array and one read of the slot: no probing, no
/// loop, the same cost for keys that are present and keys that are not (the slot's key
/// tells which).
@frozen @usableFromInline
struct PerfectHashShape {
    /// Displacement per bucket; `1 << bucketBits` entries.
    @usableFromInline let displacements: UnsafeMutablePointer<UInt32>
    /// `64 - bucketBits` (below 64), and `slotCount - 1`.
    @usableFromInline let bucketShift: UInt64
    @usableFromInline let slotMask: Int
    /// Mixed into every key's hash; chosen at build time.
    @usableFromInline let seed: UInt64
    @usableFromInline let slotCount: Int

    @inlinable @inline(__always)
    static func slot(hash h: UInt64, displacement d: UInt32, mask: Int) -> Int {
        Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: h) ^ d) & mask
    }

    /// The slot of a key whose hash (with `seed` mixed in) is `h`: bucket from the top bits,
    /// slot from the low bits xor the bucket's displacement.
    @inlinable @inline(__always)
    func slot(_ h: UInt64) -> Int {
        let d = displacements[Int(truncatingIfNeeded: h &>> bucketShift)]
        return PerfectHashShape.slot(hash: h, displacement: d, mask: slotMask)
    }

    /// Builds a shape for `count` keys whose hashes under a seed are `hashes(seed)`, with
    /// at least `count * 5 / 4` slots (a power of two). Returns the shape and each key's slot.
    static func build(count: Int, minSlots: Int = 8, hashes: (UInt64) -> [UInt64]) -> (PerfectHashShape, [Int]) {
        var slotBits = 3
        while (1 << slotBits) < max(minSlots, count + count / 4 + 1) { slotBits += 1 }
        var bucketBits = 1
        while (1 << bucketBits) * 4 < count { bucketBits += 1 }
        var seed: UInt64 = 0x243F_6A88_85A3_08D3
        var attempt = 0
        while true {
            let h = hashes(seed)
            if let (disp, slots) = place(h, bucketBits: bucketBits, slotBits: slotBits) {
                let d = UnsafeMutablePointer<UInt32>.allocate(capacity: disp.count)
                d.initialize(from: disp, count: disp.count)
                return (PerfectHashShape(displacements: d, bucketShift: UInt64(64 - bucketBits),
                                         slotMask: (1 << slotBits) - 1, seed: seed, slotCount: 1 << slotBits), slots)
            }
            attempt += 1
            seed = seed &* 0x5851_F42D_4C95_7F2D &+ 0x1405_7B7E_F767_814F
            if attempt % 8 == 0 { slotBits += 1 }  // crowded: give it more room
        }
    }

    /// Displacements for every bucket, largest buckets first, or nil when some bucket fits
    /// nowhere (two keys of a bucket with the same low hash bits fit nowhere: another seed).
    private static func place(_ h: [UInt64], bucketBits: Int, slotBits: Int) -> ([UInt32], [Int])? {
        let bucketCount = 1 << bucketBits
        let bShift = UInt64(64 - bucketBits), sMask = (1 << slotBits) - 1
        var members = [[Int]](repeating: [], count: bucketCount)
        for (i, x) in h.enumerated() { members[Int(truncatingIfNeeded: x &>> bShift)].append(i) }
        let sizes: [Int] = members.map { $0.count }
        let used: [Int] = (0..<bucketCount).filter { sizes[$0] > 0 }
        let order: [Int] = used.sorted { (a: Int, b: Int) -> Bool in
            sizes[a] != sizes[b] ? sizes[a] > sizes[b] : a < b
        }
        // Keys of one bucket keep their low-bit differences whatever the displacement.
        for keys in members where keys.count > 1 {
            for a in 0..<keys.count {
                for b in (a + 1)..<keys.count where (h[keys[a]] ^ h[keys[b]]) & UInt64(sMask) == 0 { return nil }
            }
        }
        var taken = [Bool](repeating: false, count: 1 << slotBits)
        var disp = [UInt32](repeating: 0, count: bucketCount)
        var slotOf = [Int](repeating: 0, count: h.count)
        var trial: [Int] = []
        for b in order {
            let keys = members[b]
            var placed = false
            // Displacements 0, 1, 2, ... move the bucket's keys together over the table.
            for d in 0..<UInt32(1 << slotBits) {  // d * odd covers every low-bit pattern once
                trial.removeAll(keepingCapacity: true)
                var ok = true
                for k in keys {
                    let s = slot(hash: h[k], displacement: d &* 0x9E37_79B9, mask: sMask)
                    if taken[s] || trial.contains(s) { ok = false; break }
                    trial.append(s)
                }
                if !ok { continue }
                for (k, s) in zip(keys, trial) { taken[s] = true; slotOf[k] = s }
                disp[b] = d &* 0x9E37_79B9
                placed = true
                break
            }
            if !placed { return nil }
        }
        return (disp, slotOf)
    }

    /// An independent copy (its own displacement array).
    func copy() -> PerfectHashShape {
        let buckets = 1 << (64 - Int(bucketShift))
        let d = UnsafeMutablePointer<UInt32>.allocate(capacity: buckets)
        d.initialize(from: displacements, count: buckets)
        return PerfectHashShape(displacements: d, bucketShift: bucketShift, slotMask: slotMask, seed: seed, slotCount: slotCount)
    }

    func deallocate() { displacements.deallocate() }
}
