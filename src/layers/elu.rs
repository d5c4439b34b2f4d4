//! ELU: `f(x) = x if x > 0 else alpha (e^x - 1)`, `f'(x) = 1 or y + alpha`.

use super::activation::{Activation, activation_layer};
use crate::scalar::Float;

/// Exponential linear unit (Clevert et al. 2015) with `alpha` 1 by default, of any width.
///
/// In `network!`, `act: Elu` uses the default and `act: Elu(0.5)` sets `alpha`.
///
/// ```
/// use constnet::{Layer, layers::Elu};
/// use nalgebra::SVector;
/// let y = Elu::default().forward_one(&[], &[], &SVector::<f64, 2>::from([0.0, 2.0]));
/// assert_eq!(y.as_slice(), &[0.0, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elu {
    /// The value approached as `x` goes to minus infinity is `-alpha`.
    pub alpha: f64,
}

impl Elu {
    /// ELU with the given `alpha`.
    ///
    /// ```
    /// assert_eq!(constnet::layers::Elu::new(0.5).alpha, 0.5);
    /// ```
    pub const fn new(alpha: f64) -> Self {
        Elu { alpha }
    }
}

impl Default for Elu {
    fn default() -> Self {
        Elu { alpha: 1.0 }
    }
}

impl<T: Float> Activation<T> for Elu {
    // Continuous at 0 but its derivative jumps unless alpha is 1, and its second derivative
    // jumps always: a gradient check treats 0 as a kink.
    const KINKED: bool = true;
    #[inline(always)]
    fn value(&self, x: T) -> T {
        if x > T::ZERO {
            x
        } else {
            T::of_f64(self.alpha) * (x.exp() - T::ONE)
        }
    }
    #[inline(always)]
    fn derivative(&self, x: T, y: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else {
            y + T::of_f64(self.alpha)
        }
    }
}

activation_layer!(Elu, "Elu");

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn elu_saturates_at_minus_alpha_with_derivative_from_the_output() {
        let act = Elu::new(0.5);
        let f = |x: f64| Activation::<f64>::value(&act, x);
        // 0.5 * (e^-1 - 1) = -0.31606027941427883 (Python: 0.5 * (math.exp(-1) - 1))
        assert_relative_eq!(f(-1.0), -0.31606027941427883, epsilon = 1e-15);
        // f'(-1) = alpha e^-1 = y + alpha
        assert_relative_eq!(
            Activation::<f64>::derivative(&act, -1.0, f(-1.0)),
            0.5 * (-1.0f64).exp(),
            epsilon = 1e-15
        );
        assert_eq!(f(3.0), 3.0);
    }
}
