//! Softmax cross-entropy: `L_i = -ln p_{y_i}` with `p = softmax(s)`, and `dL_i/ds = p - 1_y`.
//!
//! Numerically stable: the scores are shifted by their maximum before exponentiating, which
//! changes no probability.

use super::{Loss, check_labels};
use crate::{BatchView, BatchViewMut, Error, Float};

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
        // Shift each column by its maximum (so every e^x is at most 1), then take every
        // exponential of the batch in one vectorized pass.
        for (s, mut ds) in scores.column_iter().zip(dscores.column_iter_mut()) {
            let s = s.as_slice();
            let max = s
                .iter()
                .copied()
                .fold(s[0], |m, v| if v > m { v } else { m });
            for (d, &v) in ds.as_mut_slice().iter_mut().zip(s) {
                *d = v - max;
            }
        }
        let mut total = T::ZERO;
        for (mut ds, &y) in dscores.column_iter_mut().zip(labels) {
            let ds = ds.as_mut_slice();
            // -ln p_y = ln(sum) - (s_y - max)
            total -= ds[y];
        }
        T::exp_in_place(dscores.as_mut_slice());
        // The sum of the columns' logarithms is the logarithm of their product, taken in f64
        // (one `ln` per few hundred columns instead of one per column, which was a tenth of
        // the spiral net's step). Every column's sum is in [1, K] (its largest term is
        // e^0), so the product only grows and is flushed into `log_sum` before it can
        // overflow; NaN scores carry through to the loss.
        let (mut log_sum, mut product) = (0.0_f64, 1.0_f64);
        for (mut ds, &y) in dscores.column_iter_mut().zip(labels) {
            let ds = ds.as_mut_slice();
            let sum = ds.iter().fold(T::ZERO, |acc, &d| acc + d);
            product *= sum.as_f64();
            if product > PRODUCT_LIMIT {
                log_sum += product.ln();
                product = 1.0;
            }
            let scale = inv_n / sum;
            for d in ds.iter_mut() {
                // A probability scaled below the normal range is flushed to zero (an error
                // under 1e-38 absolute): subnormal gradients would make every product of
                // backward take the CPU's slow path (measured 10x on a confident net).
                let g = *d * scale;
                *d = if g < T::MIN_POSITIVE { T::ZERO } else { g };
            }
            ds[y] -= inv_n;
        }
        total += T::of_f64(log_sum + product.ln());
        Ok(total * inv_n)
    }
}

/// Where the product of the columns' sums is flushed into the running logarithm: far enough
/// below `f64::MAX` that one more factor (a sum of at most `K` probabilities' numerators,
/// each at most 1) cannot overflow.
const PRODUCT_LIMIT: f64 = 1e280;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Batch;
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
