import Foundation
import Testing
@testable import GBPCNI

/// Environment, CNI_ARGS, network config and version negotiation: what the runtime passes in.
@Suite struct CNIInputTests {
    static let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0",
                      "CNI_PATH": "/usr/lib/cni:/opt/cni/bin", "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1"]

    static func config(_ extra: String = "") -> Data {
        Data(#"{"cniVersion": "1.0.0", "name": "gbp-frontend", "type": "gbp-cni", "tenant": "pods", "group": "frontend", "ipam": {"type": "host-local"}\#(extra)}"#.utf8)
    }

    /// The CNI error code `body` throws, nil when it does not throw.
    func code(_ body: () throws -> Void) -> Int? {
        do { try body(); return nil } catch { return (error as? CNIError)?.code ?? -1 }
    }

    @Test func argsParse() throws {
        let a = try CNIEnvironment.parseArgs("IgnoreUnknown=1;K8S_POD_NAME=web-1;;X=a=b")
        #expect(a.map(\.key) == ["IgnoreUnknown", "K8S_POD_NAME", "X"])
        #expect(a.map(\.value) == ["1", "web-1", "a=b"])
        #expect(try CNIEnvironment.parseArgs("").isEmpty)
        #expect(code { _ = try CNIEnvironment.parseArgs("K8S_POD_NAME=a;oops") } == 4)
        #expect(code { _ = try CNIEnvironment.parseArgs("=v") } == 4)
    }

    @Test func environment() throws {
        let e = try CNIEnvironment.read(Self.env)
        #expect(e.command == .add && e.ifname == "eth0" && e.path == ["/usr/lib/cni", "/opt/cni/bin"])
        #expect(e.arg("K8S_POD_NAME") == "web-1")
        #expect(code { _ = try CNIEnvironment.read([:]) } == 4)
        #expect(code { _ = try CNIEnvironment.read(["CNI_COMMAND": "GC"]) } == 4)
        // VERSION needs nothing else; DEL may come without a network namespace; ADD may not.
        #expect(code { _ = try CNIEnvironment.read(["CNI_COMMAND": "VERSION"]) } == nil)
        var del = Self.env; del["CNI_COMMAND"] = "DEL"; del["CNI_NETNS"] = nil
        #expect(code { _ = try CNIEnvironment.read(del) } == nil)
        var add = Self.env; add["CNI_NETNS"] = nil
        do { _ = try CNIEnvironment.read(add); Issue.record("ADD without CNI_NETNS accepted") } catch {
            #expect(error.code == 4 && error.msg.contains("CNI_NETNS"))
        }
        var bad = Self.env; bad["CNI_IFNAME"] = "eth0/x"
        #expect(code { _ = try CNIEnvironment.read(bad) } == 4)
        bad["CNI_IFNAME"] = "a-name-longer-than-15"
        #expect(code { _ = try CNIEnvironment.read(bad) } == 4)
    }

    @Test func config() throws {
        let c = try NetworkConfig.parse(Self.config())
        #expect(c.name == "gbp-frontend" && c.tenant == "pods" && c.socket == NetworkConfig.defaultSocket)
        #expect(try c.requireIPAMType() == "host-local")
        #expect(code { _ = try NetworkConfig.parse(Data("not json".utf8)) } == 6)
        #expect(code { _ = try NetworkConfig.parse(Data("[1]".utf8)) } == 6)
        #expect(code { _ = try NetworkConfig.parse(Data(#"{"name": "n"}"#.utf8)) } == 7)
        #expect(code { _ = try NetworkConfig.parse(Self.config(#", "mtu": 20"#)) } == 7)
        #expect(code { _ = try NetworkConfig.parse(Self.config(#", "socket": 3"#)) } == 7)
        #expect(code { _ = try NetworkConfig.parse(Self.config(#", "af_packet_args": "a b""#)) } == 7)
        #expect(try NetworkConfig.parse(Self.config(#", "mtu": 9000"#)).mtu == 9000)
        let noTenant = try NetworkConfig.parse(Data(#"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "../x"}}"#.utf8))
        #expect(code { _ = try noTenant.tenant(env: CNIEnvironment.read(Self.env)) } == 7)
        #expect(code { _ = try noTenant.requireIPAMType() } == 7)
    }

    /// CNI_ARGS GBP_GROUP, then the gbp/group label or pod annotation, then the config's group; the tenant alike.
    @Test func groupPrecedence() throws {
        let e = try CNIEnvironment.read(Self.env)
        #expect(try NetworkConfig.parse(Self.config()).group(env: e) == "frontend")
        let labelled = try NetworkConfig.parse(Self.config(#", "args": {"cni": {"labels": [{"key": "gbp/group", "value": "backend"}]}}"#))
        #expect(try labelled.group(env: e) == "backend")
        let annotated = try NetworkConfig.parse(Self.config(#", "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"gbp/group": "db"}}"#))
        #expect(try annotated.group(env: e) == "db")
        var env = Self.env; env["CNI_ARGS"] = "GBP_GROUP=admin"
        #expect(try labelled.group(env: CNIEnvironment.read(env)) == "admin")
        let none = try NetworkConfig.parse(Data(#"{"cniVersion": "1.0.0", "name": "n"}"#.utf8))
        #expect(code { _ = try none.group(env: e) } == 7)
        // The tenant the same way: GBP_TENANT, then gbp/tenant, then the config.
        #expect(try NetworkConfig.parse(Self.config()).tenant(env: e) == "pods")
        let other = try NetworkConfig.parse(Self.config(#", "args": {"cni": {"labels": [{"key": "gbp/tenant", "value": "shop"}]}}"#))
        #expect(try other.tenant(env: e) == "shop")
        env["CNI_ARGS"] = "GBP_TENANT=lab;GBP_GROUP=admin"
        #expect(try other.tenant(env: CNIEnvironment.read(env)) == "lab")
    }

    @Test func versionNegotiation() {
        for v in ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] { #expect(code { try CNIVersion.negotiate(v, command: .add) } == nil) }
        #expect(code { try CNIVersion.negotiate("0.2.0", command: .add) } == 1)
        #expect(code { try CNIVersion.negotiate("1.1.0", command: .del) } == 1)
        #expect(code { try CNIVersion.negotiate("one", command: .add) } == 1)
        #expect(code { try CNIVersion.negotiate("0.3.1", command: .check) } == 1)
        #expect(code { try CNIVersion.negotiate("0.4.0", command: .check) } == nil)
        #expect(CNIVersion.less("0.3.1", "0.4.0") && CNIVersion.less("0.10.0", "1.0.0") && !CNIVersion.less("1.0.0", "0.4.0"))
    }
}
