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
    /// A packet decided so far only "goes on to connection tracking".
    static let pending: Int32 = .max

    /// The burst is processed in stages so that the cache misses of its packets
    /// overlap instead of adding up (the tables of 10k endpoints and 100k flows do not
    /// fit in L2): parse everything; decide the packets of established connections from
    /// their conntrack entry alone (the established fast path, while most traffic is
    /// established); prefetch the endpoint entries of every other source and destination;
    /// check sources; track the connections of the whole burst at once
    /// (`FlowTable.track(burst:)` prefetches their slots); then, in packet order,
    /// fragments, counters and the output port; the endpoints of established connections
    /// are remembered in their entries for the fast path, and the policy's denials of
    /// flows conntrack does not hold in the `DenialCache`, for the fast path too.
    @inline(__always)
    static func process(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, ingress: Int,
                        state: UnsafePointer<ForwardingState>, tables: PolicyTables,
                        tx: UnsafeMutableBufferPointer<TxPortRef>, counters: WorkerCounters,
                        local: UnsafeMutablePointer<WorkerPolicyState>, rules: RuleCounters, now: UInt64,
                        outs: UnsafeMutablePointer<Int32>) {
        let tenant = tables.portTenant[ingress]
        let fromUplink = tables.portIsUplink[ingress]
        let policy = tables.compiled
        let s = local.pointee.scratch
        let flows = local.pointee.flows
        // While most packets are established, look for them in conntrack first; when most
        // are new, go straight to the endpoint lookups they need.
        let fastPath = !local.pointee.newFlowHeavy
        let peek = fastPath && tenant != PolicyTables.noTenant
        // Verdict capture or the flow log reads every packet's note; else only the notes
        // the stages write are read.
        let recording = local.pointee.capture != nil
            || (local.pointee.flowLog != nil && (local.pointee.logDenied || tables.logsRules))
        var bytes = 0
        var undecided = 0   // packets left pending by stage 1
        // Touch every mbuf of the burst first: their cache misses overlap (a NIC's DMA
        // leaves the frames in L3 at best).
        for i in 0..<n { cdpdk_prefetch0(cdpdk_mbuf_data(pkts[i])) }

        // Stage 1: parse; prefetch the connection entries of IP packets (fast path), or the
        // perfect-hash displacement words of their endpoint lookups. While the fast path is
        // on, a frame of the common shape is only peeked at: most will be decided from what
        // the peek read, and the others get their fields after the fast path.
        for i in 0..<n {
            let m = pkts[i]
            let length = Int(cdpdk_mbuf_data_len(m))
            bytes &+= length
            if recording { s.notes[i] = VerdictNote() }
            // A frame chained over several mbufs (a jumbo frame from a PMD that scatters) is
            // not peeked at: the headers could straddle two segments (see `parseOne`).
            if peek && cdpdk_mbuf_nb_segs(m) == 1, let c = PacketParser.peekCommonShape(cdpdk_mbuf_data(m)!, length: length) {
                s.shapes[i] = c
                s.shaped[i] = true
                outs[i] = pending
                undecided &+= 1
                let home = flows.home(of: FlowKey(tenant: tenant, common: c))
                s.homes[i] = home
                flows.prefetchSlot(home)
            } else {
                s.shaped[i] = false
                undecided &+= parseOne(m, length: length, at: i, tenant: tenant, fastPath: fastPath, policy: policy, flows: flows,
                                       scratch: s, outs: outs)
            }
        }

        // Stage 1a: the established fast path, then the displacement words for the rest.
        var fastHits = 0
        if fastPath {
            fastHits = established(pkts, count: n, ingress: ingress, tenant: tenant, fromUplink: fromUplink, tables: tables,
                                   flows: flows, denials: local.pointee.denials, scratch: s, rules: rules, now: now, outs: outs)
            if undecided > fastHits {
                for i in 0..<n where outs[i] == pending {
                    if s.shaped[i] { s.fields[i] = PacketFields(s.shapes[i]) }
                    let k = s.fields[i].kind
                    guard k == .ipv4 || k == .ipv6 else { continue }
                    policy.endpoints.prefetchDisplacement(tenant: tenant, ip: s.fields[i].src)
                    policy.endpoints.prefetchDisplacement(tenant: tenant, ip: s.fields[i].dst)
                }
            }
        }

        // Stages 1b to 5, for the packets the fast path left (none, mostly, in a burst of
        // established connections).
        var t = 0, hits = 0
        if undecided > fastHits {
            (t, hits) = longWay(pkts, count: n, ingress: ingress, tenant: tenant, fromUplink: fromUplink, state: state,
                                tables: tables, local: local, rules: rules, now: now, outs: outs)
        }

        // Fewer than half of the tracked packets (these t and the fast path's) were hits,
        // remembered denials included: (hits + fastHits) * 2 < t + fastHits.
        if t > 0 {
            local.pointee.newFlowHeavy = hits * 2 < t - fastHits
        } else if fastHits > 0 {
            local.pointee.newFlowHeavy = false
        }

        // Capture and flow log (off unless configured).
        if recording {
            for i in 0..<n { record(pkts[i], outs[i], s.notes[i], ingress: ingress, local: local, epoch: policy.epoch, now: now) }
        }
        counters.countRx(port: ingress, packets: n, bytes: bytes)
        Pipeline.deliver(pkts, count: n, outs: outs, ingress: ingress, tx: tx, counters: counters) { m, _ in
            floodInTenant(m, tenant: tenant, ingress: ingress, tables: tables, tx: tx, counters: counters)
        }
    }

    /// Stage 1 for a packet that is not peeked at: the whole parse, then its home slot and
    /// prefetches as for the peeked ones (or, while most traffic is new, the displacement
    /// words of its endpoint lookups and what admitting it reads). Returns 1 when the packet
    /// is pending, 0 when it is dropped.
    @inline(__always)
    static func parseOne(_ m: OpaquePointer?, length: Int, at i: Int, tenant: UInt16, fastPath: Bool, policy: CompiledPolicy,
                         flows: FlowTable, scratch s: BurstScratch, outs: UnsafeMutablePointer<Int32>) -> Int {
        s.homes[i] = -1
        if cdpdk_mbuf_nb_segs(m) != 1 {
            // A frame chained over several mbufs (a jumbo frame from a PMD that scatters):
            // the parser reads one contiguous segment, and the headers could straddle two.
            s.fields[i] = PacketFields()
            outs[i] = Outcome.dropped(.oversizeFrame)
            return 0
        }
        if let reason = PacketParser.parse(cdpdk_mbuf_data(m)!, length: length, into: &s.fields[i]) {
            outs[i] = Outcome.dropped(reason)
            return 0
        }
        if tenant == PolicyTables.noTenant {
            outs[i] = Outcome.dropped(.unknownIngressPort)
            return 0
        }
        outs[i] = pending
        let f = s.fields + i
        let k = f.pointee.kind
        if k == .ipv4 || k == .ipv6 {
            if !fastPath {
                policy.endpoints.prefetchDisplacement(tenant: tenant, ip: f.pointee.src)
                policy.endpoints.prefetchDisplacement(tenant: tenant, ip: f.pointee.dst)
            }
            if FlowTable.isTracked(f.pointee.ipProto, f.pointee) && !f.pointee.isLaterFragment {
                let home = flows.home(of: FlowKey(tenant: tenant, fields: f.pointee))
                s.homes[i] = home
                if fastPath { flows.prefetchSlot(home) } else { flows.prefetchForAdmission(home) }
            }
        }
        return 1
    }

    /// Stages 1b to 5 of `process`: the endpoints, sources, conntrack and contracts of the
    /// packets still pending, in packet order. Returns the packets tracked and how many
    /// were hits (remembered denials of flows sending again included).
    @inline(__always)
    static func longWay(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, ingress: Int, tenant: UInt16,
                        fromUplink: Bool, state: UnsafePointer<ForwardingState>, tables: PolicyTables,
                        local: UnsafeMutablePointer<WorkerPolicyState>, rules: RuleCounters, now: UInt64,
                        outs: UnsafeMutablePointer<Int32>) -> (tracked: Int, hits: Int) {
        let policy = tables.compiled
        let s = local.pointee.scratch
        let flows = local.pointee.flows
        // Stage 1b: the displacement words have arrived (or are on their way): prefetch the
        // endpoint entries they point at. Two passes, so that with 100k endpoints no packet
        // waits on its displacement miss before the next packet's loads are issued.
        for i in 0..<n where outs[i] == pending {
            let k = s.fields[i].kind
            guard k == .ipv4 || k == .ipv6 else { continue }
            policy.endpoints.prefetch(tenant: tenant, ip: s.fields[i].src)
            policy.endpoints.prefetch(tenant: tenant, ip: s.fields[i].dst)
        }

        // Stage 2: both addresses resolved to endpoints (their entries were prefetched), and
        // the endpoints' MAC-and-port words prefetched for the checks that follow.
        for i in 0..<n where outs[i] == pending {
            let k = s.fields[i].kind
            guard k == .ipv4 || k == .ipv6 else { continue }
            let src = policy.endpoints.lookup(tenant: tenant, ip: s.fields[i].src) ?? .noMatch
            let dst = policy.endpoints.lookup(tenant: tenant, ip: s.fields[i].dst) ?? .noMatch
            tables.prefetchEndpoint(src.endpoint)
            tables.prefetchEndpoint(dst.endpoint)
            s.sources[i] = src
            s.destinations[i] = dst
        }

        // Stage 3: sources checked; ARP, ND and other EtherTypes decided; flow keys gathered.
        // When most of the last burst was new to conntrack, the contracts will be consulted
        // for most of this one: start loading their rule lines now (an established burst
        // pays one test here).
        let prefetchRuleLines = local.pointee.newFlowHeavy
        var t = 0
        for i in 0..<n where outs[i] == pending {
            let f = s.fields + i
            switch f.pointee.kind {
            case .ipv4, .ipv6:
                let o = ipIngress(pkts[i], f, source: s.sources[i], tenant: tenant, ingress: ingress, fromUplink: fromUplink,
                                  state: state, tables: tables)
                if o != pending { outs[i] = o; continue }
                if !f.pointee.isLaterFragment {
                    s.keys[t] = FlowKey(tenant: tenant, fields: f.pointee)
                    s.trackedFields[t] = f.pointee
                    s.trackedHomes[t] = s.homes[i]
                    s.trackedSources[t] = s.sources[i]
                    s.trackedDestinations[t] = s.destinations[i]
                    t += 1
                    if prefetchRuleLines { policy.prefetchRuleLine(src: s.sources[i], dst: s.destinations[i]) }
                }
            case .arp:
                outs[i] = arp(pkts[i], cdpdk_mbuf_data(pkts[i])!, f.pointee, tenant: tenant, ingress: ingress, fromUplink: fromUplink,
                              state: state, tables: tables)
            case .other:
                outs[i] = other(f.pointee, tenant: tenant, ingress: ingress, fromUplink: fromUplink, state: state, tables: tables,
                                rules: rules, length: Int(cdpdk_mbuf_data_len(pkts[i])), note: &s.notes[i])
            }
        }

        // Stage 4: connection tracking and the contracts, for the whole burst.
        var hits = 0
        if t > 0 {
            let hitsBefore = flows.counters.hits
            flows.track(burst: t, keys: s.keys, fields: s.trackedFields, now: now, policy: policy, verdicts: s.verdicts,
                        hitSlots: s.hitSlots, homes: s.trackedHomes, sources: s.trackedSources,
                        destinations: s.trackedDestinations)
            hits = Int(truncatingIfNeeded: flows.counters.hits &- hitsBefore)
            for j in 0..<t where s.verdicts[j].decidedByRule { rules.prefetch(s.verdicts[j].rule) }
        }

        // Stage 5, in packet order: fragments, counters, output ports.
        var k = 0
        for i in 0..<n where outs[i] == pending {
            let f = s.fields + i
            let length = Int(cdpdk_mbuf_data_len(pkts[i]))
            if f.pointee.isLaterFragment {
                outs[i] = laterFragment(pkts[i], f, tenant: tenant, ingress: ingress, tables: tables, local: local, now: now)
                continue
            }
            let v = s.verdicts[k]
            let hitSlot = s.hitSlots[k]
            k += 1
            if f.pointee.isFragment {
                local.pointee.fragments.recordFirst(tenant: tenant, f.pointee, drop: v.allowed ? nil : (v.reason ?? .deniedByRule), now: now)
            }
            if v.decidedByRule { rules.count(v.rule, bytes: length, allowed: v.allowed) }
            s.notes[i] = VerdictNote(contract: v.contract, rule: v.rule, log: v.log)
            if hitSlot >= 0 {
                // An established connection decided the long way: remember its endpoints for the fast path.
                flows.remember(slot: Int(hitSlot), key: s.keys[k - 1], source: s.sources[i].endpoint,
                               destination: s.destinations[i].endpoint, epoch: policy.epoch)
            } else if v.flow == .new {
                local.pointee.denials.forget(s.keys[k - 1], home: s.trackedHomes[k - 1])
            } else if DenialCache.keeps(v, proto: f.pointee.ipProto) && !f.pointee.isFragment,
                      local.pointee.denials.remember(s.keys[k - 1], home: s.trackedHomes[k - 1], epoch: policy.epoch, verdict: v,
                                                     source: s.sources[i].endpoint) {
                hits += 1   // a denied flow sending again: the fast path will drop its next packets
            }
            outs[i] = v.allowed ? output(pkts[i], dstMAC: f.pointee.dstMAC, to: s.destinations[i], tenant: tenant, ingress: ingress,
                                         tables: tables)
                : Outcome.dropped(v.reason ?? .deniedByRule)
        }
        return (t, hits)
    }

    /// The established fast path (`FlowTable.established`) over the burst's IP packets
    /// whose connection entry stage 1 prefetched, in packet order: the entry gives the
    /// verdict and both endpoints; the source is checked against its endpoint's MAC and
    /// port as in `ipIngress`, and the output chosen as in stage 5. A packet it cannot
    /// decide goes the long way, and so does every later packet of the burst with the same
    /// home slot: a connection's packets are then decided in their order (a FIN decided
    /// the long way before the data that follows it). A packet with no connection is
    /// dropped here when its flow's denial is remembered (`DenialCache`), after the same
    /// source check. Returns the packets decided.
    @inline(__always)
    static func established(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, ingress: Int, tenant: UInt16,
                            fromUplink: Bool, tables: PolicyTables, flows: FlowTable, denials: DenialCache, scratch s: BurstScratch,
                            rules: RuleCounters, now: UInt64, outs: UnsafeMutablePointer<Int32>) -> Int {
        let epoch = tables.compiled.epoch
        var longWay: UInt64 = 0   // bit h & 63 set: a packet with home slot h went the long way
        var hits = 0
        var denied = 0   // packets dropped from a remembered denial
        for i in 0..<n where s.homes[i] >= 0 {
            let home = s.homes[i]
            let bit: UInt64 = 1 &<< UInt64(truncatingIfNeeded: home & 63)
            // What the fast path reads of a packet: stage 1's peek, or its parsed fields.
            let key: FlowKey, tcpFlags: UInt8, srcMAC: MACAddress, dstMAC: MACAddress, fragment: Bool
            if s.shaped[i] {
                let c = s.shapes + i
                key = FlowKey(tenant: tenant, common: c.pointee)
                tcpFlags = c.pointee.tcpFlags; srcMAC = c.pointee.srcMAC; dstMAC = c.pointee.dstMAC; fragment = false
            } else {
                let f = s.fields + i
                key = FlowKey(tenant: tenant, fields: f.pointee)
                tcpFlags = f.pointee.tcpFlags; srcMAC = f.pointee.srcMAC; dstMAC = f.pointee.dstMAC; fragment = f.pointee.isFragment
            }
            if longWay & bit == 0 && !fragment {
                if let h = flows.established(key, home: home, tcpFlags: tcpFlags, now: now, epoch: epoch) {
                    if sourceMatches(h.source, mac: srcMAC, ingress: ingress, fromUplink: fromUplink, tables: tables) {
                        flows.refresh(slot: h.slot, now: now)
                        hits &+= 1
                        rules.count(h.rule, bytes: Int(cdpdk_mbuf_data_len(pkts[i])), allowed: true)
                        s.notes[i] = VerdictNote(contract: h.contract, rule: h.rule, log: h.log)
                        outs[i] = output(pkts[i], dstMAC: dstMAC, to: GroupMatch(group: CompiledPolicy.noGroup, endpoint: h.destination),
                                         tenant: tenant, ingress: ingress, tables: tables)
                        continue
                    }
                } else if let d = denials.lookup(key, home: home, epoch: epoch),
                          sourceMatches(d.source, mac: srcMAC, ingress: ingress, fromUplink: fromUplink, tables: tables) {
                    denied &+= 1
                    rules.count(d.rule, bytes: Int(cdpdk_mbuf_data_len(pkts[i])), allowed: false)
                    s.notes[i] = VerdictNote(contract: d.contract, rule: d.rule, log: d.log)
                    outs[i] = Outcome.dropped(d.reason)
                    continue
                }
            }
            longWay |= bit
        }
        flows.countHits(hits)
        if denied > 0 { flows.countDenialHits(denied) }
        return hits + denied
    }

    /// The fast path's source check against a remembered source endpoint: anything from the
    /// uplink; else the endpoint's own MAC on its own port. A packet that fails goes the long
    /// way, where `ipIngress` says what is wrong with it.
    @inline(__always)
    static func sourceMatches(_ id: UInt32, mac: MACAddress, ingress: Int, fromUplink: Bool, tables: PolicyTables) -> Bool {
        fromUplink || (id != CompiledPolicy.noEndpoint && tables.endpoint(id, hasMAC: mac, port: ingress))
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

    /// Neighbour discovery is answered or forwarded here; other packets from an
    /// endpoint port must come from that endpoint (MAC, port and address). Returns an
    /// outcome, or `pending` to go on to connection tracking.
    @inline(__always)
    static func ipIngress(_ m: OpaquePointer?, _ f: UnsafeMutablePointer<PacketFields>, source ep: GroupMatch, tenant: UInt16,
                          ingress: Int, fromUplink: Bool, state: UnsafePointer<ForwardingState>, tables: PolicyTables) -> Int32 {
        if f.pointee.ipProto == 58 && f.pointee.icmpType >= 133 && f.pointee.icmpType <= 137 {
            return neighborDiscovery(m, cdpdk_mbuf_data(m)!, f.pointee, tenant: tenant, ingress: ingress, fromUplink: fromUplink,
                                     state: state, tables: tables)
        }
        if fromUplink { return pending }
        // Fast path: the source address's endpoint (stage 2) has this MAC and port.
        if ep.isEndpoint && tables.endpoint(ep.endpoint, hasMAC: f.pointee.srcMAC, port: ingress) { return pending }
        // Slow path: say precisely what is wrong.
        let (src, bad) = sourceEndpoint(f.pointee, tenant: tenant, ingress: ingress, tables: tables)
        if bad != 0 { return bad }
        let r = checkSourceAddress(f.pointee.src, endpoint: src, tenant: tenant, tables: tables, conflict: .spoofedIP)
        return r != 0 ? r : pending
    }

    /// A non-first fragment follows its first fragment's verdict, to the same place.
    @inline(__always)
    static func laterFragment(_ m: OpaquePointer?, _ f: UnsafeMutablePointer<PacketFields>, tenant: UInt16, ingress: Int, tables: PolicyTables,
                              local: UnsafeMutablePointer<WorkerPolicyState>, now: UInt64) -> Int32 {
        guard let first = local.pointee.fragments.lookup(tenant: tenant, f.pointee, now: now) else {
            return Outcome.dropped(.fragmentWithoutState)
        }
        if first.dropReason != 0 { return -1000 - Int32(first.dropReason) }
        let dst = tables.compiled.endpoints.lookup(tenant: tenant, ip: f.pointee.dst)
        return output(m, dstMAC: f.pointee.dstMAC, to: dst ?? .noMatch, tenant: tenant, ingress: ingress, tables: tables)
    }

    /// The port of `dst` when it is an endpoint (a frame sent to the tenant's gateway then
    /// leaves with `dst`'s MAC as destination), else the tenant's uplink.
    @inline(__always)
    static func output(_ m: OpaquePointer?, dstMAC: MACAddress, to dst: GroupMatch, tenant: UInt16,
                       ingress: Int, tables: PolicyTables) -> Int32 {
        let out: Int
        if dst.isEndpoint {
            out = tables.port(ofEndpoint: dst.endpoint)
            if out < 0 { return Outcome.dropped(.noOutputPort) }
            tables.routeThroughGateway(m, destination: dstMAC, tenant: tenant, endpoint: dst.endpoint)
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
        if f.arpOpcode == 1, let gateway = tables.gateway(tenant: tenant, ip: f.dst) {
            NeighborResponder.arpReply(data, f, targetMAC: gateway)
            return Int32(ingress)
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
        if f.icmpType == 135, let gateway = tables.gateway(tenant: tenant, ip: f.ndTarget),
           cdpdk_mbuf_set_length(m, UInt16(Int(f.l3Offset) + NeighborResponder.advertisementLength)) == 0 {
            _ = NeighborResponder.neighborAdvertisement(data, f, targetMAC: gateway)
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
            if out < 0 { return Outcome.dropped(.noOutputPort) }
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
        note = VerdictNote(contract: v.contract, rule: v.rule, log: v.log)
        if !v.allowed { return Outcome.dropped(v.reason ?? .deniedByRule) }
        return forwardByMAC(f, tenant: tenant, ingress: ingress, state: state, tables: tables, crossTenant: .crossTenant)
    }
}

/// The contract and rule behind a packet's verdict, for verdict capture and the flow log.
struct VerdictNote {
    var contract: UInt16 = CompiledPolicy.noContract
    var rule: UInt32 = CompiledRule.none
    var log = false
}

extension PolicyPipeline {
    /// Copies a packet to the capture ring and/or the flow log, as configured.
    @inline(never)
    static func record(_ m: OpaquePointer?, _ o: Int32, _ note: VerdictNote, ingress: Int,
                       local: UnsafeMutablePointer<WorkerPolicyState>, epoch: UInt32, now: UInt64) {
        let capture = local.pointee.capture != nil && (local.pointee.captureAll || o <= -1000)
        let log = local.pointee.flowLog != nil && (note.log || (local.pointee.logDenied && o <= Outcome.dropped(.spoofedMAC)))
        guard capture || log else { return }
        let h = CaptureRing.Header(tsc: now, originalLength: cdpdk_mbuf_pkt_len(m), capturedLength: 0, port: UInt16(ingress), outcome: o,
                                   contract: note.contract, reason: o <= -1000 ? UInt8(truncatingIfNeeded: -1000 - o) : 0,
                                   allowed: o > -1000, rule: note.rule, epoch: epoch)
        let data = cdpdk_mbuf_data(m)!, length = Int(cdpdk_mbuf_data_len(m))
        if capture { local.pointee.capture!.push(data, length: length, header: h) }
        if log { local.pointee.flowLog!.push(data, length: length, header: h) }
    }
}
