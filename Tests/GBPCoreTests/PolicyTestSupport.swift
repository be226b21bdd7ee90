@testable import GBPCore

/// Builders shared by the policy, conntrack and differential tests.
enum PolicyFixtures {
    static func ip(_ s: String) -> IPAddress {
        guard let a = IPAddress(s) else { fatalError("bad address \(s)") }
        return a
    }

    static func mac(_ n: UInt64) -> MACAddress { MACAddress(raw: 0x02_00_00_00_00_00 | n) }

    static func ipPacket(_ src: String, _ dst: String, proto: UInt8, sport: UInt16 = 40000, dport: UInt16 = 0,
                         icmpType: UInt8 = 0, icmpCode: UInt8 = 0, tcpFlags: UInt8 = 0) -> PacketFields {
        var f = PacketFields()
        f.src = ip(src); f.dst = ip(dst)
        f.kind = f.src.isIPv4 ? .ipv4 : .ipv6
        f.etherType = f.src.isIPv4 ? 0x0800 : 0x86DD
        f.ipProto = proto
        f.srcPort = sport; f.dstPort = dport
        f.icmpType = icmpType; f.icmpCode = icmpCode
        f.tcpFlags = tcpFlags
        return f
    }

    static func tcp(_ src: String, _ dst: String, dport: UInt16, sport: UInt16 = 40000, flags: UInt8 = 0x02) -> PacketFields {
        ipPacket(src, dst, proto: 6, sport: sport, dport: dport, tcpFlags: flags)
    }

    static func udp(_ src: String, _ dst: String, dport: UInt16, sport: UInt16 = 40000) -> PacketFields {
        ipPacket(src, dst, proto: 17, sport: sport, dport: dport)
    }

    static func icmp(_ src: String, _ dst: String, type: UInt8, code: UInt8 = 0, id: UInt16 = 7) -> PacketFields {
        ipPacket(src, dst, proto: src.contains(":") ? 58 : 1, sport: id, dport: id, icmpType: type, icmpCode: code)
    }

    static func frame(src: MACAddress, dst: MACAddress, etherType: UInt16) -> PacketFields {
        var f = PacketFields()
        f.kind = etherType == 0x0806 ? .arp : .other
        f.srcMAC = src; f.dstMAC = dst; f.etherType = etherType
        return f
    }

    static func endpoint(_ name: String, _ group: String, _ ips: [String], mac n: UInt64, tenant: String = "t1",
                         port: String? = nil) -> EndpointSpec {
        EndpointSpec(name: name, port: port ?? "p-\(name)", mac: mac(n), ips: ips.map(ip), group: group, tenant: tenant)
    }

    static func compile(_ spec: PolicySpec, epoch: UInt32 = 1) -> CompiledPolicy {
        do {
            return try CompiledPolicy.compile(spec, epoch: epoch)
        } catch {
            fatalError("fixture policy rejected: \(error)")
        }
    }

    /// One tenant, groups web / app / db, two endpoints each; no contracts.
    static func threeTier(contracts: [ContractSpec] = [], intraDB: IntraGroupPolicy = .allow,
                          externals: [ExternalGroupSpec] = []) -> PolicySpec {
        PolicySpec(
            tenants: [TenantSpec(name: "t1")],
            groups: [GroupSpec(name: "web", tenant: "t1"), GroupSpec(name: "app", tenant: "t1"),
                     GroupSpec(name: "db", tenant: "t1", intraGroup: intraDB)],
            endpoints: [
                endpoint("web-1", "web", ["10.0.1.1", "2001:db8::1:1"], mac: 0x11),
                endpoint("web-2", "web", ["10.0.1.2"], mac: 0x12),
                endpoint("app-1", "app", ["10.0.2.1", "2001:db8::2:1"], mac: 0x21),
                endpoint("app-2", "app", ["10.0.2.2"], mac: 0x22),
                endpoint("db-1", "db", ["10.0.3.1"], mac: 0x31),
                endpoint("db-2", "db", ["10.0.3.2"], mac: 0x32),
            ],
            externalGroups: externals,
            contracts: contracts)
    }

    static func contract(_ name: String, providers: [String], consumers: [String], _ rules: [RuleSpec],
                         tenant: String = "t1", onPolicyChange: PolicyChangeMode = .recheck) -> ContractSpec {
        ContractSpec(name: name, tenant: tenant, providers: providers, consumers: consumers, rules: rules,
                     onPolicyChange: onPolicyChange)
    }
}

/// SplitMix64: small, seeded, reproducible.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
