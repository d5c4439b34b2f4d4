//! The workloads W1 to W4 timed as the best of many batches of calls, for machines too noisy
//! for criterion's medians (a shared VM whose neighbours take cycles: the best batch is the
//! one least disturbed). Prints one line per workload.
//!
//! Each line also gives the workload's rate in GFLOP/s (the multiply-adds of its matrix
//! products, two FLOPs each) and that rate as a fraction of the core's FMA peak, measured
//! first by `peak.rs` in the same run, so that the fractions hold on a noisy machine.
//!
//! Run with `cargo bench -p constnet-benches --bench best_of` (the default build) or with
//! `RUSTFLAGS="-C target-cpu=native"` (a build for this CPU); `bash benches/compare.sh` runs
//! both, interleaved. `-- W3` (or any part of a name) runs the matching workloads only, and
//! `-- kernel` the packed product's micro-kernel alone, in L1: the ceiling of the batched
//! workloads; `-- products` W3's five large products alone, each in the layout its training
//! step gives it. W2 one sample at a time is also given beside the rate at which the core
//! reads its first layer's weights from L2 alone, which bounds it.

use std::hint::black_box;
use std::time::Instant;

use constnet::prelude::*;

mod nets;
use nets::{W1, W2, W3, W4, random_batch, w3_labels};
mod peak;
mod products;

/// FLOPs of the products of one sample through W1 (16-32-32-4) forward.
const W1_FLOPS: f64 = 2.0 * (16.0 * 32.0 + 32.0 * 32.0 + 32.0 * 4.0);
/// FLOPs of one sample through W2 (784-128-10) forward.
const W2_FLOPS: f64 = 2.0 * (784.0 * 128.0 + 128.0 * 10.0);
/// FLOPs of one sample of a W3 (784-256-128-10) training step: the forward products, every
/// layer's `dW`, and `dX` of the second and third layers (the first one's is not needed).
const W3_FLOPS: f64 = 2.0 * (2.0 * (784.0 * 256.0 + 256.0 * 128.0 + 128.0 * 10.0))
    + 2.0 * (256.0 * 128.0 + 128.0 * 10.0);
/// FLOPs of a W4 (2-100-3) full-batch step on 300 points, counted as W3's.
const W4_FLOPS: f64 = 300.0 * (2.0 * 2.0 * (2.0 * 100.0 + 100.0 * 3.0) + 2.0 * 100.0 * 3.0);

/// Prints one workload's line: its time per `unit`, GFLOP/s and the fraction of `peak`.
fn report(name: &str, seconds: f64, per: f64, unit: &str, flops: f64, peak: f64) {
    let (value, suffix) = if seconds / per < 1e-6 {
        (seconds / per * 1e9, "ns")
    } else {
        (seconds / per * 1e6, "us")
    };
    let gflops = flops * per / seconds / 1e9;
    println!(
        "{name}: {value:.2} {suffix}{unit}, {gflops:.1} GFLOP/s, {:.0}% of peak",
        100.0 * gflops / peak
    );
}

