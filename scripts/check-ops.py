#!/usr/bin/env python3
"""Checks ops/ beyond what promtool checks by itself:

- every alert has a severity label, a summary and a runbook_url whose #anchor is a heading of
  ops/RUNBOOK.md;
- every alert has promtool test cases in ops/alerts/tests/ where it fires and where it does not;
- every query of ops/grafana/dashboard.json parses as PromQL (through `promtool check rules`, on a
  generated rules file with Grafana's interval variables replaced by 5m).
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

ops = pathlib.Path(__file__).resolve().parent.parent / "ops"
problems = []

rules = yaml.safe_load((ops / "alerts" / "rules.yaml").read_text())
alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def anchor(heading):
    # GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped.
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


anchors = {anchor(line.lstrip("#")) for line in (ops / "RUNBOOK.md").read_text().splitlines() if line.startswith("## ")}
for alert in alerts:
    name = alert["alert"]
    if not alert.get("labels", {}).get("severity"):
        problems.append(f"{name}: no severity label")
    annotations = alert.get("annotations", {})
    if not annotations.get("summary"):
        problems.append(f"{name}: no summary")
    url = annotations.get("runbook_url", "")
    if not re.search(r"/ops/RUNBOOK\.md#", url):
        problems.append(f"{name}: runbook_url does not point into ops/RUNBOOK.md: {url!r}")
    elif url.split("#", 1)[1] not in anchors:
        problems.append(f"{name}: runbook_url anchor #{url.split('#', 1)[1]} is not a section of RUNBOOK.md")

fires, quiet = set(), set()
for path in sorted((ops / "alerts" / "tests").glob("*.yaml")):
    for case in yaml.safe_load(path.read_text()).get("tests", []):
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
for alert in alerts:
    if alert["alert"] not in fires:
        problems.append(f"{alert['alert']}: no test case where it fires")
    if alert["alert"] not in quiet:
        problems.append(f"{alert['alert']}: no test case where it stays quiet")

dashboard = json.loads((ops / "grafana" / "dashboard.json").read_text())
exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
if not exprs:
    problems.append("dashboard.json has no queries")
# One dashboard for every environment in one Prometheus: each query picks its series through the
# job and namespace variables, never a job name written in.
# (Recorded series, `level:metric:operation`, are summed by namespace and carry no job.)
for expr in exprs:
    for metric, selector in re.findall(r"([a-zA-Z_:][\w:]*)\{([^}]*)\}", expr):
        wanted = ['namespace=~"$namespace"'] + ([] if ":" in metric else ['job="$job"'])
        if not all(label in selector for label in wanted):
            problems.append(f"dashboard query selects {metric}{{{selector}}}, not {', '.join(wanted)}: {expr}")
generated = {"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard:query_{i}", "expr": re.sub(r"\$__(rate_)?interval|\$__range", "5m", expr)}
    for i, expr in enumerate(exprs)]}]}
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
    yaml.safe_dump(generated, handle)
result = subprocess.run(["promtool", "check", "rules", handle.name], capture_output=True, text=True)
pathlib.Path(handle.name).unlink()
if result.returncode != 0:
    problems.append("dashboard queries do not parse:\n" + result.stdout + result.stderr)

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"ops: {len(alerts)} alerts with runbook sections and firing/quiet tests; {len(exprs)} dashboard queries parse")
