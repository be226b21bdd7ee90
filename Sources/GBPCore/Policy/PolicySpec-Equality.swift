/// Equality of spec arrays without copying their elements: the derived `==` of an array of
/// structs copies every element it compares, retaining each array and long string inside
/// it. A reload compares a freshly parsed spec with the last one (10k endpoints, thousands
/// of rules), so this is most of what finding "nothing changed here" costs.
extension Array where Element: Equatable {
    func sameElements(_ other: [Element]) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                for i in a.indices where !(a[i] == b[i]) { return false }
                return true
            }
        }
    }
}

extension ContractSpec {
    public static func == (a: ContractSpec, b: ContractSpec) -> Bool {
        a.name == b.name && a.tenant == b.tenant && a.onPolicyChange == b.onPolicyChange
            && a.providers.sameElements(b.providers) && a.consumers.sameElements(b.consumers)
            && a.rules.sameElements(b.rules)
    }
}
