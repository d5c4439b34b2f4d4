//! Kernels for the products too small or too thin to pack: the shallow path (`k <=
//! SHALLOW_K`) and the few-rows path (`m <= FEW`) of [`dispatch`](super::dispatch), which
//! are most of the spiral net's step (workload W4). Each is written once over [`Simd`], the
//! vectors of one instruction set (AVX-512's 512-bit ones or AVX2's 256-bit ones), and is
//! `#[inline(always)]` into a function that enables that set. Each keeps its accumulators
//! in registers (their counts are const generics, so LLVM never spills an indexed array),
//! reads ragged edges with masked loads instead of padding copies, and writes `C` once with
//! `alpha` and `beta` applied. The portable versions in the parent module are the reference
//! the tests compare against.
//!
//! The epilogues that read or write a ReLU's bits take whole bytes per vector: 8 or 16
//! lanes (`f32` with either set, `f64` with AVX-512). `f64` with AVX2 takes the portable
//! path.

use std::marker::PhantomData;

use crate::scalar::{Scalar, lanes::Simd};
use crate::{
    Epilogue, FEW, GROUP, Operand, OperandMut, Problem, ReluGate, SHALLOW_K, SHALLOW_ROWS,
    contiguous_columns, pack_few_rows_a, pack_shallow_a, put,
};

/// The shallow product with contiguous columns of `C` (`c.rs == 1`): `A` is copied
/// column-major with its rows padded to whole vectors, and each column of `C` is
/// `alpha * sum_q B[q, j] A[.., q] + beta C[.., j]`, in groups of up to 8 vectors of rows.
///
/// The epilogue is applied in registers as `C` is written (a gate must have contiguous
/// columns, as `C` does).
///
/// # Safety
/// The CPU must have `W`'s instruction set.
#[inline(always)]
pub(super) unsafe fn shallow<T: Scalar, W: Simd<T>>(
    p: Problem<'_, '_, T>,
    c: &mut OperandMut<'_, T>,
) {
    let Problem {
        m,
        k,
        n,
        alpha,
        beta,
        bias,
        epilogue,
        a,
        b,
        a_pack,
        ..
    } = p;
    assert!(c.rs == 1 && k <= SHALLOW_K);
    match &epilogue {
        Epilogue::Gate(gate) => {
            assert!(gate.rs == 1 && (n == 0 || (n - 1) * gate.cs + m <= gate.data.len()));
        }
        Epilogue::ReluKeepingBits(bits, bytes) => {
            assert!(8 * bytes >= m.next_multiple_of(W::LEN) && bits.len() >= n * bytes);
        }
        Epilogue::GateBits(bits, bytes) => {
            assert!(8 * bytes >= m.next_multiple_of(W::LEN) && bits.len() >= n * bytes);
        }
        Epilogue::None | Epilogue::Relu => {}
    }
    let m_pad = m.next_multiple_of(SHALLOW_ROWS);
    let depth = pack_shallow_a(m, k, &a, bias, a_pack);
    let group = Group::<T, W> {
        simd: PhantomData,
        a_pack: &a_pack[..m_pad * depth],
        m,
        m_pad,
        k,
        depth,
        n,
        b,
        alpha,
        beta,
        epilogue,
    };
    let vectors = m.div_ceil(W::LEN);
    let mut v0 = 0;
    if const { W::REGISTERS < 32 } {
        // AVX2: groups of up to 4 vectors, whose `A` (up to depth 3 with a bias) stays in
        // registers with the sums. With groups of 8, as AVX-512 takes, the spiral's first
        // layer took 9.9-11.2 us on Zen 1, against 8.6-8.8 (groups of 3: 9.1).
        while v0 < vectors {
            let r0 = v0 * W::LEN;
            match vectors - v0 {
                1 => group.rows_from::<1>(r0, c),
                2 => group.rows_from::<2>(r0, c),
                3 => group.rows_from::<3>(r0, c),
                _ => group.rows_from::<4>(r0, c),
            }
            v0 += 4;
        }
        return;
    }
    while v0 < vectors {
        let r0 = v0 * W::LEN;
        match vectors - v0 {
            1 => group.rows_from::<1>(r0, c),
            2 => group.rows_from::<2>(r0, c),
            3 => group.rows_from::<3>(r0, c),
            4 => group.rows_from::<4>(r0, c),
            5 => group.rows_from::<5>(r0, c),
            6 => group.rows_from::<6>(r0, c),
            7 => group.rows_from::<7>(r0, c),
            _ => group.rows_from::<8>(r0, c),
        }
        v0 += 8;
    }
}

