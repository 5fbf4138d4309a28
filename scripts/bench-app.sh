#!/usr/bin/env bash
# Benchmarks rickmorty-api (release build) against nginx serving the identical response bytes,
# in the same run, on loopback: requests/s, p50/p99, server CPU per request, RSS, start-to-ready.
# Servers are pinned to CPU 0 and wrk to CPU 1 so each side has one core of this 2-core machine.
# Every wrk run is bounded (DURATION seconds, CONNECTIONS connections); everything started here
# is stopped on exit.
#
#   scripts/bench-app.sh                # default 5 s per run
#   DURATION=10 scripts/bench-app.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
CHARACTERS=${CHARACTERS:-20000}
work=$(mktemp -d /tmp/rm-bench-XXXXXX)
chmod 755 "$work" # nginx workers and the postgres user read and write below it
pids=()
pg_dir=""

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$pg_dir" ]; then as_postgres "$pg_bin/pg_ctl" -D "$pg_dir" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

for tool in wrk nginx curl taskset python3; do
    command -v "$tool" >/dev/null || { echo "bench-app.sh: $tool is missing (sudo apt-get install -y wrk nginx-light curl util-linux)" >&2; exit 1; }
done
pg_bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || { echo "bench-app.sh: PostgreSQL server binaries are missing (sudo apt-get install -y postgresql)" >&2; exit 1; }

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# run_wrk NAME PID URL [LUA] -> one result line in $work/results
run_wrk() {
    local name=$1 pid=$2 url=$3 script=${4:-}
    local before after out requests
    before=$(cpu_ticks "$pid")
    if [ -n "$script" ]; then
        out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$url")
    else
        out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
    fi
    after=$(cpu_ticks "$pid")
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    local non2xx
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    python3 - "$name" "$requests" "$((after - before))" "$(getconf CLK_TCK)" "$(rss_kb "$pid")" "${non2xx:-0}" <<PY >>"$work/results"
import sys, re
name, requests, ticks, hz, rss, non2xx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
out = """$out"""
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
def lat(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
cpu_us = ticks / hz / max(requests, 1) * 1e6
print(f"{name}\t{rps:.0f}\t{lat(50):.3f}\t{lat(99):.3f}\t{cpu_us:.1f}\t{rss/1024:.1f}\t{non2xx}")
PY
    say "$(tail -n 1 "$work/results")"
}

say "release build (static Swift runtime, as the container image ships it)"
swift build -c release --static-swift-stdlib --product rickmorty-api >&2
swift build -c release --static-swift-stdlib --product fake-upstream >&2
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

say "FakeUpstream with $CHARACTERS characters"
up_port=$(free_port)
"$bin/fake-upstream" --port "$up_port" --characters "$CHARACTERS" >"$work/upstream.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$up_port/api" 30

say "throwaway PostgreSQL cluster"
pg_dir="$work/pg"
pg_port=$(free_port)
mkdir -p "$pg_dir"
[ "$(id -u)" != 0 ] || chown postgres "$work" "$pg_dir"
as_postgres "$pg_bin/initdb" -D "$pg_dir" -U rm -A trust -E UTF8 --no-locale --no-sync >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$pg_dir" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null

# start_app NAME DATABASE_URL LOG_LEVEL PAGE_CACHE_MAX -> sets app_pid, app_port
start_app() {
    app_port=$(free_port)
    # MALLOC_ARENA_MAX=2: as the container image and Helm chart run it (fewer glibc arenas, flatter RSS).
    env MALLOC_ARENA_MAX=2 PORT="$app_port" HOST=127.0.0.1 DATABASE_URL="$2" LOG_LEVEL="$3" PAGE_CACHE_MAX="$4" \
        UPSTREAM_BASE_URL="http://127.0.0.1:$up_port/api" DB_POOL_SIZE=4 \
        taskset -c 0 "$bin/rickmorty-api" >"$work/$1.log" 2>&1 &
    app_pid=$!
    pids+=("$app_pid")
    wait_for "http://127.0.0.1:$app_port/readyz" 30
    wait_for_data "$1" "$app_port"
}

stop_app() {
    kill "$app_pid"
    wait "$app_pid" 2>/dev/null || true
}

cat >"$work/miss.lua" <<'LUA'
-- Cycles over many distinct pages and both sort keys; run against an App whose page cache is
-- off, so every request is a database read.
local counter = 0
request = function()
  counter = counter + 1
  local page = (counter % 110) + 1
  local sort = (counter % 2 == 0) and "id" or "name"
  return wrk.format("GET", "/characters?page=" .. page .. "&sort=" .. sort)
end
LUA

printf 'run\treq/s\tp50_ms\tp99_ms\tcpu_us/req\trss_MB\tnon2xx\n' >"$work/results"

say "App on SQLite, LOG_LEVEL=warning"
start_app sqlite-warn "sqlite:$work/rm.sqlite" warning 256
hit_url="http://127.0.0.1:$app_port/characters?page=1&page_size=20"
curl -fs "$hit_url" -o "$work/page.json"
curl -fs "http://127.0.0.1:$app_port/healthz" -o "$work/healthz.json"
curl -fs "http://127.0.0.1:$app_port/characters?page=7&sort=name" -o "$work/miss.json"
run_wrk "app cache hit (sqlite, log=warning)" "$app_pid" "$hit_url"
run_wrk "app /healthz (log=warning)" "$app_pid" "http://127.0.0.1:$app_port/healthz"
stop_app

say "nginx (1 worker, access_log off) serving the identical bytes"
mkdir -p "$work/www"
cp "$work/page.json" "$work/www/characters"
cp "$work/healthz.json" "$work/www/healthz"
cp "$work/miss.json" "$work/www/miss"
nginx_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/json;
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/www;
        location / { try_files \$uri =404; }
    }
}
NGINX
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_for "http://127.0.0.1:$nginx_port/healthz" 10
worker_pid=$(pgrep -P "$nginx_pid" | head -n 1)
run_wrk "nginx same bytes (page 1)" "$worker_pid" "http://127.0.0.1:$nginx_port/characters"
run_wrk "nginx same bytes (healthz)" "$worker_pid" "http://127.0.0.1:$nginx_port/healthz"
run_wrk "nginx same bytes (a miss page)" "$worker_pid" "http://127.0.0.1:$nginx_port/miss"

