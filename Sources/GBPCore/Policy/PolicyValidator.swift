/// Entry points of the policy model that do not need compiled tables.
public enum Policy {
    /// Every problem in `spec`, in spec order; empty when the spec can be compiled.
    public static func validate(_ spec: PolicySpec) -> [PolicyError] {
        var v = PolicyValidator(spec)
        v.run()
        return v.errors
    }

    /// Contracts with more rules than this are not checked for rules shadowed by other
    /// rules of the same contract (the check is quadratic).
    public static let shadowCheckRuleLimit = 2_000
}

/// Checks a spec and resolves its names to dense ids. Keeps going after a problem so that
/// one run reports all of them; `resolved` is meaningful only when `errors` is empty.
struct PolicyValidator {
    private(set) var spec: PolicySpec
    private(set) var errors: [PolicyError] = []
    private(set) var resolved = ResolvedPolicy()

    private var tenantIDs: [String: UInt16] = [:]
    /// (tenant id, group name) -> group id, for endpoint groups and external groups alike.
    private var groupIDs: [GroupName: UInt16] = [:]
    /// Group name -> tenant names that have it (to say "belongs to tenant X" when mistaken).
    private var groupTenants: [String: [String]] = [:]

    private struct GroupName: Hashable { var tenant: UInt16; var name: String }
    private static let noTenant: UInt16 = 0xFFFF

    init(_ spec: PolicySpec) { self.spec = spec }

    private mutating func fail(_ path: String, _ code: PolicyError.Code, _ reason: String) {
        errors.append(PolicyError(path, code, reason))
    }

    mutating func run() {
        checkMembership()
        checkContracts()
    }

    /// Tenants, groups, endpoints and external groups: everything contracts refer to.
    mutating func checkMembership() {
        checkTenants()
        checkGroups()
        checkEndpoints()
        checkExternalGroups()
    }

    /// Checks the contracts of `newSpec`, whose membership is the one this validator has
    /// checked already (`PolicyCompiler`); contracts found in `checked` are not checked again.
    mutating func checkContracts(of newSpec: PolicySpec, checked: inout CheckedContracts) {
        spec = newSpec
        checkContracts(checked: &checked)
    }

    // MARK: Tenants and groups

    private mutating func checkTenants() {
        if spec.tenants.count > Int(UInt16.max) {
            fail("tenants", .tooMany, "at most \(UInt16.max) tenants, got \(spec.tenants.count)")
        }
        for (i, t) in spec.tenants.enumerated() {
            let path = "tenants[\(i)].name"
            if t.name.isEmpty { fail(path, .emptyName, "tenant name is empty"); continue }
            if tenantIDs[t.name] != nil {
                fail(path, .duplicateName, "tenant \"\(t.name)\" is defined twice")
            } else {
                tenantIDs[t.name] = UInt16(truncatingIfNeeded: i)
            }
        }
        resolved.tenantCount = spec.tenants.count
    }

    private mutating func tenantID(_ name: String, path: @autoclosure () -> String) -> UInt16 {
        if let t = tenantIDs[name] { return t }
        fail(path(), .unknownTenant, name.isEmpty ? "tenant is empty" : "unknown tenant \"\(name)\"")
        return Self.noTenant
    }

    private mutating func checkGroups() {
        let total = spec.groups.count + spec.externalGroups.count
        if total >= Int(UInt16.max) {
            fail("groups", .tooMany, "at most \(UInt16.max - 1) groups and external groups together, got \(total)")
        }
        func register(_ v: inout PolicyValidator, name: String, tenant: UInt16, tenantName: String, id: Int, path: String) {
            if name.isEmpty { v.fail(path + ".name", .emptyName, "group name is empty"); return }
            v.groupTenants[name, default: []].append(tenantName)
            guard tenant != Self.noTenant else { return }
            let key = GroupName(tenant: tenant, name: name)
            if v.groupIDs[key] != nil {
                v.fail(path + ".name", .duplicateName,
                       "group \"\(name)\" is defined twice in tenant \"\(tenantName)\" (groups and external groups share names)")
            } else {
                v.groupIDs[key] = UInt16(truncatingIfNeeded: id)
            }
        }
        for (i, g) in spec.groups.enumerated() {
            let path = "groups[\(i)]"
            let t = tenantID(g.tenant, path: path + ".tenant")
            register(&self, name: g.name, tenant: t, tenantName: g.tenant, id: i, path: path)
            resolved.groups.append(.init(tenant: t, intraDeny: g.intraGroup == .deny, external: false))
        }
        for (i, g) in spec.externalGroups.enumerated() {
            let path = "external_groups[\(i)]"
            let t = tenantID(g.tenant, path: path + ".tenant")
            register(&self, name: g.name, tenant: t, tenantName: g.tenant, id: spec.groups.count + i, path: path)
            resolved.groups.append(.init(tenant: t, intraDeny: false, external: true))
        }
    }

