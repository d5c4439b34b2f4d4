//! Datasets: labeled and regression sets whose feature width is part of their type, the
//! loaders of the real files the project ships (MNIST's IDX, scikit-learn's CSVs and its
//! diabetes regression data), and the course's spiral.
//!
//! Every loader checks what it reads and returns [`Error::Data`] naming
//! the file, what was expected and what was found, never a panic. A dataset of 784-wide
//! samples is a `Labeled<T, 784>`: handing it to a network of another input width does not
//! compile. A regression set of 10 features and one target is a `Regression<T, 10, 1>`.
//!
//! Selecting, shuffling, splitting and mini-batching are written once, over the
//! [`Supervised`] trait that both kinds of set implement.

mod csv;
mod idx;
mod regression;
mod spiral;

use std::fmt::Debug;
use std::io::{BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::batch::{Batch, BatchView};
use crate::error::Error;
use crate::scalar::{Float, first_non_finite};

pub use csv::{
    Header, NonFinite, diabetes, read_csv, read_csv_with, read_regression, read_regression_with,
};
pub use idx::{Split, mnist, read_idx};
pub use regression::Regression;
pub use spiral::spiral;

/// What a set is whatever its scalar type and width: the plain kind of set (without a
/// [`Training`] mark) that a validation set for it has. It does not depend on the width, so
/// that a set of the wrong width given to [`fit`](crate::train::fit) is one error, at the
/// training set.
///
/// ```
/// use constnet::datasets::{Dataset, Labeled, Training};
/// fn same<A, B>(_: Option<A>, _: Option<B>) where A: Dataset<Plain = B> {}
/// same::<Training<f32, 2>, Labeled<f32, 2>>(None, None); // a training set's plain kind
/// ```
pub trait Dataset {
    /// The set without a [`Training`] mark (the set itself when it has none).
    type Plain;
    /// The targets of a batch as a loss takes them (the loss's [`Loss::Target`](crate::Loss)):
    /// `[usize]` labels or a `Batch<T, M>` of target values. Like [`Plain`](Self::Plain), it
    /// does not depend on the width, so that the loss's bound on it in `fit` holds for a set
    /// of the wrong width, which is then one error, at the set.
    type Target: ?Sized;
}

/// A set of `N`-wide inputs, each paired with what a loss compares the network's output
/// with: a class label ([`Labeled`]) or a column of target values ([`Regression`]), or such a
/// set marked as training data ([`Training`]). [`MiniBatches`], the trainer
/// ([`fit`](crate::train::fit)) and the preprocessing transforms work on any of them; the
/// items below are what they need.
///
/// ```
/// use constnet::datasets::{Labeled, Regression, Supervised};
/// use constnet::Batch;
/// let inputs = Batch::<f32, 1>::from_column_slice(&[1.0, 2.0, 3.0]);
/// let labeled = Labeled::new(inputs.clone(), vec![0, 1, 0])?;
/// let regression = Regression::new(inputs, Batch::<f32, 1>::from_column_slice(&[2.0, 4.0, 6.0]))?;
/// assert_eq!(labeled.targets(), &[0, 1, 0][..]); // what `SoftmaxCrossEntropy` takes
/// assert_eq!(regression.select(&[2]).targets().as_slice(), &[6.0]); // what `MeanSquaredError` takes
/// // new inputs, 2 wide, with the same targets
/// let wider = regression.with_inputs(Batch::<f32, 2>::zeros(3));
/// assert_eq!((wider.inputs.nrows(), &wider.targets), (2, &regression.targets));
/// // the targets of a mini-batch, copied into reused storage
/// let mut buffer = labeled.target_buffer(2);
/// assert_eq!(labeled.gather_targets(&[1, 2], &mut buffer), &[1, 0][..]);
/// # Ok::<(), constnet::Error>(())
/// ```
#[diagnostic::on_unimplemented(message = "`{Self}` is not a set of {N}-wide samples of `{T}`")]
pub trait Supervised<T: Float, const N: usize>: Dataset + Sized {
    /// Storage for the targets of one mini-batch, allocated once and refilled per batch.
    type Buffer: Debug;
    /// The same kind of set with `K`-wide inputs and the same targets (what a preprocessing
    /// transform that changes the width returns).
    type WithInputs<const K: usize>: Supervised<T, K> + Dataset<Target = Self::Target>;

    /// The samples, one per column.
    ///
    /// ```
    /// use constnet::datasets::{Labeled, Supervised};
    /// use constnet::Batch;
    /// let data = Labeled::new(Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]), vec![0, 1])?;
    /// let (train, _) = data.split(1);
    /// assert_eq!(train.inputs().as_slice(), &[1.0, 2.0]); // also through the `Training` mark
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn inputs(&self) -> &Batch<T, N>;

    /// The targets of every sample.
    ///
    /// ```
    /// use constnet::datasets::Supervised;
    /// let data = constnet::datasets::spiral::<f32>(2, 3, 0);
    /// assert_eq!(data.targets(), &[0, 0, 1, 1, 2, 2][..]);
    /// ```
    fn targets(&self) -> &Self::Target;

    /// The samples and targets of a set of this set's plain kind ([`Dataset::Plain`]), such
    /// as a validation set for it.
    ///
    /// ```
    /// use constnet::datasets::{Labeled, Supervised, Training};
    /// let (train, val) = constnet::datasets::spiral::<f32>(5, 2, 0).split(8);
    /// let (inputs, labels) = <Training<f32, 2> as Supervised<f32, 2>>::plain_parts(&val);
    /// assert_eq!((inputs.ncols(), labels), (2, &val.labels[..]));
    /// # let _ = train;
    /// ```
    fn plain_parts(plain: &Self::Plain) -> (&Batch<T, N>, &Self::Target);

    /// The samples at `indices`, in that order, with their targets.
    ///
    /// ```
    /// use constnet::datasets::{Supervised, Training};
    /// let (train, _) = constnet::datasets::spiral::<f32>(5, 2, 0).split(10);
    /// let picked: Training<f32, 2> = Supervised::select(&train, &[9, 0]); // still training data
    /// assert_eq!(picked.labels, [1, 0]);
    /// assert_eq!(picked.inputs.column(0), train.inputs.column(9));
    /// ```
    fn select(&self, indices: &[usize]) -> Self;

    /// The same targets with `inputs` instead of the samples. `inputs` must have one column
    /// per sample; this is not checked (a set whose counts differ makes every later loss
    /// call fail with [`Error::WrongLength`]).
    ///
    /// ```
    /// use constnet::datasets::Supervised;
    /// use constnet::Batch;
    /// let data = constnet::datasets::spiral::<f32>(5, 2, 0);
    /// // a third feature, the squared radius
    /// let r2 = |j: usize| data.inputs.column(j).norm_squared();
    /// let wider = data.with_inputs(Batch::<f32, 3>::from_fn(10, |i, j| {
    ///     if i < 2 { data.inputs[(i, j)] } else { r2(j) }
    /// }));
    /// assert_eq!(wider.labels, data.labels);
    /// assert_eq!(wider.inputs[(2, 4)], r2(4));
    /// ```
    fn with_inputs<const K: usize>(&self, inputs: Batch<T, K>) -> Self::WithInputs<K>;

    /// Storage for the targets of mini-batches of `size` samples (the last of an epoch may be
    /// smaller) drawn from this set.
    ///
    /// ```
    /// use constnet::datasets::{Regression, Supervised};
    /// use constnet::Batch;
    /// let data = Regression::new(Batch::<f32, 1>::zeros(10), Batch::<f32, 1>::zeros(10))?;
    /// // batches of 4: room for a full batch and for the last one, of 10 % 4 = 2
    /// let [full, last] = data.target_buffer(4);
    /// assert_eq!((full.ncols(), last.ncols()), (4, 2));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn target_buffer(&self, size: usize) -> Self::Buffer;

    /// Copies the targets of the samples at `indices` into `buffer` and returns them.
    ///
    /// ```
    /// use constnet::datasets::{Regression, Supervised};
    /// use constnet::Batch;
    /// let x = Batch::<f32, 1>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
    /// let data = Regression::new(x.clone(), x * 10.0)?;
    /// let mut buffer = data.target_buffer(2);
    /// assert_eq!(data.gather_targets(&[3, 0], &mut buffer).as_slice(), &[40.0, 10.0]);
    /// assert_eq!(data.gather_targets(&[1, 2], &mut buffer).as_slice(), &[20.0, 30.0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn gather_targets<'b>(
        &self,
        indices: &[usize],
        buffer: &'b mut Self::Buffer,
    ) -> &'b Self::Target;

    /// For targets that are class labels, how many columns of `scores` have their largest
    /// value at their sample's label (what accuracy counts); `None` for targets with no
    /// right answer to count, such as regression values (the default).
    ///
    /// ```
    /// use constnet::datasets::{Labeled, Regression, Supervised};
    /// use constnet::Batch;
    /// let scores = Batch::<f32, 2>::from_column_slice(&[0.9, 0.1, 0.2, 0.8, 0.6, 0.4]);
    /// let hits = Labeled::<f32, 4>::count_correct(scores.columns(0, 3), &[0, 1, 1][..]);
    /// assert_eq!(hits, Some(2));
    /// let targets = Batch::<f32, 2>::zeros(3);
    /// assert_eq!(Regression::<f32, 4, 2>::count_correct(scores.columns(0, 3), &targets), None);
    /// ```
    fn count_correct<const K: usize>(
        scores: BatchView<'_, T, K>,
        targets: &Self::Target,
    ) -> Option<usize> {
        let _ = (scores, targets);
        None
    }

    /// Checks every target of a set for a network of `outputs` outputs, before training on
    /// it: labels below `outputs` ([`Error::LabelOutOfRange`], with the sample's index in the
    /// set), target values finite ([`Error::NonFiniteData`], `set` naming the set). Without
    /// an implementation, every target is accepted.
    ///
    /// ```
    /// use constnet::datasets::{Labeled, Supervised};
    /// use constnet::Error;
    /// let err = Labeled::<f32, 1>::check_targets(&[0, 2, 5][..], 3, "training").unwrap_err();
    /// assert_eq!(err, Error::LabelOutOfRange { sample: 2, label: 5, classes: 3 });
    /// ```
    fn check_targets(
        targets: &Self::Target,
        outputs: usize,
        set: &'static str,
    ) -> Result<(), Error> {
        let _ = (targets, outputs, set);
        Ok(())
    }
}

