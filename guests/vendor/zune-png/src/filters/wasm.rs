/*
 * Added by nnhost (not in upstream zune-png 0.5.2): the Sub, Average and Paeth de-filters for
 * WebAssembly, one whole pixel per turn of the loop with the pixel to the left (and, for Paeth,
 * the one up and to the left) kept in locals. Upstream's scalar loops, which wasm builds run, take
 * one byte per turn and read the left byte back from the row just written: in wasm each turn also
 * pays the deadline's epoch check and bounds checks. Same arithmetic on the same bytes, so the
 * same pixels, which the tests below check against upstream's loops.
 *
 * You can redistribute it or modify it under terms of the MIT, Apache License or Zlib license
 */

#![cfg(target_arch = "wasm32")]

use crate::filters::de_filter::paeth;

/// The end of the whole pixels after the first, at least `N` (an empty range when the row has
/// no more than one pixel).
#[inline(always)]
fn whole_end<const N: usize>(end: usize) -> usize {
    (end / N * N).max(N)
}

/// Sub: `current[i] = raw[i] + current[i - N]`. `raw` and `current` hold at least `N` bytes.
pub fn sub<const N: usize>(raw: &[u8], current: &mut [u8]) {
    let end = current.len().min(raw.len());
    let mut left = [0u8; N];
    left.copy_from_slice(&raw[..N]);
    current[..N].copy_from_slice(&left);
    let whole = whole_end::<N>(end);
    for (out, r) in current[N..whole].chunks_exact_mut(N).zip(raw[N..whole].chunks_exact(N)) {
        for k in 0..N {
            left[k] = r[k].wrapping_add(left[k]);
            out[k] = left[k];
        }
    }
    for i in whole..end {
        current[i] = raw[i].wrapping_add(current[i - N]);
    }
}

/// Average: `current[i] = raw[i] + avg(current[i - N], prev_row[i])`, the first pixel against
/// zero. `raw` and `current` hold at least `N` bytes.
pub fn avg<const N: usize>(prev_row: &[u8], raw: &[u8], current: &mut [u8]) {
    let mut left = [0u8; N];
    for k in 0..N {
        left[k] = raw[k].wrapping_add(prev_row[k] >> 1);
    }
    current[..N].copy_from_slice(&left);
    let end = current.len().min(raw.len()).min(prev_row.len());
    let whole = whole_end::<N>(end);
    let rows = current[N..whole].chunks_exact_mut(N).zip(raw[N..whole].chunks_exact(N)).zip(prev_row[N..whole].chunks_exact(N));
    for ((out, r), up) in rows {
        for k in 0..N {
            let (a, b) = (left[k], up[k]);
            left[k] = r[k].wrapping_add((a & b) + ((a ^ b) >> 1));
            out[k] = left[k];
        }
    }
    for i in whole..end {
        let (a, b) = (current[i - N], prev_row[i]);
        current[i] = raw[i].wrapping_add((a & b) + ((a ^ b) >> 1));
    }
}

/// Paeth: `current[i] = raw[i] + paeth(current[i - N], prev_row[i], prev_row[i - N])`, the
/// first pixel with left and up-left zero. `raw` and `current` hold at least `N` bytes.
pub fn paeth_filter<const N: usize>(prev_row: &[u8], raw: &[u8], current: &mut [u8]) {
    let (mut left, mut up_left) = ([0u8; N], [0u8; N]);
    for k in 0..N {
        left[k] = raw[k].wrapping_add(paeth(0, prev_row[k], 0));
        up_left[k] = prev_row[k];
    }
    current[..N].copy_from_slice(&left);
    let end = current.len().min(raw.len()).min(prev_row.len());
    let whole = whole_end::<N>(end);
    let rows = current[N..whole].chunks_exact_mut(N).zip(raw[N..whole].chunks_exact(N)).zip(prev_row[N..whole].chunks_exact(N));
    for ((out, r), up) in rows {
        for k in 0..N {
            left[k] = r[k].wrapping_add(paeth(left[k], up[k], up_left[k]));
            out[k] = left[k];
            up_left[k] = up[k];
        }
    }
    for i in whole..end {
        current[i] = raw[i].wrapping_add(paeth(current[i - N], prev_row[i], prev_row[i - N]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Upstream's scalar loops (filters/de_filter.rs), byte by byte.
    fn sub_ref(raw: &[u8], current: &mut [u8], n: usize) {
        current[..n].copy_from_slice(&raw[..n]);
        for i in n..current.len().min(raw.len()) {
            current[i] = raw[i].wrapping_add(current[i - n]);
        }
    }

    fn avg_ref(prev: &[u8], raw: &[u8], current: &mut [u8], n: usize) {
        for i in 0..n {
            current[i] = raw[i].wrapping_add(prev[i] >> 1);
        }
        for i in n..current.len().min(raw.len()).min(prev.len()) {
            let (a, b) = (current[i - n], prev[i]);
            current[i] = raw[i].wrapping_add((a & b) + ((a ^ b) >> 1));
        }
    }

    fn paeth_ref(prev: &[u8], raw: &[u8], current: &mut [u8], n: usize) {
        for i in 0..n {
            current[i] = raw[i].wrapping_add(paeth(0, prev[i], 0));
        }
        for i in n..current.len().min(raw.len()).min(prev.len()) {
            current[i] = raw[i].wrapping_add(paeth(current[i - n], prev[i], prev[i - n]));
        }
    }

    fn bytes(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect()
    }

    fn check<const N: usize>() {
        for len in [N, N + 1, 2 * N, 2 * N + 1, 7 * N, 100 * N, 100 * N + N - 1] {
            let (prev, raw) = (bytes(len, 1 + len as u32), bytes(len, 2 + len as u32));
            let (mut want, mut got) = (vec![0u8; len], vec![0u8; len]);
            sub_ref(&raw, &mut want, N);
            sub::<N>(&raw, &mut got);
            assert_eq!(want, got, "sub, {N} bytes a pixel, {len} bytes");
            avg_ref(&prev, &raw, &mut want, N);
            avg::<N>(&prev, &raw, &mut got);
            assert_eq!(want, got, "avg, {N} bytes a pixel, {len} bytes");
            paeth_ref(&prev, &raw, &mut want, N);
            paeth_filter::<N>(&prev, &raw, &mut got);
            assert_eq!(want, got, "paeth, {N} bytes a pixel, {len} bytes");
        }
    }

    #[test]
    fn wasm_defilters_same_as_scalar() {
        check::<1>();
        check::<2>();
        check::<3>();
        check::<4>();
        check::<6>();
        check::<8>();
    }
}
