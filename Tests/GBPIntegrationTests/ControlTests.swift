import Foundation
import GBPCore
import Testing

/// gbpctl, the metrics port and DPDK telemetry against a real gbpd running in the
/// background on a pcap port that replays its input forever and a null port.
@Suite(.serialized)
struct ControlTests {
    let macF = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!
    let ipF = IPAddress("10.0.0.1")!, ipB = IPAddress("10.0.0.2")!

    func config(_ g: GBPDProcess, metrics: Bool = false) -> String {
        """
        \(g.flowsHeader(nullPorts: ["pb", "pc"]))
        \(GBPDProcess.shopPolicy())
        control:
          socket: \(g.path("gbpd.sock"))
        \(metrics ? "  metrics_port: 0" : "")
        run: { stats_interval_s: 0 }
        """
    }

    /// gbpd running on `config`, with its control socket up.
    func start(_ g: GBPDProcess, metrics: Bool = false) throws -> BackgroundGBPD {
        try g.writePcap("flows.pcap", (0..<64).map {
            PacketBuilder.udp(srcMAC: macF, dstMAC: macB, src: ipF, dst: ipB, srcPort: UInt16(2000 + $0), dstPort: 80)
        })
        let configPath = g.path("gbpd.yaml")
        try config(g, metrics: metrics).write(toFile: configPath, atomically: true, encoding: .utf8)
        let d = try BackgroundGBPD(configPath: configPath, statsPath: g.path("stats.json"))
        #expect(d.wait(for: "control socket \(g.path("gbpd.sock"))"), "gbpd did not open its control socket: \(d.stdout)")
        return d
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
        }
    }

    static var gbpctl: URL { GBPDProcess.binary.deletingLastPathComponent().appendingPathComponent("gbpctl") }

    /// Runs the gbpctl binary built next to gbpd (through `runAs`, e.g. setpriv, when given).
    func gbpctl(_ g: GBPDProcess, _ args: [String], socket: String? = nil, runAs: [String] = []) throws -> Run {
        let p = Process()
        let gbpctlArgs = args + ["--socket", socket ?? g.path("gbpd.sock")]
        p.executableURL = runAs.isEmpty ? Self.gbpctl : URL(fileURLWithPath: runAs[0])
        p.arguments = runAs.isEmpty ? gbpctlArgs : Array(runAs.dropFirst()) + [Self.gbpctl.path] + gbpctlArgs
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
        defer { watchdog.cancel() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func epoch(_ g: GBPDProcess) throws -> Int {
        let r = try gbpctl(g, ["stats", "--json"])
        return ((r.json?["stats"] as? [String: Any])?["policy_epoch"] as? NSNumber)?.intValue ?? -1
    }

    /// True if some line of `text` holds every one of `cells` as whitespace-separated fields, in order.
    func hasRow(_ text: String, _ cells: [String]) -> Bool {
        text.split(separator: "\n").contains { line in
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            var i = 0
            for f in fields where i < cells.count && f == cells[i] { i += 1 }
            return i == cells.count
        }
    }

    @Test func statsEndpointsAndExplainOverThePrivateSocket() throws {
        let g = try GBPDProcess("control")
        defer { g.cleanUp() }
        let d = try start(g)
        let socketPath = g.path("gbpd.sock")

        // The socket is a socket, mode 0600.
        var st = stat()
        #expect(lstat(socketPath, &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFSOCK)
        #expect(st.st_mode & 0o777 == 0o600, "mode \(String(st.st_mode & 0o777, radix: 8))")

        Thread.sleep(forTimeInterval: 0.2)
        let stats = try gbpctl(g, ["stats"])
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(stats.stdout.contains("policy epoch 1"))
        #expect(hasRow(stats.stdout, ["PORT", "DRIVER", "RX", "TX", "DROPPED"]))
        #expect(hasRow(stats.stdout, ["pa", "net_pcap"]) && hasRow(stats.stdout, ["pb", "net_null"]), "\(stats.stdout)")
        #expect(hasRow(stats.stdout, ["web/http"]))
        let statsJSON = try #require(try gbpctl(g, ["stats", "--json"]).json)
        #expect(statsJSON["ok"] as? Bool == true)
        let s = try #require(statsJSON["stats"] as? [String: Any])
        #expect(((s["rx"] as? NSNumber)?.intValue ?? 0) > 0, "traffic flows: \(s)")

        let list = try gbpctl(g, ["endpoints", "list"])
        #expect(list.status == 0)
        #expect(hasRow(list.stdout, ["NAME", "TENANT", "GROUP", "PORT", "MAC", "IPS"]))
        #expect(hasRow(list.stdout, ["f1", "shop", "frontend", "pa", "\(macF)", "10.0.0.1"]), "\(list.stdout)")
        #expect(hasRow(list.stdout, ["b1", "shop", "backend", "pb", "\(macB)", "10.0.0.2"]))
        let listJSON = try #require(try gbpctl(g, ["endpoints", "--json"]).json)
        #expect((listJSON["endpoints"] as? [[String: Any]])?.map { $0["name"] as? String } == ["f1", "b1"])

        let allow = try gbpctl(g, ["explain", "--tenant", "shop", "--from", "f1", "--to", "b1", "--protocol", "udp", "--port", "80"])
        #expect(allow.status == 0, "\(allow.stderr)")
        #expect(allow.stdout.hasPrefix("ALLOW endpoint f1 (group frontend) -> endpoint b1 (group backend) in tenant shop"), "\(allow.stdout)")
        #expect(hasRow(allow.stdout, ["rule:", "web/http"]))
        let allowJSON = try #require(try gbpctl(g, ["explain", "--tenant", "shop", "--from", "f1", "--to", "b1",
                                                    "--protocol", "udp", "--port", "80", "--json"]).json)
        #expect(allowJSON["verdict"] as? String == "allow" && allowJSON["contract"] as? String == "web" && allowJSON["rule"] as? String == "web/http")
        let deny = try #require(try gbpctl(g, ["explain", "--tenant", "shop", "--from", "f1", "--to", "b1",
                                               "--protocol", "tcp", "--port", "80", "--json"]).json)
        #expect(deny["verdict"] as? String == "drop" && deny["reason"] as? String == "no_contract" && deny["contract"] == nil)
        let unknown = try gbpctl(g, ["explain", "--tenant", "shop", "--from", "f1", "--to", "nobody", "--port", "80"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown endpoint \"nobody\""))

        let (status, _) = d.finish()
        #expect(status == 0)
        #expect(!FileManager.default.fileExists(atPath: socketPath), "the socket is removed on exit")
    }

    @Test func addAndRemoveAnEndpointOverTheSocket() throws {
        let g = try GBPDProcess("control-edit")
        defer { g.cleanUp() }
        let d = try start(g)
        let add = try gbpctl(g, ["endpoints", "add", "--name", "b2", "--tenant", "shop", "--group", "backend", "--port", "pc",
                                 "--mac", "02:00:00:00:0b:02", "--ip", "10.0.0.3"])
        #expect(add.status == 0, "\(add.stderr)")
        #expect(add.stdout.contains("added endpoint b2: policy epoch 2 in force"))
        let after = try gbpctl(g, ["endpoints", "list"])
        #expect(hasRow(after.stdout, ["b2", "shop", "backend", "pc", "02:00:00:00:0b:02", "10.0.0.3"]), "\(after.stdout)")
        let explain = try #require(try gbpctl(g, ["explain", "--from", "f1", "--to", "b2", "--protocol", "udp", "--port", "80", "--json"]).json)
        #expect(explain["rule"] as? String == "web/http" && (explain["epoch"] as? NSNumber)?.intValue == 2)

        let remove = try gbpctl(g, ["endpoints", "remove", "b2"])
        #expect(remove.status == 0, "\(remove.stderr)")
        let names = (try gbpctl(g, ["endpoints", "list", "--json"]).json?["endpoints"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["f1", "b1"])
        #expect(try epoch(g) == 3)
        #expect(d.wait(for: "endpoints.remove endpoint b2: policy epoch 3 in force"), "the change is logged: \(d.stdout.suffix(400))")
        #expect(d.finish().status == 0)
    }

    @Test func rejectedChangeReturnsItsErrorsAndChangesNothing() throws {
        let g = try GBPDProcess("control-reject")
        defer { g.cleanUp() }
        let d = try start(g)
        let before = try epoch(g)
        #expect(before == 1)
        let bad = try gbpctl(g, ["endpoints", "add", "--name", "x1", "--tenant", "shop", "--group", "nope", "--port", "pc",
                                 "--mac", "02:00:00:00:0c:01", "--ip", "10.0.0.9"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("gbpctl: change rejected, the running policy is unchanged"), "\(bad.stderr)")
        #expect(bad.stderr.contains("endpoints[2].group: unknown group \"nope\""), "\(bad.stderr)")
        let badJSON = try gbpctl(g, ["contracts", "add", "--json", "--json-spec",
                                     #"{"name":"r","tenant":"shop","providers":["backend"],"consumers":["frontend"],"rules":[{"protocol":"tcp","ports":["443-80"]}]}"#])
        #expect(badJSON.status == 1)
        #expect(badJSON.json?["ok"] as? Bool == false)
        #expect((badJSON.json?["errors"] as? [String])?.first?.contains("port range 443-80 is reversed") == true, "\(badJSON.stdout)")
        #expect(try epoch(g) == before, "the policy epoch is unchanged")
        let names = (try gbpctl(g, ["endpoints", "list", "--json"]).json?["endpoints"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["f1", "b1"])
        #expect(d.finish().status == 0)
    }

    @Test func reloadReplacesSocketChangesWithTheFile() throws {
        let g = try GBPDProcess("control-reload")
        defer { g.cleanUp() }
        let d = try start(g)
        let add = try gbpctl(g, ["groups", "add", "--name", "cache", "--tenant", "shop", "--intra-group", "deny"])
        #expect(add.status == 0, "\(add.stderr)")
        let groups = try gbpctl(g, ["groups"])
        #expect(hasRow(groups.stdout, ["cache", "shop", "endpoint", "0", "intra_group", "deny"]), "\(groups.stdout)")
        let reload = try gbpctl(g, ["reload"])
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(reload.stdout.contains("policy epoch 3 in force"), "\(reload.stdout)")
        #expect(d.wait(for: "policy epoch 3 in force"), "the reload is logged like SIGHUP's")
        let after = try gbpctl(g, ["groups", "list", "--json"])
        #expect((after.json?["groups"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["frontend", "backend"])
        #expect(d.finish().status == 0)
    }

    @Test func gbpctlSaysSoWhenNoDaemonRuns() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gbpd-none-\(getpid()).sock").path
        let g = try GBPDProcess("control-none")
        defer { g.cleanUp() }
        let r = try gbpctl(g, ["stats"], socket: path)
        #expect(r.status == 1)
        #expect(r.stderr == "gbpctl: cannot reach gbpd at \(path): no such socket (is gbpd running?)\n")
        #expect(r.stdout.isEmpty)
    }

    @Test func metricsOnLoopbackAndTelemetryCommands() throws {
        let g = try GBPDProcess("control-metrics")
        defer { g.cleanUp() }
        let d = try start(g, metrics: true)
        #expect(d.wait(for: "/metrics"))
        let line = d.stdout.split(separator: "\n").first { $0.contains("metrics on http://127.0.0.1:") }
        let port = try #require(line.flatMap { $0.split(separator: ":").last?.split(separator: "/").first }.flatMap { Int($0) })
        Thread.sleep(forTimeInterval: 0.3)

        // Prometheus text, bound to 127.0.0.1 only.
        let response = try Self.httpGet(port: port, path: "/metrics")
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response.prefix(200))")
        #expect(response.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(response.contains("# TYPE gbpd_rx_packets_total counter\ngbpd_rx_packets_total "))
        #expect(response.contains("gbpd_port_rx_packets_total{port=\"pa\"} "))
        #expect(response.contains("gbpd_rule_allowed_total{contract=\"web\",rule=\"web/http\"} "))
        #expect(try Self.httpGet(port: port, path: "/nothing").hasPrefix("HTTP/1.1 404"))
        let listeners = Self.tcpListeners(port: port)
        #expect(listeners == ["0100007F"], "listening on \(listeners)")

        // DPDK telemetry: /gbp/stats next to DPDK's own commands.
        let prefix = "gbpt-control-metrics-\(getpid())"
        let candidates = ["/var/run/dpdk/\(prefix)/dpdk_telemetry.v2", "/run/dpdk/\(prefix)/dpdk_telemetry.v2"]
            + (ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"].map { ["\($0)/dpdk/\(prefix)/dpdk_telemetry.v2"] } ?? [])
            + ["/tmp/dpdk/\(prefix)/dpdk_telemetry.v2"]
        if let socket = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            let list = try Self.telemetry(socket, "/")
            let commands = list?["/"] as? [String] ?? []
            #expect(["/gbp/stats", "/gbp/endpoints", "/gbp/groups", "/gbp/contracts", "/ethdev/stats"].allSatisfy(commands.contains), "\(commands)")
            let stats = try #require(try Self.telemetry(socket, "/gbp/stats")?["/gbp/stats"] as? [String: Any])
            #expect((stats["rx"] as? NSNumber)?.intValue ?? 0 > 0, "\(stats)")
            #expect((stats["policy_epoch"] as? NSNumber)?.intValue == 1)
            #expect((stats["port/pa"] as? [String: Any])?["driver"] as? String == "net_pcap")
            let endpoints = try #require(try Self.telemetry(socket, "/gbp/endpoints")?["/gbp/endpoints"] as? [String: Any])
            #expect((endpoints["shop/f1"] as? [String: Any])?["mac"] as? String == macF.description, "\(endpoints)")
        } else {
            print("ControlTests: skipped the telemetry check: no DPDK telemetry socket at \(candidates.joined(separator: " or "))")
        }
        #expect(d.finish().status == 0)
    }

    // MARK: Tiny clients

    /// GET (or `method`) over HTTP/1.0 on 127.0.0.1: the whole response.
    static func httpGet(port: Int, path: String, method: String = "GET") throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let req = Array("\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Local addresses (hex, as /proc/net/tcp{,6} writes them) listening on `port`.
    static func tcpListeners(port: Int) -> [String] {
        let hexPort = String(format: "%04X", port)
        return ["/proc/net/tcp", "/proc/net/tcp6"].flatMap { file -> [String] in
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").dropFirst().compactMap { line in
                let f = line.split(separator: " ")
                guard f.count > 3, f[3] == "0A" else { return nil }
                let local = f[1].split(separator: ":")
                return local.count == 2 && local[1] == hexPort ? String(local[0]) : nil
            }
        }
    }

    /// One command on DPDK's telemetry socket (SOCK_SEQPACKET): read the hello, send, read the answer.
    static func telemetry(_ path: String, _ command: String) throws -> [String: Any]? {
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            let b = Array(path.utf8)
            p.copyBytes(from: b)
            p[b.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        func receive() -> [String: Any]? {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(buf[0..<n]))) as? [String: Any]
        }
        let hello = receive()
        #expect(hello?["version"] != nil, "telemetry hello: \(String(describing: hello))")
        let c = Array(command.utf8)
        _ = c.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        return receive()
    }
}
