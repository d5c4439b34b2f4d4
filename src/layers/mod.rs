//! The built-in layers, one file each, forward and backward side by side.
//!
//! | layer | in `network!` | parameters |
//! |---|---|---|
//! | [`Dense`] | `fc: Dense<IN, OUT>` | `weight` `[OUT, IN]`, `bias` `[OUT]` |
//! | [`Relu`] | `act: Relu` | none |
//! | [`LeakyRelu`] | `act: LeakyRelu` or `act: LeakyRelu(0.1)` | none |
//! | [`Sigmoid`] | `act: Sigmoid` | none |
//! | [`Tanh`] | `act: Tanh` | none |
//! | [`Elu`] | `act: Elu` or `act: Elu(0.5)` | none |
//! | [`Dropout`] | `drop: Dropout` or `drop: Dropout(0.8)` (`p` keeps a unit) | none |
//! | [`BatchNorm`] | `bn: BatchNorm` or `bn: BatchNorm(momentum = 0.9, eps = 1e-5)` | `weight`, `bias` `[N]`; state `running_mean`, `running_var` `[N]` |
//! | [`LayerNorm`] | `ln: LayerNorm` or `ln: LayerNorm(eps = 1e-5)` | `weight`, `bias` `[N]` |
//! | [`Maxout`] | `mx: Maxout<IN, OUT, K>` (`K` pieces, 2 if left out) | `weight` `[K * OUT, IN]`, `bias` `[K * OUT]` |

mod activation;
mod batch_norm;
pub(crate) mod dense;
mod dropout;
mod elu;
mod layer_norm;
mod leaky_relu;
mod maxout;
mod relu;
mod sigmoid;
mod tanh;

pub use activation::{Activation, activate_any_width};
pub use batch_norm::{BatchNorm, BatchNormCache};
pub use dense::Dense;
pub use dropout::{Dropout, DropoutCache};
pub use elu::Elu;
pub use layer_norm::{LayerNorm, LayerNormCache};
pub use leaky_relu::LeakyRelu;
pub use maxout::{Maxout, MaxoutCache};
pub use relu::{Relu, ReluMask};
pub use sigmoid::Sigmoid;
pub use tanh::Tanh;
