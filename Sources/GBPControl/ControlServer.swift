import Foundation
import Glibc
import Logging

/// The control socket: a Unix stream socket (mode 0600) served from the control loop.
/// Only gbpd's own user and root are served: the mode keeps others from connecting, and
/// the peer's credentials (`SO_PEERCRED`) are checked on accept, so a socket whose mode
/// was loosened, or reached through a path another user can open, still refuses them.
/// Requests are JSON lines (ControlProtocol.swift); each is answered in order by the
/// handler. Non-blocking throughout: per tick a bounded number of accepts, bytes read,
/// requests handled and bytes written; a request line longer than
/// `ControlProtocol.maxRequestBytes`, or a client that makes no progress for
/// `clientTimeout` seconds, is dropped.
final class ControlServer {
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    static let maxClients = 32
    static let clientTimeout = 10.0
    static let readBudgetPerTick = 256 * 1024
    static let writeBudgetPerTick = 4 * 1024 * 1024

    let path: String
    private var listenFD: Int32 = -1
    private var clients: [SocketConnection] = []
    /// The socket file this server created (removed on close only if it is still this one).
    private var identity: (dev: UInt64, ino: UInt64)?
    private let logger: Logger

    /// Creates the folder if needed, removes a stale socket file, binds, listens and sets
    /// mode 0600. Fails if another process is serving `path` or `path` is not a socket.
    init(path: String, logger: Logger) throws(SetupError) {
        self.path = path
        self.logger = logger
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty && !FileManager.default.fileExists(atPath: dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
            } catch { throw SetupError(description: "cannot create the folder \(dir) of the control socket: \(error.localizedDescription)") }
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw SetupError(description: "\(path) exists and is not a socket; not removing it")
            }
            if Self.isServed(path) {
                throw SetupError(description: "\(path) is in use: another process (another gbpd?) accepts connections on it")
            }
            if unlink(path) != 0 { throw SetupError(description: "cannot remove the stale socket \(path): \(SocketIO.errnoText())") }
            logger.info("removed a stale control socket", metadata: ["path": "\(path)"])
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "socket(AF_UNIX): \(SocketIO.errnoText())") }
        guard var addr = Self.address(path) else {
            _ = Glibc.close(fd)
            throw SetupError(description: "\(path) is too long for a Unix socket path")
        }
        // No moment with looser permissions than 0600: umask while binding, then chmod.
        let oldMask = umask(0o177)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let bindErrno = errno
        umask(oldMask)
        guard rc == 0 else {
            _ = Glibc.close(fd)
            throw SetupError(description: "bind \(path): \(SocketIO.errnoText(bindErrno))")
        }
        guard chmod(path, 0o600) == 0, listen(fd, 64) == 0 else {
            let e = SocketIO.errnoText()
            _ = Glibc.close(fd); unlink(path)
            throw SetupError(description: "listen on \(path): \(e)")
        }
        if lstat(path, &st) == 0 { identity = (UInt64(st.st_dev), UInt64(st.st_ino)) }
        listenFD = fd
    }

    /// True if something accepts connections on `path`.
    static func isServed(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, var addr = address(path) else { return false }
        defer { _ = Glibc.close(fd) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0
    }

    static func address(_ path: String) -> sockaddr_un? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            p.copyBytes(from: bytes)
            p[bytes.count] = 0
        }
        return addr
    }

    /// Why a client is refused (its answer, and the log line), or nil when it is gbpd's
    /// own user or root. A peer whose credentials cannot be read is refused.
    static func refusal(of peer: PeerCredentials?, ownUID: UInt32 = geteuid()) -> (answer: String, log: String)? {
        guard let peer else {
            return ("gbpd could not read the credentials of this connection; refused", "refused a client whose credentials could not be read")
        }
        if peer.uid == ownUID || peer.uid == 0 { return nil }
        return ("permission denied: gbpd's control socket serves only uid \(ownUID) (gbpd's user) and root, not uid \(peer.uid)",
                "refused uid \(peer.uid) (pid \(peer.pid)): only uid \(ownUID) and root may use the control socket")
    }

    /// File descriptors the control loop may wait on.
    var readFDs: [Int32] { listenFD < 0 ? [] : [listenFD] + clients.map(\.fd) }
    var writeFDs: [Int32] { clients.filter(\.hasPendingOutput).map(\.fd) }
    var clientCount: Int { clients.count }

    /// One tick: accept, read, answer complete lines with `handle`, write, drop stuck clients.
    func service(now: Double, handle: (ArraySlice<UInt8>) -> [UInt8]) {
        guard listenFD >= 0 else { return }
        for fd in acceptPending(listenFD, max: 16) {
            if let refusal = Self.refusal(of: PeerCredentials(socket: fd)) {
                let c = SocketConnection(fd: fd, now: now)
                _ = c.readAvailable(budget: 4096, now: now)  // closing on unread input would reset the answer
                c.send(ControlProtocol.encodeLine(ControlProtocol.failure(refusal.answer)))
                _ = c.flush(budget: 4096, now: now)
                c.close()
                logger.warning("control socket: \(refusal.log)")
                continue
            }
            if clients.count >= Self.maxClients {
                let c = SocketConnection(fd: fd, now: now)
                c.send(ControlProtocol.encodeLine(ControlProtocol.failure("too many control clients (\(Self.maxClients)); try again")))
                _ = c.flush(budget: 4096, now: now)
                c.close()
                logger.warning("control socket: refused a client, \(Self.maxClients) already connected")
                continue
            }
            clients.append(SocketConnection(fd: fd, now: now))
        }
        var keep: [SocketConnection] = []
        for c in clients {
            if serviceClient(c, now: now, handle: handle) { keep.append(c) } else { c.close() }
        }
        clients = keep
    }

    /// False when the client is done or dropped.
    private func serviceClient(_ c: SocketConnection, now: Double, handle: (ArraySlice<UInt8>) -> [UInt8]) -> Bool {
        // Read only while nothing is owed and no complete request waits: a client that
        // does not read its answers gets no more requests handled, and its input is bounded.
        if !c.peerClosed && !c.hasPendingOutput && !c.input.contains(0x0A) && !c.closeAfterWrite {
            switch c.readAvailable(budget: Self.readBudgetPerTick, now: now) {
            case .failed: return false
            case .closed: if c.input.isEmpty { return false }
            case .progress, .nothing: break
            }
        }
        if !c.hasPendingOutput && !c.closeAfterWrite, let nl = c.input.firstIndex(of: 0x0A) {
            let line = c.input[c.input.startIndex..<nl]
            let response = line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) ? [] : handle(line)
            c.input.removeSubrange(c.input.startIndex...nl)
            c.send(response)
            c.lastProgress = now
        } else if c.input.count > ControlProtocol.maxRequestBytes {
            c.send(ControlProtocol.encodeLine(ControlProtocol.failure("request longer than \(ControlProtocol.maxRequestBytes) bytes; closing")))
            c.input.removeAll()
            c.closeAfterWrite = true
            logger.warning("control socket: dropped a client whose request exceeded \(ControlProtocol.maxRequestBytes) bytes")
        } else if c.peerClosed && !c.hasPendingOutput && !c.input.isEmpty && !c.closeAfterWrite {
            // The last request of a client that shut its side without a final newline.
            let line = c.input[...]
            c.send(handle(line))
            c.input.removeAll()
            c.closeAfterWrite = true
        }
        if c.hasPendingOutput {
            guard c.flush(budget: Self.writeBudgetPerTick, now: now) else { return false }
        }
        if !c.hasPendingOutput && (c.closeAfterWrite || (c.peerClosed && c.input.isEmpty)) { return false }
        if now - c.lastProgress > Self.clientTimeout {
            logger.notice("control socket: dropped a client idle for \(Int(Self.clientTimeout)) s")
            return false
        }
        return true
    }

    /// Closes every connection and removes the socket file if it is still the one this server made.
    func close() {
        for c in clients { c.close() }
        clients = []
        guard listenFD >= 0 else { return }
        _ = Glibc.close(listenFD)
        listenFD = -1
        var st = stat()
        if let id = identity, lstat(path, &st) == 0, UInt64(st.st_dev) == id.dev, UInt64(st.st_ino) == id.ino {
            unlink(path)
        }
    }

    deinit { close() }
}
