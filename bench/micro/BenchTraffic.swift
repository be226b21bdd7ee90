import GBPCore

/// Packets spread over the whole policy: 90% aimed at a random rule (consumer endpoint to
/// provider endpoint, protocol and port inside the rule), 10% between random endpoints of a
/// tenant (mostly no contract).
struct BenchTraffic {
    var fields: [PacketFields] = []
    var tenants: [UInt16] = []

    init(_ p: BenchPolicy, count: Int, seed: UInt64 = 2) {
        var rng = BenchRandom(state: seed)
        fields.reserveCapacity(count)
        let rules = p.spec.contracts.flatMap { c in c.rules.map { (c, $0) } }
        for _ in 0..<count {
            var f = PacketFields()
            f.kind = .ipv4
            f.etherType = 0x0800
            f.srcPort = UInt16.random(in: 1024...65535, using: &rng)
            f.tcpFlags = 0x02
            let tenant: Int
            if Int.random(in: 0..<10, using: &rng) == 0 || rules.isEmpty {
                tenant = Int.random(in: 0..<BenchPolicy.tenants, using: &rng)
                let groups = p.tenantGroups[tenant]
                f.src = p.members[groups.randomElement(using: &rng)!].randomElement(using: &rng)!
                f.dst = p.members[groups.randomElement(using: &rng)!].randomElement(using: &rng)!
                f.ipProto = 6
                f.dstPort = UInt16.random(in: 1...50_000, using: &rng)
            } else {
                let (c, r) = rules.randomElement(using: &rng)!
                tenant = Int(c.tenant.dropFirst(6))!
                f.src = p.members[BenchPolicy.id(c.consumers[0])].randomElement(using: &rng)!
                f.dst = p.members[BenchPolicy.id(c.providers[0])].randomElement(using: &rng)!
                switch r.proto {
                case .icmp: f.ipProto = 1; f.icmpType = 8; f.srcPort = f.srcPort & 0x7FFF; f.dstPort = f.srcPort
                case .udp: f.ipProto = 17
                default: f.ipProto = 6
                }
                if let range = r.ports.first { f.dstPort = UInt16(Int.random(in: range.first...range.last, using: &rng)) }
            }
            fields.append(f)
            tenants.append(UInt16(tenant))
        }
    }
}

/// One IPv4 packet in 16 bytes. The benchmarks stream these and expand each burst into a
/// small `PacketFields` buffer, as the runtime's parser would, so that the lookup tables,
/// not a 100-byte-per-packet input stream, are what gets measured.
struct BenchPacket {
    var src: UInt32
    var dst: UInt32
    var srcPort: UInt16
    var dstPort: UInt16
    var tenant: UInt16
    var proto: UInt8
    var icmpTypeOrFlags: UInt8

    init(tenant: UInt16, _ f: PacketFields) {
        src = f.src.v4; dst = f.dst.v4; srcPort = f.srcPort; dstPort = f.dstPort; self.tenant = tenant
        proto = f.ipProto; icmpTypeOrFlags = f.ipProto == 1 ? f.icmpType : f.tcpFlags
    }

    @inline(__always)
    func expand(into f: UnsafeMutablePointer<PacketFields>) {
        f.pointee.kind = .ipv4
        f.pointee.etherType = 0x0800
        f.pointee.src = IPAddress(v4: src)
        f.pointee.dst = IPAddress(v4: dst)
        f.pointee.srcPort = srcPort
        f.pointee.dstPort = dstPort
        f.pointee.ipProto = proto
        f.pointee.icmpType = proto == 1 ? icmpTypeOrFlags : 0
        f.pointee.tcpFlags = proto == 1 ? 0 : icmpTypeOrFlags
    }
}

extension BenchTraffic {
    var packets: [BenchPacket] { zip(tenants, fields).map { BenchPacket(tenant: $0, $1) } }
}

/// A 32-packet burst buffer, reused: fields, tenants, flow keys and verdicts.
struct BurstBuffer {
    static let size = 32
    let fields = UnsafeMutablePointer<PacketFields>.allocate(capacity: size)
    let tenants = UnsafeMutablePointer<UInt16>.allocate(capacity: size)
    let keys = UnsafeMutablePointer<FlowKey>.allocate(capacity: size)
    let verdicts = UnsafeMutablePointer<Verdict>.allocate(capacity: size)

    init() {
        fields.initialize(repeating: PacketFields(), count: Self.size)
        tenants.initialize(repeating: 0, count: Self.size)
        keys.initialize(repeating: FlowKey(src: .zero, dst: .zero, srcPort: 0, dstPort: 0, proto: 0, tenant: 0), count: Self.size)
        verdicts.initialize(repeating: .drop(.noContract), count: Self.size)
    }

    /// Expands packets[start ..< start + size] into the buffer, with their flow keys
    /// (conntrack: the runtime builds a `FlowKey` per packet for the flow table).
    @inline(__always)
    func load(_ packets: UnsafePointer<BenchPacket>, from start: Int) {
        for i in 0..<Self.size {
            let p = packets[start + i]
            p.expand(into: fields + i)
            tenants[i] = p.tenant
            keys[i] = FlowKey(tenant: p.tenant, fields: fields[i])
        }
    }

    /// The same without flow keys (classifier: `classify(burst:...)` takes tenants and
    /// fields only, so a runtime classifying without conntrack builds no `FlowKey`).
    @inline(__always)
    func loadFields(_ packets: UnsafePointer<BenchPacket>, from start: Int) {
        for i in 0..<Self.size {
            let p = packets[start + i]
            p.expand(into: fields + i)
            tenants[i] = p.tenant
        }
    }

    func free() { fields.deallocate(); tenants.deallocate(); keys.deallocate(); verdicts.deallocate() }
}
