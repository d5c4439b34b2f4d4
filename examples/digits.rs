//! scikit-learn's 8x8 digits (1797 images, shipped in `data/sklearn/`), learned by the same
//! 64-128-64-10 ReLU MLP three ways: plain, with batch norm and dropout after each hidden
//! layer, and with Maxout hidden layers. Each trains with Adam on mini-batches of 32 for the
//! same number of epochs; the example prints training and validation accuracy.
//!
//! Run with `cargo run --release --example digits`.

use std::time::Instant;

use constnet::datasets::{Header, Labeled, read_csv};
use constnet::prelude::*;

network! {
    /// The baseline: Dense and ReLU only.
    pub struct Plain {
        fc1: Dense<64, 128>,
        a1: Relu,
        fc2: Dense<128, 64>,
        a2: Relu,
        fc3: Dense<64, 10>,
    }

    /// Batch norm before each hidden ReLU, dropout (keeping 80%) after it.
    pub struct Normalized {
        fc1: Dense<64, 128>,
        bn1: BatchNorm,
        a1: Relu,
        drop1: Dropout(0.8),
        fc2: Dense<128, 64>,
        bn2: BatchNorm,
        a2: Relu,
        drop2: Dropout(0.8),
        fc3: Dense<64, 10>,
    }

    /// Maxout hidden layers of two pieces, with dropout.
    pub struct MaxoutNet {
        mx1: Maxout<64, 128, 2>,
        drop1: Dropout(0.8),
        mx2: Maxout<128, 64, 2>,
        drop2: Dropout(0.8),
        fc3: Dense<64, 10>,
    }
}

const EPOCHS: usize = 40;
const BATCH: usize = 32;

/// Trains `net` and returns its final training and validation accuracy.
fn train<N: Network<f32, 64, 10>>(
    name: &str,
    mut net: N,
    train: &Labeled<f32, 64>,
    val: &Labeled<f32, 64>,
) -> Result<(f64, f64), Error> {
    let mut tape = net.new_tape(BATCH);
    let mut grads = net.new_grads();
    let mut adam = AdamConfig::new(2e-3).build()?;
    let mut batches = train.mini_batches(BATCH, 1)?;
    let start = Instant::now();
    for epoch in 1..=EPOCHS {
        let mut loss = 0.0;
        while let Some((x, labels)) = batches.next_batch() {
            loss += net.loss_and_grad(&x, labels, &SoftmaxCrossEntropy, &mut tape, &mut grads)?;
            adam.step(net.params_mut(), &grads)?;
        }
        batches.next_epoch();
        if epoch % 10 == 0 {
            println!(
                "{name:<11} epoch {epoch:>2}: loss {:.4}, train {:.2}%, val {:.2}%",
                loss / batches.per_epoch() as f32,
                100.0 * net.accuracy(&train.inputs, &train.labels)?,
                100.0 * net.accuracy(&val.inputs, &val.labels)?
            );
        }
    }
    let accuracy = (
        net.accuracy(&train.inputs, &train.labels)?,
        net.accuracy(&val.inputs, &val.labels)?,
    );
    println!(
        "{name:<11} trained in {:.2} s\n",
        start.elapsed().as_secs_f64()
    );
    Ok(accuracy)
}

fn main() -> Result<(), Error> {
    let digits = read_csv::<f32, 64>("data/sklearn/digits.csv.gz", Header::None)?
        .scaled(1.0 / 16.0)
        .shuffled(0);
    let (train_set, val_set) = digits.split(1437);
    println!(
        "digits: {} training and {} validation images, {EPOCHS} epochs of batches of {BATCH}\n",
        train_set.len(),
        val_set.len()
    );
    let results = [
        (
            "plain",
            train("plain", Plain::new(0), &train_set, &val_set)?,
        ),
        (
            "bn+dropout",
            train("bn+dropout", Normalized::new(0), &train_set, &val_set)?,
        ),
        (
            "maxout",
            train("maxout", MaxoutNet::new(0), &train_set, &val_set)?,
        ),
    ];
    println!("| net | train | validation |\n|---|---|---|");
    for (name, (train_accuracy, val_accuracy)) in results {
        println!(
            "| {name} | {:.2}% | {:.2}% |",
            100.0 * train_accuracy,
            100.0 * val_accuracy
        );
    }
    Ok(())
}
