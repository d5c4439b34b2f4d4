//! The MNIST example's network trained for 4 epochs on 20,000 images with the run recorded
//! (`Config::record`): `metrics.csv`, TensorBoard event files, the figures (loss, accuracy,
//! update/weight ratios, activation and gradient histograms, first-layer weights) and a
//! `report.html` that shows them, in `runs/mnist/`. The README's figures come from it.
//!
//! Run with `cargo run --release --features plots --example mnist_report`, then open
//! `runs/mnist/report.html`, or run `tensorboard --logdir runs`.

use constnet::datasets::{Split, mnist};
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};
use constnet::record::Record;
use constnet::train::{Config, fit};

#[path = "common/mnist_net.rs"]
#[allow(dead_code)] // its checkpoint path is mnist_eval's
mod mnist_net;
use mnist_net::MnistNet;

const RUN: &str = "runs/mnist";

fn main() -> Result<(), Error> {
    let (train, val) = mnist::<f32>("data/mnist", Split::Train)?
        .shuffled(0)
        .select(&(0..25_000).collect::<Vec<_>>())
        .split(20_000);
    let standardize = Standardize::fit(&train, Granularity::Scalar, true);
    let (train, val) = (standardize.apply(&train), standardize.apply(&val));
    let mut net = MnistNet::new(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    let config = Config {
        record: Some(Record {
            histogram_epochs: vec![1],
            ..Record::new(RUN)
        }),
        ..Config::new(4, 64)
    };
    let history = fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &config,
    )?;
    let last = history.last().expect("at least one epoch");
    println!(
        "validation accuracy {:.2}%; the run is in {RUN}/ (open {RUN}/report.html)",
        100.0 * last.val_accuracy.unwrap_or(f64::NAN)
    );
    Ok(())
}
