/// A validated spec with every name turned into a dense id: what the validator hands the
/// compiler, so that names are resolved in one place.
struct ResolvedPolicy {
    struct Group {
        var tenant: UInt16
        var intraDeny: Bool
        var external: Bool
    }
    struct Endpoint {
        var tenant: UInt16
        var group: UInt16
        var port: UInt32
        var mac: MACAddress
        var ips: [IPAddress]
    }
    struct External {
        var group: UInt16
        var tenant: UInt16
        var cidrs: [IPPrefix]
        var except: [IPPrefix]
    }
    struct Contract {
        var tenant: UInt16
        var providers: [UInt16]
        var consumers: [UInt16]
        var keep: Bool
        var firstRule: UInt32
        var ruleCount: UInt32
    }
    struct Rule {
        var contract: UInt16
        var footprint: RuleFootprint
        var direction: RuleDirection
        var allow: Bool
        var log: Bool
        var priority: UInt16
    }

    var tenantCount = 0
    var groups: [Group] = []
    var endpoints: [Endpoint] = []
    /// Distinct endpoint port names; `Endpoint.port` indexes it.
    var portNames: [String] = []
    var externals: [External] = []
    var contracts: [Contract] = []
    var rules: [Rule] = []
}
