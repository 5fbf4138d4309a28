#!/usr/bin/env bash
# Benchmarks fake-upstream (release build) serving /api/character?page=N, behaving, on loopback,
# and its memory with 100 000 characters. The server is pinned to CPU 0 and wrk to CPU 1; each
# wrk run is bounded (DURATION seconds). Compare req/s with the App's cache-miss rate from
# scripts/bench-app.sh: FakeUpstream must never be the bottleneck of an App benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
work=$(mktemp -d /tmp/rm-bench-fu-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
say() { printf '==> %s\n' "$*" >&2; }

for tool in wrk curl taskset python3; do
    command -v "$tool" >/dev/null || { echo "bench-fake-upstream.sh: $tool is missing" >&2; exit 1; }
done

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

say "release build"
swift build -c release --static-swift-stdlib --product fake-upstream >&2
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

cat >"$work/pages.lua" <<'LUA'
-- Cycles over every page of the 826-character dataset, as an ingest does.
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/api/character?page=" .. ((counter % 42) + 1))
end
LUA

# run COUNT -> prints "characters req/s p50 p99 rss_MB"
run() {
    local port pid out
    port=$(free_port)
    taskset -c 0 "$bin/fake-upstream" --port "$port" --characters "$1" >"$work/fu.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    until curl -fs -o /dev/null "http://127.0.0.1:$port/api"; do sleep 0.05; done
    out=$(taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" --latency -s "$work/pages.lua" "http://127.0.0.1:$port")
    local rss
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    echo "$out" | python3 -c '
import re, sys
out = sys.stdin.read()
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
print(f"{sys.argv[1]}\t{rps:.0f}\t{lat(50):.3f}\t{lat(99):.3f}\t{int(sys.argv[2]) / 1024:.1f}")
' "$1" "$rss"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

say "826 characters (pages 1-42 in turn), then 100 000 characters"
{
    printf 'characters\treq/s\tp50_ms\tp99_ms\trss_MB\n'
    run 826
    run 100000
} | column -t -s $'\t'
