//! One sample, as a network's single-sample methods take it ([`AnySample`]): a [`Sample`],
//! a view of one column of a batch, or an array of features. Anything else that looks like
//! a matrix is one too, of a [`Shape`] no network takes, so that rustc reports it as the
//! network's error ("`Net` takes a `Sample<f32, 2>`"), in words.

use nalgebra::{Const, Dim, Dyn, Matrix, RawStorage, SMatrix, U1, ViewStorage};

use crate::batch::Sample;
use crate::batch::shape::{SampleShape, Shape};
use crate::scalar::Float;

/// One sample of any width and scalar type: a [`Sample`], a view of one column of a batch
/// (`batch.column(j)`, copied onto the stack), an array of features (copied), or a
/// reference to one. [`OnSample`](crate::OnSample)'s methods take this and compare its
/// [`Shape`] with the network's, so that a sample of another width, or a batch, is one
/// error at the call that names the network and the sample it takes. (Any other matrix,
/// slice or `Vec` of features is one too, of a shape no network takes.)
///
/// ```
/// use constnet::{AnySample, Batch, Sample};
/// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(x.column(1).with_sample(|s| s[0]), 3.0); // a column of a batch
/// assert_eq!(Sample::<f32, 2>::new(5.0, 6.0).with_sample(|s| s[1]), 6.0);
/// assert_eq!([7.0f32, 8.0].with_sample(|s| s.sum()), 15.0);
/// ```
pub trait AnySample {
    /// The sample's scalar type and shape: `Shape<T, Const<N>, Const<1>>` for `N` features
    /// of `T`.
    type Shape: SampleShape;
    /// Calls `f` with the sample (a copy, for a view or an array).
    fn with_sample<R>(&self, f: impl FnOnce(&<Self::Shape as SampleShape>::Sample) -> R) -> R;
}

/// A fixed-size matrix owns its values: a [`Sample`] is one, read in place.
impl<T: Float, const N: usize, const K: usize> AnySample for SMatrix<T, N, K> {
    type Shape = Shape<T, Const<N>, Const<K>>;
    #[inline(always)]
    fn with_sample<R>(&self, f: impl FnOnce(&SMatrix<T, N, K>) -> R) -> R {
        f(self)
    }
}

/// A view of fixed size, such as `batch.column(j)`: copied onto the stack.
impl<T: Float, const N: usize, const K: usize, RS: Dim, CS: Dim> AnySample
    for Matrix<T, Const<N>, Const<K>, ViewStorage<'_, T, Const<N>, Const<K>, RS, CS>>
{
    type Shape = Shape<T, Const<N>, Const<K>>;
    #[inline(always)]
    fn with_sample<R>(&self, f: impl FnOnce(&SMatrix<T, N, K>) -> R) -> R {
        f(&self.into_owned())
    }
}

/// A matrix whose columns are known only at run time, such as a batch: no sample.
impl<T: Float, R: Dim, S: RawStorage<T, R, Dyn>> AnySample for Matrix<T, R, Dyn, S> {
    type Shape = Shape<T, R, Dyn>;
    fn with_sample<Out>(&self, f: impl FnOnce(&()) -> Out) -> Out {
        f(&())
    }
}

/// A matrix whose rows are known only at run time: no sample.
impl<T: Float, const K: usize, S: RawStorage<T, Dyn, Const<K>>> AnySample
    for Matrix<T, Dyn, Const<K>, S>
{
    type Shape = Shape<T, Dyn, Const<K>>;
    fn with_sample<R>(&self, f: impl FnOnce(&()) -> R) -> R {
        f(&())
    }
}

/// An array of `N` features is one sample (copied).
impl<T: Float, const N: usize> AnySample for [T; N] {
    type Shape = Shape<T, Const<N>, U1>;
    #[inline(always)]
    fn with_sample<R>(&self, f: impl FnOnce(&Sample<T, N>) -> R) -> R {
        f(&Sample::from(*self))
    }
}

/// A slice of features has a width known only at run time: no sample a network takes.
impl<T: Float> AnySample for [T] {
    type Shape = Shape<T, Dyn, U1>;
    fn with_sample<R>(&self, f: impl FnOnce(&()) -> R) -> R {
        f(&())
    }
}

/// A `Vec` of features, as its slice.
impl<T: Float> AnySample for Vec<T> {
    type Shape = Shape<T, Dyn, U1>;
    fn with_sample<R>(&self, f: impl FnOnce(&()) -> R) -> R {
        f(&())
    }
}

/// A sample seen through a reference is the same sample.
impl<X: ?Sized + AnySample> AnySample for &X {
    type Shape = X::Shape;
    #[inline(always)]
    fn with_sample<R>(&self, f: impl FnOnce(&<Self::Shape as SampleShape>::Sample) -> R) -> R {
        (**self).with_sample(f)
    }
}
