//! Resizing, cropping and letterboxing exactly as Pillow does them.
//!
//! Pretrained models are evaluated with Pillow (torchvision's and timm's transforms use
//! `Image.resize`), so a host that wants a model's published answers must produce the same pixels.
//! This module reproduces Pillow 13's `ImagingResample` for 8-bit images operand for operand:
//! separable convolution (horizontal pass first, then vertical, rounded to 8 bits in between),
//! the filter widened by the scale factor when downscaling (antialiasing), coefficients in 22-bit
//! fixed point, and `ImagingScaleAffine` for nearest neighbour. The geometry of each resize mode
//! follows the reference pipelines: torchvision's `Resize(s) + CenterCrop(c)`, TensorFlow
//! EfficientNet's centred crop then resize, and `PIL.ImageOps.pad` for letterboxing.

/// How the image is fitted to the model's input size.
#[derive(Clone, Debug, PartialEq)]
pub enum ResizeMode {
    /// The whole image is resized to exactly `width x height` (aspect ratio not kept).
    Stretch,
    /// Keep the aspect ratio and take the centre: the crop covers `fraction` of the shorter side.
    CenterCrop { fraction: f32, order: CropOrder },
    /// Keep the aspect ratio, fit the whole image inside and pad the rest with `pad` (0-255 per
    /// channel, one value or one per channel), as `PIL.ImageOps.pad`.
    Letterbox { pad: Vec<u8> },
}

/// Where the centre crop happens relative to the resize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CropOrder {
    /// torchvision: resize the shorter side to `floor(max(width, height) / fraction)` (the longer
    /// side in proportion, truncated), then crop the centre (offsets rounded half to even).
    ResizeThenCrop,
    /// TensorFlow EfficientNet: crop a centred region of `fraction` of the shorter side (offset
    /// `(size - crop + 1) / 2`), then resize it to `width x height`.
    CropThenResize,
}

/// The resampling filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    Nearest,
    Bilinear,
    Bicubic,
}

/// Everything about the geometry of preprocessing.
#[derive(Clone, Debug, PartialEq)]
pub struct Resize {
    pub mode: ResizeMode,
    pub interpolation: Interpolation,
    /// Widen the filter when downscaling (Pillow always does). Off: the filter keeps its own
    /// support (2 taps bilinear, 4 bicubic), as non-antialiased resizers do.
    pub antialias: bool,
}

impl Default for Resize {
    fn default() -> Self {
        Self { mode: ResizeMode::Stretch, interpolation: Interpolation::Bilinear, antialias: true }
    }
}

/// How one axis of the output maps onto the source.
///
/// Output index `i` samples the source around `in0 + (offset + i + 0.5) * scale`, in coordinates
/// relative to `lo`; the filter never reads outside `lo..hi`. `offset` lets a crop of a larger
/// virtual resize be computed without resizing the pixels that the crop drops.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Axis {
    lo: usize,
    hi: usize,
    scale: f64,
    offset: usize,
    out: usize,
}

impl Axis {
    fn whole(size: usize, out: usize) -> Self {
        Axis { lo: 0, hi: size, scale: size as f64 / out as f64, offset: 0, out }
    }

    fn is_identity(&self) -> bool {
        self.offset == 0 && self.lo == 0 && self.hi == self.out && self.scale == 1.0
    }
}

/// Where the resized image lands on the output canvas.
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    x: Axis,
    y: Axis,
    /// Top-left corner of the resized image on the canvas (letterbox only).
    at: (usize, usize),
}

/// Python's `round()` of a float: ties to even.
fn py_round(v: f64) -> usize {
    v.round_ties_even().max(0.0) as usize
}

