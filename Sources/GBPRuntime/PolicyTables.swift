import CDPDK
import GBPCore

/// The compiled policy plus what ties it to this dataplane's ports: which tenant
/// each port belongs to, where each tenant's uplink is, and which runtime port an
/// endpoint's port name stands for. Built on the control thread, read by workers:
/// pointers and integers only, so workers copy it without reference counting (the
/// names live on the control side, in `PolicyNames`).
@frozen
public struct PolicyTables: @unchecked Sendable {
    public static let noTenant: UInt16 = 0xFFFF

    public let compiled: CompiledPolicy
    /// Runtime port index -> tenant id (`noTenant`: the port carries no tenant).
    @usableFromInline let portTenant: UnsafeMutablePointer<UInt16>
    @usableFromInline let portIsUplink: UnsafeMutablePointer<Bool>
    /// Tenant id -> its uplink's runtime port index, or -1.
    @usableFromInline let tenantUplink: UnsafeMutablePointer<Int32>
    /// Endpoint port id (`EndpointRecord.port`) -> runtime port index, or -1.
    @usableFromInline let endpointPort: UnsafeMutablePointer<Int32>
    /// Tenant id -> its ports, for flooding inside a tenant: `floodPorts[floodStart[t] ..< floodStart[t+1]]`.
    @usableFromInline let floodStart: UnsafeMutablePointer<Int32>
    @usableFromInline let floodPorts: UnsafeMutablePointer<Int32>
    /// Per worker, per rule: packets and bytes (16 bytes, all an allowed packet touches),
    /// then per worker, per rule: denied packets (allowed = packets - denied). They belong
    /// to this snapshot: rule ids mean nothing under another one.
    @usableFromInline let ruleCounterBlock: UnsafeMutablePointer<UInt64>
    /// Per endpoint id: its MAC in the low 48 bits and its runtime port in the top 16
    /// (0xFFFF: not a port of this dataplane). 8 bytes an endpoint, so the source check
    /// and the output port cost one load that stays in L2 for 10k endpoints.
    @usableFromInline let endpointMACPort: UnsafeMutablePointer<UInt64>
    /// Tenant id -> its gateway's MAC (`MACAddress.raw`, `UInt64.max` without a gateway), and
    /// its addresses `gatewayIPs[gatewayStart[t] ..< gatewayStart[t+1]]`.
    @usableFromInline let gatewayMAC: UnsafeMutablePointer<UInt64>
    @usableFromInline let gatewayStart: UnsafeMutablePointer<Int32>
    @usableFromInline let gatewayIPs: UnsafeMutablePointer<IPAddress>
    public let workerCount: Int
    /// Some rule has `log: true` (else the flow log only takes denied packets, if asked to).
    public let logsRules: Bool

    /// `ports` are the runtime's port slots (name, tenant name or nil, uplink?), nil for a free slot.
    public init(spec: PolicySpec, names: PolicyNames, compiled: CompiledPolicy, ports: [(name: String, tenant: String?, uplink: Bool)?],
                workers: Int) {
        self.compiled = compiled
        workerCount = workers
        logsRules = (0..<compiled.ruleCount).contains { compiled.rule(UInt32($0)).log }
        let slots = max(workers * compiled.ruleCount * 3, 1)
        ruleCounterBlock = .allocate(capacity: slots)
        ruleCounterBlock.initialize(repeating: 0, count: slots)
        let tenants = max(compiled.tenantCount, 1)
        portTenant = .allocate(capacity: max(ports.count, 1))
        portIsUplink = .allocate(capacity: max(ports.count, 1))
        tenantUplink = .allocate(capacity: tenants)
        tenantUplink.initialize(repeating: -1, count: tenants)
        var runtimeIndex: [String: Int] = [:]
        for (i, slot) in ports.enumerated() {
            guard let p = slot else {
                (portTenant + i).initialize(to: Self.noTenant)
                (portIsUplink + i).initialize(to: false)
                continue
            }
            runtimeIndex[p.name] = i
            // A port without a declared tenant takes the tenant of its endpoints.
            let tenantName = p.tenant ?? spec.endpoints.first { $0.port == p.name }?.tenant
            let t = tenantName.flatMap { names.tenantID($0) } ?? Self.noTenant
            (portTenant + i).initialize(to: t)
            (portIsUplink + i).initialize(to: p.uplink)
            if p.uplink && t != Self.noTenant { tenantUplink[Int(t)] = Int32(i) }
        }
        endpointPort = .allocate(capacity: max(names.ports.count, 1))
        for (i, n) in names.ports.enumerated() { (endpointPort + i).initialize(to: Int32(runtimeIndex[n] ?? -1)) }
        endpointMACPort = .allocate(capacity: max(compiled.endpoints.count, 1))
        for id in 0..<compiled.endpoints.count {
            let rec = compiled.endpoints.record(UInt32(id))
            let port = Int(endpointPort[Int(rec.port)])
            (endpointMACPort + id).initialize(to: rec.mac.raw | UInt64(port < 0 ? 0xFFFF : UInt16(port)) << 48)
        }
        floodStart = .allocate(capacity: tenants + 1)
        floodPorts = .allocate(capacity: max(ports.count, 1))
        var k = 0
        for t in 0..<tenants {
            floodStart[t] = Int32(k)
            for i in ports.indices where portTenant[i] == UInt16(t) { floodPorts[k] = Int32(i); k += 1 }
        }
        floodStart[tenants] = Int32(k)
        gatewayMAC = .allocate(capacity: tenants)
        gatewayStart = .allocate(capacity: tenants + 1)
        let gatewayList = spec.tenants.map { $0.gateway }
        gatewayIPs = .allocate(capacity: max(gatewayList.reduce(0) { $0 + ($1?.ips.count ?? 0) }, 1))
        k = 0
        for t in 0..<tenants {
            gatewayStart[t] = Int32(k)
            let g = t < gatewayList.count ? gatewayList[t] : nil
            (gatewayMAC + t).initialize(to: g?.mac.raw ?? UInt64.max)
            for ip in g?.ips ?? [] { (gatewayIPs + k).initialize(to: ip); k += 1 }
        }
        gatewayStart[tenants] = Int32(k)
    }

