//! The CPU state a native engine leaves to the plugin code that runs next on the same thread.
//!
//! Engines run AVX and AVX-512 kernels. One that returns with the upper halves of the vector
//! registers in use (no `vzeroupper` after its last 256- or 512-bit instruction) makes every
//! legacy-encoded SSE instruction after it slow on Intel CPUs, and Cranelift compiles the plugins'
//! scalar and 128-bit float code to such instructions: a plugin's own pixel arithmetic then ran
//! several times slower after each inference than natively. nnhost clears that state when an
//! engine returns to a plugin.

/// Clear the upper halves of the vector registers (`vzeroupper`) where the CPU has AVX.
pub fn after_native_kernels() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX (checked just above), which is all `vzeroupper` needs; it
        // changes only the upper halves of the vector registers, where no value lives across
        // this call.
        unsafe { zeroupper() }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zeroupper() {
    std::arch::x86_64::_mm256_zeroupper()
}
