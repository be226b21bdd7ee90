import GBPCore

/// Valid frames of every kind the parser and the fuzz policy know (FuzzPolicy.swift):
/// each protocol over IPv4 and IPv6, VLANs, fragments, extension headers, ARP, ND.
enum FuzzSeedFrames {
    typealias B = PacketBuilder
    static let n = HostileNet.self
    static let macD1 = MACAddress("02:00:00:00:0d:01")!, macD2 = MACAddress("02:00:00:00:0d:02")!
    static let ipD1 = IPAddress("10.0.0.4")!, ipD2 = IPAddress("10.0.0.5")!
    static let outside = IPAddress("198.51.100.7")!, outside6 = IPAddress("2001:db8::7")!

    static var valid: [(String, [UInt8])] {
        let tcpSyn = B.tcp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, srcPort: 40000, dstPort: 80, flags: .syn)
        let tcp6 = B.tcp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF6, dst: n.ipB6, srcPort: 40000, dstPort: 8080, flags: .syn,
                         options: [2, 4, 5, 0xB4])
        let bigUDP = B.udp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, srcPort: 5353, dstPort: 53,
                           payload: B.pattern(count: 80))
        let bigUDP6 = B.udp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF6, dst: n.ipB6, srcPort: 5353, dstPort: 53,
                            payload: B.pattern(count: 80), ipv6Extensions: [.hopByHop])
        let frag4 = B.fragment(bigUDP, size: 48)
        let frag6 = B.fragment(bigUDP6, size: 48)
        var lldp = B.ethernet(dst: n.macB, src: n.macF, etherType: 0x88CC, payload: B.pattern(count: 30))
        lldp[0] = 0x02
        return [
            ("tcp syn to 80", tcpSyn),
            ("tcp syn-ack back", B.tcp(srcMAC: n.macB, dstMAC: n.macF, src: n.ipB, dst: n.ipF, srcPort: 80, dstPort: 40000,
                                       flags: [.syn, .ack])),
            ("tcp to 22 denied", B.tcp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, srcPort: 40000, dstPort: 22)),
            ("tcp fin-ack", B.tcp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, srcPort: 40000, dstPort: 80,
                                  flags: [.fin, .ack], payload: B.pattern(count: 10))),
            ("tcp over ipv6 with mss", tcp6),
            ("udp dns", B.udp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, srcPort: 5353, dstPort: 53)),
            ("udp over ipv6", B.udp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF6, dst: n.ipB6, srcPort: 5353, dstPort: 53)),
            ("sctp", B.sctp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, srcPort: 5000, dstPort: 9899)),
            ("sctp over ipv6", B.sctp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF6, dst: n.ipB6, srcPort: 5000, dstPort: 9899)),
            ("icmp echo", B.icmpEcho(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, id: 7)),
            ("icmp echo reply", B.icmpEcho(srcMAC: n.macB, dstMAC: n.macF, src: n.ipB, dst: n.ipF, reply: true, id: 7)),
            ("icmp unreachable", B.icmp(srcMAC: n.macB, dstMAC: n.macF, src: n.ipB, dst: n.ipF, type: 3, code: 3,
                                        body: [0, 0, 0, 0] + Array(tcpSyn[14..<42]))),
            ("icmpv6 echo", B.icmpv6Echo(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF6, dst: n.ipB6, id: 8)),
            ("icmpv6 echo through routing header", B.icmpv6Echo(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF6, dst: n.ipB6, id: 8,
                                                               ipv6Extensions: [.routing, .destinationOptions])),
            ("arp request", B.arp(op: 1, senderMAC: n.macF, senderIP: n.ipF, targetIP: n.ipB)),
            ("arp reply", B.arp(op: 2, senderMAC: n.macB, senderIP: n.ipB, targetMAC: n.macF, targetIP: n.ipF, dstMAC: n.macF)),
            ("arp probe", B.arp(op: 1, senderMAC: n.macF, senderIP: .zero, targetIP: n.ipF)),
            ("neighbour solicitation", B.neighborSolicitation(srcMAC: n.macF, src: n.ipF6, target: n.ipB6)),
            ("duplicate address detection", B.neighborSolicitation(srcMAC: n.macF, src: .zero, target: n.ipF6)),
            ("neighbour advertisement", B.neighborAdvertisement(srcMAC: n.macB, src: n.ipB6, target: n.ipB6, dstMAC: n.macF,
                                                                dst: n.ipF6, solicited: true)),
            ("vlan tagged udp", B.udp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, srcPort: 1, dstPort: 53, vlans: [100])),
            ("qinq tagged tcp", B.tcp(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, srcPort: 1, dstPort: 80,
                                      vlans: [100, 200])),
            ("vlan tagged ipv6 ns", B.neighborSolicitation(srcMAC: n.macF, src: n.ipF6, target: n.ipB6, vlans: [7])),
            ("ipv4 first fragment", frag4[0]),
            ("ipv4 later fragment", frag4[1]),
            ("ipv6 first fragment", frag6[0]),
            ("ipv6 later fragment", frag6[1]),
            ("ipv4 with options", B.ethernet(dst: n.macB, src: n.macF, etherType: 0x0800,
                                             payload: B.ipv4Packet(src: n.ipF, dst: n.ipB, proto: 17,
                                                                   payload: [0x9C, 0x40, 0, 53, 0, 8, 0, 0],
                                                                   options: [0x94, 4, 0, 0]))),
            ("gre", B.ip(srcMAC: n.macF, dstMAC: n.macB, src: n.ipF, dst: n.ipB, proto: 47, payload: B.pattern(count: 24))),
            ("lldp", lldp),
            ("unknown ethertype", B.ethernet(dst: n.macB, src: n.macF, etherType: 0x88B5, payload: B.pattern(count: 20))),
            ("https from outside", B.tcp(srcMAC: n.macB, dstMAC: n.macF, src: outside, dst: n.ipF, srcPort: 50000, dstPort: 443)),
            ("ipv6 from outside", B.tcp(srcMAC: n.macB, dstMAC: n.macF, src: outside6, dst: n.ipF6, srcPort: 50000, dstPort: 443)),
            ("postgres backend to db", B.tcp(srcMAC: n.macB, dstMAC: macD1, src: n.ipB, dst: ipD1, srcPort: 41000, dstPort: 5432)),
            ("db to db denied", B.udp(srcMAC: macD1, dstMAC: macD2, src: ipD1, dst: ipD2, srcPort: 1, dstPort: 2)),
            ("broadcast udp", B.udp(srcMAC: n.macF, dstMAC: .broadcast, src: n.ipF, dst: IPAddress("10.255.255.255")!,
                                    srcPort: 68, dstPort: 67)),
        ]
    }
}
