import ArgumentParser
import GBPControl

/// gbpd: the group-based policy dataplane daemon.
struct GBPD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gbpd",
        abstract: "Userspace dataplane on DPDK that forwards container traffic and enforces group-based policy.")

    @Option(name: .shortAndLong, help: "The config file (YAML).")
    var config: String

    @Option(name: .customLong("stats-json"), help: "Write the final stats as JSON to this file.")
    var statsJSON: String?

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    @Flag(help: "Only load and validate the config, then exit.")
    var check = false

    func run() throws {
        if check {
            do {
                let c = try ConfigLoader.load(path: config)
                for w in c.warnings { FileHandleOutput.stderr("warning: \(w)") }
                let warned = c.warnings.isEmpty ? "" : ", \(c.warnings.count) warning\(c.warnings.count == 1 ? "" : "s")"
                print("\(config): OK (\(c.runtime.ports.count) ports, \(c.endpoints.count) endpoints\(warned))")
            } catch {
                FileHandleOutput.stderr(error.description)
                throw ExitCode(2)
            }
            return
        }
        do {
            try Daemon(options: .init(configPath: config, statsJSONPath: statsJSON, duration: duration)).run()
        } catch {
            FileHandleOutput.stderr(error.description)
            if case .config = error { throw ExitCode(2) }
            throw ExitCode(1)
        }
    }
}

GBPD.main()
