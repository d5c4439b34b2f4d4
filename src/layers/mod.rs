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

mod activation;
mod dense;
mod dropout;
mod elu;
mod leaky_relu;
mod relu;
mod sigmoid;
mod tanh;

pub use activation::Activation;
pub use dense::Dense;
pub use dropout::{Dropout, DropoutCache};
pub use elu::Elu;
pub use leaky_relu::LeakyRelu;
pub use relu::Relu;
pub use sigmoid::Sigmoid;
pub use tanh::Tanh;
