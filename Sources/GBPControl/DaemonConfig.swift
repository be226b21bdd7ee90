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
    /// The group-based policy, already checked by `Policy.validate`; nil when the file
    /// declares no `tenants` (gbpd is then a plain L2 switch). The same value is in
    /// `runtime.policy`. With a policy, `runtime.ports[i].tenant` is the port's tenant as
    /// the file gives it or else the tenant of its endpoints (nil: neither).
    public var policy: PolicySpec?
    /// With the `kubernetes` key: the cluster the policy was compiled from (for explain).
    public var kubernetes: KubernetesCompilation? = nil
    /// Things worth a line in the log that are no error (pods left out, kinds skipped).
    public var notes: [String] = []
    /// Lint warnings (`PolicyLint`) about a policy that opens more than it seems to say:
    /// printed by `--check`, logged at start and on reload; never a reason to refuse.
    public var warnings: [ConfigIssue] = []
}
