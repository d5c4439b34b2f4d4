//! The [`Layer`] trait: what a layer must do to appear inside [`network!`](crate::network).
//!
//! Notation, as in the CS231n notes: `x` is a layer's input batch, `y` its output, and `dy`
//! is the gradient of the loss with respect to `y` (the "upstream gradient"). A layer's
//! backward turns `dy` into `dx` and into the gradient of its own parameters.

use std::fmt::Debug;

use nalgebra::SVector;
use rand::RngCore;

use crate::{BatchView, BatchViewMut, Float};

/// Whether a parameter tensor is a weight (regularized by default) or a bias (not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TensorKind {
    /// A weight: L2 and the other regularizers apply to it by default.
    Weight,
    /// A bias or another parameter that regularizers leave alone by default (batch norm's
    /// scale is one).
    Bias,
    /// Non-trainable state that the training forward pass updates and evaluation reads, such
    /// as batch norm's running mean and variance. It lives in the network's state buffer
    /// ([`Network::state`](crate::Network::state)), not in the parameter buffer, so update
    /// rules and regularizers never see it; checkpoints save it with the parameters.
    State,
}

/// How a tensor's elements are ordered in the network's parameter buffer, relative to the
/// row-major order of its named shape (PyTorch's `state_dict` order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Storage {
    /// Stored in the row-major order of the shape.
    RowMajor,
    /// A 2-D tensor stored column-major (the transpose of the row-major order), as nalgebra
    /// stores matrices: `Dense` weights, so each input's column of `W` is contiguous.
    ColumnMajor,
}

/// One parameter tensor of a layer: its local name, shape and place in the layer's slice.
///
/// ```
/// use constnet::{Layer, layers::Dense};
/// let dense = Dense::<3, 2>::default();
/// let specs = <Dense<3, 2> as Layer<f32, 3, 2>>::TENSORS;
/// assert_eq!(specs[0].name, "weight");
/// assert_eq!(specs[0].shape, &[2, 3]);
/// assert_eq!(specs[1].offset, 6);
/// # let _ = dense;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorSpec {
    /// Local name, such as `weight`; the network prefixes the layer's name (`fc1.weight`).
    pub name: &'static str,
    /// Shape as PyTorch names it (`[out, in]` for a dense weight).
    pub shape: &'static [usize],
    /// Offset of the first element within the layer's parameter slice.
    pub offset: usize,
    /// How the elements are ordered in the buffer.
    pub storage: Storage,
    /// Weight or bias.
    pub kind: TensorKind,
}

impl TensorSpec {
    /// Number of elements.
    ///
    /// ```
    /// use constnet::{Layer, layers::Dense};
    /// assert_eq!(<Dense<3, 2> as Layer<f32, 3, 2>>::TENSORS[0].len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    ///
    /// ```
    /// use constnet::{Layer, layers::Dense};
    /// assert!(!<Dense<3, 2> as Layer<f32, 3, 2>>::TENSORS[1].is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Records the "winners" of every max-like gate in a forward pass (which side of ReLU's kink
/// an input fell on, which margin of a hinge was active), so a numeric gradient check can tell
/// that a perturbation crossed a kink, as the CS231n notes advise.
///
/// ```
/// let mut a = constnet::Kinks::default();
/// let mut b = constnet::Kinks::default();
/// a.record(true);
/// b.record(false);
/// assert_ne!(a, b);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinks {
    hash: u64,
    count: u64,
}

impl Default for Kinks {
    fn default() -> Self {
        Kinks {
            hash: 0xcbf2_9ce4_8422_2325,
            count: 0,
        }
    }
}

impl Kinks {
    /// Records which side of one kink a value fell on.
    #[inline]
    pub fn record(&mut self, winner: bool) {
        self.hash ^= u64::from(winner) + 1;
        self.hash = self.hash.wrapping_mul(0x0000_0100_0000_01b3);
        self.count += 1;
    }

