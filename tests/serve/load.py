#!/usr/bin/env python3
"""Closed-loop load generator for an Open Inference Protocol server (nnhost serve, the kserve baseline),
with the real Triton client from threads: `--concurrency` threads, each with its own client, each sending
its next request as soon as the previous one is answered, until `--requests` have been sent (after
`--warmup` untimed ones). Prints one JSON line:

    {"throughput_rps": .., "p50_ms": .., "p99_ms": .., "errors": .., ...}

    load.py --url-grpc HOST:PORT --model NAME (--input-npy FILE | --images FILE...) [--protocol grpc|http]
            [--url-http HOST:PORT] [--concurrency 16] [--requests 500] [--warmup 50] [--input-name NAME]
            [--datatype FP32]

The input tensor is the .npy file as it is (shape and all); its name and datatype come from the server's
model metadata (first input) unless given. With --images (a classifier, e.g. nnhost's `M-classify`)
each request is one encoded image file as it is on disk, a BYTES tensor of shape [1] (input name
`image` unless given), the files taken in turn (request i sends file i mod the number of files), and
every output of the response is decoded. --http-images base64 sends each image over REST base64-encoded
as a JSON string instead of binary (what KServe's REST server needs; see python_server.py). Over HTTP the tensor and the outputs travel as binary data (the
binary tensor extension), as a performance-minded client would send them. Latency is per request, from
the call to the decoded response, so it includes the client's own work; on a small machine the client
shares the cores with the server, so compare servers measured the same way, not absolute numbers.
Errors (any exception, or a response without outputs) are counted, not retried, and left out of the
latency percentiles; throughput counts successful requests only.
"""
import argparse
import base64
import json
import sys
import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

NP_TO_OIP = {np.dtype(np.float32): "FP32", np.dtype(np.float16): "FP16", np.dtype(np.float64): "FP64",
             np.dtype(np.uint8): "UINT8", np.dtype(np.int32): "INT32", np.dtype(np.int64): "INT64"}
TIMEOUT = 300.0


