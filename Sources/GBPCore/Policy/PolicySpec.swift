/// The input of the policy engine: what the config loader builds from YAML.
/// Plain values, referenced by name; `Policy.validate` checks them and
/// `CompiledPolicy.compile` turns them into lookup tables.
///
/// Dense ids follow the order of these arrays: tenant id = index in `tenants`;
/// group id = index in `groups`, then external groups follow (`groups.count + i`);
/// endpoint id = index in `endpoints`; contract id = index in `contracts`;
/// rule id = position in the concatenation of every contract's `rules`.
public struct PolicySpec: Sendable, Equatable {
    public var tenants: [TenantSpec]
    public var groups: [GroupSpec]
    public var endpoints: [EndpointSpec]
    public var externalGroups: [ExternalGroupSpec]
    public var contracts: [ContractSpec]

    public init(
        tenants: [TenantSpec] = [], groups: [GroupSpec] = [], endpoints: [EndpointSpec] = [],
        externalGroups: [ExternalGroupSpec] = [], contracts: [ContractSpec] = []
    ) {
        self.tenants = tenants; self.groups = groups; self.endpoints = endpoints
        self.externalGroups = externalGroups; self.contracts = contracts
    }
}

/// An isolation scope: its groups, endpoints and contracts see nothing of other tenants,
/// and its addresses may overlap theirs.
public struct TenantSpec: Sendable, Equatable {
    public var name: String
    /// The tenant's default gateway, answered by gbpd (ARP and neighbour discovery), so
    /// that endpoints may route through it: gbpd delivers every packet to an endpoint
    /// with that endpoint's MAC as destination.
    public var gateway: GatewaySpec?
    public init(name: String, gateway: GatewaySpec? = nil) { self.name = name; self.gateway = gateway }
}

/// A gateway address gbpd answers for: its IPv4 and/or IPv6 addresses and its MAC.
public struct GatewaySpec: Sendable, Equatable {
    public var ips: [IPAddress]
    public var mac: MACAddress
    public init(ips: [IPAddress], mac: MACAddress) { self.ips = ips; self.mac = mac }
}

/// What happens to traffic between two members of one group when no contract rule decides.
public enum IntraGroupPolicy: String, Sendable, Equatable {
    case allow
    case deny
}

/// An endpoint group (EPG): endpoints that share a policy.
public struct GroupSpec: Sendable, Equatable {
    public var name: String
    public var tenant: String
    public var intraGroup: IntraGroupPolicy

    public init(name: String, tenant: String, intraGroup: IntraGroupPolicy = .allow) {
        self.name = name; self.tenant = tenant; self.intraGroup = intraGroup
    }
}

/// One attachment: a container interface behind a dataplane port.
public struct EndpointSpec: Sendable, Equatable {
    public var name: String
    /// The dataplane port name it sits behind.
    public var port: String
    public var mac: MACAddress
    /// IPv4 and/or IPv6 addresses; may be empty for an L2-only endpoint.
    public var ips: [IPAddress]
    public var group: String
    public var tenant: String

    public init(name: String, port: String, mac: MACAddress, ips: [IPAddress], group: String, tenant: String) {
        self.name = name; self.port = port; self.mac = mac; self.ips = ips
        self.group = group; self.tenant = tenant
    }
}

/// Addresses outside the host, by prefix (like a Kubernetes ipBlock): an address is a
/// member when it is inside one of `cidrs` and inside none of `except`.
public struct ExternalGroupSpec: Sendable, Equatable {
    public var name: String
    public var tenant: String
    /// Prefixes as text, e.g. "203.0.113.0/24" or "2001:db8::/32".
    public var cidrs: [String]
    /// Holes in `cidrs`; each must lie inside one of them.
    public var except: [String]

    public init(name: String, tenant: String, cidrs: [String], except: [String] = []) {
        self.name = name; self.tenant = tenant; self.cidrs = cidrs; self.except = except
    }
}

/// What a policy change does to connections a contract admitted under the previous policy.
public enum PolicyChangeMode: String, Sendable, Equatable {
    /// Classify the connection again on its next packet; drop it if the new policy denies it.
    case recheck
    /// Let the connection run to its end even if the new policy would deny it.
    case keep
}

/// Rules between provider groups and consumer groups of one tenant.
public struct ContractSpec: Sendable, Hashable {
    public var name: String
    public var tenant: String
    public var providers: [String]
    public var consumers: [String]
    public var rules: [RuleSpec]
    public var onPolicyChange: PolicyChangeMode

    public init(
        name: String, tenant: String, providers: [String], consumers: [String],
        rules: [RuleSpec], onPolicyChange: PolicyChangeMode = .recheck
    ) {
        self.name = name; self.tenant = tenant; self.providers = providers
        self.consumers = consumers; self.rules = rules; self.onPolicyChange = onPolicyChange
    }
}
