#!/usr/bin/env bash
# Runs the README's Quick start first command as written there, so that it cannot break unnoticed:
# takes the first line of the Quick start's code block, runs it on free ports with a throwaway
# state folder, waits until the App answers /readyz and /characters, stops it with
# `scripts/lab down`, and checks that every process it started (PostgreSQL included) is gone.
set -euo pipefail
cd "$(dirname "$0")/.."

# The first command of the first ```sh block after "## Quick start", without its comment.
command_line=$(awk '
    /^## Quick start/ { section = 1; next }
    section && /^```sh/ { block = 1; next }
    block { sub(/[[:space:]]*#.*/, ""); print; exit }
' README.md)
if [ "$command_line" != "scripts/lab up" ]; then
    echo "check-quickstart: the Quick start's first command is '$command_line'; this check knows 'scripts/lab up'" >&2
    exit 1
fi

state=$(mktemp -d "${TMPDIR:-/tmp}/rm-quickstart.XXXXXX")
# mktemp makes the folder 0700; as root the lab runs PostgreSQL as the postgres user, who must reach it.
chmod 755 "$state"
output="$state.out"
lab_pid=""
cleanup() {
    if [ -n "$lab_pid" ] && kill -0 "$lab_pid" 2>/dev/null; then
        scripts/lab down --state-dir "$state" >/dev/null 2>&1 || kill "$lab_pid" 2>/dev/null || true
        wait "$lab_pid" 2>/dev/null || true
    fi
    rm -rf "$state" "$output"
}
trap cleanup EXIT

free_ports=(--app-port 0 --chaos-port 0 --fake-upstream-port 0 --postgres-port 0
    --upstream-proxy-port 0 --postgres-proxy-port 0)
echo "check-quickstart: $command_line --state-dir $state ${free_ports[*]}"
# shellcheck disable=SC2086 # the command line is split into words as a shell would
$command_line --state-dir "$state" "${free_ports[@]}" >"$output" 2>&1 &
lab_pid=$!

# lab.json appears once the App is ready; the first build can take minutes.
deadline=$((SECONDS + 600))
until [ -f "$state/lab.json" ]; do
    if ! kill -0 "$lab_pid" 2>/dev/null; then
        echo "check-quickstart: '$command_line' exited before the lab was ready; its output:" >&2
        cat "$output" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "check-quickstart: the lab was not ready within 600 s; its output:" >&2
        cat "$output" >&2
        exit 1
    fi
    sleep 0.5
done

# The URLs and processes the lab recorded, and PostgreSQL's postmaster pid when it runs one.
read -r app pids postmaster < <(python3 - "$state/lab.json" <<'EOF'
import json, os, sys
record = json.load(open(sys.argv[1]))
pids = ",".join(str(p["pid"]) for p in record["processes"]) + f",{record['supervisor']}"
postmaster = "none"
if record.get("postgresData"):
    with open(os.path.join(record["postgresData"], "postmaster.pid")) as f:
        postmaster = f.readline().strip()
print(record["app"], pids, postmaster)
EOF
)

status() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
ready=$(status "$app/readyz")
characters=$(status "$app/characters?page=1&page_size=5")
echo "check-quickstart: $app/readyz → $ready, /characters → $characters"

scripts/lab down --state-dir "$state"
lab_status=0
wait "$lab_pid" || lab_status=$?
lab_pid=""

failed=0
[ "$ready" = 200 ] || { echo "check-quickstart: /readyz answered $ready, expected 200" >&2; failed=1; }
[ "$characters" = 200 ] || { echo "check-quickstart: /characters answered $characters, expected 200" >&2; failed=1; }
[ "$lab_status" = 0 ] || { echo "check-quickstart: lab up exited with $lab_status after lab down" >&2; failed=1; }
IFS=, read -r -a started <<<"$pids"
[ "$postmaster" = none ] || started+=("$postmaster")
# A zombie has exited; only its parent (or init) has not collected it yet.
running() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
for pid in "${started[@]}"; do
    if running "$pid"; then
        echo "check-quickstart: process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) is still running after lab down" >&2
        failed=1
    fi
done
if [ "$failed" != 0 ]; then
    echo "check-quickstart: the lab's output:" >&2
    cat "$output" >&2
    exit 1
fi
echo "check-quickstart: ok (${#started[@]} processes started and stopped)"
