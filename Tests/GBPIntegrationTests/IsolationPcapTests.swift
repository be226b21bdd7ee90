import Foundation
import GBPCore
import Testing

/// The isolation and spoofing table (`Isolation.cases`) through gbpd on pcap ports: every
/// frame, sent from s1's port, has exactly its expected outcome, and nothing leaves by the
/// other tenant's port. (The null and ring PMDs carry no chosen frames into gbpd from
/// outside, so pcap is the in-process port type here; af_packet and tap are in
/// IsolationPodTests.)
@Suite(.serialized)
struct IsolationPcapTests {
    @Test func nothingCrossesTenantsAndSpoofedSourcesAreDropped() throws {
        let g = try GBPDProcess("isolation")
        defer { g.cleanUp() }
        let cases = Isolation.cases
        try g.writePcap("pa-in.pcap", cases.map(\.frame))
        try g.writePcap("pb-in.pcap", [])
        try g.writePcap("pc-in.pcap", [])
        let r = try g.run(config: """
            \(g.pcapHeader(ports: ["pa", "pb", "pc"]))
            \(Isolation.policy(a: "pa", b: "pb", c: "pc"))
            run: { stop_when_inputs_drained: true, stats_interval_s: 0 }
            """)
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")

        #expect(try g.readPcap("pc-out.pcap").isEmpty, "nothing reaches the other tenant's port")
        let toPeer = try g.readPcap("pb-out.pcap")
        let expectedToPeer = cases.filter { $0.expect == .toPeer }
        #expect(toPeer == expectedToPeer.map(\.frame),
                "to s2's port: expected \(expectedToPeer.map(\.name)), missing \(expectedToPeer.filter { !toPeer.contains($0.frame) }.map(\.name)), unexpected \(cases.filter { $0.expect != .toPeer && toPeer.contains($0.frame) }.map(\.name))")
        let answers = try g.readPcap("pa-out.pcap")
        #expect(answers.count == cases.filter { $0.expect == .answered }.count)
        #expect(answers.allSatisfy { Array($0[6..<12]) == Isolation.macS2.octets }, "answers come from s2's MAC")

        for (reason, n) in Isolation.expectedDrops(cases) {
            #expect(r.drop(reason) == n, "\(reason.name): \(r.drop(reason)), expected \(n): \(cases.filter { $0.expect == .drop(reason) }.map(\.name))")
        }
        #expect(r.int("dropped") == Isolation.expectedDrops(cases).values.reduce(0, +), "\(r.stats?["drops"] ?? [:])")
        #expect(r.int("rx") == cases.count)
        #expect(r.int("mempool_in_use_at_exit") == 0)
    }
}
