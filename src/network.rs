//! The [`Network`] trait that every `network!` declaration implements, and the [`Tape`] its
//! training forward pass writes.
//!
//! Trainers, gradient checks, optimizers and serializers are written once against these two
//! traits. Parameters live in one flat buffer ([`Network::params`]); gradients, optimizer state
//! and running averages are flat buffers of the same length, so an update rule is one loop
//! over slices and knows nothing of layers.

use std::fmt::{self, Debug};

use nalgebra::SVector;

use crate::layer::{Storage, TensorKind, TensorSpec};
use crate::{AsBatch, Batch, BatchView, BatchViewMut, Error, Float, Kinks, Loss};

/// One parameter tensor of a network: which layer, its spec, and where it starts in the
/// network's flat parameter buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorRef {
    /// The layer's name in the declaration (`fc1`).
    pub layer: &'static str,
    /// The tensor's local name, shape and layout.
    pub spec: &'static TensorSpec,
    /// Offset of the tensor's first element in the network's parameter buffer.
    pub offset: usize,
}

impl TensorRef {
    /// The tensor's full name, PyTorch style: `fc1.weight`.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3> } }
    /// let mut names = vec![];
    /// Net::<f32>::new(0).for_each_tensor(&mut |t| names.push(t.name()));
    /// assert_eq!(names, ["fc1.weight", "fc1.bias"]);
    /// ```
    pub fn name(&self) -> String {
        format!("{}.{}", self.layer, self.spec.name)
    }

    /// The tensor's element range in the parameter buffer.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.spec.len()
    }

    /// Whether the tensor is a weight (regularized by default) rather than a bias.
    pub fn is_weight(&self) -> bool {
        self.spec.kind == TensorKind::Weight
    }
}

/// One layer of a network, for summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer's name in the declaration.
    pub name: &'static str,
    /// Its kind (`Dense`, `Relu`, ...).
    pub kind: &'static str,
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Number of trainable parameters.
    pub params: usize,
}

/// The buffers a training forward pass fills for the backward pass: every layer's output and
/// cache, the gradient with respect to every layer's output, allocated once for a maximum batch
/// size and reused, so a training step allocates nothing.
pub trait Tape<T: Float, const IN: usize, const OUT: usize> {
    /// The largest batch the tape can hold.
    fn max_batch(&self) -> usize;
    /// The number of samples of the last forward pass (0 before the first).
    fn batch(&self) -> usize;
    /// The network's output (the scores) of the last forward pass.
    fn output(&self) -> BatchView<'_, T, OUT>;
    /// The scores and the buffer for their gradient, which a loss fills before backward.
    fn output_and_grad_mut(&mut self) -> (BatchView<'_, T, OUT>, BatchViewMut<'_, T, OUT>);
    /// The gradient of the loss with respect to the input, after
    /// [`Network::backward_with_input_grad`].
    fn input_grad(&self) -> BatchView<'_, T, IN>;

    /// While `frozen`, every training forward reuses the random masks (dropout) drawn by the
    /// last unfrozen one instead of drawing new ones: what a gradient check needs, since the
    /// loss must be a fixed function of the parameters. Unfrozen by default.
    fn freeze_masks(&mut self, frozen: bool);
}

/// A network from `IN` input features to `OUT` outputs in scalar `T`: what `network!`
/// generates, written against by everything that trains, checks or saves networks.
///
/// ```
/// use constnet::prelude::*;
///
/// network! {
///     /// A tiny classifier.
///     pub struct Tiny { fc1: Dense<4, 8>, act: Relu, fc2: Dense<8, 3> }
/// }
///
/// let mut net = Tiny::new(7);
/// let mut tape = net.new_tape(16);
/// let mut grads = net.new_grads();
/// let x = Batch::<f32, 4>::from_element(16, 0.5);
/// let labels = [1usize; 16];
/// let loss = net.loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)?;
/// assert!(loss.is_finite());
/// assert_eq!(grads.len(), Tiny::<f32>::PARAM_COUNT);
/// # Ok::<(), constnet::Error>(())
/// ```
pub trait Network<T: Float, const IN: usize, const OUT: usize>: Clone + Debug + Sized {
    /// The generated tape type.
    type Tape: Tape<T, IN, OUT>;

