import GBPCore

/// The hosts of the hostile corpus and of the fuzz seeds: endpoint f1 (group frontend,
/// port pa) sends to b1 (group backend, port pb) in tenant shop; contract web allows
/// UDP and TCP to port 80 (the policy of Tests/GBPIntegrationTests/HostileCorpusTests.swift
/// and, with more rules, Tests/Fuzz/Target/FuzzPolicy.swift).
enum HostileNet {
    static let macF = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!
    static let ipF = IPAddress("10.0.0.1")!, ipB = IPAddress("10.0.0.2")!
    static let ipF6 = IPAddress("fd00::1")!, ipB6 = IPAddress("fd00::2")!
}

/// One frame of the hostile corpus and what gbpd must do with it: drop it with `reason`
/// (a `DropReason` name), or forward it when `reason` is nil.
struct HostileCase {
    var name: String
    var frame: [UInt8]
    var reason: DropReason?
}

/// Malformed and malicious frames, each with the drop reason it must get. Ordered so
/// that every drop is decided by the frame alone (the valid control frames and the
/// fragments that follow a first fragment are the only ones that depend on order).
enum HostileCorpus {
    typealias B = PacketBuilder
    static let f = HostileNet.self

    static func udp4(_ payload: Int = 0, vlans: [UInt16] = []) -> [UInt8] {
        B.udp(srcMAC: f.macF, dstMAC: f.macB, src: f.ipF, dst: f.ipB, srcPort: 40000, dstPort: 80,
              payload: B.pattern(count: payload), vlans: vlans)
    }
    static func udp6(_ payload: Int = 0, ext: [B.IPv6Extension] = []) -> [UInt8] {
        B.udp(srcMAC: f.macF, dstMAC: f.macB, src: f.ipF6, dst: f.ipB6, srcPort: 40000, dstPort: 80,
              payload: B.pattern(count: payload), ipv6Extensions: ext)
    }
    static func tcp4(flags: B.TCPFlags = .syn) -> [UInt8] {
        B.tcp(srcMAC: f.macF, dstMAC: f.macB, src: f.ipF, dst: f.ipB, srcPort: 40001, dstPort: 80, flags: flags)
    }
    /// An IPv4 or IPv6 frame (after `src`) whose L4 bytes are `payload`, as given.
    static func raw(v6: Bool = false, proto: UInt8, _ payload: [UInt8], ext: [B.IPv6Extension] = []) -> [UInt8] {
        B.ip(srcMAC: f.macF, dstMAC: f.macB, src: v6 ? f.ipF6 : f.ipF, dst: v6 ? f.ipB6 : f.ipB, proto: proto,
             payload: payload, ipv6Extensions: ext)
    }
    /// An IPv4 datagram piece: `payload` at fragment `offset` (bytes), with or without more fragments.
    static func fragment4(proto: UInt8 = 17, _ payload: [UInt8], offset: Int, more: Bool, id: UInt16 = 0x4242) -> [UInt8] {
        B.ethernet(dst: f.macB, src: f.macF, etherType: 0x0800,
                   payload: B.ipv4Packet(src: f.ipF, dst: f.ipB, proto: proto, payload: payload, id: id,
                                         fragmentOffset: offset, moreFragments: more))
    }
    static func patched(_ frame: [UInt8], _ edits: [Int: UInt8]) -> [UInt8] {
        var out = frame
        for (i, v) in edits { out[i] = v }
        return out
    }
    static func zeros(_ n: Int) -> [UInt8] { [UInt8](repeating: 0, count: n) }

