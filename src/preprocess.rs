//! Data preprocessing from the CS231n notes, fitted on a training split and applied to any
//! split: mean subtraction, normalization by the standard deviation, PCA and whitening.
//!
//! Fitting takes a [`Training`](crate::datasets::Training) set, which only the sets' `split`
//! ([`Labeled::split`](crate::datasets::Labeled::split), [`Regression::split`]) and the
//! explicit `into_training` make, so statistics cannot be computed on validation or test
//! data by accident. A transform applies ([`Preprocess::apply`]) to any set, labeled or
//! regression ([`Supervised`]), and returns the same kind of set with the same labels or
//! targets.
//! [`Standardize::fit_targets`] fits a regression set's targets instead, and
//! [`Standardize::invert_in_place`] maps predictions back to their original units. A fitted
//! transform is saved into and restored from a [`Checkpoint`] under `preprocess.*` names.
//!
//! Fitting on a plain [`Labeled`](crate::datasets::Labeled) set (a test set, say) does not
//! compile:
//!
//! ```compile_fail
//! use constnet::preprocess::{Granularity, Standardize};
//! let test = constnet::datasets::spiral::<f64>(10, 3, 0); // a Labeled, not a Training
//! let _ = Standardize::fit(&test, Granularity::PerFeature, true);
//! ```

use nalgebra::{DMatrix, Dyn, MatrixViewMut, SymmetricEigen};

use crate::batch::Batch;
use crate::checkpoint::Checkpoint;
use crate::datasets::{Regression, Supervised, TrainingData, TrainingSet};
use crate::error::Error;
use crate::kernels::gemm;
use crate::scalar::Float;

/// A fitted transform's copy of a set of `N`-wide samples of `T` (labeled or regression, the
/// labels or targets copied unchanged): the same kind of set with the transform's `K`-wide
/// inputs. A [`Training`](crate::datasets::Training) set gives a plain set;
/// [`Training::map`](crate::datasets::Training::map) keeps the mark. [`Standardize`] and
/// [`Pca`] implement it for every set of their input width and scalar type, so that a set of
/// another width is this trait's error, which names the transform and the width it takes. In
/// the [prelude](crate::prelude).
///
/// ```
/// use constnet::datasets::{Labeled, Regression};
/// use constnet::preprocess::{Granularity, Pca, Preprocess, Standardize};
/// use constnet::Batch;
/// let x = Batch::<f64, 2>::from_column_slice(&[0.0, 5.0, 4.0, 5.0]);
/// let (train, _) = Labeled::new(x, vec![0, 1])?.split(2);
/// let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
/// let out: Labeled<f64, 2> = standardize.apply(&train); // a plain set
/// assert_eq!(out.inputs.as_slice(), &[-1.0, 0.0, 1.0, 0.0]);
/// assert_eq!(out.labels, [0, 1]);
///
/// let x = Batch::<f64, 2>::from_column_slice(&[2.0, 0.0, -2.0, 0.0, 0.0, 1.0, 0.0, -1.0]);
/// let y = Batch::<f64, 1>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// let (train, _) = Regression::new(x, y)?.split(4);
/// let reduced: Regression<f64, 1, 1> = Pca::<f64, 2, 1>::fit(&train, None)?.apply(&train);
/// assert_eq!(reduced.targets, train.targets);
/// assert!((reduced.inputs[0].abs() - 2.0).abs() < 1e-12); // the first sample's x
/// # Ok::<(), constnet::Error>(())
/// ```
///
/// ```compile_fail
/// use constnet::preprocess::{Granularity, Pca, Preprocess, Standardize};
/// let (train, _) = constnet::datasets::spiral::<f64>(10, 3, 0).split(20);
/// let pca = Pca::<f64, 2, 1>::fit(&train, None).unwrap();
/// let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
/// standardize.apply(&pca.apply(&train)); // 1-wide samples for a 2-wide transform
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes a set of {N}-wide `{T}` samples",
    label = "given a set of another width or type"
)]
pub trait Preprocess<S, T: Float, const N: usize, const K: usize> {
    /// The same kind of set as `S`, with `K`-wide inputs.
    type Output;

    /// The transformed copy of `data`.
    fn apply(&self, data: &S) -> Self::Output;
}

