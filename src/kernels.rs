//! The one place constnet multiplies matrices: [`gemm`], a packed matrix product in the
//! style of BLIS and `matrixmultiply`, with two differences that matter here:
//!
//! - its packing buffers are per-thread and reused, so after the first product of a given
//!   size no call allocates (a training step allocates nothing);
//! - every operand is read through its own strides, so the transposes of the backward pass
//!   (`W^T dY`, `dY X^T`) are strided views of the same buffers, never copies.
//!
//! Blocking: `C (m x n) += A (m x k) B (k x n)` is cut into `KC`-deep slices of `k`; each
//! slice of `B` is packed into `NR`-column micro-panels and each `MC`-row block of `A` into
//! `MR`-row micro-panels, so the micro-kernel streams both from contiguous memory and keeps
//! an `MR x NR` tile of `C` in registers. On x86-64 the whole product is compiled twice more,
//! with AVX2 + FMA and with AVX-512, and the best one the CPU has is chosen at run time; the
//! micro-kernels (16 x 6 for AVX2, 32 x 8 for AVX-512, in `f32`) are intrinsics in
//! `scalar.rs`, and the AVX-512 one updates whole tiles of `C` in place. The packing buffers
//! start on cache-line boundaries, so no vector load from them straddles two lines.
//!
//! [`gemv`] is the single-sample product, used for the batched forward of narrow layers.

#![allow(unsafe_code)]

use std::cell::Cell;

use nalgebra::{Dim, Matrix, RawStorage, RawStorageMut, SMatrixView, SVectorView, SVectorViewMut};

use crate::Float;

/// Depth of one packed slice of `k`.
#[cfg(target_arch = "x86_64")]
mod small;

const KC: usize = 1024;
/// Rows of `A` packed at once.
const MC: usize = 96;
/// Columns of `B` packed at once.
const NC: usize = 1024;

/// The instruction sets a product is compiled for, as const-generic tags: plain Rust for
/// any CPU, AVX2 with FMA, and AVX-512 (F and VL: every AVX-512 CPU but Knights Landing).
const PORTABLE: u8 = 0;
const AVX2: u8 = 1;
const AVX512: u8 = 2;

#[cfg(test)]
thread_local! {
    /// In tests, an instruction set below the best one to run instead, so that every
    /// compiled variant is tested on one machine.
    static FORCED_ISA: Cell<Option<u8>> = const { Cell::new(None) };
}

/// The best instruction set this CPU has (detection is cached by the standard library).
#[inline]
fn detect_isa() -> u8 {
    #[cfg(test)]
    if let Some(isa) = FORCED_ISA.get() {
        return isa;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return AVX512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return AVX2;
        }
    }
    PORTABLE
}

/// The packed micro-kernel's register tile, `(MR, NR)`, for an instruction set and a scalar
/// size: two vector registers tall, 8 columns wide with AVX-512 (32 registers) and 6 with
/// AVX2 (16 registers).
const fn tile_shape(isa: u8, scalar_size: usize) -> (usize, usize) {
    let lanes = if isa == AVX512 { 64 } else { 32 } / scalar_size;
    (2 * lanes, if isa == AVX512 { 8 } else { 6 })
}

/// `c = alpha * a * b + beta * c` for any shapes and strides nalgebra can describe. When
/// `beta` is zero, `c` is not read.
///
/// # Panics
/// If the shapes do not agree (`a` is `m x k`, `b` is `k x n`, `c` is `m x n`): callers pass
/// shapes fixed by the layer's widths, so a mismatch is a bug in constnet, not user input.
#[inline]
pub(crate) fn gemm<T, R1, C1, S1, R2, C2, S2, R3, C3, S3>(
    alpha: T,
    a: &Matrix<T, R1, C1, S1>,
    b: &Matrix<T, R2, C2, S2>,
    beta: T,
    c: &mut Matrix<T, R3, C3, S3>,
) where
    T: Float,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    R3: Dim,
    C3: Dim,
    S1: RawStorage<T, R1, C1>,
    S2: RawStorage<T, R2, C2>,
    S3: RawStorageMut<T, R3, C3>,
{
    let (m, k, n) = product_shape(a.shape(), b.shape(), c.shape());
    if m == 0 || n == 0 {
        return;
    }
    let (a, b, c) = (Operand::of(a), Operand::of(b), OperandMut::of(c));
    T::matrix_product(Product {
        isa: detect_isa(),
        m,
        k,
        n,
        alpha,
        a,
        b,
        beta,
        bias: None,
        epilogue: Epilogue::None,
        c,
    });
}

/// `c = (a * b) ⊙ [gate > 0]`: the product, zero wherever the matching element of `gate`
/// (shaped as `c`) is not positive. That is the input gradient of a dense layer that reads a
/// ReLU's output `gate`, carried back through the ReLU in the same pass (`c` is not read).
///
/// # Panics
/// If the shapes do not agree, as [`gemm`], or `gate` is not shaped as `c`.
#[inline]
pub(crate) fn gemm_gated<T, R1, C1, S1, R2, C2, S2, R3, C3, S3, R4, C4, S4>(
    a: &Matrix<T, R1, C1, S1>,
    b: &Matrix<T, R2, C2, S2>,
    gate: &Matrix<T, R4, C4, S4>,
    c: &mut Matrix<T, R3, C3, S3>,
) where
    T: Float,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    R3: Dim,
    C3: Dim,
    R4: Dim,
    C4: Dim,
    S1: RawStorage<T, R1, C1>,
    S2: RawStorage<T, R2, C2>,
    S3: RawStorageMut<T, R3, C3>,
    S4: RawStorage<T, R4, C4>,
{
    let (m, k, n) = product_shape(a.shape(), b.shape(), c.shape());
    assert_eq!(
        gate.shape(),
        c.shape(),
        "gated product: the gate is shaped as C"
    );
    if m == 0 || n == 0 {
        return;
    }
    let (a, b, c) = (Operand::of(a), Operand::of(b), OperandMut::of(c));
    let gate = Epilogue::Gate(Operand::of(gate));
    T::matrix_product(Product {
        isa: detect_isa(),
        m,
        k,
        n,
        alpha: T::ONE,
        a,
        b,
        beta: T::ZERO,
        bias: None,
        epilogue: gate,
        c,
    });
}

/// `(m, k, n)` of `C (m x n) = A (m x k) B (k x n)`.
///
/// # Panics
/// If the shapes do not agree.
fn product_shape(a: (usize, usize), b: (usize, usize), c: (usize, usize)) -> (usize, usize, usize) {
    let ((m, k), (k2, n)) = (a, b);
    assert!(
        k == k2 && c == (m, n),
        "matrix product: shapes do not agree"
    );
    (m, k, n)
}

/// [`affine`] with a ReLU, which also records where `c` is positive in `bits` (`column_bytes`
/// per column, bit `i % 8` of byte `j * column_bytes + i / 8`), when the product runs in
/// registers (AVX-512, depth at most 16): returns whether it did. Otherwise `c` is still
/// `max(0, a b + bias 1^T)`, and `bits` untouched.
///
/// # Panics
/// As [`affine`], or if `bits` cannot hold `c`'s columns.
pub(crate) fn affine_relu_keeping_bits<T, R1, C1, S1, R2, C2, S2, R3, C3, S3>(
    a: &Matrix<T, R1, C1, S1>,
    b: &Matrix<T, R2, C2, S2>,
    bias: &[T],
    c: &mut Matrix<T, R3, C3, S3>,
    bits: &mut [u8],
    column_bytes: usize,
) -> bool
where
    T: Float,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    R3: Dim,
    C3: Dim,
    S1: RawStorage<T, R1, C1>,
    S2: RawStorage<T, R2, C2>,
    S3: RawStorageMut<T, R3, C3>,
{
    let (m, k, n) = product_shape(a.shape(), b.shape(), c.shape());
    let isa = detect_isa();
    if !bits_in_registers(isa, k, c.strides().0) {
        affine(a, b, bias, true, c);
        return false;
    }
    assert!(8 * column_bytes >= m.next_multiple_of(16) && bits.len() >= n * column_bytes);
    assert_eq!(bias.len(), m, "affine: one bias per row");
    if m == 0 || n == 0 {
        return true;
    }
    let (a, b, c) = (Operand::of(a), Operand::of(b), OperandMut::of(c));
    let bits = Cell::from_mut(bits).as_slice_of_cells();
    let epilogue = Epilogue::ReluKeepingBits(bits, column_bytes);
    T::matrix_product(Product {
        isa,
        m,
        k,
        n,
        alpha: T::ONE,
        a,
        b,
        beta: T::ZERO,
        bias: Some(bias),
        epilogue,
        c,
    });
    true
}

/// [`gemm_gated`] with the gate as the bits [`affine_relu_keeping_bits`] recorded: returns
/// `false`, computing nothing, where the product would not run in registers.
///
/// # Panics
/// As [`gemm`], or if `bits` cannot hold `c`'s columns.
pub(crate) fn gemm_gated_by_bits<T, R1, C1, S1, R2, C2, S2, R3, C3, S3>(
    a: &Matrix<T, R1, C1, S1>,
    b: &Matrix<T, R2, C2, S2>,
    bits: &[u8],
    column_bytes: usize,
    c: &mut Matrix<T, R3, C3, S3>,
) -> bool
where
    T: Float,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    R3: Dim,
    C3: Dim,
    S1: RawStorage<T, R1, C1>,
    S2: RawStorage<T, R2, C2>,
    S3: RawStorageMut<T, R3, C3>,
{
    let (m, k, n) = product_shape(a.shape(), b.shape(), c.shape());
    let isa = detect_isa();
    if !bits_in_registers(isa, k, c.strides().0) {
        return false;
    }
    assert!(8 * column_bytes >= m.next_multiple_of(16) && bits.len() >= n * column_bytes);
    if m == 0 || n == 0 {
        return true;
    }
    let (a, b, c) = (Operand::of(a), Operand::of(b), OperandMut::of(c));
    let epilogue = Epilogue::GateBits(bits, column_bytes);
    T::matrix_product(Product {
        isa,
        m,
        k,
        n,
        alpha: T::ONE,
        a,
        b,
        beta: T::ZERO,
        bias: None,
        epilogue,
        c,
    });
    true
}

