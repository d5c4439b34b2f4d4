//! scikit-learn's diabetes data (shipped in `data/sklearn/`): 442 patients, ten baseline
//! variables, and a measure of disease progression a year later to predict. The example
//! shuffles the set and splits it into 310 training, 66 validation and 66 test patients;
//! standardizes the features and the target with statistics fitted on the training split
//! only; trains a 10-32-1 ReLU MLP with Adam and mean squared error; prints every epoch's
//! training and validation loss (in standardized units); and ends with the test split's mean
//! squared error and R^2 in the target's original units, next to a linear regression solved
//! in closed form (least squares, nalgebra's SVD) on the same training split and a predictor
//! of the training mean.
//!
//! Run with `cargo run --release --example diabetes`.

use constnet::datasets::{Regression, diabetes};
use constnet::nalgebra::{DMatrix, DVector};
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};
use constnet::train::{Config, Progress, fit};

network! {
    /// Ten features, one hidden layer of 32 ReLUs, one output.
    pub struct DiabetesNet {
        fc1: Dense<10, 32>,
        a1: Relu,
        fc2: Dense<32, 1>,
    }
}

const EPOCHS: usize = 100;
const BATCH: usize = 16;

/// Mean squared error and R^2 (`1 - SS_res / SS_tot`, with `SS_tot` around the mean of
/// `truth`, as scikit-learn's `r2_score`) of `predicted` against `truth`.
fn scores(predicted: &[f64], truth: &[f64]) -> (f64, f64) {
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let residual: f64 = predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t) * (p - t))
        .sum();
    let total: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
    (residual / n, 1.0 - residual / total)
}

/// The inputs of `data` as rows of a design matrix with a trailing column of ones.
fn design(data: &Regression<f64, 10, 1>) -> DMatrix<f64> {
    DMatrix::from_fn(data.len(), 11, |i, j| {
        if j == 10 { 1.0 } else { data.inputs[(j, i)] }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = diabetes::<f64>("data/sklearn")?.shuffled(0);
    let (rest, test) = data.split(376);
    let (train, val) = rest.into_inner().split(310);
    println!(
        "diabetes: {} training, {} validation, {} test patients; 10-32-1 ReLU, Adam 1e-3, \
         batches of {BATCH}, {EPOCHS} epochs\n",
        train.len(),
        val.len(),
        test.len()
    );

    // Statistics from the training split only, applied to every split.
    let features = Standardize::fit(&train, Granularity::PerFeature, true);
    let target = Standardize::fit_targets(&train, Granularity::PerFeature, true);
    let prepare = |set: &Regression<f64, 10, 1>| target.apply_targets(&features.apply(set));
    let (train_std, val_std, test_std) = (prepare(&train), prepare(&val), prepare(&test));

    let mut net = DiabetesNet::<f64>::init(0);
    let mut adam = AdamConfig::new(1e-3).build()?;
    let config = Config {
        progress: Progress::Silent,
        ..Config::new(EPOCHS, BATCH)
    };
    let history = fit(
        &mut net,
        &mut adam,
        &MeanSquaredError,
        &train_std,
        Some(&val_std),
        &config,
    )?;
    println!("epoch  train loss  val loss   (mean squared error, standardized target)");
    for e in &history.epochs {
        println!(
            "{:>5}  {:>10.4}  {:>8.4}",
            e.epoch,
            e.train_loss,
            e.val_loss.unwrap_or(f64::NAN)
        );
    }

    // The network's test predictions, back in the target's units.
    let mut predicted = net.forward_batch(&test_std.inputs);
    target.invert_in_place(&mut predicted);
    let truth = test.targets.as_slice();
    let (net_mse, net_r2) = scores(predicted.as_slice(), truth);

    // Linear regression with an intercept, least squares on the raw training features.
    let weights = design(&train)
        .svd(true, true)
        .solve(&DVector::from_column_slice(train.targets.as_slice()), 1e-12)?;
    let linear = design(&test) * weights;
    let (linear_mse, linear_r2) = scores(linear.as_slice(), truth);

    let mean = train.targets.mean();
    let (mean_mse, mean_r2) = scores(&vec![mean; test.len()], truth);

    println!("\ntest split ({} patients), original units:", test.len());
    println!("| model | MSE | R^2 |\n|---|---:|---:|");
    println!("| MLP 10-32-1 | {net_mse:.1} | {net_r2:.3} |");
    println!("| linear regression (least squares) | {linear_mse:.1} | {linear_r2:.3} |");
    println!("| training mean | {mean_mse:.1} | {mean_r2:.3} |");
    Ok(())
}
