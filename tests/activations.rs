//! `for_each_activation` (what the activation histograms are made of) computes each `Dense`
//! layer through a product compiled once per scalar type, not once per shape: its outputs
//! must still be the layer's, to rounding, for narrow layers (whose `forward` takes the
//! register-blocked kernel) and wide ones (nalgebra's product), in `f32` and `f64`. Its
//! activation layers go through one function per activation, and every other kind through
//! its own `forward_one`: each activation's output is its function of its input, and the
//! last output is `forward`'s.

use constnet::layers::Activation;
use constnet::prelude::*;
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

#[path = "common/scaled.rs"]
mod scaled;
use scaled::Scaled;

network! {
    /// Narrow layers, a ReLU fused into the first in `forward`, and a Tanh.
    struct Narrow { fc1: Dense<6, 16>, a1: Relu, fc2: Dense<16, 8>, t: Tanh, fc3: Dense<8, 3> }
    /// MNIST's first layer: its weights do not fit in L1.
    struct Wide { fc1: Dense<784, 64>, a1: Relu, fc2: Dense<64, 10> }
    /// Every other kind of layer, and each activation.
    struct Mixed {
        fc1: Dense<5, 12>,
        bn: BatchNorm,
        lr: LeakyRelu(0.1),
        drop: Dropout(0.5),
        fc2: Dense<12, 12>,
        ln: LayerNorm,
        s: Sigmoid,
        flip: Flip => 12,
        mx: Maxout<12, 6, 2>,
        e: Elu,
        t: Tanh,
        fc3: Dense<6, 3>,
    }
}

/// A custom layer: `-x`.
type Flip = Scaled<-1, -1>;

/// Every layer's output from `for_each_activation`, by name.
fn activations<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
    net: &N,
    x: &Sample<T, IN>,
) -> Vec<(&'static str, Vec<f64>)> {
    let mut seen = Vec::new();
    net.for_each_activation(x, &mut |name, h| {
        seen.push((name, h.iter().map(|v| v.as_f64()).collect()))
    });
    seen
}

/// `W x + b` of the named layer, from its parameters, in `f64`.
fn by_hand<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
    net: &N,
    layer: &str,
    x: &[f64],
) -> Vec<f64> {
    let w = net.tensor(&format!("{layer}.weight")).unwrap();
    let (rows, cols) = (w.spec.shape[0], w.spec.shape[1]);
    let as_f64 = |name: &str| -> Vec<f64> {
        net.param(name)
            .unwrap()
            .iter()
            .map(|v| v.as_f64())
            .collect()
    };
    // PyTorch's layout: [out, in], row by row.
    let weight = DMatrix::from_row_slice(rows, cols, &as_f64(&format!("{layer}.weight")));
    let bias = as_f64(&format!("{layer}.bias"));
    let y = weight * DMatrix::from_column_slice(cols, 1, x);
    y.iter().zip(&bias).map(|(y, b)| y + b).collect()
}

fn assert_close(got: &[f64], want: &[f64], tolerance: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tolerance * w.abs().max(1.0),
            "{what}: {g} against {w}"
        );
    }
}

fn check<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(
    seed: u64,
    tolerance: f64,
) {
    let net = N::init(seed);
    let mut rng = constnet::SeededRng::seed_from_u64(seed + 1);
    let x = Sample::<T, IN>::from_fn(|_, _| T::of_f64(rng.sample(StandardNormal)));
    let seen = activations(&net, &x);
    let names: Vec<&str> = net.layers().iter().map(|l| l.name).collect();
    assert_eq!(seen.iter().map(|(n, _)| *n).collect::<Vec<_>>(), names);
    let mut input: Vec<f64> = x.iter().map(|v| v.as_f64()).collect();
    let mut dense = 0;
    for ((name, output), info) in seen.iter().zip(net.layers()) {
        if info.kind == "Dense" {
            assert_close(output, &by_hand(&net, name, &input), tolerance, name);
            dense += 1;
        }
        input = output.clone();
    }
    assert_eq!(dense, names.iter().filter(|n| n.starts_with("fc")).count());
    let forward: Vec<f64> = net.forward(&x).iter().map(|v| v.as_f64()).collect();
    assert_close(&seen.last().unwrap().1, &forward, tolerance, "the output");
}

#[test]
fn dense_outputs_are_the_layers_to_rounding() {
    check::<f32, 6, 3, Narrow<f32>>(1, 1e-5);
    check::<f64, 6, 3, Narrow<f64>>(2, 1e-12);
    check::<f32, 784, 10, Wide<f32>>(3, 1e-4);
    check::<f64, 784, 10, Wide<f64>>(4, 1e-11);
}

/// `f` of each of `input`, in `f64`.
fn through<A: Activation<f64>>(f: &A, input: &[f64]) -> Vec<f64> {
    input.iter().map(|&x| f.value(x)).collect()
}

#[test]
fn every_kind_of_layer_gives_its_own_output() {
    for seed in [5, 6] {
        // Batch norm's running statistics away from their start, so that it is not the
        // identity.
        let mut net = Mixed::<f64>::init(seed);
        let mut tape = net.new_tape(16);
        let x = Batch::<f64, 5>::from_fn(16, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
        for _ in 0..5 {
            net.forward_train(&x, &mut tape).unwrap();
        }
        check::<f64, 5, 3, Mixed<f64>>(seed, 1e-12);
        let x = Sample::<f64, 5>::from_fn(|i, _| i as f64 / 3.0 - 0.5);
        let seen = activations(&net, &x);
        let output = |name: &str| &seen.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(output("lr"), &through(&LeakyRelu::new(0.1), output("bn")));
        assert_eq!(
            output("drop"),
            output("lr"),
            "dropout is the identity in evaluation"
        );
        assert_eq!(output("s"), &through(&Sigmoid, output("ln")));
        let flipped: Vec<f64> = output("s").iter().map(|v| -v).collect();
        assert_eq!(output("flip"), &flipped);
        assert_eq!(output("e"), &through(&Elu::default(), output("mx")));
        assert_eq!(output("t"), &through(&Tanh, output("e")));
        let forward: Vec<f64> = net.forward(&x).iter().copied().collect();
        assert_close(&seen.last().unwrap().1, &forward, 1e-12, "the output");
    }
}
