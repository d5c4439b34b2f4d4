//! Loads the checkpoint that `examples/mnist.rs` saved (parameters and the fitted
//! standardization) and prints the MNIST test accuracy.
//!
//! Run with `cargo run --release --example mnist_eval` after `--example mnist`.

use constnet::Checkpoint;
use constnet::datasets::{Split, mnist};
use constnet::prelude::*;
use constnet::preprocess::Standardize;

#[path = "common/mnist_net.rs"]
mod mnist_net;
use mnist_net::{CHECKPOINT, MnistNet};

fn main() -> Result<(), Error> {
    let mut net = MnistNet::new(0);
    let checkpoint = Checkpoint::load_into(CHECKPOINT, &mut net)?;
    let standardize = Standardize::<f32, 784>::load_from(&checkpoint)?;
    let test = standardize.apply(&mnist::<f32>("data/mnist", Split::Test)?);
    println!(
        "loaded {CHECKPOINT} ({} tensors, Adam at step {})",
        checkpoint.names().len(),
        checkpoint.metadata("optimizer.steps").unwrap_or("?")
    );
    println!(
        "test accuracy: {:.2}%",
        100.0 * net.accuracy(&test.inputs, &test.labels)?
    );
    Ok(())
}
