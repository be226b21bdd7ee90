/// Answers ARP requests and IPv6 neighbour solicitations for endpoints in place,
/// in the frame that asked (proxy ARP / proxy ND): the frame becomes the reply and
/// goes back out of the port it came in on. No allocation; the caller has parsed
/// the frame (`PacketFields`) and checked that the target is an endpoint of the
/// asker's tenant.
public enum NeighborResponder {
    /// Turns an ARP request into the reply from `targetMAC` (who owns `f.dst`).
    @inlinable
    public static func arpReply(_ frame: UnsafeMutableRawPointer, _ f: PacketFields, targetMAC: MACAddress) {
        let l3 = Int(f.l3Offset)
        // Ethernet: back to the asker, from the target.
        f.srcMAC.store(to: frame)
        targetMAC.store(to: frame + 6)
        let arp = frame + l3
        arp.storeBytes(of: UInt16(2).bigEndian, toByteOffset: 6, as: UInt16.self)   // op: reply
        targetMAC.store(to: arp + 8)                                                 // sender hardware
        f.dst.storeV4(to: arp + 14)                                                  // sender protocol
        f.arpSenderMAC.store(to: arp + 18)                                           // target hardware
        f.src.storeV4(to: arp + 24)                                                  // target protocol
    }

    /// Bytes of a neighbour advertisement with a target link-layer address option.
    public static let advertisementLength = 40 + 24 + 8

    /// Turns a neighbour solicitation into the solicited advertisement from
    /// `targetMAC` (who owns `f.ndTarget`). The frame must have room for
    /// `l3Offset + advertisementLength` bytes; returns the new frame length.
    @inlinable
    public static func neighborAdvertisement(_ frame: UnsafeMutableRawPointer, _ f: PacketFields, targetMAC: MACAddress) -> Int {
        let l3 = Int(f.l3Offset)
        let ip = frame + l3
        f.srcMAC.store(to: frame)
        targetMAC.store(to: frame + 6)
        // A solicitation from :: (duplicate address detection) is answered to all nodes.
        let to = f.src == .zero ? IPAddress(hi: 0xFF02_0000_0000_0000, lo: 1) : f.src
        ip.storeBytes(of: UInt32(0x6000_0000).bigEndian, as: UInt32.self)           // version 6, no class/label
        ip.storeBytes(of: UInt16(24 + 8).bigEndian, toByteOffset: 4, as: UInt16.self)
        ip.storeBytes(of: UInt8(58), toByteOffset: 6, as: UInt8.self)                 // next header ICMPv6
        ip.storeBytes(of: UInt8(255), toByteOffset: 7, as: UInt8.self)                // hop limit
        f.ndTarget.storeV6(to: ip + 8)
        to.storeV6(to: ip + 24)
        let icmp = ip + 40
        icmp.storeBytes(of: UInt8(136), as: UInt8.self)
        icmp.storeBytes(of: UInt8(0), toByteOffset: 1, as: UInt8.self)
        icmp.storeBytes(of: UInt16(0), toByteOffset: 2, as: UInt16.self)
        let flags: UInt32 = (f.src == .zero ? 0 : 0x4000_0000) | 0x2000_0000     // solicited, override
        icmp.storeBytes(of: flags.bigEndian, toByteOffset: 4, as: UInt32.self)
        f.ndTarget.storeV6(to: icmp + 8)
        icmp.storeBytes(of: UInt8(2), toByteOffset: 24, as: UInt8.self)              // target link-layer address
        icmp.storeBytes(of: UInt8(1), toByteOffset: 25, as: UInt8.self)
        targetMAC.store(to: icmp + 26)
        let sum = Checksum.icmpv6(ip)
        icmp.storeBytes(of: sum.bigEndian, toByteOffset: 2, as: UInt16.self)
        return l3 + advertisementLength
    }
}

/// Internet checksums over raw packet bytes (no allocation).
public enum Checksum {
    /// One's-complement sum of `count` bytes at `p`, folded into `initial`.
    @inlinable
    public static func sum(_ p: UnsafeRawPointer, count: Int, initial: UInt32 = 0) -> UInt32 {
        var s = initial
        var i = 0
        while i + 1 < count {
            s &+= UInt32(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            i += 2
        }
        if i < count { s &+= UInt32(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
        return s
    }

    @inlinable
    public static func fold(_ s: UInt32) -> UInt16 {
        var s = s
        while s >> 16 != 0 { s = (s & 0xFFFF) &+ (s >> 16) }
        return ~UInt16(truncatingIfNeeded: s)
    }

    /// The ICMPv6 checksum of the IPv6 packet at `ip` (no extension headers), with
    /// its checksum field taken as zero.
    @inlinable
    public static func icmpv6(_ ip: UnsafeRawPointer) -> UInt16 {
        let length = Int(UInt16(bigEndian: ip.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        var s = sum(ip + 8, count: 32)          // source and destination
        s &+= UInt32(length) &+ 58
        s = sum(ip + 40, count: length, initial: s)
        return fold(s)
    }
}
