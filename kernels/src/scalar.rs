//! The scalar types the kernels compute in, `f32` and `f64`, with their vector operations
//! and micro-kernels.

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::Compiled;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The AVX-512 vector of a scalar type and the few operations the small-product kernels
/// (`kernels::small`) are written in, so that one generic kernel serves `f32` and `f64`.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod lanes {
    use std::arch::x86_64::*;

    /// A scalar's 512-bit vector: `VECTOR_LEN` elements. Every method needs AVX-512F.
    pub trait Lanes: Copy {
        /// The 256-bit vectors of the same scalar, for the small-product kernels on CPUs
        /// with AVX2 but not AVX-512: [`Avx2`].
        type Narrow: Simd<Self>;
        /// The vector type.
        type V: Copy;
        /// Elements per vector.
        const VECTOR_LEN: usize;
        /// All lanes zero.
        unsafe fn zeros() -> Self::V;
        /// All lanes `x`.
        unsafe fn broadcast(x: Self) -> Self::V;
        /// All lanes the element at `p`, read by a load of that element alone. From a
        /// scalar load LLVM may make a wider one (8 bytes at `p`), which can span two of the
        /// caller's stores of a freshly written sample; such a load is not forwarded from
        /// them and waits until they reach the cache.
        unsafe fn broadcast_at(p: *const Self) -> Self::V;
        /// The first `n` (at most `VECTOR_LEN`) elements at `p`, zero in the other lanes; only
        /// those `n` elements are read.
        unsafe fn load_first(n: usize, p: *const Self) -> Self::V;
        /// `VECTOR_LEN` elements at `p`.
        unsafe fn load(p: *const Self) -> Self::V;
        /// Writes the first `n` lanes of `v` to `p`.
        unsafe fn store_first(n: usize, p: *mut Self, v: Self::V);
        /// `a * b + c`, fused.
        unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
        /// `a * b`.
        unsafe fn product(a: Self::V, b: Self::V) -> Self::V;
        /// The sum of the lanes of each of 16 vectors.
        unsafe fn lane_sums(v: &[Self::V; 16]) -> [Self; 16];
        /// `max(0, v)` in every lane (0 where `v` is NaN, as the scalar ReLU).
        unsafe fn relu(v: Self::V) -> Self::V;
        /// `v` in the lanes where `gate` is positive, 0 in the others.
        unsafe fn keep_where_positive(v: Self::V, gate: Self::V) -> Self::V;
        /// Bit `l` set where lane `l` of `v` is positive.
        unsafe fn positive_bits(v: Self::V) -> u32;
        /// `v` in the lanes whose bit of `bits` is set, 0 in the others.
        unsafe fn keep_lanes(v: Self::V, bits: u32) -> Self::V;
        /// `a + b`.
        unsafe fn sum(a: Self::V, b: Self::V) -> Self::V;
        /// The indices for [`permute`](Self::permute) that put element `first + l / repeat`
        /// in lane `l`.
        unsafe fn spread_index(first: usize, repeat: usize) -> __m512i;
        /// Lane `l` of the result is lane `index[l]` of `v`.
        unsafe fn permute(index: __m512i, v: Self::V) -> Self::V;
        /// Lane `l` of the result is `v[l] + v[l ^ apart]`, for `apart` a power of two below
        /// `VECTOR_LEN`: folding with `apart` = `VECTOR_LEN / 2`, ..., `n` leaves in lane `l <
        /// n` the sum of the lanes congruent to `l` modulo `n`.
        unsafe fn fold(v: Self::V, apart: usize) -> Self::V;
        /// `VECTOR_LEN` elements at `p`, read as two 256-bit halves: a load that a pair of
        /// 256-bit stores can forward to, where one 512-bit load would wait for both to
        /// reach the cache.
        unsafe fn load_halves(p: *const Self) -> Self::V;
        /// Writes `v` to `p` as two 256-bit halves, which the caller's 256-bit loads (the
        /// copies of a returned vector, say) are forwarded.
        unsafe fn store_halves(p: *mut Self, v: Self::V);
    }

    macro_rules! impl_lanes {
        ($ty:ty, $v:ty, $lanes:literal, $mask:ty, $zero:ident, $set1:ident, $maskz_load:ident,
         $load:ident, $mask_store:ident, $store:ident, $fmadd:ident, $mul:ident,
         $max:ident, $cmp_mask:ident, $maskz_mov:ident, $lane_sums:ident, $add:ident,
         $index:ty, $load_index:ident, $permutexvar:ident, $fold:ident,
         $load_halves:ident, $store_halves:ident, $broadcast_at:literal) => {
            impl Lanes for $ty {
                type Narrow = Avx2;
                type V = $v;
                const VECTOR_LEN: usize = $lanes;
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn zeros() -> $v {
                    $zero()
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn broadcast(x: $ty) -> $v {
                    $set1(x)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn broadcast_at(p: *const $ty) -> $v {
                    let v: $v;
                    // SAFETY: the caller's contract (`p` points to an element); the
                    // instruction reads that element and writes `v` alone.
                    unsafe {
                        std::arch::asm!(
                            $broadcast_at,
                            v = out(zmm_reg) v,
                            p = in(reg) p,
                            options(pure, readonly, nostack, preserves_flags),
                        );
                    }
                    v
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn load_first(n: usize, p: *const $ty) -> $v {
                    // SAFETY: the mask keeps the read to the caller's `n` elements.
                    unsafe { $maskz_load(((1u32 << n) - 1) as $mask, p) }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn load(p: *const $ty) -> $v {
                    // SAFETY: the caller's contract.
                    unsafe { $load(p) }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn store_first(n: usize, p: *mut $ty, v: $v) {
                    if n == $lanes {
                        // SAFETY: the caller's contract.
                        unsafe { $store(p, v) }
                    } else {
                        // SAFETY: the mask keeps the write to the caller's `n` elements.
                        unsafe { $mask_store(p, ((1u32 << n) - 1) as $mask, v) }
                    }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn fmadd(a: $v, b: $v, c: $v) -> $v {
                    $fmadd(a, b, c)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn product(a: $v, b: $v) -> $v {
                    $mul(a, b)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn lane_sums(v: &[$v; 16]) -> [$ty; 16] {
                    $lane_sums(v)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn relu(v: $v) -> $v {
                    // `max` returns its second operand where either is NaN.
                    $max(v, $zero())
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn keep_where_positive(v: $v, gate: $v) -> $v {
                    $maskz_mov($cmp_mask::<_CMP_GT_OQ>(gate, $zero()), v)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn positive_bits(v: $v) -> u32 {
                    u32::from($cmp_mask::<_CMP_GT_OQ>(v, $zero()))
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn keep_lanes(v: $v, bits: u32) -> $v {
                    $maskz_mov(bits as $mask, v)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn sum(a: $v, b: $v) -> $v {
                    $add(a, b)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn spread_index(first: usize, repeat: usize) -> __m512i {
                    let index: [$index; $lanes] =
                        std::array::from_fn(|l| (first + l / repeat) as $index);
                    // SAFETY: `index` holds a whole vector.
                    unsafe { $load_index(index.as_ptr()) }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn permute(index: __m512i, v: $v) -> $v {
                    $permutexvar(index, v)
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn fold(v: $v, apart: usize) -> $v {
                    $add(v, $fold(v, apart))
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn load_halves(p: *const $ty) -> $v {
                    // SAFETY: the caller's contract.
                    unsafe { $load_halves(p) }
                }
                #[inline]
                #[target_feature(enable = "avx512f")]
                unsafe fn store_halves(p: *mut $ty, v: $v) {
                    // SAFETY: the caller's contract.
                    unsafe { $store_halves(p, v) }
                }
            }
        };
    }

    impl_lanes!(
        f32,
        __m512,
        16,
        __mmask16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_maskz_loadu_ps,
        _mm512_loadu_ps,
        _mm512_mask_storeu_ps,
        _mm512_storeu_ps,
        _mm512_fmadd_ps,
        _mm512_mul_ps,
        _mm512_max_ps,
        _mm512_cmp_ps_mask,
        _mm512_maskz_mov_ps,
        tree_sums_f32,
        _mm512_add_ps,
        i32,
        _mm512_loadu_epi32,
        _mm512_permutexvar_ps,
        swapped_f32,
        load_halves_f32,
        store_halves_f32,
        "vbroadcastss {v}, dword ptr [{p}]"
    );
    impl_lanes!(
        f64,
        __m512d,
        8,
        __mmask8,
        _mm512_setzero_pd,
        _mm512_set1_pd,
        _mm512_maskz_loadu_pd,
        _mm512_loadu_pd,
        _mm512_mask_storeu_pd,
        _mm512_storeu_pd,
        _mm512_fmadd_pd,
        _mm512_mul_pd,
        _mm512_max_pd,
        _mm512_cmp_pd_mask,
        _mm512_maskz_mov_pd,
        sums_one_by_one_f64,
        _mm512_add_pd,
        i64,
        _mm512_loadu_epi64,
        _mm512_permutexvar_pd,
        swapped_f64,
        load_halves_f64,
        store_halves_f64,
        "vbroadcastsd {v}, qword ptr [{p}]"
    );

    /// The vector operations of the small-product kernels (`kernels::small`) for one
    /// instruction set, named by a marker type: [`Avx512`] (the [`Lanes`] above) or [`Avx2`]
    /// (256-bit vectors), so that each kernel is written once for both. Every method is
    /// `#[inline(always)]`, to be inlined into a kernel that is itself inlined into a
    /// function enabling the set, and needs that set.
    pub trait Simd<T>: Copy {
        /// The vector type.
        type V: Copy;
        /// Elements per vector.
        const LEN: usize;
        /// Vector registers: 32 with AVX-512, 16 with AVX2. The kernels size their blocks of
        /// accumulators to them.
        const REGISTERS: usize;
        /// As [`Lanes::zeros`] (and each method below as its namesake there), for this
        /// set's vectors.
        unsafe fn zeros() -> Self::V;
        unsafe fn broadcast(x: T) -> Self::V;
        unsafe fn broadcast_at(p: *const T) -> Self::V;
        unsafe fn load_first(n: usize, p: *const T) -> Self::V;
        unsafe fn load(p: *const T) -> Self::V;
        unsafe fn store_first(n: usize, p: *mut T, v: Self::V);
        unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
        unsafe fn product(a: Self::V, b: Self::V) -> Self::V;
        unsafe fn lane_sums(v: &[Self::V; 16]) -> [T; 16];
        unsafe fn relu(v: Self::V) -> Self::V;
        unsafe fn keep_where_positive(v: Self::V, gate: Self::V) -> Self::V;
        unsafe fn positive_bits(v: Self::V) -> u32;
        unsafe fn keep_lanes(v: Self::V, bits: u32) -> Self::V;
    }

    /// AVX-512F's vectors: [`Lanes`].
    #[derive(Clone, Copy)]
    pub struct Avx512;

    impl<T: Lanes> Simd<T> for Avx512 {
        type V = T::V;
        const LEN: usize = T::VECTOR_LEN;
        const REGISTERS: usize = 32;
        #[inline(always)]
        unsafe fn zeros() -> T::V {
            // SAFETY: the caller's contract (here and below).
            unsafe { T::zeros() }
        }
        #[inline(always)]
        unsafe fn broadcast(x: T) -> T::V {
            unsafe { T::broadcast(x) }
        }
        #[inline(always)]
        unsafe fn broadcast_at(p: *const T) -> T::V {
            unsafe { T::broadcast_at(p) }
        }
        #[inline(always)]
        unsafe fn load_first(n: usize, p: *const T) -> T::V {
            unsafe { T::load_first(n, p) }
        }
        #[inline(always)]
        unsafe fn load(p: *const T) -> T::V {
            unsafe { T::load(p) }
        }
        #[inline(always)]
        unsafe fn store_first(n: usize, p: *mut T, v: T::V) {
            unsafe { T::store_first(n, p, v) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: T::V, b: T::V, c: T::V) -> T::V {
            unsafe { T::fmadd(a, b, c) }
        }
        #[inline(always)]
        unsafe fn product(a: T::V, b: T::V) -> T::V {
            unsafe { T::product(a, b) }
        }
        #[inline(always)]
        unsafe fn lane_sums(v: &[T::V; 16]) -> [T; 16] {
            unsafe { T::lane_sums(v) }
        }
        #[inline(always)]
        unsafe fn relu(v: T::V) -> T::V {
            unsafe { T::relu(v) }
        }
        #[inline(always)]
        unsafe fn keep_where_positive(v: T::V, gate: T::V) -> T::V {
            unsafe { T::keep_where_positive(v, gate) }
        }
        #[inline(always)]
        unsafe fn positive_bits(v: T::V) -> u32 {
            unsafe { T::positive_bits(v) }
        }
        #[inline(always)]
        unsafe fn keep_lanes(v: T::V, bits: u32) -> T::V {
            unsafe { T::keep_lanes(v, bits) }
        }
    }

    /// AVX2's 256-bit vectors, with FMA. Their masked loads and stores take a vector of
    /// lane masks, made by comparing the lane indices with the count.
    #[derive(Clone, Copy)]
    pub struct Avx2;

    macro_rules! impl_avx2 {
        ($ty:ty, $v:ty, $lanes:literal, $zero:ident, $set1:ident, $loadu:ident,
         $storeu:ident, $maskload:ident, $maskstore:ident, $fmadd:ident, $mul:ident,
         $max:ident, $cmp:ident, $and:ident, $movemask:ident, $from_int:ident,
         $first_lanes:ident, $bit_lanes:ident, $lane_sum:ident, $broadcast_at:literal) => {
            impl Simd<$ty> for Avx2 {
                type V = $v;
                const LEN: usize = $lanes;
                const REGISTERS: usize = 16;
                #[inline(always)]
                unsafe fn zeros() -> $v {
                    // SAFETY: the caller's contract: the CPU has AVX2 (here and below).
                    unsafe { $zero() }
                }
                #[inline(always)]
                unsafe fn broadcast(x: $ty) -> $v {
                    unsafe { $set1(x) }
                }
                #[inline]
                #[target_feature(enable = "avx")]
                unsafe fn broadcast_at(p: *const $ty) -> $v {
                    let v: $v;
                    // SAFETY: as `Lanes::broadcast_at`'s, in a 256-bit register.
                    unsafe {
                        std::arch::asm!(
                            $broadcast_at,
                            v = out(ymm_reg) v,
                            p = in(reg) p,
                            options(pure, readonly, nostack, preserves_flags),
                        );
                    }
                    v
                }
                #[inline(always)]
                unsafe fn load_first(n: usize, p: *const $ty) -> $v {
                    if n == $lanes {
                        // A whole vector: a plain load, which the next step need not wait
                        // for as long (Zen 1's masked load is much the slower).
                        unsafe { $loadu(p) }
                    } else {
                        // SAFETY: the mask keeps the read to the caller's `n` elements
                        // (masked lanes are not read, and cannot fault).
                        unsafe { $maskload(p, $first_lanes(n)) }
                    }
                }
                #[inline(always)]
                unsafe fn load(p: *const $ty) -> $v {
                    unsafe { $loadu(p) }
                }
                #[inline(always)]
                unsafe fn store_first(n: usize, p: *mut $ty, v: $v) {
                    if n == $lanes {
                        unsafe { $storeu(p, v) }
                    } else {
                        // SAFETY: the mask keeps the write to the caller's `n` elements.
                        unsafe { $maskstore(p, $first_lanes(n), v) }
                    }
                }
                #[inline(always)]
                unsafe fn fmadd(a: $v, b: $v, c: $v) -> $v {
                    unsafe { $fmadd(a, b, c) }
                }
                #[inline(always)]
                unsafe fn product(a: $v, b: $v) -> $v {
                    unsafe { $mul(a, b) }
                }
                #[inline(always)]
                unsafe fn lane_sums(v: &[$v; 16]) -> [$ty; 16] {
                    // A loop, not `from_fn`: a closure would not inherit the caller's
                    // instruction set, and the sums would stay calls.
                    let mut sums = [0.0; 16];
                    for (sum, &v) in sums.iter_mut().zip(v) {
                        *sum = unsafe { $lane_sum(v) };
                    }
                    sums
                }
                #[inline(always)]
                unsafe fn relu(v: $v) -> $v {
                    // `max` returns its second operand where either is NaN.
                    unsafe { $max(v, $zero()) }
                }
                #[inline(always)]
                unsafe fn keep_where_positive(v: $v, gate: $v) -> $v {
                    unsafe { $and(v, $cmp::<_CMP_GT_OQ>(gate, $zero())) }
                }
                #[inline(always)]
                unsafe fn positive_bits(v: $v) -> u32 {
                    unsafe { $movemask($cmp::<_CMP_GT_OQ>(v, $zero())) as u32 }
                }
                #[inline(always)]
                unsafe fn keep_lanes(v: $v, bits: u32) -> $v {
                    unsafe { $and(v, $from_int($bit_lanes(bits))) }
                }
            }
        };
    }

    impl_avx2!(
        f32,
        __m256,
        8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_maskload_ps,
        _mm256_maskstore_ps,
        _mm256_fmadd_ps,
        _mm256_mul_ps,
        _mm256_max_ps,
        _mm256_cmp_ps,
        _mm256_and_ps,
        _mm256_movemask_ps,
        _mm256_castsi256_ps,
        first_lanes_32,
        bit_lanes_32,
        lane_sum_f32,
        "vbroadcastss {v}, dword ptr [{p}]"
    );
    impl_avx2!(
        f64,
        __m256d,
        4,
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_maskload_pd,
        _mm256_maskstore_pd,
        _mm256_fmadd_pd,
        _mm256_mul_pd,
        _mm256_max_pd,
        _mm256_cmp_pd,
        _mm256_and_pd,
        _mm256_movemask_pd,
        _mm256_castsi256_pd,
        first_lanes_64,
        bit_lanes_64,
        lane_sum_f64,
        "vbroadcastsd {v}, qword ptr [{p}]"
    );

    /// 32-bit lanes `0..n` all ones, the others zero: the mask of a masked load or store.
    #[inline(always)]
    unsafe fn first_lanes_32(n: usize) -> __m256i {
        // SAFETY: the caller's contract: the CPU has AVX2.
        unsafe {
            let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), index)
        }
    }

    /// [`first_lanes_32`] for 64-bit lanes.
    #[inline(always)]
    unsafe fn first_lanes_64(n: usize) -> __m256i {
        // SAFETY: the caller's contract: the CPU has AVX2.
        unsafe { _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), _mm256_setr_epi64x(0, 1, 2, 3)) }
    }

    /// 32-bit lane `l` all ones where bit `l` of `bits` is set, zero elsewhere.
    #[inline(always)]
    unsafe fn bit_lanes_32(bits: u32) -> __m256i {
        // SAFETY: the caller's contract: the CPU has AVX2.
        unsafe {
            let each = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
            let set = _mm256_and_si256(_mm256_set1_epi32(bits as i32), each);
            _mm256_cmpeq_epi32(set, each)
        }
    }

    /// [`bit_lanes_32`] for 64-bit lanes.
    #[inline(always)]
    unsafe fn bit_lanes_64(bits: u32) -> __m256i {
        // SAFETY: the caller's contract: the CPU has AVX2.
        unsafe {
            let each = _mm256_setr_epi64x(1, 2, 4, 8);
            let set = _mm256_and_si256(_mm256_set1_epi64x(i64::from(bits)), each);
            _mm256_cmpeq_epi64(set, each)
        }
    }

    /// The sum of the 8 lanes of `v`.
    #[inline(always)]
    unsafe fn lane_sum_f32(v: __m256) -> f32 {
        // SAFETY: the caller's contract: the CPU has AVX2.
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
        }
    }

    /// The sum of the 4 lanes of `v`.
    #[inline(always)]
    unsafe fn lane_sum_f64(v: __m256d) -> f64 {
        // SAFETY: the caller's contract: the CPU has AVX2.
        unsafe {
            let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }

    /// [`Lanes::load_halves`] for `f32`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load_halves_f32(p: *const f32) -> __m512 {
        // SAFETY: the caller's contract: 16 elements at `p`.
        unsafe {
            let low = _mm256_castps_pd(_mm256_loadu_ps(p));
            let high = _mm256_castps_pd(_mm256_loadu_ps(p.add(8)));
            _mm512_castpd_ps(_mm512_insertf64x4::<1>(_mm512_castpd256_pd512(low), high))
        }
    }

    /// [`Lanes::store_halves`] for `f32`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store_halves_f32(p: *mut f32, v: __m512) {
        // SAFETY: the caller's contract: 16 elements at `p`.
        unsafe {
            _mm256_storeu_ps(p, _mm512_castps512_ps256(v));
            let high = _mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v));
            _mm256_storeu_ps(p.add(8), _mm256_castpd_ps(high));
        }
    }

    /// [`Lanes::load_halves`] for `f64`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load_halves_f64(p: *const f64) -> __m512d {
        // SAFETY: the caller's contract: 8 elements at `p`.
        unsafe {
            let (low, high) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)));
            _mm512_insertf64x4::<1>(_mm512_castpd256_pd512(low), high)
        }
    }

    /// [`Lanes::store_halves`] for `f64`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store_halves_f64(p: *mut f64, v: __m512d) {
        // SAFETY: the caller's contract: 8 elements at `p`.
        unsafe {
            _mm256_storeu_pd(p, _mm512_castpd512_pd256(v));
            _mm256_storeu_pd(p.add(4), _mm512_extractf64x4_pd::<1>(v));
        }
    }

    /// `v` with lane `l` moved to lane `l ^ apart` (`apart` 8, 4, 2 or 1), for
    /// [`Lanes::fold`]: 128-bit blocks swap for 8 and 4, lanes within them for 2 and 1.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn swapped_f32(v: __m512, apart: usize) -> __m512 {
        match apart {
            8 => _mm512_shuffle_f32x4::<0x4E>(v, v),
            4 => _mm512_shuffle_f32x4::<0xB1>(v, v),
            2 => _mm512_permute_ps::<0x4E>(v),
            _ => _mm512_permute_ps::<0xB1>(v),
        }
    }

    /// [`swapped_f32`] for `f64` (`apart` 4, 2 or 1).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn swapped_f64(v: __m512d, apart: usize) -> __m512d {
        match apart {
            4 => _mm512_shuffle_f64x2::<0x4E>(v, v),
            2 => _mm512_shuffle_f64x2::<0xB1>(v, v),
            _ => _mm512_permute_pd::<0x55>(v),
        }
    }

    /// [`Lanes::lane_sums`] for `f32`: 16 vectors reduced together in a tree of 15
    /// shuffle-and-add steps (each halving the lanes every vector occupies), instead of 16
    /// reductions of 8 dependent steps each. Level by level, the pairs combined hold the
    /// partial sums of 1, 2, 4 and 8 vectors, in halves, quarters, then pairs and single
    /// lanes of each quarter; the last vector has the total of vector `4r + q` in lane `4q +
    /// r`, so the inputs go in with those two indices swapped.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn tree_sums_f32(v: &[__m512; 16]) -> [f32; 16] {
        let level0: [__m512; 16] = std::array::from_fn(|j| v[4 * (j % 4) + j / 4]);
        // Halves: lanes 0-7 of pair i are partial sums of vector 2i, lanes 8-15 of 2i + 1.
        let level1: [__m512; 8] = std::array::from_fn(|i| {
            let (x, y) = (level0[2 * i], level0[2 * i + 1]);
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0x44>(x, y),
                _mm512_shuffle_f32x4::<0xEE>(x, y),
            )
        });
        // Quarters: quarter q of vector i holds partial sums of input 4i + q.
        let level2: [__m512; 4] = std::array::from_fn(|i| {
            let (x, y) = (level1[2 * i], level1[2 * i + 1]);
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0x88>(x, y),
                _mm512_shuffle_f32x4::<0xDD>(x, y),
            )
        });
        // Pairs of lanes within each quarter, then single lanes.
        let level3: [__m512; 2] = std::array::from_fn(|i| {
            let (x, y) = (level2[2 * i], level2[2 * i + 1]);
            _mm512_add_ps(
                _mm512_shuffle_ps::<0x44>(x, y),
                _mm512_shuffle_ps::<0xEE>(x, y),
            )
        });
        let total = _mm512_add_ps(
            _mm512_shuffle_ps::<0x88>(level3[0], level3[1]),
            _mm512_shuffle_ps::<0xDD>(level3[0], level3[1]),
        );
        let mut sums = [0.0f32; 16];
        // SAFETY: `sums` holds 16 floats.
        unsafe { _mm512_storeu_ps(sums.as_mut_ptr(), total) };
        sums
    }

    /// [`Lanes::lane_sums`] for `f64` (used in gradient checks, not on a hot path).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sums_one_by_one_f64(v: &[__m512d; 16]) -> [f64; 16] {
        std::array::from_fn(|j| _mm512_reduce_add_pd(v[j]))
    }
}

