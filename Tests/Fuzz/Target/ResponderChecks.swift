import GBPCore

/// ARP requests and neighbour solicitations the parser accepts are turned into replies
/// in place (NeighborResponder): the reply must stay inside the frame it was written to
/// (the runtime gives an advertisement `l3Offset + advertisementLength` bytes) and parse
/// back as the reply, addressed to the asker.
enum ResponderChecks {
    static let answerMAC = MACAddress("02:00:00:00:99:99")!

    static func run(_ f: PacketFields, _ p: UnsafeRawPointer, length n: Int) {
        if f.kind == .arp && f.arpOpcode == 1 { checkARP(f, p, length: n) }
        if f.kind == .ipv6 && f.ipProto == 58 && f.icmpType == 135 && !f.isFragment { checkND(f, p, length: n) }
    }

    static func checkARP(_ f: PacketFields, _ p: UnsafeRawPointer, length n: Int) {
        let frame = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 8)
        defer { frame.deallocate() }
        frame.copyMemory(from: p, byteCount: n)
        NeighborResponder.arpReply(frame, f, targetMAC: answerMAC)
        var g = PacketFields()
        let r = PacketParser.parse(frame, length: n, into: &g)
        invariant(r == nil && g.kind == .arp && g.arpOpcode == 2, "the ARP reply does not parse as one: \(r?.name ?? "ok")")
        invariant(g.src == f.dst && g.dst == f.src && g.srcMAC == answerMAC && g.dstMAC == f.srcMAC
                  && g.arpSenderMAC == answerMAC, "the ARP reply is not from the target to the asker")
    }

    static func checkND(_ f: PacketFields, _ p: UnsafeRawPointer, length n: Int) {
        let size = Int(f.l3Offset) + NeighborResponder.advertisementLength
        let frame = UnsafeMutableRawPointer.allocate(byteCount: max(n, size), alignment: 8)
        defer { frame.deallocate() }
        frame.copyMemory(from: p, byteCount: n)
        let written = NeighborResponder.neighborAdvertisement(frame, f, targetMAC: answerMAC)
        invariant(written == size, "advertisement of \(written) bytes, \(size) expected")
        var g = PacketFields()
        let r = PacketParser.parse(frame, length: size, into: &g)
        invariant(r == nil && g.kind == .ipv6 && g.ipProto == 58 && g.icmpType == 136,
                  "the advertisement does not parse as one: \(r?.name ?? "ok")")
        invariant(g.ndTarget == f.ndTarget && g.src == f.ndTarget && g.srcMAC == answerMAC && g.dstMAC == f.srcMAC,
                  "the advertisement is not from the target to the asker")
        // The checksum covers the pseudo-header and the message: verifying it gives 0.
        let ip = UnsafeRawPointer(frame + Int(f.l3Offset))
        let stored = UInt16(bigEndian: ip.loadUnaligned(fromByteOffset: 42, as: UInt16.self))
        (frame + Int(f.l3Offset) + 42).storeBytes(of: UInt16(0), as: UInt16.self)
        invariant(Checksum.icmpv6(ip) == stored, "advertisement checksum wrong")
    }
}
