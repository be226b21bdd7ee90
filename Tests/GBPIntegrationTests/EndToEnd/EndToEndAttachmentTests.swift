import Foundation
import GBPCore
import Testing

/// The other ways to attach a container than af_packet on a veth: a tap device
/// (DPDK's net_tap creates it; the test moves it into the pod's namespace) and
/// af_xdp on the veth's host end. Each carries real ping and HTTP between two pods
/// through gbpd with a policy.
@Suite(.serialized, .enabled(if: E2E.podsAvailable, "needs root and working network namespaces with veth pairs (ip netns); the reason is printed on stderr"))
struct EndToEndAttachmentTests {
    static func config(_ g: GBPDProcess, _ pods: PodSet, mbufs: Int = 4095) -> String {
        """
        eal: \(g.eal)
        workers: [1]
        mempool: { mbufs: \(mbufs), cache: 64 }
        descriptors: { rx: 256, tx: 256 }
        control: { socket: \(g.path("gbpd.sock")) }
        \(pods.portsYAML)
        \(pods.endpointsYAML)
        tenants: [{ name: lab }]
        groups: [{ name: app, tenant: lab }]
        run: { stats_interval_s: 0 }
        """
    }

    /// gbpd's net_tap port creates a tap interface in the host; moved into a namespace
    /// and given the endpoint's MAC and address, it is a pod like the veth ones.
    @Test func tapPortCarriesTrafficIntoANamespace() throws {
        try E2E.requirePods()
        if !E2E.hasPMD("tap") { try Test.cancel("skipped: this DPDK build has no net_tap PMD (librte_net_tap.so)") }
        if !FileManager.default.fileExists(atPath: "/dev/net/tun") { try Test.cancel("skipped: no /dev/net/tun: the kernel has no tun/tap") }
        let g = try GBPDProcess("e2e-tap")
        defer { g.cleanUp() }
        let pods = PodSet(dir: g.dir)
        defer { pods.cleanUp() }
        let tapName = "gbptap" + String(getpid(), radix: 36)
        let v = try pods.add("veth", ip: "10.3.0.1", mac: "02:00:00:04:00:01", tenant: "lab", group: "app")
        let t = try pods.addBare("tap", ip: "10.3.0.2", mac: "02:00:00:04:00:02", tenant: "lab", group: "app",
                                 port: "tap", devargs: "net_tap_\(tapName),iface=\(tapName)")
        let d = try E2EDaemon(g, config: Self.config(g, pods))

        // gbpd creates the interface when it opens the port; then it becomes the pod's.
        let created = E2E.eventually(within: 20, every: 0.1) { E2E.run(["ip", "link", "show", "dev", tapName]).ok || !d.isRunning }
        try #require(created && d.isRunning, "gbpd made no tap interface \(tapName): \(d.log)")
        for cmd in [["ip", "link", "set", tapName, "netns", t.name]] { #expect(E2E.run(cmd).ok, "\(cmd)") }
        for cmd in [["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/\(tapName)/disable_ipv6"],
                    ["ip", "link", "set", tapName, "address", t.mac],
                    ["ip", "addr", "add", "\(t.ip)/24", "dev", tapName],
                    ["ip", "link", "set", tapName, "up"],
                    ["ip", "route", "replace", "default", "dev", tapName, "scope", "link"]] {
            let r = pods.exec("tap", cmd)
            #expect(r.ok, "\(cmd.joined(separator: " ")): \(r)")
        }
        try pods.httpServers(["tap", "veth"])

        let up = E2E.eventually(within: 20) { pods.ping("veth", t.ip) }
        #expect(up, "ping veth pod -> tap pod\n\(d.log)")
        try #require(up && d.isRunning, "gbpd does not carry traffic: \(d.log)")
        #expect(pods.ping("tap", v.ip), "ping tap pod -> veth pod")
        let c1 = pods.curl("veth", t.ip, path: "whoami")
        #expect(c1.ok && c1.stdout.contains("tap"), "curl veth pod -> tap pod: \(c1)")
        let c2 = pods.curl("tap", v.ip, path: "whoami")
        #expect(c2.ok && c2.stdout.contains("veth"), "curl tap pod -> veth pod: \(c2)")
        #expect(pods.download("veth", t.ip) == 1 << 20, "1 MiB from the tap pod")
        // Blocked: the tap pod under another MAC.
        #expect(pods.exec("tap", ["ip", "link", "set", tapName, "address", "02:00:00:04:00:ee"]).ok)
        #expect(!pods.ping("tap", v.ip), "the tap pod with another MAC must not reach the veth pod")

        let s = d.stop()
        #expect(s.status == 0, "\(s)")
        #expect(s.port("tap", "rx") > 0 && s.port("tap", "tx") > 0, "\(s)")
        #expect(s.drop(.spoofedMAC) >= 1, "\(s)")
        #expect(s.balanced, "\(s)")
        #expect(s.int("mempool_in_use_at_exit") == 0, "\(s)")
        // Closing the port removed the interface, wherever it was.
        #expect(!pods.exec("tap", ["ip", "link", "show", "dev", tapName]).ok, "the tap interface outlived gbpd")
    }

    /// af_xdp on the veth host ends (native XDP on veth; libxdp loads its default
    /// program, without a bpffs it warns and loads it without its dispatcher).
    @Test func afXDPPortsCarryTraffic() throws {
        try E2E.requirePods()
        if !E2E.hasPMD("af_xdp") { try Test.cancel("skipped: this DPDK build has no net_af_xdp PMD (librte_net_af_xdp.so)") }
        let g = try GBPDProcess("e2e-afxdp")
        defer { g.cleanUp() }
        let pods = PodSet(dir: g.dir)
        defer { pods.cleanUp() }
        let a = try pods.add("a", ip: "10.4.0.1", mac: "02:00:00:05:00:01", tenant: "lab", group: "app", pmd: "af_xdp")
        let b = try pods.add("b", ip: "10.4.0.2", mac: "02:00:00:05:00:02", tenant: "lab", group: "app", pmd: "af_xdp")
        // Each af_xdp rx queue takes 2048 mbufs for its fill ring: 4095 is too few for two ports.
        let d = try E2EDaemon(g, config: Self.config(g, pods, mbufs: 16383))
        try pods.httpServers(["b"])

        var up = false
        _ = E2E.eventually(within: 20) { up = pods.ping("a", b.ip); return up || !d.isRunning }
        if !up && !d.isRunning && d.log.contains("af_xdp") {
            let s = d.stop()
            try Test.cancel(Comment(rawValue: "skipped: gbpd cannot open af_xdp ports on veth here: \(s.log.suffix(800))"))
        }
        #expect(up, "ping a -> b over af_xdp\n\(d.log)")
        try #require(up && d.isRunning, "gbpd does not carry traffic: \(d.log)")
        #expect(pods.ping("b", a.ip), "ping b -> a over af_xdp")
        let c = pods.curl("a", b.ip, path: "whoami")
        #expect(c.ok && c.stdout.contains("b"), "curl a -> b over af_xdp: \(c)")
        #expect(pods.download("a", b.ip) == 1 << 20, "1 MiB over af_xdp")
        // Blocked: a under another IP.
        #expect(pods.exec("a", ["ip", "addr", "add", "10.4.0.9/24", "dev", "eth0"]).ok)
        #expect(!pods.exec("a", ["ping", "-c1", "-W2", "-I", "10.4.0.9", b.ip]).ok, "ping from 10.4.0.9 must fail")

        let s = d.stop()
        #expect(s.status == 0, "\(s)")
        #expect(s.port(a.name, "rx") > 0 && s.port(b.name, "rx") > 0, "\(s)")
        #expect(s.drop(.spoofedIP) >= 1, "\(s)")
        #expect(s.balanced, "\(s)")
    }
}
