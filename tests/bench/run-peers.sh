#!/usr/bin/env bash
# run-peers.sh: SSS against the peers a user might pick instead, on loopback, side by side.
#
# Installs the peers (idempotent), then runs every configuration round-robin for R rounds, pinned
# with taskset (sender/client on CPU0, receiver/server on CPU1), and prints a table of medians and
# ratios (to ngtcp2 and to our raw encrypted UDP ceiling); --out writes it as markdown.
# A peer that fails or is missing is reported as n/a. NOT part of the test run.
#
# usage: run-peers.sh [--rounds R] [--seconds S] [--out FILE] [--build DIR] [--no-install]
#                     [--tls-bytes N] [--quic-bytes N] [--sss-bytes N] [--port-base P] [--handshake-seconds S]
#                     [--sss-connections N] [--pgo-build DIR] [--ceiling-size B]
# SSS rows come from sss-perf (bulk upload, rr on fresh substreams with a Stream object each and
# through the transaction API, connect = handshake + 1-byte request/response); rr is compared with
# sss-udp-ceiling's sealed ping-pong, connect with TLS 1.3 full. --pgo-build DIR adds the same SSS rows
# for a profile-guided build made by scripts/build-pgo.sh (rows "sss-pgo-..."), in the same rounds.
# --ceiling-size B: the ceiling's datagram size (default 1452, the size SSS reaches on loopback).
set -u

ROUNDS=3
SECONDS_PER_RUN=5
OUT=""
BUILD=""
INSTALL=1
TLS_BYTES=$((2 * 1024 * 1024 * 1024))
QUIC_BYTES=$((1024 * 1024 * 1024))
SSS_BYTES=$((1024 * 1024 * 1024))
PORT_BASE=47000
HS_SECONDS=3
SSS_CONNECTIONS=200
PGO_BUILD=""
CEILING_DATAGRAM=1452
SND_CPU=0
RCV_CPU=1

while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --tls-bytes) TLS_BYTES=$2; shift 2 ;;
    --quic-bytes) QUIC_BYTES=$2; shift 2 ;;
    --sss-bytes) SSS_BYTES=$2; shift 2 ;;
    --port-base) PORT_BASE=$2; shift 2 ;;
    --handshake-seconds) HS_SECONDS=$2; shift 2 ;;
    --sss-connections) SSS_CONNECTIONS=$2; shift 2 ;;
    --pgo-build) PGO_BUILD=$2; shift 2 ;;
    --ceiling-size) CEILING_DATAGRAM=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
    esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d /tmp/sss-peers.XXXXXX)
RESULTS=$WORK/results.tsv # name<TAB>round<TAB>gbps<TAB>cpu_snd<TAB>cpu_rcv<TAB>metric_ms
: >"$RESULTS"
LAT=$WORK/latency.tsv # name<TAB>round<TAB>rps<TAB>p50_us<TAB>p99_us
: >"$LAT"
NOTES=$WORK/notes.txt
: >"$NOTES"
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$WORK"' EXIT

note() { echo "$*" | tee -a "$NOTES" >&2; }
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${3:-nan}" "${4:-nan}" "${5:-nan}" "${6:-nan}" >>"$RESULTS"; }
# Runs a command under bash's `time`; the last line of $1 becomes "real user sys".
timed() {
    local file=$1; shift
    { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>"$file.err"; } 2>"$file"
}
# Prints the "real user sys" line written by timed().
times_of() { tail -n 1 "$1" 2>/dev/null; }
cpu_pct() { awk -v t="$1" -v w="$2" 'BEGIN { if (t == "" || w <= 0) print "nan"; else { split(t, a, " "); printf "%.0f", (a[2] + a[3]) / w * 100 } }'; }
# Waits until something listens on TCP/UDP port $2 ($1 = t or u).
wait_port() {
    for _ in $(seq 1 100); do
        if ss -Hln"$1" "sport = :$2" 2>/dev/null | grep -q .; then return 0; fi
        sleep 0.05
    done
    return 1
}
next_port() { PORT=$((PORT + 1)); }
PORT=$PORT_BASE

