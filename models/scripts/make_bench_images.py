"""Write a folder of benchmark images made from the real photos in fixtures/photos.

    .venv/bin/python models/scripts/make_bench_images.py --out DIR [--count 300] [--size 330] [--seed 7]

Each image is a random crop of one of the photos (turned upright with its EXIF orientation,
converted to RGB), resized with Pillow to about SIZE x SIZE (each side drawn independently within
+-10% of SIZE) and, for about a third of them, flipped left-right. They are saved as RGB PNGs
named bench-0000.png, bench-0001.png, ... The output depends only on COUNT, SIZE, SEED, the photos
and the Pillow build.

DIR/manifest.json records the parameters, the Pillow version and every file's name and size. When
DIR already holds exactly those files (same parameters, same names and sizes, no other image files)
the script does nothing, so benchmark scripts can call it every time. Otherwise it rewrites the
bench-*.png files; it refuses (exit 2) to touch a folder holding other .png/.jpg/.jpeg files, since
`nnhost classify`/`nnhost bench` and pipeline_bench.py would read those too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PHOTOS = REPO / "fixtures" / "photos"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}  # what nnhost classify reads from a folder
MANIFEST = "manifest.json"
FORMAT = 1  # bump when the generation below changes


def load_photos() -> list[Image.Image]:
    photos = []
    for p in sorted(PHOTOS.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            with Image.open(p) as im:
                photos.append(ImageOps.exif_transpose(im).convert("RGB"))
    if not photos:
        raise SystemExit(f"error: no photos in {PHOTOS}")
    return photos


def plan(photos: list[Image.Image], size: int, rng: np.random.Generator) -> tuple:
    """Draw one image's recipe: (photo, crop box, output size, flip)."""
    photo = photos[int(rng.integers(len(photos)))]
    w, h = photo.size
    # Output size: each side within +-10% of `size`.
    ow, oh = (int(round(size * rng.uniform(0.9, 1.1))) for _ in range(2))
    # A crop with the output's aspect ratio, 50-100% of the largest such crop, anywhere in the photo.
    k = min(w / ow, h / oh) * rng.uniform(0.5, 1.0)
    cw, ch = max(1, int(ow * k)), max(1, int(oh * k))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return photo, (x, y, x + cw, y + ch), (ow, oh), rng.random() < 1 / 3


def render(photo: Image.Image, box: tuple, out_size: tuple, flip: bool, path: Path) -> int:
    img = photo.crop(box).resize(out_size, Image.Resampling.BILINEAR)
    if flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img.save(path, format="PNG")  # Pillow's default zlib level, as most PNGs are
    return path.stat().st_size


def up_to_date(out: Path, params: dict) -> bool:
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if {k: manifest.get(k) for k in params} != params:
        return False
    files = manifest.get("files", {})
    present = {p.name for p in out.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    if present != set(files) or len(files) != params["count"]:
        return False
    return all((out / name).stat().st_size == n for name, n in files.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder to write (created if missing)")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--size", type=int, default=330, help="nominal side in pixels (each side varies by +-10%%)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.count < 1 or args.size < 8:
        ap.error("--count must be >= 1 and --size >= 8")

    out: Path = args.out
    params = {"format": FORMAT, "count": args.count, "size": args.size, "seed": args.seed, "pillow": PIL.__version__}
    if out.is_dir() and up_to_date(out, params):
        print(f"make_bench_images: {out} is up to date ({args.count} images)", file=sys.stderr)
        return
    out.mkdir(parents=True, exist_ok=True)
    stray = sorted(p.name for p in out.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("bench-"))
    if stray:
        print(f"error: {out} holds other images ({', '.join(stray[:3])}{', ...' if len(stray) > 3 else ''}); use an empty folder", file=sys.stderr)
        sys.exit(2)
    (out / MANIFEST).unlink(missing_ok=True)  # written last: a partial run is never taken as complete
    for p in out.glob("bench-*"):
        p.unlink()

    photos = load_photos()
    rng = np.random.default_rng(args.seed)
    recipes = [plan(photos, args.size, rng) for _ in range(args.count)]  # drawn in order: deterministic
    names = [f"bench-{i:04d}.png" for i in range(args.count)]
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # PNG encoding dominates; it releases the GIL
        sizes = list(pool.map(lambda r, n: render(*r, out / n), recipes, names))
    files = dict(zip(names, sizes))
    (out / MANIFEST).write_text(json.dumps({**params, "files": files}, indent=1) + "\n")
    print(f"make_bench_images: wrote {args.count} images of about {args.size}x{args.size} to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
