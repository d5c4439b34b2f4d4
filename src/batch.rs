//! Batches: one sample per column, the feature width in the type, the batch size at run time.
//!
//! A batch of `N`-wide samples is an `N x B` column-major matrix, so every sample is
//! contiguous and a batch of `B` samples is the first `B * N` elements of a buffer allocated
//! for a larger maximum batch.

use nalgebra::{
    Const, Dim, Dyn, Matrix, MatrixView, MatrixViewMut, OMatrix, RawStorage, SVector, U1,
};

use crate::scalar::Float;

mod sample;
mod shape;
pub use sample::AnySample;
pub use shape::Shape;
#[doc(hidden)]
pub use shape::{BatchIs, BatchShape, SampleIs, SampleShape};

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
/// a [`BatchView`] of one (a mini-batch, say). Methods that only read a batch take this. It
/// is the [`AnyBatch`] of that width and scalar type, so generic code can pass it on to a
/// network's [`OnBatch`](crate::OnBatch) methods.
///
/// ```
/// use constnet::prelude::*;
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(x.as_batch().ncols(), 2);
/// assert_eq!(x.columns(1, 1).as_batch()[(0, 0)], 3.0);
///
/// network! { struct Net { fc: Dense<2, 3> } }
/// fn hits(net: &Net, x: &impl AsBatch<f32, 2>, labels: &[usize]) -> Result<f64, Error> {
///     net.accuracy(x, labels)
/// }
/// assert!(hits(&Net::new(0), &x.columns(0, 1), &[2])? <= 1.0);
/// # Ok::<(), constnet::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "this is not a batch of {N}-wide samples of `{T}`",
    label = "{N}-wide samples of `{T}` are needed here"
)]
pub trait AsBatch<T: Float, const N: usize>: AnyBatch<Shape: BatchIs<T, N>> {
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

/// Every [`AnyBatch`] of `N`-wide samples of `T` is a batch. `do_not_recommend`: rustc then
/// reports a batch of another width or scalar type with [`AsBatch`]'s message alone, not
/// followed by the source of the impls that come close.
#[diagnostic::do_not_recommend]
impl<T: Float, const N: usize, X: ?Sized + AnyBatch<Shape: BatchIs<T, N>>> AsBatch<T, N> for X {
    #[inline]
    fn as_batch(&self) -> BatchView<'_, T, N> {
        <X::Shape as BatchIs<T, N>>::batch(self.samples())
    }
}

/// The samples of an [`AnyBatch`] of shape `B`, borrowed.
pub type SamplesOf<'a, B> = MatrixView<'a, <B as BatchShape>::Scalar, <B as BatchShape>::Rows, Dyn>;

/// A batch of samples of any width and scalar type: a column-major matrix with one sample
/// per column (an owned [`Batch`], a view of its columns, a [`Sample`] as a batch of one),
/// arrays of features one per sample (`[[T; N]]`, `[[T; N]; K]`, `Vec<[T; N]>`), an array,
/// slice or `Vec` of features as one sample, or a reference to any of them.
/// [`OnBatch`](crate::OnBatch)'s methods take this and compare its [`Shape`] with the
/// network's, so that a batch of another width is one error at the call that names the
/// network and the width it takes.
///
/// ```
/// use constnet::{AnyBatch, Batch, Const, Sample, Shape};
/// fn width<X: AnyBatch<Shape = Shape<f32, Const<N>, C>>, const N: usize, C>(_: &X) -> usize {
///     N
/// }
/// let x = Batch::<f32, 3>::zeros(4);
/// assert_eq!(width(&x), 3);
/// assert_eq!(width(&x.columns(1, 2)), 3); // a view of two of its samples
/// assert_eq!(x.columns(1, 2).samples().ncols(), 2);
/// assert_eq!(width(&Sample::<f32, 5>::zeros()), 5); // one sample
/// assert_eq!(width(&[1.0f32, 2.0]), 2); // one sample, as an array
/// assert_eq!(vec![1.0f32; 7].samples().shape(), (7, 1)); // a `Vec`'s width is `Dyn`
/// let rows = [[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]; // three 2-wide samples
/// assert_eq!(width(&rows), 2);
/// assert_eq!(rows.samples().column(2).as_slice(), &[5.0, 6.0]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a batch of samples",
    label = "a `Batch`, a view of its columns, a `Sample` or an array is needed here"
)]
pub trait AnyBatch {
    /// The samples' scalar type and shape: `Shape<T, Const<N>, C>` for `N`-wide samples of
    /// `T` (with `C` the columns, `Dyn` for a [`Batch`]).
    type Shape: BatchShape;
    /// The samples, borrowed.
    fn samples(&self) -> SamplesOf<'_, Self::Shape>;
}

