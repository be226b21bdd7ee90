"""The measured programs: gbpd and dpdk-testpmd, on the same ports, measured the same way.

Both print a cumulative rx counter about once a second (gbpd: its stats line,
`run.stats_interval_s: 1`; testpmd: `--stats-period 1`, which in DPDK 22.11
prints every one or two seconds depending on how the TSC rate compares with the
sleep).  Every line is stamped with its arrival time on the benchmark's clock, so
one rule gives both numbers (stats.steady_rate): packets counted between the
first sample taken at least `warmup` seconds after the program started
forwarding and the last sample, divided by the time between those two samples.
Each program's own figures (gbpd's rx / run_seconds, testpmd's Rx-pps) are kept
next to it as cross-checks.
"""
import glob
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field

from .oncpu import ThreadCPU, oncpu_rate
from .procs import Child
from .stats import steady_rate, window_start


# ---------------------------------------------------------------- EAL --------

@dataclass
class EALSettings:
    """Lcore 0 is the main lcore (gbpd's control loop, testpmd's stats), lcore 1
    the one forwarding lcore; they run on CPUs main_cpu and fwd_cpu."""
    main_cpu: int = 0
    fwd_cpu: int = 1
    memory_mb: int = 1024
    log_level: str = "*:warning"
    # 2 MiB hugepages (reserved by bench/run --hugepages) instead of --no-huge: as deployed.
    # --huge-unlink leaves no page files behind a process that dies.
    hugepages: bool = False

    def lcore_args(self):
        if (self.main_cpu, self.fwd_cpu) == (0, 1):
            return ["-l", "0-1"]
        return ["--lcores", f"0@{self.main_cpu},1@{self.fwd_cpu}"]

    def args(self, file_prefix):
        memory = ["--huge-unlink"] if self.hugepages else ["--no-huge"]
        return [*self.lcore_args(), *memory, "-m", str(self.memory_mb), "--no-pci",
                "--file-prefix", file_prefix, "--log-level", self.log_level]


_prefix_counter = 0


def new_file_prefix(label):
    """A --file-prefix no other DPDK process on the host uses."""
    global _prefix_counter
    _prefix_counter += 1
    return f"gbpbench-{os.getpid()}-{_prefix_counter}-{label}"


def _runtime_bases():
    bases = ["/var/run/dpdk", "/tmp/dpdk"]
    if os.environ.get("XDG_RUNTIME_DIR"):
        bases.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "dpdk"))
    return bases


def remove_runtime_dir(prefix):
    """Removes the runtime folder EAL made for `prefix` (only ours: names start with gbpbench-<pid>)."""
    assert prefix.startswith(f"gbpbench-{os.getpid()}-")
    for base in _runtime_bases():
        shutil.rmtree(os.path.join(base, prefix), ignore_errors=True)


def remove_stale_runtime_dirs():
    """Removes runtime folders of earlier benchmark runs that were killed (gbpbench-<pid>-*
    whose pid is gone): EAL leaves them behind, and nothing else uses these names."""
    for base in _runtime_bases():
        for path in glob.glob(os.path.join(base, "gbpbench-*-*")):
            m = re.match(r"gbpbench-(\d+)-", os.path.basename(path))
            if m and not os.path.exists(f"/proc/{m.group(1)}"):
                shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- setup ------

@dataclass
class Port:
    name: str
    devargs: str


@dataclass
class Endpoint:
    name: str
    port: str
    mac: str


@dataclass
class DataplaneSettings:
    """What both programs get alike: descriptors, burst, pool."""
    mbufs: int = 16383
    mempool_cache: int = 256
    rx_descriptors: int = 1024
    tx_descriptors: int = 1024
    burst: int = 32               # gbpd's Worker.burstSize; testpmd --burst


@dataclass
class Measurement:
    program: str
    mpps: float                   # steady-state receive rate, Mpps
    window_s: float               # seconds the rate was measured over
    rx: int                       # packets received over the whole run
    tx: int                       # packets sent over the whole run
    extra: dict = field(default_factory=dict)


