/// Names by dense id, kept beside a compiled snapshot for explain, stats and logs
/// (never read on the lookup path). Built from the same spec as the snapshot.
public struct PolicyNames: Sendable, Equatable {
    public let tenants: [String]
    /// Endpoint groups, then external groups (the group id order).
    public let groups: [String]
    public let endpoints: [String]
    public let contracts: [String]
    /// Per rule id: its contract and its own name (may be empty); `ruleName` joins them
    /// when asked, so that a policy swap does not build a string per rule.
    private let ruleContracts: [UInt16]
    private let ruleLabels: [String]
    private let contractFirstRule: [Int]
    /// Distinct endpoint port names; `EndpointRecord.port` indexes it.
    public let ports: [String]

    private let tenantIndex: [String: UInt16]
    private let groupIndex: [ScopedName: UInt16]
    private let endpointIndex: [ScopedName: UInt32]

    /// A name inside a tenant, by the tenant's name.
    private struct ScopedName: Hashable { var tenant: String; var name: String }

    public init(_ spec: PolicySpec) {
        tenants = spec.tenants.map(\.name)
        groups = spec.groups.map(\.name) + spec.externalGroups.map(\.name)
        endpoints = spec.endpoints.map(\.name)
        contracts = spec.contracts.map(\.name)
        (ruleContracts, ruleLabels, contractFirstRule) = Self.rules(spec)
        var seen = Set<String>()
        ports = spec.endpoints.map(\.port).filter { seen.insert($0).inserted }
        var t: [String: UInt16] = [:]
        for (i, x) in spec.tenants.enumerated() where t[x.name] == nil { t[x.name] = UInt16(truncatingIfNeeded: i) }
        tenantIndex = t
        // The first of duplicate names wins (a valid spec has none).
        func first<V>(_ d: inout [ScopedName: V], _ k: ScopedName, _ v: V) { if d[k] == nil { d[k] = v } }
        var g: [ScopedName: UInt16] = [:]
        for (i, x) in spec.groups.enumerated() { first(&g, ScopedName(tenant: x.tenant, name: x.name), UInt16(i)) }
        let n = spec.groups.count
        for (i, x) in spec.externalGroups.enumerated() { first(&g, ScopedName(tenant: x.tenant, name: x.name), UInt16(truncatingIfNeeded: n + i)) }
        groupIndex = g
        var e: [ScopedName: UInt32] = [:]
        e.reserveCapacity(spec.endpoints.count)
        for (i, x) in spec.endpoints.enumerated() { first(&e, ScopedName(tenant: x.tenant, name: x.name), UInt32(i)) }
        endpointIndex = e
    }

    /// The names of `spec`, whose tenants, groups, endpoints and external groups are those
    /// `m` was made from: only contract and rule names are new.
    init(_ spec: PolicySpec, membershipOf m: PolicyNames) {
        tenants = m.tenants; groups = m.groups; endpoints = m.endpoints; ports = m.ports
        tenantIndex = m.tenantIndex; groupIndex = m.groupIndex; endpointIndex = m.endpointIndex
        contracts = spec.contracts.map(\.name)
        (ruleContracts, ruleLabels, contractFirstRule) = Self.rules(spec)
    }

    private static func rules(_ spec: PolicySpec) -> ([UInt16], [String], [Int]) {
        var owners: [UInt16] = [], labels: [String] = [], first: [Int] = []
        first.reserveCapacity(spec.contracts.count)
        for (c, contract) in spec.contracts.enumerated() {
            first.append(labels.count)
            for r in contract.rules {
                owners.append(UInt16(truncatingIfNeeded: c))
                labels.append(r.name)
            }
        }
        return (owners, labels, first)
    }

    public var ruleCount: Int { ruleLabels.count }

    public func tenantID(_ name: String) -> UInt16? { tenantIndex[name] }
    public func groupID(tenant: String, group: String) -> UInt16? { groupIndex[ScopedName(tenant: tenant, name: group)] }
    public func endpointID(tenant: String, endpoint: String) -> UInt32? { endpointIndex[ScopedName(tenant: tenant, name: endpoint)] }

    public func groupName(_ id: UInt16) -> String? { Int(id) < groups.count ? groups[Int(id)] : nil }
    public func contractName(_ id: UInt16) -> String? { Int(id) < contracts.count ? contracts[Int(id)] : nil }
    /// "contract/name", or "contract/rules[i]" for a rule without a name.
    public func ruleName(_ id: UInt32) -> String? {
        let r = Int(id)
        guard r < ruleLabels.count else { return nil }
        let c = Int(ruleContracts[r])
        return "\(contracts[c])/" + (ruleLabels[r].isEmpty ? "rules[\(r - contractFirstRule[c])]" : ruleLabels[r])
    }
}
