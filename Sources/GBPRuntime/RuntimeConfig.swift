import GBPCore

/// What the runtime needs to start: EAL, the mempool, ports and workers.
/// Built by the config loader in GBPControl; plain values only.
public struct RuntimeConfig: Sendable {
    public enum PortRole: String, Sendable { case endpoint, uplink }

    public struct Port: Sendable {
        public var name: String
        public var devargs: String
        public var role: PortRole
        /// The tenant of every packet received on this port (nil: its endpoints' tenant).
        public var tenant: String?
        public init(name: String, devargs: String, role: PortRole = .endpoint, tenant: String? = nil) {
            self.name = name; self.devargs = devargs; self.role = role; self.tenant = tenant
        }
    }

    /// L2 attachment of an endpoint: frames for `mac` leave through `port`.
    public struct Station: Sendable {
        public var name: String
        public var port: String
        public var mac: MACAddress
        public init(name: String, port: String, mac: MACAddress) { self.name = name; self.port = port; self.mac = mac }
    }

    public var ealArguments: [String]
    public var mempoolSize: Int = 16383
    public var mempoolCache: Int = 256
    public var rxDescriptors: Int = 1024
    public var txDescriptors: Int = 1024
    public var workerLcores: [UInt32]
    public var ports: [Port]
    public var stations: [Station] = []
    /// The policy to enforce; nil makes gbpd a plain L2 switch.
    public var policy: PolicySpec?
    /// Connection-table entries per worker.
    public var conntrackCapacity: Int = 1 << 16
    /// Share of each worker's table one tenant may hold (1: no budget).
    public var conntrackTenantBudget: Double = 1
    public var conntrackTimeouts = ConntrackTimeouts()
    /// Verdict capture to a pcapng file: every dropped packet (or every packet) with
    /// its verdict, contract, rule and drop reason as a per-packet comment.
    public struct Capture: Sendable, Equatable {
        public var path: String
        public var allPackets: Bool
        public var ringSlots: Int
        public init(path: String, allPackets: Bool = false, ringSlots: Int = 4096) {
            self.path = path; self.allPackets = allPackets; self.ringSlots = ringSlots
        }
    }
    public var capture: Capture?
    /// Flow log: lines per second at most (the rest are counted as suppressed), and
    /// whether every policy drop is logged, not only rules with `log: true`.
    public var flowLogPerSecond: Int = 20
    public var logDeniedFlows = false
    /// Stop by itself once every finite pcap input has been received and forwarded.
    public var stopWhenInputsDrained: Bool = false
    /// Seconds between stats lines on stdout (0: none).
    public var statsInterval: Double = 1

    public init(ealArguments: [String], workerLcores: [UInt32], ports: [Port]) {
        self.ealArguments = ealArguments; self.workerLcores = workerLcores; self.ports = ports
    }
}
