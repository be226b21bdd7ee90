import CDPDK
import GBPCore

/// The per-packet path when a policy is in force:
///
///   parse -> ingress tenant (the receiving port's) -> anti-spoofing (a frame from an
///   endpoint's port must carry that endpoint's MAC and one of its addresses) ->
///   ARP / neighbour discovery answered or forwarded inside the tenant ->
///   fragments (later fragments follow their first) -> conntrack + contract
///   classifier -> forward to the destination endpoint's port or the tenant's uplink.
///
/// Every packet ends forwarded once (or answered) or dropped once with its reason.
enum PolicyPipeline {
    @inline(__always)
    static func process(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, ingress: Int,
                        state: UnsafePointer<ForwardingState>, tables: PolicyTables,
                        tx: UnsafeMutableBufferPointer<TxPortRef>, counters: WorkerCounters,
                        local: UnsafeMutablePointer<WorkerPolicyState>, rules: RuleCounters, now: UInt64,
                        outs: UnsafeMutablePointer<Int32>) {
        let tenant = tables.portTenant[ingress]
        let fromUplink = tables.portIsUplink[ingress]
        var f = PacketFields()
        var bytes = 0
        let capture = local.pointee.capture
        // Touch every mbuf of the burst first: their cache misses overlap.
        for i in 0..<n { cdpdk_prefetch0(cdpdk_mbuf_data(pkts[i])) }
        for i in 0..<n {
            let m = pkts[i]
            let length = Int(cdpdk_mbuf_data_len(m))
            bytes &+= length
            let data = cdpdk_mbuf_data(m)!
            var note = VerdictNote()
            if let reason = PacketParser.parse(data, length: length, into: &f) {
                outs[i] = Outcome.dropped(reason)
            } else if tenant == PolicyTables.noTenant {
                outs[i] = Outcome.dropped(.unknownIngressPort)
            } else {
                switch f.kind {
                case .ipv4, .ipv6:
                    outs[i] = ip(m, data, &f, tenant: tenant, ingress: ingress, fromUplink: fromUplink, state: state, tables: tables,
                                 local: local, rules: rules, now: now, length: length, note: &note)
                case .arp:
                    outs[i] = arp(m, data, f, tenant: tenant, ingress: ingress, fromUplink: fromUplink, state: state, tables: tables)
                case .other:
                    outs[i] = other(f, tenant: tenant, ingress: ingress, fromUplink: fromUplink, state: state, tables: tables,
                                    rules: rules, length: length, note: &note)
                }
            }
            if let ring = capture, local.pointee.captureAll || outs[i] <= -1000 {
                let o = outs[i]
                ring.push(data, length: Int(cdpdk_mbuf_data_len(m)), header: CaptureRing.Header(
                    tsc: now, originalLength: cdpdk_mbuf_pkt_len(m), capturedLength: 0, port: UInt16(ingress), outcome: o,
                    contract: note.contract, reason: o <= -1000 ? UInt8(truncatingIfNeeded: -1000 - o) : 0, allowed: o > -1000,
                    rule: note.rule, epoch: tables.compiled.epoch))
            }
        }
        counters.countRx(port: ingress, packets: n, bytes: bytes)
        Pipeline.deliver(pkts, count: n, outs: outs, ingress: ingress, tx: tx, counters: counters) { m, _ in
            floodInTenant(m, tenant: tenant, ingress: ingress, tables: tables, tx: tx, counters: counters)
        }
    }

    /// Broadcast and multicast inside the tenant only: every port of the tenant but the ingress one.
    @inline(__always)
    static func floodInTenant(_ m: OpaquePointer?, tenant: UInt16, ingress: Int, tables: PolicyTables,
                              tx: UnsafeMutableBufferPointer<TxPortRef>, counters: WorkerCounters) {
        let start = Int(tables.floodStart[Int(tenant)]), end = Int(tables.floodStart[Int(tenant) + 1])
        let copies = end - start - 1
        if copies <= 0 { Pipeline.drop(m, .noOutputPort, ingress: ingress, counters: counters); return }
        if copies > 1 {
            cdpdk_mbuf_refcnt_update(m, Int16(copies - 1))
            counters.countFloodCopies(copies - 1)
        }
        for k in start..<end where Int(tables.floodPorts[k]) != ingress {
            Pipeline.send(m, port: Int(tables.floodPorts[k]), tx: tx, counters: counters)
        }
    }

    // MARK: Anti-spoofing

