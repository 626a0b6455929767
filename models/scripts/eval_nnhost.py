"""Measure the shapes model's accuracy through nnhost itself (plugin preprocessing, wasi-nn, a backend).

    python models/scripts/eval_nnhost.py [--nnhost target/release/nnhost] [--backend tract] [-n 1000]

Writes the same held-out images train_shapes.py evaluates on (seed EVAL_SEED, PNG and JPEG, colour,
grayscale and RGBA, 48-640 px) to a temporary folder, classifies them with `nnhost classify --json`
and prints the top-1 accuracy as JSON.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapegen  # noqa: E402
from train_shapes import EVAL_SEED  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nnhost", default="target/release/nnhost")
    ap.add_argument("--backend", default="tract")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--write", type=Path, help="append the result as a JSON line to this file")
    args = ap.parse_args()
    rng = np.random.default_rng(EVAL_SEED)
    with tempfile.TemporaryDirectory() as d:
        truth = {}
        for i in range(args.n):
            s = shapegen.render(rng)
            img = shapegen.random_variant(s, rng)
            fmt = "jpeg" if rng.random() < 0.5 else "png"
            p = Path(d) / f"{i:04d}.{'jpg' if fmt == 'jpeg' else 'png'}"
            p.write_bytes(shapegen.encode(img, fmt))
            truth[str(p)] = shapegen.CLASSES[s.label]
        out = subprocess.run([args.nnhost, "classify", "--json", "-b", args.backend, "--top", "1", d], capture_output=True, text=True)
        lines = [json.loads(l) for l in out.stdout.splitlines()]
        correct = sum(1 for v in lines if "top" in v and v["top"][0]["label"] == truth[v["image"]])
        result = {"backend": args.backend, "images": args.n, "classified": len(lines), "accuracy": correct / args.n}
        print(json.dumps(result))
        if args.write:
            with open(args.write, "a") as f:
                f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
