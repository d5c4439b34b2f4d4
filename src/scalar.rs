//! The scalar types a network computes in: `f32` (the default) and `f64` (for gradient checks).

use std::cell::RefCell;
use std::fmt::{Debug, Display};

use nalgebra::RealField;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar a network can compute in: implemented for `f32` and `f64` only.
///
/// Everything nalgebra needs comes through [`RealField`]; the extra items here are the
/// conversions a trained `f32` network needs to be gradient-checked in `f64`.
///
/// ```
/// use constnet::Float;
/// assert_eq!(<f32 as Float>::of_f64(0.5), 0.5f32);
/// assert_eq!(2.0f32.as_f64(), 2.0);
/// ```
pub trait Float:
    RealField + Copy + Default + Debug + Display + Send + Sync + 'static + sealed::Sealed
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// The machine epsilon of the type.
    const EPSILON: Self;
    /// The type's name, for reports.
    const NAME: &'static str;
    /// Converts from `f64`, rounding to nearest.
    fn of_f64(x: f64) -> Self;
    /// Converts to `f64` (exact for both implementations).
    fn as_f64(self) -> f64;
    /// Runs `f` with this thread's two packing buffers for matrix products, grown to at
    /// least `a_len` and `b_len` elements. They are allocated on first use and reused after.
    #[doc(hidden)]
    fn with_pack_buffers<R>(
        a_len: usize,
        b_len: usize,
        f: impl FnOnce(&mut [Self], &mut [Self]) -> R,
    ) -> R;

    /// The packed micro-kernel of the matrix product: `tile` (`MR x 6`, column-major, `MR`
    /// 16 for `f32` and 8 for `f64`) = `sum_p a[p * MR..][..MR] (x) b[p * 6..][..6]` over
    /// `kc` steps, with AVX2 and FMA.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[doc(hidden)]
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn micro_kernel_avx2_fma(kc: usize, a: &[Self], b: &[Self], tile: &mut [Self]);

    /// The AVX-512 micro-kernel, `MR x 8` with `MR` 32 for `f32` and 16 for `f64` (two
    /// 512-bit registers per column of the tile): `C = alpha * A_panel B_panel + beta * C`
    /// for the tile of `C` whose column `j` starts at `c + j * ldc` (rows contiguous; `C` is
    /// not read when `beta` is zero).
    ///
    /// # Safety
    /// The CPU must support AVX-512F, and `c` must point at `MR` writable elements at each
    /// of `c`, `c + ldc`, ..., `c + 7 ldc`.
    #[doc(hidden)]
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn micro_kernel_avx512(
        kc: usize,
        a: &[Self],
        b: &[Self],
        c: *mut Self,
        ldc: usize,
        alpha: Self,
        beta: Self,
    );

    /// `y += W x` for one sample, with `W` the `O x I` column-major matrix in `w`, `x` of
    /// length `I` and `y` of length `O`: register-blocked over up to 8 256-bit vectors of
    /// rows, with enough independent accumulators to keep both FMA pipes busy, and AVX-512VL
    /// masked loads for the rows past the last whole vector (256-bit vectors measured faster
    /// than 512-bit ones for these short products).
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512VL.
    #[doc(hidden)]
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn gemv_avx512<const O: usize, const I: usize>(w: &[Self], x: &[Self], y: &mut [Self]);

    /// Converts between the two scalar types.
    fn cast<U: Float>(self) -> U {
        U::of_f64(self.as_f64())
    }
}

/// `len` elements of `buffer` starting on a 64-byte boundary, growing `buffer` (with room
/// for the alignment) when it is too short: vector loads from the packed panels then never
/// straddle two cache lines.
fn cache_line_aligned<T: Copy + Default>(buffer: &mut Vec<T>, len: usize) -> &mut [T] {
    let room = 64 / size_of::<T>();
    if buffer.len() < len + room {
        buffer.resize(len + room, T::default());
    }
    let start = buffer.as_ptr().align_offset(64).min(room);
    &mut buffer[start..start + len]
}

