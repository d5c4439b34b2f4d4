//! The FMA peak of one core, measured: what the workloads' GFLOP/s are a fraction of. Each
//! probe runs independent chains of vector multiply-adds (more chains than the FMA units
//! times their latency, so that no chain waits on its own previous result), kept in
//! registers, with nothing else in the loop but the counter.

#![allow(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

/// Multiply-adds per probe call, per chain.
const ROUNDS: usize = 4096;

/// Steps of the micro-kernel probes: panels that stay in L1.
const STEPS: usize = 256;

/// The best GFLOP/s of the widest multiply-add this CPU has and of each narrower one it
/// has, as `(name, GFLOP/s)`, widest first.
pub fn fma_peaks() -> Vec<(&'static str, f64)> {
    let mut peaks = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            let flops = best_rate(|| unsafe { x86::chains_512() });
            peaks.push(("AVX-512 FMA", flops));
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA.
            let flops = best_rate(|| unsafe { x86::chains_256() });
            peaks.push(("AVX2 FMA", flops));
        }
    }
    // Any CPU: what the compiler makes of independent scalar multiply-adds.
    peaks.push(("scalar mul + add", best_rate(portable_chains)));
    peaks
}

/// The packed product's micro-kernels alone (`constnet-kernels`' AVX-512 ones, 32 x 12 and
/// 64 x 6, or its AVX2 one on a CPU without AVX-512), on one panel of `A` and one of `B` 256
/// steps deep, which stay in L1: the most a packed matrix product reaches on this CPU, so
/// the ceiling of the batched workloads. `(name, GFLOP/s)` for each; empty on a CPU without
/// AVX2 and FMA.
pub fn micro_kernel_rates() -> Vec<(&'static str, f64)> {
    let mut rates = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use constnet_kernels::{Scalar, TileOut};
        // Small values, so that the sums stay finite over the calls. `A` starts on a cache
        // line, as the packing buffers and an `A` read in place do: a panel that did not
        // would split one load in two every step (on Zen 1, 84% of the peak against 98%).
        let buffer = vec![1e-3f32; STEPS * 64 + 16];
        let start = buffer.as_ptr().align_offset(64);
        let a = &buffer[start..start + STEPS * 64];
        let b = vec![1e-3f32; STEPS * 12];
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY (both): the CPU has AVX-512F.
            let rate = unsafe { avx512_rate::<2, 12>(a, &b) };
            rates.push(("AVX-512 micro-kernel, 32 x 12", rate));
            let rate = unsafe { avx512_rate::<4, 6>(a, &b) };
            rates.push(("AVX-512 micro-kernel, 64 x 6", rate));
        } else if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            let mut c = vec![0.0f32; 16 * 6];
            let flops = best_rate(|| {
                // SAFETY: the CPU has AVX2 and FMA, and `c` holds the 16 x 6 tile.
                unsafe {
                    f32::micro_kernel_avx2_fma(
                        STEPS,
                        a,
                        16,
                        &b,
                        (6, 1),
                        TileOut::new(c.as_mut_ptr(), 16, 1.0, 0.0),
                    )
                };
                black_box(&mut c);
                (STEPS * 16 * 6 * 2) as f64
            });
            rates.push(("AVX2 micro-kernel, 16 x 6", flops));
        }
    }
    rates
}

/// GFLOP/s of the AVX-512 micro-kernel of `V` vectors of rows by `N` columns over the
/// panels `a` (at least `V * 16` rows a step) and `b` (at least `N` a step), [`STEPS`] deep.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
unsafe fn avx512_rate<const V: usize, const N: usize>(a: &[f32], b: &[f32]) -> f64 {
    use constnet_kernels::{Scalar, TileOut};
    let rows = V * 16;
    let mut c = vec![0.0f32; rows * N];
    best_rate(|| {
        // SAFETY: the caller's CPU, and `c` holds the `rows x N` tile.
        unsafe {
            f32::micro_kernel_avx512::<V, N>(
                STEPS,
                a,
                rows,
                b,
                (N, 1),
                TileOut::new(c.as_mut_ptr(), rows, 1.0, 0.0),
            )
        };
        black_box(&mut c);
        (STEPS * rows * N * 2) as f64
    })
}