    /// The endpoint sending from an endpoint port: its MAC must be an endpoint of the
    /// tenant attached to this very port. Returns the endpoint id or a drop outcome.
    @inline(__always)
    static func sourceEndpoint(_ f: PacketFields, tenant: UInt16, ingress: Int, tables: PolicyTables) -> (UInt32, Int32) {
        guard let ep = tables.compiled.endpoints.lookup(tenant: tenant, mac: f.srcMAC), ep.isEndpoint,
              tables.port(ofEndpoint: ep.endpoint) == ingress else { return (0, Outcome.dropped(.spoofedMAC)) }
        return (ep.endpoint, 0)
    }

    /// Checks that `address` is one of endpoint `id`'s; a claim on another endpoint's address is a conflict.
    @inline(__always)
    static func checkSourceAddress(_ address: IPAddress, endpoint id: UInt32, tenant: UInt16, tables: PolicyTables,
                                   conflict: DropReason) -> Int32 {
        guard let owner = tables.compiled.endpoints.lookup(tenant: tenant, ip: address), owner.isEndpoint else {
            return Outcome.dropped(.spoofedIP)
        }
        return owner.endpoint == id ? 0 : Outcome.dropped(conflict)
    }

    // MARK: IP

    @inline(__always)
    static func ip(_ m: OpaquePointer?, _ data: UnsafeMutableRawPointer, _ f: inout PacketFields, tenant: UInt16, ingress: Int,
                   fromUplink: Bool, state: UnsafePointer<ForwardingState>, tables: PolicyTables,
                   local: UnsafeMutablePointer<WorkerPolicyState>, rules: RuleCounters, now: UInt64, length: Int, note: inout VerdictNote) -> Int32 {
        let policy = tables.compiled
        if f.ipProto == 58 && f.icmpType >= 133 && f.icmpType <= 137 {
            return neighborDiscovery(m, data, f, tenant: tenant, ingress: ingress, fromUplink: fromUplink, state: state, tables: tables)
        }
        if !fromUplink {
            let (src, bad) = sourceEndpoint(f, tenant: tenant, ingress: ingress, tables: tables)
            if bad != 0 { return bad }
            let r = checkSourceAddress(f.src, endpoint: src, tenant: tenant, tables: tables, conflict: .spoofedIP)
            if r != 0 { return r }
        }
        if f.isLaterFragment {
            guard let first = local.pointee.fragments.lookup(tenant: tenant, f, now: now) else { return Outcome.dropped(.fragmentWithoutState) }
            if first.dropReason != 0 { return -1000 - Int32(first.dropReason) }
            f.srcPort = first.srcPort
            f.dstPort = first.dstPort
        }
        let v: Verdict
        if f.isLaterFragment {
            v = Verdict(allowed: true, reason: nil)   // its datagram was admitted with the first fragment
        } else {
            v = local.pointee.flows.track(key: FlowKey(tenant: tenant, fields: f), fields: f, now: now, policy: policy)
            if f.isFragment { local.pointee.fragments.recordFirst(tenant: tenant, f, drop: v.allowed ? nil : (v.reason ?? .deniedByRule), now: now) }
            if v.decidedByRule { rules.count(v.rule, bytes: length, allowed: v.allowed) }
        }
        note = VerdictNote(contract: v.contract, rule: v.rule)
        if !v.allowed { return Outcome.dropped(v.reason ?? .deniedByRule) }
        let out: Int
        if let dst = policy.endpoints.lookup(tenant: tenant, ip: f.dst), dst.isEndpoint {
            out = tables.port(ofEndpoint: dst.endpoint)
        } else {
            out = Int(tables.tenantUplink[Int(tenant)])
            if out < 0 { return Outcome.dropped(.noUplink) }
        }
        return out == ingress ? Outcome.dropped(.destinationOnIngressPort) : Int32(out)
    }

    // MARK: ARP and neighbour discovery

    @inline(__always)
    static func arp(_ m: OpaquePointer?, _ data: UnsafeMutableRawPointer, _ f: PacketFields, tenant: UInt16, ingress: Int,
                    fromUplink: Bool, state: UnsafePointer<ForwardingState>, tables: PolicyTables) -> Int32 {
        var sender = CompiledPolicy.noEndpoint
        if !fromUplink {
            let (src, bad) = sourceEndpoint(f, tenant: tenant, ingress: ingress, tables: tables)
            if bad != 0 { return bad }
            if f.arpSenderMAC != f.srcMAC { return Outcome.dropped(.spoofedMAC) }
            // 0.0.0.0 is an address probe (RFC 5227): it claims nothing.
            if f.src != IPAddress(v4: 0) {
                let r = checkSourceAddress(f.src, endpoint: src, tenant: tenant, tables: tables, conflict: .arpConflict)
                if r != 0 { return r }
            }
            sender = src
        }
        if f.arpOpcode == 1 && f.src != f.dst,
           let target = tables.compiled.endpoints.lookup(tenant: tenant, ip: f.dst), target.isEndpoint, target.endpoint != sender {
            NeighborResponder.arpReply(data, f, targetMAC: tables.compiled.endpoints.record(target.endpoint).mac)
            return Int32(ingress)   // the request became the reply
        }
        return forwardByMAC(f, tenant: tenant, ingress: ingress, state: state, tables: tables, crossTenant: .arpCrossTenant)
    }

