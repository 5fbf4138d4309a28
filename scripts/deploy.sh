#!/usr/bin/env bash
# Deploys the chart, proves it with helm test, and rolls back if the smoke test fails:
#
#   scripts/deploy.sh RELEASE NAMESPACE IMAGE_REPOSITORY TAG VALUES_FILE
#
# `helm upgrade --install --rollback-on-failure --wait=watcher` already undoes an upgrade whose
# Pods never become ready. This adds the second gate: the chart's smoke test (lab smoke: /readyz,
# /characters with data, /metrics parses). If it fails, the release goes back to the revision that
# was deployed before, and the script exits 1 so that the pipeline stops.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -ne 5 ]; then
    echo "usage: scripts/deploy.sh RELEASE NAMESPACE IMAGE_REPOSITORY TAG VALUES_FILE" >&2
    exit 2
fi
release=$1 namespace=$2 repository=$3 tag=$4 values=$5
if ! [[ "$tag" =~ ^(sha-[0-9a-f]{12}|[0-9]+\.[0-9]+\.[0-9]+)$ ]]; then
    echo "deploy: image tag '$tag' is neither sha-<12 hex digits> nor X.Y.Z" >&2
    exit 2
fi
[ -f "$values" ] || { echo "deploy: no values file $values" >&2; exit 2; }

previous=$(helm history "$release" -n "$namespace" -o json 2>/dev/null |
    jq -r '[.[] | select(.status == "deployed")] | last | .revision // empty' || true)
echo "deploy: $release in $namespace: $repository:$tag (deployed revision before: ${previous:-none})"

helm upgrade --install "$release" helm/rickmortylab -n "$namespace" --create-namespace \
    -f "$values" --set image.repository="$repository" --set image.tag="$tag" --set image.digest="" \
    --rollback-on-failure --wait=watcher --timeout 10m

if ! helm test "$release" -n "$namespace" --logs --timeout 5m; then
    if [ -n "$previous" ]; then
        echo "deploy: the smoke test failed; rolling back to revision $previous" >&2
        helm rollback "$release" "$previous" -n "$namespace" --wait=watcher --timeout 10m
    else
        echo "deploy: the smoke test failed on the first install; there is no revision to go back to" >&2
    fi
    exit 1
fi
echo "deploy: $release is at $repository:$tag and passed helm test"
