/// The CNI verbs gbp-cni implements.
public enum CNICommand: String, Sendable {
    case add = "ADD"
    case del = "DEL"
    case check = "CHECK"
    case version = "VERSION"
}

/// What the runtime passes in environment variables (CNI specification, "Parameters").
public struct CNIEnvironment: Equatable {
    public var command: CNICommand
    public var containerID: String
    public var netns: String
    public var ifname: String
    /// CNI_ARGS as key/value pairs, in order.
    public var args: [(key: String, value: String)]
    /// CNI_PATH split on ':'.
    public var path: [String]

    public static func == (a: Self, b: Self) -> Bool {
        a.command == b.command && a.containerID == b.containerID && a.netns == b.netns && a.ifname == b.ifname
            && a.args.map { [$0.key, $0.value] } == b.args.map { [$0.key, $0.value] } && a.path == b.path
    }

    /// The value of CNI_ARGS key `key`, if given.
    public func arg(_ key: String) -> String? { args.last { $0.key == key }?.value }

    /// Reads the variables. VERSION needs none of them; DEL may come without a netns
    /// (the namespace is gone); ADD and CHECK need all.
    public static func read(_ env: [String: String]) throws(CNIError) -> CNIEnvironment {
        guard let raw = env["CNI_COMMAND"], !raw.isEmpty else {
            throw CNIError(.invalidEnvironment, "CNI_COMMAND is not set",
                           details: "gbp-cni is a CNI plugin: a container runtime runs it with CNI_COMMAND=ADD, DEL, CHECK or VERSION")
        }
        guard let command = CNICommand(rawValue: raw) else {
            throw CNIError(.invalidEnvironment, "unknown CNI_COMMAND \"\(raw)\"", details: "gbp-cni implements ADD, DEL, CHECK and VERSION")
        }
        var e = CNIEnvironment(command: command, containerID: env["CNI_CONTAINERID"] ?? "", netns: env["CNI_NETNS"] ?? "",
                               ifname: env["CNI_IFNAME"] ?? "", args: [], path: [])
        e.path = (env["CNI_PATH"] ?? "").split(separator: ":").map(String.init)
        e.args = try parseArgs(env["CNI_ARGS"] ?? "")
        if command == .version { return e }
        var missing: [String] = []
        if e.containerID.isEmpty { missing.append("CNI_CONTAINERID") }
        if e.ifname.isEmpty { missing.append("CNI_IFNAME") }
        if e.netns.isEmpty && command != .del { missing.append("CNI_NETNS") }
        if e.path.isEmpty && command != .del { missing.append("CNI_PATH") }
        if !missing.isEmpty {
            throw CNIError(.invalidEnvironment, "\(missing.joined(separator: ", ")) not set for \(raw)",
                           details: "the container runtime must set them (CNI specification, \"Parameters\")")
        }
        // The interface name inside the container (Linux: 1-15 characters, no '/', ':' or space).
        if e.ifname.utf8.count > 15 || e.ifname == "." || e.ifname == ".."
            || e.ifname.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            throw CNIError(.invalidEnvironment, "CNI_IFNAME \"\(e.ifname)\" is not a valid interface name",
                           details: "use 1 to 15 characters without '/', ':' or spaces")
        }
        return e
    }

    /// CNI_ARGS: "K1=V1;K2=V2" (CNI specification; values may contain '=').
    public static func parseArgs(_ text: String) throws(CNIError) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        for pair in text.split(separator: ";", omittingEmptySubsequences: true) {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw CNIError(.invalidEnvironment, "CNI_ARGS \"\(text)\" is not a list of KEY=VALUE pairs separated by ';'",
                               details: "bad pair \"\(pair)\"")
            }
            out.append((String(pair[..<eq]), String(pair[pair.index(after: eq)...])))
        }
        return out
    }
}
