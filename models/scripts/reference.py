"""The reference Python pipeline: Pillow preprocessing + ONNX Runtime, top-k per photo.

    .venv/bin/python models/scripts/reference.py [-m efficientnet-lite0 -m mobilenet-v2] [--json] [--top 5] [IMAGE ...]

For each model (default: efficientnet-lite0 and mobilenet-v2) and each photo (default: every image in
fixtures/photos), preprocess the photo with `preprocess_image(path, input_section)` from
models/scripts/pillow_preprocess.py, following the model's model.toml [input] section, run
models/<model>/model.onnx with ONNX Runtime and print the top-k classes (label, index, softmax
probability). With --json, one object per line:

    {"model": "...", "image": "fixtures/photos/chelsea.png", "top": [{"label": "...", "index": 282, "score": 0.53}, ...]}

"image" is the path relative to the repository root when the photo is inside it. The models are made
by ./scripts/setup-native (models/scripts/make_models.sh).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_MODELS = ["efficientnet-lite0", "mobilenet-v2"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}

sys.path.insert(0, str(HERE))
from pillow_preprocess import preprocess_image  # noqa: E402


def display_path(p: Path) -> str:
    try:
        return p.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(p)


def default_images() -> list[Path]:
    d = REPO / "fixtures" / "photos"
    return sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


class Model:
    def __init__(self, name: str, models_dir: Path):
        import onnxruntime as ort

        self.name = name
        d = models_dir / name
        with open(d / "model.toml", "rb") as f:
            self.manifest = tomllib.load(f)
        self.input = self.manifest["input"]
        onnx_path = d / self.manifest.get("file", "model.onnx")
        if not onnx_path.is_file():
            raise SystemExit(f"error: {onnx_path} is missing; run ./scripts/setup-native (or models/scripts/make_models.sh)")
        self.labels = (d / self.manifest.get("labels", "labels.txt")).read_text(encoding="utf-8").splitlines()
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        self.output = self.manifest.get("output", {}).get("name", "logits")
        self.kind = self.manifest.get("output", {}).get("kind", "logits")

    def top(self, image: Path, k: int) -> list[dict]:
        x = np.asarray(preprocess_image(str(image), self.input), np.float32)
        want = (1, self.input.get("channels", 3), self.input["height"], self.input["width"])
        if x.shape != want:
            raise SystemExit(f"error: preprocess_image gave {x.shape} for {image}, expected {want}")
        y = self.session.run([self.output], {self.input.get("name", "input"): x})[0].reshape(-1).astype(np.float64)
        if self.kind == "logits":
            e = np.exp(y - y.max())
            p = e / e.sum()
        else:
            p = y
        order = np.argsort(-p, kind="stable")[:k]
        return [{"label": self.labels[i], "index": int(i), "score": float(p[i])} for i in order]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="*", type=Path, help="photos (default: fixtures/photos/*)")
    ap.add_argument("-m", "--model", action="append", help="model folder name under models/ (repeatable; default: %s)" % ", ".join(DEFAULT_MODELS))
    ap.add_argument("--models-dir", type=Path, default=REPO / "models")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    args = ap.parse_args()

    images = args.images or default_images()
    for name in args.model or DEFAULT_MODELS:
        model = Model(name, args.models_dir)
        if not args.json:
            print(f"== {name}")
        for image in images:
            top = model.top(image, args.top)
            if args.json:
                print(json.dumps({"model": name, "image": display_path(image), "top": top}), flush=True)
            else:
                print(f"{display_path(image)}")
                for t in top:
                    print(f"  {t['score']:7.2%}  {t['index']:4d}  {t['label']}")


if __name__ == "__main__":
    main()
