import Foundation

// The protocol between gbpctl (or any client) and gbpd on gbpd's control socket.
//
// This one file is compiled into gbpd (module GBPControl) and into gbpctl (through a
// symbolic link, Sources/gbpctl/ControlProtocol.swift), so both sides use the same
// command names and keys. Foundation only: gbpctl does not link DPDK.
//
// Framing: a client connects to the Unix socket (SOCK_STREAM) and writes one JSON object
// per line; gbpd answers each with one JSON object on one line, in order. A line is at
// most `ControlProtocol.maxRequestBytes` long; longer requests close the connection.
//
// Requests: {"cmd": NAME, ...fields}. Responses: {"ok": true, ...result} or
// {"ok": false, "error": "one line", "errors": ["detail", ...]}.
//
//   cmd                fields                                    result
//   stats              -                                         stats: {...}, policy_epoch, policy_swaps
//   reload             -                                         epoch, file  (same as SIGHUP)
//   explain            tenant, from, to, protocol, port,         verdict, reason, contract, rule, source,
//                      src_port?, icmp_type?, icmp_code?, ipv6?  destination, summary, epoch
//   endpoints.list     tenant?                                   endpoints: [{name, tenant, group, port, mac, ips}]
//   endpoints.add      endpoint: {name, tenant, group, port, mac, ips}          epoch
//   endpoints.remove   name, tenant?                             epoch
//   groups.list        tenant?                                   groups: [{name, tenant, kind, ...}]
//   groups.add         group: {name, tenant, intra_group?} or {name, tenant, cidrs, except?}   epoch
//   groups.remove      name, tenant?                             epoch
//   contracts.list     tenant?                                   contracts: [{name, tenant, providers, consumers, rules: [...]}]
//   contracts.add      contract: {name, tenant, providers, consumers, rules, on_policy_change?}  epoch
//   contracts.remove   name, tenant?                             epoch
//   ports.list         -                                         ports: [{name, driver, devargs, role, tenant?, runtime,
//                                                                         rx, tx, dropped, endpoints: [names]}]
//   ports.add          port: {name, devargs, tenant?, role?},    epoch
//                      endpoint?: {name, group, mac, ips, tenant?}   (the endpoint's port is the new port)
//   ports.remove       name                                      epoch  (the port and the endpoints on it)
//
// The objects of the add commands use the keys of the config file (README, "Config file").
// Changes go through the same function as a file reload; a rejected change changes
// nothing and its errors come back in "errors". A later reload of the file (SIGHUP,
// `gbpctl reload`) replaces the changes made over the socket with the file's content, except
// the ports added over the socket (and their endpoints): those stay until `ports.remove` or
// the end of gbpd, and are checked with every reading of the file.

/// Every command of the control protocol.
public enum ControlCommand: String, CaseIterable, Sendable {
    case stats
    case reload
    case explain
    case endpointsList = "endpoints.list"
    case endpointsAdd = "endpoints.add"
    case endpointsRemove = "endpoints.remove"
    case groupsList = "groups.list"
    case groupsAdd = "groups.add"
    case groupsRemove = "groups.remove"
    case contractsList = "contracts.list"
    case contractsAdd = "contracts.add"
    case contractsRemove = "contracts.remove"
    case portsList = "ports.list"
    case portsAdd = "ports.add"
    case portsRemove = "ports.remove"

    /// True for the commands that change the running policy.
    public var changesPolicy: Bool {
        switch self {
        case .reload, .endpointsAdd, .endpointsRemove, .groupsAdd, .groupsRemove, .contractsAdd, .contractsRemove,
             .portsAdd, .portsRemove: true
        default: false
        }
    }
}

/// Framing, keys and helpers shared by both ends.
public enum ControlProtocol {
    public static let defaultSocketPath = "/run/gbpd/gbpd.sock"
    /// The longest request line gbpd reads (a contract with many rules fits easily).
    public static let maxRequestBytes = 256 * 1024

    /// Field names.
    public enum Key {
        public static let cmd = "cmd"
        public static let ok = "ok"
        public static let error = "error"
        public static let errors = "errors"
        public static let name = "name"
        public static let tenant = "tenant"
        public static let endpoint = "endpoint"
        public static let group = "group"
        public static let contract = "contract"
        public static let from = "from"
        public static let to = "to"
        public static let proto = "protocol"
        public static let port = "port"
        public static let srcPort = "src_port"
        public static let icmpType = "icmp_type"
        public static let icmpCode = "icmp_code"
        public static let ipv6 = "ipv6"
        public static let epoch = "epoch"
    }

    /// A request for `cmd` with `fields`.
    public static func request(_ cmd: ControlCommand, _ fields: [String: Any] = [:]) -> [String: Any] {
        var r = fields
        r[Key.cmd] = cmd.rawValue
        return r
    }

    public static func success(_ fields: [String: Any] = [:]) -> [String: Any] {
        var r = fields
        r[Key.ok] = true
        return r
    }

    public static func failure(_ message: String, errors: [String] = []) -> [String: Any] {
        var r: [String: Any] = [Key.ok: false, Key.error: message]
        if !errors.isEmpty { r[Key.errors] = errors }
        return r
    }

    /// One JSON object on one line, ending in "\n".
    public static func encodeLine(_ object: [String: Any]) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data(#"{"ok":false,"error":"response could not be encoded as JSON"}"#.utf8)
        return Array(data) + [0x0A]
    }

    /// The JSON object of one line (without its "\n"); nil when it is not one.
    public static func decodeLine(_ bytes: some Collection<UInt8>) -> [String: Any]? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes), options: []) else { return nil }
        return o as? [String: Any]
    }

    /// The IP protocol number of a protocol name (`tcp`, `udp`, `sctp`, `icmp`, `icmpv6`) or number.
    public static func protocolNumber(_ text: String) -> UInt8? {
        switch text.lowercased() {
        case "tcp": 6
        case "udp": 17
        case "sctp": 132
        case "icmp": 1
        case "icmpv6", "ipv6-icmp": 58
        default: UInt8(text)
        }
    }
}
