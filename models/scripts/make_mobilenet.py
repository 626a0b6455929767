"""Make a MobileNetV2-architecture ONNX model with fixed-seed random weights, and its OpenVINO IR.

    python models/scripts/make_mobilenet.py [--out models/mobilenet-v2]

A realistic workload for the classify path and the benchmarks: the MobileNetV2 graph (Sandler et al.
2018, width 1.0: 17 inverted-residual blocks, depthwise 3x3 convolutions, ReLU6, about 300 M
multiply-adds), 224x224 RGB NCHW input with ImageNet mean/std, 1000 output logits. Batch norm is
folded into the convolutions, as exporters do. The weights are random (seed 2018), so the labels are
placeholders `class-000` ... `class-999`: this model measures speed and backend agreement, not
accuracy. The files are about 14 MB, so they are generated on demand (tests and benchmarks call
this script) rather than committed; model.toml and README.md are committed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 2018
OPSET = 13
# (expansion t, output channels c, repeats n, first stride s), from the paper's Table 2.
BLOCKS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.n = 0

    def name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}_{self.n}"

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> str:
        fan_in = cin // groups * k * k
        # He-style init scaled down a little so activations stay in ReLU6's useful range.
        w = (self.rng.standard_normal((cout, cin // groups, k, k)) * np.sqrt(2.0 / fan_in) * 0.8).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.05).astype(np.float32)
        wn, bn, out = self.name("w"), self.name("b"), self.name("conv")
        self.inits += [numpy_helper.from_array(w, wn), numpy_helper.from_array(b, bn)]
        pad = k // 2
        self.nodes.append(
            helper.make_node("Conv", [x, wn, bn], [out], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups)
        )
        if not act:
            return out
        r = self.name("relu6")
        self.nodes.append(helper.make_node("Clip", [out, "zero", "six"], [r]))
        return r

    def block(self, x: str, cin: int, cout: int, t: int, stride: int) -> str:
        h = x
        hidden = cin * t
        if t != 1:
            h = self.conv(h, cin, hidden, 1, 1)
        h = self.conv(h, hidden, hidden, 3, stride, groups=hidden)
        h = self.conv(h, hidden, cout, 1, 1, act=False)
        if stride == 1 and cin == cout:
            s = self.name("add")
            self.nodes.append(helper.make_node("Add", [x, h], [s]))
            h = s
        return h


def build() -> onnx.ModelProto:
    b = Builder(SEED)
    b.inits += [numpy_helper.from_array(np.array(0.0, np.float32), "zero"), numpy_helper.from_array(np.array(6.0, np.float32), "six")]
    x = b.conv("input", 3, 32, 3, 2)
    cin = 32
    for t, c, n, s in BLOCKS:
        for i in range(n):
            x = b.block(x, cin, c, t, s if i == 0 else 1)
            cin = c
    x = b.conv(x, cin, 1280, 1, 1)
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    b.nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
    fc_w = (b.rng.standard_normal((1000, 1280)) * np.sqrt(1.0 / 1280) * 5.0).astype(np.float32)
    fc_b = np.zeros(1000, np.float32)
    b.inits += [numpy_helper.from_array(fc_w, "fc.weight"), numpy_helper.from_array(fc_b, "fc.bias")]
    b.nodes.append(helper.make_node("Gemm", ["features", "fc.weight", "fc.bias"], ["logits"], transB=1))
    graph = helper.make_graph(
        b.nodes,
        "mobilenet_v2",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnhost make_mobilenet.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "mobilenet-v2")
    ap.add_argument("--no-ir", action="store_true", help="skip the OpenVINO IR")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(build(), str(args.out / "model.onnx"))
    (args.out / "labels.txt").write_text("".join(f"class-{i:03d}\n" for i in range(1000)))
    if not args.no_ir:
        import openvino as ov

        ov.save_model(ov.convert_model(str(args.out / "model.onnx")), str(args.out / "model.xml"), compress_to_fp16=False)
    print(f"wrote {args.out}/model.onnx{'' if args.no_ir else ' and model.xml/.bin'}")


if __name__ == "__main__":
    main()