/// The rate at which this core reads `floats` `f32` from a buffer that stays in its cache
/// (L2 for W2's 401 KB), with the widest loads it has, summed in independent registers: the
/// bound of a single-sample product whose weights do not fit in L1. `(loads, GB/s)`, the
/// best of 100 batches of 300 reads.
pub fn read_rate(floats: usize) -> (&'static str, f64) {
    // On a cache line, as the network's parameters are.
    let buffer = vec![1e-3f32; floats + 16];
    let start = buffer.as_ptr().align_offset(64);
    let data = &buffer[start..start + floats];
    let bytes = (floats * size_of::<f32>()) as f64;
    let best = |read: &dyn Fn(&[f32]) -> f32| {
        (0..100)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..300 {
                    black_box(read(black_box(data)));
                }
                300.0 * bytes / start.elapsed().as_secs_f64() / 1e9
            })
            .fold(0.0, f64::max)
    };
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return ("512-bit", best(&|d| unsafe { x86::sum_512(d) }));
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return ("256-bit", best(&|d| unsafe { x86::sum_256(d) }));
        }
    }
    ("portable", best(&portable_sum))
}

/// A sum of `data` in 64 independent lanes, which the compiler keeps in vector registers.
fn portable_sum(data: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 64];
    for chunk in data.chunks_exact(64) {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum()
}

/// The best FLOP/s over 200 batches of 50 calls of `probe`, which returns its FLOP count.
fn best_rate(mut probe: impl FnMut() -> f64) -> f64 {
    (0..200)
        .map(|_| {
            let start = Instant::now();
            let mut flops = 0.0;
            for _ in 0..50 {
                flops += probe();
            }
            flops / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

fn portable_chains() -> f64 {
    let (a, b) = (black_box(0.999_f32), black_box(1e-3_f32));
    let mut acc = [0.0f32; 16];
    for _ in 0..ROUNDS {
        for v in &mut acc {
            *v = *v * a + b;
        }
    }
    black_box(acc);
    (ROUNDS * acc.len() * 2) as f64
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::hint::black_box;

    use super::ROUNDS;

    /// 12 chains of 256-bit `f32` multiply-adds (two FMA units of latency 4 to 5 need 8 to
    /// 10 in flight; 12 of the 16 registers).
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn chains_256() -> f64 {
        let (a, b) = (
            _mm256_set1_ps(black_box(0.999)),
            _mm256_set1_ps(black_box(1e-3)),
        );
        let mut acc = [_mm256_setzero_ps(); 12];
        for _ in 0..ROUNDS {
            for v in &mut acc {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        black_box(acc);
        (ROUNDS * 12 * 8 * 2) as f64
    }

    /// The sum of `data`'s whole 128-float blocks, eight 512-bit loads a step into eight
    /// sums (the rest is left out: the probe's buffer is whole blocks).
    #[target_feature(enable = "avx512f")]
    pub(super) fn sum_512(data: &[f32]) -> f32 {
        let mut acc = [_mm512_setzero_ps(); 8];
        for block in data.chunks_exact(128) {
            for (k, acc) in acc.iter_mut().enumerate() {
                // SAFETY: 16 floats at `16 k` inside the 128-float block.
                *acc = _mm512_add_ps(*acc, unsafe { _mm512_loadu_ps(block.as_ptr().add(16 * k)) });
            }
        }
        let sum = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &v| _mm512_add_ps(s, v));
        _mm512_reduce_add_ps(sum)
    }

    /// The same with eight 256-bit loads a step, 64 floats.
    #[target_feature(enable = "avx2")]
    pub(super) fn sum_256(data: &[f32]) -> f32 {
        let mut acc = [_mm256_setzero_ps(); 8];
        for block in data.chunks_exact(64) {
            for (k, acc) in acc.iter_mut().enumerate() {
                // SAFETY: 8 floats at `8 k` inside the 64-float block.
                *acc = _mm256_add_ps(*acc, unsafe { _mm256_loadu_ps(block.as_ptr().add(8 * k)) });
            }
        }
        let sum = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
        let mut lanes = [0.0f32; 8];
        // SAFETY: eight floats into `lanes`.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        lanes.iter().sum()
    }

    /// 24 chains of 512-bit `f32` multiply-adds (24 of the 32 registers).
    #[target_feature(enable = "avx512f")]
    pub(super) fn chains_512() -> f64 {
        let (a, b) = (
            _mm512_set1_ps(black_box(0.999)),
            _mm512_set1_ps(black_box(1e-3)),
        );
        let mut acc = [_mm512_setzero_ps(); 24];
        for _ in 0..ROUNDS {
            for v in &mut acc {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        black_box(acc);
        (ROUNDS * 24 * 16 * 2) as f64
    }
}
