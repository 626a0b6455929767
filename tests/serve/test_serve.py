#!/usr/bin/env python3
"""End-to-end test of `nnhost serve` (Open Inference Protocol / KServe v2, REST and gRPC) with the real
Triton client (tritonclient), per backend. Two ways to run the same checks:

    python -m pytest -v tests/serve/test_serve.py [--nnhost target/release/nnhost] [--backends ...]
                     [--hostile-plugin WASM] [--log-dir DIR] [-k WORDS]
    test_serve.py --nnhost target/release/nnhost [--backends tract,onnxruntime,openvino]
                  [--only REGEX] [--log-dir DIR] [--verbose]

With pytest (what tests/serve.rs runs; options in conftest.py) every check is its own test,
`test_check[<backend>: <check>]`, in the order below, the checks of one server sharing it. As a
script it prints one line per check, and can also test another OIP server (--attach-*, below).

For each backend it starts `nnhost serve --http 127.0.0.1:0 --grpc 127.0.0.1:0 --backend B
--max-concurrency 2 --queue 64` from the repository root (so ./models is found; NNHOST_CACHE_DIR and
the rest of the environment pass through), waits for its `ready` event, and checks: health, server
and model metadata (raw models against the ONNX graph), raw inference against `nnhost run` (HTTP
JSON, HTTP binary, gRPC), classification against `nnhost classify --json`, a mixed concurrent load,
bad requests (each answered with the right error, the server fine afterwards), /metrics, and SIGTERM
with requests in flight. Two more servers per backend: `--max-concurrency 1 --queue 1`
(backpressure: some requests get 503 / UNAVAILABLE, the rest succeed) and `--max-request-bytes
1000000` (413). On tract, three more run issue 24's attacks on the server itself with small serve
limits (`attack: ...`): stalled uploads against --max-buffered-bytes (server RSS from /proc), amplified
responses, a per-request deadline, protocol strictness, hang-ups and cancellations (gauges back to 0);
SIGTERM with stalled uploads (--drain-timeout 2); and waiting connections at `ulimit -n 128` (server
CPU time from /proc).

Prints one line per check, `ok  <check>` or `FAIL <check>: why`, and exits 1 if any failed.
--only REGEX runs the checks whose label matches (e.g. `--only 'tract.*classify'`); servers whose
checks are all filtered out are not started. Server stderr goes to --log-dir (default: a temporary
folder, kept and named at the end when something failed).

To try the checks against another OIP server (e.g. tests/serve/python_server.py serving `shapes`
and `mobilenet-v2` as raw models), --attach-http HOST:PORT --attach-grpc HOST:PORT skips starting
nnhost and the checks that need to own the process (backpressure, 413, SIGTERM); references then
come from `nnhost run` on --reference-backend (default onnxruntime).

No timing assertions: every wait is a generous timeout (ready 120 s, a request 300 s, exit 30 s (150 s for a drain)
after SIGTERM), so a loaded machine makes it slow, not red.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, NamedTuple

import numpy as np
import onnx
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

try:
    import pytest
except ImportError:  # script mode (and --attach-*) needs no pytest
    pytest = None

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "fixtures" / "photos"
SHAPE_IMAGES = ROOT / "fixtures" / "images"
FACES = ROOT / "fixtures" / "faces"
TEXT = ROOT / "fixtures" / "text"
READY_TIMEOUT = 120.0
REQUEST_TIMEOUT = 300.0  # seconds; a loaded CI machine is slow, not wrong
EXIT_TIMEOUT = 30.0
# A drain finishes every request in flight (12 images each, 8 requests; on tract under a loaded CI
# machine that can take over 30 s). The server gives up draining after 120 s (serve::DRAIN_TIMEOUT),
# so a server still running 150 s after SIGTERM is held by something else.
DRAIN_EXIT_TIMEOUT = 150.0
RTOL = ATOL = 1e-5
SCORE_TOL = 1e-4
# Extra headers on JSON-only tritonclient requests. tritonclient sends none (no Content-Type), which is
# what nnhost must accept; kserve wants Content-Type: application/json, so --attach-* sets it.
JSON_HEADERS: dict | None = None
JSONCT = {"Content-Type": "application/json"}  # on the hand-made JSON requests

ONNX_TO_OIP = {
    onnx.TensorProto.FLOAT: "FP32", onnx.TensorProto.FLOAT16: "FP16", onnx.TensorProto.DOUBLE: "FP64",
    onnx.TensorProto.UINT8: "UINT8", onnx.TensorProto.INT32: "INT32", onnx.TensorProto.INT64: "INT64",
    onnx.TensorProto.INT8: "INT8", onnx.TensorProto.BOOL: "BOOL", onnx.TensorProto.UINT16: "UINT16",
    onnx.TensorProto.INT16: "INT16", onnx.TensorProto.UINT32: "UINT32", onnx.TensorProto.UINT64: "UINT64",
    onnx.TensorProto.STRING: "BYTES",
}
OIP_TO_NP = {"FP32": np.float32, "FP16": np.float16, "FP64": np.float64, "UINT8": np.uint8, "INT32": np.int32,
             "INT64": np.int64, "INT8": np.int8, "BOOL": np.bool_, "UINT16": np.uint16, "INT16": np.int16,
             "UINT32": np.uint32, "UINT64": np.uint64}


class CheckFailed(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckFailed(msg)


# ---------------------------------------------------------------- reporting

class Report:
    def __init__(self, only: str | None, verbose: bool):
        self.only = re.compile(only) if only else None
        self.verbose = verbose
        self.failed: list[str] = []
        self.passed = 0
        self.skipped = 0

    def wanted(self, label: str) -> bool:
        return self.only is None or bool(self.only.search(label))

    def run(self, label: str, fn, *args, force: bool = False, **kwargs):
        """Runs one check: fn returns None or a short note; raises CheckFailed (or anything) to fail.
        Returns True when it passed. force: run even if --only does not select it (server startup)."""
        if not force and not self.wanted(label):
            return None
        t0 = time.monotonic()
        try:
            note = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - every failure is a reported check, never a crash
            why = str(e) if isinstance(e, CheckFailed) else f"{type(e).__name__}: {e}"
            why = why.replace("\n", " | ")
            if len(why) > 1500:
                why = why[:1500] + " ..."
            print(f"FAIL {label}: {why}", flush=True)
            if self.verbose and not isinstance(e, CheckFailed):
                traceback.print_exc()
            self.failed.append(label)
            return None
        dt = time.monotonic() - t0
        extra = f" ({note})" if note else ""
        print(f"ok   {label}{extra}" + (f" [{dt:.1f} s]" if self.verbose else ""), flush=True)
        self.passed += 1
        return True

    def skip(self, label: str, why: str):
        if self.wanted(label):
            print(f"skip {label}: {why}", flush=True)
            self.skipped += 1


# ---------------------------------------------------------------- the server process

LIVE_SERVERS: list = []  # killed by the watchdog


class Server:
    """`nnhost serve` as a child process: stdout read line by line (one JSON event a line), stderr to a file."""

    def __init__(self, nnhost: str, backend: str, extra: list[str], label: str, log_dir: Path, wrap=()):
        self.label = label
        self.cmd = [*wrap, nnhost, "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--backend", backend, *extra]
        self.log_path = log_dir / f"{label}.stderr.log"
        self.events: list[dict] = []
        self.junk: list[str] = []  # stdout lines that are not JSON objects
        self.cond = threading.Condition()
        self.eof = False
        self.proc = None
        self.http = self.grpc = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log, env=os.environ.copy())
        LIVE_SERVERS.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                try:
                    ev = json.loads(line)
                    if not isinstance(ev, dict):
                        raise ValueError
                    self.events.append(ev)
                except ValueError:
                    self.junk.append(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_event(self, name: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if ev.get("event") == name:
                        return ev
                if self.eof:
                    raise CheckFailed(f"{self.label}: stdout closed before the {name!r} event "
                                      f"(exit {self.proc.poll()}); {self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CheckFailed(f"{self.label}: no {name!r} event within {timeout:.0f} s; events so far "
                                      f"{self.events}; {self.tail()}")
                self.cond.wait(min(left, 1.0))

    def wait_ready(self) -> dict:
        lst = self.wait_event("listening", READY_TIMEOUT)
        need(isinstance(lst.get("http"), str) and isinstance(lst.get("grpc"), str),
             f"listening event without http/grpc addresses: {lst}")
        self.http, self.grpc = lst["http"], lst["grpc"]
        return self.wait_event("ready", READY_TIMEOUT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 15) -> str:
        try:
            self.log.flush()
            lines = self.log_path.read_text(errors="replace").splitlines()[-n:]
        except OSError:
            lines = []
        return f"stderr tail ({self.log_path}): " + " | ".join(lines) if lines else f"stderr empty ({self.log_path})"

    def stop(self, sig=signal.SIGTERM, timeout: float = EXIT_TIMEOUT):
        """Sends sig, waits up to timeout; returns (exit code or None if it had to be killed, seconds)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        with self.cond:  # let the reader see EOF
            self.cond.wait_for(lambda: self.eof, timeout=5)
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()


class Attached:
    """An OIP server that is already running (--attach-http/--attach-grpc): no process to own."""

    def __init__(self, http, grpc):
        self.http, self.grpc, self.label = http, grpc, "attached"

    def alive(self):
        return True

    def tail(self, n=15):
        return "(attached server: no log)"


# ---------------------------------------------------------------- clients and plain HTTP

def hclient(srv, **kw):
    return httpclient.InferenceServerClient(srv.http, connection_timeout=REQUEST_TIMEOUT,
                                            network_timeout=REQUEST_TIMEOUT, **kw)


def gclient(srv):
    return grpcclient.InferenceServerClient(srv.grpc)


def split_addr(addr: str):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def http_req(srv, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
             timeout: float = REQUEST_TIMEOUT):
    """One plain HTTP request on a fresh connection: (status, headers, body bytes)."""
    host, port = split_addr(srv.http)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def error_json(body: bytes) -> str:
    """The OIP error body {"error": "..."}; raises CheckFailed if it is not one."""
    try:
        j = json.loads(body)
    except ValueError:
        raise CheckFailed(f"error body is not JSON: {body[:200]!r}")
    need(isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"],
         f"error body is not {{\"error\": \"...\"}}: {body[:200]!r}")
    return j["error"]


def expect_http_error(srv, status_want: int, method: str, path: str, body=None, headers=None) -> str:
    status, _, rbody = http_req(srv, method, path, body, headers)
    need(status == status_want, f"{method} {path}: HTTP {status}, want {status_want}; body {rbody[:300]!r}")
    return error_json(rbody)


def grpc_code(e: Exception) -> str:
    if isinstance(e, InferenceServerException):
        return str(e.status() or "").replace("StatusCode.", "")
    return type(e).__name__


def http_code(e: Exception) -> str:
    if isinstance(e, InferenceServerException):
        return str(e.status() or "")
    return type(e).__name__


def expect_grpc_error(code_want: str, fn, *args, **kwargs) -> str:
    try:
        fn(*args, **kwargs)
    except InferenceServerException as e:
        need(grpc_code(e) == code_want, f"gRPC {grpc_code(e)}, want {code_want}: {e.message()}")
        return e.message()
    raise CheckFailed(f"gRPC call succeeded, want {code_want}")


# ---------------------------------------------------------------- references (nnhost run / classify)

def graph_io(model_path: Path):
    """[(name, OIP datatype, dims with -1 for dynamic)] for the graph's real inputs and its outputs."""
    g = onnx.load(str(model_path), load_external_data=False).graph
    inits = {i.name for i in g.initializer}

    def meta(v):
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        return {"name": v.name, "datatype": ONNX_TO_OIP.get(t.elem_type, f"onnx:{t.elem_type}"), "shape": dims}

    return [meta(v) for v in g.input if v.name not in inits], [meta(v) for v in g.output]