    @inline(__always)
    static func neighborDiscovery(_ m: OpaquePointer?, _ data: UnsafeMutableRawPointer, _ f: PacketFields, tenant: UInt16,
                                  ingress: Int, fromUplink: Bool, state: UnsafePointer<ForwardingState>, tables: PolicyTables) -> Int32 {
        var sender = CompiledPolicy.noEndpoint
        if !fromUplink {
            let (src, bad) = sourceEndpoint(f, tenant: tenant, ingress: ingress, tables: tables)
            if bad != 0 { return bad }
            // Link-local and unspecified sources are how ND speaks; other sources must be the endpoint's.
            let linkLocal = f.src.hi >> 54 == 0x3FA   // fe80::/10
            if !linkLocal && f.src != .zero {
                let r = checkSourceAddress(f.src, endpoint: src, tenant: tenant, tables: tables, conflict: .arpConflict)
                if r != 0 { return r }
            }
            // An advertisement may only announce the sender's own addresses.
            if f.icmpType == 136 {
                let r = checkSourceAddress(f.ndTarget, endpoint: src, tenant: tenant, tables: tables, conflict: .arpConflict)
                if r != 0 { return r }
            }
            sender = src
        }
        if f.icmpType == 135 && f.src != .zero,
           let target = tables.compiled.endpoints.lookup(tenant: tenant, ip: f.ndTarget), target.isEndpoint, target.endpoint != sender,
           cdpdk_mbuf_set_length(m, UInt16(Int(f.l3Offset) + NeighborResponder.advertisementLength)) == 0 {
            _ = NeighborResponder.neighborAdvertisement(data, f, targetMAC: tables.compiled.endpoints.record(target.endpoint).mac)
            return Int32(ingress)
        }
        return forwardByMAC(f, tenant: tenant, ingress: ingress, state: state, tables: tables, crossTenant: .arpCrossTenant)
    }

    /// Broadcast and multicast flood the tenant; unicast goes to the tenant's endpoint
    /// with that MAC, or to the tenant's uplink; never to another tenant.
    @inline(__always)
    static func forwardByMAC(_ f: PacketFields, tenant: UInt16, ingress: Int, state: UnsafePointer<ForwardingState>,
                             tables: PolicyTables, crossTenant: DropReason) -> Int32 {
        if f.dstMAC.isMulticast { return Outcome.floodTenant }
        if let ep = tables.compiled.endpoints.lookup(tenant: tenant, mac: f.dstMAC), ep.isEndpoint {
            let out = tables.port(ofEndpoint: ep.endpoint)
            return out == ingress ? Outcome.dropped(.destinationOnIngressPort) : Int32(out)
        }
        if state.pointee.l2.lookup(f.dstMAC) >= 0 { return Outcome.dropped(crossTenant) }
        let up = Int(tables.tenantUplink[Int(tenant)])
        return up >= 0 && up != ingress ? Int32(up) : Outcome.dropped(.unknownDestination)
    }

    // MARK: Other EtherTypes

    /// Non-IP frames: identified by MAC and decided by the contracts' EtherType rules.
    @inline(__always)
    static func other(_ f: PacketFields, tenant: UInt16, ingress: Int, fromUplink: Bool, state: UnsafePointer<ForwardingState>,
                      tables: PolicyTables, rules: RuleCounters, length: Int, note: inout VerdictNote) -> Int32 {
        if !fromUplink {
            let (_, bad) = sourceEndpoint(f, tenant: tenant, ingress: ingress, tables: tables)
            if bad != 0 { return bad }
        }
        if f.dstMAC.isMulticast { return Outcome.dropped(.unknownDestination) }
        let v = tables.compiled.classify(tenant: tenant, fields: f)
        if v.decidedByRule { rules.count(v.rule, bytes: length, allowed: v.allowed) }
        note = VerdictNote(contract: v.contract, rule: v.rule)
        if !v.allowed { return Outcome.dropped(v.reason ?? .deniedByRule) }
        return forwardByMAC(f, tenant: tenant, ingress: ingress, state: state, tables: tables, crossTenant: .crossTenant)
    }
}

/// The contract and rule behind a packet's verdict, for verdict capture.
struct VerdictNote {
    var contract: UInt16 = CompiledPolicy.noContract
    var rule: UInt32 = CompiledRule.none
}
