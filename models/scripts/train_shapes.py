"""Train the `shapes` CNN on procedurally generated images and export it to ONNX.

    python models/scripts/train_shapes.py            # writes models/shapes/{model.onnx,labels.txt,README.md}

Requirements (PyPI only): numpy, pillow, onnx, onnxruntime, jax (see models/scripts/requirements-train.txt).
Everything is seeded: the training set comes from shapegen with TRAIN_SEED, the held-out test set
from EVAL_SEED (1,000 images never seen in training), and weights are initialised from INIT_SEED.
CI does not retrain: the trained model is committed. The accuracy written into README.md is measured
by running the exported ONNX file with ONNX Runtime on the held-out images, preprocessed exactly
as the image-classifier plugin does (resize to 64x64 with a triangle filter, scale 1/255,
mean 0.5, std 0.5, NCHW).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapegen  # noqa: E402

TRAIN_SEED = 20261124
EVAL_SEED = 777
INIT_SEED = 1
SIZE = 64
MEAN, STD = 0.5, 0.5
CHANNELS = [16, 32, 48, 64]
OPSET = 13
RESAMPLES = [Image.Resampling.BILINEAR, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.BOX]


def _to_input(img: Image.Image, resample=Image.Resampling.BILINEAR) -> np.ndarray:
    """Same steps as the plugin: drop alpha / expand gray to RGB, resize, HWC uint8."""
    return np.asarray(img.convert("RGB").resize((SIZE, SIZE), resample), dtype=np.uint8)


def _make_chunk(args: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    seed, start, count = args
    rng = np.random.default_rng([seed, start])
    xs = np.empty((count, SIZE, SIZE, 3), np.uint8)
    ys = np.empty((count,), np.int32)
    for i in range(count):
        s = shapegen.render(rng, label=(start + i) % len(shapegen.CLASSES), max_side=160)
        img = shapegen.random_variant(s, rng)
        xs[i] = _to_input(img, RESAMPLES[int(rng.integers(len(RESAMPLES)))])
        ys[i] = s.label
    return xs, ys


def make_dataset(seed: int, n: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    chunk = 500
    jobs = [(seed, s, min(chunk, n - s)) for s in range(0, n, chunk)]
    with mp.Pool(workers) as pool:
        parts = pool.map(_make_chunk, jobs)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def make_eval_set(seed: int, n: int) -> tuple[list[Image.Image], np.ndarray]:
    """Full-range images (48-320 px shorter side, PNG/JPEG, colour/gray/RGBA), decoded from their encoded bytes."""
    import io

    rng = np.random.default_rng(seed)
    imgs, labels = [], []
    for _ in range(n):
        s = shapegen.render(rng)
        img = shapegen.random_variant(s, rng)
        fmt = "jpeg" if rng.random() < 0.5 else "png"
        imgs.append(Image.open(io.BytesIO(shapegen.encode(img, fmt))).copy())
        labels.append(s.label)
    return imgs, np.array(labels)


def normalize(x_uint8_nhwc: np.ndarray) -> np.ndarray:
    x = x_uint8_nhwc.astype(np.float32) / 255.0
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# ---------------------------------------------------------------- model (JAX)


def init_params(key):
    import jax

    params = {}
    cin = 3
    keys = jax.random.split(key, len(CHANNELS) + 1)
    for i, cout in enumerate(CHANNELS):
        fan_in = cin * 9
        params[f"conv{i}_w"] = jax.random.normal(keys[i], (cout, cin, 3, 3)) * math.sqrt(2.0 / fan_in)
        params[f"conv{i}_b"] = np.zeros((cout,), np.float32)
        cin = cout
    params["fc_w"] = jax.random.normal(keys[-1], (cin, len(shapegen.CLASSES))) * math.sqrt(1.0 / cin)
    params["fc_b"] = np.zeros((len(shapegen.CLASSES),), np.float32)
    return params


def forward(params, x):
    import jax
    import jax.numpy as jnp

    for i in range(len(CHANNELS)):
        x = jax.lax.conv_general_dilated(x, params[f"conv{i}_w"], (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        x = jax.nn.relu(x + params[f"conv{i}_b"][None, :, None, None])
        if i < len(CHANNELS) - 1:
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    x = jnp.mean(x, axis=(2, 3))
    return x @ params["fc_w"] + params["fc_b"]


def train(xs: np.ndarray, ys: np.ndarray, steps: int, batch: int, lr: float) -> dict:
    import jax
    import jax.numpy as jnp

    params = init_params(jax.random.PRNGKey(INIT_SEED))
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)

    def loss_fn(p, x, y):
        logits = forward(p, x)
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, m, v, x, y, t, lr_t):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        b1, b2 = 0.9, 0.999
        m = jax.tree_util.tree_map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: b2 * a + (1 - b2) * b * b, v, g)
        mh = jax.tree_util.tree_map(lambda a: a / (1 - b1**t), m)
        vh = jax.tree_util.tree_map(lambda a: a / (1 - b2**t), v)
        p = jax.tree_util.tree_map(lambda a, b, c: a - lr_t * b / (jnp.sqrt(c) + 1e-8), p, mh, vh)
        return p, m, v, loss

    rng = np.random.default_rng(TRAIN_SEED + 1)
    t0 = time.time()
    losses = []
    for t in range(1, steps + 1):
        idx = rng.integers(0, len(xs), size=batch)
        xb = xs[idx]
        if rng.random() < 0.5:  # flips are label-preserving for every class
            xb = xb[:, :, ::-1]
        xb = normalize(xb)
        lr_t = lr * 0.5 * (1 + math.cos(math.pi * t / steps))
        params, m, v, loss = step(params, m, v, xb, ys[idx], t, lr_t)
        losses.append(float(loss))
        if t % 200 == 0 or t == steps:
            print(f"step {t}/{steps} loss {np.mean(losses[-200:]):.4f} ({time.time() - t0:.0f}s)", flush=True)
    return {k: np.asarray(v, np.float32) for k, v in params.items()}


# ---------------------------------------------------------------- ONNX export


def export_onnx(params: dict, path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    x = "image"
    for i in range(len(CHANNELS)):
        inits += [numpy_helper.from_array(params[f"conv{i}_w"], f"conv{i}.weight"), numpy_helper.from_array(params[f"conv{i}_b"], f"conv{i}.bias")]
        nodes.append(helper.make_node("Conv", [x, f"conv{i}.weight", f"conv{i}.bias"], [f"conv{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
        x = f"relu{i}"
        if i < len(CHANNELS) - 1:
            nodes.append(helper.make_node("MaxPool", [x], [f"pool{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            x = f"pool{i}"
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["features"], axis=1))
    inits += [numpy_helper.from_array(params["fc_w"].T.copy(), "fc.weight"), numpy_helper.from_array(params["fc_b"], "fc.bias")]
    nodes.append(helper.make_node("Gemm", ["features", "fc.weight", "fc.bias"], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes,
        "shapes",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, len(shapegen.CLASSES)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnhost train_shapes.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def evaluate(model_path: Path, n: int) -> tuple[float, dict]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    imgs, labels = make_eval_set(EVAL_SEED, n)
    correct = 0
    per_class = {c: [0, 0] for c in shapegen.CLASSES}
    for img, y in zip(imgs, labels):
        x = normalize(_to_input(img)[None])
        pred = int(np.argmax(sess.run(["logits"], {"image": x})[0][0]))
        correct += int(pred == y)
        per_class[shapegen.CLASSES[y]][0] += int(pred == y)
        per_class[shapegen.CLASSES[y]][1] += 1
    return correct / n, per_class


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "shapes")
    ap.add_argument("--train-images", type=int, default=40000)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--eval-images", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--eval-only", action="store_true", help="measure the committed model; do not train")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / "model.onnx"

    t0 = time.time()
    if not args.eval_only:
        xs, ys = make_dataset(TRAIN_SEED, args.train_images, args.workers)
        print(f"generated {len(xs)} training images in {time.time() - t0:.0f}s", flush=True)
        params = train(xs, ys, args.steps, args.batch, args.lr)
        export_onnx(params, model_path)
        (args.out / "labels.txt").write_text("\n".join(shapegen.CLASSES) + "\n")
    train_s = time.time() - t0
    acc, per_class = evaluate(model_path, args.eval_images)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    if args.eval_only and (args.out / "training.json").is_file():
        # Keep how the committed model was trained; only the measurement is new.
        prev = json.loads((args.out / "training.json").read_text())
        train_s = prev.get("train_seconds", 0)
        args.train_images, args.steps, args.batch = prev["train_images"], prev["steps"], prev["batch"]
    result = {
        "accuracy": acc,
        "eval_images": args.eval_images,
        "per_class": {k: v[0] / max(v[1], 1) for k, v in per_class.items()},
        "sha256": digest,
        "train_seconds": round(train_s),
        "train_images": args.train_images,
        "steps": args.steps,
        "batch": args.batch,
    }
    print(json.dumps(result, indent=2))
    (args.out / "training.json").write_text(json.dumps(result, indent=2) + "\n")
    write_readme(args.out, result)


def write_readme(out: Path, r: dict) -> None:
    import onnx
    import onnxruntime

    per_class = "\n".join(f"| {k} | {v * 100:.1f} % |" for k, v in r["per_class"].items())
    size_kb = (out / "model.onnx").stat().st_size / 1024
    text = f"""# shapes

