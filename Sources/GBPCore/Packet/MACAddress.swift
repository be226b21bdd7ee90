/// A 48-bit Ethernet address held in the low bits of a `UInt64`
/// (first octet on the wire is the most significant of the 48).
@frozen
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var raw: UInt64

    @inlinable
    public init(raw: UInt64) { self.raw = raw & 0xFFFF_FFFF_FFFF }

    @inlinable public static var broadcast: MACAddress { MACAddress(raw: 0xFFFF_FFFF_FFFF) }
    @inlinable public static var zero: MACAddress { MACAddress(raw: 0) }

    /// Reads the six octets at `bytes` (the caller checks the bounds).
    @inlinable @inline(__always)
    public init(bytes: UnsafeRawPointer) { self.init(wire: bytes) }

    /// Parses `aa:bb:cc:dd:ee:ff` (or with dashes).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            v = (v << 8) | UInt64(b)
        }
        self.raw = v
    }

    /// Group bit of the first octet: broadcast and multicast.
    @inlinable public var isMulticast: Bool { (raw >> 40) & 1 == 1 }
    @inlinable public var isBroadcast: Bool { raw == 0xFFFF_FFFF_FFFF }

    /// Writes the six octets to `p` (two stores, in network order).
    @inlinable @inline(__always)
    public func store(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: UInt32(truncatingIfNeeded: raw >> 16).bigEndian, as: UInt32.self)
        p.storeBytes(of: UInt16(truncatingIfNeeded: raw).bigEndian, toByteOffset: 4, as: UInt16.self)
    }

    public var octets: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: raw >> UInt64(40 - 8 * $0)) } }

    public var description: String {
        octets.map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: ":")
    }
}

extension MACAddress {
    /// Reads six octets in network order with two loads (the hot-path form of `init(bytes:)`).
    @inlinable @inline(__always)
    public init(wire p: UnsafeRawPointer) {
        let hi = UInt64(UInt32(bigEndian: p.loadUnaligned(as: UInt32.self)))
        let lo = UInt64(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        self.raw = hi << 16 | lo
    }
}
