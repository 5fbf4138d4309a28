#!/usr/bin/env python3
"""Runs the chart's own container specs as local processes, the way a cluster would run them.

No container runtime runs here, so this stands in for one. It renders helm/rickmortylab with
ci/lab-values.yaml and, for every Pod the release would create (each Deployment replica and
StatefulSet member), starts each container's exact `command` and `args` with its `env`:

- `/usr/local/bin/<program>` is the same program from the debug build folder;
- the official postgres image (the container without a `command`) is imitated with the local
  server binaries: initdb with POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB, then `postgres`
  with the container's args (as the postgres user when run as root);
- every Pod gets its own loopback address (127.X.Y.N), which stands in for its Pod IP: `0.0.0.0`
  in its spec binds that address and `127.0.0.1` in its exec probes means it;
- a Service name (short or qualified) in any value becomes the address of the first Pod its
  selector matches, and its port the container port its targetPort names;
- Secret and ConfigMap references (env `valueFrom`, configMap volumes) are read from the rendered
  objects; every volume becomes a folder, and its mountPath in a value becomes that folder.

Each container is probed as the kubelet probes it: the startupProbe until it succeeds, then the
readinessProbe and livenessProbe, each at its own period, timeout and thresholds. A startup or
liveness probe that runs out of failures, or a process that exits, fails the run.

Once every Pod is ready it runs the chart's `helm test` Pod command (`lab smoke` through the
App's Service), checks that the characters were stored in the chart's PostgreSQL, runs the
baseline scenario (`lab scenario run baseline`) against the Services with the chart's
CHAOS_TOKEN, optionally E2E tests (APP_URL, CHAOS_URL, FAKE_UPSTREAM_URL, CHAOS_TOKEN), and then
terminates one App Pod as the kubelet does: the preStop sleep, SIGTERM, and the App must exit 0
within what is left of terminationGracePeriodSeconds.

Usage: scripts/check-chart-run.py [--e2e FILTER] [BINARY_FOLDER]
  BINARY_FOLDER   where the programs are (default: `swift build --show-bin-path`)
  --e2e FILTER    E2E tests to run as well (`swift test --filter`, e.g. `E2ETests` for the whole
                  suite); none by default
"""
import argparse
import base64
import os
import pathlib
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from chartlib import find, render, root, values_file

failures = []
failures_lock = threading.Lock()


def fail(text):
    with failures_lock:
        failures.append(text)
    print(f"FAIL {text}", flush=True)


def say(text):
    print(f"chart-run: {text}", flush=True)


# --- the release, as objects ------------------------------------------------------------------------
objects = render(values_file("lab-values.yaml"))
arguments = argparse.ArgumentParser(description="Run the chart's lab containers as local processes.")
arguments.add_argument("binaries", nargs="?", help="folder of the built programs")
arguments.add_argument("--e2e", default=None, help="swift test --filter for an E2E run as well")
options = arguments.parse_args()
if options.binaries:
    binaries = pathlib.Path(options.binaries).resolve()
else:
    binaries = pathlib.Path(subprocess.run(["swift", "build", "--show-bin-path"], cwd=root, capture_output=True, text=True, check=True).stdout.strip())
postgres_bin = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))[-1].parent
state = pathlib.Path(tempfile.mkdtemp(prefix="rml-chart-run-"))
state.chmod(0o755)  # the postgres user must reach its folder below
network = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}"


