import Foundation

/// gbp-cni: one call of the plugin. ADD makes a veth pair, gets addresses from the IPAM
/// plugin, configures the container's end and attaches the host end to gbpd as a port
/// carrying the container's endpoint; DEL undoes all of it (idempotently); CHECK
/// verifies it; VERSION lists the supported versions.
public enum Plugin {
    /// Runs one call: what to print on standard output and the exit status.
    public static func run(environment: [String: String], stdin: Data) -> (output: [String: Any], status: Int32) {
        var version = NetworkConfig.version(of: stdin) ?? CNIVersion.newest
        var logFile: String?
        var summary = ""
        let started = Date()
        func took() -> String { String(format: " in %.0f ms", Date().timeIntervalSince(started) * 1000) }
        let env: CNIEnvironment
        do {
            env = try CNIEnvironment.read(environment)
            if env.command == .version {
                return (["cniVersion": version, "supportedVersions": CNIVersion.supported], 0)
            }
            let config = try NetworkConfig.parse(stdin)
            logFile = config.logFile
            try CNIVersion.negotiate(config.cniVersion, command: env.command)
            version = config.cniVersion
            summary = "\(env.command.rawValue) container \(env.containerID.prefix(12)) \(env.ifname) network \(config.name) CNI_ARGS=\(environment["CNI_ARGS"] ?? "")"
            let output: [String: Any]
            switch env.command {
            case .add: output = try add(env, config)
            case .del: try del(env, config); output = [:]
            case .check: try check(env, config); output = [:]
            case .version: output = [:]
            }
            log(logFile, summary + ": ok" + took())
            return (output, 0)
        } catch {
            log(logFile, summary + ": error \(error.code)" + took() + ": \(error.msg)\(error.details.isEmpty ? "" : " (\(error.details))")")
            return (error.json(cniVersion: version), 1)
        }
    }

