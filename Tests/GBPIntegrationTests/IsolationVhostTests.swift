import Foundation
import GBPCore
import Testing

/// The isolation and spoofing table (`Isolation.cases`) on vhost-user ports. dpdk-testpmd
/// plays the three containers, each a virtio_user port on one of gbpd's sockets, paired
/// in io forwarding mode with a pcap port: s1's pcap port replays every case's frame into
/// gbpd and records what comes back (the answers), s2's and o1's pcap ports record what
/// gbpd delivered to them. o1 gets nothing; s2 gets exactly its frames; drops by reason
/// match the table.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root (vhost-user sockets and DPDK in two processes)"))
struct IsolationVhostTests {
    @Test func nothingCrossesTenantsOverVhostUser() throws {
        if E2E.missingTool(["dpdk-testpmd", "timeout"]) != nil {
            try Test.cancel("skipped: dpdk-testpmd not found: install the Debian package dpdk (listed in .ci/install-deps)")
        }
        for pmd in ["vhost", "virtio", "pcap"] where !E2E.hasPMD(pmd) {
            try Test.cancel(Comment(rawValue: "skipped: this DPDK build has no net_\(pmd) PMD (librte_net_\(pmd).so)"))
        }
        let g = try GBPDProcess("iso-vhost")
        defer { g.cleanUp() }
        let sock = ["a", "b", "c"].map { g.path("\($0).sock") }
        let d = try E2EDaemon(g, config: """
            eal: \(g.eal)
            workers: [1]
            mempool: { mbufs: 4095, cache: 64 }
            descriptors: { rx: 256, tx: 256 }
            control: { socket: \(g.path("gbpd.sock")) }
            ports:
              - { name: va, devargs: "net_vhost0,iface=\(sock[0]),queues=1" }
              - { name: vb, devargs: "net_vhost1,iface=\(sock[1]),queues=1" }
              - { name: vc, devargs: "net_vhost2,iface=\(sock[2]),queues=1" }
            \(Isolation.policy(a: "va", b: "vb", c: "vc"))
            run: { stats_interval_s: 0 }
            """, lifetime: 60)
        try #require(sock.allSatisfy { d.waitForFile($0) }, "gbpd made no vhost-user sockets: \(d.log)")

        let cases = Isolation.cases
        try g.writePcap("cases.pcap", cases.map(\.frame))
        try g.writePcap("empty.pcap", [])
        // Ports 0-1, 2-3, 4-5 are paired by io forwarding: pcap <-> virtio_user.
        let testpmdLog = g.path("testpmd.log"), testpmdPrefix = "gbpt-testpmd-iso-\(getpid())"
        let tp = try E2EChild([
            "timeout", "--kill-after=5", "60", "dpdk-testpmd", "--lcores", "0@0,1@0", "--no-huge", "-m", "512",
            "--file-prefix", testpmdPrefix, "--no-pci", "--log-level", "*:warning",
            "--vdev", "net_pcap0,rx_pcap=\(g.path("cases.pcap")),tx_pcap=\(g.path("a-back.pcap"))",
            "--vdev", "virtio_user0,path=\(sock[0]),mac=\(Isolation.macS1),queues=1",
            "--vdev", "virtio_user1,path=\(sock[1]),mac=\(Isolation.macS2),queues=1",
            "--vdev", "net_pcap1,rx_pcap=\(g.path("empty.pcap")),tx_pcap=\(g.path("b-out.pcap"))",
            "--vdev", "virtio_user2,path=\(sock[2]),mac=\(Isolation.macO1),queues=1",
            "--vdev", "net_pcap2,rx_pcap=\(g.path("empty.pcap")),tx_pcap=\(g.path("c-out.pcap"))",
            "--", "-i", "--total-num-mbufs=4096", "--forward-mode=io", "--no-flush-rx",   // keep the replayed frames at start
        ], stdout: testpmdLog, stdin: .pipe)
        defer {
            tp.terminate()
            E2E.removeDPDKRuntimeDir(prefix: testpmdPrefix)
        }
        func testpmdOutput() -> String { (try? String(contentsOfFile: testpmdLog, encoding: .utf8)) ?? "" }
        try #require(E2E.eventually(within: 20, every: 0.1) { testpmdOutput().contains("testpmd> ") || !tp.isRunning },
                     "testpmd did not start")
        try #require(tp.isRunning, "testpmd exited: \(testpmdOutput())")

        var before: IsolationPodTests.Counters?
        _ = E2E.eventually(within: 20, every: 0.2) { before = try? IsolationPodTests.Counters(g); return before != nil || !d.isRunning }
        let start = try #require(before, "gbpd does not answer on its control socket: \(d.log)")
        Thread.sleep(forTimeInterval: 0.5)   // the virtio links are up
        tp.write("start\n")
        let delivered = E2E.eventually(within: 15, every: 0.2) {
            ((try? IsolationPodTests.Counters(g))?.rx["va"] ?? 0) >= cases.count
        }
        if !delivered {
            tp.write("show port stats all\n")
            Thread.sleep(forTimeInterval: 1.5)
        }
        #expect(delivered, "gbpd did not receive the \(cases.count) frames: \(testpmdOutput().suffix(8000))")
        Thread.sleep(forTimeInterval: 0.5)
        let end = try IsolationPodTests.Counters(g)
        tp.write("stop\n")
        tp.write("quit\n")
        tp.closeStdin()
        #expect(tp.wait(timeout: 20) == 0, "testpmd did not quit cleanly: \(testpmdOutput().suffix(2000))")
        if !delivered { print(testpmdOutput().suffix(6000)) }
        let s = d.stop()
        #expect(s.status == 0, "\(s)")

        #expect(try g.readPcap("c-out.pcap").isEmpty, "the other tenant's container received frames")
        let atS2 = try g.readPcap("b-out.pcap")
        for c in cases {
            #expect(atS2.contains(c.frame) == (c.expect == .toPeer), "\(c.name): expected \(c.expect)")
        }
        #expect(atS2.count == cases.filter { $0.expect == .toPeer }.count)
        #expect(try g.readPcap("a-back.pcap").count == cases.filter { $0.expect == .answered }.count)
        let expected = Isolation.expectedDrops(cases)
        for reason in Set(expected.keys).union(end.drops.keys.compactMap { name in DropReason.allCases.first { $0.name == name } }) {
            let n = end.drops[reason.name, default: 0] - start.drops[reason.name, default: 0]
            #expect(n == expected[reason, default: 0], "\(reason.name): \(n), expected \(expected[reason, default: 0])")
        }
        #expect(s.balanced, "\(s)")
        #expect(s.int("mempool_in_use_at_exit") == 0, "\(s)")
    }
}
