/// Contracts that passed their own checks (groups, rules, shadowing) under one membership,
/// with what the checks resolved: `PolicyCompiler` keeps them from one compile to the next
/// while tenants, groups, endpoints and external groups stay the same, so that a contract
/// edit checks the edited contracts only. Checks across contracts (names) are never skipped.
///
/// A contract is found by position first (equal to the last compile's contract at its
/// index: a comparison, no hashing, no copy), else by content (contracts inserted or
/// removed before it).
struct CheckedContracts {
    struct Entry {
        var providers: [UInt16]
        var consumers: [UInt16]
        /// Their `contract` is set to the contract's index where it is used.
        var rules: [ResolvedPolicy.Rule]
    }
    /// The last compile's contracts and, by index, those that passed.
    private var lastSpecs: [ContractSpec] = []
    private var lastEntries: [Entry?] = []
    private var entries: [Entry?] = []
    private var byContent: [ContractSpec: Entry] = [:]
    private let enabled: Bool

    /// A disabled one finds nothing and keeps nothing.
    init(enabled: Bool = true) { self.enabled = enabled }

    /// Starts a compile of `count` contracts.
    mutating func begin(count: Int) {
        if enabled { entries = Array(repeating: nil, count: count) }
    }

    mutating func lookup(_ c: ContractSpec, at i: Int) -> Entry? {
        guard enabled else { return nil }
        if i < lastEntries.count, lastEntries[i] != nil, Self.equal(lastSpecs, i, c) {
            entries[i] = lastEntries[i]
            return entries[i]
        }
        guard let e = byContent[c] else { return nil }
        entries[i] = e
        return e
    }

    /// `specs[i] == c`, without copying `specs[i]`.
    private static func equal(_ specs: [ContractSpec], _ i: Int, _ c: ContractSpec) -> Bool {
        specs.withUnsafeBufferPointer { ContractSpec.same($0.baseAddress! + i, c) }
    }

    mutating func add(_ c: ContractSpec, at i: Int, _ e: Entry) {
        guard enabled else { return }
        entries[i] = e
        byContent[c] = e
    }

    /// Ends the compile of `contracts`. Once contracts of earlier compiles outnumber this
    /// one's, keeps this one's only.
    mutating func end(_ contracts: [ContractSpec]) {
        guard enabled else { return }
        lastSpecs = contracts
        lastEntries = entries
        entries = []
        if byContent.count > 2 * contracts.count + 64 {
            byContent = [:]
            for (c, e) in zip(lastSpecs, lastEntries) { if let e { byContent[c] = e } }
        }
    }
}