/// The first NaN or infinite value of a batch, as a [`Error::NonFiniteData`] naming `set` and
/// `what` (`"input"` or `"target"`).
pub(crate) fn check_finite<T: Float, const N: usize>(
    values: &Batch<T, N>,
    set: &'static str,
    what: &'static str,
) -> Result<(), Error> {
    match first_non_finite(values.as_slice()) {
        None => Ok(()),
        Some(at) => Err(Error::NonFiniteData {
            set,
            what,
            sample: at / N,
            element: at % N,
            value: values.as_slice()[at].as_f64(),
        }),
    }
}

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
    ///
    /// ```
    /// use constnet::{Batch, Error, datasets::Labeled};
    /// let data = Labeled::new(Batch::<f32, 2>::zeros(3), vec![0, 1, 1])?;
    /// assert_eq!(data.labels, [0, 1, 1]);
    /// let err = Labeled::new(Batch::<f32, 2>::zeros(3), vec![0, 1]);
    /// assert!(matches!(err, Err(Error::WrongLength { expected: 3, got: 2, .. })));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn new(inputs: Batch<T, N>, labels: Vec<usize>) -> Result<Self, Error> {
        check_count("labels", inputs.ncols(), labels.len())?;
        Ok(Labeled { inputs, labels })
    }

    /// The number of samples.
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(4, 3, 0);
    /// assert_eq!(data.len(), 12);
    /// ```
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(4, 3, 0);
    /// assert!(!data.is_empty());
    /// assert!(data.select(&[]).is_empty());
    /// ```
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
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(4, 3, 0);
    /// let picked = data.select(&[9, 0, 9]); // an index may repeat
    /// assert_eq!(picked.labels, [2, 0, 2]);
    /// assert_eq!(picked.inputs.column(0), data.inputs.column(9));
    /// ```
    pub fn select(&self, indices: &[usize]) -> Self {
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Labeled {
            inputs: select_columns(&self.inputs, indices),
            labels,
        }
    }

    /// The samples whose inputs are all finite, in their order: the set without the ones a
    /// loader kept NaN or infinite fields in ([`NonFinite::Keep`]).
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled};
    /// let inputs = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, f32::NAN, 0.0, 5.0, 6.0]);
    /// let data = Labeled::new(inputs, vec![0, 1, 2])?;
    /// let clean = data.without_non_finite();
    /// assert_eq!((clean.labels, clean.inputs.as_slice()), (vec![0, 2], &[1.0, 2.0, 5.0, 6.0][..]));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn without_non_finite(&self) -> Self {
        let finite = finite_columns(self.inputs.as_slice(), N, self.len());
        let keep: Vec<usize> = (0..self.len()).filter(|&i| finite[i]).collect();
        self.select(&keep)
    }

    /// The same samples in an order shuffled reproducibly from `seed`.
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(20, 3, 0);
    /// let shuffled = data.shuffled(5);
    /// assert_eq!(shuffled, data.shuffled(5)); // the same seed, the same order
    /// assert_ne!(shuffled.labels, data.labels);
    /// let mut labels = shuffled.labels.clone();
    /// labels.sort();
    /// assert_eq!(labels, data.labels); // the same samples
    /// ```
    pub fn shuffled(&self, seed: u64) -> Self {
        shuffled(self, seed)
    }

    /// Splits into a training set of the first `train` samples and a validation set of the
    /// rest (all of them in training when `train` is larger than the set). Shuffle first when
    /// the file is sorted by class, as iris is. Only a [`Training`] set can fit a
    /// preprocessing transform (see [`crate::preprocess`]).
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(4, 3, 0);
    /// let (train, val) = data.split(8);
    /// assert_eq!((train.labels.clone(), val.labels), (vec![0, 0, 0, 0, 1, 1, 1, 1], vec![2; 4]));
    /// let (all, none) = data.split(100);
    /// assert_eq!((all.len(), none.len()), (12, 0));
    /// ```
    pub fn split(&self, train: usize) -> (Training<T, N>, Self) {
        split(self, train)
    }

    /// Declares the whole set a training set, for data that comes already split (MNIST's
    /// training file). **Only call this on training data**: a transform fitted on
    /// validation or test data leaks them into training and flatters every later score.
    ///
    /// ```
    /// use constnet::preprocess::{Granularity, Standardize};
    /// let train = constnet::datasets::spiral::<f64>(10, 3, 0).into_training();
    /// assert_eq!(train.len(), 30); // every sample
    /// let standardize = Standardize::fit(&train, Granularity::PerFeature, true); // now allowed
    /// assert_eq!(standardize.mean().len(), 2);
    /// ```
    pub fn into_training(self) -> Training<T, N> {
        Training::new(self)
    }

    /// Every input multiplied by `factor` (pixel counts to `[0, 1]`, say).
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled};
    /// let data = Labeled::new(Batch::<f32, 2>::from_column_slice(&[0.0, 64.0, 128.0, 256.0]), vec![0, 1])?;
    /// let scaled = data.scaled(1.0 / 256.0);
    /// assert_eq!(scaled.inputs.as_slice(), &[0.0, 0.25, 0.5, 1.0]);
    /// assert_eq!(scaled.labels, [0, 1]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
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
        MiniBatches::new(self, size, seed)
    }
}