    /// Resolves a group reference inside tenant `tenant`.
    private mutating func groupID(_ name: String, tenant: UInt16, tenantName: String, path: @autoclosure () -> String) -> UInt16? {
        guard tenant != Self.noTenant else { return nil }  // already reported
        if let g = groupIDs[GroupName(tenant: tenant, name: name)] { return g }
        if let others = groupTenants[name], let other = others.first(where: { $0 != tenantName }) {
            fail(path(), .unknownGroup, "group \"\(name)\" belongs to tenant \"\(other)\", not \"\(tenantName)\"")
        } else {
            fail(path(), .unknownGroup, name.isEmpty ? "group is empty" : "unknown group \"\(name)\" in tenant \"\(tenantName)\"")
        }
        return nil
    }

    // MARK: Endpoints

    private mutating func checkEndpoints() {
        let count = spec.endpoints.count
        if count >= Int(UInt32.max) {
            fail("endpoints", .tooMany, "too many endpoints")
        }
        // Reloads validate every endpoint again, so this loop is kept cheap: paths are built
        // only for errors, and consecutive endpoints usually share tenant, group and port.
        var names: [GroupName: Int] = [:]; names.reserveCapacity(count)
        var ips: [AddressKey: Int] = [:]; ips.reserveCapacity(count)
        var macs: [MACKey: Int] = [:]; macs.reserveCapacity(count)
        var ports: [String: UInt32] = [:]
        // A tenant's gateway addresses and MAC are gbpd's: no endpoint may claim them.
        var gateways: [AddressKey: Int] = [:], gatewayMACs: [MACKey: Int] = [:]
        for (ti, tenant) in spec.tenants.enumerated() {
            guard let g = tenant.gateway, let t = tenantIDs[tenant.name] else { continue }
            for (k, ip) in g.ips.enumerated() {
                if let why = Self.unusableAddress(ip) { fail("tenants[\(ti)].gateway.ips[\(k)]", .invalidAddress, "\(ip) \(why)") }
                gateways[AddressKey(tenant: t, ip: ip)] = ti
            }
            if g.mac.isMulticast || g.mac == .zero { fail("tenants[\(ti)].gateway.mac", .invalidMAC, "\(g.mac) is not a unicast MAC") }
            gatewayMACs[MACKey(tenant: t, mac: g.mac)] = ti
        }
        var last: (tenant: String, t: UInt16, group: String, g: UInt16?, port: String, p: UInt32)?
        resolved.endpoints.reserveCapacity(count)
        for (i, e) in spec.endpoints.enumerated() {
            let t: UInt16
            if let l = last, l.tenant == e.tenant { t = l.t } else { t = tenantID(e.tenant, path: "endpoints[\(i)].tenant") }
            if e.name.isEmpty {
                fail("endpoints[\(i)].name", .emptyName, "endpoint name is empty")
            } else if t != Self.noTenant {
                if let j = names.updateValue(i, forKey: GroupName(tenant: t, name: e.name)) {
                    names[GroupName(tenant: t, name: e.name)] = j
                    fail("endpoints[\(i)].name", .duplicateName, "endpoint \"\(e.name)\" is also endpoints[\(j)] in tenant \"\(e.tenant)\"")
                }
            }
            if e.port.isEmpty { fail("endpoints[\(i)].port", .emptyName, "port is empty") }
            var group: UInt16 = 0xFFFF
            let resolvedGroup: UInt16?
            if let l = last, l.t == t, l.group == e.group, let g = l.g {
                resolvedGroup = g
            } else {
                resolvedGroup = groupID(e.group, tenant: t, tenantName: e.tenant, path: "endpoints[\(i)].group")
            }
            if let g = resolvedGroup {
                if resolved.groups[Int(g)].external {
                    fail("endpoints[\(i)].group", .unknownGroup, "\"\(e.group)\" is an external group; endpoints belong to endpoint groups")
                } else {
                    group = g
                }
            }
            if e.mac.isMulticast || e.mac == .zero {
                fail("endpoints[\(i)].mac", .invalidMAC, "\(e.mac) is \(e.mac == .zero ? "all zeros" : "a multicast address") and cannot identify an endpoint")
            } else if t != Self.noTenant {
                if !gatewayMACs.isEmpty, let ti = gatewayMACs[MACKey(tenant: t, mac: e.mac)] {
                    fail("endpoints[\(i)].mac", .duplicateMAC, "MAC \(e.mac) is the gateway MAC of tenant \"\(e.tenant)\" (tenants[\(ti)].gateway.mac)")
                }
                if let j = macs.updateValue(i, forKey: MACKey(tenant: t, mac: e.mac)) {
                    macs[MACKey(tenant: t, mac: e.mac)] = j
                    fail("endpoints[\(i)].mac", .duplicateMAC, "MAC \(e.mac) is also endpoints[\(j)].mac in tenant \"\(e.tenant)\"")
                }
            }
            for (k, ip) in e.ips.enumerated() {
                if let why = Self.unusableAddress(ip) {
                    fail("endpoints[\(i)].ips[\(k)]", .invalidAddress, "\(ip) \(why)")
                    continue
                }
                guard t != Self.noTenant else { continue }
                if !gateways.isEmpty, let ti = gateways[AddressKey(tenant: t, ip: ip)] {
                    fail("endpoints[\(i)].ips[\(k)]", .duplicateAddress, "\(ip) is the gateway address of tenant \"\(e.tenant)\" (tenants[\(ti)].gateway.ips)")
                }
                // The value packs (endpoint, index in its ips) of the first owner.
                if let other = ips.updateValue(i << 16 | k, forKey: AddressKey(tenant: t, ip: ip)) {
                    ips[AddressKey(tenant: t, ip: ip)] = other
                    fail("endpoints[\(i)].ips[\(k)]", .duplicateAddress,
                         "\(ip) is also endpoints[\(other >> 16)].ips[\(other & 0xFFFF)] in tenant \"\(e.tenant)\"")
                }
            }
            let port: UInt32
            if let l = last, l.port == e.port {
                port = l.p
            } else if let p = ports[e.port] {
                port = p
            } else {
                port = UInt32(resolved.portNames.count)
                ports[e.port] = port
                resolved.portNames.append(e.port)
            }
            last = (e.tenant, t, e.group, resolvedGroup, e.port, port)
            resolved.endpoints.append(.init(tenant: t, group: group, port: port, mac: e.mac, ips: e.ips))
        }
    }

