//! Losses: each returns the mean loss over the batch and writes the gradient of that mean
//! with respect to the scores in the same pass, as the course's `softmax_loss` returns
//! `(loss, dx)`.
//!
//! | loss | target | formula per sample |
//! |---|---|---|
//! | [`SoftmaxCrossEntropy`] | class labels | `-ln(e^{s_y} / sum_j e^{s_j})` |
//! | [`MulticlassSvm`] | class labels | `sum_{j != y} max(0, s_j - s_y + 1)` |
//! | [`MeanSquaredError`] | a batch of targets | `sum_k (s_k - t_k)^2` |
//! | [`Distillation`] | a teacher's probabilities `q` and the class, from [`Distillation::targets`] | `alpha T^2 CE(q, softmax(s / T)) + (1 - alpha) CE(1_y, softmax(s))` |

mod distillation;
mod mse;
mod softmax;
mod svm;

pub use distillation::Distillation;
pub use mse::MeanSquaredError;
pub use softmax::SoftmaxCrossEntropy;
pub use svm::MulticlassSvm;

use crate::batch::{BatchView, BatchViewMut};
use crate::error::Error;
use crate::layer::Kinks;
use crate::scalar::Float;

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
    ///
    /// ```
    /// use constnet::{Batch, Error, Loss, losses::MulticlassSvm};
    /// let s = Batch::<f32, 3>::from_column_slice(&[2.0, 1.5, 0.0]); // one sample
    /// let mut ds = Batch::<f32, 3>::zeros(1);
    /// let loss = MulticlassSvm.loss_and_grad(s.columns(0, 1), &[0][..], ds.columns_mut(0, 1))?;
    /// assert_eq!(loss, 0.5); // max(0, 1.5 - 2 + 1) + max(0, 0 - 2 + 1)
    /// assert_eq!(ds.as_slice(), &[-1.0, 1.0, 0.0]);
    /// let bad = MulticlassSvm.loss_and_grad(s.columns(0, 1), &[3][..], ds.columns_mut(0, 1));
    /// assert_eq!(bad, Err(Error::LabelOutOfRange { sample: 0, label: 3, classes: 3 }));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn loss_and_grad(
        &self,
        scores: BatchView<'_, T, K>,
        target: &Self::Target,
        dscores: BatchViewMut<'_, T, K>,
    ) -> Result<T, Error>;

    /// Records the winners of the loss's max gates (see [`Kinks`]); smooth losses record
    /// nothing.
    ///
    /// ```
    /// use constnet::{Batch, Kinks, Loss, losses::{MulticlassSvm, SoftmaxCrossEntropy}};
    /// let s = Batch::<f64, 3>::from_column_slice(&[2.0, 1.5, 0.0]); // true class 0
    /// let mut kinks = Kinks::default();
    /// MulticlassSvm.record_kinks(s.columns(0, 1), &[0][..], &mut kinks);
    /// let mut expected = Kinks::default();
    /// expected.record(true); // class 1's margin, 1.5 - 2 + 1, is active
    /// expected.record(false); // class 2's, 0 - 2 + 1, is not
    /// assert_eq!(kinks, expected);
    /// SoftmaxCrossEntropy.record_kinks(s.columns(0, 1), &[0][..], &mut kinks); // smooth: nothing
    /// assert_eq!(kinks.count(), 2);
    /// ```
    fn record_kinks(&self, scores: BatchView<'_, T, K>, target: &Self::Target, kinks: &mut Kinks) {
        let _ = (scores, target, kinks);
    }

    /// The loss of a classifier that knows nothing yet, whose `K` scores are all about
    /// equal (small weights): the notes' first sanity check. `None` for a loss that states
    /// none (a regression loss, whose value at the start depends on the targets).
    ///
    /// ```
    /// use constnet::{Loss, losses::{MeanSquaredError, MulticlassSvm, SoftmaxCrossEntropy}};
    /// assert_eq!(Loss::<f32, 10>::chance_loss(&SoftmaxCrossEntropy), Some(10f64.ln()));
    /// assert_eq!(Loss::<f32, 10>::chance_loss(&MulticlassSvm), Some(9.0)); // K - 1, margin 1
    /// assert_eq!(Loss::<f32, 1>::chance_loss(&MeanSquaredError), None);
    /// ```
    fn chance_loss(&self) -> Option<f64> {
        None
    }
}

/// A loss on `K` scores that takes a data set's targets, of type `Tg`: the bound `fit` and
/// its kin put on their loss, so that a loss given targets it cannot take (regression
/// targets of another width than the network's output, labels to a regression loss) is one
/// error that says so at the call. Every [`Loss`] takes its own [`Target`](Loss::Target),
/// and nothing else.
///
/// ```
/// use constnet::losses::{MeanSquaredError, TakesTargets};
/// use constnet::Batch;
/// fn takes<L: TakesTargets<f32, 2, Batch<f32, 2>>>(_: &L) {}
/// takes(&MeanSquaredError); // 2-wide targets for 2 outputs
/// let targets = Batch::<f32, 2>::zeros(3);
/// let same = <MeanSquaredError as TakesTargets<f32, 2, _>>::targets(&targets);
/// assert_eq!(same.ncols(), 3);
/// ```
///
/// ```compile_fail
/// use constnet::losses::{MeanSquaredError, TakesTargets};
/// use constnet::Batch;
/// fn takes<L: TakesTargets<f32, 2, Batch<f32, 1>>>(_: &L) {}
/// takes(&MeanSquaredError); // 1-wide targets for 2 outputs
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` on {K} outputs does not take the targets of this data",
    label = "this loss takes targets for {K} outputs"
)]
pub trait TakesTargets<T: Float, const K: usize, Tg: ?Sized>: Loss<T, K> {
    /// The data set's targets as the loss's own type (they are the same type).
    fn targets(targets: &Tg) -> &Self::Target;
}

/// `do_not_recommend`: rustc then reports a loss that does not take the targets with
/// [`TakesTargets`]'s message, not as a mismatch of the type it requires here.
#[diagnostic::do_not_recommend]
impl<T: Float, const K: usize, Tg: ?Sized + SameAs<L::Target>, L: Loss<T, K>> TakesTargets<T, K, Tg>
    for L
{
    fn targets(targets: &Tg) -> &L::Target {
        targets.same()
    }
}

/// Implemented by a type for itself only: a type equality written as a trait bound, whose
/// failure rustc reports through the bound that needed it (see [`TakesTargets`]).
#[doc(hidden)]
pub trait SameAs<U: ?Sized> {
    /// `self`, as the same type.
    fn same(&self) -> &U;
}

impl<U: ?Sized> SameAs<U> for U {
    fn same(&self) -> &U {
        self
    }
}

/// Checks that the batch is not empty and that there are as many targets (`what`) as
/// samples.
pub(crate) fn check_targets(what: &str, targets: usize, batch: usize) -> Result<(), Error> {
    if batch == 0 {
        return Err(Error::EmptyBatch);
    }
    if targets != batch {
        return Err(Error::WrongLength {
            what: what.into(),
            expected: batch,
            got: targets,
        });
    }
    Ok(())
}

/// Checks that there is one label per sample and every label is below `classes`.
pub(crate) fn check_labels(labels: &[usize], batch: usize, classes: usize) -> Result<(), Error> {
    check_targets("labels", labels.len(), batch)?;
    match labels.iter().position(|&l| l >= classes) {
        Some(sample) => Err(Error::LabelOutOfRange {
            sample,
            label: labels[sample],
            classes,
        }),
        None => Ok(()),
    }
}
