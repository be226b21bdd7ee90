import Yams

/// Typed reads from a YAML node tree that record every problem with its file,
/// line and field path instead of stopping at the first one.
final class ConfigReader {
    let file: String
    private(set) var issues: [ConfigIssue] = []

    init(file: String) { self.file = file }

    func fail(_ node: Node?, _ field: String, _ reason: String) {
        issues.append(ConfigIssue(file: file, line: node?.mark.map { $0.line }, field: field, reason: reason))
    }

    /// A mapping whose keys must all be in `required` or `optional`; unknown keys
    /// and missing required ones are reported.
    func mapping(_ node: Node, _ field: String, required: [String] = [], optional: [String] = []) -> [String: Node]? {
        guard case .mapping(let m) = node else {
            fail(node, field, "expected a mapping with keys \((required + optional).joined(separator: ", "))")
            return nil
        }
        let allowed = Set(required + optional)
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard let key = k.string else { fail(k, field, "keys must be strings"); continue }
            let path = field.isEmpty ? key : "\(field).\(key)"
            if !allowed.contains(key) {
                fail(k, path, "unknown key (allowed here: \(allowed.sorted().joined(separator: ", ")))")
            } else if out[key] != nil {
                fail(k, path, "key given twice")
            } else {
                out[key] = v
            }
        }
        for key in required where out[key] == nil {
            fail(node, field.isEmpty ? key : "\(field).\(key)", "required key is missing")
        }
        return out
    }

    func sequence(_ node: Node, _ field: String) -> [Node]? {
        guard case .sequence(let s) = node else { fail(node, field, "expected a list"); return nil }
        return Array(s)
    }

    func string(_ node: Node, _ field: String) -> String? {
        guard case .scalar(let s) = node else { fail(node, field, "expected a string"); return nil }
        return s.string
    }

    func nonEmptyString(_ node: Node, _ field: String) -> String? {
        guard let s = string(node, field) else { return nil }
        if s.isEmpty { fail(node, field, "must not be empty"); return nil }
        return s
    }

    func int(_ node: Node, _ field: String, in range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let s) = node, let v = Int(s.string) else {
            fail(node, field, "expected a whole number"); return nil
        }
        guard range.contains(v) else { fail(node, field, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)"); return nil }
        return v
    }

    func double(_ node: Node, _ field: String, in range: ClosedRange<Double>) -> Double? {
        guard case .scalar(let s) = node, let v = Double(s.string) else {
            fail(node, field, "expected a number"); return nil
        }
        guard range.contains(v) else { fail(node, field, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)"); return nil }
        return v
    }

    func bool(_ node: Node, _ field: String) -> Bool? {
        guard case .scalar(let s) = node else { fail(node, field, "expected true or false"); return nil }
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: fail(node, field, "expected true or false, got '\(s.string)'"); return nil
        }
    }

    func stringList(_ node: Node, _ field: String) -> [String]? {
        guard let items = sequence(node, field) else { return nil }
        let out = items.enumerated().compactMap { i, n in string(n, "\(field)[\(i)]") }
        return out.count == items.count ? out : nil
    }

    /// Reads each element of a list with `read`, giving it the element's field path.
    func each<T>(_ node: Node?, _ field: String, _ read: (Node, String) -> T?) -> [T] {
        guard let node, let items = sequence(node, field) else { return [] }
        return items.enumerated().compactMap { i, n in read(n, "\(field)[\(i)]") }
    }
}
