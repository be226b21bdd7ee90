import Foundation
import Testing
import GBPCore

private let macA = MACAddress("02:00:00:00:00:0a")!
private let macB = MACAddress("02:00:00:00:00:0b")!
private let v4A = IPAddress("10.0.0.1")!
private let v4B = IPAddress("10.0.0.2")!
private let v6A = IPAddress("2001:db8::1")!
private let v6B = IPAddress("2001:db8::2")!

private func be16(_ f: [UInt8], _ i: Int) -> UInt16 { UInt16(f[i]) << 8 | UInt16(f[i + 1]) }
private func be32(_ f: [UInt8], _ i: Int) -> UInt32 { UInt32(be16(f, i)) << 16 | UInt32(be16(f, i + 2)) }

/// One's complement sum written here, independently of the builder's.
private func onesSum(_ bytes: [UInt8]) -> UInt16 {
    var s: UInt32 = 0
    for i in stride(from: 0, to: bytes.count, by: 2) {
        s += UInt32(bytes[i]) << 8 | (i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0)
    }
    while s > 0xFFFF { s = (s & 0xFFFF) + (s >> 16) }
    return UInt16(s)
}

/// The IPv4 header and L4 segment of an untagged IPv4 frame.
private func v4Parts(_ f: [UInt8]) -> (header: [UInt8], segment: [UInt8]) {
    let ihl = Int(f[14] & 0x0F) * 4
    let total = Int(be16(f, 16))
    return (Array(f[14..<(14 + ihl)]), Array(f[(14 + ihl)..<(14 + total)]))
}

private func v4L4Verifies(_ f: [UInt8]) -> Bool {
    let (h, s) = v4Parts(f)
    let pseudo = Array(h[12..<20]) + [0, h[9], UInt8(s.count >> 8), UInt8(s.count & 0xFF)]
    return onesSum(pseudo + s) == 0xFFFF
}

private func v6L4Verifies(_ f: [UInt8], l4: Int, proto: UInt8) -> Bool {
    let end = 14 + 40 + Int(be16(f, 18))
    let s = Array(f[l4..<end])
    let n = s.count
    let pseudo = Array(f[22..<54]) + [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF), 0, 0, 0, proto]
    return onesSum(pseudo + s) == 0xFFFF
}

@Suite struct PacketBuilderTests {
    @Test func ethernetLayoutPaddingAndTags() {
        let f = PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x88B5, payload: [1, 2, 3])
        #expect(f.count == 60)
        #expect(Array(f[0..<6]) == macB.octets && Array(f[6..<12]) == macA.octets)
        #expect(be16(f, 12) == 0x88B5 && Array(f[14..<17]) == [1, 2, 3])
        #expect(f[17...].allSatisfy { $0 == 0 })

