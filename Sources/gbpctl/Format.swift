import Foundation

/// Human-readable output of gbpctl: aligned tables with a header row.
struct Table {
    var headers: [String]
    /// Columns aligned right (numbers).
    var right: Set<Int> = []
    var rows: [[String]] = []

    init(_ headers: [String], right: Set<Int> = []) { self.headers = headers; self.right = right }

    mutating func add(_ row: [String]) { rows.append(row) }

    var text: String {
        let all = [headers] + rows
        let widths = headers.indices.map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return all.map { row in
            headers.indices.map { c in
                let v = c < row.count ? row[c] : ""
                let pad = String(repeating: " ", count: max(0, widths[c] - v.count))
                return right.contains(c) ? pad + v : (c == headers.count - 1 ? v : v + pad)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Values of a decoded JSON response.
enum J {
    static func str(_ v: Any?) -> String {
        switch v {
        case nil, is NSNull: return "-"
        case let s as String: return s
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { return n.boolValue ? "yes" : "no" }
            if String(cString: n.objCType) == "d" || String(cString: n.objCType) == "f" {
                return String(format: "%.2f", n.doubleValue)
            }
            return n.stringValue
        case let a as [Any]: return a.isEmpty ? "-" : a.map { str($0) }.joined(separator: ",")
        default: return "\(v!)"
        }
    }
    static func int(_ v: Any?) -> UInt64 { (v as? NSNumber)?.uint64Value ?? 0 }
    static func double(_ v: Any?) -> Double { (v as? NSNumber)?.doubleValue ?? 0 }
    static func list(_ v: Any?) -> [[String: Any]] { v as? [[String: Any]] ?? [] }
    static func dict(_ v: Any?) -> [String: Any] { v as? [String: Any] ?? [:] }
}

enum Format {
    static func stats(_ r: [String: Any]) -> String {
        let s = J.dict(r["stats"])
        var out: [String] = []
        let epoch = J.int(s["policy_epoch"])
        out.append(String(format: "gbpd up %.1f s, ", J.double(s["run_seconds"]))
                   + (s["policy"] as? Bool == true ? "policy epoch \(epoch) (\(J.int(s["policy_swaps"])) changes since start)" : "no policy (L2 switch)")
                   + ", \(J.int(s["endpoints"])) endpoints, config \(J.str(s["config"]))")
        out.append("packets: rx \(J.int(s["rx"])), tx \(J.int(s["tx"])), dropped \(J.int(s["dropped"])), flood copies \(J.int(s["flood_copies"]))")
        out.append("")
        var ports = Table(["PORT", "DRIVER", "RX", "TX", "DROPPED", "RX BYTES", "TX REFUSED", "HW MISSED"], right: [2, 3, 4, 5, 6, 7])
        for p in J.list(s["ports"]) {
            ports.add([J.str(p["name"]), J.str(p["driver"]), J.str(p["rx"]), J.str(p["tx"]), J.str(p["dropped"]),
                       J.str(p["rx_bytes"]), J.str(p["tx_refused"]), J.str(p["hw_rx_missed"])])
        }
        out.append(ports.text)
        let drops = J.dict(s["drops"])
        if !drops.isEmpty {
            var t = Table(["DROP REASON", "PACKETS"], right: [1])
            for (k, v) in drops.sorted(by: { $0.key < $1.key }) { t.add([k, J.str(v)]) }
            out.append("")
            out.append(t.text)
        }
        let rules = J.list(s["rules"])
        if !rules.isEmpty {
            var t = Table(["RULE", "PACKETS", "ALLOWED", "DENIED", "BYTES"], right: [1, 2, 3, 4])
            for x in rules { t.add([J.str(x["rule"]), J.str(x["packets"]), J.str(x["allowed"]), J.str(x["denied"]), J.str(x["bytes"])]) }
            out.append("")
            out.append(t.text)
        }
        let ct = J.dict(s["conntrack"])
        if !ct.isEmpty {
            out.append("")
            out.append("conntrack: \(J.int(ct["entries"])) entries, \(J.int(ct["new"])) new, \(J.int(ct["hits"])) hits "
                       + "(\(J.int(ct["fast_path"])) on the fast path), \(J.int(ct["denial_hits"])) remembered denials, "
                       + "\(J.int(ct["expired"])) expired, \(J.int(ct["full_drops"])) table-full drops, "
                       + "\(J.int(ct["budget_drops"])) tenant-budget drops, "
                       + "\(J.int(ct["rechecked"])) rechecked (\(J.int(ct["recheck_drops"])) dropped, \(J.int(ct["kept"])) kept)")
        }
        let workers = J.list(s["workers"])
        if !workers.isEmpty {
            var t = Table(["WORKER LCORE", "RX", "BURSTS", "CYCLES/PACKET"], right: [0, 1, 2, 3])
            for w in workers { t.add([J.str(w["lcore"]), J.str(w["rx"]), J.str(w["bursts"]), J.str(w["cycles_per_packet"])]) }
            out.append("")
            out.append(t.text)
        }
        return out.joined(separator: "\n")
    }

    static func endpoints(_ r: [String: Any]) -> String {
        let list = J.list(r["endpoints"])
        var t = Table(["NAME", "TENANT", "GROUP", "PORT", "MAC", "IPS"])
        for e in list { t.add([J.str(e["name"]), J.str(e["tenant"]), J.str(e["group"]), J.str(e["port"]), J.str(e["mac"]), J.str(e["ips"])]) }
        return list.isEmpty ? "no endpoints" : t.text
    }

    static func ports(_ r: [String: Any]) -> String {
        let list = J.list(r["ports"])
        var t = Table(["NAME", "DRIVER", "TENANT", "ROLE", "FROM", "RX", "TX", "DROPPED", "ENDPOINTS"], right: [5, 6, 7])
        for p in list {
            t.add([J.str(p["name"]), J.str(p["driver"]), J.str(p["tenant"]), J.str(p["role"]),
                   p["runtime"] as? Bool == true ? "gbpctl" : "config", J.str(p["rx"]), J.str(p["tx"]), J.str(p["dropped"]),
                   J.str(p["endpoints"])])
        }
        return list.isEmpty ? "no ports" : t.text
    }

    static func groups(_ r: [String: Any]) -> String {
        let list = J.list(r["groups"])
        var t = Table(["NAME", "TENANT", "KIND", "ENDPOINTS", "DETAIL"], right: [3])
        for g in list {
            let external = g["kind"] as? String == "external"
            let detail = external
                ? "cidrs " + J.str(g["cidrs"]) + ((g["except"] as? [Any])?.isEmpty == false ? " except " + J.str(g["except"]) : "")
                : "intra_group " + J.str(g["intra_group"])
            t.add([J.str(g["name"]), J.str(g["tenant"]), J.str(g["kind"]), external ? "-" : J.str(g["endpoints"]), detail])
        }
        return list.isEmpty ? "no groups (gbpd runs without a policy, or the policy has none)" : t.text
    }

    static func contracts(_ r: [String: Any]) -> String {
        let list = J.list(r["contracts"])
        guard !list.isEmpty else { return "no contracts" }
        var c = Table(["CONTRACT", "TENANT", "PROVIDERS", "CONSUMERS", "RULES", "ON POLICY CHANGE"], right: [4])
        var rules = Table(["RULE", "MATCH", "DIRECTION", "ACTION", "PRIORITY", "LOG", "PACKETS", "ALLOWED", "DENIED"], right: [4, 6, 7, 8])
        for x in list {
            let rs = J.list(x["rules"])
            c.add([J.str(x["name"]), J.str(x["tenant"]), J.str(x["providers"]), J.str(x["consumers"]), String(rs.count), J.str(x["on_policy_change"])])
            for r in rs {
                var match = r["ethertype"].map { "ethertype " + J.str($0) } ?? J.str(r["protocol"])
                if r["ports"] != nil { match += " " + J.str(r["ports"]) }
                if r["icmp_type"] != nil { match += " type " + J.str(r["icmp_type"]) }
                if r["icmp_code"] != nil { match += " code " + J.str(r["icmp_code"]) }
                rules.add([J.str(r["name"]), match, J.str(r["direction"]), J.str(r["action"]), J.str(r["priority"]), J.str(r["log"]),
                           J.str(r["packets"]), J.str(r["allowed"]), J.str(r["denied"])])
            }
        }
        return c.text + "\n\n" + rules.text
    }

    static func explain(_ r: [String: Any]) -> String {
        var out = [J.str(r["description"])]
        out.append("  verdict:  \(J.str(r["verdict"]))" + (r["reason"].map { " (\(J.str($0)))" } ?? "") + (r["logged"] as? Bool == true ? ", logged" : ""))
        out.append("  contract: \(J.str(r["contract"]))")
        out.append("  rule:     \(J.str(r["rule"]))")
        out.append("  policy epoch \(J.str(r["epoch"])), from the compiled tables")
        if let k = r["kubernetes"] as? String { out.append("Kubernetes: " + k) }
        return out.joined(separator: "\n")
    }

    /// Pretty JSON for --json.
    static func json(_ o: [String: Any]) -> String {
        guard let d = try? JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }
}
