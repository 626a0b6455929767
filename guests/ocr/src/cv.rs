//! The few OpenCV image operations rapidocr's pipeline calls, rewritten to give the same pixels:
//! `cv2.resize` (INTER_LINEAR, 8-bit fixed point), `cv2.warpPerspective` (INTER_CUBIC,
//! BORDER_REPLICATE), `np.rot90`, `cv2.rotate(ROTATE_180)` and a constant black border. Images
//! are 8-bit BGR, interleaved, row-major (what rapidocr holds after `cv2.cvtColor(RGB2BGR)`).

/// An 8-bit 3-channel image, BGR, interleaved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Image {
    pub fn new(width: usize, height: usize) -> Self {
        Image { width, height, data: vec![0; width * height * 3] }
    }

    /// Pixel (x, y), channel c.
    #[inline]
    pub fn at(&self, x: usize, y: usize, c: usize) -> u8 {
        self.data[(y * self.width + x) * 3 + c]
    }
}

/// OpenCV's fixed-point bilinear weights: 11 fractional bits (INTER_RESIZE_COEF_BITS).
const COEF_SCALE: f32 = 2048.0;

/// One axis of `cv2.resize` INTER_LINEAR: source index and the two fixed-point weights per
/// destination index, and the first index from which only the last source sample is used.
fn linear_axis(dst: usize, src: usize) -> (Vec<usize>, Vec<(i32, i32)>, usize) {
    let scale = 1.0 / (dst as f64 / src as f64);
    let mut index = Vec::with_capacity(dst);
    let mut weights = Vec::with_capacity(dst);
    let mut single_from = dst;
    for d in 0..dst {
        let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
        let mut s = f.floor() as i64;
        f -= s as f32;
        if s < 0 {
            f = 0.0;
            s = 0;
        }
        if s + 1 >= src as i64 {
            single_from = single_from.min(d);
            if s >= src as i64 - 1 {
                f = 0.0;
                s = src as i64 - 1;
            }
        }
        // saturate_cast<short>(float) rounds half to even.
        let w0 = ((1.0 - f) * COEF_SCALE).round_ties_even() as i32;
        let w1 = (f * COEF_SCALE).round_ties_even() as i32;
        index.push(s as usize);
        weights.push((w0, w1));
    }
    (index, weights, single_from)
}

/// `cv2.resize(img, (width, height))` with the default INTER_LINEAR on an 8-bit image: OpenCV's
/// fixed-point horizontal pass, then its vertical pass (the SIMD formula on whole 16-byte blocks,
/// the scalar one on the tail, as the x86 build does). An exact halving takes OpenCV's INTER_AREA
/// shortcut (a 2x2 mean), as cv2 does. Agrees with cv2 to within 1 level (on about 1% of pixels).
pub fn resize_linear(src: &Image, width: usize, height: usize) -> Image {
    if width == src.width && height == src.height {
        return src.clone();
    }
    let mut out = Image::new(width, height);
    if width == 0 || height == 0 || src.width == 0 || src.height == 0 {
        return out;
    }
    if src.width == 2 * width && src.height == 2 * height {
        for y in 0..height {
            for x in 0..width {
                for c in 0..3 {
                    let s = src.at(2 * x, 2 * y, c) as u32
                        + src.at(2 * x + 1, 2 * y, c) as u32
                        + src.at(2 * x, 2 * y + 1, c) as u32
                        + src.at(2 * x + 1, 2 * y + 1, c) as u32;
                    out.data[(y * width + x) * 3 + c] = ((s + 2) >> 2) as u8;
                }
            }
        }
        return out;
    }
    let (xi, xw, x_single) = linear_axis(width, src.width);
    let (yi, yw, _) = linear_axis(height, src.height);
    let row_len = width * 3;
    let horizontal = |sy: usize, buf: &mut Vec<i32>| {
        buf.clear();
        let row = &src.data[sy * src.width * 3..(sy + 1) * src.width * 3];
        for dx in 0..width {
            let s = xi[dx] * 3;
            for c in 0..3 {
                let v = if dx < x_single {
                    let (w0, w1) = xw[dx];
                    row[s + c] as i32 * w0 + row[s + 3 + c] as i32 * w1
                } else {
                    row[s + c] as i32 * 2048
                };
                buf.push(v);
            }
        }
    };
    let simd_end = row_len / 16 * 16;
    let (mut r0, mut r1) = (Vec::with_capacity(row_len), Vec::with_capacity(row_len));
    for dy in 0..height {
        let s0 = yi[dy];
        let s1 = (s0 + 1).min(src.height - 1);
        horizontal(s0, &mut r0);
        horizontal(s1, &mut r1);
        let (b0, b1) = yw[dy];
        let dst = &mut out.data[dy * row_len..(dy + 1) * row_len];
        for x in 0..row_len {
            dst[x] = if x < simd_end {
                let t0 = (r0[x] >> 4).clamp(-32768, 32767);
                let t1 = (r1[x] >> 4).clamp(-32768, 32767);
                let v = (((t0 * b0) >> 16) + ((t1 * b1) >> 16)).clamp(-32768, 32767);
                ((v + 2) >> 2).clamp(0, 255) as u8
            } else {
                ((r0[x] as i64 * b0 as i64 + r1[x] as i64 * b1 as i64 + (1 << 21)) >> 22).clamp(0, 255) as u8
            };
        }
    }
    out
}

