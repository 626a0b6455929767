"""Procedural generator of the `shapes` dataset.

Each image holds one filled shape (circle, square, triangle, star, cross, hexagon) whose
circumscribed diameter is 20-80 % of the image's shorter side, at any position and rotation,
in any fill colour, on a solid, gradient or noisy background. Images come in any size and
aspect ratio, in colour or grayscale. Everything is driven by a `numpy.random.Generator`, so a
seed fixes the whole dataset.

Used by `train_shapes.py` (training and the accuracy measurement) and by
`fixtures/make_fixtures.py` (the fixture images, with another seed).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ["circle", "square", "triangle", "star", "cross", "hexagon"]

SUPERSAMPLE = 4


@dataclass
class Sample:
    image: Image.Image  # mode "RGB", "RGBA" or "L"
    label: int
    background: str
    size_frac: float


def _regular_polygon(n: int, r: float, phase: float) -> list[tuple[float, float]]:
    return [(r * math.cos(phase + 2 * math.pi * k / n), r * math.sin(phase + 2 * math.pi * k / n)) for k in range(n)]


def _star(r: float, phase: float, inner: float) -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        rr = r if k % 2 == 0 else r * inner
        a = phase + math.pi * k / 5
        pts.append((rr * math.cos(a), rr * math.sin(a)))
    return pts


def _cross(r: float, phase: float, arm: float) -> list[tuple[float, float]]:
    # A plus sign whose arms reach the circumscribed circle: half-length L, half-width w.
    w = arm * r
    L = math.sqrt(max(r * r - w * w, 0.0))
    base = [(w, L), (w, w), (L, w), (L, -w), (w, -w), (w, -L), (-w, -L), (-w, -w), (-L, -w), (-L, w), (-w, w), (-w, L)]
    c, s = math.cos(phase), math.sin(phase)
    return [(x * c - y * s, x * s + y * c) for x, y in base]


def shape_outline(label: int, r: float, phase: float, rng: np.random.Generator) -> list[tuple[float, float]] | None:
    """Polygon (centred on 0,0) for a class, or None for the circle."""
    name = CLASSES[label]
    if name == "circle":
        return None
    if name == "square":
        return _regular_polygon(4, r, phase)
    if name == "triangle":
        return _regular_polygon(3, r, phase)
    if name == "hexagon":
        return _regular_polygon(6, r, phase)
    if name == "star":
        return _star(r, phase, float(rng.uniform(0.38, 0.5)))
    if name == "cross":
        return _cross(r, phase, float(rng.uniform(0.2, 0.3)))
    raise ValueError(name)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _background(w: int, h: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    kind = str(rng.choice(["solid", "gradient", "noise"]))
    c0 = rng.uniform(0, 255, size=3)
    if kind == "solid":
        bg = np.broadcast_to(c0, (h, w, 3)).astype(np.float32)
    elif kind == "gradient":
        c1 = rng.uniform(0, 255, size=3)
        a = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xs * math.cos(a) + ys * math.sin(a)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        bg = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    else:
        sigma = rng.uniform(8, 30)
        bg = c0[None, None, :] + rng.normal(0, sigma, size=(h, w, 3 if rng.random() < 0.5 else 1))
        bg = np.broadcast_to(bg, (h, w, 3))
    return np.clip(bg, 0, 255).astype(np.float32), kind


def _fill_colour(bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A colour whose luminance differs clearly from the background's, so grayscale stays solvable."""
    bg_luma = float(_luma(bg).mean())
    for _ in range(100):
        c = rng.uniform(0, 255, size=3)
        if abs(float(_luma(c)) - bg_luma) >= 70:
            return c
    return np.array([0.0, 0.0, 0.0]) if bg_luma > 127 else np.array([255.0, 255.0, 255.0])


def render(
    rng: np.random.Generator,
    label: int | None = None,
    size: tuple[int, int] | None = None,
    min_side: int = 48,
    max_side: int = 320,
    max_aspect: float = 2.0,
) -> Sample:
    """Draw one sample. `size` is (width, height); random when None."""
    if label is None:
        label = int(rng.integers(len(CLASSES)))
    if size is None:
        aspect = math.exp(rng.uniform(-math.log(max_aspect), math.log(max_aspect)))
        short = int(rng.integers(min_side, max_side + 1))
        long_ = min(int(round(short * max(aspect, 1 / aspect))), max_side * 2)
        w, h = (long_, short) if aspect >= 1 else (short, long_)
    else:
        w, h = size
    bg, kind = _background(w, h, rng)
    colour = _fill_colour(bg, rng)

    frac = float(rng.uniform(0.2, 0.8))
    r = frac * min(w, h) / 2
    cx = float(rng.uniform(r, w - r))
    cy = float(rng.uniform(r, h - r))
    phase = float(rng.uniform(0, 2 * math.pi))

    # Antialiased coverage mask: draw at SUPERSAMPLE x, then box-filter down.
    s = SUPERSAMPLE
    mask = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(mask)
    outline = shape_outline(label, r * s, phase, rng)
    if outline is None:
        draw.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s], fill=255)
    else:
        draw.polygon([(cx * s + x, cy * s + y) for x, y in outline], fill=255)
    alpha = np.asarray(mask.resize((w, h), Image.Resampling.BOX), dtype=np.float32)[..., None] / 255.0

    img = bg * (1 - alpha) + colour[None, None, :] * alpha
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return Sample(Image.fromarray(img, "RGB"), label, kind, frac)


def encode(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.convert("L" if img.mode in ("L", "LA") else "RGB").save(buf, "JPEG", quality=quality)
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


def random_variant(sample: Sample, rng: np.random.Generator) -> Image.Image:
    """Augment the way real inputs vary: grayscale, alpha channel, JPEG artefacts."""
    img = sample.image
    u = rng.random()
    if u < 0.25:
        img = img.convert("L")
    elif u < 0.35:
        img = img.convert("RGBA")
    if rng.random() < 0.4:
        img = Image.open(io.BytesIO(encode(img, "jpeg", int(rng.integers(50, 96))))).copy()
    return img
