#!/usr/bin/env bash
# The project's main job: installs the dependencies, builds only the loopback demo (Release, in
# build-demo/) and runs it: two SSS hosts on 127.0.0.1 doing a secure handshake and a checked
# transfer, printing what happened. Exit code 0 when every check passed.
# Usage: scripts/demo.sh [build-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build-demo}"
"$here/scripts/setup.sh"
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSSS_BUILD_TESTS=OFF -DSSS_BUILD_TOOLS=OFF -DSSS_BUILD_DEMOS=ON -DSSS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target sss-loopback-demo -j "$(nproc)"
echo
exec "$build/demos/loopback/sss-loopback-demo"
