extension PacketParser {
    /// IPv6: version 6, payload length within the frame, no IPv4-mapped address, then a bounded walk over
    /// the extension headers hop-by-hop (0), routing (43), fragment (44),
    /// destination options (60) and AH (51). More than
    /// `maximumIPv6ExtensionHeaders` is `ipv6ExtensionChainTooLong`; a header
    /// running past the payload is `truncatedIPv6Extension`. The walk stops at any
    /// other next header, which becomes `ipProto` (59, no next header, included).
    @inlinable
    static func parseIPv6(_ p: UnsafeRawPointer, l3: Int, length: Int, into f: inout PacketFields) -> DropReason? {
        guard l3 + 40 <= length else { return .truncatedIPv6 }
        guard u8(p, l3) >> 4 == 6 else { return .badIPv6Version }
        f.kind = .ipv6
        let end = l3 + 40 + Int(u16(p, l3 + 4))
        guard end <= length else { return .badIPv6PayloadLength }
        f.src = IPAddress(v6Bytes: p + (l3 + 8))
        f.dst = IPAddress(v6Bytes: p + (l3 + 24))
        // IPv4 addresses are kept IPv4-mapped: an IPv6 packet from or to ::ffff:a.b.c.d
        // would pass for IPv4 with the endpoint tables, the external prefixes and conntrack
        // (same flow key as the IPv4 connection). Such addresses never belong on the wire.
        guard !f.src.isIPv4 && !f.dst.isIPv4 else { return .ipv4MappedIPv6Address }

        var next = u8(p, l3 + 6)
        var at = l3 + 40
        var seen = 0
        var firstFragment = false
        while next == 0 || next == 43 || next == 44 || next == 60 || next == 51 {
            guard seen < maximumIPv6ExtensionHeaders else { return .ipv6ExtensionChainTooLong }
            seen += 1
            guard at + 8 <= end else { return .truncatedIPv6Extension }  // every one is 8 bytes or more
            let following = u8(p, at)
            if next == 44 {
                let offsetFlags = u16(p, at + 2)
                let offset = Int(offsetFlags & 0xFFF8)
                let more = offsetFlags & 1 != 0
                let id = u32(p, at + 4)
                at += 8
                if offset != 0 || more {  // offset 0 without more is an atomic fragment: not one
                    f.isFragment = true
                    f.fragmentID = id
                    if let bad = fragmentProblem(offset: offset, more: more, dataLength: end - at) {
                        f.ipProto = following
                        return bad
                    }
                    if offset != 0 {
                        f.isLaterFragment = true
                        f.ipProto = following
                        return nil  // no L4 header here
                    }
                    firstFragment = true
                }
            } else {
                // AH counts its length in 4-byte words minus 2, the others in 8-byte words minus 1.
                let headerLength = next == 51 ? (Int(u8(p, at + 1)) + 2) &* 4 : (Int(u8(p, at + 1)) + 1) &* 8
                guard at + headerLength <= end else { return .truncatedIPv6Extension }
                at += headerLength
            }
            next = following
        }
        f.ipProto = next
        f.l4Offset = UInt16(truncatingIfNeeded: at)
        return parseL4(p, l4: at, end: end, proto: next, v6: true, firstFragment: firstFragment, into: &f)
    }

    /// The longest extension header chain accepted.
    @inlinable public static var maximumIPv6ExtensionHeaders: Int { 8 }
}
