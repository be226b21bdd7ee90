import Foundation
import Testing
import GBPCore

private func tempPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID()).pcap").path
}

private func sampleFrames() -> [[UInt8]] {
    let a = MACAddress("02:00:00:00:00:01")!, b = MACAddress("02:00:00:00:00:02")!
    return [
        PacketBuilder.tcp(srcMAC: a, dstMAC: b, src: IPAddress("10.1.0.1")!, dst: IPAddress("10.1.0.2")!,
                          srcPort: 33000, dstPort: 7777, payload: PacketBuilder.pattern(count: 300)),
        PacketBuilder.udp(srcMAC: b, dstMAC: a, src: IPAddress("fd00::2")!, dst: IPAddress("fd00::1")!,
                          srcPort: 53, dstPort: 5353, vlans: [100]),
        PacketBuilder.arp(op: 1, senderMAC: a, senderIP: IPAddress("10.1.0.1")!, targetIP: IPAddress("10.1.0.9")!),
    ]
}

/// A classic pcap file assembled by hand, in either byte order and resolution.
private func handMadeFile(bigEndian: Bool, nano: Bool, frames: [[UInt8]], fraction: UInt32) -> [UInt8] {
    func u32(_ v: UInt32) -> [UInt8] {
        let le = [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
        return bigEndian ? le.reversed() : le
    }
    func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
    var out = u32(nano ? 0xA1B2_3C4D : 0xA1B2_C3D4) + u16(2) + u16(4) + u32(0) + u32(0) + u32(65535) + u32(1)
    for (i, f) in frames.enumerated() {
        out += u32(1_700_000_000 + UInt32(i)) + u32(fraction) + u32(UInt32(f.count)) + u32(UInt32(f.count)) + f
    }
    return out
}

@Suite struct PcapFileTests {
    @Test func roundTripKeepsFramesAndTimestamps() throws {
        let path = tempPath("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let frames = sampleFrames()
        let w = try PcapWriter(path: path)
        for (i, f) in frames.enumerated() {
            try w.write(f, timestamp: PcapTimestamp(seconds: 1_700_000_000 + UInt32(i), nanoseconds: 123_456_789))
        }
        try w.close()

        #expect(try PcapReader.readAll(path: path) == frames)
        let c = try PcapReader.read(path: path)
        #expect(c.linkType == 1 && !c.nanosecondResolution && c.snapLength == 65535)
        #expect(c.records.map(\.timestamp.seconds) == [1_700_000_000, 1_700_000_001, 1_700_000_002])
        // Microsecond files keep microseconds.
        #expect(c.records.allSatisfy { $0.timestamp.nanoseconds == 123_456_000 })
        #expect(c.records.map(\.originalLength) == frames.map(\.count))

        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes[0..<4]) == [0xD4, 0xC3, 0xB2, 0xA1])  // 0xa1b2c3d4, little-endian
        #expect(bytes.count == 24 + frames.reduce(0) { $0 + 16 + $1.count })
    }

    @Test func nanosecondFilesKeepNanoseconds() throws {
        let path = tempPath("nano")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try PcapWriter(path: path, nanosecondResolution: true)
        try w.write(sampleFrames()[0], timestamp: PcapTimestamp(seconds: 5, nanoseconds: 999_999_999))
        try w.close()
        let c = try PcapReader.read(path: path)
        #expect(c.nanosecondResolution)
        #expect(c.records.first?.timestamp == PcapTimestamp(seconds: 5, nanoseconds: 999_999_999))
    }

    @Test func snapLengthCutsLongFrames() throws {
        let path = tempPath("snap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try PcapWriter(path: path, snapLength: 64)
        let frame = sampleFrames()[0]
        try w.write(frame)
        try w.close()
        let r = try PcapReader.read(path: path).records
        #expect(r.count == 1 && r[0].data == Array(frame[0..<64]) && r[0].originalLength == frame.count)
    }

    @Test func defaultTimestampIsNow() throws {
        let path = tempPath("now")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let before = UInt32(Date().timeIntervalSince1970)
        let w = try PcapWriter(path: path)
        try w.write(sampleFrames()[2])
        try w.close()
        let t = try PcapReader.read(path: path).records[0].timestamp.seconds
        #expect(t >= before && t <= before + 5)
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func readsBothByteOrdersAndResolutions(bigEndian: Bool, nano: Bool) throws {
        let frames = sampleFrames()
        let file = handMadeFile(bigEndian: bigEndian, nano: nano, frames: frames, fraction: 500)
        let c = try PcapReader.decode(file)
        #expect(c.linkType == 1 && c.nanosecondResolution == nano)
        #expect(c.records.map(\.data) == frames)
        #expect(c.records[2].timestamp == PcapTimestamp(seconds: 1_700_000_002, nanoseconds: nano ? 500 : 500_000))
    }

    @Test func errorsNameTheFile() throws {
        let missing = "/nonexistent-dir-\(UUID())/x.pcap"
        do {
            _ = try PcapWriter(path: missing)
            Issue.record("opening \(missing) should fail")
        } catch let e as PcapError {
            #expect(e.kind == .open && e.path == missing && "\(e)".contains(missing))
            #expect("\(e)".contains("No such file"))
        }
        #expect(throws: PcapError.self) { try PcapReader.readAll(path: missing) }
    }

    @Test func rejectsGarbageAndTruncation() throws {
        #expect { try PcapReader.decode([UInt8](repeating: 0x55, count: 40)) } throws: {
            ($0 as? PcapError)?.kind == .badMagic
        }
        #expect { try PcapReader.decode([0xD4, 0xC3, 0xB2, 0xA1]) } throws: {
            ($0 as? PcapError)?.kind == .truncated
        }
        let good = handMadeFile(bigEndian: false, nano: false, frames: sampleFrames(), fraction: 0)
        #expect { try PcapReader.decode(Array(good.dropLast(1))) } throws: {
            ($0 as? PcapError)?.kind == .truncated
        }
        #expect { try PcapReader.decode(Array(good[0..<(24 + 10)])) } throws: {
            ($0 as? PcapError)?.kind == .truncated
        }
    }

    @Test func readAllWantsEthernet() throws {
        let path = tempPath("raw")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try PcapWriter(path: path, linkType: 101)  // LINKTYPE_RAW
        try w.write([0x45, 0, 0, 20])
        try w.close()
        #expect(try PcapReader.read(path: path).linkType == 101)
        #expect { try PcapReader.readAll(path: path) } throws: { ($0 as? PcapError)?.kind == .notEthernet }
    }

    @Test func writingAfterCloseThrows() throws {
        let path = tempPath("closed")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try PcapWriter(path: path)
        try w.close()
        try w.close()  // harmless
        #expect { try w.write([1, 2, 3]) } throws: { ($0 as? PcapError)?.kind == .closed }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")))
    func tsharkReadsWhatWeWrite() throws {
        for nano in [false, true] {
            let path = tempPath("tshark")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let w = try PcapWriter(path: path, nanosecondResolution: nano)
            for (i, f) in sampleFrames().enumerated() {
                try w.write(f, timestamp: PcapTimestamp(seconds: 1_700_000_000, nanoseconds: UInt32(i) * 1000))
            }
            try w.close()
            let out = try runTshark(["-r", path, "-T", "fields", "-e", "frame.len", "-e", "_ws.col.Protocol",
                                     "-e", "vlan.id", "-e", "frame.time_epoch"])
            let lines = out.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
            #expect(lines.count == 3, "\(out)")
            guard lines.count == 3 else { continue }
            #expect(lines.map { String($0[0]) } == sampleFrames().map { String($0.count) })
            #expect(lines.map { String($0[1]) } == ["TCP", "UDP", "ARP"])
            #expect(lines[1][2] == "100")
            #expect(lines[2][3].hasPrefix("1700000000.000002"))
        }
    }
}
