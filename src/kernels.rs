//! The one place constnet multiplies matrices: [`gemm`], which hands every batched product
//! to `matrixmultiply`'s packed, SIMD kernels with the operands' own strides, so transposes
//! are strided views and never copies.
//!
//! nalgebra's own `gemm` reaches the same kernels only when every dimension exceeds 5 and
//! falls back to a per-column loop otherwise; calling `matrixmultiply` directly keeps one fast
//! path for every layer shape (a 3-class output layer included).

#![allow(unsafe_code)]

use nalgebra::{Dim, Matrix, RawStorage, RawStorageMut};

use crate::Float;

/// `c = alpha * a * b + beta * c` for any shapes and strides nalgebra can describe.
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
    let (m, k) = a.shape();
    let (k2, n) = b.shape();
    assert!(k == k2 && c.shape() == (m, n), "gemm: shapes do not agree");
    if m == 0 || n == 0 {
        return;
    }
    let (rsa, csa) = a.strides();
    let (rsb, csb) = b.strides();
    let (rsc, csc) = c.strides();
    // SAFETY: nalgebra guarantees that a matrix's storage covers every element its shape and
    // strides address, and that the pointers are valid for those reads (a, b) and writes (c);
    // `c` is borrowed mutably, so it cannot overlap `a` or `b`.
    unsafe {
        T::matrixmultiply(
            [m, k, n],
            alpha,
            (a.as_ptr(), rsa as isize, csa as isize),
            (b.as_ptr(), rsb as isize, csb as isize),
            beta,
            (c.as_mut_ptr(), rsc as isize, csc as isize),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Const, DMatrix, Dyn, MatrixView, U1};

    #[test]
    fn gemm_matches_naive_product_for_small_and_strided_operands() {
        for (m, k, n) in [(1, 1, 1), (3, 100, 7), (100, 2, 300), (17, 33, 5)] {
            let a = DMatrix::<f64>::from_fn(m, k, |i, j| (i * 7 + j * 3) as f64 % 5.0 - 2.0);
            let b = DMatrix::<f64>::from_fn(k, n, |i, j| (i * 2 + j * 5) as f64 % 3.0 - 1.0);
            let mut c = DMatrix::<f64>::from_element(m, n, 1.0);
            gemm(2.0, &a, &b, 0.5, &mut c);
            let expected = (&a * &b) * 2.0 + DMatrix::from_element(m, n, 0.5);
            assert_eq!(c, expected);
        }
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