# ---------------------------------------------------------------------------------------------- install
install_peers() {
    local pkgs="iperf3 ngtcp2-client ngtcp2-server socat openssl gnutls-bin" missing=""
    for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo -n"
    note "installing:$missing"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends $missing >"$WORK/apt.log" 2>&1 ||
        note "apt-get install failed (see output above); missing peers will be n/a"
}
[ "$INSTALL" = 1 ] && install_peers

find_bin() { # name -> path or empty
    local name=$1 d
    for d in "$BUILD" "$ROOT/build" "$ROOT"/../build*; do
        [ -n "$d" ] && [ -d "$d" ] || continue
        local f
        f=$(find "$d" -maxdepth 4 -type f -name "$name" -perm -u+x 2>/dev/null | head -n 1)
        [ -n "$f" ] && { echo "$f"; return; }
    done
    command -v "$name" 2>/dev/null
}
CEILING=$(find_bin sss-udp-ceiling)
SSSPERF=$(find_bin sss-perf)
[ -z "$CEILING" ] && note "sss-udp-ceiling not found (configure with -DSSS_BUILD_BENCH=ON, or pass --build): ceiling rows n/a"
[ -z "$SSSPERF" ] && note "sss-perf not found: SSS rows skipped (n/a)"
PGOPERF=""
if [ -n "$PGO_BUILD" ]; then
    PGOPERF=$PGO_BUILD/tools/sss-perf/sss-perf
    grep -q "^SSS_PGO:STRING=USE" "$PGO_BUILD/CMakeCache.txt" 2>/dev/null ||
        { echo "--pgo-build $PGO_BUILD is not a profile-guided build (make one with scripts/build-pgo.sh)" >&2; exit 1; }
    [ -x "$PGOPERF" ] || { echo "no sss-perf in $PGO_BUILD" >&2; exit 1; }
fi

# Self-signed P-256 certificate for TLS and QUIC peers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1 || note "openssl req failed"
mkdir -p "$WORK/htdocs"
truncate -s "$QUIC_BYTES" "$WORK/htdocs/bulk" # sparse: the server reads zeros without disk I/O
printf 'x' >"$WORK/htdocs/one"

# --------------------------------------------------------------------------------------------- peers
run_iperf() { # round
    next_port
    taskset -c "$RCV_CPU" iperf3 -s -1 -p "$PORT" >/dev/null 2>&1 &
    local srv=$!
    wait_port t "$PORT" || { kill $srv 2>/dev/null; record iperf3-tcp "$1"; return; }
    local js=$WORK/iperf.json
    timeout $((SECONDS_PER_RUN + 20)) taskset -c "$SND_CPU" iperf3 -c 127.0.0.1 -p "$PORT" -t "$SECONDS_PER_RUN" -J >"$js" 2>/dev/null
    wait $srv 2>/dev/null
    local line
    line=$(python3 - "$js" <<'EOF' 2>/dev/null
import json, sys
j = json.load(open(sys.argv[1]))
e = j["end"]
print(e["sum_received"]["bits_per_second"] / 1e9, e["cpu_utilization_percent"]["host_total"],
      e["cpu_utilization_percent"]["remote_total"])
EOF
)
    # shellcheck disable=SC2086
    [ -n "$line" ] && record iperf3-tcp "$1" $line || record iperf3-tcp "$1"
}