/// The least time per call over `batches` batches of `calls` calls, in seconds.
fn best_of(batches: usize, calls: usize, mut f: impl FnMut()) -> f64 {
    (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let filter: String = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let wanted = |name: &str| name.contains(filter.as_str());
    let peaks = peak::fma_peaks();
    for (name, gflops) in &peaks {
        println!("peak {name}: {gflops:.1} GFLOP/s");
    }
    let peak = peaks[0].1;
    if wanted("kernel") {
        for (name, gflops) in peak::micro_kernel_rates() {
            let share = 100.0 * gflops / peak;
            println!("{name}, in L1: {gflops:.1} GFLOP/s, {share:.0}% of peak");
        }
    }
    if wanted("products") {
        let timed = products::w3_products(|batches, calls, f| best_of(batches, calls, f));
        for (name, flops, seconds) in timed {
            report(&format!("W3's {name}"), seconds, 1.0, "", flops, peak);
        }
    }
    if wanted("W1") {
        let net = W1::new(1);
        let x = Sample::<f32, 16>::from_column_slice(random_batch::<16>(1, 2).as_slice());
        let t = best_of(200, 20_000, || {
            black_box(net.forward(black_box(&x)));
        });
        report("W1 forward one sample", t, 1.0, "", W1_FLOPS, peak);
        // The same sample as a column of a batch (read in place).
        let batch = random_batch::<16>(4, 2);
        let t = best_of(200, 20_000, || {
            black_box(net.forward(black_box(&batch.column(0))));
        });
        let name = "W1 forward one sample, a batch's column";
        report(name, t, 1.0, "", W1_FLOPS, peak);
        // The same sample written into an array one feature at a time just before each
        // call, as a program that reads its inputs does; then the writing alone, which the
        // first time includes.
        let mut features = [0.0f32; 16];
        let write = |features: &mut [f32; 16]| {
            for (i, v) in features.iter_mut().enumerate() {
                *v = black_box(batch[(i, 0)]);
            }
        };
        let t = best_of(200, 20_000, || {
            write(&mut features);
            black_box(net.forward(black_box(&features)));
        });
        let name = "W1 forward one sample, written just before";
        report(name, t, 1.0, "", W1_FLOPS, peak);
        let t = best_of(200, 20_000, || {
            write(&mut features);
            black_box(&features);
        });
        println!("W1 writing that sample alone: {:.2} ns", t * 1e9);
    }
    if wanted("W2") {
        let net = W2::new(1);
        let x = random_batch::<784>(256, 3);
        let one = Sample::<f32, 784>::from_column_slice(&x.as_slice()[..784]);
        let t = best_of(50, 2_000, || {
            black_box(net.forward(black_box(&one)));
        });
        report("W2 forward one sample", t, 1.0, "", W2_FLOPS, peak);
        // What bounds it: the first layer's 401 KB of weights, read from L2 for every sample.
        let (loads, rate) = peak::read_rate(784 * 128);
        let weights = (784 * 128 * size_of::<f32>()) as f64;
        println!(
            "W2's first-layer weights read alone ({loads} loads): {:.2} us, {rate:.0} GB/s; \
             one sample reads them at {:.0}% of that",
            weights / rate / 1e3,
            100.0 * weights / t / 1e9 / rate,
        );
        let mut tape = net.new_tape(256);
        let t = best_of(50, 20, || {
            let y = net.forward_into(black_box(x.columns(0, 256)), &mut tape);
            black_box(y.map(|y| y[(0, 0)]).ok());
        });
        report("W2 forward batch 256", t, 256.0, "/sample", W2_FLOPS, peak);
    }
    if wanted("W3") {
        let mut net = W3::new(1);
        let x = random_batch::<784>(64, 4);
        let labels = w3_labels();
        let mut tape = net.new_tape(64);
        let mut grads = net.new_grads();
        let mut sgd = Sgd::new(0.01).expect("a valid rate");
        let t = best_of(40, 20, || {
            let loss =
                net.loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads);
            black_box(loss.ok());
            black_box(sgd.step(net.params_mut(), &grads).ok());
        });
        report("W3 SGD step batch 64", t, 64.0, "/sample", W3_FLOPS, peak);
        let t = best_of(40, 20, || {
            let mut step = || -> Result<f32, Error> {
                net.forward_train(x.columns(0, 64), &mut tape)?;
                let (scores, dscores) = tape.output_and_grad_mut();
                let loss = SoftmaxCrossEntropy.loss_and_grad(scores, &labels[..], dscores)?;
                sgd.step_in_backward(&mut net, &mut tape, 0.0)?;
                Ok(loss)
            };
            black_box(step().ok());
        });
        let name = "W3 SGD step batch 64, SGD in backward";
        report(name, t, 64.0, "/sample", W3_FLOPS, peak);
        let mut adam = AdamConfig::default().build::<f32>().expect("the defaults");
        let t = best_of(40, 20, || {
            let loss =
                net.loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads);
            black_box(loss.ok());
            black_box(adam.step(net.params_mut(), &grads).ok());
        });
        report("W3 Adam step batch 64", t, 64.0, "/sample", W3_FLOPS, peak);
    }
    if wanted("W4") {
        let data = constnet::datasets::spiral::<f32>(100, 3, 0);
        let mut net = W4::new(1);
        let mut tape = net.new_tape(300);
        let mut grads = net.new_grads();
        let mut sgd = Sgd::new(1.0).expect("a valid rate");
        let l2 = Regularizer::l2(1e-3).expect("a valid strength");
        let t = best_of(60, 200, || {
            let loss = net.loss_and_grad(
                &data.inputs,
                &data.labels[..],
                &SoftmaxCrossEntropy,
                &mut tape,
                &mut grads,
            );
            black_box(loss.ok());
            black_box(l2.apply(&net, &mut grads));
            black_box(sgd.step(net.params_mut(), &grads).ok());
        });
        let name = "W4 full-batch step 300 points, L2";
        report(name, t, 1.0, "", W4_FLOPS, peak);
        let t = best_of(60, 200, || {
            let mut step = || -> Result<f32, Error> {
                net.forward_train(data.inputs.columns(0, 300), &mut tape)?;
                let (scores, dscores) = tape.output_and_grad_mut();
                let loss = SoftmaxCrossEntropy.loss_and_grad(scores, &data.labels[..], dscores)?;
                sgd.step_in_backward(&mut net, &mut tape, 1e-3)?;
                Ok(loss)
            };
            black_box(step().ok());
        });
        let name = "W4 full-batch step 300 points, L2, SGD in backward";
        report(name, t, 1.0, "", W4_FLOPS, peak);
    }
}
