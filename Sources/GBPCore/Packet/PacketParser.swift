/// Parses one Ethernet frame into `PacketFields`, over raw bytes.
///
/// Guarantees, for any input: no read at or past `length`, no allocation, no trap.
/// Every read is preceded by a bounds check against the end of the enclosing
/// header (the frame, the IPv4 total length or the IPv6 payload length), so
/// Ethernet padding after an IP packet is never taken for L4 data.
///
/// Reporting rules the rest of the dataplane relies on:
/// - `nil` means the frame parsed; otherwise the reason to drop it. On a drop the
///   fields read so far stay filled (for logging) but must not be trusted.
/// - Non-IP, non-ARP EtherTypes are not dropped: `kind = .other`, `etherType` set,
///   `l3Offset` at the end of the L2 header, so L2 forwarding still works for them.
///   (`unsupportedEtherType` is left for policy to use; the parser never returns it.)
/// - VLANs: at most two tags, TPID 0x8100 or 0x88a8 in either position (QinQ is
///   0x88a8 then 0x8100; 0x8100 twice is seen in practice too). A single tag fills
///   `outerVLAN`; a second fills `innerVLAN`. A third tag is `tooManyVLANTags`.
/// - Fragments: `isFragment` for any fragment, `isLaterFragment` when the offset is
///   not 0. A later fragment has no L4 header: `ipProto` is set, ports and
///   `l4Offset` stay 0. IPv6 atomic fragments (offset 0, no more fragments,
///   RFC 6946) are not reported as fragments.
/// - ICMP/ICMPv6 echo request and reply put the identifier in `srcPort` and `dstPort`;
///   neighbour solicitation (135) and advertisement (136) fill `ndTarget`.
/// - Unknown IP protocols (ESP, GRE, ...) parse fine with `l4Offset` set and no ports.
public enum PacketParser {
    /// Frames longer than this are `oversizeFrame`: offsets are 16 bits.
    @inlinable public static var maximumFrameLength: Int { 65535 }

    @inlinable
    public static func parse(_ frame: UnsafeRawPointer, length: Int, into f: inout PacketFields) -> DropReason? {
        f = PacketFields()
        guard length >= 14 else { return .runtFrame }
        guard length <= maximumFrameLength else { return .oversizeFrame }
        f.dstMAC = MACAddress(bytes: frame)
        f.srcMAC = MACAddress(bytes: frame + 6)

        var at = 12  // the EtherType or TPID being looked at
        var etherType = u16(frame, at)
        var tags = 0
        while etherType == 0x8100 || etherType == 0x88A8 {
            guard tags < 2 else { return .tooManyVLANTags }
            guard at + 6 <= length else { return .truncatedVLAN }  // TCI and the next EtherType
            let vid = u16(frame, at + 2) & 0x0FFF
            if tags == 0 { f.outerVLAN = vid } else { f.innerVLAN = vid }
            tags += 1
            at += 4
            etherType = u16(frame, at)
        }
        let l3 = at + 2
        f.etherType = etherType
        f.l3Offset = UInt16(truncatingIfNeeded: l3)

        switch etherType {
        case 0x0800: return parseIPv4(frame, l3: l3, length: length, into: &f)
        case 0x86DD: return parseIPv6(frame, l3: l3, length: length, into: &f)
        case 0x0806: return parseARP(frame, l3: l3, length: length, into: &f)
        default: return nil  // kind stays .other
        }
    }

    /// The same over an array (tests, tools). Not for the hot path.
    @inlinable
    public static func parse(_ frame: [UInt8], into f: inout PacketFields) -> DropReason? {
        frame.withUnsafeBytes { b in
            guard let base = b.baseAddress else { f = PacketFields(); return .runtFrame }
            return parse(base, length: b.count, into: &f)
        }
    }

    // MARK: Loads (the caller has checked the bounds)

    @inlinable @inline(__always)
    static func u8(_ p: UnsafeRawPointer, _ at: Int) -> UInt8 {
        p.load(fromByteOffset: at, as: UInt8.self)
    }

    @inlinable @inline(__always)
    static func u16(_ p: UnsafeRawPointer, _ at: Int) -> UInt16 {
        UInt16(bigEndian: p.loadUnaligned(fromByteOffset: at, as: UInt16.self))
    }

    @inlinable @inline(__always)
    static func u32(_ p: UnsafeRawPointer, _ at: Int) -> UInt32 {
        UInt32(bigEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }
}
