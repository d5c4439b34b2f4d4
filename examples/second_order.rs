//! First- and second-order methods side by side on full-batch problems: SGD with momentum,
//! Adam, L-BFGS and Newton's method, each from the same initialization to the same target
//! training loss (data loss plus L2 penalty), on the course's spiral (a 2-100-3 ReLU net,
//! 300 points, L2 1e-3) and on scikit-learn's wine data (a 13-16-3 tanh net, standardized
//! features, L2 1e-3). Then L-BFGS run to its convergence test on the spiral, and Newton's
//! method from where it stopped, to see how far the test's promise is from the minimum.
//!
//! Run with `cargo run --release --example second_order`.

use std::time::Instant;

use constnet::datasets::{Header, Labeled, read_csv};
use constnet::optim::{LbfgsConfig, NewtonConfig, Stop};
use constnet::prelude::*;
use constnet::preprocess::{Granularity, Standardize};

network! {
    struct SpiralNet { fc1: Dense<2, 100>, relu: Relu, fc2: Dense<100, 3> }
    struct WineNet { fc1: Dense<13, 16>, act: Tanh, fc2: Dense<16, 3> }
}

/// How one method did: steps and wall time to the target, or its last loss.
struct Run {
    name: &'static str,
    steps: usize,
    seconds: f64,
    loss: f64,
    reached: bool,
}

/// The full-batch objective (mean loss plus penalty) at `params`, with its gradient.
fn objective<const IN: usize, const OUT: usize, N: Network<f64, IN, OUT>>(
    net: &mut N,
    data: &Labeled<f64, IN>,
    l2: &Regularizer,
    tape: &mut N::Tape,
    params: &[f64],
    grads: &mut [f64],
) -> Result<f64, Error> {
    net.params_mut().copy_from_slice(params);
    let value = net.loss_and_grad(
        &data.inputs,
        &data.labels[..],
        &SoftmaxCrossEntropy,
        tape,
        grads,
    )?;
    Ok(value + l2.apply(&*net, grads))
}