    static var cases: [HostileCase] {
        let arp = B.arp(op: 1, senderMAC: f.macF, senderIP: f.ipF, targetIP: f.ipB)
        let ethHeader = Array(udp4()[0..<12])
        let bigUDP = udp4(64)
        let goodFragments = B.fragment(bigUDP, size: 32, id: 0x77)
        return [
            HostileCase(name: "control: UDP to port 80", frame: udp4(), reason: nil),
            // Layer 2
            HostileCase(name: "zero-length frame", frame: [], reason: .runtFrame),
            HostileCase(name: "13-byte frame", frame: Array(udp4()[0..<13]), reason: .runtFrame),
            HostileCase(name: "VLAN tag cut after its TPID", frame: ethHeader + [0x81, 0x00, 0x00], reason: .truncatedVLAN),
            HostileCase(name: "second VLAN tag cut", frame: ethHeader + [0x88, 0xA8, 0x00, 0x05, 0x81, 0x00], reason: .truncatedVLAN),
            HostileCase(name: "three stacked VLAN tags", frame: udp4(vlans: [1, 2, 3]), reason: .tooManyVLANTags),
            HostileCase(name: "five stacked VLAN tags", frame: udp4(vlans: [1, 2, 3, 4, 5]), reason: .tooManyVLANTags),
            // ARP
            HostileCase(name: "ARP cut at 27 bytes", frame: Array(arp[0..<41]), reason: .truncatedARP),
            HostileCase(name: "ARP opcode 3", frame: patched(arp, [21: 3]), reason: .malformedARP),
            HostileCase(name: "ARP hardware length 8", frame: patched(arp, [18: 8]), reason: .malformedARP),
            // IPv4
            HostileCase(name: "IPv4 header cut at 19 bytes", frame: Array(udp4()[0..<33]), reason: .truncatedIPv4),
            HostileCase(name: "version 6 in an IPv4 EtherType", frame: patched(udp4(), [14: 0x65]), reason: .badIPv4Version),
            HostileCase(name: "IPv4 IHL 0", frame: patched(udp4(), [14: 0x40]), reason: .badIPv4HeaderLength),
            HostileCase(name: "IPv4 IHL 4", frame: patched(udp4(), [14: 0x44]), reason: .badIPv4HeaderLength),
            HostileCase(name: "IPv4 IHL 15 past the frame", frame: patched(udp4(), [14: 0x4F]), reason: .badIPv4HeaderLength),
            HostileCase(name: "IPv4 total length past the frame", frame: patched(udp4(), [16: 0x05, 17: 0xDC]),
                        reason: .badIPv4TotalLength),
            HostileCase(name: "IPv4 total length 65535 in a small frame", frame: patched(udp4(), [16: 0xFF, 17: 0xFF]),
                        reason: .badIPv4TotalLength),
            HostileCase(name: "IPv4 total length below the header", frame: patched(udp4(), [16: 0, 17: 19]),
                        reason: .badIPv4TotalLength),
            // IPv6
            HostileCase(name: "IPv6 header cut at 39 bytes", frame: Array(udp6()[0..<53]), reason: .truncatedIPv6),
            HostileCase(name: "version 4 in an IPv6 EtherType", frame: patched(udp6(), [14: 0x40]), reason: .badIPv6Version),
            HostileCase(name: "IPv6 payload length past the frame", frame: patched(udp6(), [18: 0x05, 19: 0xDC]),
                        reason: .badIPv6PayloadLength),
            HostileCase(name: "nine IPv6 extension headers", frame: udp6(ext: Array(repeating: .destinationOptions, count: 9)),
                        reason: .ipv6ExtensionChainTooLong),
            HostileCase(name: "IPv6 extension chain that never ends (header after header to the end)",
                        frame: raw(v6: true, proto: 60, [], ext: Array(repeating: .destinationOptions, count: 3)),
                        reason: .truncatedIPv6Extension),
            HostileCase(name: "hop-by-hop length 2048 bytes", frame: patched(udp6(ext: [.hopByHop]), [55: 255]),
                        reason: .truncatedIPv6Extension),
            HostileCase(name: "IPv4-mapped IPv6 source (::ffff:10.0.0.1)",
                        frame: patched(udp6(), [22: 0, 32: 0xFF, 33: 0xFF, 34: 10, 35: 0, 36: 0, 37: 1]),
                        reason: .ipv4MappedIPv6Address),
            HostileCase(name: "neighbour solicitation for ::ffff:10.0.0.2 (an IPv4 endpoint's address)",
                        frame: B.neighborSolicitation(srcMAC: f.macF, src: f.ipF6, target: IPAddress(hi: 0, lo: 0xFFFF_0A00_0002)),
                        reason: .ipv4MappedIPv6Address),
            // Fragments
            HostileCase(name: "control: first fragment of UDP to port 80", frame: goodFragments[0], reason: nil),
            HostileCase(name: "control: its last fragment", frame: goodFragments.last!, reason: nil),
            HostileCase(name: "fragment overlapping the UDP header (offset 8)", frame: fragment4(zeros(16), offset: 8, more: true, id: 0x77),
                        reason: .badFragment),
            HostileCase(name: "tiny first fragment: 8 bytes of a TCP header", frame: fragment4(proto: 6, zeros(8), offset: 0, more: true),
                        reason: .badFragment),
            HostileCase(name: "fragment of 12 bytes with more to come", frame: fragment4(zeros(12), offset: 16, more: true),
                        reason: .badFragment),
            HostileCase(name: "fragment ending past 65535 bytes", frame: fragment4(zeros(16), offset: 65528, more: false),
                        reason: .badFragment),
            HostileCase(name: "IPv6 tiny first fragment: 8 bytes of TCP", frame: raw(v6: true, proto: 6, zeros(8),
                        ext: [.fragment(id: 9, offset: 0, moreFragments: true)]), reason: .badFragment),
            HostileCase(name: "IPv6 fragment at offset 8", frame: raw(v6: true, proto: 17, zeros(16),
                        ext: [.fragment(id: 9, offset: 8, moreFragments: true)]), reason: .badFragment),
            HostileCase(name: "fragmented neighbour solicitation", frame: B.icmpv6(
                            srcMAC: f.macF, dstMAC: f.macB, src: f.ipF6, dst: f.ipB6, type: 135, code: 0,
                            body: zeros(4) + zeros(16) + [1, 1] + f.macF.octets,
                            ipv6Extensions: [.fragment(id: 10, offset: 0, moreFragments: true)]), reason: .badFragment),
            HostileCase(name: "later fragment without its first", frame: fragment4(zeros(16), offset: 64, more: false, id: 0x99),
                        reason: .fragmentWithoutState),
            // Layer 4
            HostileCase(name: "TCP header cut at 19 bytes", frame: raw(proto: 6, [UInt8](repeating: 0x50, count: 19)),
                        reason: .truncatedTCP),
            HostileCase(name: "TCP data offset 4 words", frame: patched(tcp4(), [46: 0x40]), reason: .badTCPDataOffset),
            HostileCase(name: "TCP data offset 0", frame: patched(tcp4(), [46: 0x00]), reason: .badTCPDataOffset),
            HostileCase(name: "TCP data offset 15 words in a 20-byte segment", frame: patched(tcp4(), [46: 0xF0]),
                        reason: .badTCPDataOffset),
            HostileCase(name: "UDP header cut at 7 bytes", frame: raw(proto: 17, zeros(7)), reason: .truncatedUDP),
            HostileCase(name: "UDP length 7", frame: patched(udp4(), [38: 0, 39: 7]), reason: .badUDPLength),
            HostileCase(name: "UDP length past the IP packet", frame: patched(udp4(), [38: 0x01, 39: 0x00]), reason: .badUDPLength),
            HostileCase(name: "SCTP header cut at 11 bytes", frame: raw(proto: 132, zeros(11)), reason: .truncatedSCTP),
            HostileCase(name: "ICMP header cut at 7 bytes", frame: raw(proto: 1, [8] + zeros(6)), reason: .truncatedICMP),
            HostileCase(name: "ICMPv6 header cut at 3 bytes", frame: raw(v6: true, proto: 58, [128, 0, 0]), reason: .truncatedICMPv6),
            HostileCase(name: "neighbour solicitation without its target", frame: raw(v6: true, proto: 58, [135] + zeros(19)),
                        reason: .truncatedICMPv6),
            HostileCase(name: "UDP over IPv6 cut at 7 bytes", frame: raw(v6: true, proto: 17, zeros(7)), reason: .truncatedUDP),
            // Size
            HostileCase(name: "9000-byte jumbo frame (several mbuf segments)", frame: udp4(9000 - 42), reason: .oversizeFrame),
            HostileCase(name: "control: UDP to port 80 after all that", frame: udp4(), reason: nil),
        ]
    }
}
