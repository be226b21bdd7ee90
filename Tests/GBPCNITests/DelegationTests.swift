import Foundation
import Testing
@testable import GBPCNI

/// Running other programs: the spawn helper, and the delegated IPAM plugin (a shell
/// script standing in for host-local). Serialized: a script being written while another
/// test spawns would be inherited open for writing, and its exec fail with ETXTBSY.
@Suite(.serialized) struct DelegationTests {
    @Test func spawnPassesInputAndCollectsOutputs() throws {
        let r = try Command.run(["sh", "-c", "cat; echo oops >&2; exit 3"], stdin: Data("hello\n".utf8))
        #expect(r.status == 3 && r.text == "hello\n" && r.stderr == "oops")
        // A child that does not read its input (more than a pipe holds) must not block or kill us.
        let big = try Command.run(["true"], stdin: Data(count: 1 << 20))
        #expect(big.ok)
        #expect(throws: CNIError.self) { try Command.run(["no-such-program-gbp"]) }
    }

    /// A fake IPAM plugin in a private CNI_PATH: it answers with what it was given.
    func fakeIPAM(_ body: String) throws -> String {
        let dir = NSTemporaryDirectory() + "gbp-cni-ipam-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "#!/bin/sh\n\(body)\n".write(toFile: dir + "/fake-ipam", atomically: true, encoding: .utf8)
        chmod(dir + "/fake-ipam", 0o755)
        return dir
    }

    func ipam(_ dir: String, args: String) throws -> IPAM {
        let config = try NetworkConfig.parse(Data(#"{"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "fake-ipam", "subnet": "10.9.0.0/24"}}"#.utf8))
        let env = try CNIEnvironment.read(["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/x", "CNI_IFNAME": "eth0",
                                           "CNI_PATH": "/nonexistent:" + dir, "CNI_ARGS": args])
        return IPAM(type: "fake-ipam", config: config, env: env)
    }

    @Test func ipamGetsTheConfigAndItsOwnCommand() throws {
        // Echoes the subnet it read on stdin as the address; records CNI_COMMAND and CNI_ARGS
        // (which gbp-cni runs with its own environment's values: CNI_ARGS here is the test's).
        let dir = try fakeIPAM(#"""
            in=$(cat); echo "$CNI_COMMAND $CNI_ARGS" >> "$(dirname "$0")/calls"
            case "$in" in *10.9.0.0/24*) ;; *) exit 9 ;; esac
            echo '{"cniVersion": "1.0.0", "ips": [{"address": "10.9.0.7/24", "gateway": "10.9.0.1"}], "routes": [{"dst": "0.0.0.0/0"}]}'
            """#)
        let i = try ipam(dir, args: "GBP_GROUP=web")
        let r = try i.add()
        #expect(r.ips.map(\.address) == ["10.9.0.7/24"] && r.gateway(for: r.routes[0]) == "10.9.0.1")
        try i.del()
        let calls = try String(contentsOfFile: dir + "/calls", encoding: .utf8).split(separator: "\n")
        #expect(calls.map { $0.split(separator: " ").first.map(String.init) } == ["ADD", "DEL"])
    }

    @Test func ipamErrorObjectKeepsItsCode() throws {
        let dir = try fakeIPAM(#"echo '{"cniVersion": "1.0.0", "code": 999, "msg": "no addresses left in range", "details": "10.9.0.0/24"}'; exit 1"#)
        let failing = try ipam(dir, args: "")
        do { _ = try failing.add(); Issue.record("no error") } catch {
            #expect(error.code == 999 && error.msg.contains("fake-ipam ADD: no addresses left") && error.details == "10.9.0.0/24")
        }
        let silent = try fakeIPAM("echo broken >&2; exit 2")
        let quiet = try ipam(silent, args: "")
        do { _ = try quiet.add(); Issue.record("no error") } catch {
            #expect(error.code == 103 && error.details == "broken")
        }
        let missing = try ipam("/nonexistent", args: "")
        do { _ = try missing.add(); Issue.record("no error") } catch {
            #expect(error.code == 7 && error.msg.contains("not found in CNI_PATH"))
        }
    }
}
