import CDPDK
import Foundation
import GBPCore

/// Owns the mempool, the ports and the workers of one running dataplane.
/// Lives on the main lcore; nothing here runs per packet.
public final class Dataplane {
    public let config: RuntimeConfig
    public let pool: PacketPool
    /// Port slots: a port keeps its slot (its index in counters, tx buffers and policy
    /// tables) from open to close. The config file's ports take the first ones; ports
    /// added at runtime take the lowest free one (`Dataplane+Ports.swift`).
    var slots: [Port?] = []
    /// The ports open now, in slot order.
    public var ports: [Port] { slots.compactMap { $0 } }
    var workers: [UnsafeMutablePointer<WorkerContext>] = []
    private let stateSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private(set) var state: UnsafeMutablePointer<ForwardingState>?
    private let rcu: OpaquePointer
    /// Counters of the ports removed at runtime, summed (their slots start again from 0).
    var removedPortTotals = DataplaneStats.PortStats(name: "(removed ports)", driver: "-")
    public internal(set) var removedPortCount = 0
    var removedWorkerRx: [UInt64] = []
    /// Verdict capture: the pcapng interface of each port slot.
    var captureInterface: [Int: Int] = [:]
    /// Names of the policy snapshots alive (published or being built), by epoch.
    private var policyNames: [UInt32: PolicyNames] = [:]
    private var compiler = PolicyCompiler()
    /// The rule counters of the last `retiredHistory` replaced snapshots, oldest first.
    public private(set) var retiredEpochs: [(epoch: UInt32, rules: [DataplaneStats.RuleStats])] = []
    public static let retiredHistory = 128
    /// The rule counters of every replaced snapshot, summed per (contract, rule) name in
    /// first-seen order: bounded by the rule names, not by the number of swaps.
    public private(set) var retiredRuleTotals: [DataplaneStats.RuleStats] = []
    private var retiredRuleIndex: [String: Int] = [:]
    private var launchedAt: UInt64 = 0
    private var launchedAtWallNanos: UInt64 = 0
    var captureFile: PcapngWriter?
    private var capturedPackets: UInt64 = 0
    private var flowLogWindowStart: UInt64 = 0
    private var flowLogInWindow = 0
    private var flowLogSuppressedInWindow = 0
    /// Flow-log lines dropped by the rate limit since start.
    public private(set) var flowLogSuppressed = 0
    private var stoppedAt: UInt64 = 0
    private var closed = false
    nonisolated(unsafe) private static var instances = 0

