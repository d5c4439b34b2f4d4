//! Multiclass SVM (Weston-Watkins hinge, margin 1):
//! `L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1)`.
//!
//! Gradient: every class `j` whose margin is positive gets `+1`, and the true class gets
//! `-1` for each of them (each margin is a max gate).

use super::{Loss, check_labels};
use crate::batch::{BatchView, BatchViewMut};
use crate::error::Error;
use crate::layer::Kinks;
use crate::scalar::Float;

/// The multiclass SVM loss with margin 1, averaged over the batch.
///
/// With scores near zero every margin is about 1, so the loss is `K - 1` (the notes' sanity
/// check).
///
/// ```
/// use constnet::{Batch, Loss, losses::MulticlassSvm};
/// let s = Batch::<f64, 3>::zeros(1);
/// let mut ds = Batch::<f64, 3>::zeros(1);
/// let l = MulticlassSvm.loss_and_grad(s.columns(0, 1), &[1][..], ds.columns_mut(0, 1));
/// assert_eq!(l.unwrap(), 2.0);
/// assert_eq!(ds.as_slice(), &[1.0, -2.0, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MulticlassSvm;

impl<T: Float, const K: usize> Loss<T, K> for MulticlassSvm {
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
        let mut total = T::ZERO;
        for ((s, mut ds), &y) in scores
            .column_iter()
            .zip(dscores.column_iter_mut())
            .zip(labels)
        {
            let (s, ds) = (s.as_slice(), ds.as_mut_slice());
            let mut active = T::ZERO;
            for (j, (d, &v)) in ds.iter_mut().zip(s).enumerate() {
                let margin = v - s[y] + T::ONE;
                if j != y && margin > T::ZERO {
                    total += margin;
                    active += T::ONE;
                    *d = inv_n;
                } else {
                    *d = T::ZERO;
                }
            }
            ds[y] = -active * inv_n;
        }
        Ok(total * inv_n)
    }

    fn record_kinks(&self, scores: BatchView<'_, T, K>, labels: &[usize], kinks: &mut Kinks) {
        for (s, &y) in scores.column_iter().zip(labels) {
            for j in (0..K).filter(|&j| j != y && y < K) {
                kinks.record(s[j] - s[y] + T::ONE > T::ZERO);
            }
        }
    }

    /// `K - 1`: with equal scores each of the `K - 1` wrong classes is inside the margin
    /// of 1 by exactly 1.
    fn chance_loss(&self) -> Option<f64> {
        Some(K.saturating_sub(1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use approx::assert_relative_eq;

    #[test]
    fn svm_loss_matches_the_notes_worked_example() {
        // CS231n notes: scores [13, -7, 11], true class 0, margin 10 gives 8; with margin 1:
        // max(0, -7 - 13 + 1) + max(0, 11 - 13 + 1) = 0 + 0 = 0. Use [13, -7, 12.5] instead:
        // max(0, 12.5 - 13 + 1) = 0.5.
        let s = Batch::<f64, 3>::from_column_slice(&[13.0, -7.0, 12.5]);
        let mut ds = Batch::<f64, 3>::zeros(1);
        let loss = MulticlassSvm
            .loss_and_grad(s.columns(0, 1), &[0], ds.columns_mut(0, 1))
            .unwrap();
        assert_relative_eq!(loss, 0.5);
        assert_eq!(ds.as_slice(), &[-1.0, 0.0, 1.0]);
    }

    #[test]
    fn svm_loss_with_tiny_scores_is_k_minus_one() {
        let s = Batch::<f64, 10>::from_fn(4, |i, j| 1e-6 * (i as f64 - j as f64));
        let mut ds = Batch::<f64, 10>::zeros(4);
        let loss = MulticlassSvm
            .loss_and_grad(s.columns(0, 4), &[1, 5, 9, 0], ds.columns_mut(0, 4))
            .unwrap();
        assert_relative_eq!(loss, 9.0, epsilon = 1e-4);
    }

    #[test]
    fn svm_loss_rejects_a_label_count_that_does_not_match_the_batch() {
        let s = Batch::<f64, 3>::zeros(2);
        let mut ds = Batch::<f64, 3>::zeros(2);
        let err = MulticlassSvm
            .loss_and_grad(s.columns(0, 2), &[0], ds.columns_mut(0, 2))
            .unwrap_err();
        assert!(matches!(
            err,
            Error::WrongLength {
                expected: 2,
                got: 1,
                ..
            }
        ));
    }
}
