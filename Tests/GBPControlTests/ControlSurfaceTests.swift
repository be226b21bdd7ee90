import Glibc
import Testing
@testable import GBPControl

/// Who the control socket serves: gbpd's own uid and root, nobody else, and nobody
/// whose credentials cannot be read.
@Suite struct ControlSurfaceTests {
    @Test func peerUIDsServedAndRefused() {
        #expect(ControlServer.refusal(of: peer(uid: 1000), ownUID: 1000) == nil)
        #expect(ControlServer.refusal(of: peer(uid: 0), ownUID: 1000) == nil)
        let other = ControlServer.refusal(of: peer(uid: 1001), ownUID: 1000)
        #expect(other?.answer == "permission denied: gbpd's control socket serves only uid 1000 (gbpd's user) and root, not uid 1001")
        #expect(other?.log.hasPrefix("refused uid 1001 (pid ") == true)
        #expect(ControlServer.refusal(of: nil, ownUID: 1000) != nil)
    }

    /// SO_PEERCRED on a socket pair: this very process.
    @Test func credentialsOfASocketPair() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let c = try #require(PeerCredentials(socket: fds[0]))
        #expect(c.uid == geteuid() && c.gid == getegid() && c.pid == getpid())
        #expect(PeerCredentials(socket: -1) == nil)
    }

    private func peer(uid: UInt32) -> PeerCredentials? {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { return nil }
        defer { close(fds[0]); close(fds[1]) }
        var c = PeerCredentials(socket: fds[0])
        c?.uid = uid
        return c
    }
}
