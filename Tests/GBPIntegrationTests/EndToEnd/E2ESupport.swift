import Foundation
import Testing

/// What the end-to-end tests need from the machine, probed once, and small helpers
/// to run commands (in or out of network namespaces) with a time limit.
enum E2E {
    /// The repository root (this file is Tests/GBPIntegrationTests/EndToEnd/E2ESupport.swift).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// config/pod.sh: the tests make their pods with the documented script.
    static var podScript: String { root.appendingPathComponent("config/pod.sh").path }

    // MARK: Environment probe

    /// nil when pods can be made here (root, `ip netns`, veth); otherwise why not.
    /// Probed once per test process, and printed when it fails, so a skipped run says why.
    static let podsUnavailable: String? = {
        let reason = probePods()
        if let reason { FileHandle.standardError.write(Data("EndToEnd tests skipped: \(reason)\n".utf8)) }
        return reason
    }()

    static var podsAvailable: Bool { podsUnavailable == nil }

    private static func probePods() -> String? {
        if geteuid() != 0 { return "not root: network namespaces and veth pairs need root (run the tests as root)" }
        guard let ip = which("ip") else { return "'ip' not found: install iproute2" }
        guard FileManager.default.isExecutableFile(atPath: podScript) else { return "\(podScript) is missing or not executable" }
        guard FileManager.default.isExecutableFile(atPath: GBPDProcess.binary.path) else {
            return "gbpd not built next to the tests (\(GBPDProcess.binary.path))"
        }
        sweepStalePods()
        let ns = "gbtprobe\(getpid() % 10000)"
        defer {
            _ = run([ip, "link", "del", "\(ns)a"], timeout: 5)
            _ = run([ip, "netns", "del", ns], timeout: 5)
        }
        let add = run([ip, "netns", "add", ns], timeout: 5)
        if add.status != 0 { return "'ip netns add' does not work here: \(trim(add.stderr))" }
        let exec = run([ip, "netns", "exec", ns, ip, "link", "set", "lo", "up"], timeout: 5)
        if exec.status != 0 { return "'ip netns exec' does not work here: \(trim(exec.stderr))" }
        let veth = run([ip, "link", "add", "\(ns)a", "type", "veth", "peer", "name", "\(ns)b", "netns", ns], timeout: 5)
        if veth.status != 0 { return "veth pairs cannot be made here: \(trim(veth.stderr))" }
        return nil
    }

    /// The first missing tool of `tools` as a skip reason naming its Debian package, or nil.
    static func missingTool(_ tools: [String]) -> String? {
        let packages = ["ping": "iputils-ping", "curl": "curl", "nc": "netcat-openbsd", "ethtool": "ethtool",
                        "python3": "python3", "dpdk-testpmd": "dpdk", "timeout": "coreutils"]
        for t in tools where which(t) == nil {
            return "'\(t)' not found: install the Debian package \(packages[t] ?? t) (listed in .ci/install-deps)"
        }
        return nil
    }

    /// Skips the running test (recorded with `reason`) when pods cannot be made or a tool is missing.
    static func requirePods(tools: [String] = ["ping", "curl", "nc", "ethtool", "python3", "timeout"]) throws {
        if let reason = podsUnavailable { try Test.cancel(Comment(rawValue: "skipped: \(reason)")) }
        if let reason = missingTool(tools) { try Test.cancel(Comment(rawValue: "skipped: \(reason)")) }
    }

    /// A DPDK PMD shipped with this DPDK build (librte_net_<name>.so), for skip messages.
    static func hasPMD(_ name: String) -> Bool {
        let dirs = ["/usr/lib/x86_64-linux-gnu/dpdk", "/usr/lib/dpdk", "/usr/local/lib/x86_64-linux-gnu/dpdk"]
        for d in dirs {
            guard let subdirs = try? FileManager.default.contentsOfDirectory(atPath: d) else { continue }
            for s in subdirs where FileManager.default.fileExists(atPath: "\(d)/\(s)/librte_net_\(name).so") { return true }
        }
        for d in ["/usr/lib/x86_64-linux-gnu", "/usr/local/lib"] where FileManager.default.fileExists(atPath: "\(d)/librte_net_\(name).so") {
            return true
        }
        return false
    }

