//! Softmax cross-entropy: `L_i = -ln p_{y_i}` with `p = softmax(s)`, and `dL_i/ds = p - 1_y`.
//!
//! Numerically stable: the scores are shifted by their maximum before exponentiating, which
//! changes no probability.

use super::{Loss, check_labels};
use crate::batch::{BatchView, BatchViewMut};
use crate::error::Error;
use crate::scalar::Float;

/// Softmax followed by the cross-entropy with the true class, averaged over the batch.
///
/// At initialization, with scores near zero, the loss is `ln(K)` (the notes' first sanity
/// check).
///
/// ```
/// use constnet::{Batch, Loss, losses::SoftmaxCrossEntropy};
/// let s = Batch::<f64, 2>::from_column_slice(&[1.0, 1.0]);
/// let mut ds = Batch::<f64, 2>::zeros(1);
/// let l = SoftmaxCrossEntropy.loss_and_grad(s.columns(0, 1), &[0][..], ds.columns_mut(0, 1));
/// assert!((l.unwrap() - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(ds.as_slice(), &[-0.5, 0.5]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftmaxCrossEntropy;

impl<T: Float, const K: usize> Loss<T, K> for SoftmaxCrossEntropy {
    type Target = [usize];

    fn loss_and_grad(
        &self,
        scores: BatchView<'_, T, K>,
        labels: &[usize],
        mut dscores: BatchViewMut<'_, T, K>,
    ) -> Result<T, Error> {
        let batch = scores.ncols();
        check_labels(labels, batch, K)?;
        let inv_n = T::ONE / T::of_f64(batch as f64);
        // Both are contiguous `K x batch` matrices (a batch view of a tape): the work goes
        // in chunks of columns, each pass over a chunk a loop over its rows and, inside it,
        // its columns with a constant stride `K`, which LLVM vectorizes across columns (the
        // spiral net's 3 classes were 3-element loops, one column at a time).
        let (s, ds) = (scores.as_slice(), dscores.as_mut_slice());
        let mut shifted = [T::ZERO; PRODUCTS];
        // The sum of the columns' logarithms is the logarithm of their product, taken in f64
        // (one `ln` per few hundred columns instead of one per column, which was a tenth of
        // the spiral net's step). Every column's sum is in [1, K] (its largest term is
        // e^0), so each product only grows and is flushed into `log_sum` before it can
        // overflow; NaN scores carry through to the loss.
        let (mut log_sum, mut products) = (0.0_f64, [1.0_f64; PRODUCTS]);
        let (s, _) = s.as_chunks::<K>();
        let (ds, _) = ds.as_chunks_mut::<K>();
        for ((s, ds), labels) in s
            .chunks(CHUNK)
            .zip(ds.chunks_mut(CHUNK))
            .zip(labels.chunks(CHUNK))
        {
            // Shift each column by its maximum (so every e^x is at most 1).
            for (s, ds) in s.iter().zip(ds.iter_mut()) {
                let max = s.iter().fold(s[0], |m, &v| if v > m { v } else { m });
                for (d, &v) in ds.iter_mut().zip(s) {
                    *d = v - max;
                }
            }
            // -ln p_y = ln(sum) - (s_y - max), summed in independent lanes (one running sum
            // is a chain of dependent adds, a fifth of the loss).
            for (j, (ds, &y)) in ds.iter().zip(labels).enumerate() {
                shifted[j % PRODUCTS] -= ds[y];
            }
            T::exp_in_place(ds.as_flattened_mut());
            let mut scale = [T::ZERO; CHUNK];
            for (sum, ds) in scale.iter_mut().zip(ds.iter()) {
                *sum = ds.iter().fold(T::ZERO, |acc, &d| acc + d);
            }
            for (j, &sum) in scale.iter().enumerate().take(ds.len()) {
                products[j % PRODUCTS] *= sum.as_f64();
            }
            for product in &mut products {
                if *product > PRODUCT_LIMIT {
                    log_sum += product.ln();
                    *product = 1.0;
                }
            }
            for (ds, (&sum, &y)) in ds.iter_mut().zip(scale.iter().zip(labels)) {
                let scale = inv_n / sum;
                for d in ds.iter_mut() {
                    // A probability scaled below the normal range is flushed to zero (an
                    // error under 1e-38 absolute): subnormal gradients would make every
                    // product of backward take the CPU's slow path (measured 10x on a
                    // confident net).
                    let g = *d * scale;
                    *d = if g < T::MIN_POSITIVE { T::ZERO } else { g };
                }
                ds[y] -= inv_n;
            }
        }
        let logs = products.iter().fold(log_sum, |acc, p| acc + p.ln());
        let total = shifted.iter().fold(T::of_f64(logs), |acc, &v| acc + v);
        Ok(total * inv_n)
    }