/// The gate of [`first_layer_grads_through_relu`]: a ReLU mask's bits (`column_bytes` per
/// column), or the ReLU's output, `m x n` with contiguous columns.
#[derive(Clone, Copy)]
pub(crate) enum ReluGate<'a, T> {
    Bits(&'a [u8], usize),
    Output(&'a [T]),
}

/// The weight and bias gradients of a network's first layer, with one or two inputs `x`
/// (`inputs x n`), under a ReLU and a dense layer of `k` outputs and weight `w` (`k x m`,
/// column-major) whose output gradient is `dz` (`k x n`): `[dW | db] = alpha dZ1 [X; 1]^T +
/// [beta_w dW | beta_b db]` (`scale` is `(alpha, beta_w, beta_b)`) with `dZ1 = (W^T dZ) ⊙
/// gate`, in one pass that never stores `dZ1` (AVX-512, `k` at most 16). Returns `false`, computing nothing, where that kernel does not apply
/// (another CPU, more inputs, a deeper `dz`, operands not contiguous); `dZ1` must then be
/// computed and used as usual.
#[expect(clippy::too_many_arguments, reason = "the operands of two products")]
#[inline]
pub(crate) fn first_layer_grads_through_relu<T: Float>(
    w: &[T],
    shape: (usize, usize, usize),
    dz: &[T],
    x: &[T],
    inputs: usize,
    gate: ReluGate<'_, T>,
    scale: (T, T, T),
    dwb: &mut [T],
) -> bool {
    T::first_layer_grads(w, shape, dz, x, inputs, gate, scale, dwb)
}

/// [`first_layer_grads_through_relu`] for any scalar type (see [`Compiled`]).
#[expect(clippy::too_many_arguments, reason = "the operands of two products")]
fn first_layer_grads_any<T: Float>(
    w: &[T],
    (k, m, n): (usize, usize, usize),
    dz: &[T],
    x: &[T],
    inputs: usize,
    gate: ReluGate<'_, T>,
    scale: (T, T, T),
    dwb: &mut [T],
) -> bool {
    let applies = cfg!(target_arch = "x86_64")
        && detect_isa() == AVX512
        && (1..=2).contains(&inputs)
        && (1..=SHALLOW_K).contains(&k)
        && n > 0
        && w.len() >= k * m
        && dz.len() >= k * n
        && x.len() >= inputs * n
        && dwb.len() >= m * (inputs + 1);
    if !applies {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let m_pad = m.next_multiple_of(SHALLOW_ROWS);
        // `W^T`, `m x k`: row `i` is column `i` of `W`.
        let w_t = Operand {
            data: w,
            rs: k,
            cs: 1,
        };
        T::with_pack_buffers(m_pad * k, 0, |a_pack, _| {
            pack_shallow_a(m, k, &w_t, None, a_pack);
            let shape = (m, k, n, inputs);
            // SAFETY: the CPU has AVX-512F (checked above).
            unsafe { small::first_layer_grads(shape, a_pack, m_pad, dz, x, gate, scale, dwb) };
        });
    }
    true
}

/// `c = a * b + bias 1^T`: the affine map `W X + b` of a batch, `bias` added to every column
/// (`c` is not read), followed by a ReLU (`c = max(0, W X + b)`) when `relu` is set. A
/// shallow product (the spiral's 2-input layer) adds it as one more
/// column of `a`, which saves a pass over `c`; the others start from `c` filled with it.
///
/// # Panics
/// If the shapes do not agree, as [`gemm`], or `bias` is not `m` long.
#[inline]
pub(crate) fn affine<T, R1, C1, S1, R2, C2, S2, R3, C3, S3>(
    a: &Matrix<T, R1, C1, S1>,
    b: &Matrix<T, R2, C2, S2>,
    bias: &[T],
    relu: bool,
    c: &mut Matrix<T, R3, C3, S3>,
) where
    T: Float,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    R3: Dim,
    C3: Dim,
    S1: RawStorage<T, R1, C1>,
    S2: RawStorage<T, R2, C2>,
    S3: RawStorageMut<T, R3, C3>,
{
    let (m, k, n) = product_shape(a.shape(), b.shape(), c.shape());
    assert_eq!(bias.len(), m, "affine: one bias per row");
    if m == 0 || n == 0 {
        return;
    }
    let (a, b, c) = (Operand::of(a), Operand::of(b), OperandMut::of(c));
    let epilogue = if relu { Epilogue::Relu } else { Epilogue::None };
    T::matrix_product(Product {
        isa: detect_isa(),
        m,
        k,
        n,
        alpha: T::ONE,
        a,
        b,
        beta: T::ZERO,
        bias: Some(bias),
        epilogue,
        c,
    });
}

/// `[dW | db] = beta [dW | db] + dZ [X^T | 1]` in one pass over `dZ`, for an affine layer
/// with one or two inputs on an AVX-512 CPU: the weight gradient `dW = dZ X^T` (`r x
/// inputs`) and the bias gradient `db` (the sum of `dZ`'s columns) are the columns of one
/// `r x (inputs + 1)` column-major matrix `dwb`, computed as the few-rows product `[X; 1]
/// dZ^T` transposed. `dz` is `r x batch` and `x` is `inputs x batch`, both column-major and
/// contiguous. Returns `false`, writing nothing, where that product would not take the
/// few-rows path (another CPU, a shallow batch, few outputs): the caller then computes the
/// two apart. The spiral net's first layer spent as long summing `db` (a second pass over
/// its 120 KB `dZ`) as on `dW`.
pub(crate) fn affine_grads_in_one_pass<T, R1, C1, S1, R2, C2, S2>(
    dz: &Matrix<T, R1, C1, S1>,
    x: &Matrix<T, R2, C2, S2>,
    beta: T,
    dwb: &mut [T],
) -> bool
where
    T: Float,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    S1: RawStorage<T, R1, C1>,
    S2: RawStorage<T, R2, C2>,
{
    let ((rows, batch), inputs) = (dz.shape(), x.nrows());
    let applies = cfg!(target_arch = "x86_64")
        && detect_isa() == AVX512
        && (1..=2).contains(&inputs)
        && batch > SHALLOW_K
        && rows > FEW
        && dz.strides() == (1, rows)
        && x.strides() == (1, inputs);
    if !applies {
        return false;
    }
    assert_eq!(
        x.ncols(),
        batch,
        "affine gradients: one input per column of dZ"
    );
    assert_eq!(
        dwb.len(),
        rows * (inputs + 1),
        "affine gradients: [dW | db] is r x (i + 1)"
    );
    T::affine_grads(
        (inputs, batch, rows),
        Operand::of(x),
        Operand::of(dz),
        beta,
        dwb,
    );
    true
}

/// The kernel of [`affine_grads_in_one_pass`] for any scalar type (see [`Compiled`]): `x` is
/// `inputs x batch` and `dz` `rows x batch`, both contiguous, on an AVX-512 CPU.
fn affine_grads_any<T: Float>(
    (inputs, batch, rows): (usize, usize, usize),
    x: Operand<'_, T>,
    dz: Operand<'_, T>,
    beta: T,
    dwb: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    {
        let dz_t = dz.transposed();
        let mut dwb_t = OperandMut {
            data: dwb,
            rs: rows,
            cs: 1,
        };
        // SAFETY: the caller checked that the CPU has AVX-512F.
        unsafe { small::by_rows_with_ones((inputs, batch, rows), x, dz_t, beta, &mut dwb_t) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ((inputs, batch, rows), x, dz, beta, dwb);
}

/// `y = W x + b` for one sample (`x` of length `I`, `b` and `y` of length `O`, `W` the `O x
/// I` column-major matrix in `w`), then `max(0, y)` when `RELU` is set: the AVX-512
/// register-blocked kernel where the CPU has it, nalgebra's fixed-size `gemv` otherwise.
#[inline]
pub(crate) fn gemv<T: Float, const I: usize, const O: usize, const RELU: bool>(
    w: &[T],
    x: &[T],
    b: &[T],
    y: &mut [T],
) {
    let w = &w[..O * I];
    #[cfg(target_arch = "x86_64")]
    {
        if detect_isa() == AVX512 {
            // SAFETY: the CPU has AVX-512F.
            unsafe { T::gemv_avx512::<O, I, RELU>(w, x, b, y) };
            return;
        }
    }
    let y = &mut y[..O];
    y.copy_from_slice(&b[..O]);
    SVectorViewMut::<T, O>::from_slice(y).gemv(
        T::ONE,
        &SMatrixView::<T, O, I>::from_slice(w),
        &SVectorView::<T, I>::from_slice(x),
        T::ONE,
    );
    if RELU {
        for v in y {
            *v = if *v > T::ZERO { *v } else { T::ZERO };
        }
    }
}

/// Whether an `O x I` weight matrix fits in L1 (32 KB at most), so that a matrix-vector
/// product reads it from there: single-sample [`gemv`] is then faster than nalgebra's.
#[inline]
pub(crate) const fn weights_fit_in_l1<T>(inputs: usize, outputs: usize) -> bool {
    inputs * outputs * size_of::<T>() <= 32 * 1024
}

/// Whether a batched `O x I` layer is faster as one [`gemv`] per sample than as one
/// [`gemm`]: with AVX-512, when its weights fit in L1 (32 KB at most) and so are read from
/// there for every sample, which then costs no packing and wastes no padded tile rows on a
/// shallow or narrow layer (the 2-input and 10-output layers of the benchmark nets). A
/// column of fewer than half a vector (the spiral's 3 outputs) would waste most lanes of
/// every multiply-add, and stays with the product.
#[inline]
pub(crate) fn per_sample_is_faster<T: Float>(inputs: usize, outputs: usize) -> bool {
    weights_fit_in_l1::<T>(inputs, outputs)
        && inputs > SHALLOW_K
        && outputs * size_of::<T>() >= 32
        && detect_isa() == AVX512
}

/// A read-only operand: its elements and strides.
#[derive(Clone, Copy)]
struct Operand<'a, T> {
    data: &'a [T],
    rs: usize,
    cs: usize,
}

impl<'a, T: Float> Operand<'a, T> {
    fn of<R: Dim, C: Dim, S: RawStorage<T, R, C>>(m: &'a Matrix<T, R, C, S>) -> Self {
        let (rs, cs) = m.strides();
        Operand {
            data: covering_slice(m),
            rs,
            cs,
        }
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }

    /// The transpose: the same elements with the strides swapped.
    fn transposed(self) -> Self {
        Operand {
            data: self.data,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

struct OperandMut<'a, T> {
    data: &'a mut [T],
    rs: usize,
    cs: usize,
}

impl<'a, T: Float> OperandMut<'a, T> {
    fn of<R: Dim, C: Dim, S: RawStorageMut<T, R, C>>(m: &'a mut Matrix<T, R, C, S>) -> Self {
        let (rs, cs) = m.strides();
        OperandMut {
            data: covering_slice_mut(m),
            rs,
            cs,
        }
    }
}

impl<T> OperandMut<'_, T> {
    /// The transpose: the same elements with the strides swapped.
    fn transposed(self) -> Self {
        OperandMut {
            data: self.data,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// What a product does to each element of `C` as it writes it, after `alpha`, `beta` and
/// the bias: a ReLU fused into the layer before or after it. The AVX-512 shallow kernel
/// applies it in registers; every other path in one pass over `C` after the product.
#[derive(Clone, Copy)]
enum Epilogue<'a, T> {
    /// `C` as computed.
    None,
    /// `max(0, c)`.
    Relu,
    /// `c` where the matching element of the gate (shaped as `C`) is positive, 0 elsewhere.
    Gate(Operand<'a, T>),
    /// `max(0, c)`, recording where `c` is positive in bit `i % 8` of byte `j * bytes + i /
    /// 8` of the mask (`bytes` per column, given with it). In registers only: see
    /// [`bits_in_registers`].
    ReluKeepingBits(&'a [Cell<u8>], usize),
    /// `c` where its bit of the mask (laid out as above) is set, 0 elsewhere; in registers
    /// only.
    GateBits(&'a [u8], usize),
}

/// Whether a product of depth `k` whose `C` has row stride `c_rs` applies its epilogue in
/// registers (the AVX-512 shallow kernel), which the mask epilogues need: they have no
/// pass over `C` after the product.
fn bits_in_registers(isa: u8, k: usize, c_rs: usize) -> bool {
    cfg!(target_arch = "x86_64") && isa == AVX512 && k <= SHALLOW_K && c_rs == 1
}

impl<T: Float> Epilogue<'_, T> {
    /// The same epilogue for `C^T`.
    fn transposed(self) -> Self {
        match self {
            Epilogue::Gate(gate) => Epilogue::Gate(gate.transposed()),
            other => other,
        }
    }

    /// Applies the epilogue to the `m x n` matrix `c` in place.
    fn apply(&self, m: usize, n: usize, c: &mut OperandMut<'_, T>) {
        match self {
            Epilogue::None => {}
            Epilogue::ReluKeepingBits(..) | Epilogue::GateBits(..) => {
                unreachable!("mask epilogues run in registers only (see `bits_in_registers`)")
            }
            Epilogue::Relu => {
                for j in 0..n {
                    if c.rs == 1 {
                        for v in &mut c.data[j * c.cs..][..m] {
                            *v = if *v > T::ZERO { *v } else { T::ZERO };
                        }
                    } else {
                        for i in 0..m {
                            let v = &mut c.data[i * c.rs + j * c.cs];
                            *v = if *v > T::ZERO { *v } else { T::ZERO };
                        }
                    }
                }
            }
            Epilogue::Gate(gate) => {
                for j in 0..n {
                    if c.rs == 1 && gate.rs == 1 {
                        let out = &mut c.data[j * c.cs..][..m];
                        for (v, &g) in out.iter_mut().zip(&gate.data[j * gate.cs..][..m]) {
                            *v = if g > T::ZERO { *v } else { T::ZERO };
                        }
                    } else {
                        for i in 0..m {
                            let v = &mut c.data[i * c.rs + j * c.cs];
                            *v = if gate.at(i, j) > T::ZERO { *v } else { T::ZERO };
                        }
                    }
                }
            }
        }
    }
}

/// How many elements, from the first, a matrix of this shape and strides spans.
fn span(shape: (usize, usize), strides: (usize, usize)) -> usize {
    if shape.0 == 0 || shape.1 == 0 {
        0
    } else {
        (shape.0 - 1) * strides.0 + (shape.1 - 1) * strides.1 + 1
    }
}

/// The slice that covers every element of a matrix, whatever its strides.
fn covering_slice<T: Float, R: Dim, C: Dim, S: RawStorage<T, R, C>>(
    m: &Matrix<T, R, C, S>,
) -> &[T] {
    let len = span(m.shape(), m.strides());
    // SAFETY: nalgebra guarantees that the storage holds every element its shape and strides
    // address: the furthest one is `len - 1` past the first.
    unsafe { std::slice::from_raw_parts(m.as_ptr(), len) }
}

/// The mutable slice that covers every element of a matrix.
fn covering_slice_mut<T: Float, R: Dim, C: Dim, S: RawStorageMut<T, R, C>>(
    m: &mut Matrix<T, R, C, S>,
) -> &mut [T] {
    let len = span(m.shape(), m.strides());
    // SAFETY: as above, and the matrix is borrowed mutably for the slice's lifetime.
    unsafe { std::slice::from_raw_parts_mut(m.as_mut_ptr(), len) }
}

/// Products whose depth `k` is at most this skip packing: each column of `C` is a sum of
/// `k` scaled columns of `A` (the spiral net's 2- and 3-wide layers).
const SHALLOW_K: usize = 16;
/// Products with at most this many rows (or, transposed, columns) of `C` skip packing too:
/// each element is a dot product (the 3- and 10-wide output layers), where the packed path
/// would pad the rows to a whole 16-row micro-panel.
const FEW: usize = 8;

/// The algorithm a product takes, chosen from its shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// BLIS-style packing and the register-tiled micro-kernel.
    Packed,
    /// `k <= SHALLOW_K`: columns of `C` as sums of scaled columns of `A`.
    Shallow,
    /// `m <= FEW`: rows of `C` from dot products or scaled rows of `B`.
    FewRows,
}

/// A product's operands and what it does, as [`dispatch`] takes them.
pub(crate) struct Product<'a, T> {
    isa: u8,
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: Operand<'a, T>,
    b: Operand<'a, T>,
    beta: T,
    bias: Option<&'a [T]>,
    epilogue: Epilogue<'a, T>,
    c: OperandMut<'a, T>,
}

/// The kernels' entry points for one scalar type, a supertrait of [`Float`]. `f32`'s are
/// compiled here, once, in constnet's own build (`#[inline(never)]`), so a crate that
/// declares networks in `f32` links them instead of compiling its own copy: the kernels are
/// most of a network's machine code (274 KB of the spiral example's), and editing a network
/// then rebuilt them all. `f64`'s (gradient checks) are instantiated where they are used, so
/// a crate that does not use them does not pay for them. Its methods take the kernels'
/// crate-private types: outside the crate the trait is unnameable, and `Float` is sealed.
#[expect(
    private_interfaces,
    reason = "a sealed supertrait: its arguments are the kernels' own types"
)]
pub trait Compiled: Sized {
    /// [`dispatch`] for this type.
    fn matrix_product(p: Product<'_, Self>);

    /// [`first_layer_grads_through_relu`] for this type.
    #[expect(clippy::too_many_arguments, reason = "the operands of two products")]
    fn first_layer_grads(
        w: &[Self],
        shape: (usize, usize, usize),
        dz: &[Self],
        x: &[Self],
        inputs: usize,
        gate: ReluGate<'_, Self>,
        scale: (Self, Self, Self),
        dwb: &mut [Self],
    ) -> bool;

    /// The kernel of [`affine_grads_in_one_pass`], its operands checked.
    fn affine_grads(
        shape: (usize, usize, usize),
        x: Operand<'_, Self>,
        dz: Operand<'_, Self>,
        beta: Self,
        dwb: &mut [Self],
    );
}

macro_rules! compiled {
    ($ty:ty, #[$inline:meta]) => {
        #[expect(private_interfaces, reason = "as the trait")]
        impl Compiled for $ty {
            #[$inline]
            fn matrix_product(p: Product<'_, Self>) {
                dispatch(p);
            }

            #[$inline]
            fn first_layer_grads(
                w: &[Self],
                shape: (usize, usize, usize),
                dz: &[Self],
                x: &[Self],
                inputs: usize,
                gate: ReluGate<'_, Self>,
                scale: (Self, Self, Self),
                dwb: &mut [Self],
            ) -> bool {
                first_layer_grads_any(w, shape, dz, x, inputs, gate, scale, dwb)
            }

            #[$inline]
            fn affine_grads(
                shape: (usize, usize, usize),
                x: Operand<'_, Self>,
                dz: Operand<'_, Self>,
                beta: Self,
                dwb: &mut [Self],
            ) {
                affine_grads_any(shape, x, dz, beta, dwb);
            }
        }
    };
}

compiled!(f32, #[inline(never)]);
compiled!(f64, #[inline]);

/// Runs a product on the path its shape and the CPU call for.
fn dispatch<T: Float>(p: Product<'_, T>) {
    let Product {
        isa,
        m,
        k,
        n,
        alpha,
        a,
        b,
        beta,
        bias,
        epilogue,
        c,
    } = p;
    // The shallow path adds a bias as one more column of `A` (times a row of ones in `B`);
    // the others start from `C` filled with it.
    let (mut beta, mut bias) = (beta, bias);
    // The AVX-512 dot products of a few-rows product add it as they write `C` (the spiral's
    // 3-output layer had spent a fifth of its forward filling 300 columns of 3).
    let dots_add_bias = isa == AVX512 && m <= FEW && b.rs == 1 && b.cs != 1;
    if let Some(values) = bias
        && k > SHALLOW_K
        && !dots_add_bias
    {
        assert!(beta == T::ZERO && values.len() == m);
        for j in 0..n {
            if c.rs == 1 {
                c.data[j * c.cs..][..m].copy_from_slice(values);
            } else {
                for (i, &v) in values.iter().enumerate() {
                    c.data[i * c.rs + j * c.cs] = v;
                }
            }
        }
        (beta, bias) = (T::ONE, None);
    }
    // `C^T = B^T A^T`: a product with few columns is one with few rows, transposed (a
    // transpose is swapped strides).
    let (m, n, a, b, epilogue, mut c) = if k > SHALLOW_K && m > FEW && n <= FEW {
        let (a_t, b_t) = (b.transposed(), a.transposed());
        (n, m, a_t, b_t, epilogue.transposed(), c.transposed())
    } else {
        (m, n, a, b, epilogue, c)
    };
    let path = if k <= SHALLOW_K {
        Path::Shallow
    } else if m <= FEW {
        Path::FewRows
    } else {
        Path::Packed
    };
    let (a_len, b_len) = match path {
        Path::Shallow => {
            let m_pad = m.next_multiple_of(SHALLOW_ROWS);
            (m_pad * (k + 1), m_pad)
        }
        Path::FewRows if b.rs == 1 || b.cs == 1 => (m.next_multiple_of(GROUP) * k, 0),
        Path::FewRows => (m.next_multiple_of(GROUP) * k, k * n),
        Path::Packed => {
            let (mr, nr) = tile_shape(isa, size_of::<T>());
            let kc_max = k.clamp(1, KC);
            let mc_max = m.min(MC).next_multiple_of(mr);
            let nc_max = n.min(NC).next_multiple_of(nr);
            (kc_max * mc_max, kc_max * nc_max)
        }
    };
    let applied = T::with_pack_buffers(a_len, b_len, |a_pack, b_pack| {
        let p = Problem {
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
            b_pack,
        };
        #[cfg(target_arch = "x86_64")]
        {
            if isa == AVX512 {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { run_avx512(path, p, &mut c) };
            }
            if isa == AVX2 {
                // SAFETY: as above.
                unsafe { run_avx2_fma(path, p, &mut c) };
                return false;
            }
        }
        run_portable(path, p, &mut c);
        false
    });
    if !applied {
        epilogue.apply(m, n, &mut c);
    }
}

/// One product's operands, sizes and packing buffers.
struct Problem<'a, 'p, T> {
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    beta: T,
    /// Added to every column of `C`, with `beta` zero: only on the shallow path, and in the
    /// AVX-512 few-rows dot products.
    bias: Option<&'a [T]>,
    /// Applied as `C` is written by the kernels that can (the AVX-512 shallow one, which
    /// says so); after the product otherwise.
    epilogue: Epilogue<'a, T>,
    a: Operand<'a, T>,
    b: Operand<'a, T>,
    a_pack: &'p mut [T],
    b_pack: &'p mut [T],
}

/// The product compiled with AVX2 and FMA, so that multiply-adds are fused and 8 (f32) or 4
/// (f64) wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma<T: Float>(path: Path, p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    run::<T, AVX2>(path, p, c);
}

/// The product compiled with AVX-512F: 16 (f32) or 8 (f64) lanes and 32 vector registers.
/// Returns whether the kernel applied the product's epilogue.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn run_avx512<T: Float>(path: Path, p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) -> bool {
    match path {
        Path::Shallow if c.rs == 1 => {
            small::shallow(p, c);
            return true;
        }
        Path::FewRows => small::few_rows(p, c),
        _ => run::<T, AVX512>(path, p, c),
    }
    false
}

/// The product for any CPU.
fn run_portable<T: Float>(path: Path, p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    run::<T, PORTABLE>(path, p, c);
}

#[inline(always)]
fn run<T: Float, const ISA: u8>(path: Path, p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    let fma = ISA != PORTABLE;
    match (path, ISA == AVX512, size_of::<T>() == 4) {
        (Path::Shallow, ..) if fma => shallow::<T, true>(p, c),
        (Path::Shallow, ..) => shallow::<T, false>(p, c),
        (Path::FewRows, ..) if fma => few_rows::<T, true>(p, c),
        (Path::FewRows, ..) => few_rows::<T, false>(p, c),
        (Path::Packed, true, true) => blocked::<T, 32, 8, ISA>(p, c),
        (Path::Packed, true, false) => blocked::<T, 16, 8, ISA>(p, c),
        (Path::Packed, false, true) => blocked::<T, 16, 6, ISA>(p, c),
        (Path::Packed, false, false) => blocked::<T, 8, 6, ISA>(p, c),
    }
}

/// `x * y + acc`, fused when the caller is compiled with FMA.
#[inline(always)]
fn mul_add<T: Float, const FMA: bool>(x: T, y: T, acc: T) -> T {
    if FMA { x.mul_add(y, acc) } else { x * y + acc }
}

/// `C[i, j] = alpha * v + beta * C[i, j]`, not reading `C` when `beta` is zero.
#[inline(always)]
fn put<T: Float>(c: &mut OperandMut<'_, T>, i: usize, j: usize, v: T, alpha: T, beta: T) {
    let at = i * c.rs + j * c.cs;
    c.data[at] = if beta == T::ZERO {
        alpha * v
    } else {
        alpha * v + beta * c.data[at]
    };
}

/// Rows of `C` in one register block of the shallow product.
const SHALLOW_ROWS: usize = 16;

/// The shallow product (`k <= SHALLOW_K`). `A` is copied column-major with its rows padded
/// to whole blocks (it is at most `16 m` elements); each 16-row block of a column of `C` is
/// summed in registers as `sum_p B[p, j] * A[i.., p]` (with `B` read in place) into a
/// padded column buffer, which is then scaled into `C`.
///
/// The register blocks are only ever indexed with constants, so that LLVM keeps them in
/// vector registers: one dynamic index would put them on the stack.
#[inline(always)]
fn shallow<T: Float, const FMA: bool>(p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
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
        b_pack: column,
    } = p;
    let m_pad = m.next_multiple_of(SHALLOW_ROWS);
    let depth = pack_shallow_a(m, k, &a, bias, a_pack);
    let (a_blocks, _) = a_pack.as_chunks::<SHALLOW_ROWS>();
    let blocks = m_pad / SHALLOW_ROWS;
    let mut b_col = [T::ONE; SHALLOW_K + 1];
    for j in 0..n {
        for (q, v) in b_col.iter_mut().enumerate().take(k) {
            *v = b.at(q, j);
        }
        let (out_blocks, _) = column.as_chunks_mut::<SHALLOW_ROWS>();
        for (r, out) in out_blocks.iter_mut().enumerate() {
            let mut acc = [T::ZERO; SHALLOW_ROWS];
            for (q, &s) in b_col.iter().enumerate().take(depth) {
                for (t, &v) in acc.iter_mut().zip(&a_blocks[q * blocks + r]) {
                    *t = mul_add::<T, FMA>(s, v, *t);
                }
            }
            *out = acc;
        }
        write_column(c, j, &column[..m], alpha, beta);
    }
}

/// Copies the shallow product's `A` (`m x k`) into `a_pack` column-major, each column padded
/// to a whole number of 16-row blocks, followed by `bias` as one more column when there is
/// one (the shallow kernels multiply it by a row of ones). Returns the depth packed: `k`, or
/// `k + 1` with a bias.
fn pack_shallow_a<T: Float>(
    m: usize,
    k: usize,
    a: &Operand<'_, T>,
    bias: Option<&[T]>,
    a_pack: &mut [T],
) -> usize {
    let m_pad = m.next_multiple_of(SHALLOW_ROWS);
    for (q, out) in a_pack.chunks_exact_mut(m_pad).enumerate().take(k) {
        let (rows, pad) = out.split_at_mut(m);
        if a.rs == 1 {
            rows.copy_from_slice(&a.data[q * a.cs..][..m]);
        } else {
            for (i, v) in rows.iter_mut().enumerate() {
                *v = a.at(i, q);
            }
        }
        pad.fill(T::ZERO);
    }
    let Some(bias) = bias else { return k };
    let out = &mut a_pack[k * m_pad..][..m_pad];
    out[..m].copy_from_slice(&bias[..m]);
    out[m..].fill(T::ZERO);
    k + 1
}

/// `C[.., j] = alpha * column + beta * C[.., j]`.
#[inline(always)]
fn write_column<T: Float>(c: &mut OperandMut<'_, T>, j: usize, column: &[T], alpha: T, beta: T) {
    if c.rs == 1 {
        let out = &mut c.data[j * c.cs..][..column.len()];
        if beta == T::ZERO {
            for (o, &v) in out.iter_mut().zip(column) {
                *o = alpha * v;
            }
        } else {
            for (o, &v) in out.iter_mut().zip(column) {
                *o = alpha * v + beta * *o;
            }
        }
    } else {
        for (i, &v) in column.iter().enumerate() {
            put(c, i, j, v, alpha, beta);
        }
    }
}

/// Rows of `C` computed together in the few-rows product (`A`'s rows are padded to it).
const GROUP: usize = 4;
/// Partial sums of the few-rows product's dot products, and columns per block when it
/// accumulates rows.
const LANES: usize = 16;

/// The few-rows product (`m <= FEW`). `A` is copied row-major with its rows padded to a
/// multiple of 4 (it is at most `8 k` elements). With contiguous rows of `B`, four rows of
/// `C` are computed together as `sum_p A[i, p] * B[p, j..]` over 16-column blocks, indexed
/// with constants only as in [`shallow`]; with contiguous columns, each element is a dot
/// product with 16 partial sums; otherwise `B` is first copied column-major.
#[inline(always)]
fn few_rows<T: Float, const FMA: bool>(p: Problem<'_, '_, T>, c: &mut OperandMut<'_, T>) {
    let Problem {
        m,
        k,
        n,
        alpha,
        beta,
        bias: _,
        epilogue: _,
        a,
        b,
        a_pack,
        b_pack,
    } = p;
    pack_few_rows_a(m, k, &a, a_pack);
    if b.cs == 1 && b.rs != 1 {
        let mut j0 = 0;
        while j0 < n {
            let width = (n - j0).min(LANES);
            for i0 in (0..m).step_by(GROUP) {
                let tile = if width == LANES {
                    row_block::<T, FMA, true>(a_pack, k, i0, &b, j0, LANES)
                } else {
                    row_block::<T, FMA, false>(a_pack, k, i0, &b, j0, width)
                };
                for (g, row) in tile.iter().enumerate().take(m - i0) {
                    for (j, &v) in row.iter().enumerate().take(width) {
                        put(c, i0 + g, j0 + j, v, alpha, beta);
                    }
                }
            }
            j0 += LANES;
        }
        return;
    }
    let (columns, stride) = contiguous_columns(k, n, &b, b_pack);
    for j in 0..n {
        let column = &columns[j * stride..][..k];
        for (i, row) in a_pack.chunks_exact(k).take(m).enumerate() {
            put(c, i, j, dot::<T, FMA>(row, column), alpha, beta);
        }
    }
}

/// Copies the few-rows product's `A` (`m x k`) into `a_pack` row-major, zero rows after the
/// last up to the end of `a_pack` (a multiple of `GROUP` rows).
fn pack_few_rows_a<T: Float>(m: usize, k: usize, a: &Operand<'_, T>, a_pack: &mut [T]) {
    for (i, out) in a_pack.chunks_exact_mut(k).enumerate() {
        for (q, v) in out.iter_mut().enumerate() {
            *v = if i < m { a.at(i, q) } else { T::ZERO };
        }
    }
}

/// `B`'s `n` columns (each `k` long) as one slice and the stride between them: `B`'s own
/// elements when its columns are contiguous, a column-major copy in `b_pack` otherwise.
fn contiguous_columns<'a, T: Float>(
    k: usize,
    n: usize,
    b: &Operand<'a, T>,
    b_pack: &'a mut [T],
) -> (&'a [T], usize) {
    if b.rs == 1 {
        return (b.data, b.cs);
    }
    for (j, out) in b_pack.chunks_exact_mut(k).enumerate().take(n) {
        for (q, v) in out.iter_mut().enumerate() {
            *v = b.at(q, j);
        }
    }
    (&b_pack[..k * n], k)
}

/// `x . y` with 16 independent partial sums, so the loop vectorizes without reassociating.
#[inline(always)]
fn dot<T: Float, const FMA: bool>(x: &[T], y: &[T]) -> T {
    let mut partial = [T::ZERO; LANES];
    let (xc, xr) = x.as_chunks::<LANES>();
    let (yc, yr) = y.as_chunks::<LANES>();
    for (xs, ys) in xc.iter().zip(yc) {
        for ((p, &u), &v) in partial.iter_mut().zip(xs).zip(ys) {
            *p = mul_add::<T, FMA>(u, v, *p);
        }
    }
    let mut sum = T::ZERO;
    for (&u, &v) in xr.iter().zip(yr) {
        sum = mul_add::<T, FMA>(u, v, sum);
    }
    partial.iter().fold(sum, |s, &p| s + p)
}

/// `sum_p A[i0 + g, p] * B[p, j0 + j]` for `g < 4` and `j < width <= 16`, reading rows of
/// `B` in place (`FULL`: `width` is 16, no padding copy).
#[inline(always)]
fn row_block<T: Float, const FMA: bool, const FULL: bool>(
    a_pack: &[T],
    k: usize,
    i0: usize,
    b: &Operand<'_, T>,
    j0: usize,
    width: usize,
) -> [[T; LANES]; GROUP] {
    let rows: [&[T]; GROUP] = std::array::from_fn(|g| &a_pack[(i0 + g) * k..][..k]);
    let mut tile = [[T::ZERO; LANES]; GROUP];
    for q in 0..k {
        let b_row = &b.data[q * b.rs + j0..][..width];
        let mut padded = [T::ZERO; LANES];
        let b_row: &[T; LANES] = if FULL {
            b_row.try_into().expect("a full block")
        } else {
            padded[..width].copy_from_slice(b_row);
            &padded
        };
        for (sums, row) in tile.iter_mut().zip(&rows) {
            let s = row[q];
            for (t, &v) in sums.iter_mut().zip(b_row) {
                *t = mul_add::<T, FMA>(s, v, *t);
            }
        }
    }
    tile
}

#[inline(always)]
fn blocked<T: Float, const MR: usize, const NR: usize, const ISA: u8>(
    p: Problem<'_, '_, T>,
    c: &mut OperandMut<'_, T>,
) {
    // The packing buffers were sized by `tile_shape`: the tile here must be that one (`run`
    // instantiates other shapes in arms it never takes).
    debug_assert_eq!((MR, NR), tile_shape(ISA, size_of::<T>()));
    let Problem {
        m,
        k,
        n,
        alpha,
        beta,
        bias: _,
        epilogue: _,
        a,
        b,
        a_pack,
        b_pack,
    } = p;
    // With AVX-512, a column-major `A` whose rows fill whole tiles and whose columns start on
    // cache lines is read in place, its micro-panels `MR` contiguous rows at a stride of
    // `a.cs`: forward's `W X` then costs no copy of `W` (the parameter buffer is aligned for
    // this). Misaligned, every load would straddle two lines, which measured slower than
    // packing.
    let a_in_place = ISA == AVX512
        && a.rs == 1
        && m % MR == 0
        && c.rs == 1
        && a.data.as_ptr().addr().is_multiple_of(64)
        && (a.cs * size_of::<T>()).is_multiple_of(64);
    let mut jc = 0;
    while jc < n {
        let nc = (n - jc).min(NC);
        let mut pc = 0;
        loop {
            let kc = (k - pc).min(KC);
            // The first slice of k applies beta; the others accumulate.
            let beta = if pc == 0 { beta } else { T::ONE };
            pack_b::<T, NR, ISA>(&b, pc, kc, jc, nc, b_pack);
            let mut ic = 0;
            while ic < m {
                let mc = (m - ic).min(MC);
                if !a_in_place {
                    pack_a::<T, MR, ISA>(&a, ic, mc, pc, kc, a_pack);
                }
                let mut jr = 0;
                while jr < nc {
                    let b_panel = &b_pack[jr * kc..][..kc * NR];
                    let cols = (nc - jr).min(NR);
                    let mut ir = 0;
                    while ir < mc {
                        #[cfg(target_arch = "x86_64")]
                        if a_in_place {
                            let first = (ic + ir) + pc * a.cs;
                            let a_panel = &a.data[first..];
                            let at = (ic + ir) + (jc + jr) * c.cs;
                            if cols == NR {
                                assert!(at + (NR - 1) * c.cs + MR <= c.data.len());
                                // SAFETY: ISA is AVX512 only inside `run_avx512`; the
                                // assertion keeps the tile's eight columns of MR rows inside
                                // `c`, and the kernel checks its reads of `a_panel`.
                                unsafe {
                                    T::micro_kernel_avx512(
                                        kc,
                                        a_panel,
                                        a.cs,
                                        b_panel,
                                        c.data.as_mut_ptr().add(at),
                                        c.cs,
                                        alpha,
                                        beta,
                                    );
                                }
                            } else {
                                // The last, narrower tile: computed whole (B's panel is
                                // zero-padded) and stored in part.
                                let mut tile = [[T::ZERO; MR]; NR];
                                // SAFETY: as above, into the local MR x NR tile.
                                unsafe {
                                    T::micro_kernel_avx512(
                                        kc,
                                        a_panel,
                                        a.cs,
                                        b_panel,
                                        tile.as_flattened_mut().as_mut_ptr(),
                                        MR,
                                        T::ONE,
                                        T::ZERO,
                                    );
                                }
                                store(c, ic + ir, jc + jr, MR, cols, &tile, alpha, beta);
                            }
                            ir += MR;
                            continue;
                        }
                        let a_panel = &a_pack[ir * kc..][..kc * MR];
                        let rows = (mc - ir).min(MR);
                        #[cfg(target_arch = "x86_64")]
                        if ISA == AVX512 && rows == MR && cols == NR && c.rs == 1 {
                            let at = (ic + ir) + (jc + jr) * c.cs;
                            assert!(at + (NR - 1) * c.cs + MR <= c.data.len());
                            // SAFETY: ISA is AVX512 only inside `run_avx512`; the assertion
                            // keeps the tile's eight columns of MR rows inside `c`.
                            unsafe {
                                T::micro_kernel_avx512(
                                    kc,
                                    a_panel,
                                    MR,
                                    b_panel,
                                    c.data.as_mut_ptr().add(at),
                                    c.cs,
                                    alpha,
                                    beta,
                                );
                            }
                            ir += MR;
                            continue;
                        }
                        let tile = micro_kernel::<T, MR, NR, ISA>(kc, a_panel, b_panel);
                        store(c, ic + ir, jc + jr, rows, cols, &tile, alpha, beta);
                        ir += MR;
                    }
                    jr += NR;
                }
                ic += MC;
            }
            pc += KC;
            if pc >= k {
                break;
            }
        }
        jc += NC;
    }
}

/// Packs `B[pc.., jc..]` (`kc x nc`) into `NR`-column micro-panels, row by row, zero-padded.
#[inline(always)]
fn pack_b<T: Float, const NR: usize, const ISA: u8>(
    b: &Operand<'_, T>,
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    out: &mut [T],
) {
    // Rows of B are contiguous (a transposed view, `X^T` in `dW = dZ X^T`): whole panels are
    // packed two at a time, so that each row's 2 NR elements read (a whole cache line for
    // NR = 8 floats) are read once. One panel at a time read every line twice, from L2 (the
    // panels of a 784-wide `X^T` do not fit in L1); row by row across all the panels wrote
    // to lines 2 KB apart, which fall in two sets of L1.
    let whole = if b.cs == 1 { nc / NR } else { 0 };
    for pair in (0..whole).step_by(2) {
        let both = pair + 1 < whole;
        let width = if both { 2 * NR } else { NR };
        for p in 0..kc {
            let row = &b.data[(pc + p) * b.rs + jc + pair * NR..][..width];
            out[pair * kc * NR + p * NR..][..NR].copy_from_slice(&row[..NR]);
            if both {
                out[(pair + 1) * kc * NR + p * NR..][..NR].copy_from_slice(&row[NR..]);
            }
        }
    }
    for (panel, j0) in (0..nc).step_by(NR).enumerate().skip(whole) {
        let out = &mut out[panel * kc * NR..][..kc * NR];
        let cols = (nc - j0).min(NR);
        if cols == NR && b.rs == 1 {
            // Columns of B are contiguous (the batch of a forward product): transpose 8 x 8
            // blocks in registers where the CPU has AVX2, with the ragged end of `kc`
            // gathered one element from each of NR columns.
            let mut p0 = 0;
            #[cfg(target_arch = "x86_64")]
            if ISA != PORTABLE && NR == 8 {
                let first = (jc + j0) * b.cs + pc;
                // The last block's last element, column jc + j0 + 7 at depth pc + p0 + 7.
                while p0 + 8 <= kc {
                    assert!(first + 7 * b.cs + p0 + 8 <= b.data.len());
                    // SAFETY: AVX2 is enabled in the functions ISA is set in; the assertion
                    // keeps the eight columns' eight elements inside `b`, and `out` holds
                    // `kc` rows of NR = 8.
                    unsafe {
                        T::transpose_8x8_avx2(
                            b.data.as_ptr().add(first + p0),
                            b.cs,
                            out.as_mut_ptr().add(p0 * NR),
                            NR,
                        );
                    }
                    p0 += 8;
                }
            }
            let columns: [&[T]; NR] = std::array::from_fn(|j| {
                let start = (jc + j0 + j) * b.cs + pc;
                &b.data[start..start + kc]
            });
            for (p, row) in out.chunks_exact_mut(NR).enumerate().skip(p0) {
                for (v, column) in row.iter_mut().zip(&columns) {
                    *v = column[p];
                }
            }
        } else {
            for (p, row) in out.chunks_exact_mut(NR).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = if j < cols {
                        b.at(pc + p, jc + j0 + j)
                    } else {
                        T::ZERO
                    };
                }
            }
        }
    }
}