/// Implements [`Float`] for one scalar type, given its AVX2 and AVX-512 tile heights, lane
/// counts and intrinsics.
macro_rules! impl_float {
    ($ty:ident, avx2: [$mr:literal, $lanes:literal, $zero:ident, $load:ident, $broadcast:ident,
     $fmadd:ident, $store:ident],
     avx512: [$mr512:literal, $lanes512:literal, $zero512:ident, $load512:ident, $set1_512:ident,
     $fmadd512:ident, $store512:ident, $mul512:ident],
     gemv: [$glanes:literal, $gzero:ident, $gload:ident, $gset1:ident, $gfmadd:ident,
     $gstore:ident, $gmask:ty, $gmaskz_load:ident, $gadd:ident],
     of_f64: |$x:ident| $of_f64:expr) => {
        impl Float for $ty {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = $ty::EPSILON;
            const NAME: &'static str = stringify!($ty);

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn micro_kernel_avx2_fma(kc: usize, a: &[Self], b: &[Self], tile: &mut [Self]) {
                use std::arch::x86_64::*;
                assert!(a.len() >= kc * $mr && b.len() >= kc * 6 && tile.len() >= $mr * 6);
                let mut c = [$zero(); 12];
                for p in 0..kc {
                    // SAFETY: the assertion above keeps every read inside `a`.
                    let (a0, a1) = unsafe {
                        let a = a.as_ptr().add(p * $mr);
                        ($load(a), $load(a.add($lanes)))
                    };
                    let b = b[p * 6..p * 6 + 6].as_ptr();
                    for j in 0..6 {
                        // SAFETY: `b` points at six elements.
                        let bj = $broadcast(unsafe { &*b.add(j) });
                        c[2 * j] = $fmadd(a0, bj, c[2 * j]);
                        c[2 * j + 1] = $fmadd(a1, bj, c[2 * j + 1]);
                    }
                }
                for (i, v) in c.iter().enumerate() {
                    // SAFETY: the assertion above keeps every write inside `tile`.
                    unsafe { $store(tile.as_mut_ptr().add(i * $lanes), *v) };
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx512f")]
            unsafe fn micro_kernel_avx512(
                kc: usize,
                a: &[Self],
                b: &[Self],
                out: *mut Self,
                ldc: usize,
                alpha: Self,
                beta: Self,
            ) {
                use std::arch::x86_64::*;
                const NR: usize = 8;
                const PREFETCH: usize = 8;
                assert!(a.len() >= kc * $mr512 && b.len() >= kc * NR);
                let mut c = [$zero512(); 2 * NR];
                let (a, b) = (a.as_ptr(), b.as_ptr());
                for p in 0..kc {
                    // SAFETY: the assertion above keeps every read inside `a` and `b`.
                    unsafe {
                        let a = a.add(p * $mr512);
                        // `wrapping_add`: near the panel's end the prefetched address lies
                        // past it (a prefetch never faults, but `add` must stay in bounds).
                        let ahead = a.wrapping_add(PREFETCH * $mr512);
                        _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
                        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add($lanes512).cast());
                        let (a0, a1) = ($load512(a), $load512(a.add($lanes512)));
                        let b = b.add(p * NR);
                        for j in 0..NR {
                            let bj = $set1_512(*b.add(j));
                            c[2 * j] = $fmadd512(a0, bj, c[2 * j]);
                            c[2 * j + 1] = $fmadd512(a1, bj, c[2 * j + 1]);
                        }
                    }
                }
                let alpha = $set1_512(alpha);
                for (j, column) in c.chunks_exact(2).enumerate() {
                    for (h, &v) in column.iter().enumerate() {
                        // SAFETY: the caller's contract: MR elements at `out + j * ldc`.
                        unsafe {
                            let at = out.add(j * ldc + h * $lanes512);
                            let v = $mul512(alpha, v);
                            if beta == 0.0 {
                                $store512(at, v);
                            } else {
                                $store512(at, $fmadd512($set1_512(beta), $load512(at), v));
                            }
                        }
                    }
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            unsafe fn gemv_avx512<const O: usize, const I: usize>(
                w: &[Self],
                x: &[Self],
                y: &mut [Self],
            ) {
                use std::arch::x86_64::*;
                const L: usize = $glanes;

                /// Rows `r0..r0 + rows` of `y += W x`, `NV` vectors of rows, the columns
                /// dealt round-robin to `G` sets of accumulators.
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                #[inline]
                unsafe fn block<const NV: usize, const G: usize, const O: usize, const I: usize>(
                    r0: usize,
                    rows: usize,
                    w: *const $ty,
                    x: *const $ty,
                    y: *mut $ty,
                ) {
                    let masks: [$gmask; NV] = std::array::from_fn(|v| {
                        let n = rows.saturating_sub(v * L).min(L) as u32;
                        ((1u32 << n) - 1) as $gmask
                    });
                    let mut acc = [[$gzero(); NV]; G];
                    let mut c = 0;
                    // SAFETY (both loops): `c + g < I` and the masks keep every load inside
                    // column `c + g` of `W` (rows `r0..r0 + rows`), and `x[c + g]` exists.
                    while c + G <= I {
                        for (g, acc) in acc.iter_mut().enumerate() {
                            let xb = $gset1(unsafe { *x.add(c + g) });
                            let column = unsafe { w.add((c + g) * O + r0) };
                            for (v, acc) in acc.iter_mut().enumerate() {
                                let wv = unsafe { $gmaskz_load(masks[v], column.add(v * L)) };
                                *acc = $gfmadd(wv, xb, *acc);
                            }
                        }
                        c += G;
                    }
                    while c < I {
                        let xb = $gset1(unsafe { *x.add(c) });
                        let column = unsafe { w.add(c * O + r0) };
                        for (v, acc) in acc[0].iter_mut().enumerate() {
                            let wv = unsafe { $gmaskz_load(masks[v], column.add(v * L)) };
                            *acc = $gfmadd(wv, xb, *acc);
                        }
                        c += 1;
                    }
                    for v in 0..NV {
                        let sum = acc[1..].iter().fold(acc[0][v], |s, a| $gadd(s, a[v]));
                        let n = rows.saturating_sub(v * L).min(L);
                        // SAFETY: `n` keeps the accesses inside `y[r0..r0 + rows]`.
                        unsafe {
                            let out = y.add(r0 + v * L);
                            if n == L {
                                $gstore(out, $gadd(sum, $gload(out)));
                            } else {
                                // Not a masked store: a masked store's value is not forwarded
                                // to the caller's next loads, which then stall.
                                let mut lanes = [0.0; L];
                                $gstore(lanes.as_mut_ptr(), sum);
                                let out = std::slice::from_raw_parts_mut(out, n);
                                for (o, &s) in out.iter_mut().zip(&lanes) {
                                    *o += s;
                                }
                            }
                        }
                    }
                }

                assert!(w.len() >= O * I && x.len() >= I && y.len() >= O);
                let (w, x, y) = (w.as_ptr(), x.as_ptr(), y.as_mut_ptr());
                let mut r0 = 0;
                while r0 < O {
                    let rows = (O - r0).min(8 * L);
                    // SAFETY: the assertion above; each block stays inside rows r0..r0 + rows.
                    unsafe {
                        match rows.div_ceil(L) {
                            1 => block::<1, 8, O, I>(r0, rows, w, x, y),
                            2 => block::<2, 4, O, I>(r0, rows, w, x, y),
                            3 => block::<3, 3, O, I>(r0, rows, w, x, y),
                            4 => block::<4, 2, O, I>(r0, rows, w, x, y),
                            5 => block::<5, 2, O, I>(r0, rows, w, x, y),
                            6 => block::<6, 2, O, I>(r0, rows, w, x, y),
                            7 => block::<7, 2, O, I>(r0, rows, w, x, y),
                            _ => block::<8, 2, O, I>(r0, rows, w, x, y),
                        }
                    }
                    r0 += rows;
                }
            }

            fn with_pack_buffers<R>(
                a_len: usize,
                b_len: usize,
                f: impl FnOnce(&mut [Self], &mut [Self]) -> R,
            ) -> R {
                thread_local! {
                    static PACK: RefCell<(Vec<$ty>, Vec<$ty>)> =
                        const { RefCell::new((Vec::new(), Vec::new())) };
                }
                PACK.with(|pack| {
                    let mut pack = pack.borrow_mut();
                    let (a, b) = &mut *pack;
                    f(cache_line_aligned(a, a_len), cache_line_aligned(b, b_len))
                })
            }

            #[inline(always)]
            fn of_f64($x: f64) -> Self {
                $of_f64
            }

            #[inline(always)]
            fn as_f64(self) -> f64 {
                f64::from(self)
            }
        }
    };
}

impl_float!(f32,
    avx2: [16, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_broadcast_ss, _mm256_fmadd_ps,
        _mm256_storeu_ps],
    avx512: [32, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps,
        _mm512_storeu_ps, _mm512_mul_ps],
    gemv: [8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps,
        _mm256_storeu_ps, __mmask8, _mm256_maskz_loadu_ps, _mm256_add_ps],
    of_f64: |x| x as f32);
impl_float!(f64,
    avx2: [8, 4, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_broadcast_sd, _mm256_fmadd_pd,
        _mm256_storeu_pd],
    avx512: [16, 8, _mm512_setzero_pd, _mm512_loadu_pd, _mm512_set1_pd, _mm512_fmadd_pd,
        _mm512_storeu_pd, _mm512_mul_pd],
    gemv: [4, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_set1_pd, _mm256_fmadd_pd,
        _mm256_storeu_pd, __mmask8, _mm256_maskz_loadu_pd, _mm256_add_pd],
    of_f64: |x| x);
