/*
 * Added by nnhost (not in upstream zune-jpeg 0.5.15): YCbCr to RGB(A) in WebAssembly SIMD
 * (simd128), the scalar version's integer arithmetic (color_convert/scalar.rs) four pixels at a
 * time; bit identical to it, which the tests below check.
 *
 * You can redistribute it or modify it under terms of the MIT, Apache License or Zlib license
 */

#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use core::arch::wasm32::*;

use crate::color_convert::scalar::{CB_CF, CR_CF, C_G_CB_COEF_2, C_G_CR_COEF_1, YUV_PREC, YUV_RND, Y_CF};

/// Sixteen pixels' R, G and B, one u8 lane each. Each channel is a sum of two products of i16
/// pairs, `i32x4.dot_i16x8_s` on the pairs interleaved (Y·Y_CF is a shift: Y_CF is 1 << YUV_PREC): R = (Y, Cr)·(Y_CF, CR_CF),
/// B = (Y, Cb)·(Y_CF, CB_CF), G = (Cr, Cb)·(C_G_CR_COEF_1, C_G_CB_COEF_2) + Y·Y_CF, exact in i32
/// as the scalar code's sums are; then `+ YUV_RND >> YUV_PREC`, and the unsigned saturating
/// narrowing is the scalar code's clamp to 0..=255.
#[inline(always)]
fn ycbcr_to_rgb_16(y: &[i16; 16], cb: &[i16; 16], cr: &[i16; 16]) -> (v128, v128, v128) {
    // SAFETY: each array holds sixteen i16, read as two vectors of eight; no alignment needed.
    let load = |a: &[i16; 16]| unsafe { (v128_load(a.as_ptr().cast()), v128_load(a.as_ptr().add(8).cast())) };
    let bias = i16x8_splat(128);
    let (y0, y1) = load(y);
    let (cb0, cb1) = load(cb);
    let (cr0, cr1) = load(cr);
    let (cb0, cb1) = (i16x8_sub(cb0, bias), i16x8_sub(cb1, bias));
    let (cr0, cr1) = (i16x8_sub(cr0, bias), i16x8_sub(cr1, bias));
    let pair = |a: i16, b: i16| i32x4_splat(i32::from(a as u16) | (i32::from(b as u16) << 16));
    let (k_r, k_b, k_g) = (pair(Y_CF, CR_CF), pair(Y_CF, CB_CF), pair(C_G_CR_COEF_1, C_G_CB_COEF_2));
    let rnd = i32x4_splat(i32::from(YUV_RND));
    let shift = YUV_PREC as u32;
    const _: () = assert!(Y_CF as i32 == 1 << YUV_PREC);
    let lo = |a: v128, b: v128| i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(a, b);
    let hi = |a: v128, b: v128| i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(a, b);
    let fin = |v: v128| i32x4_shr(i32x4_add(v, rnd), shift);
    // Eight pixels of one channel, as i16 (saturating; the values fit).
    let two = |a: v128, b: v128, k: v128| i16x8_narrow_i32x4(fin(i32x4_dot_i16x8(lo(a, b), k)), fin(i32x4_dot_i16x8(hi(a, b), k)));
    let green = |y: v128, cr: v128, cb: v128| {
        let yl = i32x4_shl(i32x4_extend_low_i16x8(y), shift);
        let yh = i32x4_shl(i32x4_extend_high_i16x8(y), shift);
        let l = fin(i32x4_add(yl, i32x4_dot_i16x8(lo(cr, cb), k_g)));
        let h = fin(i32x4_add(yh, i32x4_dot_i16x8(hi(cr, cb), k_g)));
        i16x8_narrow_i32x4(l, h)
    };
    let r = u8x16_narrow_i16x8(two(y0, cr0, k_r), two(y1, cr1, k_r));
    let g = u8x16_narrow_i16x8(green(y0, cr0, cb0), green(y1, cr1, cb1));
    let b = u8x16_narrow_i16x8(two(y0, cb0, k_b), two(y1, cb1, k_b));
    (r, g, b)
}

/// The `N` bytes at `pos`; like the scalar version, a buffer too short is a bug (checked before
/// the arithmetic, so that the stores that follow are in one block).
#[inline(always)]
fn out_at<const N: usize>(output: &mut [u8], pos: usize) -> *mut u8 {
    output.get_mut(pos..pos + N).expect("Slice to small cannot write").as_mut_ptr()
}

pub fn ycbcr_to_rgb_wasm(y: &[i16; 16], cb: &[i16; 16], cr: &[i16; 16], output: &mut [u8], pos: &mut usize) {
    ycbcr_to_rgb_wasm_inline(y, cb, cr, output, pos);
}

