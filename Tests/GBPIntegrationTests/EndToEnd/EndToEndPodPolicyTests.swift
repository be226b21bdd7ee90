import Foundation
import GBPCore
import Testing

/// Real Linux traffic between network-namespace pods through gbpd on af_packet ports
/// (veth host ends). Every check is a command a person can type:
///   ip netns exec <pod> ping -c1 -W2 <ip>
///   ip netns exec <pod> curl -sS -m 3 http://<ip>:<port>/
///   ip netns exec <pod> sh -c 'echo hi | nc -u -w1 <ip> <port>'
/// with the pods made by config/pod.sh and the gbpd config built from what it prints.
/// Each test checks both outcomes (what passes and what is blocked) and the drop
/// counters gbpd gives for what was blocked. Pods, servers and gbpd are removed even
/// when a check fails (defer + deinit).
@Suite(.serialized, .enabled(if: E2E.podsAvailable, "needs root and working network namespaces with veth pairs (ip netns); the reason is printed on stderr"))
struct EndToEndPodPolicyTests {
    /// A gbpd config for `pods`: one af_packet port per pod and one endpoint, as pod.sh printed them.
    static func config(_ g: GBPDProcess, _ pods: PodSet, policy: String) -> String {
        """
        eal: \(g.eal)
        workers: [1]
        mempool: { mbufs: 4095, cache: 64 }
        descriptors: { rx: 256, tx: 256 }
        control: { socket: \(g.path("gbpd.sock")) }
        \(pods.portsYAML)
        \(pods.endpointsYAML)
        \(policy)
        run: { stats_interval_s: 0 }
        """
    }

    /// Contract "web": frontend may open TCP/80 to backend, nothing else.
    /// curl to 80 works (so its replies come back); 81, UDP and ping are blocked; backend
    /// cannot open anything to frontend, neither TCP/80 nor ping.
    @Test func contractAllowsOnlyTCP80FromFrontendToBackend() throws {
        try E2E.requirePods()
        let g = try GBPDProcess("e2e-contract")
        defer { g.cleanUp() }
        let pods = PodSet(dir: g.dir)
        defer { pods.cleanUp() }
        let fe = try pods.add("frontend", ip: "10.0.0.1", mac: "02:00:00:00:0a:01", tenant: "shop", group: "frontend")
        let be = try pods.add("backend", ip: "10.0.0.2", mac: "02:00:00:00:0b:01", tenant: "shop", group: "backend")
        let d = try E2EDaemon(g, config: Self.config(g, pods, policy: """
            tenants: [{ name: shop }]
            groups:
              - { name: frontend, tenant: shop }
              - { name: backend, tenant: shop }
            contracts:
              - name: web
                tenant: shop
                providers: [backend]
                consumers: [frontend]
                rules:
                  - { name: http, protocol: tcp, ports: [80] }
            """))
        try pods.httpServers(["backend", "frontend"], port: 80)
        try pods.httpServers(["backend"], port: 81)
        try pods.udpListeners(["backend"], port: 9999)

        // Allowed: frontend -> backend TCP/80, and the replies of that connection.
        var first = E2E.Output(status: -1, stdout: "", stderr: "", timedOut: false)
        let reached = E2E.eventually(within: 20) {
            first = pods.curl("frontend", be.ip, path: "whoami")
            return first.ok
        }
        #expect(reached, "curl frontend -> backend:80 should succeed: \(first)\n\(d.log)")
        #expect(E2E.trim(first.stdout) == "backend")
        try #require(reached && d.isRunning, "gbpd does not carry traffic: \(d.log)")

        // Blocked (tried at the same time: each waits for its timeout): another port, UDP,
        // ping; and backend opening anything to frontend.
        let blocked = E2E.concurrently(
            { pods.curl("frontend", be.ip, port: 81, path: "whoami") },
            { pods.sendUDP("frontend", be.ip, port: 9999, "udp-from-frontend") },
            { pods.pingOutput("frontend", be.ip) },
            { pods.curl("backend", fe.ip, path: "whoami") },
            { pods.pingOutput("backend", fe.ip) }
        )
        #expect(!blocked[0].ok, "curl frontend -> backend:81 must fail: \(blocked[0])")
        #expect(blocked[0].status == 28, "curl to 81 must time out (dropped), not be refused: \(blocked[0])")
        #expect(blocked[1].ok, "nc -u sends its datagram: \(blocked[1])")
        #expect(!blocked[2].ok, "ping frontend -> backend must fail: \(blocked[2])")
        #expect(!blocked[3].ok && blocked[3].status == 28, "curl backend -> frontend:80 must time out: \(blocked[3])")
        #expect(!blocked[4].ok, "ping backend -> frontend must fail: \(blocked[4])")

        // Still allowed afterwards: gbpd is alive and the negatives were policy, not breakage.
        // 1 MiB: full-size segments with real checksums (pod.sh turned off tx offload).
        #expect(pods.download("frontend", be.ip) == 1 << 20, "1 MiB from backend:80")
        let again = pods.curl("frontend", be.ip, path: "whoami")
        #expect(again.ok && again.stdout.contains("backend"), "curl frontend -> backend:80 again: \(again)")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(pods.udpReceived("backend", port: 9999).isEmpty, "backend must not get the UDP datagram")
        #expect(pods.httpRequestsFromOthers("backend", port: 81).isEmpty, "backend:81 must not see a request")
        #expect(pods.httpRequestsFromOthers("frontend", port: 80).isEmpty, "frontend:80 must not see a request")
        #expect(pods.httpRequestsFromOthers("backend", port: 80).count >= 3)

        let s = d.stop()
        #expect(s.status == 0, "\(s)")
        // At least: SYN to 81, the UDP datagram, the ping, backend's SYN, backend's ping.
        #expect(s.drop(.noContract) >= 5, "no_contract: \(s)")
        #expect(s.drop(.spoofedIP) == 0 && s.drop(.spoofedMAC) == 0, "\(s)")
        #expect(s.port(fe.name, "rx") > 0 && s.port(be.name, "rx") > 0, "\(s)")
        #expect(s.balanced, "rx + flood copies = tx + dropped: \(s)")
    }

