"""The Python pipeline nnhost is compared with: classify a folder of images end to end, timed.

    .venv/bin/python models/scripts/pipeline_bench.py [--model mobilenet-v2] [--engine onnxruntime|openvino]
        [-j N] [--threads T] [--top 5] [--repeat R] [--no-warmup] [--json] [--results FILE] PATH ...

This is the script a user would write instead of nnhost: for each image, open and decode it with
Pillow, preprocess it as the model's model.toml [input] table says (`preprocess_image` from
pillow_preprocess.py: upright, RGB, resize, crop, normalise), run the model, softmax, top-k.
The timed region is the whole folder (read, decode, resize, normalise, infer, rank); loading the
model is timed separately ("load_seconds"), and by default one image is classified untimed first.

PATH: image files or folders; folders are searched recursively for .png/.jpg/.jpeg files, sorted,
as `nnhost classify` does.

-j N keeps N images in flight: N worker threads, each preprocessing its own image and running the
one shared model (one ONNX Runtime session, whose run() is thread-safe; with OpenVINO one compiled
model, one infer request per worker and NUM_STREAMS = N, as nnhost's OpenVINO backend does, since
with OpenVINO's default single stream concurrent requests run one at a time). Pillow, numpy and
both engines release the GIL in their heavy parts. --threads T sets the engine's threads per
inference: ONNX Runtime intra_op_num_threads = T (one pool in the shared session, the calling
thread included), OpenVINO INFERENCE_NUM_THREADS = T * N (T per stream). 0 keeps the engine's
default: all physical cores, which with -j > 1 oversubscribes them (ONNX Runtime's threads spin).

With --json, one line per repeat:

    {"pipeline": "python", "engine": "onnxruntime", "model": "mobilenet-v2", "images": 300, "jobs": 1,
     "threads": 0, "repeat": 1, "seconds": 4.1, "cpu_seconds": 4.0, "images_per_second": 73.2,
     "peak_rss_mib": 150.3, "load_seconds": 0.2}

cpu_seconds is this process's user + system time over the timed region (all threads, children
excluded); peak_rss_mib is the process's peak resident set so far (ru_maxrss), load included.
--results FILE writes the last repeat's predictions, one JSON line per image:
{"image": PATH, "top": [{"label": ..., "index": ..., "score": ...}, ...]}.

Exit status 2 on a usage error, missing model files or an engine that is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}  # what nnhost classify reads from a folder

sys.path.insert(0, str(HERE))
from pillow_preprocess import preprocess_image  # noqa: E402


# --- The pipeline itself: what "the 40-line Python script" does per image. -----------------------


def classify(path, infer, inp: dict, labels: list[str], k: int, logits: bool = True) -> list[tuple[str, int, float]]:
    x = preprocess_image(str(path), inp)  # open, decode, upright, RGB, resize, crop, normalise
    y = infer(x).reshape(-1).astype(np.float64)
    if logits:
        e = np.exp(y - y.max())
        y = e / e.sum()
    best = np.argsort(-y, kind="stable")[:k]
    return [(labels[i], int(i), float(y[i])) for i in best]


def onnxruntime_engine(m: dict, threads: int, jobs: int):
    """An `infer(x) -> y` maker around one ONNX Runtime session shared by all workers."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    session = ort.InferenceSession(str(m["dir"] / m.get("file", "model.onnx")), so, providers=["CPUExecutionProvider"])
    inp, out = m["input"].get("name", "input"), m.get("output", {}).get("name", "logits")
    return lambda: (lambda x: session.run([out], {inp: x})[0])


def openvino_engine(m: dict, threads: int, jobs: int):
    """An `infer(x) -> y` maker around one OpenVINO compiled model; each maker call is one infer request."""
    import openvino as ov

    config = {"INFERENCE_PRECISION_HINT": "f32"}
    if jobs > 1:  # one stream per request in flight; with the default (one stream) requests queue
        config["NUM_STREAMS"] = jobs
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads * jobs
    compiled = ov.Core().compile_model(str(m["dir"] / m.get("openvino_ir", "model.xml")), "CPU", config)
    output = compiled.output(0)

    def make():
        request = compiled.create_infer_request()
        return lambda x: request.infer({0: x})[output]

    return make


def run_folder(images, make_infer, inp, labels, k, logits, pool) -> list:
    """Classify every image; with a pool, one infer (session handle / request) per worker thread."""
    local = threading.local()

    def one(path):
        if not hasattr(local, "infer"):
            local.infer = make_infer()
        return classify(path, local.infer, inp, labels, k, logits)

    return list(pool.map(one, images)) if pool else [one(p) for p in images]


