import CDPDK
import GBPCore

/// What the pipelines decide for each packet of a burst, then carry out for the
/// whole burst at once: a port index (>= 0), `floodAll` / `floodTenant`, or a drop
/// (`dropped(reason)`). When every packet of a burst goes to one port, the burst is
/// handed to that port's tx queue as it is, like dpdk-testpmd's io forwarding.
enum Outcome {
    static let floodAll: Int32 = -1
    static let floodTenant: Int32 = -2
    @inline(__always) static func dropped(_ r: DropReason) -> Int32 { -1000 - Int32(r.rawValue) }
    @inline(__always) static func reason(_ o: Int32) -> DropReason { DropReason(rawValue: UInt8(truncatingIfNeeded: -1000 - o))! }
}

/// The plain L2 path (no policy configured): destination MAC -> port, flood the
/// rest. With a policy, workers run `PolicyPipeline` instead. A burst to a single
/// unicast destination (the common case) goes out through `sameUnicastDestination`
/// and `sendBurst`, called from the worker's loop; `process` is the general path.
enum Pipeline {
    static let ethernetHeaderLength = 14

    @inline(never)   // the general path stays out of the worker's hot loop
    static func process(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, ingress: Int,
                        state: UnsafePointer<ForwardingState>, tx: UnsafeMutableBufferPointer<TxPortRef>,
                        counters: WorkerCounters, outs: UnsafeMutablePointer<Int32>) {
        let l2 = state.pointee.l2
        var bytes = 0
        // Packets of a burst mostly share a destination: remember the last decision.
        var lastMAC = UInt64.max, lastOut: Int32 = 0
        for i in 0..<n {
            if i + 1 < n { cdpdk_prefetch0(cdpdk_mbuf_data(pkts[i + 1])) }
            let m = pkts[i]
            let length = Int(cdpdk_mbuf_data_len(m))
            bytes &+= length
            guard length >= ethernetHeaderLength, let data = cdpdk_mbuf_data(m) else {
                outs[i] = Outcome.dropped(.runtFrame)
                continue
            }
            let dst = MACAddress(wire: data)
            if dst.raw == lastMAC { outs[i] = lastOut; continue }
            let out = dst.isMulticast ? -1 : l2.lookup(dst)
            lastOut = out < 0 ? Outcome.floodAll : (out == ingress ? Outcome.dropped(.destinationOnIngressPort) : Int32(out))
            lastMAC = dst.raw
            outs[i] = lastOut
        }
        counters.countRx(port: ingress, packets: n, bytes: bytes)
        deliver(pkts, count: n, outs: outs, ingress: ingress, tx: tx, counters: counters) { m, _ in
            flood(m, ingress: ingress, slots: state.pointee.ports.slots, tx: tx, counters: counters)
        }
    }

    /// The common burst: every frame to one unicast MAC that lives on another port. One
    /// pass compares each frame's destination bytes with the first frame's (no MAC is
    /// built, nothing is written per packet), then one lookup decides for all. Returns
    /// that port with the burst's rx counted, or nil (nothing counted) for the general path.
    @inline(__always)
    static func sameUnicastDestination(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, l2: L2Table, ingress: Int,
                                       counters: WorkerCounters) -> Int? {
        let first = pkts[0]
        guard cdpdk_mbuf_data_len(first) >= ethernetHeaderLength, let d0 = cdpdk_mbuf_data(first) else { return nil }
        // The first 8 bytes of a frame (all inside its 14-byte header); the low 48 bits, in
        // memory order on little-endian machines, are the destination MAC.
        let macBits: UInt64 = 0xFFFF_FFFF_FFFF
        let key = UInt64(littleEndian: d0.loadUnaligned(as: UInt64.self)) & macBits
        var bytes = 0
        var i = 0
        while i < n {
            let m = pkts[i]
            i &+= 1
            let length = Int(cdpdk_mbuf_data_len(m))
            bytes &+= length
            if length < ethernetHeaderLength { return nil }
            let d = cdpdk_mbuf_data(m).unsafelyUnwrapped
            if (UInt64(littleEndian: d.loadUnaligned(as: UInt64.self)) ^ key) & macBits != 0 { return nil }
        }
        let dst = MACAddress(wire: UnsafeRawPointer(d0))
        guard !dst.isMulticast else { return nil }
        let out = l2.lookup(dst)
        guard out >= 0, out != ingress else { return nil }
        counters.countRx(port: ingress, packets: n, bytes: bytes)
        return out
    }