        let one = PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x0800, payload: [], vlans: [100])
        #expect(be16(one, 12) == 0x8100 && be16(one, 14) == 100 && be16(one, 16) == 0x0800)

        let two = PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x86DD, payload: [], vlans: [10, 20])
        #expect(be16(two, 12) == 0x88A8 && be16(two, 14) == 10)
        #expect(be16(two, 16) == 0x8100 && be16(two, 18) == 20 && be16(two, 20) == 0x86DD)

        let big = PacketBuilder.ethernet(dst: macB, src: macA, etherType: 0x0800, payload: PacketBuilder.pattern(count: 1000))
        #expect(big.count == 1014 && big[14 + 999] == UInt8(999 & 0xFF))
    }

    @Test func ipv4HeaderChecksumMatchesAKnownHeader() {
        // 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7: the textbook example.
        let p = PacketBuilder.ipv4Packet(src: IPAddress("192.168.0.1")!, dst: IPAddress("192.168.0.199")!,
                                         proto: 17, payload: [UInt8](repeating: 0, count: 0x73 - 20),
                                         dontFragment: true)
        #expect(Array(p[0..<20]) == [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xB8, 0x61,
                                      0xC0, 0xA8, 0, 1, 0xC0, 0xA8, 0, 0xC7])
    }

    @Test func ipv4OptionsArePaddedAndCounted() {
        let p = PacketBuilder.ipv4Packet(src: v4A, dst: v4B, proto: 6, payload: [9], options: [0x94, 0x04, 0, 0, 1])
        #expect(p[0] == 0x47)                       // IHL 7: 5 option bytes padded to 8
        #expect(be16(p, 2) == 29 && p[28] == 9)
        #expect(onesSum(Array(p[0..<28])) == 0xFFFF)
    }

    @Test func tcpOverIPv4() {
        let f = PacketBuilder.tcp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 40000, dstPort: 443,
                                  flags: [.syn, .ack], seq: 7, ack: 9, payload: PacketBuilder.pattern(count: 5))
        let (h, s) = v4Parts(f)
        #expect(be16(f, 12) == 0x0800 && h[0] == 0x45 && h[9] == 6 && h[8] == 64)
        #expect(be32(h, 12) == 0x0A00_0001 && be32(h, 16) == 0x0A00_0002)
        #expect(be16(h, 2) == 20 + 20 + 5)
        #expect(onesSum(h) == 0xFFFF)
        #expect(be16(s, 0) == 40000 && be16(s, 2) == 443 && be32(s, 4) == 7 && be32(s, 8) == 9)
        #expect(s[12] == 0x50 && s[13] == 0x12)
        #expect(v4L4Verifies(f))
        #expect(f.count == 60)  // 59 bytes padded
    }

    @Test func tcpOptionsSetTheDataOffset() {
        let f = PacketBuilder.tcp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 1, dstPort: 2,
                                  options: [2, 4, 0x05, 0xB4, 1, 1, 4, 2, 3])  // 9 bytes, NOP-padded to 12
        let (_, s) = v4Parts(f)
        #expect(s.count == 32 && s[12] >> 4 == 8 && s[31] == 1)
        #expect(v4L4Verifies(f))
    }

    @Test func udpOverIPv6WithAnExtensionChain() {
        let f = PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 5353, dstPort: 53,
                                  payload: [1, 2, 3, 4, 5], ipv6Extensions: [.hopByHop, .routing, .destinationOptions])
        #expect(be16(f, 12) == 0x86DD && f[14] >> 4 == 6)
        #expect(be16(f, 18) == 24 + 8 + 5)      // payload length covers the extension headers
        #expect(f[20] == 0 && f[21] == 64)      // next header: hop-by-hop
        #expect(f[54] == 43 && f[54 + 8] == 60 && f[54 + 16] == 17)
        #expect(f[54 + 8 + 2] == 253 && f[54 + 8 + 3] == 0)  // routing type, segments left
        let l4 = 54 + 24
        #expect(be16(f, l4) == 5353 && be16(f, l4 + 2) == 53 && be16(f, l4 + 4) == 13)
        #expect(v6L4Verifies(f, l4: l4, proto: 17))
    }

    @Test func udpOverIPv4NeverCarriesAZeroChecksum() {
        for port in UInt16(0)..<300 {
            let f = PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: port, dstPort: 7)
            let (_, s) = v4Parts(f)
            #expect(be16(s, 6) != 0)
            #expect(v4L4Verifies(f))
        }
    }

    @Test func icmpEchoRequestAndReply() {
        let req = PacketBuilder.icmpEcho(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, id: 0x1234, seq: 3)
        let (h, m) = v4Parts(req)
        #expect(h[9] == 1 && m[0] == 8 && m[1] == 0 && be16(m, 4) == 0x1234 && be16(m, 6) == 3)
        #expect(m.count == 8 + 32)
        #expect(onesSum(m) == 0xFFFF)  // no pseudo-header for ICMPv4
        let rep = PacketBuilder.icmpEcho(srcMAC: macB, dstMAC: macA, src: v4B, dst: v4A, reply: true, id: 0x1234)
        #expect(v4Parts(rep).segment[0] == 0)
    }

    @Test func icmpv6EchoRequestAndReply() {
        let req = PacketBuilder.icmpv6Echo(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, id: 77, seq: 2, payload: [])
        #expect(req[20] == 58 && req[54] == 128 && be16(req, 58) == 77 && be16(req, 60) == 2)
        #expect(v6L4Verifies(req, l4: 54, proto: 58))
        let rep = PacketBuilder.icmpv6Echo(srcMAC: macB, dstMAC: macA, src: v6B, dst: v6A, reply: true, id: 77)
        #expect(rep[54] == 129)
        #expect(v6L4Verifies(rep, l4: 54, proto: 58))
    }

    @Test func sctpCarriesCRC32c() {
        #expect(PacketBuilder.crc32c(Array("123456789".utf8)) == 0xE306_9283)  // the standard check value
        let chunk: [UInt8] = [1, 0, 0, 20] + [UInt8](repeating: 7, count: 16)
        let f = PacketBuilder.sctp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 2905, dstPort: 2906,
                                   verificationTag: 0xDEAD_BEEF, payload: chunk)
        var (h, s) = v4Parts(f)
        #expect(h[9] == 132 && be16(s, 0) == 2905 && be16(s, 2) == 2906 && be32(s, 4) == 0xDEAD_BEEF)
        let stored = UInt32(s[8]) | UInt32(s[9]) << 8 | UInt32(s[10]) << 16 | UInt32(s[11]) << 24
        s[8] = 0; s[9] = 0; s[10] = 0; s[11] = 0
        #expect(stored == PacketBuilder.crc32c(s) && stored != 0)
    }

    @Test func arpRequestLayout() {
        let f = PacketBuilder.arp(op: 1, senderMAC: macA, senderIP: v4A, targetIP: v4B)
        #expect(Array(f[0..<6]) == MACAddress.broadcast.octets && Array(f[6..<12]) == macA.octets)
        #expect(be16(f, 12) == 0x0806)
        #expect(Array(f[14..<22]) == [0, 1, 8, 0, 6, 4, 0, 1])
        #expect(Array(f[22..<28]) == macA.octets && be32(f, 28) == 0x0A00_0001)
        #expect(Array(f[32..<38]) == [0, 0, 0, 0, 0, 0] && be32(f, 38) == 0x0A00_0002)
        #expect(f.count == 60)
    }

    @Test func neighborSolicitationGoesToTheSolicitedNodeGroup() {
        let target = IPAddress("2001:db8::1:2:3")!
        let f = PacketBuilder.neighborSolicitation(srcMAC: macA, src: v6A, target: target)
        #expect(Array(f[0..<6]) == [0x33, 0x33, 0xFF, 0x02, 0x00, 0x03])
        #expect(IPAddress(v6Bytes: Array(f[38..<54])) == IPAddress("ff02::1:ff02:3")!)
        #expect(f[21] == 255 && f[54] == 135 && f[55] == 0)
        #expect(IPAddress(v6Bytes: Array(f[62..<78])) == target)
        #expect(f[78] == 1 && f[79] == 1 && Array(f[80..<86]) == macA.octets)
        #expect(be16(f, 18) == 32)
        #expect(v6L4Verifies(f, l4: 54, proto: 58))

        let dad = PacketBuilder.neighborSolicitation(srcMAC: macA, src: .zero, target: target)
        #expect(be16(dad, 18) == 24)  // no source link-layer option from ::
        #expect(v6L4Verifies(dad, l4: 54, proto: 58))
    }

    @Test func neighborAdvertisementCarriesTargetLinkLayerAddress() {
        let f = PacketBuilder.neighborAdvertisement(srcMAC: macA, src: v6A, solicited: true)
        #expect(Array(f[0..<6]) == [0x33, 0x33, 0, 0, 0, 1])
        #expect(IPAddress(v6Bytes: Array(f[38..<54])) == IPAddress("ff02::1")!)
        #expect(f[54] == 136 && f[58] == 0x60)  // solicited + override
        #expect(IPAddress(v6Bytes: Array(f[62..<78])) == v6A)
        #expect(f[78] == 2 && f[79] == 1 && Array(f[80..<86]) == macA.octets)
        #expect(v6L4Verifies(f, l4: 54, proto: 58))

        let other = PacketBuilder.neighborAdvertisement(srcMAC: macA, src: v6A, target: v6B, targetMAC: macB,
                                                        dstMAC: macB, dst: v6B)
        #expect(IPAddress(v6Bytes: Array(other[62..<78])) == v6B && Array(other[80..<86]) == macB.octets)
        #expect(Array(other[0..<6]) == macB.octets)
    }

    @Test func ipv4FragmentsReassembleToTheDatagram() {
        let whole = PacketBuilder.tcp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 1000, dstPort: 80,
                                      payload: PacketBuilder.pattern(count: 100), vlans: [42])
        let frags = PacketBuilder.fragment(whole, size: 32, id: 0xABCD)
        #expect(frags.count == 4)  // 120 bytes of TCP in 32-byte pieces
        var data: [UInt8] = []
        for (i, f) in frags.enumerated() {
            #expect(be16(f, 12) == 0x8100 && be16(f, 14) == 42)
            let h = Array(f[18..<38])
            #expect(onesSum(h) == 0xFFFF)
            #expect(be16(h, 4) == 0xABCD)
            #expect(be16(h, 6) & 0x1FFF == UInt16(i * 4))           // offset in 8-byte units
            #expect((be16(h, 6) & 0x2000 != 0) == (i < 3))           // more fragments but on the last
            data += f[38..<(18 + Int(be16(h, 2)))]
        }
        #expect(data == Array(whole[38..<(38 + 120)]))
    }

    @Test func ipv6FragmentsGoAfterTheHopByHopHeader() {
        let whole = PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 1, dstPort: 2,
                                      payload: PacketBuilder.pattern(count: 40), ipv6Extensions: [.hopByHop, .destinationOptions])
        let frags = PacketBuilder.fragment(whole, size: 24, id: 99)
        #expect(frags.count == 3)  // 8 (dest opts) + 48 (UDP) = 56 bytes
        var data: [UInt8] = []
        for (i, f) in frags.enumerated() {
            #expect(f[20] == 0 && f[54] == 44)                       // HbH, then the fragment header
            let fh = Array(f[62..<70])
            #expect(fh[0] == 60)                                      // the rest of the chain follows
            #expect(be32(fh, 4) == 99)
            #expect(Int(be16(fh, 2) & 0xFFF8) == i * 24)
            #expect((be16(fh, 2) & 1 == 1) == (i < 2))
            let end = 54 + Int(be16(f, 18))
            data += f[70..<end]
        }
        #expect(data == Array(whole[62..<(54 + Int(be16(whole, 18)))]))
    }

    @Test func nonIPFramesAreNotFragmented() {
        let a = PacketBuilder.arp(op: 1, senderMAC: macA, senderIP: v4A, targetIP: v4B)
        #expect(PacketBuilder.fragment(a, size: 8) == [a])
    }

    /// tshark reassembles the builder's fragments and checks the L4 checksum of the result.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func tsharkReassemblesFragments() throws {
        let v4 = PacketBuilder.fragment(PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 7, dstPort: 9,
                                                          payload: PacketBuilder.pattern(count: 100)), size: 48, id: 77)
        let v6 = PacketBuilder.fragment(PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 7, dstPort: 9,
                                                          payload: PacketBuilder.pattern(count: 100), ipv6Extensions: [.hopByHop]),
                                        size: 48, id: 78)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("frag-\(UUID()).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try PcapWriter(path: path)
        for f in v4 + v6 { try w.write(f) }
        try w.close()
        let out = try runTshark(["-r", path, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                                 "-T", "fields", "-e", "udp.length", "-e", "udp.checksum.status", "-e", "ip.checksum.status"])
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        #expect(lines.count == v4.count + v6.count, "\(out)")
        // Only the last fragment of each datagram shows the reassembled UDP datagram: 108 bytes, checksum good (1).
        let reassembled = lines.filter { $0.hasPrefix("108\t") }
        #expect(reassembled.count == 2 && reassembled.allSatisfy { $0.split(separator: "\t")[1] == "1" }, "\(out)")
        #expect(lines.prefix(v4.count).allSatisfy { $0.hasSuffix("\t1") }, "\(out)")  // IPv4 header checksums good
    }

    /// tshark checks every checksum the builder computes, when it is installed.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func tsharkFindsEveryChecksumGood() throws {
        let frames: [[UInt8]] = [
            PacketBuilder.tcp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 1234, dstPort: 80, payload: [1, 2, 3]),
            PacketBuilder.tcp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 1234, dstPort: 80, flags: .ack,
                              payload: PacketBuilder.pattern(count: 33), vlans: [5]),
            PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 9, dstPort: 10, payload: [7]),
            PacketBuilder.udp(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, srcPort: 9, dstPort: 10, payload: [7],
                              ipv6Extensions: [.hopByHop, .destinationOptions], vlans: [7, 8]),
            PacketBuilder.icmpEcho(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, id: 5, seq: 6),
            PacketBuilder.icmpv6Echo(srcMAC: macA, dstMAC: macB, src: v6A, dst: v6B, reply: true, id: 5),
            PacketBuilder.sctp(srcMAC: macA, dstMAC: macB, src: v4A, dst: v4B, srcPort: 1, dstPort: 2, verificationTag: 3,
                               payload: [1, 0, 0, 20] + [UInt8](repeating: 0, count: 16)),
            PacketBuilder.neighborSolicitation(srcMAC: macA, src: v6A, target: v6B),
            PacketBuilder.neighborAdvertisement(srcMAC: macA, src: v6A),
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("builder-\(UUID()).pcap").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try PcapWriter(path: path)
        for f in frames { try w.write(f) }
        try w.close()

        let out = try runTshark(["-r", path, "-V",
                                 "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                                 "-o", "udp.check_checksum:TRUE", "-o", "sctp.checksum:CRC-32C"])
        let good = out.components(separatedBy: "[correct]").count - 1
        #expect(!out.contains("incorrect") && !out.contains(": Bad]"))
        // 4 IPv4 header checksums and one L4 checksum per frame, all checked and correct.
        #expect(good == 4 + frames.count, "\(out)")
        #expect(!out.contains("Malformed"))
    }
}

/// Runs tshark and returns its standard output.
func runTshark(_ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
