/// An ethdev port id (`uint16_t port_id` in DPDK).
@frozen
public struct PortID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    public var description: String { "port \(rawValue)" }
}

/// An rx or tx queue id of one port (`uint16_t queue_id`).
@frozen
public struct QueueID: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
}

/// An lcore id (`unsigned lcore_id`).
@frozen
public struct LcoreID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public var description: String { "lcore \(rawValue)" }
}
