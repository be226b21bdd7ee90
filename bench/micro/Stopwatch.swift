#if canImport(Glibc)
import Glibc
#endif

/// Timing for the benchmarks. On Linux it reads the thread's CPU time, not the wall clock:
/// the benchmark machine is shared, and time spent descheduled is not time spent looking
/// up. Elsewhere it falls back to ContinuousClock.
enum Stopwatch {
    /// Seconds taken by `body`.
    static func seconds(_ body: () -> Void) -> Double {
        #if canImport(Glibc)
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
        body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
        #else
        let d = ContinuousClock().measure(body)
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        #endif
    }

    /// Best of `runs` measurements of `operations` operations, in millions per second.
    static func bestRate(runs: Int, operations: Int, _ body: () -> Void) -> Double {
        var best = 0.0
        for _ in 0..<runs {
            let s = seconds(body)
            best = max(best, Double(operations) / s / 1e6)
        }
        return best
    }
}
