//! # constnet
//!
//! Fully-connected neural networks whose architecture is a type. [`network!`] declares a
//! network layer by layer; every width is checked by the compiler, and a width mistake is a
//! compile error at the layer that is wrong. The generated forward and backward passes are
//! written out layer by layer over fixed-width nalgebra matrices: no `dyn`, no shape checks
//! at run time, and no allocation in single-sample inference or in a training step.
//!
//! ```
//! use constnet::prelude::*;
//!
//! network! {
//!     /// The CS231n two-layer net, sized for the spiral data.
//!     pub struct SpiralNet {
//!         fc1: Dense<2, 100>,
//!         relu: Relu,
//!         fc2: Dense<100, 3>,
//!     }
//! }
//!
//! let data = constnet::datasets::spiral::<f32>(100, 3, 0);
//! let mut net = SpiralNet::new(0);
//! let mut tape = net.new_tape(data.labels.len());
//! let mut grads = net.new_grads();
//! let mut sgd = Sgd::new(1.0)?;
//! for _ in 0..2000 {
//!     net.loss_and_grad(&data.inputs, &data.labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)?;
//!     Regularizer::l2(1e-3)?.apply(&net, &mut grads);
//!     sgd.step(net.params_mut(), &grads)?;
//! }
//! assert!(net.accuracy(&data.inputs, &data.labels)? >= 0.98);
//! # Ok::<(), constnet::Error>(())
//! ```
//!
//! A width mistake, `Dense<100, 3>` after a layer that produces 50, does not compile:
//!
//! ```compile_fail
//! constnet::network! {
//!     struct Broken { fc1: Dense<2, 50>, relu: Relu, fc2: Dense<100, 3> }
//! }
//! ```
//!
//! ## Map
//!
//! | module | what is there |
//! |---|---|
//! | [`network!`] | the declaration macro (syntax and what it generates) |
//! | [`Network`], [`Tape`] | what every declared network implements; state-dict access by name |
//! | [`layers`] | `Dense`, `Maxout`, the activations, `Dropout`, `BatchNorm`, `LayerNorm`: one file each, forward beside backward |
//! | [`Layer`] | the trait a custom layer implements to appear in `network!` |
//! | [`losses`] | softmax cross-entropy, multiclass SVM, mean squared error, distillation |
//! | [`gradcheck`], [`GradCheck`] | numeric gradient check, per parameter tensor, kink-aware |
//! | [`Optimizer`]: [`Sgd`], [`Momentum`], [`Nesterov`], [`Adagrad`], [`RmsProp`], [`Adam`]; [`Schedule`] | the notes' update rules and learning-rate decays |
//! | [`Regularizer`] (L2, L1, elastic net), [`MaxNorm`] | regularization |
//! | [`UpdateMonitor`] | update/weight ratios and gradient norms per tensor |
//! | [`Init`] | He, calibrated, small-random and sparse initialization, chosen per layer with `#[init(...)]` |
//! | [`datasets`] | `Labeled` and `Regression` sets and mini-batches; MNIST (IDX), CSV and regression-table loaders (diabetes); the course's spiral |
//! | [`Batch`] | batches: one sample per column, width in the type |
//! | [`Checkpoint`] | safetensors checkpoints with PyTorch's names |
//! | [`train`] | the trainer, its callbacks (early stopping, checkpoints, the running average of the weights) |
//! | [`search`] | random hyperparameter search: trials on threads, a resumable results file, shards |
//! | [`ensemble`] | ensembles of networks: mean probabilities, softened targets for distillation |
//! | [`SeededRng`] | the generator behind every seed |
//!
//! The matrix products are the `constnet-kernels` crate (packed, shallow and few-row
//! products, portable, AVX2 and AVX-512, chosen at run time), which depends on nothing so
//! that it compiles alongside nalgebra; this crate's `kernels` module hands nalgebra
//! matrices to it.

#![warn(missing_docs)]

#[allow(
    unused_extern_crates,
    reason = "lets the generated code name `::constnet` inside this crate's own tests"
)]
extern crate self as constnet;

