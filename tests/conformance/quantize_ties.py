#!/usr/bin/env python3
"""DynamicQuantizeLinear at rounding ties, through `nnhost run` on OpenVINO: never a wrong uint8 with exit 0.

OpenVINO's CPU plugin computes DynamicQuantizeLinear's x / scale as x * 255 * (1 / range), which rounds
an element the other way from ONNX's f32 x / scale at a .5 tie (test_dynamicquantizelinear). nnhost
emulates that arithmetic and refuses the input values where it differs (src/backends/known_wrong/);
for ONNX's function body inlined (QuantizeLinear by a scale computed from the data, which OpenVINO runs
as a FakeQuantize) it refuses any quotient within a few ulp of a tie.

This builds inputs whose quotients lie 0 to 3 ulp from ties, plus plain random ones, and runs each
through nnhost, through OpenVINO alone, and through ONNX's reference evaluator. It fails when:
  - nnhost exits 0 with any output different from the reference (a wrong number);
  - for DynamicQuantizeLinear, nnhost refuses values OpenVINO alone computes right (the emulation
    is no longer exact, e.g. after an OpenVINO upgrade);
  - no set is refused or none passes (the inputs no longer exercise the rule).

Usage: quantize_ties.py --nnhost target/release/nnhost [--sets N]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, TensorProto
from onnx.reference import ReferenceEvaluator

F = np.float32


def models() -> dict[str, onnx.ModelProto]:
    """DynamicQuantizeLinear over a 1-D input of any length, as the operator and as ONNX's function
    body for it inlined (as the `_expanded` test cases are)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    outs = [helper.make_tensor_value_info("y", TensorProto.UINT8, ["n"]),
            helper.make_tensor_value_info("y_scale", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("y_zero_point", TensorProto.UINT8, [])]
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "y_scale", "y_zero_point"])
    op = helper.make_model(helper.make_graph([node], "dql", [x], outs),
                           opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    # The schema's function body names its inputs and outputs as the operator does (x; y, y_scale,
    # y_zero_point), so its nodes are the graph.
    body = onnx.defs.get_schema("DynamicQuantizeLinear", 13).function_body
    assert list(body.input) == ["x"] and list(body.output) == ["y", "y_scale", "y_zero_point"], body.output
    expanded = helper.make_model(helper.make_graph(list(body.node), "dql_body", [x], outs),
                                 opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return {"DynamicQuantizeLinear": op, "inlined function body": expanded}


def inputs(n_sets: int, rng) -> list[np.ndarray]:
    """Plain normal values; every other set has a few of them (1 to 8) replaced by values whose
    quotient x * 255 / range is a tie k + 0.5, moved 0 to 3 ulp either way (the minimum and the
    maximum, which set the range, are kept); and every fourth set after those has its minimum
    moved so that the zero point, -min / scale, is 0 to 3 ulp from a tie."""
    sets = []
    for s in range(n_sets):
        x = (rng.standard_normal(64) * rng.uniform(0.1, 10)).astype(F)
        if s % 4 == 1:
            hi = max(F(0), x.max())
            k = rng.integers(1, 254) + 0.5
            lo = F(-(k * float(hi) / (255 - k)))
            st = int(rng.integers(-3, 4))
            for _ in range(abs(st)):
                lo = np.nextafter(lo, F(np.inf) if st > 0 else F(-np.inf))
            x = np.clip(x, lo, hi)
            x[int(rng.integers(0, 64))] = lo
        elif s % 2 == 0:
            lo, hi = min(F(0), x.min()), max(F(0), x.max())
            span = F(hi - lo)
            keep = {int(x.argmin()), int(x.argmax())}
            slots = [i for i in rng.permutation(64) if i not in keep][: 1 + s // 2 % 8]
            for i in slots:
                k = rng.integers(int(np.ceil(lo * 255 / span)), int(np.floor(hi * 255 / span))) + 0.5
                v = F(k * float(span) / 255)
                st = int(rng.integers(-3, 4))
                for _ in range(abs(st)):
                    v = np.nextafter(v, F(np.inf) if st > 0 else F(-np.inf))
                x[i] = np.clip(v, lo, hi)
        sets.append(x)
    return sets


def same(got: np.ndarray, want: np.ndarray) -> bool:
    """The uint8 outputs exactly; the scale within 4 ulp (OpenVINO divides by 255 with a reciprocal,
    1 ulp off; the ONNX test cases allow rtol 1e-3)."""
    if want.dtype == np.uint8:
        return got.dtype == np.uint8 and np.array_equal(got, want)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=4 * np.finfo(F).eps, atol=0))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nnhost", required=True)
    ap.add_argument("--sets", type=int, default=60)
    args = ap.parse_args()
    import openvino as ov
    core = ov.Core()
    rng = np.random.default_rng(20261126)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, model in models().items():
            mpath = tmp / f"{len(name)}.onnx"
            mpath.write_bytes(model.SerializeToString())
            ref = ReferenceEvaluator(model)
            native = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU")
            sets = inputs(args.sets, rng)
            wants = [ref.run(None, {"x": x}) for x in sets]
            # One compiled model answers one request at a time: OpenVINO alone runs here, in order.
            ov_right = [all(same(r[o], w) for o, w in zip(native.outputs, want))
                        for r, want in ((native([x]), want) for x, want in zip(sets, wants))]

            def one(i: int):
                x = sets[i]
                f = tmp / f"{len(name)}-{i}.npy"
                np.save(f, x)
                out = tmp / f"{len(name)}-{i}.out"
                p = subprocess.run([args.nnhost, "run", "-m", str(mpath), "-b", "openvino", "--json",
                                    "-i", f"x={f}", "-o", str(out)], capture_output=True, text=True, timeout=120)
                if p.returncode != 0:
                    err = p.stderr.strip()
                    return i, "refused" if "wrongly (known from ONNX conformance cases" in err else f"error: {err}", ov_right[i]
                got = {o["name"]: np.load(o["file"]) for o in json.loads(p.stdout.strip().splitlines()[-1])["outputs"]}
                right = all(same(got[n], w) for n, w in zip(["y", "y_scale", "y_zero_point"], wants[i]))
                return i, "pass" if right else "WRONG", ov_right[i]

            with cf.ThreadPoolExecutor(2) as pool:
                results = list(pool.map(one, range(len(sets))))
            counts = {s: sum(1 for _, st, _ in results if st == s) for s in ("pass", "refused", "WRONG")}
            ov_wrong = sum(1 for *_, ok in results if not ok)
            over = [i for i, st, ok in results if st == "refused" and ok]
            print(f"quantize ties: {name}: {len(sets)} sets: {counts['pass']} pass, {counts['refused']} refused, "
                  f"{counts['WRONG']} wrong; OpenVINO alone wrong on {ov_wrong}; refused where it is right: {len(over)}", flush=True)
            for i, st, ok in results:
                if st not in ("pass", "refused"):
                    print(f"quantize ties: {name}: set {i}: {st}", file=sys.stderr)
                    failed = True
            if counts["pass"] == 0 or counts["refused"] == 0:
                print(f"quantize ties: {name}: the sets no longer exercise the rule", file=sys.stderr)
                failed = True
            if name == "DynamicQuantizeLinear" and over:
                print(f"quantize ties: {name}: refused sets {over}, which OpenVINO computes right: "
                      "its arithmetic is no longer what known_wrong/values.rs emulates", file=sys.stderr)
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