/// `cv2.copyMakeBorder(img, top, bottom, 0, 0, BORDER_CONSTANT, value=(0, 0, 0))`.
pub fn pad_vertical(src: &Image, top: usize, bottom: usize) -> Image {
    let mut out = Image::new(src.width, src.height + top + bottom);
    let start = top * src.width * 3;
    out.data[start..start + src.data.len()].copy_from_slice(&src.data);
    out
}

/// `np.rot90(img)`: a quarter turn counter-clockwise.
pub fn rot90(src: &Image) -> Image {
    let (w, h) = (src.width, src.height);
    let mut out = Image::new(h, w);
    for i in 0..w {
        for j in 0..h {
            let s = (j * w + (w - 1 - i)) * 3;
            let d = (i * h + j) * 3;
            out.data[d..d + 3].copy_from_slice(&src.data[s..s + 3]);
        }
    }
    out
}

/// `cv2.rotate(img, cv2.ROTATE_180)`.
pub fn rot180(src: &Image) -> Image {
    let mut out = src.clone();
    for (d, s) in out.data.chunks_exact_mut(3).zip(src.data.chunks_exact(3).rev()) {
        d.copy_from_slice(s);
    }
    out
}

/// Solve the 8x8 system of a homography that maps each `from[i]` to `to[i]`; None when singular.
/// Returns the 3x3 matrix row-major (m[8] = 1).
pub fn homography(from: &[[f64; 2]; 4], to: &[[f64; 2]; 4]) -> Option<[f64; 9]> {
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let ([x, y], [u, v]) = (from[i], to[i]);
        a[i] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u, u];
        a[i + 4] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v, v];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..8 {
        let pivot = (col..8).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                if f != 0.0 {
                    for (v, pv) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                        *v -= f * pv;
                    }
                }
            }
        }
    }
    let mut m = [0f64; 9];
    for i in 0..8 {
        m[i] = a[i][8] / a[i][i];
    }
    m[8] = 1.0;
    m.iter().all(|v| v.is_finite()).then_some(m)
}

const INTER_BITS: i64 = 5;
const INTER_TAB_SIZE: i64 = 1 << INTER_BITS;
const REMAP_COEF_SCALE: i32 = 1 << 15;