def decoded(secret):
    data = {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


secrets = {obj["metadata"]["name"]: decoded(obj) for obj in find(objects, "Secret")}
config_maps = {obj["metadata"]["name"]: obj.get("data") or {} for obj in find(objects, "ConfigMap")}


class Pod:
    def __init__(self, owner, index, template, address):
        self.name = f"{owner['metadata']['name']}-{index}"
        self.owner = owner
        self.labels = template["metadata"]["labels"]
        self.spec = template["spec"]
        self.address = address
        self.folder = state / self.name
        self.folder.mkdir()
        self.folder.chmod(0o755)


pods = []
for kind in ("StatefulSet", "Deployment"):
    for owner in find(objects, kind):
        for index in range(owner["spec"].get("replicas", 1)):
            pods.append(Pod(owner, index, owner["spec"]["template"], f"{network}.{len(pods) + 1}"))
(smoke_pod,) = [obj for obj in find(objects, "Pod") if obj["metadata"]["annotations"].get("helm.sh/hook") == "test"]


def container_port(pod, name_or_number):
    """A container port of `pod` by name (as a Service's targetPort or a probe names it) or number."""
    for container in pod.spec["containers"]:
        for port in container.get("ports", []):
            if name_or_number in (port.get("name"), port["containerPort"]):
                return port["containerPort"]
    raise SystemExit(f"chart-run: {pod.name} has no container port {name_or_number!r}")


# Service name → (address, {service port: container port}), through its selector.
services = {}
namespace = "lab"
for service in find(objects, "Service"):
    selector = service["spec"]["selector"]
    matching = [pod for pod in pods if selector.items() <= pod.labels.items()]
    if not matching:
        fail(f"Service {service['metadata']['name']}: its selector {selector} matches no Pod")
        continue
    target = matching[0]
    ports = {p["port"]: container_port(target, p.get("targetPort", p["port"])) for p in service["spec"]["ports"]}
    services[service["metadata"]["name"]] = (target.address, ports)


def resolve(text, pod=None, mounts=None):
    """`text` as seen from `pod`: Service names → Pod addresses, 0.0.0.0 → its own address,
    mount paths → the folders that stand in for them."""
    for name, (address, ports) in services.items():
        pattern = re.compile(rf"\b{re.escape(name)}(?:\.{namespace}(?:\.svc(?:\.cluster\.local)?)?)?(?::(\d+))?(?![\w.-])")

        def substitute(match, address=address, ports=ports):
            if match.group(1) is None:
                return address
            return f"{address}:{ports.get(int(match.group(1)), match.group(1))}"

        text = pattern.sub(substitute, text)
    if pod is not None:
        text = text.replace("0.0.0.0", pod.address)
    if mounts:
        # One pass, longest path first, so that a folder put in is never rewritten again.
        paths = "|".join(re.escape(path) for path in sorted(mounts, key=len, reverse=True))
        text = re.sub(rf"(?<![\w/])({paths})(?![\w.-])", lambda match: str(mounts[match.group(1)]), text)
    return text


def environment(container, pod=None, mounts=None):
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            value = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is None:
                fail(f"env {entry['name']}: Secret {ref['name']} has no key {ref['key']}")
                value = ""
        elif "configMapKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["configMapKeyRef"]
            value = config_maps.get(ref["name"], {}).get(ref["key"], "")
        else:
            raise SystemExit(f"chart-run: env {entry['name']}: {entry.get('valueFrom')} is not imitated here")
        env[entry["name"]] = resolve(str(value), pod, mounts)
    return env


def volume_folders(pod, container):
    """Each of the container's volumeMounts as a local folder; configMap volumes hold their keys."""
    volumes = {volume["name"]: volume for volume in pod.spec.get("volumes", [])}
    mounts = {}
    for mount in container.get("volumeMounts", []):
        folder = pod.folder / "volumes" / mount["name"]
        folder.mkdir(parents=True, exist_ok=True)
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            for key, value in config_maps[volume["configMap"]["name"]].items():
                (folder / key).write_text(resolve(value, pod))
        elif "emptyDir" not in volume:
            raise SystemExit(f"chart-run: volume {mount['name']} ({volume}) is not imitated here")
        mounts[mount["mountPath"]] = folder
    return mounts


# --- the containers as processes --------------------------------------------------------------------
as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def postgres_standin(pod, container, env, mounts):
    """The official postgres image's entrypoint, from local binaries: initdb, create POSTGRES_DB,
    then the server on the Pod's address with the container's args."""
    data = pathlib.Path(env.get("PGDATA") or resolve("/var/lib/postgresql/data", pod, mounts))
    sockets = pod.folder / "sockets"
    sockets.mkdir()
    password = pod.folder / "password"
    password.write_text(env["POSTGRES_PASSWORD"])
    if as_postgres:
        for path in (data.parent, sockets, password):
            shutil.chown(path, "postgres", "postgres")
    user = env.get("POSTGRES_USER", "postgres")
    subprocess.run(
        as_postgres + [str(postgres_bin / "initdb"), "-D", str(data), "-U", user, f"--pwfile={password}",
                       "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8"],
        check=True, capture_output=True,
    )
    database = env.get("POSTGRES_DB", user)
    if database != "postgres":
        subprocess.run(as_postgres + [str(postgres_bin / "postgres"), "--single", "-D", str(data), "postgres"],
                       input=f"CREATE DATABASE {database};\n", text=True, check=True, capture_output=True)
    server_args = [resolve(arg, pod, mounts) for arg in container.get("args", [])]
    return as_postgres + [str(postgres_bin / "postgres"), "-D", str(data), "-c", f"listen_addresses={pod.address}",
                          "-c", f"unix_socket_directories={sockets}"] + server_args


class Container:
    def __init__(self, pod, spec):
        self.pod, self.spec = pod, spec
        self.name = f"{pod.name}/{spec['name']}"
        self.ready = False
        self.started = False
        self.stopping = False
        mounts = volume_folders(pod, spec)
        env = environment(spec, pod, mounts)
        if "command" in spec:
            program = spec["command"][0]
            if not program.startswith("/usr/local/bin/"):
                raise SystemExit(f"chart-run: {self.name}: {program} is not one of the image's programs")
            command = [str(binaries / pathlib.Path(program).name)] + [resolve(a, pod, mounts) for a in spec["command"][1:] + spec.get("args", [])]
        elif re.match(r"(docker.io/)?(library/)?postgres:", spec["image"]):
            command = postgres_standin(pod, spec, env, mounts)
        else:
            raise SystemExit(f"chart-run: {self.name}: image {spec['image']} is not imitated here")
        self.log_path = pod.folder / f"{spec['name']}.log"
        self.log = open(self.log_path, "wb")
        # The image's WORKDIR is /data, which the App mounts; other containers start in their Pod's folder.
        workdir = mounts.get("/data", pod.folder)
        self.process = subprocess.Popen(command, env={"PATH": os.environ["PATH"], **env}, cwd=workdir,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.thread = threading.Thread(target=self.probe_loop, daemon=True)
        self.thread.start()

    def probe(self, probe):
        """One probe attempt, as the kubelet makes it; True on success."""
        timeout = probe.get("timeoutSeconds", 1)
        if "httpGet" in probe:
            get = probe["httpGet"]
            url = f"http://{self.pod.address}:{container_port(self.pod, get['port'])}{get.get('path', '/')}"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    return 200 <= response.status < 400
            except urllib.error.HTTPError as error:
                return 200 <= error.code < 400
            except (OSError, ValueError):
                return False
        if "tcpSocket" in probe:
            try:
                socket.create_connection((self.pod.address, container_port(self.pod, probe["tcpSocket"]["port"])), timeout).close()
                return True
            except OSError:
                return False
        if "exec" in probe:
            command = [arg.replace("127.0.0.1", self.pod.address) for arg in probe["exec"]["command"]]
            try:
                return subprocess.run(command, capture_output=True, timeout=timeout).returncode == 0
            except subprocess.TimeoutExpired:
                return False
        raise SystemExit(f"chart-run: {self.name}: probe {probe} is not imitated here")

    def probe_loop(self):
        startup = self.spec.get("startupProbe")
        readiness = self.spec.get("readinessProbe")
        liveness = self.spec.get("livenessProbe")
        failures_in_a_row = 0
        while startup and not self.stopping:
            if self.probe(startup):
                break
            failures_in_a_row += 1
            if failures_in_a_row >= startup.get("failureThreshold", 3):
                fail(f"{self.name}: startupProbe failed {failures_in_a_row} times in a row; the kubelet would restart it (log {self.log_path})")
                return
            time.sleep(startup.get("periodSeconds", 10))
        self.started = True
        say(f"{self.name} started")
        next_at = {"readiness": time.monotonic(), "liveness": time.monotonic()}
        counts = {"readiness": [0, 0], "liveness": [0, 0]}  # [successes in a row, failures in a row]
        if not readiness:
            self.ready = True
        while not self.stopping:
            now = time.monotonic()
            for kind, probe in (("readiness", readiness), ("liveness", liveness)):
                if not probe or now < next_at[kind]:
                    continue
                next_at[kind] = now + probe.get("periodSeconds", 10)
                counts[kind] = [counts[kind][0] + 1, 0] if self.probe(probe) else [0, counts[kind][1] + 1]
                if kind == "readiness":
                    if counts[kind][0] >= probe.get("successThreshold", 1):
                        self.ready = True
                    if counts[kind][1] >= probe.get("failureThreshold", 3):
                        self.ready = False
                elif counts[kind][1] >= probe.get("failureThreshold", 3) and not self.stopping:
                    fail(f"{self.name}: livenessProbe failed {counts[kind][1]} times in a row; the kubelet would restart it")
                    return
            time.sleep(0.1)

    def exited(self):
        return self.process.poll()


def stop_all(containers):
    for container in containers:
        container.stopping = True
        if container.exited() is None:
            os.killpg(container.process.pid, signal.SIGTERM)
    for container in containers:
        try:
            container.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(container.process.pid, signal.SIGKILL)
            container.process.wait()
        container.log.close()


def service_url(component, port_name):
    (service,) = [s for s in find(objects, "Service") if s["metadata"]["labels"].get("app.kubernetes.io/component") == component]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == port_name]
    return resolve(f"http://{service['metadata']['name']}:{port['port']}")


def main():
    say(f"{len(pods)} Pods on {network}.0/24, programs from {binaries}, state in {state}")
    containers = []
    try:
        for pod in pods:
            for spec in pod.spec["containers"]:
                containers.append(Container(pod, spec))
        budget = max(
            c.spec.get("startupProbe", {}).get("failureThreshold", 3) * c.spec.get("startupProbe", {}).get("periodSeconds", 10)
            for c in containers
        ) + 30
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline and not failures and not all(c.ready for c in containers):
            for container in containers:
                if container.exited() is not None:
                    fail(f"{container.name} exited with status {container.exited()} (log {container.log_path})")
            time.sleep(0.2)
        if not failures and not all(c.ready for c in containers):
            fail(f"not ready within {budget} s: {[c.name for c in containers if not c.ready]}")
        if failures:
            return
        say("every Pod is ready")

        # helm test: the chart's own smoke Pod command, through the App's Service.
        (smoke,) = smoke_pod["spec"]["containers"]
        command = [str(binaries / pathlib.Path(smoke["command"][0]).name)] + [resolve(a) for a in smoke.get("args", [])]
        result = subprocess.run(command, env={"PATH": os.environ["PATH"], **environment(smoke)}, capture_output=True, text=True, timeout=300)
        print(result.stdout + result.stderr, end="", flush=True)
        if result.returncode != 0:
            fail(f"helm test's smoke command {command} exited {result.returncode}")
            return

        # The characters are in the chart's PostgreSQL: DATABASE_URL, through Chaos, was honoured.
        (postgres_pod,) = [pod for pod in pods if pod.owner["kind"] == "StatefulSet"]
        (postgres_container,) = postgres_pod.spec["containers"]
        pg_env = environment(postgres_container)
        count = subprocess.run(
            ["psql", "-h", postgres_pod.address, "-p", str(container_port(postgres_pod, "postgres")), "-U", pg_env["POSTGRES_USER"],
             "-d", pg_env["POSTGRES_DB"], "-tAc", "SELECT count(*) FROM characters"],
            env={"PATH": os.environ["PATH"], "PGPASSWORD": pg_env["POSTGRES_PASSWORD"]}, capture_output=True, text=True,
        )
        if count.returncode != 0 or int(count.stdout.strip() or 0) == 0:
            fail(f"no characters in the chart's PostgreSQL: {count.stdout}{count.stderr}")
            return
        say(f"{count.stdout.strip()} characters stored in the chart's PostgreSQL")

        # The E2E suite's baseline scenario, against the Services.
        (chaos_token_secret,) = [name for name in secrets if name.endswith("-chaos-token")]
        e2e_env = {
            **os.environ,
            "APP_URL": service_url("api", "http"),
            "CHAOS_URL": service_url("chaos", "control"),
            "FAKE_UPSTREAM_URL": service_url("fake-upstream", "http"),
            "CHAOS_TOKEN": secrets[chaos_token_secret]["CHAOS_TOKEN"],
        }
        reports = tempfile.mkdtemp(prefix="rm-chart-scenario-")
        scenario = [str(binaries / "lab"), "scenario", "run", "baseline", "--app-url", e2e_env["APP_URL"],
                    "--chaos-url", e2e_env["CHAOS_URL"], "--fake-upstream-url", e2e_env["FAKE_UPSTREAM_URL"],
                    "--chaos-token", e2e_env["CHAOS_TOKEN"], "--report-dir", reports]
        say(f"scenario baseline against APP_URL={e2e_env['APP_URL']} CHAOS_URL={e2e_env['CHAOS_URL']} FAKE_UPSTREAM_URL={e2e_env['FAKE_UPSTREAM_URL']}")
        run = subprocess.run(scenario, cwd=root, capture_output=True, text=True, timeout=600)
        summary = pathlib.Path(reports, "summary.md")
        print(summary.read_text() if summary.exists() else run.stdout[-3000:], flush=True)
        shutil.rmtree(reports, ignore_errors=True)
        if run.returncode != 0:
            fail(f"the baseline scenario failed (exit {run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-2000:]}")
            return
        if options.e2e:
            say(f"E2E ({options.e2e}) against the same Services")
            e2e = subprocess.run(["swift", "test", "--skip-build", "--filter", options.e2e], cwd=root, env=e2e_env,
                                 capture_output=True, text=True, timeout=1800)
            summary_lines = [line for line in (e2e.stdout + e2e.stderr).splitlines() if line.startswith(("✔", "✘", "􀢄"))]
            print("\n".join(summary_lines), flush=True)
            if e2e.returncode != 0 or not any("passed" in line for line in summary_lines):
                fail(f"E2E ({options.e2e}) failed:\n{e2e.stdout[-4000:]}{e2e.stderr[-2000:]}")
                return

        # Termination as the kubelet does it, on the App Pod the Services do not point at.
        app_pods = [c for c in containers if c.spec["name"] == "rickmorty-api"]
        victim = app_pods[-1]
        pod_spec = victim.pod.spec
        sleep = victim.spec["lifecycle"]["preStop"]["sleep"]["seconds"]
        grace = pod_spec.get("terminationGracePeriodSeconds", 30)
        say(f"terminating {victim.name}: preStop sleep {sleep} s, then SIGTERM; grace period {grace} s")
        victim.stopping = True
        started = time.monotonic()
        time.sleep(sleep)  # the preStop hook *is* a sleep: the kubelet waits this long before the signal
        try:
            with urllib.request.urlopen(f"http://{victim.pod.address}:{container_port(victim.pod, 'http')}/characters", timeout=5) as response:
                if response.status != 200:
                    fail(f"{victim.name}: /characters answered {response.status} during preStop")
        except OSError as error:
            fail(f"{victim.name}: /characters failed during preStop: {error}")
        os.killpg(victim.process.pid, signal.SIGTERM)
        try:
            status = victim.process.wait(timeout=grace - sleep)
        except subprocess.TimeoutExpired:
            fail(f"{victim.name}: still running {grace} s after termination began; the kubelet would SIGKILL it")
            return
        took = time.monotonic() - started
        if status != 0:
            fail(f"{victim.name}: exited {status} after SIGTERM (log {victim.log_path})")
        else:
            say(f"{victim.name} exited 0, {took:.1f} s after termination began (grace {grace} s)")
        for container in containers:
            if container is not victim and container.exited() is not None:
                fail(f"{container.name} exited with status {container.exited()} during the run (log {container.log_path})")
    finally:
        stop_all(containers)
        if failures:
            for container in containers:
                tail = container.log_path.read_text(errors="replace")[-1500:] if container.log_path.exists() else ""
                print(f"--- {container.name} (last lines of {container.log_path})\n{tail}", file=sys.stderr)
        else:
            shutil.rmtree(state, ignore_errors=True)


main()
if failures:
    print(f"chart-run: {len(failures)} problem(s); state kept in {state}", file=sys.stderr)
    sys.exit(1)
print(f"chart-run: the lab values' containers ran, were probed ready and live, passed helm test and E2E ({options.e2e}), and drained in their grace period")
