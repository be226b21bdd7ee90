"""The full suite's curves: the policy scenario's measurement repeated while one
dimension grows (rules, endpoints, active flows), and policy swaps under load as the
endpoints grow.  Each point is gbp-trafficgen policy-bench with the options below, run
by bench/run's prepare_point() (gbpd and peers on the same ports, alternated, medians;
the rounds of a curve's points interleaved, see run_curves).

- rules: 10 .. 100k rules; 10k endpoints; the traffic always comes from the endpoints of
  the first two consumer groups (`source-groups 2`, 4096 UDP flows, 5% denied), so only
  the rule count changes. rules = contracts x (4 + extra-rules): the extra rules are UDP
  allow rules on ports no frame uses.
- endpoints: 100 .. 100k endpoints (groups: min(200, endpoints), 1000 contracts); 4096
  flows from all consumer endpoints.
- flows: 1k .. 1M active flows, one frame each per pass over the pcap (established after
  the first pass); conntrack capacity 2 x flows; testpmd io on the same pcap as the
  reference (replaying 1M stored frames costs the pcap PMD itself).
- every point also runs testpmd io on the same pcap and ports, alternated with gbpd; the
  flatness of gbpd's per-round ratio to it (`gbpd_over_testpmd_round_median`) is what the
  machine's drift between points does not move.
- swap: policy swaps (SIGHUP, one rule flipped) under the traffic of an endpoints point.
"""

BASE = {"endpoints": 10000, "groups": 200, "contracts": 1000, "flows": 4096, "frames": 8192, "deny-every": 20}

# (x, trafficgen options over BASE)
RULES = [(c * (4 + x), {"contracts": c, "extra-rules": x, "source-groups": 2})
         for c, x in ((2, 1), (25, 0), (250, 0), (1000, 6), (1000, 96))]
ENDPOINTS = [(n, {"endpoints": n, "groups": min(200, n)}) for n in (100, 1000, 10000, 100000)]
FLOWS = [(n, {"flows": n, "frames": n}) for n in (1000, 10000, 100000, 1000000)]
# Traffic mixes on the policy of the policy scenario: 64-byte UDP (the reference), the simple
# IMIX (64/570/1518 bytes, 7:4:1), and a container host's mix (TCP connections, UDP, ARP, 15%
# denied; see bench/trafficgen/PolicyBench.swift).
TRAFFIC = [("udp64", {}), ("imix", {"sizes": "imix"}), ("mix", {"mix": True})]
SWAPS = [(n, {"endpoints": n, "groups": min(200, n)}, swaps) for n, swaps in ((1000, 10), (10000, 10), (100000, 4))]

QUICK_SUBSET = {"rules": [0, 4], "endpoints": [0, 3], "flows": [0, 2], "traffic": [1, 2], "swap": [0, 1]}   # --curves-quick


def options(overrides):
    out = dict(BASE)
    out.update(overrides)
    return out


NAMES = ("rules", "endpoints", "flows", "traffic", "swap")


def run_curves(prepare, run_round, rounds, swap_point, log, *, quick=False, ovs_max_frames=65536, names=NAMES):
    """prepare(curve, x, options, with_testpmd, with_ovs) -> (runners, summarize);
    run_round(label, runners, r) -> {key: measurement}; swap_point(x, options, swaps) -> dict.

    The rounds of a curve's points are interleaved: round 1 of every point, then round 2 of
    every point, and so on. A slow stretch of this shared machine then costs one round of
    several points (the medians drop it) rather than every round of one point (which would
    bend the curve). Returns {curve: [dict per point]}; a point that fails is recorded with
    its error and the suite goes on."""
    out = {}
    plan = {"rules": RULES, "endpoints": ENDPOINTS, "flows": FLOWS, "traffic": TRAFFIC}
    for curve, points in plan.items():
        if curve not in names:
            continue
        picked = [points[i] for i in QUICK_SUBSET[curve]] if quick else points
        prepared = []       # (x, overrides, runners, summarize, measurements, error)
        for x, over in picked:
            opts = options(over)
            log(f"curve {curve}: x = {x} ({', '.join(f'{k} {v}' for k, v in over.items())})")
            try:
                runners, summarize = prepare(curve, x, opts, with_testpmd=True, with_ovs=opts["frames"] <= ovs_max_frames)
                prepared.append([x, over, runners, summarize, {k: [] for k, _ in runners}, None])
            except Exception as e:      # noqa: BLE001 - a failed point is reported, the suite goes on
                log(f"curve {curve}: x = {x} failed: {str(e).splitlines()[0]}")
                prepared.append([x, over, None, None, None, str(e)[:2000]])
        for r in range(rounds):
            for p in prepared:
                x, _, runners, _, got, error = p
                if error:
                    continue
                log(f"curve {curve}: round {r + 1}/{rounds}, x = {x}")
                try:
                    for key, m in run_round(f"curve-{curve}-{x}", runners, r).items():
                        got[key].append(m)
                except Exception as e:  # noqa: BLE001
                    log(f"curve {curve}: x = {x} failed: {str(e).splitlines()[0]}")
                    p[5] = str(e)[:2000]
        rows = []
        for x, over, _, summarize, got, error in prepared:
            row = {"error": error} if error else summarize(got)
            rows.append({"x": x, "options": over, **row})
        out[curve] = rows
    swaps = [SWAPS[i] for i in QUICK_SUBSET["swap"]] if quick else SWAPS
    if "swap" not in names:
        return out
    rows = []
    for x, over, n in swaps:
        log(f"curve swap: {x} endpoints, {n} swaps under load")
        try:
            row = swap_point(x, options(over), n)
        except Exception as e:          # noqa: BLE001
            log(f"curve swap: x = {x} failed: {str(e).splitlines()[0]}")
            row = {"error": str(e)[:2000]}
        rows.append({"x": x, "options": over, **row})
    out["swap"] = rows
    return out


def flatness(rows, key="gbpd_mpps"):
    """Smallest over largest value of `key` across the points (1.0: flat), or None."""
    vals = [r.get(key) for r in rows if r.get(key)]
    return round(min(vals) / max(vals), 3) if len(vals) >= 2 else None
