//! Sigmoid: `f(x) = 1 / (1 + e^-x)`, `f'(x) = y (1 - y)` (from the output).

use super::activation::{Activation, activation_layer};
use crate::scalar::Float;

/// The logistic sigmoid, of any width.
///
/// ```
/// use constnet::{Layer, layers::Sigmoid};
/// use nalgebra::SVector;
/// let y = Sigmoid.forward_one(&[], &[], &SVector::<f64, 1>::from([0.0]));
/// assert_eq!(y[0], 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sigmoid;

impl<T: Float> Activation<T> for Sigmoid {
    const KINKED: bool = false;
    #[inline(always)]
    fn value(&self, x: T) -> T {
        // Written so that neither branch overflows: e^-|x| is at most 1.
        if x >= T::ZERO {
            T::ONE / (T::ONE + (-x).exp())
        } else {
            let e = x.exp();
            e / (T::ONE + e)
        }
    }
    #[inline(always)]
    fn derivative(&self, _x: T, y: T) -> T {
        y * (T::ONE - y)
    }
}

activation_layer!(Sigmoid, "Sigmoid");

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn sigmoid_matches_the_logistic_function_and_stays_finite() {
        let f = |x: f64| Activation::<f64>::value(&Sigmoid, x);
        // 1 / (1 + e^-2) = 0.8807970779778823 (Python: 1 / (1 + math.exp(-2)))
        assert_relative_eq!(f(2.0), 0.8807970779778823, epsilon = 1e-15);
        assert_relative_eq!(f(-2.0), 1.0 - 0.8807970779778823, epsilon = 1e-15);
        assert_eq!(f(-1000.0), 0.0);
        assert_eq!(f(1000.0), 1.0);
        assert_eq!(Activation::<f64>::derivative(&Sigmoid, 0.0, 0.5), 0.25);
    }
}
