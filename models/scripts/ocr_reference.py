"""OCR reference: rapidocr-onnxruntime 1.4.4 itself (PP-OCRv4 det + cls + rec on ONNX Runtime).

    .venv/bin/python models/scripts/ocr_reference.py IMAGE [IMAGE ...] [--models DIR] [--out FILE]

Prints one JSON line per image, in the order given:

    {"image": PATH, "lines": [{"quad": [[x, y] x 4], "text": "...", "score": s}, ...]}

`quad` is rapidocr's box in original-image pixels, in its order (top-left, top-right,
bottom-right, bottom-left: clockwise from top-left), `text` the recognised line, `score` the mean
of the CTC character probabilities; lines come in rapidocr's reading order (top to bottom, then
left to right). `--out` also writes the lines as one JSON document (fixtures/text/reference.json).

The models are the registry copies (`models/ppocr-{det,cls,rec}/model.onnx`, made by
make_ppocr.py; they are byte-identical to the wheel's) and rapidocr's defaults, spelled out in
PARAMS so that a change of defaults in another rapidocr version shows here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# rapidocr-onnxruntime 1.4.4's config.yaml defaults, as this reference runs them.
PARAMS = {
    # Global
    "Global.text_score": 0.5,  # lines whose recognition score is below are dropped
    "Global.use_det": True,
    "Global.use_cls": True,
    "Global.use_rec": True,
    "Global.min_height": 30,  # an image this low (or wider than 8:1) gets black bands top and bottom
    "Global.width_height_ratio": 8,
    "Global.max_side_len": 2000,  # larger images are shrunk first
    "Global.min_side_len": 30,  # smaller ones enlarged
    # Det (DB)
    "Det.limit_side_len": 736,
    "Det.limit_type": "min",
    "Det.thresh": 0.3,
    "Det.box_thresh": 0.5,
    "Det.max_candidates": 1000,
    "Det.unclip_ratio": 1.6,
    "Det.use_dilation": True,
    "Det.score_mode": "fast",
    # Cls
    "Cls.cls_image_shape": [3, 48, 192],
    "Cls.cls_batch_num": 6,
    "Cls.cls_thresh": 0.9,
    # Rec
    "Rec.rec_img_shape": [3, 48, 320],
    "Rec.rec_batch_num": 6,
}


def engine(models: Path):
    from rapidocr_onnxruntime import RapidOCR

    ocr = RapidOCR(
        det_model_path=str(models / "ppocr-det/model.onnx"),
        cls_model_path=str(models / "ppocr-cls/model.onnx"),
        rec_model_path=str(models / "ppocr-rec/model.onnx"),
    )
    # rapidocr's defaults as constructed: fails if they are not PARAMS.
    det, post = ocr.text_det, ocr.text_det.postprocess_op
    got = {
        "Global.text_score": ocr.text_score,
        "Global.use_det": ocr.use_det,
        "Global.use_cls": ocr.use_cls,
        "Global.use_rec": ocr.use_rec,
        "Global.min_height": ocr.min_height,
        "Global.width_height_ratio": ocr.width_height_ratio,
        "Global.max_side_len": ocr.max_side_len,
        "Global.min_side_len": ocr.min_side_len,
        "Det.limit_side_len": det.limit_side_len,
        "Det.limit_type": det.limit_type,
        "Det.thresh": post.thresh,
        "Det.box_thresh": post.box_thresh,
        "Det.max_candidates": post.max_candidates,
        "Det.unclip_ratio": post.unclip_ratio,
        "Det.use_dilation": post.dilation_kernel is not None,
        "Det.score_mode": post.score_mode,
        "Cls.cls_image_shape": list(ocr.text_cls.cls_image_shape),
        "Cls.cls_batch_num": ocr.text_cls.cls_batch_num,
        "Cls.cls_thresh": ocr.text_cls.cls_thresh,
        "Rec.rec_img_shape": list(ocr.text_rec.rec_image_shape),
        "Rec.rec_batch_num": ocr.text_rec.rec_batch_num,
    }
    if got != PARAMS:
        sys.exit(f"ocr_reference: rapidocr's defaults are not PARAMS: {({k: v for k, v in got.items() if PARAMS.get(k) != v})}")
    return ocr


def run(ocr, image: Path) -> list[dict]:
    result, _ = ocr(
        str(image),
        box_thresh=PARAMS["Det.box_thresh"],
        unclip_ratio=PARAMS["Det.unclip_ratio"],
        text_score=PARAMS["Global.text_score"],
    )
    return [
        {"quad": [[float(x), float(y)] for x, y in quad], "text": text, "score": float(score)}
        for quad, text, score in (result or [])
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--models", type=Path, default=ROOT / "models", help="models folder (default: %(default)s)")
    ap.add_argument("--out", type=Path, help="also write all results as one JSON document here")
    args = ap.parse_args()
    ocr = engine(args.models)
    results = []
    for image in args.images:
        if not image.is_file():
            sys.exit(f"ocr_reference: {image}: no such file")
        shown = str(image.resolve().relative_to(ROOT)) if image.resolve().is_relative_to(ROOT) else str(image)
        r = {"image": shown, "lines": run(ocr, image)}
        results.append(r)
        print(json.dumps(r, ensure_ascii=False), flush=True)
    if args.out:
        doc = {
            "generator": "models/scripts/ocr_reference.py (rapidocr-onnxruntime 1.4.4, onnxruntime CPU)",
            "params": PARAMS,
            "results": results,
        }
        args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
