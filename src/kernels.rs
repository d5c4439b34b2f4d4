//! The one place constnet multiplies matrices: nalgebra matrices handed to the products of
//! the `constnet-kernels` crate (its docs describe the algorithms) as slices and strides,
//! so that a transpose (`W^T dY`, `dY X^T` in the backward pass) is a strided view of the
//! same buffer, never a copy. [`gemm`] is the general product, [`affine`] `W X + b` with an
//! optional ReLU, [`gemv`] the single-sample product, and the others the fused steps of a
//! ReLU network's forward and backward passes.
//!
//! The kernels are a crate of their own because they depend on nothing: they compile while
//! nalgebra does, instead of after it, and `f32`'s are compiled once there rather than in
//! every crate that declares a network.

#![allow(unsafe_code)]

use std::cell::Cell;

pub(crate) use constnet_kernels::DETECT;
pub(crate) use constnet_kernels::ReluGate;
use constnet_kernels::{
    AVX2, AVX512, Epilogue, FEW, Operand, OperandMut, Product, SHALLOW_K, bits_in_registers,
    detect_isa,
};
use nalgebra::{Dim, Matrix, RawStorage, RawStorageMut, SMatrixView, SVectorView, SVectorViewMut};

use crate::scalar::Float;

/// A matrix as a read-only operand: the slice covering its elements, and its strides.
fn operand<T: Float, R: Dim, C: Dim, S: RawStorage<T, R, C>>(
    m: &Matrix<T, R, C, S>,
) -> Operand<'_, T> {
    let (rs, cs) = m.strides();
    Operand::new(covering_slice(m), rs, cs)
}

/// A matrix as a written operand.
fn operand_mut<T: Float, R: Dim, C: Dim, S: RawStorageMut<T, R, C>>(
    m: &mut Matrix<T, R, C, S>,
) -> OperandMut<'_, T> {
    let (rs, cs) = m.strides();
    OperandMut::new(covering_slice_mut(m), rs, cs)
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
    let (a, b, c) = (operand(a), operand(b), operand_mut(c));
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
    let (a, b, c) = (operand(a), operand(b), operand_mut(c));
    let gate = Epilogue::Gate(operand(gate));
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
    let (a, b, c) = (operand(a), operand(b), operand_mut(c));
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
    let (a, b, c) = (operand(a), operand(b), operand_mut(c));
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
    let (a, b, c) = (operand(a), operand(b), operand_mut(c));
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
/// with one or two inputs on an AVX-512 CPU (or AVX2, in `f32`): the weight gradient
/// `dW = dZ X^T` (`r x inputs`) and the bias gradient `db` (the sum of `dZ`'s columns) are
/// the columns of one `r x (inputs + 1)` column-major matrix `dwb`, computed as the
/// few-rows product `[X; 1] dZ^T` transposed. `dz` is `r x batch` and `x` is `inputs x batch`, both column-major and
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
    // The kernel itself checks the CPU and the input count.
    let applies =
        batch > SHALLOW_K && rows > FEW && dz.strides() == (1, rows) && x.strides() == (1, inputs);
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
    T::affine_grads((inputs, batch, rows), operand(x), operand(dz), beta, dwb)
}

/// Whether `O` rows of `T` are whole 256-bit vectors, as the AVX2 kernels take them.
const fn whole_vectors<T>(rows: usize) -> bool {
    rows.is_multiple_of(32 / size_of::<T>())
}

/// Whether `O` rows of `T` are whole 512-bit vectors, as [`Scalar::gemv_avx512_from_l2`]
/// takes them.
///
/// [`Scalar::gemv_avx512_from_l2`]: constnet_kernels::Scalar::gemv_avx512_from_l2
const fn whole_512_bit_vectors<T>(rows: usize) -> bool {
    rows.is_multiple_of(64 / size_of::<T>())
}

/// Whether an `O x I` layer of `T` is a shape [`Scalar::gemv_avx2_in_l1`] takes: whole
/// vectors of rows, or fewer rows than a 256-bit vector has lanes, dividing them, over whole
/// vectors of inputs.
///
/// [`Scalar::gemv_avx2_in_l1`]: constnet_kernels::Scalar::gemv_avx2_in_l1
const fn avx2_in_l1_shape<T>(rows: usize, inputs: usize) -> bool {
    let lanes = 32 / size_of::<T>();
    whole_vectors::<T>(rows)
        || (rows < lanes && lanes.is_multiple_of(rows) && inputs.is_multiple_of(lanes))
}

