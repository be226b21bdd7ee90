import Foundation
import Testing
@testable import GBPCNI

/// Names, results and error objects: what gbp-cni gives back.
@Suite struct CNIOutputTests {
    @Test func attachmentNames() throws {
        let a = Attachment(containerID: "889765169fba325c091d17ccf2bc5983a2b2bda46b16867ba0ba923e501e2464", ifname: "eth0")
        #expect(a.hostInterface.count == 14 && a.hostInterface.hasPrefix("gbp"))
        let hex = a.hostInterface.dropFirst(3).allSatisfy { $0.isHexDigit }
        #expect(hex)
        #expect(a.hostInterface == Attachment(containerID: a.containerID, ifname: "eth0").hostInterface)
        #expect(a.hostInterface != Attachment(containerID: a.containerID, ifname: "eth1").hostInterface)
        #expect(a.devargs(extra: nil) == "net_af_packet_\(a.hostInterface),iface=\(a.hostInterface)")
        #expect(a.devargs(extra: "framecnt=512") == "net_af_packet_\(a.hostInterface),iface=\(a.hostInterface),framecnt=512")
        // Locally administered unicast, stable, different per interface.
        let mac = a.mac.split(separator: ":")
        #expect(mac.count == 6 && mac[0] == "02" && mac.allSatisfy { $0.count == 2 })
        #expect(a.mac == Attachment(containerID: a.containerID, ifname: "eth0").mac)
        #expect(a.mac != Attachment(containerID: a.containerID, ifname: "eth1").mac)

        let env = { (args: String) in try CNIEnvironment.read(["CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0", "CNI_ARGS": args]) }
        #expect(a.endpointName(env: try env("K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1")) == "shop/web-1")
        #expect(a.endpointName(env: try env("IgnoreUnknown=1;K8S_POD_NAME=web-1")) == "web-1")
        #expect(a.endpointName(env: try env("")) == "cni-889765169fba")
        #expect(Attachment(containerID: "c", ifname: "net1").endpointName(env: try env("K8S_POD_NAME=w")) == "w@net1")
    }

    @Test func resultVersions() throws {
        let ipam = try CNIResult.parse(["ips": [["address": "10.89.0.5/24", "gateway": "10.89.0.1", "version": "4"],
                                                ["address": "fd00:89::5/64"]],
                                        "routes": [["dst": "0.0.0.0/0"], ["dst": "10.0.0.0/8", "gw": "10.89.0.254"]],
                                        "dns": ["nameservers": ["10.89.0.1"]]], what: "test")
        #expect(ipam.ips.map(\.host) == ["10.89.0.5", "fd00:89::5"] && ipam.ips[1].isIPv6 && ipam.ips[0].prefixLength == 24)
        #expect(ipam.gateway(for: ipam.routes[0]) == "10.89.0.1")
        #expect(ipam.gateway(for: ipam.routes[1]) == "10.89.0.254")
        #expect(ipam.gateway(for: .init(dst: "::/0")) == nil)
        let v1 = ipam.json(cniVersion: "1.0.0", ipInterface: 1)
        let v04 = ipam.json(cniVersion: "0.4.0", ipInterface: 1)
        let ips1 = try #require(v1["ips"] as? [[String: Any]]), ips04 = try #require(v04["ips"] as? [[String: Any]])
        #expect(ips1[0]["version"] == nil && ips1[0]["interface"] as? Int == 1)
        #expect(ips04.map { $0["version"] as? String } == ["4", "6"])
        #expect(v1["cniVersion"] as? String == "1.0.0" && (v1["routes"] as? [[String: Any]])?.count == 2)
        #expect(throws: CNIError.self) { try CNIResult.parse(["ips": [["address": "10.0.0.1"]]], what: "t") }
    }

    @Test func versionAndErrorObjects() throws {
        let version = Plugin.run(environment: ["CNI_COMMAND": "VERSION"], stdin: Data(#"{"cniVersion": "0.4.0"}"#.utf8))
        #expect(version.status == 0 && version.output["cniVersion"] as? String == "0.4.0")
        #expect(version.output["supportedVersions"] as? [String] == ["0.3.0", "0.3.1", "0.4.0", "1.0.0"])

        let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/nonexistent/netns", "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"]
        let old = Plugin.run(environment: env, stdin: Data(#"{"cniVersion": "0.2.0", "name": "n", "tenant": "t", "group": "g", "ipam": {"type": "host-local"}}"#.utf8))
        #expect(old.status == 1 && old.output["code"] as? Int == 1 && old.output["cniVersion"] as? String == "0.2.0")
        #expect((old.output["details"] as? String)?.contains("1.0.0") == true)

        let noNetns = Plugin.run(environment: env, stdin: CNIInputTests.config())
        #expect(noNetns.status == 1 && noNetns.output["code"] as? Int == 3)
        #expect((noNetns.output["msg"] as? String)?.contains("/nonexistent/netns") == true)

        let garbage = Plugin.run(environment: env, stdin: Data("{".utf8))
        #expect(garbage.output["code"] as? Int == 6 && garbage.output["cniVersion"] as? String == CNIVersion.newest)
        #expect(Set(garbage.output.keys).isSubset(of: ["cniVersion", "code", "msg", "details"]))
    }
}
