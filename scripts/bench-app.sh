#!/usr/bin/env bash
# Measures the App and Chaos against the limits of this machine, in one run, on loopback:
#
#   cache hit            App `/characters?page=1&page_size=20` from its page cache
#                        vs nginx (1 worker, access_log off) serving the identical bytes
#   cache miss, SQLite   App with the page cache off, 200 distinct pages of 10, both sort keys
#                        vs nginx serving a page of the same size
#   cache miss, Postgres the same mix on PostgreSQL
#                        vs pgbench -M prepared running the App's own page query (read back from
#                        pg_stat_statements) on the same server, as many clients as the App's pool
#   chaos pass-through   a 1 KiB file through `chaos --threads 1` with no toxics
#                        vs haproxy in TCP mode with nbthread 1; and the p50 each adds on one
#                        connection
#
# plus the cache hit with the access log on (LOG_LEVEL=info, to a file), the same bytes from
# `bench-floor` (Hummingbird's HTTP/1 server and one responder, nothing else: the framework's own
# cost, which the App cannot go below), the App's RSS idle and under load, and start to ready. Every row runs ROUNDS times, alternating the App and its
# reference (A B, then B A), because this machine swings 10-20 % from run to run; the report
# gives min/median/max of each and of the ratio within a round. Servers are pinned to CPU 0,
# the load generator to CPU 1 (PostgreSQL is not pinned, for the App and pgbench alike).
# Every run is bounded: DURATION seconds with CONNECTIONS connections (PROXY_CONNECTIONS for the
# proxies). Everything started here is stopped on exit.
#
#   scripts/bench-app.sh                    # ROUNDS=3 DURATION=10: about 8 minutes
#   ROUNDS=1 DURATION=3 scripts/bench-app.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
PROXY_CONNECTIONS=${PROXY_CONNECTIONS:-32}
CHARACTERS=${CHARACTERS:-20000}
POOL=5 # the App's default DB_POOL_SIZE; pgbench gets as many clients
work=$(mktemp -d /tmp/rm-bench-XXXXXX)
chmod 755 "$work" # nginx workers and the postgres user read and write below it
trap bench_cleanup EXIT

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

for tool in wrk nginx haproxy pgbench curl taskset python3; do
    command -v "$tool" >/dev/null || {
        echo "bench-app.sh: $tool is missing (sudo apt-get install -y wrk nginx-light haproxy postgresql curl util-linux)" >&2
        exit 1
    }
