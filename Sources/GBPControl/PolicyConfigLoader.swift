import Foundation
import GBPCore
import GBPRuntime
import Yams

/// Reads the policy part of a config file (`tenants`, `groups`, `external_groups`,
/// `contracts`, with the endpoints `ConfigLoader` read) into a `PolicySpec`, checks it
/// with `Policy.validate` and ties each port to a tenant.
///
/// Every problem goes to the `ConfigReader`: shape problems (wrong type, unknown key,
/// bad value) as they are read, validation problems at the line of the node their path
/// names. Elements that cannot be read are left out of the spec, so the spec's
/// positions are mapped back to the file's before paths are reported, and references
/// to a group or tenant that could not be read are not reported as unknown.
enum PolicyConfigLoader {
    /// Top-level keys of the policy (besides `endpoints`, which exists without policy too).
    static let keys = ["tenants", "groups", "external_groups", "contracts"]

    static let ruleKeys = ["name", "protocol", "ethertype", "ports", "icmp_type", "icmp_code",
                           "direction", "action", "log", "priority"]

    /// Without `tenants` there is no policy: the other policy keys and port tenants would
    /// be silently ignored, so they are errors.
    static func rejectWithoutTenants(_ top: [String: Node], ports: [(index: Int, value: RuntimeConfig.Port)], _ r: ConfigReader) {
        for key in keys where key != "tenants" && top[key] != nil {
            r.fail(at: key, "needs a tenants list: without tenants gbpd is a plain L2 switch and enforces no policy")
        }
        for (i, p) in ports {
            if let t = p.tenant { r.fail(at: "ports[\(i)].tenant", "unknown tenant '\(t)' (no tenants are declared)") }
        }
    }

    /// Reads and validates the policy; sets the tenant of every port that has one.
    /// Returns nil only when `tenants` is absent.
    static func read(_ top: [String: Node], ports: inout [(index: Int, value: RuntimeConfig.Port)],
                     endpoints: [(index: Int, value: EndpointEntry)], _ r: ConfigReader) -> PolicySpec? {
        guard let tenantsNode = top["tenants"] else { return nil }
        let p = PolicyReader(r)
        let spec = p.read(tenantsNode, top, endpoints)
        for e in Policy.validate(spec) where !p.isConsequenceOfUnreadElement(e, spec) {
            r.fail(at: p.filePath(e.path), p.fileReason(e.reason, errorPath: e.path))
        }
        assignPortTenants(spec, &ports, endpoints, r)
        return spec
    }

    // MARK: Ports and tenants

    /// The receiving port decides the tenant of a packet: a port's `tenant`, or else the
    /// tenant of its endpoints. Checks that this is well defined and sets `tenant`.
    private static func assignPortTenants(_ spec: PolicySpec, _ ports: inout [(index: Int, value: RuntimeConfig.Port)],
                                          _ endpoints: [(index: Int, value: EndpointEntry)], _ r: ConfigReader) {
        let declared = Set(spec.tenants.map(\.name))
        let tenantList = spec.tenants.map(\.name).joined(separator: ", ")
        var explicit: [String: String] = [:]           // port name -> its valid `tenant`
        var hasBadTenant = Set<String>()
        for (i, p) in ports {
            guard let t = p.tenant else { continue }
            if declared.contains(t) { explicit[p.name] = t } else {
                r.fail(at: "ports[\(i)].tenant", "unknown tenant '\(t)' (tenants: \(tenantList))")
                hasBadTenant.insert(p.name)
            }
        }
        var derived: [String: (tenant: String, endpoint: Int)] = [:]
        var mixed = Set<String>()
        for (j, e) in endpoints {
            guard let t = e.tenant, declared.contains(t), !hasBadTenant.contains(e.port) else { continue }
            if let pt = explicit[e.port] {
                if pt != t {
                    r.fail(at: "endpoints[\(j)].tenant",
                           "endpoint of tenant '\(t)' on port '\(e.port)', which belongs to tenant '\(pt)'")
                }
            } else if let first = derived[e.port] {
                if first.tenant != t && mixed.insert(e.port).inserted, let i = ports.first(where: { $0.value.name == e.port })?.index {
                    r.fail(at: "ports[\(i)]",
                           "port '\(e.port)' has endpoints of two tenants, '\(first.tenant)' (endpoints[\(first.endpoint)]) and '\(t)' (endpoints[\(j)]); a port carries one tenant's traffic")
                }
            } else {
                derived[e.port] = (t, j)
            }
        }
        var uplinks: [String: Int] = [:]               // tenant -> position of its uplink port
        for k in ports.indices {
            let (i, p) = ports[k]
            if p.role == .uplink {
                if p.tenant == nil {
                    r.fail(at: "ports[\(i)].tenant", "an uplink port needs a tenant when tenants are declared (tenants: \(tenantList))")
                } else if let t = explicit[p.name] {
                    if let other = uplinks[t] {
                        r.fail(at: "ports[\(i)].role", "tenant '\(t)' already has an uplink, ports[\(other)]; a tenant has at most one")
                    } else {
                        uplinks[t] = i
                    }
                }
            }
            if p.tenant == nil, !mixed.contains(p.name), let d = derived[p.name] { ports[k].value.tenant = d.tenant }
        }
    }
}

