/*
 * Added by nnhost (not in upstream zune-jpeg 0.5.15): the integer IDCT in WebAssembly SIMD
 * (simd128), the arithmetic of the scalar IDCT (`idct::scalar::idct_int`, which the AVX2 and Neon
 * versions share) on four columns at a time; bit identical to it, which the tests below check.
 *
 * Written for Cranelift (wasmtime's compiler): it places a pure value where it is used, so a store
 * under a per-row branch would recompute the whole transform in each branch. The rows are stored
 * in one block after a single bounds check instead.
 *
 * You can redistribute it or modify it under terms of the MIT, Apache License or Zlib license
 */

#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use core::arch::wasm32::*;

const SCALE_BITS: i32 = 512 + 65536 + (128 << 17);

/// One 1-D pass over four lanes of the eight rows `r` (wrapping i32, as the scalar code).
#[inline(always)]
fn pass4<const SHIFT: u32>(r: [v128; 8], bias: i32) -> [v128; 8] {
    let k = |c: i32| i32x4_splat(c);
    let add = |a, b| i32x4_add(a, b);
    let sub = |a, b| i32x4_sub(a, b);
    let mul = |a, b| i32x4_mul(a, b);
    // even part
    let p1 = mul(add(r[2], r[6]), k(2217));
    let t2 = add(p1, mul(r[6], k(-7567)));
    let t3 = add(p1, mul(r[2], k(3135)));
    let t0 = i32x4_shl(add(r[0], r[4]), 12);
    let t1 = i32x4_shl(sub(r[0], r[4]), 12);
    let x0 = add(add(t0, t3), k(bias));
    let x3 = add(sub(t0, t3), k(bias));
    let x1 = add(add(t1, t2), k(bias));
    let x2 = add(sub(t1, t2), k(bias));
    // odd part
    let p3 = add(r[7], r[3]);
    let p4 = add(r[5], r[1]);
    let p1 = add(r[7], r[1]);
    let p2 = add(r[5], r[3]);
    let p5 = mul(add(p3, p4), k(4816));
    let p1 = add(p5, mul(p1, k(-3685)));
    let p2 = add(p5, mul(p2, k(-10497)));
    let p3 = mul(p3, k(-8034));
    let p4 = mul(p4, k(-1597));
    let t3 = add(mul(r[1], k(6149)), add(p1, p4));
    let t2 = add(mul(r[3], k(12586)), add(p2, p3));
    let t1 = add(mul(r[5], k(8410)), add(p2, p4));
    let t0 = add(mul(r[7], k(1223)), add(p1, p3));
    let s = |v| i32x4_shr(v, SHIFT);
    [
        s(add(x0, t3)),
        s(add(x1, t2)),
        s(add(x2, t1)),
        s(add(x3, t0)),
        s(sub(x3, t0)),
        s(sub(x2, t1)),
        s(sub(x1, t2)),
        s(sub(x0, t3))
    ]
}

/// Transpose four rows of four i32.
#[inline(always)]
fn transpose4(a: v128, b: v128, c: v128, d: v128) -> [v128; 4] {
    let t0 = i32x4_shuffle::<0, 4, 1, 5>(a, b);
    let t1 = i32x4_shuffle::<2, 6, 3, 7>(a, b);
    let t2 = i32x4_shuffle::<0, 4, 1, 5>(c, d);
    let t3 = i32x4_shuffle::<2, 6, 3, 7>(c, d);
    [
        i32x4_shuffle::<0, 1, 4, 5>(t0, t2),
        i32x4_shuffle::<2, 3, 6, 7>(t0, t2),
        i32x4_shuffle::<0, 1, 4, 5>(t1, t3),
        i32x4_shuffle::<2, 3, 6, 7>(t1, t3)
    ]
}

/// The transpose of the 8x8 block whose row r is (lo[r], hi[r]), in the same form.
#[inline(always)]
fn transpose(lo: [v128; 8], hi: [v128; 8]) -> ([v128; 8], [v128; 8]) {
    let a = transpose4(lo[0], lo[1], lo[2], lo[3]);
    let b = transpose4(hi[0], hi[1], hi[2], hi[3]);
    let c = transpose4(lo[4], lo[5], lo[6], lo[7]);
    let d = transpose4(hi[4], hi[5], hi[6], hi[7]);
    (
        [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]],
        [c[0], c[1], c[2], c[3], d[0], d[1], d[2], d[3]]
    )
}