done
find_postgres

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# The CPU clock ticks of PostgreSQL's postmaster and every backend it has now.
pg_ticks() {
    local total=0 pid
    for pid in $pg_pid $(pgrep -P "$pg_pid"); do
        total=$((total + $(cpu_ticks "$pid" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# record ROW SIDE ROUND RPS P50 P99 SERVER_TICKS REQUESTS DB_TICKS RSS
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$work/results.tsv"
    say "$(printf '%-20s %-9s round %s: %8.0f req/s  p50 %s ms  p99 %s ms' "$1" "$2" "$3" "$4" "$5" "$6")"
}

# run_wrk ROW SIDE ROUND PID URL CONNECTIONS [LUA]: one bounded wrk run against a server process.
run_wrk() {
    local row=$1 side=$2 round=$3 pid=$4 url=$5 connections=$6 script=${7:-}
    local before db_before out threads=$THREADS
    [ "$connections" -ge "$threads" ] || threads=1
    before=$(cpu_ticks "$pid")
    db_before=$(pg_ticks)
    out=$(taskset -c 1 wrk -t"$threads" -c"$connections" -d"${DURATION}s" --latency ${script:+-s "$script"} "$url")
    local ticks=$(($(cpu_ticks "$pid") - before)) db_ticks=$(($(pg_ticks) - db_before))
    if echo "$out" | grep -q -E 'Non-2xx|Socket errors'; then
        echo "bench-app.sh: $row ($side) had errors:" >&2
        echo "$out" >&2
        exit 1
    fi
    # shellcheck disable=SC2046 # the parser prints four words
    record "$row" "$side" "$round" $(echo "$out" | python3 -c '
import re, sys
out = sys.stdin.read()
def ms(p):
    value, unit = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % p, out, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
requests = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
print(f"{rps:.0f} {ms(50):.3f} {ms(99):.3f} __TICKS__ {requests}")
' | sed "s/__TICKS__/$ticks/") "$db_ticks" "$(rss_mb "$pid")"
}

# run_pgbench ROUND: the App's page query straight on the server, the same mix of pages and keys.
run_pgbench() {
    local db_before out
    db_before=$(pg_ticks)
    out=$(taskset -c 1 pgbench -n -M prepared -c "$POOL" -j 2 -T "$DURATION" -h 127.0.0.1 -p "$pg_port" -U rm \
        -f "$work/page-id.sql@1" -f "$work/page-name.sql@1" postgres 2>&1)
    local db_ticks=$(($(pg_ticks) - db_before))
    # shellcheck disable=SC2046
    record "cache miss, postgres" "reference" "$1" $(echo "$out" | python3 -c '
import re, sys
out = sys.stdin.read()
tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
average = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
requests = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
print(f"{tps:.0f} {average:.3f} - 0 {requests}")
') "$db_ticks" "-"
}

say "release build (static Swift runtime, as the container image ships it)"
for product in rickmorty-api fake-upstream chaos bench-floor; do
    swift build -c release --static-swift-stdlib --product "$product" >&2
done
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

say "FakeUpstream with $CHARACTERS characters"
up_port=$(free_port)
"$bin/fake-upstream" --port "$up_port" --characters "$CHARACTERS" >"$work/upstream.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$up_port/api" 30

say "throwaway PostgreSQL cluster (CSV log, to read back the App's page query)"
start_postgres -c logging_collector=on -c log_destination=csvlog -c "log_directory=$work/pg/log" \
    -c log_filename=pg.log
psql_rm() { psql -X -q -A -t -h 127.0.0.1 -p "$pg_port" -U rm -d postgres "$@"; }

# start_app NAME DATABASE_URL LOG_LEVEL PAGE_CACHE_MAX -> sets app_pid, app_port
start_app() {
    app_port=$(free_port)
    # MALLOC_ARENA_MAX=2: as the container image and Helm chart run it (fewer glibc arenas, flatter
    # RSS). No refresh during the runs: each App ingests once at start.
    env MALLOC_ARENA_MAX=2 PORT="$app_port" HOST=127.0.0.1 DATABASE_URL="$2" LOG_LEVEL="$3" PAGE_CACHE_MAX="$4" \
        UPSTREAM_BASE_URL="http://127.0.0.1:$up_port/api" DB_POOL_SIZE="$POOL" REFRESH_INTERVAL=3600 \
        taskset -c 0 "$bin/rickmorty-api" >"$work/$1.log" 2>&1 &
    app_pid=$!
    pids+=("$app_pid")
    wait_for "http://127.0.0.1:$app_port/readyz" 30
    wait_for_data "$1" "$app_port"
}

say "four Apps: SQLite with the cache (log off, then on), SQLite and PostgreSQL without it"
start_app hit "sqlite:$work/rm.sqlite" warning 256
hit_pid=$app_pid hit_port=$app_port
start_app logged "sqlite:$work/rm.sqlite" info 256
logged_pid=$app_pid logged_port=$app_port
start_app sqlite-miss "sqlite:$work/rm.sqlite" warning 0
sqlite_pid=$app_pid sqlite_port=$app_port
start_app pg-miss "postgres://rm@127.0.0.1:$pg_port/postgres" warning 0
pg_app_pid=$app_pid pg_app_port=$app_port
hit_path="/characters?page=1&page_size=20"
curl -fs "http://127.0.0.1:$hit_port$hit_path" -o "$work/page.json"
curl -fs "http://127.0.0.1:$hit_port/characters?page=7&page_size=10&sort=name" -o "$work/miss.json"
curl -fs "http://127.0.0.1:$logged_port$hit_path" -o /dev/null
sleep 2 # let the just-started Apps settle before reading idle memory; nothing to wait on
idle_rss=$(rss_mb "$hit_pid")

cat >"$work/miss.lua" <<'LUA'
-- 200 distinct pages of 10, each under both sort keys, in turn; the App's page cache is off,
-- so every request reads the database.
local counter = 0
request = function()
  counter = counter + 1
  local page = (math.floor(counter / 2) % 200) + 1
  local sort = (counter % 2 == 0) and "id" or "name"
  return wrk.format("GET", "/characters?page=" .. page .. "&page_size=10&sort=" .. sort)
end
LUA

say "the App's page query, as PostgreSQL logs it during a short warm-up"
psql_rm -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
run_wrk "warm-up" app 0 "$pg_app_pid" "http://127.0.0.1:$pg_app_port" 4 "$work/miss.lua" 2>/dev/null
psql_rm -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
: >"$work/results.tsv"
# Each key's statement as the App prepared it, with $1 (LIMIT) and $2 (OFFSET) as pgbench variables.
python3 - "$pg_dir/log/pg.csv" "$work" <<'PY'
import csv, re, sys
found = {}
for row in csv.reader(open(sys.argv[1], newline="")):
    match = re.match(r"execute [^:]+: (SELECT m\.row_count.*)", row[13], re.S) if len(row) > 13 else None
    if match:
        sql = " ".join(match.group(1).split())
        key = "name" if sql.endswith("ORDER BY c.name_rank ASC") else "id" if sql.endswith("ORDER BY c.id_rank ASC") else None
        if key:
            found[key] = sql.replace("$1", ":limit").replace("$2", ":offset")
for key in ("id", "name"):
    if key not in found:
        sys.exit(f"bench-app.sh: the App's page query by {key} is not in PostgreSQL's log")
    with open(f"{sys.argv[2]}/page-{key}.sql", "w") as out:
        out.write("\\set offset random(0, 199) * 10\n\\set limit 10\n" + found[key] + "\n")
PY
say "pgbench runs: $(tail -n 1 "$work/page-name.sql")"

say "nginx (1 worker, access_log off), bench-floor, haproxy (TCP, nbthread 1) and chaos (--threads 1)"
mkdir -p "$work/www"
cp "$work/page.json" "$work/www/hit"
cp "$work/miss.json" "$work/www/miss"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/www/kib"
nginx_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
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
pids+=($!)
wait_for "http://127.0.0.1:$nginx_port/kib" 10
nginx_pid=$(pgrep -P "${pids[-1]}" | head -n 1)

start_haproxy "$nginx_port"
wait_for "http://127.0.0.1:$haproxy_port/kib" 10

floor_port=$(free_port)
taskset -c 0 "$bin/bench-floor" "$floor_port" "$work/page.json" >"$work/floor.log" 2>&1 &
floor_pid=$!
pids+=("$floor_pid")
wait_for "http://127.0.0.1:$floor_port/" 10
cmp -s "$work/page.json" <(curl -fs "http://127.0.0.1:$floor_port/") || { echo "bench-app.sh: bench-floor serves other bytes" >&2; exit 1; }

chaos_port=$(free_port)
taskset -c 0 "$bin/chaos" --port "$chaos_port" --threads 1 >"$work/chaos.log" 2>&1 &
chaos_pid=$!
pids+=("$chaos_pid")
wait_for "http://127.0.0.1:$chaos_port/version" 10
proxy_port=$(free_port)
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$chaos_port/proxies" \
    -d "{\"name\":\"web\",\"listen\":\"127.0.0.1:$proxy_port\",\"upstream\":\"127.0.0.1:$nginx_port\"}"

# Each row's two sides, as commands taking the round; `pair` runs them in alternating order.
hit_app() { run_wrk "cache hit" app "$1" "$hit_pid" "http://127.0.0.1:$hit_port$hit_path" "$CONNECTIONS"; }
hit_ref() { run_wrk "cache hit" reference "$1" "$nginx_pid" "http://127.0.0.1:$nginx_port/hit" "$CONNECTIONS"; }
sqlite_app() { run_wrk "cache miss, sqlite" app "$1" "$sqlite_pid" "http://127.0.0.1:$sqlite_port" "$CONNECTIONS" "$work/miss.lua"; }
sqlite_ref() { run_wrk "cache miss, sqlite" reference "$1" "$nginx_pid" "http://127.0.0.1:$nginx_port/miss" "$CONNECTIONS"; }
pg_app() { run_wrk "cache miss, postgres" app "$1" "$pg_app_pid" "http://127.0.0.1:$pg_app_port" "$CONNECTIONS" "$work/miss.lua"; }
pg_ref() { run_pgbench "$1"; }
proxy_app() { run_wrk "chaos pass-through" app "$1" "$chaos_pid" "http://127.0.0.1:$proxy_port/kib" "$PROXY_CONNECTIONS"; }
proxy_ref() { run_wrk "chaos pass-through" reference "$1" "$haproxy_pid" "http://127.0.0.1:$haproxy_port/kib" "$PROXY_CONNECTIONS"; }
one_app() { run_wrk "one connection" app "$1" "$chaos_pid" "http://127.0.0.1:$proxy_port/kib" 1; }
one_ref() { run_wrk "one connection" reference "$1" "$haproxy_pid" "http://127.0.0.1:$haproxy_port/kib" 1; }
pair() { # ROUND APP REFERENCE
    if [ $(($1 % 2)) = 1 ]; then "$2" "$1"; "$3" "$1"; else "$3" "$1"; "$2" "$1"; fi
}
for round in $(seq 1 "$ROUNDS"); do
    say "round $round of $ROUNDS"
    pair "$round" hit_app hit_ref
    rss_mb "$hit_pid" >>"$work/load-rss"
    echo >>"$work/load-rss"
    run_wrk "cache hit, logged" app "$round" "$logged_pid" "http://127.0.0.1:$logged_port$hit_path" "$CONNECTIONS"
    run_wrk "cache hit, floor" app "$round" "$floor_pid" "http://127.0.0.1:$floor_port$hit_path" "$CONNECTIONS"
    pair "$round" sqlite_app sqlite_ref
    pair "$round" pg_app pg_ref
    pair "$round" proxy_app proxy_ref
    run_wrk "one connection" direct "$round" "$nginx_pid" "http://127.0.0.1:$nginx_port/kib" 1
    pair "$round" one_app one_ref
done

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

python3 scripts/bench-report.py "$work/results.tsv" "$(getconf CLK_TCK)" "$idle_rss" "$(sort -n "$work/load-rss" | tail -n 1)" \
    "$ready_ms" "$ROUNDS" "$DURATION" "$THREADS" "$CONNECTIONS" "$PROXY_CONNECTIONS"
