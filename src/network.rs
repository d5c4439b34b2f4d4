//! The [`Network`] trait that every `network!` declaration implements, and the [`Tape`] its
//! training forward pass writes.
//!
//! Trainers, gradient checks, optimizers and serializers are written once against these two
//! traits. Parameters live in one flat buffer ([`Network::params`]); gradients, optimizer state
//! and running averages are flat buffers of the same length, so an update rule is one loop
//! over slices and knows nothing of layers.

use std::fmt::{self, Debug};

use nalgebra::SVector;

use crate::batch::{BatchView, BatchViewMut, Sample};
use crate::checkpoint::Checkpoint;
use crate::error::Error;
use crate::layer::{Kinks, Storage, TensorKind, TensorSpec};
use crate::scalar::Float;

mod calls;
pub use calls::{OnBatch, OnSample};
pub(crate) use calls::{as_batch, loss_and_grad};

/// One parameter tensor of a network: which layer, its spec, and where it starts in the
/// network's flat parameter buffer.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc1: Dense<2, 3>, fc2: Dense<3, 1> } }
/// let t = Net::<f32>::new(0).tensor("fc2.weight")?;
/// assert_eq!((t.layer, t.spec.name, t.spec.shape), ("fc2", "weight", &[1, 3][..]));
/// assert_eq!(t.offset, 3 * 2 + 3); // after fc1's weight and bias
/// # Ok::<(), constnet::Error>(())
/// ```
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
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3> } }
    /// let net = Net::<f32>::new(0);
    /// let bias = net.tensor("fc1.bias")?;
    /// assert_eq!(bias.range(), 6..9);
    /// assert_eq!(net.params()[bias.range()], [0.0; 3]); // biases start at zero
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.spec.len()
    }

    /// Whether the tensor is a weight (regularized by default) rather than a bias.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, bn: BatchNorm } }
    /// let net = Net::<f32>::new(0);
    /// assert!(net.tensor("fc1.weight")?.is_weight());
    /// assert!(!net.tensor("fc1.bias")?.is_weight());
    /// assert!(!net.tensor("bn.weight")?.is_weight()); // batch norm's scale counts as a bias
    /// # Ok::<(), constnet::Error>(())
    /// ```
    pub fn is_weight(&self) -> bool {
        self.spec.kind == TensorKind::Weight
    }
}

