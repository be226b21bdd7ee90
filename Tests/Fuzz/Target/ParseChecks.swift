import GBPCore

/// A broken invariant stops the process with what broke; libFuzzer keeps the input as a crash.
func invariant(_ ok: @autoclosure () -> Bool, _ what: @autoclosure () -> String,
               file: StaticString = #fileID, line: UInt = #line) {
    if !ok() { fatalError("fuzz invariant broken: \(what())", file: file, line: line) }
}

/// What PacketParser.swift promises, checked on any bytes: no read past the frame (the
/// address sanitizer sees that: libFuzzer's input is a heap block of exactly `n` bytes),
/// only parsing drop reasons, offsets and fields consistent with the frame, the same
/// answer twice, and Ethernet padding after the packet never changes it.
enum ParseChecks {
    /// The parsed fields, or nil when the parser dropped the frame.
    static func run(_ p: UnsafeRawPointer, _ n: Int) -> PacketFields? {
        var f = PacketFields()
        let reason = PacketParser.parse(p, length: n, into: &f)
        // The common-shape shortcut changes nothing: same answer as the general parser alone.
        var general = PacketFields()
        invariant(PacketParser.parseGeneral(p, length: n, into: &general) == reason && (reason != nil || general == f),
                  "the common-shape parse differs from the general parser")
        if let r = reason {
            invariant(r.rawValue < DropReason.unknownIngressPort.rawValue && r != .unsupportedEtherType,
                      "the parser dropped with \(r.name), not a parsing reason")
            return nil
        }
        check(f, p, length: n)
        var again = PacketFields()
        invariant(PacketParser.parse(p, length: n, into: &again) == nil && same(f, again), "a second parse differs")
        checkPadding(f, p, length: n)
        return f
    }

    static func check(_ f: PacketFields, _ p: UnsafeRawPointer, length n: Int) {
        let l3 = Int(f.l3Offset), l4 = Int(f.l4Offset)
        invariant(n >= 14 && n <= PacketParser.maximumFrameLength, "accepted a frame of \(n) bytes")
        invariant(l3 == 14 || l3 == 18 || l3 == 22, "l3Offset \(l3) is not after 0, 1 or 2 VLAN tags")
        invariant(l3 <= n, "l3Offset \(l3) past the frame (\(n) bytes)")
        switch f.kind {
        case .other:
            invariant(![0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8].contains(f.etherType),
                      "EtherType \(f.etherType) reported as other")
            invariant(l4 == 0 && f.ipProto == 0 && f.srcPort == 0 && f.dstPort == 0 && f.src == .zero,
                      "a non-IP frame with L3/L4 fields")
        case .arp:
            invariant(f.etherType == 0x0806 && l3 + 28 <= n && l4 == 0, "ARP past the frame or with an L4 offset")
            invariant(f.arpOpcode == 1 || f.arpOpcode == 2, "ARP opcode \(f.arpOpcode) accepted")
            invariant(f.src.isIPv4 && f.dst.isIPv4, "ARP addresses not IPv4")
        case .ipv4, .ipv6:
            checkIP(f, p, length: n)
        }
    }

    static func checkIP(_ f: PacketFields, _ p: UnsafeRawPointer, length n: Int) {
        let l3 = Int(f.l3Offset), l4 = Int(f.l4Offset)
        let v6 = f.kind == .ipv6
        invariant(f.etherType == (v6 ? 0x86DD : 0x0800), "kind \(f.kind) with EtherType \(f.etherType)")
        invariant(l3 + (v6 ? 40 : 20) <= n, "IP header past the frame")
        // An IPv6 packet must not pass for IPv4 (addresses are kept IPv4-mapped): the
        // classifier, the endpoint table and conntrack keys would take it for one.
        invariant(f.src.isIPv4 != v6 && f.dst.isIPv4 != v6, "\(f.kind) packet with addresses \(f.src) -> \(f.dst)")
        if !f.isFragment { invariant(f.fragmentID == 0 && !f.isLaterFragment, "fragment fields on a whole packet") }
        if f.isLaterFragment {
            invariant(f.isFragment && l4 == 0 && f.srcPort == 0 && f.dstPort == 0 && f.tcpFlags == 0 && f.icmpType == 0,
                      "a later fragment with L4 fields")
            return
        }
        invariant(l4 >= l3 + (v6 ? 40 : 20) && l4 <= n, "l4Offset \(l4) outside [end of the IP header, \(n)]")
        let minimum = switch f.ipProto {
        case 6: 20
        case 17: 8
        case 132: 12
        case 1 where !v6: 8
        case 58 where v6: 4
        default: 0
        }
        invariant(l4 + minimum <= n, "L4 header of protocol \(f.ipProto) at \(l4) past the frame (\(n))")
        if f.ipProto == 6 {
            let dataOffset = Int(p.load(fromByteOffset: l4 + 12, as: UInt8.self) >> 4) * 4
            invariant(dataOffset >= 20 && l4 + dataOffset <= n, "TCP data offset \(dataOffset) accepted")
        }
        let echo = (!v6 && f.ipProto == 1 && (f.icmpType == 0 || f.icmpType == 8))
            || (v6 && f.ipProto == 58 && (f.icmpType == 128 || f.icmpType == 129))
        if echo { invariant(f.srcPort == f.dstPort, "ICMP echo with two identifiers") }
        if v6 && f.ipProto == 58 && (133...137).contains(f.icmpType) {
            invariant(!f.isFragment, "fragmented neighbour discovery accepted")
            if f.icmpType == 135 || f.icmpType == 136 { invariant(l4 + 24 <= n, "ND target past the frame") }
        }
    }

    /// The same frame followed by 64 bytes of padding parses the same.
    static func checkPadding(_ f: PacketFields, _ p: UnsafeRawPointer, length n: Int) {
        guard n + 64 <= PacketParser.maximumFrameLength else { return }
        let padded = UnsafeMutableRawPointer.allocate(byteCount: n + 64, alignment: 8)
        defer { padded.deallocate() }
        padded.copyMemory(from: p, byteCount: n)
        (padded + n).initializeMemory(as: UInt8.self, repeating: 0xEE, count: 64)
        var g = PacketFields()
        invariant(PacketParser.parse(padded, length: n + 64, into: &g) == nil && same(f, g),
                  "padding after the frame changes how it parses")
    }

    static func same(_ a: PacketFields, _ b: PacketFields) -> Bool {
        a.kind == b.kind && a.dstMAC == b.dstMAC && a.srcMAC == b.srcMAC && a.outerVLAN == b.outerVLAN
            && a.innerVLAN == b.innerVLAN && a.etherType == b.etherType && a.l3Offset == b.l3Offset
            && a.l4Offset == b.l4Offset && a.src == b.src && a.dst == b.dst && a.ipProto == b.ipProto
            && a.srcPort == b.srcPort && a.dstPort == b.dstPort && a.icmpType == b.icmpType && a.icmpCode == b.icmpCode
            && a.tcpFlags == b.tcpFlags && a.isFragment == b.isFragment && a.isLaterFragment == b.isLaterFragment
            && a.fragmentID == b.fragmentID && a.arpOpcode == b.arpOpcode && a.arpSenderMAC == b.arpSenderMAC
            && a.ndTarget == b.ndTarget
    }
}
