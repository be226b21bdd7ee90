/// Builds complete Ethernet frames (no FCS) for tests, demo traffic and benchmarks.
/// Not for the hot path: every call allocates.
///
/// - The address family follows `src`: IPv4-mapped addresses give IPv4, others IPv6.
/// - IPv4 header checksums and TCP/UDP/ICMPv6 checksums (with pseudo-header) and
///   ICMP checksums are correct. SCTP carries a correct CRC32c (RFC 9260).
/// - Frames shorter than 60 bytes are zero-padded to 60 (the minimum without FCS);
///   the padding follows the IP packet, whose length fields exclude it.
/// - `vlans` lists VLAN ids outermost first. One tag uses TPID 0x8100; with two or
///   more, the outermost uses 0x88a8 (802.1ad, QinQ) and the others 0x8100.
/// - Fragments: build the whole datagram, then cut it with `fragment(_:size:id:)`.
public enum PacketBuilder {
    public static let minimumFrameLength = 60

    /// TCP header flags.
    public struct TCPFlags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let fin = TCPFlags(rawValue: 0x01)
        public static let syn = TCPFlags(rawValue: 0x02)
        public static let rst = TCPFlags(rawValue: 0x04)
        public static let psh = TCPFlags(rawValue: 0x08)
        public static let ack = TCPFlags(rawValue: 0x10)
        public static let urg = TCPFlags(rawValue: 0x20)
    }

    /// One IPv6 extension header, 8 bytes each, in the order given.
    public enum IPv6Extension: Sendable, Equatable {
        /// Next header 0, padded with a PadN option.
        case hopByHop
        /// Next header 60, padded with a PadN option.
        case destinationOptions
        /// Next header 43: routing type 253 (experimental) with 0 segments left,
        /// which every receiver skips.
        case routing
        /// Next header 44. `offset` is in bytes and must be a multiple of 8.
        case fragment(id: UInt32, offset: Int, moreFragments: Bool)

        public var protocolNumber: UInt8 {
            switch self {
            case .hopByHop: 0
            case .destinationOptions: 60
            case .routing: 43
            case .fragment: 44
            }
        }
    }

    /// `count` bytes of a recognisable pattern (0, 1, 2, ... 255, 0, ...).
    public static func pattern(count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0) }
    }

    // MARK: Layer 2

    public static func ethernet(
        dst: MACAddress, src: MACAddress, etherType: UInt16, payload: [UInt8], vlans: [UInt16] = []
    ) -> [UInt8] {
        var f: [UInt8] = []
        f.reserveCapacity(max(minimumFrameLength, 14 + 4 * vlans.count + payload.count))
        f += dst.octets
        f += src.octets
        for (i, vid) in vlans.enumerated() {
            put16(&f, vlans.count >= 2 && i == 0 ? 0x88A8 : 0x8100)
            put16(&f, vid & 0x0FFF)
        }
        put16(&f, etherType)
        f += payload
        if f.count < minimumFrameLength { f += repeatElement(0, count: minimumFrameLength - f.count) }
        return f
    }

    /// ARP over Ethernet/IPv4. `op` 1 is a request, 2 a reply. The Ethernet source is `senderMAC`.
    public static func arp(
        op: UInt16, senderMAC: MACAddress, senderIP: IPAddress, targetMAC: MACAddress = .zero,
        targetIP: IPAddress, dstMAC: MACAddress = .broadcast, vlans: [UInt16] = []
    ) -> [UInt8] {
        var p: [UInt8] = [0, 1, 0x08, 0x00, 6, 4]
        put16(&p, op)
        p += senderMAC.octets
        put32(&p, senderIP.v4)
        p += targetMAC.octets
        put32(&p, targetIP.v4)
        return ethernet(dst: dstMAC, src: senderMAC, etherType: 0x0806, payload: p, vlans: vlans)
    }

    // MARK: Layer 3

    /// An IPv4 or IPv6 frame around `payload`, used as is (no L4 checksum is touched).
    /// `ipv6Extensions` must be empty for IPv4.
    public static func ip(
        srcMAC: MACAddress, dstMAC: MACAddress, src: IPAddress, dst: IPAddress, proto: UInt8,
        payload: [UInt8], ipv6Extensions: [IPv6Extension] = [], hopLimit: UInt8 = 64, vlans: [UInt16] = []
    ) -> [UInt8] {
        if src.isIPv4 {
            precondition(ipv6Extensions.isEmpty, "IPv6 extension headers on an IPv4 packet")
            let pkt = ipv4Packet(src: src, dst: dst, proto: proto, payload: payload, ttl: hopLimit)
            return ethernet(dst: dstMAC, src: srcMAC, etherType: 0x0800, payload: pkt, vlans: vlans)
        }
        let pkt = ipv6Packet(src: src, dst: dst, nextHeader: proto, payload: payload,
                             extensions: ipv6Extensions, hopLimit: hopLimit)
        return ethernet(dst: dstMAC, src: srcMAC, etherType: 0x86DD, payload: pkt, vlans: vlans)
    }

    /// An IPv4 packet (no Ethernet header). `fragmentOffset` is in bytes, a multiple of 8;
    /// `options` is padded with zeros (end of options) to a multiple of 4 bytes.
    public static func ipv4Packet(
        src: IPAddress, dst: IPAddress, proto: UInt8, payload: [UInt8], id: UInt16 = 0, ttl: UInt8 = 64,
        fragmentOffset: Int = 0, moreFragments: Bool = false, dontFragment: Bool = false, options: [UInt8] = []
    ) -> [UInt8] {
        precondition(fragmentOffset % 8 == 0 && fragmentOffset >> 3 < 0x2000, "bad fragment offset")
        let opts = options + repeatElement(0, count: (4 - options.count % 4) % 4)
        let headerLength = 20 + opts.count
        var h: [UInt8] = [0x40 | UInt8(headerLength / 4), 0]
        put16(&h, UInt16(headerLength + payload.count))
        put16(&h, id)
        put16(&h, (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | UInt16(fragmentOffset >> 3))
        h += [ttl, proto, 0, 0]
        put32(&h, src.v4)
        put32(&h, dst.v4)
        h += opts
        let sum = internetChecksum(h)
        h[10] = UInt8(sum >> 8); h[11] = UInt8(sum & 0xFF)
        return h + payload
    }

    /// An IPv6 packet (no Ethernet header) with `extensions` between the fixed header
    /// and `payload`, whose protocol is `nextHeader`.
    public static func ipv6Packet(
        src: IPAddress, dst: IPAddress, nextHeader: UInt8, payload: [UInt8],
        extensions: [IPv6Extension] = [], hopLimit: UInt8 = 64
    ) -> [UInt8] {
        var chain: [UInt8] = []
        for (i, ext) in extensions.enumerated() {
            let next = i + 1 < extensions.count ? extensions[i + 1].protocolNumber : nextHeader
            switch ext {
            case .hopByHop, .destinationOptions:
                chain += [next, 0, 1, 4, 0, 0, 0, 0]  // PadN covering the remaining 4 bytes
            case .routing:
                chain += [next, 0, 253, 0, 0, 0, 0, 0]
            case let .fragment(id, offset, more):
                precondition(offset % 8 == 0 && offset >> 3 < 0x2000, "bad fragment offset")
                chain += [next, 0]
                put16(&chain, UInt16(offset) | (more ? 1 : 0))
                put32(&chain, id)
            }
        }
        var h: [UInt8] = [0x60, 0, 0, 0]
        put16(&h, UInt16(chain.count + payload.count))
        h += [extensions.first?.protocolNumber ?? nextHeader, hopLimit]
        h += bytes16(src)
        h += bytes16(dst)
        return h + chain + payload
    }

    // MARK: Layer 4

    public static func tcp(
        srcMAC: MACAddress, dstMAC: MACAddress, src: IPAddress, dst: IPAddress,
        srcPort: UInt16, dstPort: UInt16, flags: TCPFlags = .syn, seq: UInt32 = 1, ack: UInt32 = 0,
        window: UInt16 = 65535, options: [UInt8] = [], payload: [UInt8] = [],
        ipv6Extensions: [IPv6Extension] = [], vlans: [UInt16] = []
    ) -> [UInt8] {
        let opts = options + repeatElement(1, count: (4 - options.count % 4) % 4)  // NOP padding
        var s: [UInt8] = []
        put16(&s, srcPort); put16(&s, dstPort)
        put32(&s, seq); put32(&s, ack)
        s += [UInt8((20 + opts.count) / 4) << 4, flags.rawValue]
        put16(&s, window)
        s += [0, 0, 0, 0]  // checksum, urgent pointer
        s += opts
        s += payload
        return transport(srcMAC, dstMAC, src, dst, 6, s, checksumAt: 16, ipv6Extensions, vlans)
    }

    public static func udp(
        srcMAC: MACAddress, dstMAC: MACAddress, src: IPAddress, dst: IPAddress,
        srcPort: UInt16, dstPort: UInt16, payload: [UInt8] = [],
        ipv6Extensions: [IPv6Extension] = [], vlans: [UInt16] = []
    ) -> [UInt8] {
        var s: [UInt8] = []
        put16(&s, srcPort); put16(&s, dstPort)
        put16(&s, UInt16(8 + payload.count))
        s += [0, 0]
        s += payload
        return transport(srcMAC, dstMAC, src, dst, 17, s, checksumAt: 6, ipv6Extensions, vlans)
    }

    /// SCTP common header followed by `payload` (the chunks, none by default),
    /// with the CRC32c checksum of RFC 9260.
    public static func sctp(
        srcMAC: MACAddress, dstMAC: MACAddress, src: IPAddress, dst: IPAddress,
        srcPort: UInt16, dstPort: UInt16, verificationTag: UInt32 = 0, payload: [UInt8] = [],
        ipv6Extensions: [IPv6Extension] = [], vlans: [UInt16] = []
    ) -> [UInt8] {
        var s: [UInt8] = []
        put16(&s, srcPort); put16(&s, dstPort)
        put32(&s, verificationTag)
        s += [0, 0, 0, 0]
        s += payload
        let crc = crc32c(s)  // stored least significant byte first
        for i in 0..<4 { s[8 + i] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * i)) }
        return ip(srcMAC: srcMAC, dstMAC: dstMAC, src: src, dst: dst, proto: 132, payload: s,
                  ipv6Extensions: ipv6Extensions, vlans: vlans)
    }

    /// ICMP (IPv4) echo request, or reply when `reply` is true.
    public static func icmpEcho(
        srcMAC: MACAddress, dstMAC: MACAddress, src: IPAddress, dst: IPAddress,
        reply: Bool = false, id: UInt16, seq: UInt16 = 1, payload: [UInt8] = pattern(count: 32),
        vlans: [UInt16] = []
    ) -> [UInt8] {
        var body: [UInt8] = []
        put16(&body, id); put16(&body, seq)
        return icmp(srcMAC: srcMAC, dstMAC: dstMAC, src: src, dst: dst, type: reply ? 0 : 8, code: 0,
                    body: body + payload, vlans: vlans)
    }

    /// Any ICMP (IPv4) message: type, code, checksum, then `body`.
    public static func icmp(
        srcMAC: MACAddress, dstMAC: MACAddress, src: IPAddress, dst: IPAddress,
        type: UInt8, code: UInt8, body: [UInt8], vlans: [UInt16] = []
    ) -> [UInt8] {
        precondition(src.isIPv4, "ICMP needs IPv4 addresses; use icmpv6")
        var m: [UInt8] = [type, code, 0, 0] + body
        let sum = internetChecksum(m)  // ICMPv4 has no pseudo-header
        m[2] = UInt8(sum >> 8); m[3] = UInt8(sum & 0xFF)
        return ip(srcMAC: srcMAC, dstMAC: dstMAC, src: src, dst: dst, proto: 1, payload: m, vlans: vlans)
    }

    /// ICMPv6 echo request (128), or reply (129) when `reply` is true.
    public static func icmpv6Echo(
        srcMAC: MACAddress, dstMAC: MACAddress, src: IPAddress, dst: IPAddress,
        reply: Bool = false, id: UInt16, seq: UInt16 = 1, payload: [UInt8] = pattern(count: 32),
        ipv6Extensions: [IPv6Extension] = [], vlans: [UInt16] = []
    ) -> [UInt8] {
        var body: [UInt8] = []
        put16(&body, id); put16(&body, seq)
        return icmpv6(srcMAC: srcMAC, dstMAC: dstMAC, src: src, dst: dst, type: reply ? 129 : 128, code: 0,
                      body: body + payload, ipv6Extensions: ipv6Extensions, vlans: vlans)
    }

    /// Any ICMPv6 message: type, code, checksum (with pseudo-header), then `body`.
    public static func icmpv6(
        srcMAC: MACAddress, dstMAC: MACAddress, src: IPAddress, dst: IPAddress,
        type: UInt8, code: UInt8, body: [UInt8], hopLimit: UInt8 = 64,
        ipv6Extensions: [IPv6Extension] = [], vlans: [UInt16] = []
    ) -> [UInt8] {
        precondition(!src.isIPv4, "ICMPv6 needs IPv6 addresses; use icmp")
        return transport(srcMAC, dstMAC, src, dst, 58, [type, code, 0, 0] + body, checksumAt: 2,
                         ipv6Extensions, vlans, hopLimit: hopLimit)
    }

    /// Neighbour solicitation (135) for `target`, with a source link-layer address
    /// option (omitted when `src` is `::`, as in duplicate address detection).
    /// By default it goes to the target's solicited-node multicast group.
    public static func neighborSolicitation(
        srcMAC: MACAddress, src: IPAddress, target: IPAddress,
        dstMAC: MACAddress? = nil, dst: IPAddress? = nil, vlans: [UInt16] = []
    ) -> [UInt8] {
        let group = IPAddress(hi: 0xFF02_0000_0000_0000, lo: 0x0000_0001_FF00_0000 | (target.lo & 0xFF_FFFF))
        let to = dst ?? group
        var body: [UInt8] = [0, 0, 0, 0] + bytes16(target)
        if src != .zero { body += [1, 1] + srcMAC.octets }
        return icmpv6(srcMAC: srcMAC, dstMAC: dstMAC ?? multicastMAC(for: to), src: src, dst: to,
                      type: 135, code: 0, body: body, hopLimit: 255, vlans: vlans)
    }

    /// Neighbour advertisement (136) for `target` (default `src`), with a target
    /// link-layer address option holding `targetMAC` (default `srcMAC`).
    /// By default it goes to all nodes (ff02::1), as an unsolicited advertisement does.
    public static func neighborAdvertisement(
        srcMAC: MACAddress, src: IPAddress, target: IPAddress? = nil, targetMAC: MACAddress? = nil,
        dstMAC: MACAddress? = nil, dst: IPAddress? = nil,
        router: Bool = false, solicited: Bool = false, override: Bool = true, vlans: [UInt16] = []
    ) -> [UInt8] {
        let to = dst ?? IPAddress(hi: 0xFF02_0000_0000_0000, lo: 1)
        let flags: UInt8 = (router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override ? 0x20 : 0)
        let body: [UInt8] = [flags, 0, 0, 0] + bytes16(target ?? src) + [2, 1] + (targetMAC ?? srcMAC).octets
        return icmpv6(srcMAC: srcMAC, dstMAC: dstMAC ?? multicastMAC(for: to), src: src, dst: to,
                      type: 136, code: 0, body: body, hopLimit: 255, vlans: vlans)
    }

    /// The Ethernet address of an IPv6 multicast group (33:33 + its low 32 bits).
    public static func multicastMAC(for group: IPAddress) -> MACAddress {
        MACAddress(raw: 0x3333_0000_0000 | (group.lo & 0xFFFF_FFFF))
    }

    // MARK: Fragments

    /// Cuts an IP frame made by this builder into fragments carrying `size` bytes of
    /// the datagram's payload each (the last may carry fewer). `size` must be a
    /// positive multiple of 8. The first fragment holds the L4 header, whose
    /// checksum still covers the whole datagram. IPv4 uses the low 16 bits of `id`;
    /// IPv6 inserts a fragment header after any hop-by-hop and routing headers.
    /// A frame that is not IPv4 or IPv6 comes back unchanged.
    public static func fragment(_ frame: [UInt8], size: Int, id: UInt32 = 0x1234) -> [[UInt8]] {
        precondition(size > 0 && size % 8 == 0, "fragment size must be a positive multiple of 8")
        var l3 = 12
        while frame.count >= l3 + 4, get16(frame, l3) == 0x8100 || get16(frame, l3) == 0x88A8 { l3 += 4 }
        guard frame.count >= l3 + 2 else { return [frame] }
        let etherType = get16(frame, l3)
        l3 += 2
        let l2 = Array(frame[..<l3])
        func pad(_ f: [UInt8]) -> [UInt8] {
            f.count < minimumFrameLength ? f + repeatElement(0, count: minimumFrameLength - f.count) : f
        }
        var out: [[UInt8]] = []
        if etherType == 0x0800 {
            let ihl = Int(frame[l3] & 0x0F) * 4
            let data = Array(frame[(l3 + ihl)..<(l3 + Int(get16(frame, l3 + 2)))])
            for start in stride(from: 0, to: data.count, by: size) {
                let end = min(start + size, data.count)
                var h = Array(frame[l3..<(l3 + ihl)])
                set16(&h, 2, UInt16(ihl + end - start))
                set16(&h, 4, UInt16(truncatingIfNeeded: id))
                set16(&h, 6, (end < data.count ? 0x2000 : 0) | UInt16(start >> 3))
                set16(&h, 10, 0)
                set16(&h, 10, internetChecksum(h))
                out.append(pad(l2 + h + data[start..<end]))
            }
        } else if etherType == 0x86DD {
            // The unfragmentable part: fixed header, then hop-by-hop and routing headers.
            var nextAt = l3 + 6, off = l3 + 40
            while frame[nextAt] == 0 || frame[nextAt] == 43 {
                nextAt = off
                off += (Int(frame[off + 1]) + 1) * 8
            }
            let end = l3 + 40 + Int(get16(frame, l3 + 4))
            let data = Array(frame[off..<end])
            let innerNext = frame[nextAt]
            for start in stride(from: 0, to: data.count, by: size) {
                let stop = min(start + size, data.count)
                var head = Array(frame[l3..<off])
                head[nextAt - l3] = 44
                set16(&head, 4, UInt16(off - l3 - 40 + 8 + stop - start))
                var fh: [UInt8] = [innerNext, 0]
                put16(&fh, UInt16(start) | (stop < data.count ? 1 : 0))
                put32(&fh, id)
                out.append(pad(l2 + head + fh + data[start..<stop]))
            }
        } else {
            return [frame]
        }
        return out
    }

    // MARK: Checksums

    /// The Internet checksum (RFC 1071) of `bytes`, starting from a partial sum.
    public static func internetChecksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt16 {
        var sum = UInt64(initial)
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt64(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// CRC32c (Castagnoli), as SCTP uses it.
    public static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    /// The pseudo-header for the L4 checksum (RFC 768 / RFC 8200 section 8.1).
    public static func pseudoHeader(src: IPAddress, dst: IPAddress, proto: UInt8, length: Int) -> [UInt8] {
        var p: [UInt8] = []
        if src.isIPv4 {
            put32(&p, src.v4); put32(&p, dst.v4)
            p += [0, proto]
            put16(&p, UInt16(length))
        } else {
            p += bytes16(src) + bytes16(dst)
            put32(&p, UInt32(length))
            p += [0, 0, 0, proto]
        }
        return p
    }

    // MARK: Helpers

    private static func transport(
        _ srcMAC: MACAddress, _ dstMAC: MACAddress, _ src: IPAddress, _ dst: IPAddress, _ proto: UInt8,
        _ segment: [UInt8], checksumAt: Int, _ ipv6Extensions: [IPv6Extension], _ vlans: [UInt16],
        hopLimit: UInt8 = 64
    ) -> [UInt8] {
        var s = segment
        var sum = internetChecksum(pseudoHeader(src: src, dst: dst, proto: proto, length: s.count) + s)
        if sum == 0 && proto == 17 { sum = 0xFFFF }  // 0 means "no checksum" in UDP
        s[checksumAt] = UInt8(sum >> 8); s[checksumAt + 1] = UInt8(sum & 0xFF)
        return ip(srcMAC: srcMAC, dstMAC: dstMAC, src: src, dst: dst, proto: proto, payload: s,
                  ipv6Extensions: ipv6Extensions, hopLimit: hopLimit, vlans: vlans)
    }

    private static func bytes16(_ a: IPAddress) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: a.hi >> UInt64(56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: a.lo >> UInt64(56 - 8 * $0)) }
    }

    private static func put16(_ a: inout [UInt8], _ v: UInt16) { a += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    private static func put32(_ a: inout [UInt8], _ v: UInt32) { put16(&a, UInt16(v >> 16)); put16(&a, UInt16(v & 0xFFFF)) }
    private static func get16(_ a: [UInt8], _ i: Int) -> UInt16 { UInt16(a[i]) << 8 | UInt16(a[i + 1]) }
    private static func set16(_ a: inout [UInt8], _ i: Int, _ v: UInt16) { a[i] = UInt8(v >> 8); a[i + 1] = UInt8(v & 0xFF) }
}
