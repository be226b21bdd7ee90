import Foundation
import Glibc
import Logging

/// A tiny HTTP/1.0 responder for Prometheus on a loopback TCP port, served from the
/// control loop (no threads, no NIO): `GET /metrics` answers the text exposition format,
/// anything else 404 (or 405 for other methods). One request per connection; a request
/// head over 8 KiB or a client silent for `clientTimeout` seconds is dropped.
final class MetricsServer {
    struct SetupError: Error, CustomStringConvertible { var description: String }

    static let maxClients = 16
    static let maxRequestHead = 8 * 1024
    static let clientTimeout = 5.0

    let address: String
    /// The port bound (the kernel's choice when the config says 0).
    private(set) var port: Int = 0
    private var listenFD: Int32 = -1
    private var clients: [SocketConnection] = []
    private let logger: Logger

    /// Binds `address` (127.0.0.1 or ::1 only) and `port`.
    init(address: String, port: Int, logger: Logger) throws(SetupError) {
        self.address = address
        self.logger = logger
        guard ControlSettings.metricsAddresses.contains(address) else {
            throw SetupError(description: "metrics address \(address) is not loopback (127.0.0.1 or ::1)")
        }
        let v6 = address.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "socket: \(SocketIO.errnoText())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var rc: Int32
        if v6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, address, &a.sin6_addr)
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, address, &a.sin_addr)
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard rc == 0, listen(fd, 64) == 0 else {
            let e = SocketIO.errnoText()
            _ = Glibc.close(fd)
            throw SetupError(description: "metrics on \(v6 ? "[\(address)]" : address):\(port): \(e)")
        }
        // The port actually bound.
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.port = withUnsafePointer(to: &ss) { p -> Int in
            v6 ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
               : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
        listenFD = fd
    }

    var url: String { "http://\(address.contains(":") ? "[\(address)]" : address):\(port)/metrics" }
    var readFDs: [Int32] { listenFD < 0 ? [] : [listenFD] + clients.map(\.fd) }
    var writeFDs: [Int32] { clients.filter(\.hasPendingOutput).map(\.fd) }

    /// One tick: accept, read request heads, answer with `render()` for /metrics, write, drop stuck clients.
    func service(now: Double, render: () -> String) {
        guard listenFD >= 0 else { return }
        for fd in acceptPending(listenFD, max: 16) {
            if clients.count >= Self.maxClients { _ = Glibc.close(fd); continue }
            clients.append(SocketConnection(fd: fd, now: now))
        }
        var keep: [SocketConnection] = []
        for c in clients {
            if serviceClient(c, now: now, render: render) { keep.append(c) } else { c.close() }
        }
        clients = keep
    }

    private func serviceClient(_ c: SocketConnection, now: Double, render: () -> String) -> Bool {
        if !c.closeAfterWrite {
            switch c.readAvailable(budget: Self.maxRequestHead + 1 - c.input.count, now: now) {
            case .failed: return false
            case .closed where c.input.isEmpty: return false
            default: break
            }
            if let head = Self.requestHead(c.input) {
                c.send(respond(to: head, render: render))
                c.closeAfterWrite = true
            } else if c.input.count > Self.maxRequestHead {
                c.send(Self.response(431, "Request Header Fields Too Large", "request head over \(Self.maxRequestHead) bytes\n"))
                c.closeAfterWrite = true
            } else if c.peerClosed {
                return false
            }
        }
        if c.hasPendingOutput, !c.flush(budget: 4 * 1024 * 1024, now: now) { return false }
        if c.closeAfterWrite && !c.hasPendingOutput {
            shutdown(c.fd, Int32(SHUT_WR))
            return false
        }
        return now - c.lastProgress <= Self.clientTimeout
    }

    /// The request line, once the whole head ("\r\n\r\n" or "\n\n") is in.
    static func requestHead(_ input: [UInt8]) -> String? {
        let s = String(decoding: input, as: UTF8.self)
        guard s.contains("\r\n\r\n") || s.contains("\n\n") else { return nil }
        // Bytes, not Characters: "\r\n" is one Character.
        let end = input.firstIndex { $0 == 0x0D || $0 == 0x0A } ?? input.endIndex
        return String(decoding: input[..<end], as: UTF8.self)
    }

    private func respond(to requestLine: String, render: () -> String) -> [UInt8] {
        let parts = requestLine.split(separator: " ")
        guard parts.count >= 2 else { return Self.response(400, "Bad Request", "bad request line\n") }
        let method = parts[0], target = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard method == "GET" || method == "HEAD" else {
            return Self.response(405, "Method Not Allowed", "only GET\n", extra: "Allow: GET, HEAD\r\n")
        }
        switch target {
        case "/metrics":
            let body = render()
            return Self.response(200, "OK", body, contentType: "text/plain; version=0.0.4; charset=utf-8", headOnly: method == "HEAD")
        case "/":
            return Self.response(200, "OK", "gbpd: Prometheus metrics at /metrics\n", headOnly: method == "HEAD")
        default:
            return Self.response(404, "Not Found", "not found; metrics are at /metrics\n", headOnly: method == "HEAD")
        }
    }

    static func response(_ code: Int, _ reason: String, _ body: String, contentType: String = "text/plain; charset=utf-8",
                         extra: String = "", headOnly: Bool = false) -> [UInt8] {
        let b = Array(body.utf8)
        let head = "HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(b.count)\r\n\(extra)Connection: close\r\n\r\n"
        return Array(head.utf8) + (headOnly ? [] : b)
    }

    func close() {
        for c in clients { c.close() }
        clients = []
        if listenFD >= 0 { _ = Glibc.close(listenFD); listenFD = -1 }
    }

    deinit { close() }
}