/// `do_not_recommend`: rustc then reports a set of another width or scalar type with
/// [`Preprocess`]'s message alone.
#[diagnostic::do_not_recommend]
impl<S: Supervised<T, N>, T: Float, const N: usize> Preprocess<S, T, N, N> for Standardize<T, N> {
    type Output = S::WithInputs<N>;

    fn apply(&self, data: &S) -> S::WithInputs<N> {
        let mut inputs = data.inputs().clone();
        self.apply_in_place(&mut inputs);
        data.with_inputs(inputs)
    }
}

/// `do_not_recommend`, as for [`Standardize`].
#[diagnostic::do_not_recommend]
impl<S, T, const N: usize, const K: usize> Preprocess<S, T, N, K> for Pca<T, N, K>
where
    S: Supervised<T, N>,
    T: Float,
{
    type Output = S::WithInputs<K>;

    fn apply(&self, data: &S) -> S::WithInputs<K> {
        data.with_inputs(self.apply_batch(data.inputs()))
    }
}

/// Over what a statistic is taken.
///
/// ```
/// use constnet::{Batch, datasets::Labeled, preprocess::{Granularity, Standardize}};
/// // two samples: feature 0 is 0 then 2, feature 1 is 10 then 12
/// let x = Batch::<f64, 2>::from_column_slice(&[0.0, 10.0, 2.0, 12.0]);
/// let (train, _) = Labeled::new(x, vec![0, 1])?.split(2);
/// let per_feature = Standardize::fit(&train, Granularity::PerFeature, false);
/// assert_eq!(per_feature.mean(), &[1.0, 11.0]);
/// let scalar = Standardize::fit(&train, Granularity::Scalar, false);
/// assert_eq!(scalar.mean(), &[6.0, 6.0]); // one mean over all four values
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One value per feature (tabular data).
    PerFeature,
    /// One value for all features (images: every pixel shifted and scaled alike).
    Scalar,
}

/// `y = (x - mean) / std`: mean subtraction, and (optionally) normalization so that each
/// feature (or the data as a whole) has unit variance on the training split. A feature whose
/// training variance is zero is only centered.
///
/// ```
/// use constnet::datasets::spiral;
/// use constnet::preprocess::{Granularity, Preprocess, Standardize};
/// let (train, val) = spiral::<f64>(50, 3, 0).shuffled(1).split(120);
/// let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
/// let train = standardize.apply(&train);
/// let mean: f64 = train.inputs.row(0).mean();
/// assert!(mean.abs() < 1e-12);
/// let _val = standardize.apply(&val); // the training statistics, applied to validation
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Standardize<T: Float, const N: usize> {
    mean: Vec<T>,
    scale: Vec<T>,
}

impl<T: Float, const N: usize> Standardize<T, N> {
    /// Fits the mean (and, when `normalize`, the standard deviation) on the inputs of
    /// `train`, a labeled or a regression training set.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled, preprocess::{Granularity, Standardize}};
    /// // feature 0 is 0 then 4 (mean 2, standard deviation 2); feature 1 is always 5
    /// let x = Batch::<f64, 2>::from_column_slice(&[0.0, 5.0, 4.0, 5.0]);
    /// let (train, _) = Labeled::new(x, vec![0, 1])?.split(2);
    /// let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
    /// assert_eq!(standardize.mean(), &[2.0, 5.0]);
    /// assert_eq!(standardize.scale(), &[0.5, 1.0]); // the constant feature is only centered
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn fit(train: &dyn TrainingSet<T, N>, granularity: Granularity, normalize: bool) -> Self {
        Self::fit_batch(train.training_inputs(), granularity, normalize)
    }