impl<T: Float, const N: usize> Dataset for Labeled<T, N> {
    type Plain = Self;
    type Target = [usize];
}

impl<T: Float, const N: usize> Supervised<T, N> for Labeled<T, N> {
    type Buffer = Vec<usize>;
    type WithInputs<const K: usize> = Labeled<T, K>;

    fn inputs(&self) -> &Batch<T, N> {
        &self.inputs
    }

    fn targets(&self) -> &[usize] {
        &self.labels
    }

    fn plain_parts(plain: &Self) -> (&Batch<T, N>, &[usize]) {
        (&plain.inputs, &plain.labels)
    }

    fn select(&self, indices: &[usize]) -> Self {
        Labeled::select(self, indices)
    }

    fn with_inputs<const K: usize>(&self, inputs: Batch<T, K>) -> Labeled<T, K> {
        Labeled {
            inputs,
            labels: self.labels.clone(),
        }
    }

    fn target_buffer(&self, size: usize) -> Vec<usize> {
        Vec::with_capacity(size)
    }

    fn gather_targets<'b>(&self, indices: &[usize], buffer: &'b mut Vec<usize>) -> &'b [usize] {
        buffer.clear();
        buffer.extend(indices.iter().map(|&i| self.labels[i]));
        buffer
    }

    fn count_correct<const K: usize>(
        scores: BatchView<'_, T, K>,
        labels: &[usize],
    ) -> Option<usize> {
        let right = scores
            .column_iter()
            .zip(labels)
            .filter(|(s, l)| crate::network::argmax(s.as_slice()) == **l)
            .count();
        Some(right)
    }

    fn check_targets(labels: &[usize], classes: usize, _: &'static str) -> Result<(), Error> {
        match labels.iter().position(|&l| l >= classes) {
            None => Ok(()),
            Some(sample) => Err(Error::LabelOutOfRange {
                sample,
                label: labels[sample],
                classes,
            }),
        }
    }
}