/// No vector operations off x86-64: the small-product kernels are not compiled there.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) mod lanes {
    /// Empty off x86-64.
    pub trait Lanes {}
    impl Lanes for f32 {}
    impl Lanes for f64 {}
}

/// A scalar the kernels compute in: `f32` or `f64` (sealed). constnet's `Float` extends it.
///
/// Code generic over it can run products (it extends [`Compiled`]):
///
/// ```
/// use constnet_kernels::{Epilogue, Operand, OperandMut, Product, Scalar, detect_isa};
/// /// `x . y`, as a 1 x k by k x 1 product.
/// fn dot<T: Scalar>(x: &[T], y: &[T]) -> T {
///     let mut c = [T::ZERO];
///     T::matrix_product(Product {
///         isa: detect_isa(), m: 1, k: x.len(), n: 1,
///         alpha: T::ONE, a: Operand::new(x, 1, 1), b: Operand::new(y, 1, y.len()),
///         beta: T::ZERO, bias: None, epilogue: Epilogue::None, c: OperandMut::new(&mut c, 1, 1),
///     });
///     c[0]
/// }
/// assert_eq!(dot(&[1.0f32, 2.0], &[3.0, 4.0]), 11.0);
/// assert_eq!(dot(&[1.0f64, 2.0, 3.0], &[1.0, 1.0, 1.0]), 6.0);
/// ```
pub trait Scalar:
    Copy
    + Default
    + Debug
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + sealed::Sealed
    + lanes::Lanes
    + Compiled
{
    /// Zero.
    ///
    /// ```
    /// use constnet_kernels::Scalar;
    /// fn sum<T: Scalar>(x: &[T]) -> T {
    ///     x.iter().fold(T::ZERO, |s, &v| s + v)
    /// }
    /// assert_eq!(sum::<f32>(&[]), 0.0);
    /// assert_eq!(sum(&[1.0f64, 2.0]), 3.0);
    /// ```
    const ZERO: Self;
    /// One.
    ///
    /// ```
    /// use constnet_kernels::Scalar;
    /// assert_eq!(f32::ONE * 2.5, 2.5);
    /// assert_eq!(f64::ONE - f64::ONE, f64::ZERO);
    /// ```
    const ONE: Self;
    /// `self * a + b` with one rounding.
    ///
    /// `(1 + e) (1 - e) - 1` with `e = 2^-30` is `-2^-60`, which the separate product loses
    /// (`1 - 2^-60` rounds to 1):
    ///
    /// ```
    /// use constnet_kernels::Scalar;
    /// let e = 2.0f64.powi(-30);
    /// assert_eq!((1.0 + e).fused_mul_add(1.0 - e, -1.0), -(2.0f64.powi(-60)));
    /// assert_eq!((1.0 + e) * (1.0 - e) - 1.0, 0.0);
    /// assert_eq!(2.0f32.fused_mul_add(3.0, 1.0), 7.0);
    /// ```
    fn fused_mul_add(self, a: Self, b: Self) -> Self;
    /// Runs `f` with this thread's two packing buffers for matrix products, grown to at
    /// least `a_len` and `b_len` elements. They are allocated on first use and reused after.
    ///
    /// ```
    /// use constnet_kernels::Scalar;
    /// let total = f32::with_pack_buffers(3, 5, |a, b| {
    ///     assert!(a.len() >= 3 && b.len() >= 5);
    ///     // Both start on a cache line.
    ///     assert!(a.as_ptr().addr() % 64 == 0 && b.as_ptr().addr() % 64 == 0);
    ///     a[..3].fill(1.0);
    ///     b[..5].fill(2.0);
    ///     a[..3].iter().chain(&b[..5]).sum::<f32>()
    /// });
    /// assert_eq!(total, 13.0);
    /// ```
    fn with_pack_buffers<R>(
        a_len: usize,
        b_len: usize,
        f: impl FnOnce(&mut [Self], &mut [Self]) -> R,
    ) -> R;

    /// Transposes an 8 x 8 block: `dst[q * dst_stride + i] = src[i * src_stride + q]` for
    /// `i, q < 8`, in vector registers (the packing of a product's transposed operands).
    ///
    /// # Safety
    /// The CPU must support AVX2, and both blocks must be inside their allocations.
    ///
    /// # Examples
    ///
    /// The first 8 columns of an 8 x 10 row-major block:
    ///
    /// ```
    /// use constnet_kernels::{AVX2, Scalar, detect_isa};
    /// let src: Vec<f32> = (0..80).map(|v| v as f32).collect();
    /// let mut dst = [0.0f32; 64];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() >= AVX2 {
    ///     // SAFETY: the CPU has AVX2; the source's 8 rows of 8, 10 apart, are inside `src`
    ///     // and the destination's 8 rows of 8 fill `dst`.
    ///     unsafe { f32::transpose_8x8_avx2(src.as_ptr(), 10, dst.as_mut_ptr(), 8) };
    ///     for (i, q) in (0..8).flat_map(|i| (0..8).map(move |q| (i, q))) {
    ///         assert_eq!(dst[q * 8 + i], src[i * 10 + q]);
    ///     }
    /// }
    /// ```
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn transpose_8x8_avx2(
        src: *const Self,
        src_stride: usize,
        dst: *mut Self,
        dst_stride: usize,
    );

    /// The AVX2 micro-kernel, `MR x 6` with `MR` 16 for `f32` and 8 for `f64` (two 256-bit
    /// registers per column of the tile): `C = alpha * A_panel B_panel + beta * C` (plus the
    /// bias, then the ReLU, where [`TileOut`] has them) for the tile of `C` whose column `j`
    /// starts at `tile.c + j * tile.ldc` (rows contiguous; `C` is not read when `beta` is
    /// zero). Step `p` of `A_panel` is the `MR` elements at `a[p * lda..]`:
    /// `lda` is `MR` for a packed panel, or the column stride of a column-major `A` read in
    /// place. Element `(p, j)` of `B_panel` is `b[p * step + j * stride]` for `b_steps =
    /// (step, stride)`: `(6, 1)` for a packed panel, `(1, ldb)` for six columns of a
    /// column-major `B` read in place, `(ldb, 1)` for a row-major one.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, and `tile.c` must point at `MR` writable elements
    /// at each of `c`, `c + ldc`, ..., `c + 5 ldc`.
    ///
    /// # Examples
    ///
    /// Two steps in `f32`: ones times ones, then rows `0..16` times columns `0..6`, so that
    /// `A_panel B_panel` is `1 + i j` at `(i, j)`; then `C = 2 A_panel B_panel + 3 C` from
    /// `C` all ones:
    ///
    /// ```
    /// use constnet_kernels::{AVX2, Scalar, TileOut, detect_isa};
    /// let a = [[1.0f32; 16], std::array::from_fn(|i| i as f32)].concat();
    /// let b = [[1.0f32; 6], std::array::from_fn(|j| j as f32)].concat();
    /// let mut c = [1.0f32; 16 * 6];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() >= AVX2 {
    ///     // SAFETY: the CPU has AVX2 and FMA, and `c` holds 6 columns of 16, 16 apart.
    ///     unsafe { f32::micro_kernel_avx2_fma(2, &a, 16, &b, (6, 1), TileOut::new(c.as_mut_ptr(), 16, 2.0, 3.0)) };
    ///     for (j, column) in c.chunks_exact(16).enumerate() {
    ///         for (i, &v) in column.iter().enumerate() {
    ///             assert_eq!(v, 2.0 * (1 + i * j) as f32 + 3.0);
    ///         }
    ///     }
    ///     // The same B read in place from a column-major 2 x 6 matrix (columns 2 apart).
    ///     let b_columns: Vec<f32> = (0..6).flat_map(|j| [1.0, j as f32]).collect();
    ///     let mut d = [1.0f32; 16 * 6];
    ///     // SAFETY: as above; `b_columns` holds six columns of 2, 2 apart.
    ///     unsafe { f32::micro_kernel_avx2_fma(2, &a, 16, &b_columns, (1, 2), TileOut::new(d.as_mut_ptr(), 16, 2.0, 3.0)) };
    ///     assert_eq!(c, d);
    /// }
    /// ```
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn micro_kernel_avx2_fma(
        kc: usize,
        a: &[Self],
        lda: usize,
        b: &[Self],
        b_steps: (usize, usize),
        tile: TileOut<'_, Self>,
    );

    /// The AVX-512 micro-kernel, `MR x NR`, `MR` being `V` 512-bit vectors of rows: `V = 2`
    /// (32 rows of `f32`, 16 of `f64`) with 12 columns, or `V = 4` (64 and 32 rows) with 6,
    /// 24 of the 32 registers for the tile either way. `C = alpha * A_panel B_panel + beta *
    /// C` (plus the bias, then the ReLU, where [`TileOut`] has them) for the tile of `C` whose
    /// column `j` starts at `tile.c + j * tile.ldc` (rows contiguous; `C` is not read when
    /// `beta` is zero). Step `p` of `A_panel` is the `MR` elements at
    /// `a[p * lda..]`: `lda` is `MR` for a packed panel, or the column stride of a
    /// column-major `A` read in place. Element `(p, j)` of `B_panel` is `b[p * step + j *
    /// stride]` for `b_steps = (step, stride)`: `(NR, 1)` for a packed panel, `(1, ldb)` for
    /// `NR` columns of a column-major `B` read in place, `(ldb, 1)` for a row-major one. It
    /// computes the first `N` columns of the tile, `NR` for a whole one, or fewer for the
    /// last few columns of `C` (a batch of 64 is five tiles of 12 and one of 4), with the
    /// same panels.
    ///
    /// The taller tile loads more of `A` a step (four vectors, against two) and fewer
    /// elements of `B` (6 broadcasts, against 12) for the same 24 multiply-adds, and its
    /// panel of `B` is half as large: W2's first layer in place (an Ice Lake core) reached
    /// 174-190 GFLOP/s with it against 154-162 with 32 x 12. (32 x 12 had reached 84-88% of
    /// the peak in L1, against 76-80% for 32 x 8.)
    ///
    /// # Safety
    /// The CPU must support AVX-512F, and `tile.c` must point at `MR` writable elements at
    /// each of `c`, `c + ldc`, ..., `c + (N - 1) ldc`.
    ///
    /// # Panics
    /// If `V` is not 2 or 4, `N` more than the tile's columns, or `a` or `b` shorter than the
    /// steps read.
    ///
    /// # Examples
    ///
    /// `C = 2 A_panel B_panel + 3 C` in `f32`, from `C` all ones, with the two steps of the
    /// [`micro_kernel_avx2_fma`](Self::micro_kernel_avx2_fma) example widened to 32 x 12:
    ///
    /// ```
    /// use constnet_kernels::{AVX512, Scalar, TileOut, detect_isa};
    /// let a = [[1.0f32; 32], std::array::from_fn(|i| i as f32)].concat();
    /// let b = [[1.0f32; 12], std::array::from_fn(|j| j as f32)].concat();
    /// let mut c = vec![1.0f32; 32 * 12];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() == AVX512 {
    ///     // SAFETY: the CPU has AVX-512F, and `c` holds 12 columns of 32, 32 apart.
    ///     unsafe { f32::micro_kernel_avx512::<2, 12>(2, &a, 32, &b, (12, 1), TileOut::new(c.as_mut_ptr(), 32, 2.0, 3.0)) };
    ///     for (j, column) in c.chunks_exact(32).enumerate() {
    ///         for (i, &v) in column.iter().enumerate() {
    ///             assert_eq!(v, 2.0 * (1 + i * j) as f32 + 3.0);
    ///         }
    ///     }
    ///     // The same B read in place: its twelve columns of two, column-major.
    ///     let columns: Vec<f32> = (0..12).flat_map(|j| [1.0, j as f32]).collect();
    ///     let mut d = vec![1.0f32; 32 * 12];
    ///     // SAFETY: as above.
    ///     unsafe { f32::micro_kernel_avx512::<2, 12>(2, &a, 32, &columns, (1, 2), TileOut::new(d.as_mut_ptr(), 32, 2.0, 3.0)) };
    ///     assert_eq!(c, d);
    ///     // Its first 4 columns alone, from the same packed panel.
    ///     let mut e = vec![1.0f32; 32 * 4];
    ///     // SAFETY: as above; `e` holds 4 columns of 32.
    ///     unsafe { f32::micro_kernel_avx512::<2, 4>(2, &a, 32, &b, (12, 1), TileOut::new(e.as_mut_ptr(), 32, 2.0, 3.0)) };
    ///     assert_eq!(e, c[..32 * 4]);
    /// }
    /// ```
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn micro_kernel_avx512<const V: usize, const N: usize>(
        kc: usize,
        a: &[Self],
        lda: usize,
        b: &[Self],
        b_steps: (usize, usize),
        tile: TileOut<'_, Self>,
    );

    /// `y = W x + b` for one sample (then `max(0, y)` when `RELU` is set), with `W` the `O x
    /// I` column-major matrix in `w`, `x` of length `I` and `b` and `y` of length `O`:
    /// register-blocked over up to 8 256-bit vectors of
    /// rows, with enough independent accumulators to keep both FMA pipes busy, and AVX-512VL
    /// masked loads for the rows past the last whole vector (256-bit vectors measured faster
    /// than 512-bit ones for these short products). With `WIDE`, two shapes take 512-bit
    /// kernels instead (rows in whole 512-bit vectors, or a few rows dividing a vector's
    /// lanes): set it where this inlines into code compiled for AVX-512 (a network's AVX-512
    /// copy of its pass), so that one layer's output reaches the next in registers; across
    /// a call from code without AVX-512, their 512-bit stores and loads meet the caller's
    /// narrower copies of the activations, which do not forward (W1 measured 75-79 ns with
    /// them there, against 62-67 without). `FRESH` says `x` is the caller's memory (a
    /// network's first layer): the 512-bit kernels then read each input by a load of its
    /// own, which the caller's stores of a sample written just before forward to.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512VL.
    ///
    /// # Examples
    ///
    /// `W = [1 2 3; 4 5 6]`, `x = [1; 1; -1]` and `b = [0.5; -20]`, without and with the ReLU:
    ///
    /// ```
    /// use constnet_kernels::{AVX512, Scalar, detect_isa};
    /// let (w, x, b) = ([1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0], [1.0f32, 1.0, -1.0], [0.5f32, -20.0]);
    /// let mut y = [0.0f32; 2];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() == AVX512 {
    ///     // SAFETY: the CPU has AVX-512F and AVX-512VL.
    ///     unsafe { f32::gemv_avx512::<2, 3, false, false, false>(&w, &x, &b, &mut y) };
    ///     assert_eq!(y, [0.5, -17.0]);
    ///     // SAFETY: as above.
    ///     unsafe { f32::gemv_avx512::<2, 3, true, false, false>(&w, &x, &b, &mut y) };
    ///     assert_eq!(y, [0.5, 0.0]);
    /// }
    /// ```
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn gemv_avx512<
        const O: usize,
        const I: usize,
        const RELU: bool,
        const WIDE: bool,
        const FRESH: bool,
    >(
        w: &[Self],
        x: &[Self],
        b: &[Self],
        y: &mut [Self],
    );

    /// `y = W x + b` for one sample (then `max(0, y)` when `RELU` is set), with `W` the `O x
    /// I` column-major matrix in `w`, for a layer whose weights fit in L1 (W1's), of two
    /// shapes:
    ///
    /// - **whole vectors of rows** (`O` a multiple of the lanes): blocks of up to 8 vectors
    ///   of rows, the columns dealt round-robin to as many sets of accumulators as the 16
    ///   registers hold (3 sets of 4 vectors for W1's 32-wide layers), summed at the end,
    ///   since a small layer's product is a chain of dependent multiply-adds whose latency
    ///   the next layer waits on;
    /// - **a few rows** (`O` dividing the lanes) over whole vectors of inputs (W1's 4-output
    ///   last layer): each vector of `W` holds `lanes / O` whole columns in storage order,
    ///   multiplied by their inputs, each repeated `O` times (one permute of a vector of
    ///   `x`), into 4 accumulators; at the end the lanes of each output are summed.
    ///
    /// It is
    /// `#[inline(always)]`, so that in a network's pass compiled for AVX2 (the per-tier
    /// copies `network!` emits) it inlines and one layer's output reaches the next in
    /// registers; called from code without AVX2 and FMA, its intrinsics are calls. `FRESH`
    /// says `x` is the caller's memory (a network's first layer): the whole-vector shape then
    /// reads each input by a load of its own, as [`gemv_avx512`](Self::gemv_avx512) does.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    ///
    /// # Panics
    /// If the shape is neither (the lanes are 8 for `f32` and 4 for `f64`), or `w`, `x`, `b`
    /// or `y` is shorter than `O * I`, `I`, `O` and `O`.
    ///
    /// # Examples
    ///
    /// Two outputs over four inputs in `f64`, a few rows: `W = [1 0 2 0; 0 1 0 -3]`, `x =
    /// [1, 2, 3, 4]`, `b = [0, 1]`: `y = [7, -9]`, then `[7, 0]` through the ReLU.
    ///
    /// ```
    /// # use constnet_kernels::{AVX2, Scalar, detect_isa};
    /// let w = [1.0f64, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, -3.0]; // column by column
    /// let (x, b) = ([1.0, 2.0, 3.0, 4.0], [0.0, 1.0]);
    /// let mut y = [0.0f64; 2];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() >= AVX2 {
    ///     // SAFETY: AVX2 and FMA are there.
    ///     unsafe { f64::gemv_avx2_in_l1::<2, 4, false, false>(&w, &x, &b, &mut y) };
    ///     assert_eq!(y, [7.0, -9.0]);
    ///     // SAFETY: likewise.
    ///     unsafe { f64::gemv_avx2_in_l1::<2, 4, true, true>(&w, &x, &b, &mut y) };
    ///     assert_eq!(y, [7.0, 0.0]);
    /// }
    /// ```
    ///
    /// Whole vectors of rows: `W` 8 x 3 with row `r` equal to `[r, 1, -1]`, `x = [1, 2, 3]`,
    /// `b = 0.5`: `y_r = r - 0.5`.
    ///
    /// ```
    /// use constnet_kernels::{AVX2, Scalar, detect_isa};
    /// let w: Vec<f32> = (0..8).map(|r| r as f32).chain([1.0; 8]).chain([-1.0; 8]).collect();
    /// let (x, b) = ([1.0f32, 2.0, 3.0], [0.5f32; 8]);
    /// let mut y = [0.0f32; 8];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() >= AVX2 {
    ///     // SAFETY: the CPU has AVX2 and FMA.
    ///     unsafe { f32::gemv_avx2_in_l1::<8, 3, true, true>(&w, &x, &b, &mut y) };
    ///     assert_eq!(y, [0.0, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5]);
    /// }
    /// ```
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn gemv_avx2_in_l1<const O: usize, const I: usize, const RELU: bool, const FRESH: bool>(
        w: &[Self],
        x: &[Self],
        b: &[Self],
        y: &mut [Self],
    );

    /// `y = W x + b` for one sample (then `max(0, y)` when `relu` is set), with `W` the `o x
    /// i` column-major matrix in `w`, `o` a whole number of 256-bit vectors: for a layer
    /// whose weights do not fit in L1 and stream from L2 for every sample (W2's 784 x 128).
    /// It reads `W` in storage order, four whole columns a step, and sums up to 16 vectors of
    /// rows at a time: 11 of 16 in registers (with the four inputs broadcast and one sum of
    /// `y`, all 16 registers), or the first 8 of fewer, and the rest in `y` (in L1), so that
    /// each multiply-add reads about one vector besides its weights. The usual register-blocked
    /// product (a block of rows over every column, then the next block) reads each column in
    /// pieces, which the L2 prefetchers keep less far ahead of: on a Zen 1 core it took 8.1-9.3
    /// us for 784 x 128 against 6.6-6.9 for this one, and the axpy form (each column
    /// multiplied into `y` in memory, nalgebra's) 8.5-8.7.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    ///
    /// # Panics
    /// If `o` is not a multiple of the vector's lanes (8 for `f32`, 4 for `f64`), or a slice
    /// is shorter than the shape says.
    ///
    /// # Examples
    ///
    /// In `f64`, `W` 4 x 2 with columns `[1, 2, 3, 4]` and `[1, 1, 1, 1]`, `x = [2, -10]`
    /// and `b = 5`: `y = [-3, -1, 1, 3]`, then `[0, 0, 1, 3]` through the ReLU.
    ///
    /// ```
    /// # use constnet_kernels::{AVX2, Scalar, detect_isa};
    /// let w = [1.0f64, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0];
    /// let mut y = [0.0f64; 4];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() >= AVX2 {
    ///     // SAFETY: AVX2 and FMA are there.
    ///     unsafe { f64::gemv_avx2_fma(4, 2, &w, &[2.0, -10.0], &[5.0; 4], &mut y, false) };
    ///     assert_eq!(y, [-3.0, -1.0, 1.0, 3.0]);
    ///     // SAFETY: likewise.
    ///     unsafe { f64::gemv_avx2_fma(4, 2, &w, &[2.0, -10.0], &[5.0; 4], &mut y, true) };
    ///     assert_eq!(y, [0.0, 0.0, 1.0, 3.0]);
    /// }
    /// ```
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn gemv_avx2_fma(
        o: usize,
        i: usize,
        w: &[Self],
        x: &[Self],
        b: &[Self],
        y: &mut [Self],
        relu: bool,
    );

    /// [`gemv_avx2_fma`](Scalar::gemv_avx2_fma) in 512-bit vectors, for `o` a whole number
    /// of them: up to 16 vectors of rows (256 `f32` rows, W2's 128 in 8) are summed in
    /// registers, each input broadcast once, so `W` is read once, and nothing else is
    /// loaded or stored until the end. Half the loads of the 256-bit kernel for the
    /// same bytes, and none of its sums kept in `y`: a CPU with AVX-512 has 32 vector
    /// registers. A pass of up to 8 vectors of rows (W2's) reads the two halves of the
    /// columns side by side, as two streams from L2, into two sets of sums added at the end:
    /// `y = (b + first half) + second half`; where it covers a layer of 4 to 8 vectors of
    /// rows with more than 96 KB of columns, its first and last 32 KB are summed apart and
    /// read in either order, call by call on a thread, so that the end one call read last,
    /// still in L1, is the next one's first: `y = ((b + first half) + second half) + (head +
    /// tail)`, the same bits either way. On a Zen 5 core, W2 one sample: 1.78-1.83 us,
    /// against 1.82-1.87 in two streams alone, 1.87-1.92 in one, and 2.80-2.82 with four
    /// columns a step (the loop before).
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512VL.
    ///
    /// # Panics
    /// If `o` is not a multiple of the 512-bit vector's lanes (16 for `f32`, 8 for `f64`), or
    /// a slice is shorter than the shape says.
    ///
    /// # Examples
    ///
    /// In `f64`, `W` 8 x 3 with column `c` holding `c + 1` in every row, `x = [1, 1, -2]` and
    /// `b = 1`: every output is `1 + 2 - 6 + 1 = -2`, then `0` through the ReLU.
    ///
    /// ```
    /// # use constnet_kernels::{AVX512, Scalar, detect_isa};
    /// let w: Vec<f64> = (0..24).map(|k| (k / 8 + 1) as f64).collect();
    /// let mut y = [0.0f64; 8];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() == AVX512 {
    ///     // SAFETY: the CPU has AVX-512F and AVX-512VL.
    ///     unsafe { f64::gemv_avx512_from_l2(8, 3, &w, &[1.0, 1.0, -2.0], &[1.0; 8], &mut y, false) };
    ///     assert_eq!(y, [-2.0; 8]);
    ///     // SAFETY: likewise.
    ///     unsafe { f64::gemv_avx512_from_l2(8, 3, &w, &[1.0, 1.0, -2.0], &[1.0; 8], &mut y, true) };
    ///     assert_eq!(y, [0.0; 8]);
    /// }
    /// ```
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn gemv_avx512_from_l2(
        o: usize,
        i: usize,
        w: &[Self],
        x: &[Self],
        b: &[Self],
        y: &mut [Self],
        relu: bool,
    );

    /// `y = W x + b` (then `max(0, y)` where `relu`) for every sample of a batch: `xs` holds
    /// the samples' `i` inputs one after the other, `ys` their `o` outputs, `W` is `o x i`
    /// column-major. For a layer whose weights stay in L1 and whose outputs are too few for
    /// the packed product's 32-row tiles (W2's and W3's 10-output last layers): up to four
    /// 512-bit vectors of rows (the last one masked) for eight or six samples at once, so
    /// each column of `W` is loaded once for all of them, and the samples' sums are
    /// independent chains, where one sample at a time waits on its own chain. Each output is
    /// summed in the order of the inputs, from its bias.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512VL.
    ///
    /// # Panics
    /// If a slice is shorter than the shape says, or `xs` is not whole samples.
    ///
    /// # Examples
    ///
    /// `W = [1 2 3; 4 5 6]`, `b = [0.5; -20]` and three samples:
    ///
    /// ```
    /// use constnet_kernels::{AVX512, Scalar, detect_isa};
    /// let (w, b) = ([1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0], [0.5f32, -20.0]);
    /// let xs = [1.0f32, 1.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0];
    /// let mut ys = [0.0f32; 6];
    /// #[cfg(target_arch = "x86_64")]
    /// if detect_isa() == AVX512 {
    ///     // SAFETY: the CPU has AVX-512F and AVX-512VL.
    ///     unsafe { f32::gemm_in_l1_avx512(2, 3, &w, &xs, &b, &mut ys, false) };
    ///     assert_eq!(ys, [0.5, -17.0, 0.5, -20.0, 14.5, 12.0]);
    ///     // SAFETY: as above.
    ///     unsafe { f32::gemm_in_l1_avx512(2, 3, &w, &xs, &b, &mut ys, true) };
    ///     assert_eq!(ys, [0.5, 0.0, 0.5, 0.0, 14.5, 12.0]);
    /// }
    /// ```
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    unsafe fn gemm_in_l1_avx512(
        o: usize,
        i: usize,
        w: &[Self],
        xs: &[Self],
        b: &[Self],
        ys: &mut [Self],
        relu: bool,
    );
}