/// A shallow product, its `A` packed column-major with `m_pad` rows per column.
struct Group<'a, T, W> {
    a_pack: &'a [T],
    m: usize,
    m_pad: usize,
    /// The depth of `B`.
    k: usize,
    /// The depth of `A`: `k`, or `k + 1` when its last column is a bias.
    depth: usize,
    n: usize,
    b: Operand<'a, T>,
    alpha: T,
    beta: T,
    epilogue: Epilogue<'a, T>,
    /// The instruction set's vectors: built only inside the `unsafe` entry points, whose
    /// caller vouches for it.
    simd: PhantomData<W>,
}

impl<T: Scalar, W: Simd<T>> Group<'_, T, W> {
    /// The bits `finish` gathered for rows `r0..` (`NV` vectors) of column `j`, written to
    /// the mask of a [`Epilogue::ReluKeepingBits`].
    #[inline(always)]
    fn keep_bits<const NV: usize>(&self, bits: &[u8; 16], r0: usize, j: usize) {
        if let Epilogue::ReluKeepingBits(mask, bytes) = &self.epilogue {
            let len = NV * W::LEN / 8;
            for (cell, &byte) in mask[j * bytes + r0 / 8..][..len].iter().zip(bits) {
                cell.set(byte);
            }
        }
    }

    /// `value`, the `count` rows of `C` from row `r` of column `j`, after the epilogue (the
    /// bits of a mask being written go to `bits`, for [`keep_bits`](Self::keep_bits)).
    #[inline(always)]
    fn finish(&self, value: W::V, r: usize, j: usize, count: usize, bits: &mut [u8; 16]) -> W::V {
        // SAFETY: the CPU has `W`'s instruction set (the entry points' contract); `shallow`
        // checked that the gate, shaped as `C`, holds rows `r..r + count` of column `j` (its
        // columns contiguous), and that the masks hold `bytes` for every column, at least one
        // bit per padded row.
        unsafe {
            match &self.epilogue {
                Epilogue::None => value,
                Epilogue::Relu => W::relu(value),
                Epilogue::Gate(gate) => {
                    let g = W::load_first(count, gate.data.as_ptr().add(j * gate.cs + r));
                    W::keep_where_positive(value, g)
                }
                // A vector's rows start on a multiple of its length, so its bits are whole
                // bytes: one for `f64`, two for `f32` (little-endian). Lanes past `count` are
                // zero (the padded rows of `A`), so their bits are clear.
                Epilogue::ReluKeepingBits(..) => {
                    // Gathered for the whole column in `bits` (relative to its first row, a
                    // multiple of 8 vectors), and written once by `keep_bits`: a byte store
                    // into the mask might alias anything, and made LLVM reload for every
                    // vector what it had kept in registers.
                    let positive = W::positive_bits(value).to_le_bytes();
                    let bytes = W::LEN / 8;
                    let at = (r % (8 * W::LEN)) / 8;
                    bits[at..at + bytes].copy_from_slice(&positive[..bytes]);
                    W::relu(value)
                }
                Epilogue::GateBits(bits, bytes) => {
                    let at = bits.as_ptr().add(j * bytes + r / 8);
                    let keep = if W::LEN == 16 {
                        u32::from(at.cast::<u16>().read_unaligned())
                    } else {
                        u32::from(*at)
                    };
                    W::keep_lanes(value, keep)
                }
            }
        }
    }

    /// Rows `r0..` of `C` (at most `NV` vectors of them) in every column:
    /// `alpha * sum_q B[q, j] A[r0.., q] + beta * C[r0.., j]`.
    #[inline(always)]
    fn rows_from<const NV: usize>(&self, r0: usize, c: &mut OperandMut<'_, T>) {
        // Plain products whose `A` fits in 24 registers keep it there, loaded once (`K` is
        // the depth, a constant so that LLVM can allocate them): the spiral's first layer
        // took 4.8 us with `A` reloaded for every column and 3.3 us with it in registers.
        // The others read it from the packed copy for every column.
        let plain = self.alpha == T::ONE && self.beta == T::ZERO;
        let registers = NV * self.depth;
        // The same bound with AVX2's 16 registers: LLVM then spills some of `A`, which still
        // measured faster than reloading it (the spiral's first layer, 13 vectors of rows,
        // 9.9 us against 17.4 on Zen 1).
        let fits = registers <= 24;
        match (plain, self.k) {
            (true, 1) if fits => self.rows_into::<NV, false, 1>(r0, c),
            (true, 2) if fits => self.rows_into::<NV, false, 2>(r0, c),
            (true, 3) if fits => self.rows_into::<NV, false, 3>(r0, c),
            (true, _) => self.rows_into::<NV, false, 0>(r0, c),
            (false, _) => self.rows_into::<NV, true, 0>(r0, c),
        }
    }

    /// [`rows_from`](Self::rows_from), with `C = sum_q B[q, j] A[r0.., q]` unless `SCALED`;
    /// `K` is `k` when `A` stays in registers, 0 otherwise.
    #[inline(always)]
    fn rows_into<const NV: usize, const SCALED: bool, const K: usize>(
        &self,
        r0: usize,
        c: &mut OperandMut<'_, T>,
    ) {
        let (l, k, depth, b) = (W::LEN, self.k, self.depth, &self.b);
        let rows = (self.m - r0).min(NV * l);
        // Rows in the last vector: the others are whole.
        let tail = rows - (NV - 1) * l;
        assert!(rows > (NV - 1) * l && r0 + NV * l <= self.m_pad);
        assert!(self.a_pack.len() >= self.m_pad * depth);
        assert!(self.n == 0 || (self.n - 1) * c.cs + r0 + rows <= c.data.len());
        assert!(K == 0 || K == k);
        assert!(self.n == 0 || k == 0 || (k - 1) * b.rs + (self.n - 1) * b.cs < b.data.len());
        // SAFETY: the assertions keep every `A` load inside `a_pack` (its padded rows), every
        // `B` read inside `b`, and every access to `C` inside rows `r0..r0 + rows` of its
        // columns.
        unsafe {
            let a = self.a_pack.as_ptr().add(r0);
            let (alpha, beta) = (W::broadcast(self.alpha), W::broadcast(self.beta));
            let (b_rs, b_cs, c_cs, m_pad) = (b.rs, b.cs, c.cs, self.m_pad);
            let (b_ptr, c_ptr) = (b.data.as_ptr(), c.data.as_mut_ptr());
            let mut bits = [0u8; 16];
            if K > 0 {
                // `A` fits in registers (at most 24 of them): load it once for every column.
                let mut a_regs = [[W::zeros(); NV]; K];
                let mut bias = [W::zeros(); NV];
                for v in 0..NV {
                    for (q, a_q) in a_regs.iter_mut().enumerate() {
                        a_q[v] = W::load(a.add(q * m_pad + v * l));
                    }
                    if depth > k {
                        bias[v] = W::load(a.add(k * m_pad + v * l));
                    }
                }
                for j in 0..self.n {
                    let column = b_ptr.add(j * b_cs);
                    let out = c_ptr.add(j * c_cs + r0);
                    let mut s = [W::zeros(); K];
                    for (q, s) in s.iter_mut().enumerate() {
                        *s = W::broadcast(*column.add(q * b_rs));
                    }
                    for v in 0..NV {
                        let mut acc = bias[v];
                        for q in 0..K {
                            acc = W::fmadd(a_regs[q][v], s[q], acc);
                        }
                        let count = if v + 1 == NV { tail } else { l };
                        let value = self.finish(acc, r0 + v * l, j, count, &mut bits);
                        W::store_first(count, out.add(v * l), value);
                    }
                    self.keep_bits::<NV>(&bits, r0, j);
                }
                return;
            }
            for j in 0..self.n {
                let column = b_ptr.add(j * b_cs);
                // A bias (the packed column past `k`) is where the sums start.
                let mut acc = [W::zeros(); NV];
                if depth > k {
                    let bias = a.add(k * m_pad);
                    for (v, acc) in acc.iter_mut().enumerate() {
                        *acc = W::load(bias.add(v * l));
                    }
                }
                for q in 0..k {
                    let s = W::broadcast(*column.add(q * b_rs));
                    let a = a.add(q * m_pad);
                    for (v, acc) in acc.iter_mut().enumerate() {
                        *acc = W::fmadd(W::load(a.add(v * l)), s, *acc);
                    }
                }
                let out = c_ptr.add(j * c_cs + r0);
                for (v, &acc) in acc.iter().enumerate() {
                    let count = if v + 1 == NV { tail } else { l };
                    let out = out.add(v * l);
                    let mut value = acc;
                    if SCALED {
                        value = W::product(alpha, value);
                        if self.beta != T::ZERO {
                            value = W::fmadd(beta, W::load_first(count, out), value);
                        }
                    }
                    let value = self.finish(value, r0 + v * l, j, count, &mut bits);
                    W::store_first(count, out, value);
                }
                self.keep_bits::<NV>(&bits, r0, j);
            }
        }
    }
}

