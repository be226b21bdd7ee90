import Foundation
import GBPCore
import Yams

/// The config in force as YAML text, and the changes the control socket makes to it.
///
/// A change (add or remove an endpoint, group or contract) edits a copy of this text and
/// reads it with `ConfigLoader`, exactly as a file would be read: same keys, same checks,
/// same port tenants. The result goes to `PolicyControl.apply`, like a reload of the file;
/// once it is in force the edited text becomes the document. A reload of the file replaces
/// the document (and so every change made over the socket) with the file's content.
struct ConfigDocument {
    /// The YAML of the config in force.
    private(set) var text: String
    /// The config file (kept as `DaemonConfig.file`, so that reloads read it).
    let file: String
    /// Ports added over the socket, read as if the file listed them last (`PortAttachment`).
    private(set) var attachments: [PortAttachment] = []

    init(text: String, file: String, attachments: [PortAttachment] = []) {
        self.text = text; self.file = file; self.attachments = attachments
    }

    /// Reads a config file: its text, the config (with `attachments`) and the control settings it says.
    static func load(path: String, attachments: [PortAttachment] = []) throws(ConfigError)
        -> (text: String, config: DaemonConfig, control: ControlSettings) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(issues: [ConfigIssue(file: path, line: nil, field: "(file)", reason: "cannot be read: \(error.localizedDescription)")])
        }
        let (config, control) = try ConfigLoader.parseWithControl(text, file: path, attachments: attachments)
        return (text, config, control)
    }

    /// Lists of the config file that the socket can change.
    enum Section: String {
        case endpoints
        case groups
        case externalGroups = "external_groups"
        case contracts

        var noun: String {
            switch self {
            case .endpoints: "endpoint"
            case .groups: "group"
            case .externalGroups: "external group"
            case .contracts: "contract"
            }
        }
    }

    enum Edit {
        /// Appends `object` (file keys, from JSON) to `section`.
        case add(Section, [String: Any])
        /// Removes the element named `name` (in `tenant`, when given) from the first of
        /// `sections` that has one.
        case remove([Section], name: String, tenant: String?)
        /// Adds a runtime port (and its endpoint).
        case attach(PortAttachment)
        /// Removes the runtime port `name` and its endpoint.
        case detach(name: String)
    }

    /// A document after an edit: its text, its runtime ports, and the config they read as.
    typealias Applied = (text: String, attachments: [PortAttachment], config: DaemonConfig)

    /// Why an edit could not even be tried (the config was not read).
    struct EditError: Error, CustomStringConvertible {
        var message: String
        var details: [String] = []
        var description: String { ([message] + details).joined(separator: "\n  ") }
    }

    /// The document after `edit`, and the config it reads as; the document itself is unchanged
    /// (see `commit`).
    func applying(_ edit: Edit) -> Result<Applied, EditError> {
        switch edit {
        case .attach(let a):
            if attachments.contains(where: { $0.name == a.name }) { return .failure(EditError(message: "a port named '\(a.name)' exists")) }
            return reading(text, attachments + [a])
        case .detach(let name):
            guard attachments.contains(where: { $0.name == name }) else {
                let fromFile = (try? ConfigLoader.parse(text, file: file))?.runtime.ports.contains { $0.name == name } ?? false
                return .failure(EditError(message: fromFile
                    ? "port '\(name)' comes from the config file: it stays until gbpd restarts (only ports added with ports.add can be removed)"
                    : "no port named '\(name)'"))
            }
            return reading(text, attachments.filter { $0.name != name })
        case .add, .remove:
            return editingText(edit)
        }
    }

    /// The config `text` and `attachments` read as.
    private func reading(_ text: String, _ attachments: [PortAttachment]) -> Result<Applied, EditError> {
        do {
            let config = try ConfigLoader.parse(text, file: file, attachments: attachments)
            return .success((text, attachments, config))
        } catch {
            return .failure(EditError(message: "change rejected, the running policy is unchanged",
                                      details: error.issues.map { "\($0.field): \($0.reason)" }))
        }
    }

    private func editingText(_ edit: Edit) -> Result<Applied, EditError> {
        let root: Node
        do {
            guard let r = try Yams.compose(yaml: text) else { return .failure(EditError(message: "the config in force is empty")) }
            root = r
        } catch {
            return .failure(EditError(message: "the config in force cannot be read again: \(error)"))
        }
        guard case .mapping(var top) = root else { return .failure(EditError(message: "the config in force is not a mapping")) }
        switch edit {
        case .add(let section, let object):
            guard let item = Self.node(fromJSON: object) else {
                return .failure(EditError(message: "the \(section.noun) is not a JSON object of strings, numbers, booleans and lists"))
            }
            var list = Node.Sequence([])
            if let existing = top[section.rawValue] {
                guard case .sequence(let s) = existing else {
                    return .failure(EditError(message: "\(section.rawValue) in the config in force is not a list"))
                }
                list = s
            }
            list.append(item)
            top[section.rawValue] = .sequence(list)
        case .attach, .detach:
            preconditionFailure("runtime ports do not edit the text")
        case .remove(let sections, let name, let tenant):
            var found = false
            var tenantsWithName: [String] = []
            for section in sections {
                guard case .sequence(var list)? = top[section.rawValue] else { continue }
                let matches = list.indices.filter { i in
                    guard case .mapping(let m) = list[i], m["name"]?.string == name else { return false }
                    return tenant == nil || m["tenant"]?.string == tenant
                }
                if matches.count > 1 {
                    tenantsWithName += matches.compactMap { i in
                        if case .mapping(let m) = list[i] { return m["tenant"]?.string } else { return nil }
                    }
                    continue
                }
                guard let i = matches.first else { continue }
                list.remove(at: i)
                top[section.rawValue] = .sequence(list)
                found = true
                break
            }
            let noun = sections.first?.noun ?? "element"
            if !found {
                if !tenantsWithName.isEmpty {
                    return .failure(EditError(message: "\(noun) '\(name)' exists in several tenants (\(tenantsWithName.joined(separator: ", "))): name the tenant"))
                }
                return .failure(EditError(message: "no \(noun) named '\(name)'\(tenant.map { " in tenant '\($0)'" } ?? "")"))
            }
        }
        let newText: String
        do { newText = try Yams.serialize(node: .mapping(top)) } catch {
            return .failure(EditError(message: "the changed config cannot be written as YAML: \(error)"))
        }
        return reading(newText, attachments)
    }

    /// Makes an applied edit the document (once the config it reads as is in force).
    mutating func commit(_ applied: Applied) {
        text = applied.text
        attachments = applied.attachments
    }

    /// A YAML node for a JSON value: objects become mappings, arrays sequences, strings
    /// quoted scalars (so "yes" or "80" stay strings where the file would read a string),
    /// numbers and booleans plain scalars. nil for null or anything else.
    static func node(fromJSON value: Any) -> Node? {
        switch value {
        case let d as [String: Any]:
            var pairs: [(Node, Node)] = []
            for (k, v) in d.sorted(by: { $0.key < $1.key }) {
                guard let n = node(fromJSON: v) else { return nil }
                pairs.append((Node(k), n))
            }
            return .mapping(Node.Mapping(pairs))
        case let a as [Any]:
            var items: [Node] = []
            for v in a {
                guard let n = node(fromJSON: v) else { return nil }
                items.append(n)
            }
            return .sequence(Node.Sequence(items))
        case let s as String:
            return Node(s, Tag(.str), .doubleQuoted)
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { return Node(n.boolValue ? "true" : "false") }
            if let i = Int(exactly: n.doubleValue), Double(i) == n.doubleValue { return Node(String(i)) }
            return Node(String(n.doubleValue))
        default:
            return nil
        }
    }
}
