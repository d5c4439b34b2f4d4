//! Evaluation metrics beyond accuracy: a classifier's top-k accuracy, confusion matrix and
//! per-class precision, recall and F1; a regressor's mean absolute
//! error, root mean squared error and coefficient of determination. Each takes the network's
//! scores or outputs for a whole set (from [`OnBatch::forward_batch`]) and the set's
//! targets, and checks that they match: a length or label mismatch is an `Err`, never a
//! panic.
//!
//! [`OnBatch::forward_batch`]: crate::network::OnBatch::forward_batch
//!
//! The definitions are scikit-learn's: precision `tp / (tp + fp)`, recall `tp / (tp + fn)`,
//! F1 their harmonic mean, each 0 where its denominator is (`zero_division=0`); macro
//! averages are plain means over the classes; R^2 is `1 - SS_res / SS_tot` per output,
//! averaged over the outputs (`multioutput="uniform_average"`).

use std::fmt;

use crate::batch::Batch;
use crate::error::Error;
use crate::losses::check_labels;
use crate::network::argmax;
use crate::scalar::Float;

/// The fraction of samples whose label is among their `k` highest scores (ties broken
/// toward the lower class, as [`argmax`] breaks them); `k = 1` is the accuracy.
///
/// ```
/// use constnet::{Batch, metrics::top_k_accuracy};
/// // two samples of three classes, one column each
/// let scores = Batch::<f32, 3>::from_column_slice(&[0.1, 0.7, 0.2, 0.5, 0.1, 0.4]);
/// assert_eq!(top_k_accuracy(&scores, &[2, 2], 1)?, 0.0);
/// assert_eq!(top_k_accuracy(&scores, &[2, 2], 2)?, 1.0); // 0.2 and 0.4 are second
/// assert!(top_k_accuracy(&scores, &[2], 2).is_err()); // one label for two samples
/// assert!(top_k_accuracy(&scores, &[2, 2], 0).is_err());
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn top_k_accuracy<T: Float, const K: usize>(
    scores: &Batch<T, K>,
    labels: &[usize],
    k: usize,
) -> Result<f64, Error> {
    check_labels(labels, scores.ncols(), K)?;
    if k == 0 || k > K {
        return Err(Error::BadHyperparameter {
            name: "k",
            value: k as f64,
            expected: "between 1 and the number of classes",
        });
    }
    let hits = scores
        .column_iter()
        .zip(labels)
        .filter(|&(s, &label)| {
            // Classes ranked above the label: higher scores, or equal ones of lower index.
            let above = (0..K)
                .filter(|&j| s[j] > s[label] || (s[j] == s[label] && j < label))
                .count();
            above < k
        })
        .count();
    Ok(hits as f64 / labels.len() as f64)
}