/// The few-rows product (`m <= FEW`): `A` is copied row-major; with contiguous rows of `B`,
/// `M` rows of `C` are accumulated as `sum_p A[i, p] B[p, j..]` over blocks of vectors of
/// columns; otherwise each element is a dot product of a row of `A` with a contiguous column
/// of `B` (copied column-major first when neither is contiguous).
///
/// # Safety
/// The CPU must have `W`'s instruction set.
#[inline(always)]
pub(super) unsafe fn few_rows<T: Scalar, W: Simd<T>>(
    p: Problem<'_, '_, T>,
    c: &mut OperandMut<'_, T>,
) {
    let Problem {
        m,
        k,
        n,
        alpha,
        beta,
        bias,
        epilogue: _,
        a,
        b,
        a_pack,
        b_pack,
    } = p;
    assert!((1..=FEW).contains(&m) && a_pack.len() >= m.next_multiple_of(GROUP) * k);
    assert!(bias.is_none_or(|bias| bias.len() == m && b.rs == 1 && beta == T::ZERO));
    if b.cs == 1 && b.rs != 1 {
        // `A`'s elements are broadcast one by one: read in place, whatever its layout.
        let rows = ByRows::<T, W> {
            simd: PhantomData,
            a,
            k,
            n,
            b: b.data,
            b_rs: b.rs,
            alpha,
            beta,
        };
        if const { W::REGISTERS < 32 } {
            // AVX2: `M x NB` sums, `NB` vectors of `B` and a broadcast in 16 registers.
            match m {
                1 => rows.run::<1, 7, false>(c),
                2 => rows.run::<2, 4, false>(c),
                3 => rows.run::<3, 3, false>(c),
                4 => rows.run::<4, 2, false>(c),
                5 => rows.run::<5, 1, false>(c),
                6 => rows.run::<6, 1, false>(c),
                7 => rows.run::<7, 1, false>(c),
                _ => rows.run::<8, 1, false>(c),
            }
            return;
        }
        // Rows of `B` up to 7 (or 6) vectors wide are read in one pass (their `M x NB`
        // sums, the `NB` vectors of `B` and a broadcast take at most 30 of the 32
        // registers): `B` streams from L2 once instead of once per block (the spiral's
        // `dW2` read 1.3x its 120 KB in two blocks, and was bound by it).
        let wide = n > 4 * W::LEN;
        match m {
            1..=3 if wide && n <= 7 * W::LEN => match m {
                1 => rows.run::<1, 7, false>(c),
                2 => rows.run::<2, 7, false>(c),
                _ => rows.run::<3, 7, false>(c),
            },
            4 if wide && n <= 6 * W::LEN => rows.run::<4, 6, false>(c),
            1 => rows.run::<1, 4, false>(c),
            2 => rows.run::<2, 4, false>(c),
            3 => rows.run::<3, 4, false>(c),
            4 => rows.run::<4, 4, false>(c),
            5 => rows.run::<5, 2, false>(c),
            6 => rows.run::<6, 2, false>(c),
            7 => rows.run::<7, 2, false>(c),
            _ => rows.run::<8, 2, false>(c),
        }
        return;
    }
    pack_few_rows_a(m, k, &a, a_pack);
    let a_rows = &a_pack[..m * k];
    let (columns, stride) = contiguous_columns(k, n, &b, b_pack);
    let dots = Dots::<T, W> {
        simd: PhantomData,
        a_rows,
        k,
        n,
        columns,
        stride,
        alpha,
        beta,
        bias,
    };
    if const { W::REGISTERS < 32 } {
        // AVX2: `M x CJ` sums, `CJ` vectors of `B` and one of `A` in 16 registers.
        match m {
            1 => dots.run::<1, 4>(c),
            2 => dots.run::<2, 4>(c),
            3 => dots.run::<3, 3>(c),
            4 => dots.run::<4, 2>(c),
            5 => dots.run::<5, 1>(c),
            6 => dots.run::<6, 1>(c),
            7 => dots.run::<7, 1>(c),
            _ => dots.run::<8, 1>(c),
        }
        return;
    }
    // Four columns at a time share each vector of `A`'s rows where their `4 M` sums fit in
    // registers; two otherwise.
    match m {
        1 => dots.run::<1, 4>(c),
        2 => dots.run::<2, 4>(c),
        3 => dots.run::<3, 4>(c),
        4 => dots.run::<4, 4>(c),
        5 => dots.run::<5, 2>(c),
        6 => dots.run::<6, 2>(c),
        7 => dots.run::<7, 2>(c),
        _ => dots.run::<8, 2>(c),
    }
}

