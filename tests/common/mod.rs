//! Helpers shared by the trainer's tests (`train.rs` and `regression.rs`).

use constnet::datasets::SetOf;
use constnet::prelude::*;
use constnet::train::{Config, History, Progress, fit};

/// `epochs` epochs of mini-batches of `batch`, printing nothing.
pub fn silent(epochs: usize, batch: usize) -> Config {
    Config {
        progress: Progress::Silent,
        ..Config::new(epochs, batch)
    }
}

/// The history and the final parameters of a silent run of `net` on `train` (validated on
/// `val`) with `optimizer`, `epochs` epochs of batches of `batch` shuffled from `seed`.
pub fn seeded_run<const IN: usize, const OUT: usize, N, O, L, D>(
    (mut net, mut optimizer): (N, O),
    loss: &L,
    (train, val): (&D, Option<&D::Plain>),
    (epochs, batch, seed): (usize, usize, u64),
) -> (History, Vec<f32>)
where
    N: Network<f32, IN, OUT>,
    O: Optimizer<f32>,
    D: SetOf<f32, IN, OUT>,
    L: Loss<f32, OUT, Target = D::Targets>,
{
    let config = Config {
        seed,
        ..silent(epochs, batch)
    };
    let history = fit(&mut net, &mut optimizer, loss, train, val, &config).unwrap();
    (history, net.params().to_vec())
}
