/// What the established fast path found for a packet in its connection's entry.
@frozen
public struct EstablishedHit {
    /// The slot of the connection, for `refresh`.
    public let slot: Int
    /// The endpoints of the packet's source and destination addresses
    /// (`CompiledPolicy.noEndpoint`: none, an address outside the tenant's endpoints).
    public let source: UInt32
    public let destination: UInt32
    public let rule: UInt32
    public let contract: UInt16
    public let log: Bool

    @inlinable init(slot: Int, source: UInt32, destination: UInt32, rule: UInt32, contract: UInt16, log: Bool) {
        self.slot = slot; self.source = source; self.destination = destination
        self.rule = rule; self.contract = contract; self.log = log
    }
}

/// The established fast path: a packet of a live connection whose entry knows the
/// endpoints of both its addresses (`remember`) needs no lookup but that entry: the
/// verdict is the connection's, and the endpoints are what the long path would have
/// found in the endpoint tables for the same addresses under the same policy epoch (a
/// new epoch, which every change of policy, endpoints or ports brings, makes both stale:
/// the long path takes the packet and decides again). The caller still checks the source
/// (MAC and port of the source endpoint) and chooses the output port from them.
///
/// TCP qualifies only in the established state and without SYN, FIN or RST, as the
/// common hit of `track(burst:)`; everything else goes the long way.
extension FlowTable {
    /// The slot where the search for `key`'s connection starts: the same from either end.
    @inlinable @inline(__always)
    public func home(of key: FlowKey) -> Int { Int(truncatingIfNeeded: CanonicalFlowKey.hash(key)) & mask }

    /// Starts loading the entry in slot `slot`.
    @inlinable @inline(__always)
    public func prefetchSlot(_ slot: Int) { prefetch(UnsafeRawPointer(slots + slot)) }

    /// Starts loading what admitting a connection at `home` reads and writes: the slot and
    /// the next (where linear probing may place it) and the slot's group word.
    @inlinable @inline(__always)
    public func prefetchForAdmission(_ home: Int) {
        prefetch(UnsafeRawPointer(slots + home))
        prefetch(UnsafeRawPointer(slots + ((home &+ 1) & mask)))
        prefetch(UnsafeRawPointer(groupWords + home))
    }

    /// The connection of `key` when the packet qualifies (see above), else nil: the caller
    /// takes it the long way. Looks at the home slot and the next. Changes nothing: the
    /// caller calls `refresh` once it accepts the packet.
    @inlinable @inline(__always)
    public func established(_ key: FlowKey, home: Int, tcpFlags: UInt8, now: UInt64, epoch: UInt32) -> EstablishedHit? {
        let proto = key.proto
        var slot = home
        var e = slots + slot
        var m = FlowTable.mismatch(e, key)
        if m.both != 0 {
            slot = (home &+ 1) & mask
            e = slots + slot
            m = FlowTable.mismatch(e, key)
            if m.both != 0 { return nil }
        }
        let st = e.pointee.state
        let flags = e.pointee.flags
        guard e.pointee.expires > now && e.pointee.epoch == epoch && flags & FlowFlag.endpointsKnown != 0
            && (proto != 6 || (st == FlowStateCode.tcpEstablished && tcpFlags & 0x07 == 0)) else { return nil }
        let ends = e.pointee.endpoints
        let srcIsA = m.srcIsA != 0
        return EstablishedHit(slot: slot, source: srcIsA ? ends.a : ends.b, destination: srcIsA ? ends.b : ends.a,
                              rule: e.pointee.rule, contract: e.pointee.contract, log: flags & FlowFlag.log != 0)
    }

    /// A packet of the connection in `slot` (`EstablishedHit.slot`) was accepted: the connection
    /// lives on. The expiry moves in steps of 1/64 of the timeout, so a busy connection dirties
    /// its entry's line once a step rather than once a packet (it may then expire up to 1/64 of
    /// its timeout early).
    @inlinable @inline(__always)
    public func refresh(slot: Int, now: UInt64) {
        let e = slots + slot
        let timeout = timeoutTicks[Int(e.pointee.state)]
        let expires = now &+ timeout
        if expires &- e.pointee.expires > timeout &>> 6 { e.pointee.expires = expires }
    }

    /// Counts `n` packets decided by the fast path as connection hits.
    @inlinable @inline(__always)
    public func countHits(_ n: Int) {
        state.pointee.counters.hits &+= UInt64(truncatingIfNeeded: n)
        state.pointee.counters.fastPath &+= UInt64(truncatingIfNeeded: n)
    }

    /// Counts `n` packets dropped by the fast path from a remembered denial.
    @inlinable @inline(__always)
    public func countDenialHits(_ n: Int) {
        state.pointee.counters.denialHits &+= UInt64(truncatingIfNeeded: n)
    }

    /// Remembers in the entry at `slot` (from `track(burst:hitSlots:)`) the endpoints that
    /// the source and destination addresses of `key` resolved to under `epoch`. Nothing is
    /// written unless the slot still holds that connection under `epoch` (a later packet
    /// of the burst may have moved entries), or when an endpoint id does not fit 24 bits.
    @inlinable
    public func remember(slot: Int, key: FlowKey, source: UInt32, destination: UInt32, epoch: UInt32) {
        guard slot >= 0 && slot <= mask && FlowEntry.fits24(source) && FlowEntry.fits24(destination) else { return }
        let e = slots + slot
        let m = FlowTable.mismatch(e, key)
        guard m.both == 0 && e.pointee.epoch == epoch else { return }
        if m.srcIsA != 0 {
            e.pointee.setEndpoints(a: source, b: destination)
        } else {
            e.pointee.setEndpoints(a: destination, b: source)
        }
        e.pointee.flags |= FlowFlag.endpointsKnown
    }
}
