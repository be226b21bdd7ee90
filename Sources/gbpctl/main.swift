import ArgumentParser
import Foundation

/// gbpctl: talks to a running gbpd over its control socket (JSON lines, ControlProtocol.swift).
struct GBPCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gbpctl",
        abstract: "Inspect and change a running gbpd: stats, ports, endpoints, groups, contracts, explain, reload.",
        discussion: """
            gbpctl talks to gbpd over its control socket (control.socket in gbpd's config, \
            \(ControlProtocol.defaultSocketPath) by default). Changes go through the same path \
            as a reload of the config file and are checked the same way; a later reload \
            (SIGHUP or gbpctl reload) replaces them with the file's content, except the ports \
            added with gbpctl (and their endpoints), which stay until removed or gbpd stops.
            """,
        subcommands: [Stats.self, Reload.self, Ports.self, Endpoints.self, Groups.self, Contracts.self, Explain.self])
}

/// Options every command takes.
struct Connection: ParsableArguments {
    @Option(help: "gbpd's control socket.")
    var socket: String = ControlProtocol.defaultSocketPath

    @Flag(help: "Print gbpd's answer as JSON (for scripts).")
    var json = false

    /// Sends the request and prints the answer: `human` renders a successful one unless --json.
    func run(_ cmd: ControlCommand, _ fields: [String: Any] = [:], human: ([String: Any]) -> String) throws {
        let response: [String: Any]
        do { response = try ControlClient(path: socket).call(ControlProtocol.request(cmd, fields)) } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        let ok = response[ControlProtocol.Key.ok] as? Bool == true
        if json {
            print(Format.json(response))
        } else if ok {
            print(human(response))
        } else {
            var text = "gbpctl: \(J.str(response[ControlProtocol.Key.error]))\n"
            for e in response[ControlProtocol.Key.errors] as? [String] ?? [] { text += "  \(e)\n" }
            FileHandle.standardError.write(Data(text.utf8))
        }
        if !ok { throw ExitCode(1) }
    }
}

/// A JSON object given on the command line.
func parseObject(_ text: String, option: String) throws -> [String: Any] {
    guard let o = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
        throw ValidationError("\(option) must be a JSON object, e.g. '{\"name\": \"x\", ...}'")
    }
    return o
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Counters: ports, drops by reason, rules, conntrack, workers.")
    @OptionGroup var connection: Connection
    func run() throws { try connection.run(.stats, human: Format.stats) }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reload the config file, like SIGHUP (replaces changes made with gbpctl).")
    @OptionGroup var connection: Connection
    func run() throws {
        try connection.run(.reload) { r in "reloaded \(J.str(r["file"])): policy epoch \(J.str(r["epoch"])) in force" }
    }
}

// MARK: Ports

struct Ports: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, add and remove ports while traffic flows.",
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the ports open now.")
        @OptionGroup var connection: Connection
        func run() throws { try connection.run(.portsList, human: Format.ports) }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a port (any DPDK devargs) and, optionally, attach an endpoint to it.",
            discussion: """
                Example: gbpctl ports add --name c1 --devargs net_af_packet_c1,iface=veth-c1 --tenant pods \
                --endpoint '{"name": "c1", "group": "web", "mac": "0a:58:0a:59:00:05", "ips": ["10.89.0.5"]}'
                """)
        @OptionGroup var connection: Connection
        @Option var name: String
        @Option(help: "DPDK devargs, as in the config file's ports.") var devargs: String
        @Option(help: "The tenant of the port's traffic.") var tenant: String?
        @Option(help: "The endpoint behind the port as a JSON object (config file keys; port and tenant are the port's).")
        var endpoint: String?

        func run() throws {
            var p: [String: Any] = ["name": name, "devargs": devargs]
            if let t = tenant { p["tenant"] = t }
            var f: [String: Any] = [ControlProtocol.Key.port: p]
            if let e = endpoint { f[ControlProtocol.Key.endpoint] = try parseObject(e, option: "--endpoint") }
            try connection.run(.portsAdd, f) { r in "added port \(name): policy epoch \(J.str(r["epoch"])) in force" }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a port added at runtime, with its endpoints.")
        @OptionGroup var connection: Connection
        @Argument(help: "The port's name.") var name: String
        func run() throws {
            try connection.run(.portsRemove, [ControlProtocol.Key.name: name]) { r in
                "removed port \(name): policy epoch \(J.str(r["epoch"])) in force"
            }
        }
    }
}

