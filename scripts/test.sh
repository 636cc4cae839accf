#!/usr/bin/env bash
# Builds SSS and runs the whole test suite (all tiers: unit, sim, api, net, fuzz).
# Usage: scripts/test.sh [build-dir] [extra ctest args...]   (SSS_SANITIZE=1 for an ASan+UBSan build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
shift || true
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSS_BUILD_TESTS=ON)
if [ "${SSS_SANITIZE:-0}" = 1 ]; then
  cmake_args+=(-DSSS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
cmake -S "$here" -B "$build" "${cmake_args[@]}"
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@"