    /// Fits the mean (and, when `normalize`, the standard deviation) on the targets of a
    /// regression training set, to standardize the targets a network learns (and, with
    /// [`invert_in_place`](Self::invert_in_place), to read its predictions in the original
    /// units).
    ///
    /// ```
    /// use constnet::preprocess::{Granularity, Standardize};
    /// let (train, test) = constnet::datasets::diabetes::<f64>("data/sklearn")?.shuffled(0).split(400);
    /// let targets = Standardize::fit_targets(&train, Granularity::PerFeature, true);
    /// let mut y = test.targets.clone();
    /// targets.apply_in_place(&mut y); // what a network trained on standardized targets predicts
    /// targets.invert_in_place(&mut y); // back to disease progression
    /// assert!((y[(0, 0)] - test.targets[(0, 0)]).abs() < 1e-9);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn fit_targets<const IN: usize, D: TrainingData<T, IN, Target = Batch<T, N>>>(
        train: &D,
        granularity: Granularity,
        normalize: bool,
    ) -> Self {
        Self::fit_batch(train.targets(), granularity, normalize)
    }

    fn fit_batch(values: &Batch<T, N>, granularity: Granularity, normalize: bool) -> Self {
        let count = values.ncols().max(1) as f64;
        let mut mean = vec![0.0f64; N];
        for column in values.column_iter() {
            for (m, v) in mean.iter_mut().zip(column.iter()) {
                *m += v.as_f64();
            }
        }
        mean.iter_mut().for_each(|m| *m /= count);
        let mut var = vec![0.0f64; N];
        for column in values.column_iter() {
            for ((s, v), m) in var.iter_mut().zip(column.iter()).zip(&mean) {
                *s += (v.as_f64() - m) * (v.as_f64() - m);
            }
        }
        var.iter_mut().for_each(|s| *s /= count);
        if granularity == Granularity::Scalar {
            let overall = mean.iter().sum::<f64>() / N as f64;
            // The variance over all values: the mean of the per-feature variances plus the
            // spread of the per-feature means.
            let spread = mean
                .iter()
                .map(|m| (m - overall) * (m - overall))
                .sum::<f64>();
            let total = (var.iter().sum::<f64>() + spread) / N as f64;
            mean.fill(overall);
            var.fill(total);
        }
        let scale = var
            .iter()
            .map(|&v| {
                if normalize && v > 0.0 {
                    1.0 / v.sqrt()
                } else {
                    1.0
                }
            })
            .map(T::of_f64)
            .collect();
        Standardize {
            mean: mean.into_iter().map(T::of_f64).collect(),
            scale,
        }
    }

    /// The fitted means, one per feature.
    ///
    /// ```
    /// use constnet::preprocess::{Granularity, Standardize};
    /// let (train, _) = constnet::datasets::diabetes::<f64>("data/sklearn")?.split(442);
    /// let standardize = Standardize::fit(&train, Granularity::PerFeature, false);
    /// assert!((standardize.mean()[0] - 48.518).abs() < 1e-3); // the mean age
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn mean(&self) -> &[T] {
        &self.mean
    }

    /// The fitted factors `1 / std`, one per feature (1 where nothing is scaled).
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled, preprocess::{Granularity, Standardize}};
    /// let x = Batch::<f64, 1>::from_column_slice(&[1.0, 3.0, 5.0, 7.0]); // variance 5
    /// let (train, _) = Labeled::new(x, vec![0; 4])?.split(4);
    /// let normalized = Standardize::fit(&train, Granularity::PerFeature, true);
    /// assert!((normalized.scale()[0] - 1.0 / 5.0f64.sqrt()).abs() < 1e-15);
    /// let centered = Standardize::fit(&train, Granularity::PerFeature, false);
    /// assert_eq!(centered.scale(), &[1.0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn scale(&self) -> &[T] {
        &self.scale
    }

    /// Transforms a batch in place.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled, preprocess::{Granularity, Standardize}};
    /// let x = Batch::<f64, 2>::from_column_slice(&[0.0, 5.0, 4.0, 5.0]);
    /// let (train, _) = Labeled::new(x, vec![0, 1])?.split(2);
    /// let standardize = Standardize::fit(&train, Granularity::PerFeature, true); // mean [2, 5], scale [0.5, 1]
    /// let mut batch = Batch::<f64, 2>::from_column_slice(&[6.0, 7.0]);
    /// standardize.apply_in_place(&mut batch);
    /// assert_eq!(batch.as_slice(), &[2.0, 2.0]); // (6 - 2) * 0.5, (7 - 5) * 1
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn apply_in_place(&self, inputs: &mut Batch<T, N>) {
        for mut column in inputs.column_iter_mut() {
            for ((v, &m), &s) in column.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (*v - m) * s;
            }
        }
    }

    /// The copy of a regression set with its targets transformed (by a transform fitted
    /// with [`fit_targets`](Self::fit_targets)); the inputs are copied unchanged.
    ///
    /// ```
    /// use constnet::preprocess::{Granularity, Standardize};
    /// let (train, _) = constnet::datasets::diabetes::<f64>("data/sklearn")?.split(400);
    /// let targets = Standardize::fit_targets(&train, Granularity::PerFeature, true);
    /// let standardized = targets.apply_targets(&train);
    /// assert!(standardized.targets.mean().abs() < 1e-12);
    /// assert_eq!(standardized.inputs, train.inputs);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn apply_targets<const IN: usize>(
        &self,
        data: &Regression<T, IN, N>,
    ) -> Regression<T, IN, N> {
        let mut out = data.clone();
        self.apply_in_place(&mut out.targets);
        out
    }

    /// The inverse transform of a batch in place, `x = y / scale + mean`: a standardized
    /// prediction back in the original units (see [`fit_targets`](Self::fit_targets)).
    ///
    /// ```
    /// use constnet::{Batch, datasets::Regression, preprocess::{Granularity, Standardize}};
    /// let y = Batch::<f64, 1>::from_column_slice(&[100.0, 200.0, 300.0]);
    /// let (train, _) = Regression::new(Batch::<f64, 1>::zeros(3), y)?.split(3);
    /// let targets = Standardize::fit_targets(&train, Granularity::PerFeature, true);
    /// let mut predicted = Batch::<f64, 1>::from_column_slice(&[0.0, 1.0]); // in std units
    /// targets.invert_in_place(&mut predicted);
    /// assert_eq!(predicted[(0, 0)], 200.0); // the mean
    /// assert!((predicted[(0, 1)] - (200.0 + 100.0 * (2.0f64 / 3.0).sqrt())).abs() < 1e-9);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn invert_in_place(&self, values: &mut Batch<T, N>) {
        for mut column in values.column_iter_mut() {
            for ((v, &m), &s) in column.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = *v / s + m;
            }
        }
    }

    /// Stores the transform in `checkpoint` as `preprocess.mean` and `preprocess.scale`.
    ///
    /// ```
    /// use constnet::{Checkpoint, preprocess::{Granularity, Standardize}};
    /// let (train, _) = constnet::datasets::spiral::<f32>(10, 3, 0).split(30);
    /// let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
    /// let mut checkpoint = Checkpoint::new();
    /// standardize.save_to(&mut checkpoint)?;
    /// assert_eq!(checkpoint.names(), ["preprocess.mean", "preprocess.scale"]);
    /// assert_eq!(checkpoint.get::<f32>("preprocess.mean").unwrap().1, standardize.mean());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn save_to(&self, checkpoint: &mut Checkpoint) -> Result<(), Error> {
        checkpoint.add("preprocess.mean", &[N], &self.mean)?;
        checkpoint.add("preprocess.scale", &[N], &self.scale)
    }

    /// The transform saved by [`save_to`](Self::save_to).
    ///
    /// ```
    /// use constnet::{Checkpoint, preprocess::{Granularity, Standardize}};
    /// let (train, _) = constnet::datasets::spiral::<f32>(10, 3, 0).split(30);
    /// let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
    /// let mut checkpoint = Checkpoint::new();
    /// standardize.save_to(&mut checkpoint)?;
    /// assert_eq!(Standardize::<f32, 2>::load_from(&checkpoint)?, standardize);
    /// assert!(Standardize::<f32, 3>::load_from(&checkpoint).is_err()); // saved 2 wide
    /// assert!(Standardize::<f32, 2>::load_from(&Checkpoint::new()).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn load_from(checkpoint: &Checkpoint) -> Result<Self, Error> {
        Ok(Standardize {
            mean: stored(checkpoint, "preprocess.mean", &[N])?,
            scale: stored(checkpoint, "preprocess.scale", &[N])?,
        })
    }
}

