/// The CNI specification versions gbp-cni speaks. 0.3.x, 0.4.0 and 1.0.0 share one result
/// shape (interfaces, ips, routes, dns); before 1.0.0 every ip carries a "version" field.
/// CHECK exists from 0.4.0 on; 1.0.0 passes prevResult to DEL and CHECK.
public enum CNIVersion {
    public static let supported = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]
    public static let newest = "1.0.0"

    /// (major, minor, patch), or nil when `v` is not a version number.
    static func parts(_ v: String) -> [Int]? {
        let p = v.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard p.count == 3, p.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        return p.map { $0! }
    }

    /// `a < b` as versions (false when either is not a version).
    static func less(_ a: String, _ b: String) -> Bool {
        guard let x = parts(a), let y = parts(b) else { return false }
        return x.lexicographicallyPrecedes(y)
    }

    /// Accepts the config's `cniVersion` for `command`, or says why not (code 1).
    public static func negotiate(_ version: String, command: CNICommand) throws(CNIError) {
        guard parts(version) != nil else {
            throw CNIError(.incompatibleVersion, "cniVersion \"\(version)\" is not a version number",
                           details: "use one of \(supported.joined(separator: ", ")) in the network config")
        }
        guard supported.contains(version) else {
            throw CNIError(.incompatibleVersion, "gbp-cni does not support cniVersion \(version)",
                           details: "it supports \(supported.joined(separator: ", ")); set \"cniVersion\" in the .conflist to one of them")
        }
        if command == .check && less(version, "0.4.0") {
            throw CNIError(.incompatibleVersion, "CHECK needs cniVersion 0.4.0 or later, the config says \(version)",
                           details: "set \"cniVersion\": \"1.0.0\" in the .conflist")
        }
    }

    /// Results before 1.0.0 give each ip a "version" ("4" or "6").
    static func ipsCarryVersion(_ version: String) -> Bool { less(version, "1.0.0") }
}
