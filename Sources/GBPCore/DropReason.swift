/// Every reason the dataplane drops a packet, in one list: counters are indexed by
/// `rawValue` and printed with `name`, so no drop goes uncounted or unnamed.
/// Append new cases at the end of their section; never reuse a raw value.
@frozen
public enum DropReason: UInt8, CaseIterable, Sendable {
    // MARK: Parsing (the packet is malformed or truncated)
    case runtFrame = 1              // shorter than an Ethernet header
    case oversizeFrame              // over 65535 bytes; in gbpd, also a frame chained over several mbufs
    case truncatedVLAN
    case tooManyVLANTags
    case truncatedARP
    case malformedARP
    case truncatedIPv4
    case badIPv4Version
    case badIPv4HeaderLength        // IHL below 5 or beyond the frame
    case badIPv4TotalLength         // total length below the header or beyond the frame
    case truncatedIPv6
    case badIPv6PayloadLength
    case ipv6ExtensionChainTooLong
    case truncatedIPv6Extension
    case truncatedTCP
    case badTCPDataOffset
    case truncatedUDP
    case badUDPLength
    case truncatedSCTP
    case truncatedICMP
    case truncatedICMPv6
    case badFragment                // tiny, overlapping or out-of-range fragment
    case unsupportedEtherType
    case badIPv6Version             // EtherType 0x86DD with a version other than 6
    case ipv4MappedIPv6Address      // IPv6 source, destination or ND target in ::ffff:0:0/96 (RFC 4291 2.5.5.2)

    // MARK: L2 forwarding
    case unknownIngressPort = 40
    case noOutputPort               // nowhere to send it (for example flood with one port)
    case destinationOnIngressPort   // hairpin: the destination sits behind the port it came in on
    case txRefused                  // the output port's queue was full

    // MARK: Ingress checks and policy
    case spoofedMAC = 60
    case spoofedIP
    case unknownSource
    case unknownDestination
    case crossTenant
    case noContract
    case deniedByRule
    case intraGroupDenied
    case noUplink
    case externalDenied
    case arpCrossTenant
    case arpConflict                // gratuitous ARP / NA claiming another endpoint's address
    case conntrackFull
    case conntrackInvalid           // TCP segment that does not fit the connection's state
    case fragmentWithoutState       // a non-first fragment whose first fragment was not seen
    case conntrackTenantBudget        // a new connection of a tenant that holds its share of the table

    /// The counter name used in stats, JSON and metrics.
    public var name: String {
        switch self {
        case .runtFrame: "runt_frame"
        case .oversizeFrame: "oversize_frame"
        case .truncatedVLAN: "truncated_vlan"
        case .tooManyVLANTags: "too_many_vlan_tags"
        case .truncatedARP: "truncated_arp"
        case .malformedARP: "malformed_arp"
        case .truncatedIPv4: "truncated_ipv4"
        case .badIPv4Version: "bad_ipv4_version"
        case .badIPv4HeaderLength: "bad_ipv4_header_length"
        case .badIPv4TotalLength: "bad_ipv4_total_length"
        case .truncatedIPv6: "truncated_ipv6"
        case .badIPv6PayloadLength: "bad_ipv6_payload_length"
        case .ipv6ExtensionChainTooLong: "ipv6_extension_chain_too_long"
        case .truncatedIPv6Extension: "truncated_ipv6_extension"
        case .truncatedTCP: "truncated_tcp"
        case .badTCPDataOffset: "bad_tcp_data_offset"
        case .truncatedUDP: "truncated_udp"
        case .badUDPLength: "bad_udp_length"
        case .truncatedSCTP: "truncated_sctp"
        case .truncatedICMP: "truncated_icmp"
        case .truncatedICMPv6: "truncated_icmpv6"
        case .badFragment: "bad_fragment"
        case .unsupportedEtherType: "unsupported_ethertype"
        case .badIPv6Version: "bad_ipv6_version"
        case .ipv4MappedIPv6Address: "ipv4_mapped_ipv6_address"
        case .unknownIngressPort: "unknown_ingress_port"
        case .noOutputPort: "no_output_port"
        case .destinationOnIngressPort: "destination_on_ingress_port"
        case .txRefused: "tx_refused"
        case .spoofedMAC: "spoofed_mac"
        case .spoofedIP: "spoofed_ip"
        case .unknownSource: "unknown_source"
        case .unknownDestination: "unknown_destination"
        case .crossTenant: "cross_tenant"
        case .noContract: "no_contract"
        case .deniedByRule: "denied_by_rule"
        case .intraGroupDenied: "intra_group_denied"
        case .noUplink: "no_uplink"
        case .externalDenied: "external_denied"
        case .arpCrossTenant: "arp_cross_tenant"
        case .arpConflict: "arp_conflict"
        case .conntrackFull: "conntrack_full"
        case .conntrackInvalid: "conntrack_invalid"
        case .fragmentWithoutState: "fragment_without_state"
        case .conntrackTenantBudget: "conntrack_tenant_budget"
        }
    }

    /// Size of a counter array indexed by `rawValue`.
    public static let counterSlots = 256
}
