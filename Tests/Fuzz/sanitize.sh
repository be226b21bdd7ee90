#!/usr/bin/env bash
# The pure library's tests (GBPCoreTests: parser, policy compiler and classifier,
# conntrack, differential tests) under sanitizers, each in its own build folder.
#
#   Tests/Fuzz/sanitize.sh               address, then thread
#   Tests/Fuzz/sanitize.sh address       one of them
#
# Swift on Linux supports -sanitize=address, thread and fuzzer. -sanitize=undefined
# is refused by swiftc 6.3 ("unsupported option '-sanitize=undefined' for target
# 'x86_64-unknown-linux-gnu'"): what UBSan checks in C (overflow, out-of-bounds,
# misaligned loads) Swift checks itself in these debug builds and traps on. The
# C shims (CDPDK) are not in these tests. Not in CI: each sanitizer rebuilds the
# package (several minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
sanitizers=("$@")
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread)
for s in "${sanitizers[@]}"; do
    case "$s" in address | thread) ;; *) echo "sanitize.sh: $s: use address or thread" >&2; exit 2 ;; esac
    echo "== GBPCoreTests under -sanitize=$s"
    # TSan makes calls invokes, and GBPCore's prefetch is an LLVM intrinsic, which cannot be
    # invoked: the compiler aborts unless prefetching is compiled out (Prefetch.swift).
    extra=()
    if [ "$s" = thread ]; then extra=(-Xswiftc -DGBP_NO_PREFETCH); fi
    # detect_leaks: the tests keep compiled policies in statics on purpose.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1} TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} \
        swift test --scratch-path ".build-$s" --sanitize "$s" "${extra[@]}" --filter GBPCoreTests 2>&1 \
        | grep -v "ld.gold: warning: Cannot export local symbol"
done