/// Any column-major matrix whose columns are contiguous and follow one another is a batch,
/// one sample per column: a [`Batch`] or a view of some of its columns, a [`Sample`] (a batch
/// of one), a fixed-size matrix. Its width is its number of rows, which may be known only at
/// run time (a `DMatrix`'s, `Dyn`): a network then reports a batch whose width is not its
/// own at compile time, by [`OnBatch`](crate::OnBatch)'s error.
impl<T: Float, R: Dim, C: Dim, S> AnyBatch for Matrix<T, R, C, S>
where
    S: RawStorage<T, R, C, RStride = U1, CStride = R>,
{
    type Shape = Shape<T, R, C>;
    fn samples(&self) -> MatrixView<'_, T, R, Dyn> {
        let (rows, _) = self.shape_generic();
        self.generic_view((0, 0), (rows, Dyn(self.ncols())))
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
impl<X: ?Sized + AnyBatch> AnyBatch for &X {
    type Shape = X::Shape;
    fn samples(&self) -> SamplesOf<'_, Self::Shape> {
        (**self).samples()
    }
}

/// An array of `N` features is one `N`-wide sample.
impl<T: Float, const N: usize> AnyBatch for [T; N] {
    type Shape = Shape<T, Const<N>, U1>;
    fn samples(&self) -> BatchView<'_, T, N> {
        BatchView::from_slice(self, 1)
    }
}

/// A slice of features is one sample, whose width is known only at run time (`Dyn`): no
/// network takes it, and the error says what the network takes.
impl<T: Float> AnyBatch for [T] {
    type Shape = Shape<T, Dyn, U1>;
    fn samples(&self) -> MatrixView<'_, T, Dyn, Dyn> {
        MatrixView::from_slice_generic(self, Dyn(self.len()), Dyn(1))
    }
}

/// A `Vec` of features is one sample, as its slice is.
impl<T: Float> AnyBatch for Vec<T> {
    type Shape = Shape<T, Dyn, U1>;
    fn samples(&self) -> MatrixView<'_, T, Dyn, Dyn> {
        self.as_slice().samples()
    }
}

/// Arrays of `N` features, one per sample, are a batch of `N`-wide samples: `[[T; N]]` is
/// laid out as a [`Batch`] is.
impl<T: Float, const N: usize> AnyBatch for [[T; N]] {
    type Shape = Shape<T, Const<N>, Dyn>;
    fn samples(&self) -> BatchView<'_, T, N> {
        BatchView::from_slice(self.as_flattened(), self.len())
    }
}

/// `K` arrays of `N` features are a batch of `K` samples, as their slice is.
impl<T: Float, const N: usize, const K: usize> AnyBatch for [[T; N]; K] {
    type Shape = Shape<T, Const<N>, Const<K>>;
    fn samples(&self) -> BatchView<'_, T, N> {
        self.as_slice().samples()
    }
}

/// A `Vec` of arrays of `N` features is a batch, as their slice is.
impl<T: Float, const N: usize> AnyBatch for Vec<[T; N]> {
    type Shape = Shape<T, Const<N>, Dyn>;
    fn samples(&self) -> BatchView<'_, T, N> {
        self.as_slice().samples()
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
pub trait AsSample<T: Float, const N: usize>: AnySample<Shape = Shape<T, Const<N>, U1>> {
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
impl<T: Float, const N: usize, S> AsSample<T, N> for S
where
    S: SameAs<Sample<T, N>> + AnySample<Shape = Shape<T, Const<N>, U1>>,
{
    #[inline(always)]
    fn as_sample(&self) -> &Sample<T, N> {
        self.same()
    }
}