/// PCA onto the top `K` principal components of the (centered) training data, optionally
/// whitened: `y = U_K^T (x - mean)`, divided by `sqrt(eigenvalue + eps)` when whitening. The
/// covariance is `X X^T / n` over the training split and its eigenvectors come from
/// nalgebra's symmetric eigendecomposition, in `f64`.
///
/// ```
/// use constnet::datasets::spiral;
/// use constnet::preprocess::{Pca, Preprocess};
/// let (train, _) = spiral::<f64>(50, 3, 0).split(150);
/// let pca = Pca::<f64, 2, 1>::fit(&train, None)?;
/// assert!(pca.eigenvalues()[0] > 0.0);
/// let reduced = pca.apply(&train); // a Labeled<f64, 1>
/// assert_eq!(reduced.inputs.nrows(), 1);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Pca<T: Float, const N: usize, const K: usize> {
    mean: Vec<T>,
    /// `K x N`, row-major: row `k` is the `k`-th component, pre-divided by its whitening
    /// factor when whitening.
    components: Vec<T>,
    eigenvalues: Vec<f64>,
}

impl<T: Float, const N: usize, const K: usize> Pca<T, N, K> {
    /// Fits the top `K` components on `train`; `whiten: Some(eps)` also divides each by
    /// `sqrt(eigenvalue + eps)` (the notes use `eps = 1e-5`). `K <= N` is checked at compile
    /// time; `eps` must be non-negative and finite.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled, preprocess::Pca};
    /// // (2, 0), (-2, 0), (0, 1), (0, -1): variance 2 along x, 0.5 along y
    /// let x = Batch::<f64, 2>::from_column_slice(&[2.0, 0.0, -2.0, 0.0, 0.0, 1.0, 0.0, -1.0]);
    /// let (train, _) = Labeled::new(x, vec![0; 4])?.split(4);
    /// let pca = Pca::<f64, 2, 1>::fit(&train, None)?;
    /// assert!((pca.eigenvalues()[0] - 2.0).abs() < 1e-12);
    /// assert!(Pca::<f64, 2, 1>::fit(&train, Some(-1.0)).is_err()); // a negative eps
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn fit(train: &dyn TrainingSet<T, N>, whiten: Option<f64>) -> Result<Self, Error> {
        const { assert!(K >= 1 && K <= N, "PCA keeps between 1 and N components") };
        if let Some(eps) = whiten
            && !(eps >= 0.0 && eps.is_finite())
        {
            return Err(Error::BadHyperparameter {
                name: "whitening eps",
                value: eps,
                expected: "non-negative and finite",
            });
        }
        let inputs = train.training_inputs();
        let n = inputs.ncols();
        if n == 0 {
            return Err(Error::EmptyBatch);
        }
        let center = Standardize::fit_batch(inputs, Granularity::PerFeature, false);
        let mut x = DMatrix::<f64>::from_fn(N, n, |i, j| {
            inputs[(i, j)].as_f64() - center.mean[i].as_f64()
        });
        let mut cov = DMatrix::<f64>::zeros(N, N);
        {
            let x_t = x.transpose();
            let mut c = MatrixViewMut::from_slice_generic(cov.as_mut_slice(), Dyn(N), Dyn(N));
            gemm(1.0 / n as f64, &x, &x_t, 0.0, &mut c);
        }
        x.resize_mut(0, 0, 0.0);
        let eigen = SymmetricEigen::new(cov);
        let mut order: Vec<usize> = (0..N).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let mut components = Vec::with_capacity(K * N);
        let mut eigenvalues = Vec::with_capacity(K);
        for &index in &order[..K] {
            let lambda = eigen.eigenvalues[index].max(0.0);
            let factor = whiten.map_or(1.0, |eps| 1.0 / (lambda + eps).sqrt());
            if !factor.is_finite() {
                return Err(Error::BadHyperparameter {
                    name: "whitening eps",
                    value: 0.0,
                    expected: "positive when a kept component has zero variance",
                });
            }
            components.extend(
                eigen
                    .eigenvectors
                    .column(index)
                    .iter()
                    .map(|&v| T::of_f64(v * factor)),
            );
            eigenvalues.push(lambda);
        }
        Ok(Pca {
            mean: center.mean,
            components,
            eigenvalues,
        })
    }