    static func which(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        // Prefer the system's copies (pyenv shims and the like re-exec through shells).
        let path = "/usr/sbin:/usr/bin:/sbin:/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "")
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// DPDK leaves /var/run/dpdk/<file-prefix> behind after every process; remove ours
    /// once the process that used it has exited.
    static func removeDPDKRuntimeDir(prefix: String) {
        guard !prefix.isEmpty, !prefix.contains("/") else { return }
        for base in ["/var/run/dpdk", "/run/dpdk"] {
            try? FileManager.default.removeItem(atPath: "\(base)/\(prefix)")
        }
    }

    // MARK: Stale pods of earlier runs

    /// Test pods are named gbt<pid in base 36>-<set><pod>: delete those whose test process
    /// is gone (a run killed with SIGKILL cannot clean up after itself; pod.sh delete also
    /// stops what still runs in them).
    static func sweepStalePods() {
        let list = run(["ip", "netns", "list"], timeout: 5).stdout
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix(PodSet.namePrefix), let dash = name.firstIndex(of: "-"),
                  name.distance(from: dash, to: name.endIndex) == 3,
                  let pid = Int32(name[name.index(name.startIndex, offsetBy: PodSet.namePrefix.count)..<dash], radix: 36)
            else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                _ = run([podScript, "delete", name], timeout: 10)
            }
        }
    }

    // MARK: Running commands

    /// GBP_E2E_TRACE=1 prints every command with its duration and status on stderr.
    static let trace = ProcessInfo.processInfo.environment["GBP_E2E_TRACE"] != nil

    static func note(_ what: String) {
        guard trace else { return }
        let line = String(format: "[e2e %.3f] %@\n", Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1000), what)
        FileHandle.standardError.write(Data(line.utf8))
    }

    struct Output: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
        var ok: Bool { status == 0 && !timedOut }
        var description: String {
            "exit \(status)\(timedOut ? " (timed out)" : ""), stdout: \(E2E.trim(stdout).prefix(600)), stderr: \(E2E.trim(stderr).prefix(600))"
        }
    }

    /// Runs `args` (resolved through PATH), waits at most `timeout` seconds (then SIGKILL
    /// to its process group). Output goes through files, so nothing blocks on a full pipe
    /// and a grandchild keeping a pipe open cannot hang the test.
    @discardableResult
    static func run(_ args: [String], timeout: Double = 15, stdin: String? = nil) -> Output {
        let started = Date()
        let base = FileManager.default.temporaryDirectory
            .appendingPathComponent("gbpd-e2e-\(getpid())-\(UUID().uuidString.prefix(8))").path
        defer { unlink(base + ".out"); unlink(base + ".err") }
        let child: E2EChild
        do {
            child = try E2EChild(args, stdout: base + ".out", stderr: base + ".err", stdin: stdin == nil ? .null : .pipe)
        } catch {
            return Output(status: -1, stdout: "", stderr: "\(error)", timedOut: false)
        }
        if let stdin { child.write(stdin); child.closeStdin() }
        var status = child.wait(timeout: timeout)
        let timedOut = status == nil
        if timedOut {
            child.kill(SIGKILL)
            status = child.wait(timeout: 5)
        }
        let out = FileManager.default.contents(atPath: base + ".out") ?? Data()
        let err = FileManager.default.contents(atPath: base + ".err") ?? Data()
        if trace {
            let line = String(format: "[e2e %.3f +%.2f s] %@ -> %d%@\n", Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1000),
                              Date().timeIntervalSince(started), args.joined(separator: " "),
                              status ?? -1, timedOut ? " (timed out)" : "")
            FileHandle.standardError.write(Data(line.utf8))
        }
        return Output(status: status ?? -1, stdout: String(decoding: out, as: UTF8.self),
                      stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut)
    }

    /// Runs `args` inside network namespace `ns`: the command a person would type after `ip netns exec NS`.
    @discardableResult
    static func inNamespace(_ ns: String, _ args: [String], timeout: Double = 15, stdin: String? = nil) -> Output {
        run(["ip", "netns", "exec", ns] + args, timeout: timeout, stdin: stdin)
    }

    /// Runs every block at the same time, each on a thread of its own (they mostly wait
    /// for timeouts: blocked traffic), and returns their results in order.
    static func concurrently<T: Sendable>(_ blocks: (@Sendable () -> T)...) -> [T] {
        let results = E2EResults<T>(count: blocks.count)
        let group = DispatchGroup()
        for (i, block) in blocks.enumerated() {
            group.enter()
            let t = Thread { results.set(i, block()); group.leave() }
            t.start()
        }
        group.wait()
        return results.values
    }

    /// Tries `attempt` until it returns true or `seconds` pass (gbpd and the pods need a moment).
    static func eventually(within seconds: Double, every pause: Double = 0.3, _ attempt: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        repeat {
            if attempt() { return true }
            Thread.sleep(forTimeInterval: pause)
        } while Date() < end
        return false
    }
}

