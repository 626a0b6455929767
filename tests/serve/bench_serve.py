#!/usr/bin/env python3
"""Serving benchmark: `nnhost serve` (onnxruntime and tract backends) against the Python Open Inference
Protocol baseline (tests/serve/python_server.py: kserve's ModelServer + ONNX Runtime) on the same model,
with the same closed-loop load (tests/serve/load.py, tritonclient from threads) in one interleaved run.

    bench_serve.py --nnhost target/release/nnhost [--model mobilenet-v2] [--backends onnxruntime,tract]
                   [--path raw|classify|both] [--photos FILE...] [--protocols grpc,http] [--rounds 3]
                   [--concurrency 16] [--requests 400] [--warmup 40] [--threads 1] [--max-concurrency C]
                   [--out FILE.json]

Two paths (--path, default both):
  raw       the model M as raw tensors: a fixed random input tensor of the model's shape, FP32;
  classify  the classifier: nnhost's `M-classify` (the image-classifier plugin: decode, preprocess, infer,
            rank, all in the sandbox) against the KServe predictor a user writes for it (python_server.py
            --classify: Pillow decode and the model's own preprocessing, pillow_preprocess.py's
            `preprocess_image`, then ONNX Runtime, softmax, top 5); each request is one real photo
            (--photos, default fixtures/photos/*.png and *.jpg) as encoded bytes, a BYTES tensor of
            shape [1], the photos taken in turn: raw bytes, except to KServe over REST, which takes them
            only base64-encoded in JSON (see python_server.py). Before timing, every server classifies every photo
            over both protocols and must give the same top-1 label as the others (else no numbers).
The model alone is measured too, in this process, before the servers start: ONNX Runtime (the same
library version) with the same threads per inference, on the raw tensor and on each photo's
preprocessed tensor (CPU ms per image), and Pillow's decode + preprocessing of each photo. The table's
"model CPU ms/req" is that model time (ONNX Runtime rows only) and "other CPU ms/req" the server CPU
per request beyond it: protocol, framework, and for classify the decoding and preprocessing.

Setup: ./scripts/setup-native (.venv: tritonclient, onnxruntime, onnx) and ./scripts/setup-bench
(.venv-bench: kserve); run it with .venv/bin/python from anywhere.

Fairness: every server gets the same engine threads per inference (--threads: `nnhost --threads`,
ONNX Runtime intra-op threads in the baseline) and the same number of inferences at once
(--max-concurrency, default cores / threads: `nnhost serve --max-concurrency`, the baseline's thread
pool; plain kserve would run one at a time on its event loop). nnhost's queue is made deep enough that
the load never meets backpressure. All servers are started first and stay up; then every round runs
each (server, protocol) once, in the same order (A/B/A/B...), so drift on a shared machine spreads over
all of them. The table gives the median over rounds of each figure; the JSON (--out) has every run.
The load generator runs on the same machine and takes CPU too: compare rows, not absolute numbers.
Server CPU ms/req is the server process's user+system time during a run over the successful requests.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from test_serve import READY_TIMEOUT, Server, graph_io  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / CLK  # utime, stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_input(model: str, seed: int, work: Path) -> tuple[str, Path, list[int]]:
    """The registry model's input: name and shape from model.toml, checked against the ONNX graph."""
    d = ROOT / "models" / model
    toml = tomllib.loads((d / "model.toml").read_text())
    inp = toml["input"]
    c, h, w = int(inp.get("channels", 3)), int(inp["height"]), int(inp["width"])
    shape = [1, c, h, w] if inp.get("layout", "NCHW").upper() == "NCHW" else [1, h, w, c]
    ins, _ = graph_io(d / toml.get("file", "model.onnx"))
    graph = {i["name"]: i for i in ins}
    name = inp.get("name", ins[0]["name"])
    if name not in graph:
        sys.exit(f"bench_serve: model.toml input {name!r} is not an input of the graph ({list(graph)})")
    g = graph[name]
    if g["datatype"] != "FP32" or len(g["shape"]) != 4 or any(gd not in (-1, sd) for gd, sd in zip(g["shape"], shape)):
        sys.exit(f"bench_serve: model.toml says {shape} f32, the graph says {g['shape']} {g['datatype']}")
    arr = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    f = work / f"{model}-input.npy"
    np.save(f, arr)
    return name, f, shape


