import Glibc

/// Non-blocking socket plumbing shared by the control socket and the metrics port. Both
/// are served from the control loop on the main lcore: nothing here ever blocks, reads
/// and writes are bounded per tick, and a client that sends too much or stops making
/// progress is dropped.
enum SocketIO {
    /// Seconds on a monotonic clock.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

    /// Waits up to `timeoutMs` for any of `fds` to be readable or writable as asked
    /// (the control loop's tick: returns at once when a client is waiting).
    static func wait(read: [Int32], write: [Int32], timeoutMs: Int32) {
        var fds = read.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            + write.map { pollfd(fd: $0, events: Int16(POLLOUT), revents: 0) }
        if fds.isEmpty {
            usleep(UInt32(max(timeoutMs, 0)) * 1000)
            return
        }
        _ = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMs) }
    }
}

/// One accepted client: what it sent and what it is still owed, with the time it last
/// made progress.
final class SocketConnection {
    enum ReadOutcome { case progress, nothing, closed, failed }

    let fd: Int32
    var input: [UInt8] = []
    var output: [UInt8] = []
    private var outputSent = 0
    /// The peer shut its side: answer what it sent, then close.
    var peerClosed = false
    /// Close once `output` is sent.
    var closeAfterWrite = false
    var lastProgress: Double

    init(fd: Int32, now: Double) { self.fd = fd; self.lastProgress = now }

    var hasPendingOutput: Bool { outputSent < output.count }

    /// Reads what is there, at most `budget` bytes.
    func readAvailable(budget: Int, now: Double) -> ReadOutcome {
        var got = 0
        var chunk = [UInt8](repeating: 0, count: min(budget, 16384))
        while got < budget {
            let want = min(chunk.count, budget - got)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                input.append(contentsOf: chunk[0..<n])
                got += n
                lastProgress = now
                continue
            }
            if n == 0 { peerClosed = true; return got > 0 ? .progress : .closed }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return got > 0 ? .progress : .nothing }
            return .failed
        }
        return .progress
    }

    /// Queues `bytes` to be sent.
    func send(_ bytes: [UInt8]) {
        if outputSent == output.count { output.removeAll(keepingCapacity: true); outputSent = 0 }
        output.append(contentsOf: bytes)
    }

    /// Sends what it can of the queued output, at most `budget` bytes; false on error.
    func flush(budget: Int, now: Double) -> Bool {
        var sent = 0
        while outputSent < output.count && sent < budget {
            let want = min(output.count - outputSent, budget - sent)
            let n = output.withUnsafeBytes { p in
                Glibc.send(fd, p.baseAddress! + outputSent, want, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if n > 0 { outputSent += n; sent += n; lastProgress = now; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
            return false
        }
        if outputSent == output.count { output.removeAll(keepingCapacity: true); outputSent = 0 }
        return true
    }

    func close() { _ = Glibc.close(fd) }
}

/// The process at the other end of a Unix socket, as the kernel saw it connect
/// (`SO_PEERCRED`; Glibc's Swift module hides `struct ucred`, so it is mirrored here:
/// pid_t, uid_t, gid_t).
struct PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0

    /// Nil if the kernel does not say (not a Unix socket).
    init?(socket fd: Int32) {
        var c = PeerCredentials(pid: 0, uid: 0, gid: 0)
        var len = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard MemoryLayout<PeerCredentials>.size == 12, getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) == 0,
              len == socklen_t(MemoryLayout<PeerCredentials>.size) else { return nil }
        self = c
    }

    private init(pid: Int32, uid: UInt32, gid: UInt32) { self.pid = pid; self.uid = uid; self.gid = gid }
}

/// Accepts pending connections on a non-blocking listening socket.
func acceptPending(_ listenFD: Int32, max: Int) -> [Int32] {
    var out: [Int32] = []
    while out.count < max {
        let fd = accept(listenFD, nil, nil)
        if fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            out.append(fd)
            continue
        }
        if errno == EINTR || errno == ECONNABORTED { continue }
        break
    }
    return out
}