/// `y = W x + b` for one sample (`x` of length `I`, `b` and `y` of length `O`, `W` the `O x
/// I` column-major matrix in `w`), then `max(0, y)` when `RELU` is set, for a layer whose
/// weights fit in L1: with `ISA` ([`DETECT`]: the CPU's, found at each call), the AVX-512
/// register-blocked kernel, or an AVX2 one where the rows are whole 256-bit vectors or a
/// few rows over whole vectors of inputs, and nalgebra's fixed-size `gemv` otherwise. A
/// network's AVX2 and AVX-512 copies of its pass give their own `ISA`, and its baseline copy
/// the build's (see `crate::tiers`): the choices are then constants, and rustc does not
/// generate the others. `FRESH`: `x` is the caller's sample, for a network's first layer (see
/// `Scalar::gemv_avx512`).
#[inline(always)]
pub(crate) fn gemv<
    T: Float,
    const I: usize,
    const O: usize,
    const RELU: bool,
    const ISA: u8,
    const FRESH: bool,
>(
    w: &[T],
    x: &[T],
    b: &[T],
    y: &mut [T],
) {
    let w = &w[..O * I];
    #[cfg(target_arch = "x86_64")]
    {
        if const { ISA == DETECT } {
            if detect_isa() == AVX512 {
                // SAFETY: the CPU has AVX-512F. A call from this build's code, which has
                // AVX-512 only in a build for such a CPU.
                unsafe {
                    T::gemv_avx512::<O, I, RELU, { cfg!(target_feature = "avx512f") }, FRESH>(
                        w, x, b, y,
                    )
                };
                return;
            }
            if const { avx2_in_l1_shape::<T>(O, I) } && detect_isa() >= AVX2 {
                // SAFETY: the CPU has AVX2 and FMA; the shape is one it takes.
                unsafe { T::gemv_avx2_in_l1::<O, I, RELU, FRESH>(w, x, b, y) };
                return;
            }
        } else if const { ISA == AVX512 } {
            // SAFETY: the caller runs with AVX-512F (`ISA`), into which this inlines.
            unsafe { T::gemv_avx512::<O, I, RELU, true, FRESH>(w, x, b, y) };
            return;
        } else if const { ISA == AVX2 && avx2_in_l1_shape::<T>(O, I) } {
            // SAFETY: the caller runs with AVX2 and FMA (`ISA`); the shape is one it takes.
            unsafe { T::gemv_avx2_in_l1::<O, I, RELU, FRESH>(w, x, b, y) };
            return;
        }
    }
    gemv_nalgebra::<T, I, O, RELU>(w, x, b, y);
}

/// `y = W x + b` (then `max(0, y)` when `RELU` is set) for one sample of a layer whose
/// weights do not fit in L1 ([`weights_fit_in_l1`]) and so stream from L2 for every sample:
/// with `ISA` ([`DETECT`]: the CPU's) AVX-512 and the rows whole 512-bit vectors, the
/// AVX-512 streaming kernel; with AVX2 or better and the rows whole 256-bit vectors, the
/// AVX2 + FMA one (neither inlined: one call is nothing beside the layer's microseconds);
/// nalgebra's fixed-size product otherwise.
#[inline(always)]
pub(crate) fn gemv_from_l2<
    T: Float,
    const I: usize,
    const O: usize,
    const RELU: bool,
    const ISA: u8,
