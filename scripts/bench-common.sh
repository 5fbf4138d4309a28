#!/usr/bin/env bash
# Helpers the benchmark scripts share; sourced, not run. Each script sets `pids` (processes to
# stop on exit) itself.

say() { printf '==> %s\n' "$*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # url, timeout seconds
    local deadline=$((SECONDS + $2))
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
