import Foundation

/// The delegated IPAM plugin (CNI specification, "Delegated plugins"): found in CNI_PATH,
/// run with the same network config on standard input and the same environment, except
/// CNI_COMMAND when gbp-cni undoes an ADD.
struct IPAM {
    let type: String
    let config: NetworkConfig
    let env: CNIEnvironment

    var executable: String? { Command.which(type, in: env.path) }

    /// ADD: the addresses, routes and DNS the plugin allocated.
    func add() throws(CNIError) -> CNIResult {
        let out = try invoke(.add)
        guard let o = (try? JSONSerialization.jsonObject(with: out.stdout)) as? [String: Any] else {
            throw CNIError(.ipamFailure, "IPAM plugin \(type) returned no JSON result", details: out.text)
        }
        let r = try CNIResult.parse(o, what: "the result of IPAM plugin \(type)")
        guard !r.ips.isEmpty else {
            throw CNIError(.ipamFailure, "IPAM plugin \(type) allocated no address", details: "check the \"ipam\" section of network \"\(config.name)\"")
        }
        return r
    }

    /// DEL: releases the allocation (a missing one is not an error for host-local).
    func del() throws(CNIError) { _ = try invoke(.del) }

    func check() throws(CNIError) { _ = try invoke(.check) }

    private func invoke(_ command: CNICommand) throws(CNIError) -> Command.Output {
        guard let exe = executable else {
            throw CNIError(.invalidNetworkConfig, "IPAM plugin \"\(type)\" not found in CNI_PATH (\(env.path.joined(separator: ":")))",
                           details: "install it (host-local comes with Debian's containernetworking-plugins, in /usr/lib/cni) or fix \"ipam\".\"type\"")
        }
        // gbp-cni's own CNI_ARGS (GBP_GROUP) are unknown to the IPAM plugin: host-local
        // refuses unknown args unless IgnoreUnknown is set, as runtimes do.
        var overrides = ["CNI_COMMAND": command.rawValue]
        if !env.args.contains(where: { $0.key == "IgnoreUnknown" }) && !env.args.isEmpty {
            overrides["CNI_ARGS"] = "IgnoreUnknown=1;" + env.args.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
        }
        let out = try Command.run([exe], stdin: config.raw, overrides: overrides)
        if out.ok { return out }
        // The plugin's own CNI error object, if it printed one, keeps its code and message.
        if let o = (try? JSONSerialization.jsonObject(with: out.stdout)) as? [String: Any], let code = (o["code"] as? NSNumber)?.intValue {
            let msg = o["msg"] as? String ?? "failed"
            let details = [o["details"] as? String, out.stderr].compactMap { $0?.isEmpty == false ? $0 : nil }.joined(separator: "; ")
            throw CNIError(code: code, msg: "IPAM plugin \(type) \(command.rawValue): \(msg)", details: details)
        }
        throw CNIError(.ipamFailure, "IPAM plugin \(type) \(command.rawValue) failed with status \(out.status)", details: out.why)
    }
}
