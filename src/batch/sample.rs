//! One sample, as a network's single-sample methods take it ([`AnySample`]): a [`Sample`],
//! a view of one column of a batch, or an array of features. Anything else that looks like
//! a matrix is one too, of a [`Shape`] no network takes, so that rustc reports it as the
//! network's error ("`Net` takes a `Sample<f32, 2>`"), in words.

use nalgebra::{Const, Dim, Dyn, Matrix, RawStorage, SMatrix, U1, ViewStorage};

use crate::batch::Sample;
use crate::batch::shape::{SampleShape, Shape};
use crate::scalar::Float;

/// One sample of any width and scalar type: a [`Sample`], a view of one column of a batch
/// (`batch.column(j)`), an array of features, or a reference to one; each read in place (a
/// view whose elements are not contiguous is copied). [`OnSample`](crate::OnSample)'s methods take this and compare its
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
    /// Calls `f` with the sample (a copy, for a view whose elements are not contiguous).
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

/// A view of fixed size, such as `batch.column(j)`: read in place where its elements follow
/// one another in memory (a column of a batch), copied onto the stack otherwise.
impl<T: Float, const N: usize, const K: usize, RS: Dim, CS: Dim> AnySample
    for Matrix<T, Const<N>, Const<K>, ViewStorage<'_, T, Const<N>, Const<K>, RS, CS>>
{
    type Shape = Shape<T, Const<N>, Const<K>>;
    #[inline(always)]
    fn with_sample<R>(&self, f: impl FnOnce(&SMatrix<T, N, K>) -> R) -> R {
        match contiguous(self) {
            Some(sample) => f(sample),
            None => f(&self.into_owned()),
        }
    }
}

/// `view` as a fixed-size matrix of its own, without a copy, if its elements follow one
/// another in column-major order (a column of a batch). The network's first layer then
/// reads the caller's own stores, which forward to its loads, where a copy's 16-byte loads
/// of features written one at a time wait until those stores reach the cache (W1: about
/// 75 ns a sample through a copy of an array written one feature at a time, against 52 on
/// a sample written long before).
#[allow(unsafe_code)]
fn contiguous<'a, T: Float, const N: usize, const K: usize, RS: Dim, CS: Dim>(
    view: &Matrix<T, Const<N>, Const<K>, ViewStorage<'a, T, Const<N>, Const<K>, RS, CS>>,
) -> Option<&'a SMatrix<T, N, K>> {
    let (rows, columns) = view.strides();
    (rows == 1 && (K == 1 || columns == N)).then(|| {
        // SAFETY: the view's `N * K` elements are contiguous from its first (the strides
        // above) and borrowed for `'a`; `N * K` consecutive `T`s have `SMatrix`'s layout
        // (see `array_in_place`).
        unsafe { &*view.as_ptr().cast::<SMatrix<T, N, K>>() }
    })
}

/// `features` as a sample, without a copy (see [`contiguous`]).
#[allow(unsafe_code)]
fn array_in_place<T: Float, const N: usize>(features: &[T; N]) -> &Sample<T, N> {
    // SAFETY: `Sample<T, N>` is `repr(C)` around its storage and a zero-sized marker, the
    // storage `repr(transparent)` around `[[T; N]; 1]`: it has the layout of `[T; N]`, and
    // every such value is a sample. The borrow is the array's.
    unsafe { &*std::ptr::from_ref(features).cast::<Sample<T, N>>() }
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

/// An array of `N` features is one sample, read in place.
impl<T: Float, const N: usize> AnySample for [T; N] {
    type Shape = Shape<T, Const<N>, U1>;
    #[inline(always)]
    fn with_sample<R>(&self, f: impl FnOnce(&Sample<T, N>) -> R) -> R {
        f(array_in_place(self))
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

#[cfg(test)]
mod tests {
    use nalgebra::{Matrix3, SMatrix};

    use super::AnySample;
    use crate::batch::Batch;

    /// An array and a column of a batch are read where they are (the sample's address is
    /// theirs), with their values.
    #[test]
    fn contiguous_samples_are_read_in_place() {
        let features = [1.0f32, 2.0, 3.0];
        let (at, sum) = features.with_sample(|s| (s.as_ptr(), s.sum()));
        assert_eq!((at, sum), (features.as_ptr(), 6.0));
        let batch = Batch::<f64, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let column = batch.column(1);
        let (at, values) = column.with_sample(|s| (s.as_ptr(), [s[0], s[1]]));
        assert_eq!((at, values), (batch.as_slice()[2..].as_ptr(), [3.0, 4.0]));
        // Two whole columns of a 2 x 3 matrix follow one another too.
        let m = SMatrix::<f32, 2, 3>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let (at, last) = m
            .fixed_columns::<2>(1)
            .with_sample(|s| (s.as_ptr(), s[(1, 1)]));
        assert_eq!((at, last), (m.as_slice()[2..].as_ptr(), 6.0));
    }

    /// A view whose elements are apart (every other row of a column; two columns of a
    /// taller matrix's top rows) is copied, with its values in order.
    #[test]
    fn strided_views_are_copied() {
        let m = Matrix3::<f32>::from_row_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        let spaced = m.fixed_view_with_steps::<2, 1>((0, 1), (1, 0));
        let (at, values) = spaced.with_sample(|s| (s.as_ptr(), [s[0], s[1]]));
        assert_ne!(at, spaced.as_ptr());
        assert_eq!(values, [2.0, 8.0]);
        let top = m.fixed_view::<2, 2>(0, 1);
        let (at, values) = top.with_sample(|s| (s.as_ptr(), [s[(0, 0)], s[(1, 0)], s[(0, 1)]]));
        assert_ne!(at, top.as_ptr());
        assert_eq!(values, [2.0, 5.0, 3.0]);
    }
}
