"""Policy swaps under load: gbpd forwards the policy scenario's traffic at full rate
while bench/run sends it SIGHUPs, each with a changed config file (one deny rule
flipped to allow and back), and waits until gbpd says the new epoch is in force.

Keys:
  swap_p99_ms          p99 over the swaps of gbpd's own measure from the validated
                       request to every worker on the new snapshot: compile + publish
                       (RCU: the old snapshot is freed after every worker passed a
                       quiescent state). YAML parsing of the file is not in it.
  swap_publish_p99_ms  p99 of the publish part alone.
  reload_p99_ms        p99 from SIGHUP to gbpd's log line, as bench/run sees it
                       (file read and YAML parse of 10k endpoints included).
  reload_lost_packets  packets received but neither sent nor dropped, plus packets
                       dropped for any reason but the policy's deny (denied_by_rule).
"""
import json
import os
import signal
import subprocess
import threading
import time

from . import dpdk, stats


def measure(gbpd, config_for, swaps, work, timeout=60.0):
    """Runs gbpd on `config_for(eal_prefix, flipped)` and swaps `swaps` times."""
    prefix = dpdk.new_file_prefix("reload")
    path, stats_path = work / "reload-gbpd.yaml", work / "reload-gbpd.stats.json"
    path.write_text(config_for(prefix, False))
    stats_path.unlink(missing_ok=True)
    p = subprocess.Popen([str(gbpd), "--config", str(path), "--stats-json", str(stats_path)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines, lock = [], threading.Lock()

    def reader():
        for line in p.stdout:
            with lock:
                lines.append((time.monotonic(), line))
    threading.Thread(target=reader, daemon=True).start()

    def wait_for(text, since):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with lock:
                for t, line in lines[since:]:
                    if text in line:
                        return t
            if p.poll() is not None:
                break
            time.sleep(0.002)
        raise RuntimeError(f"gbpd never printed {text!r}: {''.join(l for _, l in lines[-20:])}")

    try:
        wait_for("worker(s) on lcore", 0)
        time.sleep(1.0)
        seen = []
        for i in range(swaps):
            path.write_text(config_for(prefix, i % 2 == 0))
            with lock:
                mark = len(lines)
            t0 = time.monotonic()
            p.send_signal(signal.SIGHUP)
            seen.append((wait_for(f"policy epoch {i + 2} in force", mark) - t0) * 1e3)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=timeout)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        dpdk.remove_runtime_dir(prefix)
    s = json.loads(stats_path.read_text())
    swaps_ms = [w["total_ms"] for w in s.get("policy_swaps", [])]
    publish_ms = [w["publish_ms"] for w in s.get("policy_swaps", [])]
    drops = s.get("drops") or {}
    lost = (s["rx"] - s["tx"] - s["dropped"]) + sum(int(n) for r, n in drops.items() if r != "denied_by_rule")
    return {
        "swap_p99_ms": round(stats.percentile(swaps_ms, 99), 3),
        "swap_publish_p99_ms": round(stats.percentile(publish_ms, 99), 3),
        "reload_p99_ms": round(stats.percentile(seen, 99), 1),
        "reload_swaps": len(swaps_ms),
        "reload_lost_packets": int(lost),
        "reload_rx": int(s["rx"]),
        "reload_mempool_in_use_at_exit": s.get("mempool_in_use_at_exit"),
    }