class Refs:
    """Expected results, computed once per backend by the nnhost CLI (the contract: same numbers)."""

    def __init__(self, nnhost: str, backend: str, work: Path):
        self.nnhost, self.backend, self.work = nnhost, backend, work
        self.raw_cache: dict = {}
        self.cls_cache: dict = {}
        self.lock = threading.Lock()

    def _cli(self, args: list[str]) -> str:
        p = subprocess.run([self.nnhost, *args], cwd=ROOT, capture_output=True, timeout=600, env=os.environ.copy())
        if p.returncode != 0:
            raise CheckFailed(f"reference `nnhost {' '.join(args)}` exited {p.returncode}: "
                              f"{p.stderr.decode(errors='replace')[-600:]}")
        return p.stdout.decode()

    def raw_input(self, model: str, seed: int) -> dict:
        ins, _ = graph_io(ROOT / "models" / model / "model.onnx")
        rng = np.random.default_rng(seed)
        feeds = {}
        for i in ins:
            shape = [d if d > 0 else 1 for d in i["shape"]]
            dt = OIP_TO_NP[i["datatype"]]
            if np.issubdtype(dt, np.floating):
                feeds[i["name"]] = rng.standard_normal(shape).astype(dt)
            else:
                feeds[i["name"]] = rng.integers(0, 100, shape).astype(dt)
        return feeds

    def raw(self, model: str, seed: int):
        """(inputs, outputs) for a fixed random input: outputs by `nnhost run -m model -b backend`."""
        key = (model, seed)
        with self.lock:
            if key in self.raw_cache:
                return self.raw_cache[key]
            feeds = self.raw_input(model, seed)
            d = self.work / f"raw-{self.backend}-{model}-{seed}"
            d.mkdir(parents=True, exist_ok=True)
            args = ["run", "-m", model, "-b", self.backend, "-o", str(d / "out"), "--json"]
            for name, arr in feeds.items():
                f = d / f"in-{len(args)}.npy"
                np.save(f, arr)
                args += ["-i", f"{name}={f}"]
            out = json.loads(self._cli(args).strip().splitlines()[-1])
            outputs = {o["name"]: np.load(o["file"]) for o in out["outputs"]}
            self.raw_cache[key] = (feeds, outputs)
            return self.raw_cache[key]

    def classify(self, model: str, images: list[Path], k: int | None = None) -> list[list[dict]]:
        """Every class, ranked, per image (in the order given), by `nnhost classify -m model -b backend
        --top 1000 --json` (the CLI's maximum; it caps at the class count). k is not used: the whole
        ranking lets a tie that straddles the k-th place be judged (see compare_classify)."""
        with self.lock:
            missing = sorted({str(p.resolve()) for p in images} - {p for (m, p) in self.cls_cache if m == model})
            if missing:
                out = self._cli(["classify", "-m", model, "-b", self.backend, "--top", "1000", "--json", *missing])
                for line in out.splitlines():
                    j = json.loads(line)
                    if "top" not in j:
                        raise CheckFailed(f"reference classify failed on {j.get('image')}: {j.get('error')}")
                    self.cls_cache[(model, str(Path(j["image"]).resolve()))] = j["top"]
            return [self.cls_cache[(model, str(p.resolve()))] for p in images]


# ---------------------------------------------------------------- inference helpers

def infer_raw(proto: str, client, model: str, feeds: dict, out_names: list[str] | None, version: str = ""):
    """proto: http-json | http-binary | grpc. Returns {name: (datatype, shape, array)}."""
    if proto.startswith("http"):
        binary = proto == "http-binary"
        ins = []
        for name, arr in feeds.items():
            i = httpclient.InferInput(name, list(arr.shape), np_to_oip(arr.dtype))
            i.set_data_from_numpy(arr, binary_data=binary)
            ins.append(i)
        outs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in out_names] if out_names else None
        r = client.infer(model, ins, model_version=version, outputs=outs, headers=None if binary else JSON_HEADERS)
        names = out_names or [o["name"] for o in r.get_response()["outputs"]]
        res = {}
        for n in names:
            o = r.get_output(n)
            need(o is not None, f"response has no output {n!r}: {r.get_response()}")
            res[n] = (o["datatype"], list(o["shape"]), r.as_numpy(n))
        return res
    ins = []
    for name, arr in feeds.items():
        i = grpcclient.InferInput(name, list(arr.shape), np_to_oip(arr.dtype))
        i.set_data_from_numpy(arr)
        ins.append(i)
    outs = [grpcclient.InferRequestedOutput(n) for n in out_names] if out_names else None
    r = client.infer(model, ins, model_version=version, outputs=outs, client_timeout=REQUEST_TIMEOUT)
    resp = r.get_response()
    names = out_names or [o.name for o in resp.outputs]
    res = {}
    for n in names:
        o = r.get_output(n)
        need(o is not None, f"response has no output {n!r}")
        res[n] = (o.datatype, [int(d) for d in o.shape], r.as_numpy(n))
    return res


def np_to_oip(dt) -> str:
    for k, v in OIP_TO_NP.items():
        if np.dtype(v) == np.dtype(dt):
            return k
    raise ValueError(f"no OIP datatype for {dt}")


def compare_raw(got: dict, want: dict, names_exact: bool = True):
    if names_exact:
        need(set(got) == set(want), f"outputs {sorted(got)}, want {sorted(want)}")
    for n, ref in want.items():
        need(n in got, f"no output {n!r}")
        dt, shape, arr = got[n]
        need(dt == np_to_oip(ref.dtype), f"output {n}: datatype {dt}, want {np_to_oip(ref.dtype)}")
        need(shape == list(ref.shape), f"output {n}: shape {shape}, want {list(ref.shape)}")
        need(arr is not None and arr.shape == ref.shape, f"output {n}: array shape {None if arr is None else arr.shape}")
        if not np.allclose(arr, ref, rtol=RTOL, atol=ATOL):
            d = np.abs(arr.astype(np.float64) - ref.astype(np.float64))
            raise CheckFailed(f"output {n}: max |diff| {d.max():.3g} at {np.unravel_index(d.argmax(), d.shape)} "
                              f"(rtol {RTOL}, atol {ATOL})")


def infer_classify(proto: str, client, model: str, images: list[bytes], top_k=None, as_column=False,
                   json_outputs=False, version: str = ""):
    """Returns {label: [[str]], score: ndarray, index: ndarray} and the output shapes/datatypes."""
    arr = np.array(images, dtype=np.object_)
    shape = [len(images), 1] if as_column else [len(images)]
    arr = arr.reshape(shape)
    params = {"top_k": top_k} if top_k is not None else None
    if proto.startswith("http"):
        i = httpclient.InferInput("image", shape, "BYTES")
        i.set_data_from_numpy(arr, binary_data=True)  # encoded images are not JSON strings
        outs = [httpclient.InferRequestedOutput(n, binary_data=not json_outputs) for n in ("label", "score", "index")]
        r = client.infer(model, [i], model_version=version, outputs=outs, parameters=params)
        meta = {}
        for n in ("label", "score", "index"):
            o = r.get_output(n)
            need(o is not None, f"response has no output {n!r}: {r.get_response()}")
            meta[n] = (o["datatype"], list(o["shape"]))
    else:
        i = grpcclient.InferInput("image", shape, "BYTES")
        i.set_data_from_numpy(arr)
        outs = [grpcclient.InferRequestedOutput(n) for n in ("label", "score", "index")]
        r = client.infer(model, [i], model_version=version, outputs=outs, parameters=params,
                         client_timeout=REQUEST_TIMEOUT)
        meta = {}
        for n in ("label", "score", "index"):
            o = r.get_output(n)
            need(o is not None, f"response has no output {n!r}")
            meta[n] = (o.datatype, [int(d) for d in o.shape])
    labels = r.as_numpy("label")
    labels = [[x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in row] for row in labels.reshape(meta["label"][1])]
    return {"label": labels, "score": r.as_numpy("score"), "index": r.as_numpy("index")}, meta


def compare_classify(got, meta, refs: list[list[dict]], k: int):
    n = len(refs)
    need(meta["label"] == ("BYTES", [n, k]), f"label: {meta['label']}, want ('BYTES', [{n}, {k}])")
    need(meta["score"] == ("FP32", [n, k]), f"score: {meta['score']}, want ('FP32', [{n}, {k}])")
    need(meta["index"] == ("INT64", [n, k]), f"index: {meta['index']}, want ('INT64', [{n}, {k}])")
    scores = np.asarray(got["score"]).reshape(n, k)
    index = np.asarray(got["index"]).reshape(n, k)
    for b, ref in enumerate(refs):  # ref: the whole ranking
        need(len(ref) >= k, f"reference has {len(ref)} classes, want at least {k}")
        want_scores = np.array([t["score"] for t in ref], np.float64)
        need(np.all(np.abs(scores[b] - want_scores[:k]) <= SCORE_TOL),
             f"image {b}: scores {scores[b].tolist()}, want {want_scores[:k].tolist()} (tol {SCORE_TOL})")
        # Labels and indices exactly, position by position. Where the reference has tied scores
        # (e.g. several exact 0.0) the order inside the tie means nothing, so each place inside a tie
        # may hold any distinct member of it, the tie running on past the k-th place if it does.
        pos = 0
        while pos < k:
            end = pos + 1
            while end < len(ref) and want_scores[end] == want_scores[pos]:
                end += 1
            stop = min(end, k)
            pairs = [(t["label"], t["index"]) for t in ref[pos:end]]
            got_pairs = list(zip(got["label"][b][pos:stop], index[b][pos:stop].tolist()))
            same = got_pairs == pairs[: stop - pos] if end - pos == 1 else \
                (len(set(got_pairs)) == len(got_pairs) and set(got_pairs) <= set(pairs))
            need(same, f"image {b}: labels {got['label'][b]} / indices {index[b].tolist()}, "
                       f"want {[t['label'] for t in ref[:k]]} / {[t['index'] for t in ref[:k]]}")
            pos = stop


# ---------------------------------------------------------------- the checks

class Group(NamedTuple):
    """One server of a backend's run: its flags, the check that it started, and its checks."""
    name: str
    flags: list[str]
    start_label: str
    ready: Callable  # ready(srv): waits for the server; raises if it did not start; returns a note
    checks: Callable  # checks(srv): calls Suite.check once per check, in order
    wrap: tuple = ()  # a command the server is started under (e.g. bash setting a lower `ulimit -n`)


