"""Make models/ppocr-det, models/ppocr-cls, models/ppocr-rec (model.onnx each) and plugins/ocr/keys.txt.

    .venv/bin/python models/scripts/make_ppocr.py [--force] [--check | --no-check]

PaddleOCR's PP-OCRv4 models as ONNX, copied unchanged from the `rapidocr-onnxruntime` 1.4.4 wheel
(Apache-2.0; pinned in scripts/requirements-models.txt, installed with `pip --no-deps`):

| folder      | file in rapidocr_onnxruntime/models/   | what                                         |
| ----------- | -------------------------------------- | -------------------------------------------- |
| ppocr-det   | ch_PP-OCRv4_det_infer.onnx             | DB text detector: probability map            |
| ppocr-cls   | ch_ppocr_mobile_v2.0_cls_infer.onnx    | text-line orientation: 0 or 180 degrees      |
| ppocr-rec   | ch_PP-OCRv4_rec_infer.onnx             | CRNN (SVTR-LCNet) recogniser, CTC over 6625  |

Each file is checked against the sha256 pinned below and copied only when the copy is missing or
differs (a second run only checks). The recogniser's character dictionary, stored in the rec
model's `metadata_props` under `character` (one character per line, 6623 lines), is written to
plugins/ocr/keys.txt (committed; the host passes it to the plugin as its `dictionary` config);
the script fails if the committed file differs from the model's.

When a model was copied (or with --check), every model is then run on ONNX Runtime and on OpenVINO
(its ONNX frontend, f32 inference precision) with fixed random inputs of two sizes (the dynamic
dimensions), and the largest absolute difference is printed (it fails above 1e-3).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
KEYS = ROOT / "plugins" / "ocr" / "keys.txt"
PACKAGE = "rapidocr_onnxruntime"

# registry folder -> (file in the wheel's models/ folder, sha256, check input shapes N,C,H,W)
FILES = {
    "ppocr-det": (
        "ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        [(1, 3, 96, 160), (1, 3, 128, 64)],
    ),
    "ppocr-cls": (
        "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
        [(2, 3, 48, 192), (1, 3, 48, 192)],
    ),
    "ppocr-rec": (
        "ch_PP-OCRv4_rec_infer.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        [(2, 3, 48, 320), (1, 3, 48, 480)],
    ),
}
# sha256 of keys.txt: the rec model's `character` metadata, "\n"-joined, with a final newline.
KEYS_SHA256 = "a1c84d9bdb9ab29043c58896224d32941783eb821629618416dcb08f12886492"
TOLERANCE = 1e-3


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_models() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"make_ppocr: the `{PACKAGE}` package is not installed: pip install --no-deps -r scripts/requirements-models.txt")
    return Path(spec.submodule_search_locations[0]) / "models"


def copy_models(src: Path, force: bool) -> bool:
    """Copy what is missing or stale; whether anything was copied."""
    copied = False
    for folder, (name, digest, _) in FILES.items():
        source = src / name
        if not source.is_file():
            sys.exit(f"make_ppocr: {source} is missing (is rapidocr-onnxruntime 1.4.4 installed?)")
        got = sha256(source)
        if got != digest:
            sys.exit(f"make_ppocr: {source} has sha256 {got}, not the pinned {digest}")
        dest = MODELS / folder / "model.onnx"
        if not force and dest.is_file() and sha256(dest) == digest:
            print(f"make_ppocr: {dest.relative_to(ROOT)} is up to date")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".onnx.tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(dest)
        copied = True
        print(f"make_ppocr: wrote {dest.relative_to(ROOT)} ({dest.stat().st_size} bytes) from {name}")
    return copied


def keys_text(rec: Path) -> str:
    import onnx

    model = onnx.load(str(rec), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    if "character" not in meta:
        sys.exit(f"make_ppocr: {rec} has no `character` metadata")
    # rapidocr reads it with str.splitlines(); the dictionary holds none of the other line breaks
    # splitlines() knows, so "\n" splits it the same way (checked).
    lines = meta["character"].split("\n")
    if lines != meta["character"].splitlines():
        sys.exit("make_ppocr: the dictionary splits differently on \\n and on str.splitlines()")
    return "\n".join(lines) + "\n"


def write_keys(rec: Path) -> None:
    text = keys_text(rec)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if digest != KEYS_SHA256:
        sys.exit(f"make_ppocr: the dictionary has sha256 {digest}, not the pinned {KEYS_SHA256}")
    if KEYS.is_file() and KEYS.read_text(encoding="utf-8") == text:
        print(f"make_ppocr: {KEYS.relative_to(ROOT)} is up to date ({len(text.splitlines())} characters)")
        return
    KEYS.parent.mkdir(parents=True, exist_ok=True)
    KEYS.write_text(text, encoding="utf-8", newline="\n")
    print(f"make_ppocr: wrote {KEYS.relative_to(ROOT)} ({len(text.splitlines())} characters, sha256 {digest})")


def check() -> None:
    import numpy as np
    import onnxruntime as ort
    import openvino as ov

    core = ov.Core()
    rng = np.random.default_rng(0)
    for folder, (_, _, shapes) in FILES.items():
        path = MODELS / folder / "model.onnx"
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        compiled = core.compile_model(core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        name = sess.get_inputs()[0].name
        worst = 0.0
        for shape in shapes:
            x = rng.uniform(-1, 1, size=shape).astype(np.float32)
            a = sess.run(None, {name: x})[0]
            b = compiled({0: x})[compiled.output(0)]
            if a.shape != b.shape:
                sys.exit(f"make_ppocr: {folder} on {shape}: ONNX Runtime gives {a.shape}, OpenVINO {b.shape}")
            worst = max(worst, float(np.abs(a - b).max()))
            print(f"  {folder} {list(shape)} -> {list(a.shape)}")
        print(f"  {folder}: OpenVINO vs ONNX Runtime max |diff| {worst:.2e}")
        if worst > TOLERANCE:
            sys.exit(f"make_ppocr: {folder}: OpenVINO differs from ONNX Runtime by {worst} (> {TOLERANCE})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="copy even when the copies are current")
    ap.add_argument("--check", action="store_true", help="run the ONNX Runtime / OpenVINO check even if nothing was copied")
    ap.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime / OpenVINO check")
    args = ap.parse_args()
    src = wheel_models()
    copied = copy_models(src, args.force)
    write_keys(MODELS / "ppocr-rec" / "model.onnx")
    if (copied or args.check) and not args.no_check:
        print("make_ppocr: ONNX Runtime vs OpenVINO:")
        check()


if __name__ == "__main__":
    main()