/// Packs `A[ic.., pc..]` (`mc x kc`) into `MR`-row micro-panels, column by column, zero-padded.
#[inline(always)]
fn pack_a<T: Float, const MR: usize, const ISA: u8>(
    a: &Operand<'_, T>,
    ic: usize,
    mc: usize,
    pc: usize,
    kc: usize,
    out: &mut [T],
) {
    for (panel, i0) in (0..mc).step_by(MR).enumerate() {
        let out = &mut out[panel * kc * MR..][..kc * MR];
        let rows = (mc - i0).min(MR);
        if a.rs == 1 && rows == MR {
            for (p, column) in out.chunks_exact_mut(MR).enumerate() {
                let start = (ic + i0) + (pc + p) * a.cs;
                column.copy_from_slice(&a.data[start..start + MR]);
            }
        } else if a.cs == 1 && rows == MR {
            // Rows of A are contiguous (a transposed view, `W^T` in backward): transpose
            // MR x 8 blocks, reading eight elements of each row at a time.
            const STEP: usize = 8;
            let rows: [&[T]; MR] =
                std::array::from_fn(|i| &a.data[(ic + i0 + i) * a.rs + pc..][..kc]);
            let mut p0 = 0;
            #[cfg(target_arch = "x86_64")]
            if ISA != PORTABLE && MR.is_multiple_of(8) {
                let first = (ic + i0) * a.rs + pc;
                assert!(out.len() >= kc * MR);
                while p0 + 8 <= kc {
                    // The last block's last element: row MR - 1 at depth p0 + 7.
                    assert!(first + (MR - 1) * a.rs + p0 + 8 <= a.data.len());
                    for i in (0..MR).step_by(8) {
                        // SAFETY: AVX2 is enabled in the functions ISA is set in; the
                        // assertions keep the block's rows inside `a` and `out`.
                        unsafe {
                            T::transpose_8x8_avx2(
                                a.data.as_ptr().add(first + i * a.rs + p0),
                                a.rs,
                                out.as_mut_ptr().add(p0 * MR + i),
                                MR,
                            );
                        }
                    }
                    p0 += 8;
                }
            }
            let (blocks, _) = out.as_chunks_mut::<MR>();
            while p0 + STEP <= kc {
                for (i, row) in rows.iter().enumerate() {
                    let chunk: &[T; STEP] = row[p0..p0 + STEP].try_into().expect("eight elements");
                    for (q, &v) in chunk.iter().enumerate() {
                        blocks[p0 + q][i] = v;
                    }
                }
                p0 += STEP;
            }
            for p in p0..kc {
                for (i, row) in rows.iter().enumerate() {
                    blocks[p][i] = row[p];
                }
            }
        } else {
            for (p, column) in out.chunks_exact_mut(MR).enumerate() {
                for (i, v) in column.iter_mut().enumerate() {
                    *v = if i < rows {
                        a.at(ic + i0 + i, pc + p)
                    } else {
                        T::ZERO
                    };
                }
            }
        }
    }
}

