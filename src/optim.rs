//! Update rules over flat parameter and gradient buffers.

use crate::{Error, Float};

/// Vanilla stochastic gradient descent: `x -= lr * dx`.
///
/// ```
/// let mut sgd = constnet::Sgd::new(0.5)?;
/// let mut x = [1.0f32, 2.0];
/// sgd.step(&mut x, &[2.0, -2.0])?;
/// assert_eq!(x, [0.0, 3.0]);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    lr: f64,
}

impl Sgd {
    /// SGD with learning rate `lr`, which must be positive and finite.
    pub fn new(lr: f64) -> Result<Self, Error> {
        if lr.is_finite() && lr > 0.0 {
            Ok(Sgd { lr })
        } else {
            Err(Error::BadHyperparameter {
                name: "learning rate",
                value: lr,
                expected: "a positive, finite number",
            })
        }
    }

    /// The learning rate.
    ///
    /// ```
    /// assert_eq!(constnet::Sgd::new(0.1)?.lr(), 0.1);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// One update of `params` from `grads` (the same length).
    pub fn step<T: Float>(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error> {
        if params.len() != grads.len() {
            return Err(Error::WrongLength {
                what: "gradient buffer".into(),
                expected: params.len(),
                got: grads.len(),
            });
        }
        let lr = T::of_f64(self.lr);
        for (x, &dx) in params.iter_mut().zip(grads) {
            *x -= lr * dx;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_rejects_a_non_positive_learning_rate() {
        assert!(Sgd::new(0.0).is_err());
        assert!(Sgd::new(-1e-3).is_err());
        assert!(Sgd::new(f64::NAN).is_err());
    }

    #[test]
    fn sgd_rejects_buffers_of_different_lengths() {
        let mut x = [0.0f32; 3];
        assert!(Sgd::new(0.1).unwrap().step(&mut x, &[1.0; 2]).is_err());
    }
}
