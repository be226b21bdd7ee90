/// Compiles the successive policies of one dataplane, on its control thread, so that a
/// change costs about what it changes.
///
/// Most policy changes edit contracts, while the endpoints (10k or more) stay as they
/// were. When a spec has the same tenants, groups, endpoints and external groups as the
/// last one compiled, their validation, endpoint and prefix tables and names are reused,
/// and only the contracts not seen before under that membership are checked
/// (`CheckedContracts`). Whatever changed, the group pairs whose rules have the shape of
/// a pair of the last compile reuse its compiled image (`PairImageCache`): only the
/// decisions are written again. Either way the result is what `CompiledPolicy.compile`
/// makes of the spec. A rejected spec changes nothing here that matters to the result.
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
    /// Contracts checked under `last`'s membership.
    private var checked = CheckedContracts()
    /// The images of the group pairs of the last compile, by their rules' shape.
    private var images = PairImageCache()
    /// Whether the last successful compile reused the membership of the one before.
    public private(set) var reusedMembership = false
    /// Group pairs whose image the last compile had to build (the others were reused).
    public var pairsBuilt: Int { images.built }

    public init() {}

    /// The compiled policy of `spec` under `epoch` and its names; throws every problem
    /// when the spec is not valid.
    public mutating func compile(_ spec: PolicySpec, epoch: UInt32) throws(PolicyRejection) -> (CompiledPolicy, PolicyNames) {
        if let m = last, spec.hasMembership(of: m.validator.spec) {
            var v = m.validator
            v.checkContracts(of: spec, checked: &checked)
            if !v.errors.isEmpty { throw PolicyRejection(errors: v.errors) }
            let compiled = CompiledPolicy(v.resolved, epoch: epoch, tables: (m.endpoints.copy(), m.externals.copy()),
                                          images: &images)
            reusedMembership = true
            return (compiled, PolicyNames(spec, membershipOf: m.names))
        }
        var v = PolicyValidator(spec)
        v.checkMembership()
        let membership = v
        var checkedNow = CheckedContracts()
        v.checkContracts(checked: &checkedNow)
        if !v.errors.isEmpty { throw PolicyRejection(errors: v.errors) }
        let compiled = CompiledPolicy(v.resolved, epoch: epoch, images: &images)
        let names = PolicyNames(spec)
        deallocateMembership()
        last = Membership(validator: membership, endpoints: compiled.endpoints.copy(),
                          externals: compiled.externals.copy(), names: names)
        checked = checkedNow
        reusedMembership = false
        return (compiled, names)
    }

    /// Frees the kept tables (the compiled policies returned are the caller's).
    public mutating func deallocate() {
        deallocateMembership()
        images = PairImageCache()
    }

    private mutating func deallocateMembership() {
        last?.endpoints.deallocate()
        last?.externals.deallocate()
        last = nil
        checked = CheckedContracts()
    }
}

extension PolicySpec {
    /// True when `other` has the same tenants, groups, endpoints and external groups.
    func hasMembership(of other: PolicySpec) -> Bool {
        tenants.sameElements(other.tenants) && groups.sameElements(other.groups)
            && externalGroups.sameElements(other.externalGroups) && endpoints.sameElements(other.endpoints)
    }
}
