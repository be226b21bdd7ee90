// CDPDK telemetry: gbpd's commands on DPDK's telemetry socket (dpdk-telemetry.py).
//
// The control loop (Swift) renders each command's answer as a snapshot and stores it
// here with cdpdk_telemetry_set; DPDK's telemetry thread answers requests from the
// stored snapshot under a mutex, so it never touches dataplane state.
//
// Snapshot format, one entry per line ("\n"), fields separated by a tab:
//   u <key> <unsigned decimal>     a uint64 value
//   i <key> <signed decimal>       an int value
//   s <key> <text>                 a string (DPDK truncates it at 127 bytes)
//   { <key>                        a nested dict (one level), until the next "}" line
//   }
// Keys may hold only letters, digits, '_' and '/' (DPDK rejects others).
#ifndef CDPDK_TELEMETRY_H
#define CDPDK_TELEMETRY_H

/// Registers `cmd` (e.g. "/gbp/stats") with `help`; it answers the snapshot stored for it
/// (an empty dict until one is). Call after rte_eal_init. 0 or a negative errno.
int cdpdk_telemetry_register(const char *cmd, const char *help);

/// Replaces the snapshot of `cmd` (copied). 0, or -ENOENT for a command not registered.
int cdpdk_telemetry_set(const char *cmd, const char *snapshot);

#endif
