#!/usr/bin/env bash
# Compares two rickmorty-api executables on one path in the same run, so the machine's drift
# (10-20 % between runs here) hits both alike: A B, B A, A B, ... ROUNDS rounds, each a bounded wrk run
# against 127.0.0.1 (App pinned to CPU 0, wrk to CPU 1), on the same SQLite data ingested from a
# local fake-upstream. Prints every run, the median requests/s of each with the ratio B/A, and
# the App's CPU time per request (steadier than requests/s when the machine is busy).
#
#   scripts/bench-compare.sh OLD_BINARY NEW_BINARY            # cache hit, /characters?page=1&page_size=20
#   URL_PATH=/healthz ROUNDS=5 DURATION=10 scripts/bench-compare.sh A B
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 2 ] || { echo "usage: scripts/bench-compare.sh BINARY_A BINARY_B" >&2; exit 2; }
a=$1 b=$2
for binary in "$a" "$b"; do
    [ -x "$binary" ] || { echo "bench-compare.sh: $binary is not an executable" >&2; exit 2; }
done
for tool in wrk curl taskset python3; do
    command -v "$tool" >/dev/null || { echo "bench-compare.sh: $tool is missing (sudo apt-get install -y wrk curl util-linux)" >&2; exit 1; }
done
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
URL_PATH=${URL_PATH:-/characters?page=1&page_size=20}

work=$(mktemp -d /tmp/rm-compare-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

say "fake-upstream (debug build is enough: it only feeds the first ingest)"
swift build --product fake-upstream >&2
up_port=$(free_port)
"$(swift build --show-bin-path)/fake-upstream" --port "$up_port" --characters 826 >"$work/upstream.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$up_port/api" 30

# run NAME BINARY: start the App on the shared database, wait for data, one wrk run, stop.
run() {
    local name=$1 binary=$2 port pid out
    port=$(free_port)
    env MALLOC_ARENA_MAX=2 PORT="$port" HOST=127.0.0.1 DATABASE_URL="sqlite:$work/rm.sqlite" LOG_LEVEL=warning \
        UPSTREAM_BASE_URL="http://127.0.0.1:$up_port/api" taskset -c 0 "$binary" >"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_for "http://127.0.0.1:$port/readyz" 30
    wait_for_data "$name" "$port"
    curl -fs -o /dev/null "http://127.0.0.1:$port$URL_PATH" # warm the page cache
    local before after
    before=$(cpu_ticks "$pid")
    out=$(taskset -c 1 wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$port$URL_PATH")
    after=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    local rps p99 requests cpu_us
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    # The App's user+system CPU over the run, per request: steadier than req/s on a busy machine.
    cpu_us=$(python3 -c "print(f'{($after - $before) / $(getconf CLK_TCK) / max($requests, 1) * 1e6:.1f}')")
    printf '%s\t%s\t%s\t%s\n' "$name" "$rps" "$p99" "$cpu_us" >>"$work/results"
    say "$name: $rps req/s, p99 $p99, $cpu_us µs CPU per request"
}

say "$ROUNDS rounds (A B, then B A, alternating), ${DURATION}s each, $CONNECTIONS connections, $URL_PATH"
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
        run A "$a"
        run B "$b"
    else
        run B "$b"
        run A "$a"
    fi
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
a = [float(r[1]) for r in rows if r[0] == "A"]
b = [float(r[1]) for r in rows if r[0] == "B"]
print("A req/s: " + ", ".join(f"{x:.0f}" for x in a) + f"  (median {statistics.median(a):.0f})")
print("B req/s: " + ", ".join(f"{x:.0f}" for x in b) + f"  (median {statistics.median(b):.0f})")
print(f"B/A: {statistics.median(b) / statistics.median(a):.3f} (medians); per round: "
      + ", ".join(f"{y / x:.3f}" for x, y in zip(a, b)))
ca = [float(r[3]) for r in rows if r[0] == "A"]
cb = [float(r[3]) for r in rows if r[0] == "B"]
print(f"CPU µs per request: A median {statistics.median(ca):.1f}, B median {statistics.median(cb):.1f}, "
      f"B/A {statistics.median(cb) / statistics.median(ca):.3f}")
PY