    private struct AddressKey: Hashable { var tenant: UInt16; var ip: IPAddress }
    private struct MACKey: Hashable { var tenant: UInt16; var mac: MACAddress }

    static func unusableAddress(_ ip: IPAddress) -> String? {
        if ip.isIPv4 {
            let v = ip.v4
            if v == 0 { return "is the unspecified address" }
            if v >> 28 == 0xE { return "is a multicast address" }
            if v == 0xFFFF_FFFF { return "is the broadcast address" }
            return nil
        }
        if ip == .zero { return "is the unspecified address" }
        if ip.hi >> 56 == 0xFF { return "is a multicast address" }
        return nil
    }

    // MARK: External groups

    private mutating func checkExternalGroups() {
        var seen: [AddressPrefixKey: String] = [:]
        for (i, g) in spec.externalGroups.enumerated() {
            let path = "external_groups[\(i)]"
            let t = resolved.groups[spec.groups.count + i].tenant
            if g.cidrs.isEmpty { fail(path + ".cidrs", .neverMatches, "no cidrs: the group has no members") }
            var cidrs: [IPPrefix] = []
            var cidrPaths: [String] = []
            for (k, text) in g.cidrs.enumerated() {
                let p = "\(path).cidrs[\(k)]"
                switch IPPrefix.parse(text) {
                case .failure(let e): fail(p, .malformedCIDR, e.reason)
                case .success(let prefix):
                    let key = AddressPrefixKey(tenant: t, prefix: prefix)
                    if let other = seen[key] {
                        fail(p, .duplicatePrefix, "\(prefix) is also \(other) in tenant \"\(g.tenant)\"")
                    } else {
                        seen[key] = p
                    }
                    cidrs.append(prefix); cidrPaths.append(p)
                }
            }
            var excepts: [IPPrefix] = []
            for (k, text) in g.except.enumerated() {
                let p = "\(path).except[\(k)]"
                switch IPPrefix.parse(text) {
                case .failure(let e): fail(p, .malformedCIDR, e.reason)
                case .success(let prefix):
                    if !cidrs.contains(where: { $0.contains(prefix) }) && cidrs.count == g.cidrs.count {
                        fail(p, .neverMatches, "\(prefix) is inside none of the group's cidrs")
                    }
                    for (c, cp) in zip(cidrs, cidrPaths) where prefix.contains(c) {
                        fail(cp, .neverMatches, "\(c) is entirely removed by except[\(k)] \(prefix)")
                    }
                    excepts.append(prefix)
                }
            }
            resolved.externals.append(.init(group: UInt16(spec.groups.count + i), tenant: t, cidrs: cidrs, except: excepts))
        }
    }