mod aligned;
pub mod batch;
mod checkpoint;
mod crc;
mod custom;
pub mod datasets;
mod diagnostics;
pub mod ensemble;
mod error;
pub mod gradcheck;
mod init;
mod json;
mod kernels;
mod layer;
pub mod layers;
mod link;
pub mod losses;
pub mod metrics;
pub mod network;
pub mod optim;
#[cfg(feature = "plots")]
pub mod plots;
mod png;
pub mod preprocess;
pub mod record;
mod regularize;
pub mod sanity;
mod scalar;
mod schedule;
pub mod search;
mod tiers;
pub mod train;

pub use batch::{
    AnyBatch, AnySample, AsBatch, AsSample, Batch, BatchView, BatchViewMut, Sample, Shape,
};
pub use checkpoint::Checkpoint;
pub use diagnostics::{TensorStats, UpdateMonitor};
pub use error::Error;
pub use gradcheck::GradCheck;
pub use init::Init;
pub use layer::{Kinks, Layer, Storage, TensorKind, TensorSpec};
pub use losses::Loss;
pub use network::{LayerInfo, Network, OnBatch, OnSample, Tape, TensorRef};
pub use optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, Momentum, MomentumConfig, Nesterov, NesterovConfig,
    Optimizer, RmsProp, RmsPropConfig, Sgd,
};
pub use regularize::{Clip, MaxNorm, Penalty, Regularizer};
pub use scalar::Float;
pub use schedule::{Decay, Schedule};

pub use nalgebra;
/// nalgebra's type-level width, as in a [`Sample`]'s and a [`Batch`]'s type. It is also here,
/// at the crate's root, so that rustc's messages about a sample or batch of the wrong width
/// spell it `constnet::Const<3>` rather than `constnet::nalgebra::Const<3>`: short enough that
/// rustc prints the argument's type in full rather than writing it to a file.
///
/// ```
/// use constnet::{nalgebra::Matrix, Const, Sample};
/// let x: Matrix<f32, Const<2>, Const<1>, _> = Sample::<f32, 2>::zeros();
/// assert_eq!(x.len(), 2);
/// ```
pub use nalgebra::Const;

/// The random number generator behind every seed in constnet: initialization, dropout
/// masks, shuffling, gradient-check sampling and the spiral data. It is xoshiro256++
/// (`rand_xoshiro`), seeded from a `u64` through SplitMix64, so a seed gives the same stream
/// on every platform and in every version of the crate that keeps this generator; `rand`'s
/// `StdRng` makes no such promise across releases.
///
/// ```
/// use constnet::SeededRng;
/// use rand::{Rng, SeedableRng};
/// let draw = |seed| SeededRng::seed_from_u64(seed).random::<u64>();
/// assert_eq!(draw(3), draw(3));
/// assert_ne!(draw(3), draw(4));
/// ```
pub type SeededRng = rand_xoshiro::Xoshiro256PlusPlus;

