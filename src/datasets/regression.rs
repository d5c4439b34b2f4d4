//! Regression sets: `N`-wide inputs paired with `M` target values each.

use super::{
    Dataset, MiniBatches, Supervised, Training, check_count, copy_columns, select_columns,
    shuffled, split,
};
use crate::batch::Batch;
use crate::error::Error;
use crate::scalar::Float;

/// Inputs (one sample per column) and their target values (one column of `M` per sample):
/// what [`MeanSquaredError`](crate::losses::MeanSquaredError) compares a network's outputs
/// with, and what [`fit`](crate::train::fit) trains a regressor on. Both widths are in the
/// type.
///
/// ```
/// use constnet::datasets::Regression;
/// use constnet::Batch;
/// let x = Batch::<f32, 2>::from_fn(5, |i, j| (i + j) as f32);
/// let y = Batch::<f32, 1>::from_fn(5, |_, j| 2.0 * j as f32);
/// let data = Regression::new(x, y)?;
/// let (train, val) = data.shuffled(7).split(4);
/// assert_eq!((train.len(), val.len()), (4, 1));
/// assert!(!val.is_empty());
/// // shuffling moves each target with its sample: here the target is twice the first input
/// assert_eq!(val.targets[(0, 0)], 2.0 * val.inputs[(0, 0)]);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Regression<T: Float, const N: usize, const M: usize> {
    /// The samples, one per column.
    pub inputs: Batch<T, N>,
    /// The targets, one column per sample.
    pub targets: Batch<T, M>,
}

impl<T: Float, const N: usize, const M: usize> Regression<T, N, M> {
    /// Pairs samples with targets; their counts must agree.
    ///
    /// ```
    /// use constnet::{Batch, Error, datasets::Regression};
    /// let err = Regression::new(Batch::<f64, 3>::zeros(4), Batch::<f64, 1>::zeros(5));
    /// assert!(matches!(err, Err(Error::WrongLength { expected: 4, got: 5, .. })));
    /// ```
    pub fn new(inputs: Batch<T, N>, targets: Batch<T, M>) -> Result<Self, Error> {
        check_count(
            "regression targets (samples)",
            inputs.ncols(),
            targets.ncols(),
        )?;
        Ok(Regression { inputs, targets })
    }

