//! Adagrad: per-parameter rates from the sum of squared gradients.

use super::{OneState, Optimizer, flush, in_scalar, positive, same_length, sized_state};
use crate::error::Error;
use crate::scalar::Float;

/// The hyperparameters of [`Adagrad`]; `eps` defaults to 1e-8.
///
/// ```
/// assert!(constnet::AdagradConfig::new(0.1).build::<f32>().is_ok());
/// assert!(constnet::AdagradConfig { eps: 0.0, lr: 0.1 }.build::<f32>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate, positive.
    pub lr: f64,
    /// Added to the root of the cache to avoid dividing by zero, positive.
    pub eps: f64,
}

impl AdagradConfig {
    /// Learning rate `lr` and `eps` 1e-8.
    ///
    /// ```
    /// let config = constnet::AdagradConfig::new(0.1);
    /// assert_eq!((config.lr, config.eps), (0.1, 1e-8));
    /// ```
    pub fn new(lr: f64) -> Self {
        AdagradConfig { lr, eps: 1e-8 }
    }

    /// Validates the hyperparameters and builds the rule.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let opt = AdagradConfig::new(0.1).build::<f32>()?;
    /// assert_eq!(opt.learning_rate(), 0.1);
    /// assert!(opt.state()[0].1.is_empty()); // the cache is sized at the first step
    /// let err = AdagradConfig::new(-0.1).build::<f32>();
    /// assert!(matches!(err, Err(Error::BadHyperparameter { name: "learning rate", .. })));
    /// let err = AdagradConfig { eps: f64::NAN, ..AdagradConfig::new(0.1) }.build::<f32>();
    /// assert!(matches!(err, Err(Error::BadHyperparameter { name: "eps", .. })));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn build<T: Float>(self) -> Result<Adagrad<T>, Error> {
        Ok(Adagrad {
            lr: positive("learning rate", self.lr)?,
            eps: positive("eps", self.eps)?,
            cache: Vec::new(),
            steps: 0,
        })
    }
}

/// Adagrad, as in the notes: `cache += dx^2; x -= lr * dx / (sqrt(cache) + eps)`.
///
/// PyTorch's `Adagrad` is the same with `eps` 1e-10 by default.
///
/// ```
/// use constnet::prelude::*;
/// let mut opt = AdagradConfig::new(0.1).build::<f64>()?;
/// let mut x = [1.0];
/// opt.step(&mut x, &[2.0])?; // cache = 4, x -= 0.1 * 2 / 2
/// assert!((x[0] - 0.9).abs() < 1e-8);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Adagrad<T: Float = f32> {
    lr: f64,
    eps: f64,
    cache: Vec<T>,
    steps: u64,
}

impl<T: Float> Optimizer<T> for Adagrad<T> {
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error> {
        same_length(params, grads)?;
        sized_state(&mut [&mut self.cache], params.len())?;
        let (lr, eps) = (
            in_scalar::<T>("learning rate", self.lr)?,
            in_scalar::<T>("eps", self.eps)?,
        );
        OneState {
            params,
            grads,
            state: &mut self.cache,
            element: |x: &mut T, dx: T, c: &mut T| {
                *c += dx * dx;
                *x = flush(*x - lr * dx / (c.sqrt() + eps));
            },
        }
        .step();
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    shared_accessors!("cache" => cache (non_negative));
}