    /// How many kinks were recorded.
    ///
    /// ```
    /// let mut k = constnet::Kinks::default();
    /// k.record(true);
    /// assert_eq!(k.count(), 1);
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// A layer from `I` input features to `O` output features, computing in scalar `T`.
///
/// A layer owns no parameters: it reads them from its slice of the network's flat parameter
/// buffer (`PARAMS` long, laid out as [`TENSORS`](Layer::TENSORS) says) and writes their
/// gradients into the same slice of the gradient buffer. Forward and backward come in pairs:
/// [`forward`](Layer::forward) for inference, [`forward_train`](Layer::forward_train) for
/// training (it may fill [`Cache`](Layer::Cache)), and [`backward`](Layer::backward).
///
/// # A custom layer
///
/// The course's multiply gate `y = w * x`, one learnable weight per feature, whose local
/// gradients are `dx = w * dy` and `dw = x * dy`:
///
/// ```
/// use constnet::{network, BatchView, BatchViewMut, Float, Layer, Network, TensorKind, TensorSpec, Storage};
/// use nalgebra::SVector;
///
/// #[derive(Debug, Clone, Copy, Default)]
/// pub struct Scale;
///
/// impl<T: Float, const N: usize> Layer<T, N, N> for Scale {
///     const PARAMS: usize = N;
///     const TENSORS: &'static [TensorSpec] = &[TensorSpec {
///         name: "weight", shape: &[N], offset: 0, storage: Storage::RowMajor, kind: TensorKind::Weight,
///     }];
///     type Cache = ();
///     fn kind(&self) -> &'static str { "Scale" }
///     fn init(&self, params: &mut [T], _rng: &mut dyn rand::RngCore) { params.fill(T::ONE) }
///     fn new_cache(&self, _max_batch: usize) {}
///     fn forward_one(&self, w: &[T], _state: &[T], x: &SVector<T, N>) -> SVector<T, N> {
///         SVector::from_fn(|i, _| w[i] * x[i])
///     }
///     fn forward(&self, w: &[T], _state: &[T], x: BatchView<'_, T, N>, mut y: BatchViewMut<'_, T, N>) {
///         for (xc, mut yc) in x.column_iter().zip(y.column_iter_mut()) {
///             for i in 0..N { yc[i] = w[i] * xc[i]; }
///         }
///     }
///     fn backward(&self, w: &[T], x: BatchView<'_, T, N>, _y: BatchView<'_, T, N>, _cache: &mut (),
///                 dy: BatchView<'_, T, N>, dx: Option<BatchViewMut<'_, T, N>>, dw: &mut [T]) {
///         for (xc, dyc) in x.column_iter().zip(dy.column_iter()) {
///             for i in 0..N { dw[i] += xc[i] * dyc[i]; }
///         }
///         if let Some(mut dx) = dx {
///             for (mut dxc, dyc) in dx.column_iter_mut().zip(dy.column_iter()) {
///                 for i in 0..N { dxc[i] = w[i] * dyc[i]; }
///             }
///         }
///     }
/// }
///
/// network! {
///     pub struct Gated {
///         fc: Dense<4, 3>,
///         gate: Scale => 3,
///     }
/// }
///
/// let net = Gated::new(1);
/// assert_eq!(Gated::<f32>::PARAM_COUNT, 4 * 3 + 3 + 3);
/// assert!(net.param_names().contains(&"gate.weight".to_string()));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a layer from {I} to {O} features",
    label = "this layer cannot take {I} inputs and produce {O} outputs",
    note = "a layer implements `constnet::Layer<T, IN, OUT>` for the widths it accepts"
)]
pub trait Layer<T: Float, const I: usize, const O: usize>: Clone + Debug {
    /// How many trainable parameters the layer reads from the network's buffer.
    const PARAMS: usize;
    /// The layer's parameter tensors, in buffer order, with offsets into its slice.
    const TENSORS: &'static [TensorSpec];
    /// How many elements of non-trainable state the layer keeps in the network's state buffer
    /// (batch norm's running statistics); 0 for most layers.
    const STATE: usize = 0;
    /// The layer's state tensors, in state-buffer order, with offsets into its state slice
    /// and kind [`TensorKind::State`].
    const STATE_TENSORS: &'static [TensorSpec] = &[];
    /// What [`forward_train`](Layer::forward_train) keeps for
    /// [`backward`](Layer::backward) beyond the layer's input and output (both of which the
    /// network's tape always keeps). `()` for most layers.
    type Cache;

    /// The kind of layer, for summaries (`"Dense"`, `"Relu"`).
    fn kind(&self) -> &'static str;

    /// Fills the layer's `PARAMS` parameters with their initial values.
    fn init(&self, params: &mut [T], rng: &mut dyn RngCore) {
        let _ = rng;
        params.fill(T::ZERO);
    }

    /// Fills the layer's `STATE` elements of state with their initial values.
    fn init_state(&self, state: &mut [T]) {
        state.fill(T::ZERO);
    }

    /// Allocates the cache for batches of up to `max_batch` samples.
    fn new_cache(&self, max_batch: usize) -> Self::Cache;

    /// Forward pass of one sample, on the stack, in evaluation mode. `state` is the layer's
    /// `STATE`-long slice of the state buffer (empty for most layers).
    fn forward_one(&self, params: &[T], state: &[T], x: &SVector<T, I>) -> SVector<T, O>;

    /// Forward pass of a batch in evaluation mode: writes every column of `y`.
    fn forward(&self, params: &[T], state: &[T], x: BatchView<'_, T, I>, y: BatchViewMut<'_, T, O>);

