"""Loading and rendering helm/rickmortylab with Helm 4's SDK (PyPI helm-python-sdk), shared by
check-chart.py and check-chart-run.py."""
import contextlib
import os
import pathlib
import sys
import tempfile

import helm_python as helm
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
chart_dir = root / "helm" / "rickmortylab"
helm.disable_logging()


@contextlib.contextmanager
def quiet_symlink_notes():
    """Helm's Go code logs an INFO line to stderr for each symlinked file (files/rules.yaml and
    files/dashboard.json link to ops/ on purpose); pass through every other line it writes."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile("w+") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured:
                if "found symbolic link in path" not in line:
                    sys.stderr.write(line)


with quiet_symlink_notes():
    chart = helm.Chart.load(chart_dir)


def render(values, name="rml", namespace="lab"):
    """Rendered objects of one release, as (template, object) pairs."""
    with quiet_symlink_notes():
        manifests = chart.render(values, name=name, namespace=namespace, is_install=True)
    objects = []
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append((template, document))
    return objects


def values_file(name):
    """A values file from helm/rickmortylab/ci, or the chart's defaults for None."""
    return yaml.safe_load((chart_dir / "ci" / name).read_text()) if name else {}


def find(objects, kind, component=None):
    """The rendered objects of one kind (and app.kubernetes.io/component)."""
    return [
        obj
        for _, obj in objects
        if obj["kind"] == kind
        and (component is None or obj["metadata"]["labels"].get("app.kubernetes.io/component") == component)
    ]
