//! The single-sample product `y = W x + b` (then `max(0, y)`) in 512-bit vectors, for the
//! two shapes where they beat the 256-bit kernel [`Scalar::gemv_avx512`] falls back to
//! (workload W1, 16-32-32-4, has both):
//!
//! - **whole vectors of outputs** (`O` a multiple of the lanes, W1's 32-wide hidden layers):
//!   each column of `W` is loaded whole and multiplied by its input, broadcast; the columns
//!   are dealt round-robin to several sets of accumulators, summed at the end, since one
//!   sample's product is a chain of dependent multiply-adds whose latency W1 waits on.
//! - **a few outputs** (`O` dividing the lanes, W1's 4-output last layer): the broadcast form
//!   would spend a whole vector load and multiply-add on `O` useful lanes. Here each vector
//!   of `W` holds `lanes / O` whole columns in storage order and is multiplied by their
//!   inputs, each repeated `O` times (one permute of a vector of `x`); at the end the lanes
//!   of each output are folded together.
//!
//! [`Scalar::gemv_avx512`] takes them only where it is told it inlines into code compiled
//! for AVX-512 (its `WIDE`: a network's AVX-512 copy of its pass, or any pass in a build for
//! an AVX-512 CPU), so that one layer's output reaches the next in registers (W1: 43-44 ns a
//! sample, against 62-64 for the 256-bit kernel alone). Vectors go to and from memory in
//! 256-bit halves, as the code around them copies the activations: a load that spans two
//! stores cannot take its value from them and waits until both reach the cache (W1 took 47-51
//! ns with whole 512-bit stores and loads).
//!
//! A network's first layer reads the caller's sample, often written just before the call,
//! by stores of any size (a copy of 16 bytes at a time, one feature at a time). With `FRESH`
//! each input is read by a 4-byte broadcast of its own (inline assembly), which any store
//! that holds it forwards; from a scalar load LLVM made some 8-byte loads (`x[7..9]` at
//! once), which can span two stores and then wait until both reach the cache (W1 on a batch's
//! column when `forward` copied it 16 bytes at a time: about 69 ns a sample, against 50 on a
//! sample written long before). Deeper layers leave it unset: their inputs are the previous
//! layer's output, read as whole vectors, which LLVM takes from registers, each input spread
//! across a vector by a constant permutation. Read one element at a time, as the first layer
//! reads them, the inputs of a network's AVX-512 copy in a build for any x86-64 went half
//! through the stack (a 256-bit store, then eight broadcasts from it) and half through
//! shuffles, where a build for this CPU spread them all in registers: W1 took 49-52 ns
//! against 44-47 native; read as vectors, 42.8-46.4 ns default and 42.9-47.3 native (eight
//! interleaved rounds of `best_of W1`).

use std::arch::x86_64::__m512i;

use crate::scalar::Scalar;

/// `y = W x + b` (then `max(0, y)` when `RELU` is set) for `W` the `O x I` column-major
/// matrix at `w`, if the shape is one of the module's two; returns whether it was (having
/// done nothing otherwise). `FRESH`: `x` is the caller's memory, read each input alone (see
/// the module's documentation).
///
/// # Safety
/// The CPU must support AVX-512F; `w` must point at `O * I` elements, `x` at `I`, `b` and `y`
/// at `O`.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn gemv<
    T: Scalar,
    const O: usize,
    const I: usize,
    const RELU: bool,
    const FRESH: bool,
>(
    w: *const T,
    x: *const T,
    b: *const T,
    y: *mut T,
) -> bool {
    let lanes = T::VECTOR_LEN;
    if O.is_multiple_of(lanes) {
        let mut r0 = 0;
        while r0 < O {
            let vectors = ((O - r0) / lanes).min(4);
            // SAFETY: the caller's contract; each block stays inside rows `r0..O`.
            unsafe {
                match vectors {
                    1 => whole::<T, 1, 8, O, I, RELU, FRESH>(r0, w, x, b, y),
                    2 => whole::<T, 2, 4, O, I, RELU, FRESH>(r0, w, x, b, y),
                    3 => whole::<T, 3, 4, O, I, RELU, FRESH>(r0, w, x, b, y),
                    _ => whole::<T, 4, 4, O, I, RELU, FRESH>(r0, w, x, b, y),
                }
            }
            r0 += vectors * lanes;
        }
        true
    } else if O < lanes && lanes.is_multiple_of(O) && (O * I).is_multiple_of(lanes) {
        // SAFETY: the caller's contract.
        unsafe { few::<T, O, I, RELU>(w, x, b, y) };
        true
    } else {
        false
    }
}

