//! The [`Layer`] trait: what a layer must do to appear inside [`network!`](crate::network).
//!
//! Notation, as in the CS231n notes: `x` is a layer's input batch, `y` its output, and `dy`
//! is the gradient of the loss with respect to `y` (the "upstream gradient"). A layer's
//! backward turns `dy` into `dx` and into the gradient of its own parameters.

use std::fmt::Debug;

use nalgebra::SVector;
use rand::RngCore;

use crate::batch::{BatchView, BatchViewMut};
use crate::error::Error;
use crate::scalar::Float;

/// Whether a parameter tensor is a weight (regularized by default) or a bias (not).
///
/// ```
/// use constnet::{TensorKind, prelude::*};
/// network! { struct Net { fc: Dense<2, 3>, bn: BatchNorm } }
/// let net = Net::<f32>::new(0);
/// let kind = |name: &str| net.tensor(name).map(|t| t.spec.kind);
/// assert_eq!(kind("fc.weight")?, TensorKind::Weight);
/// assert_eq!(kind("bn.weight")?, TensorKind::Bias); // batch norm's scale
/// assert_eq!(kind("bn.running_mean")?, TensorKind::State);
/// # Ok::<(), constnet::Error>(())
/// ```
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
    /// A count in the state buffer, such as batch norm's `num_batches_tracked` (the
    /// training batches it has seen, as PyTorch keeps it). Checkpoints save it as an `I64`
    /// tensor, as PyTorch does; in the buffer it is a `T`, exact up to 2^24 in `f32`.
    Count,
}

/// How a tensor's elements are ordered in the network's parameter buffer, relative to the
/// row-major order of its named shape (PyTorch's `state_dict` order).
///
/// ```
/// use constnet::{Layer, Storage, layers::Dense};
/// let [weight, bias] = <Dense<3, 2> as Layer<f32, 3, 2>>::TENSORS else { unreachable!() };
/// assert_eq!((weight.name, weight.storage), ("weight", Storage::ColumnMajor));
/// assert_eq!((bias.name, bias.storage), ("bias", Storage::RowMajor));
/// ```
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

/// The learnable scale (`weight`, `[N]`) and shift (`bias`, `[N]`) of a normalization layer
/// (batch norm, layer norm), neither of them decayed by default, and their initial values.
pub(crate) struct ScaleShift<const N: usize>;

