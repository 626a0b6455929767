/*
 * Added by nnhost (not in upstream zune-jpeg 0.5.15): the chroma upsamplers in WebAssembly SIMD
 * (simd128), eight samples at a time, a port of `upsampler/avx2.rs` (which does sixteen) with the
 * arithmetic of `upsampler/scalar.rs`: wrapping i16 `(3 * near + 2 + far) >> 2`. Bit identical to
 * the scalar code, which the tests in `upsampler.rs` check.
 *
 * You can redistribute it or modify it under terms of the MIT, Apache License or Zlib license
 */

#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use core::arch::wasm32::*;

/// `((3 * mid + 2) + near) >> 2` and `((3 * mid + 2) + far) >> 2`, lane by lane.
#[inline(always)]
fn blend(mid: v128, near: v128, far: v128) -> (v128, v128) {
    let common = i16x8_add(i16x8_mul(mid, i16x8_splat(3)), i16x8_splat(2));
    (i16x8_shr(i16x8_add(common, near), 2), i16x8_shr(i16x8_add(common, far), 2))
}

/// Output samples `2 + 2j .. 2 + 2j + 16` from input samples `j .. j + 10`.
///
/// # Safety
/// `input` must be readable for `j + 10` samples and `output` writable for `2 + 2j + 16`.
#[inline(always)]
unsafe fn horizontal8(input: *const i16, output: *mut i16, j: usize) {
    unsafe {
        let prev = v128_load(input.add(j).cast());
        let mid = v128_load(input.add(j + 1).cast());
        let next = v128_load(input.add(j + 2).cast());
        let (even, odd) = blend(mid, prev, next);
        let lo = i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(even, odd);
        let hi = i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(even, odd);
        v128_store(output.add(2 + 2 * j).cast(), lo);
        v128_store(output.add(2 + 2 * j + 8).cast(), hi);
    }
}

pub fn upsample_horizontal_wasm(
    input: &[i16], in_near: &[i16], in_far: &[i16], scratch: &mut [i16], output: &mut [i16]
) {
    assert_eq!(input.len() * 2, output.len());
    assert!(input.len() > 2);

    let len = input.len();
    if len < 10 {
        return super::scalar::upsample_horizontal(input, in_near, in_far, scratch, output);
    }

    output[0] = input[0];
    output[1] = (input[0] * 3 + input[1] + 2) >> 2;

    // Groups of eight: j + 10 <= len for the loads, 2 + 2j + 16 <= 2 len for the stores.
    let (src, dst) = (input.as_ptr(), output.as_mut_ptr());
    let mut j = 0;
    while j + 10 <= len {
        // SAFETY: the loop condition bounds both (see above).
        unsafe { horizontal8(src, dst, j) };
        j += 8;
    }
    // The remainder, overlapping the last group (the same values are written again).
    // SAFETY: len >= 10, so j = len - 10 is in bounds as above.
    unsafe { horizontal8(src, dst, len - 10) };

    output[2 * len - 2] = (3 * input[len - 1] + input[len - 2] + 2) >> 2;
    output[2 * len - 1] = input[len - 1];
}

pub fn upsample_vertical_wasm(
    input: &[i16], in_near: &[i16], in_far: &[i16], scratch: &mut [i16], output: &mut [i16]
) {
    assert_eq!(input.len() * 2, output.len());
    assert_eq!(in_near.len(), input.len());
    assert_eq!(in_far.len(), input.len());

    let len = input.len();
    if len < 8 {
        return super::scalar::upsample_vertical(input, in_near, in_far, scratch, output);
    }
    let (src, near, far, dst) = (input.as_ptr(), in_near.as_ptr(), in_far.as_ptr(), output.as_mut_ptr());
    // SAFETY: every load and store is at i..i + 8 with i + 8 <= len of slices of len samples
    // (the bottom row at len + i of the output's 2 len).
    let row8 = |i: usize| unsafe {
        let (top, bottom) = blend(v128_load(src.add(i).cast()), v128_load(near.add(i).cast()), v128_load(far.add(i).cast()));
        v128_store(dst.add(i).cast(), top);
        v128_store(dst.add(len + i).cast(), bottom);
    };
    let mut i = 0;
    while i + 8 <= len {
        row8(i);
        i += 8;
    }
    // The remainder, overlapping the last group.
    row8(len - 8);
}

pub fn upsample_hv_wasm(
    input: &[i16], in_near: &[i16], in_far: &[i16], scratch_space: &mut [i16], output: &mut [i16]
) {
    assert_eq!(input.len() * 4, output.len());
    assert!(input.len() * 2 <= scratch_space.len());
    let scratch_space = &mut scratch_space[..input.len() * 2];

    upsample_vertical_wasm(input, in_near, in_far, &mut [], scratch_space);

    let scratch_half = scratch_space.len() / 2;
    let output_half = output.len() / 2;
    let (scratch_top, scratch_bottom) = scratch_space.split_at_mut(scratch_half);
    let (out_top, out_bottom) = output.split_at_mut(output_half);

    let mut t = [0];
    upsample_horizontal_wasm(scratch_top, &[], &[], &mut t, out_top);
    upsample_horizontal_wasm(scratch_bottom, &[], &[], &mut t, out_bottom);
}
