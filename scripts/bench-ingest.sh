#!/usr/bin/env bash
# Measures a full ingest (release build, loopback): FakeUpstream with SIZES characters, the App
# started on an empty database (SQLite, then PostgreSQL), timed from its start until its first
# refresh has stored the data (`ingest_runs_total{result="success"}`), with the App's peak RSS
# (the kernel's high-water mark, VmHWM) and its RSS once done. The reference, in the same run,
# is curl fetching the same pages one after another on one connection: the walk alone, with no
# decoding or storing. Each case runs ROUNDS times; the report gives min/median/max.
#
#   scripts/bench-ingest.sh                          # SIZES="826 100000" ROUNDS=3
#   SIZES=100000 ROUNDS=1 scripts/bench-ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-826 100000}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/rm-bench-ingest-XXXXXX)
chmod 755 "$work"
trap bench_cleanup EXIT

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "bench-ingest.sh: $tool is missing (sudo apt-get install -y curl)" >&2; exit 1; }
done
find_postgres
kb() { awk -v key="^$2:" '$0 ~ key {print $2}' "/proc/$1/status"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

say "release build (static Swift runtime, as the container image ships it)"
for product in rickmorty-api fake-upstream; do
    swift build -c release --static-swift-stdlib --product "$product" >&2
done
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

say "throwaway PostgreSQL cluster"
start_postgres -c log_min_messages=warning
psql_rm() { psql -X -q -A -t -h 127.0.0.1 -p "$pg_port" -U rm -d postgres "$@"; }

printf 'case\tround\tms\tpeak_mb\tdone_mb\tstored\n' >"$work/results.tsv"
for size in $SIZES; do
    up_port=$(free_port)
    "$bin/fake-upstream" --port "$up_port" --characters "$size" >"$work/upstream-$size.log" 2>&1 &
    up_pid=$!
    pids+=("$up_pid")
    wait_for "http://127.0.0.1:$up_port/api" 30
    pages=$(curl -fs "http://127.0.0.1:$up_port/api/character" | python3 -c 'import json,sys; print(json.load(sys.stdin)["info"]["pages"])')
    say "$size characters, $pages pages"
    for round in $(seq 1 "$ROUNDS"); do
        start=$(now_ms)
        curl -fs "http://127.0.0.1:$up_port/api/character?page=[1-$pages]" >/dev/null
        printf 'walk with curl (%s)\t%s\t%s\t-\t-\t-\n' "$size" "$round" $(($(now_ms) - start)) >>"$work/results.tsv"
        for backend in sqlite postgres; do
            if [ "$backend" = sqlite ]; then
                database="sqlite:$work/ingest-$size-$round.sqlite"
            else
                psql_rm -c "DROP DATABASE IF EXISTS ingest" -c "CREATE DATABASE ingest"
                database="postgres://rm@127.0.0.1:$pg_port/ingest"
            fi
            port=$(free_port)
            start=$(now_ms)
            env MALLOC_ARENA_MAX=2 PORT="$port" HOST=127.0.0.1 DATABASE_URL="$database" LOG_LEVEL=warning \
                UPSTREAM_BASE_URL="http://127.0.0.1:$up_port/api" REFRESH_INTERVAL=3600 \
                "$bin/rickmorty-api" >"$work/app-$size-$backend-$round.log" 2>&1 &
            app_pid=$!
            pids+=("$app_pid")
            until curl -fs "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -q '^ingest_runs_total{result="success"} [1-9]'; do
                kill -0 "$app_pid" 2>/dev/null || { echo "bench-ingest.sh: the App exited" >&2; cat "$work/app-$size-$backend-$round.log" >&2; exit 1; }
                sleep 0.01
            done
            elapsed=$(($(now_ms) - start))
            stored=$(curl -fs "http://127.0.0.1:$port/healthcheck" | python3 -c 'import json,sys; print(json.load(sys.stdin)["character_count"])')
            printf 'App ingest, %s (%s)\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$size" "$round" "$elapsed" \
                "$(($(kb "$app_pid" VmHWM) / 1024))" "$(($(kb "$app_pid" VmRSS) / 1024))" "$stored" >>"$work/results.tsv"
            say "$(tail -n 1 "$work/results.tsv")"
            kill "$app_pid"
            wait "$app_pid" 2>/dev/null || true
        done
    done
    kill "$up_pid"
    wait "$up_pid" 2>/dev/null || true
done

python3 - "$work/results.tsv" <<'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]).read().splitlines()[1:]:
    name, _, ms, peak, done, stored = line.split("\t")
    rows[name].append((int(ms), peak, done, stored))
def spread(values):
    values = sorted(values)
    return " / ".join(str(v) for v in (values[0], statistics.median(values), values[-1]))
print("\n| case | ms (min / median / max) | peak RSS MB | RSS after MB | stored |\n|---|---:|---:|---:|---:|")
for name, runs in rows.items():
    peak = "-" if runs[0][1] == "-" else max(int(r[1]) for r in runs)
    done = "-" if runs[0][2] == "-" else max(int(r[2]) for r in runs)
    print(f"| {name} | {spread([r[0] for r in runs])} | {peak} | {done} | {runs[0][3]} |")
PY