/// Where and how a micro-kernel writes its tile of `C`: column `j` of the tile at `c + j *
/// ldc` (its rows contiguous), as `alpha` times the product plus `beta` times what `C`
/// held (not read where `beta` is zero), plus `bias` (the tile's rows of it, added to every
/// column) where there is one, then `max(0, .)` where `relu` is set. A packed product adds
/// the bias and the ReLU as it writes its last slice of `k`, rather than in passes over `C`
/// before and after.
///
/// ```
/// use constnet_kernels::TileOut;
/// let mut c = [0.0f32; 4];
/// let bias = [1.0f32, -1.0];
/// let plain = TileOut::new(c.as_mut_ptr(), 2, 1.0, 0.0);
/// let tile = TileOut { bias: Some(&bias[..]), relu: true, ..plain };
/// assert_eq!((tile.ldc, tile.alpha, tile.beta, tile.relu), (2, 1.0, 0.0, true));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TileOut<'a, T> {
    /// The tile's first element.
    pub c: *mut T,
    /// How far apart the tile's columns are.
    pub ldc: usize,
    /// The product's factor.
    pub alpha: T,
    /// `C`'s factor; zero does not read `C`.
    pub beta: T,
    /// Added to every column: at least the tile's rows.
    pub bias: Option<&'a [T]>,
    /// `max(0, .)` last.
    pub relu: bool,
}