impl<const N: usize> ScaleShift<N> {
    pub(crate) const TENSORS: &'static [TensorSpec] = &[
        TensorSpec {
            name: "weight",
            shape: &[N],
            offset: 0,
            storage: Storage::RowMajor,
            kind: TensorKind::Bias,
        },
        TensorSpec {
            name: "bias",
            shape: &[N],
            offset: N,
            storage: Storage::RowMajor,
            kind: TensorKind::Bias,
        },
    ];

    /// A scale of 1 and a shift of 0.
    pub(crate) fn init<T: Float>(params: &mut [T]) {
        let (gamma, beta) = params.split_at_mut(N);
        gamma.fill(T::ONE);
        beta.fill(T::ZERO);
    }
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
    ///
    /// ```
    /// let (mut k, mut swapped) = (constnet::Kinks::default(), constnet::Kinks::default());
    /// k.record(true);
    /// k.record(false);
    /// swapped.record(false);
    /// swapped.record(true);
    /// assert_eq!(k.count(), 2);
    /// assert_ne!(k, swapped); // the order of the winners counts
    /// ```
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
    ///
    /// ```
    /// use constnet::{Layer, layers::{BatchNorm, Dense, Relu}};
    /// assert_eq!(<Dense<2, 3> as Layer<f32, 2, 3>>::PARAMS, 3 * 2 + 3);
    /// assert_eq!(<BatchNorm as Layer<f32, 4, 4>>::PARAMS, 2 * 4); // a scale and a shift each
    /// assert_eq!(<Relu as Layer<f32, 4, 4>>::PARAMS, 0);
    /// ```
    const PARAMS: usize;
    /// The layer's parameter tensors, in buffer order, with offsets into its slice.
    ///
    /// ```
    /// use constnet::{Layer, TensorKind, layers::BatchNorm};
    /// let specs = <BatchNorm as Layer<f32, 4, 4>>::TENSORS;
    /// let names: Vec<_> = specs.iter().map(|s| (s.name, s.offset)).collect();
    /// assert_eq!(names, [("weight", 0), ("bias", 4)]);
    /// assert!(specs.iter().all(|s| s.kind == TensorKind::Bias)); // neither is decayed
    /// ```
    const TENSORS: &'static [TensorSpec];
    /// How many elements of non-trainable state the layer keeps in the network's state buffer
    /// (batch norm's running statistics); 0 for most layers.
    ///
    /// ```
    /// use constnet::{Layer, layers::{BatchNorm, Dense}};
    /// // running mean and variance, and the count of training batches
    /// assert_eq!(<BatchNorm as Layer<f32, 4, 4>>::STATE, 2 * 4 + 1);
    /// assert_eq!(<Dense<4, 4> as Layer<f32, 4, 4>>::STATE, 0);
    /// ```
    const STATE: usize = 0;
    /// The layer's state tensors, in state-buffer order, with offsets into its state slice
    /// and kind [`TensorKind::State`] (or [`TensorKind::Count`] for a counter).
    ///
    /// ```
    /// use constnet::{Layer, TensorKind, layers::{BatchNorm, Dense}};
    /// let specs = <BatchNorm as Layer<f32, 4, 4>>::STATE_TENSORS;
    /// assert_eq!((specs[1].name, specs[1].offset), ("running_var", 4));
    /// assert_eq!((specs[2].name, specs[2].kind), ("num_batches_tracked", TensorKind::Count));
    /// assert!(specs[2].shape.is_empty()); // a scalar, as in PyTorch
    /// assert!(<Dense<4, 4> as Layer<f32, 4, 4>>::STATE_TENSORS.is_empty());
    /// ```
    const STATE_TENSORS: &'static [TensorSpec] = &[];
    /// What [`forward_train`](Layer::forward_train) keeps for
    /// [`backward`](Layer::backward) beyond the layer's input and output (both of which the
    /// network's tape always keeps). `()` for most layers.
    type Cache;

    /// The kind of layer, for summaries (`"Dense"`, `"Relu"`).
    ///
    /// ```
    /// use constnet::{Layer, layers::{Dense, Relu}};
    /// assert_eq!(Layer::<f32, 2, 3>::kind(&Dense::<2, 3>::default()), "Dense");
    /// assert_eq!(Layer::<f32, 3, 3>::kind(&Relu), "Relu");
    /// ```
    fn kind(&self) -> &'static str;

    /// Fills the layer's `PARAMS` parameters with their initial values.
    ///
    /// ```
    /// use constnet::{Layer, SeededRng, layers::BatchNorm};
    /// use rand::SeedableRng;
    /// let mut p = [9.0f32; 4];
    /// Layer::<f32, 2, 2>::init(&BatchNorm::default(), &mut p, &mut SeededRng::seed_from_u64(0));
    /// assert_eq!(p, [1.0, 1.0, 0.0, 0.0]); // scale 1, shift 0
    /// ```
    fn init(&self, params: &mut [T], rng: &mut dyn RngCore) {
        let _ = rng;
        params.fill(T::ZERO);
    }

    /// Fills the layer's `STATE` elements of state with their initial values.
    ///
    /// ```
    /// use constnet::{Layer, layers::BatchNorm};
    /// let mut state = [9.0f32; 5];
    /// Layer::<f32, 2, 2>::init_state(&BatchNorm::default(), &mut state);
    /// // running mean 0, running variance 1, no training batch seen
    /// assert_eq!(state, [0.0, 0.0, 1.0, 1.0, 0.0]);
    /// ```
    fn init_state(&self, state: &mut [T]) {
        state.fill(T::ZERO);
    }

    /// Allocates the cache for batches of up to `max_batch` samples.
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::BatchNorm};
    /// let bn = BatchNorm::default();
    /// let mut cache = Layer::<f32, 1, 1>::new_cache(&bn, 4); // for batches of up to 4
    /// // gamma 1, beta 0; running mean 0, variance 1, no batch counted
    /// let (p, mut state) = ([1.0f32, 0.0], [0.0f32, 1.0, 0.0]);
    /// let x = Batch::<f32, 1>::from_column_slice(&[1.0, 3.0]);
    /// let mut y = Batch::<f32, 1>::zeros(2);
    /// bn.forward_train(&p, &mut state, x.columns(0, 2), y.columns_mut(0, 2), &mut cache);
    /// // the batch's mean is 2 and its variance 1
    /// assert!((y[0] + 1.0).abs() < 1e-4 && (y[1] - 1.0).abs() < 1e-4);
    /// ```
    fn new_cache(&self, max_batch: usize) -> Self::Cache;

    /// Forward pass of one sample, on the stack, in evaluation mode. `state` is the layer's
    /// `STATE`-long slice of the state buffer (empty for most layers).
    ///
    /// ```
    /// use constnet::{Layer, layers::BatchNorm};
    /// use nalgebra::SVector;
    /// let p = [2.0f32, 1.0]; // scale 2, shift 1
    /// let state = [3.0f32, 4.0]; // running mean 3, running variance 4
    /// let bn = BatchNorm::default();
    /// let y = Layer::<f32, 1, 1>::forward_one(&bn, &p, &state, &SVector::from([5.0]));
    /// assert!((y[0] - 3.0).abs() < 1e-4); // 2 (5 - 3) / sqrt(4) + 1
    /// ```
    fn forward_one(&self, params: &[T], state: &[T], x: &SVector<T, I>) -> SVector<T, O>;

    /// Forward pass of a batch in evaluation mode: writes every column of `y`.
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dense};
    /// // W = [[1, 2], [3, 4], [5, 6]] column by column, then b = [0.5, 0.5, 0.5]
    /// let p = [1.0f32, 3.0, 5.0, 2.0, 4.0, 6.0, 0.5, 0.5, 0.5];
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0, 1.0, 0.0]); // two samples
    /// let mut y = Batch::<f32, 3>::zeros(2);
    /// Dense::<2, 3>::default().forward(&p, &[], x.columns(0, 2), y.columns_mut(0, 2));
    /// assert_eq!(y.as_slice(), &[3.5, 7.5, 11.5, 1.5, 3.5, 5.5]);
    /// ```
    fn forward(&self, params: &[T], state: &[T], x: BatchView<'_, T, I>, y: BatchViewMut<'_, T, O>);

    /// Forward pass of a batch in training mode; fills `cache` for backward and may update
    /// the layer's state (batch norm's running statistics). The default is the evaluation
    /// forward.
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dropout};
    /// let drop = Dropout::new(0.5)?;
    /// let mut cache = Layer::<f32, 64, 64>::new_cache(&drop, 1);
    /// let x = Batch::<f32, 64>::from_element(1, 1.0);
    /// let mut y = Batch::<f32, 64>::zeros(1);
    /// drop.forward_train(&[], &mut [], x.columns(0, 1), y.columns_mut(0, 1), &mut cache);
    /// // each unit is dropped, or kept and scaled by 1 / p (evaluation would copy x)
    /// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    /// let kept = y.iter().filter(|&&v| v == 2.0).count();
    /// assert!((16..=48).contains(&kept), "{kept} of 64 kept with p = 0.5");
    /// # Ok::<(), constnet::Error>(())
    /// ```
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
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dense};
    /// let p = [1.0f32, 2.0, 0.0]; // W = [[1, 2]], b = 0
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// let y = Batch::<f32, 1>::zeros(1); // Dense's backward does not read it
    /// let dy = Batch::<f32, 1>::from_column_slice(&[3.0]);
    /// let (mut dx, mut dp) = (Batch::<f32, 2>::zeros(1), [1.0f32; 3]);
    /// let (x, y, dy) = (x.columns(0, 1), y.columns(0, 1), dy.columns(0, 1));
    /// let dense = Dense::<2, 1>::default();
    /// dense.backward(&p, x, y, &mut (), dy, Some(dx.columns_mut(0, 1)), &mut dp);
    /// assert_eq!(dx.as_slice(), &[3.0, 6.0]); // W^T dy
    /// assert_eq!(dp, [4.0, 4.0, 4.0]); // 1 + dy x^T, 1 + dy: added to what was there
    /// ```
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
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dense};
    /// let p = [1.0f32, 2.0, 0.0]; // W = [[1, 2]], b = 0
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// let y = Batch::<f32, 1>::zeros(1); // Dense's backward does not read it
    /// let dy = Batch::<f32, 1>::from_column_slice(&[3.0]);
    /// let mut dp = [100.0f32; 3];
    /// let (x, y, dy) = (x.columns(0, 1), y.columns(0, 1), dy.columns(0, 1));
    /// Dense::<2, 1>::default().backward_overwrite(&p, x, y, &mut (), dy, None, &mut dp);
    /// assert_eq!(dp, [3.0, 3.0, 3.0]); // dy x^T, dy: the 100s are gone
    /// ```
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
    ///
    /// ```
    /// use constnet::{Layer, layers::{BatchNorm, Dense}};
    /// assert_eq!(<BatchNorm as Layer<f32, 4, 4>>::SGD_SCRATCH, 8); // the default: PARAMS
    /// assert_eq!(<Dense<100, 10> as Layer<f32, 100, 10>>::SGD_SCRATCH, 0); // steps W in place
    /// ```
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
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dense};
    /// let mut p = [1.0f32, 2.0, 0.5]; // W = [[1, 2]], b = 0.5
    /// let x = Batch::<f32, 2>::from_column_slice(&[1.0, 1.0]);
    /// let (y, dy) = (Batch::<f32, 1>::zeros(1), Batch::<f32, 1>::from_element(1, 1.0));
    /// let mut dx = Batch::<f32, 2>::zeros(1);
    /// let mut scratch = vec![0.0; <Dense<2, 1> as Layer<f32, 2, 1>>::SGD_SCRATCH];
    /// let (x, y, dy) = (x.columns(0, 1), y.columns(0, 1), dy.columns(0, 1));
    /// let dxv = Some(dx.columns_mut(0, 1));
    /// let (lr, weight_decay) = (0.5, 1.0);
    /// Dense::<2, 1>::default()
    ///     .backward_sgd(&mut p, x, y, &mut (), dy, dxv, lr, weight_decay, &mut scratch);
    /// assert_eq!(dx.as_slice(), &[1.0, 2.0]); // W^T dy, with W from before the step
    /// assert_eq!(p, [0.0, 0.5, 0.0]); // W -= 0.5 (dy x^T + 1.0 W), b -= 0.5 dy
    /// ```
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
    ///
    /// ```
    /// use constnet::{Batch, Kinks, Layer, layers::{Relu, Tanh}};
    /// let x = Batch::<f32, 2>::from_column_slice(&[-1.0, 2.0]);
    /// let mut kinks = Kinks::default();
    /// Relu.record_kinks(&[], x.columns(0, 1), &mut kinks);
    /// let mut expected = Kinks::default();
    /// expected.record(false); // -1 is left of ReLU's kink
    /// expected.record(true); // 2 is right of it
    /// assert_eq!(kinks, expected);
    /// Tanh.record_kinks(&[], x.columns(0, 1), &mut kinks); // a smooth layer records nothing
    /// assert_eq!(kinks.count(), 2);
    /// ```
    fn record_kinks(&self, params: &[T], x: BatchView<'_, T, I>, kinks: &mut Kinks) {
        let _ = (params, x, kinks);
    }

    /// For a layer that draws random numbers in training (dropout): while `frozen`, reuse the
    /// last draw. The default does nothing.
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dropout};
    /// let drop = Dropout::new(0.5)?;
    /// let mut cache = Layer::<f32, 16, 16>::new_cache(&drop, 1);
    /// let x = Batch::<f32, 16>::from_element(1, 1.0);
    /// let mut y = [Batch::<f32, 16>::zeros(1), Batch::zeros(1), Batch::zeros(1)];
    /// for (y, frozen) in y.iter_mut().zip([false, true, false]) {
    ///     <Dropout as Layer<f32, 16, 16>>::freeze_masks(&mut cache, frozen);
    ///     drop.forward_train(&[], &mut [], x.columns(0, 1), y.columns_mut(0, 1), &mut cache);
    /// }
    /// assert_eq!(y[1], y[0]); // frozen: the last mask again
    /// assert_ne!(y[2], y[0]); // unfrozen: a new draw
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn freeze_masks(cache: &mut Self::Cache, frozen: bool) {
        let _ = (cache, frozen);
    }

    /// For a layer that draws random numbers in training (dropout): starts the draws again
    /// from a generator seeded by the layer's seed and `stream`, so that the draws of a
    /// stretch of training depend only on where it is, not on what ran before (the trainer
    /// reseeds each epoch, with the epoch's number less one, which is what makes a resumed
    /// run draw the masks the uninterrupted one drew). Stream 0 is the layer's seed itself.
    /// The default does nothing.
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dropout};
    /// let drop = Dropout::new(0.5)?;
    /// let x = Batch::<f32, 16>::from_element(1, 1.0);
    /// let draw = |stream| {
    ///     let mut cache = Layer::<f32, 16, 16>::new_cache(&drop, 1);
    ///     let mut y = Batch::<f32, 16>::zeros(1);
    ///     drop.forward_train(&[], &mut [], x.columns(0, 1), y.columns_mut(0, 1), &mut cache); // an earlier draw
    ///     <Dropout as Layer<f32, 16, 16>>::reseed_masks(&mut cache, stream);
    ///     drop.forward_train(&[], &mut [], x.columns(0, 1), y.columns_mut(0, 1), &mut cache);
    ///     y
    /// };
    /// assert_eq!(draw(3), draw(3)); // whatever came before
    /// assert_ne!(draw(3), draw(4));
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn reseed_masks(cache: &mut Self::Cache, stream: u64) {
        let _ = (cache, stream);
    }

    /// For a layer that draws a mask in training (dropout): the keep mask of the last
    /// training batch, 1 where a unit was kept and 0 where it was dropped, sample by sample
    /// (`O` values each). `None` for the other layers (the default).
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dropout};
    /// let drop = Dropout::new(0.5)?;
    /// let mut cache = Layer::<f64, 4, 4>::new_cache(&drop, 2);
    /// let x = Batch::<f64, 4>::from_element(2, 3.0);
    /// let mut y = Batch::<f64, 4>::zeros(2);
    /// drop.forward_train(&[], &mut [], x.columns(0, 2), y.columns_mut(0, 2), &mut cache);
    /// let mask = <Dropout as Layer<f64, 4, 4>>::mask(&cache).unwrap();
    /// assert_eq!(mask.len(), 8);
    /// for (m, y) in mask.iter().zip(y.iter()) {
    ///     assert_eq!(*y, 3.0 * m / 0.5); // x * mask / p
    /// }
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn mask(cache: &Self::Cache) -> Option<Vec<T>> {
        let _ = cache;
        None
    }

    /// For a layer that draws a mask in training (dropout): uses `keep` (1 to keep a unit,
    /// 0 to drop it, `O` values per sample) for the training batches that follow, of
    /// `keep.len() / O` samples, instead of drawing (as [`freeze_masks`](Layer::freeze_masks)
    /// `(cache, true)` holds a drawn one) until the masks are unfrozen. Values other than 0
    /// and 1, a length that is not a whole number of samples or more than the cache's
    /// batch, or a layer without masks (the default) are an error, and nothing changes.
    ///
    /// ```
    /// use constnet::{Batch, Layer, layers::Dropout};
    /// let drop = Dropout::new(0.5)?;
    /// let mut cache = Layer::<f64, 2, 2>::new_cache(&drop, 1);
    /// <Dropout as Layer<f64, 2, 2>>::set_mask(&mut cache, &[1.0, 0.0])?;
    /// let x = Batch::<f64, 2>::from_column_slice(&[3.0, 4.0]);
    /// let mut y = Batch::<f64, 2>::zeros(1);
    /// drop.forward_train(&[], &mut [], x.columns(0, 1), y.columns_mut(0, 1), &mut cache);
    /// assert_eq!(y.as_slice(), &[6.0, 0.0]); // x * mask / p
    /// assert!(<Dropout as Layer<f64, 2, 2>>::set_mask(&mut cache, &[0.5, 1.0]).is_err());
    /// # Ok::<(), constnet::Error>(())
    /// ```
    fn set_mask(cache: &mut Self::Cache, keep: &[T]) -> Result<(), Error> {
        let _ = (cache, keep);
        Err(Error::NotApplicable {
            what: "a mask for a layer that draws none".into(),
        })
    }
}
