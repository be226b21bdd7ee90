/// Remembers, per worker, the verdict and L4 ports of IP datagrams whose first
/// fragment was seen, so later fragments (which carry no L4 header) follow it.
///
/// A later fragment that arrives before its first fragment finds nothing here and
/// is dropped (`fragmentWithoutState`): the dataplane does not buffer fragments, so
/// a datagram whose fragments are reordered that way is lost and the sender
/// retransmits. Fixed capacity, allocated once; entries live `lifetime` ticks and
/// a full bucket overwrites its oldest entry.
@frozen
public struct FragmentTable: @unchecked Sendable {
    @frozen
    public struct Entry {
        public var src: IPAddress
        public var dst: IPAddress
        public var id: UInt32
        public var proto: UInt8
        /// 0 when the first fragment was allowed, else its `DropReason` raw value.
        public var dropReason: UInt8
        public var tenant: UInt16
        public var srcPort: UInt16
        public var dstPort: UInt16
        public var expires: UInt64

        @inlinable
        public init(src: IPAddress, dst: IPAddress, id: UInt32, proto: UInt8, dropReason: UInt8, tenant: UInt16,
                    srcPort: UInt16, dstPort: UInt16, expires: UInt64) {
            self.src = src; self.dst = dst; self.id = id; self.proto = proto; self.dropReason = dropReason
            self.tenant = tenant; self.srcPort = srcPort; self.dstPort = dstPort; self.expires = expires
        }
    }

    @usableFromInline let entries: UnsafeMutablePointer<Entry>
    @usableFromInline let mask: Int
    public let lifetime: UInt64

    /// `capacity` is rounded up to a power of two; `lifetime` is in the caller's ticks.
    public init(capacity: Int, lifetime: UInt64) {
        var n = 64
        while n < capacity { n <<= 1 }
        entries = .allocate(capacity: n)
        entries.initialize(repeating: Entry(src: .zero, dst: .zero, id: 0, proto: 0, dropReason: 0, tenant: 0,
                                            srcPort: 0, dstPort: 0, expires: 0), count: n)
        mask = n - 1
        self.lifetime = lifetime
    }

    public func deallocate() { entries.deallocate() }

    @inlinable @inline(__always)
    func slot(_ tenant: UInt16, _ f: PacketFields) -> Int {
        var h = f.src.lo ^ (f.dst.lo &* 0x9E37_79B9_7F4A_7C15) ^ f.src.hi ^ f.dst.hi
        h ^= UInt64(f.fragmentID) << 17 ^ UInt64(f.ipProto) << 5 ^ UInt64(tenant) << 40
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h >> 32) & mask
    }

    /// Records the first fragment's verdict and ports.
    @inlinable
    public func recordFirst(tenant: UInt16, _ f: PacketFields, drop: DropReason?, now: UInt64) {
        entries[slot(tenant, f)] = Entry(src: f.src, dst: f.dst, id: f.fragmentID, proto: f.ipProto, dropReason: drop?.rawValue ?? 0,
                                         tenant: tenant, srcPort: f.srcPort, dstPort: f.dstPort, expires: now &+ lifetime)
    }

    /// The first fragment's entry for a later fragment, or nil.
    @inlinable
    public func lookup(tenant: UInt16, _ f: PacketFields, now: UInt64) -> Entry? {
        let e = entries[slot(tenant, f)]
        guard e.expires > now, e.id == f.fragmentID, e.src == f.src, e.dst == f.dst, e.proto == f.ipProto,
              e.tenant == tenant else { return nil }
        return e
    }
}
