/// Flow entry states. 0 marks a free slot; the TCP states follow the connection's life.
@usableFromInline
enum FlowStateCode {
    @inlinable static var free: UInt8 { 0 }
    @inlinable static var udp: UInt8 { 1 }
    @inlinable static var sctp: UInt8 { 2 }
    @inlinable static var icmp: UInt8 { 3 }
    @inlinable static var otherIP: UInt8 { 4 }
    @inlinable static var tcpSynSent: UInt8 { 5 }
    @inlinable static var tcpSynReceived: UInt8 { 6 }
    @inlinable static var tcpEstablished: UInt8 { 7 }
    @inlinable static var tcpClosing: UInt8 { 8 }
    @inlinable static var tcpTimeWait: UInt8 { 9 }
    @inlinable static var tcpClosed: UInt8 { 10 }
    static let count = 11
}

/// Bits of `FlowEntry.flags`.
@usableFromInline
enum FlowFlag {
    /// The side that opened the connection is side A (set on every entry: entries are
    /// stored as their opener sent the first packet).
    @inlinable static var origIsA: UInt8 { 0x01 }
    @inlinable static var log: UInt8 { 0x02 }
    /// Admitted by a contract with `onPolicyChange: keep`.
    @inlinable static var keep: UInt8 { 0x04 }
    @inlinable static var finOrig: UInt8 { 0x08 }
    @inlinable static var finReply: UInt8 { 0x10 }
    /// The entry's endpoints are those of its addresses under its epoch (`FlowTable.remember`).
    @inlinable static var endpointsKnown: UInt8 { 0x20 }
}

/// One connection, in one 64-byte slot (one cache line). The key is canonical: side A is
/// the smaller (address, port) of the two ends, so both directions find the same entry.
///
/// The lookup compares keys as five 64-bit words: the four address words, then the word
/// at byte 32 that holds aPort, bPort, tenant and proto (and the state in its top byte).
/// `FlowTable.init` checks this layout. The groups of the two ends, which only the
/// verdicts of the long path carry, live beside the slots (`FlowTable.groupWords`), so
/// that the line holds what the established fast path needs: the key, the state, the
/// verdict and the endpoints of both ends.
@frozen @usableFromInline
struct FlowEntry {
    @usableFromInline var aHi: UInt64
    @usableFromInline var aLo: UInt64
    @usableFromInline var bHi: UInt64
    @usableFromInline var bLo: UInt64
    @usableFromInline var aPort: UInt16
    @usableFromInline var bPort: UInt16
    @usableFromInline var tenant: UInt16
    @usableFromInline var proto: UInt8
    @usableFromInline var state: UInt8
    /// Time (caller's ticks) at which the entry expires unless a packet refreshes it.
    @usableFromInline var expires: UInt64
    /// Epoch of the policy the verdict below was taken under.
    @usableFromInline var epoch: UInt32
    /// The deciding rule in the low 24 bits (all ones: none), the `FlowFlag`s in the top 8.
    @usableFromInline var ruleAndFlags: UInt32
    @usableFromInline var contract: UInt16
    /// The endpoints that side A's and side B's addresses resolve to under `epoch`
    /// (valid with `FlowFlag.endpointsKnown`), 24 bits each: the low 16 bits of A's and of
    /// B's, then their high 8 bits (A's in the low byte).
    @usableFromInline var endsA: UInt16 = 0
    @usableFromInline var endsB: UInt16 = 0
    @usableFromInline var endsHigh: UInt16 = 0

    /// The 24-bit form of "no endpoint" (`CompiledPolicy.noEndpoint`).
    @inlinable static var noEndpoint24: UInt32 { 0xFF_FFFF }

    @inlinable
    init(_ k: CanonicalFlowKey, state: UInt8, expires: UInt64, epoch: UInt32, rule: UInt32, contract: UInt16, flags: UInt8) {
        aHi = k.aHi; aLo = k.aLo; bHi = k.bHi; bLo = k.bLo; aPort = k.aPort; bPort = k.bPort
        tenant = k.tenant; proto = k.proto; self.state = state; self.expires = expires; self.epoch = epoch
        ruleAndFlags = FlowEntry.rule24(rule) | UInt32(flags) &<< 24
        self.contract = contract
    }

    /// Rule ids past 24 bits (a policy of more than 16 million rules) are kept as none:
    /// such a connection is still tracked, its packets are not counted per rule.
    @inlinable @inline(__always)
    static func rule24(_ rule: UInt32) -> UInt32 { rule < 0xFF_FFFF ? rule : 0xFF_FFFF }

    @inlinable var rule: UInt32 {
        @inline(__always) get {
            let r = ruleAndFlags & 0xFF_FFFF
            return r == 0xFF_FFFF ? CompiledRule.none : r
        }
        set { ruleAndFlags = ruleAndFlags & 0xFF00_0000 | FlowEntry.rule24(newValue) }
    }