/// The 8x8 integer IDCT of `in_vector` into eight rows of `out_vector`, `stride` apart, clamped
/// to 0..=255. `in_vector` is only read, so this also serves blocks whose coefficients past the
/// upper 4x4 are zero (the 4x4 function's contract: they stay zero).
pub fn idct_wasm(in_vector: &mut [i32; 64], out_vector: &mut [i16], stride: usize) {
    let p = in_vector.as_ptr();
    let mut lo = [i32x4_splat(0); 8];
    let mut hi = [i32x4_splat(0); 8];
    for r in 0..8 {
        // SAFETY: eight i32 at 8 * r, inside the 64 of `in_vector`; no alignment needed.
        unsafe {
            lo[r] = v128_load(p.add(8 * r).cast());
            hi[r] = v128_load(p.add(8 * r + 4).cast());
        }
    }
    // All AC terms zero (everything but in_vector[0]; row 0 read again from index 1): the block
    // is one value, (coeff[0] * qt[0]) / 8 + 128, clamped.
    // SAFETY: indices 1..5 and 4..8, inside `in_vector`.
    let mut any = unsafe { v128_or(v128_load(p.add(1).cast()), v128_load(p.add(4).cast())) };
    for r in 1..8 {
        any = v128_or(any, v128_or(lo[r], hi[r]));
    }
    let rows: [v128; 8] = if v128_any_true(any) {
        let (lo, hi) = transpose(pass4::<10>(lo, 512), pass4::<10>(hi, 512));
        let (lo, hi) = transpose(pass4::<17>(lo, SCALE_BITS), pass4::<17>(hi, SCALE_BITS));
        let (zero, max) = (i16x8_splat(0), i16x8_splat(255));
        core::array::from_fn(|r| i16x8_min(i16x8_max(i16x8_narrow_i32x4(lo[r], hi[r]), zero), max))
    } else {
        [i16x8_splat((in_vector[0].wrapping_add(4).wrapping_add(1024) >> 3).clamp(0, 255) as i16); 8]
    };
    if stride >= 8 && out_vector.len() >= 7 * stride + 8 {
        let out = out_vector.as_mut_ptr();
        for (r, v) in rows.into_iter().enumerate() {
            // SAFETY: row r's eight i16 end at 7 * stride + 8 at most, inside `out_vector`.
            unsafe { v128_store(out.add(r * stride).cast(), v) }
        }
    } else {
        // A block at the edge of a bad image: the rows that fit.
        let mut pos = 0;
        for v in rows {
            let mut row = [0i16; 8];
            // SAFETY: `row` is eight i16.
            unsafe { v128_store(row.as_mut_ptr().cast(), v) }
            if let Some(o) = out_vector.get_mut(pos..pos + 8) {
                o.copy_from_slice(&row);
            }
            pos += stride;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idct::scalar::{idct4x4, idct_int};

    /// A small deterministic generator (xorshift), so the test needs no crate.
    fn next(state: &mut u32) -> u32 {
        *state ^= *state << 13;
        *state ^= *state >> 17;
        *state ^= *state << 5;
        *state
    }

    #[test]
    fn same_as_scalar() {
        let mut state = 0x1234_5678;
        for round in 0..20_000usize {
            let mut block = [0i32; 64];
            // Sparse and dense blocks, small and extreme coefficients, DC-only and 4x4-only blocks.
            let upper_4x4 = round % 3 == 0;
            let range = [64u32, 1024, 1 << 16][round % 3];
            for (i, c) in block.iter_mut().enumerate() {
                if (upper_4x4 && (i / 8 >= 4 || i % 8 >= 4)) || (round % 5 == 1 && i != 0) {
                    continue;
                }
                if next(&mut state) % 4 != 0 {
                    *c = (next(&mut state) % (2 * range)) as i32 - range as i32;
                }
            }
            let stride = 8 + (round % 3) * 8;
            // Some outputs too short for all eight rows, as at the edge of a bad image (not for
            // DC-only blocks: the scalar code's shortcut for them indexes out of bounds there).
            let len = if round % 7 == 3 && round % 5 != 1 { stride * 5 + 3 } else { stride * 8 };
            let (mut a, mut b) = (vec![0i16; len], vec![0i16; len]);
            let (mut va, mut vb) = (block, block);
            idct_int(&mut va, &mut a, stride);
            idct_wasm(&mut vb, &mut b, stride);
            assert_eq!(a, b, "block {block:?}");
            assert_eq!(vb, block, "the coefficients are left as they were");
            if upper_4x4 {
                let mut vc = block;
                let mut c = vec![0i16; len];
                idct4x4(&mut vc, &mut c, stride);
                assert_eq!(a, c, "4x4 block {block:?}");
            }
        }
    }
}
