extension PacketParser {
    /// The L4 header at `l4`, which must end by `end`. In a first fragment, an L4
    /// header cut short by the fragment's end is `badFragment` (RFC 1858, RFC 7112):
    /// ports and flags must be readable from the first fragment alone.
    @inlinable
    static func parseL4(
        _ p: UnsafeRawPointer, l4: Int, end: Int, proto: UInt8, v6: Bool, firstFragment: Bool,
        into f: inout PacketFields
    ) -> DropReason? {
        let available = end - l4
        switch proto {
        case 6:
            guard available >= 20 else { return firstFragment ? .badFragment : .truncatedTCP }
            let dataOffset = Int(u8(p, l4 + 12) >> 4) &* 4
            guard dataOffset >= 20 else { return .badTCPDataOffset }
            guard dataOffset <= available else { return firstFragment ? .badFragment : .badTCPDataOffset }
            f.srcPort = u16(p, l4)
            f.dstPort = u16(p, l4 + 2)
            f.tcpFlags = u8(p, l4 + 13)
        case 17:
            guard available >= 8 else { return firstFragment ? .badFragment : .truncatedUDP }
            let udpLength = Int(u16(p, l4 + 4))
            // A first fragment holds only part of the datagram the length describes.
            // (IPv6 jumbograms, length 0, are not supported.)
            guard udpLength >= 8, firstFragment || udpLength <= available else { return .badUDPLength }
            f.srcPort = u16(p, l4)
            f.dstPort = u16(p, l4 + 2)
        case 132:
            guard available >= 12 else { return firstFragment ? .badFragment : .truncatedSCTP }
            f.srcPort = u16(p, l4)
            f.dstPort = u16(p, l4 + 2)
        case 1 where !v6:
            guard available >= 8 else { return firstFragment ? .badFragment : .truncatedICMP }
            let type = u8(p, l4)
            f.icmpType = type
            f.icmpCode = u8(p, l4 + 1)
            if type == 0 || type == 8 {  // echo reply, echo request
                let id = u16(p, l4 + 4)
                f.srcPort = id
                f.dstPort = id
            }
        case 58 where v6:
            guard available >= 4 else { return firstFragment ? .badFragment : .truncatedICMPv6 }
            let type = u8(p, l4)
            f.icmpType = type
            f.icmpCode = u8(p, l4 + 1)
            switch type {
            case 128, 129:  // echo request, echo reply
                guard available >= 8 else { return firstFragment ? .badFragment : .truncatedICMPv6 }
                let id = u16(p, l4 + 4)
                f.srcPort = id
                f.dstPort = id
            case 133...137:
                // Neighbour discovery is never fragmented (RFC 6980).
                if firstFragment { return .badFragment }
                if type == 135 || type == 136 {
                    guard available >= 24 else { return .truncatedICMPv6 }
                    f.ndTarget = IPAddress(v6Bytes: p + (l4 + 8))
                    // Like the header's addresses (parseIPv6): an IPv4-mapped target would
                    // name an IPv4 endpoint, and be answered for it (found by the fuzzer).
                    if f.ndTarget.isIPv4 { return .ipv4MappedIPv6Address }
                }
            default:
                break
            }
        default:
            break  // no ports for other protocols
        }
        return nil
    }
}
