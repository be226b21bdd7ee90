/// Denials remembered, so that the packets of a denied flow that keep coming (SYN
/// retries, a UDP stream to a service the policy closes) are dropped by the established
/// fast path from one line, instead of going through the endpoint tables and the
/// classifier again each time.
///
/// A denial is the long path's verdict for a TCP, UDP or SCTP packet whose connection
/// conntrack did not hold: a deny rule, no contract, or intra-group denied. It is kept
/// per direction (the reverse direction may well be allowed) under the policy epoch, and
/// it stays true while
/// - the epoch is the same: the verdict of a packet without a connection depends only on
///   its tenant, addresses, protocol and ports (the classifier reads nothing else of
///   TCP, UDP and SCTP) and on the tables of that epoch;
/// - conntrack holds no connection of the flow: the pipeline calls `forget` whenever it
///   admits a connection, in packet order, and a denial is only remembered when the
///   long path found no connection.
///
/// Direct-mapped on the conntrack home slot (the same hash from either end), 64 bytes a
/// line: a denial only ever replaces another denial, never a connection, so denied
/// traffic takes no room from conntrack however many flows it opens.
@frozen
public struct DenialCache: @unchecked Sendable {
    @usableFromInline let lines: UnsafeMutablePointer<Denial>
    @usableFromInline let mask: Int
    /// Denials remembered so far: while none, admitting a connection has nothing to forget.
    @usableFromInline let remembered: UnsafeMutablePointer<UInt64>

    /// Lines of a worker's cache: 256 KiB.
    public static let defaultLines = 4096

    /// A cache of `lines` lines, rounded up to a power of two.
    public init(lines: Int = DenialCache.defaultLines) {
        var n = 16
        while n < lines { n <<= 1 }
        mask = n - 1
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Denial>.stride, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: n * MemoryLayout<Denial>.stride)
        self.lines = raw.bindMemory(to: Denial.self, capacity: n)
        remembered = .allocate(capacity: 1)
        remembered.initialize(to: 0)
        precondition(MemoryLayout<Denial>.stride == 64, "Denial must fill one cache line")
    }

    public func deallocate() {
        UnsafeMutableRawPointer(lines).deallocate()
        remembered.deallocate()
    }

    /// Denials remembered so far (each replaces whatever its line held).
    public var count: UInt64 { remembered.pointee }

    /// Whether the cache keeps verdict `v` of a packet of IP protocol `proto`.
    @inlinable @inline(__always)
    public static func keeps(_ v: Verdict, proto: UInt8) -> Bool {
        guard proto == 6 || proto == 17 || proto == 132, let r = v.reason else { return false }
        return r == .deniedByRule || r == .noContract || r == .intraGroupDenied
    }

    /// The denial of a packet with `key` (its direction) under `epoch`, if remembered.
    /// `home` is the key's conntrack home slot (`FlowTable.home(of:)`).
    @inlinable @inline(__always)
    public func lookup(_ key: FlowKey, home: Int, epoch: UInt32) -> RememberedDenial? {
        guard remembered.pointee != 0 else { return nil }
        let d = lines + (home & mask)
        guard d.pointee.matches(key) && d.pointee.epoch == epoch else { return nil }
        return RememberedDenial(reason: d.pointee.reason, source: d.pointee.source,
                                rule: d.pointee.rule, contract: d.pointee.contract, log: d.pointee.log)
    }

    /// Remembers that the long path denied the packet with `key` under `epoch` with `verdict`
    /// (`keeps(verdict, proto:)`); `source` is the endpoint of its source address
    /// (`CompiledPolicy.noEndpoint`: none), which the fast path checks as the long path does.
    /// Returns whether that denial was remembered already (a denied flow that keeps sending).
    @inlinable @discardableResult
    public func remember(_ key: FlowKey, home: Int, epoch: UInt32, verdict v: Verdict, source: UInt32) -> Bool {
        let d = lines + (home & mask)
        let again = d.pointee.matches(key) && d.pointee.epoch == epoch
        d.pointee = Denial(key: key, epoch: epoch, rule: v.rule, source: source, contract: v.contract,
                           reason: v.reason ?? .deniedByRule, log: v.log)
        remembered.pointee &+= 1
        return again
    }

    /// Forgets any denial of the flow of `key`, in either direction: conntrack has just
    /// admitted its connection, whose packets are now hits.
    @inlinable @inline(__always)
    public func forget(_ key: FlowKey, home: Int) {
        guard remembered.pointee != 0 else { return }
        let d = lines + (home & mask)
        if d.pointee.matches(key) || d.pointee.matches(key.reversed) { d.pointee.proto = 0 }
    }
}

/// What a remembered denial gives the fast path.
@frozen
public struct RememberedDenial {
    public let reason: DropReason
    /// The endpoint of the packet's source address when the denial was taken.
    public let source: UInt32
    public let rule: UInt32
    public let contract: UInt16
    public let log: Bool

    @inlinable init(reason: DropReason, source: UInt32, rule: UInt32, contract: UInt16, log: Bool) {
        self.reason = reason; self.source = source; self.rule = rule; self.contract = contract; self.log = log
    }
}

/// One line of `DenialCache`: the key in the packet's direction, and the verdict. A line
/// whose `proto` is 0 holds nothing (only TCP, UDP and SCTP are kept).
@frozen @usableFromInline
struct Denial {
    @usableFromInline var srcHi: UInt64 = 0
    @usableFromInline var srcLo: UInt64 = 0
    @usableFromInline var dstHi: UInt64 = 0
    @usableFromInline var dstLo: UInt64 = 0
    @usableFromInline var srcPort: UInt16 = 0
    @usableFromInline var dstPort: UInt16 = 0
    @usableFromInline var tenant: UInt16 = 0
    @usableFromInline var proto: UInt8 = 0
    @usableFromInline var reason: DropReason = .deniedByRule
    @usableFromInline var epoch: UInt32 = 0
    @usableFromInline var rule: UInt32 = 0
    @usableFromInline var source: UInt32 = 0
    @usableFromInline var contract: UInt16 = 0
    @usableFromInline var log = false
    @usableFromInline var padding: UInt64 = 0   // to 64 bytes

    @inlinable
    init(key k: FlowKey, epoch: UInt32, rule: UInt32, source: UInt32, contract: UInt16, reason: DropReason, log: Bool) {
        srcHi = k.src.hi; srcLo = k.src.lo; dstHi = k.dst.hi; dstLo = k.dst.lo
        srcPort = k.srcPort; dstPort = k.dstPort; tenant = k.tenant; proto = k.proto
        self.reason = reason; self.epoch = epoch; self.rule = rule; self.source = source; self.contract = contract; self.log = log
    }

    @inlinable @inline(__always)
    func matches(_ k: FlowKey) -> Bool {
        let ports = UInt32(srcPort) | UInt32(dstPort) &<< 16, kPorts = UInt32(k.srcPort) | UInt32(k.dstPort) &<< 16
        return (srcLo ^ k.src.lo) | (dstLo ^ k.dst.lo) | (srcHi ^ k.src.hi) | (dstHi ^ k.dst.hi)
            | UInt64(ports ^ kPorts) | UInt64(tenant ^ k.tenant) | UInt64(proto ^ k.proto) == 0 && proto != 0
    }
}