    /// Tenants red and blue use the same addresses (10.1.0.1, 10.1.0.2); blue also has
    /// 10.1.0.3. Each tenant's pods reach their own peer (the answer says which pod
    /// served it), never the other tenant's, not even with a forged neighbour entry.
    @Test func tenantsWithTheSameAddressesStayApart() throws {
        try E2E.requirePods()
        let g = try GBPDProcess("e2e-tenants")
        defer { g.cleanUp() }
        let pods = PodSet(dir: g.dir)
        defer { pods.cleanUp() }
        try pods.add("r1", ip: "10.1.0.1", mac: "02:00:00:01:00:01", tenant: "red", group: "app")
        try pods.add("r2", ip: "10.1.0.2", mac: "02:00:00:01:00:02", tenant: "red", group: "app")
        try pods.add("b1", ip: "10.1.0.1", mac: "02:00:00:02:00:01", tenant: "blue", group: "app")
        try pods.add("b2", ip: "10.1.0.2", mac: "02:00:00:02:00:02", tenant: "blue", group: "app")
        let b3 = try pods.add("b3", ip: "10.1.0.3", mac: "02:00:00:02:00:03", tenant: "blue", group: "app")
        let d = try E2EDaemon(g, config: Self.config(g, pods, policy: """
            tenants: [{ name: red }, { name: blue }]
            groups:
              - { name: app, tenant: red }
              - { name: app, tenant: blue }
            """))
        try pods.httpServers(["r1", "r2", "b1", "b2", "b3"])
        try pods.udpListeners(["r2", "b2", "b3"], port: 9999)

        // Each tenant reaches its own 10.1.0.2 (traffic inside group app is allowed by default).
        var out = E2E.Output(status: -1, stdout: "", stderr: "", timedOut: false)
        let up = E2E.eventually(within: 20) { out = pods.curl("r1", "10.1.0.2", path: "whoami"); return out.ok }
        #expect(up && out.stdout.contains("r2"), "r1 -> 10.1.0.2 must reach r2: \(out)\n\(d.log)")
        try #require(up && d.isRunning, "gbpd does not carry traffic: \(d.log)")
        let allowed = E2E.concurrently(
            { pods.curl("b1", "10.1.0.2", path: "whoami") },
            { pods.curl("r2", "10.1.0.1", path: "whoami") },
            { pods.curl("b2", "10.1.0.1", path: "whoami") },
            { pods.pingOutput("r1", "10.1.0.2") },
            { pods.pingOutput("b1", "10.1.0.2") },
            { pods.sendUDP("r1", "10.1.0.2", port: 9999, "udp-from-r1") },
            { pods.sendUDP("b1", "10.1.0.2", port: 9999, "udp-from-b1") }
        )
        #expect(allowed[0].ok && allowed[0].stdout.contains("b2"), "b1 -> 10.1.0.2 must reach b2: \(allowed[0])")
        #expect(allowed[1].ok && allowed[1].stdout.contains("r1"), "r2 -> 10.1.0.1 must reach r1: \(allowed[1])")
        #expect(allowed[2].ok && allowed[2].stdout.contains("b1"), "b2 -> 10.1.0.1 must reach b1: \(allowed[2])")
        #expect(allowed[3].ok, "ping r1 -> 10.1.0.2: \(allowed[3])")
        #expect(allowed[4].ok, "ping b1 -> 10.1.0.2: \(allowed[4])")
        #expect(allowed[5].ok && allowed[6].ok, "nc -u sends: \(allowed[5]) \(allowed[6])")

        // Red has no 10.1.0.3: nothing answers ARP for it in red.
        let blocked = E2E.concurrently(
            { pods.pingOutput("r1", "10.1.0.3") },
            { pods.curl("r2", "10.1.0.3", path: "whoami", max: 2) }
        )
        #expect(!blocked[0].ok, "r1 must not reach blue's 10.1.0.3: \(blocked[0])")
        #expect(!blocked[1].ok, "r2 must not reach blue's 10.1.0.3: \(blocked[1])")
        // Even addressed straight to b3's MAC (a neighbour entry set by hand), red's frames stay in red.
        #expect(pods.exec("r1", ["ip", "neigh", "replace", "10.1.0.3", "lladdr", b3.mac, "dev", "eth0", "nud", "permanent"]).ok)
        let forged = E2E.concurrently(
            { pods.pingOutput("r1", "10.1.0.3") },
            { pods.sendUDP("r1", "10.1.0.3", port: 9999, "udp-from-r1-to-b3") },
            { pods.curl("r1", "10.1.0.3", path: "whoami", max: 2) }
        )
        #expect(!forged[0].ok, "ping r1 -> b3's MAC must be dropped: \(forged[0])")
        #expect(!forged[2].ok, "curl r1 -> b3's MAC must be dropped: \(forged[2])")

        Thread.sleep(forTimeInterval: 0.3)
        #expect(pods.udpReceived("r2", port: 9999) == "udp-from-r1", "r2 gets red's datagram only")
        #expect(pods.udpReceived("b2", port: 9999) == "udp-from-b1", "b2 gets blue's datagram only")
        #expect(pods.udpReceived("b3", port: 9999).isEmpty, "b3 gets nothing from red")
        #expect(pods.httpRequestsFromOthers("b3").isEmpty, "b3's server sees no request")

        let s = d.stop()
        #expect(s.status == 0, "\(s)")
        #expect(s.drop(.unknownDestination) >= 3, "ping, UDP and SYN to 10.1.0.3 in red: \(s)")
        #expect(s.drop(.noContract) == 0, "\(s)")
        #expect(s.balanced, "\(s)")
    }

