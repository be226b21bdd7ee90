import GBPCore

/// Contract-only policy swaps as `bench/run`'s reload scenario makes them, without DPDK:
/// the policy of `gbp-trafficgen policy-bench` (10k endpoints in 200 groups, 1000 contracts
/// between one consumer and one provider group, 4 rules each), and a `PolicyCompiler`
/// compiling it again and again with one rule's action flipped. Reports the thread CPU
/// time per compile (the compile part of gbpd's `policy_swaps[].compile_ms`).
enum SwapBench {
    static func spec(endpoints: Int = 10_000, groups: Int = 200, contracts: Int = 1000) -> PolicySpec {
        var spec = PolicySpec(tenants: [TenantSpec(name: "bench")])
        let half = groups / 2
        for i in 0..<half { spec.groups.append(GroupSpec(name: "c\(i)", tenant: "bench")) }
        for j in 0..<half { spec.groups.append(GroupSpec(name: "p\(j)", tenant: "bench")) }
        for e in 0..<endpoints {
            let g = e % groups
            let name = g < half ? "c\(g)" : "p\(g - half)"
            spec.endpoints.append(EndpointSpec(
                name: "e\(e)", port: g < half ? "in" : "out", mac: MACAddress(raw: 0x0200_0000_0000 | UInt64(e + 1)),
                ips: [IPAddress(v4: 0x0A00_0000 | UInt32(e + 1))], group: name, tenant: "bench"))
        }
        for c in 0..<contracts {
            let consumer = c % half, provider = (c % half + c / half) % half
            let b = 10_000 + 32 * c, t = 40_000 + 16 * (c % 1000)
            spec.contracts.append(ContractSpec(name: "k\(c)", tenant: "bench", providers: ["p\(provider)"], consumers: ["c\(consumer)"], rules: [
                RuleSpec(name: "udp-deny", proto: .udp, ports: [PortRange(b + 15)], action: .deny, priority: 10),
                RuleSpec(name: "udp", proto: .udp, ports: [PortRange(b, b + 15)]),
                RuleSpec(name: "https", proto: .tcp, ports: [PortRange(443), PortRange(8443)]),
                RuleSpec(name: "tcp-range", proto: .tcp, ports: [PortRange(t, t + 99)]),
            ]))
        }
        return spec
    }

    /// CPU milliseconds of the first compile and of `swaps` contract-only ones (sorted).
    /// Every compile gets a spec of its own, as gbpd parses the file again for each reload
    /// (equal arrays in separate storage compare element by element). `cold`: before each
    /// compile, a 64 MB sweep and a million small arrays, half of them freed before the
    /// spec is built, so that it lands in holes all over the heap.
    static func run(swaps: Int, cold: Bool = false) -> (first: Double, swaps: [Double]) {
        let base = spec()
        var compiler = PolicyCompiler()
        defer { compiler.deallocate() }
        var last: CompiledPolicy?
        func compile(_ s: PolicySpec, _ epoch: UInt32) -> Double {
            var out: CompiledPolicy?
            let t = Stopwatch.seconds { out = try? compiler.compile(s, epoch: epoch).0 }
            guard let out else { fatalError("swap benchmark policy rejected: \(Policy.validate(s).prefix(3))") }
            last?.deallocate()
            last = out
            return t * 1000
        }
        let first = compile(base, 1)
        var times: [Double] = []
        let sweepWords = cold ? 8 << 20 : 8
        let sweep = UnsafeMutablePointer<UInt64>.allocate(capacity: sweepWords)
        sweep.initialize(repeating: 1, count: sweepWords)
        defer { sweep.deallocate() }
        var junk: [[Int]] = []
        for i in 0..<swaps {
            if cold {
                for k in stride(from: 0, to: sweepWords, by: 8) { sweep[k] &+= 1 }
                junk = (0..<1_000_000).map { [$0, i, $0 % 7] }
                for k in stride(from: 0, to: junk.count, by: 2) { junk[k] = [] }
            }
            var next = spec()
            if cold { junk = [] }
            if i % 2 == 0 { next.contracts[0].rules[0].action = .allow }
            times.append(compile(next, UInt32(i + 2)))
        }
        last?.deallocate()
        if junk.count == 42 { print("") }
        return (first, times.sorted())
    }
}
