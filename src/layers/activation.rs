//! What every element-wise activation shares: a value, a derivative beside it, and the
//! [`Layer`](crate::Layer) implementation built from the two.

use crate::scalar::Float;

/// An element-wise activation `y = f(x)`, written as its value and its derivative side by
/// side. The derivative is given both the input and the output, since some are cheaper from
/// one (ReLU uses `x`) and some from the other (sigmoid uses `y`).
///
/// ```
/// use constnet::layers::{Activation, Sigmoid};
/// assert_eq!(Activation::<f64>::value(&Sigmoid, 0.0), 0.5);
/// assert_eq!(Activation::<f64>::derivative(&Sigmoid, 0.0, 0.5), 0.25);
/// ```
pub trait Activation<T: Float> {
    /// Whether `f` has a kink (a max gate) at zero, which a gradient check must watch.
    ///
    /// ```
    /// use constnet::layers::{Activation, Relu, Tanh};
    /// assert!(<Relu as Activation<f32>>::KINKED);
    /// assert!(!<Tanh as Activation<f32>>::KINKED);
    /// ```
    const KINKED: bool;
    /// `f(x)`.
    ///
    /// ```
    /// use constnet::layers::{Activation, LeakyRelu, Relu};
    /// assert_eq!(Activation::<f64>::value(&Relu, -3.0), 0.0);
    /// assert_eq!(Activation::<f64>::value(&LeakyRelu::new(0.5), -3.0), -1.5);
    /// ```
    fn value(&self, x: T) -> T;
    /// `f'(x)`, given `x` and `y = f(x)`.
    ///
    /// ```
    /// use constnet::layers::{Activation, Relu, Tanh};
    /// // tanh' = 1 - y^2 is read from the output, ReLU's from the input.
    /// assert_eq!(Activation::<f64>::derivative(&Tanh, 0.3, 0.5), 0.75);
    /// assert_eq!(Activation::<f64>::derivative(&Relu, -1.0, 0.0), 0.0);
    /// assert_eq!(Activation::<f64>::derivative(&Relu, 2.0, 2.0), 1.0);
    /// ```
    fn derivative(&self, x: T, y: T) -> T;
}

/// `y = f(x)` element by element, for `x` of any width: what `for_each_activation` runs for
/// an activation layer. Not inlined, it is compiled once per activation and scalar type
/// rather than once per width (and unrolled there), in a pass that is for diagnostics.
///
/// ```
/// use constnet::layers::{Relu, activate_any_width};
/// let mut y = [0.0f32; 3];
/// activate_any_width(&Relu, &[-1.0, 0.5, 2.0], &mut y);
/// assert_eq!(y, [0.0, 0.5, 2.0]);
/// ```
#[inline(never)]
pub fn activate_any_width<T: Float, A: Activation<T>>(f: &A, x: &[T], y: &mut [T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = f.value(x);
    }
}

/// Implements [`Layer`](crate::Layer) for an [`Activation`] of any width: forward maps every
/// element, backward multiplies the upstream gradient by the derivative.
macro_rules! activation_layer {
    ($ty:ty, $kind:literal) => {
        impl<T: $crate::Float, const N: usize> $crate::Layer<T, N, N> for $ty {
            const PARAMS: usize = 0;
            const TENSORS: &'static [$crate::TensorSpec] = &[];
            type Cache = ();

            fn kind(&self) -> &'static str {
                $kind
            }

            fn new_cache(&self, _max_batch: usize) {}

            #[inline]
            fn forward_one(
                &self,
                _params: &[T],
                _state: &[T],
                x: &nalgebra::SVector<T, N>,
            ) -> nalgebra::SVector<T, N> {
                x.map(|v| $crate::layers::Activation::<T>::value(self, v))
            }

            fn forward(
                &self,
                _params: &[T],
                _state: &[T],
                x: $crate::BatchView<'_, T, N>,
                mut y: $crate::BatchViewMut<'_, T, N>,
            ) {
                for (out, &v) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
                    *out = $crate::layers::Activation::<T>::value(self, v);
                }
            }

            fn backward(
                &self,
                _params: &[T],
                x: $crate::BatchView<'_, T, N>,
                y: $crate::BatchView<'_, T, N>,
                _cache: &mut (),
                dy: $crate::BatchView<'_, T, N>,
                dx: Option<$crate::BatchViewMut<'_, T, N>>,
                _dparams: &mut [T],
            ) {
                if let Some(mut dx) = dx {
                    let inputs = x.as_slice().iter().zip(y.as_slice());
                    let grads = dx.as_mut_slice().iter_mut().zip(dy.as_slice());
                    for ((g, &d), (&xv, &yv)) in grads.zip(inputs) {
                        *g = d * $crate::layers::Activation::<T>::derivative(self, xv, yv);
                    }
                }
            }

            fn record_kinks(
                &self,
                _params: &[T],
                x: $crate::BatchView<'_, T, N>,
                kinks: &mut $crate::Kinks,
            ) {
                if <Self as $crate::layers::Activation<T>>::KINKED {
                    for &v in x.as_slice() {
                        kinks.record(v > T::ZERO);
                    }
                }
            }
        }
    };
}

pub(crate) use activation_layer;
