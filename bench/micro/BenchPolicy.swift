import GBPCore

/// SplitMix64: seeded, so every run measures the same policy and traffic.
struct BenchRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A synthetic policy of a given size: 4 tenants, one group per ~20 endpoints (at least 8),
/// contracts of 10 rules between random (consumer, provider) group pairs of a tenant.
/// Rules: TCP and UDP allows on disjoint port ranges, a higher-priority TCP deny, and
/// ICMP echo; one IPv4 address per endpoint.
struct BenchPolicy {
    let spec: PolicySpec
    /// Per group id: its endpoints' IPv4 addresses.
    let members: [[IPAddress]]
    /// Per tenant id: group ids.
    let tenantGroups: [[Int]]

    static let tenants = 4
    static let rulesPerContract = 10

    init(endpoints: Int, rules: Int, seed: UInt64 = 1) {
        var rng = BenchRandom(state: seed)
        let groupCount = (max(8, endpoints / 20) + 3) / 4 * 4  // a multiple of the tenant count
        var spec = PolicySpec()
        var tenantGroups = [[Int]](repeating: [], count: Self.tenants)
        for t in 0..<Self.tenants { spec.tenants.append(TenantSpec(name: "tenant\(t)")) }
        for g in 0..<groupCount {
            let t = g % Self.tenants
            spec.groups.append(GroupSpec(name: "group\(g)", tenant: "tenant\(t)"))
            tenantGroups[t].append(g)
        }
        var members = [[IPAddress]](repeating: [], count: groupCount)
        for e in 0..<endpoints {
            let g = e % groupCount
            let t = g % Self.tenants
            // 10.x.y.z, unique per tenant (addresses overlap across tenants on purpose).
            let ip = IPAddress(v4: 0x0A00_0000 | UInt32(e / Self.tenants + 1))
            members[g].append(ip)
            spec.endpoints.append(EndpointSpec(
                name: "ep\(e)", port: "vhost\(e % 64)", mac: MACAddress(raw: 0x0200_0000_0000 | UInt64(e + 1)),
                ips: [ip], group: "group\(g)", tenant: "tenant\(t)"))
        }
        let contracts = max(1, rules / Self.rulesPerContract)
        for c in 0..<contracts {
            let t = c % Self.tenants
            let groups = tenantGroups[t]
            let consumer = groups.randomElement(using: &rng)!
            var provider = groups.randomElement(using: &rng)!
            if provider == consumer { provider = groups[(groups.firstIndex(of: consumer)! + 1) % groups.count] }
            // Disjoint 50-port slots per rule, so no rule shadows another.
            var slots = Array(0..<1000).shuffled(using: &rng).prefix(Self.rulesPerContract).makeIterator()
            var rs: [RuleSpec] = []
            for k in 0..<Self.rulesPerContract {
                let base = 1 + slots.next()! * 50
                let range = PortRange(base, base + Int.random(in: 0..<50, using: &rng))
                switch k {
                case 0: rs.append(RuleSpec(proto: .icmp, icmpType: 8))
                case 1: rs.append(RuleSpec(proto: .tcp, ports: [range], action: .deny, priority: 10))
                case 2, 3: rs.append(RuleSpec(proto: .udp, ports: [range]))
                default: rs.append(RuleSpec(proto: .tcp, ports: [range], log: k == 4))
                }
            }
            spec.contracts.append(ContractSpec(name: "contract\(c)", tenant: "tenant\(t)", providers: ["group\(provider)"],
                                               consumers: ["group\(consumer)"], rules: rs))
        }
        self.spec = spec
        self.members = members
        self.tenantGroups = tenantGroups
    }

    /// Group id of a group name "groupN".
    static func id(_ name: String) -> Int { Int(name.dropFirst(5))! }
}
