#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import GBPCore

private let macA = MACAddress("02:00:00:00:00:0a")!
private let macB = MACAddress("02:00:00:00:00:0b")!
private let v4A = IPAddress("10.0.0.1")!
private let v4B = IPAddress("10.0.0.2")!
private let v6A = IPAddress("2001:db8::1")!
private let v6B = IPAddress("2001:db8::2")!

/// Frames are parsed from the very end of a page followed by an inaccessible page,
/// so any read at or past `length` crashes the test run instead of passing unseen.
private final class GuardedBuffer {
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    let capacity: Int
    let base: UnsafeMutableRawPointer

    init(capacity: Int = 17 * 4096) {
        self.capacity = (capacity + pageSize - 1) / pageSize * pageSize
        let m = mmap(nil, self.capacity + pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(m != MAP_FAILED, "mmap failed")
        base = m!
        precondition(mprotect(base + self.capacity, pageSize, PROT_NONE) == 0, "mprotect failed")
    }

    deinit { munmap(base, capacity + pageSize) }

    func parse(_ frame: [UInt8], into f: inout PacketFields) -> DropReason? {
        precondition(frame.count <= capacity)
        let start = base + (capacity - frame.count)
        if !frame.isEmpty { frame.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return PacketParser.parse(UnsafeRawPointer(start), length: frame.count, into: &f)
    }
}

private func parse(_ frame: [UInt8]) -> (DropReason?, PacketFields) {
    var f = PacketFields()
    let r = GuardedBuffer(capacity: max(frame.count, 1)).parse(frame, into: &f)
    return (r, f)
}

private func patched(_ frame: [UInt8], _ edits: [Int: UInt8]) -> [UInt8] {
    var f = frame
    for (i, v) in edits { f[i] = v }
    return f
}

private func be16(_ f: [UInt8], _ i: Int) -> UInt16 { UInt16(f[i]) << 8 | UInt16(f[i + 1]) }

// MARK: Frames

private func tcp4(_ payload: Int = 0, options: [UInt8] = [], vlans: [UInt16] = []) -> [UInt8] {
    PacketBuilder.tcp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 40001, dstPort: 443,
                      flags: [.syn, .ack], options: options, payload: PacketBuilder.pattern(count: payload), vlans: vlans)
}

private func tcp6(_ payload: Int = 0, ext: [PacketBuilder.IPv6Extension] = [], vlans: [UInt16] = []) -> [UInt8] {
    PacketBuilder.tcp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 40002, dstPort: 22,
                      flags: .syn, payload: PacketBuilder.pattern(count: payload), ipv6Extensions: ext, vlans: vlans)
}

private func udp4(_ payload: Int = 0) -> [UInt8] {
    PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 5353, dstPort: 53,
                      payload: PacketBuilder.pattern(count: payload))
}

private func udp6(_ payload: Int = 0, ext: [PacketBuilder.IPv6Extension] = []) -> [UInt8] {
    PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 5353, dstPort: 53,
                      payload: PacketBuilder.pattern(count: payload), ipv6Extensions: ext)
}

private func raw(_ src: IPAddress, _ dst: IPAddress, proto: UInt8, _ payload: [UInt8]) -> [UInt8] {
    PacketBuilder.ip(srcMAC: macA, dstMAC: macB, src: src, dst: dst, proto: proto, payload: payload)
}

private func v4Fragment(offset: Int, more: Bool, proto: UInt8 = 6, payload: [UInt8]) -> [UInt8] {
    let pkt = PacketBuilder.ipv4Packet(src: v4A, dst: v4B, proto: proto, payload: payload, id: 0x4242,
                                       fragmentOffset: offset, moreFragments: more)
    return PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x0800, payload: pkt)
}

private let arpRequest = PacketBuilder.arp(op: 1, senderMAC: macA, senderIP: v4A, targetIP: v4B)

// MARK: Drops

struct ParserDropCase: Sendable, CustomTestStringConvertible {
    let name: String
    let frame: [UInt8]
    let reason: DropReason
    var testDescription: String { "\(reason.name): \(name)" }
}

