import Foundation
import GBPCore
@testable import GBPControl
@testable import GBPRuntime
import Testing

/// Changes over the control socket: edits of the config in force, read back like the file.
@Suite struct ControlEditTests {
    static let base = """
        eal: [--no-huge]
        workers: [1]
        ports:
          - { name: pa, devargs: net_null0 }
          - { name: pb, devargs: net_null1 }
          - { name: pc, devargs: net_null2 }
        tenants: [{ name: shop }, { name: lab }]
        groups:
          - { name: web, tenant: shop }
          - { name: api, tenant: shop }
          - { name: web, tenant: lab }
        endpoints:
          - { name: w1, tenant: shop, group: web, port: pa, mac: "02:00:00:00:00:01", ips: [10.0.0.1] }
          - { name: a1, tenant: shop, group: api, port: pb, mac: "02:00:00:00:00:02", ips: [10.0.0.2] }
        contracts:
          - name: web-api
            tenant: shop
            providers: [api]
            consumers: [web]
            rules: [{ protocol: tcp, ports: [8080] }]
        """

    let doc = ConfigDocument(text: Self.base, file: "/etc/gbpd.yaml")

    func config(_ r: Result<ConfigDocument.Applied, ConfigDocument.EditError>) throws -> DaemonConfig {
        switch r {
        case .success(let v): return v.config
        case .failure(let e): Issue.record("edit failed: \(e)"); throw e
        }
    }

    func errors(_ r: Result<ConfigDocument.Applied, ConfigDocument.EditError>) -> ConfigDocument.EditError? {
        if case .failure(let e) = r { return e }
        return nil
    }

    @Test func addsAnEndpointAndTiesItsPortToTheTenant() throws {
        let c = try config(doc.applying(.add(.endpoints, ["name": "a2", "tenant": "shop", "group": "api", "port": "pc",
                                                         "mac": "02:00:00:00:00:03", "ips": ["10.0.0.3"]])))
        #expect(c.endpoints.map(\.name) == ["w1", "a1", "a2"])
        #expect(c.policy?.endpoints.last?.ips == [IPAddress("10.0.0.3")!])
        #expect(c.runtime.stations.map(\.name) == ["w1", "a1", "a2"])
        #expect(c.runtime.ports.first { $0.name == "pc" }?.tenant == "shop")
        #expect(c.file == "/etc/gbpd.yaml", "the file stays the one reloads read")
    }

    @Test func rejectedAddReportsTheValidationErrorsByPath() {
        let e = errors(doc.applying(.add(.endpoints, ["name": "bad", "tenant": "shop", "group": "nope", "port": "pc",
                                                     "mac": "02:00:00:00:00:09", "ips": ["10.0.0.1"]])))
        #expect(e?.message == "change rejected, the running policy is unchanged")
        #expect(e?.details.contains { $0.hasPrefix("endpoints[2].group: unknown group") } == true, "\(String(describing: e))")
        #expect(e?.details.contains { $0.hasPrefix("endpoints[2].ips[0]:") } == true, "duplicate address: \(String(describing: e))")
        let badMAC = errors(doc.applying(.add(.endpoints, ["name": "m", "tenant": "shop", "group": "api", "port": "pc", "mac": "zz"])))
        #expect(badMAC?.details == ["endpoints[2].mac: 'zz' is not a MAC address (aa:bb:cc:dd:ee:ff)"])
        let unknownKey = errors(doc.applying(.add(.endpoints, ["name": "m", "tenant": "shop", "group": "api", "port": "pc",
                                                              "mac": "02:00:00:00:00:09", "colour": "red"])))
        #expect(unknownKey?.details.first?.hasPrefix("endpoints[2].colour: unknown key") == true)
    }

    @Test func removesByNameAndAsksForTheTenantWhenAmbiguous() throws {
        let c = try config(doc.applying(.remove([.endpoints], name: "w1", tenant: nil)))
        #expect(c.endpoints.map(\.name) == ["a1"])
        #expect(errors(doc.applying(.remove([.endpoints], name: "zz", tenant: nil)))?.message == "no endpoint named 'zz'")
        let ambiguous = errors(doc.applying(.remove([.groups, .externalGroups], name: "web", tenant: nil)))
        #expect(ambiguous?.message.contains("several tenants (shop, lab)") == true, "\(String(describing: ambiguous))")
        let lab = try config(doc.applying(.remove([.groups, .externalGroups], name: "web", tenant: "lab")))
        #expect(lab.policy?.groups.map(\.name) == ["web", "api"])
        // A group still used by endpoints and contracts cannot go.
        let used = errors(doc.applying(.remove([.groups], name: "web", tenant: "shop")))
        #expect(used?.details.contains { $0.hasPrefix("contracts[0].consumers[0]: group \"web\" belongs to tenant \"lab\"") } == true, "\(String(describing: used))")
    }

