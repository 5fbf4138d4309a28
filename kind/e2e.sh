#!/usr/bin/env bash
# The end-to-end run in a Kind cluster, on a laptop with Docker or in GitHub Actions
# (.github/workflows/e2e-kind.yml):
#
#   kind/e2e.sh
#
#  1. create the Kind cluster of kind/cluster.yaml (or use it if it exists);
#  2. build the image and `kind load` it;
#  3. install the chart with helm/rickmortylab/ci/lab-values.yaml and wait for every rollout;
#  4. `helm test` (the chart's smoke test);
#  5. port-forward the App, Chaos and FakeUpstream and run the Tests/E2E suite against them;
#  6. a rolling restart of the App under load through its Service: no request may fail;
#  7. one App Pod killed under load: requests keep succeeding (a client retrying a refused
#     connection, as HTTP clients do for a GET) and the Deployment heals back to its replicas;
#  8. delete the cluster (KEEP_CLUSTER=1 keeps it).
# On failure, diagnostics go to $ARTIFACTS (default kind-artifacts/): `kind export logs`, events,
# descriptions, and every Pod's logs including the previous container's.
#
# Needs docker, kind, kubectl, helm (4.x) and Swift. Environment: CLUSTER (rickmortylab),
# NAMESPACE (lab), RELEASE (rml), IMAGE (rickmortylab:e2e), ARTIFACTS, KEEP_CLUSTER, SKIP_BUILD=1
# (the image is already built).
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=${CLUSTER:-rickmortylab}
namespace=${NAMESPACE:-lab}
release=${RELEASE:-rml}
image=${IMAGE:-rickmortylab:e2e}
artifacts=${ARTIFACTS:-kind-artifacts}
fullname="$release-rickmortylab"
load_image=curlimages/curl:8.11.1
forwards=()

for tool in docker kind kubectl helm swift; do
    command -v "$tool" >/dev/null 2>&1 || { echo "e2e: $tool is not installed" >&2; exit 1; }
done
helm version --short | grep -q '^v4\.' || { echo "e2e: Helm 4 is needed (found $(helm version --short))" >&2; exit 1; }

say() { printf '\n==> %s\n' "$*"; }

diagnostics() {
    say "diagnostics into $artifacts"
    mkdir -p "$artifacts"
    kind export logs "$artifacts/kind" --name "$cluster" >/dev/null 2>&1 || true
    kubectl get all,configmaps,secrets,pdb,endpointslices -n "$namespace" -o wide >"$artifacts/objects.txt" 2>&1 || true
    kubectl get events -n "$namespace" --sort-by=.lastTimestamp >"$artifacts/events.txt" 2>&1 || true
    kubectl describe pods -n "$namespace" >"$artifacts/pods-described.txt" 2>&1 || true
    helm status "$release" -n "$namespace" --show-resources >"$artifacts/helm-status.txt" 2>&1 || true
    helm history "$release" -n "$namespace" >"$artifacts/helm-history.txt" 2>&1 || true
    local pod
    for pod in $(kubectl get pods -n "$namespace" -o name 2>/dev/null); do
        kubectl logs -n "$namespace" "$pod" --all-containers --prefix >"$artifacts/${pod#pod/}.log" 2>&1 || true
        kubectl logs -n "$namespace" "$pod" --all-containers --prefix --previous >"$artifacts/${pod#pod/}.previous.log" 2>/dev/null || true
    done
}

finish() {
    local status=$?
    for pid in "${forwards[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ "$status" -ne 0 ]; then
        echo "e2e: FAILED (status $status)" >&2
        diagnostics
    fi
    if [ "${KEEP_CLUSTER:-0}" != 1 ]; then
        kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
    fi
    exit "$status"
}
trap finish EXIT

say "cluster $cluster"
if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    kind create cluster --name "$cluster" --config kind/cluster.yaml --wait 120s
fi
kubectl cluster-info --context "kind-$cluster" >/dev/null

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    say "image $image"
    docker build -t "$image" --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" .
fi
kind load docker-image "$image" --name "$cluster"

say "helm upgrade --install $release (lab values)"
helm upgrade --install "$release" helm/rickmortylab -n "$namespace" --create-namespace \
    -f helm/rickmortylab/ci/lab-values.yaml \
    --set image.repository="${image%:*}" --set image.tag="${image##*:}" \
    --rollback-on-failure --wait=watcher --timeout 5m
for deployment in "$fullname" "$fullname-chaos" "$fullname-fake-upstream"; do
    kubectl rollout status -n "$namespace" "deployment/$deployment" --timeout=180s
done
kubectl rollout status -n "$namespace" "statefulset/$fullname-postgres" --timeout=180s