/// Counts of (true class, predicted class) pairs, with per-class precision, recall and F1.
///
/// ```
/// use constnet::metrics::ConfusionMatrix;
/// // true:      0  0  1  1  1  2
/// // predicted: 0  1  1  1  0  2
/// let m = ConfusionMatrix::from_predictions(3, &[0, 1, 1, 1, 0, 2], &[0, 0, 1, 1, 1, 2])?;
/// assert_eq!(m.count(1, 0), 1); // one 1 taken for a 0
/// assert_eq!(m.precision(1), 2.0 / 3.0);
/// assert_eq!(m.recall(1), 2.0 / 3.0);
/// assert_eq!(m.f1(0), 0.5); // precision 1/2, recall 1/2
/// assert_eq!(m.accuracy(), 4.0 / 6.0);
/// println!("{m}"); // the table, with precision, recall and F1 per class
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// `counts[truth * classes + predicted]`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// The matrix of `predicted` classes against the true `labels`, both below `classes`.
    ///
    /// ```
    /// use constnet::metrics::ConfusionMatrix;
    /// assert!(ConfusionMatrix::from_predictions(2, &[0, 2], &[0, 1]).is_err()); // 2 is no class
    /// assert!(ConfusionMatrix::from_predictions(2, &[0], &[0, 1]).is_err());
    /// ```
    pub fn from_predictions(
        classes: usize,
        predicted: &[usize],
        labels: &[usize],
    ) -> Result<Self, Error> {
        check_labels(labels, predicted.len(), classes)?;
        if let Some((sample, &label)) = predicted.iter().enumerate().find(|(_, p)| **p >= classes) {
            return Err(Error::LabelOutOfRange {
                sample,
                label,
                classes,
            });
        }
        let mut counts = vec![0; classes * classes];
        for (&p, &t) in predicted.iter().zip(labels) {
            counts[t * classes + p] += 1;
        }
        Ok(ConfusionMatrix { classes, counts })
    }

    /// The matrix of a network's predictions (the largest score of each column of
    /// `scores`) against `labels`.
    ///
    /// ```
    /// use constnet::{Batch, metrics::ConfusionMatrix};
    /// let scores = Batch::<f64, 2>::from_column_slice(&[0.9, 0.1, 0.3, 0.7, 0.6, 0.4]);
    /// let m = ConfusionMatrix::from_scores(&scores, &[0, 1, 1])?;
    /// assert_eq!((m.count(0, 0), m.count(1, 1), m.count(1, 0)), (1, 1, 1));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn from_scores<T: Float, const K: usize>(
        scores: &Batch<T, K>,
        labels: &[usize],
    ) -> Result<Self, Error> {
        let predicted: Vec<usize> = scores.column_iter().map(|s| argmax(s.as_slice())).collect();
        Self::from_predictions(K, &predicted, labels)
    }

    /// How many samples of class `truth` were predicted as `predicted`.
    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    fn predicted_as(&self, class: usize) -> u64 {
        (0..self.classes).map(|t| self.count(t, class)).sum()
    }

    fn of_class(&self, class: usize) -> u64 {
        (0..self.classes).map(|p| self.count(class, p)).sum()
    }

    /// `tp / (tp + fp)` for `class`: of the samples predicted as it, the share that are; 0
    /// when none is predicted as it.
    pub fn precision(&self, class: usize) -> f64 {
        ratio(self.count(class, class), self.predicted_as(class))
    }

    /// `tp / (tp + fn)` for `class`: of its samples, the share predicted as it; 0 when it
    /// has none.
    pub fn recall(&self, class: usize) -> f64 {
        ratio(self.count(class, class), self.of_class(class))
    }

    /// The harmonic mean of precision and recall for `class`; 0 when both are.
    pub fn f1(&self, class: usize) -> f64 {
        let (p, r) = (self.precision(class), self.recall(class));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// The mean of the per-class F1 scores (scikit-learn's `average="macro"`).
    ///
    /// ```
    /// use constnet::metrics::ConfusionMatrix;
    /// let m = ConfusionMatrix::from_predictions(2, &[0, 0, 1, 1], &[0, 1, 1, 1])?;
    /// // class 0: precision 1/2, recall 1, F1 2/3; class 1: precision 1, recall 2/3, F1 0.8
    /// assert!((m.macro_f1() - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn macro_f1(&self) -> f64 {
        (0..self.classes).map(|c| self.f1(c)).sum::<f64>() / self.classes.max(1) as f64
    }

    /// The share of samples on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..self.classes).map(|c| self.count(c, c)).sum();
        ratio(right, self.counts.iter().sum())
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for ConfusionMatrix {
    /// Rows are true classes, columns predicted ones, then each class's precision, recall
    /// and F1.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .counts
            .iter()
            .max()
            .map_or(1, |m| m.to_string().len())
            .max(4);
        write!(f, "{:>10}", "true\\pred")?;
        for p in 0..self.classes {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f, " {:>9} {:>9} {:>9}", "precision", "recall", "F1")?;
        for t in 0..self.classes {
            write!(f, "{t:>10}")?;
            for p in 0..self.classes {
                write!(f, " {:>width$}", self.count(t, p))?;
            }
            writeln!(
                f,
                " {:>9.4} {:>9.4} {:>9.4}",
                self.precision(t),
                self.recall(t),
                self.f1(t)
            )?;
        }
        write!(
            f,
            "accuracy {:.4}, macro F1 {:.4}",
            self.accuracy(),
            self.macro_f1()
        )
    }
}