/// Runs every method from `fresh` to `target`, at most `max_steps` steps each.
fn compare<const IN: usize, const OUT: usize, N: Network<f64, IN, OUT>>(
    fresh: &N,
    data: &Labeled<f64, IN>,
    target: f64,
    rates: (f64, f64),
    max_steps: usize,
) -> Result<Vec<Run>, Error> {
    let l2 = Regularizer::l2(1e-3)?;
    let mut runs = Vec::new();
    let first_order: [(&'static str, Box<dyn Optimizer<f64>>); 2] = [
        (
            "SGD + momentum 0.9",
            Box::new(MomentumConfig::new(rates.0).build()?),
        ),
        ("Adam", Box::new(AdamConfig::new(rates.1).build()?)),
    ];
    for (name, mut rule) in first_order {
        let mut net = fresh.clone();
        let mut tape = net.new_tape(data.len());
        let mut grads = net.new_grads();
        let mut params = net.params().to_vec();
        let start = Instant::now();
        let (mut steps, mut loss) = (0, f64::INFINITY);
        while steps < max_steps {
            loss = objective(&mut net, data, &l2, &mut tape, &params, &mut grads)?;
            if loss <= target {
                break;
            }
            rule.step(&mut params, &grads)?;
            steps += 1;
        }
        runs.push(Run {
            name,
            steps,
            seconds: start.elapsed().as_secs_f64(),
            loss,
            reached: loss <= target,
        });
    }
    // The second-order methods, one iteration per call (L-BFGS keeps its history).
    let mut lbfgs = LbfgsConfig {
        max_iterations: 1,
        max_evaluations: 25,
        change_tolerance: 0.0,
        ..Default::default()
    }
    .build::<f64>()?;
    let mut newton = NewtonConfig {
        max_iterations: 1,
        ..Default::default()
    }
    .build::<f64>()?;
    for name in ["L-BFGS (history 20)", "Newton"] {
        let mut net = fresh.clone();
        let mut tape = net.new_tape(data.len());
        let mut params = net.params().to_vec();
        let start = Instant::now();
        let (mut steps, mut loss) = (0, f64::INFINITY);
        while steps < max_steps {
            let mut f = |x: &[f64], g: &mut [f64]| objective(&mut net, data, &l2, &mut tape, x, g);
            let report = if name == "Newton" {
                newton.minimize(&mut params, &mut f)?
            } else {
                lbfgs.minimize(&mut params, &mut f)?
            };
            loss = report.loss;
            if loss <= target || report.iterations == 0 {
                break;
            }
            steps += report.iterations;
        }
        runs.push(Run {
            name,
            steps,
            seconds: start.elapsed().as_secs_f64(),
            loss,
            reached: loss <= target,
        });
    }
    Ok(runs)
}

fn print(title: &str, target: f64, runs: &[Run]) {
    println!("{title}: steps and wall time to a training loss of {target}");
    println!(
        "  {:<22} {:>7} {:>10} {:>12}",
        "method", "steps", "seconds", "loss"
    );
    for run in runs {
        let steps = if run.reached {
            run.steps.to_string()
        } else {
            format!(">{}", run.steps)
        };
        println!(
            "  {:<22} {:>7} {:>10.3} {:>12.6}",
            run.name, steps, run.seconds, run.loss
        );
    }
    println!();
}

fn main() -> Result<(), Error> {
    let spiral = constnet::datasets::spiral::<f64>(100, 3, 0);
    let fresh = SpiralNet::<f64>::init(0);
    let target = 0.3;
    let runs = compare(&fresh, &spiral, target, (0.3, 1e-2), 20_000)?;
    print("spiral, 2-100-3 ReLU, 300 points", target, &runs);

    let wine = read_csv::<f64, 13>("data/sklearn/wine_data.csv", Header::Sklearn)?;
    let standardize =
        Standardize::fit(&wine.clone().into_training(), Granularity::PerFeature, true);
    let wine = standardize.apply(&wine);
    let fresh = WineNet::<f64>::init(0);
    let target = 0.05;
    let runs = compare(&fresh, &wine, target, (0.1, 1e-2), 20_000)?;
    print("wine, 13-16-3 tanh, 178 samples", target, &runs);

    // L-BFGS to its own convergence test on the spiral, then Newton from its end point.
    let l2 = Regularizer::l2(1e-3)?;
    let mut net = SpiralNet::<f64>::init(0);
    let mut tape = net.new_tape(300);
    let mut params = net.params().to_vec();
    let config = LbfgsConfig {
        max_iterations: 5_000,
        max_evaluations: 6_000,
        ..Default::default()
    };
    let mut lbfgs = config.build::<f64>()?;
    let start = Instant::now();
    let report = lbfgs.minimize(&mut params, |x, g| {
        objective(&mut net, &spiral, &l2, &mut tape, x, g)
    })?;
    println!(
        "L-BFGS to convergence on the spiral: {} iterations, {} evaluations, {:.2} s; loss {:.10}, \
         largest gradient component {:.2e}, stopped by {:?} (gradient tolerance {:e}, change \
         tolerance {:e})",
        report.iterations,
        report.evaluations,
        start.elapsed().as_secs_f64(),
        report.loss,
        report.gradient_max,
        report.stop,
        config.gradient_tolerance,
        config.change_tolerance
    );
    let mut newton = NewtonConfig {
        max_iterations: 20,
        gradient_tolerance: 1e-10,
        ..Default::default()
    }
    .build::<f64>()?;
    let polished = newton.minimize(&mut params, |x, g| {
        objective(&mut net, &spiral, &l2, &mut tape, x, g)
    })?;
    println!(
        "Newton from there: {} iterations, loss {:.10} ({:.1e} lower), largest gradient component \
         {:.2e}{}",
        polished.iterations,
        polished.loss,
        report.loss - polished.loss,
        polished.gradient_max,
        if polished.stop == Stop::Gradient {
            ""
        } else {
            " (not at its tolerance)"
        }
    );
    Ok(())
}
