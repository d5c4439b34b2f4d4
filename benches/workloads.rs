//! The workloads of the project's benchmark table (`shared/guide/BENCHMARKS.md`), f32, one
//! thread, He-initialized weights and seeded random inputs built outside the timed closures:
//!
//! - W1: 16-32-32-4 forward, one sample per call;
//! - W2: 784-128-10 forward, one sample per call and a batch of 256;
//! - W3: 784-256-128-10 training step (forward, softmax cross-entropy, backward, SGD), batch 64,
//!   with the flat-slice `Sgd::step` after backward and with `Sgd::step_in_backward`;
//! - W3 Adam: the same step with Adam;
//! - W4: the CS231n spiral, 2-100-3, full-batch step on 300 points with L2 1e-3, with
//!   `Regularizer::apply` and `Sgd::step` after backward and with `Sgd::step_in_backward`;
//! - one Adam step over 1M parameters in GB/s, beside a streaming triad's GB/s;
//! - the W3 SGD step with batch norm and dropout after each hidden layer, with layer norm
//!   after each, and with Maxout (two pieces) hidden layers, beside plain W3; and their
//!   single-sample forward;
//! - the MNIST example's training step (784-256-128-10 with dropout, Adam, batch 64), whose
//!   throughput in elements per second is its training speed in samples per second;
//! - `fit` on that net for an epoch of 50 and of 200 steps, with the run recorded and
//!   without;
//! - second-order methods on W4: ten L-BFGS iterations and one Newton iteration;
//! - combining models: the running average's update over 1M parameters (GB/s), an ensemble
//!   of 5 W2 networks on a batch of 256 beside one W2, and a search's own cost per trial (64
//!   trials whose objective does nothing, on 1 and 2 threads).
//!
//! Run with `RUSTFLAGS="-C target-cpu=native" cargo bench -p constnet-benches` (from the
//! workspace root; the bench is its own crate so that examples never build criterion). The
//! networks W1 to W4 are in `nets.rs`, shared with the best-of-batches bench `best_of.rs`.

use std::hint::black_box;

use constnet::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../examples/common/mnist_net.rs"]
#[allow(
    dead_code,
    reason = "the bench uses the network, not the checkpoint path"
)]
mod mnist_net;

mod nets;
use nets::{W1, W2, W3, W4, random_batch, w3_labels};

network! {
    struct W3Normalized {
        fc1: Dense<784, 256>, bn1: BatchNorm, a1: Relu, drop1: Dropout(0.8),
        fc2: Dense<256, 128>, bn2: BatchNorm, a2: Relu, drop2: Dropout(0.8),
        fc3: Dense<128, 10>,
    }
    struct W3Maxout { mx1: Maxout<784, 256, 2>, mx2: Maxout<256, 128, 2>, fc3: Dense<128, 10> }
    struct W3LayerNorm {
        fc1: Dense<784, 256>, ln1: LayerNorm, a1: Relu,
        fc2: Dense<256, 128>, ln2: LayerNorm, a2: Relu,
        fc3: Dense<128, 10>,
    }
}

fn w1(c: &mut Criterion) {
    let net = W1::new(1);
    let x = Sample::<f32, 16>::from_column_slice(random_batch::<16>(1, 2).as_slice());
    let mut group = c.benchmark_group("W1 16-32-32-4");
    group.throughput(Throughput::Elements(1));
    group.bench_function("forward one sample", |b| {
        b.iter(|| net.forward(black_box(&x)))
    });
    group.finish();
}

fn w2(c: &mut Criterion) {
    let net = W2::new(1);
    let x = random_batch::<784>(256, 3);
    let one = Sample::<f32, 784>::from_column_slice(&x.as_slice()[..784]);
    let mut tape = net.new_tape(256);
    let mut group = c.benchmark_group("W2 784-128-10");
    group.throughput(Throughput::Elements(1));
    group.bench_function("forward one sample", |b| {
        b.iter(|| net.forward(black_box(&one)))
    });
    group.throughput(Throughput::Elements(256));
    group.bench_function("forward batch 256", |b| {
        b.iter(|| {
            net.forward_into(black_box(x.columns(0, 256)), &mut tape)
                .map(|y| y[(0, 0)])
        })
    });
    group.finish();
}