/// One layer of a network, for summaries.
///
/// ```
/// use constnet::{LayerInfo, prelude::*};
/// network! { struct Net { fc1: Dense<2, 3>, act: Relu, fc2: Dense<3, 1> } }
/// let layers = Net::<f32>::new(0).layers();
/// let fc1 = LayerInfo { name: "fc1", kind: "Dense", inputs: 2, outputs: 3, params: 9 };
/// assert_eq!(layers[0], fc1);
/// assert_eq!((layers[1].kind, layers[1].params), ("Relu", 0));
/// ```
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
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 3>, act: Relu } }
/// let net = Net::new(0);
/// let mut tape = net.new_tape(8); // room for up to 8 samples
/// let x = Batch::<f32, 2>::zeros(5);
/// net.forward_into(x.columns(0, 5), &mut tape)?;
/// assert_eq!((tape.max_batch(), tape.batch()), (8, 5));
/// assert_eq!(tape.output().shape(), (3, 5));
/// # Ok::<(), constnet::Error>(())
/// ```
pub trait Tape<T: Float, const IN: usize, const OUT: usize> {
    /// The largest batch the tape can hold.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let net = Net::new(0);
    /// let mut tape = net.new_tape(4);
    /// assert_eq!(tape.max_batch(), 4);
    /// let x = Batch::<f32, 2>::zeros(5);
    /// let err = net.forward_into(x.columns(0, 5), &mut tape).unwrap_err();
    /// assert_eq!(err, Error::BatchTooLarge { max: 4, got: 5 });
    /// ```
    fn max_batch(&self) -> usize;
    /// The number of samples of the last forward pass (0 before the first).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let net = Net::new(0);
    /// let mut tape = net.new_tape(4);
    /// assert_eq!(tape.batch(), 0);
    /// let x = Batch::<f32, 2>::zeros(3);
    /// net.forward_into(x.columns(0, 3), &mut tape)?;
    /// assert_eq!(tape.batch(), 3);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn batch(&self) -> usize;
    /// The network's output (the scores) of the last forward pass.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 3>, act: Tanh } }
    /// let mut net = Net::new(0);
    /// let x = Batch::<f32, 2>::from_element(4, 0.5);
    /// let mut tape = net.new_tape(4);
    /// net.forward_train(x.columns(0, 4), &mut tape)?;
    /// // the scores, kept for the loss and backward
    /// assert_eq!(tape.output(), net.forward_batch(&x));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn output(&self) -> BatchView<'_, T, OUT>;
    /// The scores and the buffer for their gradient, which a loss fills before backward.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0])?;
    /// let (mut tape, mut grads) = (net.new_tape(1), net.new_grads());
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// net.forward_train(x.columns(0, 1), &mut tape)?;
    /// let (scores, mut dscores) = tape.output_and_grad_mut();
    /// dscores.copy_from(&scores); // the gradient of 0.5 * y^2
    /// net.backward(&mut tape, &mut grads)?;
    /// assert_eq!(grads, [3.0, 3.0, 3.0]); // y = 3: dW = 3 x^T, db = 3
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn output_and_grad_mut(&mut self) -> (BatchView<'_, T, OUT>, BatchViewMut<'_, T, OUT>);
    /// The gradient of the loss with respect to the input, after
    /// [`Network::backward_with_input_grad`]. A plain [`Network::backward`] does not compute
    /// it (that saves the first layer's `W^T dZ`) and leaves the buffer as it was: zeros on a
    /// new tape, or what the last `backward_with_input_grad` wrote.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0])?;
    /// let (mut tape, mut grads) = (net.new_tape(2), net.new_grads());
    /// net.forward_train(Batch::<f32, 2>::zeros(2).columns(0, 2), &mut tape)?;
    /// tape.output_and_grad_mut().1.fill(1.0); // dL/dy = 1 for both samples
    /// net.backward_with_input_grad(&mut tape, &mut grads)?;
    /// assert_eq!(tape.input_grad().as_slice(), &[1.0, 2.0, 1.0, 2.0]); // W^T dL/dy
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn input_grad(&self) -> BatchView<'_, T, IN>;

    /// While `frozen`, every training forward reuses the random masks (dropout) drawn by the
    /// last unfrozen one instead of drawing new ones: what a gradient check needs, since the
    /// loss must be a fixed function of the parameters. Unfrozen by default.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<4, 16>, drop: Dropout } }
    /// let mut net = Net::new(0);
    /// let x = Batch::<f32, 4>::from_element(2, 1.0);
    /// let mut tape = net.new_tape(2);
    /// let first = net.forward_train(x.columns(0, 2), &mut tape)?.clone_owned();
    /// tape.freeze_masks(true);
    /// assert_eq!(net.forward_train(x.columns(0, 2), &mut tape)?, first); // the same mask
    /// tape.freeze_masks(false);
    /// assert_ne!(net.forward_train(x.columns(0, 2), &mut tape)?, first); // a new one
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn freeze_masks(&mut self, frozen: bool);

    /// Reseeds every layer's random draws (dropout's masks) from its seed and `stream`
    /// (see [`Layer::reseed_masks`](crate::Layer::reseed_masks)): the trainer does it at the
    /// start of each epoch, so an epoch's masks depend on its number alone.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<4, 16>, drop: Dropout } }
    /// let mut net = Net::new(0);
    /// let x = Batch::<f32, 4>::from_element(2, 1.0);
    /// let mut tape = net.new_tape(2);
    /// tape.reseed_masks(7);
    /// let first = net.forward_train(x.columns(0, 2), &mut tape)?.clone_owned();
    /// net.forward_train(x.columns(0, 2), &mut tape)?; // another draw
    /// tape.reseed_masks(7);
    /// assert_eq!(net.forward_train(x.columns(0, 2), &mut tape)?, first); // the same again
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn reseed_masks(&mut self, stream: u64);