def percentile(xs, q):
    if not xs:
        return None
    return float(np.percentile(np.asarray(xs), q))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url-grpc", help="gRPC address HOST:PORT")
    ap.add_argument("--url-http", help="HTTP address HOST:PORT (for --protocol http)")
    ap.add_argument("--protocol", choices=["grpc", "http"], default="grpc")
    ap.add_argument("--model", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--input-npy", help="a tensor, sent as it is")
    src.add_argument("--images", nargs="+", help="encoded image files, one per request in turn, as BYTES")
    ap.add_argument("--input-name", help="[default: the model's first input, from its metadata]")
    ap.add_argument("--datatype", help="[default: from the .npy dtype]")
    ap.add_argument("--http-images", choices=["binary", "base64"], default="binary",
                    help="how --images travel over REST: raw bytes (binary tensor extension) or base64 in JSON")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    a = ap.parse_args()
    url = a.url_grpc if a.protocol == "grpc" else a.url_http
    if not url:
        ap.error(f"--protocol {a.protocol} needs --url-{a.protocol}")
    if a.images:
        # One [1] BYTES tensor per file; element i of `arrs` goes with request i mod len(arrs).
        arrs = [np.array([open(f, "rb").read()], dtype=np.object_) for f in a.images]
        datatype = "BYTES"
        a.input_name = a.input_name or "image"
    else:
        arrs = [np.load(a.input_npy)]
        datatype = a.datatype or NP_TO_OIP[arrs[0].dtype]

    def client():
        if a.protocol == "grpc":
            return grpcclient.InferenceServerClient(url)
        return httpclient.InferenceServerClient(url, connection_timeout=TIMEOUT, network_timeout=TIMEOUT)

    name = a.input_name
    if not name:
        md = client().get_model_metadata(a.model, **({"as_json": True} if a.protocol == "grpc" else {}))
        name = md["inputs"][0]["name"]

    def request_maker():
        """call(i) sends request i (input i mod the number of inputs), each input serialised once up front."""
        c = client()
        if a.protocol == "grpc":
            inps = []
            for arr in arrs:
                inp = grpcclient.InferInput(name, list(arr.shape), datatype)
                inp.set_data_from_numpy(arr)
                inps.append(inp)

            def call(i):
                r = c.infer(a.model, [inps[i % len(inps)]], client_timeout=TIMEOUT)
                outs = r.get_response().outputs
                if not outs:
                    raise RuntimeError("response without outputs")
                for o in outs[: len(outs) if a.images else 1]:
                    r.as_numpy(o.name)
        else:
            inps = []
            for arr in arrs:
                inp = httpclient.InferInput(name, list(arr.shape), datatype)
                if a.images and a.http_images == "base64":
                    b64 = np.array([base64.b64encode(x).decode("ascii") for x in arr.reshape(-1)], dtype=np.object_)
                    inp.set_data_from_numpy(b64.reshape(arr.shape), binary_data=False)
                else:
                    inp.set_data_from_numpy(arr, binary_data=True)
                inps.append(inp)

            # A JSON-only body must say so: KServe reads a body without a JSON content type as binary.
            hdrs = {"Content-Type": "application/json"} if a.images and a.http_images == "base64" else None

            def call(i):
                r = c.infer(a.model, [inps[i % len(inps)]], headers=hdrs)
                outs = r.get_response().get("outputs") or []
                if not outs:
                    raise RuntimeError("response without outputs")
                for o in outs[: len(outs) if a.images else 1]:
                    r.as_numpy(o["name"])
        return call

    # Worker threads live for both phases and make their own client: tritonclient's HTTP client
    # (geventhttpclient) must be used from the thread that created it.
    lock = threading.Lock()
    state = {"next": 0, "limit": 0, "record": False, "stop": False}
    lat, errs, first_err, setup_err = [], [0], [], []
    start = threading.Barrier(a.concurrency + 1)
    end = threading.Barrier(a.concurrency + 1)

    def take():
        """The next request's number, or None when the phase has sent all its requests."""
        with lock:
            if state["next"] >= state["limit"]:
                return None
            state["next"] += 1
            return state["next"] - 1

    def worker():
        try:
            call = request_maker()
        except Exception as e:  # noqa: BLE001
            setup_err.append(f"{type(e).__name__}: {e}")
            call = None
        while True:
            start.wait()
            if state["stop"]:
                return
            record = state["record"]
            while call is not None and (i := take()) is not None:
                t0 = time.perf_counter()
                try:
                    call(i)
                except Exception as e:  # noqa: BLE001 - counted, not fatal
                    with lock:
                        errs[0] += record
                        if record and not first_err:
                            first_err.append(f"{type(e).__name__}: {e}")
                    continue
                if record:
                    dt = time.perf_counter() - t0
                    with lock:
                        lat.append(dt)
            end.wait()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.concurrency)]
    for t in threads:
        t.start()

    def phase(n, record):
        state["next"], state["limit"], state["record"] = 0, n, record
        start.wait()
        t0 = time.perf_counter()
        end.wait()
        return time.perf_counter() - t0

    if a.warmup:
        phase(a.warmup, False)
    wall = phase(a.requests, True)
    state["stop"] = True
    start.wait()
    if setup_err:
        print(f"load.py: {len(setup_err)} of {a.concurrency} clients could not be made: {setup_err[0]}", file=sys.stderr)
        errs[0] += a.requests - len(lat) - errs[0]
    ok = len(lat)
    ms = [x * 1000 for x in lat]
    out = {
        "throughput_rps": round(ok / wall, 2) if wall > 0 else None,
        "p50_ms": round(percentile(ms, 50), 3) if ms else None,
        "p99_ms": round(percentile(ms, 99), 3) if ms else None,
        "errors": errs[0],
        "mean_ms": round(float(np.mean(ms)), 3) if ms else None,
        "max_ms": round(max(ms), 3) if ms else None,
        "requests": a.requests,
        "ok": ok,
        "wall_s": round(wall, 3),
        "concurrency": a.concurrency,
        "protocol": a.protocol,
        "model": a.model,
    }
    if first_err:
        out["first_error"] = first_err[0][:300]
    print(json.dumps(out), flush=True)
    return 0 if errs[0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