    /// The number of trainable parameters.
    const PARAM_COUNT: usize;

    /// The number of elements of non-trainable state (batch norm's running statistics).
    const STATE_COUNT: usize;

    /// A network with freshly initialized parameters, reproducible from `seed`.
    fn init(seed: u64) -> Self;

    /// The flat parameter buffer.
    fn params(&self) -> &[T];

    /// The flat parameter buffer, mutably (for update rules).
    fn params_mut(&mut self) -> &mut [T];

    /// The flat state buffer: every layer's non-trainable state (batch norm's running mean
    /// and variance), which the training forward pass updates and evaluation reads. Update
    /// rules and regularizers never see it; checkpoints save it.
    fn state(&self) -> &[T];

    /// The flat state buffer, mutably.
    fn state_mut(&mut self) -> &mut [T];

    /// Calls `f` for every parameter tensor, in buffer order, without allocating.
    fn for_each_tensor(&self, f: &mut dyn FnMut(TensorRef));

    /// Calls `f` for every state tensor (kind [`TensorKind::State`]), in state-buffer order;
    /// offsets and ranges refer to [`state`](Network::state).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, bn1: BatchNorm } }
    /// let mut names = vec![];
    /// Net::<f32>::new(0).for_each_state_tensor(&mut |t| names.push(t.name()));
    /// assert_eq!(names, ["bn1.running_mean", "bn1.running_var"]);
    /// ```
    fn for_each_state_tensor(&self, f: &mut dyn FnMut(TensorRef));

    /// The `n`-th parameter tensor in declaration order, if there is one.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3> } }
    /// let net = Net::<f32>::new(0);
    /// assert_eq!(net.nth_tensor(1).map(|t| t.name()).as_deref(), Some("fc1.bias"));
    /// assert!(net.nth_tensor(2).is_none());
    /// ```
    fn nth_tensor(&self, n: usize) -> Option<TensorRef> {
        let (mut index, mut found) = (0, None);
        self.for_each_tensor(&mut |t| {
            if index == n {
                found = Some(t);
            }
            index += 1;
        });
        found
    }

    /// The layers, in order.
    fn layers(&self) -> Vec<LayerInfo>;

    /// Forward pass of one sample in evaluation mode, on the stack: no heap allocation.
    fn forward(&self, x: &SVector<T, IN>) -> SVector<T, OUT>;

    /// A tape for batches of up to `max_batch` samples.
    fn new_tape(&self, max_batch: usize) -> Self::Tape;