/// Declares fully-connected networks whose widths are checked at compile time.
///
/// # Syntax
///
/// ```text
/// network! {
///     /// Docs and attributes are kept.
///     pub struct Name<const H: usize> {     // const generic widths are allowed
///         layer_name: Kind,                 // one field per layer, in order
///         ...
///     }
/// }
/// ```
///
/// | kind | meaning |
/// |---|---|
/// | `Dense<IN, OUT>` | `y = W x + b` |
/// | `Relu`, `Sigmoid`, `Tanh` | element-wise activations |
/// | `LeakyRelu`, `LeakyRelu(0.1)` | slope 0.01 by default |
/// | `Elu`, `Elu(0.5)` | alpha 1 by default |
/// | `Dropout`, `Dropout(0.8)`, `Dropout(0.8, seed = 123)` | inverted dropout keeping a unit with probability `p` (0.5 by default) in training; masks seeded from the layer's name or the `seed` given |
/// | `BatchNorm`, `BatchNorm(momentum = 0.9, eps = 1e-5)` | batch normalization; running statistics as state |
/// | `LayerNorm`, `LayerNorm(eps = 1e-5)` | layer normalization: each sample over its features |
/// | `Maxout<IN, OUT, K>`, `Maxout<IN, OUT>` | `max_k (W_k x + b_k)`, `K` pieces (2 by default) |
/// | `Type => OUT` | a custom layer: a `Default` type implementing [`Layer`] |
///
/// A width-keeping layer (an activation, `Dropout`, `BatchNorm`, `LayerNorm`) may have its
/// width written after its name, `Relu<16>`, `LayerNorm<64>`, `Dropout<16>(0.5)`: it is
/// checked against the width the layer receives, and lets a network start with the layer.
///
/// ```
/// use constnet::prelude::*;
/// network! { struct Alone { ln: LayerNorm<4> } }
/// assert_eq!((Alone::<f32>::INPUT, Alone::<f32>::OUTPUT), (4, 4));
/// ```
///
/// A `Dense` or `Maxout` layer may carry an `#[init(...)]` attribute choosing how its parameters start
/// (see [`Init`] for the formulas):
///
/// | attribute | weights | biases |
/// |---|---|---|
/// | none | `he` for a `Dense` layer followed by `Relu`, `LeakyRelu` or `Elu`, else `calibrated` | 0 |
/// | `#[init(he)]` | `N(0, 1) * sqrt(2 / fan_in)` | 0 |
/// | `#[init(calibrated)]` | `N(0, 1) / sqrt(fan_in)` | 0 |
/// | `#[init(small_random)]` | `0.01 * N(0, 1)` | 0 |
/// | `#[init(sparse)]`, `#[init(sparse(N))]` | `0.01 * N(0, 1)` on N random inputs per output (10 by default), 0 elsewhere | 0 |
/// | `#[init(he, bias = 0.01)]` | as the scheme says | 0.01 |
/// | `#[init(bias = 0.01)]` | as without an attribute | 0.01 |
///
/// The bias is a finite number literal. One `#[init]` per layer, on `Dense` and `Maxout`
/// layers only;
/// `sparse(0)`, and `sparse(N)` with `N` above a literal input width, are compile errors.
///
/// A width is an integer literal, a `const` item or const generic parameter, or a
/// `{ constant expression }`. The first layer must be `Dense` or `Maxout`: it fixes the
/// input width.
/// Literal widths are compared by the macro, and so are const generic parameters (a
/// parameter equals only itself); a pair with a `const` item or an expression is compared by
/// a constant evaluation. Either way a mismatch is one error, at the layer. A declaration
/// with errors still defines its type, with every generated item, so that the program around
/// it reports nothing else. The network gets a scalar type parameter `T: Float = f32` after
/// the declared ones.
///
/// # What is generated
///
/// - the struct, holding one flat parameter buffer, one flat state buffer (batch norm's
///   running statistics) and the layers' values, with `Clone` and `Debug`; consts `INPUT`,
///   `OUTPUT`, `PARAM_COUNT`, `STATE_COUNT`; `new(seed)` (f32), `init(seed)` (any
///   scalar) and `cast::<U>()`;
/// - `NameTape`, the training tape (see [`Tape`]);
/// - an implementation of [`Network`]: single-sample `forward` without allocation, batched
///   `forward_into` / `forward_train` / `backward`, `backward_sgd` (backward with an SGD
///   step in it), parameters by name.
///
/// A `Dense` layer next to a `Relu` is fused with it: the `Dense` before a `Relu` applies it
/// as its product writes the hidden layer (recording where it fired in a
/// [`ReluMask`](layers::ReluMask) on the tape), and the `Dense` after one computes its input
/// gradient already gated by it. In a network that starts `Dense`, `Relu`, `Dense`, the
/// third layer's backward also computes the first layer's gradients, without storing the
/// first layer's output gradient, when no input gradient is asked for. The results are
/// those of the unfused layers (to rounding, in that last case).
///
/// ```
/// use constnet::prelude::*;
///
/// const HIDDEN: usize = 16;
///
/// network! {
///     /// A width-generic regressor.
///     pub struct Mlp<const H: usize> {
///         fc1: Dense<3, H>,
///         act: Tanh,
///         #[init(he, bias = 0.01)]
///         fc2: Dense<H, HIDDEN>,
///         act2: LeakyRelu(0.1),
///         #[init(small_random)]
///         out: Dense<HIDDEN, 1>,
///     }
/// }
///
/// let net = Mlp::<8>::new(42);
/// let y = net.forward(&Sample::<f32, 3>::new(0.1, 0.2, 0.3));
/// assert_eq!(y.len(), 1);
/// assert_eq!(Mlp::<8>::PARAM_COUNT, (3 * 8 + 8) + (8 * 16 + 16) + (16 + 1));
/// assert_eq!(net.param("fc2.bias")?, [0.01; HIDDEN]);
/// # Ok::<(), constnet::Error>(())
/// ```
///
/// Two different const generic parameters are different widths, an error at the layer:
///
/// ```compile_fail
/// constnet::network! {
///     struct Bad<const A: usize, const B: usize> { fc1: Dense<2, A>, fc2: Dense<B, 3> }
/// }
/// ```
///
/// and so are a `const` item and an expression of different values:
///
/// ```compile_fail
/// const HIDDEN: usize = 100;
/// constnet::network! {
///     struct Bad { fc1: Dense<2, HIDDEN>, act: Relu, fc2: Dense<{ 2 * 64 }, 3> }
/// }
/// ```
pub use constnet_macros::network;