/// `C = beta C + [A; 1] B` for an `A` of one or two rows: the few-rows product by rows of
/// `B` with one more row of ones in `A`, which is how an affine layer with one or two inputs
/// gets its bias gradient (the sum of `dZ`'s columns) in the same pass over `dZ` as its
/// weight gradient. `C` has `A`'s rows plus one.
///
/// # Safety
/// The CPU must have `W`'s instruction set.
#[inline(always)]
pub(super) unsafe fn by_rows_with_ones<T: Scalar, W: Simd<T>>(
    (m, k, n): (usize, usize, usize),
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    beta: T,
    c: &mut OperandMut<'_, T>,
) {
    assert!((1..=2).contains(&m) && b.cs == 1);
    let rows = ByRows::<T, W> {
        simd: PhantomData,
        a,
        k,
        n,
        b: b.data,
        b_rs: b.rs,
        alpha: T::ONE,
        beta,
    };
    if const { W::REGISTERS < 32 } {
        // AVX2: as in `few_rows`.
        match m {
            1 => rows.run::<2, 4, true>(c),
            _ => rows.run::<3, 3, true>(c),
        }
        return;
    }
    match (m, n > 4 * W::LEN) {
        (1, false) => rows.run::<2, 4, true>(c),
        (1, true) => rows.run::<2, 7, true>(c),
        (_, false) => rows.run::<3, 4, true>(c),
        (_, true) => rows.run::<3, 7, true>(c),
    }
}