    @Test func addsGroupsExternalGroupsAndContractsWithFileKeys() throws {
        let g = try config(doc.applying(.add(.groups, ["name": "db", "tenant": "shop", "intra_group": "deny"])))
        #expect(g.policy?.groups.last == GroupSpec(name: "db", tenant: "shop", intraGroup: .deny))
        let x = try config(doc.applying(.add(.externalGroups, ["name": "internet", "tenant": "shop", "cidrs": ["0.0.0.0/0"], "except": ["10.0.0.0/8"]])))
        #expect(x.policy?.externalGroups.map(\.name) == ["internet"])
        let contract: [String: Any] = [
            "name": "api-web", "tenant": "shop", "providers": ["web"], "consumers": ["api"], "on_policy_change": "keep",
            "rules": [["name": "alt", "protocol": "tcp", "ports": [80, "8000-8009"], "log": true, "priority": 5]],
        ]
        let c = try config(doc.applying(.add(.contracts, contract)))
        let added = try #require(c.policy?.contracts.last)
        #expect(added.name == "api-web" && added.onPolicyChange == .keep)
        #expect(added.rules == [RuleSpec(name: "alt", proto: .tcp, ports: [PortRange(80), PortRange(8000, 8009)], log: true, priority: 5)])
        let reversed = errors(doc.applying(.add(.contracts, ["name": "r", "tenant": "shop", "providers": ["web"], "consumers": ["api"],
                                                            "rules": [["protocol": "tcp", "ports": ["443-80"]]]])))
        #expect(reversed?.details == ["contracts[1].rules[0].ports[0]: port range 443-80 is reversed: it contains no port"])
    }

    @Test func committedEditsBuildOnEachOther() throws {
        var d = doc
        guard case .success(let first) = d.applying(.add(.groups, ["name": "db", "tenant": "shop"])) else { Issue.record("add"); return }
        d.commit(first)
        let second = try config(d.applying(.add(.endpoints, ["name": "d1", "tenant": "shop", "group": "db", "port": "pc",
                                                            "mac": "02:00:00:00:00:05"])))
        #expect(second.policy?.endpoints.map(\.group) == ["web", "api", "db"])
    }

    @Test func runtimePortsAreReadAfterTheFilesAndSurviveTextEdits() throws {
        var d = doc
        let c1 = try PortAttachment.from(port: ["name": "c1", "devargs": "net_null9", "tenant": "shop"],
                                         endpoint: ["name": "c1", "group": "web", "mac": "02:00:00:00:0c:01", "ips": ["10.0.0.11"]]).get()
        guard case .success(let attached) = d.applying(.attach(c1)) else { Issue.record("attach"); return }
        #expect(attached.config.runtime.ports.map(\.name) == ["pa", "pb", "pc", "c1"])
        #expect(attached.config.runtime.ports.last?.tenant == "shop")
        #expect(attached.config.policy?.endpoints.last.map { [$0.name, $0.port, $0.tenant, $0.group] } == ["c1", "c1", "shop", "web"])
        d.commit(attached)
        // An edit of the text keeps the runtime port, and is refused if it would break it.
        let edited = try config(d.applying(.add(.groups, ["name": "db", "tenant": "shop"])))
        #expect(edited.runtime.ports.map(\.name).last == "c1")
        let breaking = errors(d.applying(.remove([.groups], name: "web", tenant: "shop")))
        #expect(breaking?.details.contains { $0.hasPrefix("endpoint of runtime port 'c1'.group") } == true, "\(String(describing: breaking))")
        // Names, devargs, MACs and addresses stay unique across file and runtime ports.
        let twin = try PortAttachment.from(port: ["name": "c2", "devargs": "net_null9", "tenant": "shop"], endpoint: nil).get()
        #expect(errors(d.applying(.attach(twin)))?.details == ["ports: devargs 'net_null9' appears twice"])
        let sameMAC = try PortAttachment.from(port: ["name": "c3", "devargs": "net_null10", "tenant": "shop"],
                                              endpoint: ["name": "c3", "group": "web", "mac": "02:00:00:00:00:01"]).get()
        #expect(errors(d.applying(.attach(sameMAC)))?.details.contains { $0.contains("endpoint of runtime port 'c3'.mac") } == true)
        #expect(errors(d.applying(.attach(c1)))?.message == "a port named 'c1' exists")
        // Only runtime ports can be detached.
        #expect(errors(d.applying(.detach(name: "pa")))?.message.hasPrefix("port 'pa' comes from the config file") == true)
        #expect(errors(d.applying(.detach(name: "zz")))?.message == "no port named 'zz'")
        let detached = try config(d.applying(.detach(name: "c1")))
        #expect(detached.runtime.ports.map(\.name) == ["pa", "pb", "pc"] && detached.policy?.endpoints.count == 2)
        // The endpoint's port is the new port.
        guard case .failure(let e) = PortAttachment.from(port: ["name": "c4", "devargs": "x"], endpoint: ["name": "e", "port": "pa"]) else {
            Issue.record("endpoint on another port accepted"); return
        }
        #expect(e.message == "the endpoint names port 'pa', not the port being added ('c4')")
    }

