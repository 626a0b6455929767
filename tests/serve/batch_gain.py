#!/usr/bin/env python3
"""What dynamic batching could gain a server on this machine: per-image inference time of MobileNetV2
against the batch size, on ONNX Runtime and OpenVINO at one thread (as `nnhost serve` and the Python
baseline run each inference), natively, with no server in the way.

    .venv/bin/python tests/serve/batch_gain.py [--model models/mobilenet-v2/model.onnx] [--batches 1,2,4,8,16]

Batching pays when per-image time falls with the batch. On a CPU where it does not, a server's
throughput ceiling is cores / (per-image time at batch 1), whatever it batches.
"""
import argparse
import os
import tempfile
import time

import numpy as np
import onnx


def dynamic_batch(src: str, dst: str) -> None:
    m = onnx.load(src)
    for t in list(m.graph.input) + list(m.graph.output):
        t.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.save(m, dst)


def per_image_ms(run, batch: int, seconds: float) -> float:
    x = np.random.default_rng(7).random((batch, 3, 224, 224), dtype=np.float32)
    for _ in range(3):
        run(x)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run(x)
        n += 1
    return (time.perf_counter() - t0) / (n * batch) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/mobilenet-v2/model.onnx")
    ap.add_argument("--batches", default="1,2,4,8,16")
    ap.add_argument("--seconds", type=float, default=2.0, help="measured time per batch size and engine")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.onnx")
        dynamic_batch(args.model, path)
        engines = {}
        import onnxruntime as ort

        o = ort.SessionOptions()
        o.intra_op_num_threads = o.inter_op_num_threads = 1
        s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        engines["onnxruntime"] = lambda x: s.run(None, {name: x})
        import openvino as ov

        core = ov.Core()
        core.set_property("CPU", {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"})
        compiled = core.compile_model(core.read_model(path), "CPU")
        req = compiled.create_infer_request()
        engines["openvino"] = lambda x: req.infer({0: x})
        print("| engine | " + " | ".join(f"batch {b}" for b in batches) + " |")
        print("| --- | " + " | ".join("---:" for _ in batches) + " |")
        for e, run in engines.items():
            ms = [per_image_ms(run, b, args.seconds) for b in batches]
            print(f"| {e} ms/image | " + " | ".join(f"{v:.2f}" for v in ms) + " |")


if __name__ == "__main__":
    main()
