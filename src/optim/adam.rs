//! Adam with bias correction.

use super::{AdamRates, AdamStep, Optimizer, Step, fraction, positive, same_length, sized_state};
use crate::{Error, Float, Network};

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
    pub fn new(lr: f64) -> Self {
        AdamConfig {
            lr,
            ..AdamConfig::default()
        }
    }

    /// Validates the hyperparameters and builds the rule.
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

impl<T: Float> Adam<T> {
    /// The coefficients of step number `t` (counted from 1), with weight decay
    /// `weight_decay`: the bias corrections as factors, computed once in `f64`.
    fn rates(&self, t: u64, weight_decay: f64) -> AdamRates<T> {
        let t = i32::try_from(t).unwrap_or(i32::MAX);
        AdamRates {
            lr: T::of_f64(self.lr),
            beta1: (T::of_f64(self.beta1), T::of_f64(1.0 - self.beta1)),
            beta2: (T::of_f64(self.beta2), T::of_f64(1.0 - self.beta2)),
            corrections: (
                T::of_f64(1.0 / (1.0 - self.beta1.powi(t))),
                T::of_f64(1.0 / (1.0 - self.beta2.powi(t))),
            ),
            eps: T::of_f64(self.eps),
            weight_decay: T::of_f64(weight_decay),
        }
    }

    /// The backward pass of `net` from the output gradient in `tape`, with this optimizer's
    /// step taken in it, layer by layer ([`Network::backward_step`]): the same update as
    /// backward, [`Regularizer::l2`](crate::Regularizer::l2) with strength `weight_decay`
    /// (0 for none) and [`step`](Optimizer::step), without writing the gradient out. A
    /// `Dense` layer's weights take their step as its weight-gradient product computes each
    /// tile of the gradient, on an AVX-512 CPU.
    ///
    /// # Errors
    /// As [`Network::backward_step`], and [`Error::WrongLength`] if this optimizer's state
    /// was sized for another network; the step count and state are then unchanged.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<4, 8>, act: Relu, fc2: Dense<8, 3> } }
    /// let (mut net, mut twin) = (Net::<f64>::init(1), Net::<f64>::init(1));
    /// let x = Batch::<f64, 4>::from_fn(2, |i, j| (i + j) as f64 * 0.5 - 1.0);
    /// let (mut tape, mut grads) = (net.new_tape(2), net.new_grads());
    /// let (mut adam, mut twin_adam) = (AdamConfig::new(0.1).build()?, AdamConfig::new(0.1).build()?);
    /// for _ in 0..3 {
    ///     net.forward_train(x.columns(0, 2), &mut tape)?;
    ///     let (scores, dscores) = tape.output_and_grad_mut();
    ///     SoftmaxCrossEntropy.loss_and_grad(scores, &[0, 2][..], dscores)?;
    ///     adam.step_in_backward(&mut net, &mut tape, 0.0)?;
    ///     twin.loss_and_grad(&x, &[0, 2][..], &SoftmaxCrossEntropy, &mut tape, &mut grads)?;
    ///     twin_adam.step(twin.params_mut(), &grads)?;
    /// }
    /// for (a, b) in net.params().iter().zip(twin.params()) {
    ///     assert!((a - b).abs() < 1e-12);
    /// }
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn step_in_backward<const IN: usize, const OUT: usize, N>(
        &mut self,
        net: &mut N,
        tape: &mut N::Tape,
        weight_decay: f64,
    ) -> Result<(), Error>
    where
        N: Network<T, IN, OUT>,
    {
        let len = net.params().len();
        sized_state(&mut [&mut self.m, &mut self.v], len)?;
        let rates = self.rates(self.steps + 1, weight_decay);
        let step = Step::Adam(AdamStep {
            m: &mut self.m,
            v: &mut self.v,
            rates,
        });
        net.backward_step(tape, step)?;
        self.steps += 1;
        Ok(())
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error> {
        same_length(params, grads)?;
        sized_state(&mut [&mut self.m, &mut self.v], params.len())?;
        self.steps += 1;
        let rates = self.rates(self.steps, 0.0);
        for (((x, &dx), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            rates.update(x, dx, m, v);
        }
        Ok(())
    }

    shared_accessors!("m" => m, "v" => v);
}
