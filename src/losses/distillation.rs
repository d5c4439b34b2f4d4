//! Knowledge distillation (Hinton, Vinyals and Dean 2015, the "dark knowledge" the notes
//! point to): a student learns from a teacher's softened class probabilities and from the
//! true labels.
//!
//! Per sample, with student scores `z`, the teacher's probabilities `q` at temperature `T`
//! and the true class `y`:
//! `L = alpha * T^2 * CE(q, softmax(z / T)) + (1 - alpha) * CE(1_y, softmax(z))`,
//! `dL/dz = alpha * T * (softmax(z / T) - q) + (1 - alpha) * (softmax(z) - 1_y)`
//! (the `T^2` keeps the soft term's gradient on the scale of the hard one's as `T` changes,
//! as the paper advises).
//!
//! The target of a sample carries both `q` and `y` in one column of `K` numbers:
//! `q - 2 * 1_y` (every entry of `q` is in `[0, 1]`, so the label's entry alone is below
//! -0.5). [`Distillation::targets`] builds them, and [`Regression`](crate::datasets::Regression)
//! holds them beside the inputs, so `fit` trains a student as it trains a regressor.

use super::{Loss, check_targets};
use crate::batch::{Batch, BatchView, BatchViewMut};
use crate::error::Error;
use crate::metrics::softmax_in_place;
use crate::scalar::Float;

/// The distillation loss at a temperature, weighing the teacher's soft targets by `alpha`
/// and the true labels by `1 - alpha`.
///
/// ```
/// use constnet::{Batch, Loss, losses::{Distillation, SoftmaxCrossEntropy}};
/// // With alpha 0 it is the cross-entropy with the labels.
/// let s = Batch::<f64, 3>::from_column_slice(&[1.0, 2.0, 0.5]);
/// let soft = Batch::<f64, 3>::from_column_slice(&[0.2, 0.5, 0.3]);
/// let targets = Distillation::targets(&soft, &[2])?;
/// let (mut a, mut b) = (Batch::<f64, 3>::zeros(1), Batch::<f64, 3>::zeros(1));
/// let hard = Distillation::new(4.0, 0.0)?.loss_and_grad(s.columns(0, 1), &targets, a.columns_mut(0, 1))?;
/// let ce = SoftmaxCrossEntropy.loss_and_grad(s.columns(0, 1), &[2][..], b.columns_mut(0, 1))?;
/// assert!((hard - ce).abs() < 1e-12 && (a - b).amax() < 1e-12);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distillation {
    temperature: f64,
    alpha: f64,
}

impl Distillation {
    /// Distillation at `temperature` (at least 1; the paper's best were 2 to 20) with weight
    /// `alpha` in `[0, 1]` on the soft targets.
    ///
    /// ```
    /// use constnet::losses::Distillation;
    /// assert!(Distillation::new(4.0, 0.9).is_ok());
    /// assert!(Distillation::new(0.5, 0.9).is_err() && Distillation::new(4.0, 1.5).is_err());
    /// ```
    pub fn new(temperature: f64, alpha: f64) -> Result<Self, Error> {
        if !(temperature >= 1.0 && temperature.is_finite()) {
            return Err(Error::BadHyperparameter {
                name: "distillation temperature",
                value: temperature,
                expected: "at least 1, finite",
            });
        }
        if !(0.0..=1.0).contains(&alpha) {
            return Err(Error::BadHyperparameter {
                name: "distillation alpha",
                value: alpha,
                expected: "in [0, 1]",
            });
        }
        Ok(Distillation { temperature, alpha })
    }

    /// The temperature.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The weight on the soft targets.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The targets of [`Distillation`] for samples whose teacher probabilities are the
    /// columns of `soft` and whose true classes are `labels`: `soft - 2 * 1_label` per
    /// column. A probability outside `[0, 1]`, a column not summing to 1 (within 1e-3), a
    /// label out of range or another count of labels is an error.
    pub fn targets<T: Float, const K: usize>(
        soft: &Batch<T, K>,
        labels: &[usize],
    ) -> Result<Batch<T, K>, Error> {
        super::check_labels(labels, soft.ncols(), K)?;
        for (sample, column) in soft.column_iter().enumerate() {
            let sum: f64 = column.iter().map(|v| v.as_f64()).sum();
            let in_range = column.iter().all(|v| (0.0..=1.0).contains(&v.as_f64()));
            if !in_range || (sum - 1.0).abs() > 1e-3 {
                return Err(Error::Data {
                    path: format!("soft targets, sample {sample}"),
                    expected: "class probabilities in [0, 1] that sum to 1".into(),
                    found: format!("{:?}", column.as_slice()),
                });
            }
        }
        let mut targets = soft.clone();
        for (mut column, &label) in targets.column_iter_mut().zip(labels) {
            column[label] -= T::of_f64(2.0);
        }
        Ok(targets)
    }
}

impl<T: Float, const K: usize> Loss<T, K> for Distillation {
    type Target = Batch<T, K>;

