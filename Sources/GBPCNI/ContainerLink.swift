import Foundation

/// The veth pair of one attachment, made and inspected with iproute2: the host end stays
/// in the host (gbpd's af_packet port reads it), the other end is created directly in
/// the container's network namespace under its final name.
struct ContainerLink {
    let attachment: Attachment
    let netns: String

    var host: String { attachment.hostInterface }
    var ifname: String { attachment.ifname }

    /// `nsenter --net=<netns> <argv>`: a command inside the container's network namespace.
    private func inside(_ argv: [String]) -> [String] { ["nsenter", "--net=" + netns, "--"] + argv }

    static func hostLinkExists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/sys/class/net/\(name)")
    }

    /// Creates the pair, configures both ends, addresses and routes. Throws after a
    /// partial set-up: the caller deletes the pair (`delete`).
    func create(result: CNIResult, mtu: Int?) throws(CNIError) {
        if Self.hostLinkExists(host) {
            // Left from an earlier ADD of this very container and interface (the name is
            // derived from both): it is ours to replace.
            _ = try? Command.run(["ip", "link", "del", host])
        }
        if try Command.run(inside(["ip", "link", "show", "dev", ifname])).ok {
            throw CNIError(.interfaceSetup, "the container already has an interface \(ifname)",
                           details: "give this network another interface name (CNI_IFNAME) or remove the other attachment first")
        }
        let mtuArgs = mtu.map { ["mtu", String($0)] } ?? []
        try Command.check(["ip", "link", "add", host] + mtuArgs + ["type", "veth", "peer", "name", ifname, "address", attachment.mac]
                          + mtuArgs + ["netns", netns], doing: "creating veth \(host) <-> \(ifname) in \(netns)")
        // The host end carries no address and no IPv6: the host must not send router
        // solicitations or MLD reports into gbpd.
        try? "1".write(toFile: "/proc/sys/net/ipv6/conf/\(host)/disable_ipv6", atomically: false, encoding: .utf8)
        try Command.check(["ip", "link", "set", host, "up"], doing: "bringing \(host) up")

        let hasV6 = result.ips.contains { $0.isIPv6 }
        // Without an IPv6 address the container speaks no IPv6; with one, no DAD (gbpd
        // answers neighbour solicitations for endpoints itself).
        let sysctl = hasV6 ? "accept_dad" : "disable_ipv6", value = hasV6 ? "0" : "1"
        _ = try? Command.run(inside(["sh", "-c", "echo \(value) > /proc/sys/net/ipv6/conf/\(ifname)/\(sysctl)"]))
        for ip in result.ips {
            try Command.check(inside(["ip", "addr", "add", ip.address, "dev", ifname] + (ip.isIPv6 ? ["nodad"] : [])),
                              doing: "adding address \(ip.address) to \(ifname)")
        }
        // The container's kernel would leave TCP/UDP checksums partial on the veth; af_packet
        // hands such frames to gbpd as they are and the receiver drops them. With transmit
        // checksum offload off the kernel computes them (and segments in software).
        try Command.check(inside(["ethtool", "-K", ifname, "tx", "off"]), doing: "turning checksum offload off on \(ifname)")
        try Command.check(inside(["ip", "link", "set", ifname, "up"]), doing: "bringing \(ifname) up")
        for route in result.routes {
            let via = result.gateway(for: route).map { ["via", $0] } ?? ["scope", "link"]
            try Command.check(inside(["ip", "route", "replace", route.dst] + via + ["dev", ifname]),
                              doing: "adding route \(route.dst) in the container")
        }
    }

    /// Deletes the pair by its host end (the container end goes with it). Missing is fine.
    static func delete(host: String) throws(CNIError) {
        guard hostLinkExists(host) else { return }
        let r = try Command.run(["ip", "link", "del", host])
        if !r.ok && hostLinkExists(host) {
            throw CNIError(.interfaceSetup, "deleting veth \(host) failed", details: r.why)
        }
    }

    /// What CHECK finds wrong with the pair and the addresses of `expected` (empty: all well).
    func problems(expected: CNIResult) throws(CNIError) -> [String] {
        guard Self.hostLinkExists(host) else { return ["the host end \(host) of the veth does not exist"] }
        var out: [String] = []
        if let state = try? String(contentsOfFile: "/sys/class/net/\(host)/operstate", encoding: .utf8),
           state.trimmingCharacters(in: .whitespacesAndNewlines) == "down" {
            out.append("the host end \(host) is down")
        }
        let r = try Command.run(inside(["ip", "-j", "addr", "show", "dev", ifname]))
        guard r.ok, let list = (try? JSONSerialization.jsonObject(with: r.stdout)) as? [[String: Any]], let link = list.first else {
            return out + ["the container has no interface \(ifname) (\(r.why))"]
        }
        if (link["address"] as? String)?.lowercased() != attachment.mac {
            out.append("\(ifname) has MAC \(link["address"] as? String ?? "?"), expected \(attachment.mac)")
        }
        let have = Set(((link["addr_info"] as? [[String: Any]]) ?? []).compactMap { a -> String? in
            guard let l = a["local"] as? String, let p = (a["prefixlen"] as? NSNumber)?.intValue else { return nil }
            return "\(l)/\(p)"
        })
        for ip in expected.ips where !have.contains(ip.address) {
            out.append("\(ifname) lacks address \(ip.address)")
        }
        return out
    }
}
