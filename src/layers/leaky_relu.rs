//! Leaky ReLU: `f(x) = x if x > 0 else slope * x`, `f'(x) = 1 or slope` (kinked at 0).

use super::activation::{Activation, activation_layer};
use crate::scalar::Float;

/// Leaky ReLU with a small negative slope (0.01 by default), of any width.
///
/// In `network!`, `act: LeakyRelu` uses the default and `act: LeakyRelu(0.1)` sets the slope.
///
/// ```
/// use constnet::{Layer, layers::LeakyRelu};
/// use nalgebra::SVector;
/// let y = LeakyRelu::new(0.1).forward_one(&[], &[], &SVector::<f64, 2>::from([-2.0, 3.0]));
/// assert_eq!(y.as_slice(), &[-0.2, 3.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    /// The slope for negative inputs.
    pub slope: f64,
}

impl LeakyRelu {
    /// Leaky ReLU with the given negative slope.
    ///
    /// ```
    /// assert_eq!(constnet::layers::LeakyRelu::new(0.2).slope, 0.2);
    /// ```
    pub const fn new(slope: f64) -> Self {
        LeakyRelu { slope }
    }
}

impl Default for LeakyRelu {
    fn default() -> Self {
        LeakyRelu { slope: 0.01 }
    }
}

impl<T: Float> Activation<T> for LeakyRelu {
    const KINKED: bool = true;
    #[inline(always)]
    fn value(&self, x: T) -> T {
        if x > T::ZERO {
            x
        } else {
            T::of_f64(self.slope) * x
        }
    }
    #[inline(always)]
    fn derivative(&self, x: T, _y: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else {
            T::of_f64(self.slope)
        }
    }
}

activation_layer!(LeakyRelu, "LeakyRelu");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaky_relu_scales_negative_inputs_by_the_slope() {
        let act = LeakyRelu::default();
        let f = |x: f64| Activation::<f64>::value(&act, x);
        assert_eq!([f(-2.0), f(3.0)], [-0.02, 3.0]);
        let d = |x: f64| Activation::<f64>::derivative(&act, x, f(x));
        assert_eq!([d(-2.0), d(3.0)], [0.01, 1.0]);
    }
}
