/// Hash functions of the lookup tables: one 64x64->128 multiply folded (as in wyhash),
/// cheap and good enough for open addressing with linear probing.
@usableFromInline
enum PolicyHash {
    @inlinable @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let m = (a ^ 0xA076_1D64_78BD_642F).multipliedFullWidth(by: b ^ 0xE703_7ED1_A0B4_28DB)
        return m.high ^ m.low
    }

    @inlinable @inline(__always)
    static func v4(tenant: UInt16, _ a: UInt32) -> UInt64 {
        mix(UInt64(a) | UInt64(tenant) << 32, 0x9E37_79B9_7F4A_7C15)
    }

    /// IPv4 endpoint key `tenant << 32 | address` under a perfect-hash seed.
    @inlinable @inline(__always)
    static func v4(key: UInt64, seed: UInt64) -> UInt64 {
        mix(key, seed)
    }

    @inlinable @inline(__always)
    static func v6(tenant: UInt16, _ ip: IPAddress) -> UInt64 {
        mix(ip.lo, ip.hi &+ UInt64(tenant) &* 0x9E37_79B9_7F4A_7C15)
    }

    @inlinable @inline(__always)
    static func mac(tenant: UInt16, _ mac: MACAddress) -> UInt64 {
        mix(mac.raw, UInt64(tenant) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
    }

    @inlinable @inline(__always)
    static func pair(_ key: UInt32) -> UInt64 {
        mix(UInt64(key), 0x8EBC_6AF0_9C88_C6E3)
    }

    /// Group pair key `src << 16 | dst` under a perfect-hash seed.
    @inlinable @inline(__always)
    static func pair(_ key: UInt32, seed: UInt64) -> UInt64 {
        mix(UInt64(key), seed)
    }

    /// Slots for `count` keys at a load factor of at most 2/3 (a power of two, at least 8).
    static func slotCount(for count: Int) -> Int {
        var n = 8
        while n * 2 < count * 3 { n <<= 1 }
        return n
    }
}