say "helm test"
helm test "$release" -n "$namespace" --logs --timeout 5m

# kubectl port-forward in the background; waits until the local port answers.
forward() {
    local target=$1 local_port=$2 remote_port=$3 path=$4
    kubectl port-forward -n "$namespace" "$target" "$local_port:$remote_port" >/dev/null 2>&1 &
    forwards+=("$!")
    local _
    for _ in $(seq 1 60); do
        curl -fsS -o /dev/null "http://127.0.0.1:$local_port$path" 2>/dev/null && return 0
        sleep 0.5
    done
    echo "e2e: port-forward to $target did not answer on $local_port" >&2
    return 1
}

say "E2E suite through port-forwards"
forward "svc/$fullname" 18000 8000 /readyz
forward "svc/$fullname-chaos" 18474 8474 /version
forward "svc/$fullname-fake-upstream" 18081 8081 /metrics
CHAOS_TOKEN=$(kubectl get secret -n "$namespace" "$fullname-chaos-token" -o jsonpath='{.data.CHAOS_TOKEN}' | base64 -d)
export CHAOS_TOKEN
swift build --build-tests
APP_URL=http://127.0.0.1:18000 CHAOS_URL=http://127.0.0.1:18474 FAKE_UPSTREAM_URL=http://127.0.0.1:18081 \
    swift test --skip-build --filter E2ETests

# A bounded load through the App's Service from inside the cluster: $1 requests, 20 a second;
# prints one line per failure and a summary line "requests=N failed=M".
start_load() {
    local name=$1 count=$2 curl_options=$3
    kubectl delete pod -n "$namespace" "$name" --ignore-not-found --wait=true >/dev/null
    kubectl run "$name" -n "$namespace" --image="$load_image" --restart=Never --quiet \
        --labels=app.kubernetes.io/name=rickmortylab-load \
        --overrides='{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":10001,"seccompProfile":{"type":"RuntimeDefault"}}}}' \
        --command -- sh -c "
            failed=0
            for i in \$(seq 1 $count); do
                code=\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 $curl_options 'http://$fullname:8000/characters?page=1') || true
                [ \"\$code\" = 200 ] || { failed=\$((failed + 1)); echo \"request \$i: \$code\"; }
                sleep 0.05
            done
            echo requests=$count failed=\$failed
            [ \$failed = 0 ]"
    kubectl wait -n "$namespace" --for=jsonpath='{.status.phase}'=Running "pod/$name" --timeout=120s >/dev/null
}

# Waits for a load Pod to finish; fails unless every request succeeded.
finish_load() {
    local name=$1 phase
    kubectl wait -n "$namespace" --for=jsonpath='{.status.phase}'=Succeeded "pod/$name" --timeout=300s >/dev/null || true
    kubectl logs -n "$namespace" "$name" | tail -n 20
    phase=$(kubectl get pod -n "$namespace" "$name" -o jsonpath='{.status.phase}')
    [ "$phase" = Succeeded ] || { echo "e2e: $name: requests failed (phase $phase)" >&2; return 1; }
}

# True while the load Pod is still sending: the fault must happen inside the load, not after it.
load_running() {
    [ "$(kubectl get pod -n "$namespace" "$1" -o jsonpath='{.status.phase}')" = Running ]
}

say "rolling restart under load: no request may fail"
start_load restart-load 1800 ""
kubectl rollout restart -n "$namespace" "deployment/$fullname"
kubectl rollout status -n "$namespace" "deployment/$fullname" --timeout=300s
load_running restart-load || { echo "e2e: the load ended before the rollout did; raise its count" >&2; exit 1; }
finish_load restart-load

say "one App Pod killed under load: the other replica serves, the Deployment heals"
start_load kill-load 900 "--retry 3 --retry-connrefused --retry-delay 0"
victim=$(kubectl get pods -n "$namespace" -l "app.kubernetes.io/instance=$release,app.kubernetes.io/component=api" -o jsonpath='{.items[0].metadata.name}')
kubectl delete pod -n "$namespace" "$victim" --grace-period=0 --force
kubectl rollout status -n "$namespace" "deployment/$fullname" --timeout=300s
kubectl wait -n "$namespace" --for=jsonpath='{.status.readyReplicas}'=2 "deployment/$fullname" --timeout=300s
if kubectl get pod -n "$namespace" "$victim" >/dev/null 2>&1; then
    echo "e2e: $victim is still there" >&2
    exit 1
fi
load_running kill-load || { echo "e2e: the load ended before the Deployment healed; raise its count" >&2; exit 1; }
finish_load kill-load

say "e2e: passed"
