#!/usr/bin/env bash
# Instruction count per transferred byte of the whole sans-IO core, measured with callgrind on a
# deterministic in-process transfer (sss-bench-icount: two Endpoints, fixed seeds, virtual time).
# Runs the driver for SMALL and LARGE megabytes and divides the difference in instructions by the
# difference in bytes, which cancels start-up, key generation and the handshake.
#
#   tests/bench/callgrind.sh [-b BUILD_DIR] [-c chacha|aes] [--baseline FILE] [--update-baseline]
#
# Without -b it configures and builds /tmp/sss-icount-build (RelWithDebInfo, SSS_BUILD_BENCH=ON).
# Prints "icount: <N> instructions/byte". With a baseline file (default tests/bench/icount-baseline.txt,
# lines "<cipher> <N>") it fails (exit 1) if N is more than 10% above the baseline for that cipher.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=""
cipher=chacha
baseline="$here/icount-baseline.txt"
update=0
small=10
large=20
tolerance=10 # percent

while [[ $# -gt 0 ]]; do
    case "$1" in
    -b | --build) build=$2; shift 2 ;;
    -c | --cipher) cipher=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --update-baseline) update=1; shift ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[[ $cipher == chacha || $cipher == aes ]] || { echo "cipher must be chacha or aes" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 2; }

if [[ -z $build ]]; then
    build=/tmp/sss-icount-build
    cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSS_BUILD_BENCH=ON \
        -DSSS_BUILD_TESTS=OFF -DSSS_BUILD_TOOLS=OFF -DSSS_BUILD_DEMOS=OFF >/dev/null
    cmake --build "$build" --target sss-bench-icount -- -j2 >/dev/null
fi
driver=$(find "$build" -type f -name sss-bench-icount -perm -u+x | head -n1)
[[ -n $driver ]] || { echo "sss-bench-icount not found under $build" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions ("summary:" / "totals:" line of the callgrind output) for one run.
count() {
    local mb=$1 out="$tmp/cg.$1"
    # QT_HASH_SEED=0: QHash iteration order must not vary between runs.
    QT_HASH_SEED=0 valgrind --tool=callgrind --callgrind-out-file="$out" "$driver" --mb "$mb" --cipher "$cipher" \
        >"$tmp/log.$mb" 2>&1 || { cat "$tmp/log.$mb" >&2; echo "driver failed for $mb MB" >&2; exit 1; }
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

i_small=$(count "$small")
i_large=$(count "$large")
bytes=$(((large - small) * 1024 * 1024))
per_byte=$(awk -v a="$i_small" -v b="$i_large" -v n="$bytes" 'BEGIN { printf "%.2f", (b - a) / n }')
echo "callgrind: $small MB: $i_small instructions, $large MB: $i_large instructions (cipher $cipher)"
echo "icount: $per_byte instructions/byte"

if [[ $update == 1 ]]; then
    touch "$baseline"
    grep -v "^$cipher " "$baseline" >"$tmp/base" || true
    echo "$cipher $per_byte" >>"$tmp/base"
    sort "$tmp/base" >"$baseline"
    echo "baseline updated: $baseline"
elif [[ -f $baseline ]]; then
    base=$(awk -v c="$cipher" '$1 == c { print $2 }' "$baseline")
    if [[ -n $base ]]; then
        verdict=$(awk -v n="$per_byte" -v b="$base" -v t="$tolerance" \
            'BEGIN { r = (n - b) / b * 100; printf "%+.1f%% %s", r, (r > t ? "FAIL" : "ok") }')
        echo "baseline ($cipher): $base instructions/byte, change $verdict"
        [[ $verdict == *FAIL ]] && { echo "instruction count regressed by more than $tolerance%" >&2; exit 1; }
    fi
fi
exit 0
