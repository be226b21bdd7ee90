#!/usr/bin/env bash
# Fuzzes the packet parser, the ARP/ND responders, the classifier and conntrack
# (Tests/Fuzz/Target) with libFuzzer and the address sanitizer.
#
#   Tests/Fuzz/run.sh [SECONDS] [JOBS] [libFuzzer flags...]
#     SECONDS  run time (default 60; CI uses 60)
#     JOBS     parallel fuzzing processes (default 1; long runs: nproc)
#   Tests/Fuzz/run.sh 3600 2                 an hour on two cores
#   Tests/Fuzz/run.sh 60 1 -only_ascii=1     extra flags go to libFuzzer
#
# Inputs that find new coverage are kept in $GBP_FUZZ_WORK/corpus (default
# /tmp/gbp-fuzz); the seeds in Tests/Fuzz/corpus are read, never written (regenerate
# them with `gbp-trafficgen fuzz-seeds`). A crash or a broken invariant stops the run,
# leaves the input in $GBP_FUZZ_WORK/crashes/ and exits non-zero. Replay an input with
# the plain build: swift run gbp-fuzz FILE; or under the sanitizer with this script's
# build: .build-fuzz/release/gbp-fuzz FILE (libFuzzer runs the given files once).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds=${1:-60}
jobs=${2:-1}
shift $(( $# < 2 ? $# : 2 ))
work=${GBP_FUZZ_WORK:-/tmp/gbp-fuzz}
mkdir -p "$work/corpus" "$work/crashes"

# Every module built (GBPCore too) gets coverage and address-sanitizer instrumentation.
# swiftc honours only the last -sanitize= flag, and SwiftPM's `--sanitize fuzzer --sanitize
# address` passes two (the build then has no coverage at all): --sanitize fuzzer tells
# SwiftPM to leave main to libFuzzer, -Xswiftc -sanitize=fuzzer,address (last) instruments.
# -O with Swift's runtime checks kept (GBP_RELEASE_FLAGS=plain, not the hot path's
# -Ounchecked): overflows and bounds traps are crashes. GBP_FUZZ compiles out the replayer's main.
echo "== building gbp-fuzz (libFuzzer + address sanitizer)"
GBP_RELEASE_FLAGS=plain swift build -c release --scratch-path .build-fuzz --product gbp-fuzz \
    --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -DGBP_FUZZ 2>&1 \
    | { grep -v "ld.gold: warning: Cannot export local symbol" || true; }   # a failed build still fails (pipefail)
bin=$root/.build-fuzz/release/gbp-fuzz
test -x "$bin"
if ! objdump -h "$bin" | grep __sancov_cntrs >/dev/null; then   # no -q: SIGPIPE with pipefail
    echo "run.sh: $bin has no coverage instrumentation" >&2
    exit 1
fi

echo "== fuzzing for ${seconds} s with ${jobs} job(s)"
flags=(-max_total_time="$seconds" -max_len=2048 -timeout=10 -rss_limit_mb=2048
       -artifact_prefix="$work/crashes/" -print_final_stats=1)
if [ "$jobs" -gt 1 ]; then flags+=(-jobs="$jobs" -workers="$jobs"); fi
cd "$work"   # -jobs writes fuzz-N.log here
# Swift's own crash backtracer, run inside an ASan process, reads memory ASan flags
# (a bogus stack-buffer-underflow after the real failure): leave crashes to libFuzzer.
export SWIFT_BACKTRACE=enable=no
exec "$bin" "${flags[@]}" "$@" "$work/corpus" "$root/Tests/Fuzz/corpus"
