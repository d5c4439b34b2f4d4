//! Vanilla stochastic gradient descent.

use super::{Optimizer, flush, in_scalar, positive, same_length};
use crate::error::Error;
use crate::network::Network;
use crate::scalar::Float;
use crate::tiers::run_mut;

/// Vanilla stochastic gradient descent: `x -= lr * dx`. It has no state but its step count.
///
/// Same as PyTorch's `torch.optim.SGD` without momentum.
///
/// ```
/// use constnet::prelude::*;
/// let mut sgd = Sgd::new(0.5)?;
/// let mut x = [1.0f32, 2.0];
/// sgd.step(&mut x, &[2.0, -2.0])?;
/// assert_eq!(x, [0.0, 3.0]);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    lr: f64,
    steps: u64,
}

impl Sgd {
    /// SGD with learning rate `lr`, which must be positive and finite.
    ///
    /// ```
    /// assert!(constnet::Sgd::new(-0.1).is_err());
    /// ```
    pub fn new(lr: f64) -> Result<Self, Error> {
        Ok(Sgd {
            lr: positive("learning rate", lr)?,
            steps: 0,
        })
    }
}

impl Sgd {
    /// The backward pass of `net` from the output gradient in `tape`, with this optimizer's
    /// step taken in it: [`Network::backward_sgd`] at this optimizer's rate, with
    /// `weight_decay` the strength of an L2 penalty on the weights (0 for none). The
    /// gradient is never written out, which made workload W3's step take about 10% less
    /// time than backward followed by [`step`](Optimizer::step).
    ///
    /// # Errors
    /// As [`Network::backward_sgd`]; the step count is then unchanged.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<4, 8>, act: Relu, fc2: Dense<8, 3> } }
    /// let mut net = Net::new(1);
    /// let mut tape = net.new_tape(2);
    /// let x = Batch::<f32, 4>::from_fn(2, |i, j| (i + j) as f32 * 0.5);
    /// let mut sgd = Sgd::new(0.1)?;
    /// let before = SoftmaxCrossEntropy.loss_and_grad(net.forward_train(x.columns(0, 2), &mut tape)?, &[0, 2][..], Batch::zeros(2).columns_mut(0, 2))?;
    /// for _ in 0..20 {
    ///     net.forward_train(x.columns(0, 2), &mut tape)?;
    ///     let (scores, dscores) = tape.output_and_grad_mut();
    ///     SoftmaxCrossEntropy.loss_and_grad(scores, &[0, 2][..], dscores)?;
    ///     sgd.step_in_backward(&mut net, &mut tape, 0.0)?;
    /// }
    /// let after = SoftmaxCrossEntropy.loss_and_grad(net.forward_train(x.columns(0, 2), &mut tape)?, &[0, 2][..], Batch::zeros(2).columns_mut(0, 2))?;
    /// assert!(after < before);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn step_in_backward<T: Float, const IN: usize, const OUT: usize, N>(
        &mut self,
        net: &mut N,
        tape: &mut N::Tape,
        weight_decay: f64,
    ) -> Result<(), Error>
    where
        N: Network<T, IN, OUT>,
    {
        net.backward_sgd(
            tape,
            in_scalar("learning rate", self.lr)?,
            T::of_f64(weight_decay),
        )?;
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }
}

impl<T: Float> Optimizer<T> for Sgd {
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), Error> {
        same_length(params, grads)?;
        let lr = in_scalar::<T>("learning rate", self.lr)?;
        run_mut(
            &mut Update { lr, params, grads },
            Update::run,
            Update::run_avx2,
            Update::run_avx512,
        );
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    shared_accessors!();
}

/// One step's update of every parameter, its loop compiled once per instruction-set tier
/// ([`run_mut`]) as Adam's is; each copy rounds as the others do.
struct Update<'a, T> {
    lr: T,
    params: &'a mut [T],
    grads: &'a [T],
}

impl<T: Float> Update<'_, T> {
    #[inline(always)]
    fn run(&mut self) {
        let lr = self.lr;
        for (x, &dx) in self.params.iter_mut().zip(self.grads) {
            *x = flush(*x - lr * dx);
        }
    }

    super::tier_copies!();
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