    /// Carries out the burst's outcomes. `flood` handles `floodAll`/`floodTenant`.
    ///
    /// A burst that is not all for one port is mostly one port and a few drops (what the
    /// policy denies): the packets for the port of the first forwarded one are gathered at
    /// the front of `pkts` (read in order, so nothing unread is overwritten) and leave in
    /// one tx burst; packets for other ports go through their ports' tx buffers, drops are
    /// freed. A flood first sends what was gathered, so the port sees the burst's order.
    @inline(__always)
    static func deliver(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, outs: UnsafeMutablePointer<Int32>,
                        ingress: Int, tx: UnsafeMutableBufferPointer<TxPortRef>, counters: WorkerCounters,
                        flood: (OpaquePointer?, Int32) -> Void) {
        let first = outs[0]
        var uniform = first >= 0
        var i = 1
        while uniform && i < n { uniform = outs[i] == first; i += 1 }
        if uniform {
            sendBurst(pkts, count: n, port: Int(first), tx: tx, counters: counters)
            return
        }
        var main: Int32 = -1
        var gathered = 0
        for i in 0..<n {
            let o = outs[i]
            let m = pkts[i]
            if o >= 0 {
                if main < 0 { main = o }
                if o == main {
                    pkts[gathered] = m
                    gathered &+= 1
                } else {
                    send(m, port: Int(o), tx: tx, counters: counters)
                }
            } else if o > -1000 {
                if gathered > 0 { sendBurst(pkts, count: gathered, port: Int(main), tx: tx, counters: counters); gathered = 0 }
                flood(m, o)
            } else {
                drop(m, Outcome.reason(o), ingress: ingress, counters: counters)
            }
        }
        if gathered > 0 { sendBurst(pkts, count: gathered, port: Int(main), tx: tx, counters: counters) }
    }

    /// A whole burst for one port goes straight to its tx queue (after what is
    /// already buffered for it, to keep order); refused packets are freed and counted.
    @inline(__always)
    static func sendBurst(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, port: Int,
                          tx: UnsafeMutableBufferPointer<TxPortRef>, counters: WorkerCounters) {
        let t = tx[port]
        if cdpdk_tx_buffer_length(t.buffer) > 0 { _ = cdpdk_tx_buffer_flush(t.port, t.queue, t.buffer) }
        let sent = Int(cdpdk_tx_burst(t.port, t.queue, pkts, UInt16(n)))
        counters.countTxQueued(port: port, packets: n)
        if sent < n {
            counters.countTxRefused(port: port, packets: n - sent)
            cdpdk_mbuf_free_bulk(pkts + sent, UInt32(n - sent))
        }
    }

    @inline(__always)
    static func send(_ m: OpaquePointer?, port: Int, tx: UnsafeMutableBufferPointer<TxPortRef>, counters: WorkerCounters) {
        let t = tx[port]
        counters.countTxQueued(port: port, packets: 1)
        _ = cdpdk_tx_buffer(t.port, t.queue, t.buffer, m)
    }

    /// Broadcast, multicast and unknown unicast go to every port but the ingress one;
    /// the mbuf is shared (reference count) rather than copied.
    @inline(__always)
    static func flood(_ m: OpaquePointer?, ingress: Int, slots: UnsafeMutableBufferPointer<Int32>, tx: UnsafeMutableBufferPointer<TxPortRef>,
                      counters: WorkerCounters) {
        let copies = slots.count - 1
        if copies <= 0 {
            drop(m, .noOutputPort, ingress: ingress, counters: counters)
            return
        }
        if copies > 1 {
            cdpdk_mbuf_refcnt_update(m, Int16(copies - 1))
            counters.countFloodCopies(copies - 1)
        }
        var i = 0
        while i < slots.count {   // an index loop: see Worker.run
            let p = Int(slots[i])
            i &+= 1
            if p != ingress { send(m, port: p, tx: tx, counters: counters) }
        }
    }

    @inline(__always)
    static func drop(_ m: OpaquePointer?, _ reason: DropReason, ingress: Int, counters: WorkerCounters) {
        counters.countDrop(reason, ingress: ingress)
        cdpdk_mbuf_free(m)
    }
}