fn plan(src_w: usize, src_h: usize, out_w: usize, out_h: usize, mode: &ResizeMode) -> Plan {
    match mode {
        ResizeMode::Stretch => Plan { x: Axis::whole(src_w, out_w), y: Axis::whole(src_h, out_h), at: (0, 0) },
        ResizeMode::CenterCrop { fraction, order: CropOrder::ResizeThenCrop } => {
            // torchvision.transforms.Resize(size) with an int: the shorter side becomes `size`,
            // the longer `int(size * long / short)`.
            let size = ((out_w.max(out_h) as f64) / *fraction as f64).floor().max(1.0) as usize;
            let (new_w, new_h) = if src_w <= src_h {
                (size, ((size as f64 * src_h as f64 / src_w as f64) as usize).max(1))
            } else {
                (((size as f64 * src_w as f64 / src_h as f64) as usize).max(1), size)
            };
            // CenterCrop: `int(round((size - crop) / 2.0))`. A crop larger than the resized image
            // (only for fraction > 1, which validation refuses) would be clamped.
            let left = py_round(new_w.saturating_sub(out_w) as f64 / 2.0);
            let top = py_round(new_h.saturating_sub(out_h) as f64 / 2.0);
            let axis =
                |src: usize, new: usize, offset: usize, out: usize| Axis { lo: 0, hi: src, scale: src as f64 / new as f64, offset, out };
            Plan { x: axis(src_w, new_w, left, out_w), y: axis(src_h, new_h, top, out_h), at: (0, 0) }
        }
        ResizeMode::CenterCrop { fraction, order: CropOrder::CropThenResize } => {
            let (cw, ch) = if out_w == out_h {
                // TensorFlow: `tf.cast(fraction * tf.cast(min(h, w), tf.float32), tf.int32)`.
                let c = (*fraction * src_w.min(src_h) as f32) as usize;
                (c, c)
            } else {
                let k = *fraction as f64 * (src_w as f64 / out_w as f64).min(src_h as f64 / out_h as f64);
                ((k * out_w as f64) as usize, (k * out_h as f64) as usize)
            };
            let (cw, ch) = (cw.clamp(1, src_w), ch.clamp(1, src_h));
            let (ox, oy) = ((src_w - cw).div_ceil(2), (src_h - ch).div_ceil(2));
            let axis = |lo: usize, c: usize, out: usize| Axis { lo, hi: lo + c, scale: c as f64 / out as f64, offset: 0, out };
            Plan { x: axis(ox, cw, out_w), y: axis(oy, ch, out_h), at: (0, 0) }
        }
        ResizeMode::Letterbox { .. } => {
            // PIL.ImageOps.contain, then pad centred.
            let (mut w, mut h) = (out_w, out_h);
            let im_ratio = src_w as f64 / src_h as f64;
            let dest_ratio = out_w as f64 / out_h as f64;
            if im_ratio != dest_ratio {
                if im_ratio > dest_ratio {
                    h = py_round(src_h as f64 / src_w as f64 * out_w as f64).clamp(1, out_h);
                } else {
                    w = py_round(src_w as f64 / src_h as f64 * out_h as f64).clamp(1, out_w);
                }
            }
            let at = if w != out_w { (py_round((out_w - w) as f64 * 0.5), 0) } else { (0, py_round((out_h - h) as f64 * 0.5)) };
            Plan { x: Axis::whole(src_w, w), y: Axis::whole(src_h, h), at }
        }
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn filter(interp: Interpolation, x: f64) -> f64 {
    let x = x.abs();
    match interp {
        Interpolation::Bilinear => {
            if x < 1.0 {
                1.0 - x
            } else {
                0.0
            }
        }
        Interpolation::Bicubic => {
            const A: f64 = -0.5;
            if x < 1.0 {
                ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
            } else if x < 2.0 {
                (((x - 5.0) * x + 8.0) * x - 4.0) * A
            } else {
                0.0
            }
        }
        // Not used: nearest is sampled directly (`nearest_table`); a box of width 1 if it were.
        Interpolation::Nearest => {
            if x < 0.5 {
                1.0
            } else {
                0.0
            }
        }
    }
}

fn support(interp: Interpolation) -> f64 {
    match interp {
        Interpolation::Nearest => 0.0,
        Interpolation::Bilinear => 1.0,
        Interpolation::Bicubic => 2.0,
    }
}

/// Fixed-point filter taps for one axis: for output `i`, source indices `start[i]..start[i]+len[i]`
/// (absolute) weighted by `weights[i*ksize..]`.
struct Taps {
    start: Vec<usize>,
    len: Vec<usize>,
    ksize: usize,
    weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc`.
fn taps(axis: &Axis, interp: Interpolation, antialias: bool) -> Taps {
    let in_size = axis.hi - axis.lo;
    let scale = axis.scale;
    let filterscale = if antialias { scale.max(1.0) } else { 1.0 };
    let support = support(interp) * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let ss = 1.0 / filterscale;
    let mut t = Taps { start: Vec::with_capacity(axis.out), len: Vec::with_capacity(axis.out), ksize, weights: vec![0; axis.out * ksize] };
    let mut k = vec![0f64; ksize];
    for i in 0..axis.out {
        let center = ((axis.offset + i) as f64 + 0.5) * scale;
        // C's (int) cast truncates toward zero, as `as i64` does.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).clamp(0, in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let w = filter(interp, ((x + xmin) as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        let out = &mut t.weights[i * ksize..i * ksize + n];
        for (o, kx) in out.iter_mut().zip(&k) {
            let v = if ww != 0.0 { kx / ww } else { *kx };
            let f = v * (1u32 << PRECISION_BITS) as f64;
            *o = if v < 0.0 { (f - 0.5) as i32 } else { (f + 0.5) as i32 };
        }
        t.start.push(axis.lo + xmin);
        t.len.push(n);
    }
    t
}

/// The resampling passes in wasm SIMD (simd128), where Cranelift compiles the scalar loops to about
/// a third of native speed. Horizontal, RGB: each output pixel's taps are taken four at a time (one
/// 16-byte load holds four source pixels; two swizzles make 16-bit lanes `[r, r', g, g', b, b']`
/// of taps 0, 1 and of taps 2, 3; `i32x4.dot_i16x8_s` multiply-adds them with the weights split
/// into high and low 11-bit parts, which fit i16: `w = (w >> 11) * 2048 + (w & 2047)`, summed
/// apart and joined once per pixel). Vertical, any channel count: 16 columns at a time. Integer
/// sums of the same products, so the same bytes as the scalar loops, which do whatever these
/// leave (native builds: everything).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    use super::{Taps, PRECISION_BITS};

    /// Bits of a weight's low part: a 22-bit weight `w` is `(w >> 11) << 11 | (w & 0x7ff)`, both
    /// parts in i16, so that taps can be multiply-added in pairs with `i32x4.dot_i16x8_s`.
    const LOW_BITS: u32 = 11;

    /// The weights of each output pixel, `stride` i16 apart, per group of four taps four vectors:
    /// the high and the low parts of taps 0 and 1 (`[w0, w1, w0, w1, w0, w1, 0, 0]`, one pair per
    /// channel), then of taps 2 and 3; zero past its taps. Empty when the image is not RGB.
    pub(super) struct RgbTaps {
        stride: usize,
        weights: Vec<i16>,
        /// The length of the rows it reads.
        row_len: usize,
        /// Byte offset in the row and groups of four taps of each leading output pixel whose
        /// loads stay inside such a row: all but the last few.
        at: Vec<(usize, usize)>,
    }

    impl RgbTaps {
        /// For rows of `row_len` bytes of `c` channels.
        pub(super) fn new(t: &Taps, c: usize, row_len: usize) -> Self {
            if c != 3 {
                return RgbTaps { stride: 0, weights: Vec::new(), row_len, at: Vec::new() };
            }
            let stride = t.ksize.div_ceil(4) * 32;
            let mut weights = vec![0i16; t.len.len() * stride];
            for (x, &n) in t.len.iter().enumerate() {
                for (i, &w) in t.weights[x * t.ksize..x * t.ksize + n].iter().enumerate() {
                    let (high, low) = ((w >> LOW_BITS) as i16, (w & ((1 << LOW_BITS) - 1)) as i16);
                    let at = x * stride + i / 4 * 32 + (i % 4) / 2 * 16 + i % 2;
                    for ch in 0..3 {
                        weights[at + 2 * ch] = high;
                        weights[at + 8 + 2 * ch] = low;
                    }
                }
            }
            let at = t
                .start
                .iter()
                .zip(&t.len)
                .map(|(&start, &n)| (start * 3, n.div_ceil(4)))
                .take_while(|&(at, groups)| groups > 0 && groups * 32 <= stride && at + 12 * groups + 4 <= row_len)
                .collect();
            RgbTaps { stride, weights, row_len, at }
        }

        /// Output pixels `0..n` of one row (`start`, `len`: each one's source pixels) into
        /// `out` (3 bytes each), as far as the loads stay inside `row`; how many it did. Straight
        /// code for up to three groups of taps and two output pixels per turn of the loop: a
        /// loop's back edge is where Cranelift puts the epoch check (the plugin's deadline),
        /// around which it reloads the vector constants, so fewer turns cost less.
        #[inline(never)]
        pub(super) fn row(&self, row: &[u8], half: i32, out: &mut [u8]) -> usize {
            if row.len() != self.row_len || out.len() < self.at.len() * 3 {
                return 0;
            }
            let (rp, kp, op) = (row.as_ptr(), self.weights.as_ptr(), out.as_mut_ptr());
            let pixel = |x: usize, (at, groups): (usize, usize)| {
                // SAFETY: bytes `at + 12 i .. + 16` are inside `row` and weights
                // `x * stride + 32 i .. + 32` inside `weights` for every group `i < groups` (`new`
                // kept only such pixels, for rows of this length), and `x * 3 + 2 < out.len()`
                // (checked above).
                unsafe {
                    let (p, k) = (rp.add(at), kp.add(x * self.stride));
                    let mut acc = group(p, k, [i32x4_splat(0); 2]);
                    if groups > 1 {
                        acc = group(p.add(12), k.add(32), acc);
                    }
                    if groups > 2 {
                        acc = group(p.add(24), k.add(64), acc);
                    }
                    for i in 3..groups {
                        acc = group(p.add(12 * i), k.add(32 * i), acc);
                    }
                    // Lanes 0, 1, 2: the sums of r, g and b, whole.
                    let [high, low] = acc;
                    let sum = i32x4_add(i32x4_shl(high, LOW_BITS), low);
                    let v = i32x4_shr(i32x4_add(sum, i32x4_splat(half)), PRECISION_BITS);
                    let v = i32x4_min(i32x4_max(v, i32x4_splat(0)), i32x4_splat(255));
                    let o = op.add(x * 3);
                    *o = i32x4_extract_lane::<0>(v) as u8;
                    *o.add(1) = i32x4_extract_lane::<1>(v) as u8;
                    *o.add(2) = i32x4_extract_lane::<2>(v) as u8;
                }
            };
            let mut pairs = self.at.chunks_exact(2);
            for (i, two) in pairs.by_ref().enumerate() {
                pixel(2 * i, two[0]);
                pixel(2 * i + 1, two[1]);
            }
            if let [last] = pairs.remainder() {
                pixel(self.at.len() - 1, *last);
            }
            self.at.len()
        }
    }

    /// Where a 16-byte load of four RGB pixels has the pairs of taps 0, 1 and of taps 2, 3, as
    /// 16-bit lanes `[r, r', g, g', b, b', 0, 0]` (255: a zero byte).
    const PAIR_01: v128 = u8x16(0, 255, 3, 255, 1, 255, 4, 255, 2, 255, 5, 255, 255, 255, 255, 255);
    const PAIR_23: v128 = u8x16(6, 255, 9, 255, 7, 255, 10, 255, 8, 255, 11, 255, 255, 255, 255, 255);

    /// Four taps: the sums of the high and of the low weight parts (lanes r, g, b) plus the four
    /// pixels at `p` times the four taps' weights at `k`, in pairs.
    ///
    /// # Safety
    /// `p` must be valid for 16 bytes and `k` for 32 i16.
    #[inline(always)]
    unsafe fn group(p: *const u8, k: *const i16, [high, low]: [v128; 2]) -> [v128; 2] {
        // SAFETY: the caller's promise; wasm loads need no alignment.
        let (px, h01, l01, h23, l23) = unsafe {
            (v128_load(p.cast()), v128_load(k.cast()), v128_load(k.add(8).cast()), v128_load(k.add(16).cast()), v128_load(k.add(24).cast()))
        };
        let (a, b) = (i8x16_swizzle(px, PAIR_01), i8x16_swizzle(px, PAIR_23));
        [
            i32x4_add(high, i32x4_add(i32x4_dot_i16x8(a, h01), i32x4_dot_i16x8(b, h23))),
            i32x4_add(low, i32x4_add(i32x4_dot_i16x8(a, l01), i32x4_dot_i16x8(b, l23))),
        ]
    }

    /// The vertical pass of one output row: `rows` holds the `k.len()` source rows of `stride`
    /// bytes its taps read, in order; 16 columns at a time, each tap's 16 bytes widened to four
    /// i32x4 and multiply-added in registers, then shifted and narrowed with saturation (the
    /// clamp to 0..=255). Integer sums of the same products; how many columns it did.
    #[inline(never)]
    pub(super) fn vertical(rows: &[u8], stride: usize, k: &[i32], half: i32, out: &mut [u8]) -> usize {
        if rows.len() < k.len() * stride || out.len() < stride {
            return 0;
        }
        let mut col = 0;
        while col + 16 <= stride {
            let mut acc = [i32x4_splat(half); 4];
            let tap = |acc: &mut [v128; 4], j: usize, kk: i32| {
                // SAFETY: row j's bytes `col .. col + 16` are inside `rows` (checked above).
                let v = unsafe { v128_load(rows.as_ptr().add(j * stride + col).cast()) };
                let (lo, hi) = (u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v));
                let w = i32x4_splat(kk);
                acc[0] = i32x4_add(acc[0], i32x4_mul(u32x4_extend_low_u16x8(lo), w));
                acc[1] = i32x4_add(acc[1], i32x4_mul(u32x4_extend_high_u16x8(lo), w));
                acc[2] = i32x4_add(acc[2], i32x4_mul(u32x4_extend_low_u16x8(hi), w));
                acc[3] = i32x4_add(acc[3], i32x4_mul(u32x4_extend_high_u16x8(hi), w));
            };
            // Two taps per turn (one epoch check for two; see `row`), in order: the same sums.
            let mut pairs = k.chunks_exact(2);
            for (i, two) in pairs.by_ref().enumerate() {
                tap(&mut acc, 2 * i, two[0]);
                tap(&mut acc, 2 * i + 1, two[1]);
            }
            if let [last] = pairs.remainder() {
                tap(&mut acc, k.len() - 1, *last);
            }
            let a = acc.map(|a| i32x4_shr(a, PRECISION_BITS));
            let v = u8x16_narrow_i16x8(i16x8_narrow_i32x4(a[0], a[1]), i16x8_narrow_i32x4(a[2], a[3]));
            // SAFETY: `col + 16 <= stride <= out.len()`.
            unsafe { v128_store(out.as_mut_ptr().add(col).cast(), v) };
            col += 16;
        }
        col
    }
}

/// Without wasm SIMD the scalar loop does every pixel.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    pub(super) struct RgbTaps;

    impl RgbTaps {
        pub(super) fn new(_: &super::Taps, _: usize, _: usize) -> Self {
            RgbTaps
        }

        #[inline(always)]
        pub(super) fn row(&self, _: &[u8], _: i32, _: &mut [u8]) -> usize {
            0
        }
    }

    #[inline(always)]
    pub(super) fn vertical(_: &[u8], _: usize, _: &[i32], _: i32, _: &mut [u8]) -> usize {
        0
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's `ImagingScaleAffine` positions: the source index of each output index, accumulated
/// in floating point as Pillow does (start at half a step, add the step).
fn nearest_table(axis: &Axis) -> Vec<usize> {
    let mut pos = axis.scale * 0.5;
    let mut table = Vec::with_capacity(axis.out);
    for i in 0..axis.offset + axis.out {
        if i >= axis.offset {
            let v = if pos < 0.0 { 0 } else { pos as usize };
            table.push(axis.lo + v.min(axis.hi - axis.lo - 1));
        }
        pos += axis.scale;
    }
    table
}

/// Resize `src` (`w x h`, `c` interleaved 8-bit channels) into a `out_w x out_h` canvas as the
/// resize mode says. The canvas of a letterbox is filled with its pad value first.
pub fn resize(src: &[u8], w: usize, h: usize, c: usize, out_w: usize, out_h: usize, r: &Resize) -> Vec<u8> {
    let p = plan(w, h, out_w, out_h, &r.mode);
    let mut canvas = vec![0u8; out_w * out_h * c];
    if let ResizeMode::Letterbox { pad } = &r.mode {
        for px in canvas.chunks_exact_mut(c) {
            for (ch, v) in px.iter_mut().enumerate() {
                *v = if pad.len() == 1 { pad[0] } else { pad.get(ch).copied().unwrap_or(0) };
            }
        }
    }
    let (rw, rh) = (p.x.out, p.y.out);
    let place = |canvas: &mut [u8], y: usize, row: &[u8]| {
        let start = ((p.at.1 + y) * out_w + p.at.0) * c;
        canvas[start..start + rw * c].copy_from_slice(row);
    };

    if r.interpolation == Interpolation::Nearest {
        let (xt, yt) = (nearest_table(&p.x), nearest_table(&p.y));
        let mut row = vec![0u8; rw * c];
        for (y, &sy) in yt.iter().enumerate() {
            let src_row = &src[sy * w * c..(sy + 1) * w * c];
            for (x, &sx) in xt.iter().enumerate() {
                row[x * c..(x + 1) * c].copy_from_slice(&src_row[sx * c..(sx + 1) * c]);
            }
            place(&mut canvas, y, &row);
        }
        return canvas;
    }

    let vt = taps(&p.y, r.interpolation, r.antialias);
    // Source rows the vertical pass reads.
    let first = vt.start.iter().zip(&vt.len).filter(|(_, n)| **n > 0).map(|(s, _)| *s).min().unwrap_or(0);
    let last = vt.start.iter().zip(&vt.len).map(|(s, n)| s + n).max().unwrap_or(0).max(first);

    // Horizontal pass over the rows needed: (last - first) rows of rw pixels.
    let tmp: Vec<u8> = if p.x.is_identity() {
        src[first * w * c..last * w * c].to_vec()
    } else {
        let ht = taps(&p.x, r.interpolation, r.antialias);
        let simd = simd::RgbTaps::new(&ht, c, w * c);
        let mut tmp = vec![0u8; (last - first) * rw * c];
        let half = 1i32 << (PRECISION_BITS - 1);
        for (ty, sy) in (first..last).enumerate() {
            let src_row = &src[sy * w * c..(sy + 1) * w * c];
            let out_row = &mut tmp[ty * rw * c..(ty + 1) * rw * c];
            // The pixels SIMD did (the same sums), then the rest.
            let done = simd.row(src_row, half, out_row);
            for x in done..rw {
                let k = &ht.weights[x * ht.ksize..x * ht.ksize + ht.len[x]];
                let s = &src_row[ht.start[x] * c..(ht.start[x] + ht.len[x]) * c];
                let o = &mut out_row[x * c..(x + 1) * c];
                if c == 3 {
                    let (mut a0, mut a1, mut a2) = (half, half, half);
                    for (px, &kk) in s.chunks_exact(3).zip(k) {
                        a0 += px[0] as i32 * kk;
                        a1 += px[1] as i32 * kk;
                        a2 += px[2] as i32 * kk;
                    }
                    o[0] = clip8(a0);
                    o[1] = clip8(a1);
                    o[2] = clip8(a2);
                } else {
                    for ch in 0..c {
                        let mut a = half;
                        for (px, &kk) in s.chunks_exact(c).zip(k) {
                            a += px[ch] as i32 * kk;
                        }
                        o[ch] = clip8(a);
                    }
                }
            }
        }
        tmp
    };

    // Vertical pass, straight onto the canvas.
    if p.y.is_identity() {
        for y in 0..rh {
            place(&mut canvas, y, &tmp[y * rw * c..(y + 1) * rw * c]);
        }
        return canvas;
    }
    let half = 1i32 << (PRECISION_BITS - 1);
    let stride = rw * c;
    let mut acc = vec![0i32; stride];
    let mut row = vec![0u8; stride];
    for y in 0..rh {
        acc.fill(half);
        let k = &vt.weights[y * vt.ksize..y * vt.ksize + vt.len[y]];
        let rows = &tmp[(vt.start[y] - first) * stride..(vt.start[y] - first + k.len()) * stride];
        // The columns SIMD did (the same sums), then the rest.
        let done = simd::vertical(rows, stride, k, half, &mut row);
        for (j, &kk) in k.iter().enumerate() {
            for (a, &v) in acc[done..].iter_mut().zip(&rows[j * stride + done..(j + 1) * stride]) {
                *a += v as i32 * kk;
            }
        }
        for (o, &a) in row[done..].iter_mut().zip(&acc[done..]) {
            *o = clip8(a);
        }
        place(&mut canvas, y, &row);
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_geometry() {
        // 500x375 landscape, Resize(256) -> 341x256, CenterCrop(224) -> left 58 (58.5 rounds to even), top 16.
        let p = plan(500, 375, 224, 224, &ResizeMode::CenterCrop { fraction: 0.875, order: CropOrder::ResizeThenCrop });
        assert_eq!((p.x.offset, p.y.offset), (58, 16));
        assert_eq!(p.x.scale, 500.0 / 341.0);
    }

    #[test]
    fn tensorflow_geometry() {
        // min side 375 -> crop int(0.875 * 375) = 328, offsets ((500-328)+1)//2 = 86, ((375-328)+1)//2 = 24.
        let p = plan(500, 375, 224, 224, &ResizeMode::CenterCrop { fraction: 0.875, order: CropOrder::CropThenResize });
        assert_eq!((p.x.lo, p.x.hi, p.y.lo, p.y.hi), (86, 414, 24, 352));
    }

    #[test]
    fn letterbox_geometry() {
        let p = plan(400, 300, 224, 224, &ResizeMode::Letterbox { pad: vec![0] });
        assert_eq!((p.x.out, p.y.out, p.at), (224, 168, (0, 28)));
    }

    #[test]
    fn identity_is_a_copy() {
        let src: Vec<u8> = (0..5 * 4 * 3).map(|v| (v * 7 % 256) as u8).collect();
        for interpolation in [Interpolation::Nearest, Interpolation::Bilinear, Interpolation::Bicubic] {
            let r = Resize { interpolation, ..Default::default() };
            assert_eq!(resize(&src, 5, 4, 3, 5, 4, &r), src);
        }
    }
}
