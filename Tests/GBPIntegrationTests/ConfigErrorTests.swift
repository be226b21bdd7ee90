import Foundation
import Testing

/// A bad config is rejected with file, line, field and reason, and gbpd exits 2
/// before touching DPDK.
@Suite
struct ConfigErrorTests {
    @Test func everyProblemIsReportedWithItsLine() throws {
        let g = try GBPDProcess("badconfig")
        defer { g.cleanUp() }
        let r = try g.run(config: """
        eal: [--no-huge]
        workers: [1]
        colour: blue
        ports:
          - { name: p0, devargs: "net_null0" }
          - { name: p0, devargs: "net_null1", role: spine }
        endpoints:
          - { name: e1, port: p9, mac: "02:00:00:00:00:01" }
          - { name: e2, port: p0, mac: "not-a-mac", ips: [10.0.0.300] }
        """)
        let file = g.path("gbpd.yaml")
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(file):3: colour: unknown key"))
        #expect(r.stderr.contains("\(file):6: ports[1].role: must be endpoint or uplink, got 'spine'"))
        #expect(r.stderr.contains("ports: port name 'p0' appears twice"))
        #expect(r.stderr.contains("\(file):8: endpoints[0].port: unknown port 'p9'"))
        #expect(r.stderr.contains("\(file):9: endpoints[1].mac: 'not-a-mac' is not a MAC address"))
        #expect(r.stderr.contains("endpoints[1].ips[0]: '10.0.0.300' is not an IPv4 or IPv6 address"))
        #expect(r.stats == nil)
    }
}
