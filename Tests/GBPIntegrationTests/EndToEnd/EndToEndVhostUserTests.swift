import Foundation
import GBPCore
import Testing

/// vhost-user ports: dpdk-testpmd plays two containers, each with a virtio_user port
/// connected to one of gbpd's net_vhost sockets, and sends a known number of packets
/// through gbpd (`start tx_first N`: N bursts of 32 txonly packets per port, then
/// receive only). gbpd runs with a policy (not plain L2):
///   c0 (02:00:00:00:c0:00, 10.9.0.1, group client) on vhost port c0,
///   c1 (02:00:00:00:c1:00, 10.9.0.2, group server) on vhost port c1,
///   contract: client may send UDP/9 to server.
/// testpmd's txonly frames are UDP 9 -> 9 from 10.9.0.1 to 10.9.0.2 (`--tx-ip`) on both
/// ports, each to the other port's MAC (`--eth-peer`), with the virtio port's MAC as
/// source (`mac=` of virtio_user). So c0's frames are exactly allowed traffic and must
/// all arrive on testpmd's port 1, and c1's frames claim c0's address from c1's port and
/// must all be dropped as spoofed_ip. The counters of both processes must agree packet
/// for packet.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root (vhost-user sockets and DPDK in two processes)"))
struct EndToEndVhostUserTests {
    static let bursts = 8
    static let burstSize = 32

    @Test func testpmdThroughVhostUserCountersAgree() throws {
        if E2E.missingTool(["dpdk-testpmd"]) != nil {
            try Test.cancel("skipped: dpdk-testpmd not found: install the Debian package dpdk (listed in .ci/install-deps)")
        }
        for pmd in ["vhost", "virtio"] where !E2E.hasPMD(pmd) {
            try Test.cancel(Comment(rawValue: "skipped: this DPDK build has no net_\(pmd) PMD (librte_net_\(pmd).so)"))
        }
        let g = try GBPDProcess("e2e-vhost")
        defer { g.cleanUp() }
        let sock0 = g.path("c0.sock"), sock1 = g.path("c1.sock")
        let d = try E2EDaemon(g, config: """
            eal: \(g.eal)
            workers: [1]
            mempool: { mbufs: 4095, cache: 64 }
            descriptors: { rx: 256, tx: 256 }
            control: { socket: \(g.path("gbpd.sock")) }
            ports:
              - { name: c0, devargs: "net_vhost0,iface=\(sock0),queues=1" }
              - { name: c1, devargs: "net_vhost1,iface=\(sock1),queues=1" }
            tenants: [{ name: lab }]
            groups:
              - { name: client, tenant: lab }
              - { name: server, tenant: lab }
            endpoints:
              - { name: c0, tenant: lab, group: client, port: c0, mac: "02:00:00:00:c0:00", ips: [10.9.0.1] }
              - { name: c1, tenant: lab, group: server, port: c1, mac: "02:00:00:00:c1:00", ips: [10.9.0.2] }
            contracts:
              - name: udp9
                tenant: lab
                providers: [server]
                consumers: [client]
                rules:
                  - { name: discard, protocol: udp, ports: [9] }
            run: { stats_interval_s: 0 }
            """, lifetime: 60)
        try #require(d.waitForFile(sock0) && d.waitForFile(sock1), "gbpd made no vhost-user sockets: \(d.log)")

        // The container side: its own file prefix, no hugepages; both of its lcores on
        // CPU 0, so gbpd's busy-polling worker keeps CPU 1.
        let testpmdLog = g.path("testpmd.log")
        let testpmdPrefix = "gbpt-testpmd-\(getpid())"
        let tp = try E2EChild([
            "timeout", "--kill-after=5", "60", "dpdk-testpmd", "--lcores", "0@0,1@0", "--no-huge", "-m", "512", "--file-prefix", testpmdPrefix,
            "--no-pci", "--log-level", "*:warning",
            "--vdev", "virtio_user0,path=\(sock0),mac=02:00:00:00:c0:00,queues=1",
            "--vdev", "virtio_user1,path=\(sock1),mac=02:00:00:00:c1:00,queues=1",
            "--", "-i", "--total-num-mbufs=4096", "--forward-mode=rxonly",
            "--eth-peer=0,02:00:00:00:c1:00", "--eth-peer=1,02:00:00:00:c0:00", "--tx-ip=10.9.0.1,10.9.0.2",
        ], stdout: testpmdLog, stdin: .pipe)
        defer {
            tp.terminate()
            E2E.removeDPDKRuntimeDir(prefix: testpmdPrefix)
        }
        func testpmdOutput() -> String { (try? String(contentsOfFile: testpmdLog, encoding: .utf8)) ?? "" }
        try #require(E2E.eventually(within: 20, every: 0.1) { testpmdOutput().contains("testpmd> ") || !tp.isRunning },
                     "testpmd did not start")
        try #require(tp.isRunning, "testpmd exited: \(testpmdOutput())")