/// OpenCV's bicubic weights (A = -0.75) at `x` in [0, 1).
fn cubic_coeffs(x: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let c0 = ((A * (x + 1.0) - 5.0 * A) * (x + 1.0) + 8.0 * A) * (x + 1.0) - 4.0 * A;
    let c1 = ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let c2 = ((A + 2.0) * (1.0 - x) - (A + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
    [c0, c1, c2, 1.0 - c0 - c1 - c2]
}

/// OpenCV's fixed-point 4x4 bicubic table (`initInterTab2D`), one per 1/32-pixel position
/// (index `fy * 32 + fx`), each summing to 2^15.
fn cubic_table() -> Vec<[i32; 16]> {
    let mut tab = Vec::with_capacity((INTER_TAB_SIZE * INTER_TAB_SIZE) as usize);
    for fy in 0..INTER_TAB_SIZE {
        let vy = cubic_coeffs(fy as f32 / INTER_TAB_SIZE as f32);
        for fx in 0..INTER_TAB_SIZE {
            let vx = cubic_coeffs(fx as f32 / INTER_TAB_SIZE as f32);
            let mut t = [0i32; 16];
            let mut sum = 0;
            for i in 0..4 {
                for j in 0..4 {
                    let v = vy[i] * vx[j];
                    t[i * 4 + j] = ((v * REMAP_COEF_SCALE as f32).round_ties_even() as i32).clamp(-32768, 32767);
                    sum += t[i * 4 + j];
                }
            }
            if sum != REMAP_COEF_SCALE {
                let diff = sum - REMAP_COEF_SCALE;
                let (mut mk, mut big) = ((1, 1), (1, 1));
                for k1 in 1..3 {
                    for k2 in 1..3 {
                        if t[k1 * 4 + k2] < t[mk.0 * 4 + mk.1] {
                            mk = (k1, k2);
                        } else if t[k1 * 4 + k2] > t[big.0 * 4 + big.1] {
                            big = (k1, k2);
                        }
                    }
                }
                if diff < 0 {
                    t[big.0 * 4 + big.1] -= diff;
                } else {
                    t[mk.0 * 4 + mk.1] -= diff;
                }
            }
            tab.push(t);
        }
    }
    tab
}

/// `cv2.warpPerspective(src, M, (width, height), flags=INTER_CUBIC, borderMode=BORDER_REPLICATE)`
/// where `inverse` maps destination pixels to source pixels (OpenCV inverts `M` to get it).
pub fn warp_perspective_cubic(src: &Image, inverse: &[f64; 9], width: usize, height: usize) -> Image {
    let mut out = Image::new(width, height);
    if src.width == 0 || src.height == 0 {
        return out;
    }
    let tab = cubic_table();
    let m = inverse;
    let (sw, sh) = (src.width as i64, src.height as i64);
    for y in 0..height {
        for x in 0..width {
            let (xf, yf) = (x as f64, y as f64);
            let w = m[6] * xf + m[7] * yf + m[8];
            let w = if w != 0.0 { INTER_TAB_SIZE as f64 / w } else { 0.0 };
            let fx = ((m[0] * xf + m[1] * yf + m[2]) * w).clamp(i32::MIN as f64, i32::MAX as f64);
            let fy = ((m[3] * xf + m[4] * yf + m[5]) * w).clamp(i32::MIN as f64, i32::MAX as f64);
            let (ix, iy) = (fx.round_ties_even() as i64, fy.round_ties_even() as i64);
            let (sx, sy) = ((ix >> INTER_BITS) - 1, (iy >> INTER_BITS) - 1);
            let t = &tab[(((iy & (INTER_TAB_SIZE - 1)) * INTER_TAB_SIZE) + (ix & (INTER_TAB_SIZE - 1))) as usize];
            let xs: [usize; 4] = std::array::from_fn(|j| (sx + j as i64).clamp(0, sw - 1) as usize);
            let ys: [usize; 4] = std::array::from_fn(|i| (sy + i as i64).clamp(0, sh - 1) as usize);
            for c in 0..3 {
                let mut sum = 0i32;
                for i in 0..4 {
                    for j in 0..4 {
                        sum += src.at(xs[j], ys[i], c) as i32 * t[i * 4 + j];
                    }
                }
                out.data[(y * width + x) * 3 + c] = ((sum + (1 << 14)) >> 15).clamp(0, 255) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Image {
        let mut img = Image::new(w, h);
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    img.data[(y * w + x) * 3 + c] = ((x * 7 + y * 13 + c * 50) % 256) as u8;
                }
            }
        }
        img
    }

    #[test]
    fn resize_of_a_constant_image_is_constant() {
        let mut img = Image::new(13, 7);
        img.data.fill(200);
        for (w, h) in [(40, 21), (5, 3), (13, 30), (1, 1)] {
            let r = resize_linear(&img, w, h);
            assert!(r.data.iter().all(|&v| v == 200), "{w}x{h}");
        }
    }

    #[test]
    fn resize_matches_opencv_on_a_small_case() {
        // cv2.resize of [[0, 100], [200, 255]] (as 3 equal channels) to 4x4, within 1 level.
        let mut img = Image::new(2, 2);
        for (i, v) in [0u8, 100, 200, 255].into_iter().enumerate() {
            img.data[i * 3..i * 3 + 3].fill(v);
        }
        let r = resize_linear(&img, 4, 4);
        let cv2 = [0u8, 25, 75, 100, 50, 72, 117, 139, 150, 167, 200, 216, 200, 214, 241, 255];
        for (got, want) in r.data.chunks(3).map(|p| p[0]).zip(cv2) {
            assert!(got.abs_diff(want) <= 1, "{got} vs cv2's {want}");
        }
    }

    #[test]
    fn halving_is_a_2x2_mean() {
        let img = ramp(8, 6);
        let r = resize_linear(&img, 4, 3);
        let want = (img.at(2, 2, 1) as u32 + img.at(3, 2, 1) as u32 + img.at(2, 3, 1) as u32 + img.at(3, 3, 1) as u32 + 2) >> 2;
        assert_eq!(r.at(1, 1, 1) as u32, want);
    }

    #[test]
    fn rotations() {
        let img = ramp(3, 2);
        let r = rot90(&img);
        assert_eq!((r.width, r.height), (2, 3));
        // np.rot90: out[i][j] = in[j][w-1-i]
        assert_eq!(r.at(0, 0, 0), img.at(2, 0, 0));
        assert_eq!(r.at(1, 2, 2), img.at(0, 1, 2));
        let r = rot180(&img);
        assert_eq!(r.at(0, 0, 1), img.at(2, 1, 1));
        assert_eq!(rot180(&r), img);
    }

    #[test]
    fn identity_warp_copies() {
        let img = ramp(9, 6);
        let id = homography(&[[0., 0.], [9., 0.], [9., 6.], [0., 6.]], &[[0., 0.], [9., 0.], [9., 6.], [0., 6.]]).unwrap();
        assert_eq!(warp_perspective_cubic(&img, &id, 9, 6), img);
    }

    #[test]
    fn cubic_table_rows_sum_to_one() {
        assert!(cubic_table().iter().all(|t| t.iter().sum::<i32>() == REMAP_COEF_SCALE));
    }

    #[test]
    fn singular_homography_is_none() {
        let p = [[1., 1.]; 4];
        assert!(homography(&p, &p).is_none());
    }
}
