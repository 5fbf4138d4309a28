#!/usr/bin/env bash
# Helpers the benchmark scripts share; sourced, not run. A script sets `work` (its scratch
# folder) and adds what it starts to `pids`; `bench_cleanup` (its EXIT trap) stops all of it.

pids=()
pg_dir=""

bench_cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$pg_dir" ]; then as_postgres "$pg_bin/pg_ctl" -D "$pg_dir" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "${work:?}"
}

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# find_postgres: sets pg_bin to the newest local PostgreSQL server binaries, or exits saying so.
find_postgres() {
    pg_bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [ -x "$pg_bin/initdb" ] || {
        echo "$(basename "$0"): PostgreSQL server binaries are missing (sudo apt-get install -y postgresql)" >&2
        exit 1
    }
}

# start_postgres SERVER SETTING...: a throwaway cluster in $work/pg on a free port (user rm,
# trust, fsync off, TCP on 127.0.0.1 only); sets pg_dir, pg_port and pg_pid (the postmaster).
start_postgres() {
    pg_dir="$work/pg"
    pg_port=$(free_port)
    mkdir -p "$pg_dir"
    [ "$(id -u)" != 0 ] || chown postgres "$work" "$pg_dir"
    as_postgres "$pg_bin/initdb" -D "$pg_dir" -U rm -A trust -E UTF8 --no-locale --no-sync >/dev/null
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir" -l "$pg_dir/server.log" -w \
        -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off $*" start >/dev/null
    # shellcheck disable=SC2034 # read by the sourcing script
    pg_pid=$(head -n 1 "$pg_dir/postmaster.pid")
}

# start_haproxy PORT: haproxy 2.6 in TCP mode with one thread, on CPU 0, relaying a free port to
# 127.0.0.1:PORT; sets haproxy_port and haproxy_pid.
start_haproxy() {
    haproxy_port=$(free_port)
    cat >"$work/haproxy.cfg" <<HAPROXY
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen web
    bind 127.0.0.1:$haproxy_port
    server nginx 127.0.0.1:$1
HAPROXY
    taskset -c 0 haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
    haproxy_pid=$!
    pids+=("$haproxy_pid")
}

say() { printf '==> %s\n' "$*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # url [timeout seconds, default 10]
    local deadline=$((SECONDS + ${2:-10}))
    until curl -fs -o /dev/null "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "$(basename "$0"): $1 did not answer" >&2; exit 1; }
        sleep 0.05
    done
}

cpu_ticks() { # pid -> utime+stime in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# wait_for_data NAME PORT: until the App on PORT serves characters (its first ingest is done).
wait_for_data() {
    local deadline=$((SECONDS + 60))
    until curl -fs "http://127.0.0.1:$2/characters" | grep -q '"total_count":[1-9]'; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "$(basename "$0"): $1 never ingested" >&2; exit 1; }
        sleep 0.1
    done
}
