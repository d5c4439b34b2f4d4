//! Batches: one sample per column, the feature width in the type, the batch size at run time.
//!
//! A batch of `N`-wide samples is an `N x B` column-major matrix, so every sample is
//! contiguous and a batch of `B` samples is the first `B * N` elements of a buffer allocated
//! for a larger maximum batch.

use nalgebra::{Const, Dyn, Matrix, MatrixView, MatrixViewMut, OMatrix, RawStorage, SVector, U1};

use crate::Float;
use crate::losses::SameAs;

/// An owned batch of `N`-wide samples, one per column.
///
/// ```
/// use constnet::Batch;
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// assert_eq!(x.ncols(), 3);
/// assert_eq!(x[(1, 2)], 6.0);
/// ```
pub type Batch<T, const N: usize> = OMatrix<T, Const<N>, Dyn>;

/// A borrowed, contiguous batch of `N`-wide samples (for example the first `b` columns of a
/// [`Batch`], from `batch.columns(0, b)`).
///
/// ```
/// use constnet::{Batch, BatchView};
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let last_two: BatchView<'_, f32, 2> = x.columns(1, 2);
/// assert_eq!(last_two.ncols(), 2);
/// assert_eq!(last_two.as_slice(), &[3.0, 4.0, 5.0, 6.0]); // contiguous, not a copy
/// ```
pub type BatchView<'a, T, const N: usize> = MatrixView<'a, T, Const<N>, Dyn>;

/// A mutable, contiguous batch of `N`-wide samples.
///
/// ```
/// use constnet::{Batch, BatchViewMut};
/// let mut x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// let mut first: BatchViewMut<'_, f32, 2> = x.columns_mut(0, 1);
/// first.fill(0.0);
/// assert_eq!(x.as_slice(), &[0.0, 0.0, 3.0, 4.0]);
/// ```
pub type BatchViewMut<'a, T, const N: usize> = MatrixViewMut<'a, T, Const<N>, Dyn>;

/// One `N`-wide sample, on the stack.
///
/// ```
/// use constnet::{Batch, Sample};
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// let second: Sample<f32, 2> = x.column(1).into_owned();
/// assert_eq!(second, Sample::<f32, 2>::new(3.0, 4.0));
/// ```
pub type Sample<T, const N: usize> = SVector<T, N>;

/// A batch of `N`-wide zeros with `columns` samples.
///
/// ```
/// let z = constnet::batch::zeros::<f64, 3>(4);
/// assert_eq!(z.shape(), (3, 4));
/// ```
pub fn zeros<T: Float, const N: usize>(columns: usize) -> Batch<T, N> {
    Batch::<T, N>::from_element(columns, T::ZERO)
}

/// Builds a batch from samples given row by row (one sample per row, as a dataset file lists
/// them), transposing into the one-sample-per-column layout.
///
/// ```
/// let x = constnet::batch::from_rows::<f32, 2>(&[[1.0, 2.0], [3.0, 4.0]]);
/// assert_eq!(x.column(1).as_slice(), &[3.0, 4.0]);
/// ```
pub fn from_rows<T: Float, const N: usize>(rows: &[[T; N]]) -> Batch<T, N> {
    Batch::<T, N>::from_iterator(rows.len(), rows.iter().flatten().copied())
}

/// Anything that can be seen as a contiguous batch of `N`-wide samples: an owned [`Batch`] or
/// a [`BatchView`] of one (a mini-batch, say). Methods that only read a batch take this.
///
/// ```
/// use constnet::{AsBatch, Batch};
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(x.as_batch().ncols(), 2);
/// assert_eq!(x.columns(1, 1).as_batch()[(0, 0)], 3.0);
/// ```
#[diagnostic::on_unimplemented(
    message = "this is not a batch of {N}-wide samples of `{T}`",
    label = "{N}-wide samples of `{T}` are needed here"
)]
pub trait AsBatch<T: Float, const N: usize> {
    /// The samples as a borrowed batch.
    ///
    /// ```
    /// use constnet::AsBatch;
    /// fn first_feature_sum(x: &impl AsBatch<f32, 2>) -> f32 {
    ///     x.as_batch().row(0).sum()
    /// }
    /// let x = constnet::batch::from_rows(&[[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(first_feature_sum(&x), 4.0); // an owned batch
    /// assert_eq!(first_feature_sum(&x.columns(1, 1)), 3.0); // a view of its second sample
    /// ```
    fn as_batch(&self) -> BatchView<'_, T, N>;
}

/// Every [`BatchLike`] is a batch. `do_not_recommend`: rustc then reports a batch of another
/// width or scalar type with [`AsBatch`]'s message alone, not followed by the source of the
/// impls that come close.
#[diagnostic::do_not_recommend]
impl<T: Float, const N: usize, X: BatchLike<T, N>> AsBatch<T, N> for X {
    #[inline]
    fn as_batch(&self) -> BatchView<'_, T, N> {
        self.batch_view()
    }
}

/// What [`AsBatch`] is implemented through: a column-major matrix of `N` rows (owned or a
/// view), or a reference to one.
#[doc(hidden)]
pub trait BatchLike<T: Float, const N: usize> {
    /// The samples as a borrowed batch.
    fn batch_view(&self) -> BatchView<'_, T, N>;
}

impl<T: Float, const N: usize, S> BatchLike<T, N> for Matrix<T, Const<N>, Dyn, S>
where
    S: RawStorage<T, Const<N>, Dyn, RStride = U1, CStride = Const<N>>,
{
    fn batch_view(&self) -> BatchView<'_, T, N> {
        self.columns(0, self.ncols())
    }
}

/// A batch seen through a reference is the same batch: methods that take a batch by value
/// (such as [`OnBatch::forward_into`](crate::OnBatch::forward_into)) also take `&batch`.
///
/// ```
/// use constnet::{AsBatch, Batch};
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0]);
/// assert_eq!((&x).as_batch(), x.as_batch());
/// ```
impl<T: Float, const N: usize, A: BatchLike<T, N>> BatchLike<T, N> for &A {
    fn batch_view(&self) -> BatchView<'_, T, N> {
        (**self).batch_view()
    }
}

/// One sample of `N` features: a [`Sample`]. What single-sample methods such as
/// [`OnSample::forward`](crate::OnSample::forward) take, so that a sample of another width
/// is an error that says so.
///
/// ```
/// use constnet::{AsSample, Sample};
/// fn first<S: AsSample<f32, 2>>(x: &S) -> f32 {
///     x.as_sample()[0]
/// }
/// assert_eq!(first(&Sample::<f32, 2>::new(1.0, 2.0)), 1.0);
/// ```
#[diagnostic::on_unimplemented(
    message = "this is not a sample of {N} features of `{T}`",
    label = "a `Sample<{T}, {N}>` is needed here"
)]
pub trait AsSample<T: Float, const N: usize> {
    /// The sample.
    ///
    /// ```
    /// use constnet::{AsSample, Sample};
    /// let x = Sample::<f64, 3>::zeros();
    /// assert_eq!(x.as_sample().len(), 3);
    /// ```
    fn as_sample(&self) -> &Sample<T, N>;
}

/// Only a `Sample<T, N>` is one, through [`SameAs`]: `do_not_recommend` then makes rustc
/// report a sample of another width or scalar type with [`AsSample`]'s message alone, not
/// followed by this impl's source.
#[diagnostic::do_not_recommend]
impl<T: Float, const N: usize, S: SameAs<Sample<T, N>>> AsSample<T, N> for S {
    #[inline(always)]
    fn as_sample(&self) -> &Sample<T, N> {
        self.same()
    }
}