    /// A pod that takes another IP address, or another MAC address, gets nothing
    /// through; back on its own addresses it works again.
    @Test func podThatChangesItsAddressesIsBlocked() throws {
        try E2E.requirePods()
        let g = try GBPDProcess("e2e-spoof")
        defer { g.cleanUp() }
        let pods = PodSet(dir: g.dir)
        defer { pods.cleanUp() }
        let a = try pods.add("a", ip: "10.2.0.1", mac: "02:00:00:03:00:01", tenant: "shop", group: "app")
        let b = try pods.add("b", ip: "10.2.0.2", mac: "02:00:00:03:00:02", tenant: "shop", group: "app")
        let d = try E2EDaemon(g, config: Self.config(g, pods, policy: """
            tenants: [{ name: shop }]
            groups: [{ name: app, tenant: shop }]
            """))
        try pods.httpServers(["b"])

        let up = E2E.eventually(within: 20) { pods.ping("a", b.ip) }
        #expect(up, "ping a -> b must work before any change\n\(d.log)")
        try #require(up && d.isRunning, "gbpd does not carry traffic: \(d.log)")
        #expect(pods.curl("a", b.ip, path: "whoami").ok)

        let bIP = b.ip
        func blocked(_ what: String) {
            let r = E2E.concurrently(
                { pods.pingOutput("a", bIP) },
                { pods.curl("a", bIP, path: "whoami", max: 2) }
            )
            #expect(!r[0].ok, "ping a -> b with \(what) must fail: \(r[0])")
            #expect(!r[1].ok, "curl a -> b with \(what) must fail: \(r[1])")
        }
        // New IP address: 10.2.0.9 is nobody's. (Removing the pod's only address also
        // removes its routes: the default route is put back as pod.sh made it.)
        func setIP(_ old: String, _ new: String) {
            #expect(pods.exec("a", ["ip", "addr", "del", "\(old)/24", "dev", "eth0"]).ok)
            #expect(pods.exec("a", ["ip", "addr", "add", "\(new)/24", "dev", "eth0"]).ok)
            #expect(pods.exec("a", ["ip", "route", "replace", "default", "dev", "eth0", "scope", "link"]).ok)
        }
        setIP(a.ip, "10.2.0.9")
        blocked("IP 10.2.0.9")
        setIP("10.2.0.9", a.ip)
        #expect(E2E.eventually(within: 8) { pods.ping("a", b.ip) }, "a back on its IP must reach b")

        // New MAC address.
        #expect(pods.exec("a", ["ip", "link", "set", "eth0", "address", "02:00:00:03:00:ee"]).ok)
        blocked("MAC 02:00:00:03:00:ee")
        #expect(pods.exec("a", ["ip", "link", "set", "eth0", "address", a.mac]).ok)
        #expect(E2E.eventually(within: 8) { pods.ping("a", b.ip) }, "a back on its MAC must reach b")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(pods.httpRequestsFromOthers("b").count == 1, "b's server saw only the request before the changes: \(pods.log("http-b-80.log"))")

        let s = d.stop()
        #expect(s.status == 0, "\(s)")
        #expect(s.drop(.spoofedIP) >= 2, "ARP requests (or packets) from 10.2.0.9: \(s)")
        #expect(s.drop(.spoofedMAC) >= 2, "ping and SYN from 02:00:00:03:00:ee: \(s)")
        #expect(s.balanced, "\(s)")
    }