    /// Dropout layer `layer`'s keep mask from the last training batch: 1 where a unit was
    /// kept, 0 where it was dropped, sample by sample (see
    /// [`Layer::mask`](crate::Layer::mask)). A layer that draws no mask, or a name that is no
    /// layer, is an error.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 8>, drop: Dropout(0.5, seed = 42) } }
    /// let mut net = Net::<f64>::init(0);
    /// let x = Batch::<f64, 2>::from_element(3, 1.0);
    /// let mut tape = net.new_tape(3);
    /// let y = net.forward_train(x.columns(0, 3), &mut tape)?.clone_owned();
    /// let mask = tape.mask("drop")?;
    /// let h = net.forward_batch(&x); // no dropout in evaluation
    /// for ((y, h), m) in y.iter().zip(h.iter()).zip(&mask) {
    ///     assert_eq!(*y, h * m / 0.5);
    /// }
    /// assert!(tape.mask("fc").is_err() && tape.mask("drop2").is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn mask(&self, layer: &str) -> Result<Vec<T>, Error>;

    /// Sets dropout layer `layer`'s keep mask (1 keeps a unit, 0 drops it) for the training
    /// batches that follow, held until [`freeze_masks(false)`](Tape::freeze_masks) (see
    /// [`Layer::set_mask`](crate::Layer::set_mask)): forward is then `x * mask / p` and
    /// backward `dy * mask / p`, checkable by hand.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<1, 2>, drop: Dropout(0.5) } }
    /// let mut net = Net::<f64>::init(0);
    /// net.write_param("fc.weight", &[1.0, 2.0])?;
    /// net.write_param("fc.bias", &[0.0, 0.0])?;
    /// let mut tape = net.new_tape(1);
    /// tape.set_mask("drop", &[0.0, 1.0])?;
    /// let x = Batch::<f64, 1>::from_element(1, 3.0);
    /// assert_eq!(net.forward_train(x.columns(0, 1), &mut tape)?.as_slice(), &[0.0, 12.0]);
    /// assert!(tape.set_mask("fc", &[1.0, 1.0]).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn set_mask(&mut self, layer: &str, keep: &[T]) -> Result<(), Error>;
}

/// A network of scalar `T` at whatever widths: its flat buffers and its checkpoint, for code
/// that does not name the widths, as the training callbacks
/// ([`AverageWeights`](crate::train::AverageWeights),
/// [`EarlyStopping`](crate::train::EarlyStopping),
/// [`SaveCheckpoints`](crate::train::SaveCheckpoints)) do, so that they are typed by the
/// scalar alone. `network!` implements it for every network, beside [`Network`], whose
/// items it returns.
///
/// ```
/// use constnet::network::AnyNetwork;
/// use constnet::prelude::*;
/// network! { struct Net { fc: Dense<2, 2>, bn: BatchNorm } }
/// fn sizes<T, N: AnyNetwork<T>>(net: &N) -> (usize, usize) {
///     (net.flat_params().len(), net.flat_state().len())
/// }
/// let mut net = Net::<f32>::new(0);
/// // fc's weight and bias, bn's scale and shift; bn's running mean and variance, its batch count
/// assert_eq!(sizes(&net), (10, 5));
/// net.flat_params_mut()[0] = 0.5;
/// assert_eq!(net.params()[0], 0.5);
/// assert_eq!(net.to_checkpoint().get::<f32>("fc.weight").unwrap().0, [2, 2]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a network of `{T}`",
    label = "a network of another scalar type"
)]
pub trait AnyNetwork<T> {
    /// The flat parameter buffer, as [`Network::params`].
    fn flat_params(&self) -> &[T];
    /// As [`Network::params_mut`].
    fn flat_params_mut(&mut self) -> &mut [T];
    /// The flat state buffer (batch norm's running statistics), as [`Network::state`].
    fn flat_state(&self) -> &[T];
    /// As [`Network::state_mut`].
    fn flat_state_mut(&mut self) -> &mut [T];
    /// The network's tensors by their PyTorch names, as [`Checkpoint::of`].
    fn to_checkpoint(&self) -> Checkpoint;
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a network from {IN} inputs to {OUT} outputs of `{T}`",
    label = "a network of other widths or scalar type"
)]
pub trait Network<T: Float, const IN: usize, const OUT: usize>: Clone + Debug + Sized {
    /// The generated tape type.
    type Tape: Tape<T, IN, OUT>;

