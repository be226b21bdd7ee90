import CDPDK
import GBPCore

/// The poll-mode loop each worker lcore runs, shaped like DPDK's l2fwd: until told
/// to stop, drain tx buffers on a timer, rx burst, skip empty bursts, process,
/// buffer for tx; refused packets are freed and counted by the tx-buffer callback.
enum Worker {
    static let burstSize = 32
    /// Connection-table slots an idle loop turn looks at for expired connections.
    static let idleSweepSlots = 16

    /// Entry point for `rte_eal_remote_launch`; `arg` is the worker's context.
    static let entry: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { arg in
        Worker.run(arg!.assumingMemoryBound(to: WorkerContext.self))
        return 0
    }

    static func run(_ ctx: UnsafeMutablePointer<WorkerContext>) {
        let tx = ctx.pointee.tx
        let counters = ctx.pointee.counters
        let drainCycles = ctx.pointee.drainCycles
        let stateSlot = UnsafeRawPointer(ctx.pointee.stateSlot).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
        let pkts = ctx.pointee.burst
        let outs = ctx.pointee.outcomes
        let local = (UnsafeMutableRawPointer(ctx) + MemoryLayout<WorkerContext>.offset(of: \WorkerContext.policy)!)
            .assumingMemoryBound(to: WorkerPolicyState.self)
        var lastDrain = cdpdk_tsc()
        // Busy cycles: a loop turn that received packets counts until the next turn starts
        // (one TSC read per turn).
        var turnStart = lastDrain, turnBusy = false
        let rcu = ctx.pointee.rcu
        let worker = ctx.pointee.index
        cdpdk_rcu_online(rcu, UInt32(worker))
        defer { cdpdk_rcu_offline(rcu, UInt32(worker)) }

        while !cdpdk_should_stop() {
            // One snapshot per loop turn: its ports, its policy.
            let state = UnsafePointer<ForwardingState>(OpaquePointer(cdpdk_load_acquire_ptr(stateSlot))!)
            let now = cdpdk_tsc()
            if turnBusy { counters.countBusy(cycles: now &- turnStart) }
            turnStart = now
            turnBusy = false
            if now &- lastDrain > drainCycles {
                flushAll(tx, slots: state.pointee.ports.slots)
                lastDrain = now
            }
            // Index loops, not for-in: iterating an unsafe buffer with for-in was seen to call
            // the stdlib's unspecialized iterator (perf: 20% of the worker in libswiftCore).
            let queues = state.pointee.ports.rxQueues(worker: worker)
            var qi = 0
            while qi < queues.count {
                let q = queues[qi]
                qi &+= 1
                let n = Int(cdpdk_rx_burst(q.port, q.queue, pkts, UInt16(burstSize)))
                if n == 0 { continue }
                if state.pointee.hasPolicy {
                    let tables = state.pointee.policy.unsafelyUnwrapped
                    PolicyPipeline.process(pkts, count: n, ingress: q.portIndex, state: state, tables: tables, tx: tx,
                                           counters: counters, local: local, rules: tables.ruleCounters(worker: worker),
                                           now: now, outs: outs)
                } else if let out = Pipeline.sameUnicastDestination(pkts, count: n, l2: state.pointee.l2, ingress: q.portIndex,
                                                                    counters: counters) {
                    Pipeline.sendBurst(pkts, count: n, port: out, tx: tx, counters: counters)
                } else {
                    Pipeline.process(pkts, count: n, ingress: q.portIndex, state: state, tx: tx, counters: counters, outs: outs)
                }
                counters.countBurst()
                turnBusy = true
            }
            // An idle turn sweeps a few slots of the connection table: expired connections
            // leave it (and its counts) without waiting for the table to fill.
            if !turnBusy && state.pointee.hasPolicy { local.pointee.flows.expire(now: now, budget: idleSweepSlots) }
            // This worker holds no pointer into published state between loop turns.
            cdpdk_rcu_quiescent(rcu, UInt32(worker))
        }
        let state = UnsafePointer<ForwardingState>(OpaquePointer(cdpdk_load_acquire_ptr(stateSlot))!)
        flushAll(tx, slots: state.pointee.ports.slots)
        ctx.pointee.finished = true
    }

    @inline(__always)
    static func flushAll(_ tx: UnsafeMutableBufferPointer<TxPortRef>, slots: UnsafeMutableBufferPointer<Int32>) {
        var i = 0
        while i < slots.count {
            let t = tx[Int(slots[i])]
            i &+= 1
            if cdpdk_tx_buffer_length(t.buffer) > 0 { _ = cdpdk_tx_buffer_flush(t.port, t.queue, t.buffer) }
        }
    }
}
