//! x86-64 kernels nnhost registers with tract-linalg's routine registry.
//!
//! tract-linalg 0.23 ships its depthwise-convolution kernels only for wasm32 (simd128); on x86-64
//! a depthwise convolution runs tract's portable loop, which made a third of MobileNetV2's time on
//! tract. tract chooses kernels through an `inventory` registry (`tract_linalg::routines`): a
//! kernel submitted there for an architecture and instruction set is picked like one of its own,
//! and with a channel-inner (`DepthwiseC`) kernel present tract also moves depthwise convolutions
//! of 16 or more channels to channel-last layout, where the kernel runs.
//!
//! The kernels here: that channel-inner depthwise convolution for AVX2 + FMA, and sigmoid and
//! tanh within 2 ulp (tract's own stop 7 ulp short of 1.0; see [`activation_kernels`]).
//!
//! The depthwise kernel, for AVX2 + FMA. Its contract is
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
    // `t` indexes the kernel rows (`krow(t)`) as well as `offsets`.
    #[allow(clippy::needless_range_loop)]
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
                        a = _mm256_fmadd_ps(_mm256_loadu_ps(krow(t).add(c)), _mm256_loadu_ps(iptr.offset(offsets[t]).add(c)), a);
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

/// Sigmoid and tanh within a few ulp, for AVX2 + FMA.
///
/// tract-linalg's own sigmoid and tanh kernels (x86-64 and generic alike) are rational
/// approximations over a clamped range: sigmoid stops at 0.9999995 and tanh at +-0.9999994,
/// about 7 ulp short of 1.0, where the answer in f32 is 1.0 exactly for |x| above 17 (sigmoid)
/// and 9 (tanh). A recurrent cell multiplies by `1 - z` and `z` step after step, so those ulp
/// become absolute errors near zero: tract's GRU missed the ONNX test case `test_gru_seq_length`
/// by 8.4e-7 against its 1e-7 tolerance.
///
/// These compute both from an exponential of a non-positive argument (Cephes' `expf`
/// reduction and polynomial, with fused multiply-adds), so they saturate exactly and stay
/// within 3 ulp over the whole range (unit tests below, against f64). They are registered
/// above every rung of the ladder, AVX-512 included, on any machine with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
mod act {
    use std::arch::x86_64::*;