    /// The number of trainable parameters.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, act: Relu, fc2: Dense<3, 1> } }
    /// // weights and biases: (3 * 2 + 3) + (1 * 3 + 1)
    /// assert_eq!(<Net as Network<f32, 2, 1>>::PARAM_COUNT, 13);
    /// ```
    const PARAM_COUNT: usize;

    /// The number of elements of non-trainable state (batch norm's running statistics and
    /// count of training batches).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 3>, bn: BatchNorm } }
    /// // a running mean and a running variance for each of the 3 features, and the count
    /// assert_eq!(<Net as Network<f32, 2, 3>>::STATE_COUNT, 7);
    /// network! { struct Plain { fc: Dense<2, 3> } }
    /// assert_eq!(<Plain as Network<f32, 2, 3>>::STATE_COUNT, 0);
    /// ```
    const STATE_COUNT: usize;

    /// A network with freshly initialized parameters, reproducible from `seed`.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 3> } }
    /// fn fresh<N: Network<f64, 2, 3>>(seed: u64) -> N {
    ///     N::init(seed)
    /// }
    /// let (a, b, c): (Net<f64>, Net<f64>, Net<f64>) = (fresh(1), fresh(1), fresh(2));
    /// assert_eq!(a.params(), b.params());
    /// assert_ne!(a.params(), c.params());
    /// ```
    fn init(seed: u64) -> Self;

    /// The flat parameter buffer.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0, 3.0, 4.0])?; // [[1, 2], [3, 4]]
    /// net.write_param("fc.bias", &[5.0, 6.0])?;
    /// // the weights column by column, then the biases
    /// assert_eq!(net.params(), &[1.0, 3.0, 2.0, 4.0, 5.0, 6.0]);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn params(&self) -> &[T];

    /// The flat parameter buffer, mutably (for update rules).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.params_mut().copy_from_slice(&[1.0, 2.0, 0.5]); // weight [[1, 2]], bias 0.5
    /// assert_eq!(net.forward(&Sample::from([1.0, 1.0]))[0], 3.5);
    /// ```
    fn params_mut(&mut self) -> &mut [T];

    /// The flat state buffer: every layer's non-trainable state (batch norm's running mean
    /// and variance), which the training forward pass updates and evaluation reads. Update
    /// rules and regularizers never see it; checkpoints save it.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 3>, bn: BatchNorm } }
    /// let net = Net::new(0);
    /// // running mean 0, then running variance 1, for each of the 3 features; no batch yet
    /// assert_eq!(net.state(), &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]);
    /// ```
    fn state(&self) -> &[T];

    /// The flat state buffer, mutably.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<1, 1>, bn: BatchNorm } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0])?;
    /// // running mean 2, running variance 4, 10 training batches counted
    /// net.state_mut().copy_from_slice(&[2.0, 4.0, 10.0]);
    /// // evaluation normalizes with the running statistics: (6 - 2) / sqrt(4)
    /// let y = net.forward(&Sample::from([6.0]))[0];
    /// assert!((y - 2.0).abs() < 1e-5);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn state_mut(&mut self) -> &mut [T];

