#!/usr/bin/env python3
"""The Python Open Inference Protocol (KServe v2) baseline `nnhost serve` is benchmarked against:
kserve's ModelServer with ONNX Runtime, serving ONNX models as raw tensors (REST on --http_port,
gRPC on --grpc_port), and image classifiers as a KServe user writes one: encoded image bytes in,
labels out.

    python_server.py --model [NAME=]FILE.onnx [--model ...] [--classify NAME=MODEL_DIR ...]
                     [--threads T] [--max-concurrency C] [--quiet] [--http_port 8080] [--grpc_port 8081]

(NAME defaults to the file's stem.)
--classify NAME=MODEL_DIR serves the image classifier MODEL_DIR (a models/<model> folder: model.toml,
the ONNX file, labels) as NAME with nnhost's `M-classify` contract: input `image` (BYTES, one encoded
PNG/JPEG per element, shape [N]), outputs `label` (BYTES [N,k]), `score` (FP32, softmax) and `index`
(INT64), request parameter `top_k` [5]. Over gRPC each element is the image's raw bytes; over REST a
base64 string in JSON (KServe 0.21's REST turns binary-extension inputs into JSON data, where BYTES
must be UTF-8, so raw image bytes are refused there with a 500). Each image is decoded and preprocessed with Pillow as the
model's model.toml [input] says (`preprocess_image` of models/scripts/pillow_preprocess.py, the
reference pipeline's own function: upright, RGB, resize, crop, normalise), run through ONNX Runtime,
softmaxed and ranked as models/scripts/pipeline_bench.py does. Decode, preprocessing and inference
run together on the same thread pool as the raw models' inferences (Pillow, numpy and ONNX Runtime
release the GIL in their heavy parts).
Runs from the benchmark's own virtual environment (.venv-bench, made by scripts/setup-bench from
tests/serve/requirements-bench.txt). Every other kserve ModelServer flag (--workers,
--enable_grpc false, ...) passes through: kserve reads sys.argv itself when it is imported.

What it does with a request, as nnhost does:
  - inputs must be the model's inputs, by name, each once, with the model's datatype and a shape
    that matches the graph's (a -1 / symbolic dimension matches any size); anything else is a 400
    (gRPC INVALID_ARGUMENT), never a silent cast;
  - outputs are the requested ones (unknown name: 400) or all of them, raw bytes over gRPC
    (raw_output_contents) and binary over REST when the client asks for it.
Engine threads: --threads sets ONNX Runtime's intra-op threads (0: ONNX Runtime's choice).
--max-concurrency C runs up to C inferences at once on a thread pool (ONNX Runtime releases the GIL
and a session may run from several threads); kserve itself would call a model's predict on its
event loop, one at a time, which is what C=1 gives. --quiet turns off kserve's per-request access,
latency and gRPC-call log lines (nnhost serve logs no request unless --log-requests).
On startup it prints `{"event":"ready","models":[...],"http":PORT,"grpc":PORT}` on stdout, just
before the server starts listening (poll /v2/health/ready to know it is up).
"""
import argparse
import importlib.metadata
import asyncio
import concurrent.futures
import base64
import io
import json
import logging
import os
import sys
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--model", action="append", default=[], metavar="[NAME=]FILE.onnx", help="a model to serve (repeatable)")
ap.add_argument("--classify", action="append", default=[], metavar="NAME=MODEL_DIR",
                help="serve MODEL_DIR's image classifier as NAME: image bytes in, labels out (repeatable)")
ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads per inference [default: ORT's choice]")
ap.add_argument("--max-concurrency", type=int, default=1, help="inferences running at once (thread pool) [default: 1]")
ap.add_argument("--quiet", action="store_true", help="no per-request access / latency log lines")
opts, rest = ap.parse_known_args()
# kserve parses sys.argv at import time; hand it only what it knows.
sys.argv = [sys.argv[0]] + rest
if opts.quiet:
    sys.argv += ["--enable_latency_logging", "false"]

import kserve  # noqa: E402
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: E402
from kserve.errors import InvalidInput  # noqa: E402
from kserve.model_server import args as kserve_args  # noqa: E402
from kserve.utils.numpy_codec import from_np_dtype  # noqa: E402
from kserve.utils.utils import generate_uuid  # noqa: E402

# ONNX Runtime element types -> OIP datatypes -> numpy.
ORT_TO_OIP = {
    "tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16", "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64", "tensor(int8)": "INT8", "tensor(int16)": "INT16", "tensor(int32)": "INT32",
    "tensor(int64)": "INT64", "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
}
OIP_TO_NP = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
             "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
             "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}


sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models" / "scripts"))
from pillow_preprocess import preprocess_image  # noqa: E402  (the reference pipeline's preprocessing)


def session_options(threads: int):
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    return so


def dims(shape):
    """ONNX Runtime's shape (ints, symbolic names or None) -> OIP metadata dims (-1 for dynamic)."""
    return [d if isinstance(d, int) and d >= 0 else -1 for d in shape]


class OnnxModel(Model):
    def __init__(self, name: str, path: str, threads: int, pool: concurrent.futures.ThreadPoolExecutor, concurrency: int):
        super().__init__(name)
        self.path, self.threads, self.pool = path, threads, pool
        self.concurrency = concurrency
        self.session = None

    def load(self) -> bool:
        self.session = ort.InferenceSession(self.path, session_options(self.threads), providers=["CPUExecutionProvider"])
        self.in_meta = {i.name: (ORT_TO_OIP[i.type], dims(i.shape)) for i in self.session.get_inputs()}
        self.out_names = [o.name for o in self.session.get_outputs()]
        self.ready = True
        return self.ready

    def get_input_types(self):
        return [{"name": i.name, "datatype": ORT_TO_OIP[i.type], "shape": dims(i.shape)} for i in self.session.get_inputs()]

    def get_output_types(self):
        return [{"name": o.name, "datatype": ORT_TO_OIP[o.type], "shape": dims(o.shape)} for o in self.session.get_outputs()]

    def _feeds(self, payload: InferRequest):
        feeds = {}
        for inp in payload.inputs:
            meta = self.in_meta.get(inp.name)
            if meta is None:
                raise InvalidInput(f"model {self.name} has no input {inp.name!r} (inputs: {', '.join(self.in_meta)})")
            if inp.name in feeds:
                raise InvalidInput(f"input {inp.name!r} given twice")
            want_type, want_shape = meta
            if inp.datatype != want_type:
                raise InvalidInput(f"input {inp.name!r}: datatype {inp.datatype}, the model wants {want_type}")
            shape = [int(d) for d in inp.shape]
            if len(shape) != len(want_shape) or any(w != -1 and w != s for w, s in zip(want_shape, shape)):
                raise InvalidInput(f"input {inp.name!r}: shape {shape}, the model wants {want_shape}")
            try:
                arr = inp.as_numpy()
            except InvalidInput:
                raise
            except Exception as e:  # wrong byte / element count for the shape
                raise InvalidInput(f"input {inp.name!r}: data does not match shape {shape}: {e}")
            feeds[inp.name] = np.ascontiguousarray(arr, dtype=OIP_TO_NP[want_type])
        missing = [n for n in self.in_meta if n not in feeds]
        if missing:
            raise InvalidInput(f"missing input(s): {', '.join(missing)}")
        return feeds

    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        feeds = self._feeds(payload)
        names = [o.name for o in payload.request_outputs] if payload.request_outputs else None
        names = names or list(self.out_names)
        for n in names:
            if n not in self.out_names:
                raise InvalidInput(f"model {self.name} has no output {n!r}")
        if self.concurrency > 1:
            results = await asyncio.get_running_loop().run_in_executor(self.pool, self.session.run, names, feeds)
        else:
            results = self.session.run(names, feeds)
        binary = payload.from_grpc or payload.use_binary_outputs
        outputs = []
        for name, arr in zip(names, results):
            out = InferOutput(name=name, shape=list(arr.shape), datatype=from_np_dtype(arr.dtype))
            # Raw bytes over gRPC (raw_output_contents) and, when the client asks, over REST.
            out.set_data_from_numpy(arr, binary_data=binary)
            outputs.append(out)
        return InferResponse(model_name=self.name, infer_outputs=outputs, response_id=payload.id or generate_uuid(),
                             from_grpc=payload.from_grpc, use_binary_outputs=payload.use_binary_outputs)


def int_param(params, name, default):
    """A request parameter as an int: REST gives plain values, gRPC InferParameter messages."""
    if not params or name not in params:
        return default
    v = params[name]
    if hasattr(v, "WhichOneof"):
        kind = v.WhichOneof("parameter_choice")
        v = getattr(v, kind) if kind else default
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidInput(f"parameter {name!r} must be an integer")
    return v


class ClassifyModel(Model):
    """Image bytes in, labels out: what a KServe user writes around Pillow and ONNX Runtime."""

    OUTPUTS = (("label", "BYTES"), ("score", "FP32"), ("index", "INT64"))

    def __init__(self, name: str, model_dir: str, threads: int, pool: concurrent.futures.ThreadPoolExecutor,
                 concurrency: int):
        super().__init__(name)
        self.dir, self.threads, self.pool, self.concurrency = Path(model_dir), threads, pool, concurrency
        self.session = None

    def load(self) -> bool:
        m = tomllib.loads((self.dir / "model.toml").read_text())
        self.inp = m["input"]
        self.in_name = self.inp.get("name", "input")
        self.out_name = m.get("output", {}).get("name", "logits")
        self.logits = m.get("output", {}).get("kind", "logits") == "logits"
        self.labels = (self.dir / m.get("labels", "labels.txt")).read_text(encoding="utf-8").splitlines()
        self.session = ort.InferenceSession(str(self.dir / m.get("file", "model.onnx")), session_options(self.threads),
                                            providers=["CPUExecutionProvider"])
        self.ready = True
        return self.ready

    def get_input_types(self):
        return [{"name": "image", "datatype": "BYTES", "shape": [-1]}]

    def get_output_types(self):
        return [{"name": n, "datatype": t, "shape": [-1, -1]} for n, t in self.OUTPUTS]

    def _classify(self, images: list, k: int):
        """Decode, preprocess, infer, softmax and rank each image (pipeline_bench.py's classify)."""
        labels, scores, index = [], [], []
        for b in images:
            try:
                x = preprocess_image(io.BytesIO(b), self.inp)  # open, decode, upright, RGB, resize, crop, normalise
            except Exception as e:  # noqa: BLE001 - Pillow's errors for what is not an image
                raise InvalidInput(f"input 'image': not a PNG/JPEG image ({type(e).__name__}: {e})")
            y = self.session.run([self.out_name], {self.in_name: x})[0].reshape(-1).astype(np.float64)
            if self.logits:
                e = np.exp(y - y.max())
                y = e / e.sum()
            best = np.argsort(-y, kind="stable")[:k]
            labels.append([self.labels[i].encode("utf-8") for i in best])
            scores.append(y[best].astype(np.float32))
            index.append(best.astype(np.int64))
        n = len(images)
        return (np.array(labels, dtype=np.object_).reshape(n, k), np.array(scores, np.float32).reshape(n, k),
                np.array(index, np.int64).reshape(n, k))

    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        if len(payload.inputs) != 1 or payload.inputs[0].name != "image" or payload.inputs[0].datatype != "BYTES":
            raise InvalidInput(f"model {self.name} takes one input, 'image' (BYTES, one encoded image per element)")
        # gRPC carries the encoded images as raw bytes. KServe's REST cannot: its binary-extension decoder
        # turns every input into JSON data, and a BYTES element must then be UTF-8, so over REST a KServe
        # user sends each image base64-encoded in a JSON string (as KServe's own examples do).
        try:
            images = [base64.b64decode(x, validate=True) if isinstance(x, str) else bytes(x)
                      for x in payload.inputs[0].as_numpy().reshape(-1)]
        except (ValueError, TypeError) as e:
            raise InvalidInput(f"input 'image': not raw bytes (gRPC) or base64 (REST JSON): {e}")
        k = int_param(payload.parameters, "top_k", 5)
        if k < 1:
            raise InvalidInput("top_k must be at least 1")
        k = min(k, len(self.labels))
        if self.concurrency > 1:
            results = await asyncio.get_running_loop().run_in_executor(self.pool, self._classify, images, k)
        else:
            results = self._classify(images, k)
        names = [o.name for o in payload.request_outputs] if payload.request_outputs else [n for n, _ in self.OUTPUTS]
        known = dict(zip((n for n, _ in self.OUTPUTS), zip((t for _, t in self.OUTPUTS), results)))
        binary = payload.from_grpc or payload.use_binary_outputs
        outputs = []
        for n in names:
            if n not in known:
                raise InvalidInput(f"model {self.name} has no output {n!r}")
            datatype, arr = known[n]
            out = InferOutput(name=n, shape=list(arr.shape), datatype=datatype)
            out.set_data_from_numpy(arr, binary_data=binary)
            outputs.append(out)
        return InferResponse(model_name=self.name, infer_outputs=outputs, response_id=payload.id or generate_uuid(),
                             from_grpc=payload.from_grpc, use_binary_outputs=payload.use_binary_outputs)


def main():
    specs = []
    for m in opts.model:
        name, sep, path = m.partition("=")
        if not sep:
            name, path = os.path.splitext(os.path.basename(m))[0], m
        if not name or not path:
            ap.error(f"--model wants [NAME=]FILE.onnx, got {m!r}")
        specs.append((name, path))
    classifiers = []
    for c in opts.classify:
        name, sep, path = c.partition("=")
        if not sep or not name or not path:
            ap.error(f"--classify wants NAME=MODEL_DIR, got {c!r}")
        classifiers.append((name, path))
    if not specs and not classifiers:
        ap.error("give a model: --model [NAME=]FILE.onnx or --classify NAME=MODEL_DIR")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.max_concurrency), thread_name_prefix="ort")
    models = []
    for name, path in specs:
        m = OnnxModel(name, path, opts.threads, pool, opts.max_concurrency)
        m.load()
        models.append(m)
    for name, path in classifiers:
        m = ClassifyModel(name, path, opts.threads, pool, opts.max_concurrency)
        m.load()
        models.append(m)
    specs += classifiers
    server = ModelServer()
    if opts.quiet:
        for logger in ("uvicorn.access", "kserve.trace"):
            logging.getLogger(logger).setLevel(logging.WARNING)
        # kserve's gRPC interceptor logs every call ("grpc method: ...") at INFO on the kserve logger
        logging.getLogger("kserve").addFilter(lambda r: not str(r.msg).startswith("grpc method:"))
    print(f"python_server: {', '.join(f'{n} from {p}' for n, p in specs)}; kserve {importlib.metadata.version('kserve')}, "
          f"onnxruntime {ort.__version__}, threads {opts.threads or 'default'}, max concurrency {opts.max_concurrency}; "
          f"http :{kserve_args.http_port}, grpc :{kserve_args.grpc_port}", file=sys.stderr)
    print(json.dumps({"event": "ready", "models": [n for n, _ in specs],
                      "http": kserve_args.http_port, "grpc": kserve_args.grpc_port}), flush=True)
    server.start(models)


if __name__ == "__main__":
    main()
