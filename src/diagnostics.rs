//! Training diagnostics: per-tensor update/weight ratios and gradient norms.

use crate::error::Error;
use crate::network::{Network, TensorRef};
use crate::optim::Optimizer;
use crate::scalar::Float;

/// The norms of one parameter tensor around the last step, as an [`UpdateMonitor`] records
/// them.
///
/// ```
/// use constnet::TensorStats;
/// let stats = TensorStats {
///     name: "fc1.weight".into(),
///     weight_norm: 4.0,
///     grad_norm: 0.5,
///     update_norm: 0.004,
/// };
/// assert!((stats.update_ratio() - 1e-3).abs() < 1e-12);
/// ```
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
    ///
    /// ```
    /// use constnet::TensorStats;
    /// let stats = |weight_norm, update_norm| TensorStats {
    ///     name: "fc.bias".into(),
    ///     weight_norm,
    ///     grad_norm: 1.0,
    ///     update_norm,
    /// };
    /// assert_eq!(stats(2.0, 0.5).update_ratio(), 0.25);
    /// assert_eq!(stats(0.0, 0.0).update_ratio(), 0.0); // zero biases that did not move
    /// assert_eq!(stats(0.0, 0.1).update_ratio(), f64::INFINITY);
    /// ```
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
    /// A monitor for `net`'s tensors; until its first step every norm is 0.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<3, 4>, act: Tanh, fc2: Dense<4, 2> } }
    /// let monitor = UpdateMonitor::new(&Net::<f32>::new(0));
    /// let names: Vec<&str> = monitor.tensors().iter().map(|t| t.name.as_str()).collect();
    /// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
    /// assert!(monitor.tensors().iter().all(|t| t.update_norm == 0.0));
    /// ```
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
    /// A network with another parameter count than the one the monitor was built for is an
    /// [`Error::WrongLength`], and nothing is stepped.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! {
    ///     struct Small { fc: Dense<2, 1> }
    ///     struct Large { fc: Dense<4, 1> }
    /// }
    /// let mut net = Small::new(0);
    /// let mut monitor = UpdateMonitor::new(&net);
    /// let mut sgd = Sgd::new(0.1)?;
    /// // The bias starts at 0; a gradient of 2 moves it by lr * 2.
    /// monitor.step(&mut net, &[0.0, 0.0, 2.0], &mut sgd)?;
    /// let bias = &monitor.tensors()[1];
    /// assert_eq!((bias.weight_norm, bias.grad_norm), (0.0, 2.0));
    /// assert!((bias.update_norm - 0.2).abs() < 1e-6);
    /// let mut other = Large::new(0);
    /// assert!(monitor.step(&mut other, &[0.0; 5], &mut sgd).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
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
        let before = std::mem::take(&mut self.before);
        self.record(&before, net.params(), grads);
        self.before = before;
        Ok(())
    }

    /// Records the statistics of a step that took the parameters from `before` to `after`
    /// with `grads`, for a caller that kept `before` anyway (the trainer keeps it to roll
    /// back a diverged step), so that [`step`](Self::step)'s copy is not made twice.
    pub(crate) fn record(&mut self, before: &[T], after: &[T], grads: &[T]) {
        for (t, stats) in self.tensors.iter().zip(&mut self.stats) {
            let range = t.range();
            let (w0, w1, g) = (&before[range.clone()], &after[range.clone()], &grads[range]);
            (stats.weight_norm, stats.grad_norm, stats.update_norm) = norms(w0, w1, g);
        }
    }

    /// The statistics of the last step, one entry per tensor in declaration order.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<1, 1> } }
    /// let mut net = Net::new(0);
    /// let mut monitor = UpdateMonitor::new(&net);
    /// monitor.step(&mut net, &[1.0, 1.0], &mut Sgd::new(0.5)?)?;
    /// let [weight, bias] = monitor.tensors() else { panic!("two tensors") };
    /// assert_eq!((weight.name.as_str(), bias.name.as_str()), ("fc.weight", "fc.bias"));
    /// assert!((weight.update_norm - 0.5).abs() < 1e-6 && (bias.update_norm - 0.5).abs() < 1e-6);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn tensors(&self) -> &[TensorStats] {
        &self.stats
    }
}

/// The Euclidean norms of `w0`, `g` and `w1 - w0` (the difference taken in `T`), in one
/// pass accumulated in `f64` over 8 independent lanes, so that the loop vectorizes (a
/// single running sum made a recorded MNIST step half again as long).
fn norms<T: Float>(w0: &[T], w1: &[T], g: &[T]) -> (f64, f64, f64) {
    const LANES: usize = 8;
    let (mut w, mut d, mut u) = ([0.0f64; LANES], [0.0f64; LANES], [0.0f64; LANES]);
    let mut add = |lane: usize, a: T, b: T, dg: T| {
        let (x, step, grad) = (a.as_f64(), (b - a).as_f64(), dg.as_f64());
        w[lane] += x * x;
        u[lane] += step * step;
        d[lane] += grad * grad;
    };
    let (c0, c1, c2) = (
        w0.chunks_exact(LANES),
        w1.chunks_exact(LANES),
        g.chunks_exact(LANES),
    );
    let (r0, r1, r2) = (c0.remainder(), c1.remainder(), c2.remainder());
    for ((a, b), dg) in c0.zip(c1).zip(c2) {
        for lane in 0..LANES {
            add(lane, a[lane], b[lane], dg[lane]);
        }
    }
    for (lane, ((&a, &b), &dg)) in r0.iter().zip(r1).zip(r2).enumerate() {
        add(lane, a, b, dg);
    }
    let total = |lanes: [f64; LANES]| lanes.iter().sum::<f64>().sqrt();
    (total(w), total(d), total(u))
}
