//! MNIST (shipped in `data/mnist/`): a 784-256-128-10 ReLU MLP with dropout, trained with
//! Adam on mini-batches, to about 98.3% test accuracy. The pixels are scaled to [0, 1] and
//! standardized with one mean and one standard deviation fitted on the training split
//! (55,000 images; the other 5,000 validate). The example prints every epoch's loss and
//! accuracies and the wall time, then saves a checkpoint (parameters, Adam's state and the
//! fitted standardization) that `examples/mnist_eval.rs` loads. Before training it runs the
//! notes' sanity checks; while training, it stops early when the validation loss has not
//! improved for 3 epochs, keeping the best epoch's weights, and saves a checkpoint after
//! every epoch (the last two kept) and of the best epoch in `checkpoints/mnist-run/`.
//!
//! The trainer prints one line per epoch, under a progress bar of the steps on a terminal.
//!
//! Run with `cargo run --release --example mnist`, then
//! `cargo run --release --example mnist_eval`.

use std::time::Instant;

use constnet::datasets::{Split, mnist};
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};
use constnet::train::{Config, EarlyStopping, Every, Metric, SaveCheckpoints, fit_with};
use constnet::{Checkpoint, Schedule, sanity};

#[path = "common/mnist_net.rs"]
mod mnist_net;
use mnist_net::{CHECKPOINT, MnistNet};

/// Where the run's per-epoch and best checkpoints go.
const RUN_CHECKPOINTS: &str = "checkpoints/mnist-run";

fn main() -> Result<(), Error> {
    let start = Instant::now();
    let (train, val) = mnist::<f32>("data/mnist", Split::Train)?
        .shuffled(0)
        .split(55_000);
    let test = mnist::<f32>("data/mnist", Split::Test)?;
    let standardize = Standardize::fit(&train, Granularity::Scalar, true);
    let (train, val, test) = (
        standardize.apply(&train),
        standardize.apply(&val),
        standardize.apply(&test),
    );
    println!(
        "MNIST: {} training, {} validation, {} test images (loaded in {:.1} s)",
        train.len(),
        val.len(),
        test.len(),
        start.elapsed().as_secs_f64()
    );

    let mut net = MnistNet::new(0);
    println!("{}\n", net.summary());
    let mut adam = AdamConfig::new(1e-3).build()?;

    // The notes' sanity checks, on copies, before the long run.
    let checks = Instant::now();
    let report = sanity::run(
        &net,
        &net.cast::<f64>(),
        &adam,
        &SoftmaxCrossEntropy,
        &train,
        &sanity::Options::default(),
    )?;
    println!(
        "sanity checks ({:.1} s):\n{report}\n",
        checks.elapsed().as_secs_f64()
    );
    if !report.passed() {
        return Err(Error::NotApplicable {
            what: "training a network that fails its sanity checks".into(),
        });
    }
    let config = Config {
        schedule: Some((Schedule::step(1e-3, 4, 0.5)?, Every::Epoch)),
        ..Config::new(12, 64)
    };
    // Early stopping on the validation loss (the best epoch's weights are kept), and a
    // checkpoint after every epoch (the last two kept) and of the best one.
    let mut stopping = EarlyStopping::new(Metric::ValLoss, 3)?;
    let mut saves = SaveCheckpoints::new(RUN_CHECKPOINTS)
        .keep_last(2)?
        .keep_best(Metric::ValLoss);
    let history = fit_with(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &config,
        &mut [&mut stopping, &mut saves],
    )?;
    if let Some(best) = stopping.best_epoch() {
        println!(
            "best validation loss {:.4} after epoch {best}{}; its weights are kept",
            stopping.best_value().unwrap_or(f64::NAN),
            stopping
                .stopped_at()
                .map_or(String::new(), |at| format!(" (stopped after epoch {at})"))
        );
    }
    let last = history.last().expect("at least one epoch");
    let train_seconds: f64 = history.epochs.iter().map(|e| e.seconds).sum();
    println!(
        "\n{} epochs in {train_seconds:.1} s ({:.0} samples/s); last epoch: loss {:.4}, val {:.2}%",
        history.epochs.len(),
        (history.epochs.len() * train.len()) as f64 / train_seconds,
        last.train_loss,
        100.0 * last.val_accuracy.unwrap_or(f64::NAN)
    );
    let test_accuracy = net.accuracy(&test.inputs, &test.labels)?;
    println!("\ntest accuracy: {:.2}%", 100.0 * test_accuracy);

    let mut checkpoint = Checkpoint::of(&net).with_optimizer(&adam);
    standardize.save_to(&mut checkpoint)?;
    std::fs::create_dir_all("checkpoints").map_err(|e| Error::Checkpoint {
        path: "checkpoints".into(),
        problems: vec![e.to_string()],
    })?;
    checkpoint.save(CHECKPOINT)?;
    println!("saved {CHECKPOINT}");
    println!("wall time: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