/// A set known to be training data: what preprocessing transforms are fitted on (the
/// CS231n notes: "any preprocessing statistics must only be computed on the training
/// data"). Made by the sets' `split` ([`Labeled::split`], [`Regression::split`]) or,
/// explicitly, their `into_training`; it reads as the set it wraps (a [`Labeled`] unless
/// `S` says otherwise) everywhere else.
///
/// ```
/// let data = constnet::datasets::spiral::<f32>(10, 3, 0).shuffled(0);
/// let (train, val) = data.split(24);
/// assert_eq!((train.len(), val.len()), (24, 6)); // `train` derefs to `Labeled`
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Training<T: Float, const N: usize, S = Labeled<T, N>>(S, PhantomData<[T; N]>);

impl<T: Float, const N: usize, S> std::ops::Deref for Training<T, N, S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.0
    }
}

impl<T: Float, const N: usize, S> Training<T, N, S> {
    fn new(set: S) -> Self {
        Training(set, PhantomData)
    }

    /// The training samples as a plain set.
    ///
    /// ```
    /// use constnet::datasets::Labeled;
    /// let (train, _) = constnet::datasets::spiral::<f32>(10, 3, 0).split(24);
    /// let plain: Labeled<f32, 2> = train.clone().into_inner();
    /// assert_eq!(plain, *train);
    /// ```
    pub fn into_inner(self) -> S {
        self.0
    }

    /// The same training set with its samples transformed (by a fitted preprocessing step,
    /// say); `f` maps the whole set.
    ///
    /// ```
    /// use constnet::preprocess::{Pca, Preprocess};
    /// let (train, _) = constnet::datasets::spiral::<f64>(20, 3, 0).split(60);
    /// let pca = Pca::<f64, 2, 1>::fit(&train, None)?;
    /// let reduced = train.map(|set| pca.apply(set)); // still a `Training`, now 1 wide
    /// assert_eq!(reduced.inputs.nrows(), 1);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn map<const M: usize, R: Supervised<T, M>>(
        &self,
        f: impl FnOnce(&S) -> R,
    ) -> Training<T, M, R> {
        Training::new(f(&self.0))
    }
}