private let dropCases: [ParserDropCase] = [
    ParserDropCase(name: "13 bytes", frame: Array(tcp4()[0..<13]), reason: .runtFrame),
    ParserDropCase(name: "empty", frame: [], reason: .runtFrame),
    ParserDropCase(name: "65536 bytes", frame: [UInt8](repeating: 0, count: 65536), reason: .oversizeFrame),
    ParserDropCase(name: "tag without next EtherType",
             frame: Array(PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x0800, payload: [], vlans: [5])[0..<17]),
             reason: .truncatedVLAN),
    ParserDropCase(name: "second tag cut",
             frame: Array(PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x0800, payload: [], vlans: [5, 6])[0..<20]),
             reason: .truncatedVLAN),
    ParserDropCase(name: "three tags",
             frame: PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x0800, payload: Array(tcp4()[14...]), vlans: [1, 2, 3]),
             reason: .tooManyVLANTags),
    ParserDropCase(name: "27 bytes of ARP", frame: Array(arpRequest[0..<41]), reason: .truncatedARP),
    ParserDropCase(name: "ARP hardware type 6", frame: patched(arpRequest, [15: 6]), reason: .malformedARP),
    ParserDropCase(name: "ARP for IPv6", frame: patched(arpRequest, [16: 0x86, 17: 0xDD]), reason: .malformedARP),
    ParserDropCase(name: "ARP protocol length 16", frame: patched(arpRequest, [19: 16]), reason: .malformedARP),
    ParserDropCase(name: "ARP hardware length 8", frame: patched(arpRequest, [18: 8]), reason: .malformedARP),
    ParserDropCase(name: "ARP opcode 3", frame: patched(arpRequest, [21: 3]), reason: .malformedARP),
    ParserDropCase(name: "19 bytes of IPv4", frame: Array(tcp4()[0..<33]), reason: .truncatedIPv4),
    ParserDropCase(name: "version 6 in 0x0800", frame: patched(tcp4(), [14: 0x65]), reason: .badIPv4Version),
    ParserDropCase(name: "IHL 4", frame: patched(tcp4(), [14: 0x44]), reason: .badIPv4HeaderLength),
    ParserDropCase(name: "IHL 15 past the frame", frame: patched(tcp4(), [14: 0x4F]), reason: .badIPv4HeaderLength),
    ParserDropCase(name: "total length below IHL", frame: patched(tcp4(), [16: 0, 17: 19]), reason: .badIPv4TotalLength),
    ParserDropCase(name: "total length past the frame", frame: patched(tcp4(), [16: 0, 17: 47]), reason: .badIPv4TotalLength),
    ParserDropCase(name: "39 bytes of IPv6", frame: Array(udp6()[0..<53]), reason: .truncatedIPv6),
    ParserDropCase(name: "version 4 in 0x86DD", frame: patched(udp6(), [14: 0x40]), reason: .badIPv6Version),
    ParserDropCase(name: "payload length past the frame", frame: patched(udp6(), [19: 9]), reason: .badIPv6PayloadLength),
    ParserDropCase(name: "IPv4-mapped IPv6 source", frame: patched(udp6(), [22: 0, 23: 0, 24: 0, 25: 0, 32: 0xFF, 33: 0xFF]),
             reason: .ipv4MappedIPv6Address),
    ParserDropCase(name: "neighbour solicitation for an IPv4-mapped target",
             frame: PacketBuilder.neighborSolicitation(srcMAC: macA, src: v6A, target: IPAddress(hi: 0, lo: 0xFFFF_0A00_0002)),
             reason: .ipv4MappedIPv6Address),
    ParserDropCase(name: "IPv4-mapped IPv6 destination", frame: patched(udp6(), [38: 0, 39: 0, 40: 0, 41: 0, 48: 0xFF, 49: 0xFF]),
             reason: .ipv4MappedIPv6Address),
    ParserDropCase(name: "nine extension headers",
             frame: udp6(ext: Array(repeating: .destinationOptions, count: 9)), reason: .ipv6ExtensionChainTooLong),
    ParserDropCase(name: "hop-by-hop length past the payload",
             frame: patched(udp6(ext: [.hopByHop]), [55: 5]), reason: .truncatedIPv6Extension),
    ParserDropCase(name: "payload ends inside a header",
             frame: patched(udp6(ext: [.hopByHop, .destinationOptions]), [18: 0, 19: 12]), reason: .truncatedIPv6Extension),
    ParserDropCase(name: "AH length past the payload",
             frame: raw(v6A, v6B, proto: 51, [17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]), reason: .truncatedIPv6Extension),
    ParserDropCase(name: "19 bytes of TCP", frame: raw(v4A, v4B, proto: 6, [UInt8](repeating: 0x50, count: 19)), reason: .truncatedTCP),
    ParserDropCase(name: "19 bytes of TCP over IPv6", frame: raw(v6A, v6B, proto: 6, [UInt8](repeating: 0x50, count: 19)), reason: .truncatedTCP),
    ParserDropCase(name: "data offset 4", frame: patched(tcp4(), [46: 0x40]), reason: .badTCPDataOffset),
    ParserDropCase(name: "data offset past the packet", frame: patched(tcp4(), [46: 0xF0]), reason: .badTCPDataOffset),
    ParserDropCase(name: "7 bytes of UDP", frame: raw(v4A, v4B, proto: 17, [0, 1, 0, 2, 0, 7, 0]), reason: .truncatedUDP),
    ParserDropCase(name: "UDP length 7", frame: patched(udp4(), [38: 0, 39: 7]), reason: .badUDPLength),
    ParserDropCase(name: "UDP length past the packet", frame: patched(udp4(4), [38: 0, 39: 13]), reason: .badUDPLength),
    ParserDropCase(name: "UDP length past the IPv6 payload", frame: patched(udp6(), [58: 0, 59: 9]), reason: .badUDPLength),
    ParserDropCase(name: "11 bytes of SCTP", frame: raw(v4A, v4B, proto: 132, [UInt8](repeating: 1, count: 11)), reason: .truncatedSCTP),
    ParserDropCase(name: "7 bytes of ICMP", frame: raw(v4A, v4B, proto: 1, [8, 0, 0, 0, 0, 1, 0]), reason: .truncatedICMP),
    ParserDropCase(name: "3 bytes of ICMPv6", frame: raw(v6A, v6B, proto: 58, [128, 0, 0]), reason: .truncatedICMPv6),
    ParserDropCase(name: "echo without identifier", frame: raw(v6A, v6B, proto: 58, [128, 0, 0, 0, 0, 1]), reason: .truncatedICMPv6),
    ParserDropCase(name: "solicitation without target",
             frame: raw(v6A, v6B, proto: 58, [135, 0, 0, 0] + [UInt8](repeating: 0, count: 19)), reason: .truncatedICMPv6),
    ParserDropCase(name: "IPv4 offset 8 (tiny overlap)", frame: v4Fragment(offset: 8, more: false, payload: PacketBuilder.pattern(count: 16)),
             reason: .badFragment),
    ParserDropCase(name: "IPv4 first fragment with 8 bytes of TCP", frame: PacketBuilder.fragment(tcp4(40), size: 8)[0],
             reason: .badFragment),
    ParserDropCase(name: "IPv4 first fragment cutting TCP options", frame: PacketBuilder.fragment(tcp4(options: [UInt8](repeating: 1, count: 20)), size: 24)[0],
             reason: .badFragment),
    ParserDropCase(name: "IPv4 first fragment with 4 bytes of ICMP",
             frame: v4Fragment(offset: 0, more: true, proto: 1, payload: [8, 0, 0, 0]), reason: .badFragment),
    ParserDropCase(name: "IPv4 non-final fragment of 12 bytes",
             frame: v4Fragment(offset: 64, more: true, payload: PacketBuilder.pattern(count: 12)), reason: .badFragment),
    ParserDropCase(name: "IPv4 fragment past 65535", frame: v4Fragment(offset: 65528, more: false, payload: PacketBuilder.pattern(count: 16)),
             reason: .badFragment),
    ParserDropCase(name: "IPv6 first fragment with 16 bytes of TCP", frame: PacketBuilder.fragment(tcp6(40), size: 16)[0],
             reason: .badFragment),
    ParserDropCase(name: "IPv6 offset 8", frame: PacketBuilder.fragment(udp6(40), size: 8)[1], reason: .badFragment),
    ParserDropCase(name: "fragmented neighbour solicitation",
             frame: PacketBuilder.fragment(PacketBuilder.neighborSolicitation(srcMAC: macA, src: v6A, target: v6B), size: 16)[0],
             reason: .badFragment),
]

