import GBPCore
import GBPRuntime

/// An endpoint as the config file declares it.
public struct EndpointEntry: Sendable {
    public var name: String
    public var port: String
    public var mac: MACAddress
    public var ips: [IPAddress]
    public var group: String?
    public var tenant: String?
}

/// Everything `gbpd` reads from its config file.
public struct DaemonConfig: Sendable {
    public var file: String
    public var runtime: RuntimeConfig
    public var endpoints: [EndpointEntry]
}