class Suite:
    def __init__(self, args, report: Report, backend: str, refs: Refs, log_dir: Path):
        self.args, self.report, self.backend, self.refs, self.log_dir = args, report, backend, refs, log_dir
        self.tag = f"[{backend}]" if not args.attach_http else "[attached]"
        self.models: list[str] = []
        self.versions = not args.attach_http  # kserve answers 501 to /versions/ paths
        self.collecting: list[str] | None = None  # check names only, nothing runs
        self.selected: str | None = None  # pytest: the one check to run
        self.selected_ran = False

    def label(self, s: str) -> str:
        return f"{self.tag} {s}"

    def check(self, name: str, fn, *a, **kw):
        """One check. Script mode: run and report it. While collecting: only note its name. With
        `selected` (pytest): run only the check of that name, its exceptions propagating."""
        if self.collecting is not None:
            self.collecting.append(name)
            return None
        if self.selected is not None:
            if name != self.selected:
                return None
            self.selected_ran = True
            kw.pop("force", None)
            note = fn(*a, **kw)
            if note:
                print(f"{self.label(name)}: {note}", flush=True)
            return True
        return self.report.run(self.label(name), fn, *a, **kw)

    def wanted(self, *names: str) -> bool:
        return any(self.report.wanted(self.label(n)) for n in names)

    def names_of(self, checks) -> list[str]:
        """The names of the checks that checks(srv) runs, in order, without running any."""
        self.collecting = []
        try:
            checks(None)
            return self.collecting
        finally:
            self.collecting = None

    def run_one(self, checks, srv, name: str):
        """Runs only the check called `name` of checks(srv) (pytest: one test per check)."""
        self.selected, self.selected_ran = name, False
        try:
            checks(srv)
        finally:
            self.selected = None
        need(self.selected_ran, f"no check named {name!r}")

    # ----- the servers of a run, in order, and their checks

    def groups(self) -> list[Group]:
        a = self.args
        # (OCR makes several inference calls per image: the per-call deadline is raised for a loaded machine.)
        gs = [Group("main", ["--max-concurrency", "2", "--queue", "64", "--deadline-ms", "120000",
                             "--request-deadline-ms", "600000"],
                    "server starts: listening then ready event, every model listed", self.ready_event,
                    lambda srv: self.main_checks(srv, attached=False)),
              Group("limits", ["--max-concurrency", "1", "--queue", "1", "--header-timeout", "2"],
                    "backpressure server starts", lambda srv: srv.wait_ready() and None, self.limits_checks)]
        if a.hostile_plugin and self.backend == "tract":
            gs.append(Group("hostile", ["--max-concurrency", "2", "--queue", "64", "--classifier", a.hostile_plugin,
                                        "--deadline-ms", "3000", "-m", "shapes"],
                            "hostile-plugin server starts", lambda srv: srv.wait_ready() and None, self.hostile_checks))
        gs.append(Group("bytes", ["--max-concurrency", "2", "--queue", "64", "--max-request-bytes", "1000000"],
                        "max-request-bytes server starts", lambda srv: srv.wait_ready() and None, self.bytes_checks))
        if self.backend == "tract":
            # Issue 24's attacks, made cheap by small limits; the server and its limits, not the backend, are
            # under test, so one backend.
            gs.append(Group("hardening", HARDENING_FLAGS, "attack: hardening server (small serve limits) starts",
                            lambda srv: srv.wait_ready() and None, self.hardening_checks))
            gs.append(Group("stalled-shutdown", ["-m", "shapes", "--body-timeout", "600", "--drain-timeout", "2"],
                            "attack: stalled-shutdown server (--drain-timeout 2) starts", lambda srv: srv.wait_ready() and None,
                            self.stalled_shutdown_checks))
            gs.append(Group("fd-limit", ["-m", "shapes", "--max-concurrency", "1"],
                            f"attack: fd-limit server (ulimit -n {FD_LIMIT}) starts", lambda srv: srv.wait_ready() and None,
                            self.fd_limit_checks, wrap=("bash", "-c", f'ulimit -n {FD_LIMIT} && exec "$@"', "bash")))
        return gs

    def group(self, name: str) -> Group:
        return next(g for g in self.groups() if g.name == name)

    def limits_checks(self, srv):
        self.check("backpressure: 40 at once with --max-concurrency 1 --queue 1 -> some 503/UNAVAILABLE, the rest correct",
                   self.backpressure, srv)
        self.check("slow headers: a client that stops mid-request is disconnected (--header-timeout 2)",
                   self.slow_headers, srv)

    def hostile_checks(self, srv):
        self.check("hostile plugin named with --classifier: every attack an error response, good requests unaffected",
                   self.hostile_plugin, srv)

    def bytes_checks(self, srv):
        self.check("max-request-bytes 1000000: request under the limit works", self.under_limit, srv)
        self.check("max-request-bytes 1000000: 3 MB body (Content-Length) -> 413", self.too_big, srv, False)
        self.check("max-request-bytes 1000000: 3 MB chunked body -> 413", self.too_big, srv, True)

    # ----- starting servers

    def start(self, label: str, extra: list[str], wrap=()):
        srv = Server(self.args.nnhost, self.backend, extra, f"{self.backend}-{label}", self.log_dir, wrap)
        srv.start()
        return srv

    # ----- health and metadata

    def still_ok(self, srv):
        """The server still answers: live, ready, and a correct `shapes` inference over both protocols."""
        need(srv.alive(), f"server process exited ({srv.tail()})")
        c = hclient(srv)
        need(c.is_server_live() and c.is_server_ready(), "server not live/ready after the bad request")
        feeds, want = self.refs.raw("shapes", 1)
        compare_raw(infer_raw("http-binary", c, "shapes", feeds, list(want)), want)
        compare_raw(infer_raw("grpc", gclient(srv), "shapes", feeds, list(want)), want)

    def health(self, srv, proto):
        c = hclient(srv) if proto == "http" else gclient(srv)
        need(c.is_server_live(), "not live")
        need(c.is_server_ready(), "not ready")
        for m in self.models:
            need(c.is_model_ready(m), f"model {m} not ready")
            if self.versions:
                need(c.is_model_ready(m, model_version="1"), f"model {m} version 1 not ready")
        return f"{len(self.models)} models ready"

    def health_plain_http(self, srv):
        paths = ["/v2/health/live", "/v2/health/ready", "/v2/models/shapes/ready", "/v2/models/shapes"]
        if self.versions:
            paths += ["/v2/models/shapes/versions/1/ready", "/v2/models/shapes/versions/1"]
        for path in paths:
            status, _, body = http_req(srv, "GET", path)
            need(status == 200, f"GET {path}: HTTP {status} {body[:200]!r}")
        status, _, body = http_req(srv, "GET", "/v2")
        need(status == 200, f"GET /v2: HTTP {status}")
        j = json.loads(body)
        need(isinstance(j, dict) and j.get("name"), f"GET /v2: {body[:200]!r}")

    def server_metadata(self, srv, proto):
        if proto == "http":
            md = hclient(srv).get_server_metadata()
        else:
            md = gclient(srv).get_server_metadata(as_json=True)
        need(isinstance(md.get("name"), str) and md["name"], f"no server name: {md}")
        need(isinstance(md.get("version"), str) and md["version"], f"no server version: {md}")
        need(isinstance(md.get("extensions", []), list), f"extensions not a list: {md}")
        return f"{md['name']} {md['version']} extensions {md.get('extensions', [])}"

    def expected_metadata(self, model: str):
        if model.endswith("-classify"):
            ins = [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
            outs = [{"name": "label", "datatype": "BYTES", "shape": [-1, -1]},
                    {"name": "score", "datatype": "FP32", "shape": [-1, -1]},
                    {"name": "index", "datatype": "INT64", "shape": [-1, -1]}]
            return ins, outs
        return graph_io(ROOT / "models" / model / "model.onnx")

    def model_metadata(self, srv, proto, model):
        want_in, want_out = self.expected_metadata(model)
        for version in ("", "1") if self.versions else ("",):
            if proto == "http":
                md = hclient(srv).get_model_metadata(model, model_version=version)
            else:
                md = gclient(srv).get_model_metadata(model, model_version=version, as_json=True)

            def norm(ts):
                return [{"name": t.get("name"), "datatype": t.get("datatype"),
                         "shape": [int(d) for d in t.get("shape", [])]} for t in ts or []]

            where = f"metadata{' (version 1)' if version else ''}"
            need(md.get("name") == model, f"{where}: name {md.get('name')!r}, want {model!r}")
            vs = md.get("versions")
            need(not vs or "1" in vs, f"{where}: versions {vs}, want to include '1'")
            got_in, got_out = norm(md.get("inputs")), norm(md.get("outputs"))
            need(got_in == want_in, f"{where}: inputs {got_in}, want {want_in}")
            if model.endswith("-classify"):  # output order is not part of the contract
                key = lambda t: t["name"]  # noqa: E731
                need(sorted(got_out, key=key) == sorted(want_out, key=key), f"{where}: outputs {got_out}, want {want_out}")
            else:
                need(got_out == want_out, f"{where}: outputs {got_out}, want {want_out}")

    # ----- inference

    def raw_infer(self, srv, proto, model):
        feeds, want = self.refs.raw(model, 1)
        c = hclient(srv) if proto.startswith("http") else gclient(srv)
        compare_raw(infer_raw(proto, c, model, feeds, list(want)), want)
        # the same through /versions/1, and with no outputs named (all of them)
        compare_raw(infer_raw(proto, c, model, feeds, None, version="1" if self.versions else ""), want)

    def photos(self, names=("chelsea.png", "coffee.png", "rocket.jpg")):
        return [PHOTOS / n for n in names]

    def classify(self, srv, proto, model, images, k, **kw):
        refs = self.refs.classify(model.removesuffix("-classify"), images, k)
        c = hclient(srv) if proto.startswith("http") else gclient(srv)
        got, meta = infer_classify(proto, c, model, [p.read_bytes() for p in images], **kw)
        compare_classify(got, meta, refs, k)
        return ", ".join(f"{p.name}: {got['label'][i][0]}" for i, p in enumerate(images))

    def classify_checks(self, srv):
        photos = self.photos()
        m = "mobilenet-v2-classify"
        for proto in ("http", "grpc"):
            self.check(f"classify {m} batch of 3, top_k 5 ({proto})", self.classify, srv, proto, m, photos, 5, top_k=5)
        self.check(f"classify {m} JSON outputs (http)", self.classify, srv, "http", m, photos, 5, top_k=5, json_outputs=True)
        self.check(f"classify {m} shape [3,1] (http)", self.classify, srv, "http", m, photos, 5, top_k=5, as_column=True)
        self.check(f"classify {m} shape [3,1] (grpc)", self.classify, srv, "grpc", m, photos, 5, top_k=5, as_column=True)
        self.check(f"classify {m} default top_k is 5 (grpc)", self.classify, srv, "grpc", m, photos, 5)
        self.check(f"classify {m} top_k 2, version 1 (http)", self.classify, srv, "http", m, photos[:1], 2, top_k=2, version="1")
        shapes = sorted(SHAPE_IMAGES.glob("00[0-5]-*"))[:3]
        for proto in ("http", "grpc"):
            self.check(f"classify shapes-classify top_k 100 capped at 6 ({proto})", self.classify, srv, proto,
                       "shapes-classify", shapes, 6, top_k=100)
        self.check("classify efficientnet-lite0-classify batch of 3 (grpc)", self.classify, srv, "grpc",
                   "efficientnet-lite0-classify", photos, 5, top_k=5)

    # ----- task plugins (plugins/): served with the signature they declare

    def task_ref(self, plugin: str, image: Path, params: dict) -> list[dict]:
        """What `nnhost task` gives for one image on this backend: its result rows."""
        cmd = [self.args.nnhost, "task", plugin, str(image), "--json", "-b", self.backend, "--deadline-ms", "120000"]
        for k, v in params.items():
            cmd += ["-p", f"{k}={v}"]
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=600, env=os.environ.copy())
        need(p.returncode == 0, f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.decode(errors='replace')[-400:]}")
        return json.loads(p.stdout.decode().splitlines()[0])["results"]

    def task_metadata(self, srv, proto, plugin):
        p = subprocess.run([self.args.nnhost, "plugins", "--json"], cwd=ROOT, capture_output=True, timeout=300)
        sig = next(json.loads(ln) for ln in p.stdout.decode().splitlines() if json.loads(ln)["name"] == plugin)["signature"]
        md = hclient(srv).get_model_metadata(plugin) if proto == "http" else \
            gclient(srv).get_model_metadata(plugin, as_json=True)

        def norm(ts):
            return [{"name": t.get("name"), "datatype": t.get("datatype"), "shape": [int(d) for d in t.get("shape", [])]}
                    for t in ts or []]

        for key in ("inputs", "outputs"):
            want = [{"name": t["name"], "datatype": t["datatype"], "shape": t["shape"]} for t in sig[key]]
            need(norm(md.get(key)) == want, f"{key}: {norm(md.get(key))}, want {want}")
        return f"{[t['name'] for t in sig['outputs']]}"

    def task_infer(self, srv, proto, plugin, image: Path, params: dict):
        want = self.task_ref(plugin, image, params)
        data = np.array([image.read_bytes()], dtype=np.object_)
        if proto == "http":
            i = httpclient.InferInput("image", [1], "BYTES")
            i.set_data_from_numpy(data, binary_data=True)
            r = hclient(srv).infer(plugin, [i], parameters=params or None)
        else:
            i = grpcclient.InferInput("image", [1], "BYTES")
            i.set_data_from_numpy(data)
            # This protocol version's gRPC parameters are bool, int64 or string: numbers go as text.
            gparams = {k: (str(v) if isinstance(v, float) else v) for k, v in params.items()}
            r = gclient(srv).infer(plugin, [i], parameters=gparams or None, client_timeout=REQUEST_TIMEOUT)
        got = {o["name"]: r.as_numpy(o["name"]) for o in r.get_response(as_json=True)["outputs"]} if proto == "grpc" else \
            {o["name"]: r.as_numpy(o["name"]) for o in r.get_response()["outputs"]}
        n = len(want)
        for name, key in (("boxes", "box"), ("quads", "quad"), ("keypoints", "keypoints"), ("scores", "score"),
                          ("score", "score")):
            if name in got:
                need(got[name].shape[0] == n, f"{name}: {got[name].shape[0]} rows, `nnhost task` has {n}")
                ref = np.array([w[key] for w in want], np.float32).reshape(got[name].shape)
                need(np.array_equal(got[name], ref), f"{name}: {got[name].tolist()}, want {ref.tolist()}")
        for name, key in (("text", "text"), ("label", "label")):
            if name in got:
                text = [t.decode() if isinstance(t, bytes) else t for t in got[name].tolist()]
                need(text == [w[key] for w in want], f"{name} {text}, want {[w[key] for w in want]}")
        return f"{n} results"

    def task_checks(self, srv):
        plugins = ["face-detection", "ocr", "image-classification"]
        for proto in ("http", "grpc"):
            for plugin in plugins:
                self.check(f"model metadata {plugin} = its declared signature ({proto})", self.task_metadata, srv, proto, plugin)
            self.check(f"task face-detection pair.jpg = nnhost task ({proto})", self.task_infer, srv, proto,
                       "face-detection", FACES / "pair.jpg", {})
            self.check(f"task face-detection parameter min_score 0.9 = nnhost task -p ({proto})", self.task_infer, srv,
                       proto, "face-detection", FACES / "pair.jpg", {"min_score": 0.9})
        self.check("task ocr render_sign.png = nnhost task (grpc)", self.task_infer, srv, "grpc", "ocr",
                   TEXT / "render_sign.png", {})
        self.check("task image-classification top_k 3 = nnhost task (http)", self.task_infer, srv, "http",
                   "image-classification", PHOTOS / "chelsea.png", {"top_k": 3})
        P = "/v2/models/face-detection/infer"

        def body(params=None, data="not an image", datatype="BYTES"):
            req = {"inputs": [{"name": "image", "datatype": datatype, "shape": [1], "data": [data]}]}
            if params:
                req["parameters"] = params
            return json.dumps(req).encode()

        for what, fn in [
            ("task: unknown parameter -> 400", lambda: expect_http_error(srv, 400, "POST", P, body({"bogus": 1}), JSONCT)),
            ("task: parameter of the wrong type -> 400", lambda: expect_http_error(
                srv, 400, "POST", P, body({"min_score": "high"}), JSONCT)),
            ("task: not an image -> 400", lambda: expect_http_error(srv, 400, "POST", P, body(), JSONCT)),
            ("task: an input it does not declare -> 400", lambda: expect_http_error(
                srv, 400, "POST", P, json.dumps({"inputs": [{"name": "x", "datatype": "BYTES", "shape": [1], "data": ["a"]}]}).encode(),
                JSONCT)),
            ("task: a double parameter over gRPC is refused, not dropped -> INVALID_ARGUMENT", lambda: self.grpc_double_param(srv)),
        ]:
            self.check(f"bad request: {what}", self.bad, srv, what, fn)

    def grpc_double_param(self, srv):
        i = grpcclient.InferInput("image", [1], "BYTES")
        i.set_data_from_numpy(np.array([(FACES / "pair.jpg").read_bytes()], dtype=np.object_))
        return expect_grpc_error("INVALID_ARGUMENT", gclient(srv).infer, "face-detection", [i],
                                 parameters={"min_score": 0.9}, client_timeout=REQUEST_TIMEOUT)

    # ----- concurrent load

    def load(self, srv, total=300, threads=32):
        photos = self.photos()
        shapes_imgs = sorted(SHAPE_IMAGES.glob("0[01]?-*"))[:6]
        # references first (not under load); several inputs per model so a response mixed up
        # between concurrent requests cannot pass
        seeds = [1, 2, 3]
        for m in ("shapes", "mobilenet-v2"):
            for s in seeds:
                self.refs.raw(m, s)
        self.refs.classify("mobilenet-v2", photos, 5)
        self.refs.classify("shapes", shapes_imgs, 3)
        img_bytes = {p: p.read_bytes() for p in photos + shapes_imgs}

        def one(i, h, g):
            kind = i % 6
            try:
                if kind in (0, 1, 2, 3):
                    model = "shapes" if kind in (0, 3) else "mobilenet-v2"
                    proto = {0: "http-json", 1: "http-binary", 2: "grpc", 3: "grpc"}[kind]
                    feeds, want = self.refs.raw(model, seeds[(i // 6) % len(seeds)])
                    compare_raw(infer_raw(proto, h if proto.startswith("http") else g, model, feeds, list(want)), want)
                    return (kind, None)
                if kind == 4:
                    p = photos[(i // 6) % len(photos)]
                    got, meta = infer_classify("http", h, "mobilenet-v2-classify", [img_bytes[p]], top_k=5)
                    compare_classify(got, meta, self.refs.classify("mobilenet-v2", [p], 5), 5)
                    return (kind, None)
                p = shapes_imgs[(i // 6) % len(shapes_imgs)]
                got, meta = infer_classify("grpc", g, "shapes-classify", [img_bytes[p]], top_k=3)
                compare_classify(got, meta, self.refs.classify("shapes", [p], 3), 3)
                return (kind, None)
            except Exception as e:  # noqa: BLE001
                return (kind, f"request {i} (kind {kind}): {type(e).__name__}: {e}")

        # Plain threads, each with its own clients, closed by the thread that made them
        # (tritonclient's HTTP client is gevent-based and bound to its thread).
        todo = list(range(total))
        results = []
        lock = threading.Lock()

        def worker():
            h, g = hclient(srv), gclient(srv)
            try:
                while True:
                    with lock:
                        if not todo:
                            return
                        i = todo.pop(0)
                    r = one(i, h, g)
                    with lock:
                        results.append(r)
            finally:
                h.close()
                g.close()

        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        errors = [e for _, e in results if e]
        need(len(results) == total, f"{len(results)} of {total} requests came back")
        need(not errors, f"{len(errors)} of {total} failed; first: " + " || ".join(errors[:3]))
        need(srv.alive(), "server exited")
        return f"{total} requests, {threads} threads, all correct"

    # ----- backpressure

    def backpressure(self, srv, n=40):
        photos = self.photos(("chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png"))
        model = "efficientnet-lite0-classify"
        refs = self.refs.classify("efficientnet-lite0", photos, 5)
        img = [p.read_bytes() for p in photos]
        summary = []
        for attempt in range(3):  # a burst that happens to be fully served is not a failure; try again
            barrier = threading.Barrier(n)

            def one(i):
                proto = "http" if i % 2 == 0 else "grpc"
                c = hclient(srv) if proto == "http" else gclient(srv)
                try:
                    c.is_server_live()  # connect before the burst
                except Exception:  # noqa: BLE001
                    pass
                barrier.wait(timeout=REQUEST_TIMEOUT)
                try:
                    got, meta = infer_classify(proto, c, model, img, top_k=5)
                except InferenceServerException as e:
                    code = http_code(e) if proto == "http" else grpc_code(e)
                    if code in ("503", "UNAVAILABLE"):
                        return ("rejected", proto, e.message())
                    return ("error", proto, f"{code}: {e.message()}")
                except Exception as e:  # noqa: BLE001
                    return ("error", proto, f"{type(e).__name__}: {e}")
                finally:
                    c.close()
                try:
                    compare_classify(got, meta, refs, 5)
                except CheckFailed as e:
                    return ("wrong", proto, str(e))
                return ("ok", proto, "")

            with ThreadPoolExecutor(n) as pool:
                res = list(pool.map(one, range(n)))
            count = {k: sum(1 for r in res if r[0] == k) for k in ("ok", "rejected", "error", "wrong")}
            bad = [f"{r[1]}: {r[2]}" for r in res if r[0] in ("error", "wrong")]
            need(not bad, f"{count}; not a clean rejection: " + " || ".join(bad[:3]))
            need(srv.alive(), f"server exited: {srv.tail()}")
            # a gRPC UNAVAILABLE can also mean "could not connect": the server must still answer
            self.still_ok(srv)
            summary.append(f"{count['ok']} ok / {count['rejected']} rejected")
            if count["rejected"] and count["ok"]:
                rej_msgs = {r[2] for r in res if r[0] == "rejected"}
                return f"{n} at once: {'; then '.join(summary)}; e.g. {sorted(rej_msgs)[0][:120]!r}"
            need(count["ok"], f"{count}: every request was rejected")
        raise CheckFailed(f"no request was rejected in 3 bursts of {n} ({'; '.join(summary)}) with "
                          f"--max-concurrency 1 --queue 1")

    # ----- bad requests

    def shapes_json_body(self, datatype="FP32", shape=(1, 3, 64, 64), count=None, data=None):
        count = int(np.prod(shape)) if count is None else count
        if data is None:
            data = [0] * count if datatype.startswith(("INT", "UINT")) else [0.5] * count
        return json.dumps({"inputs": [{"name": "image", "datatype": datatype, "shape": list(shape), "data": data}]}).encode()

    def shapes_binary_body(self, declared_size: int, actual: int, header_len_delta: int = 0):
        header = json.dumps({"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 3, 64, 64],
                                         "parameters": {"binary_data_size": declared_size}}],
                             "outputs": [{"name": "logits", "parameters": {"binary_data": False}}]}).encode()
        body = header + np.zeros(actual // 4, np.float32).tobytes() + b"\0" * (actual % 4)
        return body, {"Content-Type": "application/octet-stream",
                      "Inference-Header-Content-Length": str(len(header) + header_len_delta)}

    def bad(self, srv, what: str, fn):
        """One bad request: fn() raises CheckFailed unless the error is right; then the server must be fine."""
        note = fn()
        self.still_ok(srv)
        return note

    def bad_checks(self, srv):
        P = "/v2/models/shapes/infer"
        n = 1 * 3 * 64 * 64 * 4
        cases = [
            ("malformed JSON -> 400", lambda: expect_http_error(srv, 400, "POST", P, b'{"inputs": [{"name": "image", ',
                                                                    JSONCT)),
            ("JSON that is not an inference request -> 400", lambda: expect_http_error(
                srv, 400, "POST", P, b'{"inputs": 7}', JSONCT)),
            ("unknown model infer -> 404 (http)", lambda: expect_http_error(srv, 404, "POST", "/v2/models/no-such-model/infer",
                                                                            self.shapes_json_body(), JSONCT)),
            ("unknown model metadata -> 404 (http)", lambda: expect_http_error(srv, 404, "GET", "/v2/models/no-such-model")),
            ("unknown model -> NOT_FOUND (grpc)", lambda: self.grpc_unknown_model(srv)),
            ("wrong datatype -> 400 (http)", lambda: expect_http_error(srv, 400, "POST", P, self.shapes_json_body("INT32"), JSONCT)),
            ("wrong datatype -> INVALID_ARGUMENT (grpc)", lambda: self.grpc_bad_input(srv, "INT32", (1, 3, 64, 64))),
            ("wrong shape, element count mismatch -> 400 (http json)", lambda: expect_http_error(
                srv, 400, "POST", P, self.shapes_json_body(count=10), JSONCT)),
            ("wrong shape, byte count mismatch -> 400 (http binary)", lambda: self.http_binary_shape_lie(srv)),
            ("wrong shape, byte count mismatch -> INVALID_ARGUMENT (grpc)", lambda: self.grpc_bad_input(
                srv, "FP32", (1, 3, 64, 64), lie_shape=[1, 3, 64, 65])),
            ("shape the model does not take -> 400 (http)", lambda: expect_http_error(
                srv, 400, "POST", P, self.shapes_json_body(shape=(1, 3, 32, 32)), JSONCT)),
            ("shape the model does not take -> INVALID_ARGUMENT (grpc)", lambda: self.grpc_bad_input(
                srv, "FP32", (1, 3, 32, 32))),
            ("unknown input name -> 400 (http)", lambda: expect_http_error(
                srv, 400, "POST", P, self.shapes_json_body().replace(b'"name": "image"', b'"name": "nope"'), JSONCT)),
            ("binary_data_size bigger than the body -> 400", lambda: expect_http_error(
                srv, 400, "POST", P, *self.shapes_binary_body(n + 4, n))),
            ("binary_data_size smaller than the body -> 400", lambda: expect_http_error(
                srv, 400, "POST", P, *self.shapes_binary_body(n - 4, n))),
            ("Inference-Header-Content-Length larger than the body -> 400", lambda: expect_http_error(
                srv, 400, "POST", P, *self.shapes_binary_body(n, n, header_len_delta=n + 100))),
            ("Inference-Header-Content-Length not a number -> 400", lambda: self.header_len_garbage(srv)),
            ("half a body, then the client disconnects", lambda: self.half_body(srv)),
            ("classify: a BYTES element that is not an image -> 400 (http)", lambda: self.classify_not_image(srv, "http")),
            ("classify: a BYTES element that is not an image -> INVALID_ARGUMENT (grpc)",
             lambda: self.classify_not_image(srv, "grpc")),
            ("classify: top_k 0 -> 400 (assumed: the contract does not say)", lambda: self.classify_bad_topk(srv, 0)),
        ]
        for what, fn in cases:
            self.check(f"bad request: {what}", self.bad, srv, what, fn)

    def grpc_unknown_model(self, srv):
        g = gclient(srv)
        feeds, _ = self.refs.raw("shapes", 1)
        i = grpcclient.InferInput("image", [1, 3, 64, 64], "FP32")
        i.set_data_from_numpy(feeds["image"])
        expect_grpc_error("NOT_FOUND", g.infer, "no-such-model", [i], client_timeout=REQUEST_TIMEOUT)
        expect_grpc_error("NOT_FOUND", g.get_model_metadata, "no-such-model")

    def grpc_bad_input(self, srv, datatype, shape, lie_shape=None):
        i = grpcclient.InferInput("image", list(shape), datatype)
        i.set_data_from_numpy(np.zeros(shape, OIP_TO_NP[datatype]))
        if lie_shape:
            i.set_shape(lie_shape)  # after the data: the client does not re-check
        return expect_grpc_error("INVALID_ARGUMENT", gclient(srv).infer, "shapes", [i], client_timeout=REQUEST_TIMEOUT)

    def http_binary_shape_lie(self, srv):
        i = httpclient.InferInput("image", [1, 3, 64, 64], "FP32")
        i.set_data_from_numpy(np.zeros((1, 3, 64, 64), np.float32), binary_data=True)
        i.set_shape([1, 3, 64, 65])
        try:
            hclient(srv).infer("shapes", [i])
        except InferenceServerException as e:
            need(http_code(e) == "400", f"HTTP {http_code(e)}, want 400: {e.message()}")
            return e.message()
        raise CheckFailed("request succeeded, want 400")

    def header_len_garbage(self, srv):
        body, headers = self.shapes_binary_body(49152, 49152)
        headers["Inference-Header-Content-Length"] = "lots"
        return expect_http_error(srv, 400, "POST", "/v2/models/shapes/infer", body, headers)

    def half_body(self, srv):
        body, headers = self.shapes_binary_body(49152, 49152)
        host, port = split_addr(srv.http)
        head = (f"POST /v2/models/shapes/infer HTTP/1.1\r\nHost: {srv.http}\r\nContent-Length: {len(body)}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
        for _ in range(5):
            s = socket.create_connection((host, port), timeout=REQUEST_TIMEOUT)
            s.sendall(head + body[: len(body) // 2])
            time.sleep(0.05)
            s.close()
        return "5 connections dropped mid-body"

    def classify_not_image(self, srv, proto):
        imgs = [b"this is not an image, just bytes", PHOTOS.joinpath("coffee.png").read_bytes()]
        c = hclient(srv) if proto == "http" else gclient(srv)
        try:
            infer_classify(proto, c, "mobilenet-v2-classify", imgs, top_k=3)
        except InferenceServerException as e:
            code = http_code(e) if proto == "http" else grpc_code(e)
            want = "400" if proto == "http" else "INVALID_ARGUMENT"
            need(code == want, f"{code}, want {want}: {e.message()}")
            return e.message()[:150]
        raise CheckFailed("request succeeded, want an error")

    def classify_bad_topk(self, srv, k):
        img = [PHOTOS.joinpath("coffee.png").read_bytes()]
        try:
            infer_classify("http", hclient(srv), "mobilenet-v2-classify", img, top_k=k)
        except InferenceServerException as e:
            need(http_code(e) == "400", f"HTTP {http_code(e)}, want 400: {e.message()}")
            return e.message()[:150]
        raise CheckFailed("request succeeded, want 400")

    # ----- request size limit (a server started with --max-request-bytes 1000000)

    def too_big(self, srv, chunked: bool):
        feeds, _ = self.refs.raw("mobilenet-v2", 1)
        # JSON data for 150,528 floats: about 3 MB, over the 1,000,000-byte limit
        body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3, 224, 224],
                                       "data": feeds["input"].ravel().tolist()}]}).encode()
        need(len(body) > 1_000_000, "test body not over the limit")
        status, text = send_streaming(srv, "/v2/models/mobilenet-v2/infer", body, chunked)
        need(status == 413, f"HTTP {status}, want 413 ({text[:300]!r})")
        error_json(response_body(text))
        self.still_ok(srv)
        return f"{len(body)} bytes{' chunked' if chunked else ''} refused"

    def under_limit(self, srv):
        # the binary form of the same tensor (602,112 bytes + header) fits
        feeds, want = self.refs.raw("mobilenet-v2", 1)
        compare_raw(infer_raw("http-binary", hclient(srv), "mobilenet-v2", feeds, list(want)), want)
        compare_raw(infer_raw("grpc", gclient(srv), "mobilenet-v2", feeds, list(want)), want)

    # ----- metrics

    def metrics(self, srv):
        status, _, body = http_req(srv, "GET", "/metrics")
        need(status == 200, f"GET /metrics: HTTP {status}")
        text = body.decode("utf-8", "replace")
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        req = [ln for ln in lines if ln.startswith("nnhost_requests_total{")]
        need(req, "no nnhost_requests_total{...} sample")
        shapes = [ln for ln in req if 'model="shapes"' in ln]
        need(shapes, f"no nnhost_requests_total sample with model=\"shapes\"; have {req[:5]}")
        if not self.args.attach_http:
            need(any(f'backend="{self.backend}"' in ln for ln in shapes), f"no backend=\"{self.backend}\" label: {shapes[:3]}")
        for proto in ("http", "grpc"):
            need(any(f'protocol="{proto}"' in ln for ln in shapes), f"no protocol=\"{proto}\" sample for shapes: {shapes[:4]}")
        total = sum(float(ln.rsplit(" ", 1)[1]) for ln in shapes)
        need(total > 0, f"nnhost_requests_total for shapes is {total}")
        for name in ("nnhost_request_failures_total", "nnhost_request_duration_seconds_bucket",
                     "nnhost_request_duration_seconds_count", "nnhost_request_duration_seconds_sum", "nnhost_queue_depth"):
            need(any(ln.startswith(name) for ln in lines), f"no {name} sample")
        fails = sum(float(ln.rsplit(" ", 1)[1]) for ln in lines
                    if ln.startswith("nnhost_request_failures_total{") and 'model="shapes"' in ln)
        return f"shapes: {total:.0f} requests, {fails:.0f} failures"

    # ----- SIGTERM with requests in flight

    def drain(self, srv, n=8):
        # 12 images a request, so the requests are still there when the signal comes
        photos = self.photos(("chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "camera.png", "retina.jpg")) * 2
        model = "efficientnet-lite0-classify"
        refs = self.refs.classify("efficientnet-lite0", photos, 5)
        img = [p.read_bytes() for p in photos]
        done = []
        lock = threading.Lock()

        def one(i):
            proto = "http" if i % 2 == 0 else "grpc"
            c = hclient(srv) if proto == "http" else gclient(srv)
            try:
                got, meta = infer_classify(proto, c, model, img, top_k=5)
                compare_classify(got, meta, refs, 5)
                r = ("ok", proto, "")
            except Exception as e:  # noqa: BLE001
                code = (http_code(e) if proto == "http" else grpc_code(e)) if isinstance(e, InferenceServerException) else ""
                r = ("error", proto, f"{code} {type(e).__name__}: {e}")
            finally:
                c.close()
            with lock:
                done.append(r)
            return r

        pool = ThreadPoolExecutor(n)
        futs = [pool.submit(one, i) for i in range(n)]
        # Wait until the server holds all n (max-concurrency 2: n - 2 waiting) before the signal;
        # judged from nnhost_queue_depth, without any timing assumption. If that cannot be seen
        # within 60 s the signal goes anyway and the note says so.
        confirmed = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                finished = len(done)
            if finished:
                break  # already finishing: the rest are surely in
            try:
                depth = queue_depth(srv)
            except Exception:  # noqa: BLE001
                depth = None
            if depth is not None and depth + 2 >= n:
                # nnhost_queue_depth counts the requests waiting for a slot: n - 2 waiting and 2
                # running (--max-concurrency 2) is all n in the server
                confirmed = True
                break
            time.sleep(0.02)
        rc, secs = srv.stop(signal.SIGTERM, DRAIN_EXIT_TIMEOUT)
        results = [f.result(timeout=REQUEST_TIMEOUT) for f in futs]
        pool.shutdown()
        bad = [f"{r[1]}: {r[2]}" for r in results if r[0] != "ok"]
        stopped = [e for e in srv.events if e.get("event") == "stopped"]
        need(rc is not None, f"still running {DRAIN_EXIT_TIMEOUT:.0f} s after SIGTERM (killed); {srv.tail()}")
        need(not bad, f"{len(bad)} of {n} in-flight requests failed "
                      f"({'all in flight' if confirmed else 'could not confirm they were all in flight'}): "
                      + " || ".join(bad[:3]))
        need(rc == 0, f"exit code {rc} after SIGTERM; {srv.tail()}")
        need(stopped, f"no stopped event; events {srv.events}; non-JSON stdout {srv.junk[:3]}")
        need(isinstance(stopped[-1].get("drained"), int), f"stopped event without an integer drained: {stopped[-1]}")
        drained = stopped[-1]["drained"]
        return (f"exit 0 in {secs:.1f} s, {n} in flight {'(confirmed by nnhost_queue_depth)' if confirmed else '(unconfirmed)'}"
                f" all correct, {stopped[-1]}" + ("; NB drained 0: they had all finished before the signal, the "
                                                  "drain itself was not exercised" if drained == 0 else ""))

    # ----- issue 24: attacks on the server's own resources (tract only, servers with small limits)

    def hardening_checks(self, srv):
        self.check("attack: stalled REST uploads hold at most --max-buffered-bytes; the rest get 503; 400 after --body-timeout",
                   self.stalled_uploads, srv, "http")
        self.check("attack: stalled gRPC messages hold at most --max-buffered-bytes; the rest RESOURCE_EXHAUSTED; reset after "
                   "--body-timeout", self.stalled_uploads, srv, "grpc")
        self.check("attack: gRPC message over --max-request-bytes -> RESOURCE_EXHAUSTED (as the README says)",
                   self.grpc_too_big, srv)
        self.check("attack: one output named thousands of times -> 400 / INVALID_ARGUMENT naming it, no amplified response",
                   self.duplicate_outputs, srv)
        self.check("attack: top_k far over the number of classes gives every class once", self.huge_top_k, srv)
        self.check("attack: response over --max-response-bytes -> 413 / RESOURCE_EXHAUSTED naming the limit",
                   self.response_too_big, srv)
        self.check("attack: a batch of small PNGs that decode huge stops at --request-deadline-ms with 504 / DEADLINE_EXCEEDED",
                   self.request_deadline, srv)
        self.check("attack: gRPC tensor data in both contents and raw_input_contents -> INVALID_ARGUMENT", self.both_contents, srv)
        self.check("attack: --log-requests: a 3 MB client-chosen model name is cut in the log", self.long_model_name_log, srv)
        self.check("attack: REST: invalid UTF-8 in the path, a wrong method -> JSON {\"error\"} bodies", self.rest_error_bodies, srv)
        self.check("attack: clients that hang up or cancel mid-request: running gauge back to 0, counted as cancelled",
                   self.hangups, srv)
        self.check("attack: SIGTERM after the cancelled requests: drained 0, exit 0", self.stop_after_hangups, srv)

    def stalled_shutdown_checks(self, srv):
        self.check("attack: SIGTERM while gRPC and REST clients stall mid-upload: exit within --drain-timeout",
                   self.stalled_shutdown, srv)

    def fd_limit_checks(self, srv):
        self.check(f"attack: at the fd limit (ulimit -n {FD_LIMIT}) waiting connections do not make the accept loops spin",
                   self.fd_exhaustion, srv)

    def stalled_uploads(self, srv, proto, n=24):
        """n clients each send 6 of a declared 8 MB and stall. The server may hold --max-buffered-bytes
        (32 MB) of them; without that bound it holds all n x 6 MB."""
        pid = srv.proc.pid
        self.still_ok(srv)
        before = proc_status_kib(pid)["VmRSS"]
        # five uploads take the whole budget (a gRPC message also has a 5-byte prefix)
        declared, sent = 8_000_000, BUFFERED_LIMIT // 5 - (5 if proto == "grpc" else 0)
        stalls = [(H2Stall if proto == "grpc" else HttpStall)(srv, declared, sent) for _ in range(n)]
        try:
            held = proc_status_kib(pid)["VmRSS"] - before
            refused = sum(1 for st in stalls if st.answered(0.5))
            # while the budget is taken, a normal request is turned away cleanly, over either protocol
            busy = []
            try:
                infer_raw("http-binary", hclient(srv), "shapes", *self._shapes_feeds())
            except InferenceServerException as e:
                busy.append(f"http {http_code(e)}")
            try:
                infer_raw("grpc", gclient(srv), "shapes", *self._shapes_feeds())
            except InferenceServerException as e:
                busy.append(f"grpc {grpc_code(e)}")
            need(busy == ["http 503", "grpc RESOURCE_EXHAUSTED"], f"a normal request while the budget is held: {busy}")
            bound = (BUFFERED_LIMIT + BUFFERED_SLACK) // 1024
            need(held < bound, f"the server grew by {held // 1024} MiB with {n} stalled uploads of {sent / 1e6:.1f} MB "
                               f"(bound: {bound // 1024} MiB = --max-buffered-bytes + {BUFFERED_SLACK >> 20} MiB)")
            need(refused >= n // 2, f"only {refused} of {n} stalled uploads were refused at once")
            # the ones that got budget are answered (HTTP 400, gRPC trailers or a reset) after --body-timeout
            t0 = time.monotonic()
            late = [st for st in stalls if not st.answered(BODY_TIMEOUT_S + 20)]
            waited = time.monotonic() - t0
            need(not late, f"{len(late)} stalled uploads still open {waited:.0f} s later")
            if proto == "http":
                codes = sorted({st.status for st in stalls})
                need(set(codes) <= {400, 503}, f"HTTP statuses {codes}, want 400 (timeout) and 503 (no budget)")
        finally:
            for st in stalls:
                st.close()
        self.still_ok(srv)
        return (f"{n} stalls of {sent / 1e6:.1f} MB: server RSS +{held // 1024} MiB (bound {bound // 1024} MiB), "
                f"{refused} refused at once, the rest answered within {waited:.1f} s; then a normal request is answered")

    def _shapes_feeds(self):
        feeds, want = self.refs.raw("shapes", 1)
        return feeds, list(want)

    def grpc_too_big(self, srv):
        i = grpcclient.InferInput("image", [1, 3, 1024, 1024], "FP32")  # 12.6 MB, over --max-request-bytes 8000000
        i.set_data_from_numpy(np.zeros((1, 3, 1024, 1024), np.float32))
        failed = lambda: metric_sum_labelled(srv, "nnhost_request_failures_total", 'model="-"', 'protocol="grpc"')
        before = failed()
        msg = expect_grpc_error("RESOURCE_EXHAUSTED", gclient(srv).infer, "shapes", [i], client_timeout=REQUEST_TIMEOUT)
        need("--max-request-bytes" in msg, f"message does not name the limit: {msg}")
        # Refused before its model name could be read: still counted, once, as a failure of model "-".
        need(failed() == before + 1, f"the refused message was counted {failed() - before} times, not once")
        readme = (ROOT / "README.md").read_text()
        need("RESOURCE_EXHAUSTED" in readme[readme.index("--max-request-bytes"):][:300],
             "the README does not say RESOURCE_EXHAUSTED next to --max-request-bytes")
        self.still_ok(srv)
        return msg[:120]

    def duplicate_outputs(self, srv):
        pid = srv.proc.pid
        before = proc_status_kib(pid)["VmHWM"]
        img = PHOTOS.joinpath("coffee.png").read_bytes()
        head = json.dumps({"parameters": {"top_k": 1_000_000},
                           "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                       "parameters": {"binary_data_size": len(img) + 4}}],
                           "outputs": [{"name": "label", "parameters": {"binary_data": False}}] * 20000}).encode()
        body = head + len(img).to_bytes(4, "little") + img
        err = expect_http_error(srv, 400, "POST", "/v2/models/shapes-classify/infer", body,
                                {"Inference-Header-Content-Length": str(len(head))})
        need("label" in err and "more than once" in err, f"error does not name the repeated output: {err}")
        i = grpcclient.InferInput("image", [1], "BYTES")
        i.set_data_from_numpy(np.array([img], dtype=np.object_))
        outs = [grpcclient.InferRequestedOutput("score")] * 20000
        gerr = expect_grpc_error("INVALID_ARGUMENT", gclient(srv).infer, "shapes-classify", [i], outputs=outs,
                                 parameters={"top_k": 1_000_000}, client_timeout=REQUEST_TIMEOUT)
        need("score" in gerr, f"error does not name the repeated output: {gerr}")
        grew = proc_status_kib(pid)["VmHWM"] - before
        need(grew < 64 * 1024, f"peak RSS grew by {grew // 1024} MiB on two {len(body) // 1000} KB requests")
        self.still_ok(srv)
        return f"{len(body)} B request: {err[:80]!r}; peak RSS +{grew // 1024} MiB"

    def huge_top_k(self, srv):
        classes = len((ROOT / "models/shapes/labels.txt").read_text().split())
        img = [SHAPE_IMAGES.joinpath("000-circle.png").read_bytes()]
        for proto in ("http", "grpc"):
            c = hclient(srv) if proto == "http" else gclient(srv)
            got, meta = infer_classify(proto, c, "shapes-classify", img, top_k=2**62)
            need(meta["label"][1] == [1, classes], f"{proto}: label shape {meta['label'][1]}, want [1, {classes}]")
            need(sorted(got["index"].ravel().tolist()) == list(range(classes)), f"{proto}: indices {got['index']}")
        return f"top_k 2^62 -> {classes} classes"

    def response_too_big(self, srv):
        # 256 images x 6 classes: about 54 KB of labels, scores and indices as JSON, 37 KB as binary, over
        # the server's --max-response-bytes 20000
        img = SHAPE_IMAGES.joinpath("000-circle.png").read_bytes()
        try:
            infer_classify("http", hclient(srv), "shapes-classify", [img] * 256, top_k=6, json_outputs=True)
        except InferenceServerException as e:
            need(http_code(e) == "413" and "--max-response-bytes" in e.message(), f"HTTP {http_code(e)}: {e.message()}")
            msg = e.message()
        else:
            raise CheckFailed("a response over --max-response-bytes was sent")
        expect_grpc_error("RESOURCE_EXHAUSTED", infer_classify, "grpc", gclient(srv), "shapes-classify", [img] * 256, top_k=6)
        self.still_ok(srv)
        return msg[:140]

    def request_deadline(self, srv):
        png = huge_png(2500, 2500)
        n = 64
        t0 = time.monotonic()
        for proto in ("http", "grpc"):
            c = hclient(srv) if proto == "http" else gclient(srv)
            t1 = time.monotonic()
            try:
                infer_classify(proto, c, "shapes-classify", [png] * n, top_k=1)
            except InferenceServerException as e:
                code = http_code(e) if proto == "http" else grpc_code(e)
                need(code in ("504", "DEADLINE_EXCEEDED") and "--request-deadline-ms" in e.message(),
                     f"{proto}: {code}: {e.message()}")
                msg = e.message()
            else:
                raise CheckFailed(f"{proto}: {n} huge images ran to the end ({time.monotonic() - t1:.1f} s)")
            took = time.monotonic() - t1
            need(took < REQUEST_DEADLINE_S + 15, f"{proto}: answered after {took:.1f} s")
        self.still_ok(srv)
        return f"{len(png)} B PNG decoding to 2500x2500, {n} per request: {msg[:120]!r} ({time.monotonic() - t0:.1f} s)"

    def both_contents(self, srv):
        from tritonclient.grpc import service_pb2, service_pb2_grpc
        import grpc
        feeds, _ = self.refs.raw("shapes", 1)
        x = feeds["image"].astype(np.float32)
        req = service_pb2.ModelInferRequest(model_name="shapes")
        t = req.inputs.add(name="image", datatype="FP32", shape=list(x.shape))
        t.contents.fp32_contents.extend(x.ravel().tolist())
        req.raw_input_contents.append(x.tobytes())
        with grpc.insecure_channel(srv.grpc) as ch:
            try:
                service_pb2_grpc.GRPCInferenceServiceStub(ch).ModelInfer(req, timeout=REQUEST_TIMEOUT)
            except grpc.RpcError as e:
                need(e.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{e.code()}: {e.details()}")
                need("contents" in e.details(), f"message does not say why: {e.details()}")
                self.still_ok(srv)
                return e.details()[:120]
        raise CheckFailed("a request with data in both contents and raw_input_contents was answered")

    def long_model_name_log(self, srv):
        name = "m" * 3_000_000
        expect_grpc_error("NOT_FOUND", lambda: grpc_raw_infer(srv, name))
        self.still_ok(srv)  # flushes a line after it
        longest = max(len(ln) for ln in srv.log_path.read_bytes().splitlines())
        need(longest < 4096, f"a log line of {longest} bytes")
        return f"longest stderr line {longest} bytes"

    def rest_error_bodies(self, srv):
        notes = []
        for method, path, want in [("GET", "/v2/models/%FF%FE/ready", 400), ("POST", "/v2/models/%C3%28/infer", 400),
                                   ("DELETE", "/v2/models/shapes", 405), ("GET", "/v2/models/shapes/infer", 405),
                                   ("PUT", "/v2/health/live", 405)]:
            notes.append(f"{method} {path} {want}: {expect_http_error(srv, want, method, path, b'{}' if method != 'GET' else None)[:50]}")
        self.still_ok(srv)
        return "; ".join(notes)

    def hangups(self, srv):
        """REST clients that close their connection while their request runs, gRPC calls with a 1 ms deadline
        and calls cancelled mid-flight: each request is counted as cancelled and the running gauge returns to 0."""
        png = huge_png(1500, 1500)
        body_head = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [6],
                                            "parameters": {"binary_data_size": 6 * (len(png) + 4)}}]}).encode()
        body = body_head + (len(png).to_bytes(4, "little") + png) * 6
        host, port = split_addr(srv.http)
        before = metric_sum(srv, "nnhost_requests_cancelled_total")
        for _ in range(3):
            s = socket.create_connection((host, port), timeout=30)
            s.sendall((f"POST /v2/models/shapes-classify/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                       f"Inference-Header-Content-Length: {len(body_head)}\r\n\r\n").encode() + body)
            wait_for(lambda: metric_sum(srv, "nnhost_requests_running") >= 1, 30, "the request to run")
            s.close()
        i = grpcclient.InferInput("image", [6], "BYTES")
        i.set_data_from_numpy(np.array([png] * 6, dtype=np.object_))
        g = gclient(srv)
        for _ in range(3):
            try:
                g.infer("shapes-classify", [i], client_timeout=0.001)
            except InferenceServerException:
                pass
        for _ in range(3):
            ctx = g.async_infer("shapes-classify", [i], callback=lambda result, error: None)
            wait_for(lambda: metric_sum(srv, "nnhost_requests_running") >= 1, 30, "the request to run")
            ctx.cancel()
        wait_for(lambda: metric_sum(srv, "nnhost_requests_running") == 0 and metric_sum(srv, "nnhost_queue_depth") == 0,
                 60, "nnhost_requests_running and nnhost_queue_depth to return to 0")
        cancelled = metric_sum(srv, "nnhost_requests_cancelled_total") - before
        need(cancelled >= 6, f"{cancelled} requests counted as cancelled, want at least 6 (3 REST hang-ups, 3 cancelled gRPC)")
        log = srv.log_path.read_text(errors="replace")
        need('"cancelled"' in log, "no cancelled request in the --log-requests log")
        self.still_ok(srv)
        return f"{cancelled:.0f} counted as cancelled; gauges 0"

    def stop_after_hangups(self, srv):
        rc, secs = srv.stop(signal.SIGTERM, EXIT_TIMEOUT)
        stopped = [e for e in srv.events if e.get("event") == "stopped"]
        need(rc == 0, f"exit code {rc}; {srv.tail()}")
        need(stopped and stopped[-1].get("drained") == 0, f"stopped event {stopped}: cancelled requests counted as drained")
        return f"exit 0 in {secs:.1f} s, {stopped[-1]}"

    def stalled_shutdown(self, srv):
        self.still_ok(srv)
        stalls = [H2Stall(srv, 8_000_000, 1_000_000), HttpStall(srv, 8_000_000, 1_000_000)]
        try:
            time.sleep(0.5)
            rc, secs = srv.stop(signal.SIGTERM, EXIT_TIMEOUT)
        finally:
            for st in stalls:
                st.close()
        need(rc is not None, f"still running {EXIT_TIMEOUT:.0f} s after SIGTERM (killed); {srv.tail()}")
        need(secs < 2 + 8, f"exited {secs:.1f} s after SIGTERM, --drain-timeout is 2 s")
        stopped = [e for e in srv.events if e.get("event") == "stopped"]
        need(rc == 0 and stopped, f"exit {rc}, events {srv.events}; {srv.tail()}")
        return f"exit {rc} {secs:.1f} s after SIGTERM; {stopped[-1]}"

    def fd_exhaustion(self, srv):
        pid = srv.proc.pid
        self.still_ok(srv)
        socks = []
        try:
            for addr in (srv.http, srv.grpc) * (FD_LIMIT // 2 + 20):
                socks.append(socket.create_connection(split_addr(addr), timeout=10))
            time.sleep(1)
            t0, cpu0 = time.monotonic(), proc_cpu_s(pid)
            time.sleep(3)
            cpu = (proc_cpu_s(pid) - cpu0) / (time.monotonic() - t0)
            need(srv.alive(), f"server exited; {srv.tail()}")
            need(cpu < 0.25, f"the server used {cpu:.2f} CPU-seconds a second with {len(socks)} connections waiting")
        finally:
            for s_ in socks:
                s_.close()
        wait_for(lambda: self._answers(srv), 30, "the server to answer after the connections closed")
        self.still_ok(srv)
        return f"{len(socks)} connections at ulimit -n {FD_LIMIT}: {cpu:.3f} CPU-s/s; then a normal request is answered"

    def _answers(self, srv):
        try:
            self.still_ok(srv)
            return True
        except Exception:  # noqa: BLE001
            return False

    # ----- the run

    def run(self):
        a = self.args
        if a.attach_http:
            srv = Attached(a.attach_http, a.attach_grpc)
            self.models = a.attach_models.split(",")
            self.main_checks(srv, attached=True)
            for what in ("backpressure", "413", "SIGTERM"):
                self.report.skip(self.label(what), "needs to start the server itself (not with --attach-*)")
            return
        for g in self.groups():
            if not self.wanted(g.start_label, *self.names_of(g.checks)):
                continue
            srv = self.start(g.name, g.flags)
            try:
                if self.check(g.start_label, g.ready, srv, force=True):
                    g.checks(srv)
                else:
                    self.report.skip(self.label(f"(the {g.name} server's checks)"), "the server did not start")
            finally:
                srv.close()

    def slow_headers(self, srv):
        """A client that sends half a request line and then nothing is disconnected after
        --header-timeout (2 s here); the server keeps answering others meanwhile."""
        host, port = split_addr(srv.http)
        s = socket.create_connection((host, port), timeout=30)
        t0 = time.monotonic()
        try:
            s.sendall(b"POST /v2/models/shapes/infer HTTP/1.1\r\nHost: x\r\n")
            self.still_ok(srv)
            closed = False
            while time.monotonic() - t0 < 25:
                try:
                    if s.recv(65536) == b"":
                        closed = True
                        break
                except (ConnectionResetError, socket.timeout):
                    closed = True
                    break
            secs = time.monotonic() - t0
        finally:
            s.close()
        need(closed, "the half-sent request was still open after 25 s")
        self.still_ok(srv)
        return f"disconnected after {secs:.1f} s"

    def hostile_plugin(self, srv):
        """A hostile classifier plugin named with --classifier: each attack (selected by the "image"
        bytes, see guests/hostile) is an error response; good requests keep working meanwhile."""
        attacks = ["loop", "grow", "recurse", "trap", "leak", "huge-label", "many-predictions", "bad-index",
                   "nan-score", "sleep", "tensor-flood", "huge-dims", "path-names", "env"]

        def one(attack):
            try:
                infer_classify("http-binary", hclient(srv), "shapes-classify", [attack.encode()])
                return attack, "answered"
            except Exception as e:  # noqa: BLE001
                return attack, http_code(e)

        with ThreadPoolExecutor(max_workers=4) as ex:
            futs = [ex.submit(one, a) for a in attacks]
            # Good requests alongside the attacks.
            for _ in range(5):
                self.still_ok(srv)
            results = dict(f.result(timeout=REQUEST_TIMEOUT) for f in futs)
        answered = [a for a, r in results.items() if r == "answered"]
        need(not answered, f"attacks answered as if they were fine: {answered}")
        self.still_ok(srv)
        return ", ".join(f"{a} {r}" for a, r in sorted(results.items()))

    def ready_event(self, srv):
        ev = srv.wait_ready()
        models = ev.get("models")
        need(isinstance(models, list), f"ready event without a models list: {ev}")
        registry = registry_models(self.args.nnhost)
        want = sorted([m for m in registry] + [f"{m}-classify" for m in registry] + installed_plugins(self.args.nnhost))
        need(sorted(models) == want, f"ready event models {sorted(models)}, want {want}")
        self.models = models
        need(srv.events[0].get("event") == "listening", f"first event is not listening: {srv.events[0]}")
        return f"{len(models)} models; http {srv.http}, grpc {srv.grpc}"

    def main_checks(self, srv, attached: bool):
        for proto in ("http", "grpc"):
            self.check(f"health live/ready, every model ready ({proto})", self.health, srv, proto)
        self.check("health over plain HTTP (status codes)", self.health_plain_http, srv)
        for proto in ("http", "grpc"):
            self.check(f"server metadata ({proto})", self.server_metadata, srv, proto)
        meta_models = ["shapes", "mobilenet-v2"] + ([] if attached else ["mobilenet-v2-classify"])
        for m in meta_models:
            for proto in ("http", "grpc"):
                self.check(f"model metadata {m} ({proto})", self.model_metadata, srv, proto, m)
        for m in ("shapes", "mobilenet-v2"):
            for proto in ("http-json", "http-binary", "grpc"):
                self.check(f"raw infer {m} = nnhost run ({proto})", self.raw_infer, srv, proto, m)
        if not attached:
            self.classify_checks(srv)
            self.task_checks(srv)
            self.check("concurrent load: 300 requests, 32 threads, mixed http/grpc raw/classify", self.load, srv)
        self.bad_checks(srv) if not attached else self.bad_checks_attached(srv)
        if not attached:
            self.check("metrics: nnhost_requests_total with model/backend/protocol labels", self.metrics, srv)
            self.check("stdout: only JSON event lines", lambda: need(not srv.junk, f"non-JSON stdout lines: {srv.junk[:5]}"))
            self.check("SIGTERM with 8 requests in flight: all complete, exit 0, stopped event", self.drain, srv)

    def bad_checks_attached(self, srv):
        # the protocol-level subset another OIP server can be held to
        P = "/v2/models/shapes/infer"
        for what, fn in [
            ("malformed JSON -> 400", lambda: expect_http_error(srv, 400, "POST", P, b'{"inputs": [{"name": "image", ',
                                                                    JSONCT)),
            ("unknown model infer -> 404 (http)", lambda: expect_http_error(srv, 404, "POST", "/v2/models/no-such-model/infer",
                                                                            self.shapes_json_body(), JSONCT)),
            ("unknown model -> NOT_FOUND (grpc)", lambda: self.grpc_unknown_model(srv)),
            ("wrong datatype -> 400 (http)", lambda: expect_http_error(srv, 400, "POST", P, self.shapes_json_body("INT32"), JSONCT)),
            ("wrong datatype -> INVALID_ARGUMENT (grpc)", lambda: self.grpc_bad_input(srv, "INT32", (1, 3, 64, 64))),
            ("wrong shape, element count mismatch -> 400 (http json)", lambda: expect_http_error(
                srv, 400, "POST", P, self.shapes_json_body(count=10), JSONCT)),
            ("shape the model does not take -> 400 (http)", lambda: expect_http_error(
                srv, 400, "POST", P, self.shapes_json_body(shape=(1, 3, 32, 32)), JSONCT)),
            ("half a body, then the client disconnects", lambda: self.half_body(srv)),
        ]:
            self.check(f"bad request: {what}", self.bad, srv, what, fn)


def queue_depth(srv) -> float:
    status, _, body = http_req(srv, "GET", "/metrics", timeout=10)
    if status != 200:
        return None
    total = 0.0
    for ln in body.decode("utf-8", "replace").splitlines():
        if ln.startswith("nnhost_queue_depth"):
            total += float(ln.rsplit(" ", 1)[1])
    return total


def send_streaming(srv, path: str, body: bytes, chunked: bool):
    """POSTs body on a raw socket, reading any early answer between chunks (a server may refuse an
    oversized request before reading it all). Returns (status or None, raw response bytes)."""
    host, port = split_addr(srv.http)
    s = socket.create_connection((host, port), timeout=REQUEST_TIMEOUT)
    head = f"POST {path} HTTP/1.1\r\nHost: {srv.http}\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {len(body)}\r\n"
    head += "Connection: close\r\n\r\n"
    resp = b""
    try:
        s.sendall(head.encode())
        step = 64 * 1024
        for off in range(0, len(body), step):
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break  # the server answered early
            piece = body[off: off + step]
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        else:
            if chunked:
                s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
            if b"\r\n\r\n" in resp:
                head_part, _, rest = resp.partition(b"\r\n\r\n")
                m = re.search(rb"content-length:\s*(\d+)", head_part, re.I)
                if m and len(rest) >= int(m.group(1)):
                    break
    except (ConnectionResetError, socket.timeout):
        pass
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
    return (int(m.group(1)) if m else None), resp


def response_body(resp: bytes) -> bytes:
    """The body of a raw HTTP/1.1 response (Content-Length or chunked)."""
    head, _, rest = resp.partition(b"\r\n\r\n")
    if not re.search(rb"transfer-encoding:\s*chunked", head, re.I):
        return rest
    out = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return out



# ---------------------------------------------------------------- issue 24: attack helpers

BUFFERED_LIMIT = 32_000_000
# What else the server may allocate while it holds the stalled bodies (connection buffers, allocator
# slack); without --max-buffered-bytes it holds all 24 x 6 MB = 144 MB.
BUFFERED_SLACK = 40 << 20
BODY_TIMEOUT_S = 3
REQUEST_DEADLINE_S = 1.5
RESPONSE_LIMIT = 20_000
FD_LIMIT = 128
HARDENING_FLAGS = ["-m", "shapes", "--max-concurrency", "2", "--log-requests",
                   "--max-request-bytes", "8000000", "--max-buffered-bytes", str(BUFFERED_LIMIT),
                   "--body-timeout", str(BODY_TIMEOUT_S), "--max-response-bytes", str(RESPONSE_LIMIT),
                   "--request-deadline-ms", str(int(REQUEST_DEADLINE_S * 1000))]


def proc_status_kib(pid: int) -> dict:
    """VmRSS, VmHWM, ... of a process, in KiB."""
    out = {}
    for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = ln.partition(":")
        if v.strip().endswith("kB"):
            out[k] = int(v.split()[0])
    return out


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric_sum(srv, name: str) -> float:
    status, _, body = http_req(srv, "GET", "/metrics", timeout=30)
    need(status == 200, f"GET /metrics: HTTP {status}")
    total = 0.0
    for ln in body.decode("utf-8", "replace").splitlines():
        if ln.startswith(name + "{") or ln.startswith(name + " "):
            total += float(ln.rsplit(" ", 1)[1])
    return total


def metric_sum_labelled(srv, name: str, *labels: str) -> float:
    """The sum of metric `name`'s samples that have every one of `labels` (e.g. 'protocol="grpc"')."""
    status, _, body = http_req(srv, "GET", "/metrics", timeout=30)
    need(status == 200, f"GET /metrics: HTTP {status}")
    total = 0.0
    for ln in body.decode("utf-8", "replace").splitlines():
        if ln.startswith(name + "{") and all(lb in ln for lb in labels):
            total += float(ln.rsplit(" ", 1)[1])
    return total


def wait_for(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise CheckFailed(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


def huge_png(w: int, h: int) -> bytes:
    """A PNG of a few KB that decodes to w x h RGB pixels."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\0" + b"\x80\x40\x20" * w) * h
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


class HttpStall:
    """A REST upload that declares `declared` bytes, sends `sent` and stalls (a raw socket)."""

    def __init__(self, srv, declared: int, sent: int):
        self.s = socket.create_connection(split_addr(srv.http), timeout=30)
        self.status = None
        self.s.sendall((f"POST /v2/models/shapes/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n"
                        "Content-Type: application/json\r\n\r\n").encode())
        try:
            self.s.sendall(b" " * sent)
        except OSError:
            pass  # answered and closed early (no budget)

    def answered(self, timeout: float) -> bool:
        if self.status is not None:
            return True
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return False
        try:
            data = self.s.recv(65536)
        except OSError:
            data = b""
        m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        self.status = int(m.group(1)) if m else 0
        return True

    def close(self):
        self.s.close()


class H2Stall:
    """A gRPC ModelInfer call over a raw HTTP/2 connection whose message declares `declared` bytes, of
    which `sent` are sent; then it stalls. answered(): the server ended or reset the stream."""

    PATH = b"/inference.GRPCInferenceService/ModelInfer"

    def __init__(self, srv, declared: int, sent: int):
        self.s = socket.create_connection(split_addr(srv.grpc), timeout=30)
        self.buf = b""
        self.done = False
        self.s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self.frame(4, 0, 0))
        # the server's settings and its connection window (32 MiB) before any data
        seen_window = False
        while not seen_window:
            kind, flags, stream, payload = self.read_frame(30)
            if kind == 4 and not flags & 1:
                self.s.sendall(self.frame(4, 1, 0))
            seen_window |= kind == 8 and stream == 0

        def lit(n, v):
            return b"\0" + bytes([len(n)]) + n + bytes([len(v)]) + v

        headers = (lit(b":method", b"POST") + lit(b":scheme", b"http") + lit(b":path", self.PATH)
                   + lit(b":authority", b"x") + lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers"))
        self.s.sendall(self.frame(1, 4, 1, headers))
        data = b"\0" + declared.to_bytes(4, "big") + b"\0" * sent
        try:
            for off in range(0, len(data), 16384):
                self.s.sendall(self.frame(0, 0, 1, data[off:off + 16384]))
        except OSError:
            self.done = True

    @staticmethod
    def frame(kind, flags, stream, payload=b""):
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    def read_frame(self, timeout):
        deadline = time.monotonic() + timeout
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.s], [], [], max(left, 0))
            if not r:
                return None
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        n = int.from_bytes(self.buf[:3], "big")
        kind, flags, stream = self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
        payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
        return kind, flags, stream, payload

    def answered(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.done:
            try:
                f = self.read_frame(max(deadline - time.monotonic(), 0))
            except OSError:
                f, self.done = None, True
            if f is None:
                break
            kind, flags, stream, _ = f
            # HEADERS ending the stream (trailers-only error), RST_STREAM, or GOAWAY
            if (stream == 1 and (kind == 3 or (kind == 1 and flags & 1))) or kind == 7:
                self.done = True
        return self.done

    def close(self):
        self.s.close()


def grpc_raw_infer(srv, model: str):
    """A ModelInfer call with any model name (tritonclient checks nothing, but this skips its wrapping)."""
    i = grpcclient.InferInput("image", [1], "BYTES")
    i.set_data_from_numpy(np.array([b"x"], dtype=np.object_))
    return gclient(srv).infer(model, [i], client_timeout=REQUEST_TIMEOUT)

def installed_plugins(nnhost: str) -> list[str]:
    """The task plugins of ./plugins, which `nnhost serve` serves under their names."""
    p = subprocess.run([nnhost, "plugins", "--json"], cwd=ROOT, capture_output=True, timeout=300, env=os.environ.copy())
    if p.returncode != 0:
        raise CheckFailed(f"`nnhost plugins --json` exited {p.returncode}: {p.stderr.decode(errors='replace')[-300:]}")
    return [json.loads(ln)["name"] for ln in p.stdout.decode().splitlines() if ln.strip()]


def registry_models(nnhost: str) -> list[str]:
    p = subprocess.run([nnhost, "models", "--json"], cwd=ROOT, capture_output=True, timeout=120, env=os.environ.copy())
    if p.returncode != 0:
        raise CheckFailed(f"`nnhost models --json` exited {p.returncode}: {p.stderr.decode(errors='replace')[-300:]}")
    return [json.loads(ln)["name"] for ln in p.stdout.decode().splitlines() if ln.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nnhost", default=str(ROOT / "target/release/nnhost"), help="the nnhost binary")
    ap.add_argument("--backends", default="tract,onnxruntime,openvino")
    ap.add_argument("--only", help="run only the checks whose label matches this regex")
    ap.add_argument("--log-dir", help="where server stderr logs go [default: a temporary folder]")
    ap.add_argument("--verbose", action="store_true", help="tracebacks and timings")
    ap.add_argument("--timeout", type=float, default=3600, help="whole run, seconds: a hung server fails the run "
                                                                  "instead of hanging it [default: 3600]")
    ap.add_argument("--attach-http", help="test an OIP server already listening here (HOST:PORT) instead of nnhost serve")
    ap.add_argument("--attach-grpc", help="its gRPC address (HOST:PORT)")
    ap.add_argument("--attach-models", default="shapes,mobilenet-v2", help="the models the attached server has")
    ap.add_argument("--reference-backend", default="onnxruntime", help="backend of the references with --attach-*")
    ap.add_argument("--hostile-plugin", help="guests/hostile's component: also check a server whose --classifier is it")
    a = ap.parse_args()
    if bool(a.attach_http) != bool(a.attach_grpc):
        ap.error("--attach-http and --attach-grpc go together")
    if a.attach_http:
        global JSON_HEADERS
        JSON_HEADERS = {"Content-Type": "application/json"}
    a.nnhost = str(Path(a.nnhost).resolve())
    if not Path(a.nnhost).is_file():
        ap.error(f"no nnhost binary at {a.nnhost}")
    log_dir = Path(a.log_dir) if a.log_dir else Path(tempfile.mkdtemp(prefix="nnhost-serve-test-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    report = Report(a.only, a.verbose)
    backends = [a.reference_backend] if a.attach_http else [b for b in a.backends.split(",") if b]
    t0 = time.monotonic()

    def watchdog():
        print(f"FAIL watchdog: the run took over {a.timeout:.0f} s (something hangs); server logs in {log_dir}", flush=True)
        for srv in LIVE_SERVERS:
            if srv.proc and srv.proc.poll() is None:
                print(f"     {srv.label} still running; {srv.tail(5)}", flush=True)
                srv.proc.kill()
        os._exit(1)

    dog = threading.Timer(a.timeout, watchdog)
    dog.daemon = True
    dog.start()
    print(f"test_serve: {a.nnhost}; backends {', '.join(backends)}; logs in {log_dir}; "
          f"NNHOST_CACHE_DIR={os.environ.get('NNHOST_CACHE_DIR', '(unset)')}", flush=True)
    for b in backends:
        refs = Refs(a.nnhost, b, log_dir / "refs")
        Suite(a, report, b, refs, log_dir).run()
    print(f"test_serve: {report.passed} ok, {len(report.failed)} failed, {report.skipped} skipped "
          f"in {time.monotonic() - t0:.0f} s" + (f"; server logs in {log_dir}" if report.failed else ""), flush=True)
    if report.failed:
        print("failed:\n  " + "\n  ".join(report.failed), flush=True)
        sys.exit(1)
    if report.passed == 0:
        print("test_serve: no check ran (see --only)", flush=True)
        sys.exit(1)



# ---------------------------------------------------------------- pytest: one test per check
# `python -m pytest -v tests/serve/test_serve.py [--nnhost BIN] [--backends ...] [--hostile-plugin WASM]`
# (options in conftest.py): every check above is its own test, `test_check[<backend>: <check>]`, run in
# the order of script mode on the same servers (one at a time, shared by the checks of its group).

def pytest_options(config) -> SimpleNamespace:
    nnhost = str(Path(config.getoption("nnhost")).resolve())
    if not Path(nnhost).is_file():
        raise pytest.UsageError(f"no nnhost binary at {nnhost}")
    return SimpleNamespace(nnhost=nnhost, backends=[b for b in config.getoption("backends").split(",") if b],
                           hostile_plugin=config.getoption("hostile_plugin"), log_dir=config.getoption("log_dir"),
                           timeout=config.getoption("serve_timeout"), attach_http=None, attach_grpc=None)


def pytest_generate_tests(metafunc):
    if "check" not in metafunc.fixturenames:
        return
    opts = pytest_options(metafunc.config)
    params, ids = [], []
    for backend in opts.backends:
        suite = Suite(opts, None, backend, None, None)
        for g in suite.groups():
            for name in [g.start_label, *suite.names_of(g.checks)]:
                params.append((backend, g.name, name))
                ids.append(f"{backend}: {name}")
    metafunc.parametrize("check", params, ids=ids)


class Servers:
    """The servers of a pytest run: one at a time, started by the first check of its group (which is
    in order, so the previous group's server is closed then)."""

    def __init__(self, opts):
        self.opts = opts
        self.log_dir = Path(opts.log_dir) if opts.log_dir else Path(tempfile.mkdtemp(prefix="nnhost-serve-test-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.suites: dict[str, Suite] = {}
        self.current = None  # ((backend, group), srv, start error, start note)

    def suite(self, backend: str) -> Suite:
        if backend not in self.suites:
            refs = Refs(self.opts.nnhost, backend, self.log_dir / "refs")
            self.suites[backend] = Suite(self.opts, None, backend, refs, self.log_dir)
        return self.suites[backend]

    def server(self, backend: str, group: Group):
        key = (backend, group.name)
        if self.current is None or self.current[0] != key:
            self.close()
            srv = self.suite(backend).start(group.name, group.flags, group.wrap)
            try:
                self.current = (key, srv, None, group.ready(srv))
            except Exception as e:  # noqa: BLE001 - reported by the group's start check
                self.current = (key, srv, e, None)
        return self.current[1:]

    def close(self):
        if self.current is not None:
            self.current[1].close()
            self.current = None


if pytest is not None:
    @pytest.fixture(scope="module")
    def servers(request):
        opts = pytest_options(request.config)
        print(f"test_serve: {opts.nnhost}; NNHOST_CACHE_DIR={os.environ.get('NNHOST_CACHE_DIR', '(unset)')}", flush=True)
        pool = Servers(opts)

        def watchdog():
            print(f"FAIL watchdog: the run took over {opts.timeout:.0f} s (something hangs); server logs in "
                  f"{pool.log_dir}", flush=True)
            for srv in LIVE_SERVERS:
                if srv.proc and srv.proc.poll() is None:
                    srv.proc.kill()
            os._exit(1)

        dog = threading.Timer(opts.timeout, watchdog)
        dog.daemon = True
        dog.start()
        try:
            yield pool
        finally:
            dog.cancel()
            pool.close()


def test_check(servers, check):
    """One check of one backend, on its group's server (started by the first check of the group)."""
    backend, group_name, name = check
    suite = servers.suite(backend)
    group = suite.group(group_name)
    srv, start_error, note = servers.server(backend, group)
    if name == group.start_label:
        if start_error is not None:
            raise start_error
        print(f"{suite.label(name)}: {note or 'ready'}; server log {srv.log_path}", flush=True)
        return
    if start_error is not None:
        pytest.skip(f"the {group_name} server did not start (see its start check)")
    try:
        suite.run_one(group.checks, srv, name)
    except Exception:
        print(f"server log: {srv.log_path}", flush=True)
        raise


if __name__ == "__main__":
    main()
