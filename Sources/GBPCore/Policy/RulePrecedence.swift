/// The order in which rules decide (also written above the lookup code in Classifier.swift):
/// 1. higher `priority` first;
/// 2. at equal priority, deny before allow;
/// 3. then the lower rule id (contract order in the spec, then rule order in the contract),
///    which only chooses which rule is reported: two such rules have the same action.
enum RulePrecedence {
    static func wins(priority pa: UInt16, allow aa: Bool, id ia: UInt32,
                     over pb: UInt16, allow ab: Bool, id ib: UInt32) -> Bool {
        if pa != pb { return pa > pb }
        if aa != ab { return !aa }
        return ia < ib
    }

    /// A sort key: smaller sorts first = wins.
    static func key(priority: UInt16, allow: Bool, id: UInt32) -> UInt64 {
        UInt64(UInt16.max - priority) << 48 | UInt64(allow ? 1 : 0) << 40 | UInt64(id)
    }
}
