import GBPCore

// Micro-benchmarks of the policy engine on one core. Human-readable lines first; the LAST
// line is one JSON object. Flags: --quick (3 runs), --no-curves, --classify-only, --ct-only,
// --swap-only, --cold (swaps: each compile after a churn of the heap and caches, as after
// gbpd's YAML parse of the reloaded file).
//
//   classify_mlps_1k / _100k   classifier lookups, burst API (parsed fields -> verdict, no conntrack),
//                              10k endpoints, 1k / 100k rules, traffic over the whole policy
//   ct_hit_mlps                conntrack hits with 100k live TCP flows, both directions
//   ct_new_mps                 new TCP flows classified and admitted
//   swap_compile_p50_ms / _p99_ms  CPU time of a contract-only recompile (one rule flipped) of the
//                              reload scenario's policy: 10k endpoints, 1k contracts, 4k rules
//
// Each figure is the best of several runs (by thread CPU time): the machine is shared.

let args = CommandLine.arguments
let runs = args.contains("--quick") ? 3 : 5
let swapOnly = args.contains("--swap-only")
let doClassify = !args.contains("--ct-only") && !swapOnly
let doConntrack = !args.contains("--classify-only") && !swapOnly
let doSwap = !args.contains("--ct-only") && !args.contains("--classify-only")
let doCurves = !args.contains("--no-curves")
let packetCount = 1 << 16
let repeats = 40
var results: [(String, Double)] = []
var sink = 0

@MainActor func report(_ key: String, _ value: Double, _ label: String) {
    results.append((key, value))
    print("\(label): \(format(value))")
}

func format(_ v: Double) -> String {
    let c = Int(v * 100 + 0.5)  // two decimals, without libm
    let frac = c % 100
    return "\(c / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
}

/// A compiled synthetic policy of a given size and its traffic, ready to be measured.
@MainActor final class ClassifyCase {
    let endpoints: Int, rules: Int
    let policy: CompiledPolicy
    let compileMs: Double
    let packets: [BenchPacket]
    let buffer = BurstBuffer()
    var allowed = 0

    init(endpoints: Int, rules: Int) {
        self.endpoints = endpoints; self.rules = rules
        let bench = BenchPolicy(endpoints: endpoints, rules: rules)
        var compiled: CompiledPolicy?
        let compileSeconds = Stopwatch.seconds { compiled = try? CompiledPolicy.compile(bench.spec, epoch: 1) }
        guard let policy = compiled else { fatalError("benchmark policy rejected: \(Policy.validate(bench.spec).prefix(3))") }
        self.policy = policy
        compileMs = compileSeconds * 1000
        packets = BenchTraffic(bench, count: packetCount).packets
        let layout = policy.pairLayout
        print("  (\(endpoints) endpoints, \(rules) rules: group pairs \(layout.inline) in one line, \(layout.split) split, \(layout.extended) extended, \(layout.general) general)")
    }

    func free() { policy.deallocate(); buffer.free() }

    /// One timed run of the burst API over the traffic, `repeats` times: Mlookups/s.
    func burstRun() -> Double {
        packets.withUnsafeBufferPointer { p in
            Stopwatch.bestRate(runs: 1, operations: packetCount * repeats) {
                for _ in 0..<repeats {
                    var i = 0
                    while i < packetCount {
                        buffer.loadFields(p.baseAddress!, from: i)
                        policy.classify(burst: BurstBuffer.size, tenants: buffer.tenants, fields: buffer.fields, verdicts: buffer.verdicts)
                        if buffer.verdicts[0].allowed { allowed &+= 1 }
                        i += BurstBuffer.size
                    }
                }
            }
        }
    }

    /// Best of `runs` runs of the burst API.
    func burstRate() -> Double { (0..<runs).map { _ in burstRun() }.max()! }

    /// One packet at a time, from the same input.
    func singleRate() -> Double {
        packets.withUnsafeBufferPointer { p in
            Stopwatch.bestRate(runs: max(1, runs / 2), operations: packetCount * 10) {
                for _ in 0..<10 {
                    var i = 0
                    while i < packetCount {
                        buffer.loadFields(p.baseAddress!, from: i)
                        for j in 0..<BurstBuffer.size where policy.classify(tenant: buffer.tenants[j], fields: buffer.fields[j]).allowed {
                            allowed &+= 1
                        }
                        i += BurstBuffer.size
                    }
                }
            }
        }
    }