>(
    w: &[T],
    x: &[T],
    b: &[T],
    y: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if const { ISA == DETECT && whole_512_bit_vectors::<T>(O) } {
            if detect_isa() == AVX512 {
                // SAFETY: the CPU has AVX-512F and AVX-512VL; the rows are whole vectors.
                unsafe { T::gemv_avx512_from_l2(O, I, w, x, b, y, RELU) };
                return;
            }
        } else if const { ISA == AVX512 && whole_512_bit_vectors::<T>(O) } {
            // SAFETY: the caller runs with AVX-512F and AVX-512VL (`ISA`); the rows are whole
            // vectors.
            unsafe { T::gemv_avx512_from_l2(O, I, w, x, b, y, RELU) };
            return;
        }
        if const { ISA == DETECT && whole_vectors::<T>(O) } {
            if detect_isa() >= AVX2 {
                // SAFETY: the CPU has AVX2 and FMA; the rows are whole vectors.
                unsafe { T::gemv_avx2_fma(O, I, w, x, b, y, RELU) };
                return;
            }
        } else if const { ISA != DETECT && ISA >= AVX2 && whole_vectors::<T>(O) } {
            // SAFETY: the caller runs with AVX2 and FMA (`ISA`); the rows are whole vectors.
            unsafe { T::gemv_avx2_fma(O, I, w, x, b, y, RELU) };
            return;
        }
    }
    gemv_nalgebra::<T, I, O, RELU>(w, x, b, y);
}

/// nalgebra's fixed-size `y = W x + b`, then `max(0, y)` when `RELU` is set.
#[inline(always)]
fn gemv_nalgebra<T: Float, const I: usize, const O: usize, const RELU: bool>(
    w: &[T],
    x: &[T],
    b: &[T],
    y: &mut [T],
) {
    let y = &mut y[..O];
    y.copy_from_slice(&b[..O]);
    SVectorViewMut::<T, O>::from_slice(y).gemv(
        T::ONE,
        &SMatrixView::<T, O, I>::from_slice(&w[..O * I]),
        &SVectorView::<T, I>::from_slice(x),
        T::ONE,
    );
    if RELU {
        for v in y {
            *v = if *v > T::ZERO { *v } else { T::ZERO };
        }
    }
}

/// `Y = W X + b` (then `max(0, Y)`) for the batched passes of a shape that
/// [`in_l1_shape`] allows, on a CPU that [`in_l1_cpu`] takes:
/// [`Scalar::gemm_in_l1_avx512`], several samples at a time, each column of `W` loaded once
/// for all of them.
///
/// [`Scalar::gemm_in_l1_avx512`]: constnet_kernels::Scalar::gemm_in_l1_avx512
#[inline(always)]
pub(crate) fn gemm_in_l1<T: Float, const I: usize, const O: usize, const RELU: bool>(
    w: &[T],
    xs: &[T],
    b: &[T],
    ys: &mut [T],
) {
    assert!(
        in_l1_cpu(),
        "the kernel for weights in L1 on a CPU without AVX-512"
    );
    // SAFETY: the CPU has AVX-512F and AVX-512VL (asserted above).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        T::gemm_in_l1_avx512(O, I, &w[..O * I], xs, b, ys, RELU);
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (x, y) in xs.chunks_exact(I).zip(ys.chunks_exact_mut(O)) {
        gemv::<T, I, O, RELU, DETECT, false>(w, x, b, y);
    }
}

/// Whether an `O x I` weight matrix fits in L1 (32 KB at most), so that a matrix-vector
/// product reads it from there: single-sample [`gemv`] is then faster than nalgebra's.
#[inline]
pub(crate) const fn weights_fit_in_l1<T>(inputs: usize, outputs: usize) -> bool {
    inputs * outputs * size_of::<T>() <= 32 * 1024
}

/// Whether a batched `O x I` layer is faster with [`gemm_in_l1`] than with [`gemm`], as
/// far as its shape tells: when its weights fit in L1 (32 KB at most) and so are
/// read from there for every sample, which then costs no packing and wastes no padded tile
/// rows on a shallow or narrow layer (the 2-input and 10-output layers of the benchmark
/// nets). A column of fewer than half a vector (the spiral's 3 outputs) would waste most
/// lanes of every multiply-add, and stays with the product. The CPU must also have AVX-512
/// ([`in_l1_cpu`]). Callers take the answer as a constant (`const {
/// in_l1_shape::<T>(I, O) }`), so that a layer whose shape rules the kernel out does
/// not compile its call.
pub(crate) const fn in_l1_shape<T>(inputs: usize, outputs: usize) -> bool {
    weights_fit_in_l1::<T>(inputs, outputs) && inputs > SHALLOW_K && outputs * size_of::<T>() >= 32
}