/// A few-rows product whose `B` has contiguous rows (stride `b_rs` between them).
struct ByRows<'a, T, W> {
    a: Operand<'a, T>,
    k: usize,
    n: usize,
    b: &'a [T],
    b_rs: usize,
    alpha: T,
    beta: T,
    /// The instruction set's vectors: built only inside the `unsafe` entry points, whose
    /// caller vouches for it.
    simd: PhantomData<W>,
}

impl<T: Scalar, W: Simd<T>> ByRows<'_, T, W> {
    /// All of `C`, `M` rows by `NB` vectors of columns at a time.
    #[inline(always)]
    fn run<const M: usize, const NB: usize, const ONES: bool>(&self, c: &mut OperandMut<'_, T>) {
        let (l, k, n) = (W::LEN, self.k, self.n);
        // With `ONES`, `A`'s last row is ones and not stored.
        let stored = if ONES { M - 1 } else { M };
        assert!(
            k == 0
                || stored == 0
                || (stored - 1) * self.a.rs + (k - 1) * self.a.cs < self.a.data.len()
        );
        assert!(k == 0 || n == 0 || (k - 1) * self.b_rs + n <= self.b.len());
        let mut j0 = 0;
        while j0 < n {
            let width = (n - j0).min(NB * l);
            let counts: [usize; NB] = std::array::from_fn(|v| width.saturating_sub(v * l).min(l));
            // SAFETY: the assertions keep the reads of row `q` of `B` inside `b` (columns
            // `j0..j0 + width`, through the counts) and those of `A` inside `a`.
            let acc = unsafe {
                if width == NB * l {
                    self.block::<M, NB, false, ONES>(j0, &counts)
                } else {
                    self.block::<M, NB, true, ONES>(j0, &counts)
                }
            };
            for (i, acc) in acc.iter().enumerate() {
                for (v, &acc) in acc.iter().enumerate() {
                    let mut lanes = [T::ZERO; 16];
                    // SAFETY: `lanes` holds a whole vector of either type.
                    unsafe { W::store_first(l, lanes.as_mut_ptr(), acc) };
                    for (t, &value) in lanes[..counts[v]].iter().enumerate() {
                        put(c, i, j0 + v * l + t, value, self.alpha, self.beta);
                    }
                }
            }
            j0 += NB * l;
        }
    }
}