    /// `exp(x)` for `x <= 0`, 8 lanes. Below -87.3 (where f32 has only subnormals left) the
    /// argument is clamped, so the result there is 2^-126 or so instead of a subnormal.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp_nonpos(x: __m256) -> __m256 {
        let x = _mm256_max_ps(x, _mm256_set1_ps(-87.336_55));
        // x = n ln2 + r, |r| <= ln2 / 2, with ln2 split in two for an exact first step.
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
            x,
            _mm256_set1_ps(std::f32::consts::LOG2_E),
        ));
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm256_set1_ps(1.987_569_2e-4);
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.398_199_9e-3));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.333_452e-3));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.166_579_6e-2));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.666_666_5e-1));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5));
        let y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0));
        // 2^n, n in [-126, 0].
        let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)));
        _mm256_mul_ps(y, _mm256_castsi256_ps(e))
    }

    /// `x` where it is NaN, `y` elsewhere: the clamps above would turn a NaN into a number.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn keep_nan(x: __m256, y: __m256) -> __m256 {
        _mm256_blendv_ps(y, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
    }

    /// sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sigmoid8(x: __m256) -> __m256 {
        let sign = _mm256_set1_ps(-0.0);
        let e = exp_nonpos(_mm256_or_ps(x, sign));
        let d = _mm256_add_ps(_mm256_set1_ps(1.0), e);
        let num = _mm256_blendv_ps(_mm256_set1_ps(1.0), e, x);
        keep_nan(x, _mm256_div_ps(num, d))
    }

    /// tanh(x): Cephes' odd polynomial below 0.625, (1 - e) / (1 + e) with e = exp(-2|x|)
    /// above, and the sign put back.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tanh8(x: __m256) -> __m256 {
        let sign = _mm256_set1_ps(-0.0);
        let a = _mm256_andnot_ps(sign, x);
        let e = exp_nonpos(_mm256_mul_ps(a, _mm256_set1_ps(-2.0)));
        let big = _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0), e), _mm256_add_ps(_mm256_set1_ps(1.0), e));
        let s = _mm256_mul_ps(a, a);
        let mut p = _mm256_set1_ps(-5.704_988_7e-3);
        p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(2.063_909e-2));
        p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-5.373_971_6e-2));
        p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.333_144_2e-1));
        p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-3.333_328e-1));
        let small = _mm256_fmadd_ps(_mm256_mul_ps(p, s), a, a);
        let t = _mm256_blendv_ps(small, big, _mm256_cmp_ps::<_CMP_GE_OQ>(a, _mm256_set1_ps(0.625)));
        keep_nan(x, _mm256_or_ps(t, _mm256_and_ps(x, sign)))
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn map(xs: &mut [f32], f: unsafe fn(__m256) -> __m256) {
        let mut chunks = xs.chunks_exact_mut(8);
        for c in &mut chunks {
            _mm256_storeu_ps(c.as_mut_ptr(), f(_mm256_loadu_ps(c.as_ptr())));
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mut buf = [0f32; 8];
            buf[..rest.len()].copy_from_slice(rest);
            _mm256_storeu_ps(buf.as_mut_ptr(), f(_mm256_loadu_ps(buf.as_ptr())));
            let n = rest.len();
            rest.copy_from_slice(&buf[..n]);
        }
    }

    /// The kernels as tract's element-wise trait: any length, any alignment.
    #[derive(Clone, Copy, Debug)]
    pub struct Act(pub Which);

    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Which {
        Sigmoid,
        Tanh,
    }

    impl tract_linalg::element_wise::ElementWise<f32> for Act {
        fn name(&self) -> &'static str {
            match self.0 {
                Which::Sigmoid => "nnhost_avx2_fma_sigmoid_f32",
                Which::Tanh => "nnhost_avx2_fma_tanh_f32",
            }
        }
        fn run_with_params(&self, xs: &mut [f32], _: ()) -> tract_onnx::prelude::TractResult<()> {
            // SAFETY: tract runs a routine only where its `isa` requirement (AVX2 + FMA) holds;
            // the unit tests check the CPU first.
            unsafe { run(self.0, xs) };
            Ok(())
        }
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA.
    pub unsafe fn run(which: Which, xs: &mut [f32]) {
        match which {
            Which::Sigmoid => map(xs, sigmoid8),
            Which::Tanh => map(xs, tanh8),
        }
    }

    fn sigmoid() -> Box<dyn tract_linalg::element_wise::ElementWise<f32>> {
        Box::new(Act(Which::Sigmoid))
    }
    fn tanh() -> Box<dyn tract_linalg::element_wise::ElementWise<f32>> {
        Box::new(Act(Which::Tanh))
    }

    macro_rules! submit {
        ($func:ident, $factory:path) => {
            inventory::submit! {
                tract_linalg::routines::Routine {
                    func: tract_linalg::routines::Func::$func,
                    arch: Some(tract_linalg::isa::Arch::X86_64),
                    isa: tract_linalg::isa::IsaReq::ANY.needing(&[
                        tract_linalg::isa::Isa::X86_64Avx2,
                        tract_linalg::isa::Isa::X86_64Fma,
                    ]),
                    // Above every rung: tract's AVX-512 kernels are the same approximation.
                    boost: tract_linalg::isa::LEVEL_BOOST * tract_linalg::isa::MAX_LEVEL as isize,
                    round_trip: false,
                    factory: tract_linalg::routines::RoutineFactory::F32($factory),
                }
            }
        };
    }
    submit!(Sigmoid, sigmoid);
    submit!(Tanh, tanh);
}

/// The names of the sigmoid and tanh kernels tract runs on this machine. Referencing them also
/// keeps this module's registrations linked.
pub fn activation_kernels() -> (Option<&'static str>, Option<&'static str>) {
    #[cfg(target_arch = "x86_64")]
    std::hint::black_box(act::run as unsafe fn(act::Which, &mut [f32]));
    let isa = tract_linalg::isa::native();
    let name = |f| tract_linalg::routines::best_for(f, tract_onnx::prelude::DatumType::F32, &isa).map(|r| r.name());
    (name(tract_linalg::routines::Func::Sigmoid), name(tract_linalg::routines::Func::Tanh))
}