    /// Burst and single classification must agree on every packet.
    func check() {
        packets.withUnsafeBufferPointer { p in
            let check = BurstBuffer()
            defer { check.free() }
            for i in stride(from: 0, to: packetCount, by: BurstBuffer.size) {
                check.load(p.baseAddress!, from: i)
                policy.classify(burst: BurstBuffer.size, tenants: check.tenants, fields: check.fields, verdicts: check.verdicts)
                for j in 0..<BurstBuffer.size where check.verdicts[j] != policy.classify(tenant: check.tenants[j], fields: check.fields[j]) {
                    fatalError("burst and single classification differ")
                }
            }
        }
        sink &+= allowed
    }
}

// MARK: Classifier

if doClassify {
// The two policies of the targets are measured in alternation, run by run, so that a
// change in the load of the shared machine affects both alike (their ratio is a target).
let k1 = ClassifyCase(endpoints: 10_000, rules: 1_000)
let k100 = ClassifyCase(endpoints: 10_000, rules: 100_000)
var best1 = 0.0, best100 = 0.0
for _ in 0..<runs {
    best1 = max(best1, k1.burstRun())
    best100 = max(best100, k100.burstRun())
}
report("classify_mlps_1k", best1, "classify, 10k endpoints, 1k rules (Mlookups/s)")
report("classify_single_mlps_1k", k1.singleRate(), "  one packet at a time (Mlookups/s)")
k1.check()
k1.free()
if doCurves {
    let k10 = ClassifyCase(endpoints: 10_000, rules: 10_000)
    report("classify_mlps_10k", k10.burstRate(), "classify, 10k endpoints, 10k rules (Mlookups/s)")
    k10.check()
    k10.free()
}
report("classify_mlps_100k", best100, "classify, 10k endpoints, 100k rules (Mlookups/s)")
report("classify_single_mlps_100k", k100.singleRate(), "  one packet at a time (Mlookups/s)")
k100.check()
results.append(("compile_ms_100k_rules", k100.compileMs))
print("compile 100k rules: \(format(k100.compileMs)) ms, \(k100.policy.pairs.intervalCount) intervals")
k100.free()
for e in doCurves ? [100, 1_000, 100_000] : [] {
    let c = ClassifyCase(endpoints: e, rules: 1_000)
    report("classify_mlps_1k_rules_\(e)_endpoints", c.burstRate(), "classify, \(e) endpoints, 1k rules (Mlookups/s)")
    c.check()
    c.free()
}
if doCurves {
    let c = ClassifyCase(endpoints: 100_000, rules: 100_000)
    report("classify_mlps_100k_rules_100k_endpoints", c.burstRate(), "classify, 100k endpoints, 100k rules (Mlookups/s)")
    c.check()
    c.free()
}
}

// MARK: Connection tracking

if doConntrack {
    let ctRates = ConntrackBench.run(runs: runs)
    report("ct_hit_mlps", ctRates.hit, "conntrack hits, 100k live flows (Mpackets/s)")
    report("ct_new_mps", ctRates.new, "conntrack new flows classified and admitted (Mflows/s)")
}

// MARK: Policy swaps

if doSwap {
    let (first, times) = SwapBench.run(swaps: swapOnly ? 200 : 100, cold: args.contains("--cold"))
    print("swap benchmark policy compiled from scratch in \(format(first)) ms; contract-only recompile min \(format(times[0])) ms")
    report("swap_compile_p50_ms", times[times.count / 2], "contract-only recompile, 10k endpoints, 4k rules, p50 (ms)")
    report("swap_compile_p99_ms", times[(times.count * 99 + 99) / 100 - 1], "  p99 (ms)")
}

if sink == 42 { print("") }  // keeps the work observable
print("{" + results.map { "\"\($0.0)\": \(format($0.1))" }.joined(separator: ", ") + "}")