    fn loss_and_grad(
        &self,
        scores: BatchView<'_, T, K>,
        targets: &Batch<T, K>,
        mut dscores: BatchViewMut<'_, T, K>,
    ) -> Result<T, Error> {
        let batch = scores.ncols();
        check_targets("distillation targets", targets.ncols(), batch)?;
        let t = T::of_f64(self.temperature);
        let alpha = T::of_f64(self.alpha);
        let (soft_weight, hard_weight) = (alpha * t * t, T::ONE - alpha);
        let inv_n = T::ONE / T::of_f64(batch as f64);
        let (mut soft, mut hard) = ([T::ZERO; K], [T::ZERO; K]);
        let mut total = 0.0f64;
        for ((s, target), mut ds) in scores
            .column_iter()
            .zip(targets.column_iter())
            .zip(dscores.column_iter_mut())
        {
            let s = s.as_slice();
            // The label is the entry below -0.5; the teacher's probability there is +2.
            let Some(label) = target.iter().position(|v| v.as_f64() < -0.5) else {
                return Err(Error::Data {
                    path: "distillation target".into(),
                    expected: "a column from Distillation::targets (one entry below -0.5)".into(),
                    found: format!("{:?}", target.as_slice()),
                });
            };
            soft.copy_from_slice(s);
            softmax_in_place(&mut soft, T::ONE / t);
            hard.copy_from_slice(s);
            softmax_in_place(&mut hard, T::ONE);
            let mut loss = 0.0f64;
            for k in 0..K {
                let q = if k == label {
                    target[k] + T::of_f64(2.0)
                } else {
                    target[k]
                };
                if q > T::ZERO {
                    loss -= (soft_weight * q).as_f64() * soft[k].as_f64().ln();
                }
                let y = if k == label { T::ONE } else { T::ZERO };
                ds[k] = (alpha * t * (soft[k] - q) + hard_weight * (hard[k] - y)) * inv_n;
            }
            loss -= hard_weight.as_f64() * hard[label].as_f64().ln();
            total += loss;
        }
        Ok(T::of_f64(total / batch as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss by its definition, in f64, for one sample.
    fn by_definition(s: &[f64; 3], q: &[f64; 3], y: usize, t: f64, alpha: f64) -> f64 {
        let softmax = |scale: f64| {
            let e: Vec<f64> = s.iter().map(|v| (v * scale).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(|v| v / sum).collect::<Vec<_>>()
        };
        let (soft, hard) = (softmax(1.0 / t), softmax(1.0));
        let ce_soft: f64 = -(0..3).map(|k| q[k] * soft[k].ln()).sum::<f64>();
        alpha * t * t * ce_soft - (1.0 - alpha) * hard[y].ln()
    }

    #[test]
    fn the_loss_is_its_definition_and_the_gradient_its_derivative() {
        let (t, alpha) = (3.0, 0.7);
        let loss = Distillation::new(t, alpha).unwrap();
        let s = Batch::<f64, 3>::from_column_slice(&[1.0, -0.5, 2.0, 0.3, 0.1, -1.0]);
        let q = Batch::<f64, 3>::from_column_slice(&[0.2, 0.3, 0.5, 0.6, 0.3, 0.1]);
        let labels = [2, 1];
        let targets = Distillation::targets(&q, &labels).unwrap();
        let mut ds = Batch::<f64, 3>::zeros(2);
        let value = loss
            .loss_and_grad(s.columns(0, 2), &targets, ds.columns_mut(0, 2))
            .unwrap();
        let mean = |s: &Batch<f64, 3>| {
            (0..2)
                .map(|j| {
                    let (sj, qj) = (s.column(j), q.column(j));
                    by_definition(
                        &[sj[0], sj[1], sj[2]],
                        &[qj[0], qj[1], qj[2]],
                        labels[j],
                        t,
                        alpha,
                    )
                })
                .sum::<f64>()
                / 2.0
        };
        assert!((value - mean(&s)).abs() < 1e-12, "{value} vs {}", mean(&s));
        // Centered differences of the definition.
        for i in 0..6 {
            let h = 1e-6;
            let (mut plus, mut minus) = (s.clone(), s.clone());
            plus.as_mut_slice()[i] += h;
            minus.as_mut_slice()[i] -= h;
            let numeric = (mean(&plus) - mean(&minus)) / (2.0 * h);
            assert!(
                (ds.as_slice()[i] - numeric).abs() < 1e-8,
                "{i}: {} vs {numeric}",
                ds.as_slice()[i]
            );
        }
    }

    #[test]
    fn bad_targets_are_errors() {
        let q = Batch::<f32, 2>::from_column_slice(&[0.5, 0.6]);
        assert!(Distillation::targets(&q, &[0]).is_err()); // sums to 1.1
        let q = Batch::<f32, 2>::from_column_slice(&[-0.5, 1.5]);
        assert!(Distillation::targets(&q, &[0]).is_err()); // not probabilities
        let q = Batch::<f32, 2>::from_column_slice(&[0.5, 0.5]);
        assert!(Distillation::targets(&q, &[2]).is_err()); // no class 2
        assert!(Distillation::targets(&q, &[0, 1]).is_err()); // two labels for one sample
        // A target that is not from `targets` (no label entry) is refused by the loss.
        let s = Batch::<f32, 2>::zeros(1);
        let mut ds = Batch::<f32, 2>::zeros(1);
        let loss = Distillation::new(2.0, 0.5).unwrap();
        assert!(
            loss.loss_and_grad(s.columns(0, 1), &q, ds.columns_mut(0, 1))
                .is_err()
        );
    }
}
