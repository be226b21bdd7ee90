/// MAC address -> output port index: a flat open-addressing table built once off
/// the data path and read by workers without locks or allocation.
@frozen
public struct L2Table: @unchecked Sendable {
    @usableFromInline static let empty = UInt64.max   // MACs are 48-bit, so this never collides
    @usableFromInline let keys: UnsafeMutablePointer<UInt64>
    @usableFromInline let ports: UnsafeMutablePointer<UInt16>
    @usableFromInline let mask: Int
    public let count: Int

    /// Builds the table; a MAC listed twice keeps its first port (validation rejects duplicates earlier).
    public init(_ entries: [(mac: MACAddress, port: UInt16)]) {
        var capacity = 16
        while capacity < entries.count * 2 { capacity <<= 1 }
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: Self.empty, count: capacity)
        ports = .allocate(capacity: capacity)
        ports.initialize(repeating: 0, count: capacity)
        mask = capacity - 1
        var n = 0
        for e in entries {
            var i = Self.slot(e.mac.raw, mask)
            while keys[i] != Self.empty && keys[i] != e.mac.raw { i = (i + 1) & mask }
            if keys[i] == Self.empty { keys[i] = e.mac.raw; ports[i] = e.port; n += 1 }
        }
        count = n
    }

    public func deallocate() { keys.deallocate(); ports.deallocate() }

    @inlinable @inline(__always)
    static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The port for `mac`, or -1 when unknown.
    @inlinable @inline(__always)
    public func lookup(_ mac: MACAddress) -> Int {
        var i = Self.slot(mac.raw, mask)
        while true {
            let k = keys[i]
            if k == mac.raw { return Int(ports[i]) }
            if k == Self.empty { return -1 }
            i = (i + 1) & mask
        }
    }
}