// MARK: Endpoints

struct Endpoints: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, add and remove endpoints.",
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the endpoints in force.")
        @OptionGroup var connection: Connection
        @Option(help: "Only this tenant's.") var tenant: String?
        func run() throws {
            try connection.run(.endpointsList, tenant.map { [ControlProtocol.Key.tenant: $0] } ?? [:], human: Format.endpoints)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an endpoint.",
            discussion: "Give --name, --tenant, --group, --port, --mac and --ip, or the whole endpoint with --json-spec (config file keys).")
        @OptionGroup var connection: Connection
        @Option var name: String?
        @Option var tenant: String?
        @Option var group: String?
        @Option(help: "The gbpd port it sits behind.") var port: String?
        @Option var mac: String?
        @Option(name: .customLong("ip"), help: "An IPv4 or IPv6 address (repeat for several).") var ips: [String] = []
        @Option(name: .customLong("json-spec"), help: "The endpoint as a JSON object.") var jsonSpec: String?

        func run() throws {
            var e: [String: Any] = try jsonSpec.map { try parseObject($0, option: "--json-spec") } ?? [:]
            if let v = name { e["name"] = v }
            if let v = tenant { e["tenant"] = v }
            if let v = group { e["group"] = v }
            if let v = port { e["port"] = v }
            if let v = mac { e["mac"] = v }
            if !ips.isEmpty { e["ips"] = ips }
            guard e["name"] != nil else { throw ValidationError("give --name (or --json-spec)") }
            try connection.run(.endpointsAdd, [ControlProtocol.Key.endpoint: e]) { r in
                "added endpoint \(J.str(e["name"])): policy epoch \(J.str(r["epoch"])) in force"
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an endpoint.")
        @OptionGroup var connection: Connection
        @Argument(help: "The endpoint's name.") var name: String
        @Option(help: "Its tenant (needed when several tenants have one of that name).") var tenant: String?
        func run() throws { try connection.remove(.endpointsRemove, what: "endpoint", name: name, tenant: tenant) }
    }
}

// MARK: Groups