    public func deallocate() {
        compiled.deallocate()
        portTenant.deallocate(); portIsUplink.deallocate(); tenantUplink.deallocate()
        endpointPort.deallocate(); floodStart.deallocate(); floodPorts.deallocate()
        ruleCounterBlock.deallocate()
        endpointMACPort.deallocate()
        gatewayMAC.deallocate(); gatewayStart.deallocate(); gatewayIPs.deallocate()
    }

    /// Worker `w`'s rule counters.
    @inlinable @inline(__always)
    func ruleCounters(worker w: Int) -> RuleCounters {
        let rules = compiled.ruleCount
        return RuleCounters(base: ruleCounterBlock + w * rules * 2, denied: ruleCounterBlock + (workerCount * 2 + w) * rules, count: rules)
    }

    /// Every rule's counters summed over workers.
    public func ruleStats(names: PolicyNames) -> [DataplaneStats.RuleStats] {
        (0..<compiled.ruleCount).map { r in
            var rs = DataplaneStats.RuleStats(contract: names.contractName(compiled.rule(UInt32(r)).contract) ?? "?",
                                              rule: names.ruleName(UInt32(r)) ?? "?")
            for w in 0..<workerCount {
                let c = ruleCounters(worker: w)
                let p = c.base + 2 * r
                rs.packets += p[0]; rs.bytes += p[1]; rs.denied += c.denied[r]
            }
            // Read while workers count: a denied packet may be seen before its packet count.
            rs.allowed = rs.packets >= rs.denied ? rs.packets - rs.denied : 0
            return rs
        }
    }

    /// The runtime port of endpoint `id` (-1 when it is not one of this dataplane's ports).
    @inlinable @inline(__always)
    func port(ofEndpoint id: UInt32) -> Int {
        let p = Int(endpointMACPort[Int(id)] >> 48)
        return p == 0xFFFF ? -1 : p
    }

    /// Starts loading what `port(ofEndpoint:)` and `endpoint(_:hasMAC:port:)` read for `id`.
    @inlinable @inline(__always)
    func prefetchEndpoint(_ id: UInt32) {
        if id != CompiledPolicy.noEndpoint { cdpdk_prefetch0(UnsafeRawPointer(endpointMACPort + Int(id))) }
    }

    /// The MAC of tenant `tenant`'s gateway when `ip` is one of its addresses.
    @inlinable @inline(__always)
    func gateway(tenant: UInt16, ip: IPAddress) -> MACAddress? {
        var k = Int(gatewayStart[Int(tenant)])
        let end = Int(gatewayStart[Int(tenant) + 1])
        while k < end {
            if gatewayIPs[k] == ip { return MACAddress(raw: gatewayMAC[Int(tenant)]) }
            k += 1
        }
        return nil
    }

    /// A packet routed through tenant `tenant`'s gateway (sent to the gateway's MAC) leaves
    /// for endpoint `id` with the endpoint's MAC as destination; other frames are not touched.
    @inlinable @inline(__always)
    func routeThroughGateway(_ m: OpaquePointer?, destination: MACAddress, tenant: UInt16, endpoint id: UInt32) {
        if destination.raw == gatewayMAC[Int(tenant)] {
            MACAddress(raw: endpointMACPort[Int(id)]).store(to: cdpdk_mbuf_data(m)!)
        }
    }

    /// Whether endpoint `id` has MAC `mac` and sits behind runtime port `port`.
    @inlinable @inline(__always)
    func endpoint(_ id: UInt32, hasMAC mac: MACAddress, port: Int) -> Bool {
        endpointMACPort[Int(id)] == mac.raw | UInt64(UInt16(truncatingIfNeeded: port)) << 48
    }
}

/// One worker's counters for the rules of one policy snapshot.
@frozen
public struct RuleCounters {
    /// Packets and bytes, two words a rule.
    @usableFromInline let base: UnsafeMutablePointer<UInt64>
    /// Denied packets, a word a rule.
    @usableFromInline let denied: UnsafeMutablePointer<UInt64>
    @usableFromInline let count: Int

    @inlinable init(base: UnsafeMutablePointer<UInt64>, denied: UnsafeMutablePointer<UInt64>, count: Int) {
        self.base = base; self.denied = denied; self.count = count
    }

    /// Starts loading rule `rule`'s counters: with a thousand contracts they are not in
    /// cache, and stage 5 would otherwise wait on one miss per packet.
    @inlinable @inline(__always)
    func prefetch(_ rule: UInt32) {
        if Int(rule) < count { cdpdk_prefetch0(UnsafeRawPointer(base + 2 * Int(rule))) }
    }

    @inlinable @inline(__always)
    func count(_ rule: UInt32, bytes: Int, allowed: Bool) {
        let r = Int(rule)
        guard r < count else { return }   // a kept flow may carry a rule id of an older snapshot
        let p = base + 2 * r
        p[0] &+= 1
        p[1] &+= UInt64(truncatingIfNeeded: bytes)
        if !allowed { denied[r] &+= 1 }
    }
}