run_tls() { # round: TLS 1.3 over TCP, socat + OpenSSL, /dev/zero -> /dev/null one way
    next_port
    timed "$WORK/tls-srv.t" timeout 150 taskset -c "$RCV_CPU" socat -u -b 16384 \
        "OPENSSL-LISTEN:$PORT,reuseaddr,cert=$WORK/cert.pem,key=$WORK/key.pem,verify=0" OPEN:/dev/null &
    local srv=$!
    wait_port t "$PORT" || { kill $srv 2>/dev/null; record tls13-tcp-aes256gcm "$1"; return; }
    timed "$WORK/tls-cli.t" timeout 120 taskset -c "$SND_CPU" socat -u -b 16384 \
        "OPEN:/dev/zero,readbytes=$TLS_BYTES" "OPENSSL:127.0.0.1:$PORT,verify=0"
    local rc=$?
    wait $srv 2>/dev/null
    local t; t=$(times_of "$WORK/tls-cli.t")
    local wall; wall=$(echo "$t" | awk '{print $1}')
    if [ $rc -ne 0 ] || [ -z "$wall" ]; then record tls13-tcp-aes256gcm "$1"; return; fi
    record tls13-tcp-aes256gcm "$1" "$(awk -v b="$TLS_BYTES" -v w="$wall" 'BEGIN { printf "%.3f", b * 8 / w / 1e9 }')" \
        "$(cpu_pct "$t" "$wall")" "$(cpu_pct "$(times_of "$WORK/tls-srv.t")" "$wall")"
}

run_quic() { # round: ngtcp2 examples, one bulk GET
    next_port
    taskset -c "$RCV_CPU" gtlsserver -q -d "$WORK/htdocs" 127.0.0.1 "$PORT" "$WORK/key.pem" "$WORK/cert.pem" >/dev/null 2>&1 &
    local srv=$!
    wait_port u "$PORT" || { kill $srv 2>/dev/null; record ngtcp2-quic "$1"; return; }
    timed "$WORK/quic-cli.t" timeout 120 taskset -c "$SND_CPU" gtlsclient -q --no-quic-dump --no-http-dump \
        --exit-on-all-streams-close 127.0.0.1 "$PORT" "https://127.0.0.1:$PORT/bulk"
    local rc=$?
    local scpu
    scpu=$(awk '{ print $14 + $15 }' "/proc/$srv/stat" 2>/dev/null) # server ticks before we stop it
    kill $srv 2>/dev/null; wait $srv 2>/dev/null
    local t; t=$(times_of "$WORK/quic-cli.t")
    local wall; wall=$(echo "$t" | awk '{print $1}')
    if [ $rc -ne 0 ] || [ -z "$wall" ]; then record ngtcp2-quic "$1"; return; fi
    local hz; hz=$(getconf CLK_TCK)
    # Columns are sender / receiver: the server sends the body, the client receives it.
    record ngtcp2-quic "$1" "$(awk -v b="$QUIC_BYTES" -v w="$wall" 'BEGIN { printf "%.3f", b * 8 / w / 1e9 }')" \
        "$(awk -v s="${scpu:-}" -v h="$hz" -v w="$wall" 'BEGIN { if (s == "") print "nan"; else printf "%.0f", s / h / w * 100 }')" \
        "$(cpu_pct "$t" "$wall")"
}

# The ceiling sends datagrams of SSS's size, so both move the same bytes per packet: like for like.
# On loopback SSS's path MTU discovery reaches HostConfig::maxProbedDatagramSize (1452) after one
# probe, so that is the size (until 2026-11-23 it was maxDatagramSize, 1232: SSS did not probe).
# (--ceiling-size; set above)
run_ceiling() { # round aead
    local name="udp-ceiling-$2"
    [ -n "$CEILING" ] || { record "$name" "$1"; return; }
    next_port
    taskset -c "$RCV_CPU" "$CEILING" recv --aead "$2" --seconds "$SECONDS_PER_RUN" --port "$PORT" --size "$CEILING_DATAGRAM" >"$WORK/ceil-recv.out" 2>&1 &
    local rcv=$!
    wait_port u "$PORT" || { kill $rcv 2>/dev/null; record "$name" "$1"; return; }
    timeout $((SECONDS_PER_RUN + 20)) taskset -c "$SND_CPU" "$CEILING" send --aead "$2" --seconds "$SECONDS_PER_RUN" \
        --port "$PORT" --size "$CEILING_DATAGRAM" >"$WORK/ceil-send.out" 2>&1
    wait $rcv 2>/dev/null
    local r s
    r=$(grep '^RESULT side=recv' "$WORK/ceil-recv.out")
    s=$(grep '^RESULT side=send' "$WORK/ceil-send.out")
    field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
    if [ -z "$r" ]; then record "$name" "$1"; return; fi
    record "$name" "$1" "$(field "$r" gbps)" "$(field "$s" cpu)" "$(field "$r" cpu)"
    echo "    ceiling $2: $(field "$r" pps) pkts/s recv, loss $(field "$r" loss)%, ns/pkt snd $(field "$s" ns_per_pkt) rcv $(field "$r" ns_per_pkt)" >&2
}