/// A [`Supervised`] set of `N`-wide samples of `T` whose targets suit a network of `OUT`
/// outputs, as the trainers ([`fit`](crate::train::fit) and its kin) take it: a set of
/// labels suits any width, a set of target values only its own. The trainers name this
/// trait rather than `Supervised` so that a set of another width, scalar type or target
/// width is reported with this message alone (`do_not_recommend` on the impl), not
/// followed by the source of the `Supervised` impls that come close; and they read the
/// targets as [`Targets`](Self::Targets), so that a set that fails here is one error, not
/// a second one at the loss.
///
/// ```
/// use constnet::datasets::SetOf;
/// fn samples<D: SetOf<f32, 2, 3>>(data: &D) -> usize {
///     data.inputs().ncols()
/// }
/// assert_eq!(samples(&constnet::datasets::spiral::<f32>(5, 3, 0)), 15);
/// ```
///
/// ```compile_fail
/// # use constnet::datasets::SetOf;
/// # fn samples<D: SetOf<f32, 3, 3>>(data: &D) -> usize { data.inputs().ncols() }
/// samples(&constnet::datasets::spiral::<f32>(5, 3, 0)); // 2-wide points, not 3
/// ```
///
/// ```compile_fail
/// # use constnet::datasets::SetOf;
/// # fn samples<D: SetOf<f64, 10, 2>>(data: &D) -> usize { data.inputs().ncols() }
/// let data = constnet::datasets::diabetes::<f64>("data/sklearn").unwrap();
/// samples(&data); // 1 target per sample, not 2
/// ```
#[diagnostic::on_unimplemented(message = "expected `{T}` data for {N} inputs and {OUT} outputs")]
pub trait SetOf<T: Float, const N: usize, const OUT: usize>: Supervised<T, N> {
    /// The set's targets ([`Dataset::Target`]), named through this trait.
    type Targets: ?Sized + TargetsFor<OUT, Same = Self::Targets>;

    /// `targets` as [`Targets`](Self::Targets), which they are.
    ///
    /// ```
    /// use constnet::datasets::{Labeled, SetOf, Supervised};
    /// let data = constnet::datasets::spiral::<f32>(2, 3, 0);
    /// let targets = <Labeled<f32, 2> as SetOf<f32, 2, 3>>::targets_for(data.targets());
    /// assert_eq!(targets, &[0, 0, 1, 1, 2, 2][..]);
    /// ```
    fn targets_for(targets: &Self::Target) -> &Self::Targets;
}

#[diagnostic::do_not_recommend]
impl<T: Float, const N: usize, const OUT: usize, D> SetOf<T, N, OUT> for D
where
    D: Supervised<T, N>,
    D::Target: TargetsFor<OUT>,
{
    type Targets = <D::Target as TargetsFor<OUT>>::Same;

    fn targets_for(targets: &D::Target) -> &Self::Targets {
        targets.same()
    }
}

/// The targets [`OnBatch::loss_and_grad`](crate::OnBatch::loss_and_grad) of the network
/// `Net` takes: those that suit its `OUT` outputs ([`TargetsFor`]). Its message names the
/// network; `do_not_recommend` on its one impl has rustc report it at the call, rather than
/// the [`TargetsFor`] beneath it.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Net}` has {OUT} outputs: targets of another width",
    label = "targets for {OUT} outputs expected"
)]
pub trait AnyTargets<Net: ?Sized, const OUT: usize> {
    /// The type a loss takes them as ([`TargetsFor::Same`]).
    type Same: ?Sized;
    /// `self`, as that type.
    fn same_as(&self) -> &Self::Same;
}

#[diagnostic::do_not_recommend]
impl<Net: ?Sized, const OUT: usize, Y: ?Sized + TargetsFor<OUT>> AnyTargets<Net, OUT> for Y {
    type Same = Y::Same;
    fn same_as(&self) -> &Y::Same {
        self.same()
    }
}

/// Targets that suit a network of `OUT` outputs: labels (a slice, an array or a `Vec` of
/// them) suit any, `K` target values per sample only `K` outputs.
#[doc(hidden)]
pub trait TargetsFor<const OUT: usize> {
    /// The type a loss takes them as: a slice for labels, the batch itself for values.
    type Same: ?Sized + TargetsFor<OUT, Same = Self::Same>;
    /// `self`, as that type.
    fn same(&self) -> &Self::Same;
}

impl<const N: usize, const OUT: usize> TargetsFor<OUT> for [usize; N] {
    type Same = [usize];
    fn same(&self) -> &[usize] {
        self
    }
}

impl<const OUT: usize> TargetsFor<OUT> for Vec<usize> {
    type Same = [usize];
    fn same(&self) -> &[usize] {
        self
    }
}

