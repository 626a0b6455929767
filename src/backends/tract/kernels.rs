//! x86-64 kernels nnhost registers with tract-linalg's routine registry.
//!
//! tract-linalg 0.23 ships its depthwise-convolution kernels only for wasm32 (simd128); on x86-64
//! a depthwise convolution runs tract's portable loop, which made a third of MobileNetV2's time on
//! tract. tract chooses kernels through an `inventory` registry (`tract_linalg::routines`): a
//! kernel submitted there for an architecture and instruction set is picked like one of its own,
//! and with a channel-inner (`DepthwiseC`) kernel present tract also moves depthwise convolutions
//! of 16 or more channels to channel-last layout, where the kernel runs.
//!
//! The kernel here is that channel-inner depthwise convolution for AVX2 + FMA. Its contract is
//! tract's [`tract_linalg::routines::DepthwiseCF32`]: point `i`, channel `c` of the output is
//! `bias[c]` plus, over every tap `t`, `kernel[tap_indices[t] * k_stride + c] *
//! input[i * in_stride + offsets[t] + c]`. Accumulation order per channel is the taps' order,
//! as in tract's portable loop, with fused multiply-adds (one rounding per tap instead of two).

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The kernel, as the registry stores it: tract calls it only on a machine with AVX2 and FMA
    /// (the routine's `isa` requirement below).
    ///
    /// # Safety
    /// As [`tract_linalg::routines::DepthwiseCF32`]: every input, kernel and bias element the
    /// formula reads must be readable, and `channels` outputs writable at each output position; and
    /// the CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn depthwise_c_f32(
        input: *const f32,
        output: *mut f32,
        kernel: *const f32,
        tap_indices: &[usize],
        offsets: &[isize],
        bias: *const f32,
        channels: usize,
        k_stride: usize,
        len: usize,
        in_stride: isize,
        out_stride: isize,
    ) {
        let taps = tap_indices.len().min(offsets.len());
        let krow = |t: usize| unsafe { kernel.add(tap_indices[t] * k_stride) };
        for i in 0..len {
            let iptr = unsafe { input.offset(i as isize * in_stride) };
            let optr = unsafe { output.offset(i as isize * out_stride) };
            let mut c = 0usize;
            unsafe {
                while c + 32 <= channels {
                    let mut a0 = _mm256_loadu_ps(bias.add(c));
                    let mut a1 = _mm256_loadu_ps(bias.add(c + 8));
                    let mut a2 = _mm256_loadu_ps(bias.add(c + 16));
                    let mut a3 = _mm256_loadu_ps(bias.add(c + 24));
                    for t in 0..taps {
                        let k = krow(t).add(c);
                        let x = iptr.offset(offsets[t]).add(c);
                        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(k), _mm256_loadu_ps(x), a0);
                        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(k.add(8)), _mm256_loadu_ps(x.add(8)), a1);
                        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(k.add(16)), _mm256_loadu_ps(x.add(16)), a2);
                        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(k.add(24)), _mm256_loadu_ps(x.add(24)), a3);
                    }
                    _mm256_storeu_ps(optr.add(c), a0);
                    _mm256_storeu_ps(optr.add(c + 8), a1);
                    _mm256_storeu_ps(optr.add(c + 16), a2);
                    _mm256_storeu_ps(optr.add(c + 24), a3);
                    c += 32;
                }
                while c + 8 <= channels {
                    let mut a = _mm256_loadu_ps(bias.add(c));
                    for t in 0..taps {
                        a = _mm256_fmadd_ps(
                            _mm256_loadu_ps(krow(t).add(c)),
                            _mm256_loadu_ps(iptr.offset(offsets[t]).add(c)),
                            a,
                        );
                    }
                    _mm256_storeu_ps(optr.add(c), a);
                    c += 8;
                }
                while c < channels {
                    let mut s = *bias.add(c);
                    for t in 0..taps {
                        s = (*krow(t).add(c)).mul_add(*iptr.offset(offsets[t]).add(c), s);
                    }
                    *optr.add(c) = s;
                    c += 1;
                }
            }
        }
    }

    inventory::submit! {
        tract_linalg::routines::Routine {
            func: tract_linalg::routines::Func::DepthwiseC,
            arch: Some(tract_linalg::isa::Arch::X86_64),
            isa: tract_linalg::isa::IsaReq::ANY.needing(&[
                tract_linalg::isa::Isa::X86_64Avx2,
                tract_linalg::isa::Isa::X86_64Fma,
            ]),
            boost: 0,
            round_trip: false,
            factory: tract_linalg::routines::RoutineFactory::DepthwiseCF32 {
                name: "nnhost_avx2_fma_depthwise_c_f32",
                run: depthwise_c_f32,
            },
        }
    }
}

