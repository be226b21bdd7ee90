/// The names of one container interface's attachment, all derived from the container id
/// and the interface name, so that DEL and CHECK find what ADD made without any state.
public struct Attachment: Equatable, Sendable {
    public let containerID: String
    public let ifname: String

    public init(containerID: String, ifname: String) {
        self.containerID = containerID
        self.ifname = ifname
    }

    /// FNV-1a, 64 bits: a stable hash (Swift's Hasher is seeded per process).
    static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    private var key: String { containerID + "/" + ifname }

    /// The host end of the veth: "gbp" and 11 hex digits (14 characters; Linux allows 15).
    /// It is also the gbpd port's name.
    public var hostInterface: String {
        let h = String(Self.fnv1a(key) >> 20, radix: 16)
        return "gbp" + String(repeating: "0", count: 11 - h.count) + h
    }

    public var portName: String { hostInterface }

    /// The af_packet devargs of the port (vdev names must be unique: the interface's name is).
    public func devargs(extra: String?) -> String {
        "net_af_packet_\(hostInterface),iface=\(hostInterface)" + (extra.map { "," + $0 } ?? "")
    }

    /// The container end's MAC: locally administered, unicast (first byte 0x02), stable.
    public var mac: String {
        let h = Self.fnv1a("mac:" + key)
        let bytes: [UInt8] = [0x02] + (0..<5).map { UInt8(truncatingIfNeeded: h >> (8 * $0)) }
        return bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined(separator: ":")
    }

    /// The endpoint's name in gbpd: "namespace/pod" from K8S_POD_NAMESPACE and K8S_POD_NAME,
    /// the pod (podman: the container) name alone, or "cni-" and 12 digits of the
    /// container id; with "@ifname" after it for any interface but eth0.
    public func endpointName(env: CNIEnvironment) -> String {
        let base: String
        switch (env.arg("K8S_POD_NAMESPACE").flatMap { $0.isEmpty ? nil : $0 }, env.arg("K8S_POD_NAME").flatMap { $0.isEmpty ? nil : $0 }) {
        case let (ns?, pod?): base = ns + "/" + pod
        case let (nil, pod?): base = pod
        default: base = "cni-" + String(containerID.prefix(12))
        }
        return ifname == "eth0" ? base : base + "@" + ifname
    }
}
