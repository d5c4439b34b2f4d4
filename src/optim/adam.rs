//! Adam with bias correction.

use super::{Optimizer, flush, fraction, in_scalar, positive, same_length, sized_state};
use crate::error::Error;
use crate::scalar::Float;
use crate::tiers::run_mut;

/// The hyperparameters of [`Adam`]. The default is the notes' recommendation: `lr` 1e-3,
/// `beta1` 0.9, `beta2` 0.999, `eps` 1e-8.
///
/// ```
/// use constnet::AdamConfig;
/// assert_eq!(AdamConfig::default().lr, 1e-3);
/// assert!(AdamConfig { beta2: 1.5, ..AdamConfig::default() }.build::<f32>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate, positive.
    pub lr: f64,
    /// Decay of the first moment, in `[0, 1)`.
    pub beta1: f64,
    /// Decay of the second moment, in `[0, 1)`.
    pub beta2: f64,
    /// Added to the root of the second moment, positive.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl AdamConfig {
    /// The defaults with learning rate `lr`.
    ///
    /// ```
    /// use constnet::AdamConfig;
    /// let config = AdamConfig::new(0.01);
    /// assert_eq!(config, AdamConfig { lr: 0.01, ..AdamConfig::default() });
    /// assert_eq!((config.beta1, config.beta2, config.eps), (0.9, 0.999, 1e-8));
    /// ```
    pub fn new(lr: f64) -> Self {
        AdamConfig {
            lr,
            ..AdamConfig::default()
        }
    }

    /// Validates the hyperparameters and builds the rule.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// let adam = AdamConfig::new(0.01).build::<f32>()?;
    /// assert_eq!((adam.learning_rate(), adam.steps()), (0.01, 0));
    /// assert!(AdamConfig { beta1: 0.0, ..AdamConfig::default() }.build::<f32>().is_ok());
    /// let err = AdamConfig { beta1: 1.0, ..AdamConfig::default() }.build::<f32>();
    /// assert!(matches!(err, Err(Error::BadHyperparameter { name: "beta1", .. })));
    /// assert!(AdamConfig { eps: 0.0, ..AdamConfig::default() }.build::<f32>().is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn build<T: Float>(self) -> Result<Adam<T>, Error> {
        Ok(Adam {
            lr: positive("learning rate", self.lr)?,
            beta1: fraction("beta1", self.beta1)?,
            beta2: fraction("beta2", self.beta2)?,
            eps: positive("eps", self.eps)?,
            m: Vec::new(),
            v: Vec::new(),
            steps: 0,
        })
    }
}

/// Adam with bias correction, as in the notes, the step counter incremented before use:
///
/// ```text
/// t += 1
/// m = beta1 * m + (1 - beta1) * dx
/// v = beta2 * v + (1 - beta2) * dx^2
/// m_hat = m / (1 - beta1^t)
/// v_hat = v / (1 - beta2^t)
/// x -= lr * m_hat / (sqrt(v_hat) + eps)
/// ```
///
/// PyTorch's `Adam` (without weight decay) computes the same update.
///
/// ```
/// use constnet::prelude::*;
/// let mut adam = AdamConfig::new(0.1).build::<f64>()?;
/// let mut x = [1.0];
/// adam.step(&mut x, &[3.0])?;
/// // t = 1: m_hat = 3 and v_hat = 9, so x moves by lr * 3 / (3 + eps).
/// assert!((x[0] - 0.9).abs() < 1e-8);
/// assert_eq!(adam.steps(), 1);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Adam<T: Float = f32> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Vec<T>,
    v: Vec<T>,
    steps: u64,
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error> {
        same_length(params, grads)?;
        sized_state(&mut [&mut self.m, &mut self.v], params.len())?;
        self.steps = self.steps.saturating_add(1);
        let t = i32::try_from(self.steps).unwrap_or(i32::MAX);
        let (b1, b2) = (T::of_f64(self.beta1), T::of_f64(self.beta2));
        let (rest1, rest2) = (T::of_f64(1.0 - self.beta1), T::of_f64(1.0 - self.beta2));
        // The bias corrections as factors, computed once in f64.
        let correct1 = T::of_f64(1.0 / (1.0 - self.beta1.powi(t)));
        let correct2 = T::of_f64(1.0 / (1.0 - self.beta2.powi(t)));
        let (lr, eps) = (
            in_scalar::<T>("learning rate", self.lr)?,
            in_scalar::<T>("eps", self.eps)?,
        );
        let mut update = Update {
            b1,
            b2,
            rest1,
            rest2,
            correct1,
            correct2,
            lr,
            eps,
            params,
            grads,
            m: &mut self.m,
            v: &mut self.v,
        };
        run_mut(
            &mut update,
            Update::run,
            Update::run_avx2,
            Update::run_avx512,
        );
        Ok(())
    }

    shared_accessors!("m" => m, "v" => v (non_negative));
}

/// One step's update of every parameter: the constants, in the scalar type, and the buffers.
/// Its loop is compiled once per instruction-set tier ([`run_mut`]): in a build for any
/// x86-64 it would run in SSE2 alone. Each copy rounds as the others do (no operation is
/// fused), so the tier does not change a result.
struct Update<'a, T> {
    b1: T,
    b2: T,
    rest1: T,
    rest2: T,
    correct1: T,
    correct2: T,
    lr: T,
    eps: T,
    params: &'a mut [T],
    grads: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
}

impl<T: Float> Update<'_, T> {
    #[inline(always)]
    fn run(&mut self) {
        let (b1, b2, rest1, rest2) = (self.b1, self.b2, self.rest1, self.rest2);
        let (correct1, correct2, lr, eps) = (self.correct1, self.correct2, self.lr, self.eps);
        for (((x, &dx), m), v) in self
            .params
            .iter_mut()
            .zip(self.grads)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            *m = flush(b1 * *m + rest1 * dx);
            *v = flush(b2 * *v + rest2 * dx * dx);
            let m_hat = *m * correct1;
            let v_hat = *v * correct2;
            *x = flush(*x - lr * m_hat / (v_hat.sqrt() + eps));
        }
    }

    super::tier_copies!();
}
