"""An image-classifier plugin in Python (nnhost's `classifier` world), built by componentize-py.

The same job as the built-in Rust plugin, in the standard library only: decode the PNG the host
passes (zlib inflates; the filters are undone here), fit it to the model's input as the spec says
with Pillow's resampling (the same fixed-point arithmetic as guests/preprocess/src/resize.rs, so the
pixels are the same), normalise, run the model through wasi-nn (`load-by-name`), softmax, top-k.
JPEG and anything else is refused as a bad image: a pure-Python JPEG decoder would take seconds.

Build: scripts/build-python-plugins (target/plugins/python-classifier.wasm).
"""

import struct
import zlib
from array import array
from itertools import accumulate
from math import exp, isnan
from operator import add

import wit_world
from componentize_py_types import Err
from wit_world.imports import graph, tensor, types

# Decompression-bomb guards, as the Rust plugin's.
MAX_IMAGE_SIDE = 16_384
MAX_DECODE_BYTES = 512 * 1024 * 1024


class BadImage(Exception):
    pass


class BadSpec(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# PNG


def _unfilter(raw, width, height, bpp, row_bytes):
    """Undo the per-row filters of a non-interlaced PNG; the image bytes, rows back to back."""
    out = bytearray(height * row_bytes)
    prev = bytes(row_bytes)
    pos = 0
    mask = (255).__and__
    for y in range(height):
        ftype = raw[pos]
        r = bytearray(raw[pos + 1:pos + 1 + row_bytes])
        pos += row_bytes + 1
        if ftype == 1:
            for c in range(bpp):
                r[c::bpp] = bytes(map(mask, accumulate(r[c::bpp])))
        elif ftype == 2:
            r = bytearray(map(mask, map(add, r, prev)))
        elif ftype == 3:
            for i in range(bpp):
                r[i] = (r[i] + (prev[i] >> 1)) & 255
            for i in range(bpp, row_bytes):
                r[i] = (r[i] + ((r[i - bpp] + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(bpp):
                r[i] = (r[i] + prev[i]) & 255
            for i in range(bpp, row_bytes):
                a = r[i - bpp]
                b = prev[i]
                c = prev[i - bpp]
                pa = b - c
                pb = a - c
                pc = pa + pb
                if pa < 0:
                    pa = -pa
                if pb < 0:
                    pb = -pb
                if pc < 0:
                    pc = -pc
                if pa <= pb and pa <= pc:
                    r[i] = (r[i] + a) & 255
                elif pb <= pc:
                    r[i] = (r[i] + b) & 255
                else:
                    r[i] = (r[i] + c) & 255
        elif ftype != 0:
            raise BadImage(f"PNG row {y} has unknown filter type {ftype}")
        out[y * row_bytes:(y + 1) * row_bytes] = r
        prev = r
    return out


def _exif_orientation(exif):
    """The orientation tag (1-8) of a TIFF-format EXIF block, 1 when absent or unreadable."""
    try:
        order = {b"II": "<", b"MM": ">"}[exif[:2]]
        (ifd,) = struct.unpack(order + "I", exif[4:8])
        (n,) = struct.unpack(order + "H", exif[ifd:ifd + 2])
        for k in range(n):
            e = ifd + 2 + 12 * k
            tag, kind, _count = struct.unpack(order + "HHI", exif[e:e + 8])
            if tag == 0x0112 and kind == 3:
                (v,) = struct.unpack(order + "H", exif[e + 8:e + 10])
                return v if 1 <= v <= 8 else 1
    except (KeyError, struct.error, IndexError):
        pass
    return 1


def _orient(pix, w, h, c, orientation):
    """Turn the image upright as PIL.ImageOps.exif_transpose does."""
    if orientation == 1:
        return pix, w, h
    swap = orientation in (5, 6, 7, 8)
    ow, oh = (h, w) if swap else (w, h)
    out = bytearray(ow * oh * c)
    for y in range(oh):
        for x in range(ow):
            if orientation == 2:
                sx, sy = w - 1 - x, y
            elif orientation == 3:
                sx, sy = w - 1 - x, h - 1 - y
            elif orientation == 4:
                sx, sy = x, h - 1 - y
            elif orientation == 5:
                sx, sy = y, x
            elif orientation == 6:
                sx, sy = y, h - 1 - x
            elif orientation == 7:
                sx, sy = w - 1 - y, h - 1 - x
            else:
                sx, sy = w - 1 - y, x
            s = (sy * w + sx) * c
            d = (y * ow + x) * c
            out[d:d + c] = pix[s:s + c]
    return out, ow, oh


def decode_png(data, orient):
    """(pixels, width, height, gray): 8-bit samples, RGB (colour) or one channel (gray), alpha
    dropped, 16-bit samples cut to their high byte, palettes expanded."""
    if data[:3] == b"\xff\xd8\xff":
        raise BadImage("JPEG is not supported by the Python plugin (PNG only)")
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise BadImage("not a PNG or JPEG file")
    pos = 8
    header = None
    idat = []
    palette = None
    exif = None
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if len(body) != n:
            raise BadImage("truncated PNG chunk")
        pos += 12 + n
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"eXIf":
            exif = body
        elif kind == b"IEND":
            break
    if header is None:
        raise BadImage("PNG without a header")
    w, h, depth, ctype, _, _, interlace = header
    if not (0 < w <= MAX_IMAGE_SIDE and 0 < h <= MAX_IMAGE_SIDE):
        raise BadImage(f"PNG of {w}x{h} is outside 1..={MAX_IMAGE_SIDE} pixels a side")
    if interlace:
        raise BadImage("interlaced PNG is not supported by the Python plugin")
    samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(ctype)
    if samples is None:
        raise BadImage(f"unknown PNG colour type {ctype}")
    if depth not in (8, 16) and not (ctype == 3 and depth in (1, 2, 4)):
        raise BadImage(f"{depth}-bit PNG samples of colour type {ctype} are not supported by the Python plugin")
    row_bytes = (w * samples * depth + 7) // 8
    expected = h * (row_bytes + 1)
    if expected > MAX_DECODE_BYTES:
        raise BadImage(f"the decoded image would need {expected} bytes, over the limit of {MAX_DECODE_BYTES}")
    try:
        z = zlib.decompressobj()
        raw = z.decompress(b"".join(idat), expected)
    except zlib.error as e:
        raise BadImage(f"corrupt PNG data: {e}") from None
    if len(raw) < expected:
        raise BadImage("truncated PNG data")
    pix = _unfilter(raw, w, h, max(1, samples * depth // 8), row_bytes)
    if depth == 16:
        pix = pix[0::2]
    if ctype == 3:
        if palette is None:
            raise BadImage("palette PNG without a palette")
        if depth < 8:
            per = 8 // depth
            idx = bytearray()
            for y in range(h):
                row = pix[y * row_bytes:(y + 1) * row_bytes]
                vals = [(b >> (8 - depth * (k + 1))) & ((1 << depth) - 1) for b in row for k in range(per)]
                idx += bytes(vals[:w])
            pix = idx
        lut = [palette[3 * i:3 * i + 3] if 3 * i + 3 <= len(palette) else b"\0\0\0" for i in range(256)]
        pix = b"".join(map(lut.__getitem__, pix))
        samples = 3
    elif samples == 2:
        pix = pix[0::2]
        samples = 1
    elif samples == 4:
        rgb = bytearray(w * h * 3)
        for c in range(3):
            rgb[c::3] = pix[c::4]
        pix = rgb
        samples = 3
    gray = samples == 1
    if orient and exif is not None:
        pix, w, h = _orient(pix, w, h, samples, _exif_orientation(exif))
    return bytes(pix), w, h, gray


def pixels_for(pix, gray, channels):
    """The image as `channels` 8-bit channels the way Pillow's convert("RGB") / convert("L") makes
    them: gray replicated, luma as ITU-R 601-2 in Pillow's fixed point."""
    if gray and channels == 1 or not gray and channels == 3:
        return pix
    if gray:
        out = bytearray(len(pix) * 3)
        for c in range(3):
            out[c::3] = pix
        return bytes(out)
    r, g, b = pix[0::3], pix[1::3], pix[2::3]
    return bytes((x * 19595 + y * 38470 + z * 7471 + 0x8000) >> 16 for x, y, z in zip(r, g, b))


# ---------------------------------------------------------------------------------------------
# Resizing: Pillow's ImagingResample (and ImagingScaleAffine for nearest), as resize.rs.

PRECISION_BITS = 32 - 8 - 2
HALF = 1 << (PRECISION_BITS - 1)

# The filter arithmetic runs on whole rows or columns at once, packed into one Python integer: each
# 8-bit sample in its own 48-bit lane, biased so no lane goes negative (|a weighted sum| < 2**36).
# A multiply-add of a row by a weight is then one big-integer operation.
LANE = 6
BIAS = 1 << 38
# (lane >> PRECISION_BITS) mod 2**16 -> the clipped 8-bit sample (values below zero wrapped).
_CLIP16 = bytes(min(v, 255) if v < 1 << 15 else 0 for v in range(1 << 16))


def _pack(vec):
    b = bytearray(len(vec) * LANE)
    b[0::LANE] = vec
    return int.from_bytes(b, "little")


def _bias(n):
    return int.from_bytes((BIAS + HALF).to_bytes(LANE, "little") * n, "little")


def _unpack_clip(acc, n):
    b = (acc >> PRECISION_BITS).to_bytes(n * LANE + 1, "little")
    idx = bytearray(2 * n)
    idx[0::2] = b[0:n * LANE:LANE]
    idx[1::2] = b[1:n * LANE:LANE]
    a = array("H")
    a.frombytes(bytes(idx))
    if a.itemsize != 2:
        raise ValueError("unsigned short is not 16 bits")
    return bytes(map(_CLIP16.__getitem__, a))


def _f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Axis:
    __slots__ = ("lo", "hi", "scale", "offset", "out")

    def __init__(self, lo, hi, scale, offset, out):
        self.lo, self.hi, self.scale, self.offset, self.out = lo, hi, scale, offset, out

    @staticmethod
    def whole(size, out):
        return Axis(0, size, size / out, 0, out)

    def identity(self):
        return self.offset == 0 and self.lo == 0 and self.hi == self.out and self.scale == 1.0


def _py_round(v):
    return max(0, round(v))


def plan(src_w, src_h, out_w, out_h, resize):
    """(x axis, y axis, (left, top) on the canvas) for the spec's resize mode."""
    if isinstance(resize, types.ResizeMode_Stretch):
        return Axis.whole(src_w, out_w), Axis.whole(src_h, out_h), (0, 0)
    if isinstance(resize, types.ResizeMode_CenterCrop):
        fraction, order = resize.value
        if order == types.CropOrder.RESIZE_THEN_CROP:
            size = max(1, int(max(out_w, out_h) / fraction))
            if src_w <= src_h:
                new_w, new_h = size, max(1, int(size * src_h / src_w))
            else:
                new_w, new_h = max(1, int(size * src_w / src_h)), size
            left = _py_round(max(0, new_w - out_w) / 2.0)
            top = _py_round(max(0, new_h - out_h) / 2.0)
            return Axis(0, src_w, src_w / new_w, left, out_w), Axis(0, src_h, src_h / new_h, top, out_h), (0, 0)
        if out_w == out_h:
            cw = ch = int(_f32(fraction * _f32(min(src_w, src_h))))
        else:
            k = fraction * min(src_w / out_w, src_h / out_h)
            cw, ch = int(k * out_w), int(k * out_h)
        cw, ch = min(max(cw, 1), src_w), min(max(ch, 1), src_h)
        ox, oy = (src_w - cw + 1) // 2, (src_h - ch + 1) // 2
        return Axis(ox, ox + cw, cw / out_w, 0, out_w), Axis(oy, oy + ch, ch / out_h, 0, out_h), (0, 0)
    # Letterbox: PIL.ImageOps.contain, then pad centred.
    w, h = out_w, out_h
    im_ratio, dest_ratio = src_w / src_h, out_w / out_h
    if im_ratio != dest_ratio:
        if im_ratio > dest_ratio:
            h = min(max(_py_round(src_h / src_w * out_w), 1), out_h)
        else:
            w = min(max(_py_round(src_w / src_h * out_h), 1), out_w)
    at = (_py_round((out_w - w) * 0.5), 0) if w != out_w else (0, _py_round((out_h - h) * 0.5))
    return Axis.whole(src_w, w), Axis.whole(src_h, h), at


def _filter_fn(interp):
    if interp == types.Interpolation.BICUBIC:
        def f(x):
            x = abs(x)
            if x < 1.0:
                return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1.0
            if x < 2.0:
                return (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5
            return 0.0
        return f, 2.0

    def f(x):
        x = abs(x)
        return 1.0 - x if x < 1.0 else 0.0
    return f, 1.0


def taps(axis, interp, antialias):
    """Pillow's precompute_coeffs + normalize_coeffs_8bpc: per output index, the first source index
    and the fixed-point weights."""
    flt, support = _filter_fn(interp)
    in_size = axis.hi - axis.lo
    scale = axis.scale
    filterscale = max(scale, 1.0) if antialias else 1.0
    support = support * filterscale
    ksize = int(-(-support // 1)) * 2 + 1
    ss = 1.0 / filterscale
    out = []
    for i in range(axis.out):
        center = (axis.offset + i + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(max(int(center + support + 0.5), 0), in_size)
        n = min(max(xmax - xmin, 0), ksize)
        k = [flt((x + xmin - center + 0.5) * ss) for x in range(n)]
        ww = sum(k)
        weights = []
        for kx in k:
            v = kx / ww if ww != 0.0 else kx
            f = v * (1 << PRECISION_BITS)
            weights.append(int(f - 0.5) if v < 0 else int(f + 0.5))
        out.append((axis.lo + xmin, weights))
    return out


def resize(src, w, h, c, out_w, out_h, spec):
    """`src` (w x h, c interleaved channels) onto an out_w x out_h canvas as the spec says."""
    px, py, at = plan(w, h, out_w, out_h, spec.resize)
    canvas = bytearray(out_w * out_h * c)
    if isinstance(spec.resize, types.ResizeMode_Letterbox):
        pad = spec.resize.value
        canvas[:] = bytes(pad[0] if len(pad) == 1 else (pad[ch] if ch < len(pad) else 0) for ch in range(c)) * (out_w * out_h)
    rw, rh = px.out, py.out
    stride = rw * c

    def place(y, row):
        start = ((at[1] + y) * out_w + at[0]) * c
        canvas[start:start + stride] = row

    if spec.interpolation == types.Interpolation.NEAREST:
        def table(axis):
            pos, t = axis.scale * 0.5, []
            for i in range(axis.offset + axis.out):
                if i >= axis.offset:
                    v = 0 if pos < 0 else int(pos)
                    t.append(axis.lo + min(v, axis.hi - axis.lo - 1))
                pos += axis.scale
            return t
        xt, yt = table(px), table(py)
        for y, sy in enumerate(yt):
            row = src[sy * w * c:(sy + 1) * w * c]
            place(y, b"".join(row[sx * c:(sx + 1) * c] for sx in xt))
        return bytes(canvas)

    vt = taps(py, spec.interpolation, spec.antialias)
    first = min((s for s, k in vt if k), default=0)
    last = max(max((s + len(k) for s, k in vt), default=0), first)
    rows = last - first

    # Horizontal pass over the rows the vertical pass reads, one output column (of every row) at a
    # time: each source column is a strided slice, packed once.
    if px.identity():
        tmp = src[first * w * c:last * w * c]
    else:
        region = src[first * w * c:last * w * c]
        tmp = bytearray(rows * stride)
        columns = {}
        bias = _bias(rows)
        for x, (start, k) in enumerate(taps(px, spec.interpolation, spec.antialias)):
            for ch in range(c):
                acc = bias
                for j, kk in enumerate(k):
                    key = (start + j) * c + ch
                    col = columns.get(key)
                    if col is None:
                        col = columns[key] = _pack(region[key::w * c])
                    acc += kk * col
                tmp[x * c + ch::stride] = _unpack_clip(acc, rows)

    # Vertical pass, one output row at a time.
    if py.identity():
        for y in range(rh):
            place(y, tmp[y * stride:(y + 1) * stride])
        return bytes(canvas)
    packed = {}
    bias = _bias(stride)
    for y, (start, k) in enumerate(vt):
        acc = bias
        for j, kk in enumerate(k):
            sy = start - first + j
            row = packed.get(sy)
            if row is None:
                row = packed[sy] = _pack(tmp[sy * stride:(sy + 1) * stride])
            acc += kk * row
        place(y, _unpack_clip(acc, stride))
    return bytes(canvas)


# ---------------------------------------------------------------------------------------------
# Tensors

_ENCODINGS = {
    tensor.TensorType.FP32: lambda v: struct.pack("<f", v),
    tensor.TensorType.FP16: lambda v: struct.pack("<e", v),
    tensor.TensorType.FP64: lambda v: struct.pack("<d", v),
}


def check_spec(spec):
    if spec.input_type not in _ENCODINGS and spec.input_type != tensor.TensorType.U8:
        raise BadSpec(f"input type {spec.input_type.name} is not supported for images")
    if not (0 < spec.width <= 8192 and 0 < spec.height <= 8192):
        raise BadSpec(f"input size {spec.width}x{spec.height} is outside 1..=8192")
    if spec.channels not in (1, 3):
        raise BadSpec(f"channels must be 1 or 3, not {spec.channels}")
    for what, v in (("mean", spec.mean), ("std", spec.std)):
        if len(v) not in (1, spec.channels):
            raise BadSpec(f"{what} needs 1 or {spec.channels} values, got {len(v)}")
        if any(x != x or x in (float("inf"), float("-inf")) for x in v):
            raise BadSpec(f"{what} has a non-finite value")
    if any(s == 0.0 for s in spec.std):
        raise BadSpec("std has a zero value")
    if isinstance(spec.resize, types.ResizeMode_CenterCrop):
        fraction = spec.resize.value[0]
        if not (0.0 < fraction <= 1.0):
            raise BadSpec(f"crop_fraction must be in (0, 1], not {fraction}")
    if isinstance(spec.resize, types.ResizeMode_Letterbox) and len(spec.resize.value) not in (1, spec.channels):
        raise BadSpec(f"pad needs 1 or {spec.channels} values, got {len(spec.resize.value)}")


def dims(spec):
    if spec.layout == types.Layout.NCHW:
        return [1, spec.channels, spec.height, spec.width]
    return [1, spec.height, spec.width, spec.channels]


def to_tensor(image, spec):
    """Decode, resize and normalise: (v * scale - mean[c]) / std[c] in f32, as the Rust plugin."""
    check_spec(spec)
    pix, w, h, gray = decode_png(image, spec.exif_orientation)
    c = spec.channels
    canvas = resize(pixels_for(pix, gray, c), w, h, c, spec.width, spec.height, spec)
    per = lambda v, ch: v[0] if len(v) == 1 else v[ch]
    if spec.input_type == tensor.TensorType.U8:
        tables = [[bytes([v]) for v in range(256)] for _ in range(c)]
    else:
        enc = _ENCODINGS[spec.input_type]
        tables = [
            [enc(_f32(_f32(_f32(v * spec.scale) - per(spec.mean, ch)) / per(spec.std, ch))) for v in range(256)]
            for ch in range(c)
        ]
    src_ch = lambda ch: 2 - ch if c == 3 and spec.channel_order == types.ChannelOrder.BGR else ch
    lanes = [list(map(tables[ch].__getitem__, canvas[src_ch(ch)::c])) for ch in range(c)]
    if spec.layout == types.Layout.NCHW:
        data = b"".join(b"".join(lane) for lane in lanes)
    else:
        data = b"".join(b"".join(px) for px in zip(*lanes))
    return types.TensorValue(dims(spec), spec.input_type, data)


# ---------------------------------------------------------------------------------------------
# Inference

_graphs = {}


def _nn_error(call, e):
    err = e.value
    try:
        code = "".join(w.capitalize() for w in err.code().name.split("_"))
        return types.PluginError_Inference(f"{call}: {code}: {err.data()}")
    except Exception:  # not a wasi-nn error resource
        return types.PluginError_Inference(f"{call}: {err!r}")


def compute(spec, value):
    ctx = _graphs.get(spec.name)
    if ctx is None:
        try:
            g = graph.load_by_name(spec.name)
        except Err as e:
            raise Err(_nn_error("load-by-name", e)) from None
        try:
            ctx = (g, g.init_execution_context())
        except Err as e:
            raise Err(_nn_error("init-execution-context", e)) from None
        _graphs.clear()
        _graphs[spec.name] = ctx
    t = tensor.Tensor(value.dimensions, value.ty, value.data)
    try:
        return ctx[1].compute([(spec.input_name, t)])
    except Err as e:
        raise Err(_nn_error("compute", e)) from None


def _values(out):
    ty, data = out.ty(), out.data()
    codes = {tensor.TensorType.FP32: ("f", 4), tensor.TensorType.FP64: ("d", 8)}
    if ty in codes:
        code, size = codes[ty]
        if len(data) % size:
            raise Err(types.PluginError_BadOutput(f"{len(data)} bytes is not a whole number of {size}-byte elements"))
        a = array(code)
        a.frombytes(data)
        return list(a)
    if ty == tensor.TensorType.FP16:
        if len(data) % 2:
            raise Err(types.PluginError_BadOutput(f"{len(data)} bytes is not a whole number of 2-byte elements"))
        return list(struct.unpack(f"<{len(data) // 2}e", data))
    if ty == tensor.TensorType.U8:
        return list(data)
    raise Err(types.PluginError_BadOutput(f"output type {ty.name} cannot hold class scores"))


def scores(spec, outputs):
    names = [n for n, _ in outputs]
    if spec.output_name is not None:
        found = [t for n, t in outputs if n == spec.output_name]
        if not found:
            raise Err(types.PluginError_BadOutput(f"no output named `{spec.output_name}` (outputs: {names})"))
        out = found[0]
    elif outputs:
        out = outputs[0][1]
    else:
        raise Err(types.PluginError_BadOutput("the model returned no outputs"))
    values = _values(out)
    if len(values) != len(spec.labels):
        raise Err(types.PluginError_BadOutput(f"the output has {len(values)} values but the model has {len(spec.labels)} labels"))
    if spec.output_kind == types.OutputKind.PROBABILITIES:
        return values
    top = max(values, default=0.0)
    exps = [exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def preprocess_or_err(spec, image):
    try:
        return to_tensor(image, spec)
    except BadImage as e:
        raise Err(types.PluginError_BadImage(str(e))) from None
    except BadSpec as e:
        raise Err(types.PluginError_BadSpec(str(e))) from None
    except (IndexError, ValueError, struct.error) as e:
        # Malformed data that got past the checks above: still the image's fault, not a trap.
        raise Err(types.PluginError_BadImage(f"cannot decode image: {e}")) from None


class WitWorld(wit_world.WitWorld):
    def classify(self, spec, image, top_k):
        probs = scores(spec, compute(spec, preprocess_or_err(spec, image)))
        order = sorted(range(len(probs)), key=lambda i: (isnan(probs[i]), -probs[i] if not isnan(probs[i]) else 0.0, i))
        return [types.Prediction(spec.labels[i], i, probs[i]) for i in order[:top_k]]

    def preprocess(self, spec, image):
        return preprocess_or_err(spec, image)

    def infer(self, spec, image):
        outputs = compute(spec, preprocess_or_err(spec, image))
        return [types.NamedTensor(n, types.TensorValue(t.dimensions(), t.ty(), t.data())) for n, t in outputs]
