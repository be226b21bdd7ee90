/// One problem found by validation: where (`contracts[2].rules[0].ports[1]`), what kind, and why.
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case emptyName = "empty_name"
        case duplicateName = "duplicate_name"
        case unknownTenant = "unknown_tenant"
        case unknownGroup = "unknown_group"
        case duplicateAddress = "duplicate_address"
        case duplicateMAC = "duplicate_mac"
        case invalidAddress = "invalid_address"
        case invalidMAC = "invalid_mac"
        case malformedCIDR = "malformed_cidr"
        case duplicatePrefix = "duplicate_prefix"
        case reversedPortRange = "reversed_port_range"
        case outOfRange = "out_of_range"
        case invalidField = "invalid_field"
        case neverMatches = "never_matches"
        case tooMany = "too_many"
    }

    public var path: String
    public var code: Code
    public var reason: String

    public init(_ path: String, _ code: Code, _ reason: String) {
        self.path = path; self.code = code; self.reason = reason
    }

    public var description: String { "\(path): \(reason) [\(code.rawValue)]" }
}

/// Thrown by `CompiledPolicy.compile` when validation fails: every problem, in spec order.
public struct PolicyRejection: Error, Sendable, CustomStringConvertible {
    public var errors: [PolicyError]
    public init(errors: [PolicyError]) { self.errors = errors }
    public var description: String {
        "policy rejected (\(errors.count) problem\(errors.count == 1 ? "" : "s")):\n"
            + errors.map { "  " + $0.description }.joined(separator: "\n")
    }
}
