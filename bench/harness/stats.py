"""Small statistics helpers shared by every scenario."""
import statistics


def median(values):
    """Median of the values that are not None, or None when there are none."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def steady_rate(samples, start, warmup):
    """Rate of a cumulative counter after a warm-up.

    samples: [(t, count)] in arrival order, t in seconds (time.monotonic()),
    count cumulative (packets received so far).  start: when the program began
    forwarding, on the same clock.  The window runs from the first sample taken
    at least `warmup` seconds after `start` (10% slack for the lateness of the
    start marker) to the last sample.

    Returns (count_per_second, window_seconds); raises ValueError when fewer
    than two samples fall in the window.
    """
    first = window_start(samples, start, warmup)
    if first is None or first >= len(samples) - 1:
        raise ValueError(f"too few stats samples after the {warmup:g} s warm-up "
                         f"({len(samples)} samples in all)")
    t0, c0 = samples[first]
    t1, c1 = samples[-1]
    if t1 <= t0:
        raise ValueError("stats samples do not advance in time")
    return (c1 - c0) / (t1 - t0), t1 - t0


def window_start(samples, start, warmup):
    """Index of the first sample taken after the warm-up (see steady_rate), or None."""
    return next((i for i, (t, _) in enumerate(samples) if t - start >= 0.9 * warmup), None)


def percentile(values, p):
    """The p-th percentile (nearest rank) of the values, or None when there are none."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    k = max(0, min(len(vals) - 1, -(-len(vals) * p // 100) - 1))
    return vals[int(k)]