# --- Option plumbing. ----------------------------------------------------------------------------

ENGINES = {"onnxruntime": onnxruntime_engine, "openvino": openvino_engine}


def fail(msg: str):
    print(f"pipeline_bench: error: {msg}", file=sys.stderr)
    sys.exit(2)


def load_manifest(models_dir: Path, name: str, engine: str) -> dict:
    d = models_dir / name
    toml = d / "model.toml"
    if not toml.is_file():
        fail(f"{toml} is missing; run ./scripts/setup-native (or check --model/--models-dir)")
    with open(toml, "rb") as f:
        m = tomllib.load(f)
    m["dir"] = d
    if engine == "openvino":
        xml = d / m.get("openvino_ir", "model.xml")
        needed = [xml, xml.with_suffix(".bin")]
    else:
        needed = [d / m.get("file", "model.onnx")]
    needed.append(d / m.get("labels", "labels.txt"))
    for p in needed:
        if not p.is_file():
            fail(f"{p} is missing; run ./scripts/setup-native")
    return m


def collect_images(paths: list[Path]) -> list[Path]:
    images = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                fail(f"{p}: no .png or .jpg images in this folder (make some with models/scripts/make_bench_images.py)")
            images += found
        elif p.is_file():
            images.append(p)
        else:
            fail(f"{p}: no such file or folder")
    return images


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    ap.add_argument("-m", "--model", default="mobilenet-v2", help="model folder under --models-dir (default: %(default)s)")
    ap.add_argument("--models-dir", type=Path, default=REPO / "models", help="default: the repository's models/")
    ap.add_argument("--engine", choices=sorted(ENGINES), default="onnxruntime")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="images in flight (worker threads; default 1)")
    ap.add_argument("--threads", type=int, default=0, help="engine threads per inference; 0 = the engine's default")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1, help="classify the whole folder this many times, reporting each")
    ap.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True, help="classify one image untimed first (default: on)")
    ap.add_argument("--json", action="store_true", help="one JSON object per repeat")
    ap.add_argument("--results", type=Path, help="write the last repeat's predictions here (JSON lines)")
    args = ap.parse_args()
    if args.jobs < 1 or args.threads < 0 or args.top < 1 or args.repeat < 1:
        ap.error("-j, --top and --repeat must be >= 1, --threads >= 0")

    m = load_manifest(args.models_dir, args.model, args.engine)
    images = collect_images(args.paths)
    inp = m["input"]
    labels = (m["dir"] / m.get("labels", "labels.txt")).read_text(encoding="utf-8").splitlines()
    logits = m.get("output", {}).get("kind", "logits") == "logits"

    t0 = time.perf_counter()
    try:
        make_infer = ENGINES[args.engine](m, args.threads, args.jobs)
    except ImportError as e:
        fail(f"{args.engine} is not installed in this Python ({e}); run ./scripts/setup-native")
    load_seconds = time.perf_counter() - t0
    if args.warmup:
        classify(images[0], make_infer(), inp, labels, args.top, logits)

    pool = ThreadPoolExecutor(args.jobs, thread_name_prefix="classify") if args.jobs > 1 else None
    for r in range(1, args.repeat + 1):
        c0, w0 = cpu_seconds(), time.perf_counter()
        results = run_folder(images, make_infer, inp, labels, args.top, logits, pool)
        wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row = {
            "pipeline": "python", "engine": args.engine, "model": args.model, "images": len(images),
            "jobs": args.jobs, "threads": args.threads, "repeat": r, "seconds": round(wall, 6),
            "cpu_seconds": round(cpu, 6), "images_per_second": round(len(images) / wall, 3),
            "peak_rss_mib": round(rss, 1), "load_seconds": round(load_seconds, 6),
        }
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(f"python/{args.engine} {args.model}: {len(images)} images in {wall:.3f} s ({row['images_per_second']:.1f} img/s), "
                  f"CPU {cpu:.2f} s, peak RSS {rss:.0f} MiB, -j {args.jobs} --threads {args.threads}, load {load_seconds:.3f} s", flush=True)
    if pool:
        pool.shutdown()
    if args.results:
        with open(args.results, "w") as f:
            for path, top in zip(images, results):
                f.write(json.dumps({"image": str(path), "top": [{"label": l, "index": i, "score": s} for l, i, s in top]}) + "\n")


if __name__ == "__main__":
    main()