/// A child process started with posix_spawn in a process group of its own, with every
/// signal unblocked and at its default action. (Foundation's Process starts children
/// with the signal mask of its spawning thread, where SIGTERM, SIGINT and SIGALRM are
/// blocked: such a child ignores SIGTERM, and `timeout` never fires.) `kill` signals
/// the whole group, so wrappers (`ip netns exec`, `timeout`) and what they run go together.
final class E2EChild: @unchecked Sendable {
    enum Input { case null, pipe }
    let pid: pid_t
    let command: String
    private var stdinFD: Int32 = -1
    private var status: Int32?
    private let lock = NSLock()

    /// `stdout`/`stderr`: files (created or truncated; the same path for both shares one file).
    init(_ args: [String], stdout: String, stderr: String? = nil, stdin: Input = .null) throws {
        command = args.joined(separator: " ")
        let exe = E2E.which(args[0]) ?? args[0]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }

        var pipeFDs: [Int32] = [-1, -1]
        if stdin == .pipe {
            guard pipe(&pipeFDs) == 0 else { throw E2EError("pipe: \(String(cString: strerror(errno)))") }
            for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        if let stderr, stderr != stdout {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + args.dropFirst()).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, &attr, argv, environ)
        if stdin == .pipe { close(pipeFDs[0]) }
        guard rc == 0 else {
            if stdin == .pipe { close(pipeFDs[1]) }
            throw E2EError("cannot start \(exe): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        stdinFD = pipeFDs[1]
    }

    deinit {
        if exitStatus == nil { kill(SIGKILL); _ = wait(timeout: 5) }
        closeStdin()
    }

    /// Writes to the child's stdin (when started with `.pipe`).
    func write(_ text: String) {
        lock.lock(); let fd = stdinFD; lock.unlock()
        guard fd >= 0 else { return }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }

    func closeStdin() {
        lock.lock(); defer { lock.unlock() }
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// The exit status (128 + signal when killed), nil while it runs.
    var exitStatus: Int32? {
        lock.lock(); defer { lock.unlock() }
        if let status { return status }
        var raw: Int32 = 0
        let r = waitpid(pid, &raw, WNOHANG)
        if r == pid {
            status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        } else if r < 0 && errno == ECHILD {
            status = -1
        }
        return status
    }

    var isRunning: Bool { exitStatus == nil }

    /// Waits at most `timeout` seconds; the exit status, or nil if it still runs.
    func wait(timeout: Double) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let s = exitStatus { return s }
            usleep(5_000)
        }
        return exitStatus
    }

    /// Sends `signal` to the child's whole process group.
    func kill(_ signal: Int32) {
        _ = exitStatus
        Glibc.kill(-pid, signal)
    }

    /// SIGTERM, then SIGKILL after `grace` seconds, to the whole group; waits for the child.
    func terminate(grace: Double = 3) {
        kill(SIGTERM)
        if wait(timeout: grace) == nil { kill(SIGKILL); _ = wait(timeout: 5) }
    }
}

/// Results written by several threads.
final class E2EResults<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: T) { lock.lock(); slots[i] = v; lock.unlock() }
    var values: [T] { lock.lock(); defer { lock.unlock() }; return slots.map { $0! } }
}

extension E2E {
    static func trim(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }
}