# sss-perf server: prints "PEERID <id> PORT <p>" first; waits for that line.
start_sss_server() { # sss-perf -> sets SSS_SRV (pid), SSS_PEER, SSS_PORT
    next_port
    taskset -c "$RCV_CPU" "$1" server --bind 127.0.0.1 --port "$PORT" >"$WORK/sss-srv.out" 2>&1 &
    SSS_SRV=$!
    SSS_PEER="" SSS_PORT=""
    for _ in $(seq 1 100); do
        read -r tag SSS_PEER _ SSS_PORT <"$WORK/sss-srv.out" 2>/dev/null
        [ "${tag:-}" = PEERID ] && [ -n "$SSS_PORT" ] && return 0
        sleep 0.05
    done
    kill $SSS_SRV 2>/dev/null
    return 1
}
# Prints space-separated JSON values of sss-perf's output ($1) for the keys given; nan if missing.
json_fields() {
    python3 - "$@" <<'EOF2' 2>/dev/null
import json, sys
try:
    j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
except Exception:
    j = {}
print(" ".join(str(j.get(k, "nan")) if not j.get("error") else "nan" for k in sys.argv[2:]))
EOF2
}
record_lat() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${3:-nan}" "${4:-nan}" "${5:-nan}" >>"$LAT"; } # name round rps p50_us p99_us

run_sss() { # round sss-perf name-prefix: bulk, rr and connect against one sss-perf server
    local perf=$2 n=$3
    [ -n "$perf" ] || return
    start_sss_server "$perf" || {
        record $n-bulk "$1"; record_lat $n-rr "$1"; record_lat $n-rr-tx "$1"; record $n-connect "$1"; return
    }
    local cli="$perf client --connect 127.0.0.1:$SSS_PORT --peer $SSS_PEER --json"
    local j=$WORK/sss.json g cs ss secs cipher
    # Bulk upload, one stream: goodput is end to end (the server confirms the byte count on the stream).
    timeout 120 taskset -c "$SND_CPU" $cli --mode bulk --bytes "$SSS_BYTES" >"$j" 2>"$j.err"
    read -r g cs ss secs cipher <<<"$(json_fields "$j" gbps client_cpu_s server_cpu_s seconds cipher)"
    if [ "$g" != nan ]; then
        record $n-bulk "$1" "$g" "$(awk -v c="$cs" -v s="$secs" 'BEGIN { printf "%.0f", c / s * 100 }')" \
            "$(awk -v c="$ss" -v s="$secs" 'BEGIN { printf "%.0f", c / s * 100 }')"
        echo "$cipher" >"$WORK/$n-cipher"
        echo "    $n bulk: $g Gbit/s ($cipher), retransmitted $(json_fields "$j" retransmitted_bytes) B" >&2
    else
        record $n-bulk "$1"; note "sss-perf bulk failed: $(tail -n 1 "$j.err")"
    fi
    # Request/response on fresh substreams of the warm channel, one in flight.
    timeout $((HS_SECONDS + 60)) taskset -c "$SND_CPU" $cli --mode rr --seconds "$HS_SECONDS" >"$j" 2>"$j.err"
    # shellcheck disable=SC2046
    record_lat $n-rr "$1" $(json_fields "$j" rps p50_us p99_us)
    # The same through the transaction API (Stream::sendRequest: no Stream object per request).
    timeout $((HS_SECONDS + 60)) taskset -c "$SND_CPU" $cli --mode rr --transactions --seconds "$HS_SECONDS" \
        >"$j" 2>"$j.err"
    # shellcheck disable=SC2046
    record_lat $n-rr-tx "$1" $(json_fields "$j" rps p50_us p99_us)
    # Connect: fresh Host, handshake + 1-byte request/response, sequentially.
    timeout 120 taskset -c "$SND_CPU" $cli --mode connect --connections "$SSS_CONNECTIONS" >"$j" 2>"$j.err"
    local p50; read -r p50 <<<"$(json_fields "$j" p50_us)"
    record $n-connect "$1" nan nan nan "$(awk -v p="$p50" 'BEGIN { if (p == "nan") print "nan"; else printf "%.3f", p / 1000 }')"
    kill $SSS_SRV 2>/dev/null; wait $SSS_SRV 2>/dev/null
}