/// The name of the channel-inner depthwise kernel tract runs on this machine, if any (nnhost's
/// own on x86-64 with AVX2 + FMA). Referencing it also keeps this module's registration linked.
pub fn depthwise_kernel() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    std::hint::black_box(x86::depthwise_c_f32 as tract_linalg::routines::DepthwiseCF32);
    let isa = tract_linalg::isa::native();
    tract_linalg::routines::best_for(tract_linalg::routines::Func::DepthwiseC, tract_onnx::prelude::DatumType::F32, &isa)
        .map(|r| r.name())
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    /// The kernel against the contract's formula in plain f64, over channel counts that exercise
    /// every block (32, 8, scalar tail), several taps, strides and a per-tap kernel stride wider
    /// than the channel count.
    #[test]
    fn depthwise_c_matches_the_formula() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for &channels in &[1usize, 7, 8, 9, 16, 31, 32, 33, 40, 71, 96] {
            for &(taps, in_stride, len) in &[(9usize, 1isize, 5usize), (4, 2, 3), (1, 1, 1), (25, 3, 4)] {
                let k_stride = channels + 3;
                let in_stride = in_stride * channels as isize;
                let out_stride = channels as isize + 5;
                let tap_indices: Vec<usize> = (0..taps).rev().collect();
                let offsets: Vec<isize> = (0..taps as isize).map(|t| t * channels as isize).collect();
                let input: Vec<f32> = (0..(len as isize * in_stride + taps as isize * channels as isize) as usize)
                    .map(|_| next())
                    .collect();
                let kernel: Vec<f32> = (0..taps * k_stride).map(|_| next()).collect();
                let bias: Vec<f32> = (0..channels).map(|_| next()).collect();
                let mut output = vec![f32::NAN; len * out_stride as usize];
                unsafe {
                    super::x86::depthwise_c_f32(
                        input.as_ptr(),
                        output.as_mut_ptr(),
                        kernel.as_ptr(),
                        &tap_indices,
                        &offsets,
                        bias.as_ptr(),
                        channels,
                        k_stride,
                        len,
                        in_stride,
                        out_stride,
                    )
                };
                for i in 0..len {
                    for c in 0..channels {
                        let mut want = bias[c] as f64;
                        for t in 0..taps {
                            let x = input[(i as isize * in_stride + offsets[t]) as usize + c] as f64;
                            want += kernel[tap_indices[t] * k_stride + c] as f64 * x;
                        }
                        let got = output[i * out_stride as usize + c] as f64;
                        assert!(
                            (got - want).abs() <= 1e-5,
                            "channels {channels} taps {taps} point {i} channel {c}: {got} vs {want}"
                        );
                    }
                    // Between output positions, nothing is written.
                    for c in channels..out_stride as usize {
                        if i + 1 < len {
                            assert!(output[i * out_stride as usize + c].is_nan());
                        }
                    }
                }
            }
        }
    }

    /// tract picks nnhost's kernel on a machine that can run it.
    #[test]
    fn tract_runs_nnhost_kernel() {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            assert_eq!(super::depthwise_kernel(), Some("nnhost_avx2_fma_depthwise_c_f32"));
        }
    }
}
