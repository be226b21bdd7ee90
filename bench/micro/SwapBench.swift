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
    /// (equal arrays in separate storage compare element by element).
    static func run(swaps: Int) -> (first: Double, swaps: [Double]) {
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
        for i in 0..<swaps {
            var next = spec()
            if i % 2 == 0 { next.contracts[0].rules[0].action = .allow }
            times.append(compile(next, UInt32(i + 2)))
        }
        last?.deallocate()
        return (first, times.sorted())
    }
}
