//! Datasets: a labeled set whose feature width is part of its type, the loaders of the real
//! files the project ships (MNIST's IDX, scikit-learn's CSVs), and the course's spiral.
//!
//! Every loader checks what it reads and returns [`Error::Data`] naming
//! the file, what was expected and what was found, never a panic. A dataset of 784-wide
//! samples is a `Labeled<T, 784>`: handing it to a network of another input width does not
//! compile.

mod csv;
mod idx;
mod spiral;

use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::{Batch, BatchView, Error, Float};

pub use csv::{Header, read_csv};
pub use idx::{Split, mnist, read_idx};
pub use spiral::spiral;

/// Inputs (one sample per column) and their class labels.
///
/// ```
/// use constnet::datasets::Labeled;
/// use constnet::Batch;
/// let data = Labeled::new(Batch::<f32, 2>::from_fn(4, |i, j| (i + j) as f32), vec![0, 1, 0, 1])?;
/// let (train, val) = data.shuffled(7).split(3);
/// assert_eq!((train.len(), val.len()), (3, 1));
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled<T: Float, const N: usize> {
    /// The samples, one per column.
    pub inputs: Batch<T, N>,
    /// One class label per sample.
    pub labels: Vec<usize>,
}

impl<T: Float, const N: usize> Labeled<T, N> {
    /// Pairs samples with labels; their counts must agree.
    pub fn new(inputs: Batch<T, N>, labels: Vec<usize>) -> Result<Self, Error> {
        if inputs.ncols() != labels.len() {
            return Err(Error::WrongLength {
                what: "labels".into(),
                expected: inputs.ncols(),
                got: labels.len(),
            });
        }
        Ok(Labeled { inputs, labels })
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// One more than the largest label (0 when empty).
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(10, 3, 0);
    /// assert_eq!(data.classes(), 3);
    /// ```
    pub fn classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&l| l + 1)
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut inputs = Batch::<T, N>::zeros(indices.len());
        for (mut column, &i) in inputs.column_iter_mut().zip(indices) {
            column.copy_from(&self.inputs.column(i));
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Labeled { inputs, labels }
    }

    /// The same samples in an order shuffled reproducibly from `seed`.
    pub fn shuffled(&self, seed: u64) -> Self {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        self.select(&order)
    }

    /// Splits into a training set of the first `train` samples and a validation set of the
    /// rest (all of them in training when `train` is larger than the set). Shuffle first when
    /// the file is sorted by class, as iris is. Only a [`Training`] set can fit a
    /// preprocessing transform (see [`crate::preprocess`]).
    pub fn split(&self, train: usize) -> (Training<T, N>, Self) {
        let train = train.min(self.len());
        let (a, b): (Vec<usize>, Vec<usize>) =
            ((0..train).collect(), (train..self.len()).collect());
        (Training(self.select(&a)), self.select(&b))
    }

    /// Declares the whole set a training set, for data that comes already split (MNIST's
    /// training file). **Only call this on training data**: a transform fitted on
    /// validation or test data leaks them into training and flatters every later score.
    pub fn into_training(self) -> Training<T, N> {
        Training(self)
    }

    /// Every input multiplied by `factor` (pixel counts to `[0, 1]`, say).
    pub fn scaled(mut self, factor: T) -> Self {
        self.inputs *= factor;
        self
    }