#[inline(always)]
fn ycbcr_to_rgb_wasm_inline(y: &[i16; 16], cb: &[i16; 16], cr: &[i16; 16], output: &mut [u8], pos: &mut usize) {
    let out = out_at::<48>(output, *pos);
    let (r, g, b) = ycbcr_to_rgb_16(y, cb, cr);
    // Interleave r0 g0 b0 r1 g1 b1 ...: three vectors, each an r/g shuffle then one with b.
    let t0 = u8x16_shuffle::<0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5>(r, g);
    let o0 = u8x16_shuffle::<0, 1, 16, 3, 4, 17, 6, 7, 18, 9, 10, 19, 12, 13, 20, 15>(t0, b);
    let t1 = u8x16_shuffle::<21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26>(r, g);
    let o1 = u8x16_shuffle::<0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15>(t1, b);
    let t2 = u8x16_shuffle::<0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0>(r, g);
    let o2 = u8x16_shuffle::<26, 1, 2, 27, 4, 5, 28, 7, 8, 29, 10, 11, 30, 13, 14, 31>(t2, b);
    // SAFETY: `out` starts 48 bytes of `output`; v128_store needs no alignment.
    unsafe {
        v128_store(out.cast(), o0);
        v128_store(out.add(16).cast(), o1);
        v128_store(out.add(32).cast(), o2);
    }
    *pos += 48;
}

/// One row of `width` (at least 16) pixels into `out` (`width * 3` bytes), as the caller's loop
/// over [`ycbcr_to_rgb_wasm`] does it: whole groups of 16, then the last 16 pixels again if the
/// width is not a multiple of 16.
pub fn ycbcr_to_rgb_wasm_row(y: &[i16], cb: &[i16], cr: &[i16], width: usize, out: &mut [u8]) {
    fn group(a: &[i16], at: usize) -> &[i16; 16] {
        a[at..at + 16].try_into().unwrap()
    }
    let whole = width / 16;
    for g in 0..whole {
        let at = g * 16;
        let mut pos = at * 3;
        ycbcr_to_rgb_wasm_inline(group(y, at), group(cb, at), group(cr, at), out, &mut pos);
    }
    if width % 16 != 0 {
        let at = width - 16;
        let mut last = [0u8; 48];
        ycbcr_to_rgb_wasm_inline(group(y, at), group(cb, at), group(cr, at), &mut last, &mut 0);
        out[at * 3..width * 3].copy_from_slice(&last);
    }
}

pub fn ycbcr_to_rgba_wasm(y: &[i16; 16], cb: &[i16; 16], cr: &[i16; 16], output: &mut [u8], pos: &mut usize) {
    let out = out_at::<64>(output, *pos);
    let (r, g, b) = ycbcr_to_rgb_16(y, cb, cr);
    let a = u8x16_splat(255);
    let rg_lo = u8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(r, g);
    let rg_hi = u8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(r, g);
    let ba_lo = u8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(b, a);
    let ba_hi = u8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(b, a);
    let vs = [
        i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(rg_lo, ba_lo),
        i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(rg_lo, ba_lo),
        i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(rg_hi, ba_hi),
        i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(rg_hi, ba_hi)
    ];
    for (i, v) in vs.into_iter().enumerate() {
        // SAFETY: `out` starts 64 bytes of `output`; v128_store needs no alignment.
        unsafe { v128_store(out.add(16 * i).cast(), v) }
    }
    *pos += 64;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color_convert::scalar::{ycbcr_to_rgb_inner_16_scalar, ycbcr_to_rgba_inner_16_scalar};

    #[test]
    fn same_as_scalar() {
        let mut state = 0x9e37_79b9u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            // IDCT output is 0..=255; a few values outside, as bad images may give.
            (state % 300) as i16 - 20
        };
        for _ in 0..20_000 {
            let mut planes = [[0i16; 16]; 3];
            planes.iter_mut().flatten().for_each(|v| *v = next());
            let [y, cb, cr] = &planes;
            let (mut a, mut b) = ([0u8; 48 + 5], [0u8; 48 + 5]);
            let (mut pa, mut pb) = (5, 5);
            ycbcr_to_rgb_inner_16_scalar::<false>(y, cb, cr, &mut a, &mut pa);
            ycbcr_to_rgb_wasm(y, cb, cr, &mut b, &mut pb);
            assert_eq!((a, pa), (b, pb));
            let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
            let (mut pa, mut pb) = (0, 0);
            ycbcr_to_rgba_inner_16_scalar::<false>(y, cb, cr, &mut a, &mut pa);
            ycbcr_to_rgba_wasm(y, cb, cr, &mut b, &mut pb);
            assert_eq!((a, pa), (b, pb));
        }
        // Whole rows, as worker.rs converts them (its own loop over 16 pixels, the tail again).
        for width in [16usize, 17, 31, 32, 45, 100] {
            let padded = (width + 15) / 16 * 16;
            let planes: Vec<Vec<i16>> = (0..3).map(|_| (0..padded).map(|_| next()).collect()).collect();
            let mut want = vec![0u8; width * 3];
            let group = |p: &Vec<i16>, at: usize| -> [i16; 16] { p[at..at + 16].try_into().unwrap() };
            for at in (0..width / 16).map(|g| g * 16).chain((width % 16 != 0).then_some(width - 16)) {
                let mut px = [0u8; 48];
                let (y, cb, cr) = (group(&planes[0], at), group(&planes[1], at), group(&planes[2], at));
                ycbcr_to_rgb_inner_16_scalar::<false>(&y, &cb, &cr, &mut px, &mut 0);
                want[at * 3..at * 3 + 48].copy_from_slice(&px);
            }
            let mut got = vec![0u8; width * 3];
            ycbcr_to_rgb_wasm_row(&planes[0], &planes[1], &planes[2], width, &mut got);
            assert_eq!(want, got, "a row of {width}");
        }
    }
}