/// Rows `r0..r0 + NV * lanes` of the product, the columns dealt round-robin to `G` sets of
/// `NV` accumulators (the first starting from `b`), summed in a tree at the end.
///
/// # Safety
/// As [`gemv`], with `r0 + NV * lanes <= O`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn whole<
    T: Scalar,
    const NV: usize,
    const G: usize,
    const O: usize,
    const I: usize,
    const RELU: bool,
    const FRESH: bool,
>(
    r0: usize,
    w: *const T,
    x: *const T,
    b: *const T,
    y: *mut T,
) {
    let lanes = T::VECTOR_LEN;
    let mut acc = [[unsafe { T::zeros() }; NV]; G];
    // SAFETY (every load and store): `r0 + NV * lanes <= O` keeps them inside `b`, `y` and
    // column `c` of `W`, and `c < I` inside `x`.
    for (v, acc) in acc[0].iter_mut().enumerate() {
        *acc = unsafe { T::load(b.add(r0 + v * lanes)) };
    }
    let column = |c: usize| unsafe { w.add(c * O + r0) };
    let input = |c: usize| unsafe {
        if FRESH {
            T::broadcast_at(x.add(c))
        } else {
            // The vector of inputs that holds input `c` (only the inputs there are read),
            // spread by a constant permutation.
            let first = c - c % lanes;
            let inputs = if first + lanes <= I {
                T::load_halves(x.add(first))
            } else {
                T::load_first(I - first, x.add(first))
            };
            T::permute(T::spread_index(c % lanes, lanes), inputs)
        }
    };
    let mut c = 0;
    while c + G <= I {
        for (g, acc) in acc.iter_mut().enumerate() {
            let xb = input(c + g);
            for (v, acc) in acc.iter_mut().enumerate() {
                *acc = unsafe { T::fmadd(T::load(column(c + g).add(v * lanes)), xb, *acc) };
            }
        }
        c += G;
    }
    while c < I {
        let xb = input(c);
        for (v, acc) in acc[0].iter_mut().enumerate() {
            *acc = unsafe { T::fmadd(T::load(column(c).add(v * lanes)), xb, *acc) };
        }
        c += 1;
    }
    let mut width = G;
    while width > 1 {
        let half = width.div_ceil(2);
        let (low, high) = acc.split_at_mut(half);
        for (low, high) in low.iter_mut().zip(&high[..width - half]) {
            for (sum, &more) in low.iter_mut().zip(high) {
                *sum = unsafe { T::sum(*sum, more) };
            }
        }
        width = half;
    }
    for (v, &sum) in acc[0].iter().enumerate() {
        let sum = if RELU { unsafe { T::relu(sum) } } else { sum };
        unsafe { T::store_halves(y.add(r0 + v * lanes), sum) };
    }
}

/// The product for `O` dividing the lanes: vector `k` of `W` (its elements `k * lanes..`) is
/// columns `k * lanes / O..` whole, multiplied by a vector whose lane `l` is the input of
/// column `k * lanes / O + l / O`; four accumulators, then the lanes of output `r` (those
/// congruent to `r` modulo `O`) folded together.
///
/// # Safety
/// As [`gemv`], with `O * I` a multiple of the lanes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn few<T: Scalar, const O: usize, const I: usize, const RELU: bool>(
    w: *const T,
    x: *const T,
    b: *const T,
    y: *mut T,
) {
    let lanes = T::VECTOR_LEN;
    let vectors = O * I / lanes;
    // One vector of inputs serves `O` vectors of `W`: vector `q` of them reads inputs `q *
    // lanes / O..` of it.
    let index: [__m512i; O] = std::array::from_fn(|q| unsafe { T::spread_index(q * lanes / O, O) });
    let mut acc = [unsafe { T::zeros() }; 4];
    // SAFETY (every load): `k < vectors` keeps vector `k` inside `W`'s `O * I` elements, and
    // the inputs read are `s * lanes..I`.
    for s in 0..I.div_ceil(lanes) {
        let inputs = if (s + 1) * lanes <= I {
            unsafe { T::load_halves(x.add(s * lanes)) }
        } else {
            unsafe { T::load_first(I - s * lanes, x.add(s * lanes)) }
        };
        for (q, &index) in index.iter().enumerate() {
            let k = s * O + q;
            if k < vectors {
                let spread = unsafe { T::permute(index, inputs) };
                acc[k % 4] = unsafe { T::fmadd(T::load(w.add(k * lanes)), spread, acc[k % 4]) };
            }
        }
    }
    let mut sum = unsafe { T::sum(T::sum(acc[0], acc[1]), T::sum(acc[2], acc[3])) };
    let mut apart = lanes / 2;
    while apart >= O {
        sum = unsafe { T::fold(sum, apart) };
        apart /= 2;
    }
    // SAFETY: `b` and `y` hold `O` elements; `out` holds a whole vector (16 lanes at most).
    unsafe {
        sum = T::sum(sum, T::load_first(O, b));
        if RELU {
            sum = T::relu(sum);
        }
        // Not a masked store: its value would not forward to the caller's next loads.
        let mut out = [T::ZERO; 16];
        T::store_first(lanes, out.as_mut_ptr(), sum);
        std::ptr::copy_nonoverlapping(out.as_ptr(), y, O);
    }
}