@Suite struct PacketParserDropTests {
    @Test(arguments: dropCases)
    func dropsWithTheRightReason(_ c: ParserDropCase) {
        let (reason, _) = parse(c.frame)
        #expect(reason == c.reason)
    }

    /// Every parsing drop reason has a case above, except `unsupportedEtherType`,
    /// which the parser never returns (other EtherTypes are forwarded at L2).
    @Test func everyParsingReasonIsCovered() {
        let parsing = Set(DropReason.allCases.filter { $0.rawValue < 40 })
        let covered = Set(dropCases.map(\.reason))
        #expect(parsing.subtracting(covered) == [.unsupportedEtherType])
    }

    @Test func cutsOfAGoodFrameAreAlwaysDropped() {
        let frames = [tcp4(10, vlans: [3]), tcp6(7, ext: [.hopByHop]), udp4(30), udp6(9, ext: [.routing]), arpRequest,
                      PacketBuilder.icmpEcho(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, id: 1),
                      PacketBuilder.neighborAdvertisement(srcMAC: macA, src: v6A),
                      PacketBuilder.sctp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 1, dstPort: 2)]
        let buffer = GuardedBuffer()
        for frame in frames {
            var f = PacketFields()
            #expect(buffer.parse(frame, into: &f) == nil)
            // The bytes that matter: the IP packet or the ARP body, not the padding.
            let l3 = Int(f.l3Offset)
            let used = switch f.kind {
            case .ipv4: l3 + Int(be16(frame, l3 + 2))
            case .ipv6: l3 + 40 + Int(be16(frame, l3 + 4))
            default: l3 + 28
            }
            for cut in 0..<used {
                #expect(buffer.parse(Array(frame[0..<cut]), into: &f) != nil, "cut at \(cut) of \(used)")
            }
            for cut in used...frame.count {
                #expect(buffer.parse(Array(frame[0..<cut]), into: &f) == nil, "cut at \(cut) in padding")
            }
        }
    }
}