    /// Forward pass of a batch in training mode; fills `cache` for backward and may update
    /// the layer's state (batch norm's running statistics). The default is the evaluation
    /// forward.
    fn forward_train(
        &self,
        params: &[T],
        state: &mut [T],
        x: BatchView<'_, T, I>,
        y: BatchViewMut<'_, T, O>,
        cache: &mut Self::Cache,
    ) {
        let _ = cache;
        self.forward(params, state, x, y);
    }

    /// Backward pass: given the forward's input `x`, output `y`, `cache` and the upstream
    /// gradient `dy`, adds the gradient of every parameter into `dparams` (gradients
    /// accumulate: [`backward_overwrite`](Layer::backward_overwrite) is the variant that
    /// overwrites them) and, when `dx` is given, writes the gradient of the input into it. `cache` is mutable so that a layer can keep its backward scratch there.
    #[expect(
        clippy::too_many_arguments,
        reason = "the pairs (x, y), (dy, dx) and (params, dparams) read best side by side"
    )]
    fn backward(
        &self,
        params: &[T],
        x: BatchView<'_, T, I>,
        y: BatchView<'_, T, O>,
        cache: &mut Self::Cache,
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        dparams: &mut [T],
    );

    /// Like [`backward`](Layer::backward), but overwrites `dparams` with the gradient instead
    /// of adding into it. The default zeroes `dparams` and calls `backward`; a layer that can
    /// write its gradients directly (Dense, Maxout) overrides it, which saves the network's
    /// backward a pass over every gradient.
    #[expect(
        clippy::too_many_arguments,
        reason = "the same arguments as `backward`, side by side"
    )]
    fn backward_overwrite(
        &self,
        params: &[T],
        x: BatchView<'_, T, I>,
        y: BatchView<'_, T, O>,
        cache: &mut Self::Cache,
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        dparams: &mut [T],
    ) {
        dparams.fill(T::ZERO);
        self.backward(params, x, y, cache, dy, dx, dparams);
    }

    /// How many elements of scratch [`backward_sgd`](Layer::backward_sgd) needs: the default
    /// computes the whole parameter gradient there, `PARAMS`; a layer that updates its
    /// parameters without writing the gradient out needs fewer.
    const SGD_SCRATCH: usize = Self::PARAMS;

    /// The backward pass and a plain SGD step on the layer's parameters in one: `dx` as in
    /// [`backward`](Layer::backward) (from the parameters before the step), then `params -=
    /// lr * (dparams + weight_decay * params)` on the tensors of kind
    /// [`TensorKind::Weight`] and `params -= lr * dparams` on the others (the gradient of an
    /// L2 penalty `0.5 * weight_decay * w^2` on the weights). `scratch` holds at least
    /// [`SGD_SCRATCH`](Layer::SGD_SCRATCH) elements. The default computes the gradient into
    /// `scratch` and subtracts it; `Dense` overrides it with
    /// `W = (1 - lr * weight_decay) W - lr dZ X^T` as one matrix product into `W`, which
    /// saves writing the gradient out and reading it back (for the network's backward, see
    /// [`Network::backward_sgd`](crate::Network::backward_sgd)).
    #[expect(
        clippy::too_many_arguments,
        reason = "the arguments of `backward`, with the step's two rates and the scratch"
    )]
    fn backward_sgd(
        &self,
        params: &mut [T],
        x: BatchView<'_, T, I>,
        y: BatchView<'_, T, O>,
        cache: &mut Self::Cache,
        dy: BatchView<'_, T, O>,
        dx: Option<BatchViewMut<'_, T, I>>,
        lr: T,
        weight_decay: T,
        scratch: &mut [T],
    ) {
        let grads = &mut scratch[..Self::PARAMS];
        self.backward_overwrite(params, x, y, cache, dy, dx, grads);
        for tensor in Self::TENSORS {
            let range = tensor.offset..tensor.offset + tensor.shape.iter().product::<usize>();
            let decay = if tensor.kind == TensorKind::Weight {
                weight_decay
            } else {
                T::ZERO
            };
            for (p, &g) in params[range.clone()].iter_mut().zip(&grads[range]) {
                *p -= lr * (g + decay * *p);
            }
        }
    }

    /// Records the winners of the layer's max-like gates for input `x` (see [`Kinks`]).
    /// Smooth layers record nothing.
    fn record_kinks(&self, params: &[T], x: BatchView<'_, T, I>, kinks: &mut Kinks) {
        let _ = (params, x, kinks);
    }

    /// For a layer that draws random numbers in training (dropout): while `frozen`, reuse the
    /// last draw. The default does nothing.
    fn freeze_masks(cache: &mut Self::Cache, frozen: bool) {
        let _ = (cache, frozen);
    }
}
