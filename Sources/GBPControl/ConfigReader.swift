import Yams

/// Typed reads from a YAML node tree that record every problem with its file,
/// line and field path instead of stopping at the first one.
final class ConfigReader {
    let file: String
    private(set) var issues: [ConfigIssue] = []
    /// Field path -> node, for every mapping and list read so far and every value and
    /// element in them (`contracts[0].rules[1].ports[0]`), so that problems found after
    /// reading (policy validation) can be reported at the line of their node.
    private(set) var nodes: [String: Node] = [:]

    init(file: String) { self.file = file }

    /// Records a problem found elsewhere (in a file this config refers to).
    func appendIssue(_ issue: ConfigIssue) { issues.append(issue) }

    func fail(_ node: Node?, _ field: String, _ reason: String) {
        issues.append(ConfigIssue(file: file, line: node?.mark.map { $0.line }, field: field, reason: reason))
    }

    /// Reports a problem found by path: at the line of the node read at `field`, or of
    /// its nearest ancestor that was read (`a.b[2].c` -> `a.b[2]` -> `a.b` -> `a`).
    func fail(at field: String, _ reason: String) {
        issues.append(ConfigIssue(file: file, line: node(at: field)?.mark.map { $0.line }, field: field, reason: reason))
    }

    /// The node read at `field`, or at its nearest recorded ancestor.
    func node(at field: String) -> Node? {
        var path = Substring(field)
        while !path.isEmpty {
            if let n = nodes[String(path)] { return n }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = path[..<cut]
        }
        return nodes[""]
    }

    /// Records the node read at `field` (done by `mapping` and `sequence`).
    func note(_ node: Node, _ field: String) {
        if nodes[field] == nil { nodes[field] = node }
    }

    /// A mapping whose keys must all be in `required` or `optional`; unknown keys
    /// and missing required ones are reported.
    func mapping(_ node: Node, _ field: String, required: [String] = [], optional: [String] = []) -> [String: Node]? {
        note(node, field)
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
                note(v, path)
            }
        }
        for key in required where out[key] == nil {
            fail(node, field.isEmpty ? key : "\(field).\(key)", "required key is missing")
        }
        return out
    }

    func sequence(_ node: Node, _ field: String) -> [Node]? {
        note(node, field)
        guard case .sequence(let s) = node else { fail(node, field, "expected a list"); return nil }
        for (i, n) in s.enumerated() { note(n, "\(field)[\(i)]") }
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

    /// A string that must be the raw value of one case of `E`, listed in `allowed` order.
    func choice<E: RawRepresentable>(_ node: Node, _ field: String, _ allowed: [E]) -> E? where E.RawValue == String {
        guard let s = string(node, field) else { return nil }
        if let v = allowed.first(where: { $0.rawValue == s }) { return v }
        let names = allowed.map(\.rawValue)
        let list = names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
        fail(node, field, "must be \(list), got '\(s)'")
        return nil
    }

    /// A whole number of any size; the range is checked later (by policy validation).
    func int(_ node: Node, _ field: String) -> Int? {
        int(node, field, in: Int.min...Int.max)
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

    /// The issues in file order (by line; those without a line first), each line's in
    /// the order they were found.
    var issuesInFileOrder: [ConfigIssue] {
        issues.enumerated().sorted { a, b in
            let la = a.element.line ?? 0, lb = b.element.line ?? 0
            return la != lb ? la < lb : a.offset < b.offset
        }.map(\.element)
    }

    /// Reads each element of a list with `read`, giving it the element's field path.
    func each<T>(_ node: Node?, _ field: String, _ read: (Node, String) -> T?) -> [T] {
        eachIndexed(node, field, read).map(\.value)
    }

    /// Like `each`, keeping each value's position in the file's list (elements that
    /// could not be read are left out, so positions may skip).
    func eachIndexed<T>(_ node: Node?, _ field: String, _ read: (Node, String) -> T?) -> [(index: Int, value: T)] {
        guard let node, let items = sequence(node, field) else { return [] }
        return items.enumerated().compactMap { i, n in read(n, "\(field)[\(i)]").map { (i, $0) } }
    }
}
