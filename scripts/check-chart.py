#!/usr/bin/env python3
"""Checks the Helm chart (helm/rickmortylab) without a cluster or a helm binary.

Helm 4's own SDK (PyPI helm-python-sdk) lints and renders the chart for three values files:
the defaults, ci/lab-values.yaml and ci/production-values.yaml. Then:

- `helm lint --strict` finds nothing above "info";
- every rendered manifest passes `kubernetes-validate --strict` for the Kubernetes version the
  Kind cluster pins; ServiceMonitor and PrometheusRule (CRDs, which it cannot check) are checked
  field by field below;
- the PrometheusRule's groups are exactly ops/alerts/rules.yaml's, and pass `promtool check rules`;
  the dashboard ConfigMap holds exactly ops/grafana/dashboard.json;
- the ServiceMonitor's job label is the job the rules select;
- probes, shutdown, security context and rollout settings are what the chart promises;
- every App variable of docs/api.md can be set from values.config, and nothing else can;
- bad values are refused with a message that names them (one case per rule).
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

from chartlib import chart, chart_dir, find, helm, quiet_symlink_notes, render, root, values_file

kind_config = yaml.safe_load((root / "kind" / "cluster.yaml").read_text())
# The node image's tag (kindest/node:v1.33.1@sha256:…) is the Kubernetes version to validate for.
node_image = kind_config["nodes"][0]["image"]
kube_version = re.search(r":v(\d+\.\d+\.\d+)", node_image).group(1)
problems = []


def problem(text):
    problems.append(text)


# --- lint and Kubernetes schemas, for every values file -------------------------------------------
variants = {"defaults": None, "lab": "lab-values.yaml", "production": "production-values.yaml"}
rendered = {}
for label, name in variants.items():
    values = values_file(name)
    with quiet_symlink_notes():
        report = helm.lint(chart_dir, values, strict=True, kube_version=f"v{kube_version}")
    for message in report["messages"]:
        if message["severity"] >= 2:
            problem(f"helm lint --strict ({label}): {message['path']}: {message['error'].strip()}")
    objects = render(values)
    rendered[label] = objects
    standard = [obj for _, obj in objects if obj["kind"] not in ("ServiceMonitor", "PrometheusRule")]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump_all(standard, handle)
    result = subprocess.run(
        ["kubernetes-validate", "--strict", "-k", kube_version, handle.name], capture_output=True, text=True
    )
    pathlib.Path(handle.name).unlink()
    if result.returncode != 0 or "ERROR" in result.stdout:
        problem(f"kubernetes-validate --strict -k {kube_version} ({label}):\n{result.stdout}{result.stderr}")
    kinds = sorted({obj["kind"] for _, obj in objects})
    print(f"chart ({label}): {len(objects)} objects ({', '.join(kinds)}) lint clean, valid for Kubernetes {kube_version}")

defaults, lab, production = rendered["defaults"], rendered["lab"], rendered["production"]
# The App's variables and their defaults, from docs/api.md's Configuration table (a Swift test
# keeps that table equal to AppConfig.settings).
table = (root / "docs" / "api.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
app_defaults = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]*?) \|", table, re.MULTILINE))

# --- the CRD objects, field by field --------------------------------------------------------------
duration = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
rules_file = yaml.safe_load((root / "ops" / "alerts" / "rules.yaml").read_text())
(service_monitor,) = find(production, "ServiceMonitor")
(app_service,) = find(production, "Service", "api")
spec = service_monitor["spec"]
for key in spec:
    if key not in ("jobLabel", "namespaceSelector", "selector", "endpoints"):
        problem(f"ServiceMonitor: unexpected field spec.{key}")
if not all(duration.match(e.get("interval", "1m")) and duration.match(e.get("scrapeTimeout", "10s")) for e in spec["endpoints"]):
    problem("ServiceMonitor: an endpoint's interval or scrapeTimeout is not a Prometheus duration")
port_names = {port["name"] for port in app_service["spec"]["ports"]}
if not all(e["port"] in port_names for e in spec["endpoints"]):
    problem(f"ServiceMonitor: endpoints name ports {[e['port'] for e in spec['endpoints']]}, the Service has {port_names}")
if spec["selector"]["matchLabels"].items() - app_service["metadata"]["labels"].items():
    problem("ServiceMonitor: its selector does not match the App's Service")
job = app_service["metadata"]["labels"].get(spec["jobLabel"])
selected_jobs = set(re.findall(r'job="([^"]+)"', (root / "ops" / "alerts" / "rules.yaml").read_text()))
if selected_jobs != {job}:
    problem(f"ServiceMonitor gives job={job!r} (Service label {spec['jobLabel']}); the rules select {selected_jobs}")

(prometheus_rule,) = find(production, "PrometheusRule")
if prometheus_rule["spec"]["groups"] != rules_file["groups"]:
    problem("PrometheusRule: its groups differ from ops/alerts/rules.yaml")
for group in prometheus_rule["spec"]["groups"]:
    for rule in group["rules"]:
        if set(rule) - {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}:
            problem(f"PrometheusRule: unexpected keys in {rule.get('alert') or rule.get('record')}")
        if "for" in rule and not duration.match(rule["for"]):
            problem(f"PrometheusRule: {rule['alert']}: for {rule['for']!r} is not a duration")
        for mapping in ("labels", "annotations"):
            if not all(isinstance(v, str) for v in rule.get(mapping, {}).values()):
                problem(f"PrometheusRule: {rule.get('alert')}: {mapping} must be strings")
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
    yaml.safe_dump({"groups": prometheus_rule["spec"]["groups"]}, handle)
result = subprocess.run(["promtool", "check", "rules", handle.name], capture_output=True, text=True)
pathlib.Path(handle.name).unlink()
if result.returncode != 0:
    problem("PrometheusRule: promtool check rules failed:\n" + result.stdout + result.stderr)

(dashboard,) = [cm for cm in find(production, "ConfigMap") if cm["metadata"]["name"].endswith("-dashboard")]
if json.loads(dashboard["data"]["rickmortylab.json"]) != json.loads((root / "ops" / "grafana" / "dashboard.json").read_text()):
    problem("dashboard ConfigMap differs from ops/grafana/dashboard.json")
if dashboard["metadata"]["labels"].get("grafana_dashboard") != "1":
    problem("dashboard ConfigMap lacks the Grafana sidecar's label grafana_dashboard: \"1\"")

# --- what every App Deployment promises ------------------------------------------------------------
for label, objects in rendered.items():
    (deployment,) = find(objects, "Deployment", "api")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "rickmorty-api"]
    where = f"App Deployment ({label})"
    if container["startupProbe"]["httpGet"]["path"] != "/readyz" or container["readinessProbe"]["httpGet"]["path"] != "/readyz":
        problem(f"{where}: startup and readiness probes must ask /readyz")
    if container["livenessProbe"]["httpGet"]["path"] != "/healthz":
        problem(f"{where}: the liveness probe must ask /healthz")
    env = {e["name"]: e.get("value") for e in container["env"]}
    grace = sum(float(env.get(name) or app_defaults[name]) for name in ("SHUTDOWN_GRACE", "SHUTDOWN_DRAIN_DELAY"))
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    if pod["terminationGracePeriodSeconds"] <= sleep + grace:
        problem(f"{where}: terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} <= preStop {sleep} + drain {grace}")
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    if (rolling["maxUnavailable"], rolling["maxSurge"]) != (0, 1):
        problem(f"{where}: rolling update must be maxUnavailable 0, maxSurge 1, is {rolling}")
    security = container["securityContext"]
    if not (security["readOnlyRootFilesystem"] and security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]):
        problem(f"{where}: container securityContext is not read-only, no-escalation, drop ALL")
    if not (pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"):
        problem(f"{where}: pod securityContext must be runAsNonRoot with seccomp RuntimeDefault")
    hpa = find(objects, "HorizontalPodAutoscaler")
    if hpa and "replicas" in deployment["spec"]:
        problem(f"{where}: replicas is set although the HPA owns it")
    if not hpa and "replicas" not in deployment["spec"]:
        problem(f"{where}: replicas is missing")
    for other in objects:
        for c in other[1].get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if c.get(probe, {}).get("httpGet", {}).get("path") == "/healthcheck":
                    problem(f"{other[1]['metadata']['name']}: {probe} uses the deep /healthcheck")

# The chart owns DATABASE_URL's Secret (lab) → checksum annotation; your existingSecret → none.
lab_pod = find(lab, "Deployment", "api")[0]["spec"]["template"]["metadata"]
if "checksum/database-secret" not in lab_pod.get("annotations", {}):
    problem("lab: the App's pods carry no checksum of the chart's database Secret")
production_deployment = find(production, "Deployment", "api")[0]
if "checksum/database-secret" in (production_deployment["spec"]["template"]["metadata"].get("annotations") or {}):
    problem("production: a checksum annotation although the Secret is not the chart's")
if any(s["metadata"]["name"].endswith("-database") for s in find(production, "Secret")):
    problem("production: the chart renders a database Secret although existingSecret is set")
production_env = {e["name"]: e for e in production_deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
if production_env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] != {"name": "rickmorty-database", "key": "url"}:
    problem(f"production: DATABASE_URL does not come from existingSecret: {production_env['DATABASE_URL']}")
if not find(defaults, "PodDisruptionBudget"):
    problem("PodDisruptionBudget: missing with the default 2 replicas")
if find(render({"replicaCount": 1}), "PodDisruptionBudget"):
    problem("PodDisruptionBudget: rendered for a single replica (it would block every node drain)")

# Every App setting is settable from values.config, and the names are the App's own.
documented = list(app_defaults)
settable = set(chart.values["config"]) | {"DATABASE_URL", "HOST", "PORT"}
schema_keys = set(chart.schema["properties"]["config"]["properties"])
if set(documented) != settable or schema_keys != set(chart.values["config"]):
    problem(
        "values.config and docs/api.md's variables differ: "
        f"missing {sorted(set(documented) - settable)}, unknown {sorted(settable - set(documented))}, "
        f"schema vs values {sorted(schema_keys ^ set(chart.values['config']))}"
    )

# --- bad values are refused, each with a message that names what is wrong ---------------------------
refusals = [
    ("replicas 0", {"replicaCount": 0}, "/replicaCount"),
    (
        "url and existingSecret both",
        {"database": {"type": "postgresql", "postgresql": {"url": "postgres://rm:pw@db:5432/rm", "existingSecret": "mine"}}},
        "/database/postgresql/existingSecret",
    ),
    ("an unknown log level", {"config": {"LOG_LEVEL": "verbose"}}, "/config/LOG_LEVEL"),
    ("a probe path without /", {"probes": {"readiness": {"path": "readyz"}}}, "/probes/readiness/path"),
    ("a misspelt App variable", {"config": {"DB_POOLSIZE": "3"}}, "DB_POOLSIZE"),
    ("a duration that is not a number", {"config": {"REFRESH_INTERVAL": "ten"}}, "/config/REFRESH_INTERVAL"),
    ("an unknown top-level key", {"replicas": 3}, "replicas"),
    ("postgresql without a URL", {"database": {"type": "postgresql"}}, "set database.postgresql.url or database.postgresql.existingSecret"),
    (
        "a grace period shorter than the drain",
        {"lifecycle": {"terminationGracePeriodSeconds": 12}},
        "terminationGracePeriodSeconds (12) must be greater than",
    ),
    ("DATABASE_URL through extraEnv", {"extraEnv": [{"name": "DATABASE_URL", "value": "x"}]}, "/extraEnv/0/name"),
]
for what, values, expected in refusals:
    try:
        render(values)
    except helm.HelmError as error:
        if expected not in str(error):
            problem(f"{what}: refused, but the message does not name {expected!r}: {error}")
    else:
        problem(f"{what}: accepted, should be refused")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"chart: PrometheusRule = ops/alerts/rules.yaml, dashboard = ops/grafana/dashboard.json; {len(refusals)} kinds of bad values refused")