impl<T: Scalar, W: Simd<T>> ByRows<'_, T, W> {
    /// The sums `sum_q A[i, q] B[q, j0..]` of one block of `NB` vectors of columns, the
    /// `v`-th `counts[v]` long; `PARTIAL` when some count is short of a whole vector (whole
    /// blocks load without masks). With `ONES`, `A`'s last row is ones (not read).
    ///
    /// # Safety
    /// Row `q` of `B` must hold `counts[v]` elements from `q * b_rs + j0 + v * l`, and
    /// `a` an `M x k` matrix (`M - 1` rows with `ONES`).
    #[inline(always)]
    unsafe fn block<const M: usize, const NB: usize, const PARTIAL: bool, const ONES: bool>(
        &self,
        j0: usize,
        counts: &[usize; NB],
    ) -> [[W::V; NB]; M] {
        let (l, k) = (W::LEN, self.k);
        // SAFETY: the caller's contract.
        unsafe {
            let mut acc = [[W::zeros(); NB]; M];
            let (a, a_rs, a_cs) = (self.a.data.as_ptr(), self.a.rs, self.a.cs);
            for q in 0..k {
                let row = self.b.as_ptr().add(q * self.b_rs + j0);
                let mut bv = [W::zeros(); NB];
                for (v, bv) in bv.iter_mut().enumerate() {
                    *bv = if PARTIAL {
                        W::load_first(counts[v], row.wrapping_add(v * l))
                    } else {
                        W::load(row.add(v * l))
                    };
                }
                for (i, acc) in acc.iter_mut().enumerate() {
                    let s = if ONES && i + 1 == M {
                        W::broadcast(T::ONE)
                    } else {
                        W::broadcast(*a.add(i * a_rs + q * a_cs))
                    };
                    for (acc, &bv) in acc.iter_mut().zip(&bv) {
                        *acc = W::fmadd(s, bv, *acc);
                    }
                }
            }
            acc
        }
    }
}

/// A few-rows product as dot products with contiguous columns of `B` (stride `stride`).
struct Dots<'a, T, W> {
    a_rows: &'a [T],
    k: usize,
    n: usize,
    columns: &'a [T],
    stride: usize,
    alpha: T,
    beta: T,
    /// Added to every column (`beta` is then zero).
    bias: Option<&'a [T]>,
    /// The instruction set's vectors: built only inside the `unsafe` entry points, whose
    /// caller vouches for it.
    simd: PhantomData<W>,
}

impl<T: Scalar, W: Simd<T>> Dots<'_, T, W> {
    /// All of `C`, two columns at a time.
    #[inline(always)]
    fn run<const M: usize, const CJ: usize>(&self, c: &mut OperandMut<'_, T>) {
        assert!(self.a_rows.len() >= M * self.k);
        assert!(self.n == 0 || (self.n - 1) * self.stride + self.k <= self.columns.len());
        let mut j = 0;
        while j + CJ <= self.n {
            self.columns_from::<M, CJ>(j, c);
            j += CJ;
        }
        while j < self.n {
            self.columns_from::<M, 1>(j, c);
            j += 1;
        }
    }

    /// One step of [`columns_from`](Self::columns_from)'s dot products: `count` (at most a
    /// vector) elements from `q` of each of the `M` rows of `A` and of columns `j..j + CJ`.
    ///
    /// # Safety
    /// The CPU must have `W`'s instruction set, and the reads must lie inside `a_rows` and
    /// `columns` (see `run`'s assertions).
    #[inline(always)]
    unsafe fn dot_step<const M: usize, const CJ: usize>(
        &self,
        j: usize,
        q: usize,
        count: usize,
        acc: &mut [[W::V; M]; CJ],
    ) {
        let (a, b, k) = (self.a_rows.as_ptr(), self.columns.as_ptr(), self.k);
        // SAFETY: the caller's contract.
        unsafe {
            let mut bv = [W::zeros(); CJ];
            for (t, bv) in bv.iter_mut().enumerate() {
                let p = b.add((j + t) * self.stride + q);
                *bv = if count == W::LEN {
                    W::load(p)
                } else {
                    W::load_first(count, p)
                };
            }
            for i in 0..M {
                let p = a.add(i * k + q);
                let av = if count == W::LEN {
                    W::load(p)
                } else {
                    W::load_first(count, p)
                };
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    acc[i] = W::fmadd(av, bv, acc[i]);
                }
            }
        }
    }

    /// Columns `j..j + CJ` of `C`: `M * CJ` dot products, summed in vectors (whole ones
    /// loaded plainly, the ragged end with masks) and reduced at the end.
    #[inline(always)]
    fn columns_from<const M: usize, const CJ: usize>(&self, j: usize, c: &mut OperandMut<'_, T>) {
        let (l, k) = (W::LEN, self.k);
        // SAFETY: `run`'s assertions keep the reads inside `a_rows` (row `i` is
        // `i * k..(i + 1) * k`) and `columns` (column `j + t` is `k` elements from
        // `(j + t) * stride`), the counts stopping each at `k`.
        let sums = unsafe {
            let mut acc = [[W::zeros(); M]; CJ];
            let whole = k - k % l;
            let mut q = 0;
            while q < whole {
                self.dot_step::<M, CJ>(j, q, l, &mut acc);
                q += l;
            }
            if whole < k {
                self.dot_step::<M, CJ>(j, whole, k - whole, &mut acc);
            }
            // M * CJ is at most 16 (see `few_rows`): one tree of sums, padded with zeros.
            // (Loops, not closures: a closure would not inherit the caller's instruction
            // set, and its vector operations would stay calls.)
            let mut padded = [W::zeros(); 16];
            for (v, slot) in padded.iter_mut().enumerate().take(M * CJ) {
                *slot = acc[v / M][v % M];
            }
            let all = W::lane_sums(&padded);
            let mut sums = [[T::ZERO; M]; CJ];
            for (t, column) in sums.iter_mut().enumerate() {
                column.copy_from_slice(&all[t * M..][..M]);
            }
            sums
        };
        for (t, column) in sums.iter().enumerate() {
            for (i, &value) in column.iter().enumerate() {
                match self.bias {
                    Some(bias) => c.data[i * c.rs + (j + t) * c.cs] = self.alpha * value + bias[i],
                    None => put(c, i, j + t, value, self.alpha, self.beta),
                }
            }
        }
    }
}