impl<const OUT: usize> TargetsFor<OUT> for [usize] {
    type Same = Self;
    fn same(&self) -> &Self {
        self
    }
}

impl<T: Float, const OUT: usize> TargetsFor<OUT> for Batch<T, OUT> {
    type Same = Self;
    fn same(&self) -> &Self {
        self
    }
}

/// A set marked as training data: a [`Training`] set, what the preprocessing transforms are
/// fitted on. Any other set given to them is an error that says how to mark it.
///
/// ```
/// use constnet::datasets::TrainingData;
/// fn rows<D: TrainingData<f32, 2>>(train: &D) -> usize {
///     train.inputs().ncols()
/// }
/// let (train, _) = constnet::datasets::spiral::<f32>(5, 2, 0).split(6);
/// assert_eq!(rows(&train), 6);
/// ```
///
/// ```compile_fail
/// # use constnet::datasets::TrainingData;
/// # fn rows<D: TrainingData<f32, 2>>(train: &D) -> usize { train.inputs().ncols() }
/// let data = constnet::datasets::spiral::<f32>(5, 2, 0);
/// rows(&data); // not marked: `split` it, or call `into_training`
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not training data: call `.split(n)` or `.into_training()`"
)]
pub trait TrainingData<T: Float, const N: usize>: Supervised<T, N> + TrainingSet<T, N> {}

/// Every [`MarkedTraining`] set is training data. `do_not_recommend`: rustc then reports an
/// unmarked set with [`TrainingData`]'s message and note alone, not followed by this impl's
/// source.
#[diagnostic::do_not_recommend]
impl<T: Float, const N: usize, D: MarkedTraining<T, N>> TrainingData<T, N> for D {}

/// The inputs of a set marked as training data, as the preprocessing transforms' `fit` take
/// them: `&dyn TrainingSet<T, N>`, which every [`TrainingData`] set converts to. They take
/// a trait object rather than a bound so that an unmarked set is one error whose only note
/// is the conversion, not a quote of the bound.
///
/// ```
/// use constnet::datasets::TrainingSet;
/// fn rows(train: &dyn TrainingSet<f32, 2>) -> usize {
///     train.training_inputs().ncols()
/// }
/// let (train, _) = constnet::datasets::spiral::<f32>(5, 2, 0).split(6);
/// assert_eq!(rows(&train), 6);
/// ```
///
/// ```compile_fail
/// # use constnet::datasets::TrainingSet;
/// # fn rows(train: &dyn TrainingSet<f32, 2>) -> usize { train.training_inputs().ncols() }
/// let data = constnet::datasets::spiral::<f32>(5, 2, 0);
/// rows(&data); // not marked: `split` it, or call `into_training`
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not training data: call `.split(n)` or `.into_training()`"
)]
pub trait TrainingSet<T: Float, const N: usize> {
    /// The set's inputs, one sample per column.
    fn training_inputs(&self) -> &Batch<T, N>;
}

/// Every [`MarkedTraining`] set's inputs are training inputs. `do_not_recommend`, as on
/// [`TrainingData`]'s impl.
#[diagnostic::do_not_recommend]
impl<T: Float, const N: usize, D: MarkedTraining<T, N>> TrainingSet<T, N> for D {
    fn training_inputs(&self) -> &Batch<T, N> {
        self.inputs()
    }
}

/// What [`TrainingData`] is implemented through: the [`Training`] mark, and nothing else.
#[doc(hidden)]
pub trait MarkedTraining<T: Float, const N: usize>: Supervised<T, N> {}

impl<T: Float, const N: usize, S: Supervised<T, N>> MarkedTraining<T, N> for Training<T, N, S> {}

impl<T: Float, const N: usize, S: Dataset> Dataset for Training<T, N, S> {
    type Plain = S::Plain;
    type Target = S::Target;
}

/// A subset of training data is training data; a set with new inputs
/// ([`with_inputs`](Supervised::with_inputs)) is a plain set, as the preprocessing
/// transforms' `apply` returns it (use [`Training::map`] to keep the mark).
impl<T: Float, const N: usize, S: Supervised<T, N>> Supervised<T, N> for Training<T, N, S> {
    type Buffer = S::Buffer;
    type WithInputs<const K: usize> = S::WithInputs<K>;

    fn plain_parts(plain: &S::Plain) -> (&Batch<T, N>, &S::Target) {
        S::plain_parts(plain)
    }

    fn inputs(&self) -> &Batch<T, N> {
        self.0.inputs()
    }

    fn targets(&self) -> &S::Target {
        self.0.targets()
    }

    fn select(&self, indices: &[usize]) -> Self {
        Training::new(self.0.select(indices))
    }

    fn with_inputs<const K: usize>(&self, inputs: Batch<T, K>) -> S::WithInputs<K> {
        self.0.with_inputs(inputs)
    }

    fn target_buffer(&self, size: usize) -> S::Buffer {
        self.0.target_buffer(size)
    }

