/// Per group: its tenant and what the classifier needs when no rule decides.
@frozen
public struct GroupRecord: Sendable, Equatable {
    public var tenant: UInt16
    public var intraDeny: Bool
    public var external: Bool
}

@frozen
public struct CompiledContract: Sendable, Equatable {
    public var tenant: UInt16
    /// `onPolicyChange: keep`.
    public var keep: Bool
    public var firstRule: UInt32
    public var ruleCount: UInt32
}

/// An immutable snapshot of a policy as flat lookup tables: endpoints by (tenant, IP) and
/// (tenant, MAC), external groups by longest prefix, and decisions per group pair.
///
/// A plain struct of pointers, safe to share read-only between threads. The control
/// thread compiles it off the data path, publishes it (for example by pointer with RCU),
/// and calls `deallocate()` once no worker can still read it. Copies share the tables:
/// deallocate exactly one of them, once.
///
/// Dense ids follow spec order (see PolicySpec); the names live in `PolicyNames`.
@frozen
public struct CompiledPolicy: @unchecked Sendable {
    /// Stamped on flows admitted under this policy (see FlowTable).
    public let epoch: UInt32
    public let tenantCount: Int
    /// Endpoint groups then external groups.
    public let groupCount: Int
    public let contractCount: Int
    /// Size of per-rule counter arrays.
    public let ruleCount: Int

    public let endpoints: EndpointTable
    public let externals: ExternalPrefixTable
    public let pairs: RuleTable
    /// The classifier's rule lookup: a line per group pair (RuleLines.swift), pointing
    /// into `pairs` for the pairs too big for a line.
    @usableFromInline let lines: RuleLineTable
    @usableFromInline let groupRecords: UnsafeMutablePointer<GroupRecord>
    @usableFromInline let ruleRecords: UnsafeMutablePointer<CompiledRule>
    @usableFromInline let contractRecords: UnsafeMutablePointer<CompiledContract>

    @inlinable public static var noGroup: UInt16 { 0xFFFF }
    @inlinable public static var noEndpoint: UInt32 { .max }
    @inlinable public static var noContract: UInt16 { 0xFFFF }

    /// Validates `spec` and compiles it; throws every problem when it is not valid.
    /// Nothing outside the returned value is touched, so a rejected policy changes nothing.
    public static func compile(_ spec: PolicySpec, epoch: UInt32) throws(PolicyRejection) -> CompiledPolicy {
        var v = PolicyValidator(spec)
        v.run()
        if !v.errors.isEmpty { throw PolicyRejection(errors: v.errors) }
        return CompiledPolicy(v.resolved, epoch: epoch)
    }

    /// `compile` with the rule-line formats limited (for tests).
    static func compile(_ spec: PolicySpec, epoch: UInt32, lineLayout: RuleLineTable.Layout) throws(PolicyRejection) -> CompiledPolicy {
        var v = PolicyValidator(spec)
        v.run()
        if !v.errors.isEmpty { throw PolicyRejection(errors: v.errors) }
        var images = PairImageCache()
        return CompiledPolicy(v.resolved, epoch: epoch, lineLayout: lineLayout, images: &images)
    }

    init(_ p: ResolvedPolicy, epoch: UInt32, lineLayout: RuleLineTable.Layout = .best) {
        var images = PairImageCache()
        self.init(p, epoch: epoch, lineLayout: lineLayout, images: &images)
    }

    /// `tables`, when given, are this policy's endpoint and prefix tables, already built
    /// from `p`'s membership (`PolicyCompiler`); they become this snapshot's to free.
    /// `images` has the pair images of earlier compiles; it keeps this one's.
    init(_ p: ResolvedPolicy, epoch: UInt32, lineLayout: RuleLineTable.Layout = .best,
         tables: (EndpointTable, ExternalPrefixTable)? = nil, images: inout PairImageCache) {
        self.epoch = epoch
        tenantCount = p.tenantCount
        groupCount = p.groups.count
        contractCount = p.contracts.count
        ruleCount = p.rules.count
        endpoints = tables?.0 ?? EndpointTable(p.endpoints)
        externals = tables?.1 ?? ExternalPrefixTable(tenantCount: p.tenantCount, externals: p.externals)
        let linked = images.pairs(of: p, layout: lineLayout)
        pairs = RuleTable(p, pairs: linked)
        lines = RuleLineTable(p, pairs: linked, blocks: pairs)
        groupRecords = .allocate(capacity: max(groupCount, 1))
        for (i, g) in p.groups.enumerated() {
            (groupRecords + i).initialize(to: GroupRecord(tenant: g.tenant, intraDeny: g.intraDeny, external: g.external))
        }
        ruleRecords = .allocate(capacity: max(ruleCount, 1))
        for (i, r) in p.rules.enumerated() {
            (ruleRecords + i).initialize(to: CompiledRule(contract: r.contract, priority: r.priority, allow: r.allow, log: r.log))
        }
        contractRecords = .allocate(capacity: max(contractCount, 1))
        for (i, c) in p.contracts.enumerated() {
            (contractRecords + i).initialize(to: CompiledContract(tenant: c.tenant, keep: c.keep, firstRule: c.firstRule, ruleCount: c.ruleCount))
        }
    }

    /// Frees every table. Call once, when no thread can still be reading this snapshot.
    public func deallocate() {
        endpoints.deallocate()
        externals.deallocate()
        pairs.deallocate()
        lines.deallocate()
        groupRecords.deallocate()
        ruleRecords.deallocate()
        contractRecords.deallocate()
    }

    /// Linked group pairs by the format of their rules in the classifier's lines
    /// (RuleLines.swift): in one line, in one line with their decisions apart (split), in
    /// an extended line, or in `pairs`' general layout (for stats and benchmarks).
    public var pairLayout: (inline: Int, split: Int, extended: Int, general: Int) {
        (lines.inlineCount, lines.splitCount, lines.extendedCount, lines.blockCount)
    }

    @inlinable public func group(_ id: UInt16) -> GroupRecord { groupRecords[Int(id)] }
    @inlinable public func rule(_ id: UInt32) -> CompiledRule { ruleRecords[Int(id)] }
    @inlinable public func contract(_ id: UInt16) -> CompiledContract { contractRecords[Int(id)] }
}