/// One reading of the policy keys: the spec, where each of its elements came from in the
/// file, and which elements could not be read.
private final class PolicyReader {
    let r: ConfigReader
    init(_ r: ConfigReader) { self.r = r }

    /// Spec position -> file position, per list.
    var tenantAt: [Int] = [], groupAt: [Int] = [], endpointAt: [Int] = [], externalAt: [Int] = [], contractAt: [Int] = []
    /// Per spec contract: spec rule position -> file rule position.
    var ruleAt: [[Int]] = []
    /// Per spec contract: spec rule positions written with `ethertype` rather than `protocol`.
    var etherTypeRules: [Set<Int>] = []
    /// A tenant could not be read: unknown-tenant errors may be about it.
    var lostTenant = false
    /// Names of groups (endpoint or external) that could not be read; `lostUnnamedGroup`
    /// when one's name could not be read either.
    var lostGroups = Set<String>()
    var lostUnnamedGroup = false
    /// Spec positions of contracts some of whose rules could not be read.
    var contractsWithLostRules = Set<Int>()

    func read(_ tenantsNode: Node, _ top: [String: Node], _ endpoints: [(index: Int, value: EndpointEntry)]) -> PolicySpec {
        var spec = PolicySpec()
        lostTenant = !isList(tenantsNode)
        lostUnnamedGroup = !isList(top["groups"]) || !isList(top["external_groups"])
        for (i, t) in r.eachIndexed(tenantsNode, "tenants", readTenant) { spec.tenants.append(t); tenantAt.append(i) }
        if case .sequence(let s) = tenantsNode, s.isEmpty {
            r.fail(tenantsNode, "tenants", "at least one tenant is needed (leave out tenants to run gbpd without policy)")
        }
        for (i, g) in r.eachIndexed(top["groups"], "groups", readGroup) { spec.groups.append(g); groupAt.append(i) }
        for (i, e) in endpoints {
            guard let group = e.group, let tenant = e.tenant else { continue }  // reported by ConfigLoader
            spec.endpoints.append(EndpointSpec(name: e.name, port: e.port, mac: e.mac, ips: e.ips, group: group, tenant: tenant))
            endpointAt.append(i)
        }
        for (i, g) in r.eachIndexed(top["external_groups"], "external_groups", readExternalGroup) {
            spec.externalGroups.append(g); externalAt.append(i)
        }
        for (i, c) in r.eachIndexed(top["contracts"], "contracts", readContract) {
            spec.contracts.append(c.contract); contractAt.append(i)
            ruleAt.append(c.ruleAt); etherTypeRules.append(c.etherTypeRules)
            if c.lostRule { contractsWithLostRules.insert(spec.contracts.count - 1) }
        }
        return spec
    }

    private func isList(_ node: Node?) -> Bool {
        guard let node else { return true }
        if case .sequence = node { return true }
        return false
    }