    fn gather_targets<'b>(&self, indices: &[usize], buffer: &'b mut S::Buffer) -> &'b S::Target {
        self.0.gather_targets(indices, buffer)
    }

    fn count_correct<const K: usize>(
        scores: BatchView<'_, T, K>,
        targets: &S::Target,
    ) -> Option<usize> {
        S::count_correct(scores, targets)
    }

    fn check_targets(targets: &S::Target, outputs: usize, set: &'static str) -> Result<(), Error> {
        S::check_targets(targets, outputs, set)
    }
}

/// Mini-batches over a set ([`Labeled`] unless `S` says otherwise), copied into buffers
/// allocated up front: drawing a batch allocates nothing. See [`Labeled::mini_batches`] and
/// [`Regression::mini_batches`].
///
/// ```
/// use constnet::datasets::MiniBatches;
/// let data = constnet::datasets::spiral::<f32>(5, 2, 0);
/// let mut batches: MiniBatches<'_, f32, 2> = data.mini_batches(4, 0)?;
/// let mut labels = vec![];
/// while let Some((_, batch_labels)) = batches.next_batch() {
///     labels.extend_from_slice(batch_labels);
/// }
/// labels.sort();
/// assert_eq!(labels, data.labels); // every sample once per epoch
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug)]
pub struct MiniBatches<'a, T: Float, const N: usize, S: Supervised<T, N> = Labeled<T, N>> {
    data: &'a S,
    order: Vec<usize>,
    next: usize,
    size: usize,
    inputs: Batch<T, N>,
    targets: S::Buffer,
    rng: crate::SeededRng,
}

impl<'a, T: Float, const N: usize, S: Supervised<T, N>> MiniBatches<'a, T, N, S> {
    /// Mini-batches of `size` samples of `data` (the last of an epoch may be smaller) in an
    /// order reshuffled every epoch from `seed`; `size` must be at least 1, and a size above
    /// the set's is the whole set. The sets' `mini_batches` methods call this.
    ///
    /// ```
    /// use constnet::datasets::MiniBatches;
    /// let data = constnet::datasets::spiral::<f32>(10, 3, 0);
    /// let batches = MiniBatches::new(&data, 7, 0)?;
    /// assert_eq!(batches.per_epoch(), 5);
    /// assert!(MiniBatches::new(&data, 0, 0).is_err());
    /// assert_eq!(MiniBatches::new(&data, usize::MAX, 0)?.per_epoch(), 1); // the whole set
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn new(data: &'a S, size: usize, seed: u64) -> Result<Self, Error> {
        if size == 0 {
            return Err(Error::BadHyperparameter {
                name: "batch size",
                value: 0.0,
                expected: "at least 1",
            });
        }
        let len = data.inputs().ncols();
        // A batch larger than the set is the whole set: nothing is allocated for more (a
        // size of `usize::MAX` once asked the allocator for it), and `next + size` cannot
        // overflow.
        let size = size.min(len.max(1));
        let mut batches = MiniBatches {
            data,
            order: (0..len).collect(),
            next: 0,
            size,
            inputs: Batch::<T, N>::zeros(size.min(len)),
            targets: data.target_buffer(size),
            rng: crate::SeededRng::seed_from_u64(seed),
        };
        batches.next_epoch();
        Ok(batches)
    }

    /// Starts a new epoch in a freshly shuffled order.
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(5, 2, 0);
    /// let mut batches = data.mini_batches(10, 0)?; // one batch per epoch
    /// let first = batches.next_batch().unwrap().1.to_vec();
    /// assert!(batches.next_batch().is_none()); // the epoch is over
    /// batches.next_epoch();
    /// let second = batches.next_batch().unwrap().1.to_vec();
    /// assert_ne!(first, second); // the same labels, in another order
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn next_epoch(&mut self) {
        self.order.shuffle(&mut self.rng);
        self.next = 0;
    }

    /// The number of batches in an epoch.
    ///
    /// ```
    /// let data = constnet::datasets::spiral::<f32>(5, 2, 0); // 10 samples
    /// assert_eq!(data.mini_batches(3, 0)?.per_epoch(), 4); // 3 + 3 + 3 + 1
    /// assert_eq!(data.mini_batches(10, 0)?.per_epoch(), 1);
    /// assert_eq!(data.mini_batches(64, 0)?.per_epoch(), 1);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.size)
    }

    /// The next batch of this epoch and its targets (labels, for a [`Labeled`] set), or
    /// `None` once the epoch is over.
    ///
    /// ```
    /// use constnet::{Batch, datasets::Labeled};
    /// // Sample j is the number j with label j, to see which samples a batch holds.
    /// let data = Labeled::new(Batch::<f32, 1>::from_fn(5, |_, j| j as f32), (0..5).collect())?;
    /// let mut batches = data.mini_batches(2, 3)?;
    /// let mut sizes = vec![];
    /// while let Some((x, labels)) = batches.next_batch() {
    ///     for (column, &label) in x.column_iter().zip(labels) {
    ///         assert_eq!(column[0], label as f32); // each sample with its own label
    ///     }
    ///     sizes.push(labels.len());
    /// }
    /// assert_eq!(sizes, [2, 2, 1]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn next_batch(&mut self) -> Option<(BatchView<'_, T, N>, &S::Target)> {
        let end = (self.next + self.size).min(self.order.len());
        if self.next >= end {
            return None;
        }
        let indices = &self.order[self.next..end];
        self.next = end;
        copy_columns(self.data.inputs(), indices, &mut self.inputs);
        let targets = self.data.gather_targets(indices, &mut self.targets);
        Some((self.inputs.columns(0, indices.len()), targets))
    }
}