def model_alone(model: str, threads: int, name: str, arr: np.ndarray, photos: list[Path], reps: int) -> dict:
    """The model alone, as both servers run it: ONNX Runtime with `threads` intra-op threads, CPU ms per
    image (process CPU time, so ONNX Runtime's own threads count too), on the raw tensor and on every
    photo's preprocessed tensor; and the KServe predictor's Pillow decode + preprocessing per photo."""
    import onnxruntime as ort
    sys.path.insert(0, str(ROOT / "models" / "scripts"))
    from pillow_preprocess import preprocess_image

    d = ROOT / "models" / model
    toml = tomllib.loads((d / "model.toml").read_text())
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(str(d / toml.get("file", "model.onnx")), so, providers=["CPUExecutionProvider"])
    out = toml.get("output", {}).get("name", "logits")

    def per_call(f, n):
        f()  # warm
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            f()
        return (time.process_time() - c0) * 1000 / n, (time.perf_counter() - w0) * 1000 / n

    raw_cpu, raw_wall = per_call(lambda: sess.run(None, {name: arr}), reps)
    res = {"engine": f"onnxruntime {ort.__version__}", "threads": threads, "raw_model_cpu_ms": round(raw_cpu, 3),
           "raw_model_wall_ms": round(raw_wall, 3), "photos": {}}
    if photos:
        inp = toml["input"]
        for p in photos:
            pre_cpu, _ = per_call(lambda: preprocess_image(str(p), inp), max(3, reps // 5))
            x = preprocess_image(str(p), inp)
            m_cpu, m_wall = per_call(lambda: sess.run([out], {inp.get("name", "input"): x}), max(3, reps // 5))
            res["photos"][p.name] = {"pillow_preprocess_cpu_ms": round(pre_cpu, 3), "model_cpu_ms": round(m_cpu, 3),
                                     "model_wall_ms": round(m_wall, 3)}
        ph = res["photos"].values()
        res["classify_model_cpu_ms"] = round(statistics.mean(v["model_cpu_ms"] for v in ph), 3)
        res["classify_pillow_preprocess_cpu_ms"] = round(statistics.mean(v["pillow_preprocess_cpu_ms"] for v in ph), 3)
    return res


def classify_top1(http: str, grpc: str, model: str, photos: list[Path], http_b64: bool) -> dict:
    """Each photo's top-1 label from a classifier, over REST (binary, or base64 JSON with http_b64) and gRPC:
    {protocol: [label, ...]}."""
    import base64
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient
    got = {}
    for proto in ("http", "grpc"):
        cl = httpclient if proto == "http" else grpcclient
        c = cl.InferenceServerClient(http if proto == "http" else grpc)
        labels = []
        for p in photos:
            i = cl.InferInput("image", [1], "BYTES")
            arr = np.array([p.read_bytes()], dtype=np.object_)
            if proto == "http" and http_b64:
                i.set_data_from_numpy(np.array([base64.b64encode(p.read_bytes()).decode("ascii")], dtype=np.object_),
                                      binary_data=False)
            else:
                i.set_data_from_numpy(arr, **({"binary_data": True} if proto == "http" else {}))
            r = c.infer(model, [i], **({"headers": {"Content-Type": "application/json"}} if proto == "http" and http_b64 else {}))
            lab = r.as_numpy("label")
            if lab is None or lab.size < 1:
                sys.exit(f"bench_serve: {model} over {proto} gave no label for {p.name}")
            x = lab.reshape(-1)[0]
            labels.append(x.decode("utf-8") if isinstance(x, bytes) else str(x))
        got[proto] = labels
    return got


class PythonServer:
    def __init__(self, model: str, onnx_path: Path, threads: int, conc: int, log_dir: Path, paths: list[str]):
        self.http_port, self.grpc_port = free_port(), free_port()
        self.http, self.grpc = f"127.0.0.1:{self.http_port}", f"127.0.0.1:{self.grpc_port}"
        py = ROOT / ".venv-bench" / "bin" / "python"
        if not py.exists():
            sys.exit("bench_serve: no .venv-bench; run ./scripts/setup-bench first")
        served = (["--model", f"{model}={onnx_path}"] if "raw" in paths else []) + \
            (["--classify", f"{model}-classify={ROOT / 'models' / model}"] if "classify" in paths else [])
        self.cmd = [str(py), str(HERE / "python_server.py"), *served, "--threads", str(threads),
                    "--max-concurrency", str(conc), "--quiet", "--http_port", str(self.http_port),
                    "--grpc_port", str(self.grpc_port), "--workers", "1"]
        self.log_path = log_dir / "python_server.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

    def wait_ready(self, models: list[str]):
        import tritonclient.http as httpclient
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench_serve: python_server exited {self.proc.returncode}; see {self.log_path}")
            try:
                c = httpclient.InferenceServerClient(self.http)
                if c.is_server_ready() and all(c.is_model_ready(m) for m in models):
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.5)
        sys.exit(f"bench_serve: python_server not ready in {READY_TIMEOUT:.0f} s; see {self.log_path}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def sanity(http: str, model: str, name: str, arr: np.ndarray, ref: np.ndarray, who: str):
    """One request before timing: a server that answers wrongly is not benchmarked."""
    import tritonclient.http as httpclient
    c = httpclient.InferenceServerClient(http)
    i = httpclient.InferInput(name, list(arr.shape), "FP32")
    i.set_data_from_numpy(arr, binary_data=True)
    r = c.infer(model, [i])
    out = r.as_numpy(r.get_response()["outputs"][0]["name"])
    if out.shape != ref.shape or not np.allclose(out, ref, rtol=1e-3, atol=1e-3):
        sys.exit(f"bench_serve: {who} answers wrongly (max |diff| {np.abs(out - ref).max() if out.shape == ref.shape else out.shape})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nnhost", default=str(ROOT / "target/release/nnhost"))
    ap.add_argument("--model", default="mobilenet-v2")
    ap.add_argument("--backends", default="onnxruntime,tract", help="nnhost backends to measure")
    ap.add_argument("--path", choices=["raw", "classify", "both"], default="both",
                    help="raw tensors (M), the classifier (M-classify: photos in, labels out), or both [default]")
    ap.add_argument("--photos", nargs="+", help="encoded images for the classify path "
                    "[default: fixtures/photos/*.png and *.jpg]")
    ap.add_argument("--model-reps", type=int, default=200, help="ONNX Runtime calls timed for the model-alone figure")
    ap.add_argument("--protocols", default="grpc,http")
    ap.add_argument("--no-python", action="store_true", help="leave out the kserve baseline")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16, help="client threads (requests in flight)")
    ap.add_argument("--requests", type=int, default=400, help="timed requests per run")
    ap.add_argument("--warmup", type=int, default=40, help="untimed requests before each run")
    ap.add_argument("--threads", type=int, default=1, help="engine threads per inference, every server")
    ap.add_argument("--max-concurrency", type=int, help="inferences at once, every server [default: cores / threads]")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--log-dir", help="server logs [default: a temporary folder]")
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    conc = a.max_concurrency or max(1, cores // a.threads)
    log_dir = Path(a.log_dir) if a.log_dir else Path(tempfile.mkdtemp(prefix="nnhost-bench-serve-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    paths = ["raw", "classify"] if a.path == "both" else [a.path]
    name, npy, shape = model_input(a.model, 0, log_dir)
    arr = np.load(npy)
    onnx_path = ROOT / "models" / a.model / "model.onnx"
    import onnxruntime as ort
    ref = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {name: arr})[0]
    photos = []
    if "classify" in paths:
        pats = a.photos or [str(ROOT / "fixtures/photos/*.png"), str(ROOT / "fixtures/photos/*.jpg")]
        photos = [Path(f) for pat in pats for f in (sorted(glob.glob(pat)) or [pat])]
        for p in photos:
            if not p.is_file():
                sys.exit(f"bench_serve: no photo {p}")
    print(f"bench_serve: measuring the model alone (onnxruntime, {a.threads} thread(s))", file=sys.stderr)
    alone = model_alone(a.model, a.threads, name, arr, photos, a.model_reps)
    print(f"bench_serve: model alone: raw {alone['raw_model_cpu_ms']} CPU ms/image" +
          (f"; photos: model {alone['classify_model_cpu_ms']}, Pillow decode + preprocessing "
           f"{alone['classify_pillow_preprocess_cpu_ms']} CPU ms/image (mean over {len(photos)})" if photos else ""),
          file=sys.stderr)
    cmodel = f"{a.model}-classify"

    servers = []  # (label, backend, http, grpc, pid, stop)
    started = []
    try:
        for b in [x for x in a.backends.split(",") if x]:
            s = Server(str(Path(a.nnhost).resolve()), b, ["--threads", str(a.threads), "--max-concurrency", str(conc),
                                                         "--queue", "1024"], f"bench-nnhost-{b}", log_dir)
            s.start()
            started.append(s)
            s.wait_ready()
            if "raw" in paths:
                sanity(s.http, a.model, name, arr, ref, f"nnhost serve --backend {b}")
            servers.append(("nnhost serve", b, s.http, s.grpc, s.proc.pid))
            print(f"bench_serve: nnhost serve --backend {b} up (http {s.http}, grpc {s.grpc})", file=sys.stderr)
        if not a.no_python:
            p = PythonServer(a.model, onnx_path, a.threads, conc, log_dir, paths)
            started.append(p)
            p.wait_ready(([a.model] if "raw" in paths else []) + ([cmodel] if "classify" in paths else []))
            if "raw" in paths:
                sanity(p.http, a.model, name, arr, ref, "python_server (kserve)")
            servers.append(("kserve (Python)", "onnxruntime", p.http, p.grpc, p.proc.pid))
            print(f"bench_serve: python_server up (http {p.http}, grpc {p.grpc})", file=sys.stderr)

        top1 = {}
        if "classify" in paths:
            # Same top-1 label per photo from every server and protocol, or no numbers.
            for label, backend, http, grpc, _ in servers:
                for proto, labels in classify_top1(http, grpc, cmodel, photos, label != "nnhost serve").items():
                    top1[f"{label} {backend} {proto}"] = labels
            first_key, first = next(iter(top1.items()))
            bad = [(k, p.name, x, y) for k, v in top1.items() for p, x, y in zip(photos, first, v) if x != y]
            for k, ph, x, y in bad:
                print(f"bench_serve: {ph}: {first_key} says {x!r}, {k} says {y!r}", file=sys.stderr)
            if bad:
                sys.exit("bench_serve: the classifiers disagree on a top-1 label; not timing them")
            print(f"bench_serve: every server gives the same top-1 label for all {len(photos)} photos: "
                  f"{', '.join(f'{p.name} {x}' for p, x in zip(photos, first))}", file=sys.stderr)

        configs = [(path, srv, proto) for path in paths for proto in a.protocols.split(",") if proto for srv in servers]
        runs = []
        for r in range(a.rounds):
            for path, (label, backend, http, grpc, pid), proto in configs:
                src = ["--model", a.model, "--input-npy", str(npy), "--input-name", name] if path == "raw" else \
                    ["--model", cmodel, "--images", *map(str, photos),
                     "--http-images", "binary" if label == "nnhost serve" else "base64"]
                cmd = [sys.executable, str(HERE / "load.py"), "--url-grpc", grpc, "--url-http", http, "--protocol", proto,
                       *src, "--concurrency", str(a.concurrency), "--requests", str(a.requests), "--warmup", str(a.warmup)]
                cpu0 = cpu_seconds(pid)
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
                cpu1 = cpu_seconds(pid)
                try:
                    res = json.loads(p.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    sys.exit(f"bench_serve: load.py failed ({p.returncode}): {p.stderr[-800:]}")
                ok = res.get("ok") or 0
                res["server_cpu_ms_per_req"] = round((cpu1 - cpu0) * 1000 / ok, 3) if ok else None
                run = {"round": r + 1, "path": path, "server": label, "backend": backend, "protocol": proto, **res}
                runs.append(run)
                print(f"bench_serve: round {r + 1}/{a.rounds} {path} {label} {backend} {proto}: {res['throughput_rps']} req/s, "
                      f"p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, errors {res['errors']}", file=sys.stderr)
    finally:
        for s in started:
            if isinstance(s, Server):
                s.stop()
                s.close()
            else:
                s.stop()

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    summary = []
    for path, (label, backend, _, _, _), proto in configs:
        rs = [x for x in runs if x["path"] == path and x["server"] == label and x["backend"] == backend
              and x["protocol"] == proto]
        p50, p99 = med([x["p50_ms"] for x in rs]), med([x["p99_ms"] for x in rs])
        cpu = med([x["server_cpu_ms_per_req"] for x in rs])
        model_ms = None if backend != "onnxruntime" else \
            alone["raw_model_cpu_ms"] if path == "raw" else alone["classify_model_cpu_ms"]
        summary.append({"path": path, "server": label, "backend": backend, "protocol": proto, "concurrency": a.concurrency,
                        "throughput_rps": med([x["throughput_rps"] for x in rs]),
                        "throughput_rps_min": min(x["throughput_rps"] for x in rs),
                        "throughput_rps_max": max(x["throughput_rps"] for x in rs),
                        "p50_ms": p50, "p99_ms": p99, "p99_over_p50": round(p99 / p50, 2) if p50 and p99 else None,
                        "server_cpu_ms_per_req": cpu, "model_cpu_ms_per_req": model_ms,
                        "other_cpu_ms_per_req": round(cpu - model_ms, 3) if cpu is not None and model_ms is not None else None,
                        "errors": sum(x["errors"] for x in rs)})

    def f(x, nd=1):
        return "-" if x is None else f"{x:.{nd}f}"

    print(f"\n{a.model} {shape}, {a.rounds} interleaved rounds of {a.requests} requests (+{a.warmup} warm-up), "
          f"{a.concurrency} client threads; every server: {a.threads} engine thread(s) per inference, "
          f"{conc} inference(s) at once; {cores} cores" +
          (f"; classify: {len(photos)} photos in turn, one per request" if photos else "") + "\n")
    print("| path | server | backend | protocol | concurrency | req/s | p50 ms | p99 ms | p99/p50 | server CPU ms/req | "
          "model CPU ms/req | other CPU ms/req | errors |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in summary:
        print(f"| {s['path']} | {s['server']} | {s['backend']} | {s['protocol']} | {s['concurrency']} | "
              f"{f(s['throughput_rps'])} | {f(s['p50_ms'], 2)} | {f(s['p99_ms'], 2)} | {f(s['p99_over_p50'], 2)} | "
              f"{f(s['server_cpu_ms_per_req'], 2)} | {f(s['model_cpu_ms_per_req'], 2)} | {f(s['other_cpu_ms_per_req'], 2)} | "
              f"{s['errors']} |")
    print(f"\nModel alone ({alone['engine']}, {a.threads} thread(s), in-process, CPU ms per image): raw tensor "
          f"{alone['raw_model_cpu_ms']}" + (f"; photos' tensors {alone['classify_model_cpu_ms']}; Pillow decode + "
                                             f"preprocessing {alone['classify_pillow_preprocess_cpu_ms']} (mean over the photos)"
                                             if photos else ""))
    # The target: nnhost (onnxruntime) >= 2x the KServe server's req/s, p99 <= 3x p50 under load.
    for path in paths:
        for proto in [p for p in a.protocols.split(",") if p]:
            rows = {(s["server"], s["backend"]): s for s in summary if s["path"] == path and s["protocol"] == proto}
            n, k = rows.get(("nnhost serve", "onnxruntime")), rows.get(("kserve (Python)", "onnxruntime"))
            if n and k and n["throughput_rps"] and k["throughput_rps"]:
                ratio = n["throughput_rps"] / k["throughput_rps"]
                tail = n["p99_over_p50"]
                met = ratio >= 2 and tail is not None and tail <= 3
                print(f"target {path} {proto}: nnhost {ratio:.2f}x kserve's req/s (>= 2x), p99/p50 {f(tail, 2)} (<= 3): "
                      f"{'met' if met else 'MISSED'}")
    if a.out:
        out = {"model": a.model, "input_shape": shape, "paths": paths, "photos": [str(p) for p in photos],
               "model_alone": alone, "top1": top1,
               "settings": {"rounds": a.rounds, "requests": a.requests, "warmup": a.warmup, "concurrency": a.concurrency,
                            "engine_threads": a.threads, "max_concurrency": conc, "protocols": a.protocols.split(","),
                            "nnhost": str(Path(a.nnhost).resolve())},
               "machine": {"cores": cores, "platform": platform.platform(), "python": platform.python_version()},
               "summary": summary, "runs": runs, "logs": str(log_dir)}
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
        print(f"\nbench_serve: results in {a.out}", file=sys.stderr)
    if any(s["errors"] for s in summary):
        print("bench_serve: some requests failed (see errors; load.py's first_error is in the JSON runs)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
