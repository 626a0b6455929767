"""Compare `nnhost task ocr` with the rapidocr reference (fixtures/text/reference.json).

    .venv/bin/python models/scripts/ocr_agreement.py [--nnhost target/release/nnhost] [--plugin ocr]
        [--backends tract,onnxruntime,openvino] [--reference fixtures/text/reference.json]

For each backend, runs `nnhost task PLUGIN IMAGES --json -b BACKEND` on the reference's images and
matches each reference line with the plugin's line of the largest quadrilateral IoU (polygon
intersection over union, shapely). Prints per backend: lines in each, lines with the same text
(exact string), the smallest IoU of matched lines and the largest score difference; exits 1 when
fewer than 95% of lines have the same text or a matched IoU is under 0.8 (the OCR plugin's target).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from shapely.geometry import Polygon

ROOT = Path(__file__).resolve().parents[2]


def iou(a, b) -> float:
    pa, pb = Polygon(a).buffer(0), Polygon(b).buffer(0)
    union = pa.union(pb).area
    return pa.intersection(pb).area / union if union > 0 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nnhost", default=str(ROOT / "target/release/nnhost"))
    ap.add_argument("--plugin", default="ocr")
    ap.add_argument("--backends", default="tract,onnxruntime,openvino")
    ap.add_argument("--reference", type=Path, default=ROOT / "fixtures/text/reference.json")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every line that differs")
    ap.add_argument("--deadline-ms", type=int, help="nnhost's per-call deadline (for loaded test machines)")
    args = ap.parse_args()
    ref = {r["image"]: r["lines"] for r in json.loads(args.reference.read_text(encoding="utf-8"))["results"]}
    failed = False
    for backend in args.backends.split(","):
        cmd = [args.nnhost, "task", args.plugin, *ref.keys(), "--json", "-b", backend]
        if args.deadline_ms:
            cmd += ["--deadline-ms", str(args.deadline_ms)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{backend}: nnhost failed ({proc.returncode}): {proc.stderr.strip()}")
            failed = True
            continue
        got = {}
        for line in proc.stdout.splitlines():
            r = json.loads(line)
            got[r["image"]] = r.get("results", [])
        n_ref = n_got = same = 0
        min_iou, max_dscore = 1.0, 0.0
        for image, lines in ref.items():
            mine = got.get(image, [])
            n_ref += len(lines)
            n_got += len(mine)
            for want in lines:
                best = max(mine, key=lambda m: iou(want["quad"], m["quad"]), default=None)
                score = iou(want["quad"], best["quad"]) if best else 0.0
                min_iou = min(min_iou, score)
                if best and best["text"] == want["text"]:
                    same += 1
                    max_dscore = max(max_dscore, abs(best["score"] - want["score"]))
                elif args.verbose:
                    print(f"  {backend} {image}: {want['text']!r} read as {best['text'] if best else None!r} (IoU {score:.3f})")
        frac = same / n_ref if n_ref else 1.0
        ok = frac >= 0.95 and min_iou >= 0.8 and n_got == n_ref
        failed |= not ok
        print(
            f"{backend:12} reference lines {n_ref}, plugin lines {n_got}, same text {same}/{n_ref} ({100 * frac:.1f}%), "
            f"min quad IoU {min_iou:.4f}, max score diff {max_dscore:.2e}  {'ok' if ok else 'BELOW TARGET'}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