/// The columns of `batch` at `indices`, in that order.
fn select_columns<T: Float, const N: usize>(batch: &Batch<T, N>, indices: &[usize]) -> Batch<T, N> {
    let mut out = Batch::<T, N>::zeros(indices.len());
    copy_columns(batch, indices, &mut out);
    out
}

/// Copies the columns of `from` at `indices` into the first columns of `to`.
fn copy_columns<T: Float, const N: usize>(
    from: &Batch<T, N>,
    indices: &[usize],
    to: &mut Batch<T, N>,
) {
    for (mut column, &i) in to.column_iter_mut().zip(indices) {
        column.copy_from(&from.column(i));
    }
}

/// `data` in an order shuffled reproducibly from `seed`.
fn shuffled<T: Float, const N: usize, S: Supervised<T, N>>(data: &S, seed: u64) -> S {
    let mut order: Vec<usize> = (0..data.inputs().ncols()).collect();
    order.shuffle(&mut crate::SeededRng::seed_from_u64(seed));
    data.select(&order)
}

/// The first `train` samples as a training set, and the rest.
fn split<T: Float, const N: usize, S: Supervised<T, N>>(
    data: &S,
    train: usize,
) -> (Training<T, N, S>, S) {
    let len = data.inputs().ncols();
    let train = train.min(len);
    let (a, b): (Vec<usize>, Vec<usize>) = ((0..train).collect(), (train..len).collect());
    (Training::new(data.select(&a)), data.select(&b))
}

/// Checks that there are as many `what` as samples.
fn check_count(what: &str, samples: usize, got: usize) -> Result<(), Error> {
    if samples != got {
        return Err(Error::WrongLength {
            what: what.into(),
            expected: samples,
            got,
        });
    }
    Ok(())
}

/// The most a text table (CSV, a regression table) may hold, decompressed: reading stops
/// there with an error, so a stream without end (`/dev/zero`) or a gzip bomb cannot take all
/// memory. IDX files are bounded by the size their header gives instead.
pub(crate) const TEXT_LIMIT: u64 = 512 << 20;

/// A data file as a stream of its bytes, decompressed when it is gzip (every member, as
/// `gunzip` and Python read them: a file of two members is both).
pub(crate) fn open_data(path: &Path) -> Result<Box<dyn Read>, Error> {
    let file = std::fs::File::open(path).map_err(|e| data_error(path, "a readable file", e))?;
    let mut reader = BufReader::new(file);
    let start = reader
        .fill_buf()
        .map_err(|e| data_error(path, "a readable file", e))?;
    if start.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Reads the rest of `reader`, which must hold at most `limit` bytes: one byte more is an
/// error (`more` says what was expected), found without reading further.
pub(crate) fn read_at_most(
    path: &Path,
    reader: &mut dyn Read,
    limit: u64,
    more: impl FnOnce() -> String,
) -> Result<Vec<u8>, Error> {
    let bytes = read_up_to(path, reader, limit.saturating_add(1))?;
    if bytes.len() as u64 > limit {
        return Err(data_error(path, more(), format!("more than {limit} bytes")));
    }
    Ok(bytes)
}

/// The next `count` bytes of `reader`, or all it has left if fewer.
pub(crate) fn read_up_to(path: &Path, reader: &mut dyn Read, count: u64) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    reader.take(count).read_to_end(&mut bytes).map_err(|e| {
        data_error(
            path,
            "a readable file and, if compressed, a complete gzip stream",
            e,
        )
    })?;
    Ok(bytes)
}

/// A whole text table, at most [`TEXT_LIMIT`] bytes decompressed.
fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    let mut reader = open_data(path)?;
    read_at_most(path, &mut reader, TEXT_LIMIT, || {
        format!("a table of at most {TEXT_LIMIT} bytes")
    })
}

fn data_error(path: &Path, expected: impl ToString, found: impl ToString) -> Error {
    Error::Data {
        path: path.display().to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// For each of `count` samples laid out column after column, `width` values each, whether
/// all its values are finite.
pub(crate) fn finite_columns<T: Float>(values: &[T], width: usize, count: usize) -> Vec<bool> {
    if width == 0 {
        return vec![true; count];
    }
    values
        .chunks_exact(width)
        .map(|column| first_non_finite(column).is_none())
        .collect()
}
