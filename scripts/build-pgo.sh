#!/usr/bin/env bash
# A profile-guided build of SSS (GCC): configure BUILD_DIR with SSS_PGO=GENERATE, build an
# instrumented sss-perf, train it on loopback (tests/bench/pgo-train.sh), then rebuild everything
# with SSS_PGO=USE. The library is the same code; only its layout and inlining follow the profile.
# The project's default build type (RelWithDebInfo) unless given; extra arguments go to cmake
# (e.g. -DCMAKE_BUILD_TYPE=Release -DSSS_BUILD_BENCH=ON).
#
#   scripts/build-pgo.sh [BUILD_DIR] [cmake args...]      (default BUILD_DIR: build-pgo)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-pgo}
[[ $# -gt 0 ]] && shift
profile=$build/pgo-profile

cmake -S "$root" -B "$build" -G Ninja -DSSS_BUILD_TOOLS=ON -DSSS_PGO=GENERATE \
    -DSSS_PGO_DIR="$profile" "$@"
rm -rf "$profile" # (a stale profile would be merged into the new one)
cmake --build "$build" --target sss-perf
"$root/tests/bench/pgo-train.sh" "$build/tools/sss-perf/sss-perf"
n=$(find "$profile" -name '*.gcda' 2> /dev/null | wc -l)
[[ "$n" -gt 0 ]] || { echo "build-pgo: the training wrote no profile into $profile" >&2; exit 1; }
echo "build-pgo: $n profile files; rebuilding with them" >&2
cmake "$build" -DSSS_PGO=USE
cmake --build "$build"
echo "build-pgo: done; $build is a profile-guided build (SSS_PGO=USE)" >&2
