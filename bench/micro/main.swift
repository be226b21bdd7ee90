import GBPCore

// Micro-benchmarks of the policy engine on one core. Human-readable lines first; the LAST
// line is one JSON object. Flags: --quick (2 runs), --no-curves, --classify-only, --ct-only.
//
//   classify_mlps_1k / _100k   classifier lookups, burst API (parsed fields -> verdict, no conntrack),
//                              10k endpoints, 1k / 100k rules, traffic over the whole policy
//   ct_hit_mlps                conntrack hits with 100k live TCP flows, both directions
//   ct_new_mps                 new TCP flows classified and admitted
//
// Each figure is the best of several runs: the machine is shared.

let args = CommandLine.arguments
let runs = args.contains("--quick") ? 2 : 5
let doClassify = !args.contains("--ct-only")
let doConntrack = !args.contains("--classify-only")
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

/// Million classifications per second for a policy of the given size.
@MainActor func classifyRate(endpoints: Int, rules: Int) -> (rate: Double, single: Double, compileMs: Double, intervals: Int) {
    let bench = BenchPolicy(endpoints: endpoints, rules: rules)
    var compiled: CompiledPolicy?
    let compileSeconds = Stopwatch.seconds { compiled = try? CompiledPolicy.compile(bench.spec, epoch: 1) }
    guard let policy = compiled else { fatalError("benchmark policy rejected: \(Policy.validate(bench.spec).prefix(3))") }
    defer { policy.deallocate() }
    let traffic = BenchTraffic(bench, count: packetCount)
    var allowed = 0
    let packets = traffic.packets
    let buffer = BurstBuffer()
    defer { buffer.free() }
    let rate = packets.withUnsafeBufferPointer { p in
        Stopwatch.bestRate(runs: runs, operations: packetCount * repeats) {
            for _ in 0..<repeats {
                var i = 0
                while i < packetCount {
                    buffer.load(p.baseAddress!, from: i)
                    policy.classify(burst: BurstBuffer.size, tenants: buffer.tenants, fields: buffer.fields, verdicts: buffer.verdicts)
                    if buffer.verdicts[0].allowed { allowed &+= 1 }
                    i += BurstBuffer.size
                }
            }
        }
    }
    // One packet at a time, from the same input, checked against the burst verdicts.
    let single = packets.withUnsafeBufferPointer { p in
        Stopwatch.bestRate(runs: max(1, runs / 2), operations: packetCount * 10) {
            for _ in 0..<10 {
                var i = 0
                while i < packetCount {
                    buffer.load(p.baseAddress!, from: i)
                    for j in 0..<BurstBuffer.size where policy.classify(tenant: buffer.tenants[j], fields: buffer.fields[j]).allowed {
                        allowed &+= 1
                    }
                    i += BurstBuffer.size
                }
            }
        }
    }
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
    return (rate, single, compileSeconds * 1000, policy.pairs.intervalCount)
}

// MARK: Classifier

if doClassify {
let k1 = classifyRate(endpoints: 10_000, rules: 1_000)
report("classify_mlps_1k", k1.rate, "classify, 10k endpoints, 1k rules (Mlookups/s)")
report("classify_single_mlps_1k", k1.single, "  one packet at a time (Mlookups/s)")
if doCurves {
    let k10 = classifyRate(endpoints: 10_000, rules: 10_000)
    report("classify_mlps_10k", k10.rate, "classify, 10k endpoints, 10k rules (Mlookups/s)")
}
let k100 = classifyRate(endpoints: 10_000, rules: 100_000)
report("classify_mlps_100k", k100.rate, "classify, 10k endpoints, 100k rules (Mlookups/s)")
report("classify_single_mlps_100k", k100.single, "  one packet at a time (Mlookups/s)")
results.append(("compile_ms_100k_rules", k100.compileMs))
print("compile 100k rules: \(format(k100.compileMs)) ms, \(k100.intervals) intervals")
for e in doCurves ? [100, 1_000, 100_000] : [] {
    let r = classifyRate(endpoints: e, rules: 1_000)
    report("classify_mlps_1k_rules_\(e)_endpoints", r.rate, "classify, \(e) endpoints, 1k rules (Mlookups/s)")
}
if doCurves {
    let e100k = classifyRate(endpoints: 100_000, rules: 100_000)
    report("classify_mlps_100k_rules_100k_endpoints", e100k.rate, "classify, 100k endpoints, 100k rules (Mlookups/s)")
}
}

// MARK: Connection tracking

if doConntrack {
    let ctRates = ConntrackBench.run(runs: runs)
    report("ct_hit_mlps", ctRates.hit, "conntrack hits, 100k live flows (Mpackets/s)")
    report("ct_new_mps", ctRates.new, "conntrack new flows classified and admitted (Mflows/s)")
}

if sink == 42 { print("") }  // keeps the work observable
print("{" + results.map { "\"\($0.0)\": \(format($0.1))" }.joined(separator: ", ") + "}")
