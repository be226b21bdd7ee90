import CDPDK
import GBPCore

/// What happens to each packet of a burst: parse, decide, send or drop.
enum Pipeline {
    static let ethernetHeaderLength = 14

    @inline(__always)
    static func process(_ pkts: UnsafeMutablePointer<OpaquePointer?>, count n: Int, ingress: Int,
                        state: UnsafePointer<ForwardingState>, tx: UnsafeMutableBufferPointer<TxPortRef>,
                        counters: WorkerCounters) {
        for i in 0..<n {
            if i + 1 < n { cdpdk_prefetch0(cdpdk_mbuf_data(pkts[i + 1])) }
            let m = pkts[i]
            let length = Int(cdpdk_mbuf_data_len(m))
            counters.countRx(port: ingress, bytes: Int(cdpdk_mbuf_pkt_len(m)))
            guard length >= ethernetHeaderLength, let data = cdpdk_mbuf_data(m) else {
                drop(m, .runtFrame, ingress: ingress, counters: counters)
                continue
            }
            let dst = MACAddress(bytes: data)

            // ---- Policy stage -------------------------------------------------
            // The policy verdict plugs in here: parse the frame, classify it
            // against the published policy snapshot and drop what it denies.
            // ------------------------------------------------------------------

            // ---- L2 forwarding stage -----------------------------------------
            let out = dst.isMulticast ? -1 : state.pointee.l2.lookup(dst)
            if out >= 0 {
                if out == ingress {
                    drop(m, .destinationOnIngressPort, ingress: ingress, counters: counters)
                } else {
                    send(m, port: out, tx: tx, counters: counters)
                }
            } else {
                flood(m, ingress: ingress, portCount: state.pointee.portCount, tx: tx, counters: counters)
            }
        }
    }

    @inline(__always)
    static func send(_ m: OpaquePointer?, port: Int, tx: UnsafeMutableBufferPointer<TxPortRef>, counters: WorkerCounters) {
        let t = tx[port]
        counters.countTxQueued(port: port)
        _ = cdpdk_tx_buffer(t.port, t.queue, t.buffer, m)
    }

    /// Broadcast, multicast and unknown unicast go to every port but the ingress one;
    /// the mbuf is shared (reference count) rather than copied.
    @inline(__always)
    static func flood(_ m: OpaquePointer?, ingress: Int, portCount: Int, tx: UnsafeMutableBufferPointer<TxPortRef>,
                      counters: WorkerCounters) {
        let copies = portCount - 1
        if copies <= 0 {
            drop(m, .noOutputPort, ingress: ingress, counters: counters)
            return
        }
        if copies > 1 {
            cdpdk_mbuf_refcnt_update(m, Int16(copies - 1))
            counters.countFloodCopies(copies - 1)
        }
        for p in 0..<portCount where p != ingress {
            send(m, port: p, tx: tx, counters: counters)
        }
    }

    @inline(__always)
    static func drop(_ m: OpaquePointer?, _ reason: DropReason, ingress: Int, counters: WorkerCounters) {
        counters.countDrop(reason, ingress: ingress)
        cdpdk_mbuf_free(m)
    }
}
