"""Packets per second of on-CPU time of the forwarding thread: a rate that a shared CPU
does not lower as much as the wall-clock one.

On this 2-CPU machine other programs (compilers, tests) often share the forwarding CPU;
the wall-clock rate (the main keys) then drops by the share of the CPU they take. The
kernel counts each thread's time on a CPU (/proc/PID/task/TID/schedstat, first field, ns).
ThreadCPU samples that of the forwarding thread every 0.1 s; oncpu_rate() divides the
packets counted between two of the program's own samples by the on-CPU time between the
same moments (interpolated). What remains of the contention is the cache the other
programs evict, so this rate is still lower on a busy machine, but far less.
"""
import os
import threading
import time


class ThreadCPU:
    """Samples (time.monotonic(), on-CPU ns) of the threads of `pid` whose name starts with
    one of `prefixes` (e.g. "rte-worker" for EAL lcores, "pmd-c" for OVS's PMD threads)."""

    def __init__(self, pid, prefixes, interval=0.1):
        self.pid, self.prefixes, self.interval = pid, tuple(prefixes), interval
        self.samples = []
        self.threads = set()
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _read(self):
        total, found = 0, False
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return None
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/comm") as f:
                    comm = f.read().strip()
                if not comm.startswith(self.prefixes):
                    continue
                with open(f"/proc/{self.pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
                found = True
                self.threads.add(comm)
            except (OSError, ValueError, IndexError):
                continue
        return total if found else None

    def _run(self):
        while not self._stop:
            v = self._read()
            if v is None and self.samples:
                return          # the thread is gone
            if v is not None:
                self.samples.append((time.monotonic(), v))
            time.sleep(self.interval)

    def stop(self):
        self._stop = True

    def at(self, t):
        """On-CPU ns at time t, interpolated between samples (None outside them)."""
        s = self.samples
        for (t0, v0), (t1, v1) in zip(s, s[1:]):
            if t0 <= t <= t1:
                return v0 + (v1 - v0) * ((t - t0) / (t1 - t0) if t1 > t0 else 0)
        return None


def oncpu_rate(cpu, counter_samples, first):
    """(packets per on-CPU second, share of the window the thread was on a CPU) between
    counter_samples[first] and counter_samples[-1] [(t, count)], or (None, None)."""
    if cpu is None or first is None or first >= len(counter_samples) - 1:
        return None, None
    (t0, c0), (t1, c1) = counter_samples[first], counter_samples[-1]
    v0, v1 = cpu.at(t0), cpu.at(t1)
    if v0 is None or v1 is None or v1 <= v0 or t1 <= t0:
        return None, None
    return (c1 - c0) / ((v1 - v0) / 1e9), (v1 - v0) / 1e9 / (t1 - t0)