/// The weight and bias gradients of a network's first layer, with one or two inputs, when a
/// ReLU and a dense layer follow it: `[dW | db] = beta [dW | db] + dZ1 [X; 1]^T` with `dZ1 =
/// (A dZ) ⊙ gate`, `A` the `m x k` transposed weight of the layer after the ReLU (packed
/// column-major in `a_pack`, `m_pad` rows a column) and `dZ` its output gradient (`k x n`).
/// Each column of `dZ1` is computed in registers and used at once: it is never stored (the
/// spiral's `dZ1` is 100 x 300, 120 KB, which the unfused step wrote and read back). `dwb`
/// is `m x (inputs + 1)` column-major, and is written as `alpha` times the sums plus `beta_w`
/// (weight columns) or `beta_b` (the bias column) times what it held: `(1, beta, beta)` for
/// a gradient, `(-lr, 1 - lr decay, 1)` for an SGD step on the layer's parameters. Rows go
/// in groups of up to four vectors, so that the group's sums and accumulators fit in
/// registers.
///
/// # Safety
/// The CPU must have `W`'s instruction set.
#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "the operands of two products")]
pub(super) unsafe fn first_layer_grads<T: Scalar, W: Simd<T>>(
    (m, k, n, inputs): (usize, usize, usize, usize),
    a_pack: &[T],
    m_pad: usize,
    dz: &[T],
    x: &[T],
    gate: ReluGate<'_, T>,
    scale: (T, T, T),
    dwb: &mut [T],
) {
    let l = W::LEN;
    assert!((1..=2).contains(&inputs) && m_pad >= m.next_multiple_of(l));
    assert!(a_pack.len() >= m_pad * k && dz.len() >= k * n && x.len() >= inputs * n);
    assert!(dwb.len() >= m * (inputs + 1));
    match gate {
        ReluGate::Bits(bits, bytes) => {
            assert!(8 * bytes >= m.next_multiple_of(l) && bits.len() >= n * bytes);
        }
        ReluGate::Output(h) => assert!(h.len() >= m * n),
    }
    let vectors = m.div_ceil(l);
    let mut v0 = 0;
    if const { W::REGISTERS < 32 } {
        // AVX2: groups of up to two vectors (three sums, `dZ1` and the broadcasts for
        // each fit in 16 registers).
        while v0 < vectors {
            let args = (m, k, n, v0 * l, a_pack, m_pad, dz, x, gate, scale);
            match (vectors - v0, inputs) {
                (1, 1) => first_layer_group::<T, W, 1, 1>(args, dwb),
                (_, 1) => first_layer_group::<T, W, 2, 1>(args, dwb),
                (1, _) => first_layer_group::<T, W, 1, 2>(args, dwb),
                _ => first_layer_group::<T, W, 2, 2>(args, dwb),
            }
            v0 += 2;
        }
        return;
    }
    while v0 < vectors {
        let r0 = v0 * l;
        let args = (m, k, n, r0, a_pack, m_pad, dz, x, gate, scale);
        match (vectors - v0, inputs) {
            (1, 1) => first_layer_group::<T, W, 1, 1>(args, dwb),
            (2, 1) => first_layer_group::<T, W, 2, 1>(args, dwb),
            (3, 1) => first_layer_group::<T, W, 3, 1>(args, dwb),
            (_, 1) => first_layer_group::<T, W, 4, 1>(args, dwb),
            (1, _) => first_layer_group::<T, W, 1, 2>(args, dwb),
            (2, _) => first_layer_group::<T, W, 2, 2>(args, dwb),
            (3, _) => first_layer_group::<T, W, 3, 2>(args, dwb),
            _ => first_layer_group::<T, W, 4, 2>(args, dwb),
        }
        v0 += 4;
    }
}