        let sent = Self.bursts * Self.burstSize
        tp.write("start tx_first \(Self.bursts)\n")
        // Until port 1 has received what port 0 sent (or 15 s), then half a second more.
        _ = E2E.eventually(within: 15, every: 0.3) {
            tp.write("show port stats 1\n")
            Thread.sleep(forTimeInterval: 0.1)
            return Self.counters(testpmdOutput(), block: "NIC statistics for port 1").rx >= sent
        }
        Thread.sleep(forTimeInterval: 0.5)
        tp.write("stop\n")
        Thread.sleep(forTimeInterval: 0.5)
        tp.write("show port stats all\n")
        tp.write("quit\n")
        tp.closeStdin()
        #expect(tp.wait(timeout: 20) == 0, "testpmd did not quit cleanly: \(testpmdOutput())")
        let out = testpmdOutput()
        let s = d.stop()
        #expect(s.status == 0, "\(s)")

        // testpmd's side: the engine's forward statistics and the ports' own counters.
        let fwd0 = Self.counters(out, block: "Forward statistics for port 0")
        let fwd1 = Self.counters(out, block: "Forward statistics for port 1")
        let nic0 = Self.counters(out, block: "NIC statistics for port 0")
        let nic1 = Self.counters(out, block: "NIC statistics for port 1")
        #expect(fwd0.tx == sent && fwd1.tx == sent, "testpmd sent \(sent) per port: \(fwd0) \(fwd1)\n\(out.suffix(3000))")
        #expect(nic0.tx == fwd0.tx && nic1.tx == fwd1.tx && nic0.rx == fwd0.rx && nic1.rx == fwd1.rx,
                "testpmd's port and engine counters differ: \(nic0) \(nic1) \(fwd0) \(fwd1)")

        // Both sides agree: what c0 sent arrived, what c1 sent was dropped as spoofed.
        #expect(s.port("c0", "rx") == fwd0.tx, "gbpd rx on c0 == testpmd tx on port 0: \(s)")
        #expect(s.port("c1", "tx") == fwd0.tx, "gbpd tx on c1 == testpmd tx on port 0: \(s)")
        #expect(fwd1.rx == fwd0.tx, "testpmd rx on port 1 == testpmd tx on port 0: \(fwd1) \(fwd0)")
        #expect(s.port("c1", "rx") == fwd1.tx, "gbpd rx on c1 == testpmd tx on port 1: \(s)")
        #expect(s.drop(.spoofedIP) == fwd1.tx, "every frame of port 1 dropped as spoofed_ip: \(s)")
        #expect(s.port("c0", "tx") == 0 && fwd0.rx == 0, "nothing goes back to port 0: \(s)")
        #expect(s.int("rx") == 2 * sent && s.int("tx") == sent && s.int("dropped") == sent, "\(s)")
        #expect(s.port("c1", "tx_refused") == 0, "\(s)")
        #expect(s.int("mempool_in_use_at_exit") == 0, "\(s)")
    }

    /// RX-packets and TX-packets in the last block of testpmd output titled `block`.
    static func counters(_ out: String, block: String) -> (rx: Int, tx: Int) {
        guard let start = out.range(of: block, options: .backwards) else { return (-1, -1) }
        let rest = out[start.upperBound...]
        func value(_ key: String) -> Int {
            guard let r = rest.range(of: key) else { return -1 }
            let digits = rest[r.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
            return Int(digits) ?? -1
        }
        return (value("RX-packets:"), value("TX-packets:"))
    }
}
