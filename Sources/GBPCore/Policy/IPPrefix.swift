/// A CIDR prefix in the 128-bit address space `IPAddress` uses: an IPv4 /n is held as
/// the IPv4-mapped /(96+n), so one structure serves both families.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    /// The first address (host bits zero).
    public var address: IPAddress
    /// Prefix length in the 128-bit space (0...128).
    public var length: Int

    public init(address: IPAddress, length: Int) {
        let m = IPPrefix.mask(length)
        self.address = IPAddress(hi: address.hi & m.hi, lo: address.lo & m.lo)
        self.length = length
    }

    public var isIPv4: Bool { length >= 96 && address.isIPv4 }
    /// The length as written (`/24` for an IPv4 /24).
    public var familyLength: Int { isIPv4 ? length - 96 : length }

    /// The last address of the prefix.
    public var last: IPAddress {
        let m = IPPrefix.mask(length)
        return IPAddress(hi: address.hi | ~m.hi, lo: address.lo | ~m.lo)
    }

    public func contains(_ a: IPAddress) -> Bool {
        let m = IPPrefix.mask(length)
        return a.hi & m.hi == address.hi && a.lo & m.lo == address.lo
    }

    public func contains(_ p: IPPrefix) -> Bool { p.length >= length && contains(p.address) }

    /// The network mask of a 128-bit prefix length, as (hi, lo) words.
    public static func mask(_ length: Int) -> (hi: UInt64, lo: UInt64) {
        if length <= 0 { return (0, 0) }
        if length >= 128 { return (~0, ~0) }
        if length <= 64 { return (~0 << UInt64(64 - length), 0) }
        return (~0, ~0 << UInt64(128 - length))
    }

    /// Parses "a.b.c.d/n" or "v6/n". The error says what is wrong, for validation messages.
    public static func parse(_ text: String) -> Result<IPPrefix, CIDRParseError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(.init("expected ADDRESS/LENGTH, got \"\(text)\"")) }
        guard let addr = IPAddress(parts[0]) else {
            return .failure(.init("\"\(parts[0])\" is not an IPv4 or IPv6 address"))
        }
        let v4 = !parts[0].contains(":")
        let maxLen = v4 ? 32 : 128
        guard let len = Int(parts[1]), (0...maxLen).contains(len), parts[1].allSatisfy(\.isASCII) else {
            return .failure(.init("prefix length \"\(parts[1])\" is not in 0...\(maxLen)"))
        }
        let p = IPPrefix(address: addr, length: v4 ? len + 96 : len)
        if p.address != addr {
            return .failure(.init("host bits set in \"\(text)\"; did you mean \(p)?"))
        }
        return .success(p)
    }

    public var description: String { "\(address)/\(familyLength)" }
}

public struct CIDRParseError: Error, Sendable {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
}
