//! Instruction-set tiers of the code `network!` generates. A build for any x86-64 (no `-C
//! target-cpu`) compiles a network's own code for the x86-64 baseline, SSE2, where the
//! matrix products' run-time dispatch (in `constnet-kernels`) does not reach: the products
//! of single samples (nalgebra's, or the register-blocked kernel inlined into the layer), the
//! activations and the copies between layers. So the macro compiles the single-sample
//! forward pass three times, as it is, with AVX2 and FMA, and with AVX-512 (by
//! `#[target_feature]` on a wrapper into which the pass inlines), and [`run`] picks the copy
//! for the CPU at each call: a read of the standard library's cached CPU flags and a
//! predictable branch. A build whose target already has the CPU's best tier (`-C
//! target-cpu=native`) takes the first copy, compiled for that target.

#![allow(unsafe_code)]

use constnet_kernels::{AVX2, AVX512, PORTABLE, detect_isa};

/// The best tier this build targets everywhere: its code needs no other copy on a CPU with
/// no more than this.
pub const COMPILED: u8 = if cfg!(all(target_feature = "avx512f", target_feature = "avx512vl")) {
    AVX512
} else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
    AVX2
} else {
    PORTABLE
};

/// `portable(net, x)`, or the copy of it compiled for the best tier this CPU has when that is
/// above what the build targets: `avx2` (compiled with AVX2 and FMA) or `avx512` (with
/// AVX-512 F and VL). The two are `unsafe` to call on a CPU without their instructions;
/// `network!` passes its safe `#[target_feature]` functions, which coerce to them.
///
/// ```
/// use constnet::__private::run_tiered;
/// fn sum(v: &[f32], _: &()) -> f32 {
///     v.iter().sum()
/// }
/// #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
/// fn sum_avx2(v: &[f32], x: &()) -> f32 {
///     sum(v, x)
/// }
/// #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512vl"))]
/// fn sum_avx512(v: &[f32], x: &()) -> f32 {
///     sum(v, x)
/// }
/// let v = [1.0f32, 2.0, 3.0];
/// assert_eq!(run_tiered(&v[..], &(), sum, sum_avx2, sum_avx512), 6.0);
/// ```
#[inline(always)]
pub fn run<N: ?Sized, X: ?Sized, R>(
    net: &N,
    x: &X,
    portable: fn(&N, &X) -> R,
    avx2: unsafe fn(&N, &X) -> R,
    avx512: unsafe fn(&N, &X) -> R,
) -> R {
    match copy_to_run() {
        // SAFETY: the CPU has AVX-512F and AVX-512VL (`copy_to_run`).
        AVX512 => unsafe { avx512(net, x) },
        // SAFETY: the CPU has AVX2 and FMA (`copy_to_run`).
        AVX2 => unsafe { avx2(net, x) },
        _ => portable(net, x),
    }
}

/// [`run`] for code that writes through its argument: `portable(args)`, or its copy for the
/// best tier this CPU has when that is above what the build targets. The update rules' loops
/// over every parameter take it, as a build for any x86-64 would run them in SSE2.
#[inline(always)]
pub(crate) fn run_mut<A: ?Sized, R>(
    args: &mut A,
    portable: fn(&mut A) -> R,
    avx2: unsafe fn(&mut A) -> R,
    avx512: unsafe fn(&mut A) -> R,
) -> R {
    match copy_to_run() {
        // SAFETY: the CPU has AVX-512F and AVX-512VL (`copy_to_run`).
        AVX512 => unsafe { avx512(args) },
        // SAFETY: the CPU has AVX2 and FMA (`copy_to_run`).
        AVX2 => unsafe { avx2(args) },
        _ => portable(args),
    }
}

/// Which copy [`run`] and [`run_mut`] call: `AVX512` or `AVX2` when the CPU has that tier
/// and the build targets less, `PORTABLE` (the copy compiled for the build) otherwise.
#[inline(always)]
fn copy_to_run() -> u8 {
    let best = detect_isa();
    #[allow(
        clippy::absurd_extreme_comparisons,
        reason = "`COMPILED` is the least tier in a build for any x86-64, not in others"
    )]
    if best <= COMPILED { PORTABLE } else { best }
}
