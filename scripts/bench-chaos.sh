#!/usr/bin/env bash
# Benchmarks the chaos proxy (release build) on loopback, against haproxy in TCP mode in the same
# run: nginx (1 worker) serves a 1 KiB file directly, through `chaos` with no toxics, and through
# haproxy (1 thread). nginx and the proxy share CPU 0, wrk has CPU 1; every wrk run is bounded
# (DURATION seconds, CONNECTIONS connections; added latency with 1). chaos runs one event loop
# thread, as haproxy runs one thread. Then a 100 ms latency toxic (8 connections), and the
# proxy's memory with slow consumers (clients that never read a 64 MiB download).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
SLOW_CLIENTS=${SLOW_CLIENTS:-50}
work=$(mktemp -d /tmp/rm-bench-chaos-XXXXXX)
chmod 755 "$work"
trap bench_cleanup EXIT

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

for tool in wrk nginx haproxy curl taskset python3; do
    command -v "$tool" >/dev/null || { echo "bench-chaos.sh: $tool is missing (sudo apt-get install -y wrk nginx-light haproxy curl util-linux)" >&2; exit 1; }
done

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# run_wrk NAME URL [CONNECTIONS] -> appends "NAME rps p50 p99" to results
run_wrk() {
    local out
    out=$(taskset -c 1 wrk -t1 -c"${3:-$CONNECTIONS}" -d"${DURATION}s" --latency "$2")
    echo "$out" | python3 -c '
import re, sys
out = sys.stdin.read()
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
note = errors.group(0) if errors else "-"
print(f"{sys.argv[1]}\t{rps:.0f}\t{lat(50):.3f}\t{lat(99):.3f}\t{note}")
' "$1" >>"$work/results.tsv"
}

say "release build"
swift build -c release --static-swift-stdlib --product chaos >&2
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

mkdir -p "$work/www"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/www/kib"
head -c $((64 * 1024 * 1024)) /dev/zero >"$work/www/big"
nginx_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/www;
        location / { try_files \$uri =404; }
    }
}
NGINX
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)
wait_for "http://127.0.0.1:$nginx_port/kib"

chaos_port=$(free_port)
taskset -c 0 "$bin/chaos" --port "$chaos_port" --threads 1 >"$work/chaos.log" 2>&1 &
chaos_pid=$!
pids+=("$chaos_pid")
wait_for "http://127.0.0.1:$chaos_port/version"
proxy_port=$(free_port)
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$chaos_port/proxies" \
    -d "{\"name\":\"web\",\"listen\":\"127.0.0.1:$proxy_port\",\"upstream\":\"127.0.0.1:$nginx_port\"}"

start_haproxy "$nginx_port"
wait_for "http://127.0.0.1:$haproxy_port/kib"

say "throughput: direct, then chaos and haproxy twice each, alternating (runs swing by ~10 %)"
run_wrk "direct (nginx)" "http://127.0.0.1:$nginx_port/kib"
run_wrk "through chaos, no toxics" "http://127.0.0.1:$proxy_port/kib"
run_wrk "through haproxy (tcp mode)" "http://127.0.0.1:$haproxy_port/kib"
run_wrk "through chaos, no toxics (again)" "http://127.0.0.1:$proxy_port/kib"
run_wrk "through haproxy (again)" "http://127.0.0.1:$haproxy_port/kib"
say "added latency with one connection (no queueing)"
run_wrk "direct (nginx), 1 connection" "http://127.0.0.1:$nginx_port/kib" 1
run_wrk "through chaos, 1 connection" "http://127.0.0.1:$proxy_port/kib" 1
run_wrk "through haproxy, 1 connection" "http://127.0.0.1:$haproxy_port/kib" 1
chaos_rss_load=$(rss_mb "$chaos_pid")

say "latency toxic of 100 ms (downstream)"
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$chaos_port/proxies/web/toxics" \
    -d '{"type":"latency","attributes":{"latency":100}}'
run_wrk "chaos + latency 100 ms" "http://127.0.0.1:$proxy_port/kib" 8
curl -fsS -o /dev/null -X DELETE "http://127.0.0.1:$chaos_port/proxies/web/toxics/latency_downstream"

say "$SLOW_CLIENTS slow consumers: each asks for 64 MiB through chaos and never reads"
rss_before=$(rss_mb "$chaos_pid")
python3 - "$proxy_port" "$SLOW_CLIENTS" "$work/slow.ready" <<'PY' &
import socket, sys, time
port, count, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
clients = []
for _ in range(count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    clients.append(s)
open(ready, "w").close()
time.sleep(30)
PY
slow_pid=$!
pids+=("$slow_pid")
until [ -e "$work/slow.ready" ]; do sleep 0.1; done
sleep 3 # the proxy fills its buffers and stops reading; nothing to synchronise with but time
rss_slow=$(rss_mb "$chaos_pid")
kill "$slow_pid" 2>/dev/null || true

python3 - "$work/results.tsv" "$chaos_rss_load" "$rss_before" "$rss_slow" "$SLOW_CLIENTS" <<'PY'
import sys
rows = {}
print(f"{'run':36} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  errors")
for line in open(sys.argv[1]):
    name, rps, p50, p99, errors = (line.rstrip("\n").split("\t") + [""])[:5]
    rows[name] = dict(rps=float(rps), p50=float(p50), p99=float(p99))
    print(f"{name:36} {float(rps):8.0f} {float(p50):8.3f} {float(p99):8.3f}  {errors}")
chaos = max(rows["through chaos, no toxics"]["rps"], rows["through chaos, no toxics (again)"]["rps"])
haproxy = max(rows["through haproxy (tcp mode)"]["rps"], rows["through haproxy (again)"]["rps"])
lat = rows["chaos + latency 100 ms"]
added = rows["through chaos, 1 connection"]["p50"] - rows["direct (nginx), 1 connection"]["p50"]
added_haproxy = rows["through haproxy, 1 connection"]["p50"] - rows["direct (nginx), 1 connection"]["p50"]
rss_load, before, slow, clients = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
per_client = (slow - before) * 1024 / clients
print()
print(f"chaos RSS after the load runs: {rss_load:.1f} MB; with {clients} slow consumers: {slow:.1f} MB "
      f"(+{per_client:.0f} KiB per connection)")
checks = [
    ("throughput through chaos >= haproxy (best of two each)", chaos / haproxy, chaos >= haproxy),
    ("added p50 latency <= 0.2 ms (1 connection; haproxy adds %.3f)" % added_haproxy, added, added <= 0.2),
    ("latency toxic 100 ms: p50 in 100 +/- 2 ms", lat["p50"], 98 <= lat["p50"] <= 102),
    ("latency toxic 100 ms: p99 <= 105 ms", lat["p99"], lat["p99"] <= 105),
    ("memory per slow consumer <= 512 KiB", per_client, per_client <= 512),
]
print()
for name, value, ok in checks:
    print(f"{'met ' if ok else 'MISSED'} {name}: {value:.3f}")
PY
