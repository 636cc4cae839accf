#!/usr/bin/env bash
# The training run for profile-guided optimisation (scripts/build-pgo.sh): sss-perf's workloads on
# loopback against a local server, each briefly, so the profile weighs the paths users run most:
# request/response on fresh substreams (transactions and Stream objects, one and several in flight),
# bulk both ways, handshakes and datagrams. The server is stopped with SIGTERM, which sss-perf turns
# into a normal exit, so both processes write their profile.
#
#   tests/bench/pgo-train.sh PATH/TO/sss-perf
set -euo pipefail
perf=${1:?give the instrumented sss-perf binary}
work=$(mktemp -d)
srv=""
cleanup() { [[ -n "$srv" ]] && kill "$srv" 2> /dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$perf" server --bind 127.0.0.1 > "$work/srv.log" 2>&1 &
srv=$!
for _ in $(seq 100); do grep -q PEERID "$work/srv.log" && break; sleep 0.1; done
read -r id port < <(awk '/PEERID/ { print $2, $4 }' "$work/srv.log")
[[ -n "${id:-}" ]] || { echo "pgo-train: the server did not start" >&2; cat "$work/srv.log" >&2; exit 1; }
client() {
    echo "pgo-train: sss-perf client $*" >&2
    timeout 120 "$perf" client --connect "127.0.0.1:$port" --peer "$id" "$@" > /dev/null
}
client --mode rr --requests 20000 --transactions
client --mode rr --requests 10000
client --mode rr --requests 5000 --streams 8 --transactions
client --mode rr --requests 2000 --streams 8
client --mode bulk --seconds 2
client --mode bulk --seconds 1 --download
client --mode connect --connections 200
client --mode datagram --seconds 1
kill -TERM "$srv"
wait "$srv" || { echo "pgo-train: the server did not exit cleanly" >&2; exit 1; }
srv=""
