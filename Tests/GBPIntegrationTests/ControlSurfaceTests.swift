import Foundation
import Testing

/// The control surface refuses what it should: other users on the control socket (by
/// its mode, and by the peer's credentials when the mode was loosened), and every HTTP
/// method but GET and HEAD on the metrics port. Reuses ControlTests' gbpd and clients.
@Suite(.serialized)
struct ControlSurfaceTests {
    let control = ControlTests()
    static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    static var canSwitchUser: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: nobody[0]) }

    @Test(.enabled(if: canSwitchUser, "needs root and setpriv to run gbpctl as another user"))
    func theControlSocketRefusesOtherUsers() throws {
        let g = try GBPDProcess("surface-uid")
        defer { g.cleanUp() }
        chmod(g.dir.path, 0o755)   // nobody may reach the socket's folder
        let d = try control.start(g)
        let socket = g.path("gbpd.sock")

        // Mode 0600: the kernel refuses the connection.
        let byMode = try control.gbpctl(g, ["stats"], runAs: Self.nobody)
        #expect(byMode.status == 1)
        #expect(byMode.stderr.contains("cannot reach gbpd at \(socket): permission denied"), "\(byMode.stderr)")

        // A loosened mode (or a path another user can open): gbpd refuses by the peer's uid.
        #expect(chmod(socket, 0o666) == 0)
        let byUID = try control.gbpctl(g, ["stats"], runAs: Self.nobody)
        #expect(byUID.status == 1)
        #expect(byUID.stderr == "gbpctl: permission denied: gbpd's control socket serves only uid 0 (gbpd's user) and root, not uid 65534\n",
                "\(byUID.stderr)")
        #expect(byUID.stdout.isEmpty)
        let change = try control.gbpctl(g, ["endpoints", "remove", "f1"], runAs: Self.nobody)
        #expect(change.status == 1 && change.stderr.contains("not uid 65534"))
        #expect(d.wait(for: "refused uid 65534"), "gbpd logs the refusal: \(d.stdout)")

        // gbpd's own user is still served, and nothing was changed.
        let stats = try control.gbpctl(g, ["stats", "--json"])
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(((stats.json?["stats"] as? [String: Any])?["policy_epoch"] as? NSNumber)?.intValue == 1)
        #expect(d.finish().status == 0)
    }

    @Test func metricsAreReadOnly() throws {
        let g = try GBPDProcess("surface-metrics")
        defer { g.cleanUp() }
        let d = try control.start(g, metrics: true)
        #expect(d.wait(for: "/metrics"))
        let line = d.stdout.split(separator: "\n").first { $0.contains("metrics on http://127.0.0.1:") }
        let port = try #require(line.flatMap { $0.split(separator: ":").last?.split(separator: "/").first }.flatMap { Int($0) })
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            for path in ["/metrics", "/", "/reload"] {
                let r = try ControlTests.httpGet(port: port, path: path, method: method)
                #expect(r.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"), "\(method) \(path): \(r.prefix(80))")
                #expect(r.contains("\r\nAllow: GET, HEAD\r\n"))
            }
        }
        let get = try ControlTests.httpGet(port: port, path: "/metrics")
        #expect(get.hasPrefix("HTTP/1.1 200 OK\r\n") && get.contains("\ngbpd_policy_epoch 1.0\n"), "\(get.prefix(200))")
        #expect(try ControlTests.httpGet(port: port, path: "/metrics", method: "HEAD").hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(ControlTests.tcpListeners(port: port) == ["0100007F"])
        #expect(d.finish().status == 0)
    }
}