run_pingpong() { # round aead: raw sealed UDP ping-pong, the floor for request/response
    local name="udp-pingpong-$2"
    [ -n "$CEILING" ] || { record_lat "$name" "$1"; return; }
    next_port
    taskset -c "$RCV_CPU" "$CEILING" pingpong-server --aead "$2" --port "$PORT" --seconds "$HS_SECONDS" >/dev/null 2>&1 &
    local srv=$!
    wait_port u "$PORT" || { kill $srv 2>/dev/null; record_lat "$name" "$1"; return; }
    local r
    r=$(timeout $((HS_SECONDS + 20)) taskset -c "$SND_CPU" "$CEILING" pingpong-client --aead "$2" --port "$PORT" \
        --seconds "$HS_SECONDS" 2>/dev/null | grep '^RESULT')
    kill $srv 2>/dev/null; wait $srv 2>/dev/null
    field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
    [ -n "$r" ] || { record_lat "$name" "$1"; return; }
    record_lat "$name" "$1" "$(field "$r" rps)" "$(field "$r" p50_us)" "$(field "$r" p99_us)"
}

run_tls_handshake() { # round: full and resumed handshake + 1-byte GET, one client process
    next_port
    (cd "$WORK/htdocs" && exec taskset -c "$RCV_CPU" openssl s_server -quiet -WWW -accept "$PORT" -cert "$WORK/cert.pem" \
        -key "$WORK/key.pem" >/dev/null 2>&1) &
    local srv=$!
    wait_port t "$PORT" || { kill $srv 2>/dev/null; record tls13-handshake-full "$1"; record tls13-handshake-resumed "$1"; return; }
    local mode name out ms
    for mode in new reuse; do
        name=tls13-handshake-full
        [ $mode = reuse ] && name=tls13-handshake-resumed
        out=$(timeout $((HS_SECONDS + 20)) taskset -c "$SND_CPU" openssl s_time -connect "127.0.0.1:$PORT" -$mode \
            -time "$HS_SECONDS" -www /one 2>/dev/null)
        ms=$(echo "$out" | awk '/connections in .* real seconds/ { n = $1; s = $4; if (n > 0) printf "%.3f", s / n * 1000; exit }')
        record "$name" "$1" nan nan nan "${ms:-nan}"
    done
    kill $srv 2>/dev/null; wait $srv 2>/dev/null
}

# --------------------------------------------------------------------------------------------- rounds
for r in $(seq 1 "$ROUNDS"); do
    echo "== round $r/$ROUNDS" >&2
    echo "  iperf3 TCP" >&2; run_iperf "$r"
    echo "  TLS 1.3/TCP" >&2; run_tls "$r"
    echo "  ngtcp2 QUIC" >&2; run_quic "$r"
    echo "  udp ceiling chacha" >&2; run_ceiling "$r" chacha
    echo "  udp ceiling aes" >&2; run_ceiling "$r" aes
    [ -n "$SSSPERF" ] && { echo "  sss-perf (bulk, rr, connect)" >&2; run_sss "$r" "$SSSPERF" sss; }
    [ -n "$PGOPERF" ] && { echo "  sss-perf, PGO build (bulk, rr, connect)" >&2; run_sss "$r" "$PGOPERF" sss-pgo; }
    echo "  udp ping-pong aes" >&2; run_pingpong "$r" aes
    echo "  udp ping-pong chacha" >&2; run_pingpong "$r" chacha
    echo "  TLS handshakes" >&2; run_tls_handshake "$r"
