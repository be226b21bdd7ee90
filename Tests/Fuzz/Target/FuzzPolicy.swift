import GBPCore

/// The fixed policy the fuzz target classifies against. Its addresses are the ones the
/// seed corpus uses (bench/trafficgen/HostileTraffic.swift, `HostileNet`), so that
/// mutated seeds reach every verdict: endpoints, an external group, every rule kind.
enum FuzzPolicy {
    static let shop: UInt16 = 0
    static let other: UInt16 = 1

    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }
    static func mac(_ s: String) -> MACAddress { MACAddress(s)! }

    static let spec = PolicySpec(
        tenants: [TenantSpec(name: "shop"), TenantSpec(name: "other")],
        groups: [
            GroupSpec(name: "frontend", tenant: "shop"), GroupSpec(name: "backend", tenant: "shop"),
            GroupSpec(name: "db", tenant: "shop", intraGroup: .deny), GroupSpec(name: "misc", tenant: "other"),
        ],
        endpoints: [
            EndpointSpec(name: "f1", port: "pa", mac: mac("02:00:00:00:0a:01"), ips: [ip("10.0.0.1"), ip("fd00::1")],
                         group: "frontend", tenant: "shop"),
            EndpointSpec(name: "b1", port: "pb", mac: mac("02:00:00:00:0b:01"), ips: [ip("10.0.0.2"), ip("fd00::2")],
                         group: "backend", tenant: "shop"),
            EndpointSpec(name: "d1", port: "pc", mac: mac("02:00:00:00:0d:01"), ips: [ip("10.0.0.4")], group: "db", tenant: "shop"),
            EndpointSpec(name: "d2", port: "pc", mac: mac("02:00:00:00:0d:02"), ips: [ip("10.0.0.5")], group: "db", tenant: "shop"),
            // Same address as b1, other tenant: tenants must not see each other.
            EndpointSpec(name: "y1", port: "pc", mac: mac("02:00:00:00:0c:01"), ips: [ip("10.0.0.2")], group: "misc", tenant: "other"),
        ],
        externalGroups: [
            ExternalGroupSpec(name: "internet", tenant: "shop", cidrs: ["0.0.0.0/0", "::/0"],
                              except: ["10.0.0.0/8", "fd00::/8"]),
        ],
        contracts: [
            ContractSpec(name: "web", tenant: "shop", providers: ["backend"], consumers: ["frontend"], rules: [
                RuleSpec(name: "http", proto: .tcp, ports: [PortRange(80), PortRange(8080, 8089)]),
                RuleSpec(name: "dns", proto: .udp, ports: [PortRange(53)], log: true),
                RuleSpec(name: "sctp", proto: .sctp, ports: [PortRange(9899)]),
                RuleSpec(name: "ping", proto: .icmp, icmpType: 8),
                RuleSpec(name: "ping6", proto: .icmpv6, icmpType: 128),
                RuleSpec(name: "lldp", proto: .etherType(0x88CC)),
                RuleSpec(name: "no-admin", proto: .tcp, ports: [PortRange(1, 1023)], action: .deny, priority: 10),
            ]),
            ContractSpec(name: "db", tenant: "shop", providers: ["db"], consumers: ["backend"], rules: [
                RuleSpec(name: "pg", proto: .tcp, ports: [PortRange(5432)]),
                RuleSpec(name: "any-back", proto: .any, direction: .providerToConsumer),
            ], onPolicyChange: .keep),
            ContractSpec(name: "public", tenant: "shop", providers: ["frontend"], consumers: ["internet"], rules: [
                RuleSpec(name: "https", proto: .tcp, ports: [PortRange(443)]),
            ]),
        ])

    /// Compiled once per process; never freed.
    static let compiled: CompiledPolicy = {
        do { return try CompiledPolicy.compile(spec, epoch: 1) } catch { fatalError("fuzz policy rejected: \(error)") }
    }()

    /// The same policy under a later epoch: connections admitted under `compiled` are rechecked.
    static let recompiled: CompiledPolicy = {
        do { return try CompiledPolicy.compile(spec, epoch: 2) } catch { fatalError("fuzz policy rejected: \(error)") }
    }()
}
