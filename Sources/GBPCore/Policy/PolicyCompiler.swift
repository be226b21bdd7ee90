/// Compiles the successive policies of one dataplane, on its control thread.
///
/// Most policy changes edit contracts, while the endpoints (10k or more) stay as they
/// were. When a spec has the same tenants, groups, endpoints and external groups as the
/// last one compiled, their validation, endpoint and prefix tables and names are reused
/// and only the contracts are checked and compiled again; anything else is compiled from
/// scratch. Either way the result is what `CompiledPolicy.compile` makes of the spec.
/// A rejected spec changes nothing here.
public struct PolicyCompiler {
    /// What the last successful compile resolved of its membership, kept for the next.
    private struct Membership {
        /// After `checkMembership()` of the spec it keeps, without errors.
        var validator: PolicyValidator
        var endpoints: EndpointTable
        var externals: ExternalPrefixTable
        var names: PolicyNames
    }
    private var last: Membership?
    /// Whether the last successful compile reused the membership of the one before.
    public private(set) var reusedMembership = false

    public init() {}

    /// The compiled policy of `spec` under `epoch` and its names; throws every problem
    /// when the spec is not valid.
    public mutating func compile(_ spec: PolicySpec, epoch: UInt32) throws(PolicyRejection) -> (CompiledPolicy, PolicyNames) {
        if let m = last, spec.hasMembership(of: m.validator.spec) {
            var v = m.validator
            v.checkContracts(of: spec)
            if !v.errors.isEmpty { throw PolicyRejection(errors: v.errors) }
            let compiled = CompiledPolicy(v.resolved, epoch: epoch, tables: (m.endpoints.copy(), m.externals.copy()))
            reusedMembership = true
            return (compiled, PolicyNames(spec, membershipOf: m.names))
        }
        var v = PolicyValidator(spec)
        v.checkMembership()
        let membership = v
        v.checkContracts()
        if !v.errors.isEmpty { throw PolicyRejection(errors: v.errors) }
        let compiled = CompiledPolicy(v.resolved, epoch: epoch)
        let names = PolicyNames(spec)
        deallocate()
        last = Membership(validator: membership, endpoints: compiled.endpoints.copy(),
                          externals: compiled.externals.copy(), names: names)
        reusedMembership = false
        return (compiled, names)
    }

    /// Frees the kept tables (the compiled policies returned are the caller's).
    public mutating func deallocate() {
        last?.endpoints.deallocate()
        last?.externals.deallocate()
        last = nil
    }
}

extension PolicySpec {
    /// True when `other` has the same tenants, groups, endpoints and external groups.
    func hasMembership(of other: PolicySpec) -> Bool {
        tenants == other.tenants && groups == other.groups && externalGroups == other.externalGroups
            && endpoints == other.endpoints
    }
}