    /// Forward pass of a batch in evaluation mode, into `tape`'s buffers (no allocation).
    /// `x` is read in place; only [`forward_train`](Network::forward_train) keeps a copy of
    /// it for backward.
    fn forward_into<'t>(
        &self,
        x: BatchView<'_, T, IN>,
        tape: &'t mut Self::Tape,
    ) -> Result<BatchView<'t, T, OUT>, Error>;

    /// Forward pass of a batch in training mode, keeping in `tape` what backward needs.
    /// Training mode differs from evaluation where a layer says so: dropout draws a mask,
    /// batch norm normalizes with the batch's statistics and updates its running ones (hence
    /// `&mut self`).
    fn forward_train<'t>(
        &mut self,
        x: BatchView<'_, T, IN>,
        tape: &'t mut Self::Tape,
    ) -> Result<BatchView<'t, T, OUT>, Error>;

    /// Backward pass from the output gradient in `tape` (see [`Tape::output_and_grad_mut`]):
    /// writes every parameter's gradient into `grads` (overwriting it when `overwrite` is set,
    /// adding into it otherwise), and the input's gradient into the tape when `input_grad` is
    /// set. Layers run in the reverse order of the forward pass. Generated by `network!`;
    /// [`backward`](Network::backward) and [`backward_accumulate`](Network::backward_accumulate)
    /// read better.
    fn backward_into(
        &self,
        tape: &mut Self::Tape,
        grads: &mut [T],
        input_grad: bool,
        overwrite: bool,
    ) -> Result<(), Error>;

    /// Backward pass that adds every parameter's gradient into `grads` (to sum gradients over
    /// several batches), and writes the input's gradient into the tape when `input_grad` is
    /// set.
    fn backward_accumulate(
        &self,
        tape: &mut Self::Tape,
        grads: &mut [T],
        input_grad: bool,
    ) -> Result<(), Error> {
        self.backward_into(tape, grads, input_grad, false)
    }

    /// Backward pass from the output gradient in `tape` and a plain SGD step in one:
    /// `x -= lr * (dx + weight_decay * x)` on every weight and `x -= lr * dx` on the other
    /// parameters (the step of an L2 penalty `0.5 * weight_decay * w^2` on the weights, as
    /// [`Regularizer::l2`](crate::Regularizer::l2); 0 for none). Each layer steps as soon as
    /// its gradient is known (after the gradient of its input, which needs its parameters
    /// from before the step), and a `Dense` layer's weights take
    /// `W = (1 - lr weight_decay) W - lr dZ X^T` as one matrix product into `W`, so that no
    /// gradient is written out and read back (workload W3 took about 10% less time per step
    /// that way). Generated by `network!`;
    /// [`Sgd::step_in_backward`](crate::Sgd::step_in_backward) is the same with the rate of
    /// an `Sgd`. Unlike `Sgd::step`, subnormal parameters are not flushed to zero: with a
    /// weight decay, over very many steps, the weights of dead units can shrink into the
    /// subnormal range, where every product that reads them is slow. The gradient is not
    /// available afterwards, nor the input's gradient: the flat-slice optimizers are the way
    /// to monitor or transform it.
    ///
    /// # Errors
    /// [`Error::BadHyperparameter`] for a rate that is not positive and finite or a weight
    /// decay that is negative or not finite (nothing is changed then), and
    /// [`Error::EmptyBatch`] before a forward pass.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0])?;
    /// let mut tape = net.new_tape(1);
    /// net.forward_train(Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]).columns(0, 1), &mut tape)?;
    /// tape.output_and_grad_mut().1.fill(1.0); // dL/dy = 1
    /// net.backward_sgd(&mut tape, 0.5, 0.0)?;
    /// assert_eq!(net.param("fc.weight")?, [0.5, 1.5]); // minus half of x
    /// assert_eq!(net.param("fc.bias")?, [-0.5]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn backward_sgd(&mut self, tape: &mut Self::Tape, lr: T, weight_decay: T) -> Result<(), Error>;

    /// Records the winners of every max-like gate of the last forward pass (see [`Kinks`]).
    fn record_kinks(&self, tape: &Self::Tape, kinks: &mut Kinks);

    /// Backward pass that overwrites `grads` with the gradient of every parameter.
    fn backward(&self, tape: &mut Self::Tape, grads: &mut [T]) -> Result<(), Error> {
        self.backward_into(tape, grads, false, true)
    }

    /// Like [`backward`](Network::backward), and also writes the gradient with respect to the
    /// input into the tape ([`Tape::input_grad`]).
    fn backward_with_input_grad(
        &self,
        tape: &mut Self::Tape,
        grads: &mut [T],
    ) -> Result<(), Error> {
        self.backward_into(tape, grads, true, true)
    }

    /// Forward in training mode, the loss and its gradient, and backward: returns the mean
    /// loss over the batch and overwrites `grads`. Allocates nothing.
    fn loss_and_grad<L: Loss<T, OUT>>(
        &mut self,
        x: &impl AsBatch<T, IN>,
        target: &L::Target,
        loss: &L,
        tape: &mut Self::Tape,
        grads: &mut [T],
    ) -> Result<T, Error> {
        self.forward_train(x.as_batch(), tape)?;
        let (scores, dscores) = tape.output_and_grad_mut();
        let value = loss.loss_and_grad(scores, target, dscores)?;
        self.backward(tape, grads)?;
        Ok(value)
    }

    /// Forward pass of a batch in evaluation mode into a new matrix (allocates; use
    /// [`forward_into`](Network::forward_into) with a reused tape on a hot path).
    fn forward_batch(&self, x: &impl AsBatch<T, IN>) -> Batch<T, OUT> {
        let x = x.as_batch();
        if x.ncols() == 0 {
            return Batch::<T, OUT>::zeros(0);
        }
        let mut tape = self.new_tape(x.ncols());
        match self.forward_into(x, &mut tape) {
            Ok(y) => y.clone_owned(),
            Err(_) => unreachable!("a tape sized for the batch accepts it"),
        }
    }

    /// The index of the largest output for one sample: the predicted class.
    fn predict(&self, x: &SVector<T, IN>) -> usize {
        argmax(self.forward(x).as_slice())
    }

    /// The fraction of samples whose largest score is at their label.
    fn accuracy(&self, x: &impl AsBatch<T, IN>, labels: &[usize]) -> Result<f64, Error> {
        let x = x.as_batch();
        if labels.len() != x.ncols() {
            return Err(Error::WrongLength {
                what: "labels".into(),
                expected: x.ncols(),
                got: labels.len(),
            });
        }
        if labels.is_empty() {
            return Err(Error::EmptyBatch);
        }
        let scores = self.forward_batch(&x);
        let hits = scores
            .column_iter()
            .zip(labels)
            .filter(|(s, l)| argmax(s.as_slice()) == **l)
            .count();
        Ok(hits as f64 / labels.len() as f64)
    }

    /// A zeroed gradient buffer of the right length.
    fn new_grads(&self) -> Vec<T> {
        vec![T::ZERO; Self::PARAM_COUNT]
    }

    /// Every parameter tensor's full name (`fc1.weight`), in buffer order.
    fn param_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.for_each_tensor(&mut |t| names.push(t.name()));
        names
    }

    /// Every parameter tensor's full name and PyTorch shape (`fc1.weight`, `[out, in]`).
    fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        self.for_each_tensor(&mut |t| out.push((t.name(), t.spec.shape.to_vec())));
        out
    }

    /// Every state tensor's full name (`bn1.running_mean`), in state-buffer order.
    fn state_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.for_each_state_tensor(&mut |t| names.push(t.name()));
        names
    }

    /// Finds a parameter or state tensor by full name; an unknown name is an `Err` that lists
    /// the known ones. A state tensor's kind is [`TensorKind::State`] and its range refers to
    /// the state buffer.
    fn tensor(&self, name: &str) -> Result<TensorRef, Error> {
        let mut found = None;
        let mut visit = |t: TensorRef| {
            if found.is_none() && name.split_once('.') == Some((t.layer, t.spec.name)) {
                found = Some(t);
            }
        };
        self.for_each_tensor(&mut visit);
        self.for_each_state_tensor(&mut visit);
        found.ok_or_else(|| Error::UnknownParameter {
            name: name.to_string(),
            known: [self.param_names(), self.state_names()].concat().join(", "),
        })
    }

    /// Copies a parameter or state tensor into `out` in PyTorch's row-major order
    /// (`fc1.weight` as `[out, in]`).
    fn read_param(&self, name: &str, out: &mut [T]) -> Result<(), Error> {
        let t = self.tensor(name)?;
        check_len(name, t.spec.len(), out.len())?;
        let buffer = match t.spec.kind {
            TensorKind::State => self.state(),
            _ => self.params(),
        };
        let src = &buffer[t.range()];
        match (t.spec.storage, t.spec.shape) {
            (Storage::ColumnMajor, &[rows, cols]) => {
                for (r, row) in out.chunks_exact_mut(cols).enumerate() {
                    for (c, v) in row.iter_mut().enumerate() {
                        *v = src[c * rows + r];
                    }
                }
            }
            _ => out.copy_from_slice(src),
        }
        Ok(())
    }

    /// Overwrites a parameter or state tensor from `values` given in PyTorch's row-major
    /// order.
    fn write_param(&mut self, name: &str, values: &[T]) -> Result<(), Error> {
        let t = self.tensor(name)?;
        check_len(name, t.spec.len(), values.len())?;
        let buffer = match t.spec.kind {
            TensorKind::State => self.state_mut(),
            _ => self.params_mut(),
        };
        let dst = &mut buffer[t.range()];
        match (t.spec.storage, t.spec.shape) {
            (Storage::ColumnMajor, &[rows, cols]) => {
                for (r, row) in values.chunks_exact(cols).enumerate() {
                    for (c, &v) in row.iter().enumerate() {
                        dst[c * rows + r] = v;
                    }
                }
            }
            _ => dst.copy_from_slice(values),
        }
        Ok(())
    }

    /// A tensor as a new vector in PyTorch's row-major order.
    fn param(&self, name: &str) -> Result<Vec<T>, Error> {
        let mut out = vec![T::ZERO; self.tensor(name)?.spec.len()];
        self.read_param(name, &mut out)?;
        Ok(out)
    }

    /// A printable table of the layers, their widths and parameter counts.
    fn summary(&self) -> Summary {
        Summary {
            layers: self.layers(),
            scalar: T::NAME,
        }
    }
}