def _q(s):
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(str(s))


def gbpd_config_text(eal_args, ports, endpoints, dp, workers=(1,), stats_interval_s=1, policy_text=""):
    """gbpd's YAML: the runtime part (EAL, worker, pool, descriptors, ports, endpoints
    without policy, stats interval), then `policy_text` as written (top-level keys
    such as conntrack, tenants, groups, endpoints with a policy, contracts)."""
    lines = [
        "# Written by bench/run: do not edit, it is rewritten on every run.",
        "eal: [" + ", ".join(_q(a) for a in eal_args) + "]",
        "workers: [" + ", ".join(str(w) for w in workers) + "]",
        f"mempool: {{mbufs: {dp.mbufs}, cache: {dp.mempool_cache}}}",
        f"descriptors: {{rx: {dp.rx_descriptors}, tx: {dp.tx_descriptors}}}",
        "ports:",
    ]
    lines += [f"  - {{name: {_q(p.name)}, devargs: {_q(p.devargs)}}}" for p in ports]
    if endpoints:
        lines.append("endpoints:")
        lines += [f"  - {{name: {_q(e.name)}, port: {_q(e.port)}, mac: {_q(e.mac)}}}" for e in endpoints]
    lines.append(f"run: {{stats_interval_s: {stats_interval_s}}}")
    text = "\n".join(lines) + "\n"
    if policy_text:
        text += policy_text if policy_text.endswith("\n") else policy_text + "\n"
    return text


# ---------------------------------------------------------------- gbpd -------

_GBPD_START = re.compile(r"^gbpd: \d+ ports \(")
_GBPD_STATS = re.compile(r"^\[\s*([0-9.]+)s\] rx (\d+) tx (\d+)")


def gbpd_samples(lines):
    """[(arrival time, cumulative rx)] from gbpd's periodic stats lines."""
    out = []
    for t, text in lines:
        m = _GBPD_STATS.match(text)
        if m:
            out.append((t, int(m.group(2))))
    return out


def run_gbpd(binary, config_text, duration, *, name, eal, cwd, work_dir, log_dir, warmup=1.0,
             startup_timeout=60.0, stats_grace=0.3):
    """Runs gbpd with a config for `duration` seconds and measures it.

    `config_text(eal_args)` returns the YAML for the given EAL arguments (each
    run gets its own --file-prefix).  gbpd gets `--duration duration + stats_grace`:
    its control loop ends the run at the deadline, before the stats line due at that
    moment, so without the grace the last sample would be the one at duration - 1 s.
    """
    prefix = new_file_prefix(name)
    config_path = os.path.join(work_dir, f"{name}.yaml")
    stats_path = os.path.join(work_dir, f"{name}.stats.json")
    with open(config_path, "w") as f:
        f.write(config_text(eal.args(prefix)))
    if os.path.exists(stats_path):
        os.remove(stats_path)
    run_for = duration + stats_grace
    child = Child(name, [binary, "--config", config_path, "--duration", f"{run_for:g}", "--stats-json", stats_path],
                  cwd, log_dir)
    memory = MemorySampler(child.proc.pid)
    cpu = ThreadCPU(child.proc.pid, ["rte-worker"])     # the forwarding lcore's thread
    try:
        rc = child.wait_exit(run_for + startup_timeout)
        if rc is None:
            child.kill()
            raise child.failure(f"did not stop within {run_for + startup_timeout:g} s "
                                f"(--duration {run_for:g}); killed")
        child.finished()
        if rc != 0:
            raise child.failure(f"exited with status {rc}")
        try:
            with open(stats_path) as f:
                stats = json.load(f)
        except (OSError, ValueError) as e:
            raise child.failure(f"wrote no readable --stats-json ({e})")
        start = next((t for t, text in child.lines if _GBPD_START.match(text)), None)
        if start is None:
            raise child.failure("did not print its 'gbpd: N ports (...)' start line")
        samples = gbpd_samples(child.lines)
        try:
            pps, window = steady_rate(samples, start, warmup)
        except ValueError as e:
            raise child.failure(str(e))
        oncpu_pps, oncpu_share = oncpu_rate(cpu, samples, window_start(samples, start, warmup))
        if pps <= 0:
            raise child.failure("received nothing")
    finally:
        child.kill()
        remove_runtime_dir(prefix)
    workers = stats.get("workers") or [{}]
    return Measurement(
        program="gbpd", mpps=pps / 1e6, window_s=window, rx=int(stats.get("rx", 0)), tx=int(stats.get("tx", 0)),
        extra={
            "whole_run_mpps": stats.get("rx_mpps"),
            "run_seconds": stats.get("run_seconds"),
            "cycles_per_packet": workers[0].get("cycles_per_packet"),
            "dropped": stats.get("dropped"),
            "drops": stats.get("drops"),
            "mempool_in_use_at_exit": stats.get("mempool_in_use_at_exit"),
            "ports": [{k: p.get(k) for k in ("name", "driver", "rx", "tx", "dropped")} for p in stats.get("ports", [])],
            "conntrack": stats.get("conntrack"),      # with a policy only
            "startup_s": start - child.started,       # process start -> workers launched (config load included)
            "rss_peak_mb": memory.peak_mb(),          # VmHWM: resident memory at its peak (DPDK memory included)
            "oncpu_mpps": oncpu_pps / 1e6 if oncpu_pps else None,   # packets per second the worker was on a CPU
            "oncpu_share": oncpu_share,
        })


