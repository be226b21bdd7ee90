"""Helpers for bench/run: child processes, DPDK programs, statistics.

procs  - start children that can never outlive the benchmark, read their output
         line by line with arrival times, stop and kill them.
dpdk   - EAL arguments, gbpd configs, and the two measured programs (gbpd and
         dpdk-testpmd), each measured the same way (see steady_rate).
stats  - median and the steady-state rate of a counter sampled over time.
hostload - other programs' threads busy on the forwarding CPU.
"""