impl<T> TileOut<'_, T> {
    /// `alpha` times the product plus `beta` times `C`, written at `c` with columns `ldc`
    /// apart, with no bias and no ReLU.
    ///
    /// ```
    /// use constnet_kernels::TileOut;
    /// let mut c = [0.0f64; 8];
    /// let tile = TileOut::new(c.as_mut_ptr(), 4, 2.0, 1.0);
    /// assert!(tile.bias.is_none() && !tile.relu);
    /// ```
    pub fn new(c: *mut T, ldc: usize, alpha: T, beta: T) -> Self {
        TileOut {
            c,
            ldc,
            alpha,
            beta,
            bias: None,
            relu: false,
        }
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

/// Bytes of columns at each end of a single-sample product from L2 that
/// `gemv_avx512_from_l2` sums apart, so that it can read them in either order: what an L1 of
/// 48 KB keeps of the last columns one call reads (40 KB was slower on Zen 5).
#[cfg(target_arch = "x86_64")]
const READ_FROM_END_EDGE: usize = 32 * 1024;

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// Whether this thread's next single-sample product from L2 reads its last columns
    /// first; flipped at each call.
    static READ_FROM_END: Cell<bool> = const { Cell::new(false) };
}

/// [`READ_FROM_END`]'s value, flipped for the next call.
#[cfg(target_arch = "x86_64")]
fn read_from_end() -> bool {
    READ_FROM_END.with(|flag| {
        let now = flag.get();
        flag.set(!now);
        now
    })
}

