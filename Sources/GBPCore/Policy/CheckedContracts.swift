/// Contracts that passed their own checks (groups, rules, shadowing) under one membership,
/// with what the checks resolved: `PolicyCompiler` keeps them from one compile to the next
/// while tenants, groups, endpoints and external groups stay the same, so that a contract
/// edit checks the edited contracts only. Checks across contracts (names) are never skipped.
///
/// A contract is found by position first (equal to the last compile's contract at its
/// index: a comparison, no hashing), else by content (contracts inserted or removed
/// before it).
struct CheckedContracts {
    struct Entry {
        var providers: [UInt16]
        var consumers: [UInt16]
        /// Their `contract` is set to the contract's index where it is used.
        var rules: [ResolvedPolicy.Rule]
    }
    private typealias Known = (spec: ContractSpec, entry: Entry)
    /// The last compile's checked contracts by index, and this compile's.
    private var byIndex: [Known?] = []
    private var current: [Known?] = []
    private var byContent: [ContractSpec: Entry] = [:]
    private let enabled: Bool

    /// A disabled one finds nothing and keeps nothing.
    init(enabled: Bool = true) { self.enabled = enabled }

    /// Starts a compile of `count` contracts.
    mutating func begin(count: Int) {
        if enabled { current = Array(repeating: nil, count: count) }
    }

    mutating func lookup(_ c: ContractSpec, at i: Int) -> Entry? {
        guard enabled else { return nil }
        if i < byIndex.count, let k = byIndex[i], k.spec == c {
            current[i] = k
            return k.entry
        }
        guard let e = byContent[c] else { return nil }
        current[i] = (c, e)
        return e
    }

    mutating func add(_ c: ContractSpec, at i: Int, _ e: Entry) {
        guard enabled else { return }
        current[i] = (c, e)
        byContent[c] = e
    }

    /// Ends a compile. Once contracts of earlier compiles outnumber this one's, keeps this one's only.
    mutating func end() {
        guard enabled else { return }
        byIndex = current
        current = []
        if byContent.count > 2 * byIndex.count + 64 {
            byContent = [:]
            for case let k? in byIndex { byContent[k.spec] = k.entry }
        }
    }
}