fn w3(c: &mut Criterion) {
    let mut net = W3::new(1);
    let x = random_batch::<784>(64, 4);
    let labels = w3_labels();
    let mut tape = net.new_tape(64);
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(0.01).unwrap();
    let mut group = c.benchmark_group("W3 784-256-128-10");
    group.throughput(Throughput::Elements(64));
    group.bench_function("SGD step batch 64", |b| {
        b.iter(|| {
            let loss = net
                .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
                .unwrap();
            sgd.step(net.params_mut(), &grads).unwrap();
            loss
        })
    });
    group.bench_function("SGD step batch 64, SGD in backward", |b| {
        b.iter(|| {
            net.forward_train(x.columns(0, 64), &mut tape).unwrap();
            let (scores, dscores) = tape.output_and_grad_mut();
            let loss = SoftmaxCrossEntropy
                .loss_and_grad(scores, &labels[..], dscores)
                .unwrap();
            sgd.step_in_backward(&mut net, &mut tape, 0.0).unwrap();
            loss
        })
    });
    let mut adam = AdamConfig::default().build::<f32>().unwrap();
    group.bench_function("Adam step batch 64", |b| {
        b.iter(|| {
            let loss = net
                .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
                .unwrap();
            adam.step(net.params_mut(), &grads).unwrap();
            loss
        })
    });
    group.finish();
}

fn w4(c: &mut Criterion) {
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let mut net = W4::new(1);
    let mut tape = net.new_tape(300);
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(1.0).unwrap();
    let l2 = Regularizer::l2(1e-3).unwrap();
    let mut group = c.benchmark_group("W4 spiral 2-100-3");
    group.bench_function("full-batch step 300 points, L2", |b| {
        b.iter(|| {
            let loss = net
                .loss_and_grad(
                    &data.inputs,
                    &data.labels[..],
                    &SoftmaxCrossEntropy,
                    &mut tape,
                    &mut grads,
                )
                .unwrap();
            let reg = l2.apply(&net, &mut grads);
            sgd.step(net.params_mut(), &grads).unwrap();
            loss + reg
        })
    });
    group.bench_function("full-batch step 300 points, L2, SGD in backward", |b| {
        b.iter(|| {
            net.forward_train(data.inputs.columns(0, 300), &mut tape)
                .unwrap();
            let (scores, dscores) = tape.output_and_grad_mut();
            let loss = SoftmaxCrossEntropy
                .loss_and_grad(scores, &data.labels[..], dscores)
                .unwrap();
            sgd.step_in_backward(&mut net, &mut tape, 1e-3).unwrap();
            loss
        })
    });
    group.finish();
}

/// One Adam step over a million f32 parameters, as bytes moved (read x, dx, m, v; write x,
/// m, v: 28 bytes per parameter), next to a STREAM-style triad `a = b + s * c` (12 bytes per
/// element) over the same footprint and over 64 MB arrays, which stand for the machine's
/// cache and memory bandwidth.
fn update_rules(c: &mut Criterion) {
    const N: usize = 1 << 20;
    let mut params: Vec<f32> = random_batch::<1>(N, 5).as_slice().to_vec();
    let grads: Vec<f32> = random_batch::<1>(N, 6).as_slice().to_vec();
    let mut adam = AdamConfig::default().build::<f32>().unwrap();
    let mut group = c.benchmark_group("update rules");
    group.throughput(Throughput::Bytes(28 * N as u64));
    group.bench_function("Adam step 1M parameters", |b| {
        b.iter(|| {
            adam.step(black_box(&mut params), black_box(&grads))
                .unwrap()
        })
    });
    for (name, len) in [
        ("triad 1M (same footprint)", N),
        ("triad 16M (memory)", 16 * N),
    ] {
        let mut a = vec![0.0f32; len];
        let (x, y) = (vec![1.0f32; len], vec![2.0f32; len]);
        group.throughput(Throughput::Bytes(12 * len as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for ((a, &x), &y) in a.iter_mut().zip(&x).zip(&y) {
                    *a = x + 3.0 * y;
                }
                black_box(&mut a);
            })
        });
    }
    group.finish();
}

