import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One request to gbpd over its control socket, one response back (ControlProtocol.swift).
struct ControlClient {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let path: String
    /// Reloads compile the whole policy: give gbpd time.
    var timeout: Double = 60

    func call(_ request: [String: Any]) throws(Failure) -> [String: Any] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "gbpctl: socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw Failure(description: "gbpctl: cannot reach gbpd at \(path): path too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in p.copyBytes(from: bytes); p[bytes.count] = 0 }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            let e = errno
            let why: String
            switch e {
            case ENOENT: why = "no such socket (is gbpd running?)"
            case ECONNREFUSED: why = "connection refused (is gbpd running? the socket file may be stale)"
            case EACCES, EPERM: why = "permission denied (the socket is mode 0600: run gbpctl as gbpd's user or root)"
            case ENOTDIR: why = "no such socket (is gbpd running?)"
            default: why = String(cString: strerror(e))
            }
            throw Failure(description: "gbpctl: cannot reach gbpd at \(path): \(why)")
        }
        // Send the request line. gbpd may already have answered and closed (it refuses a
        // client at once, e.g. another user's): then its answer is what to report.
        let line = ControlProtocol.encodeLine(request)
        var sent = 0
        while sent < line.count {
            let n = line.withUnsafeBytes { send(fd, $0.baseAddress! + sent, line.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let writeError = Failure(description: "gbpctl: writing to gbpd at \(path): \(String(cString: strerror(errno)))")
                var early = [UInt8](repeating: 0, count: 65536)
                let got = early.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if got > 0, let end = early[0..<got].firstIndex(of: 0x0A), let answer = ControlProtocol.decodeLine(early[..<end]) {
                    return answer
                }
                throw writeError
            }
            sent += n
        }
        // Read one response line.
        var input: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while !input.contains(0x0A) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw Failure(description: "gbpctl: gbpd at \(path) did not answer within \(Int(timeout)) s") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(left, 1) * 1000))
            if ready < 0 && errno != EINTR { throw Failure(description: "gbpctl: poll: \(String(cString: strerror(errno)))") }
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw Failure(description: "gbpctl: reading from gbpd at \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            input.append(contentsOf: chunk[0..<n])
        }
        guard let end = input.firstIndex(of: 0x0A), let response = ControlProtocol.decodeLine(input[..<end]) else {
            throw Failure(description: "gbpctl: gbpd at \(path) closed the connection without a valid answer")
        }
        return response
    }
}
