//! SGD with (heavy-ball) momentum.

use super::{OneState, Optimizer, flush, fraction, in_scalar, positive, same_length, sized_state};
use crate::error::Error;
use crate::scalar::Float;

/// The hyperparameters of [`Momentum`]; `mu` defaults to the notes' 0.9.
///
/// ```
/// use constnet::MomentumConfig;
/// let config = MomentumConfig { mu: 0.95, ..MomentumConfig::new(0.1) };
/// assert!(config.build::<f32>().is_ok());
/// assert!(MomentumConfig { mu: 1.0, ..MomentumConfig::new(0.1) }.build::<f32>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MomentumConfig {
    /// Learning rate, positive.
    pub lr: f64,
    /// Momentum coefficient, in `[0, 1)`.
    pub mu: f64,
}

impl MomentumConfig {
    /// Learning rate `lr` and the default momentum 0.9.
    ///
    /// ```
    /// let config = constnet::MomentumConfig::new(0.1);
    /// assert_eq!((config.lr, config.mu), (0.1, 0.9));
    /// ```
    pub fn new(lr: f64) -> Self {
        MomentumConfig { lr, mu: 0.9 }
    }

    /// Validates the hyperparameters and builds the rule.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let opt = MomentumConfig::new(0.1).build::<f64>()?;
    /// assert_eq!((opt.learning_rate(), opt.steps()), (0.1, 0));
    /// assert!(MomentumConfig::new(0.0).build::<f64>().is_err()); // lr must be positive
    /// let err = MomentumConfig { mu: -0.1, ..MomentumConfig::new(0.1) }.build::<f64>();
    /// assert!(matches!(err, Err(Error::BadHyperparameter { name: "momentum", .. })));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn build<T: Float>(self) -> Result<Momentum<T>, Error> {
        Ok(Momentum {
            lr: positive("learning rate", self.lr)?,
            mu: fraction("momentum", self.mu)?,
            velocity: Vec::new(),
            steps: 0,
        })
    }
}

/// Momentum update, as in the notes: `v = mu * v - lr * dx; x += v`, with `v` starting at 0.
///
/// PyTorch's `SGD(momentum=mu)` writes it differently: `v = mu * v + dx; x -= lr * v`. The
/// two agree while `lr` is constant (PyTorch's `v` is this `v` divided by `-lr`) and differ
/// when a schedule changes `lr`: here a new rate applies to new gradients only.
///
/// ```
/// use constnet::prelude::*;
/// let mut opt = MomentumConfig::new(0.1).build::<f64>()?;
/// let mut x = [1.0];
/// opt.step(&mut x, &[1.0])?; // v = -0.1
/// opt.step(&mut x, &[1.0])?; // v = 0.9 * -0.1 - 0.1 = -0.19
/// assert!((x[0] - (1.0 - 0.1 - 0.19)).abs() < 1e-12);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Momentum<T: Float = f32> {
    lr: f64,
    mu: f64,
    velocity: Vec<T>,
    steps: u64,
}

impl<T: Float> Optimizer<T> for Momentum<T> {
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error> {
        same_length(params, grads)?;
        sized_state(&mut [&mut self.velocity], params.len())?;
        let (lr, mu) = (
            in_scalar::<T>("learning rate", self.lr)?,
            T::of_f64(self.mu),
        );
        OneState {
            params,
            grads,
            state: &mut self.velocity,
            element: |x: &mut T, dx: T, v: &mut T| {
                *v = flush(mu * *v - lr * dx);
                *x = flush(*x + *v);
            },
        }
        .step();
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    shared_accessors!("velocity" => velocity);
}
