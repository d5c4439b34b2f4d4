//! Mean squared error: `L_i = sum_k (s_k - t_k)^2` (the notes' L2 regression loss), averaged
//! over the batch, with `dL_i/ds = 2 (s - t)`.

use super::{Loss, check_targets};
use crate::batch::{Batch, BatchView, BatchViewMut};
use crate::error::Error;
use crate::scalar::Float;

/// The squared L2 distance between scores and targets, averaged over the samples (not over
/// the elements: PyTorch's `MSELoss(reduction="sum")` divided by the batch size).
///
/// ```
/// use constnet::{Batch, Loss, losses::MeanSquaredError};
/// let s = Batch::<f64, 2>::from_column_slice(&[1.0, 2.0]);
/// let t = Batch::<f64, 2>::from_column_slice(&[0.0, 4.0]);
/// let mut ds = Batch::<f64, 2>::zeros(1);
/// let l = MeanSquaredError.loss_and_grad(s.columns(0, 1), &t, ds.columns_mut(0, 1));
/// assert_eq!(l.unwrap(), 5.0);
/// assert_eq!(ds.as_slice(), &[2.0, -4.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeanSquaredError;

impl<T: Float, const K: usize> Loss<T, K> for MeanSquaredError {
    type Target = Batch<T, K>;

    fn loss_and_grad(
        &self,
        scores: BatchView<'_, T, K>,
        target: &Batch<T, K>,
        mut dscores: BatchViewMut<'_, T, K>,
    ) -> Result<T, Error> {
        let batch = scores.ncols();
        check_targets("regression targets (samples)", target.ncols(), batch)?;
        let inv_n = T::ONE / T::of_f64(batch as f64);
        let two_over_n = (T::ONE + T::ONE) * inv_n;
        let mut total = T::ZERO;
        let pairs = scores.as_slice().iter().zip(target.as_slice());
        for (d, (&s, &t)) in dscores.as_mut_slice().iter_mut().zip(pairs) {
            let diff = s - t;
            total += diff * diff;
            *d = two_over_n * diff;
        }
        Ok(total * inv_n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn mse_averages_squared_distance_over_samples() {
        // samples [1, 2] vs [1, 0] (distance^2 = 4) and [0, 0] vs [3, 4] (25): mean 14.5
        let s = Batch::<f64, 2>::from_column_slice(&[1.0, 2.0, 0.0, 0.0]);
        let t = Batch::<f64, 2>::from_column_slice(&[1.0, 0.0, 3.0, 4.0]);
        let mut ds = Batch::<f64, 2>::zeros(2);
        let loss = MeanSquaredError
            .loss_and_grad(s.columns(0, 2), &t, ds.columns_mut(0, 2))
            .unwrap();
        assert_relative_eq!(loss, 14.5);
        assert_relative_eq!(ds.as_slice(), &[0.0, 2.0, -3.0, -4.0][..]);
    }

    #[test]
    fn mse_rejects_targets_for_a_different_batch_size() {
        let s = Batch::<f64, 2>::zeros(2);
        let t = Batch::<f64, 2>::zeros(3);
        let mut ds = Batch::<f64, 2>::zeros(2);
        let err = MeanSquaredError.loss_and_grad(s.columns(0, 2), &t, ds.columns_mut(0, 2));
        assert!(matches!(
            err,
            Err(Error::WrongLength {
                expected: 2,
                got: 3,
                ..
            })
        ));
    }
}
