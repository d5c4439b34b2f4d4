//! The scalar type and shape of a batch or sample as a type, [`Shape`]: what a network's
//! call traits ([`OnBatch`](crate::OnBatch), [`OnSample`](crate::OnSample)) compare with
//! their own. rustc infers it from the argument, so that an argument of another shape is
//! the call trait's error, in words, and an argument whose scalar type or width is not yet
//! known (`Batch::zeros(4)`) takes the network's.

use std::marker::PhantomData;

use nalgebra::{Const, Dim, Dyn, MatrixView, SMatrix, U1};

use crate::batch::{BatchView, Sample};
use crate::scalar::Float;

/// The scalar type `S` of a matrix and its shape, `R` rows by `C` columns (each `Const<N>`,
/// or `Dyn` when it is known only at run time), as a type: the [`AnyBatch::Shape`] and
/// [`AnySample::Shape`] of an argument. A network takes a batch of shape
/// `Shape<T, Const<IN>, _>` and a sample of shape `Shape<T, Const<IN>, Const<1>>`.
///
/// [`AnyBatch::Shape`]: crate::AnyBatch::Shape
/// [`AnySample::Shape`]: crate::AnySample::Shape
///
/// ```
/// use constnet::{AnySample, Const, Sample, Shape};
/// fn width<X: AnySample<Shape = Shape<f32, Const<N>, Const<1>>>, const N: usize>(_: &X) -> usize {
///     N
/// }
/// assert_eq!(width(&Sample::<f32, 3>::zeros()), 3);
/// assert_eq!(width(&[1.0f32, 2.0]), 2); // an array of features
/// ```
pub struct Shape<S, R, C>(PhantomData<(S, R, C)>);

/// The scalar type and rows of a batch's [`Shape`].
#[doc(hidden)]
pub trait BatchShape {
    /// The scalar type.
    type Scalar: Float;
    /// The rows: the samples' width.
    type Rows: Dim;
}

impl<S: Float, R: Dim, C> BatchShape for Shape<S, R, C> {
    type Scalar = S;
    type Rows = R;
}

/// A batch's shape, of `N`-wide samples of `T` only: what [`OnBatch`](crate::OnBatch) asks
/// of its argument's. A bound on the shape, not an equality of types, so that rustc waits
/// for the argument's shape before it compares them.
#[doc(hidden)]
pub trait BatchIs<T: Float, const N: usize>: BatchShape {
    /// `x`, typed as the batch of `N`-wide samples of `T` it is.
    fn batch(x: MatrixView<'_, Self::Scalar, Self::Rows, Dyn>) -> BatchView<'_, T, N>;
}

impl<T: Float, const N: usize, C> BatchIs<T, N> for Shape<T, Const<N>, C> {
    #[inline(always)]
    fn batch(x: BatchView<'_, T, N>) -> BatchView<'_, T, N> {
        x
    }
}

/// What a sample of a [`Shape`] is, as a type: a fixed-size matrix for a shape known at
/// compile time, and `()` for any other (which no network takes).
#[doc(hidden)]
pub trait SampleShape {
    /// A sample of this shape.
    type Sample;
}

impl<S, const N: usize, const K: usize> SampleShape for Shape<S, Const<N>, Const<K>> {
    type Sample = SMatrix<S, N, K>;
}

impl<S, R: Dim> SampleShape for Shape<S, R, Dyn> {
    type Sample = ();
}

impl<S, const K: usize> SampleShape for Shape<S, Dyn, Const<K>> {
    type Sample = ();
}

/// A sample's shape, of `N` features of `T` only: what [`OnSample`](crate::OnSample) asks
/// of its argument's, for the reason [`BatchIs`] gives.
#[doc(hidden)]
pub trait SampleIs<T: Float, const N: usize>: SampleShape {
    /// `x`, typed as the sample of `N` features of `T` it is.
    fn sample(x: &Self::Sample) -> &Sample<T, N>;
}

impl<T: Float, const N: usize> SampleIs<T, N> for Shape<T, Const<N>, U1> {
    #[inline(always)]
    fn sample(x: &Sample<T, N>) -> &Sample<T, N> {
        x
    }
}
