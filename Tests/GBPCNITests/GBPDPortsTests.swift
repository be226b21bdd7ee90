import Foundation
import Testing
@testable import GBPCNI

/// gbp-cni against a fake gbpd: the requests it sends and how it reads the answers.
/// (The real gbpd and podman: Tests/CNI/podman-e2e.sh.)
@Suite struct GBPDPortsTests {
    @Test func addSendsPortAndEndpoint() throws {
        let gbpd = try FakeGBPD { _ in ["ok": true, "epoch": 2] }
        defer { gbpd.stop() }
        try GBPDPorts(socket: gbpd.path).add(port: "gbp0123456789a", devargs: "net_af_packet_gbp0123456789a,iface=gbp0123456789a", tenant: "pods",
                                             endpoint: .init(name: "web-1", group: "frontend", mac: "02:00:00:00:00:01", ips: ["10.89.0.2"]))
        let r = try #require(gbpd.requests.first)
        #expect(r["cmd"] as? String == "ports.add")
        #expect((r["port"] as? [String: Any])?["tenant"] as? String == "pods")
        #expect((r["endpoint"] as? [String: Any])?["ips"] as? [String] == ["10.89.0.2"])
    }

    @Test func refusalCarriesGBPDsReasons() throws {
        let gbpd = try FakeGBPD { _ in ["ok": false, "error": "change rejected", "errors": ["endpoints[2].group: unknown group \"fronted\" in tenant \"pods\""]] }
        defer { gbpd.stop() }
        do {
            try GBPDPorts(socket: gbpd.path).add(port: "p", devargs: "d", tenant: "pods", endpoint: .init(name: "e", group: "fronted", mac: "02:00:00:00:00:01", ips: []))
            Issue.record("refusal not reported")
        } catch {
            #expect(error.code == 100 && error.msg.contains("change rejected") && error.details.contains("unknown group \"fronted\""))
        }
    }

    /// DEL is idempotent: a port gbpd does not have, or no gbpd at all, is success.
    @Test func delIsIdempotent() throws {
        let gbpd = try FakeGBPD { r in r["cmd"] as? String == "ports.remove" ? ["ok": false, "error": "no port named '\(r["name"] ?? "")'"] : ["ok": true] }
        defer { gbpd.stop() }
        #expect(try GBPDPorts(socket: gbpd.path).remove(port: "gbp0123456789a") == false)
        let env = ["CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c-del", "CNI_IFNAME": "eth0"]
        let config = { (socket: String) in Data(#"{"cniVersion": "1.0.0", "name": "n", "type": "gbp-cni", "socket": "\#(socket)"}"#.utf8) }
        let twice = Plugin.run(environment: env, stdin: config(gbpd.path))
        #expect(twice.status == 0 && twice.output.isEmpty, "\(twice.output)")
        #expect(gbpd.requests.last?["cmd"] as? String == "ports.remove")
        let noDaemon = Plugin.run(environment: env, stdin: config("/nonexistent/gbpd.sock"))
        #expect(noDaemon.status == 0)
    }

    /// ADD with no gbpd answering: "try again later" and a message saying what to do.
    @Test func unreachableIsTryAgainLater() {
        do { _ = try GBPDPorts(socket: "/nonexistent/gbpd.sock").ports(); Issue.record("no error") } catch {
            #expect(error.code == 11 && error.msg.contains("no such socket") && !error.msg.contains("gbpctl"))
            #expect(error.details.contains("start gbpd"))
        }
    }
}
