import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// posix_spawn with three pipes, served by one poll loop. (Foundation's Process was
/// measured here at ~70 ms per run, most of it waiting in its run loop; ADD runs about
/// ten programs.)
enum Spawn {
    struct Failure: Error { var message: String }

    /// Runs `exe` with `args` and `environment`, feeds `input` on its standard input, and
    /// returns its exit status (128 + signal when killed), standard output and standard error.
    static func run(_ exe: String, _ args: [String], environment: [String: String], input: Data) throws(Failure) -> (Int32, Data, Data) {
        // A child that exits without reading its input must not kill gbp-cni with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        var fds: [[Int32]] = []
        for _ in 0..<3 {
            var p: [Int32] = [0, 0]
            // pipe2 is not in Glibc's Swift module; gbp-cni spawns from one thread only.
            guard pipe(&p) == 0, fcntl(p[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(p[1], F_SETFD, FD_CLOEXEC) == 0 else {
                for f in fds.joined() { close(f) }
                throw Failure(message: "pipe: \(String(cString: strerror(errno)))")
            }
            fds.append(p)
        }
        // Child: stdin from fds[0] read end, stdout/stderr to the write ends. CLOEXEC closes the rest.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0][0], 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1][1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[2][1], 2)
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        var rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
        // A plugin binary just installed may still be open for writing somewhere (ETXTBSY): retry briefly.
        for _ in 0..<20 where rc == ETXTBSY { usleep(10_000); rc = posix_spawn(&pid, exe, &actions, nil, argv, envp) }
        close(fds[0][0]); close(fds[1][1]); close(fds[2][1])
        var stdinFD = fds[0][1], outFD = fds[1][0], errFD = fds[2][0]
        guard rc == 0 else {
            close(stdinFD); close(outFD); close(errFD)
            throw Failure(message: String(cString: strerror(rc)))
        }
        if input.isEmpty { close(stdinFD); stdinFD = -1 }
        var sent = 0, out = Data(), err = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while outFD >= 0 || errFD >= 0 {
            var polls = [pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0),
                         pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                         pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)]
            if poll(&polls, 3, -1) < 0 { if errno == EINTR { continue }; break }
            if stdinFD >= 0 && polls[0].revents != 0 {
                let n = input.withUnsafeBytes { write(stdinFD, $0.baseAddress! + sent, $0.count - sent) }
                if n > 0 { sent += n }
                if n <= 0 || sent == input.count { close(stdinFD); stdinFD = -1 }
            }
            for (i, fd) in [(1, outFD), (2, errFD)] where fd >= 0 && polls[i].revents != 0 {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    if i == 1 { out.append(contentsOf: buffer[0..<n]) } else { err.append(contentsOf: buffer[0..<n]) }
                } else if n == 0 || errno != EINTR {
                    close(fd)
                    if i == 1 { outFD = -1 } else { errFD = -1 }
                }
            }
        }
        if stdinFD >= 0 { close(stdinFD) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (macros do not import).
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, out, err)
    }
}