/// The name of the channel-inner depthwise kernel tract runs on this machine, if any (nnhost's
/// own on x86-64 with AVX2 + FMA). Referencing it also keeps this module's registration linked.
pub fn depthwise_kernel() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    std::hint::black_box(x86::depthwise_c_f32 as tract_linalg::routines::DepthwiseCF32);
    let isa = tract_linalg::isa::native();
    tract_linalg::routines::best_for(tract_linalg::routines::Func::DepthwiseC, tract_onnx::prelude::DatumType::F32, &isa).map(|r| r.name())
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
                let input: Vec<f32> =
                    (0..(len as isize * in_stride + taps as isize * channels as isize) as usize).map(|_| next()).collect();
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
                        assert!((got - want).abs() <= 1e-5, "channels {channels} taps {taps} point {i} channel {c}: {got} vs {want}");
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

    /// Sigmoid and tanh against f64 over the whole range: within 3 ulp (or 1e-45 absolute, for
    /// subnormal answers), exact saturation, odd symmetry, NaN kept, every tail length.
    #[test]
    fn activations_match_f64() {
        use super::act::{run, Which};
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let mut xs: Vec<f32> = Vec::new();
        let mut x = -120.0f32;
        while x < 120.0 {
            xs.push(x);
            x += 0.000_731 * (1.0 + x.abs());
        }
        for k in 0..2000 {
            xs.push(k as f32 * 1e-4 - 0.1);
            xs.push((k as f32 - 1000.0) * 1e-38);
        }
        xs.extend([0.0, -0.0, 0.625, -0.625, 17.0, 9.1, 88.0, -88.0, f32::INFINITY, f32::NEG_INFINITY]);
        let ulp = |v: f32| (f32::from_bits(v.abs().to_bits() + 1) - v.abs()).max(1e-45);
        for which in [Which::Sigmoid, Which::Tanh] {
            let mut ys = xs.clone();
            unsafe { run(which, &mut ys) };
            let mut worst = 0f64;
            for (&x, &y) in xs.iter().zip(&ys) {
                let x64 = x as f64;
                let want = match which {
                    Which::Sigmoid => 1.0 / (1.0 + (-x64).exp()),
                    Which::Tanh => x64.tanh(),
                };
                let want32 = want as f32;
                let err = (y as f64 - want).abs() / ulp(want32) as f64;
                // Subnormal sigmoid answers (x below -87.3) come out as about 2^-126.
                if !(which == Which::Sigmoid && x < -87.3) {
                    assert!(err <= 3.0, "{which:?}({x}) = {y}, want {want} ({err} ulp)");
                    worst = worst.max(err);
                } else {
                    assert!((0.0..1.2e-38).contains(&y), "{which:?}({x}) = {y}");
                }
            }
            eprintln!("{which:?}: worst {worst:.2} ulp over {} points", xs.len());
        }
        let mut sat = vec![17.5f32, 40.0, f32::INFINITY, 9.1, 12.0, -9.1, -0.0, f32::NAN, 1e-30];
        let mut t = sat.clone();
        unsafe { run(Which::Sigmoid, &mut sat[..3]) };
        assert_eq!(&sat[..3], &[1.0, 1.0, 1.0]);
        unsafe { run(Which::Tanh, &mut t) };
        assert_eq!(&t[..5], &[1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(t[5], -1.0);
        assert!(t[6] == 0.0 && t[6].is_sign_negative());
        assert!(t[7].is_nan());
        assert_eq!(t[8], 1e-30);
        let mut n = [f32::NAN; 3];
        unsafe { run(Which::Sigmoid, &mut n) };
        assert!(n.iter().all(|v| v.is_nan()));
        // Every remainder length goes through the padded tail.
        for len in 0..20 {
            let src: Vec<f32> = (0..len).map(|i| i as f32 * 0.37 - 3.0).collect();
            let mut a = src.clone();
            unsafe { run(Which::Tanh, &mut a) };
            for (x, y) in src.iter().zip(&a) {
                assert!((*y as f64 - (*x as f64).tanh()).abs() < 1e-6);
            }
        }
    }

    /// tract picks nnhost's activations on a machine that can run them.
    #[test]
    fn tract_runs_nnhost_activations() {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            assert_eq!(super::activation_kernels(), (Some("nnhost_avx2_fma_sigmoid_f32"), Some("nnhost_avx2_fma_tanh_f32")));
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
