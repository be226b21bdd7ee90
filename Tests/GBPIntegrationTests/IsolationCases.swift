import Foundation
import GBPCore

/// The tenant-isolation and anti-spoofing cases, one table for every port type.
///
/// Layout: tenant shop has s1 (group client, port A: every case is sent from there)
/// and s2 (group server, port B); tenant other has o1 (group x, port C), which shares
/// s2's addresses (10.0.0.2, fd00::2) and also has 10.0.0.3 and fd00::3, addresses
/// shop does not have. Contract web lets client open TCP/80, UDP/53 and ping to server.
/// Nothing sent from A may ever leave through C.
enum Isolation {
    static let macS1 = MACAddress("02:00:00:0e:01:01")!, macS2 = MACAddress("02:00:00:0e:01:02")!
    static let macO1 = MACAddress("02:00:00:0e:02:01")!, macNobody = MACAddress("02:00:00:0e:ee:ee")!
    static let s1v4 = IPAddress("10.0.0.1")!, s2v4 = IPAddress("10.0.0.2")!, onlyOtherV4 = IPAddress("10.0.0.3")!
    static let s1v6 = IPAddress("fd00::1")!, s2v6 = IPAddress("fd00::2")!, onlyOtherV6 = IPAddress("fd00::3")!
    static let linkLocal = IPAddress("fe80::1")!, allNodes = IPAddress("ff02::1")!, allRouters = IPAddress("ff02::2")!

    /// What gbpd does with a case's frame.
    enum Outcome: Equatable, CustomStringConvertible {
        /// Sent out of port B only (to s2, or flooded inside tenant shop, whose other port is B).
        case toPeer
        /// Answered by gbpd (proxy ARP / ND): the answer leaves by port A.
        case answered
        case drop(DropReason)
        var description: String {
            switch self {
            case .toPeer: "to s2's port only"
            case .answered: "answered on the ingress port"
            case .drop(let r): "dropped (\(r.name))"
            }
        }
    }

    struct Case {
        var name: String
        var frame: [UInt8]
        var expect: Outcome
    }

    /// The endpoints and policy, for a config whose ports are named `a`, `b` and `c`.
    static func policy(a: String, b: String, c: String) -> String {
        """
        tenants: [{ name: shop }, { name: other }]
        groups: [{ name: client, tenant: shop }, { name: server, tenant: shop }, { name: x, tenant: other }]
        endpoints:
          - { name: s1, tenant: shop, group: client, port: \(a), mac: "\(macS1)", ips: [10.0.0.1, "fd00::1"] }
          - { name: s2, tenant: shop, group: server, port: \(b), mac: "\(macS2)", ips: [10.0.0.2, "fd00::2"] }
          - { name: o1, tenant: other, group: x, port: \(c), mac: "\(macO1)", ips: [10.0.0.2, 10.0.0.3, "fd00::2", "fd00::3"] }
        contracts:
          - name: web
            tenant: shop
            providers: [server]
            consumers: [client]
            rules: [{ protocol: tcp, ports: [80] }, { protocol: udp, ports: [53] }, { protocol: icmp, icmp_type: 8 }]
        """
    }

