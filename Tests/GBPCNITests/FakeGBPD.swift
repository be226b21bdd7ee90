import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for gbpd's control socket: answers each request line with `answer(request)`
/// and records the requests. Serves until `stop()`.
final class FakeGBPD: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var seen: [[String: Any]] = []
    private let answer: @Sendable ([String: Any]) -> [String: Any]

    var requests: [[String: Any]] { lock.lock(); defer { lock.unlock() }; return seen }

    init(answer: @escaping @Sendable ([String: Any]) -> [String: Any]) throws {
        path = NSTemporaryDirectory() + "gbp-cni-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        self.answer = answer
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in p.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0, listen(fd, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        Thread.detachNewThread { [self] in serve() }
    }

    /// Wakes the server thread, which closes the socket itself: closing it here could let
    /// another test's server reuse the descriptor number while this thread still accepts on it.
    func stop() { shutdown(fd, Int32(SHUT_RDWR)); unlink(path) }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            guard c >= 0 else { close(fd); return }
            var buffer: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(c, &chunk, chunk.count, 0)
                if n <= 0 { break }
                buffer += chunk[0..<n]
                while let nl = buffer.firstIndex(of: 0x0A) {
                    let line = Data(buffer[..<nl]); buffer.removeSubrange(...nl)
                    let request = (try? JSONSerialization.jsonObject(with: line) as? [String: Any]) ?? [:]
                    lock.lock(); seen.append(request); lock.unlock()
                    let out = (try! JSONSerialization.data(withJSONObject: answer(request))) + Data("\n".utf8)
                    _ = out.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
            }
            close(c)
        }
    }
}
