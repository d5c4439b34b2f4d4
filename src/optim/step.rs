//! An update rule taken inside the backward pass: each layer steps its parameters as soon
//! as their gradient is known, so that no gradient is written out and read back.

use super::flush;
use crate::{Error, Float, TensorKind, TensorSpec};

/// The step [`Network::backward_step`](crate::Network::backward_step) takes on each layer's
/// parameters, with a weight decay `weight_decay` (the gradient `weight_decay * w` of an L2
/// penalty `0.5 * weight_decay * w^2` on the weights, biases excluded, as
/// [`Regularizer::l2`](crate::Regularizer::l2) adds it).
///
/// Built by [`Sgd::step_in_backward`](crate::Sgd::step_in_backward) and
/// [`Adam::step_in_backward`](crate::Adam::step_in_backward); a network's backward pass
/// splits it into one per layer.
#[derive(Debug)]
pub enum Step<'a, T> {
    /// `x -= lr * (dx + weight_decay * x)`.
    Sgd {
        /// The learning rate, positive.
        lr: T,
        /// The weight decay, non-negative.
        weight_decay: T,
    },
    /// Adam's update, with its moments for these parameters.
    Adam(AdamStep<'a, T>),
}

/// Adam's state for a run of parameters and its coefficients for this step.
#[derive(Debug)]
pub struct AdamStep<'a, T> {
    /// The first moments, one per parameter.
    pub m: &'a mut [T],
    /// The second moments, one per parameter.
    pub v: &'a mut [T],
    /// The step's coefficients.
    pub rates: AdamRates<T>,
}

/// The coefficients of one Adam step: the decays, the bias corrections for this step count
/// as factors, the learning rate, `eps` and the weight decay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamRates<T> {
    /// `lr`.
    pub lr: T,
    /// `beta1` and `1 - beta1`.
    pub beta1: (T, T),
    /// `beta2` and `1 - beta2`.
    pub beta2: (T, T),
    /// `1 / (1 - beta1^t)` and `1 / (1 - beta2^t)`.
    pub corrections: (T, T),
    /// Added to the root of the second moment.
    pub eps: T,
    /// The L2 weight decay on weights.
    pub weight_decay: T,
}

impl<T: Float> AdamRates<T> {
    /// One parameter's update from its gradient `g` (the weight decay already added), the
    /// formula of [`Adam`](crate::Adam), with subnormal results flushed to zero as there.
    ///
    /// ```
    /// use constnet::optim::AdamRates;
    /// let rates = AdamRates {
    ///     lr: 0.1f64, beta1: (0.9, 0.1), beta2: (0.999, 0.001),
    ///     corrections: (1.0 / 0.1, 1.0 / 0.001), eps: 1e-8, weight_decay: 0.0,
    /// };
    /// let (mut x, mut m, mut v) = (1.0, 0.0, 0.0);
    /// rates.update(&mut x, 3.0, &mut m, &mut v);
    /// assert!((x - 0.9).abs() < 1e-8); // t = 1: the step is lr * 3 / (3 + eps)
    /// ```
    #[inline(always)]
    pub fn update(&self, x: &mut T, g: T, m: &mut T, v: &mut T) {
        *m = flush(self.beta1.0 * *m + self.beta1.1 * g);
        *v = flush(self.beta2.0 * *v + self.beta2.1 * g * g);
        let m_hat = *m * self.corrections.0;
        let v_hat = *v * self.corrections.1;
        *x = flush(*x - self.lr * m_hat / (v_hat.sqrt() + self.eps));
    }
}

impl<'a, T: Float> Step<'a, T> {
    /// The step for the first `len` parameters and the step for the rest.
    ///
    /// # Panics
    /// If the moments are shorter than `len`.
    pub fn split(self, len: usize) -> (Step<'a, T>, Step<'a, T>) {
        match self {
            Step::Sgd { lr, weight_decay } => (
                Step::Sgd { lr, weight_decay },
                Step::Sgd { lr, weight_decay },
            ),
            Step::Adam(AdamStep { m, v, rates }) => {
                let (m, m_rest) = m.split_at_mut(len);
                let (v, v_rest) = v.split_at_mut(len);
                (
                    Step::Adam(AdamStep { m, v, rates }),
                    Step::Adam(AdamStep {
                        m: m_rest,
                        v: v_rest,
                        rates,
                    }),
                )
            }
        }
    }

    /// The same step, borrowed for a shorter time.
    pub fn reborrow(&mut self) -> Step<'_, T> {
        match self {
            Step::Sgd { lr, weight_decay } => Step::Sgd {
                lr: *lr,
                weight_decay: *weight_decay,
            },
            Step::Adam(AdamStep { m, v, rates }) => Step::Adam(AdamStep {
                m,
                v,
                rates: *rates,
            }),
        }
    }

    /// `Ok` for a step a network of `params` parameters can take: positive, finite rates, a
    /// non-negative finite weight decay, and moments of `params` elements each.
    ///
    /// # Errors
    /// [`Error::BadHyperparameter`] or [`Error::WrongLength`].
    pub fn check(&self, params: usize) -> Result<(), Error> {
        match self {
            Step::Sgd { lr, weight_decay } => crate::network::check_sgd_rates(*lr, *weight_decay),
            Step::Adam(AdamStep { m, v, rates }) => {
                crate::network::check_sgd_rates(rates.lr, rates.weight_decay)?;
                for len in [m.len(), v.len()] {
                    if len != params {
                        return Err(Error::WrongLength {
                            what: "Adam moment buffer".into(),
                            expected: params,
                            got: len,
                        });
                    }
                }
                Ok(())
            }
        }
    }

    /// Steps `params`, a layer's parameters laid out as `tensors` say, from their gradient
    /// `grads`: the weight decay applies to the tensors of kind [`TensorKind::Weight`].
    pub fn apply(self, params: &mut [T], grads: &[T], tensors: &[TensorSpec]) {
        let mut step = self;
        for tensor in tensors {
            let range = tensor.offset..tensor.offset + tensor.shape.iter().product::<usize>();
            let decayed = tensor.kind == TensorKind::Weight;
            step.reborrow().apply_range(
                &mut params[range.clone()],
                &grads[range.clone()],
                range.start,
                decayed,
            );
        }
    }

    /// Steps `params` from `grads`, the elements `offset..` of this step's run, with the
    /// weight decay when `decayed`.
    pub fn apply_range(self, params: &mut [T], grads: &[T], offset: usize, decayed: bool) {
        match self {
            Step::Sgd { lr, weight_decay } => {
                let decay = if decayed { weight_decay } else { T::ZERO };
                for (p, &g) in params.iter_mut().zip(grads) {
                    *p -= lr * (g + decay * *p);
                }
            }
            Step::Adam(AdamStep { m, v, rates }) => {
                let decay = if decayed { rates.weight_decay } else { T::ZERO };
                let n = params.len();
                let (m, v) = (&mut m[offset..offset + n], &mut v[offset..offset + n]);
                for (((x, &g), m), v) in params.iter_mut().zip(grads).zip(m).zip(v) {
                    let g = g + decay * *x;
                    rates.update(x, g, m, v);
                }
            }
        }
    }
}
