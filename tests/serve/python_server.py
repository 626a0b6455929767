#!/usr/bin/env python3
"""The Python Open Inference Protocol (KServe v2) baseline `nnhost serve` is benchmarked against:
kserve's ModelServer with ONNX Runtime, serving ONNX models as raw tensors (REST on --http_port,
gRPC on --grpc_port).

    python_server.py --model [NAME=]FILE.onnx [--model ...] [--threads T] [--max-concurrency C]
                     [--quiet] [--http_port 8080] [--grpc_port 8081]

(NAME defaults to the file's stem.)
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
import json
import logging
import os
import sys

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--model", action="append", default=[], metavar="[NAME=]FILE.onnx", help="a model to serve (repeatable)")
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
        so = ort.SessionOptions()
        if self.threads:
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(self.path, so, providers=["CPUExecutionProvider"])
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


def main():
    specs = []
    for m in opts.model:
        name, sep, path = m.partition("=")
        if not sep:
            name, path = os.path.splitext(os.path.basename(m))[0], m
        if not name or not path:
            ap.error(f"--model wants [NAME=]FILE.onnx, got {m!r}")
        specs.append((name, path))
    if not specs:
        ap.error("give a model: --model [NAME=]FILE.onnx")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.max_concurrency), thread_name_prefix="ort")
    models = []
    for name, path in specs:
        m = OnnxModel(name, path, opts.threads, pool, opts.max_concurrency)
        m.load()
        models.append(m)
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