/// One SGD training step of `net` on a batch of 64, and its single-sample forward.
fn training_step<N: Network<f32, 784, 10>>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut net: N,
) {
    let x = random_batch::<784>(64, 4);
    let labels = w3_labels();
    let mut tape = net.new_tape(64);
    let mut grads = net.new_grads();
    let mut sgd = Sgd::new(0.01).unwrap();
    group.throughput(Throughput::Elements(64));
    group.bench_function(format!("{name}: SGD step batch 64"), |b| {
        b.iter(|| {
            let loss = net
                .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
                .unwrap();
            sgd.step(net.params_mut(), &grads).unwrap();
            loss
        })
    });
    let one = Sample::<f32, 784>::from_column_slice(&x.as_slice()[..784]);
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("{name}: forward one sample"), |b| {
        b.iter(|| net.forward(black_box(&one)))
    });
}

fn mnist_example(c: &mut Criterion) {
    let mut net = mnist_net::MnistNet::new(0);
    let x = random_batch::<784>(64, 5);
    let labels: Vec<usize> = (0..64).map(|i| (i * 3) % 10).collect();
    let mut tape = net.new_tape(64);
    let mut grads = net.new_grads();
    let mut adam = AdamConfig::new(1e-3).build::<f32>().unwrap();
    let mut group = c.benchmark_group("MNIST example net");
    group.throughput(Throughput::Elements(64));
    group.bench_function("Adam step batch 64", |b| {
        b.iter(|| {
            let loss = net
                .loss_and_grad(&x, &labels[..], &SoftmaxCrossEntropy, &mut tape, &mut grads)
                .unwrap();
            adam.step(net.params_mut(), &grads).unwrap();
            loss
        })
    });
    group.finish();
}