    /// Calls `f` for every parameter tensor, in buffer order, without allocating.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, fc2: Dense<3, 1> } }
    /// let mut offsets = vec![];
    /// Net::<f32>::new(0).for_each_tensor(&mut |t| offsets.push(t.offset));
    /// assert_eq!(offsets, [0, 6, 9, 12]); // fc1.weight, fc1.bias, fc2.weight, fc2.bias
    /// ```
    fn for_each_tensor(&self, f: &mut dyn FnMut(TensorRef));

    /// Calls `f` for every state tensor (kind [`TensorKind::State`] or
    /// [`TensorKind::Count`]), in state-buffer order;
    /// offsets and ranges refer to [`state`](Network::state).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, bn1: BatchNorm } }
    /// let mut names = vec![];
    /// Net::<f32>::new(0).for_each_state_tensor(&mut |t| names.push(t.name()));
    /// assert_eq!(names, ["bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"]);
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
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, act: Relu, fc2: Dense<3, 1> } }
    /// let layers = Net::<f32>::new(0).layers();
    /// let kinds: Vec<_> = layers.iter().map(|l| (l.kind, l.params)).collect();
    /// assert_eq!(kinds, [("Dense", 9), ("Relu", 0), ("Dense", 4)]);
    /// ```
    fn layers(&self) -> Vec<LayerInfo>;

    /// The single-sample forward pass that [`OnSample::forward`] runs. Generated by
    /// `network!`, like the three below, which take the input as the type it is and so
    /// leave it to [`OnSample`] and [`OnBatch`] to say what a call with the wrong input is.
    #[doc(hidden)]
    fn forward_sample(&self, x: &Sample<T, IN>) -> SVector<T, OUT>;

    /// What [`OnSample::for_each_activation`] runs.
    #[doc(hidden)]
    fn activations_of(&self, x: &Sample<T, IN>, f: &mut dyn FnMut(&'static str, &[T]));

    /// What [`OnBatch::forward_into`] runs.
    #[doc(hidden)]
    fn forward_view<'t>(
        &self,
        x: BatchView<'_, T, IN>,
        tape: &'t mut Self::Tape,
    ) -> Result<BatchView<'t, T, OUT>, Error>;

    /// What [`OnBatch::forward_train`] runs.
    #[doc(hidden)]
    fn forward_view_train<'t>(
        &mut self,
        x: BatchView<'_, T, IN>,
        tape: &'t mut Self::Tape,
    ) -> Result<BatchView<'t, T, OUT>, Error>;

    /// A tape for batches of up to `max_batch` samples.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let tape = Net::new(0).new_tape(64);
    /// assert_eq!((tape.max_batch(), tape.batch()), (64, 0));
    /// ```
    fn new_tape(&self, max_batch: usize) -> Self::Tape;

    /// Backward pass from the output gradient in `tape` (see [`Tape::output_and_grad_mut`]):
    /// writes every parameter's gradient into `grads` (overwriting it when `overwrite` is set,
    /// adding into it otherwise), and the input's gradient into the tape when `input_grad` is
    /// set. Layers run in the reverse order of the forward pass. Generated by `network!`;
    /// [`backward`](Network::backward) and [`backward_accumulate`](Network::backward_accumulate)
    /// read better.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0])?;
    /// let mut tape = net.new_tape(1);
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// net.forward_train(x.columns(0, 1), &mut tape)?;
    /// tape.output_and_grad_mut().1.fill(1.0); // dL/dy = 1
    /// let mut grads = vec![10.0; 3];
    /// net.backward_into(&mut tape, &mut grads, true, false)?; // add; and the input's gradient
    /// assert_eq!(grads, [11.0, 11.0, 11.0]); // 10 + dW (dy x^T = [1, 1]), 10 + db (1)
    /// assert_eq!(tape.input_grad().as_slice(), &[1.0, 2.0]); // W^T dy
    /// net.backward_into(&mut tape, &mut grads, false, true)?; // overwrite
    /// assert_eq!(grads, [1.0, 1.0, 1.0]);
    /// assert!(net.backward_into(&mut tape, &mut [0.0; 2], false, true).is_err()); // wrong length
    /// # Ok::<(), constnet::Error>(())
    /// ```
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
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// let (mut tape, mut grads) = (net.new_tape(1), net.new_grads());
    /// for x in [[1.0, 1.0], [2.0, 0.0]] {
    ///     net.forward_train(Batch::<f32, 2>::from_column_slice(&x).columns(0, 1), &mut tape)?;
    ///     tape.output_and_grad_mut().1.fill(1.0); // dL/dy = 1
    ///     net.backward_accumulate(&mut tape, &mut grads, false)?;
    /// }
    /// assert_eq!(grads, [3.0, 1.0, 2.0]); // dW: [1, 1] + [2, 0]; db: 1 + 1
    /// # Ok::<(), constnet::Error>(())
    /// ```
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
    ///
    /// ```
    /// use constnet::{Kinks, prelude::*};
    /// network! { struct Net { fc: Dense<2, 2>, act: Relu } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 0.0, 0.0, 1.0])?; // the identity
    /// let mut tape = net.new_tape(1);
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, -1.0]);
    /// net.forward_train(x.columns(0, 1), &mut tape)?;
    /// let mut kinks = Kinks::default();
    /// net.record_kinks(&tape, &mut kinks);
    /// let mut expected = Kinks::default();
    /// expected.record(true); // the first ReLU unit fired
    /// expected.record(false); // the second did not
    /// assert_eq!(kinks, expected);
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn record_kinks(&self, tape: &Self::Tape, kinks: &mut Kinks);

    /// Backward pass that overwrites `grads` with the gradient of every parameter.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// let mut grads = vec![5.0; 3]; // whatever was there before
    /// let mut tape = net.new_tape(1);
    /// assert_eq!(net.backward(&mut tape, &mut grads), Err(Error::EmptyBatch)); // no forward yet
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// net.forward_train(x.columns(0, 1), &mut tape)?;
    /// tape.output_and_grad_mut().1.fill(1.0); // dL/dy = 1
    /// net.backward(&mut tape, &mut grads)?;
    /// assert_eq!(grads, [1.0, 1.0, 1.0]); // dW = dy x^T, db = dy
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn backward(&self, tape: &mut Self::Tape, grads: &mut [T]) -> Result<(), Error> {
        self.backward_into(tape, grads, false, true)
    }

    /// Like [`backward`](Network::backward), and also writes the gradient with respect to the
    /// input into the tape ([`Tape::input_grad`]).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 1> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0])?;
    /// let (mut tape, mut grads) = (net.new_tape(1), net.new_grads());
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// net.forward_train(x.columns(0, 1), &mut tape)?;
    /// tape.output_and_grad_mut().1.fill(3.0); // dL/dy = 3
    /// net.backward_with_input_grad(&mut tape, &mut grads)?;
    /// assert_eq!(grads, [3.0, 3.0, 3.0]); // dW = dy x^T, db = dy
    /// assert_eq!(tape.input_grad().as_slice(), &[3.0, 6.0]); // W^T dy
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn backward_with_input_grad(
        &self,
        tape: &mut Self::Tape,
        grads: &mut [T],
    ) -> Result<(), Error> {
        self.backward_into(tape, grads, true, true)
    }

    /// A zeroed gradient buffer of the right length.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, fc2: Dense<3, 1> } }
    /// let grads = Net::new(0).new_grads();
    /// assert_eq!(grads.len(), (3 * 2 + 3) + (3 + 1));
    /// assert!(grads.iter().all(|&g| g == 0.0));
    /// ```
    fn new_grads(&self) -> Vec<T> {
        vec![T::ZERO; Self::PARAM_COUNT]
    }

    /// Every parameter tensor's full name (`fc1.weight`), in buffer order.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, act: Relu, fc2: Dense<3, 1> } }
    /// let names = Net::<f32>::new(0).param_names();
    /// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
    /// ```
    fn param_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.for_each_tensor(&mut |t| names.push(t.name()));
        names
    }

    /// Every parameter tensor's full name and PyTorch shape (`fc1.weight`, `[out, in]`).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, act: Relu, fc2: Dense<3, 1> } }
    /// let shapes = Net::<f32>::new(0).param_shapes();
    /// assert_eq!(shapes.len(), 4);
    /// assert_eq!(shapes[0], ("fc1.weight".to_string(), vec![3, 2])); // [out, in]
    /// assert_eq!(shapes[3], ("fc2.bias".to_string(), vec![1]));
    /// ```
    fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        self.for_each_tensor(&mut |t| out.push((t.name(), t.spec.shape.to_vec())));
        out
    }

    /// Every state tensor's full name (`bn1.running_mean`), in state-buffer order.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! {
    ///     struct Net { fc1: Dense<2, 3>, bn1: BatchNorm, fc2: Dense<3, 2>, bn2: BatchNorm }
    /// }
    /// let names = Net::<f32>::new(0).state_names();
    /// assert_eq!(names, [
    ///     "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
    ///     "bn2.running_mean", "bn2.running_var", "bn2.num_batches_tracked",
    /// ]);
    /// ```
    fn state_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.for_each_state_tensor(&mut |t| names.push(t.name()));
        names
    }

    /// Finds a parameter or state tensor by full name; an unknown name is an `Err` that lists
    /// the known ones. A state tensor's kind is [`TensorKind::State`] and its range refers to
    /// the state buffer.
    ///
    /// ```
    /// use constnet::{TensorKind, prelude::*};
    /// network! { struct Net { fc: Dense<2, 3>, bn: BatchNorm } }
    /// let net = Net::<f32>::new(0);
    /// let var = net.tensor("bn.running_var")?;
    /// assert_eq!(var.spec.kind, TensorKind::State);
    /// assert_eq!(net.state()[var.range()], [1.0; 3]); // a range of the state buffer
    /// let Err(Error::UnknownParameter { known, .. }) = net.tensor("fc2.weight") else { panic!() };
    /// assert_eq!(
    ///     known,
    ///     "fc.weight, fc.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, \
    ///      bn.num_batches_tracked"
    /// );
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn tensor(&self, name: &str) -> Result<TensorRef, Error> {
        let mut found = None;
        let mut visit = |t: TensorRef| {
            if found.is_none() && name.split_once('.') == Some((t.layer, t.spec.name)) {
                found = Some(t);
            }
        };
        self.for_each_tensor(&mut visit);
        self.for_each_state_tensor(&mut visit);
        found.ok_or_else(|| unknown_tensor(name, &self.param_names(), &self.state_names()))
    }

    /// Copies a parameter or state tensor into `out` in PyTorch's row-major order
    /// (`fc1.weight` as `[out, in]`).
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// net.params_mut()[..4].copy_from_slice(&[1.0, 2.0, 3.0, 4.0]); // stored column by column
    /// let mut w = [0.0; 4];
    /// net.read_param("fc.weight", &mut w)?;
    /// assert_eq!(w, [1.0, 3.0, 2.0, 4.0]); // [[1, 3], [2, 4]] row by row
    /// let err = net.read_param("fc.weight", &mut [0.0; 3]).unwrap_err();
    /// assert!(matches!(err, Error::WrongLength { expected: 4, got: 3, .. }));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn read_param(&self, name: &str, out: &mut [T]) -> Result<(), Error> {
        let t = self.tensor(name)?;
        check_len(name, t.spec.len(), out.len())?;
        let buffer = match t.spec.kind {
            TensorKind::State | TensorKind::Count => self.state(),
            TensorKind::Weight | TensorKind::Bias => self.params(),
        };
        in_pytorch_order(t.spec, &buffer[t.range()], out);
        Ok(())
    }

    /// Overwrites a parameter or state tensor from `values` given in PyTorch's row-major
    /// order.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc: Dense<2, 2> } }
    /// let mut net = Net::new(0);
    /// net.write_param("fc.weight", &[1.0, 2.0, 3.0, 4.0])?; // [[1, 2], [3, 4]]
    /// // the first input picks out W's first column
    /// assert_eq!(net.forward(&Sample::from([1.0, 0.0])).as_slice(), &[1.0, 3.0]);
    /// assert!(net.write_param("fc.bias", &[1.0]).is_err()); // 2 values are needed
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn write_param(&mut self, name: &str, values: &[T]) -> Result<(), Error> {
        let t = self.tensor(name)?;
        check_len(name, t.spec.len(), values.len())?;
        let buffer = match t.spec.kind {
            TensorKind::State | TensorKind::Count => self.state_mut(),
            TensorKind::Weight | TensorKind::Bias => self.params_mut(),
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
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { #[init(bias = 0.01)] fc: Dense<2, 3>, bn: BatchNorm } }
    /// let net = Net::<f32>::new(0);
    /// assert_eq!(net.param("fc.bias")?, [0.01; 3]);
    /// assert_eq!(net.param("bn.running_var")?, [1.0; 3]); // state tensors too
    /// assert!(net.param("fc.scale").is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn param(&self, name: &str) -> Result<Vec<T>, Error> {
        let mut out = vec![T::ZERO; self.tensor(name)?.spec.len()];
        self.read_param(name, &mut out)?;
        Ok(out)
    }

    /// A printable table of the layers, their widths and parameter counts.
    ///
    /// ```
    /// use constnet::prelude::*;
    /// network! { struct Net { fc1: Dense<2, 3>, act: Relu, fc2: Dense<3, 1> } }
    /// let table = Net::<f32>::new(0).summary().to_string();
    /// assert_eq!(table.lines().count(), 5); // a header, three layers, the total
    /// assert_eq!(table.lines().last(), Some("13 parameters (f32)"));
    /// ```
    fn summary(&self) -> Summary {
        Summary {
            layers: self.layers(),
            scalar: T::NAME,
        }
    }
}

/// A table of a network's layers, from [`Network::summary`].
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Net { fc1: Dense<2, 3>, act: Relu, fc2: Dense<3, 1> } }
/// let table = Net::<f64>::init(0).summary().to_string();
/// let header: Vec<_> = table.lines().next().unwrap().split_whitespace().collect();
/// assert_eq!(header, ["layer", "kind", "in", "out", "params"]);
/// let relu: Vec<_> = table.lines().nth(2).unwrap().split_whitespace().collect();
/// assert_eq!(relu, ["act", "Relu", "3", "3", "0"]);
/// assert!(table.ends_with("13 parameters (f64)"));
/// ```
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

/// The error of a tensor name that is none of `params` and `states`: a plain function, so
/// that it is compiled once in constnet rather than with every network's methods.
#[cold]
fn unknown_tensor(name: &str, params: &[String], states: &[String]) -> Error {
    Error::UnknownParameter {
        name: name.to_string(),
        known: [params, states].concat().join(", "),
    }
}

/// A tensor's values `src`, as its parameter buffer holds them, into `out` in PyTorch's
/// order (row-major `[out, in]` for a weight matrix): a transpose for a weight the buffer
/// holds column-major, a copy otherwise. `out` is as long as `src`.
pub(crate) fn in_pytorch_order<V: Copy>(spec: &TensorSpec, src: &[V], out: &mut [V]) {
    match (spec.storage, spec.shape) {
        (Storage::ColumnMajor, &[rows, cols]) => {
            for (r, row) in out.chunks_exact_mut(cols).enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = src[c * rows + r];
                }
            }
        }
        _ => out.copy_from_slice(src),
    }
}