    static var cases: [Case] {
        typealias B = PacketBuilder
        func tcp(_ src: IPAddress, _ dst: IPAddress, srcMAC: MACAddress = macS1, dstMAC: MACAddress = macS2, port: UInt16 = 80) -> [UInt8] {
            B.tcp(srcMAC: srcMAC, dstMAC: dstMAC, src: src, dst: dst, srcPort: 40000, dstPort: port, flags: .syn)
        }
        func udp(_ src: IPAddress, _ dst: IPAddress, dstMAC: MACAddress = macS2) -> [UInt8] {
            B.udp(srcMAC: macS1, dstMAC: dstMAC, src: src, dst: dst, srcPort: 40001, dstPort: 53)
        }
        func routerDiscovery(type: UInt8, dstMAC: MACAddress? = nil) -> [UInt8] {
            let to = type == 133 ? allRouters : allNodes
            let body: [UInt8] = type == 133 ? [0, 0, 0, 0] + [1, 1] + macS1.octets
                : [64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0] + [1, 1] + macS1.octets
            return B.icmpv6(srcMAC: macS1, dstMAC: dstMAC ?? B.multicastMAC(for: to), src: linkLocal, dst: to,
                            type: type, code: 0, body: body, hopLimit: 255)
        }
        var arpWrongSender = B.arp(op: 1, senderMAC: macS1, senderIP: s1v4, targetIP: s2v4)
        arpWrongSender.replaceSubrange(22..<28, with: macNobody.octets)   // ARP sender MAC != Ethernet source
        return [
            // Allowed inside the tenant: the checks below are not a dataplane that drops everything.
            Case(name: "IPv4 TCP/80 to the peer", frame: tcp(s1v4, s2v4), expect: .toPeer),
            Case(name: "IPv6 UDP/53 to the peer", frame: udp(s1v6, s2v6), expect: .toPeer),

            // IPv4 / IPv6 toward the other tenant.
            Case(name: "IPv4 to an address only the other tenant has", frame: tcp(s1v4, onlyOtherV4, dstMAC: macO1), expect: .drop(.unknownDestination)),
            Case(name: "IPv6 to an address only the other tenant has", frame: udp(s1v6, onlyOtherV6, dstMAC: macO1), expect: .drop(.unknownDestination)),
            Case(name: "IPv4 broadcast to the other tenant's address", frame: udp(s1v4, onlyOtherV4, dstMAC: .broadcast), expect: .drop(.unknownDestination)),
            Case(name: "IPv4 to a shared address, other tenant's MAC", frame: tcp(s1v4, s2v4, dstMAC: macO1), expect: .toPeer),
            Case(name: "IPv6 to a shared address, other tenant's MAC", frame: udp(s1v6, s2v6, dstMAC: macO1), expect: .toPeer),
            Case(name: "non-IP frame to the other tenant's MAC",
                 frame: B.ethernet(dst: macO1, src: macS1, etherType: 0x88B5, payload: B.pattern(count: 46)), expect: .drop(.unknownDestination)),

            // ARP: requests, replies, gratuitous.
            Case(name: "ARP request for the other tenant's address", frame: B.arp(op: 1, senderMAC: macS1, senderIP: s1v4, targetIP: onlyOtherV4),
                 expect: .toPeer),
            Case(name: "ARP request for a shared address", frame: B.arp(op: 1, senderMAC: macS1, senderIP: s1v4, targetIP: s2v4), expect: .answered),
            Case(name: "ARP reply to the other tenant's MAC",
                 frame: B.arp(op: 2, senderMAC: macS1, senderIP: s1v4, targetMAC: macO1, targetIP: s2v4, dstMAC: macO1),
                 expect: .drop(.arpCrossTenant)),
            Case(name: "gratuitous ARP for its own address", frame: B.arp(op: 1, senderMAC: macS1, senderIP: s1v4, targetIP: s1v4), expect: .toPeer),
            Case(name: "gratuitous ARP claiming the peer's address", frame: B.arp(op: 1, senderMAC: macS1, senderIP: s2v4, targetIP: s2v4),
                 expect: .drop(.arpConflict)),
            Case(name: "gratuitous ARP claiming the other tenant's address",
                 frame: B.arp(op: 2, senderMAC: macS1, senderIP: onlyOtherV4, targetIP: onlyOtherV4), expect: .drop(.spoofedIP)),

            // Neighbour discovery: NS, NA, RS, RA.
            Case(name: "NS for the other tenant's address", frame: B.neighborSolicitation(srcMAC: macS1, src: s1v6, target: onlyOtherV6),
                 expect: .toPeer),
            Case(name: "NS for a shared address", frame: B.neighborSolicitation(srcMAC: macS1, src: s1v6, target: s2v6), expect: .answered),
            Case(name: "NS unicast to the other tenant's MAC",
                 frame: B.neighborSolicitation(srcMAC: macS1, src: s1v6, target: onlyOtherV6, dstMAC: macO1, dst: onlyOtherV6),
                 expect: .drop(.arpCrossTenant)),
            Case(name: "NA announcing the other tenant's address", frame: B.neighborAdvertisement(srcMAC: macS1, src: s1v6, target: onlyOtherV6),
                 expect: .drop(.spoofedIP)),
            Case(name: "NA announcing the peer's address", frame: B.neighborAdvertisement(srcMAC: macS1, src: s1v6, target: s2v6),
                 expect: .drop(.arpConflict)),
            Case(name: "router solicitation", frame: routerDiscovery(type: 133), expect: .toPeer),
            Case(name: "router advertisement", frame: routerDiscovery(type: 134), expect: .toPeer),
            Case(name: "router advertisement to the other tenant's MAC", frame: routerDiscovery(type: 134, dstMAC: macO1),
                 expect: .drop(.arpCrossTenant)),

            // Spoofed sources.
            Case(name: "source MAC nobody has", frame: tcp(s1v4, s2v4, srcMAC: macNobody), expect: .drop(.spoofedMAC)),
            Case(name: "source MAC of the peer", frame: tcp(s1v4, s2v4, srcMAC: macS2), expect: .drop(.spoofedMAC)),
            Case(name: "source MAC of the other tenant's endpoint", frame: tcp(s1v4, s2v4, srcMAC: macO1), expect: .drop(.spoofedMAC)),
            Case(name: "IPv4 source of the peer", frame: tcp(s2v4, s2v4), expect: .drop(.spoofedIP)),
            Case(name: "IPv4 source only the other tenant has", frame: tcp(onlyOtherV4, s2v4), expect: .drop(.spoofedIP)),
            Case(name: "IPv6 source of the peer", frame: udp(s2v6, s2v6), expect: .drop(.spoofedIP)),
            Case(name: "IPv6 source nobody has", frame: udp(IPAddress("fd00::99")!, s2v6), expect: .drop(.spoofedIP)),
            Case(name: "ARP sender MAC not the frame's", frame: arpWrongSender, expect: .drop(.spoofedMAC)),
            Case(name: "ARP sender address nobody has", frame: B.arp(op: 1, senderMAC: macS1, senderIP: IPAddress("10.0.0.99")!, targetIP: s2v4),
                 expect: .drop(.spoofedIP)),
            Case(name: "NS from the peer's global address", frame: B.neighborSolicitation(srcMAC: macS1, src: s2v6, target: s2v6),
                 expect: .drop(.arpConflict)),
            Case(name: "NS from an address only the other tenant has", frame: B.neighborSolicitation(srcMAC: macS1, src: onlyOtherV6, target: s2v6),
                 expect: .drop(.spoofedIP)),
        ]
    }

    /// Expected drops by reason for `cases`.
    static func expectedDrops(_ cases: [Case]) -> [DropReason: Int] {
        var out: [DropReason: Int] = [:]
        for c in cases { if case .drop(let r) = c.expect { out[r, default: 0] += 1 } }
        return out
    }
}