    // MARK: Elements

    private func readTenant(_ n: Node, _ f: String) -> TenantSpec? {
        guard let m = r.mapping(n, f, required: ["name"], optional: ["gateway"]),
              let name = m["name"].flatMap({ r.nonEmptyString($0, "\(f).name") }) else {
            lostTenant = true; return nil
        }
        var tenant = TenantSpec(name: name)
        if let g = m["gateway"], let gm = r.mapping(g, "\(f).gateway", required: ["ips", "mac"]),
           let ips = gm["ips"].flatMap({ ConfigLoader.readAddresses($0, "\(f).gateway.ips", r) }),
           let mac = gm["mac"].flatMap({ ConfigLoader.readMAC($0, "\(f).gateway.mac", r) }) {
            if ips.isEmpty { r.fail(gm["ips"], "\(f).gateway.ips", "a gateway needs at least one address") }
            tenant.gateway = GatewaySpec(ips: ips, mac: mac)
        }
        return tenant
    }

    /// Name and tenant, shared by groups and external groups; a group whose name is
    /// known but that cannot be used is remembered in `lostGroups`.
    private func readGroupHead(_ n: Node, _ f: String, required: [String], optional: [String]) -> (m: [String: Node], name: String, tenant: String)? {
        guard let m = r.mapping(n, f, required: ["name", "tenant"] + required, optional: optional) else {
            lostUnnamedGroup = true; return nil
        }
        let name = m["name"].flatMap { r.nonEmptyString($0, "\(f).name") }
        let tenant = m["tenant"].flatMap { r.nonEmptyString($0, "\(f).tenant") }
        guard let name else { lostUnnamedGroup = true; return nil }
        guard let tenant else { lostGroups.insert(name); return nil }
        return (m, name, tenant)
    }

    private func readGroup(_ n: Node, _ f: String) -> GroupSpec? {
        guard let (m, name, tenant) = readGroupHead(n, f, required: [], optional: ["intra_group"]) else { return nil }
        // A bad intra_group is reported; the group is kept (with the default) so that
        // references to it still resolve.
        let intra = m["intra_group"].flatMap { r.choice($0, "\(f).intra_group", [IntraGroupPolicy.allow, .deny]) } ?? .allow
        return GroupSpec(name: name, tenant: tenant, intraGroup: intra)
    }

    private func readExternalGroup(_ n: Node, _ f: String) -> ExternalGroupSpec? {
        guard let (m, name, tenant) = readGroupHead(n, f, required: ["cidrs"], optional: ["except"]) else { return nil }
        let cidrs = m["cidrs"].flatMap { r.stringList($0, "\(f).cidrs") }
        let except = m["except"].map { r.stringList($0, "\(f).except") } ?? []
        guard let cidrs, let except else { lostGroups.insert(name); return nil }
        return ExternalGroupSpec(name: name, tenant: tenant, cidrs: cidrs, except: except)
    }

    private func readContract(_ n: Node, _ f: String) -> (contract: ContractSpec, ruleAt: [Int], etherTypeRules: Set<Int>, lostRule: Bool)? {
        guard let m = r.mapping(n, f, required: ["name", "tenant", "providers", "consumers", "rules"], optional: ["on_policy_change"]) else {
            return nil
        }
        let name = m["name"].flatMap { r.nonEmptyString($0, "\(f).name") }
        let tenant = m["tenant"].flatMap { r.nonEmptyString($0, "\(f).tenant") }
        let providers = m["providers"].flatMap { r.stringList($0, "\(f).providers") }
        let consumers = m["consumers"].flatMap { r.stringList($0, "\(f).consumers") }
        var mode: PolicyChangeMode? = .recheck
        if let v = m["on_policy_change"] { mode = r.choice(v, "\(f).on_policy_change", [PolicyChangeMode.recheck, .keep]) }
        let ruleNodes = m["rules"].flatMap { r.sequence($0, "\(f).rules") }
        let rules = (ruleNodes ?? []).enumerated().compactMap { k, n in readRule(n, "\(f).rules[\(k)]").map { (index: k, value: $0) } }
        guard let name, let tenant, let providers, let consumers, let mode, let ruleNodes else { return nil }
        let contract = ContractSpec(name: name, tenant: tenant, providers: providers, consumers: consumers,
                                    rules: rules.map(\.value.rule), onPolicyChange: mode)
        let etherType = Set(rules.indices.filter { rules[$0].value.etherType })
        return (contract, rules.map(\.index), etherType, rules.count < ruleNodes.count)
    }

