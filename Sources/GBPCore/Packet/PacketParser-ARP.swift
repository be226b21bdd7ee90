extension PacketParser {
    /// ARP for Ethernet and IPv4 only (htype 1, ptype 0x0800, lengths 6 and 4),
    /// opcode request (1) or reply (2): anything else is `malformedARP`, since the
    /// ARP checks downstream understand nothing else.
    /// `src`/`dst` are the sender/target protocol addresses.
    @inlinable
    static func parseARP(_ p: UnsafeRawPointer, l3: Int, length: Int, into f: inout PacketFields) -> DropReason? {
        guard l3 + 28 <= length else { return .truncatedARP }
        f.kind = .arp
        guard u16(p, l3) == 1, u16(p, l3 + 2) == 0x0800, u8(p, l3 + 4) == 6, u8(p, l3 + 5) == 4 else {
            return .malformedARP
        }
        let op = u16(p, l3 + 6)
        f.arpOpcode = op
        guard op == 1 || op == 2 else { return .malformedARP }
        f.arpSenderMAC = MACAddress(bytes: p + (l3 + 8))
        f.src = IPAddress(v4Bytes: p + (l3 + 14))
        f.dst = IPAddress(v4Bytes: p + (l3 + 24))
        return nil
    }
}