    @inlinable var flags: UInt8 {
        @inline(__always) get { UInt8(truncatingIfNeeded: ruleAndFlags &>> 24) }
        set { ruleAndFlags = ruleAndFlags & 0xFF_FFFF | UInt32(newValue) &<< 24 }
    }

    /// The endpoints of sides A and B (`CompiledPolicy.noEndpoint`: none).
    @inlinable var endpoints: (a: UInt32, b: UInt32) {
        @inline(__always) get {
            let a = UInt32(endsA) | UInt32(endsHigh & 0xFF) &<< 16, b = UInt32(endsB) | UInt32(endsHigh &>> 8) &<< 16
            return (a == FlowEntry.noEndpoint24 ? CompiledPolicy.noEndpoint : a, b == FlowEntry.noEndpoint24 ? CompiledPolicy.noEndpoint : b)
        }
    }

    /// Whether endpoint id `id` (or `CompiledPolicy.noEndpoint`) has a 24-bit form.
    @inlinable @inline(__always)
    static func fits24(_ id: UInt32) -> Bool { id < noEndpoint24 || id == CompiledPolicy.noEndpoint }

    /// Sets the endpoints of sides A and B (each `fits24`).
    @inlinable @inline(__always)
    mutating func setEndpoints(a: UInt32, b: UInt32) {
        let a24 = min(a, FlowEntry.noEndpoint24), b24 = min(b, FlowEntry.noEndpoint24)
        endsA = UInt16(truncatingIfNeeded: a24)
        endsB = UInt16(truncatingIfNeeded: b24)
        endsHigh = UInt16(truncatingIfNeeded: a24 &>> 16) | UInt16(truncatingIfNeeded: b24 &>> 16) &<< 8
    }

    /// True when the layout is the one `CanonicalFlowKey.matches` reads.
    static var hasKeyWordLayout: Bool {
        MemoryLayout<FlowEntry>.stride == 64 && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.aHi) == 0
            && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.aLo) == 8 && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.bHi) == 16
            && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.bLo) == 24 && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.aPort) == 32
            && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.bPort) == 34 && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.tenant) == 36
            && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.proto) == 38 && MemoryLayout<FlowEntry>.offset(of: \FlowEntry.state) == 39
    }

    @inlinable @inline(__always)
    var hash: UInt64 {
        CanonicalFlowKey.hash(aHi: aHi, aLo: aLo, bHi: bHi, bLo: bLo,
                              tail: UInt64(aPort) | UInt64(bPort) &<< 16 | UInt64(tenant) &<< 32 | UInt64(proto) &<< 48)
    }
}

/// A `FlowKey` in canonical order, with the packet's direction relative to it.
@frozen @usableFromInline
struct CanonicalFlowKey {
    @usableFromInline var aHi: UInt64
    @usableFromInline var aLo: UInt64
    @usableFromInline var bHi: UInt64
    @usableFromInline var bLo: UInt64
    /// aPort | bPort << 16 | tenant << 32 | proto << 48: `FlowEntry`'s word at byte 32 without the state.
    @usableFromInline var tail: UInt64
    /// 1 when the packet's source is side A, else 0.
    @usableFromInline var srcIsA: UInt64

    @inlinable var aPort: UInt16 { UInt16(truncatingIfNeeded: tail) }
    @inlinable var bPort: UInt16 { UInt16(truncatingIfNeeded: tail &>> 16) }
    @inlinable var tenant: UInt16 { UInt16(truncatingIfNeeded: tail &>> 32) }
    @inlinable var proto: UInt8 { UInt8(truncatingIfNeeded: tail &>> 48) }

    @inlinable @inline(__always)
    init(_ k: FlowKey) {
        // Read back word by word, as `store` wrote it: a wider load over two of its 8-byte
        // stores cannot be forwarded from the store buffer and waits for both to reach
        // the cache (that stall was 5% of a new connection's cycles).
        (aHi, aLo, bHi, bLo, tail, srcIsA) = withUnsafeTemporaryAllocation(of: CanonicalFlowKey.self, capacity: 1) { p in
            CanonicalFlowKey.store(k, to: p.baseAddress!)
            let r = UnsafeRawPointer(p.baseAddress!)
            return (r.load(as: UInt64.self), r.load(fromByteOffset: 8, as: UInt64.self), r.load(fromByteOffset: 16, as: UInt64.self),
                    r.load(fromByteOffset: 24, as: UInt64.self), r.load(fromByteOffset: 32, as: UInt64.self),
                    r.load(fromByteOffset: 40, as: UInt64.self))
        }
    }

