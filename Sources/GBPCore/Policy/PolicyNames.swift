/// Names by dense id, kept beside a compiled snapshot for explain, stats and logs
/// (never read on the lookup path). Built from the same spec as the snapshot.
public struct PolicyNames: Sendable, Equatable {
    public let tenants: [String]
    /// Endpoint groups, then external groups (the group id order).
    public let groups: [String]
    public let endpoints: [String]
    public let contracts: [String]
    /// Per rule id: "contract/name", or "contract/rules[i]" for a rule without a name.
    public let rules: [String]
    /// Distinct endpoint port names; `EndpointRecord.port` indexes it.
    public let ports: [String]

    private let tenantIndex: [String: UInt16]
    private let groupIndex: [String: UInt16]     // "tenant\u{0}group"
    private let endpointIndex: [String: UInt32]  // "tenant\u{0}endpoint"

    public init(_ spec: PolicySpec) {
        tenants = spec.tenants.map(\.name)
        groups = spec.groups.map(\.name) + spec.externalGroups.map(\.name)
        endpoints = spec.endpoints.map(\.name)
        contracts = spec.contracts.map(\.name)
        rules = spec.contracts.flatMap { c in
            c.rules.enumerated().map { i, r in "\(c.name)/" + (r.name.isEmpty ? "rules[\(i)]" : r.name) }
        }
        var seen = Set<String>()
        ports = spec.endpoints.map(\.port).filter { seen.insert($0).inserted }
        var t: [String: UInt16] = [:]
        for (i, x) in spec.tenants.enumerated() where t[x.name] == nil { t[x.name] = UInt16(truncatingIfNeeded: i) }
        tenantIndex = t
        var g: [String: UInt16] = [:]
        let allGroups = spec.groups.map { ($0.tenant, $0.name) } + spec.externalGroups.map { ($0.tenant, $0.name) }
        for (i, x) in allGroups.enumerated() { g[x.0 + "\u{0}" + x.1] = g[x.0 + "\u{0}" + x.1] ?? UInt16(truncatingIfNeeded: i) }
        groupIndex = g
        var e: [String: UInt32] = [:]
        for (i, x) in spec.endpoints.enumerated() { e[x.tenant + "\u{0}" + x.name] = e[x.tenant + "\u{0}" + x.name] ?? UInt32(i) }
        endpointIndex = e
    }

    public func tenantID(_ name: String) -> UInt16? { tenantIndex[name] }
    public func groupID(tenant: String, group: String) -> UInt16? { groupIndex[tenant + "\u{0}" + group] }
    public func endpointID(tenant: String, endpoint: String) -> UInt32? { endpointIndex[tenant + "\u{0}" + endpoint] }

    public func groupName(_ id: UInt16) -> String? { Int(id) < groups.count ? groups[Int(id)] : nil }
    public func contractName(_ id: UInt16) -> String? { Int(id) < contracts.count ? contracts[Int(id)] : nil }
    public func ruleName(_ id: UInt32) -> String? { Int(id) < rules.count ? rules[Int(id)] : nil }
}