done

# --------------------------------------------------------------------------------------------- table
SSS_CIPHER=$(cat "$WORK/sss-cipher" 2>/dev/null || echo "default cipher")
TABLE=$(python3 - "$RESULTS" "$NOTES" "$ROUNDS" "$SECONDS_PER_RUN" "$LAT" "$SSS_CIPHER" <<'EOF'
import math, statistics, sys, platform, datetime
rows = {}
order = []
byround = {}  # name -> round -> values: for ratios within a round
for line in open(sys.argv[1]):
    name, rnd, *vals = line.rstrip("\n").split("\t")
    if name not in rows:
        rows[name] = []
        order.append(name)
    rows[name].append([float(v) if v not in ("", "nan") else math.nan for v in vals])
    byround.setdefault(name, {})[rnd] = rows[name][-1]
def paired(table, name, ref, i, j):
    # Median over rounds of name's value / ref's value in the same round. The machine's load drifts
    # between rounds and moves both alike, so this is steadier than a ratio of the two medians.
    a, b = table.get(name, {}), table.get(ref, {})
    rs = [a[r][i] / b[r][j] for r in a if r in b and not math.isnan(a[r][i]) and not math.isnan(b[r][j]) and b[r][j] > 0]
    return statistics.median(rs) if rs else math.nan
def med(name, i):
    vals = [r[i] for r in rows.get(name, []) if not math.isnan(r[i])]
    return statistics.median(vals) if vals else math.nan
def fmt(v, p=2):
    return "n/a" if math.isnan(v) else f"{v:.{p}f}"
def ratio(a, b):
    return "n/a" if math.isnan(a) or math.isnan(b) or b == 0 else f"{a / b:.2f}"
labels = {
    "iperf3-tcp": "iperf3 TCP (plain, 1 stream)",
    "tls13-tcp-aes256gcm": "TLS 1.3 / TCP, socat+OpenSSL, AES-256-GCM",
    "ngtcp2-quic": "QUIC ngtcp2 gtlsserver->gtlsclient, bulk GET",
    "udp-ceiling-chacha": "raw UDP + ChaCha20-Poly1305 (sss-udp-ceiling)",
    "udp-ceiling-aes": "raw UDP + AES-256-GCM (sss-udp-ceiling)",
    "sss-bulk": f"SSS bulk upload, 1 stream (sss-perf, {sys.argv[6]})",
    "sss-connect": "SSS connect: fresh host, 1-RTT handshake + 1-byte request/response (sss-perf, p50)",
    "sss-pgo-bulk": f"SSS bulk upload, 1 stream, profile-guided build (sss-perf, {sys.argv[6]})",
    "sss-pgo-connect": "SSS connect, profile-guided build (sss-perf, p50)",
    "tls13-handshake-full": "TLS 1.3 / TCP full handshake + 1-byte GET (s_time -new)",
    "tls13-handshake-resumed": "TLS 1.3 / TCP resumed (s_time -reuse)",
}
quic = med("ngtcp2-quic", 0)
cc, ca = med("udp-ceiling-chacha", 0), med("udp-ceiling-aes", 0)
def is_hs(n):
    return n.startswith("tls13-handshake") or n.endswith("-connect")
runs = {n: sum(1 for r in rows[n] if not math.isnan(r[3] if is_hs(n) else r[0])) for n in order}
out = []
out.append(f"# SSS vs peers on loopback ({datetime.date.today()}, {platform.node()})\n")
out.append(f"Medians of {sys.argv[3]} interleaved rounds ({sys.argv[4]} s per timed run); sender/client pinned to CPU0, "
           "receiver/server to CPU1. CPU% = sender / receiver, of one core. 'Gbit/s per busy core' = Gbit/s x 100 / "
           "max(CPU%): an estimate of the CPU-bound rate when the shared machine starves the processes (below ~90% CPU). "
           "'paired': the median over rounds of the ratio within each round (both runs of a round meet the same load).\n")
out.append("| peer | Gbit/s | CPU% snd/rcv | Gbit/s per busy core | x ngtcp2 | x ceiling ChaCha | x ceiling AES | paired x ceiling AES | ok runs |")
out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in order:
    if is_hs(n):
        continue
    g = med(n, 0)
    busy = max((v for v in (med(n, 1), med(n, 2)) if not math.isnan(v)), default=math.nan)
    norm = g * 100 / busy if not math.isnan(busy) and busy > 0 else math.nan
    out.append(f"| {labels.get(n, n)} | {fmt(g)} | {fmt(med(n, 1), 0)} / {fmt(med(n, 2), 0)} | {fmt(norm)} | {ratio(g, quic)} | "
               f"{ratio(g, cc)} | {ratio(g, ca)} | {fmt(paired(byround, n, 'udp-ceiling-aes', 0, 0))} | {runs[n]}/{len(rows[n])} |")
hs = [n for n in order if is_hs(n)]
full = med("tls13-handshake-full", 3)
if hs:
    out.append("\n| handshake + 1-byte request | ms per connection | x TLS 1.3 full | paired x TLS 1.3 full | ok runs |")
    out.append("|---|---:|---:|---:|---:|")
    for n in hs:
        out.append(f"| {labels.get(n, n)} | {fmt(med(n, 3), 3)} | {ratio(med(n, 3), full)} | "
                   f"{fmt(paired(byround, n, 'tls13-handshake-full', 3, 3))} | {runs[n]}/{len(rows[n])} |")
lat, lorder, latround = {}, [], {}
for line in open(sys.argv[5]):
    name, rnd, *vals = line.rstrip("\n").split("\t")
    if name not in lat:
        lat[name] = []
        lorder.append(name)
    lat[name].append([float(v) if v not in ("", "nan") else math.nan for v in vals])
    latround.setdefault(name, {})[rnd] = lat[name][-1]
def lmed(name, i):
    vals = [r[i] for r in lat.get(name, []) if not math.isnan(r[i])]
    return statistics.median(vals) if vals else math.nan
llabels = {
    "sss-rr": "SSS request/response, fresh substream each, 1 in flight (sss-perf rr)",
    "sss-rr-tx": "SSS request/response, fresh substream each, transaction API (sss-perf rr --transactions)",
    "sss-pgo-rr": "SSS request/response, Stream object each, profile-guided build (sss-perf rr)",
    "sss-pgo-rr-tx": "SSS request/response, transaction API, profile-guided build (sss-perf rr --transactions)",
    "udp-pingpong-aes": "raw UDP ping-pong, 1-byte sealed AES-256-GCM (sss-udp-ceiling)",
    "udp-pingpong-chacha": "raw UDP ping-pong, 1-byte sealed ChaCha20-Poly1305 (sss-udp-ceiling)",
}
if lorder:
    ppname = "udp-pingpong-aes" if "AES" in sys.argv[6].upper() else "udp-pingpong-chacha"
    pp = lmed(ppname, 1)
    out.append("\n| request/response | req/s | p50 us | p99 us | p50 x ping-pong (same cipher) | paired p50 x ping-pong | ok runs |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for n in lorder:
        ok = sum(1 for r in lat[n] if not math.isnan(r[0]))
        out.append(f"| {llabels.get(n, n)} | {fmt(lmed(n, 0), 0)} | {fmt(lmed(n, 1), 1)} | {fmt(lmed(n, 2), 1)} | "
                   f"{ratio(lmed(n, 1), pp)} | {fmt(paired(latround, n, ppname, 1, 1))} | {ok}/{len(lat[n])} |")
notes = [l.strip() for l in open(sys.argv[2]) if l.strip()]
if notes:
    out.append("\nNotes:\n")
    out.extend(f"- {l}" for l in notes)
print("\n".join(out))
EOF
)
echo
echo "$TABLE"
if [ -n "$OUT" ]; then
    printf '%s\n' "$TABLE" >"$OUT" && echo "(written to $OUT)" >&2
fi