class MemorySampler:
    """Reads a process's VmHWM (peak resident set) from /proc every 0.25 s while it runs
    (the last value read before it exits is its peak)."""

    def __init__(self, pid):
        self.pid, self.hwm_kb = pid, None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.hwm_kb = int(line.split()[1])
            except (OSError, ValueError):
                return
            time.sleep(0.25)

    def peak_mb(self):
        return None if self.hwm_kb is None else round(self.hwm_kb / 1024, 1)


# ---------------------------------------------------------------- testpmd ----

_TP_START = re.compile(r"forwards packets on \d+ streams")
_TP_PORTS = re.compile(r"packet forwarding - ports=(\d+)")
_TP_NIC = re.compile(r"NIC statistics for port (\d+)")
_TP_FWD = re.compile(r"Forward statistics for port (\d+)|Accumulated forward statistics")
_TP_RXPKTS = re.compile(r"RX-packets:\s*(\d+)")
_TP_TXPKTS = re.compile(r"TX-packets:\s*(\d+)")
_TP_RXPPS = re.compile(r"Rx-pps:\s*(\d+)")


def testpmd_samples(lines, port=0):
    """[(arrival time, cumulative RX-packets of `port`)] and [(arrival time, Rx-pps)]
    from testpmd's periodic NIC statistics."""
    samples, pps = [], []
    current = None
    for t, text in lines:
        m = _TP_NIC.search(text)
        if m:
            current = int(m.group(1))
            continue
        if _TP_FWD.search(text):
            current = None
            continue
        if current != port:
            continue
        m = _TP_RXPKTS.search(text)
        if m:
            samples.append((t, int(m.group(1))))
        m = _TP_RXPPS.search(text)
        if m:
            pps.append((t, int(m.group(1))))
    return samples, pps


def testpmd_forward_totals(lines):
    """{port: {"rx": n, "tx": n}} from the forward statistics printed at exit ("all" for the sum)."""
    totals, current = {}, None
    for _, text in lines:
        m = _TP_FWD.search(text)
        if m:
            current = int(m.group(1)) if m.group(1) is not None else "all"
            totals[current] = {}
            continue
        if _TP_NIC.search(text):
            current = None
            continue
        if current is None:
            continue
        m = _TP_RXPKTS.search(text)
        if m and "RX-dropped" in text:
            totals[current]["rx"] = int(m.group(1))
        m = _TP_TXPKTS.search(text)
        if m and "TX-dropped" in text:
            totals[current]["tx"] = int(m.group(1))
    return totals