#[cfg(test)]
mod tests {
    use super::gemv;
    use crate::scalar::Scalar;
    use crate::{AVX512, detect_isa};

    /// `gemv` on one shape against the sum written out, with small integers (exact in both
    /// scalar types); `None` when the shape is not one of the module's.
    fn check<T: Scalar + From<i8>, const O: usize, const I: usize>() -> Option<()> {
        let at = |v: usize, m: usize| T::from((v % m) as i8 - (m / 2) as i8);
        let w: Vec<T> = (0..O * I).map(|v| at(v * 5, 11)).collect();
        let x: Vec<T> = (0..I).map(|c| at(c, 7)).collect();
        let b: Vec<T> = (0..O).map(|r| at(r, 3)).collect();
        let affine: Vec<T> = (0..O)
            .map(|r| (0..I).fold(b[r], |sum, c| sum + w[c * O + r] * x[c]))
            .collect();
        let relu: Vec<T> = affine
            .iter()
            .map(|&v| if v > T::ZERO { v } else { T::ZERO })
            .collect();
        let (w, x, b) = (w.as_ptr(), x.as_ptr(), b.as_ptr());
        let mut y = vec![T::ZERO; O];
        // SAFETY (each call): the caller checked for AVX-512F; every buffer has its length.
        if !unsafe { gemv::<T, O, I, false, false>(w, x, b, y.as_mut_ptr()) } {
            return None;
        }
        assert_eq!(y, affine, "{O} x {I}");
        unsafe { gemv::<T, O, I, true, false>(w, x, b, y.as_mut_ptr()) };
        assert_eq!(y, relu, "{O} x {I}, ReLU");
        // Each input read alone, as a network's first layer reads the caller's sample.
        unsafe { gemv::<T, O, I, false, true>(w, x, b, y.as_mut_ptr()) };
        assert_eq!(y, affine, "{O} x {I}, fresh");
        unsafe { gemv::<T, O, I, true, true>(w, x, b, y.as_mut_ptr()) };
        assert_eq!(y, relu, "{O} x {I}, ReLU, fresh");
        Some(())
    }

    #[test]
    fn both_shapes_match_the_written_out_sum() {
        if detect_isa() != AVX512 {
            return;
        }
        // Whole vectors of outputs: 1 to 8 vectors (blocks of up to 4), inputs fewer than,
        // equal to and not a multiple of the accumulator sets.
        assert!(check::<f32, 16, 1>().is_some());
        assert!(check::<f32, 16, 16>().is_some());
        assert!(check::<f32, 32, 16>().is_some());
        assert!(check::<f32, 32, 32>().is_some());
        assert!(check::<f32, 48, 5>().is_some());
        assert!(check::<f32, 80, 9>().is_some());
        assert!(check::<f32, 128, 3>().is_some());
        assert!(check::<f64, 8, 3>().is_some());
        assert!(check::<f64, 40, 7>().is_some());
        assert!(check::<f64, 64, 2>().is_some());
        // A few outputs, the inputs ending in part of a vector or not.
        assert!(check::<f32, 1, 16>().is_some());
        assert!(check::<f32, 1, 48>().is_some());
        assert!(check::<f32, 2, 8>().is_some());
        assert!(check::<f32, 2, 24>().is_some());
        assert!(check::<f32, 4, 4>().is_some());
        assert!(check::<f32, 4, 20>().is_some());
        assert!(check::<f32, 4, 32>().is_some());
        assert!(check::<f32, 8, 2>().is_some());
        assert!(check::<f32, 8, 10>().is_some());
        assert!(check::<f64, 1, 8>().is_some());
        assert!(check::<f64, 2, 12>().is_some());
        assert!(check::<f64, 4, 6>().is_some());
        assert!(check::<f64, 4, 32>().is_some());
        // Neither: left to the 256-bit kernel.
        assert!(check::<f32, 4, 6>().is_none());
        assert!(check::<f32, 10, 128>().is_none());
        assert!(check::<f32, 17, 9>().is_none());
        assert!(check::<f64, 3, 8>().is_none());
    }
}
