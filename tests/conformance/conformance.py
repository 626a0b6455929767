#!/usr/bin/env python3
"""ONNX backend conformance for nnhost: the ONNX project's own `node` test cases, run through
`nnhost run` (the tensor-runner plugin in the sandbox) on every backend, and through each native
engine alone (the onnxruntime and openvino Python packages), each case classified as

  pass     every output within the case's rtol/atol of the expected values (NaNs equal), or for
           float16/bfloat16 outputs within 4 units in the last place of the type, with the
           expected shape and element type;
  refused  a clean refusal: non-zero exit with a one-line error (nnhost) or an exception (native),
           e.g. a type wasi-nn cannot carry or an operator the engine lacks;
  fail     wrong numbers, shape or type with exit 0, a crash, a panic, or a hang.

The cases come from the `onnx` wheel's case definitions (onnx.backend.test.case.node, 1,800+
cases): the wheel does not ship the generated `data/node` folder, so they are generated into
target/conformance/cases (once per onnx version, a few seconds).

`tests/conformance/expect-<backend>.toml` lists every case that does not pass through nnhost on
that backend, with its status and the reason. `--check` fails on any difference that matters:
  - a case that fails (wrong numbers, crash, hang) and is not listed as failing;
  - a case the native engine passes that nnhost does not, unless listed;
  - a listed refusal that now fails.
Cases listed that now pass are reported (remove them with --bless), not failures. `--bless`
rewrites the files, keeping the reasons already written and deriving new ones from the case.

Usage:
  conformance.py --nnhost target/release/nnhost [--backends tract,onnxruntime,openvino]
                 [--jobs N] [--filter REGEX] [--check] [--bless] [--markdown CONFORMANCE.md]
                 [--report FILE.json]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BACKENDS = ["tract", "onnxruntime", "openvino"]
NATIVE = {"onnxruntime": "onnxruntime", "openvino": "openvino"}
# Element types wasi-nn's tensor-type enum has (and nnhost's .npy reader maps).
WASI_NN_DTYPES = {"float16", "float32", "float64", "bfloat16", "uint8", "int32", "int64"}


# ---------------------------------------------------------------- cases

def generate(cases_dir: Path) -> None:
    """Write each node case as model.onnx + set_K/{in,out}_J.npy + case.json."""
    import onnx
    from onnx import numpy_helper
    from onnx.backend.test.case import node

    stamp = cases_dir / "STAMP"
    want = f"onnx {onnx.__version__}\n"
    if stamp.is_file() and stamp.read_text() == want:
        return
    if cases_dir.exists():
        shutil.rmtree(cases_dir)
    cases_dir.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases()

    def describe(vi) -> dict:
        t = vi.type
        kind = t.WhichOneof("value")
        if kind == "tensor_type":
            et = t.tensor_type.elem_type
            return {"name": vi.name, "kind": "tensor", "dtype": onnx.helper.tensor_dtype_to_np_dtype(et).name
                    if et in _NP_OK else onnx.TensorProto.DataType.Name(et).lower()}
        return {"name": vi.name, "kind": kind.replace("_type", "") if kind else "unknown"}

    for c in cases:
        d = cases_dir / c.name
        d.mkdir()
        (d / "model.onnx").write_bytes(c.model.SerializeToString())
        ins = [describe(v) for v in c.model.graph.input]
        outs = [describe(v) for v in c.model.graph.output]
        sets = 0
        for k, (inputs, outputs) in enumerate(c.data_sets):
            sd = d / f"set_{k}"
            sd.mkdir()
            for prefix, values, info in (("in", inputs, ins), ("out", outputs, outs)):
                for j, v in enumerate(values):
                    if j >= len(info) or info[j]["kind"] != "tensor":
                        continue
                    # The canonical value, as the ONNX test data keeps it (any element type).
                    proto = v if isinstance(v, onnx.TensorProto) else numpy_helper.from_array(np.asarray(v))
                    (sd / f"{prefix}_{j}.pb").write_bytes(proto.SerializeToString())
                    if prefix == "out":
                        continue
                    # What `nnhost run` reads: .npy, with bf16 as float32 plus `:bf16`; other types
                    # NumPy cannot name (float8, int4, strings) are written as NumPy does, for nnhost
                    # to refuse.
                    a = numpy_helper.to_array(proto)
                    if a.dtype.name == "bfloat16":
                        np.save(sd / f"{prefix}_{j}.npy", a.astype(np.float32), allow_pickle=False)
                        info[j]["bf16"] = True
                    else:
                        try:
                            np.save(sd / f"{prefix}_{j}.npy", a, allow_pickle=False)
                        except ValueError:
                            (sd / f"{prefix}_{j}.npy").write_bytes(b"")  # object arrays: nothing NumPy can write
            sets += 1
        (d / "case.json").write_text(json.dumps(
            {"name": c.name, "rtol": c.rtol, "atol": c.atol, "sets": sets, "inputs": ins, "outputs": outs}))
    stamp.write_text(want)


def _np_ok() -> set:
    import onnx
    ok = set()
    for et in onnx.TensorProto.DataType.values():
        try:
            onnx.helper.tensor_dtype_to_np_dtype(et)
            ok.add(et)
        except Exception:
            pass
    return ok


_NP_OK: set = set()


def load_cases(cases_dir: Path, pattern: str | None) -> list[dict]:
    out = []
    for d in sorted(cases_dir.iterdir()):
        if not d.is_dir() or (pattern and not re.search(pattern, d.name)):
            continue
        c = json.loads((d / "case.json").read_text())
        c["dir"] = str(d)
        out.append(c)
    return out


def carry_problem(case: dict) -> str | None:
    """Why a case cannot be carried over wasi-nn at all (no tensor type for it), or None."""
    for io in case["inputs"] + case["outputs"]:
        if io["kind"] != "tensor":
            return f"{io['kind']} values: wasi-nn carries only tensors"
        dt = io["dtype"]
        if dt in ("object", "str", "bytes") or dt.startswith("<u") or dt == "string":
            return "string tensors: wasi-nn has no string type"
        if dt not in WASI_NN_DTYPES:
            return f"{dt} tensors: wasi-nn has no {dt} type"
    if not case["outputs"]:
        return "no outputs"
    return None


# ---------------------------------------------------------------- comparison

def load_pb(f: Path) -> np.ndarray:
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    t.ParseFromString(f.read_bytes())
    return numpy_helper.to_array(t)


# 16-bit float outputs: machine epsilon of the type, and how many units in the last place a value
# may be off. The expected values are computed in f32 or f64 and rounded to the type once; an
# engine that computes in the type rounds at every step, each rounding up to half a unit (an
# attention graph is a matrix product, a scale, a softmax and another matrix product: the worst
# element of the cases that need it is 3 units off), and the cases' rtol (1e-3 for most) is below
# one unit of bfloat16 (2^-7) and about one of float16.
# Per type: machine epsilon and the subnormal step (the unit below the smallest normal).
HALF_EPS = {"float16": (2.0 ** -10, 2.0 ** -24), "bfloat16": (2.0 ** -7, 2.0 ** -133)}
HALF_ULPS = 4


def ulp(w: np.ndarray, eps: float, subnormal: float) -> np.ndarray:
    """One unit in the last place of each value of `w` in a type of machine epsilon `eps`."""
    a = np.abs(np.nan_to_num(w, nan=0.0, posinf=0.0, neginf=0.0))
    e = np.floor(np.log2(np.maximum(a, 2.0 ** -126)))
    return np.maximum(eps * 2.0 ** e, subnormal)


def compare(case: dict, k: int, got: dict[str, np.ndarray]) -> str | None:
    """None when every expected output matches; else what is wrong."""
    sd = Path(case["dir"]) / f"set_{k}"
    for j, o in enumerate(case["outputs"]):
        f = sd / f"out_{j}.pb"
        if not f.is_file():
            continue
        want = load_pb(f)
        if o["name"] not in got:
            return f"output `{o['name']}` missing"
        g = got[o["name"]]
        if g.dtype != want.dtype:
            return f"output `{o['name']}` is {g.dtype}, expected {want.dtype}"
        if g.shape != want.shape:
            return f"output `{o['name']}` has shape {list(g.shape)}, expected {list(want.shape)}"
        if want.dtype.kind in "fcV" or want.dtype.name.startswith(("bfloat", "float")):
            w = want.astype(np.float64)
            h = g.astype(np.float64)
            nan_ok = np.isnan(w) == np.isnan(h)
            close = np.isclose(h, w, rtol=case["rtol"], atol=case["atol"], equal_nan=True)
            if want.dtype.name in HALF_EPS:
                close |= np.abs(h - w) <= HALF_ULPS * ulp(w, *HALF_EPS[want.dtype.name])
            if not (nan_ok.all() and close.all()):
                bad = np.argwhere(~(close & nan_ok))[0]
                return (f"output `{o['name']}`: wrong numbers at {list(map(int, bad))}: "
                        f"{h[tuple(bad)]!r} vs expected {w[tuple(bad)]!r} (rtol {case['rtol']}, atol {case['atol']})")
        elif not np.array_equal(g, want):
            bad = np.argwhere(g != want)[0]
            return f"output `{o['name']}`: wrong values at {list(map(int, bad))}: {g[tuple(bad)]!r} vs expected {want[tuple(bad)]!r}"
    return None


def one_line(text: str, limit: int = 300) -> str:
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    s = lines[-1] if lines else ""
    return s if len(s) <= limit else s[:limit] + "..."


# ---------------------------------------------------------------- nnhost

def run_nnhost(nnhost: str, backend: str, case: dict, timeout: float, scratch: Path) -> dict:
    for k in range(case["sets"]):
        sd = Path(case["dir"]) / f"set_{k}"
        args = [nnhost, "run", "-m", str(Path(case["dir"]) / "model.onnx"), "-b", backend, "--json"]
        for j, i in enumerate(case["inputs"]):
            f = sd / f"in_{j}.npy"
            if f.is_file():
                args += ["-i", f"{i['name']}={f}" + (":bf16" if i.get("bf16") else "")]
        out = scratch / f"{case['name']}.{backend}.{k}"
        args += ["-o", str(out)]
        try:
            p = subprocess.run(args, capture_output=True, timeout=timeout, text=True, errors="replace")
        except subprocess.TimeoutExpired:
            return {"status": "fail", "detail": f"hang: no answer in {timeout:.0f} s"}
        finally:
            pass
        try:
            if p.returncode < 0:
                return {"status": "fail", "detail": f"crash: {signal.Signals(-p.returncode).name}; {one_line(p.stderr)}"}
            if "panicked at" in p.stderr or p.returncode == 101:
                return {"status": "fail", "detail": f"panic: {one_line(p.stderr)}"}
            if p.returncode != 0:
                err = [l for l in p.stderr.strip().splitlines() if l.strip()]
                if len(err) != 1:
                    return {"status": "fail", "detail": f"exit {p.returncode} without a one-line error: {one_line(p.stderr)}"}
                return {"status": "refused", "detail": one_line(p.stderr)}
            got = {}
            for o in json.loads(p.stdout.strip().splitlines()[-1])["outputs"]:
                a = np.load(o["file"], allow_pickle=False)
                if o["dtype"] == "bf16":  # written widened to float32
                    import ml_dtypes
                    a = a.astype(ml_dtypes.bfloat16)
                got[o["name"]] = a
            bad = compare(case, k, got)
            if bad:
                return {"status": "fail", "detail": bad}
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return {"status": "pass", "detail": ""}


# ---------------------------------------------------------------- native engines

def native_case(engine: str, case: dict) -> dict:
    """Run in a worker process: one case on one native engine."""
    model = Path(case["dir"]) / "model.onnx"
    try:
        if engine == "onnxruntime":
            import onnxruntime as ort
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.log_severity_level = 4
            sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
            out_names = [o.name for o in sess.get_outputs()]
            run = lambda feeds: dict(zip(out_names, sess.run(None, feeds)))
        else:
            import openvino as ov
            core = _ov_core()
            compiled = core.compile_model(core.read_model(str(model)), "CPU",
                                          {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1})
            outs = compiled.outputs
            names = [o.get_any_name() if o.get_names() else str(i) for i, o in enumerate(outs)]
            # Bind every expected output by any of its port's names (OpenVINO gives ports several).
            have = {n for port in compiled.inputs for n in port.get_names()}

            def run(feeds):
                # OpenVINO drops inputs the graph never reads (CastLike's `like`); feed what it has.
                r = compiled({k: v for k, v in feeds.items() if k in have})
                got = {}
                for port, name in zip(outs, names):
                    for n in port.get_names() or {name}:
                        got[n] = np.asarray(r[port])
                return got
    except Exception as e:  # noqa: BLE001 - a refusal is any exception
        return {"status": "refused", "detail": one_line(f"{type(e).__name__}: {e}")}
    for k in range(case["sets"]):
        sd = Path(case["dir"]) / f"set_{k}"
        feeds = {}
        for j, i in enumerate(case["inputs"]):
            f = sd / f"in_{j}.pb"
            if f.is_file():
                feeds[i["name"]] = np.array(load_pb(f))  # writeable: OpenVINO refuses read-only arrays
        try:
            got = run(feeds)
        except Exception as e:  # noqa: BLE001
            return {"status": "refused", "detail": one_line(f"{type(e).__name__}: {e}")}
        bad = compare(case, k, got)
        if bad:
            return {"status": "fail", "detail": bad}
    return {"status": "pass", "detail": ""}


_CORE = None


def _ov_core():
    global _CORE
    if _CORE is None:
        import openvino as ov
        _CORE = ov.Core()
    return _CORE


def worker(engine: str) -> None:
    """Reads case folders on stdin, writes one JSON result per line."""
    warnings.simplefilter("ignore")
    for line in sys.stdin:
        case = json.loads(line)
        try:
            r = native_case(engine, case)
        except Exception as e:  # noqa: BLE001
            r = {"status": "fail", "detail": one_line(f"runner error: {e}")}
        sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()


class Worker:
    """A persistent native-engine process; restarted after a crash or a hang."""

    def __init__(self, engine: str):
        self.engine = engine
        self.p = None

    def start(self):
        self.p = subprocess.Popen([sys.executable, __file__, "--worker", self.engine], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def run(self, case: dict, timeout: float) -> dict:
        if self.p is None or self.p.poll() is not None:
            self.start()
        self.p.stdin.write(json.dumps(case) + "\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            self.p.kill()
            self.p.wait()
            self.p = None
            return {"status": "fail", "detail": f"hang: no answer in {timeout:.0f} s"}
        line = self.p.stdout.readline()
        if not line:
            code = self.p.wait()
            self.p = None
            name = signal.Signals(-code).name if code < 0 else f"exit {code}"
            return {"status": "fail", "detail": f"crash: {name}"}
        return json.loads(line)

    def close(self):
        if self.p and self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait()


# ---------------------------------------------------------------- expectations

def expect_path(backend: str) -> Path:
    return HERE / f"expect-{backend}.toml"


def read_expect(backend: str) -> dict[str, dict]:
    p = expect_path(backend)
    if not p.is_file():
        return {}
    data = tomllib.loads(p.read_text())
    out = {}
    for g in data.get("group", []):
        for c in g["cases"]:
            out[c] = {"status": g["status"], "reason": g["reason"]}
    return out


def derive_reason(case: dict, nn: dict, native: dict | None, backend: str) -> str:
    """A first reason for a case that does not pass; --bless keeps whatever is written instead."""
    carry = carry_problem(case)
    if carry:
        return carry
    if "which OpenVINO's CPU plugin computes in f32" in nn["detail"]:
        return ("f64 on OpenVINO: its CPU plugin computes f64 in f32 (infinities saturate, so native openvino fails "
                "test_cast_FLOAT_to_DOUBLE); nnhost refuses f64 models there rather than return wrong numbers")
    if "wrongly (known from ONNX conformance cases" in nn["detail"]:
        seen = ("its own wrong result" if native is None
                else f"native {backend} gives the same wrong result" if native["status"] == "fail"
                else f"native {backend}: {native['status']}")
        return (f"known wrong on {backend} ({seen}): nnhost refuses the configuration, at load or on the input "
                "values that trigger it (src/backends/known_wrong/), rather than return wrong numbers")
    if native is None:
        return f"{backend} itself: {'wrong result' if nn['status'] == 'fail' else 'refuses the model'} (no native run to compare)"
    if native["status"] == nn["status"]:
        what = "gives the same wrong result" if nn["status"] == "fail" else "refuses it too"
        return f"the engine itself: native {backend} {what}"
    return f"UNEXPLAINED: native {native['status']}, nnhost {nn['status']}"


def write_expect(backend: str, results: dict, natives: dict, cases: dict, old: dict) -> None:
    groups: dict[tuple, list] = {}
    for name, r in sorted(results.items()):
        if r["status"] == "pass":
            continue
        kept = old.get(name, {})
        reason = (kept.get("reason") if kept.get("status") == r["status"] else None) or derive_reason(cases[name], r, natives.get(name), backend)
        groups.setdefault((r["status"], reason), []).append(name)
    lines = [f"# Cases of the ONNX node tests that do not pass through nnhost on {backend}, with why.",
             "# Checked by tests/conformance/conformance.py --check (CONFORMANCE.md explains); rewritten by --bless,",
             "# which keeps the reasons written here.", ""]
    for (status, reason), names in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]), kv[0][1])):
        lines += ["[[group]]", f"status = {json.dumps(status)}", f"reason = {json.dumps(reason)}", "cases = ["]
        lines += [f"  {json.dumps(n)}," for n in names]
        lines += ["]", ""]
    expect_path(backend).write_text("\n".join(lines))


def check(backend: str, results: dict, natives: dict, expect: dict) -> tuple[list[str], list[str]]:
    problems, notes = [], []
    for name, r in sorted(results.items()):
        e = expect.get(name)
        nat = natives.get(name)
        if r["status"] == "pass":
            if e:
                notes.append(f"{name}: listed as {e['status']} but passes now (run --bless)")
            continue
        if e is None:
            if r["status"] == "fail":
                problems.append(f"{name}: new failure: {r['detail']}")
            elif nat is not None and nat["status"] == "pass":
                problems.append(f"{name}: native {backend} passes, nnhost refuses: {r['detail']}")
            else:
                problems.append(f"{name}: refused and not listed: {r['detail']}")
        elif r["status"] == "fail" and e["status"] != "fail":
            problems.append(f"{name}: listed as {e['status']}, now fails: {r['detail']}")
        elif r["status"] == "refused" and e["status"] == "fail":
            notes.append(f"{name}: listed as fail, now a clean refusal (run --bless)")
    return problems, notes


# ---------------------------------------------------------------- report

def markdown(summary: dict, expects: dict) -> str:
    out = ["# Conformance: the ONNX node tests through nnhost",
           "",
           "Generated by `tests/conformance/conformance.py --markdown CONFORMANCE.md` (see its docstring); CI runs the",
           "same suite with `--check` (`tests/conformance.rs`). Each case is one operator-level test of the `onnx` wheel",
           f"(onnx {summary['onnx']}; {summary['cases']} cases), run through `nnhost run` (the tensor-runner plugin in the",
           "sandbox) and through the engine's own Python package alone, then classified:",
           "**pass** (every output within the case's tolerance, with the right shape and type), **refused** (a clean",
           "one-line error: a type wasi-nn cannot carry, an operator the engine lacks), **fail** (wrong numbers with",
           "exit 0, a crash or a hang). Outputs in float16 or bfloat16 also pass within 4 units in the last place of",
           "their type: the expected values are computed in f32 and rounded once, an engine computing in the 16-bit",
           "type rounds at every step (up to half a unit each; the worst element of the cases this admits is 3 units",
           "off), and most cases' rtol (1e-3) is below one unit of bfloat16 (2^-7). The same comparison judges the",
           "native engines.",
           "",
           "| backend | native pass | native refused | native fail | nnhost pass | nnhost refused | nnhost fail | lost: no wasi-nn type | lost: other |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for b, s in summary["backends"].items():
        n = s.get("native")
        nat = (f"{n['pass']} | {n['refused']} | {n['fail']}" if n else "- | - | -")
        out.append(f"| {b} | {nat} | {s['nnhost']['pass']} | {s['nnhost']['refused']} | {s['nnhost']['fail']} | {s['lost_wasi_nn']} | {s['lost'] - s['lost_wasi_nn']} |")
    out += ["",
            "Native engines: onnxruntime and openvino from their wheels (one thread, f32 inference precision); tract has no",
            "separate Python package, so its row is through nnhost only. *Lost* counts cases the native engine passes and",
            "nnhost does not: *no wasi-nn type* where an input or output has a type wasi-nn's `tensor-type` lacks (bool,",
            "int8/16, uint16/32/64, strings, float8/4, int4/2, sequences, optionals); *other* for the rest, each listed",
            "below with its reason (on OpenVINO: f64 models, refused because its CPU plugin computes them in f32).",
            "",
            "Where an engine returns wrong numbers for a configuration that the model alone identifies (an operator, its",
            "attributes, which optional inputs are given, element types), nnhost refuses the model at load with a",
            "one-line error naming the operator and a backend that computes it (`src/backends/known_wrong/`; the",
            "*known wrong* rows below). Where the wrong results depend on the values of one input (a shift count past",
            "the width, a Resize that shrinks with align_corners, -inf or no values at all into ReduceMax, ties along",
            "TopK's axis, runtime Tile repeats over many axes), those values are checked: at load when they are a",
            "constant of the model, else on every tensor given for that input. Where an exact rewrite exists, nnhost",
            "makes the engine compute what ONNX specifies instead: OpenVINO suppresses boxes whose IoU is at least",
            "NonMaxSuppression's threshold where ONNX suppresses only above it, so it gets the next float up (a",
            "constant rewritten in the model, an input adjusted as it is given); OpenVINO and tract reduce a row",
            "of -inf to the lowest finite float, so the test for fully masked rows in ONNX's Attention function,",
            "`Equal(ReduceMax(x), -inf)`, is rewritten to one that does not read the max. A quantization whose scale",
            "comes from the data (DynamicQuantizeLinear, or ONNX's function body for it) is judged on its input's values",
            "on OpenVINO: its CPU plugin divides by multiplying with the reciprocal, so x / scale can round the other",
            "way at a .5 tie; nnhost emulates that arithmetic and refuses the values where it differs from ONNX's (for",
            "the inlined form, whose FakeQuantize it does not emulate, any quotient within a few ulp of a tie;",
            "`tests/conformance/quantize_ties.py` checks both against OpenVINO alone on inputs built at ties). Values",
            "computed inside the graph are not checked this way; no case here depends on one. tract's own sigmoid and",
            "tanh stop about 7 ulp short of 1.0; nnhost registers its own kernels for both with tract (within 2 ulp,",
            "`src/backends/tract/kernels.rs`), which a GRU case with atol 1e-7 on near-zero outputs needs.",
            "",
            "## Exceptions, per backend",
            "",
            "Every case that does not pass through nnhost is listed in `tests/conformance/expect-<backend>.toml` with",
            "its status and reason; CI fails on any case that is not.",
            ""]
    for b, groups in expects.items():
        out += [f"### {b}", "", "| status | cases | reason |", "| --- | ---: | --- |"]
        for (status, reason), names in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
            shown = ", ".join(f"`{n}`" for n in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            out.append(f"| {status} | {len(names)} | {reason}: {shown} |")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--nnhost", default=str(ROOT / "target/release/nnhost"), help="the nnhost binary")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="cases at once (default: cores)")
    ap.add_argument("--filter", help="only cases whose name matches this regex")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--cases-dir", default=str(ROOT / "target/conformance/cases"))
    ap.add_argument("--check", action="store_true", help="fail on differences from the expectation files")
    ap.add_argument("--bless", action="store_true", help="rewrite the expectation files from this run")
    ap.add_argument("--no-native", action="store_true", help="skip the native engines (faster; the lost-case check needs them)")
    ap.add_argument("--markdown", help="write the conformance table here")
    ap.add_argument("--report", help="write every result as JSON here")
    args = ap.parse_args()

    global _NP_OK
    _NP_OK = _np_ok()
    if args.worker:
        worker(args.worker)
        return 0

    t0 = time.monotonic()
    cases_dir = Path(args.cases_dir)
    generate(cases_dir)
    cases = load_cases(cases_dir, args.filter)
    by_name = {c["name"]: c for c in cases}
    backends = [b for b in args.backends.split(",") if b]
    for b in backends:
        if b not in BACKENDS:
            ap.error(f"unknown backend `{b}` (backends: {', '.join(BACKENDS)})")
    if not Path(args.nnhost).is_file():
        ap.error(f"no nnhost binary at {args.nnhost} (build it: cargo build --release)")
    import onnx
    print(f"conformance: {len(cases)} ONNX node cases (onnx {onnx.__version__}) on {', '.join(backends)}; "
          f"{args.jobs} at once", file=sys.stderr)

    scratch = Path(args.cases_dir).parent / f"scratch-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    env_cache = os.environ.setdefault("NNHOST_CACHE_DIR", str(ROOT / "target/test-cache"))
    del env_cache

    natives: dict[str, dict] = {}
    results: dict[str, dict] = {}
    lock = threading.Lock()
    done = [0]
    total = 0
    tasks = []
    for b in backends:
        if b in NATIVE and not args.no_native:
            tasks += [("native", b, c) for c in cases]
        tasks += [("nnhost", b, c) for c in cases]
    total = len(tasks)
    natives = {b: {} for b in backends}
    results = {b: {} for b in backends}
    local = threading.local()

    def do(task):
        kind, b, c = task
        if kind == "native":
            ws = getattr(local, "workers", None)
            if ws is None:
                ws = local.workers = {}
                with lock:
                    all_workers.append(ws)
            w = ws.setdefault(b, Worker(b))
            r = w.run(c, args.timeout)
            natives[b][c["name"]] = r
        else:
            r = run_nnhost(args.nnhost, b, c, args.timeout, scratch)
            results[b][c["name"]] = r
        with lock:
            done[0] += 1
            if done[0] % 500 == 0 or done[0] == total:
                print(f"conformance: {done[0]}/{total} runs, {time.monotonic() - t0:.0f} s", file=sys.stderr)

    all_workers: list = []
    try:
        with cf.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            list(ex.map(do, tasks))
    finally:
        for ws in all_workers:
            for w in ws.values():
                w.close()
        shutil.rmtree(scratch, ignore_errors=True)

    summary = {"onnx": onnx.__version__, "cases": len(cases), "backends": {}}
    expects_md = {}
    failed = False
    for b in backends:
        res, nat = results[b], natives[b]
        count = lambda d: {s: sum(1 for r in d.values() if r["status"] == s) for s in ("pass", "refused", "fail")}
        lost = sorted(n for n, r in res.items() if r["status"] != "pass" and nat.get(n, {}).get("status") == "pass")
        imposed = sum(1 for n in lost if carry_problem(by_name[n]))
        summary["backends"][b] = {"nnhost": count(res), "native": count(nat) if nat else None, "lost": len(lost),
                                  "lost_wasi_nn": imposed}
        old = read_expect(b)
        if args.bless:
            write_expect(b, res, nat, by_name, old)
        expect = read_expect(b)
        groups: dict = {}
        for n, e in expect.items():
            if n in res:
                groups.setdefault((e["status"], e["reason"]), []).append(n)
        expects_md[b] = groups
        s = summary["backends"][b]
        nat_s = f"native {s['native']['pass']} pass / {s['native']['refused']} refused / {s['native']['fail']} fail; " if nat else ""
        print(f"conformance: {b}: {nat_s}nnhost {s['nnhost']['pass']} pass / {s['nnhost']['refused']} refused / "
              f"{s['nnhost']['fail']} fail; {len(lost)} lost through nnhost", file=sys.stderr)
        if args.check:
            problems, notes = check(b, res, nat, expect)
            for n in notes:
                print(f"conformance: {b}: note: {n}", file=sys.stderr)
            for p in problems:
                print(f"conformance: {b}: {p}", file=sys.stderr)
            failed |= bool(problems)
    if args.report:
        Path(args.report).write_text(json.dumps({"summary": summary, "nnhost": results, "native": natives}, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(markdown(summary, expects_md) + "\n")
    print(f"conformance: done in {time.monotonic() - t0:.0f} s" + ("; FAILED" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
