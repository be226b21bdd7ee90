import Foundation
import GBPCore
import Testing

/// The hostile corpus (`gbp-trafficgen hostile`: truncated headers, bad lengths, endless
/// IPv6 extension chains, tiny and overlapping fragments, stacked VLAN tags, runt and
/// jumbo frames...) through gbpd enforcing a policy: every frame gets exactly the verdict
/// written beside it, read back packet by packet from the verdict capture; gbpd exits 0,
/// its counters add up and no mbuf is left in use.
@Suite(.serialized)
struct HostileCorpusTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func config(_ g: GBPDProcess, capture: String) -> String {
        """
        eal: \(g.eal)
        workers: [1]
        mempool: { mbufs: 4095, cache: 64 }
        ports:
          - { name: pa, devargs: "net_pcap0,rx_pcap=\(g.path("hostile.pcap")),tx_pcap=\(g.path("pa-out.pcap"))" }
        \(g.pcapPort("pb", index: 1))
        \(GBPDProcess.shopPolicy())
        capture: { path: \(capture), packets: all }
        run: { stop_when_inputs_drained: true, stats_interval_s: 0 }
        """
    }

    /// Runs gbp-trafficgen (built beside gbpd) to write the corpus into the test's folder.
    func generate(_ g: GBPDProcess) throws -> [(expected: String, name: String)] {
        let p = Process()
        p.executableURL = GBPDProcess.binary.deletingLastPathComponent().appendingPathComponent("gbp-trafficgen")
        p.arguments = ["hostile", "--out", g.dir.path]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "gbp-trafficgen hostile failed")
        let text = try String(contentsOfFile: g.path("hostile.expected"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return (cols[1], cols[2])
        }
    }

    @Test func everyHostileFrameIsDroppedWithItsReason() throws {
        let g = try GBPDProcess("hostile")
        defer { g.cleanUp() }
        let cases = try generate(g)
        try g.writePcap("pb-in.pcap", [])
        let capture = g.path("verdicts.pcapng")
        let r = try g.run(config: config(g, capture: capture))
        #expect(r.status == 0, "gbpd failed: \(r.stderr)")

        let comments = try PcapngComments.read(capture)
        #expect(comments.count == cases.count, "one verdict per frame: \(comments.count) for \(cases.count) frames")
        for (i, c) in cases.enumerated() where i < comments.count {
            if c.expected == "forward" {
                #expect(comments[i].hasPrefix("verdict=allow ") && comments[i].hasSuffix("out=pb"),
                        "frame \(i + 1) (\(c.name)) must pass: \(comments[i])")
            } else {
                #expect(comments[i].hasPrefix("verdict=drop reason=\(c.expected) "),
                        "frame \(i + 1) (\(c.name)) must be dropped with \(c.expected): \(comments[i])")
            }
        }
        // Counters: every frame received, each dropped once with its reason or sent once.
        let forwarded = cases.filter { $0.expected == "forward" }.count
        #expect(r.int("rx") == cases.count)
        #expect(r.int("tx") == forwarded)
        #expect(r.int("dropped") == cases.count - forwarded)
        #expect(r.int("rx") == r.int("tx") + r.int("dropped"))
        for reason in Set(cases.map(\.expected)) where reason != "forward" {
            let want = cases.filter { $0.expected == reason }.count
            let got = ((r.stats?["drops"] as? [String: Any])?[reason] as? NSNumber)?.intValue ?? 0
            #expect(got == want, "\(reason): \(got) drops, \(want) expected")
        }
        #expect(r.int("mempool_in_use_at_exit") == 0)
        #expect(try g.readPcap("pb-out.pcap").count == forwarded)
    }

    /// config/hostile.pcap and config/hostile.expected, kept for users, are what the generator writes.
    @Test func committedCorpusMatchesTheGenerator() throws {
        let g = try GBPDProcess("hostile-files")
        defer { g.cleanUp() }
        _ = try generate(g)
        for file in ["hostile.pcap", "hostile.expected"] {
            let committed = FileManager.default.contents(atPath: Self.repoRoot.appendingPathComponent("config/\(file)").path)
            let generated = FileManager.default.contents(atPath: g.path(file))
            #expect(committed != nil && committed == generated,
                    "config/\(file) is stale: run `swift run gbp-trafficgen hostile --out config`")
        }
    }
}

/// The per-packet comments of a pcapng file (enhanced packet blocks, option 1), in order.
enum PcapngComments {
    static func read(_ path: String) throws -> [String] {
        let d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        func u32(_ i: Int) -> Int { Int(d[i]) | Int(d[i + 1]) << 8 | Int(d[i + 2]) << 16 | Int(d[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(d[i]) | Int(d[i + 1]) << 8 }
        var out: [String] = []
        var at = 0
        while at + 12 <= d.count {
            let type = u32(at), length = u32(at + 4)
            guard length >= 12, at + length <= d.count else { break }
            if type == 6 {
                let captured = u32(at + 20)
                var o = at + 28 + (captured + 3) / 4 * 4
                var comment = ""
                while o + 4 <= at + length - 4 {
                    let code = u16(o), n = u16(o + 2)
                    if code == 0 { break }
                    if code == 1 { comment = String(decoding: d[(o + 4)..<(o + 4 + n)], as: UTF8.self) }
                    o += 4 + (n + 3) / 4 * 4
                }
                out.append(comment)
            }
            at += length
        }
        return out
    }
}