    @Test func jsonValuesBecomeNodesTheReaderAccepts() {
        // Strings stay strings even when YAML would read them otherwise.
        let c = try? ConfigLoader.parse(Self.base, file: "x")
        #expect(c != nil)
        #expect(ConfigDocument.node(fromJSON: ["a": NSNull()]) == nil)
        #expect(ConfigDocument.node(fromJSON: ["yes"])?.sequence?.first?.string == "yes")
        #expect(ConfigDocument.node(fromJSON: [true])?.sequence?.first?.string == "true")
        #expect(ConfigDocument.node(fromJSON: [80])?.sequence?.first?.string == "80")
    }
}

/// The `control` section of the config file.
@Suite struct ControlConfigTests {
    func parse(_ control: String) throws(ConfigError) -> ControlSettings {
        try ConfigLoader.parseWithControl("""
            eal: [--no-huge]
            workers: [1]
            ports: [{ name: p0, devargs: net_null0 }]
            \(control)
            """, file: "c.yaml").control
    }

    @Test func defaultsAndValues() throws {
        #expect(try parse("") == ControlSettings())
        #expect(try parse("").socketPath == "/run/gbpd/gbpd.sock")
        let s = try parse("control: { socket: /tmp/x/g.sock, metrics_port: 9469, metrics_address: \"::1\" }")
        #expect(s == ControlSettings(socketPath: "/tmp/x/g.sock", metricsPort: 9469, metricsAddress: "::1"))
    }

    @Test func badValuesAreReportedAtTheirLine() {
        func issues(_ text: String) -> [String] {
            do { _ = try parse(text); return [] } catch { return error.issues.map(\.description) }
        }
        #expect(issues("control: { socket: relative.sock }") == ["c.yaml:4: control.socket: 'relative.sock' is not an absolute path"])
        #expect(issues("control: { metrics_port: 70000 }") == ["c.yaml:4: control.metrics_port: 70000 is out of range 0...65535"])
        #expect(issues("control: { metrics_port: 9100, metrics_address: 0.0.0.0 }")
                == ["c.yaml:4: control.metrics_address: '0.0.0.0' is not allowed: metrics are served on loopback only (127.0.0.1 or ::1)"])
        #expect(issues("control: { metrics_address: 127.0.0.1 }")
                == ["c.yaml:4: control.metrics_address: needs metrics_port (without it there is no metrics endpoint)"])
        #expect(issues("control: { sokcet: /x }").first?.contains("control.sokcet: unknown key") == true)
    }
}

/// Framing and helpers of the control protocol, telemetry snapshots, the metrics responder.
@Suite struct ControlProtocolUnitTests {
    @Test func linesRoundTrip() throws {
        let line = ControlProtocol.encodeLine(ControlProtocol.request(.explain, ["from": "a/b", "port": 80]))
        #expect(line.last == 0x0A && line.dropLast().contains(0x0A) == false)
        #expect(String(decoding: line, as: UTF8.self) == #"{"cmd":"explain","from":"a/b","port":80}"# + "\n")
        let back = try #require(ControlProtocol.decodeLine(line.dropLast()))
        #expect(back["cmd"] as? String == "explain" && (back["port"] as? NSNumber)?.intValue == 80)
        #expect(ControlProtocol.decodeLine(Array("[1]".utf8)) == nil)
        #expect(ControlCommand(rawValue: "endpoints.add") == .endpointsAdd)
        #expect(ControlCommand.allCases.filter(\.changesPolicy).map(\.rawValue).sorted() == ["contracts.add", "contracts.remove", "endpoints.add", "endpoints.remove", "groups.add", "groups.remove", "ports.add", "ports.remove", "reload"])
        #expect(ControlProtocol.protocolNumber("TCP") == 6 && ControlProtocol.protocolNumber("47") == 47 && ControlProtocol.protocolNumber("x") == nil)
    }

