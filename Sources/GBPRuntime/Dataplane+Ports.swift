import CDPDK
import GBPCore

/// Ports added and removed while traffic flows. Workers learn of a new set of ports the
/// way they learn of a new policy: a whole new snapshot is published, and what the old
/// one used is released only after every worker has passed a quiescent point.
extension Dataplane {
    /// Opens `p` in the lowest free slot and points every worker's tx entry for that slot
    /// at it (workers do not look at a slot before a snapshot that uses it is published).
    func openPort(_ p: RuntimeConfig.Port) throws(DPDKError) -> Int {
        guard let slot = slots.firstIndex(where: { $0 == nil }) ?? (slots.count < WorkerCounters.maxPorts ? slots.count : nil) else {
            throw DPDKError("opening port '\(p.name)'", code: 28, detail: "all \(WorkerCounters.maxPorts) port slots are in use")
        }
        let port = try Port.open(name: p.name, devargs: p.devargs, queues: workers.count, rxDescriptors: config.rxDescriptors,
                                 txDescriptors: config.txDescriptors, pool: pool)
        if slot == slots.count { slots.append(port) } else { slots[slot] = port }
        for w in workers { w.pointee.tx[slot].port = port.id.rawValue }
        return slot
    }

    /// Opens port `p` and publishes `newConfig` (whose ports are the current ones plus
    /// `p`, and whose policy may attach endpoints to it). If the policy does not compile,
    /// the port is closed again and nothing changes.
    public func addPort(_ p: RuntimeConfig.Port, config newConfig: RuntimeConfig) throws(PortChangeError) -> PolicySwap {
        guard !ports.contains(where: { $0.name == p.name }) else { throw .port(DPDKError("adding port '\(p.name)'", code: 17, detail: "a port of that name exists")) }
        let t0 = cdpdk_tsc()
        let slot: Int
        do { slot = try openPort(p) } catch { throw .port(error) }
        if let file = captureFile, let k = try? file.addInterface(name: p.name) { captureInterface[slot] = k }
        do { return try swap(to: newConfig, since: t0) } catch {
            // Nothing was published: no worker saw the port. Leave the slot as a free one.
            slots[slot]?.close()
            slots[slot] = nil
            captureInterface[slot] = nil
            for w in workers { w.pointee.tx[slot].port = UInt16.max }
            throw .policy(error)
        }
    }

    /// Publishes `newConfig` (the current ports without `name`), then, once no worker can
    /// use the port any more, sends what the workers buffered for it, closes it (the PMD
    /// gives its mbufs back) and moves its counters to `removedPortTotals`.
    public func removePort(named name: String, config newConfig: RuntimeConfig) throws(PortChangeError) -> PolicySwap {
        guard let slot = slots.firstIndex(where: { $0?.name == name }), let port = slots[slot] else {
            throw .port(DPDKError("removing port '\(name)'", code: 19, detail: "no port of that name"))
        }
        guard !newConfig.ports.contains(where: { $0.name == name }) else {
            throw .port(DPDKError("removing port '\(name)'", code: 22, detail: "the new config still has the port"))
        }
        let t0 = cdpdk_tsc()
        let result: PolicySwap
        do { result = try swap(to: newConfig, since: t0) } catch { throw .policy(error) }
        // After the swap's RCU synchronisation no worker reads this slot: its tx queues are ours.
        for w in workers {
            let t = w.pointee.tx[slot]
            if cdpdk_tx_buffer_length(t.buffer) > 0 { _ = cdpdk_tx_buffer_flush(t.port, t.queue, t.buffer) }
            w.pointee.tx[slot].port = UInt16.max
        }
        serviceCapture()
        port.close()
        slots[slot] = nil
        captureInterface[slot] = nil
        retireCounters(slot: slot)
        return result
    }

    /// Adds a freed slot's counters to the removed ports' totals and zeroes them, so the
    /// next port in the slot starts from 0. Only after no worker writes the slot.
    private func retireCounters(slot i: Int) {
        removedPortCount += 1
        for w in workers {
            let c = w.pointee.counters
            removedPortTotals.rx &+= c.rx(port: i); removedPortTotals.rxBytes &+= c.rxBytes(port: i)
            removedPortTotals.tx &+= c.tx(port: i); removedPortTotals.txRefused &+= c.txRefused(port: i)
            removedPortTotals.ingressDrops &+= c.ingressDrops(port: i)
            removedWorkerRx[w.pointee.index] &+= c.rx(port: i)
            c.resetPort(i)
        }
    }

    /// The name of the port in `slot`, for logs and captures.
    func portName(slot: Int) -> String {
        slot >= 0 && slot < slots.count ? (slots[slot]?.name ?? "(removed port)") : "?"
    }
}

/// Why a port could not be added or removed; nothing changed.
public enum PortChangeError: Error, CustomStringConvertible {
    case port(DPDKError)
    case policy(PolicyRejection)

    public var description: String {
        switch self {
        case .port(let e): "\(e)"
        case .policy(let r): r.errors.map(\.description).joined(separator: "; ")
        }
    }
}
