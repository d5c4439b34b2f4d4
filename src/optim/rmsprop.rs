//! RMSprop: Adagrad with a leaky cache.

use super::{
    OneState, Optimizer, flush, in_scalar, open_fraction, positive, same_length, sized_state,
};
use crate::error::Error;
use crate::scalar::Float;

/// The hyperparameters of [`RmsProp`]; `decay` 0.99 and `eps` 1e-8 by default, as in the
/// notes.
///
/// ```
/// use constnet::RmsPropConfig;
/// assert!(RmsPropConfig::new(1e-3).build::<f32>().is_ok());
/// assert!(RmsPropConfig { decay: 1.0, ..RmsPropConfig::new(1e-3) }.build::<f32>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate, positive.
    pub lr: f64,
    /// Decay rate of the cache, in `(0, 1)`.
    pub decay: f64,
    /// Added to the root of the cache, positive.
    pub eps: f64,
}

impl RmsPropConfig {
    /// Learning rate `lr`, `decay` 0.99, `eps` 1e-8.
    ///
    /// ```
    /// let config = constnet::RmsPropConfig::new(1e-3);
    /// assert_eq!((config.lr, config.decay, config.eps), (1e-3, 0.99, 1e-8));
    /// ```
    pub fn new(lr: f64) -> Self {
        RmsPropConfig {
            lr,
            decay: 0.99,
            eps: 1e-8,
        }
    }

    /// Validates the hyperparameters and builds the rule.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let mut opt = RmsPropConfig { decay: 0.75, ..RmsPropConfig::new(0.1) }.build::<f64>()?;
    /// let mut x = [1.0];
    /// opt.step(&mut x, &[2.0])?; // cache = 0.25 * 4 = 1, x -= 0.1 * 2 / (1 + eps)
    /// assert!((x[0] - 0.8).abs() < 1e-7);
    /// // The decay is in (0, 1): 0 would keep no history at all.
    /// let err = RmsPropConfig { decay: 0.0, ..RmsPropConfig::new(0.1) }.build::<f64>();
    /// assert!(matches!(err, Err(Error::BadHyperparameter { name: "decay rate", .. })));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn build<T: Float>(self) -> Result<RmsProp<T>, Error> {
        Ok(RmsProp {
            lr: positive("learning rate", self.lr)?,
            decay: open_fraction("decay rate", self.decay)?,
            eps: positive("eps", self.eps)?,
            cache: Vec::new(),
            steps: 0,
        })
    }
}

/// RMSprop, as in the notes:
/// `cache = decay * cache + (1 - decay) * dx^2; x -= lr * dx / (sqrt(cache) + eps)`.
///
/// PyTorch's `RMSprop` is the same formula with its `alpha` as `decay`, and defaults
/// `alpha` 0.99, `eps` 1e-8.
///
/// ```
/// use constnet::prelude::*;
/// let mut opt = RmsPropConfig::new(0.1).build::<f64>()?;
/// let mut x = [1.0];
/// opt.step(&mut x, &[2.0])?; // cache = 0.01 * 4 = 0.04, x -= 0.1 * 2 / 0.2
/// assert!((x[0] - 0.0).abs() < 1e-6);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RmsProp<T: Float = f32> {
    lr: f64,
    decay: f64,
    eps: f64,
    cache: Vec<T>,
    steps: u64,
}

impl<T: Float> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error> {
        same_length(params, grads)?;
        sized_state(&mut [&mut self.cache], params.len())?;
        let (lr, eps) = (
            in_scalar::<T>("learning rate", self.lr)?,
            in_scalar::<T>("eps", self.eps)?,
        );
        let (decay, rest) = (T::of_f64(self.decay), T::of_f64(1.0 - self.decay));
        OneState {
            params,
            grads,
            state: &mut self.cache,
            element: |x: &mut T, dx: T, c: &mut T| {
                *c = flush(decay * *c + rest * dx * dx);
                *x = flush(*x - lr * dx / (c.sqrt() + eps));
            },
        }
        .step();
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    shared_accessors!("cache" => cache (non_negative));
}