fn check_targets<T: Float, const M: usize>(
    predicted: &Batch<T, M>,
    targets: &Batch<T, M>,
) -> Result<(), Error> {
    if predicted.ncols() != targets.ncols() {
        return Err(Error::WrongLength {
            what: "targets (one column per predicted sample)".into(),
            expected: predicted.ncols(),
            got: targets.ncols(),
        });
    }
    if predicted.ncols() == 0 {
        return Err(Error::EmptyBatch);
    }
    Ok(())
}

/// The mean absolute error over every output of every sample.
///
/// ```
/// use constnet::{Batch, metrics::mean_absolute_error};
/// let predicted = Batch::<f64, 1>::from_column_slice(&[2.5, 0.0, 2.0, 8.0]);
/// let targets = Batch::<f64, 1>::from_column_slice(&[3.0, -0.5, 2.0, 7.0]);
/// assert_eq!(mean_absolute_error(&predicted, &targets)?, 0.5); // scikit-learn's example
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn mean_absolute_error<T: Float, const M: usize>(
    predicted: &Batch<T, M>,
    targets: &Batch<T, M>,
) -> Result<f64, Error> {
    check_targets(predicted, targets)?;
    let sum: f64 = predicted
        .iter()
        .zip(targets.iter())
        .map(|(p, t)| (p.as_f64() - t.as_f64()).abs())
        .sum();
    Ok(sum / predicted.len() as f64)
}

/// The square root of the mean squared error over every output of every sample.
///
/// ```
/// use constnet::{Batch, metrics::root_mean_squared_error};
/// let predicted = Batch::<f64, 1>::from_column_slice(&[2.5, 0.0, 2.0, 8.0]);
/// let targets = Batch::<f64, 1>::from_column_slice(&[3.0, -0.5, 2.0, 7.0]);
/// assert_eq!(root_mean_squared_error(&predicted, &targets)?, 0.375f64.sqrt());
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn root_mean_squared_error<T: Float, const M: usize>(
    predicted: &Batch<T, M>,
    targets: &Batch<T, M>,
) -> Result<f64, Error> {
    check_targets(predicted, targets)?;
    let sum: f64 = predicted
        .iter()
        .zip(targets.iter())
        .map(|(p, t)| (p.as_f64() - t.as_f64()).powi(2))
        .sum();
    Ok((sum / predicted.len() as f64).sqrt())
}

/// The coefficient of determination `1 - SS_res / SS_tot` of each output, averaged over the
/// outputs; an output whose targets are all equal scores 1 when predicted exactly and 0
/// otherwise, as in scikit-learn.
///
/// ```
/// use constnet::{Batch, metrics::r2_score};
/// let predicted = Batch::<f64, 1>::from_column_slice(&[2.5, 0.0, 2.0, 8.0]);
/// let targets = Batch::<f64, 1>::from_column_slice(&[3.0, -0.5, 2.0, 7.0]);
/// assert!((r2_score(&predicted, &targets)? - 0.9486081370449679).abs() < 1e-15); // scikit-learn's
/// # Ok::<(), constnet::Error>(())
/// ```
pub fn r2_score<T: Float, const M: usize>(
    predicted: &Batch<T, M>,
    targets: &Batch<T, M>,
) -> Result<f64, Error> {
    check_targets(predicted, targets)?;
    let n = targets.ncols() as f64;
    let mut total = 0.0;
    for m in 0..M {
        let (p, t) = (predicted.row(m), targets.row(m));
        let mean = t.iter().map(|v| v.as_f64()).sum::<f64>() / n;
        let ss_tot: f64 = t.iter().map(|v| (v.as_f64() - mean).powi(2)).sum();
        let ss_res: f64 = p
            .iter()
            .zip(t.iter())
            .map(|(p, t)| (p.as_f64() - t.as_f64()).powi(2))
            .sum();
        total += if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else if ss_res == 0.0 {
            1.0
        } else {
            0.0
        };
    }
    Ok(total / M.max(1) as f64)
}

/// `softmax(scale * v)` of one sample's scores, in place, computed from the scores less
/// their maximum (so that no exponential overflows).
pub(crate) fn softmax_in_place<T: Float>(v: &mut [T], scale: T) {
    let max = v.iter().fold(v[0], |m, &x| if x > m { x } else { m });
    let mut sum = T::ZERO;
    for x in v.iter_mut() {
        *x = (scale * (*x - max)).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}
