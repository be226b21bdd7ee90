extension PacketParser {
    /// IPv4: version 4, IHL of at least 5 words within the frame, total length
    /// covering the header and within the frame (bytes past it are Ethernet padding).
    /// Options are skipped, not interpreted.
    @inlinable
    static func parseIPv4(_ p: UnsafeRawPointer, l3: Int, length: Int, into f: inout PacketFields) -> DropReason? {
        guard l3 + 20 <= length else { return .truncatedIPv4 }
        let versionIHL = u8(p, l3)
        guard versionIHL >> 4 == 4 else { return .badIPv4Version }
        f.kind = .ipv4
        let ihl = Int(versionIHL & 0x0F) &* 4
        guard ihl >= 20, l3 + ihl <= length else { return .badIPv4HeaderLength }
        let total = Int(u16(p, l3 + 2))
        guard total >= ihl, l3 + total <= length else { return .badIPv4TotalLength }
        f.src = IPAddress(v4Bytes: p + (l3 + 12))
        f.dst = IPAddress(v4Bytes: p + (l3 + 16))
        let proto = u8(p, l3 + 9)
        f.ipProto = proto

        let l4 = l3 + ihl
        let end = l3 + total
        let flagsOffset = u16(p, l3 + 6)
        let offset = Int(flagsOffset & 0x1FFF) &* 8
        let more = flagsOffset & 0x2000 != 0
        if more || offset != 0 {
            f.isFragment = true
            f.fragmentID = UInt32(u16(p, l3 + 4))
            if let bad = fragmentProblem(offset: offset, more: more, dataLength: end - l4) { return bad }
            if offset != 0 {
                f.isLaterFragment = true
                return nil  // no L4 header here
            }
        }
        f.l4Offset = UInt16(truncatingIfNeeded: l4)
        return parseL4(p, l4: l4, end: end, proto: proto, v6: false, firstFragment: more, into: &f)
    }

    /// Checks shared by IPv4 and IPv6 fragments; `dataLength` is the fragment's share
    /// of the datagram (after the IPv4 header or the IPv6 fragment header).
    @inlinable @inline(__always)
    static func fragmentProblem(offset: Int, more: Bool, dataLength: Int) -> DropReason? {
        // Offset 8 rewrites the first fragment's L4 header (RFC 1858 tiny overlap).
        if offset == 8 { return .badFragment }
        // Only the last fragment may end off an 8-byte boundary (RFC 791, RFC 8200).
        if more && dataLength & 7 != 0 { return .badFragment }
        // Reassembles past the largest datagram (ping of death).
        if offset &+ dataLength > 65535 { return .badFragment }
        return nil
    }
}
