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

extension RuleSpec {
    public static func == (a: RuleSpec, b: RuleSpec) -> Bool {
        withUnsafePointer(to: a) { x in withUnsafePointer(to: b) { y in same(x, y) } }
    }

    /// `a == b` for rule arrays, rule by rule in place (a copy of a rule retains its name
    /// and ports; comparing a reload's 4k rules with the last ones' cost a millisecond so).
    static func same(_ a: [RuleSpec], _ b: [RuleSpec]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                guard let x = pa.baseAddress, let y = pb.baseAddress else { return true }
                for i in 0..<pa.count where !same(x + i, y + i) { return false }
                return true
            }
        }
    }

    /// Field by field through the pointers, the cheap fields first.
    @inline(__always)
    private static func same(_ x: UnsafePointer<RuleSpec>, _ y: UnsafePointer<RuleSpec>) -> Bool {
        x.pointee.priority == y.pointee.priority && x.pointee.action == y.pointee.action
            && x.pointee.direction == y.pointee.direction && x.pointee.log == y.pointee.log
            && x.pointee.proto == y.pointee.proto && x.pointee.icmpType == y.pointee.icmpType
            && x.pointee.icmpCode == y.pointee.icmpCode && x.pointee.ports.sameElements(y.pointee.ports)
            && x.pointee.name == y.pointee.name
    }
}

extension EndpointSpec {
    public static func == (a: EndpointSpec, b: EndpointSpec) -> Bool {
        a.mac == b.mac && a.ips.sameElements(b.ips) && a.name == b.name && a.port == b.port
            && a.group == b.group && a.tenant == b.tenant
    }
}

extension ContractSpec {
    public static func == (a: ContractSpec, b: ContractSpec) -> Bool {
        withUnsafePointer(to: a) { same($0, b) }
    }

    /// `x.pointee == c`, reading `x.pointee` in place (a copy retains five of its buffers;
    /// `CheckedContracts` compares a reload's contracts with the last ones' this way).
    static func same(_ x: UnsafePointer<ContractSpec>, _ c: ContractSpec) -> Bool {
        x.pointee.name == c.name && x.pointee.tenant == c.tenant && x.pointee.onPolicyChange == c.onPolicyChange
            && x.pointee.providers.sameElements(c.providers) && x.pointee.consumers.sameElements(c.consumers)
            && RuleSpec.same(x.pointee.rules, c.rules)
    }
}
