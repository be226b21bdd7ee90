"""Open vSwitch with DPDK as a peer: its own ovsdb-server and ovs-vswitchd-dpdk in a
private run directory, one PMD thread on the forwarding CPU, the same DPDK ports
(pcap infinite_rx -> null) as gbpd, OpenFlow rules from a file.

Rate: `ovs-ofctl dump-ports` (read from the PMD's netdev counters, not the database,
which is only refreshed every 5 s) is sampled about once a second, each sample stamped
with the midpoint of the call; the same steady_rate rule as for gbpd and testpmd then
applies, forwarding taken to start at the first sample that counts a received packet.
OVS needs hugepages (its EAL runs --in-memory): ensure_hugepages() reserves them.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

from .dpdk import Measurement, new_file_prefix, remove_runtime_dir
from .oncpu import ThreadCPU, oncpu_rate
from .procs import Child, ChildFailed
from .stats import steady_rate, window_start

VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
HUGEPAGES = "/proc/sys/vm/nr_hugepages"


def available():
    """None when OVS-DPDK can run here, else why not (install it with bench/install-peers)."""
    for prog in (VSWITCHD, SCHEMA):
        if not os.path.exists(prog):
            return f"{prog} is missing (bench/install-peers installs openvswitch-switch-dpdk)"
    for tool in ("ovsdb-server", "ovsdb-tool", "ovs-vsctl", "ovs-ofctl", "ovs-appctl"):
        if not shutil.which(tool):
            return f"{tool} is not on PATH (package openvswitch-common / openvswitch-switch)"
    return None


def ensure_hugepages(pages=1024):
    """Reserves `pages` 2 MiB hugepages and mounts hugetlbfs at /dev/hugepages if needed.
    Returns the previous page count (restore_hugepages puts it back)."""
    with open(HUGEPAGES) as f:
        before = int(f.read())
    if before < pages:
        with open(HUGEPAGES, "w") as f:
            f.write(str(pages))
    with open("/proc/mounts") as f:
        mounted = any(line.split()[2] == "hugetlbfs" for line in f if len(line.split()) > 2)
    if not mounted:
        os.makedirs("/dev/hugepages", exist_ok=True)
        subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], check=True)
    with open(HUGEPAGES) as f:
        now = int(f.read())
    if now < pages // 2:
        raise ChildFailed(f"only {now} hugepages could be reserved (wanted {pages})")
    return before


def restore_hugepages(before):
    if before is not None:
        with open(HUGEPAGES, "w") as f:
            f.write(str(before))


_DUMP_PORT = re.compile(r"port\s+\"?(\w+)\"?:\s*rx pkts=(\d+).*?\n\s*tx pkts=(\d+)", re.S)
_PMD_CYCLES = re.compile(r"avg cycles per packet:\s*([0-9.]+)")
_PMD_PROC = re.compile(r"avg processing cycles per packet:\s*([0-9.]+)")


class OVS:
    """One ovsdb-server + ovs-vswitchd-dpdk in a private run directory under /tmp (removed on stop)."""

    def __init__(self, name, log_dir, *, main_cpu, fwd_cpu, socket_mem=1024):
        self.name, self.log_dir = name, log_dir
        run_dir = self.run_dir = tempfile.mkdtemp(prefix=f"gbpbench-ovs-{os.getpid()}-")   # short: unix socket paths
        self.env = dict(os.environ, OVS_RUNDIR=run_dir, OVS_DBDIR=run_dir, OVS_LOGDIR=run_dir,
                        OVS_SYSCONFDIR=run_dir, OVS_PKGDATADIR="/usr/share/openvswitch")
        self.db = os.path.join(run_dir, "conf.db")
        self.sock = os.path.join(run_dir, "db.sock")
        self.ctl = os.path.join(run_dir, "ovs-vswitchd.ctl")
        self.children = []
        self._names = None
        self.prefix = new_file_prefix(name)
        try:
            self._start(main_cpu, fwd_cpu, socket_mem)
        except BaseException:
            self.stop()
            raise

    def _start(self, main_cpu, fwd_cpu, socket_mem):
        run_dir, name, log_dir = self.run_dir, self.name, self.log_dir
        self._cmd(["ovsdb-tool", "create", self.db, SCHEMA])
        self.children.append(Child(f"{name}-ovsdb", [
            "taskset", "-c", str(main_cpu), "ovsdb-server", self.db, f"--remote=punix:{self.sock}",
            f"--unixctl={os.path.join(run_dir, 'ovsdb-server.ctl')}", "--pidfile",
            f"--log-file={os.path.join(run_dir, 'ovsdb-server.log')}"], run_dir, log_dir, line_buffered=False,
            env=self.env))
        self._wait_path(self.sock, 20)
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   "other_config:dpdk-init=true", f"other_config:dpdk-socket-mem={socket_mem}",
                   f"other_config:pmd-cpu-mask=0x{1 << fwd_cpu:x}",
                   f'other_config:dpdk-extra=--no-pci --file-prefix {self.prefix} --log-level *:warning')
        # The main thread (and EAL's lcore 0) on the other CPU; the PMD pins itself to pmd-cpu-mask.
        self.children.append(Child(f"{name}-vswitchd", [
            "taskset", "-c", str(main_cpu), VSWITCHD, f"unix:{self.sock}", f"--unixctl={self.ctl}", "--pidfile",
            f"--log-file={os.path.join(run_dir, 'ovs-vswitchd.log')}", "-vconsole:off"], run_dir, log_dir,
            line_buffered=False, env=self.env))
        self._wait_path(self.ctl, 60)
        self.vsctl("--timeout=60", "wait-until", "Open_vSwitch", ".", "dpdk_initialized=true")

    # -- commands --
    def _cmd(self, argv, timeout=120, check=True):
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise ChildFailed(f"{' '.join(argv[:6])} ... failed ({p.returncode}): {p.stderr.strip()[-2000:]}\n"
                               f"vswitchd log: {self.log_tail()}")
        return p.stdout

    def vsctl(self, *args, timeout=120):
        return self._cmd(["ovs-vsctl", f"--db=unix:{self.sock}", *args], timeout)

    def ofctl(self, *args, timeout=120):
        return self._cmd(["ovs-ofctl", *args], timeout)

    def appctl(self, *args, timeout=60):
        return self._cmd(["ovs-appctl", "-t", self.ctl, *args], timeout)

    def _wait_path(self, path, timeout):
        end = time.monotonic() + timeout
        while not os.path.exists(path):
            for c in self.children:
                if not c.running:
                    raise c.failure(f"exited with status {c.proc.returncode} before {path} appeared")
            if time.monotonic() > end:
                raise ChildFailed(f"{path} did not appear within {timeout} s: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, n=15):
        try:
            with open(os.path.join(self.run_dir, "ovs-vswitchd.log"), errors="replace") as f:
                return "\n".join(f.read().splitlines()[-n:])
        except OSError:
            return ""

    # -- set-up --
    def bridge(self, flows_path, ports, *, rx_desc=1024, tx_desc=1024):
        """Bridge br0 (userspace datapath, fail-mode secure: only our flows), the flows,
        then the DPDK ports [(name, devargs)] as OpenFlow ports 1, 2, ... (traffic starts)."""
        self.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "fail-mode=secure")
        self.ofctl("add-flows", "br0", flows_path, timeout=600)
        for i, (pname, devargs) in enumerate(ports, 1):
            self.vsctl("add-port", "br0", pname, "--", "set", "Interface", pname, "type=dpdk",
                       f"options:dpdk-devargs={devargs}", f"options:n_rxq_desc={rx_desc}",
                       f"options:n_txq_desc={tx_desc}", f"ofport_request={i}")
        for pname, _ in ports:
            err = self.vsctl("get", "Interface", pname, "error").strip()
            if err and err != "[]":
                raise ChildFailed(f"OVS port {pname}: {err}\n{self.log_tail()}")

    def port_stats(self):
        """{port name: (rx, tx)} from ovs-ofctl dump-ports (live netdev counters)."""
        text = self.ofctl("dump-ports", "br0")
        if self._names is None:      # OpenFlow port number -> name, read once
            self._names = dict(re.findall(r"^\s*(\d+)\((\w+)\)", self.ofctl("dump-ports-desc", "br0"), re.M))
        names = self._names
        out = {}
        for port, rx, tx in _DUMP_PORT.findall(text):
            out[names.get(port, port)] = (int(rx), int(tx))
        return out

    def stop(self):
        try:
            self._cmd(["ovs-appctl", "-t", self.ctl, "exit"], timeout=20, check=False)
        except subprocess.SubprocessError:
            pass
        for c in reversed(self.children):
            c.kill()
        for log in ("ovs-vswitchd.log", "ovsdb-server.log"):     # kept for post-mortems
            if os.path.exists(os.path.join(self.run_dir, log)):
                shutil.copy(os.path.join(self.run_dir, log), os.path.join(self.log_dir, f"{self.name}-{log}"))
        shutil.rmtree(self.run_dir, ignore_errors=True)
        remove_runtime_dir(self.prefix)


def run_ovs(flows_path, ports, duration, *, name, eal, log_dir, warmup=1.0, rx_port="in", tx_port="out"):
    """Starts OVS-DPDK with `flows_path` on `ports` [(name, devargs)], samples its counters
    for `duration` seconds of forwarding and returns a Measurement (rx = packets received on
    `rx_port`, tx = sent on `tx_port`; extra: cycles per packet from pmd-stats-show)."""
    ovs = OVS(name, log_dir, main_cpu=eal.main_cpu, fwd_cpu=eal.fwd_cpu)
    try:
        t_setup = time.monotonic()
        cpu = ThreadCPU(ovs.children[-1].proc.pid, ["pmd-c"])   # the PMD thread (created with the first port)
        ovs.bridge(flows_path, ports)
        setup_s = time.monotonic() - t_setup
        samples, tx_samples, start, last = [], [], None, {}
        end_wait = time.monotonic() + 60
        cleared = False
        while True:
            t0 = time.monotonic()
            st = ovs.port_stats()
            t = (t0 + time.monotonic()) / 2
            last = st
            rx = st.get(rx_port, (0, 0))[0]
            if start is None:
                if rx > 0:
                    start = t
                elif t > end_wait:
                    raise ChildFailed(f"OVS received nothing on {rx_port} within 60 s: {ovs.log_tail()}")
            if start is not None:
                samples.append((t, rx))
                tx_samples.append(st.get(tx_port, (0, 0))[1])
                if not cleared and t - start >= 0.9 * warmup:
                    ovs.appctl("dpif-netdev/pmd-stats-clear")     # cycles/packet over the window only
                    cleared = True
                if t - start >= duration:
                    break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        pmd = ovs.appctl("dpif-netdev/pmd-stats-show")
        rate, window = steady_rate(samples, start, warmup)
        first = window_start(samples, start, warmup)
        window_rx = samples[-1][1] - samples[first][1]
        window_tx = tx_samples[-1] - tx_samples[first]
        time.sleep(0.15)        # one more on-CPU sample after the window's last counter sample
        oncpu_pps, oncpu_share = oncpu_rate(cpu, samples, first)
        if rate <= 0:
            raise ChildFailed("OVS received nothing")
    finally:
        ovs.stop()
    m = _PMD_PROC.search(pmd) or _PMD_CYCLES.search(pmd)
    rx_total, _ = last.get(rx_port, (0, 0))
    _, tx_total = last.get(tx_port, (0, 0))
    return Measurement(program="ovs", mpps=rate / 1e6, window_s=window, rx=rx_total, tx=tx_total,
                       extra={"window_rx": window_rx, "window_tx": window_tx,
                              "oncpu_mpps": oncpu_pps / 1e6 if oncpu_pps else None, "oncpu_share": oncpu_share,"cycles_per_packet": float(m.group(1)) if m else None, "setup_s": setup_s,
                              "pmd_stats": pmd.strip()[-1500:]})
