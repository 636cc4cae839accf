#!/usr/bin/env bash
# Instructions on the request/response critical path, per request and per side, measured with
# callgrind: only the work between a receive that returned datagrams and the next send is counted
# (the markers in udptransport.cpp, built with -DSSS_CALLGRIND_MARKERS=ON), i.e. what the other side
# waits for. Work done after the send (deleting streams, timers) is not counted. Deterministic
# enough to compare commits on a noisy machine; the raw encrypted ping-pong (sss-udp-ceiling) is
# measured the same way as the floor.
#
#   tests/bench/rr-critical-path.sh -b BUILD_DIR [-n REQUESTS] [--cipher aes|chacha] [--keep DIR]
#                                   [--transactions]
#
# --transactions runs sss-perf's rr through Stream::sendRequest/sendReply (no Stream object per
# request) instead of a Stream substream per request.
# --keep DIR leaves the callgrind files there (srv.out.2 and cli2.out are the long runs), for
# callgrind_annotate --inclusive=yes.
# Prints "critical-path sss server=<N> client=<N> pingpong server=<N> client=<N> instructions/request".
set -euo pipefail

build=""
n=4000
cipher=aes
port=47071
keep=""
txargs=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    -b | --build) build=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    --cipher) cipher=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --transactions) txargs=(--transactions); shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n "$build" ]] || { echo "give -b BUILD_DIR (configured with -DSSS_CALLGRIND_MARKERS=ON)" >&2; exit 2; }
grep -q "SSS_CALLGRIND_MARKERS:BOOL=ON" "$build/CMakeCache.txt" ||
    { echo "$build was not configured with -DSSS_CALLGRIND_MARKERS=ON" >&2; exit 2; }
command -v valgrind > /dev/null || { echo "valgrind is not installed" >&2; exit 2; }
perf=$build/tools/sss-perf/sss-perf
ceiling=$build/tests/bench/sss-udp-ceiling
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    if [[ -n "$keep" ]]; then mkdir -p "$keep" && cp "$work"/*.out* "$keep"/; fi
    rm -rf "$work"
}
trap cleanup EXIT

cg=(valgrind --tool=callgrind --collect-atstart=no)
total() { callgrind_annotate "$1" 2> /dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }
waitfor() { for _ in $(seq 300); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.2; done; echo "timed out waiting for $2" >&2; exit 1; }

# --- SSS: two client runs of different length; the difference cancels handshakes and start-up.
"${cg[@]}" --callgrind-out-file="$work/srv.out" "$perf" server --bind 127.0.0.1 --port "$port" > "$work/srv.log" 2>&1 &
pids+=($!)
waitfor "$work/srv.log" PEERID
id=$(awk '/PEERID/ { print $2 }' "$work/srv.log")
n1=500
n2=$((n1 + n))
client() { "${cg[@]}" --callgrind-out-file="$work/cli$1.out" "$perf" client --connect "127.0.0.1:$port" --peer "$id" \
    --mode rr --requests "$2" "${txargs[@]}" > "$work/cli$1.log" 2>&1; }
callgrind_control -z "${pids[0]}" > /dev/null 2>&1
client 1 $n1
callgrind_control -d "${pids[0]}" > /dev/null 2>&1
callgrind_control -z "${pids[0]}" > /dev/null 2>&1
client 2 $n2
callgrind_control -d "${pids[0]}" > /dev/null 2>&1
sleep 1
s1=$(total "$work/srv.out.1"); s2=$(total "$work/srv.out.2")
c1=$(total "$work/cli1.out"); c2=$(total "$work/cli2.out")
kill "${pids[0]}"; wait "${pids[0]}" 2> /dev/null || true; pids=()
sss_srv=$(((s2 - s1) / n)); sss_cli=$(((c2 - c1) / n))

# --- raw encrypted ping-pong through the same UdpTransport: the floor.
"${cg[@]}" --callgrind-out-file="$work/pps.out" "$ceiling" pingpong-server --aead "$cipher" --port $((port + 1)) \
    --seconds 120 > "$work/pps.log" 2>&1 &
pids+=($!)
waitfor "$work/pps.log" READY
callgrind_control -z "${pids[0]}" > /dev/null 2>&1
"${cg[@]}" --callgrind-out-file="$work/ppc.out" "$ceiling" pingpong-client --aead "$cipher" --port $((port + 1)) \
    --seconds 3 > "$work/ppc.log" 2>&1
callgrind_control -d "${pids[0]}" > /dev/null 2>&1
sleep 1
rtts=$(sed -n 's/.*rtts=\([0-9]*\).*/\1/p' "$work/ppc.log")
[[ -n "$rtts" && "$rtts" -gt 0 ]] || { echo "ping-pong client failed" >&2; cat "$work/ppc.log" >&2; exit 1; }
pp_srv=$(($(total "$work/pps.out.1") / rtts)); pp_cli=$(($(total "$work/ppc.out") / rtts))
echo "critical-path sss server=$sss_srv client=$sss_cli pingpong server=$pp_srv client=$pp_cli instructions/request"