/// The `MR x NR` register tile of `A_panel * B_panel` over `kc` steps: the scalar type's
/// AVX-512 or AVX2 + FMA kernel, or plain multiply-adds.
#[inline(always)]
fn micro_kernel<T: Float, const MR: usize, const NR: usize, const ISA: u8>(
    kc: usize,
    a_panel: &[T],
    b_panel: &[T],
) -> [[T; MR]; NR] {
    let mut acc = [[T::ZERO; MR]; NR];
    #[cfg(target_arch = "x86_64")]
    {
        if ISA == AVX512 {
            assert_eq!((MR, NR), tile_shape(AVX512, size_of::<T>()));
            // SAFETY: `ISA` is AVX512 only inside `run_avx512`, which runs only on CPUs with
            // AVX-512F; the assertion makes `acc` exactly one tile of MR-row columns.
            unsafe {
                T::micro_kernel_avx512(
                    kc,
                    a_panel,
                    MR,
                    b_panel,
                    acc.as_flattened_mut().as_mut_ptr(),
                    MR,
                    T::ONE,
                    T::ZERO,
                );
            }
            return acc;
        }
        if ISA == AVX2 {
            // SAFETY: likewise for `run_avx2_fma` and AVX2 + FMA.
            unsafe { T::micro_kernel_avx2_fma(kc, a_panel, b_panel, acc.as_flattened_mut()) };
            return acc;
        }
    }
    for (a, b) in a_panel
        .chunks_exact(MR)
        .zip(b_panel.chunks_exact(NR))
        .take(kc)
    {
        for (column, &bj) in acc.iter_mut().zip(b) {
            for (c, &ai) in column.iter_mut().zip(a) {
                *c += ai * bj;
            }
        }
    }
    acc
}

