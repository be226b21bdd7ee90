/// TCP connection states as the flow table follows them (a simplified RFC 793 machine,
/// in the spirit of Linux and OVS conntrack, without sequence-number windows):
///
///   SYN from the opener ............ new entry in synSent (only a SYN without ACK opens)
///   synSent:      SYN-ACK from the other side -> synReceived; other packets from it are invalid
///   synReceived:  ACK from the opener -> established
///   any open state: FIN from a side -> closing; FIN from both -> timeWait
///   any state:    RST -> closed
///   timeWait, closed: a new SYN from the opener reopens (the connection is classified again);
///                 in closed, anything else is invalid; in timeWait, late ACKs pass.
@usableFromInline
enum TCPTracker {
    @inlinable static var fin: UInt8 { 0x01 }
    @inlinable static var syn: UInt8 { 0x02 }
    @inlinable static var rst: UInt8 { 0x04 }
    @inlinable static var ack: UInt8 { 0x10 }

    /// True for the packet that may open a connection: SYN without ACK (nor RST).
    @inlinable @inline(__always)
    static func opens(_ flags: UInt8) -> Bool { flags & (0x02 | 0x10 | 0x04) == 0x02 }

    @frozen @usableFromInline
    enum Step: Equatable {
        case ok(state: UInt8, flags: UInt8)
        case invalid
        /// A new SYN on a finished connection: start over as a new flow.
        case reopen
    }

    /// The next state for a packet with TCP `tcpFlags` from the opener (`fromOrig`) or the other side.
    @inlinable @inline(__always)
    static func step(state: UInt8, entryFlags: UInt8, tcpFlags t: UInt8, fromOrig: Bool) -> Step {
        if state == FlowStateCode.tcpEstablished && t & (0x01 | 0x02 | 0x04) == 0 {
            return .ok(state: state, flags: entryFlags)  // the common case: data and ACKs
        }
        return slowStep(state: state, entryFlags: entryFlags, tcpFlags: t, fromOrig: fromOrig)
    }

    @inlinable
    static func slowStep(state: UInt8, entryFlags: UInt8, tcpFlags t: UInt8, fromOrig: Bool) -> Step {
        let isSyn = t & 0x02 != 0, isAck = t & 0x10 != 0, isFin = t & 0x01 != 0, isRst = t & 0x04 != 0
        if state == FlowStateCode.tcpTimeWait || state == FlowStateCode.tcpClosed {
            if fromOrig && opens(t) { return .reopen }
            if state == FlowStateCode.tcpClosed { return isRst ? .ok(state: state, flags: entryFlags) : .invalid }
            return isSyn ? .invalid : .ok(state: state, flags: entryFlags)
        }
        if isRst { return .ok(state: FlowStateCode.tcpClosed, flags: entryFlags) }
        switch state {
        case FlowStateCode.tcpSynSent:
            if fromOrig { return .ok(state: state, flags: entryFlags) }
            return isSyn && isAck ? .ok(state: FlowStateCode.tcpSynReceived, flags: entryFlags) : .invalid
        case FlowStateCode.tcpSynReceived:
            if fromOrig && isAck && !isSyn && !isFin { return .ok(state: FlowStateCode.tcpEstablished, flags: entryFlags) }
            if isFin { return finStep(entryFlags: entryFlags, fromOrig: fromOrig) }
            return .ok(state: state, flags: entryFlags)
        default:  // established, closing
            if isSyn { return .invalid }
            if isFin { return finStep(entryFlags: entryFlags, fromOrig: fromOrig) }
            return .ok(state: state, flags: entryFlags)
        }
    }

    @inlinable
    static func finStep(entryFlags: UInt8, fromOrig: Bool) -> Step {
        let f = entryFlags | (fromOrig ? FlowFlag.finOrig : FlowFlag.finReply)
        let both = f & (FlowFlag.finOrig | FlowFlag.finReply) == FlowFlag.finOrig | FlowFlag.finReply
        return .ok(state: both ? FlowStateCode.tcpTimeWait : FlowStateCode.tcpClosing, flags: f)
    }
}