    /// The variance along each kept component, largest first.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled, preprocess::Pca};
    /// let x = Batch::<f64, 2>::from_column_slice(&[0.0, 1.0, 0.0, -1.0, 2.0, 0.0, -2.0, 0.0]);
    /// let (train, _) = Labeled::new(x, vec![0; 4])?.split(4);
    /// let values = Pca::<f64, 2, 2>::fit(&train, None)?.eigenvalues().to_vec();
    /// assert!((values[0] - 2.0).abs() < 1e-12 && (values[1] - 0.5).abs() < 1e-12);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// The projected (and whitened) copy of a batch.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled, preprocess::Pca};
    /// // variance 2 along x, 0.5 along y: the top component is the x axis (up to its sign)
    /// let x = Batch::<f64, 2>::from_column_slice(&[2.0, 0.0, -2.0, 0.0, 0.0, 1.0, 0.0, -1.0]);
    /// let (train, _) = Labeled::new(x, vec![0; 4])?.split(4);
    /// let point = Batch::<f64, 2>::from_column_slice(&[3.0, 5.0]);
    /// let projected = Pca::<f64, 2, 1>::fit(&train, None)?.apply_batch(&point);
    /// assert!((projected[0].abs() - 3.0).abs() < 1e-12);
    /// let whitened = Pca::<f64, 2, 1>::fit(&train, Some(0.0))?.apply_batch(&point);
    /// assert!((whitened[0].abs() - 3.0 / 2.0f64.sqrt()).abs() < 1e-12); // divided by sqrt(2)
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn apply_batch(&self, inputs: &Batch<T, N>) -> Batch<T, K> {
        let mut out = Batch::<T, K>::zeros(inputs.ncols());
        for (x, mut y) in inputs.column_iter().zip(out.column_iter_mut()) {
            for (k, v) in y.iter_mut().enumerate() {
                let row = &self.components[k * N..(k + 1) * N];
                *v = row
                    .iter()
                    .zip(x.iter())
                    .zip(&self.mean)
                    .fold(T::ZERO, |acc, ((&u, &xi), &m)| acc + u * (xi - m));
            }
        }
        out
    }

