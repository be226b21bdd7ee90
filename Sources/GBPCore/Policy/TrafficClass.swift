/// Rules and packets meet on a (traffic class, 16-bit key) plane:
///
/// | class    | packets                         | key                    |
/// |----------|---------------------------------|------------------------|
/// | tcp      | IP protocol 6                   | destination port       |
/// | udp      | IP protocol 17                  | destination port       |
/// | sctp     | IP protocol 132                 | destination port       |
/// | icmp     | IP protocol 1                   | type << 8 \| code      |
/// | icmpv6   | IP protocol 58                  | type << 8 \| code      |
/// | otherIP  | any other IP protocol           | 0                      |
/// | nonIP    | frames that are not IPv4/IPv6   | EtherType              |
///
/// A rule covers a set of classes and a set of key ranges, so every rule kind becomes
/// an interval over one 16-bit key, and the compiler can precompute the winner of each
/// interval (see RuleIntervalBuilder.swift).
@frozen
public enum TrafficClass: Int, CaseIterable, Sendable {
    case tcp = 0, udp, sctp, icmp, icmpv6, otherIP, nonIP

    public static let count = 7

    /// The class of an IP packet by its protocol number.
    @inlinable @inline(__always)
    public static func of(ipProto: UInt8) -> TrafficClass {
        switch ipProto {
        case 6: .tcp
        case 17: .udp
        case 132: .sctp
        case 1: .icmp
        case 58: .icmpv6
        default: .otherIP
        }
    }

    /// The class and key of a parsed frame.
    @inlinable @inline(__always)
    public static func classify(_ f: PacketFields) -> (TrafficClass, UInt16) {
        if f.kind == .ipv4 || f.kind == .ipv6 {
            let c = of(ipProto: f.ipProto)
            switch c {
            case .tcp, .udp, .sctp: return (c, f.dstPort)
            case .icmp, .icmpv6: return (c, UInt16(f.icmpType) << 8 | UInt16(f.icmpCode))
            default: return (c, 0)
            }
        }
        return (.nonIP, f.etherType)
    }
}

/// A rule's footprint on the (class, key) plane: a bitmask of classes and inclusive key
/// ranges (the same ranges in each class). Built from a validated rule.
struct RuleFootprint: Hashable {
    var classMask: UInt8
    /// Sorted, disjoint and not touching (merged at init).
    private(set) var ranges: [ClosedRange<UInt16>]

    static let fullRange: ClosedRange<UInt16> = 0...UInt16.max

    init(classMask: UInt8, ranges: [ClosedRange<UInt16>]) {
        self.classMask = classMask
        self.ranges = ranges.count < 2 ? ranges : Self.merge(ranges)
    }

    /// Assumes a rule that passed validation (values in range).
    init(_ r: RuleSpec) {
        switch r.proto {
        case .any:
            self.init(classMask: 0x7F, ranges: [Self.fullRange])
        case .tcp, .udp, .sctp:
            let c: TrafficClass = r.proto == .tcp ? .tcp : r.proto == .udp ? .udp : .sctp
            let ranges = r.ports.isEmpty
                ? [Self.fullRange]
                : r.ports.map { UInt16(clamping: $0.first)...UInt16(clamping: $0.last) }
            self.init(classMask: 1 << UInt8(c.rawValue), ranges: ranges)
        case .icmp, .icmpv6:
            let c: TrafficClass = r.proto == .icmp ? .icmp : .icmpv6
            let range: ClosedRange<UInt16>
            if let t = r.icmpType {
                let base = UInt16(clamping: t) << 8
                if let code = r.icmpCode {
                    range = (base | UInt16(clamping: code))...(base | UInt16(clamping: code))
                } else {
                    range = base...(base | 0xFF)
                }
            } else {
                range = Self.fullRange
            }
            self.init(classMask: 1 << UInt8(c.rawValue), ranges: [range])
        case .etherType(let e):
            let k = UInt16(clamping: e)
            self.init(classMask: 1 << UInt8(TrafficClass.nonIP.rawValue), ranges: [k...k])
        }
    }

    /// `ranges` sorted and merged (touching ranges join).
    private static func merge(_ ranges: [ClosedRange<UInt16>]) -> [ClosedRange<UInt16>] {
        let s = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt16>] = []
        for r in s {
            if let l = out.last, Int(r.lowerBound) <= Int(l.upperBound) + 1 {
                out[out.count - 1] = l.lowerBound...max(l.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// True when every (class, key) this footprint covers is covered by `other`.
    func isCovered(by other: RuleFootprint) -> Bool {
        guard classMask & ~other.classMask == 0 else { return false }
        return ranges.allSatisfy { r in other.ranges.contains { $0.lowerBound <= r.lowerBound && r.upperBound <= $0.upperBound } }
    }
}
