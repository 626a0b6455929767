#!/usr/bin/env python3
"""Checks the deploy files (deploy/) against the binary, as far as this machine can without Docker
or Kubernetes: every YAML parses; the Deployment's, the ServingRuntime's and the Dockerfile's
command lines are ones `nnhost` accepts (each is run for real, with its addresses moved to
127.0.0.1:0 and its models folder to ./models, until ready; then SIGTERM must exit 0); the ports
they listen on are the ports the manifests declare and the Service targets; the probes' paths
answer 200 on the running server; the environment variables the Dockerfile sets are ones nnhost
reads.

Usage: check_deploy.py --nnhost BIN
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def port_of(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def run_for_real(nnhost: str, args: list[str], probes: list[str], where: str) -> None:
    """Start `nnhost ARGS` locally (addresses and models folder moved), probe it, SIGTERM it."""
    local = list(args)
    for f in ("--http", "--grpc"):
        if f in local:
            local[local.index(f) + 1] = "127.0.0.1:0"
    if "--models" in local:
        local[local.index("--models") + 1] = str(ROOT / "models")
    env = dict(os.environ)
    p = subprocess.Popen([nnhost, *local], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        listening = ready = None
        for _ in range(4):
            line = p.stdout.readline()
            if not line:
                break
            ev = json.loads(line)
            if ev.get("event") == "listening":
                listening = ev
            if ev.get("event") == "ready":
                ready = ev
                break
        check(ready is not None, f"{where}: `nnhost {' '.join(args)}` starts and gets ready"
              + ("" if ready else f" (stderr: {p.stderr.read()[-300:] if p.poll() is not None else 'still running'})"))
        if ready:
            for path in probes:
                try:
                    code = urllib.request.urlopen(f"http://{listening['http']}{path}", timeout=10).status
                except Exception as e:  # noqa: BLE001
                    code = str(e)
                check(code == 200, f"{where}: probe {path} answers 200 (got {code})")
        p.send_signal(signal.SIGTERM)
        try:
            code = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = "still running 60 s after SIGTERM"
        check(code == 0, f"{where}: SIGTERM exits 0 (got {code})")
    finally:
        if p.poll() is None:
            p.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nnhost", required=True)
    a = ap.parse_args()

    docs = {}
    for f in sorted(DEPLOY.rglob("*.yaml")):
        try:
            docs[f.relative_to(ROOT)] = [d for d in yaml.safe_load_all(f.read_text()) if d]
            check(True, f"{f.relative_to(ROOT)} parses")
        except yaml.YAMLError as e:
            check(False, f"{f.relative_to(ROOT)} parses: {e}")
    by_kind = {}
    for path, ds in docs.items():
        for d in ds:
            by_kind.setdefault(d.get("kind"), []).append((path, d))

    # The Deployment: container args, declared ports, probes; the Service targets those ports.
    for path, dep in by_kind.get("Deployment", []):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        args = c.get("args", [])
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        check(port_of(flag(args, "--http")) == ports.get("http"), f"{path}: --http port is the `http` containerPort")
        check(port_of(flag(args, "--grpc")) == ports.get("grpc"), f"{path}: --grpc port is the `grpc` containerPort")
        probes = []
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            pr = c.get(kind)
            if pr:
                probes.append(pr["httpGet"]["path"])
                check(pr["httpGet"]["port"] in ("http", ports.get("http")), f"{path}: {kind} probes the http port")
        check("/v2/health/ready" in probes and "/v2/health/live" in probes, f"{path}: liveness and readiness on the OIP health paths")
        for spath, svc in by_kind.get("Service", []):
            for sp in svc["spec"]["ports"]:
                tp = sp.get("targetPort", sp["port"])
                check(tp in ports or tp in ports.values(), f"{spath}: targetPort {tp} is a container port")
        run_for_real(a.nnhost, args, probes, str(path))

    # The KServe ServingRuntime: its args run, and listen on the ports KServe expects (8080, 9000).
    for path, rt in by_kind.get("ServingRuntime", []):
        c = rt["spec"]["containers"][0]
        args = c.get("args", [])
        check(port_of(flag(args, "--http")) == 8080, f"{path}: REST on KServe's port 8080")
        check(port_of(flag(args, "--grpc")) == 9000, f"{path}: gRPC on KServe's port 9000")
        check(any(f.get("name") == "onnx" for f in rt["spec"].get("supportedModelFormats", [])), f"{path}: serves the onnx format")
        run_for_real(a.nnhost, args, ["/v2/health/live", "/v2/health/ready"], str(path))
    for path, isvc in by_kind.get("InferenceService", []):
        check(isvc["spec"]["predictor"]["model"].get("protocolVersion") == "v2", f"{path}: protocolVersion v2")

    # The Dockerfile: its default command runs; the variables it sets are ones nnhost reads.
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])", dockerfile, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (\[.*\])", dockerfile, re.M).group(1))
    check(entry[-1].endswith("nnhost"), "deploy/Dockerfile: the entrypoint is nnhost")
    exposed = {int(p) for p in re.search(r"^EXPOSE (.*)$", dockerfile, re.M).group(1).split()}
    check({port_of(flag(cmd, "--http")), port_of(flag(cmd, "--grpc"))} == exposed, "deploy/Dockerfile: EXPOSE matches the CMD's ports")
    src = "".join(p.read_text() for p in (ROOT / "src").rglob("*.rs"))
    for var in re.findall(r"\b(NNHOST_[A-Z_]+)=", dockerfile):
        check(f'"{var}"' in src, f"deploy/Dockerfile: nnhost reads {var}")
    run_for_real(a.nnhost, cmd, ["/v2/health/live", "/v2/health/ready"], "deploy/Dockerfile CMD")

    print(f"check_deploy: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
