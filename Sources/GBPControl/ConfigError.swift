/// One problem in a config file: where it is and what is wrong.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var field: String
    public var reason: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(field): \(reason)"
    }
}

/// A config that was rejected, with every problem found in it (not only the first).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]
    public var description: String {
        "config rejected (\(issues.count) problem\(issues.count == 1 ? "" : "s")):\n" + issues.map { "  " + $0.description }.joined(separator: "\n")
    }
}