// MARK: Happy paths

@Suite struct PacketParserTests {
    @Test func tcpOverIPv4() {
        let (r, f) = parse(tcp4(5))
        #expect(r == nil)
        #expect(f.kind == .ipv4 && f.etherType == 0x0800)
        #expect(f.dstMAC == macB && f.srcMAC == macA)
        #expect(f.outerVLAN == 0 && f.innerVLAN == 0)
        #expect(f.l3Offset == 14 && f.l4Offset == 34)
        #expect(f.src == v4A && f.dst == v4B && f.ipProto == 6)
        #expect(f.srcPort == 40001 && f.dstPort == 443 && f.tcpFlags == 0x12)
        #expect(!f.isFragment && !f.isLaterFragment && f.fragmentID == 0)
    }

    @Test func tcpOverIPv6InQinQ() {
        let (r, f) = parse(tcp6(3, vlans: [100, 200]))
        #expect(r == nil)
        #expect(f.kind == .ipv6 && f.etherType == 0x86DD)
        #expect(f.outerVLAN == 100 && f.innerVLAN == 200)
        #expect(f.l3Offset == 22 && f.l4Offset == 62)
        #expect(f.src == v6A && f.dst == v6B && f.ipProto == 6)
        #expect(f.srcPort == 40002 && f.dstPort == 22 && f.tcpFlags == 0x02)
    }

    @Test func singleTagAndDoubleDot1QTags() {
        let (r1, f1) = parse(tcp4(vlans: [4094]))
        #expect(r1 == nil && f1.outerVLAN == 4094 && f1.innerVLAN == 0 && f1.l3Offset == 18 && f1.l4Offset == 38)
        let double = patched(tcp4(vlans: [7, 8]), [12: 0x81, 13: 0x00])  // 0x8100 outside 0x8100
        let (r2, f2) = parse(double)
        #expect(r2 == nil && f2.outerVLAN == 7 && f2.innerVLAN == 8 && f2.srcPort == 40001)
        // Priority bits are not part of the id.
        let (r3, f3) = parse(patched(tcp4(vlans: [9]), [14: 0xE0]))
        #expect(r3 == nil && f3.outerVLAN == 9)
    }