A small CNN that tells six filled shapes apart: {", ".join(shapegen.CLASSES)}.
This file is written by `models/scripts/train_shapes.py`; do not edit it by hand.

## Measured accuracy

**{r["accuracy"] * 100:.1f} % top-1** on {r["eval_images"]} freshly generated images (seed {EVAL_SEED}, never used in
training): sizes 48-640 px, aspect ratios up to 2:1, PNG and JPEG, colour, grayscale and RGBA, solid, gradient and
noisy backgrounds. Measured by running the exported `model.onnx` with ONNX Runtime {onnxruntime.__version__} on images
preprocessed the way the image-classifier plugin does.

| class | top-1 |
| --- | --- |
{per_class}

The same 1,000 images classified by nnhost itself (the image-classifier plugin's own decoding and
resizing, then wasi-nn on each backend) are measured by `models/scripts/eval_nnhost.py`; its results are
in `nnhost-accuracy.json` beside this file (one JSON line per backend).

## Provenance

- Data: `models/scripts/shapegen.py`, procedurally generated; nothing downloaded. Each image holds one filled
  shape whose circumscribed diameter is 20-80 % of the shorter side, at any position and rotation, in any colour
  with a luminance contrast of at least 70/255 to the background; backgrounds are solid, linear gradients or
  Gaussian noise. Training images are 48-320 px, augmented with grayscale, alpha, JPEG quality 50-95, several
  resize filters and horizontal flips.
- Training: `models/scripts/train_shapes.py` with JAX on CPU, seed {TRAIN_SEED} (data) and {INIT_SEED} (weights),
  {r["train_images"]} images, {r["steps"]} Adam steps of batch {r["batch"]}, cosine learning-rate decay
  ({r["train_seconds"]} s on 2 cores).
- Architecture: 4 x (3x3 conv + ReLU, 2x2 max-pool after the first three) with {CHANNELS} channels, global
  average pool, linear layer to 6 logits. Input `image` f32 [1, 3, {SIZE}, {SIZE}] NCHW RGB, scaled to [0, 1] then
  normalised with mean {MEAN} and std {STD}; output `logits` f32 [1, 6].
- Export: ONNX opset {OPSET} (onnx {onnx.__version__}), built node by node with `onnx.helper`; {size_kb:.0f} KB;
  sha256 `{r["sha256"]}`.

Reproduce: `python models/scripts/train_shapes.py` (requirements in `models/scripts/requirements-train.txt`).
Measure only: `python models/scripts/train_shapes.py --eval-only`.
"""
    (out / "README.md").write_text(text)


if __name__ == "__main__":
    main()
