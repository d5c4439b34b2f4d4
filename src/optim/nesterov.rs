//! Nesterov momentum, in the notes' rewritten form.

use super::{OneState, Optimizer, flush, fraction, in_scalar, positive, same_length, sized_state};
use crate::error::Error;
use crate::scalar::Float;

/// The hyperparameters of [`Nesterov`]; `mu` defaults to the notes' 0.9.
///
/// ```
/// assert!(constnet::NesterovConfig::new(0.1).build::<f32>().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NesterovConfig {
    /// Learning rate, positive.
    pub lr: f64,
    /// Momentum coefficient, in `[0, 1)`.
    pub mu: f64,
}

impl NesterovConfig {
    /// Learning rate `lr` and the default momentum 0.9.
    ///
    /// ```
    /// let config = constnet::NesterovConfig::new(0.01);
    /// assert_eq!((config.lr, config.mu), (0.01, 0.9));
    /// ```
    pub fn new(lr: f64) -> Self {
        NesterovConfig { lr, mu: 0.9 }
    }

    /// Validates the hyperparameters and builds the rule.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// // mu = 0 is allowed: the update is then plain SGD.
    /// let mut opt = NesterovConfig { mu: 0.0, ..NesterovConfig::new(0.5) }.build::<f64>()?;
    /// let mut x = [1.0];
    /// opt.step(&mut x, &[1.0])?;
    /// assert_eq!(x, [0.5]);
    /// let err = NesterovConfig { mu: 1.0, ..NesterovConfig::new(0.5) }.build::<f64>();
    /// assert!(matches!(err, Err(Error::BadHyperparameter { name: "momentum", .. })));
    /// assert!(NesterovConfig::new(f64::NAN).build::<f32>().is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn build<T: Float>(self) -> Result<Nesterov<T>, Error> {
        Ok(Nesterov {
            lr: positive("learning rate", self.lr)?,
            mu: fraction("momentum", self.mu)?,
            velocity: Vec::new(),
            steps: 0,
        })
    }
}

/// Nesterov momentum in the form the notes give, where the stored parameters are the
/// look-ahead ones and the gradient is taken there as usual:
/// `v_prev = v; v = mu * v - lr * dx; x += -mu * v_prev + (1 + mu) * v`.
///
/// PyTorch's `SGD(momentum=mu, nesterov=True)` is `v = mu * v + dx; x -= lr * (dx + mu * v)`,
/// the same update with `v` scaled by `-lr` (equal while `lr` is constant).
///
/// ```
/// use constnet::prelude::*;
/// let mut opt = NesterovConfig::new(0.1).build::<f64>()?;
/// let mut x = [1.0];
/// opt.step(&mut x, &[1.0])?; // v = -0.1, x += 1.9 * -0.1
/// assert!((x[0] - (1.0 - 0.19)).abs() < 1e-12);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Nesterov<T: Float = f32> {
    lr: f64,
    mu: f64,
    velocity: Vec<T>,
    steps: u64,
}

impl<T: Float> Optimizer<T> for Nesterov<T> {
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error> {
        same_length(params, grads)?;
        sized_state(&mut [&mut self.velocity], params.len())?;
        let (lr, mu) = (
            in_scalar::<T>("learning rate", self.lr)?,
            T::of_f64(self.mu),
        );
        let one_plus_mu = T::ONE + mu;
        OneState {
            params,
            grads,
            state: &mut self.velocity,
            element: |x: &mut T, dx: T, v: &mut T| {
                let v_prev = *v;
                *v = flush(mu * *v - lr * dx);
                *x = flush(*x + (one_plus_mu * *v - mu * v_prev));
            },
        }
        .step();
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    shared_accessors!("velocity" => velocity);
}