def testpmd_command(vdevs, eal_args, dp, forward_mode="io", topology="paired", extra=()):
    argv = ["dpdk-testpmd", *eal_args]
    for v in vdevs:
        argv += ["--vdev", v]
    return argv + ["--", f"--forward-mode={forward_mode}", f"--port-topology={topology}", "--nb-cores=1",
                   "--stats-period=1", f"--rxd={dp.rx_descriptors}", f"--txd={dp.tx_descriptors}",
                   f"--burst={dp.burst}", f"--mbcache={dp.mempool_cache}", f"--total-num-mbufs={dp.mbufs}",
                   *extra]


def run_testpmd(vdevs, duration, *, name, eal, dp, cwd, log_dir, warmup=1.0, rx_port=0, forward_mode="io",
                extra=(), startup_timeout=60.0):
    """Runs dpdk-testpmd (one forwarding core) on `vdevs` until its stats cover
    `duration` seconds of forwarding, stops it with SIGINT and measures it."""
    prefix = new_file_prefix(name)
    child = Child(name, testpmd_command(vdevs, eal.args(prefix), dp, forward_mode=forward_mode, extra=extra),
                  cwd, log_dir)
    cpu = ThreadCPU(child.proc.pid, ["rte-worker"])
    try:
        if not child.wait_for(lambda L: any(_TP_START.search(t) for _, t in L), startup_timeout):
            raise child.failure("did not start forwarding" + ("" if child.running else
                                                              f" (exited with status {child.proc.returncode})")
                                + f" within {startup_timeout:g} s")
        start = next(t for t, text in child.lines if _TP_START.search(text))
        nports = next((int(m.group(1)) for _, text in child.lines for m in [_TP_PORTS.search(text)] if m), None)
        if nports != len(vdevs):
            child.stop()
            raise child.failure(f"forwards on {nports} ports, not the {len(vdevs)} devices given "
                                f"(a --vdev failed to probe?)")

        def covered(lines):
            s, _ = testpmd_samples(lines, rx_port)
            return bool(s) and s[-1][0] - start >= duration

        ok = child.wait_for(covered, duration + 30)
        rc = child.stop()
        if not ok:
            raise child.failure(f"its stats did not cover {duration:g} s of forwarding"
                                + ("" if rc is None else f" (exit status {rc})"))
        if rc != 0:
            raise child.failure(f"exited with status {rc} after SIGINT")
        samples, pps = testpmd_samples(child.lines, rx_port)
        try:
            rate, window = steady_rate(samples, start, warmup)
        except ValueError as e:
            raise child.failure(str(e))
        if rate <= 0:
            raise child.failure(f"received nothing on port {rx_port}")
        oncpu_pps, oncpu_share = oncpu_rate(cpu, samples, window_start(samples, start, warmup))
        totals = testpmd_forward_totals(child.lines)
    finally:
        child.kill()
        remove_runtime_dir(prefix)
    # testpmd's own Rx-pps of each display covers the time since the previous one:
    # average those of the displays after the window's first one.
    first = window_start(samples, start, warmup)
    reported = [p for _, p in pps[first + 1:]] if len(pps) == len(samples) else []
    all_ports = totals.get("all", {})
    return Measurement(
        program="testpmd", mpps=rate / 1e6, window_s=window, rx=all_ports.get("rx", 0), tx=all_ports.get("tx", 0),
        extra={
            "reported_mpps": (sum(reported) / len(reported) / 1e6) if reported else None,
            "oncpu_mpps": oncpu_pps / 1e6 if oncpu_pps else None,
            "oncpu_share": oncpu_share,
            "ports": {str(k): v for k, v in totals.items()},
        })
