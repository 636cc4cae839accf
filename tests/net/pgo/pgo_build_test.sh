#!/usr/bin/env bash
# tst_net_pgo_build: scripts/build-pgo.sh must produce a build whose library was compiled with the
# profile it trained, and whose sss-perf works. Arguments: source dir, work dir, compiler id, sanitize.
set -euo pipefail
src=$1 work=$2 compiler=$3 sanitize=${4:-OFF}
if [[ "$compiler" != GNU ]]; then
    echo "SKIP: profile-guided builds need GCC (this build uses $compiler)"
    exit 77
fi
if [[ "$sanitize" == ON ]]; then
    echo "SKIP: not repeated in sanitizer builds (the PGO build is a Release build of its own)"
    exit 77
fi
rm -rf "$work"
build=$work/build
"$src/scripts/build-pgo.sh" "$build" -DSSS_BUILD_TESTS=OFF -DSSS_BUILD_DEMOS=OFF -DSSS_BUILD_BENCH=OFF

fail() { echo "FAIL: $*" >&2; exit 1; }
grep -q "^SSS_PGO:STRING=USE" "$build/CMakeCache.txt" || fail "the build is not configured with SSS_PGO=USE"
# The library's objects must have been compiled with the profile and must have found it: a hot
# source file with no profile would mean the training wrote it elsewhere (GCC only warns).
python3 - "$build/compile_commands.json" << 'PY' || fail "the library was not compiled with -fprofile-use"
import json, sys
cmds = json.load(open(sys.argv[1]))
hot = [c for c in cmds if c["file"].endswith(("/src/host.cpp", "/channel/session.cpp"))]
sys.exit(0 if hot and all("-fprofile-use=" in c["command"] for c in hot) else 1)
PY
for f in host.cpp session.cpp; do
    find "$build/pgo-profile" -name "*${f}.gcda" | grep -q . || fail "no profile for $f in $build/pgo-profile"
done
# And the profile-guided sss-perf must work: a short request/response run on loopback.
perf=$build/tools/sss-perf/sss-perf
"$perf" server --bind 127.0.0.1 > "$work/srv.log" 2>&1 &
srv=$!
trap 'kill $srv 2> /dev/null || true' EXIT
for _ in $(seq 100); do grep -q PEERID "$work/srv.log" && break; sleep 0.1; done
read -r id port < <(awk '/PEERID/ { print $2, $4 }' "$work/srv.log")
out=$(timeout 60 "$perf" client --connect "127.0.0.1:$port" --peer "$id" --mode rr --requests 500 --transactions)
echo "$out"
grep -q "^rr: 500 requests" <<< "$out" || fail "the PGO build's sss-perf rr run failed"
rm -rf "$work"
echo "PASS: profile-guided build trained, used and working"
