"""Child processes that never outlive the benchmark.

Every child runs in its own session (process group), gets SIGKILL from the
kernel if the benchmark process dies (PR_SET_PDEATHSIG, so even `kill -9` of
bench/run leaves nothing behind), and is registered so that kill_all() (called
on exit, on exceptions and on SIGINT/SIGTERM) can end it.  stdout is read line
by line with each line's arrival time; stderr goes to a log file.
"""
import atexit
import ctypes
import os
import re
import signal
import subprocess
import threading
import time

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl   # resolved before any fork
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_live = set()


def _child_setup():
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


class ChildFailed(Exception):
    """A child could not be started, failed, or did not do what was expected."""


class Child:
    """One running program. `lines` holds (monotonic time, text) of its stdout."""

    def __init__(self, name, argv, cwd, log_dir, line_buffered=True, env=None):
        self.name = name
        self.argv = list(argv)
        self.stdout_log = os.path.join(log_dir, f"{name}.stdout")
        self.stderr_log = os.path.join(log_dir, f"{name}.stderr")
        self.lines = []
        self._cond = threading.Condition()
        # stdbuf -oL: programs using C stdio (gbpd's print, testpmd's printf)
        # write a pipe in big blocks otherwise, and line times would be wrong.
        full = (["stdbuf", "-oL"] if line_buffered else []) + self.argv
        self.started = time.monotonic()
        with open(self.stderr_log, "wb") as err:
            try:
                self.proc = subprocess.Popen(full, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=err, start_new_session=True, preexec_fn=_child_setup,
                                             env=env)
            except OSError as e:
                raise ChildFailed(f"{name}: cannot start {self.argv[0]}: {e}") from e
        _live.add(self)
        self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._reader.start()

    def _read(self):
        with open(self.stdout_log, "w") as log:
            for raw in self.proc.stdout:
                t = time.monotonic()
                text = _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip("\r\n")
                log.write(f"[{t - self.started:8.3f}] {text}\n")
                with self._cond:
                    self.lines.append((t, text))
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def running(self):
        return self.proc.poll() is None

    def wait_for(self, predicate, timeout):
        """Waits until predicate(lines) is true (returns True), the program exits
        or `timeout` seconds pass (returns False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate(self.lines):
                    return True
                if not self.running or time.monotonic() >= deadline:
                    return predicate(self.lines)
                self._cond.wait(0.2)

    def wait_exit(self, timeout):
        """The exit code, or None if still running after `timeout` seconds."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(timeout=5)
        return rc

    def signal(self, sig):
        if self.running:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, grace=15.0):
        """SIGINT (DPDK programs print their totals and exit), then SIGKILL after
        `grace` seconds. Returns the exit code (negative: killed by a signal)."""
        self.signal(signal.SIGINT)
        rc = self.wait_exit(grace)
        if rc is None:
            self.kill()
            rc = self.proc.returncode
        _live.discard(self)
        return rc

    def kill(self):
        self.signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._reader.join(timeout=5)
        _live.discard(self)

    def finished(self):
        _live.discard(self)

    def tail(self, which="stderr", n=25):
        path = self.stderr_log if which == "stderr" else self.stdout_log
        try:
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def failure(self, what):
        """A ChildFailed naming the program, with the end of its stderr and stdout."""
        parts = [f"{self.name}: {what}", f"  command: {' '.join(self.argv)}"]
        err, out = self.tail("stderr"), self.tail("stdout")
        if err:
            parts.append(f"  --- end of stderr ({self.stderr_log}) ---\n{err}")
        if out:
            parts.append(f"  --- end of stdout ({self.stdout_log}) ---\n{out}")
        return ChildFailed("\n".join(parts))


def run_quiet(name, argv, cwd, log_dir, timeout):
    """Runs a short command to completion; returns (rc, stdout text). rc is None on timeout."""
    child = Child(name, argv, cwd, log_dir, line_buffered=False)
    rc = child.wait_exit(timeout)
    if rc is None:
        child.kill()
    child.finished()
    return rc, "\n".join(text for _, text in child.lines), child


def kill_all():
    """Kills every child still running (exit, exceptions, signals)."""
    for child in list(_live):
        child.kill()


def _on_signal(signum, _frame):
    kill_all()
    raise SystemExit(128 + signum)


def install_cleanup():
    atexit.register(kill_all)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
