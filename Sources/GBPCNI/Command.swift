import Foundation

/// Runs a program (iproute2, nsenter, ethtool, the IPAM plugin) and collects its output.
enum Command {
    struct Output {
        var status: Int32
        var stdout: Data
        var stderr: String
        var ok: Bool { status == 0 }
        var text: String { String(decoding: stdout, as: UTF8.self) }
        /// Standard error, else standard output, on one line: for error messages.
        var why: String {
            let s = stderr.isEmpty ? text : stderr
            return s.split(whereSeparator: \.isNewline).joined(separator: "; ")
        }
    }

    /// Runtimes may run plugins with a short PATH: the usual system folders are searched too.
    static let searchPath = ((ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        + ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"])

    static func which(_ program: String, in dirs: [String] = searchPath) -> String? {
        if program.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        return dirs.lazy.map { $0 + "/" + program }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `argv` (argv[0] found with `which` unless it is a path) with `stdin`; the
    /// environment is this process's (so the CNI_ variables reach a delegated plugin)
    /// with `overrides` on top.
    static func run(_ argv: [String], stdin: Data? = nil, overrides: [String: String] = [:]) throws(CNIError) -> Output {
        guard let exe = which(argv[0]) else {
            throw CNIError(.ioFailure, "'\(argv[0])' not found", details: "install it (\(package(of: argv[0]))) on the host; searched \(searchPath.joined(separator: ":"))")
        }
        let environment = ProcessInfo.processInfo.environment.merging(overrides) { $1 }
        do {
            let (status, out, err) = try Spawn.run(exe, Array(argv.dropFirst()), environment: environment, input: stdin ?? Data())
            return Output(status: status, stdout: out,
                          stderr: String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw CNIError(.ioFailure, "could not run \(exe)", details: error.message)
        }
    }

    /// Runs `argv` and throws a setup error (code 101) with `doing` and the tool's message when it fails.
    @discardableResult
    static func check(_ argv: [String], doing: String) throws(CNIError) -> Output {
        let r = try run(argv)
        guard r.ok else {
            throw CNIError(.interfaceSetup, "\(doing) failed", details: "\(argv.joined(separator: " ")): \(r.why)")
        }
        return r
    }

    private static func package(of program: String) -> String {
        switch program {
        case "ip": "Debian: apt-get install iproute2"
        case "nsenter": "Debian: apt-get install util-linux"
        case "ethtool": "Debian: apt-get install ethtool"
        default: "it comes with the CNI plugins, e.g. Debian's containernetworking-plugins"
        }
    }
}
