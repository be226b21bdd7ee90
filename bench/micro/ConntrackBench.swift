import GBPCore

/// Conntrack rates: hits with 100k live TCP flows, and new flows admitted.
enum ConntrackBench {
    static let liveFlows = 100_000
    static let hitPackets = 1 << 18

    static func run(runs: Int) -> (hit: Double, new: Double) {
        let bench = BenchPolicy(endpoints: 10_000, rules: 1_000)
        guard let policy = try? CompiledPolicy.compile(bench.spec, epoch: 1) else { fatalError("policy rejected") }
        defer { policy.deallocate() }
        let openers = allowedSyns(bench, policy, count: liveFlows)
        // The table allocates its slots on transparent huge pages where the kernel allows, as
        // in gbpd (`TableMemory`): 8 MiB of random accesses thrash 4 KiB TLB entries.
        let table = FlowTable(capacity: 131_072, ticksPerSecond: 1_000_000_000)
        defer { table.deallocate() }

        // New flows: admit 100k SYNs into an empty table, timed; empty it, untimed.
        var newRate = 0.0
        for _ in 0..<runs {
            table.removeAll()
            let s = Stopwatch.seconds { admit(openers, table, policy) }
            newRate = max(newRate, Double(openers.count) / s / 1e6)
        }
        guard table.count == openers.count else { fatalError("admitted \(table.count) of \(openers.count)") }

        // Complete the handshakes, then replay ACKs of random flows in random directions.
        var replies: [(UInt16, PacketFields)] = []
        var acks: [(UInt16, PacketFields)] = []
        for (t, f) in openers {
            var r = f
            swap(&r.src, &r.dst); swap(&r.srcPort, &r.dstPort); r.tcpFlags = 0x12
            replies.append((t, r))
            var a = f
            a.tcpFlags = 0x10
            acks.append((t, a))
        }
        admit(replies, table, policy)
        admit(acks, table, policy)
        var rng = BenchRandom(state: 3)
        var hits: [(UInt16, PacketFields)] = []
        for _ in 0..<hitPackets {
            var (t, f) = acks.randomElement(using: &rng)!
            if Bool.random(using: &rng) { swap(&f.src, &f.dst); swap(&f.srcPort, &f.dstPort) }
            hits.append((t, f))
        }
        let before = table.counters.hits
        let stream = hits.map { BenchPacket(tenant: $0.0, $0.1) }
        let buffer = BurstBuffer()
        defer { buffer.free() }
        let hitRate = stream.withUnsafeBufferPointer { p in
            Stopwatch.bestRate(runs: runs, operations: p.count * 4) {
                for _ in 0..<4 {
                    var i = 0
                    while i < p.count {
                        buffer.load(p.baseAddress!, from: i)
                        table.track(burst: BurstBuffer.size, keys: buffer.keys, fields: buffer.fields, now: 1,
                                    policy: policy, verdicts: buffer.verdicts)
                        i += BurstBuffer.size
                    }
                }
            }
        }
        // The input expansion alone, for reference (not a result key).
        let expandRate = stream.withUnsafeBufferPointer { p in
            Stopwatch.bestRate(runs: runs, operations: p.count * 4) {
                for _ in 0..<4 {
                    var i = 0
                    while i < p.count {
                        buffer.load(p.baseAddress!, from: i)
                        i += BurstBuffer.size
                    }
                }
            }
        }
        print("  (input expansion alone: \(Int(expandRate)) Mpackets/s)")
        let counted = table.counters.hits - before
        guard counted == UInt64(hits.count * 4 * runs) else { fatalError("only \(counted) hits") }
        return (hitRate, newRate)
    }

    @inline(never)
    static func admit<C: Collection>(_ packets: C, _ table: FlowTable, _ policy: CompiledPolicy) where C.Element == (UInt16, PacketFields) {
        for (t, f) in packets {
            _ = table.track(key: FlowKey(tenant: t, fields: f), fields: f, now: 1, policy: policy)
        }
    }

    /// `count` distinct TCP SYNs that the policy allows.
    static func allowedSyns(_ bench: BenchPolicy, _ policy: CompiledPolicy, count: Int) -> [(UInt16, PacketFields)] {
        var out: [(UInt16, PacketFields)] = []
        var seed: UInt64 = 10
        var seen = Set<FlowKey>()
        while out.count < count {
            let traffic = BenchTraffic(bench, count: count, seed: seed)
            seed += 1
            for (t, f) in zip(traffic.tenants, traffic.fields) where out.count < count && f.ipProto == 6 {
                guard policy.classify(tenant: t, fields: f).allowed else { continue }
                let k = FlowKey(tenant: t, fields: f)
                if seen.insert(k).inserted && !seen.contains(k.reversed) { out.append((t, f)) }
            }
        }
        return out
    }
}
