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

    /// The AVX-512 micro-kernel: as [`Float::micro_kernel_avx2_fma`] with an `MR x 8` tile,
    /// `MR` 32 for `f32` and 16 for `f64` (two 512-bit registers per column of the tile).
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[doc(hidden)]
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn micro_kernel_avx512(kc: usize, a: &[Self], b: &[Self], tile: &mut [Self]);

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
     $fmadd512:ident, $store512:ident],
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
            unsafe fn micro_kernel_avx512(kc: usize, a: &[Self], b: &[Self], tile: &mut [Self]) {
                use std::arch::x86_64::*;
                const NR: usize = 8;
                assert!(a.len() >= kc * $mr512 && b.len() >= kc * NR && tile.len() >= $mr512 * NR);
                let mut c = [$zero512(); 2 * NR];
                let (a, b) = (a.as_ptr(), b.as_ptr());
                for p in 0..kc {
                    // SAFETY: the assertion above keeps every read inside `a` and `b`.
                    unsafe {
                        let a = a.add(p * $mr512);
                        let (a0, a1) = ($load512(a), $load512(a.add($lanes512)));
                        let b = b.add(p * NR);
                        for j in 0..NR {
                            let bj = $set1_512(*b.add(j));
                            c[2 * j] = $fmadd512(a0, bj, c[2 * j]);
                            c[2 * j + 1] = $fmadd512(a1, bj, c[2 * j + 1]);
                        }
                    }
                }
                for (i, v) in c.iter().enumerate() {
                    // SAFETY: the assertion above keeps every write inside `tile`.
                    unsafe { $store512(tile.as_mut_ptr().add(i * $lanes512), *v) };
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
        _mm512_storeu_ps],
    of_f64: |x| x as f32);
impl_float!(f64,
    avx2: [8, 4, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_broadcast_sd, _mm256_fmadd_pd,
        _mm256_storeu_pd],
    avx512: [16, 8, _mm512_setzero_pd, _mm512_loadu_pd, _mm512_set1_pd, _mm512_fmadd_pd,
        _mm512_storeu_pd],
    of_f64: |x| x);