    /// The number of samples.
    ///
    /// ```
    /// let data = constnet::datasets::diabetes::<f64>("data/sklearn")?;
    /// assert_eq!(data.len(), 442);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.inputs.ncols()
    }

    /// Whether there are no samples.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Regression};
    /// let data = Regression::new(Batch::<f32, 2>::zeros(3), Batch::<f32, 1>::zeros(3))?;
    /// assert!(!data.is_empty());
    /// assert!(data.select(&[]).is_empty());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices`, in that order, with their targets.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Regression};
    /// let data = Regression::new(
    ///     Batch::<f32, 1>::from_column_slice(&[1.0, 2.0, 3.0]),
    ///     Batch::<f32, 1>::from_column_slice(&[10.0, 20.0, 30.0]),
    /// )?;
    /// let picked = data.select(&[2, 0]);
    /// assert_eq!(picked.targets.as_slice(), &[30.0, 10.0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn select(&self, indices: &[usize]) -> Self {
        Regression {
            inputs: select_columns(&self.inputs, indices),
            targets: select_columns(&self.targets, indices),
        }
    }

    /// The samples whose inputs and targets are all finite, in their order: the set
    /// without the ones a loader kept NaN or infinite fields in
    /// ([`NonFinite::Keep`](super::NonFinite::Keep)).
    ///
    /// ```
    /// use constnet::{Batch, datasets::Regression};
    /// let data = Regression::new(
    ///     Batch::<f64, 1>::from_column_slice(&[1.0, f64::INFINITY, 3.0]),
    ///     Batch::<f64, 1>::from_column_slice(&[10.0, 20.0, f64::NAN]),
    /// )?;
    /// assert_eq!(data.without_non_finite().targets.as_slice(), &[10.0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn without_non_finite(&self) -> Self {
        let inputs = super::finite_columns(self.inputs.as_slice(), N, self.len());
        let targets = super::finite_columns(self.targets.as_slice(), M, self.len());
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| inputs[i] && targets[i])
            .collect();
        self.select(&keep)
    }

    /// The same samples (each with its targets) in an order shuffled reproducibly from
    /// `seed`.
    ///
    /// ```
    /// let data = constnet::datasets::diabetes::<f64>("data/sklearn")?;
    /// let shuffled = data.shuffled(0);
    /// assert_eq!(shuffled, data.shuffled(0)); // the same seed, the same order
    /// assert_ne!(shuffled.targets, data.targets);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn shuffled(&self, seed: u64) -> Self {
        shuffled(self, seed)
    }

    /// Splits into a training set of the first `train` samples and a validation set of the
    /// rest (all of them in training when `train` is larger than the set), as
    /// [`Labeled::split`](super::Labeled::split) does. Only the [`Training`] part can fit a
    /// preprocessing transform (see [`crate::preprocess`]).
    ///
    /// ```
    /// use constnet::preprocess::{Granularity, Preprocess, Standardize};
    /// let data = constnet::datasets::diabetes::<f64>("data/sklearn")?.shuffled(0);
    /// let (train, test) = data.split(400);
    /// let standardize = Standardize::fit(&train, Granularity::PerFeature, true);
    /// let test = standardize.apply(&test); // a `Regression<f64, 10, 1>` again
    /// assert_eq!((train.len(), test.len()), (400, 42));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn split(&self, train: usize) -> (Training<T, N, Self>, Self) {
        split(self, train)
    }

    /// Declares the whole set a training set, for data that comes already split. **Only call
    /// this on training data** (see [`Labeled::into_training`](super::Labeled::into_training)).
    ///
    /// ```
    /// use constnet::preprocess::{Granularity, Standardize};
    /// let train = constnet::datasets::diabetes::<f64>("data/sklearn")?.into_training();
    /// let targets = Standardize::fit_targets(&train, Granularity::PerFeature, true);
    /// assert!((targets.mean()[0] - 152.13).abs() < 0.01); // scikit-learn's mean target
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn into_training(self) -> Training<T, N, Self> {
        Training::new(self)
    }

    /// Mini-batches of `size` samples and their targets (the last batch of an epoch may be
    /// smaller) in an order reshuffled every epoch from `seed`. `size` must be at least 1.
    /// The targets come in a `Batch<T, M>` with exactly one column per sample of the batch,
    /// as [`MeanSquaredError`](crate::losses::MeanSquaredError) wants; the buffers for a full
    /// and for the last, smaller batch are allocated here, so drawing a batch allocates
    /// nothing.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Regression};
    /// let x = Batch::<f32, 1>::from_fn(10, |_, j| j as f32);
    /// let data = Regression::new(x.clone(), x * 3.0)?;
    /// let mut batches = data.mini_batches(4, 0)?;
    /// let mut sizes = vec![];
    /// while let Some((x, y)) = batches.next_batch() {
    ///     assert_eq!(y.ncols(), x.ncols());
    ///     assert_eq!(y.column(0)[0], 3.0 * x.column(0)[0]);
    ///     sizes.push(x.ncols());
    /// }
    /// assert_eq!(sizes, [4, 4, 2]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn mini_batches(
        &self,
        size: usize,
        seed: u64,
    ) -> Result<MiniBatches<'_, T, N, Self>, Error> {
        MiniBatches::new(self, size, seed)
    }
}

impl<T: Float, const N: usize, const M: usize> Dataset for Regression<T, N, M> {
    type Plain = Self;
    type Target = Batch<T, M>;
}

impl<T: Float, const N: usize, const M: usize> Supervised<T, N> for Regression<T, N, M> {
    /// A full batch's targets and the last, smaller batch's.
    type Buffer = [Batch<T, M>; 2];
    type WithInputs<const K: usize> = Regression<T, K, M>;

    fn plain_parts(plain: &Self) -> (&Batch<T, N>, &Batch<T, M>) {
        (&plain.inputs, &plain.targets)
    }

    fn check_targets(targets: &Batch<T, M>, _: usize, set: &'static str) -> Result<(), Error> {
        super::check_finite(targets, set, "target")
    }

    fn inputs(&self) -> &Batch<T, N> {
        &self.inputs
    }

    fn targets(&self) -> &Batch<T, M> {
        &self.targets
    }

    fn select(&self, indices: &[usize]) -> Self {
        Regression::select(self, indices)
    }

    fn with_inputs<const K: usize>(&self, inputs: Batch<T, K>) -> Regression<T, K, M> {
        Regression {
            inputs,
            targets: self.targets.clone(),
        }
    }

    fn target_buffer(&self, size: usize) -> [Batch<T, M>; 2] {
        let full = size.min(self.len());
        let last = if full == 0 { 0 } else { self.len() % full };
        [Batch::<T, M>::zeros(full), Batch::<T, M>::zeros(last)]
    }

    fn gather_targets<'b>(
        &self,
        indices: &[usize],
        buffer: &'b mut [Batch<T, M>; 2],
    ) -> &'b Batch<T, M> {
        let slot = if buffer[0].ncols() == indices.len() {
            0
        } else {
            // Batches of another size than the two planned for get a buffer of their own.
            if buffer[1].ncols() != indices.len() {
                buffer[1] = Batch::<T, M>::zeros(indices.len());
            }
            1
        };
        copy_columns(&self.targets, indices, &mut buffer[slot]);
        &buffer[slot]
    }
}