/// Implements [`Scalar`] for one scalar type, given its AVX2 and AVX-512 tile heights, lane
/// counts and intrinsics.
macro_rules! impl_scalar {
    ($ty:ident, avx2: [$mr:literal, $lanes:literal, $zero:ident, $load:ident, $broadcast:ident,
     $fmadd:ident, $store:ident, $set1:ident, $mul:ident],
     avx512: [$v512:ty, $mr512:literal, $lanes512:literal, $zero512:ident, $load512:ident,
     $set1_512:ident,
     $fmadd512:ident, $store512:ident, $mul512:ident],
     gemv: [$glanes:literal, $gzero:ident, $gset1:ident, $gfmadd:ident,
     $gstore:ident, $gmask:ty, $gmaskz_load:ident, $gadd:ident, $gmax:ident],
     masked512: [$mask512:ty, $maskz_load512:ident, $mask_store512:ident, $max512:ident,
     $add512:ident],
     few: [$to_ps:path, $from_ps:path],
     transpose: $transpose:path) => {
        impl Scalar for $ty {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;

            #[inline(always)]
            fn fused_mul_add(self, a: Self, b: Self) -> Self {
                self.mul_add(a, b)
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn micro_kernel_avx2_fma(
                kc: usize,
                a: &[Self],
                lda: usize,
                b: &[Self],
                b_steps: (usize, usize),
                tile: TileOut<'_, Self>,
            ) {
                use std::arch::x86_64::*;
                let TileOut {
                    c: out,
                    ldc,
                    alpha,
                    beta,
                    bias,
                    relu,
                } = tile;
                const NR: usize = 6;
                const PREFETCH: usize = 8;
                assert!(kc == 0 || a.len() >= (kc - 1) * lda + $mr);
                // Element (p, j) of B is at `p * step + j * stride`: a packed panel's rows
                // are contiguous, a column-major B's columns.
                let (step, stride) = b_steps;
                assert!(kc == 0 || b.len() > (kc - 1) * step + (NR - 1) * stride);
                // The tile of C is written at the end, and read first unless beta is 0:
                // fetch its lines for writing now, so that the misses of a C that is not in
                // cache (a large dW, or W itself when the step is taken in backward) overlap
                // the multiply-adds.
                for j in 0..NR {
                    let column = out.wrapping_add(j * ldc);
                    _mm_prefetch::<_MM_HINT_ET0>(column.cast());
                    _mm_prefetch::<_MM_HINT_ET0>(column.wrapping_add(2 * $lanes - 1).cast());
                }
                let mut c = [$zero(); 2 * NR];
                let (a, b) = (a.as_ptr(), b.as_ptr());
                for p in 0..kc {
                    // SAFETY: the assertions above keep every read inside `a` and `b`.
                    unsafe {
                        let a = a.add(p * lda);
                        // A panel read in place is one cache line a step, `lda` apart: fetch
                        // it ahead. `wrapping_add`: near the panel's end the address lies
                        // past it (a prefetch never faults, but `add` must stay in bounds).
                        _mm_prefetch::<_MM_HINT_T0>(a.wrapping_add(PREFETCH * lda).cast());
                        let (a0, a1) = ($load(a), $load(a.add($lanes)));
                        let b = b.add(p * step);
                        for j in 0..NR {
                            let bj = $broadcast(&*b.add(j * stride));
                            c[2 * j] = $fmadd(a0, bj, c[2 * j]);
                            c[2 * j + 1] = $fmadd(a1, bj, c[2 * j + 1]);
                        }
                    }
                }
                // The common cases without a multiply each: a plain product (`dW`, alpha 1
                // and beta 0) and an update in place (the step in backward, beta 1), which
                // matter where the tile is only a few dozen steps deep (`dW` over a batch).
                let (unit, keep) = (alpha == 1.0, beta == 1.0);
                let alpha = $set1(alpha);
                // The bias's two vectors of the tile's rows, read once.
                let mut add = [$zero(); 2];
                if let Some(bias) = bias {
                    assert!(bias.len() >= $mr, "a bias shorter than the tile");
                    for (h, add) in add.iter_mut().enumerate() {
                        // SAFETY: the assertion above.
                        *add = unsafe { $load(bias.as_ptr().add(h * $lanes)) };
                    }
                }
                for (j, column) in c.chunks_exact(2).enumerate() {
                    for (h, &v) in column.iter().enumerate() {
                        // SAFETY: the caller's contract: MR elements at `out + j * ldc`.
                        unsafe {
                            let at = out.add(j * ldc + h * $lanes);
                            let mut v = if beta == 0.0 {
                                if unit { v } else { $mul(alpha, v) }
                            } else if keep {
                                $fmadd(alpha, v, $load(at))
                            } else {
                                $fmadd($set1(beta), $load(at), $mul(alpha, v))
                            };
                            if bias.is_some() {
                                v = $gadd(v, add[h]);
                            }
                            if relu {
                                v = $gmax(v, $zero());
                            }
                            $store(at, v);
                        }
                    }
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx512f")]
            unsafe fn micro_kernel_avx512<const V: usize, const N: usize>(
                kc: usize,
                a: &[Self],
                lda: usize,
                b: &[Self],
                b_steps: (usize, usize),
                tile: TileOut<'_, Self>,
            ) {
                use std::arch::x86_64::*;
                let TileOut {
                    c: out,
                    ldc,
                    alpha,
                    beta,
                    bias,
                    relu,
                } = tile;
                const PREFETCH: usize = 8;
                // The tile's columns, of which this computes the first `N`.
                const { assert!((V == 2 && N <= 12) || (V == 4 && N <= 6)) };
                assert!(kc == 0 || a.len() >= (kc - 1) * lda + V * $lanes512);
                // Element (p, j) of B is at `p * step + j * stride`, as in the AVX2 kernel.
                let (step, stride) = b_steps;
                assert!(kc == 0 || N == 0 || b.len() > (kc - 1) * step + (N - 1) * stride);
                // The tile of C fetched for writing, as in the AVX2 kernel: a line a vector,
                // and the one its last element is on.
                for j in 0..N {
                    let column = out.wrapping_add(j * ldc);
                    for h in 0..V {
                        _mm_prefetch::<_MM_HINT_ET0>(column.wrapping_add(h * $lanes512).cast());
                    }
                    _mm_prefetch::<_MM_HINT_ET0>(column.wrapping_add(V * $lanes512 - 1).cast());
                }
                let mut c = [[$zero512(); V]; N];
                let (a, b) = (a.as_ptr(), b.as_ptr());
                // Step `p`: `A`'s `V` vectors (fetched `PREFETCH` steps ahead; the address may
                // lie past the panel, which a prefetch allows, hence `wrapping_add`) times the
                // `N` elements of `B` from `b + p * step`, `$stride` apart.
                macro_rules! steps {
                    ($stride:expr) => {
                        for p in 0..kc {
                            // SAFETY: the assertions above keep every read inside `a` and `b`.
                            unsafe {
                                let a = a.add(p * lda);
                                let ahead = a.wrapping_add(PREFETCH * lda);
                                let mut av = [$zero512(); V];
                                for (h, av) in av.iter_mut().enumerate() {
                                    _mm_prefetch::<_MM_HINT_T0>(
                                        ahead.wrapping_add(h * $lanes512).cast(),
                                    );
                                    *av = $load512(a.add(h * $lanes512));
                                }
                                let b = b.add(p * step);
                                for (j, c) in c.iter_mut().enumerate() {
                                    let bj = $set1_512(*b.add(j * $stride));
                                    for (c, &av) in c.iter_mut().zip(&av) {
                                        *c = $fmadd512(av, bj, *c);
                                    }
                                }
                            }
                        }
                    };
                }
                // A step's elements contiguous (a packed panel) as a constant, so that each is
                // an offset of one pointer.
                if stride == 1 {
                    steps!(1);
                } else {
                    steps!(stride);
                }
                // Without a multiply where alpha is 1 and beta 0 or 1, as in the AVX2 kernel.
                let (unit, keep) = (alpha == 1.0, beta == 1.0);
                let alpha = $set1_512(alpha);
                // The bias's `V` vectors of the tile's rows, read once.
                let mut add = [$zero512(); V];
                if let Some(bias) = bias {
                    assert!(bias.len() >= V * $lanes512, "a bias shorter than the tile");
                    for (h, add) in add.iter_mut().enumerate() {
                        // SAFETY: the assertion above.
                        *add = unsafe { $load512(bias.as_ptr().add(h * $lanes512)) };
                    }
                }
                for (j, column) in c.iter().enumerate() {
                    for (h, &v) in column.iter().enumerate() {
                        // SAFETY: the caller's contract: MR elements at `out + j * ldc`.
                        unsafe {
                            let at = out.add(j * ldc + h * $lanes512);
                            let mut v = if beta == 0.0 {
                                if unit { v } else { $mul512(alpha, v) }
                            } else if keep {
                                $fmadd512(alpha, v, $load512(at))
                            } else {
                                $fmadd512($set1_512(beta), $load512(at), $mul512(alpha, v))
                            };
                            if bias.is_some() {
                                v = $add512(v, add[h]);
                            }
                            if relu {
                                v = $max512(v, $zero512());
                            }
                            $store512(at, v);
                        }
                    }
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            #[inline]
            unsafe fn gemv_avx512<
                const O: usize,
                const I: usize,
                const RELU: bool,
                const WIDE: bool,
                const FRESH: bool,
            >(
                w: &[Self],
                x: &[Self],
                b: &[Self],
                y: &mut [Self],
            ) {
                use std::arch::x86_64::*;
                const L: usize = $glanes;

                /// Rows `r0..r0 + rows` of `y = W x + b` (`W` being `o x i`), `NV` vectors of
                /// rows, the columns dealt round-robin to `G` sets of accumulators (the first
                /// starting from `b`), which are summed in a tree: one sample's product is a
                /// chain of dependent multiply-adds, so its latency is what W1 waits on. The
                /// shape is an argument, not a constant: this inlines into the product of a
                /// shape, where it is one, and is compiled once per block, not once per layer.
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                #[inline]
                unsafe fn block<const NV: usize, const G: usize, const RELU: bool>(
                    (o, i): (usize, usize),
                    r0: usize,
                    rows: usize,
                    w: *const $ty,
                    x: *const $ty,
                    b: *const $ty,
                    y: *mut $ty,
                ) {
                    // A loop rather than `std::array::from_fn`, whose machinery is compiled
                    // again for every block of every layer of every network.
                    let mut masks: [$gmask; NV] = [0; NV];
                    for (v, mask) in masks.iter_mut().enumerate() {
                        let n = rows.saturating_sub(v * L).min(L) as u32;
                        *mask = ((1u32 << n) - 1) as $gmask;
                    }
                    let mut acc = [[$gzero(); NV]; G];
                    for (v, acc) in acc[0].iter_mut().enumerate() {
                        // SAFETY: the mask keeps the load inside `b[r0..r0 + rows]`.
                        *acc = unsafe { $gmaskz_load(masks[v], b.add(r0 + v * L)) };
                    }
                    let mut c = 0;
                    // SAFETY (both loops): `c + g < i` and the masks keep every load inside
                    // column `c + g` of `W` (rows `r0..r0 + rows`), and `x[c + g]` exists.
                    while c + G <= i {
                        for (g, acc) in acc.iter_mut().enumerate() {
                            let xb = $gset1(unsafe { *x.add(c + g) });
                            let column = unsafe { w.add((c + g) * o + r0) };
                            for (v, acc) in acc.iter_mut().enumerate() {
                                let wv = unsafe { $gmaskz_load(masks[v], column.add(v * L)) };
                                *acc = $gfmadd(wv, xb, *acc);
                            }
                        }
                        c += G;
                    }
                    while c < i {
                        let xb = $gset1(unsafe { *x.add(c) });
                        let column = unsafe { w.add(c * o + r0) };
                        for (v, acc) in acc[0].iter_mut().enumerate() {
                            let wv = unsafe { $gmaskz_load(masks[v], column.add(v * L)) };
                            *acc = $gfmadd(wv, xb, *acc);
                        }
                        c += 1;
                    }
                    let mut width = G;
                    while width > 1 {
                        let half = width.div_ceil(2);
                        for g in 0..width - half {
                            for v in 0..NV {
                                acc[g][v] = $gadd(acc[g][v], acc[g + half][v]);
                            }
                        }
                        width = half;
                    }
                    for v in 0..NV {
                        let sum = if RELU {
                            $gmax(acc[0][v], $gzero())
                        } else {
                            acc[0][v]
                        };
                        let n = rows.saturating_sub(v * L).min(L);
                        // SAFETY: `n` keeps the writes inside `y[r0..r0 + rows]`.
                        unsafe {
                            let out = y.add(r0 + v * L);
                            if n == L {
                                $gstore(out, sum);
                            } else {
                                // Not a masked store: a masked store's value is not forwarded
                                // to the caller's next loads, which then stall.
                                let mut lanes = [0.0; L];
                                $gstore(lanes.as_mut_ptr(), sum);
                                std::slice::from_raw_parts_mut(out, n).copy_from_slice(&lanes[..n]);
                            }
                        }
                    }
                }

                assert!(w.len() >= O * I && x.len() >= I && b.len() >= O && y.len() >= O);
                let (w, x, b, y) = (w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr());
                // The 512-bit kernels where the shape suits them, when `WIDE` says this is
                // inlined into code compiled for AVX-512 (see the trait's documentation).
                // SAFETY: the caller's contract and the assertion above.
                if WIDE && unsafe { crate::one_sample::gemv::<$ty, O, I, RELU, FRESH>(w, x, b, y) }
                {
                    return;
                }
                // Blocks of 8 vectors of rows, then one of the vectors left. How many are
                // left is a constant of the shape, matched as one (`const { .. }`), so that
                // only the block it picks is compiled for this shape: the compiler does not
                // instantiate the arms a constant rules out (a match on a value would make
                // all eight, for every layer of every network).
                let mut r0 = 0;
                while r0 + 8 * L <= O {
                    // SAFETY: the assertion above; the block stays inside rows r0..r0 + 8 L.
                    unsafe { block::<8, 3, RELU>((O, I), r0, 8 * L, w, x, b, y) };
                    r0 += 8 * L;
                }
                let rows = O - r0;
                // SAFETY: the assertion above; the block stays inside rows r0..O.
                unsafe {
                    match const { (O % (8 * L)).div_ceil(L) } {
                        0 => {}
                        1 => block::<1, 8, RELU>((O, I), r0, rows, w, x, b, y),
                        2 => block::<2, 8, RELU>((O, I), r0, rows, w, x, b, y),
                        3 => block::<3, 4, RELU>((O, I), r0, rows, w, x, b, y),
                        4 => block::<4, 4, RELU>((O, I), r0, rows, w, x, b, y),
                        5 => block::<5, 4, RELU>((O, I), r0, rows, w, x, b, y),
                        6 => block::<6, 4, RELU>((O, I), r0, rows, w, x, b, y),
                        7 => block::<7, 3, RELU>((O, I), r0, rows, w, x, b, y),
                        _ => block::<8, 3, RELU>((O, I), r0, rows, w, x, b, y),
                    }
                }
            }

            // `#[inline(always)]` rather than `#[target_feature]`, which rustc does not
            // allow with it: the network's AVX2 pass has the features, and inlining this
            // there is what counts (as an `#[inline]` `#[target_feature]` function LLVM
            // left it a call there, and W1 took 158 ns against 136 in a build for the CPU,
            // where it inlined).
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[inline(always)]
            unsafe fn gemv_avx2_in_l1<
                const O: usize,
                const I: usize,
                const RELU: bool,
                const FRESH: bool,
            >(
                w: &[Self],
                x: &[Self],
                b: &[Self],
                y: &mut [Self],
            ) {
                use std::arch::x86_64::*;
                const L: usize = $lanes;

                if const { O < L && L % O == 0 } {
                    const G: usize = 4;
                    assert!(I % L == 0, "{I} inputs are not whole vectors of {L}");
                    assert!(w.len() >= O * I && x.len() >= I && b.len() >= O && y.len() >= O);
                    // The 32-bit lanes of a vector of `L` inputs that the `q`-th vector of `W`
                    // (from those inputs' first column) multiplies: its lane `k` is column
                    // `q L / O + k / O`.
                    let index = |q: usize| {
                        let mut index = [0i32; 8];
                        let per = 8 / L; // 32-bit lanes per element
                        for (lane, index) in index.iter_mut().enumerate() {
                            let element = q * L / O + lane / per / O;
                            *index = (element * per + lane % per) as i32;
                        }
                        index
                    };
                    let (w, x) = (w.as_ptr(), x.as_ptr());
                    // SAFETY (the whole block): the CPU (the caller's contract) and the
                    // assertions above keep every read inside `w[..O * I]` and `x[..I]`.
                    let sum = unsafe {
                        let mut acc = [$zero(); G];
                        let mut vector = 0;
                        for c in (0..I).step_by(L) {
                            let xv = $to_ps($load(x.add(c)));
                            for q in 0..O {
                                let i = index(q);
                                let spread = _mm256_loadu_si256(i.as_ptr().cast());
                                let xq = $from_ps(_mm256_permutevar8x32_ps(xv, spread));
                                let g = vector % G;
                                acc[g] = $fmadd($load(w.add(c * O + q * L)), xq, acc[g]);
                                vector += 1;
                            }
                        }
                        $gadd($gadd(acc[0], acc[1]), $gadd(acc[2], acc[3]))
                    };
                    let mut lanes = [0.0; L];
                    // SAFETY: `lanes` holds one vector.
                    unsafe { $store(lanes.as_mut_ptr(), sum) };
                    for (r, y) in y[..O].iter_mut().enumerate() {
                        let mut v = b[r];
                        for k in (r..L).step_by(O) {
                            v += lanes[k];
                        }
                        *y = if !RELU || v > 0.0 { v } else { 0.0 };
                    }
                    return;
                }

                /// Rows `r0..r0 + NV * L`, the columns dealt round-robin to `G` sets of `NV`
                /// accumulators (the first starting from `b`), summed in a tree. The shape
                /// is an argument, as in [`Scalar::gemv_avx512`]'s blocks.
                ///
                /// # Safety
                /// AVX2 and FMA; `w` holds `o * i` elements, `x` `i`, `b` and `y` `o`, and
                /// `r0 + NV * L <= o`.
                #[inline(always)]
                unsafe fn block<
                    const NV: usize,
                    const G: usize,
                    const RELU: bool,
                    const FRESH: bool,
                >(
                    (o, i): (usize, usize),
                    r0: usize,
                    w: *const $ty,
                    x: *const $ty,
                    b: *const $ty,
                    y: *mut $ty,
                ) {
                    // Input `c`, broadcast: with `FRESH` by a load of its own, which the
                    // caller's stores of a sample written just before forward to (as in
                    // `one_sample`), LLVM's own making some 8-byte loads otherwise.
                    let input = |c: usize| unsafe {
                        if FRESH {
                            <lanes::Avx2 as lanes::Simd<$ty>>::broadcast_at(x.add(c))
                        } else {
                            $broadcast(&*x.add(c))
                        }
                    };
                    // SAFETY (the whole body): the caller's contract keeps every row inside
                    // `r0..r0 + NV * L` and every column inside `0..i`.
                    unsafe {
                        let mut acc = [[$zero(); NV]; G];
                        for (v, acc) in acc[0].iter_mut().enumerate() {
                            *acc = $load(b.add(r0 + v * L));
                        }
                        let mut c = 0;
                        while c + G <= i {
                            for (g, acc) in acc.iter_mut().enumerate() {
                                let xb = input(c + g);
                                let column = w.add((c + g) * o + r0);
                                for (v, acc) in acc.iter_mut().enumerate() {
                                    *acc = $fmadd($load(column.add(v * L)), xb, *acc);
                                }
                            }
                            c += G;
                        }
                        while c < i {
                            let xb = input(c);
                            let column = w.add(c * o + r0);
                            for (v, acc) in acc[0].iter_mut().enumerate() {
                                *acc = $fmadd($load(column.add(v * L)), xb, *acc);
                            }
                            c += 1;
                        }
                        let mut width = G;
                        while width > 1 {
                            let half = width.div_ceil(2);
                            for g in 0..width - half {
                                for v in 0..NV {
                                    acc[g][v] = $gadd(acc[g][v], acc[g + half][v]);
                                }
                            }
                            width = half;
                        }
                        for (v, &sum) in acc[0].iter().enumerate() {
                            let sum = if RELU { $gmax(sum, $zero()) } else { sum };
                            $store(y.add(r0 + v * L), sum);
                        }
                    }
                }

                assert!(O % L == 0, "{O} rows are not whole vectors of {L}");
                assert!(w.len() >= O * I && x.len() >= I && b.len() >= O && y.len() >= O);
                let (w, x, b, y) = (w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr());
                let mut r0 = 0;
                while r0 + 8 * L <= O {
                    // SAFETY: the CPU (the caller's contract) and the assertion above.
                    unsafe { block::<8, 1, RELU, FRESH>((O, I), r0, w, x, b, y) };
                    r0 += 8 * L;
                }
                // SAFETY: as above; the block covers the rows `r0..O` left.
                unsafe {
                    match const { (O % (8 * L)) / L } {
                        0 => {}
                        1 => block::<1, 8, RELU, FRESH>((O, I), r0, w, x, b, y),
                        2 => block::<2, 6, RELU, FRESH>((O, I), r0, w, x, b, y),
                        3 => block::<3, 4, RELU, FRESH>((O, I), r0, w, x, b, y),
                        4 => block::<4, 3, RELU, FRESH>((O, I), r0, w, x, b, y),
                        5 => block::<5, 2, RELU, FRESH>((O, I), r0, w, x, b, y),
                        6 => block::<6, 2, RELU, FRESH>((O, I), r0, w, x, b, y),
                        _ => block::<7, 2, RELU, FRESH>((O, I), r0, w, x, b, y),
                    }
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn gemv_avx2_fma(
                o: usize,
                i: usize,
                w: &[Self],
                x: &[Self],
                b: &[Self],
                y: &mut [Self],
                relu: bool,
            ) {
                use std::arch::x86_64::*;
                const L: usize = $lanes;

                /// Rows `r0..r0 + (NR + m) * L` of `y = W x + b`: `NR` vectors summed in
                /// registers, the `m` after them in `y`, four columns a step.
                ///
                /// # Safety
                /// AVX2 and FMA; `w` holds `o * i` elements, `x` `i`, `b` and `y` `o`, and
                /// `r0 + (NR + m) * L <= o`.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn pass<const NR: usize, const M: usize>(
                    (o, i): (usize, usize),
                    (r0, m): (usize, usize),
                    w: *const $ty,
                    x: *const $ty,
                    b: *const $ty,
                    y: *mut $ty,
                ) {
                    // SAFETY (the whole body): the caller's contract keeps every row read or
                    // written inside `r0..r0 + (NR + m) * L`, every column inside `0..i`.
                    unsafe {
                        // `M`, where it is not `usize::MAX`, is `m` as a constant.
                        let m = if M == usize::MAX { m } else { M };
                        let mut acc = [$zero(); NR];
                        for (k, acc) in acc.iter_mut().enumerate() {
                            *acc = $load(b.add(r0 + k * L));
                        }
                        let rest = r0 + NR * L;
                        std::ptr::copy_nonoverlapping(b.add(rest), y.add(rest), m * L);
                        let (yr, mut p) = (y.add(rest), w.add(r0));
                        let mut j = 0;
                        while j + 4 <= i {
                            let xb = [
                                $broadcast(&*x.add(j)),
                                $broadcast(&*x.add(j + 1)),
                                $broadcast(&*x.add(j + 2)),
                                $broadcast(&*x.add(j + 3)),
                            ];
                            for (k, acc) in acc.iter_mut().enumerate() {
                                for (u, xb) in xb.iter().enumerate() {
                                    *acc = $fmadd($load(p.add(u * o + k * L)), *xb, *acc);
                                }
                            }
                            let pr = p.add(NR * L);
                            for v in 0..m {
                                let at = yr.add(v * L);
                                let mut sum = $load(at);
                                for (u, xb) in xb.iter().enumerate() {
                                    sum = $fmadd($load(pr.add(u * o + v * L)), *xb, sum);
                                }
                                $store(at, sum);
                            }
                            p = p.add(4 * o);
                            j += 4;
                        }
                        while j < i {
                            let xb = $broadcast(&*x.add(j));
                            for (k, acc) in acc.iter_mut().enumerate() {
                                *acc = $fmadd($load(p.add(k * L)), xb, *acc);
                            }
                            let pr = p.add(NR * L);
                            for v in 0..m {
                                let at = yr.add(v * L);
                                $store(at, $fmadd($load(pr.add(v * L)), xb, $load(at)));
                            }
                            p = p.add(o);
                            j += 1;
                        }
                        for (k, acc) in acc.iter().enumerate() {
                            $store(y.add(r0 + k * L), *acc);
                        }
                    }
                }

                assert!(o % L == 0, "{o} rows are not whole vectors of {L}");
                assert!(w.len() >= o * i && x.len() >= i && b.len() >= o && y.len() >= o);
                let (wp, xp, bp, yp) = (w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr());
                let mut r0 = 0;
                while r0 < o {
                    let left = (o - r0) / L;
                    // SAFETY: the CPU (the caller's contract) and the assertions above; each
                    // pass covers `(NR + m) * L <= left * L` rows from `r0`.
                    unsafe {
                        r0 += L * match left {
                            // 11 in registers and 5 in `y`: 5 loads and stores of `y` every
                            // four columns, against 8 with 8 and 8 (W2's one sample, ten
                            // interleaved rounds: median 7.9 against 8.2 us).
                            16.. => {
                                pass::<11, 5>((o, i), (r0, 5), wp, xp, bp, yp);
                                16
                            }
                            8.. => {
                                pass::<8, { usize::MAX }>((o, i), (r0, left - 8), wp, xp, bp, yp);
                                left
                            }
                            4..=7 => {
                                pass::<4, { usize::MAX }>((o, i), (r0, left - 4), wp, xp, bp, yp);
                                left
                            }
                            2 | 3 => {
                                pass::<2, { usize::MAX }>((o, i), (r0, left - 2), wp, xp, bp, yp);
                                left
                            }
                            _ => {
                                pass::<1, 0>((o, i), (r0, 0), wp, xp, bp, yp);
                                1
                            }
                        };
                    }
                }
                if relu {
                    for v in y[..o].chunks_exact_mut(L) {
                        // SAFETY: `v` holds one vector.
                        unsafe { $store(v.as_mut_ptr(), $gmax($load(v.as_ptr()), $zero())) };
                    }
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            unsafe fn gemv_avx512_from_l2(
                o: usize,
                i: usize,
                w: &[Self],
                x: &[Self],
                b: &[Self],
                y: &mut [Self],
                relu: bool,
            ) {
                use std::arch::x86_64::*;
                const L: usize = $lanes512;

                /// Rows `r0..r0 + NR * L` of `y = W x + b` (then `max(0, y)` where `relu`),
                /// summed in registers.
                ///
                /// Where the sums take at most a quarter of the registers (`NR <= 8`), the
                /// two halves of the columns are read side by side into two sets of sums,
                /// added at the end, `(b + first half) + second half` (an odd last column
                /// goes to the second): two streams from L2, which a Zen 5 core serves faster
                /// than one. Where the pass covers every row, of 4 to 8 vectors, and the
                /// layer has more than three times `READ_FROM_END_EDGE` bytes of columns, the
                /// first and the last that many bytes are summed apart, from zero, and the two
                /// streams cover the columns between: `y = ((b + first half) + second half) +
                /// (head + tail)`. Every other call on a thread reads the tail first, the
                /// others the head, so the end one call read last, still in L1, is the one
                /// the next reads first. The same bits either way. (With fewer than 4 vectors
                /// of rows, an end read in one stream waits on its multiply-adds' latency:
                /// 16 x 4000 `f32` took 2.20-2.26 us so, 1.88-1.91 without the ends.)
                ///
                /// Otherwise one stream: one column a step where the pass covers whole
                /// columns, two where it reads part of each (a layer of more rows than one
                /// pass). On Zen 5, 256 x 784 `f32` alone: 3.3-3.7 us in one column a step,
                /// 5.3-6.1 in two or four; 256 x 400, 1.88-2.09 against 2.08-2.26 in four
                /// (the loop before); 512 x 300 was slower in one (4.1-4.6 against 3.4-3.9).
                ///
                /// # Safety
                /// AVX-512F; `w` holds `o * i` elements, `x` `i`, `b` and `y` `o`, and
                /// `r0 + NR * L <= o`.
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn pass<const NR: usize>(
                    (o, i, relu): (usize, usize, bool),
                    r0: usize,
                    w: *const $ty,
                    x: *const $ty,
                    b: *const $ty,
                    y: *mut $ty,
                ) {
                    // Adds column `j` of the pass's rows, at `p`, times `x[j]` to `sums`.
                    macro_rules! column {
                        ($sums:expr, $p:expr, $j:expr) => {
                            let xj = $set1_512(*x.add($j));
                            for (k, sum) in $sums.iter_mut().enumerate() {
                                *sum = $fmadd512($load512($p.add(k * L)), xj, *sum);
                            }
                        };
                    }
                    // SAFETY (the whole body): the caller's contract keeps every row read or
                    // written inside `r0..r0 + NR * L`, every column inside `0..i`.
                    unsafe {
                        let mut acc = [$zero512(); NR];
                        for (k, acc) in acc.iter_mut().enumerate() {
                            *acc = $load512(b.add(r0 + k * L));
                        }
                        // Adds columns `from..to` to `sums`, one a step.
                        let range = |sums: &mut [$v512; NR], (from, to): (usize, usize)| {
                            let mut p = w.add(r0 + from * o);
                            for j in from..to {
                                column!(sums, p, j);
                                p = p.add(o);
                            }
                        };
                        if NR <= 8 {
                            let edge = READ_FROM_END_EDGE / (o * size_of::<$ty>());
                            let ends = NR >= 4 && NR * L == o && edge > 0 && i > 3 * edge;
                            // The end read first and the one read last (none without ends).
                            let (first, last) = if !ends {
                                ((0, 0), (0, 0))
                            } else if read_from_end() {
                                ((i - edge, i), (0, edge))
                            } else {
                                ((0, edge), (i - edge, i))
                            };
                            let (mut near, mut far) = ([$zero512(); NR], [$zero512(); NR]);
                            range(&mut near, first);
                            let (from, to) = if ends { (edge, i - edge) } else { (0, i) };
                            let half = (to - from) / 2;
                            let mut second = [$zero512(); NR];
                            let (mut p, mut q) =
                                (w.add(r0 + from * o), w.add(r0 + (from + half) * o));
                            for j in from..from + half {
                                column!(acc, p, j);
                                column!(second, q, half + j);
                                p = p.add(o);
                                q = q.add(o);
                            }
                            if (to - from) % 2 == 1 {
                                column!(second, q, to - 1);
                            }
                            for (acc, second) in acc.iter_mut().zip(second) {
                                *acc = $add512(*acc, second);
                            }
                            range(&mut far, last);
                            if ends {
                                for ((acc, near), far) in acc.iter_mut().zip(near).zip(far) {
                                    *acc = $add512(*acc, $add512(near, far));
                                }
                            }
                        } else {
                            let mut j = 0;
                            if NR * L < o {
                                let mut p = w.add(r0);
                                while j + 2 <= i {
                                    column!(acc, p, j);
                                    column!(acc, p.add(o), j + 1);
                                    p = p.add(2 * o);
                                    j += 2;
                                }
                            }
                            range(&mut acc, (j, i));
                        }
                        for (k, &acc) in acc.iter().enumerate() {
                            let v = if relu { $max512(acc, $zero512()) } else { acc };
                            $store512(y.add(r0 + k * L), v);
                        }
                    }
                }

                assert!(o % L == 0, "{o} rows are not whole vectors of {L}");
                assert!(w.len() >= o * i && x.len() >= i && b.len() >= o && y.len() >= o);
                let (wp, xp, bp, yp) = (w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr());
                let mut r0 = 0;
                while r0 < o {
                    let left = (o - r0) / L;
                    // SAFETY: the CPU (the caller's contract) and the assertions above; each
                    // pass covers `NR * L <= left * L` rows from `r0`.
                    unsafe {
                        r0 += L * match left {
                            16.. => {
                                pass::<16>((o, i, relu), r0, wp, xp, bp, yp);
                                16
                            }
                            8.. => {
                                pass::<8>((o, i, relu), r0, wp, xp, bp, yp);
                                8
                            }
                            4.. => {
                                pass::<4>((o, i, relu), r0, wp, xp, bp, yp);
                                4
                            }
                            2 | 3 => {
                                pass::<2>((o, i, relu), r0, wp, xp, bp, yp);
                                2
                            }
                            _ => {
                                pass::<1>((o, i, relu), r0, wp, xp, bp, yp);
                                1
                            }
                        };
                    }
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            unsafe fn gemm_in_l1_avx512(
                o: usize,
                i: usize,
                w: &[Self],
                xs: &[Self],
                b: &[Self],
                ys: &mut [Self],
                relu: bool,
            ) {
                use std::arch::x86_64::*;
                const L: usize = $lanes512;

                /// Rows `r0..r0 + rows` (`rows <= NV * L`, the last vector masked) of `S`
                /// samples, the first at `x` (its outputs at `y`).
                ///
                /// # Safety
                /// AVX-512F; `w` holds `o * i` elements, `b` `o`, `x` `S * i` and `y`
                /// `S * o`, and `r0 + rows <= o`.
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn tile<const NV: usize, const S: usize>(
                    (o, i, relu): (usize, usize, bool),
                    (r0, rows): (usize, usize),
                    w: *const $ty,
                    b: *const $ty,
                    x: *const $ty,
                    y: *mut $ty,
                ) {
                    let mut masks: [$mask512; NV] = [0; NV];
                    for (v, mask) in masks.iter_mut().enumerate() {
                        let n = rows.saturating_sub(v * L).min(L) as u32;
                        *mask = ((1u32 << n) - 1) as $mask512;
                    }
                    // SAFETY (the whole body): the masks keep every access of `W`, `b` and
                    // `y` inside rows `r0..r0 + rows`, and `c < i` every input inside the
                    // `S` samples.
                    unsafe {
                        let mut acc = [[$zero512(); NV]; S];
                        for (v, &mask) in masks.iter().enumerate() {
                            acc[0][v] = $maskz_load512(mask, b.add(r0 + v * L));
                        }
                        for s in 1..S {
                            acc[s] = acc[0];
                        }
                        for c in 0..i {
                            let column = w.add(c * o + r0);
                            let mut wv = [$zero512(); NV];
                            for (v, wv) in wv.iter_mut().enumerate() {
                                *wv = $maskz_load512(masks[v], column.add(v * L));
                            }
                            for (s, acc) in acc.iter_mut().enumerate() {
                                let xb = $set1_512(*x.add(s * i + c));
                                for (acc, &wv) in acc.iter_mut().zip(&wv) {
                                    *acc = $fmadd512(wv, xb, *acc);
                                }
                            }
                        }
                        for (s, acc) in acc.iter().enumerate() {
                            for (v, &sum) in acc.iter().enumerate() {
                                let sum = if relu { $max512(sum, $zero512()) } else { sum };
                                $mask_store512(y.add(s * o + r0 + v * L), masks[v], sum);
                            }
                        }
                    }
                }

                /// Rows `r0..r0 + rows` of every sample: `S` at a time, then one at a time.
                ///
                /// # Safety
                /// As [`tile`]'s, for `n` samples.
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn rows<const NV: usize, const S: usize>(
                    (o, i, relu): (usize, usize, bool),
                    (r0, rows): (usize, usize),
                    n: usize,
                    (w, b): (*const $ty, *const $ty),
                    (x, y): (*const $ty, *mut $ty),
                ) {
                    let shape = (o, i, relu);
                    let mut s = 0;
                    // SAFETY: the caller's contract; each call covers samples `s..s + S` or
                    // `s`, all below `n`.
                    unsafe {
                        while s + S <= n {
                            tile::<NV, S>(shape, (r0, rows), w, b, x.add(s * i), y.add(s * o));
                            s += S;
                        }
                        while s < n {
                            tile::<NV, 1>(shape, (r0, rows), w, b, x.add(s * i), y.add(s * o));
                            s += 1;
                        }
                    }
                }

                assert!(
                    i > 0 && xs.len() % i == 0,
                    "{} inputs are not whole samples",
                    xs.len()
                );
                let n = xs.len() / i;
                assert!(w.len() >= o * i && b.len() >= o && ys.len() >= n * o);
                let (shape, wb) = ((o, i, relu), (w.as_ptr(), b.as_ptr()));
                let xy = (xs.as_ptr(), ys.as_mut_ptr());
                let mut r0 = 0;
                while r0 < o {
                    let block = (o - r0).min(4 * L);
                    // SAFETY: the CPU (the caller's contract) and the assertions above; each
                    // block's rows lie below `o`.
                    unsafe {
                        match block.div_ceil(L) {
                            1 => rows::<1, 8>(shape, (r0, block), n, wb, xy),
                            2 => rows::<2, 8>(shape, (r0, block), n, wb, xy),
                            3 => rows::<3, 6>(shape, (r0, block), n, wb, xy),
                            _ => rows::<4, 6>(shape, (r0, block), n, wb, xy),
                        }
                    }
                    r0 += block;
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn transpose_8x8_avx2(
                src: *const Self,
                src_stride: usize,
                dst: *mut Self,
                dst_stride: usize,
            ) {
                // SAFETY: the caller's contract.
                unsafe { $transpose(src, src_stride, dst, dst_stride) }
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
        }
    };
}

impl_scalar!(f32,
    avx2: [16, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_broadcast_ss, _mm256_fmadd_ps,
        _mm256_storeu_ps, _mm256_set1_ps, _mm256_mul_ps],
    avx512: [__m512, 32, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps,
        _mm512_storeu_ps, _mm512_mul_ps],
    gemv: [8, _mm256_setzero_ps, _mm256_set1_ps, _mm256_fmadd_ps,
        _mm256_storeu_ps, __mmask8, _mm256_maskz_loadu_ps, _mm256_add_ps,
        _mm256_max_ps],
    masked512: [__mmask16, _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps, _mm512_max_ps,
        _mm512_add_ps],
    few: [same_ps, same_ps],
    transpose: transpose_8x8_f32);
impl_scalar!(f64,
    avx2: [8, 4, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_broadcast_sd, _mm256_fmadd_pd,
        _mm256_storeu_pd, _mm256_set1_pd, _mm256_mul_pd],
    avx512: [__m512d, 16, 8, _mm512_setzero_pd, _mm512_loadu_pd, _mm512_set1_pd, _mm512_fmadd_pd,
        _mm512_storeu_pd, _mm512_mul_pd],
    gemv: [4, _mm256_setzero_pd, _mm256_set1_pd, _mm256_fmadd_pd,
        _mm256_storeu_pd, __mmask8, _mm256_maskz_loadu_pd, _mm256_add_pd,
        _mm256_max_pd],
    masked512: [__mmask8, _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd, _mm512_max_pd,
        _mm512_add_pd],
    few: [_mm256_castpd_ps, _mm256_castps_pd],
    transpose: transpose_8x8_f64);

/// The identity on 256-bit vectors: `f32`'s cast to and from 32-bit lanes in
/// [`Scalar::gemv_avx2_in_l1`] (`f64`'s are the intrinsics' casts).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn same_ps(v: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    v
}

/// [`Scalar::transpose_8x8_avx2`] for `f32`: the classic three rounds of shuffles (pairs of
/// elements, pairs of pairs, then 128-bit halves).
///
/// # Safety
/// As the trait method.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn transpose_8x8_f32(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
    use std::arch::x86_64::*;
    // SAFETY: the caller keeps the eight rows of eight at `src` and `dst` in bounds.
    unsafe {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_stride)));
        let t: [__m256; 8] = std::array::from_fn(|i| {
            let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
            if i % 2 == 0 {
                _mm256_unpacklo_ps(a, b)
            } else {
                _mm256_unpackhi_ps(a, b)
            }
        });
        // u[4h + k]: from t[4h + (k / 2)] and t[4h + 2 + (k / 2)], low or high pairs.
        let u: [__m256; 8] = std::array::from_fn(|i| {
            let (h, k) = (i / 4, i % 4);
            let (a, b) = (t[4 * h + k / 2], t[4 * h + 2 + k / 2]);
            if k % 2 == 0 {
                _mm256_shuffle_ps::<0x44>(a, b)
            } else {
                _mm256_shuffle_ps::<0xEE>(a, b)
            }
        });
        for q in 0..8 {
            let (a, b) = (u[q % 4], u[4 + q % 4]);
            let row = if q < 4 {
                _mm256_permute2f128_ps::<0x20>(a, b)
            } else {
                _mm256_permute2f128_ps::<0x31>(a, b)
            };
            _mm256_storeu_ps(dst.add(q * dst_stride), row);
        }
    }
}

/// [`Scalar::transpose_8x8_avx2`] for `f64`, element by element (gradient checks, not a hot
/// path).
///
/// # Safety
/// As the trait method.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline]
unsafe fn transpose_8x8_f64(src: *const f64, src_stride: usize, dst: *mut f64, dst_stride: usize) {
    for i in 0..8 {
        for q in 0..8 {
            // SAFETY: the caller keeps both blocks in bounds.
            unsafe { *dst.add(q * dst_stride + i) = *src.add(i * src_stride + q) };
        }
    }
}