    @Test func tcpOptionsAndIPv4Options() {
        let (r, f) = parse(tcp4(3, options: [2, 4, 5, 0xB4, 4, 2]))
        #expect(r == nil && f.l4Offset == 34 && f.dstPort == 443)

        let segment = Array(tcp4()[34..<54])
        let pkt = PacketBuilder.ipv4Packet(src: v4A, dst: v4B, proto: 6, payload: segment, options: [0x94, 4, 0, 0, 1, 1, 1, 1])
        let (r2, f2) = parse(PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x0800, payload: pkt))
        #expect(r2 == nil && f2.l4Offset == 14 + 28 && f2.srcPort == 40001 && f2.dstPort == 443)
    }

    @Test func udpBothFamilies() {
        let (r, f) = parse(udp4(3))  // padded: the UDP length, not the frame, ends the datagram
        #expect(r == nil && f.ipProto == 17 && f.srcPort == 5353 && f.dstPort == 53 && f.l4Offset == 34)
        let (r6, f6) = parse(udp6(100))
        #expect(r6 == nil && f6.ipProto == 17 && f6.srcPort == 5353 && f6.dstPort == 53 && f6.l4Offset == 54)
    }

    @Test func ipv6ExtensionChain() {
        let (r, f) = parse(udp6(4, ext: [.hopByHop, .routing, .destinationOptions]))
        #expect(r == nil && f.ipProto == 17 && f.l4Offset == 54 + 24 && f.srcPort == 5353)
        #expect(!f.isFragment)
        let (r8, f8) = parse(udp6(ext: Array(repeating: .destinationOptions, count: 8)))
        #expect(r8 == nil && f8.l4Offset == 54 + 64 && f8.dstPort == 53)
        // A longer hop-by-hop header (length 1: 16 bytes).
        let long = PacketBuilder.ipv6Packet(src: v6A, dst: v6B, nextHeader: 0,
                                            payload: [17, 1] + [UInt8](repeating: 0, count: 14) + [0, 9, 0, 10, 0, 8, 0, 0])
        let (rl, fl) = parse(PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x86DD, payload: long))
        #expect(rl == nil && fl.l4Offset == 54 + 16 && fl.srcPort == 9 && fl.dstPort == 10)
    }

    @Test func authenticationHeaderIsSkipped() {
        // AH with payload length 4: (4 + 2) * 4 = 24 bytes, then UDP.
        let ah: [UInt8] = [17, 4, 0, 0] + [0, 0, 1, 0] + [0, 0, 0, 1] + [UInt8](repeating: 0xAA, count: 12)
        let udp: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0, 8, 0, 0]
        let (r, f) = parse(raw(v6A, v6B, proto: 51, ah + udp))
        #expect(r == nil && f.ipProto == 17 && f.l4Offset == 54 + 24 && f.srcPort == 0x1234 && f.dstPort == 0x5678)
    }

    @Test func unknownAndNoNextHeader() {
        let (r, f) = parse(raw(v4A, v4B, proto: 47, [0, 0, 0x08, 0]))  // GRE
        #expect(r == nil && f.ipProto == 47 && f.l4Offset == 34 && f.srcPort == 0 && f.dstPort == 0)
        let (r6, f6) = parse(raw(v6A, v6B, proto: 59, []))
        #expect(r6 == nil && f6.ipProto == 59 && f6.l4Offset == 54)
        // ICMP numbers in the wrong family are just unknown protocols.
        let (rx, fx) = parse(raw(v6A, v6B, proto: 1, [8, 0, 0, 0, 0, 7, 0, 1]))
        #expect(rx == nil && fx.icmpType == 0 && fx.srcPort == 0)
        let (ry, fy) = parse(raw(v4A, v4B, proto: 58, [128, 0, 0, 0, 0, 7, 0, 1]))
        #expect(ry == nil && fy.icmpType == 0 && fy.srcPort == 0)
    }

    @Test func sctpPorts() {
        let (r, f) = parse(PacketBuilder.sctp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 2905, dstPort: 36412))
        #expect(r == nil && f.ipProto == 132 && f.srcPort == 2905 && f.dstPort == 36412)
        let (r6, f6) = parse(PacketBuilder.sctp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 1, dstPort: 2))
        #expect(r6 == nil && f6.ipProto == 132 && f6.srcPort == 1 && f6.dstPort == 2)
    }

    @Test func icmpEchoCarriesTheIdentifierInBothPorts() {
        let (r, f) = parse(PacketBuilder.icmpEcho(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, id: 0xBEEF, seq: 9))
        #expect(r == nil && f.ipProto == 1 && f.icmpType == 8 && f.icmpCode == 0)
        #expect(f.srcPort == 0xBEEF && f.dstPort == 0xBEEF)
        let (rr, fr) = parse(PacketBuilder.icmpEcho(srcMAC: macB, dstMAC: macA, src: v4B, dst: v4A, reply: true, id: 0xBEEF))
        #expect(rr == nil && fr.icmpType == 0 && fr.srcPort == 0xBEEF && fr.dstPort == 0xBEEF)
    }

    @Test func otherICMPHasNoPorts() {
        let unreachable = PacketBuilder.icmp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, type: 3, code: 1,
                                             body: [0, 0, 0, 0] + Array(tcp4()[14..<42]))
        let (r, f) = parse(unreachable)
        #expect(r == nil && f.icmpType == 3 && f.icmpCode == 1 && f.srcPort == 0 && f.dstPort == 0)
    }

    @Test func icmpv6Echo() {
        let (r, f) = parse(PacketBuilder.icmpv6Echo(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, id: 321))
        #expect(r == nil && f.ipProto == 58 && f.icmpType == 128 && f.srcPort == 321 && f.dstPort == 321)
        let (rr, fr) = parse(PacketBuilder.icmpv6Echo(srcMAC: macB, dstMAC: macA, src: v6B, dst: v6A, reply: true, id: 321))
        #expect(rr == nil && fr.icmpType == 129 && fr.srcPort == 321)
    }

    @Test func neighbourDiscoveryFillsTheTarget() {
        let target = IPAddress("2001:db8::77")!
        let (r, f) = parse(PacketBuilder.neighborSolicitation(srcMAC: macA, src: v6A, target: target))
        #expect(r == nil && f.kind == .ipv6 && f.icmpType == 135 && f.ndTarget == target)
        #expect(f.dst == IPAddress("ff02::1:ff00:77")! && f.srcPort == 0)
        let (ra, fa) = parse(PacketBuilder.neighborAdvertisement(srcMAC: macA, src: v6A, target: target, solicited: true))
        #expect(ra == nil && fa.icmpType == 136 && fa.ndTarget == target && fa.src == v6A)
        // Router solicitation: ND but no target.
        let (rs, fs) = parse(PacketBuilder.icmpv6(srcMAC: macA, dstMAC: macB, src: v6A, dst: IPAddress("ff02::2")!,
                                                  type: 133, code: 0, body: [0, 0, 0, 0], hopLimit: 255))
        #expect(rs == nil && fs.icmpType == 133 && fs.ndTarget == .zero)
    }

    @Test func arpRequestAndReply() {
        let (r, f) = parse(arpRequest)
        #expect(r == nil && f.kind == .arp && f.etherType == 0x0806 && f.l3Offset == 14 && f.l4Offset == 0)
        #expect(f.arpOpcode == 1 && f.arpSenderMAC == macA && f.src == v4A && f.dst == v4B)
        #expect(f.dstMAC == .broadcast)
        let reply = PacketBuilder.arp(op: 2, senderMAC: macB, senderIP: v4B, targetMAC: macA, targetIP: v4A,
                                      dstMAC: macA, vlans: [30])
        let (rr, fr) = parse(reply)
        #expect(rr == nil && fr.kind == .arp && fr.outerVLAN == 30 && fr.l3Offset == 18)
        #expect(fr.arpOpcode == 2 && fr.arpSenderMAC == macB && fr.src == v4B && fr.dst == v4A)
    }

    @Test func ipv4Fragments() {
        let frags = PacketBuilder.fragment(tcp4(100), size: 48, id: 0x7777)
        #expect(frags.count == 3)
        let (r0, first) = parse(frags[0])
        #expect(r0 == nil && first.isFragment && !first.isLaterFragment && first.fragmentID == 0x7777)
        #expect(first.srcPort == 40001 && first.dstPort == 443 && first.l4Offset == 34)
        for later in frags.dropFirst() {
            let (r, f) = parse(later)
            #expect(r == nil && f.isFragment && f.isLaterFragment && f.fragmentID == 0x7777)
            #expect(f.ipProto == 6 && f.srcPort == 0 && f.dstPort == 0 && f.tcpFlags == 0 && f.l4Offset == 0)
            #expect(f.src == v4A && f.dst == v4B)
        }
        // A last fragment may end anywhere.
        let (rl, fl) = parse(v4Fragment(offset: 1480, more: false, payload: PacketBuilder.pattern(count: 13)))
        #expect(rl == nil && fl.isLaterFragment)
    }

    @Test func ipv6Fragments() {
        let frags = PacketBuilder.fragment(udp6(60, ext: [.hopByHop, .destinationOptions]), size: 40, id: 0xFEED_F00D)
        #expect(frags.count == 2)
        let (r0, first) = parse(frags[0])
        #expect(r0 == nil && first.isFragment && !first.isLaterFragment && first.fragmentID == 0xFEED_F00D)
        #expect(first.ipProto == 17 && first.srcPort == 5353 && first.l4Offset == 54 + 8 + 8 + 8)
        let (r1, later) = parse(frags[1])
        #expect(r1 == nil && later.isLaterFragment && later.fragmentID == 0xFEED_F00D)
        #expect(later.ipProto == 60 && later.srcPort == 0 && later.l4Offset == 0)  // next header after the fragment header

        // An atomic fragment (offset 0, no more fragments) is a whole packet.
        let (ra, atomic) = parse(udp6(ext: [.fragment(id: 5, offset: 0, moreFragments: false)]))
        #expect(ra == nil && !atomic.isFragment && atomic.srcPort == 5353 && atomic.l4Offset == 62)
    }

    @Test func otherEtherTypesAreForwardedNotDropped() {
        for etherType: UInt16 in [0x88CC, 0x8137, 0x88E5, 0x9100, 0x05DC] {
            let (r, f) = parse(PacketBuilder.ethernet(dst: macB, src: macA, etherType: etherType, payload: [1, 2, 3], vlans: [12]))
            #expect(r == nil && f.kind == .other && f.etherType == etherType)
            #expect(f.outerVLAN == 12 && f.l3Offset == 18 && f.l4Offset == 0 && f.srcMAC == macA)
        }
        let (r, f) = parse(Array(PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x88CC, payload: [])[0..<14]))
        #expect(r == nil && f.kind == .other)
    }

    /// `parse` first tries the common shape (untagged IPv4 without options or
    /// fragmentation, TCP or UDP): it must take exactly those frames, well formed, and
    /// fill what the general parser fills; everything else is left to the general parser.
    @Test func commonShapeTakesPlainTCPAndUDPOverIPv4Only() {
        let plain = [tcp4(), tcp4(30, options: [1, 1, 1, 1]), udp4(), udp4(18), patched(udp4(), [20: 0x40])]   // the last: DF set
        let ipOptions = PacketBuilder.ipv4Packet(src: v4A, dst: v4B, proto: 6, payload: Array(tcp4()[34..<54]), options: [1, 1, 1, 1])
        let others = dropCases.map(\.frame) + [tcp4(vlans: [7]), tcp6(), udp6(), arpRequest,
            PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x0800, payload: ipOptions),
            PacketBuilder.icmpEcho(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, id: 1),
            PacketBuilder.sctp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 1, dstPort: 2),
            v4Fragment(offset: 0, more: true, payload: PacketBuilder.pattern(count: 24))]
        for (frame, common) in plain.map({ ($0, true) }) + others.map({ ($0, false) }) {
            var fast = PacketFields(), general = PacketFields()
            let took = frame.withUnsafeBytes { PacketParser.parseCommonShape($0.baseAddress!, length: $0.count, into: &fast) }
            let reason = frame.withUnsafeBytes { PacketParser.parseGeneral($0.baseAddress!, length: $0.count, into: &general) }
            #expect(took == common, "common shape \(took) for \(frame.count) bytes, general parser: \(reason?.name ?? "parsed")")
            if took { #expect(reason == nil && fast == general) }
        }
    }

    @Test func fieldsDoNotLeakBetweenParses() {
        var f = PacketFields()
        #expect(PacketParser.parse(tcp4(vlans: [1, 2]), into: &f) == nil)
        #expect(f.srcPort == 40001 && f.innerVLAN == 2)
        #expect(PacketParser.parse(arpRequest, into: &f) == nil)
        #expect(f.srcPort == 0 && f.dstPort == 0 && f.tcpFlags == 0 && f.ipProto == 0 && f.innerVLAN == 0 && f.l4Offset == 0)
        #expect(PacketParser.parse([], into: &f) == .runtFrame)
        #expect(f.kind == .other && f.src == .zero)
    }
}