    /// Side A is the smaller (address, port) end. A packet's direction is as good as
    /// random, so this is computed without a branch or a select on it (the compiler turns
    /// a group of selects back into a branch, which then misses half the time): each end
    /// is stored at an offset computed from the comparison.
    @inlinable @inline(__always)
    static func store(_ k: FlowKey, to p: UnsafeMutablePointer<CanonicalFlowKey>) {
        let sh = k.src.hi, sl = k.src.lo, dh = k.dst.hi, dl = k.dst.lo
        let sp = UInt64(k.srcPort), dp = UInt64(k.dstPort)
        // (sh, sl, sp) <= (dh, dl, dp), from 0/1 words combined with bit operations.
        let hiLT: UInt64 = sh < dh ? 1 : 0, hiEQ: UInt64 = sh == dh ? 1 : 0
        let loLT: UInt64 = sl < dl ? 1 : 0, loEQ: UInt64 = sl == dl ? 1 : 0
        let portLE: UInt64 = sp <= dp ? 1 : 0
        let srcFirst = hiLT | (hiEQ & (loLT | (loEQ & portLE)))
        let raw = UnsafeMutableRawPointer(p)
        let srcAt = Int(truncatingIfNeeded: (1 &- srcFirst) &<< 4)  // 0 (side A) or 16 (side B)
        raw.storeBytes(of: sh, toByteOffset: srcAt, as: UInt64.self)
        raw.storeBytes(of: sl, toByteOffset: srcAt &+ 8, as: UInt64.self)
        raw.storeBytes(of: dh, toByteOffset: 16 &- srcAt, as: UInt64.self)
        raw.storeBytes(of: dl, toByteOffset: 24 &- srcAt, as: UInt64.self)
        let shift = UInt64(srcAt)  // the source port goes to bits 16-31 when it is side B
        let ports = sp &<< shift | dp &<< (16 &- shift)
        raw.storeBytes(of: ports | UInt64(k.tenant) &<< 32 | UInt64(k.proto) &<< 48, toByteOffset: 32, as: UInt64.self)
        raw.storeBytes(of: srcFirst, toByteOffset: 40, as: UInt64.self)
    }

    @inlinable @inline(__always)
    var hash: UInt64 { CanonicalFlowKey.hash(aHi: aHi, aLo: aLo, bHi: bHi, bLo: bLo, tail: tail) }

    /// The hash of a key given in either order (`FlowKey` or canonical): the two ends enter
    /// only through their sum and xor, so the burst's first pass needs no canonical order.
    /// One 64x64->128 multiply for IPv4 (the high address words are zero), two for IPv6.
    @inlinable @inline(__always)
    static func hash(aHi: UInt64, aLo: UInt64, bHi: UInt64, bLo: UInt64, tail: UInt64) -> UInt64 {
        let ap = tail & 0xFFFF, bp = (tail &>> 16) & 0xFFFF
        let ports = (ap &+ bp) | (ap ^ bp) &<< 17
        var h = PolicyHash.mix((aLo &+ bLo) ^ (tail &>> 32) &<< 40, (aLo ^ bLo) ^ ports &<< 31)
        if aHi | bHi != 0 { h = PolicyHash.mix(h ^ (aHi &+ bHi), aHi ^ bHi) }
        return h
    }

    /// The hash of `k`'s connection (the same as its canonical key's).
    @inlinable @inline(__always)
    static func hash(_ k: FlowKey) -> UInt64 {
        hash(aHi: k.src.hi, aLo: k.src.lo, bHi: k.dst.hi, bLo: k.dst.lo,
             tail: UInt64(k.srcPort) | UInt64(k.dstPort) &<< 16 | UInt64(k.tenant) &<< 32 | UInt64(k.proto) &<< 48)
    }

    /// The entry holds this key (free or not: the caller checks the state). One branch.
    @inlinable @inline(__always)
    func matches(_ e: UnsafePointer<FlowEntry>) -> Bool {
        let p = UnsafeRawPointer(e)
        let x = (p.load(as: UInt64.self) ^ aHi) | (p.load(fromByteOffset: 8, as: UInt64.self) ^ aLo)
            | (p.load(fromByteOffset: 16, as: UInt64.self) ^ bHi) | (p.load(fromByteOffset: 24, as: UInt64.self) ^ bLo)
            | ((p.load(fromByteOffset: 32, as: UInt64.self) ^ tail) & 0x00FF_FFFF_FFFF_FFFF)
        return x == 0
    }
}

extension FlowKey {
    /// The key of a parsed IP packet in `tenant`. For ICMP echo the ports hold the identifier.
    @inlinable
    public init(tenant: UInt16, fields f: PacketFields) {
        self.init(src: f.src, dst: f.dst, srcPort: f.srcPort, dstPort: f.dstPort, proto: f.ipProto, tenant: tenant)
    }

    /// The key of a frame of the common shape: the same as from its `PacketFields`.
    @inlinable @inline(__always)
    public init(tenant: UInt16, common c: CommonShape) {
        self.init(src: IPAddress(v4: c.src), dst: IPAddress(v4: c.dst), srcPort: c.srcPort, dstPort: c.dstPort, proto: c.proto,
                  tenant: tenant)
    }
}