    static func add(_ env: CNIEnvironment, _ config: NetworkConfig) throws(CNIError) -> [String: Any] {
        let tenant = try config.tenant(env: env)
        let group = try config.group(env: env)
        let ipam = IPAM(type: try config.requireIPAMType(), config: config, env: env)
        guard FileManager.default.fileExists(atPath: env.netns) else {
            throw CNIError(.unknownContainer, "the container's network namespace \(env.netns) does not exist")
        }
        let attachment = Attachment(containerID: env.containerID, ifname: env.ifname)
        let link = ContainerLink(attachment: attachment, netns: env.netns)
        let gbpd = GBPDPorts(socket: config.socket)
        var result = try ipam.add()
        do {
            try link.create(result: result, mtu: config.mtu)
            let endpoint = GBPDPorts.Endpoint(name: attachment.endpointName(env: env), group: group, mac: attachment.mac,
                                              ips: result.ips.map(\.host))
            try gbpd.add(port: attachment.portName, devargs: attachment.devargs(extra: config.afPacketArgs), tenant: tenant, endpoint: endpoint)
        } catch {
            // Undo in reverse order; the error that stopped ADD is the one reported.
            try? ContainerLink.delete(host: link.host)
            try? ipam.del()
            throw error
        }
        let hostMAC = (try? String(contentsOfFile: "/sys/class/net/\(link.host)/address", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        result.interfaces = [.init(name: link.host, mac: hostMAC, sandbox: nil),
                             .init(name: env.ifname, mac: attachment.mac, sandbox: env.netns)]
        return result.json(cniVersion: config.cniVersion, ipInterface: 1)
    }

    /// Removes what ADD made; anything already gone is fine (CNI: DEL must succeed when
    /// called twice, and after a failed or missing ADD).
    static func del(_ env: CNIEnvironment, _ config: NetworkConfig) throws(CNIError) {
        let attachment = Attachment(containerID: env.containerID, ifname: env.ifname)
        do {
            try GBPDPorts(socket: config.socket).remove(port: attachment.portName)
        } catch where error.code == CNIError.Code.tryAgainLater.rawValue
                        && (error.msg.contains("no such socket") || error.msg.contains("connection refused")) {
            // gbpd is not running (ControlClient's words for ENOENT and ECONNREFUSED): its
            // runtime ports went with it. A gbpd that refuses us or does not answer is an error.
        }
        try ContainerLink.delete(host: attachment.hostInterface)
        if let type = config.ipamType, !type.isEmpty {
            try IPAM(type: try config.requireIPAMType(), config: config, env: env).del()
        }
    }

    /// Verifies the attachment against prevResult: the veth, the container's MAC and
    /// addresses, the gbpd port and its endpoint (tenant, group, MAC, addresses).
    static func check(_ env: CNIEnvironment, _ config: NetworkConfig) throws(CNIError) {
        let tenant = try config.tenant(env: env)
        let group = try config.group(env: env)
        let ipam = IPAM(type: try config.requireIPAMType(), config: config, env: env)
        guard let prevObject = config.prevResult else {
            throw CNIError(.invalidNetworkConfig, "CHECK needs the result of ADD in \"prevResult\"", details: "the runtime passes it; it is missing here")
        }
        guard FileManager.default.fileExists(atPath: env.netns) else {
            throw CNIError(.unknownContainer, "the container's network namespace \(env.netns) does not exist")
        }
        var prev = try CNIResult.parse(prevObject, what: "prevResult")
        // Only the addresses of this interface (or of no interface in particular).
        prev.ips = prev.ips.filter { ip in
            guard let i = ip.interface, i >= 0, i < prev.interfaces.count else { return true }
            return prev.interfaces[i].name == env.ifname && prev.interfaces[i].sandbox != nil
        }
        let attachment = Attachment(containerID: env.containerID, ifname: env.ifname)
        var problems = try ContainerLink(attachment: attachment, netns: env.netns).problems(expected: prev)
        do { try ipam.check() } catch { problems.append(error.msg) }
        let gbpd = GBPDPorts(socket: config.socket)
        let name = attachment.endpointName(env: env)
        if let port = try gbpd.ports().first(where: { $0["name"] as? String == attachment.portName }) {
            if let t = port["tenant"] as? String, t != tenant { problems.append("gbpd port \(attachment.portName) is in tenant \(t), not \(tenant)") }
            if let eps = port["endpoints"] as? [String], !eps.contains(name) {
                problems.append("gbpd port \(attachment.portName) carries no endpoint \(name) (it has \(eps.isEmpty ? "none" : eps.joined(separator: ", ")))")
            }
        } else {
            problems.append("gbpd has no port \(attachment.portName)")
        }
        if let ep = try gbpd.endpoints(tenant: tenant).first(where: { $0["name"] as? String == name }) {
            if ep["group"] as? String != group { problems.append("endpoint \(name) is in group \(ep["group"] as? String ?? "?"), expected \(group)") }
            if (ep["mac"] as? String)?.lowercased() != attachment.mac { problems.append("endpoint \(name) has MAC \(ep["mac"] as? String ?? "?"), expected \(attachment.mac)") }
            let ips = Set((ep["ips"] as? [String]) ?? [])
            for ip in prev.ips where !ips.contains(ip.host) { problems.append("endpoint \(name) lacks address \(ip.host)") }
        } else {
            problems.append("gbpd has no endpoint \(name) in tenant \(tenant)")
        }
        guard problems.isEmpty else {
            throw CNIError(.checkFailed, "container \(env.containerID.prefix(12)) interface \(env.ifname) is not attached as ADD left it",
                           details: problems.joined(separator: "; ") + ". Restart the container to attach it again (gbpd loses runtime ports when it restarts)")
        }
    }

    /// One line per call in `path` (network config "log_file"), for whoever debugs a runtime.
    static func log(_ path: String?, _ line: String) {
        guard let path, let h = FileHandle(forWritingAtPath: path) ?? {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() else { return }
        defer { try? h.close() }
        _ = try? h.seekToEnd()
        let stamp = ISO8601DateFormatter().string(from: Date())
        try? h.write(contentsOf: Data("\(stamp) \(line)\n".utf8))
    }
}