/// Everything a training script needs, for a glob import.
pub mod prelude {
    pub use crate::ensemble::EnsembleOnBatch;
    pub use crate::gradcheck::GradCheck;
    pub use crate::layers::{
        BatchNorm, Dense, Dropout, Elu, LayerNorm, LeakyRelu, Maxout, Relu, Sigmoid, Tanh,
    };
    pub use crate::losses::{MeanSquaredError, MulticlassSvm, SoftmaxCrossEntropy};
    pub use crate::preprocess::Preprocess;
    pub use crate::{
        Adagrad, AdagradConfig, Adam, AdamConfig, AsBatch, AsSample, Batch, BatchView,
        BatchViewMut, Clip, Decay, Error, Float, Layer, Loss, MaxNorm, Momentum, MomentumConfig,
        Nesterov, NesterovConfig, Network, OnBatch, OnSample, Optimizer, Penalty, Regularizer,
        RmsProp, RmsPropConfig, Sample, Schedule, Sgd, Tape, UpdateMonitor, network,
    };
}

/// Items the generated code uses; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::aligned::AlignedBuffer;
    pub use crate::custom::Custom;
    pub use crate::layers::dense::affine_any_width;
    pub use crate::link::{
        Message, batch as link_batch, batch_mut as link_batch_mut, one as link_one,
    };
    pub use crate::tiers::{COMPILED as COMPILED_TIER, run as run_tiered};
    pub use constnet_kernels::Scalar;
    pub use constnet_kernels::{AVX2, AVX512};
    pub use rand::RngCore;

    /// The seeded generator that initializes a network.
    pub fn seeded_rng(seed: u64) -> crate::SeededRng {
        rand::SeedableRng::seed_from_u64(seed)
    }

    /// Calls `f` with each tensor of `layers` (each a layer's name, tensor specs and size in
    /// the buffer, in buffer order), at its offset in the buffer.
    pub fn walk_tensors(
        layers: &[(&'static str, &'static [crate::TensorSpec], usize)],
        f: &mut dyn FnMut(crate::TensorRef),
    ) {
        let mut offset = 0;
        for &(layer, specs, size) in layers {
            for spec in specs {
                f(crate::TensorRef {
                    layer,
                    spec,
                    offset: offset + spec.offset,
                });
            }
            offset += size;
        }
    }

    /// The error of a mask asked of a layer that draws none, or of a name that is no
    /// layer of the network (`layers` are its layers' names; empty when `layer` is one).
    pub fn no_mask(layer: &str, layers: &[&str]) -> crate::Error {
        let what = if layers.is_empty() || layers.contains(&layer) {
            format!("a mask of layer `{layer}`, which draws none (dropout layers do)")
        } else {
            format!(
                "a mask of layer `{layer}`: the network has no such layer (it has: {})",
                layers.join(", ")
            )
        };
        crate::Error::NotApplicable { what }
    }
}