    private struct AddressPrefixKey: Hashable { var tenant: UInt16; var prefix: IPPrefix }

    // MARK: Contracts and rules

    mutating func checkContracts() {
        var none = CheckedContracts(enabled: false)
        checkContracts(checked: &none)
    }

    /// Checks every contract but those `checked` holds (found valid under this membership
    /// before) and adds those found valid now. Names are checked across all contracts.
    mutating func checkContracts(checked: inout CheckedContracts) {
        checked.begin(count: spec.contracts.count)
        defer { checked.end(spec.contracts) }
        if spec.contracts.count >= Int(UInt16.max) {
            fail("contracts", .tooMany, "at most \(UInt16.max - 1) contracts, got \(spec.contracts.count)")
        }
        var names: [GroupName: Int] = [:]
        names.reserveCapacity(spec.contracts.count)
        resolved.contracts.reserveCapacity(spec.contracts.count)
        var ruleTotal = 0
        for (i, c) in spec.contracts.enumerated() {
            // Paths are built only for errors and contracts checked here: a reload of
            // thousands of known contracts should not format thousands of strings.
            func path(_ field: String = "") -> String { "contracts[\(i)]" + field }
            let t = tenantID(c.tenant, path: path(".tenant"))
            if c.name.isEmpty {
                fail(path(".name"), .emptyName, "contract name is empty")
            } else if t != Self.noTenant {
                if let j = names[GroupName(tenant: t, name: c.name)] {
                    fail(path(".name"), .duplicateName, "contract \"\(c.name)\" is also contracts[\(j)] in tenant \"\(c.tenant)\"")
                } else {
                    names[GroupName(tenant: t, name: c.name)] = i
                }
            }
            let contract = UInt16(truncatingIfNeeded: i)
            if let known = checked.lookup(c, at: i) {
                resolved.contracts.append(.init(
                    tenant: t, providers: known.providers, consumers: known.consumers, keep: c.onPolicyChange == .keep,
                    firstRule: UInt32(truncatingIfNeeded: ruleTotal), ruleCount: UInt32(truncatingIfNeeded: c.rules.count)))
                for var r in known.rules { r.contract = contract; resolved.rules.append(r) }
                ruleTotal += c.rules.count
                continue
            }
            let before = errors.count
            let path = path()
            let providers = resolveMembers(c.providers, tenant: t, tenantName: c.tenant, path: path + ".providers")
            let consumers = resolveMembers(c.consumers, tenant: t, tenantName: c.tenant, path: path + ".consumers")
            if !providers.isEmpty && !consumers.isEmpty
                && (providers + consumers).allSatisfy({ resolved.groups[Int($0)].external }) {
                fail(path, .neverMatches, "every provider and consumer is an external group; traffic between two external groups is always denied")
            }
            if c.rules.isEmpty { fail(path + ".rules", .neverMatches, "the contract has no rules") }
            var rules: [ResolvedPolicy.Rule] = []
            var ruleOK: [Bool] = []
            for (k, r) in c.rules.enumerated() {
                let (rule, ok) = checkRule(r, contract: contract, path: "contracts[\(i)].rules[\(k)]")
                rules.append(rule); ruleOK.append(ok)
            }
            if c.rules.count <= Policy.shadowCheckRuleLimit {
                checkShadowing(rules, ok: ruleOK, path: path)
            }
            if errors.count == before && t != Self.noTenant {
                checked.add(c, at: i, .init(providers: providers, consumers: consumers, rules: rules))
            }
            resolved.contracts.append(.init(
                tenant: t, providers: providers, consumers: consumers, keep: c.onPolicyChange == .keep,
                firstRule: UInt32(truncatingIfNeeded: ruleTotal), ruleCount: UInt32(truncatingIfNeeded: c.rules.count)))
            resolved.rules += rules
            ruleTotal += c.rules.count
        }
        if ruleTotal >= CompiledRule.maxRules {
            fail("contracts", .tooMany, "at most \(CompiledRule.maxRules - 1) rules in all, got \(ruleTotal)")
        }
    }

