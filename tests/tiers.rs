//! The single-sample forward pass is compiled once per instruction-set tier (any x86-64, AVX2
//! with FMA, AVX-512) and the CPU's tier picks one at run time: every copy this machine can
//! run must give what the batched forward gives, for every kind of layer, in both scalar
//! types. The update rules' loops are compiled per tier too, and every copy must step to the
//! same bits.

use constnet::prelude::*;
use constnet_kernels::{PORTABLE, detect_isa, on_isa};

network! {
    /// W1's shape: Dense + ReLU pairs (fused) on narrow layers that fit in L1.
    struct Narrow { fc1: Dense<16, 32>, a1: Relu, fc2: Dense<32, 32>, a2: Relu, fc3: Dense<32, 4> }
    /// W2's shape: a first layer that streams from L2.
    struct Wide { fc1: Dense<784, 128>, a1: Relu, fc2: Dense<128, 10> }
    /// Every other layer kind, each after a Dense.
    struct Mixed {
        fc1: Dense<13, 24>, bn: BatchNorm, t: Tanh,
        fc2: Dense<24, 20>, ln: LayerNorm, s: Sigmoid,
        mx: Maxout<20, 12, 3>, e: Elu(0.5), drop: Dropout(0.5),
        fc3: Dense<12, 9>, lr: LeakyRelu(0.1),
        fc4: Dense<9, 3>,
    }
}

fn samples<T: Float, const N: usize>(count: usize) -> Batch<T, N> {
    Batch::<T, N>::from_fn(count, |i, j| {
        T::of_f64(((i * 7 + j * 13) % 17) as f64 / 8.0 - 1.0)
    })
}

/// Each sample's `forward` on every tier up to the CPU's, against the batched forward (which
/// the tiers do not touch), within a few rounding errors: a copy compiled with FMA may fuse
/// a multiply and an add that another rounds twice.
fn check<T: Float, const IN: usize, const OUT: usize, N: Network<T, IN, OUT>>(net: &N, tol: f64) {
    let x = samples::<T, IN>(5);
    let mut tape = net.new_tape(5);
    let batched = net
        .forward_into(x.columns(0, 5), &mut tape)
        .unwrap()
        .clone_owned();
    for isa in PORTABLE..=detect_isa() {
        for j in 0..5 {
            let one = Sample::<T, IN>::from_column_slice(x.column(j).as_slice());
            let y = on_isa(isa, || net.forward(&one));
            for (got, want) in y.iter().zip(batched.column(j).iter()) {
                let (got, want) = (got.as_f64(), want.as_f64());
                assert!(
                    (got - want).abs() <= tol * (1.0 + want.abs()),
                    "isa {isa}, sample {j}: {got} against {want}"
                );
            }
        }
    }
}

#[test]
fn every_tier_gives_the_batched_forward() {
    check(&Narrow::<f32>::init(1), 1e-5);
    check(&Narrow::<f64>::init(1), 1e-12);
    check(&Wide::<f32>::init(2), 1e-5);
    check(&Wide::<f64>::init(2), 1e-12);
    check(&Mixed::<f32>::init(3), 1e-5);
    check(&Mixed::<f64>::init(3), 1e-12);
}

/// The update rules' loops are compiled once per tier too: every copy
/// this machine can run steps the parameters, and the rule's state, to the same bits (no tier
/// fuses a multiply and an add), including parameters and moments small enough to be flushed
/// to zero.
#[test]
fn every_tier_takes_the_same_update_step() {
    fn check<T: Float, O: Optimizer<T>>(build: impl Fn() -> O) {
        let n = 1000;
        let value = |k: usize, scale: f64| T::of_f64((((k * 37) % 101) as f64 - 50.0) * scale);
        let params: Vec<T> = (0..n)
            .map(|k| value(k, if k % 7 == 0 { 1e-39 } else { 0.02 }))
            .collect();
        let grads: Vec<T> = (0..n)
            .map(|k| value(k + 3, if k % 5 == 0 { 1e-30 } else { 0.1 }))
            .collect();
        let stepped = |isa| {
            on_isa(isa, || {
                let mut rule = build();
                let mut x = params.clone();
                for _ in 0..3 {
                    rule.step(&mut x, &grads).unwrap();
                }
                let state: Vec<Vec<T>> = rule.state().iter().map(|(_, b)| b.to_vec()).collect();
                (x, state)
            })
        };
        let portable = stepped(PORTABLE);
        assert!(
            portable.0.iter().zip(&params).any(|(a, b)| a != b),
            "the step moved nothing"
        );
        for isa in PORTABLE..=detect_isa() {
            assert!(stepped(isa) == portable, "isa {isa}");
        }
    }
    check::<f32, _>(|| AdamConfig::new(1e-2).build::<f32>().unwrap());
    check::<f64, _>(|| AdamConfig::new(1e-2).build::<f64>().unwrap());
    check::<f32, _>(|| Sgd::new(0.5).unwrap());
    check::<f64, _>(|| Sgd::new(0.5).unwrap());
    check::<f32, _>(|| MomentumConfig::new(0.1).build::<f32>().unwrap());
    check::<f64, _>(|| NesterovConfig::new(0.1).build::<f64>().unwrap());
    check::<f32, _>(|| AdagradConfig::new(0.1).build::<f32>().unwrap());
    check::<f32, _>(|| RmsPropConfig::new(0.1).build::<f32>().unwrap());
    check::<f64, _>(|| RmsPropConfig::new(0.1).build::<f64>().unwrap());
}