/// `fit` for one epoch of 50 or 200 steps (the MNIST example's net, Adam, batch 64) with
/// the run recorded to a directory (`metrics.csv` and the event file each step; histograms,
/// activations and `first_layer.png` once; no figures) and without: the difference between
/// the two lengths is what recording costs a step, the rest what it costs a run.
fn fit_recorded(c: &mut Criterion) {
    use constnet::datasets::Labeled;
    use constnet::record::Record;
    use constnet::train::{Config, Progress, fit};
    let dir = std::env::temp_dir().join(format!("constnet-bench-record-{}", std::process::id()));
    let mut group = c.benchmark_group("fit one epoch, MNIST example net");
    for steps in [50, 200] {
        let data = Labeled::new(
            random_batch::<784>(64 * steps, 7),
            (0..64 * steps).map(|i| (i * 7) % 10).collect(),
        )
        .unwrap();
        group.throughput(Throughput::Elements(64 * steps as u64));
        let record = Record {
            figures: false,
            ..Record::new(&dir)
        };
        for (name, record) in [("not recorded", None), ("recorded", Some(record))] {
            let config = Config {
                record,
                progress: Progress::Silent,
                ..Config::new(1, 64)
            };
            group.bench_function(format!("{steps} steps, {name}"), |b| {
                b.iter(|| {
                    let mut net = mnist_net::MnistNet::new(0);
                    let mut adam = AdamConfig::new(1e-3).build::<f32>().unwrap();
                    fit(
                        &mut net,
                        &mut adam,
                        &SoftmaxCrossEntropy,
                        &data,
                        None,
                        &config,
                    )
                    .unwrap()
                })
            });
        }
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn layers(c: &mut Criterion) {
    let mut group = c.benchmark_group("W3 with batch norm, dropout, Maxout");
    training_step(&mut group, "plain", W3::new(1));
    training_step(&mut group, "batch norm + dropout", W3Normalized::new(1));
    training_step(&mut group, "Maxout", W3Maxout::new(1));
    training_step(&mut group, "layer norm", W3LayerNorm::new(1));
    group.finish();
}

/// Second-order methods on W4 (the spiral, 603 parameters, full batch, L2 1e-3): ten L-BFGS
/// iterations from the same start each time (about a dozen evaluations), and one Newton
/// iteration (1,206 gradient evaluations for the Hessian, a 603 x 603 Cholesky).
fn second_order(c: &mut Criterion) {
    use constnet::optim::{LbfgsConfig, NewtonConfig};
    use constnet::train::{fit_lbfgs, fit_newton};
    let data = constnet::datasets::spiral::<f32>(100, 3, 0);
    let l2 = Regularizer::l2(1e-3).unwrap();
    let start = W4::new(1);
    let mut group = c.benchmark_group("W4 second-order");
    group.bench_function("L-BFGS, 10 iterations", |b| {
        b.iter(|| {
            let mut net = start.clone();
            let mut lbfgs = LbfgsConfig {
                max_iterations: 10,
                ..Default::default()
            }
            .build()
            .unwrap();
            fit_lbfgs(&mut net, &mut lbfgs, &SoftmaxCrossEntropy, &data, Some(&l2)).unwrap()
        })
    });
    group.sample_size(10);
    group.bench_function("Newton, 1 iteration", |b| {
        b.iter(|| {
            let mut net = start.clone();
            let mut newton = NewtonConfig {
                max_iterations: 1,
                ..Default::default()
            }
            .build()
            .unwrap();
            fit_newton(
                &mut net,
                &mut newton,
                &SoftmaxCrossEntropy,
                &data,
                Some(&l2),
            )
            .unwrap()
        })
    });
    group.finish();
}

/// The running average's step, an ensemble's forward, and a search's cost per trial.
fn combining(c: &mut Criterion) {
    use constnet::ensemble::Ensemble;
    use constnet::search::{Search, Space};
    use constnet::train::AverageWeights;
    const N: usize = 1 << 20;
    let params: Vec<f32> = random_batch::<1>(N, 5).as_slice().to_vec();
    let mut average = AverageWeights::<f32>::new(0.999).unwrap();
    average.update(&params).unwrap();
    let mut group = c.benchmark_group("combining models");
    // reads w and the average, writes the average: 12 bytes per parameter
    group.throughput(Throughput::Bytes(12 * N as u64));
    group.bench_function("weight average update 1M parameters", |b| {
        b.iter(|| average.update(black_box(&params)).unwrap())
    });
    let x = random_batch::<784>(256, 7);
    let one = W2::new(1);
    let five = Ensemble::new((1..=5).map(W2::new).collect()).unwrap();
    group.throughput(Throughput::Elements(256));
    group.bench_function("W2 probabilities batch 256, one network", |b| {
        b.iter(|| one.predict_proba(black_box(&x)))
    });
    group.bench_function("W2 probabilities batch 256, ensemble of 5", |b| {
        b.iter(|| five.predict_proba(black_box(&x)))
    });
    let space = Space::new()
        .log_uniform("learning_rate", 1e-5, 1.0)
        .unwrap()
        .choice("net", &["a", "b"])
        .unwrap();
    group.throughput(Throughput::Elements(64));
    for threads in [1, 2] {
        let search = Search::new(space.clone(), 64, 0).threads(threads);
        group.bench_function(
            format!("search of 64 empty trials, {threads} threads"),
            |b| b.iter(|| search.maximize(|t| t.float("learning_rate")).unwrap()),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = w1, w2, w3, w4, update_rules, layers, mnist_example, fit_recorded, combining, second_order
}
criterion_main!(benches);