    /// Creates the mempool, opens every port with one queue pair per worker and
    /// prepares the workers. EAL must be up. On error, what was opened is closed.
    public init(config: RuntimeConfig) throws(DPDKError) {
        self.config = config
        guard !config.workerLcores.isEmpty else { throw DPDKError("starting workers", code: 22, detail: "no worker lcore configured") }
        guard config.ports.count <= WorkerCounters.maxPorts else {
            throw DPDKError("opening ports", code: 22, detail: "\(config.ports.count) ports configured, at most \(WorkerCounters.maxPorts) are supported")
        }
        let main = EAL.mainLcore
        for l in config.workerLcores {
            let lcore = LcoreID(rawValue: l)
            if lcore == main || !EAL.isEnabled(lcore) {
                throw DPDKError("starting workers", code: 22,
                                detail: "worker \(lcore) is \(lcore == main ? "the main lcore" : "not in EAL's core list (-l)")")
            }
        }
        Dataplane.instances += 1
        pool = try PacketPool(name: "gbp_pool_\(Dataplane.instances)", count: config.mempoolSize, cacheSize: config.mempoolCache)
        guard let rcu = cdpdk_rcu_create(UInt32(config.workerLcores.count)) else {
            throw DPDKError.fromErrno("creating the RCU variable")
        }
        self.rcu = rcu
        stateSlot = .allocate(capacity: 1)
        stateSlot.initialize(to: nil)
        do {
            try buildWorkers()
            for p in config.ports { _ = try openPort(p) }
        } catch {
            for p in ports { p.close() }
            slots = []
            throw error
        }
        let initial: ForwardingState
        do { initial = try makeForwardingState(config, epoch: 1) } catch {
            for p in ports { p.close() }
            throw DPDKError("compiling the policy", code: 22, detail: error.errors.map(\.description).joined(separator: "; "))
        }
        publish(initial)
    }

    /// Compiles `config`'s policy (if any) against this dataplane's ports: `config.ports`
    /// are the ports of the new snapshot, each already open in a slot. Off the data path.
    func makeForwardingState(_ config: RuntimeConfig, epoch: UInt32) throws(PolicyRejection) -> ForwardingState {
        var slotOf: [String: Int] = [:]
        for (i, p) in slots.enumerated() { if let p { slotOf[p.name] = i } }
        var inUse: [(slot: Int, port: Port)] = []
        var bySlot = [(name: String, tenant: String?, uplink: Bool)?](repeating: nil, count: slots.count)
        for p in config.ports {
            guard let i = slotOf[p.name], let port = slots[i] else {
                throw PolicyRejection(errors: [PolicyError("ports", .invalidField, "port '\(p.name)' is not open in the dataplane")])
            }
            inUse.append((i, port))
            bySlot[i] = (name: p.name, tenant: p.tenant, uplink: p.role == .uplink)
        }
        // One dictionary lookup per run of stations on the same port, not per station
        // (10k stations: a few ms of every swap otherwise).
        var entries: [(mac: MACAddress, port: UInt16)] = []
        entries.reserveCapacity(config.stations.count)
        var last: (name: String, slot: Int?) = ("", nil)
        for st in config.stations {
            if st.port != last.name { last = (st.port, slotOf[st.port]) }
            if let slot = last.slot { entries.append((st.mac, UInt16(slot))) }
        }
        var tables: PolicyTables?
        if let spec = config.policy {
            let (compiled, names) = try compiler.compile(spec, epoch: epoch)
            policyNames[epoch] = names
            tables = PolicyTables(spec: spec, names: names, compiled: compiled, ports: bySlot, workers: workers.count)
        }
        return ForwardingState(l2: L2Table(entries), ports: PortSet(inUse, workers: workers.count), policy: tables)
    }

    /// Makes `newState` the one workers use from their next burst on, waits until no
    /// worker can still be reading the previous one (RCU quiescent states), then
    /// retires it: its rule counters go to `retiredEpochs`, its tables are freed.
    func publish(_ newState: ForwardingState) {
        let p = UnsafeMutablePointer<ForwardingState>.allocate(capacity: 1)
        p.initialize(to: newState)
        cdpdk_store_release_ptr(stateSlot, UnsafeMutableRawPointer(p))
        let old = state
        state = p
        guard let old else { return }
        if launchedAt != 0 { cdpdk_rcu_synchronize(rcu) }
        serviceCapture()   // write the old snapshot's captures while its names are known
        if let t = old.pointee.policy {
            let epoch = t.compiled.epoch
            let rules = policyNames[epoch].map { t.ruleStats(names: $0) } ?? []
            retiredEpochs.append((epoch: epoch, rules: rules))
            policyNames[epoch] = nil
            if retiredEpochs.count > Self.retiredHistory { retiredEpochs.removeFirst(retiredEpochs.count - Self.retiredHistory) }
            for r in rules where r.packets > 0 {
                let key = r.contract + "\u{0}" + r.rule
                if let i = retiredRuleIndex[key] { retiredRuleTotals[i].add(r) } else {
                    retiredRuleIndex[key] = retiredRuleTotals.count
                    retiredRuleTotals.append(r)
                }
            }
        }
        old.pointee.deallocate()
        old.deinitialize(count: 1)
        old.deallocate()
    }

    /// Swaps in the policy and endpoints of `newConfig` while traffic flows: compiled
    /// here on the control thread, published to every worker at once, the old snapshot
    /// freed once every worker has passed a quiescent point. Ports, workers and EAL
    /// stay as they are (the caller refuses changes to those). A policy that does not
    /// compile changes nothing.
    public func replacePolicy(with newConfig: RuntimeConfig) throws(PolicyRejection) -> PolicySwap {
        try swap(to: newConfig, since: cdpdk_tsc())
    }

    /// Compiles and publishes `newConfig`, timed from `t0`.
    func swap(to newConfig: RuntimeConfig, since t0: UInt64) throws(PolicyRejection) -> PolicySwap {
        let epoch = (state?.pointee.policy?.compiled.epoch ?? 1) &+ 1
        let newState = try makeForwardingState(newConfig, epoch: epoch)
        let t1 = cdpdk_tsc()
        publish(newState)
        let t2 = cdpdk_tsc()
        let hz = Double(EAL.tscHz)
        return PolicySwap(epoch: epoch, compileSeconds: Double(t1 &- t0) / hz, publishSeconds: Double(t2 &- t1) / hz,
                          reusedEndpoints: compiler.reusedMembership)
    }

    /// Names (tenants, groups, endpoints, contracts, rules) of the policy in force.
    public var currentPolicyNames: PolicyNames? { policyNames[policyEpoch] }

    /// The compiled policy in force, for explain (read-only, control thread).
    public var currentPolicy: CompiledPolicy? { state?.pointee.policy?.compiled }

    /// The epoch of the policy in force (0 without a policy).
    public var policyEpoch: UInt32 { state?.pointee.policy?.compiled.epoch ?? 0 }

    /// Prepares each worker's context: counters, a tx buffer for every port slot (ports
    /// added later use them), conntrack and capture state.
    private func buildWorkers() throws(DPDKError) {
        let drainCycles = EAL.tscHz / 10_000 // 100 µs
        for (w, l) in config.workerLcores.enumerated() {
            let counters = WorkerCounters()
            let tx = UnsafeMutableBufferPointer<TxPortRef>.allocate(capacity: WorkerCounters.maxPorts)
            for i in 0..<WorkerCounters.maxPorts {
                guard let buffer = cdpdk_tx_buffer_create(UInt16(Worker.burstSize), Int32(rte_socket_id()), counters.txRefusedSlot(port: i)) else {
                    throw DPDKError.fromErrno("allocating the tx buffers of worker \(w)")
                }
                (tx.baseAddress! + i).initialize(to: TxPortRef(port: UInt16.max, queue: UInt16(w), buffer: buffer))
            }
            let ctx = UnsafeMutablePointer<WorkerContext>.allocate(capacity: 1)
            let burst = UnsafeMutablePointer<OpaquePointer?>.allocate(capacity: Worker.burstSize)
            var policyState = WorkerPolicyState(flowCapacity: config.policy == nil ? 64 : config.conntrackCapacity,
                                                tenantBudget: config.conntrackTenantBudget,
                                                timeouts: config.conntrackTimeouts, tscHz: EAL.tscHz)
            if let c = config.capture {
                policyState.capture = CaptureRing(capacity: c.ringSlots)
                policyState.captureAll = c.allPackets
            }
            if config.policy != nil {
                policyState.flowLog = CaptureRing(capacity: 256)
                policyState.logDenied = config.logDeniedFlows
            }
            ctx.initialize(to: WorkerContext(index: w, lcore: LcoreID(rawValue: l), tx: tx, counters: counters,
                                             stateSlot: stateSlot, rcu: rcu, drainCycles: drainCycles, policy: policyState, burst: burst,
                                             outcomes: .allocate(capacity: Worker.burstSize)))
            workers.append(ctx)
            removedWorkerRx.append(0)
        }
    }

    /// Launches every worker on its lcore.
    public func launch() throws(DPDKError) {
        if let c = config.capture {
            do { captureFile = try PcapngWriter(path: c.path, interfaces: ports.map(\.name)) } catch {
                throw DPDKError("opening the capture file", code: 5, detail: "\(error)")
            }
            for (k, i) in slots.indices.filter({ slots[$0] != nil }).enumerated() { captureInterface[i] = k }
        }
        launchedAt = cdpdk_tsc()
        launchedAtWallNanos = UInt64(Date().timeIntervalSince1970 * 1e9)
        for ctx in workers {
            let rc = rte_eal_remote_launch(Worker.entry, UnsafeMutableRawPointer(ctx), ctx.pointee.lcore.rawValue)
            if rc != 0 {
                EAL.requestStop()
                throw DPDKError("launching the worker on \(ctx.pointee.lcore)", code: rc)
            }
        }
    }

    /// Asks the workers to stop after their current burst and waits for them.
    public func stopWorkers() {
        EAL.requestStop()
        for ctx in workers { _ = rte_eal_wait_lcore(ctx.pointee.lcore.rawValue) }
        if stoppedAt == 0 { stoppedAt = cdpdk_tsc() }
        serviceCapture()
    }

    /// Moves the packets the workers captured into the pcapng file, each with its
    /// verdict as a comment. Called by the control loop, and once more at shutdown.
    public func serviceCapture() {
        guard let file = captureFile else { return }
        let hz = Double(EAL.tscHz)
        for w in workers {
            guard let ring = w.pointee.policy.capture else { continue }
            ring.drain { h, bytes in
                let ns = launchedAtWallNanos &+ UInt64(Double(h.tsc &- launchedAt) / hz * 1e9)
                try? file.write(bytes, interface: captureInterface[Int(h.port)] ?? 0, timestampNanos: ns, originalLength: Int(h.originalLength),
                                comment: captureComment(h))
                capturedPackets += 1
            }
        }
        file.flush()
    }

    /// "verdict=drop reason=no_contract contract=- rule=- epoch=2 out=-"
    private func captureComment(_ h: CaptureRing.Header) -> String {
        let names = policyNames[h.epoch]
        let contract = h.contract == CompiledPolicy.noContract ? "-" : (names?.contractName(h.contract) ?? "\(h.contract)")
        let rule = h.rule == CompiledRule.none ? "-" : (names?.ruleName(h.rule) ?? "\(h.rule)")
        let reason = h.allowed ? "-" : (DropReason(rawValue: h.reason)?.name ?? "\(h.reason)")
        let out = h.outcome >= 0 ? portName(slot: Int(h.outcome)) : (h.outcome > -1000 ? "flood" : "-")
        return "verdict=\(h.allowed ? "allow" : "drop") reason=\(reason) contract=\(contract) rule=\(rule) epoch=\(h.epoch) in=\(portName(slot: Int(h.port))) out=\(out)"
    }

    /// Drains the workers' flow logs: at most `flowLogPerSecond` lines a second are
    /// handed to `log`; the rest are counted (`flowLogSuppressed`), so a flood of
    /// denied packets cannot stall the control thread or the log.
    public func drainFlowLog(_ log: (String) -> Void) {
        let now = cdpdk_tsc()
        if now &- flowLogWindowStart > EAL.tscHz {
            if flowLogSuppressedInWindow > 0 { log("flow log: \(flowLogSuppressedInWindow) more flow(s) not logged (rate limit \(config.flowLogPerSecond)/s)") }
            flowLogWindowStart = now
            flowLogInWindow = 0
            flowLogSuppressedInWindow = 0
        }
        var f = PacketFields()
        for w in workers {
            w.pointee.policy.flowLog?.drain { h, bytes in
                guard flowLogInWindow < config.flowLogPerSecond else {
                    flowLogSuppressedInWindow += 1
                    flowLogSuppressed += 1
                    return
                }
                flowLogInWindow += 1
                _ = PacketParser.parse(bytes.baseAddress!, length: bytes.count, into: &f)
                log(flowLogLine(h, f))
            }
        }
    }

    private func flowLogLine(_ h: CaptureRing.Header, _ f: PacketFields) -> String {
        let names = policyNames[h.epoch]
        let port = portName(slot: Int(h.port))
        let proto: String = switch f.ipProto { case 6: "tcp"; case 17: "udp"; case 132: "sctp"; case 1: "icmp"; case 58: "icmpv6"; default: "proto \(f.ipProto)" }
        let what = f.kind == .ipv4 || f.kind == .ipv6 ? "\(f.src):\(f.srcPort) -> \(f.dst):\(f.dstPort) \(proto)" : "\(f.srcMAC) -> \(f.dstMAC) ethertype 0x\(String(f.etherType, radix: 16))"
        let rule = h.rule == CompiledRule.none ? "" : " rule \(names?.ruleName(h.rule) ?? "\(h.rule)")"
        let verdict = h.allowed ? "allowed" : "denied (\(DropReason(rawValue: h.reason)?.name ?? "?"))"
        return "flow \(verdict): \(what) from port \(port)\(rule)"
    }

    /// Packets written to the capture file, and packets the workers could not queue for it.
    public var captureCounts: (written: UInt64, lost: UInt64) {
        (capturedPackets, workers.reduce(0) { $0 + ($1.pointee.policy.capture?.lost ?? 0) })
    }

    /// Stops and closes every port (PMDs give back the mbufs they hold) and returns
    /// the mbufs still taken from the pool: 0 means nothing leaked.
    public func closePorts() -> Int {
        serviceCapture()
        captureFile?.close()
        captureFile = nil
        if !closed {
            for p in ports { p.close() }
            closed = true
        }
        return pool.inUse
    }

    /// Seconds since launch (until the workers stopped, once they have).
    public var runSeconds: Double {
        guard launchedAt != 0 else { return 0 }
        let end = stoppedAt != 0 ? stoppedAt : cdpdk_tsc()
        return Double(end &- launchedAt) / Double(EAL.tscHz)
    }

    /// Counters of every worker, summed, with each port's DPDK counters.
    public func stats() -> DataplaneStats {
        var s = DataplaneStats()
        s.runSeconds = runSeconds
        (s.captureWritten, s.captureLost) = captureCounts
        for (i, p) in slots.enumerated() {
            guard let p else { continue }
            var ps = DataplaneStats.PortStats(name: p.name, driver: p.driver)
            for w in workers {
                let c = w.pointee.counters
                ps.rx += c.rx(port: i); ps.rxBytes += c.rxBytes(port: i)
                ps.tx += c.tx(port: i); ps.txRefused += c.txRefused(port: i)
                ps.ingressDrops += c.ingressDrops(port: i)
            }
            if !closed {
                let hw = p.hardwareStats()
                ps.hwRxMissed = hw.imissed + hw.ierrors + hw.rx_nombuf
            }
            s.ports.append(ps)
        }
        for w in workers {
            let c = w.pointee.counters
            for r in DropReason.allCases { s.drops[r, default: 0] += c.drops(r) }
            s.floodCopies += c.floodCopies
            s.workers.append(.init(lcore: w.pointee.lcore.rawValue,
                                   rx: removedWorkerRx[w.pointee.index] + slots.indices.reduce(0) { $0 + c.rx(port: $1) },
                                   bursts: c.bursts, busyCycles: c.busyCycles))
        }
        if removedPortCount > 0 { s.removedPorts = (removedPortCount, removedPortTotals) }
        s.drops[.txRefused, default: 0] += s.ports.reduce(0) { $0 + $1.txRefused } + removedPortTotals.txRefused
        if let tables = state?.pointee.policy {
            s.rules = policyNames[tables.compiled.epoch].map { tables.ruleStats(names: $0) } ?? []
            s.policyEpoch = tables.compiled.epoch
            for w in workers {
                let f = w.pointee.policy.flows
                s.conntrackEntries += f.count
                let c = f.counters
                s.conntrack.hits += c.hits; s.conntrack.fastPath += c.fastPath; s.conntrack.denialHits += c.denialHits; s.conntrack.newFlows += c.newFlows; s.conntrack.fullDrops += c.fullDrops
                s.conntrack.budgetDrops += c.budgetDrops
                s.conntrack.expired += c.expired; s.conntrack.invalid += c.invalid; s.conntrack.rechecked += c.rechecked
                s.conntrack.recheckDrops += c.recheckDrops; s.conntrack.kept += c.kept
            }
        }
        s.drops = s.drops.filter { $0.value > 0 }
        return s
    }
}