// MARK: Robustness

/// SplitMix64: small, seeded, and the same on every platform.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct PacketParserRobustnessTests {
    @Test func randomAndMutatedFrames() {
        var rng = SplitMix64(state: 0x6762_7064_6174_6170)
        let corpus: [[UInt8]] = [
            tcp4(20), tcp4(3, options: [2, 4, 5, 0xB4]), tcp6(10, ext: [.hopByHop, .destinationOptions], vlans: [5, 6]),
            udp4(8), udp6(16, ext: [.routing]), arpRequest,
            PacketBuilder.icmpEcho(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, id: 3),
            PacketBuilder.icmpv6Echo(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, id: 3),
            PacketBuilder.neighborSolicitation(srcMAC: macA, src: v6A, target: v6B),
            PacketBuilder.neighborAdvertisement(srcMAC: macA, src: v6A),
            PacketBuilder.sctp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 1, dstPort: 2),
            raw(v6A, v6B, proto: 51, [17, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 2, 0, 8, 0, 0]),
        ] + PacketBuilder.fragment(tcp4(64), size: 32) + PacketBuilder.fragment(udp6(64, ext: [.hopByHop]), size: 32)
        let etherTypes: [UInt16] = [0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8]
        let buffer = GuardedBuffer(capacity: 4096)
        var f = PacketFields()
        var outcomes: [DropReason?: Int] = [:]
        var violations: [String] = []

        for i in 0..<200_000 {
            var frame: [UInt8]
            if i % 4 == 0 {
                // Random bytes behind a chosen EtherType, so the IP/ARP code is reached.
                frame = (0..<Int.random(in: 0...160, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if frame.count >= 14 {
                    let t = etherTypes.randomElement(using: &rng)!
                    frame[12] = UInt8(t >> 8); frame[13] = UInt8(t & 0xFF)
                }
            } else {
                frame = corpus.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    // Mostly within the headers, where the parser looks.
                    let at = Int.random(in: 0..<min(frame.count, 96), using: &rng)
                    frame[at] = Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng) : frame[at] ^ (1 << UInt8.random(in: 0...7, using: &rng))
                }
                if Int.random(in: 0..<3, using: &rng) == 0 {
                    frame.removeLast(Int.random(in: 0...frame.count, using: &rng))
                }
            }

            let reason = buffer.parse(frame, into: &f)
            outcomes[reason, default: 0] += 1
            var problems: [String] = []
            if Int(f.l3Offset) > frame.count || Int(f.l4Offset) > frame.count { problems.append("offset past the frame") }
            if let reason {
                if reason.rawValue >= 40 || reason == .unsupportedEtherType { problems.append("non-parsing reason \(reason.name)") }
            } else {
                switch f.kind {
                case .ipv4, .ipv6:
                    if f.isLaterFragment {
                        if f.l4Offset != 0 || f.srcPort != 0 || f.dstPort != 0 { problems.append("L4 fields in a later fragment") }
                    } else if Int(f.l4Offset) < Int(f.l3Offset) + (f.kind == .ipv4 ? 20 : 40) {
                        problems.append("L4 inside the IP header")
                    }
                case .arp:
                    if Int(f.l3Offset) + 28 > frame.count { problems.append("ARP past the frame") }
                case .other:
                    if f.etherType == 0x0800 || f.etherType == 0x86DD || f.etherType == 0x0806 { problems.append("IP or ARP as other") }
                }
            }
            if !problems.isEmpty && violations.count < 5 {
                violations.append("\(problems) in \(frame.map { String($0, radix: 16) }.joined(separator: " "))")
            }
        }
        #expect(violations.isEmpty, "\(violations)")
        // The fuzzing reached deep: good parses and many different drops.
        #expect((outcomes[nil] ?? 0) > 20_000)
        #expect(outcomes.keys.compactMap { $0 }.count >= 15, "\(outcomes.keys.compactMap { $0?.name })")
    }
}
