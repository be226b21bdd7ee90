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
        if parseCommonShape(frame, length: length, into: &f) { return nil }
        return parseGeneral(frame, length: length, into: &f)
    }

    /// The shape of nearly all container traffic, untagged IPv4 without options or
    /// fragmentation carrying TCP or UDP, recognised with one set of checks and filled
    /// with one store per field. Returns false, having written nothing, for anything
    /// else, malformed frames included: `parseGeneral` then says what they are. When it
    /// returns true, `parseGeneral` would have filled the same fields (the fuzz target
    /// checks this).
    @inlinable @inline(__always)
    public static func parseCommonShape(_ p: UnsafeRawPointer, length: Int, into f: inout PacketFields) -> Bool {
        guard let c = peekCommonShape(p, length: length) else { return false }
        f = PacketFields(c)
        return true
    }

    /// The checks of `parseCommonShape` and what it reads, without filling `PacketFields`:
    /// for a pipeline that may decide the packet from these alone.
    @inlinable @inline(__always)
    public static func peekCommonShape(_ p: UnsafeRawPointer, length: Int) -> CommonShape? {
        // Ethernet (14) + IPv4 (20) + the UDP header (8) at least; the TCP case checks its 20.
        guard length >= 42, length <= maximumFrameLength, u16(p, 12) == 0x0800, u8(p, 14) == 0x45 else { return nil }
        let total = Int(u16(p, 16))
        let flagsOffset = u16(p, 20)
        let proto = u8(p, 23)
        // More-fragments clear and offset 0 (DF may be set); the packet within the frame.
        guard flagsOffset & 0x3FFF == 0, 14 + total <= length else { return nil }
        let available = total - 20
        var flags: UInt8 = 0
        if proto == 17 {
            let udpLength = Int(u16(p, 38))
            guard available >= 8, udpLength >= 8, udpLength <= available else { return nil }
        } else if proto == 6 {
            guard available >= 20 else { return nil }
            let dataOffset = Int(u8(p, 46) >> 4) &* 4
            guard dataOffset >= 20, dataOffset <= available else { return nil }
            flags = u8(p, 47)
        } else {
            return nil
        }
        return CommonShape(dstMAC: MACAddress(wire: p), srcMAC: MACAddress(wire: p + 6), src: u32(p, 26), dst: u32(p, 30),
                           srcPort: u16(p, 34), dstPort: u16(p, 36), proto: proto, tcpFlags: flags)
    }

    /// Any frame: the full parse behind `parse`, with a drop reason for every malformed case.
    @inlinable
    public static func parseGeneral(_ frame: UnsafeRawPointer, length: Int, into f: inout PacketFields) -> DropReason? {
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
