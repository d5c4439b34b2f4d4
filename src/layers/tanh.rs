//! Tanh: `f(x) = tanh(x)`, `f'(x) = 1 - y^2` (from the output).

use super::activation::{Activation, activation_layer};
use crate::scalar::Float;

/// The hyperbolic tangent, of any width.
///
/// ```
/// use constnet::{Layer, layers::Tanh};
/// use nalgebra::SVector;
/// let y = Tanh.forward_one(&[], &[], &SVector::<f64, 1>::from([0.0]));
/// assert_eq!(y[0], 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tanh;

impl<T: Float> Activation<T> for Tanh {
    const KINKED: bool = false;
    #[inline(always)]
    fn value(&self, x: T) -> T {
        x.tanh()
    }
    #[inline(always)]
    fn derivative(&self, _x: T, y: T) -> T {
        T::ONE - y * y
    }
}

activation_layer!(Tanh, "Tanh");

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn tanh_value_and_derivative_match_hand_values() {
        // tanh(1) = 0.7615941559557649 (Python: math.tanh(1))
        let y = Activation::<f64>::value(&Tanh, 1.0);
        assert_relative_eq!(y, 0.7615941559557649, epsilon = 1e-15);
        assert_relative_eq!(Activation::<f64>::derivative(&Tanh, 1.0, y), 1.0 - y * y);
    }
}