struct Groups: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, add and remove endpoint groups and external groups.",
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the groups in force.")
        @OptionGroup var connection: Connection
        @Option(help: "Only this tenant's.") var tenant: String?
        func run() throws {
            try connection.run(.groupsList, tenant.map { [ControlProtocol.Key.tenant: $0] } ?? [:], human: Format.groups)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a group: an endpoint group, or an external group with --cidr.")
        @OptionGroup var connection: Connection
        @Option var name: String?
        @Option var tenant: String?
        @Option(name: .customLong("intra-group"), help: "allow (default) or deny.") var intraGroup: String?
        @Option(name: .customLong("cidr"), help: "Makes an external group: a prefix (repeat for several).") var cidrs: [String] = []
        @Option(name: .customLong("except"), help: "A hole in the cidrs (repeat for several).") var except: [String] = []
        @Option(name: .customLong("json-spec"), help: "The group as a JSON object (config file keys).") var jsonSpec: String?

        func run() throws {
            var g: [String: Any] = try jsonSpec.map { try parseObject($0, option: "--json-spec") } ?? [:]
            if let v = name { g["name"] = v }
            if let v = tenant { g["tenant"] = v }
            if let v = intraGroup { g["intra_group"] = v }
            if !cidrs.isEmpty { g["cidrs"] = cidrs }
            if !except.isEmpty { g["except"] = except }
            guard g["name"] != nil else { throw ValidationError("give --name (or --json-spec)") }
            try connection.run(.groupsAdd, [ControlProtocol.Key.group: g]) { r in
                "added group \(J.str(g["name"])): policy epoch \(J.str(r["epoch"])) in force"
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a group (no endpoint or contract may still use it).")
        @OptionGroup var connection: Connection
        @Argument(help: "The group's name.") var name: String
        @Option(help: "Its tenant (needed when several tenants have one of that name).") var tenant: String?
        func run() throws { try connection.remove(.groupsRemove, what: "group", name: name, tenant: tenant) }
    }
}

// MARK: Contracts

struct Contracts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, add and remove contracts.",
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the contracts in force with their rules and counters.")
        @OptionGroup var connection: Connection
        @Option(help: "Only this tenant's.") var tenant: String?
        func run() throws {
            try connection.run(.contractsList, tenant.map { [ControlProtocol.Key.tenant: $0] } ?? [:], human: Format.contracts)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a contract.",
            discussion: """
                The contract as JSON with the config file's keys, for example:
                gbpctl contracts add --json-spec '{"name": "web-api", "tenant": "shop", "providers": ["api"], \
                "consumers": ["web"], "rules": [{"protocol": "tcp", "ports": ["8080-8089"]}]}'
                """)
        @OptionGroup var connection: Connection
        @Option(name: .customLong("json-spec"), help: "The contract as a JSON object.") var jsonSpec: String

        func run() throws {
            let c = try parseObject(jsonSpec, option: "--json-spec")
            try connection.run(.contractsAdd, [ControlProtocol.Key.contract: c]) { r in
                "added contract \(J.str(c["name"])): policy epoch \(J.str(r["epoch"])) in force"
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a contract.")
        @OptionGroup var connection: Connection
        @Argument(help: "The contract's name.") var name: String
        @Option(help: "Its tenant (needed when several tenants have one of that name).") var tenant: String?
        func run() throws { try connection.remove(.contractsRemove, what: "contract", name: name, tenant: tenant) }
    }
}

// MARK: Explain

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Which contract and rule decide a packet between two endpoints (from the compiled tables).")
    @OptionGroup var connection: Connection
    @Option(help: "The tenant (may be left out when there is one).") var tenant: String?
    @Option(help: "The source endpoint.") var from: String
    @Option(help: "The destination endpoint.") var to: String
    @Option(name: .customLong("protocol"), help: "tcp, udp, sctp, icmp, icmpv6 or an IP protocol number.") var proto: String = "tcp"
    @Option(help: "Destination port (tcp, udp, sctp).") var port: Int?
    @Option(name: .customLong("src-port"), help: "Source port (default 40000).") var srcPort: Int?
    @Option(name: .customLong("icmp-type")) var icmpType: Int?
    @Option(name: .customLong("icmp-code")) var icmpCode: Int?
    @Flag(help: "Use the endpoints' IPv6 addresses.") var ipv6 = false

    func run() throws {
        typealias K = ControlProtocol.Key
        var f: [String: Any] = [K.from: from, K.to: to, K.proto: proto, K.ipv6: ipv6]
        if let v = tenant { f[K.tenant] = v }
        if let v = port { f[K.port] = v }
        if let v = srcPort { f[K.srcPort] = v }
        if let v = icmpType { f[K.icmpType] = v }
        if let v = icmpCode { f[K.icmpCode] = v }
        try connection.run(.explain, f, human: Format.explain)
    }
}

GBPCtl.main()

extension Connection {
    /// `remove NAME [--tenant T]`: the same request for endpoints, groups and contracts.
    func remove(_ command: ControlCommand, what: String, name: String, tenant: String?) throws {
        var f: [String: Any] = [ControlProtocol.Key.name: name]
        if let t = tenant { f[ControlProtocol.Key.tenant] = t }
        try run(command, f) { r in "removed \(what) \(name): policy epoch \(J.str(r["epoch"])) in force" }
    }
}