    /// A reload that removes the contract while a TCP connection is open: the
    /// connection's next packet is classified again under the new policy (the default,
    /// `on_policy_change: recheck`) and dropped, and no new connection opens.
    @Test func reloadThatRemovesTheContractCutsTheOpenConnection() throws {
        try E2E.requirePods()
        let g = try GBPDProcess("e2e-reload")
        defer { g.cleanUp() }
        let pods = PodSet(dir: g.dir)
        defer { pods.cleanUp() }
        let fe = try pods.add("frontend", ip: "10.0.0.1", mac: "02:00:00:00:0a:01", tenant: "shop", group: "frontend")
        let be = try pods.add("backend", ip: "10.0.0.2", mac: "02:00:00:00:0b:01", tenant: "shop", group: "backend")
        let groups = """
            tenants: [{ name: shop }]
            groups:
              - { name: frontend, tenant: shop }
              - { name: backend, tenant: shop }
            """
        let withContract = groups + """

            contracts:
              - { name: web, tenant: shop, providers: [backend], consumers: [frontend], rules: [{ protocol: tcp, ports: [7000] }] }
            """
        let d = try E2EDaemon(g, config: Self.config(g, pods, policy: withContract))
        try pods.background("backend", [E2E.which("nc") ?? "nc", "-d", "-k", "-l", "7000"], log: "tcp-backend.log")
        // The client keeps its connection open for as long as its stdin is.
        let client = try E2EChild(["ip", "netns", "exec", fe.name, E2E.which("timeout") ?? "timeout", "60", E2E.which("nc") ?? "nc",
                                   be.ip, "7000"], stdout: g.path("tcp-frontend.log"), stdin: .pipe)
        defer { client.kill(SIGKILL); _ = client.wait(timeout: 5) }
        var n = 0
        let connected = E2E.eventually(within: 20, every: 0.5) {
            n += 1
            client.write("before-\(n)\n")
            return pods.log("tcp-backend.log").contains("before-")
        }
        #expect(connected, "nc frontend -> backend:7000 carries data under the contract: \(d.log)")
        try #require(connected)

        // Reload without the contract (SIGHUP re-reads the file).
        try Self.config(g, pods, policy: groups).write(toFile: g.path("gbpd.yaml"), atomically: true, encoding: .utf8)
        d.process.kill(SIGHUP)
        #expect(E2E.eventually(within: 10, every: 0.1) { d.log.contains("policy epoch 2 in force") }, "reload applied: \(d.log)")

        client.write("after-reload\n")
        Thread.sleep(forTimeInterval: 2)
        #expect(!pods.log("tcp-backend.log").contains("after-reload"), "the open connection's next segment must be dropped")
        let fresh = E2E.run(["ip", "netns", "exec", fe.name, E2E.which("nc") ?? "nc", "-z", "-w", "2", be.ip, "7000"], timeout: 10)
        #expect(!fresh.ok, "a new connection must not open without the contract: \(fresh)")

        let s = d.stop()
        #expect(s.status == 0, "\(s)")
        let conntrack = s.stats?["conntrack"] as? [String: Any]
        #expect(((conntrack?["recheck_drops"] as? NSNumber)?.intValue ?? 0) >= 1, "the open flow was re-checked and dropped: \(String(describing: conntrack))")
        #expect(s.drop(.noContract) >= 1, "\(s)")
        #expect(s.balanced, "rx + flood copies = tx + dropped: \(s)")
    }
}

/// config/pods-example.yaml, the config README.md's walk-through runs, stays valid as
/// the config format evolves (`gbpd --check`: no root, no pods needed).
@Suite struct EndToEndExampleConfigTests {
    @Test func podsExampleConfigIsValid() throws {
        let path = E2E.root.appendingPathComponent("config/pods-example.yaml").path
        let r = E2E.run([GBPDProcess.binary.path, "--check", "--config", path], timeout: 30)
        #expect(r.ok, "gbpd --check --config config/pods-example.yaml: \(r)")
        #expect(r.stdout.contains("2 ports, 2 endpoints"), "\(r)")
    }
}
