import ArgumentParser
import GBPCore

/// Writes the pcaps that the demo and the benchmarks replay.
struct TrafficGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gbp-trafficgen",
        abstract: "Generate pcap traffic for the gbpd demo and benchmarks.",
        subcommands: [Demo.self, Stream.self, PolicyBench.self, Hostile.self, FuzzSeeds.self])
}

/// The demo's two inputs (see config/demo.yaml).
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the demo inputs config/demo-pod-{a,b,c}.pcap.")
    @Option(help: "Output folder.") var out = "config"

    func run() throws {
        let macA = MACAddress("02:00:00:00:0a:01")!, macB = MACAddress("02:00:00:00:0b:01")!
        let macC = MACAddress("02:00:00:00:0c:01")!
        let ipA = IPAddress("10.0.0.1")!, ipB = IPAddress("10.0.0.2")!, ipC = IPAddress("10.0.0.3")!
        let unknown = MACAddress("02:00:00:00:ff:ff")!
        var a: [[UInt8]] = []
        // web-1 (pod-a) asks for db-1's MAC: broadcast, flooded to pod-b and pod-c.
        a.append(PacketBuilder.arp(op: 1, senderMAC: macA, senderIP: ipA, targetIP: ipB))
        // 20 TCP segments from web-1 to db-1 (port 5432): unicast to pod-b.
        for i in 0..<20 {
            a.append(PacketBuilder.tcp(srcMAC: macA, dstMAC: macB, src: ipA, dst: ipB, srcPort: 40000 + UInt16(i % 4),
                                       dstPort: 5432, flags: i < 4 ? .syn : .ack, seq: UInt32(i)))
        }
        // 5 pings from web-1 to cache-1 (pod-c).
        for i in 0..<5 { a.append(PacketBuilder.icmpEcho(srcMAC: macA, dstMAC: macC, src: ipA, dst: ipC, id: 7, seq: UInt16(i))) }
        // A frame for a MAC nobody has: unknown unicast, flooded.
        a.append(PacketBuilder.udp(srcMAC: macA, dstMAC: unknown, src: ipA, dst: IPAddress("10.0.0.99")!, srcPort: 5353, dstPort: 53))
        // A frame for web-1 itself arriving on web-1's port: dropped (destination on ingress port).
        a.append(PacketBuilder.udp(srcMAC: macC, dstMAC: macA, src: ipC, dst: ipA, srcPort: 1, dstPort: 2))
        // A runt frame (10 bytes): dropped.
        a.append([UInt8](repeating: 0xAB, count: 10))

        var b: [[UInt8]] = []
        b.append(PacketBuilder.arp(op: 2, senderMAC: macB, senderIP: ipB, targetMAC: macA, targetIP: ipA, dstMAC: macA))
        for i in 0..<20 {
            b.append(PacketBuilder.tcp(srcMAC: macB, dstMAC: macA, src: ipB, dst: ipA, srcPort: 5432,
                                       dstPort: 40000 + UInt16(i % 4), flags: i < 4 ? [.syn, .ack] : .ack, seq: UInt32(i)))
        }
        // cache-1 (pod-c) answers the pings.
        let c = (0..<5).map { i in PacketBuilder.icmpEcho(srcMAC: macC, dstMAC: macA, src: ipC, dst: ipA, reply: true, id: 7, seq: UInt16(i)) }
        for (name, frames) in [("pod-a", a), ("pod-b", b), ("pod-c", c)] {
            try write(frames, "\(out)/demo-\(name).pcap")
            print("wrote \(out)/demo-\(name).pcap (\(frames.count) frames)")
        }
    }
}

/// A stream of minimum-size TCP frames over many flows, for throughput runs.
struct Stream: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write N 64-byte TCP frames (60 bytes without FCS) over F flows.")
    @Option(help: "Output pcap.") var out: String
    @Option(help: "Frames to write.") var count = 4096
    @Option(help: "Distinct flows (source ports).") var flows = 1024
    @Option(help: "Source MAC.") var srcMAC = "02:00:00:00:0a:01"
    @Option(help: "Destination MAC.") var dstMAC = "02:00:00:00:0b:01"
    @Option(help: "Source IP.") var srcIP = "10.0.0.1"
    @Option(help: "Destination IP.") var dstIP = "10.0.0.2"

    func run() throws {
        guard let sm = MACAddress(srcMAC), let dm = MACAddress(dstMAC), let si = IPAddress(srcIP), let di = IPAddress(dstIP) else {
            throw ValidationError("bad MAC or IP address")
        }
        let frames = (0..<count).map { i in
            PacketBuilder.tcp(srcMAC: sm, dstMAC: dm, src: si, dst: di, srcPort: UInt16(1024 + i % max(1, flows)),
                              dstPort: 80, flags: .ack, seq: UInt32(i))
        }
        try write(frames, out)
        print("wrote \(out): \(count) frames of \(frames[0].count) bytes over \(flows) flows")
    }
}

/// `fixedTime`: frame i is stamped at i ms after a fixed instant, so that the file is
/// the same on every run (for files kept in the repository).
func write(_ frames: [[UInt8]], _ path: String, fixedTime: Bool = false) throws {
    let w = try PcapWriter(path: path)
    for (i, f) in frames.enumerated() {
        try w.write(f, timestamp: fixedTime ? PcapTimestamp(seconds: 1_800_000_000, nanoseconds: UInt32(i) * 1_000_000) : nil)
    }
    try w.close()
}

TrafficGen.main()
