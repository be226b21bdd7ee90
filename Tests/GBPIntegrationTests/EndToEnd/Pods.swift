import Foundation
import GBPCore

/// The pods of one test: network namespaces with a veth each, made by config/pod.sh
/// (the documented way), the gbpd config entries the script prints, and the processes
/// the test starts inside them. `cleanUp()` kills those processes and deletes every
/// pod; it runs from the test's `defer` and again from `deinit`, so a failing or
/// throwing test leaves nothing behind. Names are unique per test process and per
/// set: gbt<pid in base 36>-<set><pod>, at most 11 characters, so the host end
/// gbp-<name> fits in an interface name.
final class PodSet: @unchecked Sendable {
    struct Pod: Sendable {
        let label: String        // the test's name for it: "frontend", "r1"...
        let name: String         // namespace and pod name, e.g. gbt1x2b-3a
        let ip: String
        let mac: String
        let tenant: String
        let group: String
        let portEntry: String    // YAML lines printed by pod.sh
        let endpointEntry: String
        var hostInterface: String { "gbp-\(name)" }
    }

    static let namePrefix = "gbt"
    private static let lock = NSLock()
    nonisolated(unsafe) private static var sets = 0
    private static let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz")

    let prefix: String
    let dir: URL
    private let lock = NSLock()
    private var pods: [Pod] = []
    private var processes: [E2EChild] = []

    /// `dir` receives the logs of the processes started in pods.
    init(dir: URL) {
        Self.lock.lock()
        let n = Self.sets
        Self.sets += 1
        Self.lock.unlock()
        prefix = Self.namePrefix + String(getpid(), radix: 36) + "-" + String(Self.digits[n % 36])
        self.dir = dir
    }

    deinit { cleanUp() }

    subscript(label: String) -> Pod {
        lock.lock(); defer { lock.unlock() }
        guard let p = pods.first(where: { $0.label == label }) else { fatalError("no pod \(label)") }
        return p
    }

    /// Makes a pod with `config/pod.sh create` and keeps the entries it prints.
    @discardableResult
    func add(_ label: String, ip: String, prefixLength: Int = 24, mac: String, tenant: String, group: String,
             pmd: String = "af_packet") throws -> Pod {
        lock.lock()
        let name = prefix + String(Self.digits[pods.count % 36])
        lock.unlock()
        let r = E2E.run([E2E.podScript, "create", name, "--ip", "\(ip)/\(prefixLength)", "--mac", mac,
                         "--tenant", tenant, "--group", group, "--pmd", pmd], timeout: 20)
        // Recorded before checking: a half-made pod is deleted by cleanUp too.
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let port = lines.first { $0.hasPrefix("  - { name: \(name), devargs:") } ?? ""
        let endpoint = lines.first { $0.hasPrefix("  - { name: \(name), tenant:") } ?? ""
        let pod = Pod(label: label, name: name, ip: ip, mac: mac, tenant: tenant, group: group,
                      portEntry: port, endpointEntry: endpoint)
        lock.lock(); pods.append(pod); lock.unlock()
        guard r.ok, !port.isEmpty, !endpoint.isEmpty else {
            throw E2EError("config/pod.sh create \(name) failed: \(r)")
        }
        return pod
    }

    /// A namespace without a veth (lo up), for an interface the test moves in itself, such
    /// as the tap device gbpd's net_tap port creates. `port` names that gbpd port and
    /// `devargs` its devargs; the entries are written here, not by pod.sh. cleanUp deletes it.
    @discardableResult
    func addBare(_ label: String, ip: String, mac: String, tenant: String, group: String,
                 port: String, devargs: String) throws -> Pod {
        lock.lock()
        let name = prefix + String(Self.digits[pods.count % 36])
        let pod = Pod(label: label, name: name, ip: ip, mac: mac, tenant: tenant, group: group,
                      portEntry: "  - { name: \(port), devargs: \"\(devargs)\" }",
                      endpointEntry: "  - { name: \(name), tenant: \(tenant), group: \(group), port: \(port), mac: \"\(mac)\", ips: [\(ip)] }")
        pods.append(pod)
        lock.unlock()
        let r = E2E.run(["ip", "netns", "add", name], timeout: 10)
        guard r.ok else { throw E2EError("ip netns add \(name) failed: \(r)") }
        E2E.inNamespace(name, ["ip", "link", "set", "lo", "up"])
        return pod
    }

