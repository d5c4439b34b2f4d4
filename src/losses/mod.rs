//! Losses: each returns the mean loss over the batch and writes the gradient of that mean
//! with respect to the scores in the same pass, as the course's `softmax_loss` returns
//! `(loss, dx)`.
//!
//! | loss | target | formula per sample |
//! |---|---|---|
//! | [`SoftmaxCrossEntropy`] | class labels | `-ln(e^{s_y} / sum_j e^{s_j})` |
//! | [`MulticlassSvm`] | class labels | `sum_{j != y} max(0, s_j - s_y + 1)` |
//! | [`MeanSquaredError`] | a batch of targets | `sum_k (s_k - t_k)^2` |

mod mse;
mod softmax;
mod svm;

pub use mse::MeanSquaredError;
pub use softmax::SoftmaxCrossEntropy;
pub use svm::MulticlassSvm;

use crate::{BatchView, BatchViewMut, Error, Float, Kinks};

/// A loss over `K` scores per sample.
///
/// ```
/// use constnet::{Batch, Loss, losses::SoftmaxCrossEntropy};
/// let scores = Batch::<f64, 3>::zeros(2);
/// let mut dscores = Batch::<f64, 3>::zeros(2);
/// let loss = SoftmaxCrossEntropy
///     .loss_and_grad(scores.columns(0, 2), &[0, 2][..], dscores.columns_mut(0, 2))
///     .unwrap();
/// assert!((loss - 3f64.ln()).abs() < 1e-12);
/// ```
pub trait Loss<T: Float, const K: usize> {
    /// What the scores are compared with: class labels, or target values.
    type Target: ?Sized;

    /// The mean loss over the batch, with the gradient of that mean written into `dscores`.
    /// A target that does not match the batch (wrong length, label out of range) is an
    /// `Err`.
    fn loss_and_grad(
        &self,
        scores: BatchView<'_, T, K>,
        target: &Self::Target,
        dscores: BatchViewMut<'_, T, K>,
    ) -> Result<T, Error>;

    /// Records the winners of the loss's max gates (see [`Kinks`]); smooth losses record
    /// nothing.
    fn record_kinks(&self, scores: BatchView<'_, T, K>, target: &Self::Target, kinks: &mut Kinks) {
        let _ = (scores, target, kinks);
    }
}

/// Checks that there is one label per sample and every label is below `classes`.
pub(crate) fn check_labels(labels: &[usize], batch: usize, classes: usize) -> Result<(), Error> {
    if batch == 0 {
        return Err(Error::EmptyBatch);
    }
    if labels.len() != batch {
        return Err(Error::WrongLength {
            what: "labels".into(),
            expected: batch,
            got: labels.len(),
        });
    }
    match labels.iter().position(|&l| l >= classes) {
        Some(sample) => Err(Error::LabelOutOfRange {
            sample,
            label: labels[sample],
            classes,
        }),
        None => Ok(()),
    }
}