    private mutating func resolveMembers(_ names: [String], tenant: UInt16, tenantName: String, path: String) -> [UInt16] {
        if names.isEmpty { fail(path, .neverMatches, "no groups: the contract can never apply") }
        var out: [UInt16] = []
        for (j, n) in names.enumerated() {
            guard let g = groupID(n, tenant: tenant, tenantName: tenantName, path: "\(path)[\(j)]") else { continue }
            if out.contains(g) {
                fail("\(path)[\(j)]", .duplicateName, "group \"\(n)\" is listed twice")
            } else {
                out.append(g)
            }
        }
        return out
    }

    private static let unmatchableEtherTypes: [Int: String] = [
        0x0800: "IPv4 frames are classified as IP; use a protocol",
        0x86DD: "IPv6 frames are classified as IP; use a protocol",
        0x8100: "VLAN tags are removed before classification",
        0x88A8: "VLAN tags are removed before classification",
        0x9100: "VLAN tags are removed before classification",
    ]

    /// Checks one rule's fields; returns its resolved form and whether it is sound enough
    /// to take part in the shadowing check.
    private mutating func checkRule(_ r: RuleSpec, contract: UInt16, path: @autoclosure () -> String) -> (ResolvedPolicy.Rule, Bool) {
        let before = errors.count
        if case .etherType(let e) = r.proto {
            if !(0...0xFFFF).contains(e) {
                fail(path() + ".protocol", .outOfRange, "EtherType \(e) is not in 0...0xFFFF")
            } else if e < 0x0600 {
                fail(path() + ".protocol", .invalidField, "\(e) is an 802.3 length, not an EtherType (those start at 0x0600)")
            } else if let why = Self.unmatchableEtherTypes[e] {
                fail(path() + ".protocol", .neverMatches, "EtherType 0x\(String(e, radix: 16)) can never match: \(why)")
            }
        }
        if !r.ports.isEmpty && !r.proto.hasPorts {
            fail(path() + ".ports", .neverMatches, "ports need protocol tcp, udp or sctp; this rule's protocol has no ports")
        }
        for (m, p) in r.ports.enumerated() {
            if !(0...65535).contains(p.first) || !(0...65535).contains(p.last) {
                fail("\(path()).ports[\(m)]", .outOfRange, "port range \(p.first)-\(p.last) is outside 0...65535")
            } else if p.first > p.last {
                fail("\(path()).ports[\(m)]", .reversedPortRange, "port range \(p.first)-\(p.last) is reversed: it contains no port")
            }
        }
        for (value, key) in r.icmpType == nil && r.icmpCode == nil ? [] : [(r.icmpType, "icmp_type"), (r.icmpCode, "icmp_code")] {
            guard let v = value else { continue }
            if !r.proto.isICMP {
                fail("\(path()).\(key)", .neverMatches, "\(key) needs protocol icmp or icmpv6")
            } else if !(0...255).contains(v) {
                fail("\(path()).\(key)", .outOfRange, "\(key) \(v) is outside 0...255")
            }
        }
        if r.icmpCode != nil && r.icmpType == nil && r.proto.isICMP {
            fail(path() + ".icmp_code", .invalidField, "icmp_code needs icmp_type")
        }
        if !(0...65535).contains(r.priority) {
            fail(path() + ".priority", .outOfRange, "priority \(r.priority) is outside 0...65535")
        }
        let ok = errors.count == before
        let rule = ResolvedPolicy.Rule(
            contract: contract, footprint: ok ? RuleFootprint(r) : RuleFootprint(classMask: 0, ranges: []),
            direction: r.direction, allow: r.action == .allow, log: r.log,
            priority: UInt16(clamping: r.priority))
        return (rule, ok)
    }

    /// A rule can never decide a packet when a rule of the same contract that wins over it
    /// (see Classifier.swift for precedence) covers everything it matches, both ways it applies.
    private mutating func checkShadowing(_ rules: [ResolvedPolicy.Rule], ok: [Bool], path: String) {
        for j in rules.indices where ok[j] {
            for i in rules.indices where i != j && ok[i] {
                let a = rules[i], b = rules[j]
                guard RulePrecedence.wins(priority: a.priority, allow: a.allow, id: UInt32(i),
                                          over: b.priority, allow: b.allow, id: UInt32(j)) else { continue }
                guard a.direction == .both || a.direction == b.direction else { continue }
                if b.footprint.isCovered(by: a.footprint) {
                    fail("\(path).rules[\(j)]", .neverMatches,
                         "never decides a packet: rules[\(i)] (priority \(a.priority), \(a.allow ? "allow" : "deny")) matches everything it matches and takes precedence")
                    break
                }
            }
        }
    }
}