    @Test func telemetrySnapshotsUseValidKeys() {
        var keys = KeyMaker()
        #expect(keys.key("shop/web-1") == "shop/web_1")
        #expect(keys.key("shop/web_1") == "shop/web_1_2")
        var t = TelemetrySnapshot()
        t.u("rx", 5)
        t.dict("port/p0") { $0.s("name", "p\t0") }
        #expect(t.text == "u\trx\t5\n{\tport/p0\ns\tname\tp 0\n}\n")
    }

    @Test func metricsRequestHeads() {
        #expect(MetricsServer.requestHead(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) == "GET /metrics HTTP/1.1")
        #expect(MetricsServer.requestHead(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8)) == nil)
        let r = String(decoding: MetricsServer.response(200, "OK", "abc"), as: UTF8.self)
        #expect(r.hasPrefix("HTTP/1.1 200 OK\r\n") && r.contains("Content-Length: 3\r\n") && r.hasSuffix("\r\n\r\nabc"))
    }
}

/// Prometheus metrics from dataplane readings.
@Suite struct ControlMetricsUnitTests {
    @Test func countersFollowReadingsAndRuleCountersSurviveSwaps() {
        let m = GBPDMetrics()
        var s = DataplaneStats()
        s.ports = [DataplaneStats.PortStats(name: "p0", driver: "net_null")]
        s.ports[0].rx = 5
        s.rules = [DataplaneStats.RuleStats(contract: "c", rule: "c/r", packets: 3)]
        m.update(s, retired: [], endpoints: 1, policyEpoch: 1)
        #expect(m.render().contains("gbpd_rx_packets_total 5\n"))
        // Epoch 1 ended at 4 packets; epoch 2 has counted 2 so far.
        s.ports[0].rx = 8
        s.rules[0].packets = 2
        m.update(s, retired: [DataplaneStats.RuleStats(contract: "c", rule: "c/r", packets: 4)], endpoints: 1, policyEpoch: 2)
        let text = m.render()
        #expect(text.contains("gbpd_rx_packets_total 8\n"))
        #expect(text.contains("gbpd_port_rx_packets_total{port=\"p0\"} 8\n"))
        #expect(text.contains("gbpd_rule_packets_total{contract=\"c\",rule=\"c/r\"} 6\n"), "\(text)")
        #expect(text.contains("# TYPE gbpd_rx_packets_total counter"))
        #expect(text.contains("gbpd_policy_epoch 2"))
        // Families in name order, each with its HELP and TYPE first.
        let families = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(families == families.sorted() && families.contains("gbpd_rx_packets_total"))
        #expect(text.contains("# HELP gbpd_rx_packets_total Packets received on all ports\n# TYPE gbpd_rx_packets_total counter\ngbpd_rx_packets_total 8\n"))
        // Epoch 2 ended at 5 packets (retired totals 4 + 5), epoch 3 has counted 1: never backwards.
        s.rules[0].packets = 1
        m.update(s, retired: [DataplaneStats.RuleStats(contract: "c", rule: "c/r", packets: 9)], endpoints: 1, policyEpoch: 3)
        #expect(m.render().contains("gbpd_rule_packets_total{contract=\"c\",rule=\"c/r\"} 10\n"))
    }

    @Test func histogramBucketsKeepTheirOrder() {
        let text = """
            # TYPE b counter
            b 1
            # TYPE a_seconds histogram
            a_seconds_bucket{le="0.5"} 1
            a_seconds_bucket{le="+Inf"} 2
            a_seconds_sum 3.0
            a_seconds_count 2

            """
        #expect(GBPDMetrics.sortedFamilies(text) == """
            # TYPE a_seconds histogram
            a_seconds_bucket{le="0.5"} 1
            a_seconds_bucket{le="+Inf"} 2
            a_seconds_sum 3.0
            a_seconds_count 2
            # TYPE b counter
            b 1

            """)
    }
}
