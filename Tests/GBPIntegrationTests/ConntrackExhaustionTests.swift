import Foundation
import GBPCore
import Testing

/// A SYN flood of ten times the connection table through gbpd, with per-tenant budgets:
/// established flows of both tenants keep flowing, the flood's new connections beyond
/// its tenant's share are dropped with `conntrack_tenant_budget`, and the other tenant
/// still opens new connections. The table is allocated once at start (capacity 64 here)
/// and never grows: memory stays flat by construction, and the entries at exit are
/// within the two budgets.
@Suite(.serialized)
struct ConntrackExhaustionTests {
    // Both tenants use the same MACs' layout and the same addresses: conntrack keys include the tenant.
    let macF = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!
    let macX = MACAddress("02:00:00:00:0c:01")!, macY = MACAddress("02:00:00:00:0d:01")!
    let ip1 = IPAddress("10.0.0.1")!, ip2 = IPAddress("10.0.0.2")!

    static let capacity = 64, established = 8, floodSize = 10 * 64, otherNew = 20

    func config(_ g: GBPDProcess, budget: Double) -> String {
        """
        \(g.pcapHeader(ports: ["pa", "pb", "pc", "pd"]))
        tenants: [{ name: shop }, { name: other }]
        groups:
          - { name: client, tenant: shop }
          - { name: server, tenant: shop }
          - { name: client, tenant: other }
          - { name: server, tenant: other }
        endpoints:
          - { name: f1, tenant: shop, group: client, port: pa, mac: "\(macF)", ips: [10.0.0.1] }
          - { name: b1, tenant: shop, group: server, port: pb, mac: "\(macB)", ips: [10.0.0.2] }
          - { name: x1, tenant: other, group: client, port: pc, mac: "\(macX)", ips: [10.0.0.1] }
          - { name: y1, tenant: other, group: server, port: pd, mac: "\(macY)", ips: [10.0.0.2] }
        contracts:
          - { name: web, tenant: shop, providers: [server], consumers: [client], rules: [{ protocol: tcp, ports: [80] }, { protocol: udp, ports: [80] }] }
          - { name: web, tenant: other, providers: [server], consumers: [client], rules: [{ protocol: udp, ports: [80] }] }
        conntrack: { capacity: \(Self.capacity), tenant_budget: \(budget) }
        run: { stop_when_inputs_drained: true, stats_interval_s: 0 }
        """
    }

    /// shop (pa): 8 UDP flows, then the flood, each 10 SYNs followed by one packet of every
    /// established flow. other (pc): 8 UDP flows, then one packet of each per 40 frames
    /// with 20 new flows in between.
    func writeInputs(_ g: GBPDProcess) throws -> (shopEstablished: Int, other: Int) {
        func udp(_ src: MACAddress, _ dst: MACAddress, _ sport: UInt16) -> [UInt8] {
            PacketBuilder.udp(srcMAC: src, dstMAC: dst, src: ip1, dst: ip2, srcPort: sport, dstPort: 80)
        }
        var shop = (0..<Self.established).map { udp(macF, macB, UInt16(1000 + $0)) }
        var shopEstablished = shop.count
        for i in 0..<Self.floodSize {
            shop.append(PacketBuilder.tcp(srcMAC: macF, dstMAC: macB, src: ip1, dst: ip2, srcPort: UInt16(10_000 + i), dstPort: 80, flags: .syn))
            if i % 10 == 9 {
                shop += (0..<Self.established).map { udp(macF, macB, UInt16(1000 + $0)) }
                shopEstablished += Self.established
            }
        }
        try g.writePcap("pa-in.pcap", shop)
        var other = (0..<Self.established).map { udp(macX, macY, UInt16(1000 + $0)) }
        for i in 0..<Self.otherNew {
            other += (0..<Self.established).map { udp(macX, macY, UInt16(1000 + $0)) }
            other += Array(repeating: udp(macX, macY, UInt16(2000 + i)), count: 2)   // a new flow, then a hit
        }
        try g.writePcap("pc-in.pcap", other)
        try g.writePcap("pb-in.pcap", [])
        try g.writePcap("pd-in.pcap", [])
        return (shopEstablished, other.count)
    }

    @Test func synFloodOfTenTimesTheTableWithTenantBudgets() throws {
        let g = try GBPDProcess("ct-flood")
        defer { g.cleanUp() }
        let sent = try writeInputs(g)
        let r = try g.run(config: config(g, budget: 0.5))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")

        let limit = Self.capacity / 2
        let admittedSYNs = limit - Self.established
        let shopOut = try g.readPcap("pb-out.pcap")
        // Every packet of the established flows, and the SYNs that fit in shop's budget.
        #expect(shopOut.filter { $0[23] == 17 }.count == sent.shopEstablished)
        #expect(shopOut.filter { $0[23] == 6 }.count == admittedSYNs)
        // Tenant other lost nothing: old flows, new flows.
        #expect(try g.readPcap("pd-out.pcap").count == sent.other)

        #expect(r.drop(.conntrackTenantBudget) == Self.floodSize - admittedSYNs)
        #expect(r.drop(.conntrackFull) == 0)
        #expect(r.int("dropped") == Self.floodSize - admittedSYNs)
        #expect(r.int("rx") == r.int("tx") + r.int("dropped"))
        #expect(r.int("mempool_in_use_at_exit") == 0)
        let ct = r.stats?["conntrack"] as? [String: Any]
        #expect(ct?["budget_drops"] as? Int == Self.floodSize - admittedSYNs)
        #expect(ct?["entries"] as? Int == limit + Self.established + Self.otherNew, "\(ct ?? [:])")
    }
}