    var all: [Pod] { lock.lock(); defer { lock.unlock() }; return pods }

    /// The `ports:` and `endpoints:` sections for these pods, from pod.sh's output.
    var portsYAML: String { "ports:\n" + all.map(\.portEntry).joined(separator: "\n") }
    var endpointsYAML: String { "endpoints:\n" + all.map(\.endpointEntry).joined(separator: "\n") }

    // MARK: Commands in pods

    /// `ip netns exec <pod> args...`
    @discardableResult
    func exec(_ label: String, _ args: [String], timeout: Double = 15, stdin: String? = nil) -> E2E.Output {
        E2E.inNamespace(self[label].name, args, timeout: timeout, stdin: stdin)
    }

    /// `ip netns exec <pod> ping -c1 -W2 <ip>`: true when a reply came back.
    func ping(_ label: String, _ ip: String, wait: Int = 2) -> Bool {
        exec(label, ["ping", "-c1", "-W\(wait)", ip], timeout: Double(wait) + 5).ok
    }

    /// The same ping, with its output.
    func pingOutput(_ label: String, _ ip: String, wait: Int = 2) -> E2E.Output {
        exec(label, ["ping", "-c1", "-W\(wait)", ip], timeout: Double(wait) + 5)
    }

    /// `ip netns exec <pod> curl -sS -m <max> http://<ip>:<port>/<path>`
    func curl(_ label: String, _ ip: String, port: Int = 80, path: String = "", max: Int = 3) -> E2E.Output {
        exec(label, ["curl", "-sS", "-m", "\(max)", "http://\(ip):\(port)/\(path)"], timeout: Double(max) + 5)
    }

    /// `ip netns exec <pod> curl -sS -m <max> -o /dev/null -w '%{size_download}' http://<ip>/big`:
    /// the bytes received of the 1 MiB file, or -1.
    func download(_ label: String, _ ip: String, port: Int = 80, max: Int = 10) -> Int {
        let r = exec(label, ["curl", "-sS", "-m", "\(max)", "-o", "/dev/null", "-w", "%{size_download}", "http://\(ip):\(port)/big"],
                     timeout: Double(max) + 5)
        return r.ok ? Int(E2E.trim(r.stdout)) ?? -1 : -1
    }

    /// `ip netns exec <pod> sh -c 'echo <message> | nc -u -w1 <ip> <port>'`: one UDP datagram.
    @discardableResult
    func sendUDP(_ label: String, _ ip: String, port: Int, _ message: String) -> E2E.Output {
        exec(label, ["sh", "-c", "echo \(message) | nc -u -w1 \(ip) \(port)"], timeout: 8)
    }

    // MARK: Servers in pods

    /// Starts `args` in the pod in the background, output to `<dir>/<log>`. Wrapped in
    /// `timeout 120` so that even a test process killed with SIGKILL leaves nothing running
    /// for long; cleanUp() stops it (SIGTERM, then SIGKILL, to its process group).
    @discardableResult
    func background(_ label: String, _ args: [String], log: String) throws -> E2EChild {
        let ns = self[label].name
        let child = try E2EChild(["ip", "netns", "exec", ns, E2E.which("timeout") ?? "timeout", "--kill-after=5", "120"] + args,
                                 stdout: dir.appendingPathComponent(log).path)
        lock.lock(); processes.append(child); lock.unlock()
        return child
    }

