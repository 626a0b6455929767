"""The reference preprocessing: what the models' own pipelines do to a photo, with Pillow.

    preprocess_image(path, input_section) -> np.ndarray   # [1, C, H, W] or [1, H, W, C], float32 (uint8 for type u8)

`input_section` is the `[input]` table of a model.toml. Each resize mode is written the way its
reference pipeline writes it, with Pillow calls, not with nnhost's formulas:

- `stretch`: `img.resize((width, height), filter)`;
- `center-crop` + `resize-then-crop`: torchvision's `Resize(s)` (shorter side to
  `s = floor(max(width, height) / crop_fraction)`, longer side `int(s * long / short)`) then
  `CenterCrop` (offsets `int(round((size - crop) / 2.0))`);
- `center-crop` + `crop-then-resize`: TensorFlow EfficientNet's eval crop (a centred square of
  `int(crop_fraction * min(h, w))` in float32, offset `(size - crop + 1) // 2`), then
  `img.resize(..., filter)`;
- `letterbox`: `PIL.ImageOps.pad(img, (width, height), filter, color=pad)`.

The photo is first turned upright with `ImageOps.exif_transpose` (unless `exif_orientation = false`)
and converted with `convert("RGB")` (or `"L"` for one channel). Normalisation is float32 numpy:
`(pixel * scale - mean) / std`.

nnhost's tests feed jobs on stdin to compare the image-classifier plugin's tensors with these:

    python models/scripts/pillow_preprocess.py < jobs.json
    # jobs.json: [{"image": PATH, "input": {...model.toml [input]...}, "out": PATH.npy}, ...]
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
from PIL import Image, ImageOps

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


def load(path: str, inp: dict) -> Image.Image:
    img = Image.open(path)
    if inp.get("exif_orientation", True):
        img = ImageOps.exif_transpose(img)
    return img.convert("L" if inp.get("channels", 3) == 1 else "RGB")


def fit(img: Image.Image, inp: dict) -> Image.Image:
    width, height = inp["width"], inp["height"]
    if not inp.get("antialias", True):
        raise NotImplementedError("Pillow always antialiases: no reference for antialias = false")
    filt = FILTERS[inp.get("interpolation", "bilinear")]
    mode = inp.get("resize", "stretch")
    if mode == "stretch":
        return img.resize((width, height), filt)
    if mode == "center-crop":
        fraction = inp["crop_fraction"]
        if inp.get("crop_order", "resize-then-crop") == "resize-then-crop":
            # torchvision.transforms.Resize(size) + CenterCrop((height, width)) on a PIL image.
            size = math.floor(max(width, height) / fraction)
            w, h = img.size
            short, long = (w, h) if w <= h else (h, w)
            new_short, new_long = size, int(size * long / short)
            new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
            img = img.resize((new_w, new_h), filt)
            left = int(round((new_w - width) / 2.0))
            top = int(round((new_h - height) / 2.0))
            return img.crop((left, top, left + width, top + height))
        # TensorFlow EfficientNet eval preprocessing (square outputs), then Pillow's resize.
        w, h = img.size
        if width == height:
            cw = ch = int(np.float32(fraction) * np.float32(min(w, h)))
        else:
            k = fraction * min(w / width, h / height)
            cw, ch = int(k * width), int(k * height)
        ox, oy = (w - cw + 1) // 2, (h - ch + 1) // 2
        return img.crop((ox, oy, ox + cw, oy + ch)).resize((width, height), filt)
    if mode == "letterbox":
        pad = inp.get("pad", [0])
        bands = len(img.getbands())
        color = pad[0] if bands == 1 else tuple(pad * 3 if len(pad) == 1 else pad)
        return ImageOps.pad(img, (width, height), filt, color=color)
    raise ValueError(f"unknown resize mode {mode!r}")


def normalise(img: Image.Image, inp: dict) -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if inp.get("channel_order", "RGB").upper() == "BGR" and arr.shape[2] == 3:
        arr = arr[:, :, ::-1]
    if inp.get("type", "f32") == "u8":
        out = arr.astype(np.uint8)
    else:
        c = arr.shape[2]

        def per(v):
            v = np.asarray(v, dtype=np.float32)
            return np.broadcast_to(v, (c,)) if v.size == 1 else v

        # mean and std are in the model's channel order, which arr has now.
        mean = per(inp.get("mean", [0.0]))
        std = per(inp.get("std", [1.0]))
        scale = np.float32(inp.get("scale", 1.0 / 255.0))
        out = (arr.astype(np.float32) * scale - mean) / std
    if inp.get("layout", "NCHW").upper() == "NCHW":
        out = out.transpose(2, 0, 1)
    return np.ascontiguousarray(out[None])


def preprocess_image(path: str, input_section: dict) -> np.ndarray:
    return normalise(fit(load(path, input_section), input_section), input_section)


def main() -> None:
    jobs = json.load(sys.stdin)
    for job in jobs:
        np.save(job["out"], preprocess_image(job["image"], job["input"]))
    print(f"pillow_preprocess: {len(jobs)} tensors written", file=sys.stderr)


if __name__ == "__main__":
    main()