/// A table of a network's layers, from [`Network::summary`].
#[derive(Debug, Clone)]
pub struct Summary {
    layers: Vec<LayerInfo>,
    scalar: &'static str,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<12} {:<10} {:>7} {:>7} {:>10}",
            "layer", "kind", "in", "out", "params"
        )?;
        for l in &self.layers {
            writeln!(
                f,
                "{:<12} {:<10} {:>7} {:>7} {:>10}",
                l.name, l.kind, l.inputs, l.outputs, l.params
            )?;
        }
        let total: usize = self.layers.iter().map(|l| l.params).sum();
        write!(f, "{total} parameters ({})", self.scalar)
    }
}

/// Checks the rates of [`Network::backward_sgd`]: `lr` positive and finite, `weight_decay`
/// non-negative and finite. Called by the code `network!` generates.
///
/// ```
/// use constnet::network::check_sgd_rates;
/// assert!(check_sgd_rates(0.1f32, 0.0).is_ok());
/// assert!(check_sgd_rates(0.0f32, 0.0).is_err());
/// assert!(check_sgd_rates(0.1f32, -1e-3).is_err());
/// ```
pub fn check_sgd_rates<T: Float>(lr: T, weight_decay: T) -> Result<(), Error> {
    let (lr, weight_decay) = (lr.as_f64(), weight_decay.as_f64());
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::BadHyperparameter {
            name: "learning rate",
            value: lr,
            expected: "a positive, finite number",
        });
    }
    if !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return Err(Error::BadHyperparameter {
            name: "weight decay",
            value: weight_decay,
            expected: "a non-negative, finite number",
        });
    }
    Ok(())
}

/// The index of the largest value (the first one on ties).
///
/// ```
/// assert_eq!(constnet::network::argmax(&[0.1f32, 0.7, 0.2]), 1);
/// ```
pub fn argmax<T: Float>(values: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

fn check_len(what: &str, expected: usize, got: usize) -> Result<(), Error> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::WrongLength {
            what: what.to_string(),
            expected,
            got,
        })
    }
}