/// The operands of one row group of [`first_layer_grads`], from row `r0`.
type FirstGroup<'a, T> = (
    usize,
    usize,
    usize,
    usize,
    &'a [T],
    usize,
    &'a [T],
    &'a [T],
    ReluGate<'a, T>,
    (T, T, T),
);

/// Rows `r0..` (`NV` vectors, the last maybe ragged) of [`first_layer_grads`], for a layer
/// with `INPUTS` inputs.
#[inline(always)]
fn first_layer_group<T: Scalar, W: Simd<T>, const NV: usize, const INPUTS: usize>(
    (m, k, n, r0, a_pack, m_pad, dz, x, gate, (alpha, beta_w, beta_b)): FirstGroup<'_, T>,
    dwb: &mut [T],
) {
    let l = W::LEN;
    let rows = (m - r0).min(NV * l);
    let tail = rows - (NV - 1) * l;
    // SAFETY: `first_layer_grads` checked every operand's length: `A`'s packed columns hold
    // `m_pad >= r0 + NV * l` rows, `dz` and `x` their `n` columns, the gate `n` columns of
    // `m` rows (or of whole bytes), and `dwb` `inputs + 1` columns of `m`; the counts keep
    // the gate's and `dwb`'s accesses inside rows `r0..r0 + rows`.
    unsafe {
        let a = a_pack.as_ptr().add(r0);
        let one = W::broadcast(T::ONE);
        // Weight columns, then the bias column (at most INPUTS + 1 = 3 used).
        let mut acc = [[W::zeros(); NV]; 3];
        for j in 0..n {
            let mut dh = [W::zeros(); NV];
            for q in 0..k {
                let s = W::broadcast(*dz.get_unchecked(j * k + q));
                let a = a.add(q * m_pad);
                for (v, dh) in dh.iter_mut().enumerate() {
                    *dh = W::fmadd(W::load(a.add(v * l)), s, *dh);
                }
            }
            for (v, dh) in dh.iter_mut().enumerate() {
                let r = r0 + v * l;
                *dh = match gate {
                    ReluGate::Bits(bits, bytes) => {
                        let at = bits.as_ptr().add(j * bytes + r / 8);
                        let keep = if l == 16 {
                            u32::from(at.cast::<u16>().read_unaligned())
                        } else {
                            u32::from(*at)
                        };
                        W::keep_lanes(*dh, keep)
                    }
                    ReluGate::Output(h) => {
                        let count = if v + 1 == NV { tail } else { l };
                        let g = W::load_first(count, h.as_ptr().add(j * m + r));
                        W::keep_where_positive(*dh, g)
                    }
                };
            }
            let x0 = W::broadcast(*x.get_unchecked(j * INPUTS));
            let x1 = W::broadcast(*x.get_unchecked(j * INPUTS + INPUTS - 1));
            for (v, &dh) in dh.iter().enumerate() {
                acc[0][v] = W::fmadd(dh, x0, acc[0][v]);
                if INPUTS == 2 {
                    acc[1][v] = W::fmadd(dh, x1, acc[1][v]);
                }
                acc[INPUTS][v] = W::fmadd(dh, one, acc[INPUTS][v]);
            }
        }
        let alpha_v = W::broadcast(alpha);
        for (c, acc) in acc.iter().enumerate().take(INPUTS + 1) {
            let beta = if c < INPUTS { beta_w } else { beta_b };
            let beta_v = W::broadcast(beta);
            for (v, &value) in acc.iter().enumerate() {
                let count = if v + 1 == NV { tail } else { l };
                let out = dwb.as_mut_ptr().add(c * m + r0 + v * l);
                let value = if alpha == T::ONE {
                    value
                } else {
                    W::product(alpha_v, value)
                };
                let value = if beta == T::ZERO {
                    value
                } else {
                    W::fmadd(beta_v, W::load_first(count, out), value)
                };
                W::store_first(count, out, value);
            }
        }
    }
}
