//! ReLU: `f(x) = max(0, x)`, `f'(x) = 1 if x > 0 else 0` (a max gate: kinked at 0).

use super::activation::{Activation, activation_layer};
use crate::Float;

/// Rectified linear unit, `max(0, x)`, of any width.
///
/// ```
/// use constnet::{Layer, layers::Relu};
/// use nalgebra::SVector;
/// let y = Relu.forward_one(&[], &[], &SVector::<f32, 3>::from([-1.0, 0.0, 2.0]));
/// assert_eq!(y.as_slice(), &[0.0, 0.0, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Relu;

impl<T: Float> Activation<T> for Relu {
    const KINKED: bool = true;
    #[inline(always)]
    fn value(&self, x: T) -> T {
        if x > T::ZERO { x } else { T::ZERO }
    }
    #[inline(always)]
    fn derivative(&self, x: T, _y: T) -> T {
        if x > T::ZERO { T::ONE } else { T::ZERO }
    }
}

activation_layer!(Relu, "Relu");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_passes_positive_inputs_and_blocks_the_rest() {
        let f = |x: f64| Activation::<f64>::value(&Relu, x);
        assert_eq!([f(-2.0), f(0.0), f(3.5)], [0.0, 0.0, 3.5]);
        let d = |x: f64| Activation::<f64>::derivative(&Relu, x, f(x));
        assert_eq!([d(-2.0), d(0.0), d(3.5)], [0.0, 0.0, 1.0]);
    }
}
