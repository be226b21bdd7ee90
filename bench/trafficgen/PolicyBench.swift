import ArgumentParser
import GBPCore
#if canImport(Glibc)
import Glibc
#endif

/// A policy of benchmark size and the traffic that exercises it, written together: a gbpd
/// config (`--out-config`) and the pcap port 0 replays (`--out-pcap`).
///
/// Policy: one tenant `bench`; `--groups` groups, the first half consumer groups `c<i>`
/// whose endpoints sit on port `in` (port 0), the second half provider groups `p<j>` on
/// port `out` (port 1). `--endpoints` endpoints spread round-robin over the groups, each
/// with a unique MAC (02:00:00:xx:xx:xx) and IPv4 address (10.x.y.z). `--contracts`
/// contracts, each between one consumer group and one provider group (every pair distinct;
/// consumer i gets providers i, i+1, ... mod the provider count), with four rules:
///
///     udp-deny  udp [B+15]          deny, priority 10   (carves one port out of ...)
///     udp       udp [B..B+15]       allow               (B = 10000 + 32 * contract index)
///     https     tcp [443, 8443]     allow
///     tcp-range tcp [T..T+99]       allow               (T = 40000 + 16 * (index mod 1000))
///
/// Traffic: 64-byte UDP frames (60 bytes + FCS), each from a consumer endpoint (its own MAC
/// and address, so anti-spoofing passes) to an endpoint of a provider group its group has a
/// contract with. Flow f starts at consumer endpoint f mod (consumer endpoints), source port
/// 1024 + f / (consumer endpoints): every flow is a distinct 5-tuple. The contract, the
/// provider endpoint and the destination port inside [B, B+14] are drawn from a seeded
/// generator, so every run writes the same files.
///
/// - Established flows (default): `--flows` flows, `--frames` frames cycling over them
///   (frame k belongs to flow k mod flows). Every `--deny-every`-th flow goes to port B+15
///   and is dropped (`denied_by_rule`) on every packet; the others are admitted on their
///   first packet and hit the connection table afterwards.
/// - New flows (`--new-flows N`): N frames, one per flow, all allowed. With a UDP timeout
///   shorter than one pass over the file (`--udp-timeout`, e.g. 0.001 s), every flow has
///   expired by the time the file loops, so every packet opens a connection.
///
/// Variants for the benchmark's curves and traffic mixes:
/// - `--extra-rules N` adds N allow rules to every contract, UDP single ports in 50000...64999,
///   which no frame uses (rules = contracts x (4 + N)): more rules, the same traffic.
/// - `--source-groups K` takes the sources from the first K consumer groups only, so that the
///   traffic touches the same endpoints whatever the number of contracts.
/// - `--sizes imix` gives frames of 64, 570 and 1518 bytes on the wire (7:4:1, the simple IMIX)
///   instead of 64 bytes: UDP payloads padded to size.
/// - `--mix` writes a container host's mix instead of UDP only (established flows): per 20
///   flows, 14 TCP connections to 443 (a SYN first, then ACKs), 2 UDP "DNS-like" flows to an
///   allowed UDP port, 1 ARP request for a provider endpoint (proxy-answered by gbpd), 3
///   denied UDP flows (the deny port); `--deny-every` is ignored.
///
/// The config is complete and runnable (`gbpd --config FILE`, or `--check`): EAL, one worker,
/// the two ports (port 0 replays the pcap with infinite_rx, port 1 is net_null with no rx),
/// then, after the line `# --- policy ---`, the conntrack settings and the policy.
/// bench/run keeps what follows that line and writes its own runtime part above it.
struct PolicyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy-bench",
        abstract: "Write a benchmark policy config (--out-config) and the traffic for it (--out-pcap).")

    static let policyMarker = "# --- policy ---"

    @Option(help: "Output gbpd config (YAML).") var outConfig: String
    @Option(help: "Output pcap (port 0's input).") var outPcap: String
    @Option(help: "Endpoints (half on port 0 in consumer groups, half on port 1 in provider groups).") var endpoints = 10_000
    @Option(help: "Endpoint groups (an even number: half consumers, half providers).") var groups = 200
    @Option(help: "Contracts (at most (groups/2)^2), each with 4 rules.") var contracts = 1000
    @Option(help: "Established flows.") var flows = 4096
    @Option(help: "Frames in the pcap (established flows); at least --flows.") var frames = 8192
    @Option(help: "Every N-th established flow is denied by rule (0: none).") var denyEvery = 20
    @Option(help: "New-flow mode: N frames, one per distinct flow, all allowed (0: off).") var newFlows = 0
    @Option(help: "conntrack.capacity in the config (0: leave it out).") var conntrackCapacity = 0
    @Option(help: "conntrack.timeouts.udp_s in the config (0: leave it out).") var udpTimeout = 0.0
    @Option(help: "mempool.mbufs in the config (0: enough for the pcap's frames plus the descriptors).") var mbufs = 0
    @Option(help: "EAL --file-prefix in the config.") var filePrefix = "gbp-policy-bench"
    @Option(help: "Seed of the traffic's random choices.") var seed: UInt64 = 1
    @Option(help: "Extra allow rules per contract (UDP ports no frame uses).") var extraRules = 0
    @Option(help: "Sources from the first K consumer groups only (0: all).") var sourceGroups = 0
    @Option(help: "Frame sizes: 64 or imix (64/570/1518 bytes on the wire, 7:4:1).") var sizes = "64"
    @Flag(help: "A container host's mix: TCP connections, UDP, ARP, denied UDP (see above).") var mix = false

    func validate() throws {
        guard groups >= 2, groups % 2 == 0 else { throw ValidationError("--groups must be even and at least 2") }
        guard endpoints >= groups else { throw ValidationError("--endpoints must be at least --groups") }
        guard endpoints < 1 << 24 else { throw ValidationError("--endpoints must be below 2^24 (10.x.y.z)") }
        let half = groups / 2
        guard contracts >= 1, contracts <= half * half else { throw ValidationError("--contracts must be 1...\(half * half)") }
        guard contracts <= 1000 else { throw ValidationError("--contracts must be at most 1000 (port ranges)") }
        if newFlows == 0 {
            guard flows >= 1, frames >= flows else { throw ValidationError("need 1 <= --flows <= --frames") }
        }
        guard newFlows >= 0, denyEvery >= 0, extraRules >= 0, sourceGroups >= 0 else { throw ValidationError("negative count") }
        guard extraRules <= 15_000 else { throw ValidationError("--extra-rules must be at most 15000") }
        guard sizes == "64" || sizes == "imix" else { throw ValidationError("--sizes must be 64 or imix") }
        guard !(mix && newFlows > 0) else { throw ValidationError("--mix is for established flows, not --new-flows") }
    }

    struct Endpoint { let name: String; let group: Int; let mac: MACAddress; let ip: IPAddress }

    func run() throws {
        let half = groups / 2
        // Endpoint e: group e mod groups, MAC 02:00:00 + (e+1), address 10.0.0.0 + (e+1).
        var eps: [Endpoint] = []
        var members = [[Int]](repeating: [], count: groups)
        for e in 0..<endpoints {
            let g = e % groups
            eps.append(Endpoint(name: "e\(e)", group: g, mac: MACAddress(raw: 0x0200_0000_0000 | UInt64(e + 1)),
                                ip: IPAddress(v4: 0x0A00_0000 | UInt32(e + 1))))
            members[g].append(e)
        }
        func groupName(_ g: Int) -> String { g < half ? "c\(g)" : "p\(g - half)" }
        // Contract c: consumer group c mod half, provider group (consumer + c / half) mod half.
        var contractsOf = [[Int]](repeating: [], count: half)
        func consumer(_ c: Int) -> Int { c % half }
        func provider(_ c: Int) -> Int { half + (c % half + c / half) % half }
        for c in 0..<contracts { contractsOf[consumer(c)].append(c) }
        func udpBase(_ c: Int) -> Int { 10_000 + 32 * c }

        // Traffic.
        let sourceLimit = sourceGroups > 0 ? min(sourceGroups, half) : half
        let consumers = (0..<endpoints).filter { eps[$0].group < sourceLimit && !contractsOf[eps[$0].group].isEmpty }
        guard !consumers.isEmpty else { throw ValidationError("no consumer endpoint has a contract") }
        var rng = SplitMix(state: seed)
        let flowCount = newFlows > 0 ? newFlows : flows
        guard flowCount <= consumers.count * 64_000 else { throw ValidationError("too many flows for distinct 5-tuples") }
        var flowSpecs: [Flow] = []
        flowSpecs.reserveCapacity(flowCount)
        var denied = 0
        for f in 0..<flowCount {
            let src = eps[consumers[f % consumers.count]]
            let srcPort = UInt16(1024 + f / consumers.count)
            let options = contractsOf[src.group]
            let c = options[Int(rng.next() % UInt64(options.count))]
            let pm = members[provider(c)]
            let dst = eps[pm[Int(rng.next() % UInt64(pm.count))]]
            let kind = mix ? Self.mixKind(f) : .udp
            let deny = kind == .denied || (!mix && newFlows == 0 && denyEvery > 0 && f % denyEvery == denyEvery - 1)
            let dstPort = kind == .tcp ? 443 : UInt16(udpBase(c) + (deny ? 15 : Int(rng.next() % 15)))
            if deny { denied += 1 }
            flowSpecs.append(Flow(kind: deny ? .denied : kind, src: src, dst: dst, srcPort: srcPort, dstPort: dstPort))
        }
        let frameCount = newFlows > 0 ? newFlows : frames
        let w = try PcapWriter(path: outPcap)
        var bytesOnWire = 0, firstSize = 0
        for k in 0..<frameCount {
            // A TCP connection's first frame in the file is its SYN, the later ones ACKs.
            let frame = flowSpecs[k % flowCount].frame(first: k < flowCount, wire: sizes == "imix" ? Self.imixSize(k) : 64)
            if k == 0 { firstSize = frame.count }
            bytesOnWire += max(frame.count, 60) + 4
            try w.write(frame)
        }
        try w.close()

        // Config.
        let pool = mbufs > 0 ? mbufs : Self.poolSize(frames: frameCount)
        var y = """
        # Written by gbp-trafficgen policy-bench: \(endpoints) endpoints in \(groups) groups, \(contracts) contracts,
        # traffic in \(outPcap): \(frameCount) frames over \(flowCount) \(newFlows > 0 ? "new flows (one frame each)" : "flows, \(denied) of them denied").
        eal: [-l, "0-1", --no-huge, -m, "1024", --no-pci, --file-prefix, \(filePrefix), --log-level, "*:warning"]
        workers: [1]
        mempool: { mbufs: \(pool), cache: 256 }
        descriptors: { rx: 1024, tx: 1024 }
        ports:
          - { name: in, devargs: "net_pcap0,rx_pcap=\(outPcap),infinite_rx=1,tx_pcap=/dev/null" }
          - { name: out, devargs: "net_null0,no-rx=1" }
        run: { stats_interval_s: 1 }
        \(Self.policyMarker)

        """
        if conntrackCapacity > 0 || udpTimeout > 0 {
            var parts: [String] = []
            if conntrackCapacity > 0 { parts.append("capacity: \(conntrackCapacity)") }
            if udpTimeout > 0 { parts.append("timeouts: { udp_s: \(udpTimeout) }") }
            y += "conntrack: { \(parts.joined(separator: ", ")) }\n"
        }
        y += "tenants:\n  - { name: bench }\ngroups:\n"
        for g in 0..<groups { y += "  - { name: \(groupName(g)), tenant: bench }\n" }
        y += "endpoints:\n"
        for e in eps {
            y += "  - { name: \(e.name), tenant: bench, group: \(groupName(e.group)), port: \(e.group < half ? "in" : "out"), "
            y += "mac: \"\(e.mac)\", ips: [\(e.ip)] }\n"
        }
        y += "contracts:\n"
        for c in 0..<contracts {
            let b = udpBase(c), t = 40_000 + 16 * (c % 1000)
            var extra = ""
            for i in 0..<extraRules {
                extra += "      - { name: x\(i), protocol: udp, ports: [\"\(50_000 + (c * extraRules + i) % 15_000)\"] }\n"
            }
            y += """
              - name: k\(c)
                tenant: bench
                consumers: [\(groupName(consumer(c)))]
                providers: [\(groupName(provider(c)))]
                rules:
                  - { name: udp-deny, protocol: udp, ports: ["\(b + 15)"], action: deny, priority: 10 }
                  - { name: udp, protocol: udp, ports: ["\(b)-\(b + 15)"] }
                  - { name: https, protocol: tcp, ports: ["443", "8443"] }
                  - { name: tcp-range, protocol: tcp, ports: ["\(t)-\(t + 99)"] }

            """ + extra
        }
        try writeText(y, to: outConfig)
        print("wrote \(outConfig) (\(endpoints) endpoints, \(groups) groups, \(contracts) contracts) and \(outPcap): "
              + "\(frameCount) frames (\(sizes == "imix" ? "imix" : "64 bytes"), \(bytesOnWire) bytes on the wire) over \(flowCount) "
              + (newFlows > 0 ? "new flows" : "flows (\(denied) denied)") + (mix ? ", container mix" : "")
              + ", \(contracts * (4 + extraRules)) rules")
    }

    enum FlowKind { case udp, tcp, arp, denied }

    /// Per 20 flows: 14 TCP, 2 UDP, 1 ARP, 3 denied UDP.
    static func mixKind(_ f: Int) -> FlowKind {
        switch f % 20 {
        case 0..<14: return .tcp
        case 14, 15: return .udp
        case 16: return .arp
        default: return .denied
        }
    }

    /// The simple IMIX: 7 x 64, 4 x 570, 1 x 1518 bytes on the wire, interleaved.
    static func imixSize(_ k: Int) -> Int {
        let pattern = [64, 64, 570, 64, 64, 570, 64, 1518, 64, 570, 64, 570]
        return pattern[k % pattern.count]
    }

    /// One flow of the traffic: its frames are built from these fields.
    struct Flow {
        let kind: FlowKind
        let src: Endpoint, dst: Endpoint
        let srcPort: UInt16, dstPort: UInt16

        /// A frame of `wire` bytes on the wire (FCS included; 64: no payload, padded by the builder).
        func frame(first: Bool, wire: Int) -> [UInt8] {
            switch kind {
            case .arp:
                return PacketBuilder.arp(op: 1, senderMAC: src.mac, senderIP: src.ip, targetIP: dst.ip)
            case .tcp:
                let payload = [UInt8](repeating: 0, count: max(0, wire - 4 - 54))
                return PacketBuilder.tcp(srcMAC: src.mac, dstMAC: dst.mac, src: src.ip, dst: dst.ip, srcPort: srcPort,
                                         dstPort: dstPort, flags: first ? .syn : .ack, seq: first ? 1 : 2,
                                         ack: first ? 0 : 1, payload: first ? [] : payload)
            case .udp, .denied:
                let payload = [UInt8](repeating: 0, count: max(0, wire - 4 - 42))
                return PacketBuilder.udp(srcMAC: src.mac, dstMAC: dst.mac, src: src.ip, dst: dst.ip, srcPort: srcPort,
                                         dstPort: dstPort, payload: payload)
            }
        }
    }

    /// 2^k - 1 mbufs covering the frames the pcap PMD keeps plus descriptors and caches.
    static func poolSize(frames: Int) -> Int {
        var n = 1024
        while n - 1 < frames + 2048 + 4 * 256 + 128 { n <<= 1 }
        return n - 1
    }
}

/// SplitMix64: seeded, so every run writes the same traffic.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func writeText(_ text: String, to path: String) throws {
    guard let f = fopen(path, "w") else { throw ValidationError("cannot write \(path)") }
    defer { fclose(f) }
    let bytes = Array(text.utf8)
    guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw ValidationError("short write to \(path)") }
}