/// Whether the CPU takes the [`gemm_in_l1`] path of a shape [`in_l1_shape`] allows: with
/// AVX-512 only.
#[inline]
pub(crate) fn in_l1_cpu() -> bool {
    detect_isa() == AVX512
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

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "x86_64")]
    use constnet_kernels::Scalar;
    use nalgebra::{Const, DMatrix, Dyn, MatrixView, MatrixViewMut, SVector, U1};

    use constnet_kernels::{PORTABLE, on_isa};

    /// Every instruction set this CPU can run, so each compiled variant is tested.
    fn available_isas() -> Vec<u8> {
        (PORTABLE..=detect_isa()).collect()
    }

    /// Whether the one-pass gradient kernels run for `T` with `isa`: with AVX-512, and with
    /// AVX2 for `f32`.
    fn one_pass_applies<T>(isa: u8) -> bool {
        isa == AVX512 || (isa == AVX2 && size_of::<T>() == 4)
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
            // Wider than one `NC` block of columns, with a ragged last panel.
            (32, 70, 1031),
            // Whole tiles of AVX-512's taller shape (64 rows of `f32`, 32 of `f64`), deeper
            // than one `KC` slice, with 1 to 5 columns left over; and wider than `NC`.
            (128, 1100, 23),
            (192, 70, 1033),
            (64, 9, 62),
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
    /// and for shallow products with more rows than one register group holds; the packed
    /// product, which adds the bias and applies the ReLU as it writes `C`, on both of its
    /// AVX-512 tiles (128 rows are whole 64-row tiles) and deeper than one slice of `k`
    /// (the bias added once, the ReLU after the last slice).
    #[test]
    fn affine_adds_the_bias_to_every_column_on_every_path() {
        for m in [1, 2, 3, 4, 5, 6, 7, 8, 17, 100, 128, 150] {
            for k in [1, 2, 16, 17, 40, 1100] {
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
                                    T::first_layer_grads(
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
                                assert_eq!(done, one_pass_applies::<T>(isa), "isa {isa}");
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
    /// sum of `dZ`'s columns, overwritten or accumulated, where it applies (AVX-512, and AVX2
    /// for `f32`), and declines (writing nothing) elsewhere.
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
                                assert_eq!(ran.get(), one_pass_applies::<T>(isa), "{shape}");
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

    /// A column-major `A` starting on a cache line is read in place by the AVX2 and AVX-512
    /// kernels, one starting elsewhere is packed: both give `A B`, including ragged column
    /// tiles, a depth of more than one `KC` slice (1024), and both AVX-512 tiles (64 and 128
    /// rows of `f32` are whole 64-row tiles, 96 is not).
    #[test]
    fn aligned_and_misaligned_a_give_the_same_product() {
        fn check<T: Float + From<i8>>() {
            for (m, k, n) in [(64, 40, 13), (96, 1100, 17), (32, 17, 8), (128, 1100, 23)] {
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
            // Packed, wider than a few tiles of columns, with a ragged depth, and with a
            // depth of two `KC` slices.
            (33, 45, 55),
            (20, 1100, 49),
        ] {
            let a = DMatrix::<f64>::from_fn(m, k, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0);
            // A period of 7 along the columns, which no tile width divides: panels packed
            // from the wrong columns give other values.
            let b = DMatrix::<f64>::from_fn(k, n, |i, j| ((i * 2 + j * 5) % 7) as f64 - 3.0);
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

    /// The single-sample products' AVX2 kernels against nalgebra, in both scalar types, with
    /// and without the ReLU, on every instruction set (rows that are not whole vectors take
    /// nalgebra's product): [`gemv_from_l2`] on row counts around its passes (AVX2: 11 of 16
    /// vectors in registers and 5 in memory, 8 of fewer and up to 7 more, then 4, 2 and 1;
    /// AVX-512: 16, 8, 4, 2 and 1 vectors) and column counts around its steps of 4, and
    /// [`gemv`] (layers in L1) on every block height of 1 to 8 vectors and beyond, with
    /// column counts around its sets of accumulators, and on fewer rows than a vector's lanes
    /// (1, 2 and 4 of `f32`'s 8, 1 and 2 of `f64`'s 4) over one or more vectors of inputs,
    /// and 3, which no AVX2 kernel takes.
    #[test]
    fn single_sample_kernels_match_nalgebra_around_their_blocks() {
        macro_rules! check {
            ($gemv:ident, $t:ty: $(($o:literal, $i:literal)),*) => {$({
                let w = DMatrix::<$t>::from_fn($o, $i, |r, c| ((r * 3 + c * 7) % 5) as $t - 2.0);
                let x: Vec<$t> = (0..$i).map(|r| (r % 4) as $t - 1.5).collect();
                let b: Vec<$t> = (0..$o).map(|r| (r % 3) as $t - 0.5).collect();
                let affine = &w * DMatrix::from_column_slice($i, 1, &x)
                    + DMatrix::from_column_slice($o, 1, &b);
                for isa in available_isas() {
                    let mut y = vec![<$t>::NAN; $o];
                    on_isa(isa, || $gemv::<$t, $i, $o, false, DETECT>(w.as_slice(), &x, &b, &mut y));
                    assert_eq!(y, affine.as_slice(), "{} {}x{}, isa {isa}", stringify!($t), $o, $i);
                    on_isa(isa, || $gemv::<$t, $i, $o, true, DETECT>(w.as_slice(), &x, &b, &mut y));
                    let relu: Vec<$t> = affine.iter().map(|v| v.max(0.0)).collect();
                    assert_eq!(y, relu, "{} relu {}x{}, isa {isa}", stringify!($t), $o, $i);
                }
            })*};
        }
        // Passes of 16 vectors of rows (one stream) and of 8 or fewer (two), with odd and
        // even columns; the last shapes of each are larger than L1.
        check!(gemv_from_l2, f32: (8, 1), (8, 6), (16, 3), (24, 4), (32, 9), (56, 5), (64, 7),
            (72, 8), (120, 2), (128, 13), (136, 11), (192, 5), (200, 6), (256, 3), (10, 5),
            (48, 5), (112, 6), (272, 3), (384, 4), (128, 193), (256, 101), (16, 1539));
        check!(gemv_from_l2, f64: (4, 1), (8, 6), (12, 3), (28, 4), (32, 9), (36, 5), (64, 7),
            (68, 8), (100, 2), (6, 5), (24, 3), (56, 5), (136, 2), (64, 195), (8, 1538));
        check!(gemv_both, f32: (8, 1), (8, 9), (16, 7), (24, 5), (32, 16), (32, 32), (40, 3),
            (48, 2), (56, 11), (64, 4), (72, 13), (136, 6), (4, 32), (10, 7), (1, 8), (2, 16),
            (4, 8), (4, 40), (2, 12), (3, 16));
        check!(gemv_both, f64: (4, 1), (8, 7), (12, 5), (16, 4), (20, 3), (24, 2), (28, 9), (32, 6),
            (36, 10), (2, 9), (1, 4), (2, 4), (2, 12), (1, 20), (3, 8));
    }

    /// The AVX-512 single-sample kernel from L2 sums in the order its docs give, bit for bit
    /// (with values whose sums round, so that another order fails it), on every call of
    /// four, since every other call reads a large layer from its last columns. In a pass of
    /// 16 vectors of rows (256 `f32` rows, 128 `f64`), one stream from `b`; in a pass of at
    /// most 8, `(b + first half of the columns) + second half` (an odd last column in the
    /// second), each half in column order by fused multiply-adds; and where that pass covers
    /// every row, of at least 4 vectors, and the layer has more than three times 32 KB of
    /// columns, the first and the last 32 KB are summed apart, `y = ((b + first half) +
    /// second half) + (head + tail)`, the halves being those of the columns between. A layer
    /// of more rows follows 16-vector passes with smaller ones. On a CPU without AVX-512
    /// there is nothing to run.
    #[test]
    fn gemv_from_l2_sums_in_its_documented_order() {
        if detect_isa() != AVX512 {
            return;
        }
        macro_rules! check {
            ($t:ty, $lanes:literal: $(($o:literal, $i:literal)),*) => {$({
                let at = |k: usize| ((k * 7919 % 1009) as $t / 1009.0 - 0.5) * 1.37;
                let w: Vec<$t> = (0..$o * $i).map(at).collect();
                let x: Vec<$t> = (0..$i).map(|c| at(c + 11)).collect();
                let b: Vec<$t> = (0..$o).map(|r| at(r + 5)).collect();
                let sum = |r: usize, (from, to): (usize, usize), start: $t| {
                    (from..to).fold(start, |s, c| w[r + c * $o].mul_add(x[c], s))
                };
                // The rows of the kernel's pass that holds row `r`: 16 vectors of rows while
                // there are, then 8, 4, 2, 1.
                let pass_of = |r: usize| {
                    let mut r0 = 0;
                    loop {
                        let vectors = match ($o - r0) / $lanes {
                            16.. => 16,
                            8.. => 8,
                            4.. => 4,
                            2 | 3 => 2,
                            _ => 1,
                        };
                        if r < r0 + vectors * $lanes {
                            return vectors * $lanes;
                        }
                        r0 += vectors * $lanes;
                    }
                };
                let edge = 32 * 1024 / ($o * size_of::<$t>());
                let expected: Vec<$t> = (0..$o)
                    .map(|r| {
                        let rows = pass_of(r);
                        if rows == 16 * $lanes {
                            return sum(r, (0, $i), b[r]);
                        }
                        let ends = rows == $o && rows >= 4 * $lanes && edge > 0 && $i > 3 * edge;
                        let (from, to) = if ends { (edge, $i - edge) } else { (0, $i) };
                        let half = from + (to - from) / 2;
                        let y = sum(r, (from, half), b[r]) + sum(r, (half, to), 0.0);
                        if ends {
                            y + (sum(r, (0, edge), 0.0) + sum(r, ($i - edge, $i), 0.0))
                        } else {
                            y
                        }
                    })
                    .collect();
                let bits = |y: &[$t]| y.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                for call in 0..4 {
                    let mut y = vec![<$t>::NAN; $o];
                    // SAFETY: the CPU has AVX-512F and AVX-512VL; the rows are whole vectors
                    // and every slice has its length.
                    unsafe { <$t>::gemv_avx512_from_l2($o, $i, &w, &x, &b, &mut y, false) };
                    let name = format!("{} {}x{}, call {call}", stringify!($t), $o, $i);
                    assert_eq!(bits(&y), bits(&expected), "{name}");
                }
            })*};
        }
        // With ends: f32 128 x 784 (64 columns each, 656 between), 64 x 1000 (128, 744),
        // 128 x 193 (64, 65: odd); f64 64 x 195 (64, 67), 32 x 600 (128, 344). Without, as
        // too few rows: f32 16 x 1539, 32 x 1000; f64 8 x 1538.
        check!(f32, 16: (128, 784), (16, 1539), (64, 1000), (32, 1000), (48, 5), (128, 1),
            (256, 101), (256, 1), (384, 7), (272, 9), (512, 3), (128, 192), (128, 193));
        check!(f64, 8: (64, 195), (32, 600), (8, 1538), (24, 2), (128, 7), (136, 5), (256, 2));
    }

    /// The batched kernel of layers whose weights stay in L1, against nalgebra, in both
    /// scalar types, with and without the ReLU: row counts around its vectors and its
    /// blocks of four (one to five vectors, whole and masked), and sample counts around its
    /// groups of eight and six (the rest one at a time). Nothing past the last sample's
    /// outputs is written. On a CPU without AVX-512 there is nothing to run.
    #[test]
    fn gemm_in_l1_matches_nalgebra_around_its_tiles() {
        macro_rules! check {
            ($t:ty, $lanes:literal) => {
                if detect_isa() != AVX512 {
                    return;
                }
                for o in [
                    $lanes / 2,
                    $lanes,
                    $lanes + 2,
                    2 * $lanes,
                    3 * $lanes - 1,
                    4 * $lanes,
                    4 * $lanes + 1,
                    5 * $lanes + 3,
                ] {
                    for (i, n) in [
                        (1, 1),
                        (3, 5),
                        (17, 6),
                        (9, 7),
                        (40, 8),
                        (5, 9),
                        (12, 13),
                        (7, 17),
                    ] {
                        let w =
                            DMatrix::<$t>::from_fn(o, i, |r, c| ((r * 3 + c * 7) % 5) as $t - 2.0);
                        let x = DMatrix::<$t>::from_fn(i, n, |r, c| ((r + 2 * c) % 4) as $t - 1.5);
                        let b = DMatrix::<$t>::from_fn(o, 1, |r, _| (r % 3) as $t - 0.5);
                        let mut affine = &w * &x;
                        for mut column in affine.column_iter_mut() {
                            column += &b;
                        }
                        for relu in [false, true] {
                            let mut ys = vec![<$t>::NAN; o * n + 3];
                            // SAFETY: the CPU has AVX-512 (checked above).
                            unsafe {
                                <$t>::gemm_in_l1_avx512(
                                    o,
                                    i,
                                    w.as_slice(),
                                    x.as_slice(),
                                    b.as_slice(),
                                    &mut ys,
                                    relu,
                                )
                            };
                            let expected: Vec<$t> = affine
                                .iter()
                                .map(|&v| if relu { v.max(0.0) } else { v })
                                .collect();
                            assert_eq!(
                                &ys[..o * n],
                                &expected[..],
                                "{} {o}x{i}, {n} samples, relu {relu}",
                                stringify!($t)
                            );
                            assert!(
                                ys[o * n..].iter().all(|v| v.is_nan()),
                                "{o}x{i}: wrote past the end"
                            );
                        }
                    }
                }
            };
        }
        check!(f32, 16);
        check!(f64, 8);
    }

    /// [`gemv`] as a network's first layer runs it (`FRESH`: each input read alone), and as
    /// its deeper layers do, which must agree to the bit; `y` is the second.
    fn gemv_both<T: Float, const I: usize, const O: usize, const RELU: bool, const ISA: u8>(
        w: &[T],
        x: &[T],
        b: &[T],
        y: &mut [T],
    ) {
        gemv::<T, I, O, RELU, ISA, true>(w, x, b, y);
        let fresh = y.to_vec();
        gemv::<T, I, O, RELU, ISA, false>(w, x, b, y);
        assert_eq!(fresh, y, "{O} x {I}, fresh and not");
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
                gemv::<f64, 37, 130, false, DETECT, false>(&w, x.as_slice(), &b, y.as_mut_slice())
            });
            assert_eq!(y, affine, "isa {isa}");
            on_isa(isa, || {
                gemv::<f64, 37, 130, true, DETECT, true>(&w, x.as_slice(), &b, y.as_mut_slice())
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
                    unsafe { f64::gemv_avx512::<$o, $i, false, false, false>(a.as_slice(), x.as_slice(), &b, &mut y) };
                    assert_eq!(y, expected.as_slice(), "f64 {}x{}", $o, $i);
                    let (a, x) = (a.map(|v| v as f32), x.map(|v| v as f32));
                    let b: Vec<f32> = b.iter().map(|&v| v as f32).collect();
                    let mut y = vec![f32::NAN; $o];
                    // SAFETY: as above.
                    unsafe { f32::gemv_avx512::<$o, $i, true, true, true>(a.as_slice(), x.as_slice(), &b, &mut y) };
                    let expected: Vec<f32> = expected.iter().map(|&v| (v as f32).max(0.0)).collect();
                    assert_eq!(y, expected, "f32 relu {}x{}", $o, $i);
                })*};
            }
            // Few outputs (1, 2, 4, 8) over few or many inputs, some ending in part of a
            // vector of inputs; whole vectors of outputs; and other row counts: the shapes
            // of both the 512-bit kernels (in builds for AVX-512 CPUs) and the 256-bit one.
            check!(
                (16, 1),
                (16, 16),
                (32, 16),
                (32, 32),
                (48, 5),
                (64, 7),
                (80, 9),
                (128, 3),
                (2, 24),
                (4, 20),
                (8, 10),
                (1, 1),
                (1, 16),
                (1, 48),
                (2, 8),
                (2, 40),
                (4, 4),
                (4, 6),
                (4, 32),
                (8, 6),
                (8, 64),
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