    /// `ln K`: equal scores give every class probability `1 / K`.
    fn chance_loss(&self) -> Option<f64> {
        Some((K as f64).ln())
    }
}

/// Columns per chunk of the loss's passes.
const CHUNK: usize = 64;

/// Running products of the columns' sums (and sums of their shifted true-class scores), so
/// that the operations of consecutive columns are independent.
const PRODUCTS: usize = 8;

/// Where a product of the columns' sums is flushed into the running logarithm: far enough
/// below `f64::MAX` that one more chunk's factors (`CHUNK / PRODUCTS` sums, each at most
/// `K`) cannot overflow it, for any `K` up to 10^13.
const PRODUCT_LIMIT: f64 = 1e200;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use approx::assert_relative_eq;

    #[test]
    fn softmax_loss_matches_hand_computed_value_and_gradient() {
        // s = [1, 2, 3], y = 2: p = e^s / sum = [0.09003057, 0.24472847, 0.66524096]
        // (Python: np.exp(s) / np.exp(s).sum()); loss = -ln(0.66524096) = 0.40760596
        let s = Batch::<f64, 3>::from_column_slice(&[1.0, 2.0, 3.0]);
        let mut ds = Batch::<f64, 3>::zeros(1);
        let loss = SoftmaxCrossEntropy
            .loss_and_grad(s.columns(0, 1), &[2], ds.columns_mut(0, 1))
            .unwrap();
        assert_relative_eq!(loss, 0.4076059644443804, epsilon = 1e-12);
        let p = [0.09003057317038046, 0.24472847105479767, 0.6652409557748219];
        assert_relative_eq!(
            ds.as_slice(),
            &[p[0], p[1], p[2] - 1.0][..],
            epsilon = 1e-12
        );
    }

    #[test]
    fn softmax_loss_is_stable_for_huge_scores() {
        let s = Batch::<f32, 2>::from_column_slice(&[1000.0, 0.0]);
        let mut ds = Batch::<f32, 2>::zeros(1);
        let loss = SoftmaxCrossEntropy
            .loss_and_grad(s.columns(0, 1), &[1], ds.columns_mut(0, 1))
            .unwrap();
        assert_eq!(loss, 1000.0);
        assert!(ds.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn softmax_loss_at_chance_is_ln_k() {
        // The notes' sanity check: with equal scores the loss is ln(K), here K = 10.
        let s = Batch::<f64, 10>::from_element(5, 0.3);
        let mut ds = Batch::<f64, 10>::zeros(5);
        let loss = SoftmaxCrossEntropy
            .loss_and_grad(s.columns(0, 5), &[0, 3, 9, 2, 2], ds.columns_mut(0, 5))
            .unwrap();
        assert_relative_eq!(loss, 10f64.ln(), epsilon = 1e-12);
    }

    #[test]
    fn softmax_loss_rejects_a_label_out_of_range() {
        let s = Batch::<f64, 3>::zeros(2);
        let mut ds = Batch::<f64, 3>::zeros(2);
        let err = SoftmaxCrossEntropy
            .loss_and_grad(s.columns(0, 2), &[0, 3], ds.columns_mut(0, 2))
            .unwrap_err();
        assert_eq!(
            err,
            Error::LabelOutOfRange {
                sample: 1,
                label: 3,
                classes: 3
            }
        );
    }
}