say "App on SQLite, LOG_LEVEL=info (access log on, to a file)"
start_app sqlite-info "sqlite:$work/rm.sqlite" info 256
run_wrk "app cache hit (sqlite, log=info)" "$app_pid" "http://127.0.0.1:$app_port/characters?page=1&page_size=20"
stop_app

say "App on SQLite, page cache off: cache-miss mix"
start_app sqlite-miss "sqlite:$work/rm.sqlite" warning 0
run_wrk "app cache miss (sqlite)" "$app_pid" "http://127.0.0.1:$app_port" "$work/miss.lua"
stop_app

say "App on PostgreSQL, page cache off: cache-miss mix"
start_app pg-miss "postgres://rm@127.0.0.1:$pg_port/postgres" warning 0
run_wrk "app cache miss (postgres)" "$app_pid" "http://127.0.0.1:$app_port" "$work/miss.lua"
stop_app

say "start to ready on a populated database (median of 5)"
times=()
for _ in 1 2 3 4 5; do
    port=$(free_port)
    start=$(date +%s%N)
    env PORT="$port" HOST=127.0.0.1 DATABASE_URL="sqlite:$work/rm.sqlite" LOG_LEVEL=warning \
        UPSTREAM_BASE_URL="http://127.0.0.1:$up_port/api" "$bin/rickmorty-api" >/dev/null 2>&1 &
    pid=$!
    pids+=("$pid")
    until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.005; done
    times+=($((($(date +%s%N) - start) / 1000000)))
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done
ready_ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)

echo
column -t -s $'\t' "$work/results"
echo "start to ready (sqlite, populated): ${ready_ms} ms (runs: ${times[*]})"
echo
python3 - "$work/results" "$ready_ms" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]).read().splitlines()[1:]:
    name, rps, p50, p99, cpu, rss, non2xx = line.split("\t")
    rows[name] = dict(rps=float(rps), p50=float(p50), p99=float(p99), rss=float(rss))
ng = rows["nginx same bytes (page 1)"]
ngm = rows["nginx same bytes (a miss page)"]
hit = rows["app cache hit (sqlite, log=warning)"]
checks = [
    ("cache-hit req/s >= 0.6 x nginx", hit["rps"] / ng["rps"], hit["rps"] >= 0.6 * ng["rps"]),
    ("cache-hit p99 <= 2 x nginx", hit["p99"] / ng["p99"], hit["p99"] <= 2 * ng["p99"]),
    ("cache-miss req/s >= 0.25 x nginx (sqlite)", rows["app cache miss (sqlite)"]["rps"] / ngm["rps"], rows["app cache miss (sqlite)"]["rps"] >= 0.25 * ngm["rps"]),
    ("cache-miss req/s >= 0.25 x nginx (postgres)", rows["app cache miss (postgres)"]["rps"] / ngm["rps"], rows["app cache miss (postgres)"]["rps"] >= 0.25 * ngm["rps"]),
    ("RSS under load <= 40 MB (max of app runs)", max(v["rss"] for k, v in rows.items() if k.startswith("app")), max(v["rss"] for k, v in rows.items() if k.startswith("app")) <= 40),
    ("start to ready <= 500 ms", float(sys.argv[2]), float(sys.argv[2]) <= 500),
]
for name, value, ok in checks:
    print(f"{'PASS' if ok else 'MISS'}  {name}: {value:.2f}")
PY