    /// Mini-batches of `size` samples (the last of an epoch may be smaller) in an order
    /// reshuffled every epoch from `seed`. `size` must be at least 1.
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(10, 3, 0);
    /// let mut batches = data.mini_batches(8, 1)?;
    /// let mut seen = 0;
    /// while let Some((x, labels)) = batches.next_batch() {
    ///     assert_eq!(x.ncols(), labels.len());
    ///     seen += labels.len();
    /// }
    /// assert_eq!((seen, batches.per_epoch()), (30, 4));
    /// batches.next_epoch(); // a new order; `next_batch` starts over
    /// assert_eq!(batches.next_batch().unwrap().1.len(), 8);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn mini_batches(&self, size: usize, seed: u64) -> Result<MiniBatches<'_, T, N>, Error> {
        if size == 0 {
            return Err(Error::BadHyperparameter {
                name: "batch size",
                value: 0.0,
                expected: "at least 1",
            });
        }
        let mut batches = MiniBatches {
            data: self,
            order: (0..self.len()).collect(),
            next: 0,
            inputs: Batch::<T, N>::zeros(size.min(self.len())),
            labels: Vec::with_capacity(size),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            size,
        };
        batches.next_epoch();
        Ok(batches)
    }
}

/// A labeled set known to be training data: what preprocessing transforms are fitted on
/// (the CS231n notes: "any preprocessing statistics must only be computed on the training
/// data"). Made by [`Labeled::split`] or, explicitly, [`Labeled::into_training`]; it reads
/// as a [`Labeled`] everywhere else.
///
/// ```
/// let data = constnet::datasets::spiral::<f32>(10, 3, 0).shuffled(0);
/// let (train, val) = data.split(24);
/// assert_eq!((train.len(), val.len()), (24, 6)); // `train` derefs to `Labeled`
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Training<T: Float, const N: usize>(Labeled<T, N>);

impl<T: Float, const N: usize> std::ops::Deref for Training<T, N> {
    type Target = Labeled<T, N>;
    fn deref(&self) -> &Labeled<T, N> {
        &self.0
    }
}

impl<T: Float, const N: usize> Training<T, N> {
    /// The training samples as a plain labeled set.
    pub fn into_inner(self) -> Labeled<T, N> {
        self.0
    }

    /// The same training set with its samples transformed (by a fitted preprocessing step,
    /// say); `f` maps the whole set.
    pub fn map<const M: usize>(
        &self,
        f: impl FnOnce(&Labeled<T, N>) -> Labeled<T, M>,
    ) -> Training<T, M> {
        Training(f(&self.0))
    }
}

/// Mini-batches over a [`Labeled`] set, copied into one buffer allocated up front: drawing a
/// batch allocates nothing. See [`Labeled::mini_batches`].
#[derive(Debug)]
pub struct MiniBatches<'a, T: Float, const N: usize> {
    data: &'a Labeled<T, N>,
    order: Vec<usize>,
    next: usize,
    size: usize,
    inputs: Batch<T, N>,
    labels: Vec<usize>,
    rng: rand::rngs::StdRng,
}

impl<T: Float, const N: usize> MiniBatches<'_, T, N> {
    /// Starts a new epoch in a freshly shuffled order.
    pub fn next_epoch(&mut self) {
        self.order.shuffle(&mut self.rng);
        self.next = 0;
    }

    /// The number of batches in an epoch.
    pub fn per_epoch(&self) -> usize {
        self.data.len().div_ceil(self.size)
    }

    /// The next batch of this epoch and its labels, or `None` once the epoch is over.
    pub fn next_batch(&mut self) -> Option<(BatchView<'_, T, N>, &[usize])> {
        let end = (self.next + self.size).min(self.order.len());
        if self.next >= end {
            return None;
        }
        let indices = &self.order[self.next..end];
        self.next = end;
        self.labels.clear();
        for (column, &i) in indices.iter().enumerate() {
            self.inputs
                .column_mut(column)
                .copy_from(&self.data.inputs.column(i));
            self.labels.push(self.data.labels[i]);
        }
        Some((self.inputs.columns(0, indices.len()), &self.labels))
    }
}

/// The loaders' shared checks and reading.
fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|e| data_error(path, "a readable file", e))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(&bytes[..]);
        std::io::Read::read_to_end(&mut decoder, &mut out)
            .map_err(|e| data_error(path, "a complete gzip stream", e))?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

fn data_error(path: &Path, expected: impl ToString, found: impl ToString) -> Error {
    Error::Data {
        path: path.display().to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}
