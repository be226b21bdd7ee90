/// An IPv4 or IPv6 address as 128 bits. IPv4 addresses are stored IPv4-mapped
/// (`::ffff:a.b.c.d`) so that one hash and one comparison serve both families.
@frozen
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Most significant 64 bits (network order: first octet is the top byte).
    public var hi: UInt64
    public var lo: UInt64

    @inlinable
    public init(hi: UInt64, lo: UInt64) { self.hi = hi; self.lo = lo }

    /// An IPv4 address given in host order (`0x0A000001` is 10.0.0.1).
    @inlinable
    public init(v4: UInt32) { self.hi = 0; self.lo = 0xFFFF_0000_0000 | UInt64(v4) }

    @inlinable public var isIPv4: Bool { hi == 0 && (lo >> 32) == 0xFFFF }
    /// The IPv4 address in host order; meaningful only when `isIPv4`.
    @inlinable public var v4: UInt32 { UInt32(truncatingIfNeeded: lo) }

    @inlinable public static var zero: IPAddress { IPAddress(hi: 0, lo: 0) }

    /// Reads 4 network-order octets at `p`.
    @inlinable
    public init(v4Bytes p: UnsafeRawPointer) {
        self.init(v4: UInt32(bigEndian: p.loadUnaligned(as: UInt32.self)))
    }

    /// Reads 16 network-order octets at `p`.
    @inlinable
    public init(v6Bytes p: UnsafeRawPointer) {
        self.hi = UInt64(bigEndian: p.loadUnaligned(as: UInt64.self))
        self.lo = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    /// Writes the address as 4 (IPv4) or 16 octets in network order.
    @inlinable
    public func storeV4(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: v4.bigEndian, as: UInt32.self)
    }

    @inlinable
    public func storeV6(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: hi.bigEndian, as: UInt64.self)
        p.storeBytes(of: lo.bigEndian, toByteOffset: 8, as: UInt64.self)
    }

    /// Parses dotted IPv4 or RFC 4291 IPv6 text (with `::` and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        if !s.contains(":") {
            guard let v = IPAddress.parseV4(s) else { return nil }
            self.init(v4: v)
            return
        }
        guard let (h, l) = IPAddress.parseV6(s) else { return nil }
        self.init(hi: h, lo: l)
    }

    static func parseV4(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let b = UInt8(p) else { return nil }
            v = (v << 8) | UInt32(b)
        }
        return v
    }

    static func parseV6(_ s: String) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        // Split at "::" (at most once) without Foundation.
        var halves: [String] = []
        let chars = Array(s.utf8)
        var start = 0, i = 0
        while i + 1 < chars.count {
            if chars[i] == UInt8(ascii: ":") && chars[i + 1] == UInt8(ascii: ":") {
                halves.append(String(decoding: chars[start..<i], as: UTF8.self))
                start = i + 2
                i += 2
            } else { i += 1 }
        }
        halves.append(String(decoding: chars[start...], as: UTF8.self))
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if allowV4Tail && i == items.count - 1 && item.contains(".") {
                    guard let v4 = parseV4(String(item)) else { return nil }
                    out.append(UInt16(v4 >> 16)); out.append(UInt16(v4 & 0xFFFF))
                } else {
                    guard !item.isEmpty, item.count <= 4, let g = UInt16(item, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        if halves.count == 2 {
            guard let head = parseGroups(halves[0], allowV4Tail: false),
                  let tail = parseGroups(halves[1], allowV4Tail: true),
                  head.count + tail.count <= 7 else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = parseGroups(s, allowV4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = (hi << 16) | UInt64(groups[i]) }
        for i in 4..<8 { lo = (lo << 16) | UInt64(groups[i]) }
        return (hi, lo)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo
    }

    public var description: String {
        if isIPv4 {
            let v = v4
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        }
        var g: [UInt16] = []
        for i in 0..<4 { g.append(UInt16(truncatingIfNeeded: hi >> UInt64(48 - 16 * i))) }
        for i in 0..<4 { g.append(UInt16(truncatingIfNeeded: lo >> UInt64(48 - 16 * i))) }
        // Longest run of zero groups (length >= 2) becomes "::".
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        func hex(_ r: ArraySlice<UInt16>) -> String { r.map { String($0, radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(g[...]) }
        return hex(g[0..<bestStart]) + "::" + hex(g[(bestStart + bestLen)...])
    }
}
