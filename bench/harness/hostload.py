"""What else runs on the benchmark's CPUs.

A throughput run pins one forwarding thread to one CPU.  Anything else busy on
that CPU (a compiler, or another DPDK process's polling thread, which takes a
whole core by itself) shares it and lowers the number; busy_threads() finds such
threads so that the run can say so instead of reporting a mysteriously low rate.
"""
import os
import time

_HZ = os.sysconf("SC_CLK_TCK")


def _thread_times():
    """{(pid, tid): (comm, cpu ticks, last CPU)} for every thread on the host."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            comm = s[s.find("(") + 1:s.rfind(")")]
            rest = s[s.rfind(")") + 2:].split()
            # rest[0] is field 3 (state): utime = field 14, stime = 15, processor = 39
            out[(int(pid), int(tid))] = (comm, int(rest[11]) + int(rest[12]), int(rest[36]))
    return out


def _allowed_cpus(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def busy_threads(cpu, interval=0.5, threshold=0.1, exclude_pids=()):
    """Threads that used more than `threshold` of a CPU over `interval` seconds and
    either ran last on `cpu` or may only run there. [{pid, tid, comm, cpu_share,
    allowed, cmdline}], busiest first.  Several pollers pinned to one CPU share it,
    so look at the sum of cpu_share (see contended())."""
    before = _thread_times()
    time.sleep(interval)
    after = _thread_times()
    found = []
    for key, (comm, ticks, last_cpu) in after.items():
        pid, tid = key
        if pid in exclude_pids or key not in before:
            continue
        share = (ticks - before[key][1]) / (_HZ * interval)
        if share < threshold:
            continue
        allowed = _allowed_cpus(pid, tid)
        if last_cpu == cpu or allowed == str(cpu):
            found.append({"pid": pid, "tid": tid, "comm": comm, "cpu_share": round(min(share, 1.0), 2),
                          "allowed": allowed, "cmdline": _cmdline(pid)[:160]})
    return sorted(found, key=lambda t: -t["cpu_share"])


def contended(threads, limit=0.5):
    """Whether `threads` (from busy_threads) took at least `limit` of the CPU together."""
    return sum(t["cpu_share"] for t in threads) >= limit


def pinned(threads, cpu):
    """Those of `threads` that may only run on `cpu`."""
    return [t for t in threads if t["allowed"] == str(cpu)]