    private static let protocols: [(String, RuleProtocol)] = [
        ("tcp", .tcp), ("udp", .udp), ("sctp", .sctp), ("icmp", .icmp), ("icmpv6", .icmpv6), ("any", .any),
    ]

    /// A rule; nil when any of its fields cannot be read (the problem is reported and the
    /// rule left out, so that validation does not judge a half-read rule).
    private func readRule(_ n: Node, _ f: String) -> (rule: RuleSpec, etherType: Bool)? {
        guard let m = r.mapping(n, f, optional: PolicyConfigLoader.ruleKeys) else { return nil }
        let before = r.issues.count
        var rule = RuleSpec(proto: .any)
        if let v = m["name"], let s = r.string(v, "\(f).name") { rule.name = s }
        switch (m["protocol"], m["ethertype"]) {
        case (nil, nil):
            r.fail(n, "\(f).protocol", "required key is missing (or ethertype, for non-IP frames)")
        case (.some, .some(let e)):
            r.fail(e, "\(f).ethertype", "give protocol or ethertype, not both")
        case (.some(let p), nil):
            if let s = r.string(p, "\(f).protocol") {
                if let v = Self.protocols.first(where: { $0.0 == s })?.1 { rule.proto = v } else {
                    r.fail(p, "\(f).protocol", "unknown protocol '\(s)' (tcp, udp, sctp, icmp, icmpv6 or any; ethertype for non-IP frames)")
                }
            }
        case (nil, .some(let e)):
            if let s = r.string(e, "\(f).ethertype") {
                if let v = Self.number(s) { rule.proto = .etherType(v) } else {
                    r.fail(e, "\(f).ethertype", "'\(s)' is not a number (an EtherType such as 0x88cc)")
                }
            }
        }
        if let list = m["ports"], let items = r.sequence(list, "\(f).ports") {
            for (k, item) in items.enumerated() {
                guard let s = r.string(item, "\(f).ports[\(k)]") else { continue }
                if let range = Self.portRange(s) { rule.ports.append(range) } else {
                    r.fail(item, "\(f).ports[\(k)]", "'\(s)' is not a port or a port range (80, 8080-8089)")
                }
            }
        }
        if let v = m["icmp_type"] { rule.icmpType = r.int(v, "\(f).icmp_type") }
        if let v = m["icmp_code"] { rule.icmpCode = r.int(v, "\(f).icmp_code") }
        if let v = m["direction"], let d = r.choice(v, "\(f).direction", [RuleDirection.consumerToProvider, .providerToConsumer, .both]) {
            rule.direction = d
        }
        if let v = m["action"], let a = r.choice(v, "\(f).action", [RuleAction.allow, .deny]) { rule.action = a }
        if let v = m["log"], let b = r.bool(v, "\(f).log") { rule.log = b }
        if let v = m["priority"], let p = r.int(v, "\(f).priority") { rule.priority = p }
        guard r.issues.count == before else { return nil }
        return (rule, m["ethertype"] != nil)
    }