    /// Stores the transform as `preprocess.pca.mean`, `.components` (`[K, N]`) and
    /// `.eigenvalues`.
    ///
    /// ```
    /// use constnet::{Checkpoint, preprocess::Pca};
    /// let (train, _) = constnet::datasets::spiral::<f32>(10, 3, 0).split(30);
    /// let mut checkpoint = Checkpoint::new();
    /// Pca::<f32, 2, 1>::fit(&train, None)?.save_to(&mut checkpoint)?;
    /// let (shape, _) = checkpoint.get::<f32>("preprocess.pca.components").unwrap();
    /// assert_eq!(shape, [1, 2]); // [K, N]
    /// assert_eq!(checkpoint.names().len(), 3);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn save_to(&self, checkpoint: &mut Checkpoint) -> Result<(), Error> {
        checkpoint.add("preprocess.pca.mean", &[N], &self.mean)?;
        checkpoint.add("preprocess.pca.components", &[K, N], &self.components)?;
        checkpoint.add("preprocess.pca.eigenvalues", &[K], &self.eigenvalues)
    }

    /// The transform saved by [`save_to`](Self::save_to).
    ///
    /// ```
    /// use constnet::{Checkpoint, preprocess::Pca};
    /// let (train, _) = constnet::datasets::spiral::<f64>(10, 3, 0).split(30);
    /// let pca = Pca::<f64, 2, 1>::fit(&train, Some(1e-5))?;
    /// let mut checkpoint = Checkpoint::new();
    /// pca.save_to(&mut checkpoint)?;
    /// assert_eq!(Pca::<f64, 2, 1>::load_from(&checkpoint)?, pca);
    /// assert!(Pca::<f64, 2, 2>::load_from(&checkpoint).is_err()); // one component was saved
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn load_from(checkpoint: &Checkpoint) -> Result<Self, Error> {
        Ok(Pca {
            mean: stored(checkpoint, "preprocess.pca.mean", &[N])?,
            components: stored(checkpoint, "preprocess.pca.components", &[K, N])?,
            eigenvalues: stored(checkpoint, "preprocess.pca.eigenvalues", &[K])?,
        })
    }
}

/// A tensor of `checkpoint` with the given shape.
fn stored<U: Float>(checkpoint: &Checkpoint, name: &str, shape: &[usize]) -> Result<Vec<U>, Error> {
    match checkpoint.get::<U>(name) {
        Some((found, values)) if found == shape => Ok(values),
        Some((found, _)) => Err(Error::Checkpoint {
            path: "(in memory)".into(),
            problems: vec![format!("`{name}` is {found:?}, expected {shape:?}")],
        }),
        None => Err(Error::Checkpoint {
            path: "(in memory)".into(),
            problems: vec![format!("missing `{name}` {shape:?}")],
        }),
    }
}