/// `C[i0.., j0..] = alpha * tile + beta * C` on the valid `rows x cols` corner of the tile.
#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "a tile and where it goes")]
fn store<T: Float, const MR: usize, const NR: usize>(
    c: &mut OperandMut<'_, T>,
    i0: usize,
    j0: usize,
    rows: usize,
    cols: usize,
    tile: &[[T; MR]; NR],
    alpha: T,
    beta: T,
) {
    if c.rs == 1 && rows == MR {
        for (j, column) in tile.iter().enumerate().take(cols) {
            let start = i0 + (j0 + j) * c.cs;
            let out = &mut c.data[start..start + MR];
            if beta == T::ZERO {
                for (o, &v) in out.iter_mut().zip(column) {
                    *o = alpha * v;
                }
            } else {
                for (o, &v) in out.iter_mut().zip(column) {
                    *o = alpha * v + beta * *o;
                }
            }
        }
        return;
    }
    for (j, column) in tile.iter().enumerate().take(cols) {
        for (i, &v) in column.iter().enumerate().take(rows) {
            put(c, i0 + i, j0 + j, v, alpha, beta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "x86_64")]
    use crate::Float;
    use nalgebra::{Const, DMatrix, Dyn, MatrixView, MatrixViewMut, SVector, U1};

    /// Every instruction set this CPU can run, so each compiled variant is tested.
    fn available_isas() -> Vec<u8> {
        (PORTABLE..=detect_isa()).collect()
    }

    /// Runs `f` with the products compiled for `isa`.
    fn on_isa<R>(isa: u8, f: impl FnOnce() -> R) -> R {
        FORCED_ISA.set(Some(isa));
        let result = f();
        FORCED_ISA.set(None);
        result
    }

    #[test]
    fn gemm_matches_naive_product_for_small_large_and_ragged_shapes() {
        for (m, k, n) in [
            (1, 1, 1),
            (3, 100, 7),
            (100, 2, 300),
            (17, 33, 5),
            (130, 600, 70),
            (64, 40, 13),
            (96, 1100, 17),
        ] {
            let a = DMatrix::<f64>::from_fn(m, k, |i, j| (i * 7 + j * 3) as f64 % 5.0 - 2.0);
            let b = DMatrix::<f64>::from_fn(k, n, |i, j| (i * 2 + j * 5) as f64 % 3.0 - 1.0);
            for isa in available_isas() {
                let mut c = DMatrix::<f64>::from_element(m, n, 1.0);
                on_isa(isa, || gemm(2.0, &a, &b, 0.5, &mut c));
                let expected = (&a * &b) * 2.0 + DMatrix::from_element(m, n, 0.5);
                assert_eq!(c, expected, "{m}x{k}x{n}, isa {isa}");
                let (af, bf) = (a.map(|v| v as f32), b.map(|v| v as f32));
                let mut cf = DMatrix::<f32>::from_element(m, n, f32::NAN);
                on_isa(isa, || gemm(1.0, &af, &bf, 0.0, &mut cf));
                assert_eq!(cf, &af * &bf, "f32 {m}x{k}x{n}, isa {isa}");
            }
        }
    }

    /// `affine` is `A B + b 1^T` on every path, for every row count of the few-rows kernels
    /// and for shallow products with more rows than one register group holds.
    #[test]
    fn affine_adds_the_bias_to_every_column_on_every_path() {
        for m in [1, 2, 3, 4, 5, 6, 7, 8, 17, 100, 150] {
            for k in [1, 2, 16, 17, 40] {
                for n in [1, 2, 3, 33] {
                    let a =
                        DMatrix::<f64>::from_fn(m, k, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0);
                    let b =
                        DMatrix::<f64>::from_fn(k, n, |i, j| ((i * 2 + j * 5) % 3) as f64 - 1.0);
                    let bias: Vec<f64> = (0..m).map(|i| (i % 4) as f64 * 0.25 - 0.5).collect();
                    let affine_map = &a * &b + DMatrix::from_fn(m, n, |i, _| bias[i]);
                    for (isa, relu) in available_isas()
                        .into_iter()
                        .flat_map(|isa| [(isa, false), (isa, true)])
                    {
                        let expected = if relu {
                            affine_map.map(|v| v.max(0.0))
                        } else {
                            affine_map.clone()
                        };
                        let mut c = DMatrix::<f64>::from_element(m, n, f64::NAN);
                        on_isa(isa, || affine(&a, &b, &bias, relu, &mut c));
                        assert_eq!(c, expected, "{m}x{k}x{n}, isa {isa}, relu {relu}");
                        let (af, bf) = (a.map(|v| v as f32), b.map(|v| v as f32));
                        let biasf: Vec<f32> = bias.iter().map(|&v| v as f32).collect();
                        let mut cf = DMatrix::<f32>::from_element(m, n, f32::NAN);
                        on_isa(isa, || affine(&af, &bf, &biasf, relu, &mut cf));
                        let expected = expected.map(|v| v as f32);
                        assert_eq!(cf, expected, "f32 {m}x{k}x{n}, isa {isa}, relu {relu}");
                    }
                }
            }
        }
    }

    /// `gemm_gated` is `(A B) ⊙ [gate > 0]` on every path (shallow, few rows, transposed to
    /// few rows, packed), with `C` and the gate contiguous or transposed views, in both
    /// scalar types; `C` is overwritten, not read.
    #[test]
    fn gated_products_zero_every_element_whose_gate_is_not_positive() {
        fn check<T: Float + From<i8>>() {
            for (m, k, n) in [
                (100, 3, 300),
                (37, 1, 5),
                (17, 16, 9),
                (5, 40, 33),
                (64, 40, 7),
                (130, 200, 70),
            ] {
                let a = small_ints::<T>(m, k, |i, j| (i * 7 + j * 3) % 5, 2);
                let b = small_ints::<T>(k, n, |i, j| (i * 2 + j * 5) % 3, 1);
                // Positive, zero and negative gates, in a pattern unrelated to the product's.
                let gate = small_ints::<T>(m, n, |i, j| (i * 5 + j * 3) % 4, 1);
                let product = &a * &b;
                let expected = DMatrix::from_fn(m, n, |i, j| {
                    if gate[(i, j)] > T::ZERO {
                        product[(i, j)]
                    } else {
                        T::ZERO
                    }
                });
                for isa in available_isas() {
                    let mut c = DMatrix::<T>::from_element(m, n, T::of_f64(f64::NAN));
                    on_isa(isa, || gemm_gated(&a, &b, &gate, &mut c));
                    assert_eq!(c, expected, "{m}x{k}x{n}, isa {isa}");
                    // C^T and the gate^T as views with swapped strides: C = (B^T A^T)^T.
                    let mut c_t = DMatrix::<T>::from_element(n, m, T::of_f64(f64::NAN));
                    let gate_t = gate.transpose();
                    let (a_t, b_t) = (a.transpose(), b.transpose());
                    on_isa(isa, || {
                        let (r, c) = (Dyn(m), Dyn(n));
                        let mut view = MatrixViewMut::from_slice_with_strides_generic(
                            c_t.as_mut_slice(),
                            r,
                            c,
                            Dyn(n),
                            Dyn(1),
                        );
                        let gate = MatrixView::from_slice_with_strides_generic(
                            gate_t.as_slice(),
                            r,
                            c,
                            Dyn(n),
                            Dyn(1),
                        );
                        gemm_gated(&a, &b, &gate, &mut view);
                    });
                    assert_eq!(c_t, expected.transpose(), "C^T {m}x{k}x{n}, isa {isa}");
                    let mut c2 = DMatrix::<T>::from_element(n, m, T::of_f64(f64::NAN));
                    on_isa(isa, || gemm_gated(&b_t, &a_t, &gate_t, &mut c2));
                    assert_eq!(c2, expected.transpose(), "B^T A^T {m}x{k}x{n}, isa {isa}");
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// Where the shallow kernel runs in registers (AVX-512), a ReLU layer's product records
    /// its positive elements as bits, and the gated product of backward reads them: the
    /// same results as gating by the ReLU's output, in both scalar types, across row counts
    /// that fill several register groups and end in ragged vectors. Elsewhere both decline.
    #[test]
    fn relu_bits_gate_a_product_as_the_relu_output_does() {
        fn check<T: Float + From<i8>>() {
            for (m, k, n) in [
                (100, 2, 300),
                (1, 1, 5),
                (16, 3, 7),
                (17, 16, 9),
                (130, 2, 33),
            ] {
                let a = small_ints::<T>(m, k, |i, j| (i * 7 + j * 3) % 5, 2);
                let x = small_ints::<T>(k, n, |i, j| (i * 2 + j * 5) % 3, 1);
                let bias: Vec<T> = (0..m).map(|i| T::of_f64((i % 3) as f64 - 1.0)).collect();
                let column_bytes = m.div_ceil(16) * 2;
                for isa in available_isas() {
                    let mut bits = vec![0xAAu8; n * column_bytes];
                    let mut h = DMatrix::<T>::from_element(m, n, T::of_f64(f64::NAN));
                    let written = on_isa(isa, || {
                        affine_relu_keeping_bits(&a, &x, &bias, &mut h, &mut bits, column_bytes)
                    });
                    let mut expected = DMatrix::<T>::zeros(m, n);
                    affine(&a, &x, &bias, true, &mut expected);
                    assert_eq!(h, expected, "{m}x{k}x{n}, isa {isa}");
                    assert_eq!(written, isa == AVX512, "{m}x{k}x{n}, isa {isa}");
                    if !written {
                        continue;
                    }
                    for j in 0..n {
                        for i in 0..m {
                            let bit = bits[j * column_bytes + i / 8] >> (i % 8) & 1 == 1;
                            assert_eq!(bit, h[(i, j)] > T::ZERO, "bit ({i}, {j}) of {m}x{n}");
                        }
                    }
                    // Backward: dH = (A2 dZ) gated, A2 of depth 3 (a shallow product).
                    let a2 = small_ints::<T>(m, 3, |i, j| (i * 5 + j) % 7, 3);
                    let dz = small_ints::<T>(3, n, |i, j| (i + j * 2) % 5, 2);
                    let mut by_bits = DMatrix::<T>::from_element(m, n, T::of_f64(f64::NAN));
                    let gated = on_isa(isa, || {
                        gemm_gated_by_bits(&a2, &dz, &bits, column_bytes, &mut by_bits)
                    });
                    assert!(gated);
                    let mut by_output = DMatrix::<T>::zeros(m, n);
                    gemm_gated(&a2, &dz, &h, &mut by_output);
                    assert_eq!(by_bits, by_output, "gated {m}x{n}, isa {isa}");
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// The first layer's gradients through a ReLU and the next layer, in one pass that never
    /// stores `dZ1`, equal `[dZ1 X^T | dZ1 1]` computed the long way, for both gates, one and
    /// two inputs, row counts that take several register groups and ragged vectors, depths
    /// up to 16, beta 0 and 1 and both scalar types (small integers: exact); elsewhere it
    /// declines.
    #[test]
    fn first_layer_gradients_in_one_pass_are_the_long_way_ones() {
        fn check<T: Float + From<i8>>() {
            for (m, k, n) in [
                (100, 3, 300),
                (7, 1, 5),
                (17, 16, 9),
                (130, 2, 33),
                (16, 3, 1),
            ] {
                for inputs in [1, 2] {
                    let w = small_ints::<T>(k, m, |i, j| (i * 5 + j) % 7, 3);
                    let dz = small_ints::<T>(k, n, |i, j| (i + j * 2) % 5, 2);
                    let x = small_ints::<T>(inputs, n, |i, j| (i * 3 + j) % 4, 1);
                    let h = small_ints::<T>(m, n, |i, j| (i * 7 + j * 3) % 3, 1)
                        .map(|v| if v > T::ZERO { v } else { T::ZERO });
                    let column_bytes = m.div_ceil(16) * 2;
                    let mut bits = vec![0u8; n * column_bytes];
                    for j in 0..n {
                        for i in 0..m {
                            if h[(i, j)] > T::ZERO {
                                bits[j * column_bytes + i / 8] |= 1 << (i % 8);
                            }
                        }
                    }
                    let mut dz1 = DMatrix::<T>::zeros(m, n);
                    gemm_gated(&w.transpose(), &dz, &h, &mut dz1);
                    let mut x1 = DMatrix::<T>::from_element(inputs + 1, n, T::ONE);
                    x1.rows_mut(0, inputs).copy_from(&x);
                    let grads = &dz1 * x1.transpose();
                    for isa in available_isas() {
                        for beta in [T::ZERO, T::ONE] {
                            for by_bits in [false, true] {
                                let start = DMatrix::<T>::from_fn(m, inputs + 1, |i, j| {
                                    T::of_f64(((i + j) % 3) as f64)
                                });
                                let mut dwb = start.clone();
                                let gate = if by_bits {
                                    ReluGate::Bits(&bits, column_bytes)
                                } else {
                                    ReluGate::Output(h.as_slice())
                                };
                                let done = on_isa(isa, || {
                                    first_layer_grads_through_relu(
                                        w.as_slice(),
                                        (k, m, n),
                                        dz.as_slice(),
                                        x.as_slice(),
                                        inputs,
                                        gate,
                                        (T::ONE, beta, beta),
                                        dwb.as_mut_slice(),
                                    )
                                });
                                assert_eq!(done, isa == AVX512, "isa {isa}");
                                if done {
                                    let expected = &grads + &start * beta;
                                    assert_eq!(dwb, expected, "{m}x{k}x{n}, {inputs} inputs");
                                } else {
                                    assert_eq!(dwb, start, "declined, so untouched");
                                }
                            }
                        }
                    }
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// A `rows x cols` matrix of the small integers `f(i, j) - shift`, exact in either
    /// scalar type, so that every path's sums compare with `==`.
    fn small_ints<T: Float + From<i8>>(
        rows: usize,
        cols: usize,
        f: impl Fn(usize, usize) -> usize,
        shift: i8,
    ) -> DMatrix<T> {
        DMatrix::from_fn(rows, cols, |i, j| {
            <T as From<i8>>::from(f(i, j) as i8 - shift)
        })
    }

    /// The few-rows kernels for every row count, with `B` read by columns (dot products) and
    /// by rows (a transposed view), across ragged widths, in both scalar types.
    #[test]
    fn few_rows_products_agree_for_every_row_count_and_layout() {
        fn check<T: Float + From<i8>>() {
            for m in 1..=FEW {
                for (k, n) in [(17, 1), (40, 17), (100, 33), (300, 65)] {
                    let a = small_ints::<T>(m, k, |i, j| (i * 7 + j * 3) % 5, 2);
                    let b = small_ints::<T>(k, n, |i, j| (i * 2 + j * 5) % 3, 1);
                    let b_t = b.transpose();
                    let by_rows = MatrixView::from_slice_with_strides_generic(
                        b_t.as_slice(),
                        Dyn(k),
                        Dyn(n),
                        Dyn(n),
                        Dyn(1),
                    );
                    let expected = &a * &b;
                    for isa in available_isas() {
                        let mut c = DMatrix::<T>::from_element(m, n, T::ONE);
                        on_isa(isa, || gemm(T::ONE, &a, &b, T::ZERO, &mut c));
                        assert_eq!(c, expected, "{m}x{k}x{n} by columns, isa {isa}");
                        let mut c = DMatrix::<T>::from_element(m, n, T::ONE);
                        on_isa(isa, || gemm(T::ONE, &a, &by_rows, T::ONE, &mut c));
                        let plus_one = &expected + DMatrix::from_element(m, n, T::ONE);
                        assert_eq!(c, plus_one, "{m}x{k}x{n} by rows, isa {isa}");
                    }
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// The one-pass `[dW | db]` of a one- or two-input affine layer is `dZ X^T` beside the
    /// sum of `dZ`'s columns, overwritten or accumulated, where it applies (AVX-512), and
    /// declines (writing nothing) elsewhere.
    #[test]
    fn affine_grads_in_one_pass_are_the_weight_and_bias_gradients() {
        fn check<T: Float + From<i8>>() {
            for inputs in 1..=2 {
                for rows in [9, 100, 150] {
                    for batch in [17, 300] {
                        let dz = small_ints::<T>(rows, batch, |i, j| (i * 7 + j * 3) % 5, 2);
                        let x = small_ints::<T>(inputs, batch, |i, j| (i * 2 + j * 5) % 3, 1);
                        let mut expected = DMatrix::<T>::zeros(rows, inputs + 1);
                        expected
                            .columns_mut(0, inputs)
                            .copy_from(&(&dz * x.transpose()));
                        expected.column_mut(inputs).copy_from(&dz.column_sum());
                        for isa in available_isas() {
                            for beta in [T::ZERO, T::ONE] {
                                let mut dwb = vec![T::ONE; rows * (inputs + 1)];
                                let ran = Cell::new(false);
                                on_isa(isa, || {
                                    ran.set(affine_grads_in_one_pass(&dz, &x, beta, &mut dwb));
                                });
                                let shape = format!("{inputs} inputs, {rows}x{batch}, isa {isa}");
                                assert_eq!(ran.get(), isa == AVX512, "{shape}");
                                let want = if !ran.get() {
                                    DMatrix::from_element(rows, inputs + 1, T::ONE)
                                } else if beta == T::ONE {
                                    expected.add_scalar(T::ONE)
                                } else {
                                    expected.clone()
                                };
                                assert_eq!(dwb.as_slice(), want.as_slice(), "{shape}");
                            }
                        }
                    }
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// A column-major `A` starting on a cache line is read in place by the AVX-512 kernel,
    /// one starting elsewhere is packed: both give `A B`, including ragged column tiles and a
    /// depth of more than one `KC` slice.
    #[test]
    fn aligned_and_misaligned_a_give_the_same_product() {
        fn check<T: Float + From<i8>>() {
            for (m, k, n) in [(64, 40, 13), (96, 1100, 17), (32, 17, 8)] {
                let values = small_ints::<T>(m * k + 16, 1, |i, _| (i * 7) % 5, 2);
                let b = small_ints::<T>(k, n, |i, j| (i * 2 + j * 5) % 3, 1);
                for offset in [0, 1, 4] {
                    let buffer = crate::aligned::AlignedBuffer::from_slice(values.as_slice());
                    let a = MatrixView::from_slice_generic(
                        &buffer[offset..offset + m * k],
                        Dyn(m),
                        Dyn(k),
                    );
                    let expected = a.clone_owned() * &b;
                    for isa in available_isas() {
                        let mut c = DMatrix::<T>::from_element(m, n, T::ONE);
                        on_isa(isa, || gemm(T::ONE, &a, &b, T::ONE, &mut c));
                        let expected = &expected + DMatrix::from_element(m, n, T::ONE);
                        assert_eq!(c, expected, "{m}x{k}x{n} offset {offset} isa {isa}");
                    }
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    /// Every path (shallow, few rows, few columns, packed) with each operand read directly
    /// or through a transposed view, into a plain or a transposed `C`.
    #[test]
    fn every_path_agrees_with_nalgebra_for_every_layout() {
        for (m, k, n) in [
            (100, 2, 300),
            (100, 3, 7),
            (3, 100, 300),
            (3, 300, 100),
            (100, 300, 2),
            (5, 40, 5),
            (30, 40, 20),
            (64, 40, 13),
            (96, 1100, 17),
            (4, 0, 3),
        ] {
            let a = DMatrix::<f64>::from_fn(m, k, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0);
            let b = DMatrix::<f64>::from_fn(k, n, |i, j| ((i * 2 + j * 5) % 3) as f64 - 1.0);
            let (a_t, b_t) = (a.transpose(), b.transpose());
            let expected = (&a * &b) * 2.0 + DMatrix::from_element(m, n, 0.5);
            for (isa, transpose_a, transpose_b, transpose_c) in available_isas()
                .into_iter()
                .flat_map(|isa| (0..8).map(move |f| (isa, f & 1, f & 2, f & 4)))
            {
                let a_view = if transpose_a == 0 {
                    MatrixView::from_slice_with_strides_generic(
                        a.as_slice(),
                        Dyn(m),
                        Dyn(k),
                        Dyn(1),
                        Dyn(m),
                    )
                } else {
                    MatrixView::from_slice_with_strides_generic(
                        a_t.as_slice(),
                        Dyn(m),
                        Dyn(k),
                        Dyn(k),
                        Dyn(1),
                    )
                };
                let b_view = if transpose_b == 0 {
                    MatrixView::from_slice_with_strides_generic(
                        b.as_slice(),
                        Dyn(k),
                        Dyn(n),
                        Dyn(1),
                        Dyn(k),
                    )
                } else {
                    MatrixView::from_slice_with_strides_generic(
                        b_t.as_slice(),
                        Dyn(k),
                        Dyn(n),
                        Dyn(n),
                        Dyn(1),
                    )
                };
                let got = if transpose_c == 0 {
                    let mut c = DMatrix::<f64>::from_element(m, n, 1.0);
                    on_isa(isa, || gemm(2.0, &a_view, &b_view, 0.5, &mut c));
                    c
                } else {
                    let mut c_t = DMatrix::<f64>::from_element(n, m, 1.0);
                    let mut c = MatrixViewMut::from_slice_with_strides_generic(
                        c_t.as_mut_slice(),
                        Dyn(m),
                        Dyn(n),
                        Dyn(n),
                        Dyn(1),
                    );
                    on_isa(isa, || gemm(2.0, &a_view, &b_view, 0.5, &mut c));
                    c_t.transpose()
                };
                assert_eq!(
                    got, expected,
                    "{m}x{k}x{n} layout {transpose_a} {transpose_b} {transpose_c}, isa {isa}"
                );
            }
        }
    }

    /// The single-sample kernel on every row count around its vector and block edges,
    /// against nalgebra, in both scalar types.
    #[test]
    fn gemv_matches_nalgebra_on_ragged_shapes() {
        let x = SVector::<f64, 37>::from_fn(|i, _| (i % 7) as f64 - 3.0);
        let w: Vec<f64> = (0..130 * 37).map(|v| ((v * 5) % 11) as f64 - 5.0).collect();
        let b: Vec<f64> = (0..130).map(|v| (v % 3) as f64 - 1.0).collect();
        let affine = SMatrixView::<f64, 130, 37>::from_slice(&w) * x
            + SVector::<f64, 130>::from_column_slice(&b);
        for isa in available_isas() {
            let mut y = SVector::<f64, 130>::from_element(f64::NAN);
            on_isa(isa, || {
                gemv::<f64, 37, 130, false>(&w, x.as_slice(), &b, y.as_mut_slice())
            });
            assert_eq!(y, affine, "isa {isa}");
            on_isa(isa, || {
                gemv::<f64, 37, 130, true>(&w, x.as_slice(), &b, y.as_mut_slice())
            });
            assert_eq!(y, affine.map(|v| v.max(0.0)), "relu, isa {isa}");
        }
        #[cfg(target_arch = "x86_64")]
        if detect_isa() == AVX512 {
            macro_rules! check {
                ($(($o:literal, $i:literal)),*) => {$({
                    let a = DMatrix::<f64>::from_fn($o, $i, |r, c| ((r * 3 + c * 7) % 5) as f64 - 2.0);
                    let x = DMatrix::<f64>::from_fn($i, 1, |r, _| (r % 4) as f64 - 1.5);
                    let b: Vec<f64> = (0..$o).map(|r| (r % 3) as f64 - 0.5).collect();
                    let expected = &a * &x + DMatrix::from_column_slice($o, 1, &b);
                    let mut y = vec![f64::NAN; $o];
                    // SAFETY: the CPU has AVX-512F.
                    unsafe { f64::gemv_avx512::<$o, $i, false>(a.as_slice(), x.as_slice(), &b, &mut y) };
                    assert_eq!(y, expected.as_slice(), "f64 {}x{}", $o, $i);
                    let (a, x) = (a.map(|v| v as f32), x.map(|v| v as f32));
                    let b: Vec<f32> = b.iter().map(|&v| v as f32).collect();
                    let mut y = vec![f32::NAN; $o];
                    // SAFETY: as above.
                    unsafe { f32::gemv_avx512::<$o, $i, true>(a.as_slice(), x.as_slice(), &b, &mut y) };
                    let expected: Vec<f32> = expected.iter().map(|&v| (v as f32).max(0.0)).collect();
                    assert_eq!(y, expected, "f32 relu {}x{}", $o, $i);
                })*};
            }
            check!(
                (1, 1),
                (4, 32),
                (10, 128),
                (16, 3),
                (17, 9),
                (33, 40),
                (129, 2),
                (300, 5)
            );
        }
    }

    #[test]
    fn gemm_reads_transposes_through_strides() {
        // a^T through swapped strides: a is 4 x 3 column-major, viewed as 3 x 4.
        let data: Vec<f64> = (0..12).map(f64::from).collect();
        let a = DMatrix::<f64>::from_column_slice(4, 3, &data);
        let a_t =
            MatrixView::from_slice_with_strides_generic(&data, Const::<3>, Dyn(4), Const::<4>, U1);
        let b = DMatrix::<f64>::from_fn(4, 2, |i, j| (i + j) as f64);
        let mut c = DMatrix::<f64>::zeros(3, 2);
        gemm(1.0, &a_t, &b, 0.0, &mut c);
        assert_eq!(c, a.transpose() * b);
    }
}