    /// "80" or "8080-8089" (numbers of any size: validation checks the range).
    static func portRange(_ text: String) -> PortRange? {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) else { return nil }
        let values = parts.compactMap { Int($0) }
        guard values.count == parts.count else { return nil }
        return values.count == 1 ? PortRange(values[0]) : PortRange(values[0], values[1])
    }

    /// A decimal or 0x-prefixed hexadecimal number.
    static func number(_ text: String) -> Int? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return Int(text.dropFirst(2), radix: 16) }
        return Int(text)
    }

    // MARK: From spec positions back to the file

    /// `contracts[1].rules[0].ports[1]` of the spec as the file numbers it.
    func filePath(_ path: String) -> String {
        guard let (list, index, rest) = Self.head(path) else { return path }
        switch list {
        case "tenants": return "tenants[\(tenantAt[safe: index])]" + rest
        case "groups": return "groups[\(groupAt[safe: index])]" + rest
        case "endpoints": return "endpoints[\(endpointAt[safe: index])]" + rest
        case "external_groups": return "external_groups[\(externalAt[safe: index])]" + rest
        case "contracts":
            guard index < contractAt.count else { return path }
            var rest = rest
            if rest.hasPrefix(".rules["), let (_, k, after) = Self.head(String(rest.dropFirst())) {
                let key = etherTypeRules[index].contains(k) && after == ".protocol" ? ".ethertype" : after
                rest = ".rules[\(ruleAt[index][safe: k])]" + key
            }
            return "contracts[\(contractAt[index])]" + rest
        default: return path
        }
    }

    /// Positions that a reason mentions (`is also endpoints[3].ips[0]`, `rules[0] ... takes
    /// precedence`), as the file numbers them.
    func fileReason(_ reason: String, errorPath: String) -> String {
        var out = Self.renumber(reason, "endpoints[", endpointAt)
        out = Self.renumber(out, "contracts[", contractAt)
        if errorPath.hasPrefix("contracts["), let (_, c, _) = Self.head(errorPath), c < ruleAt.count {
            out = Self.renumber(out, "rules[", ruleAt[c])
        }
        return out
    }

    /// True for an error that may only be there because an element could not be read (that
    /// problem is reported already): an unknown tenant or group that may be the unread one,
    /// a contract left without rules because its rules could not be read.
    func isConsequenceOfUnreadElement(_ e: PolicyError, _ spec: PolicySpec) -> Bool {
        switch e.code {
        case .neverMatches where e.path.hasSuffix(".rules"):
            guard let (_, c, _) = Self.head(e.path) else { return false }
            return contractsWithLostRules.contains(c)
        case .unknownTenant: return lostTenant
        case .unknownGroup:
            if lostUnnamedGroup { return true }
            guard let name = Self.referencedGroup(e.path, spec) else { return false }
            return lostGroups.contains(name)
        default: return false
        }
    }

    /// The group name at `endpoints[i].group`, `contracts[i].providers[j]` or `.consumers[j]`.
    private static func referencedGroup(_ path: String, _ spec: PolicySpec) -> String? {
        guard let (list, i, rest) = head(path) else { return nil }
        if list == "endpoints", rest == ".group", i < spec.endpoints.count { return spec.endpoints[i].group }
        guard list == "contracts", i < spec.contracts.count, let (side, j, _) = head(String(rest.dropFirst())) else { return nil }
        let names = side == "providers" ? spec.contracts[i].providers : side == "consumers" ? spec.contracts[i].consumers : []
        return j < names.count ? names[j] : nil
    }

    /// Splits `name[3].rest` into ("name", 3, ".rest").
    private static func head(_ path: String) -> (String, Int, String)? {
        guard let open = path.firstIndex(of: "["), let close = path[open...].firstIndex(of: "]"),
              let i = Int(path[path.index(after: open)..<close]) else { return nil }
        return (String(path[..<open]), i, String(path[path.index(after: close)...]))
    }

    /// Rewrites every `prefix<n>]` in `text` to `prefix<map[n]>]`.
    private static func renumber(_ text: String, _ prefix: String, _ map: [Int]) -> String {
        var out = ""
        var rest = Substring(text)
        while let r = rest.range(of: prefix) {
            out += rest[..<r.upperBound]
            rest = rest[r.upperBound...]
            if let close = rest.firstIndex(of: "]"), let n = Int(rest[..<close]), n < map.count {
                out += String(map[n])
                rest = rest[close...]
            }
        }
        return out + rest
    }
}

private extension Array where Element == Int {
    /// The element at `i`, or `i` itself past the end (a path the validator made up).
    subscript(safe i: Int) -> Int { i < count ? self[i] : i }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