    /// python3's http.server on `port` in each pod of `labels`, serving a folder whose
    /// file `whoami` holds the pod's label, and a 1 MiB file `big`. Requests are logged to `<dir>/http-<label>-<port>.log`.
    /// Starts them all, then waits until each answers inside its own pod (no gbpd involved).
    func httpServers(_ labels: [String], port: Int = 80) throws {
        let python = E2E.which("python3") ?? "python3"
        for label in labels {
            let www = dir.appendingPathComponent("www-\(label)")
            try FileManager.default.createDirectory(at: www, withIntermediateDirectories: true)
            try "\(label)\n".write(to: www.appendingPathComponent("whoami"), atomically: true, encoding: .utf8)
            // 1 MiB: hundreds of full-size segments, so checksums and segmentation are exercised.
            try Data(count: 1 << 20).write(to: www.appendingPathComponent("big"))
            // --bind 0.0.0.0: with the pod's own address, http.server looks its name up in DNS
            // (socket.getfqdn) and waits out the resolver's timeout (6 s here) before serving.
            try background(label, [python, "-u", "-m", "http.server", "\(port)", "--bind", "0.0.0.0", "--directory", www.path],
                           log: "http-\(label)-\(port).log")
        }
        for label in labels {
            let up = E2E.eventually(within: 20, every: 0.1) { curl(label, self[label].ip, port: port, path: "whoami", max: 1).ok }
            if !up { throw E2EError("http.server in \(label) on port \(port) did not start: \(log("http-\(label)-\(port).log"))") }
        }
    }

    /// `nc -d -u -k -l <port>` in each pod of `labels`: every datagram it gets is appended
    /// to `<dir>/udp-<label>-<port>.log`. Ready when a datagram sent inside the pod arrives.
    func udpListeners(_ labels: [String], port: Int) throws {
        for label in labels {
            try background(label, [E2E.which("nc") ?? "nc", "-d", "-u", "-k", "-l", "\(port)"], log: "udp-\(label)-\(port).log")
        }
        for label in labels {
            let up = E2E.eventually(within: 20, every: 0.2) {
                _ = sendUDP(label, self[label].ip, port: port, "self-test")
                return log("udp-\(label)-\(port).log").contains("self-test")
            }
            if !up { throw E2EError("nc -u -l in \(label) on port \(port) did not start") }
        }
    }

    /// What the UDP listener of `label` on `port` received, without the self-test datagrams.
    func udpReceived(_ label: String, port: Int) -> String {
        log("udp-\(label)-\(port).log").split(separator: "\n").filter { $0 != "self-test" }.joined(separator: "\n")
    }

    /// The HTTP requests logged by the server of `label` on `port` that came from another address than the pod's own.
    func httpRequestsFromOthers(_ label: String, port: Int = 80) -> [String] {
        let own = self[label].ip
        return log("http-\(label)-\(port).log").split(separator: "\n").map(String.init)
            .filter { $0.contains("\"GET ") && !$0.hasPrefix("\(own) ") }
    }

    func log(_ file: String) -> String {
        (try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)) ?? ""
    }

    // MARK: Cleanup

    /// Stops every process started in a pod and deletes every pod. Safe to call twice.
    func cleanUp() {
        lock.lock()
        let procs = processes, ps = pods
        processes = []; pods = []
        lock.unlock()
        E2E.note("cleanUp: \(procs.count) processes, \(ps.count) pods")
        for p in procs { p.kill(SIGTERM) }
        for p in procs where p.wait(timeout: 3) == nil { p.kill(SIGKILL); _ = p.wait(timeout: 5) }
        for p in procs { p.kill(SIGKILL) }   // anything left in their process groups
        E2E.note("cleanUp: processes stopped")
        for pod in ps {
            let r = E2E.run([E2E.podScript, "delete", pod.name], timeout: 20)
            if !r.ok {
                // Last resort, without the script.
                E2E.run(["ip", "link", "del", pod.hostInterface], timeout: 10)
                E2E.run(["ip", "netns", "del", pod.name], timeout: 10)
            }
        }
    }
}

struct E2EError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
