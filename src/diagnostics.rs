//! Training diagnostics: per-tensor update/weight ratios and gradient norms.

use crate::{Error, Float, Network, Optimizer, TensorRef};

/// The norms of one parameter tensor around the last step.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorStats {
    /// The tensor's name, `fc1.weight`.
    pub name: String,
    /// `||w||_2` before the step.
    pub weight_norm: f64,
    /// `||dw||_2` of the gradient the step used.
    pub grad_norm: f64,
    /// `||w_after - w_before||_2`.
    pub update_norm: f64,
}

impl TensorStats {
    /// `||update|| / ||w||`, the notes' health check: about 1e-3 is typical; much lower means
    /// the learning rate is too low, much higher too high. Infinite for an all-zero tensor
    /// that moved, and 0 for one that did not.
    pub fn update_ratio(&self) -> f64 {
        if self.update_norm == 0.0 {
            0.0
        } else {
            self.update_norm / self.weight_norm
        }
    }
}

/// Watches the steps of an optimizer and records, per parameter tensor, the update/weight
/// ratio and the gradient norm. A training loop that does not use it pays nothing; one that
/// does pays a copy of the parameters and three norms per step, with no allocation after
/// [`new`](Self::new).
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 2> } }
/// let mut net = Net::new(0);
/// let mut sgd = Sgd::new(1e-2)?;
/// let grads = vec![0.5f32; Net::<f32>::PARAM_COUNT];
/// let mut monitor = UpdateMonitor::new(&net);
/// monitor.step(&mut net, &grads, &mut sgd)?;
/// let w = &monitor.tensors()[0];
/// assert_eq!(w.name, "fc.weight");
/// assert!((w.grad_norm - 1.0).abs() < 1e-6); // four gradients of 0.5
/// assert!((w.update_norm - 1e-2).abs() < 1e-6);
/// # Ok::<(), constnet::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct UpdateMonitor<T: Float> {
    tensors: Vec<TensorRef>,
    before: Vec<T>,
    stats: Vec<TensorStats>,
}

impl<T: Float> UpdateMonitor<T> {
    /// A monitor for `net`'s tensors.
    pub fn new<const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(net: &N) -> Self {
        let mut tensors = Vec::new();
        net.for_each_tensor(&mut |t| tensors.push(t));
        let stats = tensors
            .iter()
            .map(|t| TensorStats {
                name: t.name(),
                weight_norm: 0.0,
                grad_norm: 0.0,
                update_norm: 0.0,
            })
            .collect();
        UpdateMonitor {
            tensors,
            before: vec![T::ZERO; net.params().len()],
            stats,
        }
    }

    /// Runs `optimizer.step(net.params_mut(), grads)` and records the statistics of that step.
    pub fn step<const IN: usize, const OUT: usize, N, O>(
        &mut self,
        net: &mut N,
        grads: &[T],
        optimizer: &mut O,
    ) -> Result<(), Error>
    where
        N: Network<T, IN, OUT>,
        O: Optimizer<T>,
    {
        if net.params().len() != self.before.len() {
            return Err(Error::WrongLength {
                what: "network parameters (the monitor was built for another network)".into(),
                expected: self.before.len(),
                got: net.params().len(),
            });
        }
        self.before.copy_from_slice(net.params());
        optimizer.step(net.params_mut(), grads)?;
        let after = net.params();
        for (t, stats) in self.tensors.iter().zip(&mut self.stats) {
            let range = t.range();
            let (w0, w1, g) = (
                &self.before[range.clone()],
                &after[range.clone()],
                &grads[range],
            );
            stats.weight_norm = norm(w0.iter().map(|w| w.as_f64()));
            stats.grad_norm = norm(g.iter().map(|g| g.as_f64()));
            stats.update_norm = norm(w1.iter().zip(w0).map(|(a, b)| (*a - *b).as_f64()));
        }
        Ok(())
    }

    /// The statistics of the last step, one entry per tensor in declaration order.
    pub fn tensors(&self) -> &[TensorStats] {
        &self.stats
    }
}

/// The Euclidean norm of `values`, accumulated in `f64`.
fn norm(values: impl Iterator<Item = f64>) -> f64 {
    values.map(|v| v * v).sum::<f64>().sqrt()
}
